#include "gen/progress.h"

#include <signal.h>
#include <string.h>

#include "core/clock.h"

#define BAR_WIDTH 24
#define REDRAW_NS (100 * EX_NS_PER_MS)

char *gen_format_secs(int64_t ns, char *buf)
{
    int64_t s = ns / EX_NS_PER_SEC;
    if (ns < 60 * EX_NS_PER_SEC) snprintf(buf, 32, "%.1fs", (double)ns / (double)EX_NS_PER_SEC);
    else if (s < 3600) snprintf(buf, 32, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else snprintf(buf, 32, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
    return buf;
}

/* Events per second, or 0 before any time has passed. */
static double rate_of(int64_t done, int64_t elapsed_ns)
{
    return elapsed_ns > 0 ? (double)done * (double)EX_NS_PER_SEC / (double)elapsed_ns : 0.0;
}

void gen_progress_format(char *buf, size_t len, int64_t done, int64_t total, int64_t elapsed_ns,
                         const char *note)
{
    char bar[BAR_WIDTH + 1], eta[32] = "--";
    int filled = total > 0 ? (int)(done * BAR_WIDTH / total) : 0;
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '-', (size_t)(BAR_WIDTH - filled));
    bar[BAR_WIDTH] = '\0';
    /* The average interval so far predicts the rest. */
    if (done > 0 && done <= total) gen_format_secs(elapsed_ns / done * (total - done), eta);
    /* Pad `done` to the width of `total` so the line does not jump. */
    int width = snprintf(NULL, 0, "%lld", (long long)total);
    snprintf(buf, len, "[%s] %*lld/%lld  %.1f ev/s  ETA %s%s%s", bar, width, (long long)done, (long long)total,
             rate_of(done, elapsed_ns), eta, note && *note ? "  " : "", note ? note : "");
}

void gen_summary_format(char *buf, size_t len, const gen_outcome *o)
{
    char took[32], head[64] = "";
    size_t n;
    if (o->signal == SIGINT || o->signal == SIGTERM)
        snprintf(head, sizeof head, "interrupted by %s: ", o->signal == SIGINT ? "SIGINT" : "SIGTERM");
    else if (o->signal)
        snprintf(head, sizeof head, "interrupted by signal %d: ", o->signal);
    else if (o->failed) snprintf(head, sizeof head, "stopped by an error: ");
    n = (size_t)snprintf(buf, len, "%spublished %lld", head, (long long)o->done);
    if (n < len && o->done != o->total) n += (size_t)snprintf(buf + n, len - n, " of %lld", (long long)o->total);
    if (n < len)
        n += (size_t)snprintf(buf + n, len - n, " event%s to %s in %s (%.1f/s)", o->total == 1 ? "" : "s",
                              o->target, gen_format_secs(o->elapsed_ns, took), rate_of(o->done, o->elapsed_ns));
    if (n < len && o->unheard > 0)
        snprintf(buf + n, len - n, "; %lld reached no subscriber", (long long)o->unheard);
}

void gen_progress_init(gen_progress *p, FILE *out, int enabled, int64_t total, int64_t start_ns)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->enabled = enabled;
    p->total = total;
    p->start_ns = start_ns;
}

void gen_progress_update(gen_progress *p, int64_t done, int64_t now_ns, const char *note, int force)
{
    char line[GEN_PROGRESS_LINE_MAX];
    if (!p->enabled || (!force && p->shown && now_ns - p->last_draw_ns < REDRAW_NS)) return;
    gen_progress_format(line, sizeof line, done, p->total, now_ns - p->start_ns, note);
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->last_draw_ns = now_ns;
    p->shown = 1;
}

void gen_progress_clear(gen_progress *p)
{
    if (!p->shown) return;
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
    p->shown = 0;
}
