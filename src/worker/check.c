#include "worker/check.h"

#include <curl/curl.h>
#include <string.h>
#include <uv.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/secret.h"
#include "net/redis_ping.h"
#include "otel/exporter.h"
#include "worker/poller.h"
#include "worker/snapshot.h"

#define WHY_MAX 1024

/* One verdict line, credentials in it masked (URLs may carry them). */
static void verdict(FILE *out, const char *what, const char *word, const char *detail)
{
    char masked[4096];
    ex_secret_mask(detail, masked, sizeof masked);
    fprintf(out, "%-6s %-4s %s\n", what, word, masked);
}

static int check_redis(const wk_check_opts *o, FILE *out)
{
    char why[WHY_MAX], line[WHY_MAX + 64];
    int ok = ex_redis_ping(o->redis_url, why, sizeof why) == 0;
    if (ok) snprintf(line, sizeof line, "Redis at %s answers PING", o->redis_url);
    else snprintf(line, sizeof line, "--redis %s: %s (is redis-server running?)", o->redis_url, why);
    verdict(out, "redis", ok ? "ok" : "FAIL", line);
    return ok;
}

/* The response body of the API check. */
typedef struct body {
    char *data;
    size_t len;
    int too_large;
} body;

static size_t body_cb(char *data, size_t size, size_t n, void *arg)
{
    body *b = arg;
    size_t len = size * n;
    if (b->len + len > WM_BODY_MAX) {
        b->too_large = 1;
        return 0;
    }
    char *d = ex_realloc(b->data, b->len + len + 1);
    if (!d) return 0;
    memcpy(d + b->len, data, len);
    b->data = d;
    b->len += len;
    d[b->len] = '\0';
    return len;
}

static int check_api(const wk_check_opts *o, FILE *out)
{
    char url[2048], err[CURL_ERROR_SIZE] = "", line[WHY_MAX + 2300];
    size_t base = strlen(o->api_url);
    while (base > 0 && o->api_url[base - 1] == '/') base--;
    snprintf(url, sizeof url, "%.*s%s%s", (int)base, o->api_url, o->workflow ? "/workflows/" : "/healthz",
             o->workflow ? o->workflow : "");
    body b = {0};
    long status = 0, ms = (long)(o->timeout_ns / EX_NS_PER_MS);
    CURL *c = curl_easy_init();
    CURLcode code = CURLE_OUT_OF_MEMORY;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "extrace-worker/" EXTRACE_VERSION " (--check)");
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        code = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
    }
    int ok = 0;
    if (o->workflow) { /* judged exactly as a poll would be */
        wm_snapshot snap;
        mdl_snapshot tree;
        wk_poll_result r;
        mdl_snapshot_init(&tree);
        wk_poll_classify(code, err, status, b.data ? b.data : "", b.len, b.too_large, WM_BODY_MAX, o->workflow,
                         o->parse_flags, &snap, &tree, &r);
        ex_free(tree.nodes);
        ok = r.outcome == WK_POLL_OK;
        if (ok) snprintf(line, sizeof line, "GET %s answers the workflow (status %s)", url, wm_status_name(snap.status));
        else if (r.outcome == WK_POLL_NOT_FOUND) snprintf(line, sizeof line, "GET %s: the API does not know it: %s", url, r.why);
        else snprintf(line, sizeof line, "GET %s failed (%s): %s", url, wk_poll_error_name(r.kind), r.why);
    } else if (code != CURLE_OK) {
        snprintf(line, sizeof line, "GET %s: %s (is --api-url right, and the API running?)", url,
                 err[0] ? err : curl_easy_strerror(code));
    } else if (status >= 200 && status < 300) {
        ok = 1;
        snprintf(line, sizeof line, "GET %s answers HTTP %ld", url, status);
    } else {
        snprintf(line, sizeof line, "GET %s answers HTTP %ld%s", url, status,
                 status == 404 ? " (an API without /healthz: give --check-workflow ID to poll a workflow instead)" : "");
    }
    ex_free(b.data);
    verdict(out, "api", ok ? "ok" : "FAIL", line);
    return ok;
}

/* The empty export's progress, on the check's own loop. */
typedef struct otlp_try {
    int done, closed;
    exo_export_result result;
} otlp_try;

static void sent_cb(void *arg, const exo_export_result *r)
{
    otlp_try *t = arg;
    t->result = *r;
    t->done = 1;
}

static void closed_cb(void *arg) { ((otlp_try *)arg)->closed = 1; }

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Send an empty export through the configured exporter; 1 with line set if
 * the backend accepted it. */
static int try_export(const wk_check_opts *o, const exo_exporter *x, char *line, size_t len)
{
    uv_loop_t loop;
    void *state = NULL;
    char err[512] = "";
    otlp_try t = {0};
    exo_payload p = {0};
    int ok = 0;
    if (uv_loop_init(&loop) != 0) {
        snprintf(line, len, "cannot create an event loop");
        return 0;
    }
    exo_exporter_env env = {&loop, o->export, o->resource, "extrace-check", EXTRACE_VERSION};
    if (x->init(&env, &state, err, sizeof err) != 0) {
        snprintf(line, len, "%s %s: %s", x->name, o->export->url, err);
        goto out;
    }
    if (x->encode(state, NULL, 0, &p, err, sizeof err) != 0 ||
        x->send(state, &p, o->timeout_ns, sent_cb, &t, err, sizeof err) != 0) {
        snprintf(line, len, "%s %s: %s", x->name, o->export->url, err);
    } else {
        while (!t.done && uv_run(&loop, UV_RUN_ONCE)) {}
        ok = t.done && t.result.verdict == EXO_RETRY_OK;
        if (ok) snprintf(line, len, "%s %s (from %s) accepts an empty export", x->name, o->export->url,
                         o->export->endpoint_from);
        else snprintf(line, len, "%s %s (from %s): %s (is the OTLP backend running, and the endpoint and protocol "
                      "right?)", x->name, o->export->url, o->export->endpoint_from,
                      t.done ? t.result.reason : "no answer");
    }
out:
    if (state) {
        x->shutdown(state, closed_cb, &t);
        while (!t.closed && uv_run(&loop, UV_RUN_ONCE)) {}
    }
    ex_free(p.data);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return ok;
}

static int check_otlp(const wk_check_opts *o, FILE *out)
{
    char line[1500];
    if (!exo_export_config_has(o->export, EXO_EXPORTER_OTLP)) {
        verdict(out, "otlp", "skip", "OTEL_TRACES_EXPORTER does not name otlp: nothing to reach");
        return 1;
    }
    const exo_exporter *x =
        o->export->protocol == EXO_PROTOCOL_GRPC ? &exo_exporter_otlp_grpc : &exo_exporter_otlp_http;
    int ok = try_export(o, x, line, sizeof line);
    verdict(out, "otlp", ok ? "ok" : "FAIL", line);
    return ok;
}

int wk_check_run(const wk_check_opts *o, FILE *out)
{
    int failed = 0;
    failed += !check_redis(o, out);
    failed += !check_api(o, out);
    failed += !check_otlp(o, out);
    if (failed) fprintf(out, "%d of 3 checks failed: the worker would not work as configured\n", failed);
    else fprintf(out, "all checks passed: the worker can run as configured\n");
    fflush(out);
    return failed ? 1 : 0;
}
