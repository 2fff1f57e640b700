/* stream_write.c — what the stream intake writes for its caller:
 * acknowledgements (waiting in an outbox while the command connection is
 * down), dead letters and checkpoints, each only while the entries are
 * still this consumer's (stream.h). */
#include "worker/stream_int.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "worker/checkpoint.h"

/* SET KEYS[2] ARGV[3] PX ARGV[4] if every id in ARGV[5..] is ours: 1,
 * else nothing written and -1 when one is gone from the stream, 0 when
 * one is another consumer's. (Keeping them ours is the heartbeat's job.) */
static const char CKPT_SAVE_LUA[] = LUA_MINE
    "for i = 5, #ARGV do\n"
    "  local o = owner(ARGV[i])\n"
    "  if o == 'gone' then return -1 elseif o ~= 'mine' then return 0 end\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])\n"
    "return 1\n";

/* XACK ARGV[3] and DEL KEYS[2] (if given) when ARGV[3] is ours: 1, else
 * 0 (another consumer's) or -1 (gone from the stream). */
#define LUA_OURS_OR_RETURN                                                    \
    "local o = owner(ARGV[3])\n"                                              \
    "if o == 'gone' then return -1 elseif o ~= 'mine' then return 0 end\n"
static const char ACK_LUA[] = LUA_MINE LUA_OURS_OR_RETURN
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])\n"
    "if KEYS[2] then redis.call('DEL', KEYS[2]) end\n"
    "return 1\n";

/* When ARGV[3] is ours: XADD KEYS[2] with its data ARGV[4] and reason
 * ARGV[5], and XACK it: 1, else 0. */
static const char DEAD_LUA[] = LUA_MINE LUA_OURS_OR_RETURN
    "redis.call('XADD', KEYS[2], '*', 'data', ARGV[4], 'reason', ARGV[5], 'source-id', ARGV[3])\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])\n"
    "return 1\n";

/* ---- tracked entries ---- */

tracked *st_find(const wk_stream *s, const char *id)
{
    tracked *t = NULL;
    HASH_FIND_STR(s->by_id, id, t);
    return t;
}

static void tracked_free(tracked *t)
{
    ex_free(t->data);
    ex_free(t->reason);
    ex_free(t->ckpt);
    ex_free(t);
}

void st_forget(wk_stream *s, tracked *t)
{
    if (t->state == T_QUEUED) s->queued--;
    HASH_DELETE(hh, s->by_id, t);
    tracked_free(t);
}

tracked *st_track(wk_stream *s, const char *id)
{
    tracked *t = st_find(s, id);
    if (t) return t;
    if (strlen(id) >= WK_STREAM_ID_MAX || !(t = ex_calloc(1, sizeof *t))) return NULL;
    snprintf(t->id, sizeof t->id, "%s", id);
    t->state = T_HELD;
    HASH_ADD_STR(s->by_id, id, t);
    if (!t->hh.tbl) {
        ex_free(t);
        return NULL;
    }
    return t;
}

void st_forget_all(wk_stream *s)
{
    tracked *t, *tmp;
    HASH_ITER(hh, s->by_id, t, tmp) {
        HASH_DELETE(hh, s->by_id, t);
        tracked_free(t);
    }
}

/* ---- acknowledging ---- */

static void xack_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    tracked *t = privdata;
    wk_stream *s = ((conn *)ac->data)->s;
    if (s->stopping) return; /* close_cb frees what is left */
    if (!reply) {             /* the connection went away: send again after the reconnect */
        t->state = T_QUEUED;
        s->queued++;
        return;
    }
    const char *what = t->reason ? "moving to the dead letters" : "acknowledging";
    if (reply->type != REDIS_REPLY_INTEGER) {
        ex_error("stream", "%s entry %s of %s failed: %s", what, t->id, s->stream,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected answer");
    } else if (reply->integer == 1) {
        s->stats.acks++;
        if (t->reason) s->stats.dead_letters++;
    } else if (reply->integer == -1) {
        s->stats.acks_gone++;
        ex_info("stream", "entry %s is no longer in Redis (its data was lost): nothing left to %s", t->id,
                t->reason ? "move" : "acknowledge");
    } else {
        s->stats.acks_lost++;
        ex_info("stream", "entry %s is another consumer's now: %s it is left to that one", t->id, what);
    }
    st_forget(s, t);
}

