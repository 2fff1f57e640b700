/* test_redis_uv.c — the hiredis-on-libuv adapter notices failures at once:
 * a refused connect and a connection reset reach hiredis' callbacks
 * without any timer (the adapter hiredis 0.14 ships ignores both), and a
 * real redis-server answers commands through it, on a socket with TCP
 * keepalive on; ex_redis_uv_connect logs in and selects the database
 * before anything else, and reports a refused AUTH. Each case runs the loop until its callback; a 10 s guard
 * timer fails the case if it never comes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "net/redis_uv.h"
#include "support.h"

#define GUARD_MS 10000

typedef struct result {
    int connected;     /* connect callback: 1 ok, -1 failed, 0 not yet */
    int disconnected;  /* disconnect callback: 1 clean, -1 with an error, 0 not yet */
    int replies;       /* PONGs received */
    int guard_fired;   /* the guard timer ran out */
    char err[128];     /* hiredis' errstr at the failure */
    int keepalive_idle; /* seconds before the first keepalive probe; 0 when off */
} result;

static uv_loop_t loop;
static uv_timer_t guard;

static void guard_cb(uv_timer_t *t)
{
    ((result *)t->data)->guard_fired = 1;
    uv_stop(&loop);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    result *r = ac->data;
    r->connected = status == REDIS_OK ? 1 : -1;
    if (status != REDIS_OK) {
        snprintf(r->err, sizeof r->err, "%s", ac->errstr);
        uv_stop(&loop);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    result *r = ac->data;
    r->disconnected = status == REDIS_OK ? 1 : -1;
    if (status != REDIS_OK) snprintf(r->err, sizeof r->err, "%s", ac->errstr);
    uv_stop(&loop);
}

static void on_pong(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply *rep = reply;
    result *r = ac->data;
    if (rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0) r->replies++;
    if (r->replies == 2) redisAsyncDisconnect(ac);
}

/* A fresh loop with the guard timer running. */
static void loop_begin(result *r)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &guard);
    guard.data = r;
    uv_timer_start(&guard, guard_cb, GUARD_MS, 0);
}

/* Run the loop until a callback stops it or the guard runs out, then
 * close everything: the adapter's handle must be closed too. */
static void loop_end(redisAsyncContext *ac, result *r)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&guard, NULL);
    if (r->guard_fired) redisAsyncFree(ac); /* hiredis never let go of it */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Connect to port through the adapter, queue two PINGs and run. */
static void run(int port, result *r)
{
    loop_begin(r);
    redisAsyncContext *ac = redisAsyncConnect("127.0.0.1", port);
    assert_non_null(ac);
    assert_int_equal(ac->err, 0);
    ac->data = r;
    assert_int_equal(ex_redis_uv_attach(ac, &loop), REDIS_OK);
    assert_int_equal(ex_redis_uv_attach(ac, &loop), REDIS_ERR); /* attached once only */
    int on = 0, idle = 0;
    socklen_t sl = sizeof on;
    assert_int_equal(getsockopt(ac->c.fd, SOL_SOCKET, SO_KEEPALIVE, &on, &sl), 0);
    assert_int_equal(getsockopt(ac->c.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &sl), 0);
    r->keepalive_idle = on ? idle : 0;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncCommand(ac, on_pong, NULL, "PING");
    redisAsyncCommand(ac, on_pong, NULL, "PING");
    loop_end(ac, r);
}

static void test_refused_connect_is_reported(void **state)
{
    result r;
    run(ts_refused_port(), &r); /* nothing listens there */
    assert_false(r.guard_fired);
    assert_int_equal(r.connected, -1);
    assert_non_null(strstr(r.err, "refused"));
    assert_int_equal(r.replies, 0);
}

/* A listener that accepts and resets the connection (SO_LINGER 0). */
static void test_reset_is_reported(void **state)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 1), 0);
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    /* The kernel completes the handshake before accept: the connect succeeds,
     * then the reset arrives while hiredis waits for the PONGs. */
    result r;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int c = accept(ls, NULL, NULL);
        char buf[64];
        (void)!read(c, buf, sizeof buf); /* the first PING */
        struct linger lg = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c);
        _exit(0);
    }
    close(ls);
    run(ntohs(sa.sin_port), &r);
    assert_false(r.guard_fired);
    assert_int_equal(r.connected, 1);
    assert_int_equal(r.disconnected, -1);
    assert_non_null(strstr(r.err, "reset"));
    assert_int_equal(r.replies, 0);
    assert_int_equal(ts_wait(pid, 5000), 0);
}

