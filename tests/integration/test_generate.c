/* Integration tests of `extrace generate` against a real redis-server:
 * pub/sub and stream delivery, the seed's address form, and the errors a
 * user sees (unreachable Redis, WRONGTYPE, AUTH, bad flags, signals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <sys/time.h>

#include "core/iso8601.h"
#include "core/uuid.h"
#include "support.h"

#define MAX_EVENTS 128

static ts_redis redis;

static int start_redis(void **state) { return ts_redis_start(&redis); }

static int stop_redis(void **state)
{
    ts_redis_stop(&redis);
    return 0;
}

static redisContext *connect_redis(void)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis.port, tv);
    assert_non_null(c);
    if (c->err) fail_msg("test client cannot connect: %s", c->errstr);
    redisSetTimeout(c, tv);
    return c;
}

/* A subscriber to the event channel, subscribed before it returns. */
static redisContext *subscribe(void)
{
    redisContext *c = connect_redis();
    redisReply *r = redisCommand(c, "SUBSCRIBE %s", "event.workflow.started");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->str, "subscribe");
    assert_int_equal(r->element[2]->integer, 1);
    freeReplyObject(r);
    return c;
}

/* Read n published payloads (10 s timeout each) into out (malloc'd). */
static void read_messages(redisContext *c, int n, char **out)
{
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            fail_msg("message %d of %d not received: %s", i + 1, n, c->errstr);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_string_equal(r->element[0]->str, "message");
        assert_string_equal(r->element[1]->str, "event.workflow.started");
        out[i] = strdup(r->element[2]->str);
        freeReplyObject(r);
    }
}

static int64_t iso_ns(const char *s)
{
    int64_t ns;
    const char *why;
    if (ex_iso_parse(s, strlen(s), &ns, &why)) fail_msg("timestamp \"%s\": %s", s, why);
    return ns;
}

static void check_guid(const char *id)
{
    assert_true(ex_uuid_valid(id));
    for (const char *p = id; *p; p++)
        if (*p >= 'A' && *p <= 'F') fail_msg("GUID %s is not lower case", id);
}

/* Check one event's JSON against the contract; copy its WorkflowId out. */
static void check_event(const char *text, char *id_out)
{
    static const char *const keys[] = {"WorkflowId", "SubmittedAt", "MessageType", "CorrelationId", "Timestamp"};
    json_error_t err;
    json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!obj) fail_msg("not JSON (%s): %s", err.text, text);
    assert_true(json_is_object(obj));
    assert_int_equal(json_object_size(obj), 5);
    const char *at = text;
    for (int i = 0; i < 5; i++) {
        char quoted[32];
        snprintf(quoted, sizeof quoted, "\"%s\":", keys[i]);
        const char *p = strstr(text, quoted);
        if (!p || p < at) fail_msg("key %s missing or out of order in %s", keys[i], text);
        at = p;
        assert_true(json_is_string(json_object_get(obj, keys[i])));
    }
    const char *wf = json_string_value(json_object_get(obj, "WorkflowId"));
    check_guid(wf);
    check_guid(json_string_value(json_object_get(obj, "CorrelationId")));
    assert_string_equal(json_string_value(json_object_get(obj, "MessageType")), "event.workflow.started");
    int64_t sub = iso_ns(json_string_value(json_object_get(obj, "SubmittedAt")));
    int64_t ts = iso_ns(json_string_value(json_object_get(obj, "Timestamp")));
    assert_true(sub <= ts);
    strcpy(id_out, wf);
    json_decref(obj);
}

/* Split the ids file into lines; returns how many. */
static int read_ids(const char *path, char ids[][EX_UUID_LEN + 1], int max)
{
    char *text = ts_read_file(path, NULL);
    assert_non_null(text);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        assert_true(n < max);
        assert_int_equal(strlen(line), EX_UUID_LEN);
        strcpy(ids[n++], line);
    }
    free(text);
    return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static void test_publish(void **state)
{
    const char *dir = ts_tmpdir();
    char ids_path[300], log_path[300], count[] = "25";
    snprintf(ids_path, sizeof ids_path, "%s/ids", dir);
    snprintf(log_path, sizeof log_path, "%s/gen.log", dir);
    redisContext *sub = subscribe();
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--count", count, "--batch-size", "10",
                    "--batch-wait", "100ms", "--event-wait", "0s", "--ids-out", ids_path, NULL};
    pid_t pid = ts_spawn(argv, log_path);
    assert_true(pid > 0);
    char *msgs[25];
    read_messages(sub, 25, msgs);
    assert_int_equal(ts_wait(pid, 10000), 0);
    char got[25][EX_UUID_LEN + 1], want[MAX_EVENTS][EX_UUID_LEN + 1];
    for (int i = 0; i < 25; i++) {
        check_event(msgs[i], got[i]);
        free(msgs[i]);
    }
    assert_int_equal(read_ids(ids_path, want, MAX_EVENTS), 25);
    qsort(got, 25, sizeof got[0], cmp_str);
    qsort(want, 25, sizeof want[0], cmp_str);
    for (int i = 0; i < 25; i++) assert_string_equal(got[i], want[i]);
    for (int i = 1; i < 25; i++) assert_string_not_equal(got[i - 1], got[i]);
    char *log = ts_read_file(log_path, NULL);
    assert_non_null(strstr(log, "published 25 events to channel event.workflow.started"));
    assert_non_null(strstr(log, "batch 2/3 sent (20/25 events)"));
    free(log);
    redisFree(sub);
}

