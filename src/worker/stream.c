/* stream.c — consumer-group intake over two hiredis async connections. */
#include "worker/stream_int.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/redis_uv.h"

#define HEARTBEAT_BATCH 256 /* entry ids per heartbeat script call */
#define MIN_TICK_MS     50  /* shortest claim / heartbeat period */
#define LINGER_MS       2000 /* wait for the last answers at stop at most this long */
#define WATCH_MS        1000 /* watchdog period */

/* Reset the idle time of id (keep it ours). */
#define LUA_TOUCH "local function touch(id) redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID') end\n"

/* Keeps each id in ARGV[3..] that is still ours so; returns the others
 * as pairs id, owner ('other', 'acked' or 'gone'). */
static const char HEARTBEAT_LUA[] = LUA_MINE LUA_TOUCH
    "local lost = {}\n"
    "for i = 3, #ARGV do\n"
    "  local o = owner(ARGV[i])\n"
    "  if o == 'mine' then touch(ARGV[i]) else lost[#lost + 1] = ARGV[i]; lost[#lost + 1] = o end\n"
    "end\n"
    "return lost\n";

static void conn_start(conn *c);
static void issue_read(wk_stream *s);

/* ---- readiness ---- */

static void update_state(wk_stream *s)
{
    int ready = !s->stopping && s->rd.up && s->cmd.up && s->group_ok;
    if (ready == s->ready) return;
    s->ready = ready;
    if (s->on_state) s->on_state(s->arg, ready);
}

/* ---- one connection ---- */

static void retry_cb(uv_timer_t *t) { conn_start(t->data); }

static void conn_down(conn *c, const char *what, const char *detail)
{
    wk_stream *s = c->s;
    c->ac = NULL;
    c->up = 0;
    c->probe_sent = 0;
    if (c == &s->cmd) {
        s->group_ok = 0;
        s->claiming = 0;
    } else {
        s->reading = 0;
    }
    update_state(s);
    if (s->stopping) return;
    ex_warn("stream", "%s Redis at %s (%s connection): %s; retrying in %lld ms", what, s->where, c->name, detail,
            (long long)(c->backoff_ns / EX_NS_PER_MS));
    uv_timer_start(&c->timer, retry_cb, (uint64_t)(c->backoff_ns / EX_NS_PER_MS), 0);
    c->backoff_ns *= 2;
    if (c->backoff_ns > s->cfg.backoff_max_ns) c->backoff_ns = s->cfg.backoff_max_ns;
}

static void timeout_cb(uv_timer_t *t)
{
    conn *c = t->data;
    redisAsyncContext *ac = c->ac;
    c->ac = NULL; /* so the callbacks redisAsyncFree runs ignore this context */
    if (ac) redisAsyncFree(ac);
    conn_down(c, "gave up on", "not usable within the connect timeout");
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
    conn *c = ac->data;
    if (ac != c->ac || status == REDIS_OK) return;
    uv_timer_stop(&c->timer);
    conn_down(c, "cannot connect to", ac->errstr[0] ? ac->errstr : "connection failed");
}

static void conn_close_cb(uv_handle_t *h);

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
    conn *c = ac->data;
    if (ac != c->ac) return;
    if (c->s->stopping) { /* the end of wk_stream_stop's graceful disconnect */
        c->ac = NULL;
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, conn_close_cb);
        return;
    }
    uv_timer_stop(&c->timer);
    conn_down(c, "lost the connection to", ac->errstr[0] ? ac->errstr : "the server closed the connection");
}

/* An error answer to a setup command: log it and reconnect. */
static void setup_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    redisReply *reply = r;
    if (ac != c->ac || !reply || reply->type != REDIS_REPLY_ERROR) return;
    ex_error("stream", "Redis at %s rejected %s: %s", c->s->where, (const char *)privdata, reply->str);
    redisAsyncDisconnect(ac);
}

