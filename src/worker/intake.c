#include "worker/intake.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <string.h>

#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/redis_uv.h"

struct wk_intake {
    uv_loop_t *loop;                   /* not owned */
    wk_intake_config cfg;              /* channel points at `channel` */
    char *channel;                     /* owned copy */
    char where[EX_REDIS_ADDR_STR_MAX]; /* "host:port" for messages */
    redisAsyncContext *ac;             /* current connection, or NULL */
    uv_timer_t timer;                  /* retry backoff, or the connect timeout */
    int64_t backoff_ns;                /* next retry delay */
    int subscribed;                    /* SUBSCRIBE confirmed on ac */
    int stopping;                      /* wk_intake_stop called */
    wk_intake_msg_cb on_msg;           /* each message's payload */
    wk_intake_state_cb on_state;       /* subscribed / not */
    void *arg;                         /* argument of both */
};

static void connect_now(wk_intake *in);

static void retry_cb(uv_timer_t *t) { connect_now(t->data); }

static void set_subscribed(wk_intake *in, int on)
{
    if (in->subscribed == on) return;
    in->subscribed = on;
    if (in->on_state) in->on_state(in->arg, on);
}

/* Forget the connection (hiredis frees it) and try again after the backoff. */
static void schedule_retry(wk_intake *in, const char *what, const char *detail)
{
    in->ac = NULL;
    set_subscribed(in, 0);
    if (in->stopping) return;
    char d[EX_DURATION_STR_MAX];
    ex_warn("intake", "%s Redis at %s: %s; retrying in %s", what, in->where, detail,
            ex_duration_format(in->backoff_ns, d));
    uv_timer_start(&in->timer, retry_cb, (uint64_t)(in->backoff_ns / EX_NS_PER_MS), 0);
    in->backoff_ns *= 2;
    if (in->backoff_ns > in->cfg.backoff_max_ns) in->backoff_ns = in->cfg.backoff_max_ns;
}

static void timeout_cb(uv_timer_t *t)
{
    wk_intake *in = t->data;
    redisAsyncContext *ac = in->ac;
    char detail[96], d[EX_DURATION_STR_MAX];
    snprintf(detail, sizeof detail, "no subscription within %s", ex_duration_format(in->cfg.connect_timeout_ns, d));
    in->ac = NULL; /* so the callbacks redisAsyncFree runs ignore this context */
    if (ac) redisAsyncFree(ac);
    schedule_retry(in, "gave up on", detail);
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
    wk_intake *in = ac->data;
    if (ac != in->ac || status == REDIS_OK) return;
    uv_timer_stop(&in->timer);
    /* hiredis frees the context after this callback. */
    schedule_retry(in, "cannot connect to", ac->errstr[0] ? ac->errstr : "connection failed");
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
    wk_intake *in = ac->data;
    if (ac != in->ac) return;
    uv_timer_stop(&in->timer);
    schedule_retry(in, "lost the connection to", ac->errstr[0] ? ac->errstr : "the server closed the connection");
}

/* An error answer to AUTH or SELECT (privdata names it): log it and reconnect. */
static void setup_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    wk_intake *in = ac->data;
    redisReply *reply = r;
    if (ac != in->ac || !reply || reply->type != REDIS_REPLY_ERROR) return;
    ex_error("intake", "Redis at %s rejected %s: %s", in->where, (const char *)privdata, reply->str);
    redisAsyncDisconnect(ac); /* disconnect_cb schedules the retry */
}

static int is_str(const redisReply *r, const char *s)
{
    return r->type == REDIS_REPLY_STRING && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

static void sub_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    wk_intake *in = ac->data;
    redisReply *reply = r;
    if (ac != in->ac || !reply) return; /* NULL: the context is going away */
    if (reply->type == REDIS_REPLY_ERROR) {
        ex_error("intake", "Redis at %s rejected SUBSCRIBE %s: %s", in->where, in->channel, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
    redisReply *kind = reply->element[0], *body = reply->element[2];
    if (is_str(kind, "message") && body->type == REDIS_REPLY_STRING) {
        in->on_msg(in->arg, body->str, body->len);
    } else if (is_str(kind, "subscribe")) {
        uv_timer_stop(&in->timer);
        in->backoff_ns = in->cfg.backoff_min_ns;
        ex_info("intake", "subscribed to %s on Redis at %s", in->channel, in->where);
        set_subscribed(in, 1);
    } else if (is_str(kind, "unsubscribe")) {
        set_subscribed(in, 0);
    }
}

static void connect_now(wk_intake *in)
{
    char why[160];
    redisAsyncContext *ac = ex_redis_uv_connect(in->loop, &in->cfg.addr, in, connect_cb, disconnect_cb, setup_cb, why,
                                                sizeof why);
    if (!ac) {
        schedule_retry(in, "cannot connect to", why);
        return;
    }
    in->ac = ac;
    redisAsyncCommand(ac, sub_cb, NULL, "SUBSCRIBE %s", in->channel);
    uv_timer_start(&in->timer, timeout_cb, (uint64_t)(in->cfg.connect_timeout_ns / EX_NS_PER_MS), 0);
}

wk_intake *wk_intake_new(uv_loop_t *loop, const wk_intake_config *cfg, wk_intake_msg_cb on_msg,
                         wk_intake_state_cb on_state, void *arg)
{
    wk_intake *in = ex_calloc(1, sizeof *in);
    if (!in) return NULL;
    in->channel = ex_strdup(cfg->channel);
    if (!in->channel) {
        ex_free(in);
        return NULL;
    }
    in->loop = loop;
    in->cfg = *cfg;
    in->cfg.channel = in->channel;
    in->backoff_ns = cfg->backoff_min_ns;
    in->on_msg = on_msg;
    in->on_state = on_state;
    in->arg = arg;
    ex_redis_addr_format(&cfg->addr, in->where, sizeof in->where);
    uv_timer_init(loop, &in->timer);
    in->timer.data = in;
    connect_now(in);
    return in;
}

int wk_intake_subscribed(const wk_intake *in) { return in && in->subscribed; }

static void close_cb(uv_handle_t *h)
{
    wk_intake *in = h->data;
    /* Wipe the copied password before the memory goes back. */
    memset(&in->cfg.addr, 0, sizeof in->cfg.addr);
    ex_free(in->channel);
    ex_free(in);
}

void wk_intake_stop(wk_intake *in)
{
    if (!in || in->stopping) return;
    in->stopping = 1;
    redisAsyncContext *ac = in->ac;
    in->ac = NULL;
    in->subscribed = 0;
    if (ac) redisAsyncFree(ac);
    uv_timer_stop(&in->timer);
    uv_close((uv_handle_t *)&in->timer, close_cb);
}