static void test_real_redis_answers(void **state)
{
    ts_redis redis;
    assert_int_equal(ts_redis_start(&redis), 0);
    result r;
    run(redis.port, &r);
    ts_redis_stop(&redis);
    assert_false(r.guard_fired);
    assert_int_equal(r.connected, 1);
    assert_int_equal(r.replies, 2);
    assert_int_equal(r.disconnected, 1); /* our redisAsyncDisconnect */
    assert_int_equal(r.keepalive_idle, 15); /* a silent peer is noticed too */
}

/* ---- ex_redis_uv_connect: AUTH and SELECT go first ---- */

static char setup_error[160]; /* "<command>: <error>" of the first refused setup command */

static void on_setup(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply *rep = reply;
    if (!rep || rep->type != REDIS_REPLY_ERROR || setup_error[0]) return; /* the first one: the cause */
    snprintf(setup_error, sizeof setup_error, "%s: %s", (const char *)privdata, rep->str);
    redisAsyncDisconnect(ac);
}

static void on_set(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply *rep = reply;
    result *r = ac->data;
    if (!rep) return; /* dropped by the disconnect after a refused AUTH */
    if (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0) r->replies++;
    redisAsyncDisconnect(ac);
}

/* Connect with ex_redis_uv_connect, SET probe-key, and run. */
static void run_login(const ex_redis_addr *a, result *r)
{
    char why[160];
    loop_begin(r);
    setup_error[0] = '\0';
    redisAsyncContext *ac = ex_redis_uv_connect(&loop, a, r, on_connect, on_disconnect, on_setup, why, sizeof why);
    if (!ac) fail_msg("ex_redis_uv_connect: %s", why);
    redisAsyncCommand(ac, on_set, NULL, "SET probe-key here");
    loop_end(ac, r);
}

/* GET probe-key in database db of the server on port (password pw). */
static char *get_probe(int port, const char *pw, int db)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_true(c && !c->err);
    freeReplyObject(redisCommand(c, "AUTH %s", pw));
    freeReplyObject(redisCommand(c, "SELECT %d", db));
    redisReply *rep = redisCommand(c, "GET probe-key");
    char *v = rep && rep->type == REDIS_REPLY_STRING ? strdup(rep->str) : NULL;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

static void test_connect_logs_in_and_selects(void **state)
{
    int port = 0;
    char log[300];
    const char *dir = ts_tmpdir();
    snprintf(log, sizeof log, "%s/redis.log", dir);
    char *args[] = {"--requirepass", "s3cret", "--save", "", "--dir", (char *)dir, NULL};
    pid_t pid = ts_redis_spawn(&port, args, log);
    assert_true(pid > 0);
    ex_redis_addr a = {.port = port, .db = 3};
    snprintf(a.host, sizeof a.host, "127.0.0.1");
    snprintf(a.password, sizeof a.password, "s3cret");
    result r;
    run_login(&a, &r);
    assert_false(r.guard_fired);
    assert_string_equal(setup_error, "");
    assert_int_equal(r.replies, 1);
    char *in3 = get_probe(port, "s3cret", 3), *in0 = get_probe(port, "s3cret", 0);
    assert_non_null(in3);
    assert_string_equal(in3, "here"); /* SELECT 3 went first */
    assert_null(in0);
    free(in3);
    snprintf(a.password, sizeof a.password, "wrong");
    run_login(&a, &r);
    assert_false(r.guard_fired);
    assert_int_equal(r.replies, 0);
    if (strncmp(setup_error, "AUTH: ", 6) != 0) fail_msg("refused AUTH not reported: \"%s\"", setup_error);
    assert_int_equal(ts_stop(pid, SIGTERM, 5000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_connect_is_reported),
        cmocka_unit_test(test_reset_is_reported),
        cmocka_unit_test(test_real_redis_answers),
        cmocka_unit_test(test_connect_logs_in_and_selects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
