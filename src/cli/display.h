/* -display curses: the VGA text screen live on the terminal (display.c). */
#ifndef SCRATCHVM_CLI_DISPLAY_H
#define SCRATCHVM_CLI_DISPLAY_H

#include "hypervisor_sim.h"

typedef struct TextDisplay TextDisplay;

/* How often the main loop redraws: QEMU's curses display refreshes at 30 Hz too. */
#define DISPLAY_REFRESH_MS 33

/* Takes over the terminal on fd (already raw, console.c): the alternate screen, cleared;
 * console_restore leaves it again on every way out (exit, signal, crash). NULL with
 * errno when out of memory. */
TextDisplay *display_open(const VgaDevice *vga, int fd);
/* Draws the cells that changed since the last refresh, then the cursor (where the guest's
 * CRTC puts it, hidden when its cursor is disabled). */
void display_refresh(TextDisplay *d);
/* Forces the next refresh to draw every cell (after something else wrote the terminal). */
void display_invalidate(TextDisplay *d);
void display_close(TextDisplay *d);

/* The SGR sequence for a VGA attribute byte ("\033[0;FG;BGm"): VGA's colour order (blue
 * first) mapped to ANSI's (red first), bright foregrounds as 90-97. Exposed for tests. */
int display_sgr(uint8_t attr, char *buf, size_t size);

#endif
