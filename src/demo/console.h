/* console.h — the demo's status line and the lines printed around it.
 *
 * On a terminal the status line is redrawn in place (carriage return, erase
 * line) on stdout; any other line first erases it and it is redrawn after.
 * Without a terminal the status is a plain line, printed when it changed
 * and at most every DM_PLAIN_STATUS_NS. */
#ifndef EXTRACE_DEMO_CONSOLE_H
#define EXTRACE_DEMO_CONSOLE_H
#include <stdint.h>
#include <stdio.h>

#define DM_PLAIN_STATUS_NS (5 * INT64_C(1000000000))

typedef struct dm_console {
    FILE *out;           /* where the status goes (stdout); not owned */
    int tty;             /* out is a terminal: redraw in place */
    int drawn;           /* the status line is on screen (tty) */
    char status[512];    /* the current status text */
    char printed[512];   /* the last status printed as a plain line */
    int64_t printed_ns;  /* when it was printed (monotonic ns) */
} dm_console;

/* Set up on `out`; tty detection with isatty. */
void dm_console_init(dm_console *c, FILE *out);
/* Replace the status text and show it: redrawn at once on a terminal,
 * printed as a line otherwise when changed and DM_PLAIN_STATUS_NS have
 * passed (force = 1: print now if changed). */
void dm_console_status(dm_console *c, const char *text, int force);
/* Erase the status line (terminal) so another line can be printed; call
 * dm_console_redraw afterwards. */
void dm_console_clear(dm_console *c);
/* Draw the status again after dm_console_clear (terminal only). */
void dm_console_redraw(dm_console *c);
/* Print one line (no newline needed) to `stream` without garbling the status. */
void dm_console_line(dm_console *c, FILE *stream, const char *text, size_t len);
/* Leave the status line on screen and move below it (terminal), or print
 * the last status if it was not printed (plain). */
void dm_console_finish(dm_console *c);

#endif
