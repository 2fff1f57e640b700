/* console.c — status line drawing. */
#include "demo/console.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/clock.h"

void dm_console_init(dm_console *c, FILE *out)
{
    memset(c, 0, sizeof *c);
    c->out = out;
    c->tty = isatty(fileno(out));
}

/* Terminal width, so the redrawn line never wraps (a wrapped line cannot
 * be erased with a carriage return). */
static int columns(const dm_console *c)
{
    struct winsize ws;
    if (ioctl(fileno(c->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
    return 80;
}

static void draw(dm_console *c)
{
    int width = columns(c) - 1;
    int n = (int)strlen(c->status);
    fprintf(c->out, "\r\033[K%.*s", n < width ? n : width, c->status);
    fflush(c->out);
    c->drawn = 1;
}

void dm_console_status(dm_console *c, const char *text, int force)
{
    snprintf(c->status, sizeof c->status, "%s", text);
    if (c->tty) {
        draw(c);
        return;
    }
    int64_t now = ex_mono_ns();
    if (strcmp(c->status, c->printed) == 0) return;
    if (!force && c->printed_ns && now - c->printed_ns < DM_PLAIN_STATUS_NS) return;
    fprintf(c->out, "%s\n", c->status);
    fflush(c->out);
    memcpy(c->printed, c->status, sizeof c->printed);
    c->printed_ns = now;
}

void dm_console_clear(dm_console *c)
{
    if (!c->tty || !c->drawn) return;
    fputs("\r\033[K", c->out);
    fflush(c->out);
    c->drawn = 0;
}

void dm_console_redraw(dm_console *c)
{
    if (c->tty && c->status[0]) draw(c);
}

void dm_console_line(dm_console *c, FILE *stream, const char *text, size_t len)
{
    dm_console_clear(c);
    fwrite(text, 1, len, stream);
    fputc('\n', stream);
    fflush(stream);
    dm_console_redraw(c);
}

void dm_console_finish(dm_console *c)
{
    if (c->tty) {
        if (c->drawn) fputc('\n', c->out);
        c->drawn = 0;
        c->status[0] = '\0';
    } else if (c->status[0] && strcmp(c->status, c->printed) != 0) {
        fprintf(c->out, "%s\n", c->status);
        memcpy(c->printed, c->status, sizeof c->printed);
    }
    fflush(c->out);
}
