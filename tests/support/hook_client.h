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

#endif
