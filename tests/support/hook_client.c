/* hook_client.c — webhook deliveries made by a test (hook_client.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hook_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
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

long hc_post(int port, const char *source, const char *secret, const char *event, const char *delivery,
             const char *body, const char *traceparent)
{
    char url[160], sig[160], h_sig[200], h_event[120], h_delivery[200], h_tp[300];
    const char *headers[6];
    int n = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/%s", port, source);
    headers[n++] = "Content-Type: application/json";
    if (secret) {
        assert_int_equal(sr_sig_sign(SR_SIG_HMAC_SHA256, "sha256=", secret, strlen(secret), body, strlen(body), sig,
                                     sizeof sig), 0);
        snprintf(h_sig, sizeof h_sig, "X-Hub-Signature-256: %s", sig);
        headers[n++] = h_sig;
    }
    snprintf(h_event, sizeof h_event, "X-GitHub-Event: %s", event);
    headers[n++] = h_event;
    if (delivery) {
        snprintf(h_delivery, sizeof h_delivery, "X-GitHub-Delivery: %s", delivery);
        headers[n++] = h_delivery;
    }
    if (traceparent) {
        snprintf(h_tp, sizeof h_tp, "traceparent: %s", traceparent);
        headers[n++] = h_tp;
    }
    headers[n] = NULL;
    th_req req = {headers, body, strlen(body), 10000, 0};
    th_resp resp;
    CURL *c = curl_easy_init();
    th_request(c, "POST", url, &req, &resp);
    curl_easy_cleanup(c);
    long status = resp.status;
    th_resp_free(&resp);
    return status;
}
