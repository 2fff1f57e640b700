/* hook_client.c — webhook deliveries made by a test (hook_client.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hook_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "source_run.h"
#include "source/webhook_sig.h"
#include "support.h"

int hc_webhook_port(const char *log_path)
{
    for (int waited = 0; waited < 15000; waited += 50) {
        char *log = ts_read_file(log_path, NULL);
        const char *p = log ? strstr(log, "webhooks on ") : NULL;
        const char *q = p ? strstr(p, "(port ") : NULL;
        int port = q ? atoi(q + 6) : 0;
        free(log);
        if (port > 0) return port;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("no \"webhooks on … (port N)\" line in %s", log_path);
    return 0;
}

/* The headers of one delivery (n of them into h, each up to 320 bytes). */
static int delivery_headers(char h[][320], const char *secret, const char *event, const char *delivery,
                            const char *body, const char *traceparent)
{
    int n = 0;
    snprintf(h[n++], 320, "Content-Type: application/json");
    if (secret) {
        char sig[160];
        assert_int_equal(sr_sig_sign(SR_SIG_HMAC_SHA256, "sha256=", secret, strlen(secret), body, strlen(body), sig,
                                     sizeof sig), 0);
        snprintf(h[n++], 320, "X-Hub-Signature-256: %s", sig);
    }
    snprintf(h[n++], 320, "X-GitHub-Event: %.200s", event);
    if (delivery) snprintf(h[n++], 320, "X-GitHub-Delivery: %.200s", delivery);
    if (traceparent) snprintf(h[n++], 320, "traceparent: %.200s", traceparent);
    return n;
}

/* POST body to url with headers h[0..n): the status, 0 without an answer. */
static long post(const char *url, char h[][320], int n, const char *body, long timeout_ms)
{
    const char *headers[7];
    for (int i = 0; i < n; i++) headers[i] = h[i];
    headers[n] = NULL;
    th_req req = {headers, body, strlen(body), timeout_ms, 0};
    th_resp resp;
    CURL *c = curl_easy_init();
    th_request_rc(c, "POST", url, &req, &resp);
    curl_easy_cleanup(c);
    long status = resp.status;
    th_resp_free(&resp);
    return status;
}

long hc_post(int port, const char *source, const char *secret, const char *event, const char *delivery,
             const char *body, const char *traceparent)
{
    char url[160], h[6][320];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/%s", port, source);
    int n = delivery_headers(h, secret, event, delivery, body, traceparent);
    long status = post(url, h, n, body, 10000);
    if (!status) fail_msg("POST %s: no answer within 10 s", url);
    return status;
}

char *hc_run_payload(const run *r, long id)
{
    char path[128];
    snprintf(path, sizeof path, "/repos/extrace-sim/demo/actions/runs/%ld", id);
    json_t *wr = run_get_json(r, path, NULL);
    json_t *payload = json_pack("{s:s, s:O, s:{s:s, s:{s:s}}}", "action", "requested", "workflow_run", wr,
                                "repository", "name", "demo", "owner", "login", "extrace-sim");
    char *body = json_dumps(payload, JSON_COMPACT);
    assert_non_null(body);
    json_decref(payload);
    json_decref(wr);
    return body;
}

static void *async_main(void *arg)
{
    hc_async *a = arg;
    int n = 0;
    while (n < 6 && a->headers[n][0]) n++;
    a->status = post(a->url, a->headers, n, a->body, a->timeout_ms);
    a->done = 1;
    return NULL;
}

void hc_post_async(hc_async *a, int port, const char *source, const char *secret, const char *event,
                   const char *delivery, char *body, long timeout_ms)
{
    memset(a, 0, sizeof *a);
    snprintf(a->url, sizeof a->url, "http://127.0.0.1:%d/hooks/%s", port, source);
    delivery_headers(a->headers, secret, event, delivery, body, NULL);
    a->body = body;
    a->timeout_ms = timeout_ms;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, async_main, a), 0);
    a->thread = (unsigned long)t;
}

long hc_async_wait(hc_async *a)
{
    pthread_join((pthread_t)a->thread, NULL);
    free(a->body);
    a->body = NULL;
    return a->status;
}
