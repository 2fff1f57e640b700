#include "core/wrap.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void ex_wrap(FILE *out, const char *text, int first, int indent, int width)
{
    int col = first, words = 0, pad = first ? 0 : indent; /* pad: indentation owed before the next word */
    const char *p = text;
    while (*p) {
        if (*p == ' ') { p++; continue; }
        if (*p == '\n') {
            if (p[1] == '\n') { /* a paragraph break: end the line, one blank line */
                while (p[0] == '\n') p++;
                fputs("\n\n", out);
                col = 0;
                pad = indent;
                words = 0;
            } else {
                p++;
            }
            continue;
        }
        int n = (int)strcspn(p, " \n");
        int start = words ? col + 1 : (pad ? pad : col);
        if (start + n > width && (words || col > indent)) {
            fputc('\n', out);
            col = 0;
            pad = start = indent;
            words = 0;
        }
        if (!words && pad && pad + n > width) /* too long for the indented line: move it left to fit */
            pad = start = width - n > 0 ? width - n : 0;
        fprintf(out, "%*s%s%.*s", pad, "", words ? " " : "", n, p);
        col = start + n;
        pad = 0;
        words++;
        p += n;
    }
    fputc('\n', out);
}

int ex_wrap_width(FILE *out)
{
    struct winsize ws;
    int fd = fileno(out);
    if (fd < 0 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return EX_WRAP_DEFAULT;
    return ws.ws_col < EX_WRAP_MIN ? EX_WRAP_MIN : ws.ws_col;
}
