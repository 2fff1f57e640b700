/* pollwarn.h — failed polls, told at warn without flooding the log.
 *
 * A wrong --api-url used to be silent (failures were logged at debug) until
 * the workflows timed out half an hour later. Now the first failure of each
 * kind (connect, timeout, http_5xx, …) against the API host is logged at
 * warn at once with the URL and the cause; later ones of that kind are
 * counted and summed up in one warn line at most once per `window`, naming
 * the latest URL and cause (so an API that dies again later is told at
 * once, as a summary); the first successful poll after failures is worth
 * an info line, at most once per window. Pure: the caller passes the (monotonic) time and
 * logs the message it gets back. */
#ifndef EXTRACE_WORKER_POLLWARN_H
#define EXTRACE_WORKER_POLLWARN_H
#include <stddef.h>
#include <stdint.h>

#include "worker/metrics.h"

#define WK_POLLWARN_WHY_MAX 300

typedef struct wk_pollwarn {
    char host[256];      /* the API host, as in the messages */
    int64_t window_ns;   /* one summary line per kind at most this often */
    int failing;         /* 1 after a failure, until a poll succeeds */
    uint64_t since_ok;   /* failures since the last successful poll */
    int told_ok;         /* an "again" line was logged … */
    int64_t ok_line_ns;  /* … at this time */
    struct {
        int seen;                       /* a failure of this kind was logged */
        int64_t last_ns;                /* when the last line of this kind was logged */
        uint64_t pending;               /* failures since that line */
        char url[256];                  /* latest failure's URL … */
        char why[WK_POLLWARN_WHY_MAX];  /* … and cause */
    } kind[WK_NPOLL_ERR];
} wk_pollwarn;

/* Start with no failures for host (e.g. "localhost:5146"), summing up
 * repeats at most once per window_ns. */
void wk_pollwarn_init(wk_pollwarn *pw, const char *host, int64_t window_ns);

/* A poll of url failed with kind and why at now_ns (monotonic). Returns 1
 * with msg set when a warn line is due (the first of its kind, or a
 * summary once the window has passed), else 0 (counted for later). */
int wk_pollwarn_failed(wk_pollwarn *pw, wk_poll_error kind, const char *url, const char *why, int64_t now_ns,
                       char *msg, size_t len);

/* A poll succeeded at now_ns. Returns 1 with msg set (an info line) when
 * polls had been failing and no such line came within the window, else 0. */
int wk_pollwarn_ok(wk_pollwarn *pw, int64_t now_ns, char *msg, size_t len);

#endif
