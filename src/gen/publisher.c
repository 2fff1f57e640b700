#include "gen/publisher.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "gen/event.h"

static struct timeval to_timeval(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    return tv;
}

/* Check a reply to `what`: 0 if it is of type `want`, else -1 with errstr
 * naming the command and Redis' answer. Frees nothing. */
static int check_reply(gen_publisher *p, const redisReply *r, const char *what, int want)
{
    if (!r) {
        snprintf(p->errstr, sizeof p->errstr, "%s to Redis at %s failed (command timeout %lld ms): %s", what,
                 p->where, (long long)p->command_timeout_ms, p->ctx->errstr[0] ? p->ctx->errstr : "no reply");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(p->errstr, sizeof p->errstr, "Redis at %s rejected %s: %s", p->where, what, r->str);
        return -1;
    }
    if (r->type != want) {
        snprintf(p->errstr, sizeof p->errstr, "Redis at %s answered %s with an unexpected reply (type %d)",
                 p->where, what, r->type);
        return -1;
    }
    return 0;
}

/* Check the reply r of a command, then free it. 0 or -1 as check_reply. */
static int expect(gen_publisher *p, redisReply *r, const char *what, int want)
{
    int rc = check_reply(p, r, what, want);
    if (r) freeReplyObject(r);
    return rc;
}

static int login(gen_publisher *p, const ex_redis_addr *addr)
{
    if (addr->password[0]) {
        redisReply *r = addr->user[0] ? redisCommand(p->ctx, "AUTH %s %s", addr->user, addr->password)
                                       : redisCommand(p->ctx, "AUTH %s", addr->password);
        if (expect(p, r, "AUTH", REDIS_REPLY_STATUS)) return -1;
    }
    if (addr->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", addr->db);
        if (expect(p, redisCommand(p->ctx, "SELECT %s", db), "SELECT", REDIS_REPLY_STATUS)) return -1;
    }
    return expect(p, redisCommand(p->ctx, "PING"), "PING", REDIS_REPLY_STATUS);
}

int gen_publisher_open(gen_publisher *p, const ex_redis_addr *addr, const char *stream)
{
    int64_t connect_ms = addr->connect_timeout_ms > 0 ? addr->connect_timeout_ms : GEN_DEFAULT_TIMEOUT_MS;
    memset(p, 0, sizeof *p);
    ex_redis_addr_format(addr, p->where, sizeof p->where);
    p->stream = stream;
    p->command_timeout_ms = addr->command_timeout_ms > 0 ? addr->command_timeout_ms : GEN_DEFAULT_TIMEOUT_MS;
    p->ctx = redisConnectWithTimeout(addr->host, addr->port, to_timeval(connect_ms));
    if (!p->ctx || p->ctx->err) {
        snprintf(p->errstr, sizeof p->errstr, "cannot connect to Redis at %s: %s", p->where,
                 p->ctx ? p->ctx->errstr : "out of memory");
        return -1;
    }
    if (redisSetTimeout(p->ctx, to_timeval(p->command_timeout_ms)) != REDIS_OK) {
        snprintf(p->errstr, sizeof p->errstr, "cannot set the command timeout on Redis at %s: %s", p->where,
                 p->ctx->errstr);
        return -1;
    }
    return login(p, addr);
}

int gen_publisher_queue(gen_publisher *p, const char *json, size_t len)
{
    int rc = p->stream ? redisAppendCommand(p->ctx, "XADD %s * data %b", p->stream, json, len)
                       : redisAppendCommand(p->ctx, "PUBLISH %s %b", GEN_EVENT_TYPE, json, len);
    if (rc != REDIS_OK) {
        snprintf(p->errstr, sizeof p->errstr, "cannot queue a command for Redis at %s: %s", p->where,
                 p->ctx->errstr[0] ? p->ctx->errstr : "out of memory");
        return -1;
    }
    p->queued++;
    return 0;
}

int gen_publisher_reply(gen_publisher *p)
{
    char what[208]; /* "XADD " and at most 200 bytes of the name */
    redisReply *r = NULL;
    if (p->stream) snprintf(what, sizeof what, "XADD %.200s", p->stream);
    else snprintf(what, sizeof what, "PUBLISH");
    if (redisGetReply(p->ctx, (void **)&r) != REDIS_OK) r = NULL;
    if (!r) {
        check_reply(p, NULL, what, 0);
        return -1;
    }
    p->queued--;
    int rc = check_reply(p, r, what, p->stream ? REDIS_REPLY_STRING : REDIS_REPLY_INTEGER);
    if (rc == 0 && !p->stream) p->receivers = r->integer;
    freeReplyObject(r);
    return rc ? 1 : 0;
}

int gen_publisher_send(gen_publisher *p, const char *json, size_t len)
{
    return gen_publisher_queue(p, json, len) ? -1 : gen_publisher_reply(p);
}

void gen_publisher_close(gen_publisher *p)
{
    if (p->ctx) redisFree(p->ctx);
    p->ctx = NULL;
}
