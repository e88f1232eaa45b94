/*
 * Terminal key sequences (src/vmm/keyseq.c): what a terminal sends for the keys that have
 * no ASCII byte (xterm, VT100/VT220 and the Linux console: ESC [ A, ESC O A, ESC [ 1 ~,
 * ESC [ 1 ; 5 C, ESC [ [ A ...), turned back into keys: PC set 2 make codes for the PS/2
 * keyboard and int 16h keystrokes for the BIOS. Used by -display curses (the terminal's
 * keys for the keyboard) and by the built-in BIOS (keys from COM1, as a serial-console
 * option ROM reads them). No time inside: a caller that sees a sequence stall calls
 * keyseq_flush, so a lone ESC is still ESC. Internal to the library.
 */
#ifndef SCRATCHVM_VMM_KEYSEQ_H
#define SCRATCHVM_VMM_KEYSEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYSEQ_MAX 16                /* longest sequence kept; also the most events a call returns */
#define KEYSEQ_TIMEOUT_MS 50         /* how long a caller waits for the rest of a sequence */

#define KEYSEQ_SHIFT 1u              /* modifiers, as xterm's parameter - 1 encodes them */
#define KEYSEQ_ALT   2u
#define KEYSEQ_CTRL  4u

typedef struct {
    uint8_t buf[KEYSEQ_MAX];
    uint8_t len;
} KeySeq;

/* One key: a plain byte (set2 == 0) or a key without ASCII (set2: its set 2 make code,
 * 0xE0xx for the extended ones) with modifiers. */
typedef struct {
    uint16_t set2;
    uint8_t byte;
    uint8_t mods;
} KeyEvent;

/* Feeds one byte. Returns how many events went to out: 0 while a sequence is incomplete,
 * 1 for a plain byte or a complete sequence, more when bytes turned out to be no known
 * sequence (they come back as plain bytes, in order). */
int keyseq_feed(KeySeq *k, uint8_t byte, KeyEvent out[KEYSEQ_MAX]);
/* The sequence stalled (a lone ESC, or a terminal that stopped halfway): its bytes as
 * plain bytes. Returns the count. */
int keyseq_flush(KeySeq *k, KeyEvent out[KEYSEQ_MAX]);
bool keyseq_pending(const KeySeq *k);
/* The set 2 make codes to press for e, modifiers first (at most 4); the count. 0 for a
 * plain byte. */
size_t keyseq_set2_chord(const KeyEvent *e, uint16_t codes[4]);
/* The int 16h keystroke (scan code << 8 | ASCII) of a key without ASCII, as the PC BIOS
 * gives it with its modifiers (Shift-F1 5400h, Ctrl-Left 7300h, ...); 0 for a plain byte
 * or a key the BIOS has no code for. */
uint16_t keyseq_bios_key(const KeyEvent *e);

#endif
