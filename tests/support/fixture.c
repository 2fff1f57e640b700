/* fixture.c — shared pieces of the worker's stream tests (fixture.h). */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <time.h>

#include "support.h"
#include "trace_check.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void worker_spawn(tf_worker *w, char *const args[], const char *path)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = ts_bin();
    argv[n++] = "worker";
    for (size_t i = 0; args[i] && n < 60; i++) argv[n++] = args[i];
    argv[n++] = "--admin-listen";
    argv[n++] = "127.0.0.1:0";
    argv[n] = NULL;
    size_t from = ts_file_size(w->log);
    w->pid = ts_spawn((char *const *)argv, w->log);
    assert_true(w->pid > 0);
    w->admin_port = ts_logged_port(w->log, from, "admin HTTP on ", 15000);
    if (!w->admin_port) fail_msg("worker %s: no admin port logged within 15 s (log %s)", w->consumer, w->log);
    long status = 0;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", w->admin_port, path);
    for (int i = 0; i < 150 && status != 200; i++) {
        char *body = NULL;
        status = tc_http_get(url, &body);
        free(body);
        if (status != 200) sleep_ms(100);
    }
    if (status != 200) fail_msg("worker %s: %s not 200 within 15 s (log %s)", w->consumer, path, w->log);
}

void tf_worker_start(tf_worker *w, char *const args[]) { worker_spawn(w, args, "/readyz"); }

void tf_worker_start_live(tf_worker *w, char *const args[]) { worker_spawn(w, args, "/healthz"); }

void tf_stream_worker_start(tf_worker *w, const char *redis_url, int api_port, int http_port, const char *stream,
                            char *const extra[])
{
    char endpoint[64], api[64];
    char *args[48] = {"--redis", (char *)redis_url, "--api-url", api, "--stream", (char *)stream, "--consumer",
                      (char *)w->consumer, "--claim-idle", "1s", "--initial-delay", "20ms", "--interval", "50ms"};
    size_t n = 14;
    for (size_t i = 0; extra && extra[i] && n < 47; i++) args[n++] = extra[i];
    args[n] = NULL;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", http_port);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", api_port);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    tf_worker_start(w, args);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_BSP_SCHEDULE_DELAY");
}

long tf_worker_readyz(const tf_worker *w)
{
    char url[128], *body;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", w->admin_port);
    long status = tc_http_get(url, &body);
    free(body);
    return status;
}

double tf_metric(const char *text, const char *sample)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s ", sample);
    const char *p = text ? strstr(text, want) : NULL;
    return p ? strtod(p + strlen(want), NULL) : -1;
}

double tf_worker_metric(const tf_worker *w, const char *sample)
{
    char url[128], *body;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", w->admin_port);
    double v = tc_http_get(url, &body) == 200 ? tf_metric(body, sample) : -1;
    free(body);
    return v;
}

redisReply *tf_redis(int port, const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    if (c->err) fail_msg("redis at port %d: %s", port, c->errstr);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    return r;
}

long long tf_redis_pending(int port, const char *stream, const char *group)
{
    redisReply *r = tf_redis(port, "XPENDING %s %s", stream, group);
    long long n = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER)
        n = r->element[0]->integer;
    freeReplyObject(r);
    return n;
}

pid_t tf_redis_start_aof(int *portp, const char *dir)
{
    char log[320];
    snprintf(log, sizeof log, "%s/redis.log", dir);
    char *args[] = {"--dir", (char *)dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", NULL};
    pid_t pid = ts_redis_spawn(portp, args, log);
    if (pid <= 0) fail_msg("redis-server did not start on port %d (log %s)", *portp, log);
    int port = *portp;
    /* listening is not serving: while it loads the AOF it answers LOADING */
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        redisReply *r = tf_redis(port, "PING");
        ready = r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
        freeReplyObject(r);
        if (!ready) sleep_ms(100);
    }
    if (!ready) fail_msg("redis-server on port %d not serving after 10 s (log %s)", port, log);
    return pid;
}

pid_t tf_receiver_start(int *grpc_port, int *http_port, const char *out_path, const char *log_path)
{
    char script[512], gp[16], hp[16];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/node/receiver.js", src ? src : ".");
    snprintf(gp, sizeof gp, "%d", *grpc_port);
    snprintf(hp, sizeof hp, "%d", *http_port);
    char *argv[] = {"node", script, "--grpc-port", gp, "--http-port", hp, "--out", (char *)out_path, NULL};
    size_t from = ts_file_size(log_path);
    pid_t pid = ts_spawn(argv, log_path);
    assert_true(pid > 0);
    *grpc_port = ts_logged_port(log_path, from, "receiver: grpc on ", 15000);
    *http_port = ts_logged_port(log_path, from, ", http on ", 15000);
    if (!*grpc_port || !*http_port) fail_msg("receiver.js did not start (log %s)", log_path);
    return pid;
}
