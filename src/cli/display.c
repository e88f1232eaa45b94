/*
 * -display curses (display.h): the guest's 80x25 text screen drawn on the terminal with
 * ANSI/ECMA-48 escapes (cursor position, SGR colours, the xterm alternate screen), which
 * every terminal emulator of today understands, so no curses library is needed. Each
 * refresh compares the text memory with what is on the terminal and sends only the cells
 * that changed, as curses would.
 *
 * The vCPU thread writes the text memory while this (main) thread reads it without
 * pausing the guest: a cell read in the middle of a change is drawn right on the next
 * refresh, and a display must not slow the guest down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/console.h"
#include "cli/display.h"
#include "vmm/utf8.h"

#define CELLS (VGA_COLS * VGA_ROWS)
#define CRTC_CURSOR_START 0x0A
#define CRTC_CURSOR_DISABLE 0x20   /* bit 5 of the cursor start register */
#define NO_CELL 0xFFFFFFFFu        /* never a cell: forces a redraw */

/* Enter: the alternate screen, attributes off, cleared. Leave: attributes off, cursor
 * shown, the main screen back (the user's scrollback as it was). */
#define ENTER_SEQ "\033[?1049h\033[0m\033[2J\033[H"
#define LEAVE_SEQ "\033[0m\033[?25h\033[?1049l"

struct TextDisplay {
    const VgaDevice *vga;
    int fd;
    uint32_t shown[CELLS];   /* char | attr << 8 as on the terminal, or NO_CELL */
    int cursor_x, cursor_y;  /* -1: not known */
    bool cursor_visible;
    char out[CELLS * 32 + 64];
};

int display_sgr(uint8_t attr, char *buf, size_t size)
{
    static const uint8_t vga_to_ansi[8] = {0, 4, 2, 6, 1, 5, 3, 7};
    unsigned fg = attr & 0x0F, bg = (attr >> 4) & 0x07;   /* bit 7: blink, not drawn */
    return snprintf(buf, size, "\033[0;%u;%um",
                    (fg & 8 ? 90u : 30u) + vga_to_ansi[fg & 7], 40u + vga_to_ansi[bg]);
}

void display_invalidate(TextDisplay *d)
{
    for (size_t i = 0; i < CELLS; i++)
        d->shown[i] = NO_CELL;
    d->cursor_x = d->cursor_y = -1;
}

TextDisplay *display_open(const VgaDevice *vga, int fd)
{
    TextDisplay *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->vga = vga;
    d->fd = fd;
    d->cursor_visible = true;
    display_invalidate(d);
    console_set_leave_sequence(fd, LEAVE_SEQ);
    console_write_all(fd, ENTER_SEQ, strlen(ENTER_SEQ));
    return d;
}

void display_refresh(TextDisplay *d)
{
    char *o = d->out;
    int attr = -1;            /* the SGR in effect for what follows */
    int at = -1;              /* the cell the terminal's cursor is on, -1 unknown */
    for (int i = 0; i < CELLS; i++) {
        uint8_t ch = __atomic_load_n(&d->vga->vram[2 * i], __ATOMIC_RELAXED);
        uint8_t a = __atomic_load_n(&d->vga->vram[2 * i + 1], __ATOMIC_RELAXED);
        uint32_t cell = ch | (uint32_t)a << 8;
        if (d->shown[i] == cell)
            continue;
        d->shown[i] = cell;
        if (at != i)
            o += sprintf(o, "\033[%d;%dH", i / VGA_COLS + 1, i % VGA_COLS + 1);
        if (attr != a) {
            o += display_sgr(a, o, 32);
            attr = a;
        }
        /* NUL shows as a blank, as on a VGA; the rest as the character ROM draws it. */
        o += utf8_put(o, ch ? vga_cp437_unicode(ch) : ' ');
        at = i % VGA_COLS == VGA_COLS - 1 ? -1 : i + 1;   /* no reliance on auto-wrap */
    }
    int x = d->vga->cursor_x, y = d->vga->cursor_y;
    bool visible = !(d->vga->crtc[CRTC_CURSOR_START] & CRTC_CURSOR_DISABLE) &&
                   x >= 0 && x < VGA_COLS && y >= 0 && y < VGA_ROWS;
    if (o != d->out || x != d->cursor_x || y != d->cursor_y || visible != d->cursor_visible) {
        if (visible)
            o += sprintf(o, "\033[%d;%dH\033[?25h", y + 1, x + 1);
        else
            o += sprintf(o, "\033[?25l");
        d->cursor_x = x;
        d->cursor_y = y;
        d->cursor_visible = visible;
    }
    if (o != d->out)
        console_write_all(d->fd, d->out, (size_t)(o - d->out));
}

void display_close(TextDisplay *d)
{
    if (!d)
        return;
    console_leave_screen();
    free(d);
}
