/* publisher.h — sends event JSON to Redis (hiredis, blocking, with
 * connect and command timeouts).
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
    char errstr[512];                    /* the last error, for the user */
} gen_publisher;

/* Connect to addr (its timeouts, else GEN_DEFAULT_TIMEOUT_MS), AUTH and
 * SELECT as it asks, and PING. `stream` (may be NULL) must outlive p.
 * Returns 0, or -1 with p->errstr set; call gen_publisher_close either way. */
int gen_publisher_open(gen_publisher *p, const ex_redis_addr *addr, const char *stream);

/* Send one event (len bytes of json). Returns 0, or -1 with p->errstr set
 * (the connection is then unusable). */
int gen_publisher_send(gen_publisher *p, const char *json, size_t len);

/* Close the connection; safe on a half-opened or closed publisher. */
void gen_publisher_close(gen_publisher *p);

#endif
