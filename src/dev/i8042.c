/*
 * The 8042 keyboard controller of the PC/AT (IBM PC/AT Technical Reference, "Keyboard
 * Controller"; the PS/2 controller's command set) and a PS/2 keyboard.
 *
 * Status (0x64 read): OBF (bit 0), IBF (bit 1, always 0: commands complete at once), the
 * system flag (bit 2), A2 (bit 3: the last write was a command), not inhibited (bit 4),
 * AUXB (bit 5). Commands: 20h/60h read/write the command byte (bit 0 IRQ1 enable, bit 2
 * system flag, bit 4 keyboard disable, bit 5 aux disable, bit 6 translation), A7h/A8h aux
 * disable/enable, A9h aux test (00h), AAh self-test (55h), ABh keyboard test (00h),
 * ADh/AEh keyboard disable/enable, C0h input port, D0h/D1h read/write the output port (bit 0
 * system reset, active low; bit 1 A20 gate), D2h/D3h write the keyboard/aux output buffer,
 * D4h write to the aux device (it acknowledges, there is no mouse), DDh/DFh A20 off/on,
 * F0h-FFh pulse output-port bits low (FEh: reset).
 * Keyboard (0x60 write): FFh reset (FAh AAh), F2h identify (FAh ABh 83h), F0h scancode set
 * (get: FAh and 02h), F3h typematic, EDh LEDs (each FAh FAh), F4h/F5h enable/disable
 * scanning, F6h defaults, EEh echo; anything else FEh (resend).
 * The keyboard speaks scancode set 2; with the translation bit the controller turns it into
 * set 1 (F0h xx, a break, becomes the set 1 code | 80h). Model choice: the translation table
 * covers the keys the host console produces (letters, digits, punctuation, space, Enter,
 * Backspace, Tab, Escape, Shift, Ctrl) and the identify byte; other bytes pass unchanged.
 * IRQ1 is raised while the output buffer holds a keyboard byte and the command byte enables
 * it; reading the buffer lowers it, and the next queued byte raises it again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"

#include "dev/i8042.h"

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_A2 0x08
#define ST_NOT_INHIBITED 0x10
#define ST_AUXB 0x20
#define CB_KBD_INT 0x01
#define CB_SYS 0x04
#define CB_KBD_DISABLE 0x10
#define CB_AUX_DISABLE 0x20
#define CB_XLAT 0x40
#define OUT_RESET 0x01          /* active low: 0 resets the CPU */
#define OUT_A20 0x02
#define OUT_OBF_KBD 0x10        /* output-port images of the interrupt lines */
#define KBD_ACK 0xFA
#define KBD_RESEND 0xFE
#define KBD_BAT_OK 0xAA
#define KBD_BREAK 0xF0
#define SET2_LSHIFT 0x12
#define SET2_LCTRL 0x14

/* Keys: set 2 make code and set 1 make code. */
typedef struct {
    uint8_t set2, set1;
} KeyCodes;

static const KeyCodes keys[] = {
    {0x1C, 0x1E}, {0x32, 0x30}, {0x21, 0x2E}, {0x23, 0x20}, {0x24, 0x12}, {0x2B, 0x21},
    {0x34, 0x22}, {0x33, 0x23}, {0x43, 0x17}, {0x3B, 0x24}, {0x42, 0x25}, {0x4B, 0x26},
    {0x3A, 0x32}, {0x31, 0x31}, {0x44, 0x18}, {0x4D, 0x19}, {0x15, 0x10}, {0x2D, 0x13},
    {0x1B, 0x1F}, {0x2C, 0x14}, {0x3C, 0x16}, {0x2A, 0x2F}, {0x1D, 0x11}, {0x22, 0x2D},
    {0x35, 0x15}, {0x1A, 0x2C},                                         /* a-z: 0-25 */
    {0x45, 0x0B}, {0x16, 0x02}, {0x1E, 0x03}, {0x26, 0x04}, {0x25, 0x05}, {0x2E, 0x06},
    {0x36, 0x07}, {0x3D, 0x08}, {0x3E, 0x09}, {0x46, 0x0A},             /* 0-9: 26-35 */
    {0x4E, 0x0C}, {0x55, 0x0D}, {0x54, 0x1A}, {0x5B, 0x1B}, {0x5D, 0x2B}, {0x4C, 0x27},
    {0x52, 0x28}, {0x0E, 0x29}, {0x41, 0x33}, {0x49, 0x34}, {0x4A, 0x35}, /* - = [ ] \ ; ' ` , . / */
    {0x29, 0x39}, {0x5A, 0x1C}, {0x66, 0x0E}, {0x0D, 0x0F}, {0x76, 0x01}, /* sp ent bs tab esc */
    {SET2_LSHIFT, 0x2A}, {SET2_LCTRL, 0x1D},
};
enum { K_DIGIT0 = 26, K_PUNCT = 36, K_SPACE = 47, K_ENTER, K_BACKSPACE, K_TAB, K_ESC };

