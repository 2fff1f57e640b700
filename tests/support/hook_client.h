/* hook_client.h — GitHub-style webhook deliveries made by a test: signed
 * with the shared secret (X-Hub-Signature-256, the library's own
 * sr_sig_sign), POSTed to a worker's /hooks/<source>, with an optional
 * W3C traceparent header; and the worker's webhook port read from its
 * log. Failures fail the running test. */
#ifndef EXTRACE_TEST_HOOK_CLIENT_H
#define EXTRACE_TEST_HOOK_CLIENT_H

/* The port of "webhooks on … (port N)" in a worker's log (waits up to 15 s). */
int hc_webhook_port(const char *log_path);
/* POST body as one delivery of `event` with delivery id `delivery` (NULL:
 * none) to http://127.0.0.1:port/hooks/<source>, signed under secret
 * (NULL: unsigned); traceparent NULL for none. The HTTP status. */
long hc_post(int port, const char *source, const char *secret, const char *event, const char *delivery,
             const char *body, const char *traceparent);

struct run;
/* The body of a workflow_run "requested" delivery of run `id` (made at r's
 * simulator on first sight), as GitHub sends it (caller frees). */
char *hc_run_payload(const struct run *r, long id);

/* One delivery sent on a thread of its own, so that a test can watch the
 * sender wait for its answer. */
typedef struct hc_async {
    char url[160];
    char headers[6][320];
    char *body;     /* owned */
    long timeout_ms;
    long status;    /* the answer's status; 0: none (timeout, connection closed) */
    volatile int done;
    unsigned long thread; /* pthread_t */
} hc_async;
/* Start POSTing body (taken over) as hc_post would, waiting up to timeout_ms for the answer. */
void hc_post_async(hc_async *a, int port, const char *source, const char *secret, const char *event,
                   const char *delivery, char *body, long timeout_ms);
/* Wait for it to end: the status (0 without an answer). */
long hc_async_wait(hc_async *a);

#endif
