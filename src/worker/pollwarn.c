#include "worker/pollwarn.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/duration.h"

void wk_pollwarn_init(wk_pollwarn *pw, const char *host, int64_t window_ns)
{
    memset(pw, 0, sizeof *pw);
    snprintf(pw->host, sizeof pw->host, "%s", host);
    pw->window_ns = window_ns;
}

int wk_pollwarn_failed(wk_pollwarn *pw, wk_poll_error kind, const char *url, const char *why, int64_t now_ns,
                       char *msg, size_t len)
{
    if ((int)kind < 0 || kind >= WK_NPOLL_ERR) return 0;
    const char *name = wk_poll_error_name(kind);
    char window[EX_DURATION_STR_MAX];
    pw->failing = 1;
    pw->since_ok++;
    if (!pw->kind[kind].seen) {
        pw->kind[kind].seen = 1;
        pw->kind[kind].last_ns = now_ns;
        pw->kind[kind].pending = 0;
        snprintf(msg, len,
                 "polls of the API at %s fail (%s): GET %s: %s; check --api-url and that the API runs "
                 "(further %s failures are summed up every %s)",
                 pw->host, name, url, why, name, ex_duration_format(pw->window_ns, window));
        return 1;
    }
    pw->kind[kind].pending++;
    snprintf(pw->kind[kind].url, sizeof pw->kind[kind].url, "%s", url);
    snprintf(pw->kind[kind].why, sizeof pw->kind[kind].why, "%s", why);
    if (now_ns - pw->kind[kind].last_ns < pw->window_ns) return 0;
    snprintf(msg, len, "%" PRIu64 " more polls of the API at %s failed (%s) in the last %s; latest: GET %s: %s",
             pw->kind[kind].pending, pw->host, name,
             ex_duration_format(now_ns - pw->kind[kind].last_ns, window), pw->kind[kind].url, pw->kind[kind].why);
    pw->kind[kind].pending = 0;
    pw->kind[kind].last_ns = now_ns;
    return 1;
}

int wk_pollwarn_ok(wk_pollwarn *pw, int64_t now_ns, char *msg, size_t len)
{
    if (!pw->failing) return 0;
    /* An API that fails now and then would otherwise make one line per success. */
    if (pw->told_ok && now_ns - pw->ok_line_ns < pw->window_ns) return 0;
    snprintf(msg, len, "polls of the API at %s succeed again (%" PRIu64 " failed since the last success)", pw->host,
             pw->since_ok);
    pw->failing = 0;
    pw->since_ok = 0;
    pw->told_ok = 1;
    pw->ok_line_ns = now_ns;
    return 1;
}