/* The key and Shift for a printable byte, or -1. */
static int key_for(uint8_t c, bool *shift)
{
    static const char punct[] = "-=[]\\;'`,./";
    static const char shifted_punct[] = "_+{}|:\"~<>?";
    static const char shifted_digits[] = ")!@#$%^&*(";
    *shift = false;
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z') {
        *shift = true;
        return c - 'A';
    }
    if (c >= '0' && c <= '9')
        return K_DIGIT0 + (c - '0');
    if (c == ' ')
        return K_SPACE;
    for (int i = 0; punct[i]; i++) {
        if (c == (uint8_t)punct[i])
            return K_PUNCT + i;
        if (c == (uint8_t)shifted_punct[i]) {
            *shift = true;
            return K_PUNCT + i;
        }
    }
    for (int i = 0; i < 10; i++) {
        if (c == (uint8_t)shifted_digits[i]) {
            *shift = true;
            return K_DIGIT0 + i;
        }
    }
    return -1;
}

typedef enum { NEXT_NONE, NEXT_CMD_BYTE, NEXT_OUTPORT, NEXT_KBD_OUT, NEXT_AUX_OUT, NEXT_AUX,
               NEXT_KBD_ARG } NextByte;

struct I8042 {
    pthread_mutex_t lock;
    uint8_t status, cmd, outport, out;
    bool obf;
    bool held_valid;              /* a keyboard byte set aside for a command's result */
    uint8_t held;
    uint8_t queue[I8042_QUEUE];   /* bytes from the keyboard (set 2, untranslated) */
    size_t head, count;
    bool last_was_break;          /* translation: the previous byte was F0h */
    NextByte next;
    uint8_t kbd_cmd;              /* the keyboard command waiting for its argument */
    bool scanning;
    bool irq_level;
    IrqLine irq1;
    void (*a20)(void *opaque, bool on);
    void (*reset)(void *opaque);
    void *opaque;
};

typedef struct {
    bool a20_changed, a20, reset;
} Effects;

/* Set 2 -> set 1 for the bytes this model's keyboard sends. */
/* Keys that only the monitor's sendkey types (set 2 and set 1 make codes; E0-prefixed
 * keys share their second byte's translation with the plain key of that code). */
static const KeyCodes more_keys[] = {
    {0x11, 0x38}, {0x59, 0x36}, {0x58, 0x3A}, {0x77, 0x45}, {0x7E, 0x46},
    {0x05, 0x3B}, {0x06, 0x3C}, {0x04, 0x3D}, {0x0C, 0x3E}, {0x03, 0x3F}, {0x0B, 0x40},
    {0x0A, 0x42}, {0x01, 0x43}, {0x09, 0x44}, {0x78, 0x57}, {0x07, 0x58},
    {0x75, 0x48}, {0x72, 0x50}, {0x6B, 0x4B}, {0x74, 0x4D}, {0x6C, 0x47}, {0x69, 0x4F},
    {0x7D, 0x49}, {0x7A, 0x51}, {0x70, 0x52}, {0x71, 0x53}, {0x1F, 0x5B}, {0x2F, 0x5D},
};

static uint8_t translate(uint8_t b)
{
    if (b == 0x83)
        return 0x41;   /* F7, and the identify byte, as translation gives it */
    if (b == 0xE0)
        return b;      /* the extended-key prefix is the same in both sets */
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].set2 == b)
            return keys[i].set1;
    for (size_t i = 0; i < sizeof(more_keys) / sizeof(more_keys[0]); i++)
        if (more_keys[i].set2 == b)
            return more_keys[i].set1;
    return b;
}