static void ping_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    redisReply *reply = r;
    if (ac != c->ac || !reply || reply->type == REDIS_REPLY_ERROR) return; /* setup_cb-like errors disconnect */
    uv_timer_stop(&c->timer);
    c->backoff_ns = c->s->cfg.backoff_min_ns;
    c->up = 1;
    c->s->stats.connects++;
    ex_info("stream", "%s connection to Redis at %s is up", c->name, c->s->where);
    c->on_up(c);
}

static void conn_start(conn *c)
{
    wk_stream *s = c->s;
    char why[160];
    redisAsyncContext *ac = ex_redis_uv_connect(s->loop, &s->cfg.addr, c, connect_cb, disconnect_cb, setup_cb, why,
                                                sizeof why);
    if (!ac) {
        conn_down(c, "cannot connect to", why);
        return;
    }
    c->ac = ac;
    redisAsyncCommand(ac, ping_cb, NULL, "PING");
    uv_timer_start(&c->timer, timeout_cb, (uint64_t)(s->cfg.connect_timeout_ns / EX_NS_PER_MS), 0);
}

/* ---- delivering entries ---- */

/* (stream_int.h) */
void st_deliver(wk_stream *s, const redisReply *e, int resumed)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || e->element[0]->type != REDIS_REPLY_STRING) return;
    const char *id = e->element[0]->str;
    if (st_find(s, id)) return; /* being worked on, or being acknowledged */
    if (!st_track(s, id)) {
        ex_error("stream", "entry %s: out of memory tracking it; left pending for a later claim", id);
        return;
    }
    const char *data = NULL;
    size_t len = 0;
    const redisReply *f = e->elements > 1 ? e->element[1] : NULL;
    for (size_t i = 0; f && f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && k->len == 4 && memcmp(k->str, "data", 4) == 0 &&
            v->type == REDIS_REPLY_STRING) {
            data = v->str;
            len = v->len;
        }
    }
    s->stats.entries_read++;
    if (resumed) s->stats.entries_resumed++;
    s->on_entry(s->arg, id, data, len, resumed);
}

static void read_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    wk_stream *s = ac->data ? ((conn *)ac->data)->s : NULL;
    redisReply *reply = r;
    if (!s || ac != s->rd.ac || !reply || s->stopping) return;
    s->reading = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        ex_error("stream", "XREADGROUP on %s (group %s) failed: %s", s->stream, s->group, reply->str);
        if (strncmp(reply->str, "NOGROUP", 7) == 0 && s->cmd.ac) redisAsyncDisconnect(s->cmd.ac); /* re-create */
        redisAsyncDisconnect(ac);
        return;
    }
    size_t got = 0;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        const redisReply *st = reply->element[0];
        const redisReply *entries = st->type == REDIS_REPLY_ARRAY && st->elements == 2 ? st->element[1] : NULL;
        for (size_t i = 0; entries && entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
            const redisReply *e = entries->element[i];
            if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 && e->element[0]->type == REDIS_REPLY_STRING)
                snprintf(s->cursor, sizeof s->cursor, "%s", e->element[0]->str);
            st_deliver(s, e, s->own_pending);
            got++;
            if (s->stopping) return;
        }
    }
    if (s->own_pending && got == 0) {
        s->own_pending = 0;
        ex_info("stream", "resumed this consumer's pending entries of %s; reading new ones", s->stream);
    }
    issue_read(s);
}

static void issue_read(wk_stream *s)
{
    if (s->stopping || !s->rd.up || !s->group_ok || s->reading) return;
    int rc;
    if (s->own_pending)
        rc = redisAsyncCommand(s->rd.ac, read_cb, NULL, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s %s", s->group,
                               s->consumer, s->cfg.count, s->stream, s->cursor);
    else
        rc = redisAsyncCommand(s->rd.ac, read_cb, NULL, "XREADGROUP GROUP %s %s COUNT %d BLOCK %lld STREAMS %s >",
                               s->group, s->consumer, s->cfg.count, (long long)(s->cfg.block_ns / EX_NS_PER_MS),
                               s->stream);
    if (rc == REDIS_OK) s->reading = 1;
}

/* Read from this consumer's own pending entries first (they were ours
 * before a restart or a lost connection), then new ones. */
