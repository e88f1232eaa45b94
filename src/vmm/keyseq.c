/*
 * Terminal key sequences back into keys (keyseq.h). The forms (ECMA-48 control sequences
 * as xterm and the VT220 use them for the editing and function keys, and the Linux
 * console's own):
 *   ESC [ A..D, H, F       arrows, Home, End (xterm); ESC O A..D, H, F in application mode
 *   ESC O P..S             F1-F4 (VT100); ESC [ 1 ; m P..S with modifiers (xterm)
 *   ESC [ n ~              1/7 Home, 2 Insert, 3 Delete, 4/8 End, 5 PgUp, 6 PgDn,
 *                          11-15 F1-F5, 17-21 F6-F10, 23 F11, 24 F12 (VT220, rxvt)
 *   ESC [ [ A..E           F1-F5 (Linux console)
 *   ESC [ Z                Shift-Tab
 * A parameter m after ';' is xterm's modifier: m - 1 has Shift (1), Alt (2), Ctrl (4).
 * The int 16h keystrokes are the IBM PC/AT BIOS's extended codes (Ralf Brown's list,
 * int 16h AH=00h/10h).
 */
#include <string.h>

#include "vmm/keyseq.h"

#define ESC 0x1B
#define SET2_LSHIFT 0x12
#define SET2_LCTRL 0x14
#define SET2_LALT 0x11

typedef enum {
    K_UP, K_DOWN, K_RIGHT, K_LEFT, K_HOME, K_END, K_PGUP, K_PGDN, K_INS, K_DEL,
    K_F1, K_F2, K_F3, K_F4, K_F5, K_F6, K_F7, K_F8, K_F9, K_F10, K_F11, K_F12, K_TAB,
    K_COUNT, K_NONE = -1,
} Key;

/* Set 2 make code; the BIOS's scan codes plain, with Shift, Ctrl and Alt (0: the plain one). */
static const struct { uint16_t set2; uint8_t plain, shift, ctrl, alt; } keys[K_COUNT] = {
    [K_UP] = {0xE075, 0x48, 0, 0x8D, 0x98},    [K_DOWN] = {0xE072, 0x50, 0, 0x91, 0xA0},
    [K_RIGHT] = {0xE074, 0x4D, 0, 0x74, 0x9D}, [K_LEFT] = {0xE06B, 0x4B, 0, 0x73, 0x9B},
    [K_HOME] = {0xE06C, 0x47, 0, 0x77, 0x97},  [K_END] = {0xE069, 0x4F, 0, 0x75, 0x9F},
    [K_PGUP] = {0xE07D, 0x49, 0, 0x84, 0x99},  [K_PGDN] = {0xE07A, 0x51, 0, 0x76, 0xA1},
    [K_INS] = {0xE070, 0x52, 0, 0x92, 0xA2},   [K_DEL] = {0xE071, 0x53, 0, 0x93, 0xA3},
    [K_F1] = {0x05, 0x3B, 0x54, 0x5E, 0x68},   [K_F2] = {0x06, 0x3C, 0x55, 0x5F, 0x69},
    [K_F3] = {0x04, 0x3D, 0x56, 0x60, 0x6A},   [K_F4] = {0x0C, 0x3E, 0x57, 0x61, 0x6B},
    [K_F5] = {0x03, 0x3F, 0x58, 0x62, 0x6C},   [K_F6] = {0x0B, 0x40, 0x59, 0x63, 0x6D},
    [K_F7] = {0x83, 0x41, 0x5A, 0x64, 0x6E},   [K_F8] = {0x0A, 0x42, 0x5B, 0x65, 0x6F},
    [K_F9] = {0x01, 0x43, 0x5C, 0x66, 0x70},   [K_F10] = {0x09, 0x44, 0x5D, 0x67, 0x71},
    [K_F11] = {0x78, 0x85, 0x87, 0x89, 0x8B},  [K_F12] = {0x07, 0x86, 0x88, 0x8A, 0x8C},
    [K_TAB] = {0x0D, 0x0F, 0x0F, 0x94, 0xA5},
};

/* ESC [ n ~ */
static Key tilde_key(unsigned n)
{
    switch (n) {
    case 1: case 7: return K_HOME;
    case 2: return K_INS;
    case 3: return K_DEL;
    case 4: case 8: return K_END;
    case 5: return K_PGUP;
    case 6: return K_PGDN;
    case 11: case 12: case 13: case 14: case 15: return (Key)(K_F1 + (n - 11));
    case 17: case 18: case 19: case 20: case 21: return (Key)(K_F6 + (n - 17));
    case 23: return K_F11;
    case 24: return K_F12;
    default: return K_NONE;
    }
}