static void push(I8042 *k, uint8_t b)
{
    if (k->count < I8042_QUEUE)
        k->queue[(k->head + k->count++) % I8042_QUEUE] = b;
}

static void update_irq(I8042 *k)
{
    bool level = k->obf && !(k->status & ST_AUXB) && (k->cmd & CB_KBD_INT);
    if (level != k->irq_level) {
        k->irq_level = level;
        irq_line_set(&k->irq1, level);
    }
}

/* Moves the next keyboard byte into the output buffer when it is empty. A break prefix
 * is folded into the following byte when translating. */
static void refill(I8042 *k)
{
    if (!k->obf && k->held_valid) {
        k->out = k->held;
        k->held_valid = false;
        k->obf = true;
        k->status &= (uint8_t)~ST_AUXB;
    }
    while (!k->obf && k->count && !(k->cmd & CB_KBD_DISABLE)) {
        uint8_t b = k->queue[k->head];
        k->head = (k->head + 1) % I8042_QUEUE;
        k->count--;
        if (k->cmd & CB_XLAT) {
            if (b == KBD_BREAK) {
                k->last_was_break = true;
                continue;
            }
            b = translate(b);
            if (k->last_was_break)
                b |= 0x80;
            k->last_was_break = false;
        }
        k->out = b;
        k->obf = true;
        k->status &= (uint8_t)~ST_AUXB;
    }
    update_irq(k);
}

/* A byte for the output buffer from the controller itself (command results). A keyboard
 * byte still unread there is set aside and comes next, so no key is lost. */
static void controller_out(I8042 *k, uint8_t b, bool aux)
{
    if (k->obf && !(k->status & ST_AUXB) && !k->held_valid) {
        k->held = k->out;
        k->held_valid = true;
    }
    k->out = b;
    k->obf = true;
    if (aux)
        k->status |= ST_AUXB;
    else
        k->status &= (uint8_t)~ST_AUXB;
    update_irq(k);
}

static void set_outport(I8042 *k, uint8_t v, Effects *e)
{
    uint8_t old = k->outport;
    k->outport = v;
    if ((old ^ v) & OUT_A20) {
        e->a20_changed = true;
        e->a20 = v & OUT_A20;
    }
    if (!(v & OUT_RESET))
        e->reset = true;
}

static void keyboard_command(I8042 *k, uint8_t v)
{
    if (k->kbd_cmd) {   /* the argument of F0h, F3h, EDh */
        uint8_t c = k->kbd_cmd;
        k->kbd_cmd = 0;
        push(k, KBD_ACK);
        if (c == 0xF0 && v == 0)
            push(k, 0x02);   /* scancode set 2 */
        return;
    }
    switch (v) {
    case 0xFF: push(k, KBD_ACK); push(k, KBD_BAT_OK); k->scanning = true; break;
    case 0xF2: push(k, KBD_ACK); push(k, 0xAB); push(k, 0x83); break;
    case 0xF0: case 0xF3: case 0xED: push(k, KBD_ACK); k->kbd_cmd = v; break;
    case 0xF4: push(k, KBD_ACK); k->scanning = true; break;
    case 0xF5: push(k, KBD_ACK); k->scanning = false; break;
    case 0xF6: push(k, KBD_ACK); break;
    case 0xEE: push(k, 0xEE); break;
    default: push(k, KBD_RESEND); break;
    }
}

static void write_data(I8042 *k, uint8_t v, Effects *e)
{
    NextByte n = k->next;
    k->next = NEXT_NONE;
    switch (n) {
    case NEXT_CMD_BYTE:
        k->cmd = v;
        k->status = (uint8_t)((k->status & ~ST_SYS) | (v & CB_SYS));
        break;
    case NEXT_OUTPORT: set_outport(k, v, e); break;
    case NEXT_KBD_OUT: controller_out(k, v, false); break;
    case NEXT_AUX_OUT: controller_out(k, v, true); break;
    case NEXT_AUX: controller_out(k, KBD_ACK, true); break;   /* no mouse: an ACK only */
    default:
        k->cmd &= (uint8_t)~CB_KBD_DISABLE;   /* writing the keyboard enables it */
        keyboard_command(k, v);
        break;
    }
}