static void start_reading(wk_stream *s)
{
    s->own_pending = 1;
    snprintf(s->cursor, sizeof s->cursor, "0");
    issue_read(s);
}

static void rd_up(conn *c)
{
    update_state(c->s);
    start_reading(c->s);
}

/* ---- the command connection ---- */

static void group_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    wk_stream *s = ((conn *)ac->data)->s;
    redisReply *reply = r;
    if (ac != s->cmd.ac || !reply || s->stopping) return;
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
        ex_error("stream", "XGROUP CREATE %s %s failed: %s", s->stream, s->group, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    int created = reply->type != REDIS_REPLY_ERROR, lost = created && s->had_group;
    s->had_group = 1;
    s->group_ok = 1;
    /* Before the state change: the caller re-owns its workflows before it writes anything. */
    if (lost)
        st_data_lost(s, "group missing after the reconnect: Redis restarted without its data, or the stream or "
                        "group was deleted");
    update_state(s);
    st_flush_outbox(s);
    if (s->rd.up && !s->reading) start_reading(s);
}

static void cmd_up(conn *c)
{
    wk_stream *s = c->s;
    /* From 0, not $: entries added before the first worker started are read too. */
    redisAsyncCommand(c->ac, group_cb, NULL, "XGROUP CREATE %s %s 0 MKSTREAM", s->stream, s->group);
}

/* ---- heartbeat and claiming ---- */

static void heartbeat_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    if (!reply) return;
    wk_stream *s = ((conn *)ac->data)->s;
    if (s->stopping) return;
    if (reply->type == REDIS_REPLY_ERROR) {
        ex_error("stream", "heartbeat of held entries failed: %s", reply->str);
        return;
    }
    size_t gone = 0;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2) {
        const redisReply *id = reply->element[i], *who = reply->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || who->type != REDIS_REPLY_STRING) continue;
        tracked *t = st_find(s, id->str);
        if (!t || t->state != T_HELD) continue;
        if (strcmp(who->str, "gone") == 0) { /* Redis lost it: the caller re-owns it */
            gone++;
            continue;
        }
        ex_warn("stream", "entry %s is no longer pending for %s (%s): it is no longer kept here", t->id, s->consumer,
                strcmp(who->str, "other") == 0 ? "claimed by another consumer after this one looked idle"
                                               : "acknowledged by another consumer");
        st_forget(s, t);
    }
    if (gone) {
        char why[96];
        snprintf(why, sizeof why, "%zu held entr%s no longer in the stream", gone, gone == 1 ? "y is" : "ies are");
        st_data_lost(s, why);
    }
}

void st_data_lost(wk_stream *s, const char *why)
{
    int64_t now = ex_mono_ns();
    int again = s->lost_at && now - s->lost_at < s->cfg.claim_idle_ns; /* the same loss, found by another write */
    s->lost_at = now;
    if (!again) s->stats.data_lost++;
    if (!again) ex_warn("stream", "Redis at %s lost entries of %s that consumer %s held (%s): not a claim by another consumer; "
            "putting them back", s->where, s->stream, s->consumer, why);
    if (s->on_lost) s->on_lost(s->arg, why);
}

void wk_stream_on_lost(wk_stream *s, wk_stream_lost_cb cb)
{
    if (s) s->on_lost = cb;
}

/* One EVAL of HEARTBEAT_LUA over up to HEARTBEAT_BATCH held ids. */
static void send_heartbeat(wk_stream *s, const char **ids, size_t n)
{
    const char *keys[1] = {s->stream};
    st_eval(s, heartbeat_cb, NULL, HEARTBEAT_LUA, keys, 1, ids, NULL, n);
}

static void heartbeat(wk_stream *s)
{
    const char *ids[HEARTBEAT_BATCH];
    size_t n = 0;
    tracked *t, *tmp;
    HASH_ITER(hh, s->by_id, t, tmp) {
        if (t->state != T_HELD) continue;
        ids[n++] = t->id;
        if (n == HEARTBEAT_BATCH) {
            send_heartbeat(s, ids, n);
            n = 0;
        }
    }
    if (n) send_heartbeat(s, ids, n);
}

