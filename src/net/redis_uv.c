/* redis_uv.c — hiredis async events on libuv (see redis_uv.h). */
#include "net/redis_uv.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"

/* One connection's poll handle; freed once libuv has closed it. */
typedef struct ev {
    redisAsyncContext *ac; /* NULL once hiredis has let go */
    uv_poll_t poll;        /* on the connection's socket */
    int events;            /* UV_READABLE | UV_WRITABLE wanted */
} ev;

static void on_poll(uv_poll_t *handle, int status, int events)
{
    ev *e = handle->data;
    /* An error (libuv has stopped the handle): let hiredis look for itself. */
    int ready = status < 0 ? e->events : events;
    if (e->ac && (ready & UV_READABLE)) redisAsyncHandleRead(e->ac);
    if (e->ac && (ready & UV_WRITABLE)) redisAsyncHandleWrite(e->ac);
}

/* Poll for e->events, or stop when there are none. */
static void repoll(ev *e)
{
    if (e->events) uv_poll_start(&e->poll, e->events, on_poll);
    else uv_poll_stop(&e->poll);
}

static void add_read(void *p)
{
    ev *e = p;
    e->events |= UV_READABLE;
    repoll(e);
}

static void del_read(void *p)
{
    ev *e = p;
    e->events &= ~UV_READABLE;
    repoll(e);
}

static void add_write(void *p)
{
    ev *e = p;
    e->events |= UV_WRITABLE;
    repoll(e);
}

static void del_write(void *p)
{
    ev *e = p;
    e->events &= ~UV_WRITABLE;
    repoll(e);
}

static void closed(uv_handle_t *h) { ex_free(h->data); }

/* hiredis is freeing the context: the handle goes, the socket is hiredis'. */
static void cleanup(void *p)
{
    ev *e = p;
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, closed);
}

int ex_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data) return REDIS_ERR;
    redisEnableKeepAlive(&ac->c); /* best effort: a socket without it still works */
    ev *e = ex_calloc(1, sizeof *e);
    if (!e) return REDIS_ERR;
    if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
        ex_free(e);
        return REDIS_ERR;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return REDIS_OK;
}

redisAsyncContext *ex_redis_uv_connect(uv_loop_t *loop, const ex_redis_addr *a, void *data,
                                       redisConnectCallback *on_connect, redisDisconnectCallback *on_disconnect,
                                       redisCallbackFn *on_setup, char *why, size_t whylen)
{
    redisAsyncContext *ac = redisAsyncConnect(a->host, a->port);
    if (!ac || ac->err || ex_redis_uv_attach(ac, loop) != REDIS_OK) {
        snprintf(why, whylen, "%s", ac && ac->err ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return NULL;
    }
    ac->data = data;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Queued now, written once connected; answers come in this order. */
    if (a->password[0] && a->user[0])
        redisAsyncCommand(ac, on_setup, "AUTH", "AUTH %s %s", a->user, a->password);
    else if (a->password[0])
        redisAsyncCommand(ac, on_setup, "AUTH", "AUTH %s", a->password);
    if (a->db) redisAsyncCommand(ac, on_setup, "SELECT", "SELECT %d", a->db);
    return ac;
}
