/* publisher.h — sends event JSON to Redis (hiredis, blocking, with
 * connect and command timeouts), pipelined: commands are queued, go out
 * together on the first wait for a reply, and their replies are read in
 * order, so a batch costs one round trip and one write, not one per event.
 *
 * PUBLISH event.workflow.started <json>   (default; the seed's wire)
 * XADD <stream> * data <json>             (with a stream name)
 *
 * Errors are kept on the object (errstr) and name the address, the command
 * and Redis' reply, e.g.
 *   Redis at 127.0.0.1:6379 rejected XADD wf: WRONGTYPE Operation against …
 */
#ifndef EXTRACE_GEN_PUBLISHER_H
#define EXTRACE_GEN_PUBLISHER_H
#include <stddef.h>
#include <stdint.h>

#include "core/redis_url.h"

struct redisContext;

#define GEN_DEFAULT_TIMEOUT_MS 5000

typedef struct gen_publisher {
    struct redisContext *ctx;            /* owned; NULL when closed */
    char where[EX_REDIS_ADDR_STR_MAX];   /* "host:port[/db]" for messages */
    const char *stream;                  /* NULL: PUBLISH; else the stream (caller's string) */
    int64_t command_timeout_ms;          /* applied to every command */
    long long receivers;                 /* PUBLISH: subscribers that got the last event */
    int64_t queued;                      /* commands sent or queued whose reply is not read yet */
    char errstr[768];                    /* the last error, for the user */
} gen_publisher;

/* Connect to addr (its timeouts, else GEN_DEFAULT_TIMEOUT_MS), AUTH and
 * SELECT as it asks, and PING. `stream` (may be NULL) must outlive p.
 * Returns 0, or -1 with p->errstr set; call gen_publisher_close either way. */
int gen_publisher_open(gen_publisher *p, const ex_redis_addr *addr, const char *stream);

/* Queue one event (len bytes of json) behind the others; no I/O. Returns
 * 0, or -1 (out of memory) with p->errstr set. */
int gen_publisher_queue(gen_publisher *p, const char *json, size_t len);

/* Read the reply to the oldest queued event, writing out everything queued
 * first. Returns 0 (accepted; p->receivers set for PUBLISH), 1 (Redis
 * rejected it: p->errstr set, later replies still come) or -1 (no reply:
 * p->errstr set, the connection is unusable and the rest are unknown). */
int gen_publisher_reply(gen_publisher *p);

/* Send one event and wait for its reply: queue + reply. 0, 1 or -1 as
 * gen_publisher_reply (-1 also when queueing failed). */
int gen_publisher_send(gen_publisher *p, const char *json, size_t len);

/* Close the connection; safe on a half-opened or closed publisher. */
void gen_publisher_close(gen_publisher *p);

#endif