static void test_stream(void **state)
{
    const char *dir = ts_tmpdir();
    char ids_path[300];
    snprintf(ids_path, sizeof ids_path, "%s/ids", dir);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--stream", "wf", "--rate", "200",
                    "--count", "100", "--ids-out", ids_path, NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 20000);
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    assert_non_null(strstr(err, "published 100 events to stream wf"));
    char want[MAX_EVENTS][EX_UUID_LEN + 1], id[EX_UUID_LEN + 1];
    assert_int_equal(read_ids(ids_path, want, MAX_EVENTS), 100);
    redisContext *c = connect_redis();
    redisReply *r = redisCommand(c, "XRANGE %s - +", "wf");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 100);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *fields = r->element[i]->element[1];
        assert_int_equal(fields->elements, 2);
        assert_string_equal(fields->element[0]->str, "data");
        check_event(fields->element[1]->str, id);
        assert_string_equal(id, want[i]);
    }
    freeReplyObject(r);
    redisFree(c);
    free(out);
    free(err);
}

static void test_seed_address_form(void **state)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d,abortConnect=false", redis.port);
    redisContext *sub = subscribe();
    char *argv[] = {(char *)ts_bin(), "generate", "--count", "3", "--event-wait", "0s", NULL};
    /* Through the seed's environment variable, as its compose file does. */
    setenv("TracingSample__Redis__ConnectionString", addr, 1);
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 10000);
    unsetenv("TracingSample__Redis__ConnectionString");
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    char *msgs[3], id[EX_UUID_LEN + 1];
    read_messages(sub, 3, msgs);
    for (int i = 0; i < 3; i++) {
        check_event(msgs[i], id);
        free(msgs[i]);
    }
    assert_null(strstr(err, "reached no subscriber"));
    redisFree(sub);
    free(out);
    free(err);
}

static void test_unreachable(void **state)
{
    int port = ts_refused_port();
    char url[64], where[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", url, "--count", "2", NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 10000);
    assert_true(rc != 0 && rc != 2);
    if (!strstr(err, where) || !strstr(err, "cannot connect")) fail_msg("stderr does not name %s: %s", where, err);
    free(out);
    free(err);
}

static void test_wrongtype(void **state)
{
    redisContext *c = connect_redis();
    freeReplyObject(redisCommand(c, "SET %s %s", "k", "a string"));
    redisFree(c);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--stream", "k", "--count", "2", NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 10000);
    assert_int_equal(rc, 1);
    if (!strstr(err, "rejected XADD k: WRONGTYPE")) fail_msg("stderr: %s", err);
    assert_non_null(strstr(err, "published 0 of 2 events"));
    free(out);
    free(err);
}

static void test_auth_and_db(void **state)
{
    redisContext *c = connect_redis();
    freeReplyObject(redisCommand(c, "CONFIG SET %s %s", "requirepass", "pa ss"));
    char bad[96], good[96];
    snprintf(bad, sizeof bad, "redis://:nope@127.0.0.1:%d", redis.port);
    snprintf(good, sizeof good, "127.0.0.1:%d,password=pa ss,defaultDatabase=3", redis.port);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", bad, "--stream", "s3", "--count", "2",
                    "--event-wait", "0s", NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 10000);
    assert_int_equal(rc, 1);
    if (!strstr(err, "rejected AUTH: WRONGPASS")) fail_msg("stderr: %s", err);
    free(out);
    free(err);
    argv[3] = good;
    rc = ts_run(argv, &out, &err, 10000);
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    free(out);
    free(err);
    freeReplyObject(redisCommand(c, "AUTH %s", "pa ss"));
    redisReply *r = redisCommand(c, "XLEN %s", "s3");
    assert_int_equal(r->integer, 0); /* not in db 0 ... */
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "SELECT %s", "3"));
    r = redisCommand(c, "XLEN %s", "s3");
    assert_int_equal(r->integer, 2); /* ... but in db 3 */
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "CONFIG SET %s %s", "requirepass", ""));
    redisFree(c);
}