int st_eval(wk_stream *s, redisCallbackFn *cb, void *privdata, const char *script, const char *const *keys,
                int nkeys, const char *const *args, const size_t *lens, size_t nargs)
{
    size_t argc = 3 + (size_t)nkeys + 2 + nargs;
    const char **argv = ex_malloc(argc * sizeof *argv);
    size_t *argl = ex_malloc(argc * sizeof *argl);
    char numkeys[8];
    int rc = REDIS_ERR;
    if (argv && argl) {
        snprintf(numkeys, sizeof numkeys, "%d", nkeys);
        size_t n = 0;
        argv[n++] = "EVAL";
        argv[n++] = script;
        argv[n++] = numkeys;
        for (int i = 0; i < nkeys; i++) argv[n++] = keys[i];
        argv[n++] = s->group;
        argv[n++] = s->consumer;
        for (size_t i = 0; i < n; i++) argl[i] = strlen(argv[i]);
        for (size_t i = 0; i < nargs; i++, n++) {
            argv[n] = args[i];
            argl[n] = lens ? lens[i] : strlen(args[i]);
        }
        rc = redisAsyncCommandArgv(s->cmd.ac, cb, privdata, (int)argc, argv, argl);
    }
    ex_free(argv);
    ex_free(argl);
    return rc;
}

int st_eval_ids(wk_stream *s, redisCallbackFn *cb, void *privdata, const char *script, const char *const *keys,
                int nkeys, const char *const *head, const size_t *headlens, size_t nhead,
                const char (*ids)[WK_STREAM_ID_MAX], size_t nids)
{
    const char **args = ex_malloc((nhead + nids) * sizeof *args);
    size_t *lens = ex_malloc((nhead + nids) * sizeof *lens);
    int rc = REDIS_ERR;
    if (args && lens) {
        for (size_t i = 0; i < nhead; i++) {
            args[i] = head[i];
            lens[i] = headlens[i];
        }
        for (size_t i = 0; i < nids; i++) {
            args[nhead + i] = ids[i];
            lens[nhead + i] = strlen(ids[i]);
        }
        rc = st_eval(s, cb, privdata, script, keys, nkeys, args, lens, nhead + nids);
    }
    ex_free(args);
    ex_free(lens);
    return rc;
}

/* Send t's acknowledgement (with its dead letter, or the DEL of its checkpoint) now. */
static void send_ack(wk_stream *s, tracked *t)
{
    char ckpt_key[sizeof WK_CKPT_KEY_PREFIX + 256];
    const char *keys[2] = {s->stream, s->dead_key};
    const char *args[3] = {t->id, t->data ? t->data : "", t->reason};
    size_t lens[3] = {strlen(t->id), t->data ? t->len : 0, t->reason ? strlen(t->reason) : 0};
    if (t->state == T_QUEUED) s->queued--;
    t->state = T_SENT;
    int rc;
    if (t->reason) {
        rc = st_eval(s, xack_cb, t, DEAD_LUA, keys, 2, args, lens, 3);
    } else {
        snprintf(ckpt_key, sizeof ckpt_key, WK_CKPT_KEY_PREFIX "%s", t->ckpt ? t->ckpt : "");
        keys[1] = ckpt_key;
        rc = st_eval(s, xack_cb, t, ACK_LUA, keys, t->ckpt ? 2 : 1, args, NULL, 1);
    }
    if (rc != REDIS_OK) {
        t->state = T_QUEUED;
        s->queued++;
    }
}

void st_flush_outbox(wk_stream *s)
{
    tracked *t, *tmp;
    HASH_ITER(hh, s->by_id, t, tmp) {
        if (!s->cmd.up || !s->group_ok) return;
        if (t->state == T_QUEUED) send_ack(s, t);
    }
}

/* Ack (with a dead letter when reason is set, then the DEL of checkpoint
 * ckpt when set) now or after the reconnect. */
static void enqueue_ack(wk_stream *s, const char *id, const char *data, size_t len, const char *reason,
                        const char *ckpt)
{
    tracked *t = st_track(s, id);
    if (!t) {
        ex_error("stream", "entry %s: out of memory acknowledging it; left pending", id);
        return;
    }
    if (t->state != T_HELD) return; /* already on its way */
    if (ckpt) t->ckpt = ex_strdup(ckpt); /* without memory for it, the key expires by its TTL */
    if (reason) {
        t->reason = ex_strdup(reason);
        t->data = data ? ex_strndup(data, len) : NULL;
        t->len = t->data ? len : 0;
    }
    if (s->cmd.up && s->group_ok) {
        send_ack(s, t);
        return;
    }
    if (s->queued >= s->cfg.outbox_max) {
        s->stats.outbox_dropped++;
        ex_warn("stream", "entry %s: %zu acknowledgements wait for Redis already; left pending", id, s->queued);
        st_forget(s, t);
        return;
    }
    t->state = T_QUEUED;
    s->queued++;
}