static void send_autoclaim(wk_stream *s);

static void autoclaim_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    if (!reply) return;
    wk_stream *s = ((conn *)ac->data)->s;
    if (s->stopping || ac != s->cmd.ac) return;
    s->claiming = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        ex_error("stream", "XAUTOCLAIM on %s failed (Redis 6.2 or later is needed): %s", s->stream, reply->str);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *entries = reply->element[1];
    const char *first = NULL;
    size_t claimed = 0;
    for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 && e->element[0]->type == REDIS_REPLY_STRING &&
            !st_find(s, e->element[0]->str)) {
            s->stats.entries_claimed++;
            if (!claimed++) first = e->element[0]->str;
            ex_debug("stream", "claimed entry %s (idle for --claim-idle or more)", e->element[0]->str);
        }
        st_deliver(s, e, 1);
        if (s->stopping) return;
    }
    /* One line per answer (at most --count entries), not one per entry: in
     * a long receiver outage the same entries come back every --claim-idle. */
    if (claimed)
        ex_info("stream", "claimed %zu entr%s idle for --claim-idle or more (first %s)", claimed,
                claimed == 1 ? "y" : "ies", first);
    snprintf(s->claim_cursor, sizeof s->claim_cursor, "%s", reply->element[0]->str);
    if (strcmp(s->claim_cursor, "0-0") != 0) send_autoclaim(s); /* the scan goes on */
}

static void send_autoclaim(wk_stream *s)
{
    if (!s->cmd.up || !s->group_ok) return;
    if (redisAsyncCommand(s->cmd.ac, autoclaim_cb, NULL, "XAUTOCLAIM %s %s %s %lld %s COUNT %d", s->stream,
                          s->group, s->consumer, (long long)(s->cfg.claim_idle_ns / EX_NS_PER_MS), s->claim_cursor,
                          s->cfg.count) == REDIS_OK)
        s->claiming = 1;
}

static void tick_cb(uv_timer_t *timer)
{
    wk_stream *s = timer->data;
    if (s->stopping || !s->cmd.up || !s->group_ok) return;
    heartbeat(s); /* first, so our own busy entries never look idle to the claim below */
    if (s->claiming) return;
    snprintf(s->claim_cursor, sizeof s->claim_cursor, "0-0");
    send_autoclaim(s);
}

/* ---- watchdog ---- */

/* A connection can die without hiredis noticing: hiredis 0.14's libuv
 * adapter ignores the error status libuv reports for a socket that got a
 * reset (e.g. a command written just as the server closed), and a silent
 * network partition reports nothing at all. So each connection is PINGed
 * every WATCH_MS; one that has not answered within the longest time an
 * answer can take (the read's BLOCK plus the connect timeout) is dropped
 * and reconnected. */
static void probe_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    if (r && ac == c->ac) c->probe_sent = 0;
}

static void watch_conn(wk_stream *s, conn *c, int64_t now)
{
    int64_t limit = s->cfg.block_ns + s->cfg.connect_timeout_ns;
    if (!c->up || !c->ac) return;
    if (c->probe_sent && now - c->probe_sent > limit) {
        char detail[96];
        redisAsyncContext *ac = c->ac;
        snprintf(detail, sizeof detail, "no answer to PING within %lld ms", (long long)(limit / EX_NS_PER_MS));
        c->ac = NULL; /* the callbacks redisAsyncFree runs see a stale context */
        redisAsyncFree(ac);
        conn_down(c, "gave up on", detail);
        return;
    }
    if (!c->probe_sent && redisAsyncCommand(c->ac, probe_cb, NULL, "PING") == REDIS_OK) c->probe_sent = now;
}

static void watch_cb(uv_timer_t *t)
{
    wk_stream *s = t->data;
    if (s->stopping) return;
    int64_t now = ex_mono_ns();
    watch_conn(s, &s->rd, now);
    watch_conn(s, &s->cmd, now);
}

/* ---- life cycle ---- */