static void test_bad_flags(void **state)
{
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--count", "ten", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(ts_run(argv, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "--count=\"ten\": not an integer"));
    free(out);
    free(err);
    char *argv2[] = {(char *)ts_bin(), "generate", "--event-wait", "19s-1s", NULL};
    assert_int_equal(ts_run(argv2, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "--event-wait=\"19s-1s\""));
    free(out);
    free(err);
    char *argv3[] = {(char *)ts_bin(), "generate", "--redis", "rediss://h:6380", NULL};
    assert_int_equal(ts_run(argv3, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "TLS is not supported"));
    free(out);
    free(err);
}

/* A counter from Redis' INFO (section `section`, field `name`). */
static long long redis_info(const char *section, const char *name)
{
    redisContext *c = connect_redis();
    redisReply *r = redisCommand(c, "INFO %s", section);
    assert_non_null(r);
    char key[64];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *at = strstr(r->str, key);
    if (!at) fail_msg("INFO %s has no %s", section, name);
    long long v = strtoll(at + strlen(key), NULL, 10);
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* --rate: every event arrives, in the order of --ids-out, and the events
 * go out in pipelined batches: Redis reads them in far fewer reads than
 * events (one per tick at this rate; under load the batches only grow). */
static void test_rate_pipelined(void **state)
{
    enum { N = 20000 };
    const char *dir = ts_tmpdir();
    char ids_path[300], log_path[300], count[16];
    snprintf(ids_path, sizeof ids_path, "%s/ids", dir);
    snprintf(log_path, sizeof log_path, "%s/gen.log", dir);
    snprintf(count, sizeof count, "%d", N);
    redisContext *sub = subscribe();
    long long reads0 = redis_info("stats", "total_reads_processed");
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--rate", "20000", "--count", count,
                    "--ids-out", ids_path, NULL};
    pid_t pid = ts_spawn(argv, log_path);
    assert_true(pid > 0);
    char **msgs = calloc(N, sizeof *msgs);
    assert_non_null(msgs);
    read_messages(sub, N, msgs);
    assert_int_equal(ts_wait(pid, 60000), 0);
    long long reads = redis_info("stats", "total_reads_processed") - reads0;
    char *ids = ts_read_file(ids_path, NULL), *line = ids, id[EX_UUID_LEN + 1];
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        check_event(msgs[i], id);
        if (strncmp(line, id, EX_UUID_LEN) != 0 || line[EX_UUID_LEN] != '\n')
            fail_msg("event %d is %s, --ids-out says %.36s", i, id, line);
        line += EX_UUID_LEN + 1;
        free(msgs[i]);
    }
    assert_int_equal(*line, '\0');
    if (reads >= N / 4) fail_msg("Redis read %lld times for %d events: not pipelined", reads, N);
    char *log = ts_read_file(log_path, NULL);
    if (!strstr(log, "published 20000 events to channel event.workflow.started")) fail_msg("log: %s", log);
    free(log);
    free(ids);
    free(msgs);
    redisFree(sub);
}

/* --rate against a key of the wrong type: the whole batch is refused, the
 * error is printed once and nothing counts as published. */
static void test_wrongtype_pipelined(void **state)
{
    redisContext *c = connect_redis();
    freeReplyObject(redisCommand(c, "SET %s %s", "k2", "a string"));
    redisFree(c);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--stream", "k2", "--rate", "100000",
                    "--count", "50", NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 10000);
    assert_int_equal(rc, 1);
    const char *first = strstr(err, "rejected XADD k2: WRONGTYPE");
    if (!first) fail_msg("stderr: %s", err);
    if (strstr(first + 1, "rejected XADD")) fail_msg("the error is printed more than once: %s", err);
    assert_non_null(strstr(err, "stopped by an error: published 0 of 50 events"));
    free(out);
    free(err);
}

/* A signal during a long wait stops the run at once with 128 + signal. */
static void stop_with(int sig, int want_status, const char *want_text)
{
    const char *dir = ts_tmpdir();
    char log_path[300];
    snprintf(log_path, sizeof log_path, "%s/gen.log", dir);
    redisContext *sub = subscribe();
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--count", "5", "--event-wait", "1m",
                    NULL};
    pid_t pid = ts_spawn(argv, log_path);
    char *msg;
    read_messages(sub, 1, &msg); /* the first event is out: now it waits a minute */
    free(msg);
    assert_int_equal(ts_stop(pid, sig, 3000), want_status);
    char *log = ts_read_file(log_path, NULL);
    if (!strstr(log, want_text)) fail_msg("log lacks \"%s\": %s", want_text, log);
    free(log);
    redisFree(sub);
}

static void test_sigint(void **state)
{
    stop_with(SIGINT, 130, "interrupted by SIGINT: published 1 of 5 events");
}

static void test_sigterm(void **state)
{
    stop_with(SIGTERM, 143, "interrupted by SIGTERM: published 1 of 5 events");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_seed_address_form),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_wrongtype),
        cmocka_unit_test(test_rate_pipelined),
        cmocka_unit_test(test_wrongtype_pipelined),
        cmocka_unit_test(test_auth_and_db),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_sigint),
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