void wk_stream_ack(wk_stream *s, const char *id, const char *ckpt_workflow_id)
{
    enqueue_ack(s, id, NULL, 0, NULL, ckpt_workflow_id);
}

void wk_stream_dead_letter(wk_stream *s, const char *id, const char *data, size_t len, const char *reason)
{
    enqueue_ack(s, id, data, len, reason ? reason : "malformed", NULL);
}

void wk_stream_release(wk_stream *s, const char *id)
{
    tracked *t = st_find(s, id);
    if (t && t->state == T_HELD) st_forget(s, t);
}

/* ---- checkpoints ---- */

/* A checkpoint write in flight. */
typedef struct save_req {
    wk_stream_save_cb cb; /* the caller's, or NULL */
    void *tag;            /* passed back */
} save_req;

static void ckpt_save_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    save_req *q = privdata;
    wk_stream *s = ((conn *)ac->data)->s;
    wk_ckpt_result res = WK_CKPT_FAILED;
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        res = reply->integer == 1 ? WK_CKPT_SAVED : reply->integer == -1 ? WK_CKPT_GONE : WK_CKPT_LOST;
    else if (reply)
        ex_error("stream", "checkpoint write refused: %s", reply->type == REDIS_REPLY_ERROR ? reply->str : "?");
    if (res == WK_CKPT_GONE) st_data_lost(s, "a checkpoint write found a held entry no longer in the stream");
    if (res == WK_CKPT_SAVED) s->stats.ckpt_saved++;
    else if (res == WK_CKPT_LOST || res == WK_CKPT_GONE) s->stats.ckpt_lost++;
    else s->stats.ckpt_save_failed++;
    if (q->cb) q->cb(s->arg, q->tag, res);
    ex_free(q);
}

void wk_stream_ckpt_save(wk_stream *s, const char *workflow_id, const char (*ids)[WK_STREAM_ID_MAX], size_t nids,
                         const uint8_t *blob, size_t len, int64_t ttl_ns, wk_stream_save_cb cb, void *tag)
{
    char key[sizeof WK_CKPT_KEY_PREFIX + 256], ttl[24];
    long long ttl_ms = ttl_ns / EX_NS_PER_MS;
    snprintf(key, sizeof key, WK_CKPT_KEY_PREFIX "%s", workflow_id);
    snprintf(ttl, sizeof ttl, "%lld", ttl_ms < 1000 ? 1000 : ttl_ms);
    const char *keys[2] = {s->stream, key}, *head[2] = {(const char *)blob, ttl};
    size_t headlens[2] = {len, strlen(ttl)};
    save_req *q = s->cmd.up && s->group_ok ? ex_malloc(sizeof *q) : NULL;
    int rc = REDIS_ERR;
    if (q) {
        q->cb = cb;
        q->tag = tag;
        rc = st_eval_ids(s, ckpt_save_cb, q, CKPT_SAVE_LUA, keys, 2, head, headlens, 2, ids, nids);
    }
    if (rc == REDIS_OK) return;
    ex_free(q);
    s->stats.ckpt_save_failed++;
    if (cb) cb(s->arg, tag, WK_CKPT_FAILED);
}

/* A GET in flight. */
typedef struct load_req {
    wk_stream_load_cb cb; /* the caller's */
    void *tag;            /* passed back */
} load_req;

static void ckpt_get_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    load_req *q = privdata;
    wk_stream *s = ((conn *)ac->data)->s;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply) ex_error("stream", "checkpoint read refused: %s", reply->str);
        q->cb(s->arg, q->tag, -1, NULL, 0);
    } else if (reply->type == REDIS_REPLY_STRING) {
        q->cb(s->arg, q->tag, 1, (const uint8_t *)reply->str, reply->len);
    } else {
        q->cb(s->arg, q->tag, 0, NULL, 0);
    }
    ex_free(q);
}

void wk_stream_ckpt_load(wk_stream *s, const char *workflow_id, wk_stream_load_cb cb, void *tag)
{
    load_req *q = s->cmd.up ? ex_malloc(sizeof *q) : NULL;
    if (q) {
        q->cb = cb;
        q->tag = tag;
        if (redisAsyncCommand(s->cmd.ac, ckpt_get_cb, q, "GET " WK_CKPT_KEY_PREFIX "%s", workflow_id) == REDIS_OK)
            return;
        ex_free(q);
    }
    cb(s->arg, tag, -1, NULL, 0);
}

