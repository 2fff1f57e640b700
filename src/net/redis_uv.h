/* redis_uv.h — runs a hiredis async connection on a libuv loop.
 *
 * Our own event adapter (hiredis' documented ev.* hooks) instead of the
 * one hiredis 0.14 ships in <hiredis/adapters/libuv.h>. That one returns
 * early when libuv reports an error on the socket, and libuv reports
 * POLLERR as an error and stops the poll handle: a refused connect or a
 * connection reset then goes unnoticed until some timeout fires (hiredis
 * 1.0 fixed it the same way as here). On an error we run hiredis' read
 * or write handler anyway, so its own read(2), write(2) or SO_ERROR
 * check finds the failure and the connect or disconnect callback runs at
 * once. See docs/worker.md. */
#ifndef EXTRACE_NET_REDIS_UV_H
#define EXTRACE_NET_REDIS_UV_H
#include <hiredis/async.h>
#include <stddef.h>
#include <uv.h>

#include "core/redis_url.h"

/* Attach ac to loop, and turn on TCP keepalive on its socket (probes
 * after 15 s idle, every 5 s, 3 of them: a peer that vanished without a
 * reset, e.g. behind a dead network path, is an error within about 30 s
 * even on an idle subscriber connection). REDIS_OK, or REDIS_ERR when ac
 * has an event library already or memory ran out (ac is untouched then:
 * free it). */
int ex_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

/* Start an async connection to a->host:a->port on loop (attached as
 * above) with ac->data = data and both callbacks set, and queue AUTH (when
 * a has a password) and SELECT (when a->db is not 0) ahead of anything
 * the caller sends: their answers go to on_setup with privdata "AUTH" or
 * "SELECT". NULL with why set (hiredis' message, or out of memory). */
redisAsyncContext *ex_redis_uv_connect(uv_loop_t *loop, const ex_redis_addr *a, void *data,
                                       redisConnectCallback *on_connect, redisDisconnectCallback *on_disconnect,
                                       redisCallbackFn *on_setup, char *why, size_t whylen);

#endif