static void write_command(I8042 *k, uint8_t v, Effects *e)
{
    switch (v) {
    case 0x20: controller_out(k, k->cmd, false); break;
    case 0x60: k->next = NEXT_CMD_BYTE; break;
    case 0xA7: k->cmd |= CB_AUX_DISABLE; break;
    case 0xA8: k->cmd &= (uint8_t)~CB_AUX_DISABLE; break;
    case 0xA9: controller_out(k, 0x00, false); break;
    case 0xAA:
        k->status |= ST_SYS;
        controller_out(k, 0x55, false);
        break;
    case 0xAB: controller_out(k, 0x00, false); break;
    case 0xAD: k->cmd |= CB_KBD_DISABLE; break;
    case 0xAE: k->cmd &= (uint8_t)~CB_KBD_DISABLE; break;
    case 0xC0: controller_out(k, 0x80, false); break;   /* input port: not inhibited */
    case 0xD0: controller_out(k, k->outport | (k->obf ? OUT_OBF_KBD : 0), false); break;
    case 0xD1: k->next = NEXT_OUTPORT; break;
    case 0xD2: k->next = NEXT_KBD_OUT; break;
    case 0xD3: k->next = NEXT_AUX_OUT; break;
    case 0xD4: k->next = NEXT_AUX; break;
    case 0xDD: set_outport(k, k->outport & (uint8_t)~OUT_A20, e); break;
    case 0xDF: set_outport(k, k->outport | OUT_A20, e); break;
    default:
        if (v >= 0xF0 && !(v & OUT_RESET))
            e->reset = true;   /* pulse bit 0 low: FEh, and the other even ones */
        break;
    }
}

static void apply(I8042 *k, const Effects *e)
{
    if (e->a20_changed && k->a20)
        k->a20(k->opaque, e->a20);
    if (e->reset && k->reset)
        k->reset(k->opaque);
}

I8042 *i8042_create(const IrqLine *irq1, void (*a20)(void *opaque, bool on),
                    void (*reset)(void *opaque), void *opaque)
{
    I8042 *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    pthread_mutex_init(&k->lock, NULL);
    if (irq1)
        k->irq1 = *irq1;
    k->a20 = a20;
    k->reset = reset;
    k->opaque = opaque;
    /* What a BIOS leaves: IRQ1 on, system flag, translation; A20 open, reset high. */
    k->cmd = CB_KBD_INT | CB_SYS | CB_XLAT;
    k->status = ST_SYS | ST_NOT_INHIBITED;
    k->outport = OUT_RESET | OUT_A20;
    k->scanning = true;
    return k;
}

void i8042_destroy(I8042 *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->lock);
    free(k);
}

int i8042_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    I8042 *k = opaque;
    if (!k || !value)
        return -EINVAL;
    pthread_mutex_lock(&k->lock);
    uint8_t v;
    if (port == I8042_COMMAND) {
        v = (uint8_t)(k->status | (k->obf ? ST_OBF : 0));
    } else {
        v = k->out;   /* empty: the last byte again */
        k->obf = false;
        update_irq(k);   /* the read lowers IRQ1; the next byte raises it again */
        refill(k);
    }
    pthread_mutex_unlock(&k->lock);
    *value = dev_byte_on_bus(v, size);
    return 0;
}

int i8042_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)size;
    I8042 *k = opaque;
    if (!k)
        return -EINVAL;
    Effects e = {0};
    pthread_mutex_lock(&k->lock);
    if (port == I8042_COMMAND) {
        k->status |= ST_A2;
        write_command(k, (uint8_t)value, &e);
    } else {
        k->status &= (uint8_t)~ST_A2;
        write_data(k, (uint8_t)value, &e);
    }
    refill(k);
    pthread_mutex_unlock(&k->lock);
    apply(k, &e);
    return 0;
}

bool i8042_host_key(I8042 *k, uint8_t c)
{
    int key;
    bool shift = false, ctrl = false;
    switch (c) {
    case '\r': case '\n': key = K_ENTER; break;
    case 0x7F: case '\b': key = K_BACKSPACE; break;
    case '\t': key = K_TAB; break;
    case 0x1B: key = K_ESC; break;
    default:
        if (c >= 1 && c <= 26) {   /* Ctrl-A .. Ctrl-Z */
            ctrl = true;
            key = c - 1;
        } else {
            key = key_for(c, &shift);
        }
        break;
    }
    if (key < 0)
        return false;
    pthread_mutex_lock(&k->lock);
    bool ok = k->scanning && k->count + 8 <= I8042_QUEUE;
    if (ok) {
        uint8_t mod = shift ? SET2_LSHIFT : ctrl ? SET2_LCTRL : 0;
        if (mod)
            push(k, mod);
        push(k, keys[key].set2);
        push(k, KBD_BREAK);
        push(k, keys[key].set2);
        if (mod) {
            push(k, KBD_BREAK);
            push(k, mod);
        }
        refill(k);
    }
    pthread_mutex_unlock(&k->lock);
    return ok;
}