static void conn_init(wk_stream *s, conn *c, const char *name, void (*on_up)(conn *c))
{
    c->s = s;
    c->name = name;
    c->backoff_ns = s->cfg.backoff_min_ns;
    c->on_up = on_up;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
}

wk_stream *wk_stream_new(uv_loop_t *loop, const wk_stream_config *cfg, wk_stream_entry_cb on_entry,
                         wk_stream_state_cb on_state, void *arg)
{
    wk_stream *s = ex_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->stream = ex_strdup(cfg->stream);
    s->group = ex_strdup(cfg->group);
    s->consumer = ex_strdup(cfg->consumer);
    size_t dl = strlen(cfg->stream) + sizeof ":dead";
    s->dead_key = ex_malloc(dl);
    if (!s->stream || !s->group || !s->consumer || !s->dead_key) {
        ex_free(s->stream);
        ex_free(s->group);
        ex_free(s->consumer);
        ex_free(s->dead_key);
        ex_free(s);
        return NULL;
    }
    snprintf(s->dead_key, dl, "%s:dead", cfg->stream);
    s->loop = loop;
    s->cfg = *cfg;
    s->cfg.stream = s->stream;
    s->cfg.group = s->group;
    s->cfg.consumer = s->consumer;
    s->on_entry = on_entry;
    s->on_state = on_state;
    s->arg = arg;
    ex_redis_addr_format(&cfg->addr, s->where, sizeof s->where);
    conn_init(s, &s->rd, "read", rd_up);
    conn_init(s, &s->cmd, "command", cmd_up);
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    uv_timer_init(loop, &s->watch);
    s->watch.data = s;
    uv_timer_start(&s->watch, watch_cb, WATCH_MS, WATCH_MS);
    uint64_t period = (uint64_t)(cfg->claim_idle_ns / 3 / EX_NS_PER_MS);
    uv_timer_start(&s->tick, tick_cb, period < MIN_TICK_MS ? MIN_TICK_MS : period,
                   period < MIN_TICK_MS ? MIN_TICK_MS : period);
    conn_start(&s->cmd);
    conn_start(&s->rd);
    return s;
}

int wk_stream_ready(const wk_stream *s) { return s && s->ready; }

void wk_stream_get_stats(const wk_stream *s, wk_stream_stats *out)
{
    if (s) *out = s->stats;
    else memset(out, 0, sizeof *out);
}

/* Free everything once the last of the four handles is closed. */
static void release_memory(wk_stream *s)
{
    if (--s->closing > 0) return;
    st_forget_all(s);
    memset(&s->cfg.addr, 0, sizeof s->cfg.addr); /* holds the password */
    ex_free(s->stream);
    ex_free(s->group);
    ex_free(s->consumer);
    ex_free(s->dead_key);
    ex_free(s);
}

static void conn_close_cb(uv_handle_t *h) { release_memory(((conn *)h->data)->s); }

static void tick_close_cb(uv_handle_t *h) { release_memory(h->data); }

static void conn_stop(conn *c)
{
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->up = 0;
    /* Callbacks still owed run now with a NULL reply (load requests report found = -1). */
    if (ac) redisAsyncFree(ac);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_close_cb);
}

/* The graceful disconnect took too long: drop the connection. */
static void linger_cb(uv_timer_t *t) { conn_stop(t->data); }

/* Let the acknowledgements already written get their answers, then close
 * (disconnect_cb closes the timer), at most LINGER_MS. */
static void conn_stop_gracefully(conn *c)
{
    if (!c->ac || !c->up) {
        conn_stop(c);
        return;
    }
    c->up = 0;
    uv_timer_stop(&c->timer);
    uv_timer_start(&c->timer, linger_cb, LINGER_MS, 0);
    redisAsyncDisconnect(c->ac);
}

void wk_stream_stop(wk_stream *s)
{
    if (!s || s->stopping) return;
    s->stopping = 1;
    s->ready = 0;
    s->closing = 4;
    conn_stop(&s->rd);
    conn_stop_gracefully(&s->cmd);
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, tick_close_cb);
    uv_timer_stop(&s->watch);
    uv_close((uv_handle_t *)&s->watch, tick_close_cb);
}
