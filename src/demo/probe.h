/* probe.h — is a service up yet? And small HTTP GETs on the loop.
 *
 * dm_fetch: one reusable libcurl easy handle run on an ex_curl_loop, its
 * answer body kept in a bounded buffer.
 * dm_probe: retries a check every DM_PROBE_RETRY_MS until it succeeds or
 * its deadline passes: a TCP connect (uv_tcp_connect) or an HTTP GET that
 * must answer 200. */
#ifndef EXTRACE_DEMO_PROBE_H
#define EXTRACE_DEMO_PROBE_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/curl_uv.h"

#define DM_PROBE_RETRY_MS 50
#define DM_FETCH_MAX_BODY (1 << 20) /* bigger answers fail the fetch */

typedef struct dm_fetch dm_fetch;
/* result: CURLE_OK and the status in `status`, or the curl error. */
typedef void (*dm_fetch_cb)(dm_fetch *f, CURLcode result, long status, void *arg);

struct dm_fetch {
    CURL *easy;         /* owned; NULL until the first fetch */
    char *body;         /* answer body, NUL-ended (owned) */
    size_t len, cap;    /* bytes in body, allocated */
    int too_big;        /* the answer passed DM_FETCH_MAX_BODY */
    int busy;           /* a transfer is running */
    dm_fetch_cb cb;     /* completion of the running transfer */
    void *arg;          /* its argument */
    char errbuf[CURL_ERROR_SIZE]; /* curl's message for the last failure */
};

/* GET url with a timeout; cb runs once (also with CURLE_ABORTED_BY_CALLBACK
 * when the curl loop is destroyed). 0, or -1 if it could not start (busy,
 * out of memory): then cb is not called. */
int dm_fetch_get(dm_fetch *f, ex_curl_loop *cl, const char *url, long timeout_ms, dm_fetch_cb cb, void *arg);
/* Free the handle and the buffer; only when not busy. */
void dm_fetch_free(dm_fetch *f);

typedef enum { DM_PROBE_TCP, DM_PROBE_HTTP } dm_probe_kind;

typedef struct dm_probe dm_probe;
/* ok = 1 when the check passed, 0 at the deadline (why says what failed last). */
typedef void (*dm_probe_cb)(dm_probe *p, int ok, const char *why, void *arg);

struct dm_probe {
    uv_loop_t *loop;      /* not owned */
    ex_curl_loop *curl;   /* not owned; for HTTP probes */
    dm_probe_kind kind;   /* what is checked */
    int port;             /* TCP: 127.0.0.1:port */
    char url[512];        /* HTTP: the address that must answer 200 */
    int64_t deadline;     /* monotonic ns */
    int active;           /* started, result not yet delivered */
    int tcp_busy;         /* the uv_tcp_t is in use (connecting or closing) */
    int tcp_status;       /* the last connect's result */
    uv_timer_t timer;     /* retry timer */
    uv_tcp_t tcp;         /* the connect attempt */
    uv_connect_t connect; /* its request */
    dm_fetch fetch;       /* HTTP attempts */
    char why[800];        /* the last failure */
    dm_probe_cb cb;       /* result callback */
    void *arg;            /* its argument */
};

/* Set up (timer on loop); close with dm_probe_close. */
void dm_probe_init(dm_probe *p, uv_loop_t *loop, ex_curl_loop *curl);
/* Start checking; the result comes through cb (never from inside this call). */
void dm_probe_start_tcp(dm_probe *p, int port, int64_t timeout_ns, dm_probe_cb cb, void *arg);
void dm_probe_start_http(dm_probe *p, const char *url, int64_t timeout_ns, dm_probe_cb cb, void *arg);
/* Stop checking: no callback will come. */
void dm_probe_cancel(dm_probe *p);
/* Cancel and close the timer; the fetch handle is freed by dm_probe_free
 * after the curl loop is destroyed. */
void dm_probe_close(dm_probe *p);
void dm_probe_free(dm_probe *p);

#endif