/* QEMU's key names (QKeyCode, as sendkey takes them) and their set 2 make codes; 0xE0xx
 * is an extended key. */
static const struct { const char *name; uint16_t set2; } key_names[] = {
    {"a", 0x1C}, {"b", 0x32}, {"c", 0x21}, {"d", 0x23}, {"e", 0x24}, {"f", 0x2B},
    {"g", 0x34}, {"h", 0x33}, {"i", 0x43}, {"j", 0x3B}, {"k", 0x42}, {"l", 0x4B},
    {"m", 0x3A}, {"n", 0x31}, {"o", 0x44}, {"p", 0x4D}, {"q", 0x15}, {"r", 0x2D},
    {"s", 0x1B}, {"t", 0x2C}, {"u", 0x3C}, {"v", 0x2A}, {"w", 0x1D}, {"x", 0x22},
    {"y", 0x35}, {"z", 0x1A}, {"1", 0x16}, {"2", 0x1E}, {"3", 0x26}, {"4", 0x25},
    {"5", 0x2E}, {"6", 0x36}, {"7", 0x3D}, {"8", 0x3E}, {"9", 0x46}, {"0", 0x45},
    {"minus", 0x4E}, {"equal", 0x55}, {"bracket_left", 0x54}, {"bracket_right", 0x5B},
    {"backslash", 0x5D}, {"semicolon", 0x4C}, {"apostrophe", 0x52}, {"grave_accent", 0x0E},
    {"comma", 0x41}, {"dot", 0x49}, {"slash", 0x4A}, {"spc", 0x29}, {"ret", 0x5A},
    {"tab", 0x0D}, {"esc", 0x76}, {"backspace", 0x66}, {"shift", 0x12}, {"shift_r", 0x59},
    {"ctrl", 0x14}, {"ctrl_r", 0xE014}, {"alt", 0x11}, {"alt_r", 0xE011},
    {"caps_lock", 0x58}, {"num_lock", 0x77}, {"scroll_lock", 0x7E},
    {"f1", 0x05}, {"f2", 0x06}, {"f3", 0x04}, {"f4", 0x0C}, {"f5", 0x03}, {"f6", 0x0B},
    {"f7", 0x83}, {"f8", 0x0A}, {"f9", 0x01}, {"f10", 0x09}, {"f11", 0x78}, {"f12", 0x07},
    {"up", 0xE075}, {"down", 0xE072}, {"left", 0xE06B}, {"right", 0xE074},
    {"home", 0xE06C}, {"end", 0xE069}, {"pgup", 0xE07D}, {"pgdn", 0xE07A},
    {"insert", 0xE070}, {"delete", 0xE071}, {"meta_l", 0xE01F}, {"menu", 0xE02F},
};

int i8042_key_code(const char *name)
{
    for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
        if (strcmp(key_names[i].name, name) == 0)
            return key_names[i].set2;
    return -ENOENT;
}

/* Make codes of every key in order, then their break codes in reverse order (a chord such
 * as ctrl-alt-delete). */
int i8042_press_keys(I8042 *k, const uint16_t *set2, size_t n)
{
    if (n == 0 || n > 16)
        return -EINVAL;
    pthread_mutex_lock(&k->lock);
    int r = -EAGAIN;
    if (k->scanning && k->count + n * 5 <= I8042_QUEUE) {
        for (size_t i = 0; i < n; i++) {
            if (set2[i] >> 8)
                push(k, 0xE0);
            push(k, (uint8_t)set2[i]);
        }
        for (size_t i = n; i-- > 0;) {
            if (set2[i] >> 8)
                push(k, 0xE0);
            push(k, KBD_BREAK);
            push(k, (uint8_t)set2[i]);
        }
        refill(k);
        r = 0;
    }
    pthread_mutex_unlock(&k->lock);
    return r;
}
