#include "net/redis_ping.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "core/redis_url.h"

int ex_redis_ping(const char *url, char *why, size_t whylen)
{
    ex_redis_addr a;
    char reason[256], where[EX_REDIS_ADDR_STR_MAX];
    if (ex_redis_url_parse(url, &a, reason, sizeof reason) != 0) {
        snprintf(why, whylen, "%s", reason);
        return -1;
    }
    ex_redis_addr_format(&a, where, sizeof where);
    int64_t ms = a.connect_timeout_ms > 0 ? a.connect_timeout_ms : EX_REDIS_PING_TIMEOUT_MS;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(a.host, a.port, tv);
    if (!c || c->err) {
        snprintf(why, whylen, "cannot connect to %s: %s", where, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    int rc = -1;
    redisReply *r = NULL;
    if (a.password[0]) {
        r = a.user[0] ? redisCommand(c, "AUTH %s %s", a.user, a.password) : redisCommand(c, "AUTH %s", a.password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "%s rejected AUTH: %s", where, r ? r->str : c->errstr);
            goto out;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (a.db) {
        r = redisCommand(c, "SELECT %d", a.db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "%s rejected SELECT %d: %s", where, a.db, r ? r->str : c->errstr);
            goto out;
        }
        freeReplyObject(r);
        r = NULL;
    }
    r = redisCommand(c, "PING");
    if (r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) rc = 0;
    else snprintf(why, whylen, "%s did not answer PING with PONG: %s", where,
                  !r                                                             ? c->errstr
                  : r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS ? r->str
                                                                                  : "unexpected reply");
out:
    if (r) freeReplyObject(r);
    redisFree(c);
    return rc;
}