/* A final byte after ESC [ or ESC O. */
static Key letter_key(uint8_t c)
{
    switch (c) {
    case 'A': return K_UP;
    case 'B': return K_DOWN;
    case 'C': return K_RIGHT;
    case 'D': return K_LEFT;
    case 'H': return K_HOME;
    case 'F': return K_END;
    case 'P': case 'Q': case 'R': case 'S': return (Key)(K_F1 + (c - 'P'));
    default: return K_NONE;
    }
}

static int as_bytes(KeySeq *k, KeyEvent out[KEYSEQ_MAX])
{
    int n = k->len;
    for (int i = 0; i < n; i++)
        out[i] = (KeyEvent){.byte = k->buf[i]};
    k->len = 0;
    return n;
}

static int as_key(KeySeq *k, Key key, unsigned mods, KeyEvent out[KEYSEQ_MAX])
{
    k->len = 0;
    out[0] = (KeyEvent){.set2 = keys[key].set2, .mods = (uint8_t)(mods & 7)};
    return 1;
}

/* What buf[0..len) is: -1 no sequence, 0 a prefix of one, 1 complete (*key, *mods). */
static int parse(const KeySeq *k, Key *key, unsigned *mods)
{
    const uint8_t *b = k->buf;
    size_t n = k->len;
    *mods = 0;
    if (n < 2)
        return 0;
    if (b[1] != '[' && b[1] != 'O')
        return -1;
    if (n == 2)
        return 0;
    if (b[1] == '[' && b[2] == '[') {   /* Linux console F1-F5 */
        if (n == 3)
            return 0;
        if (n > 4 || b[3] < 'A' || b[3] > 'E')
            return -1;
        *key = (Key)(K_F1 + (b[3] - 'A'));
        return 1;
    }
    /* Parameters (digits and ';'), then the final byte. */
    unsigned p[2] = {0, 0}, np = 0;
    bool digits = false;
    for (size_t i = 2; i < n; i++) {
        uint8_t c = b[i];
        if (c >= '0' && c <= '9') {
            if (np >= 2 || p[np] > 99)
                return -1;
            p[np] = p[np] * 10 + (c - '0');
            digits = true;
        } else if (c == ';') {
            if (++np >= 2)
                return -1;
        } else if (i != n - 1) {
            return -1;
        } else {
            unsigned m = np == 1 ? p[1] : b[1] == 'O' && digits ? p[0] : 0;
            *mods = m > 1 ? m - 1 : 0;
            if (c == '~' && b[1] == '[')
                *key = tilde_key(p[0]);
            else if (c == 'Z' && b[1] == '[' && !digits)
                *key = K_TAB, *mods = KEYSEQ_SHIFT;
            else
                *key = letter_key(c);
            return *key == K_NONE ? -1 : 1;
        }
    }
    return n < KEYSEQ_MAX ? 0 : -1;
}

int keyseq_feed(KeySeq *k, uint8_t byte, KeyEvent out[KEYSEQ_MAX])
{
    if (k->len == 0) {
        if (byte != ESC) {
            out[0] = (KeyEvent){.byte = byte};
            return 1;
        }
        k->buf[k->len++] = byte;
        return 0;
    }
    k->buf[k->len++] = byte;
    Key key = K_NONE;
    unsigned mods;
    int r = parse(k, &key, &mods);
    if (r > 0)
        return as_key(k, key, mods, out);
    if (r == 0)
        return 0;
    /* Not a sequence: the bytes before the last are plain; the last byte starts afresh
     * (it may be the ESC of the next sequence). */
    k->len--;
    int n = as_bytes(k, out);
    return n + keyseq_feed(k, byte, out + n);
}

int keyseq_flush(KeySeq *k, KeyEvent out[KEYSEQ_MAX]) { return as_bytes(k, out); }

bool keyseq_pending(const KeySeq *k) { return k->len > 0; }

size_t keyseq_set2_chord(const KeyEvent *e, uint16_t codes[4])
{
    if (!e->set2)
        return 0;
    size_t n = 0;
    if (e->mods & KEYSEQ_CTRL)
        codes[n++] = SET2_LCTRL;
    if (e->mods & KEYSEQ_ALT)
        codes[n++] = SET2_LALT;
    if (e->mods & KEYSEQ_SHIFT)
        codes[n++] = SET2_LSHIFT;
    codes[n++] = e->set2;
    return n;
}

uint16_t keyseq_bios_key(const KeyEvent *e)
{
    if (!e->set2)
        return 0;
    for (int i = 0; i < K_COUNT; i++) {
        if (keys[i].set2 != e->set2)
            continue;
        uint8_t scan = e->mods & KEYSEQ_ALT ? keys[i].alt
                     : e->mods & KEYSEQ_CTRL ? keys[i].ctrl
                     : e->mods & KEYSEQ_SHIFT ? keys[i].shift : 0;
        return (uint16_t)((scan ? scan : keys[i].plain) << 8);
    }
    return 0;
}
