/* stream_reown.c — putting a workflow's entries back under this consumer
 * after Redis lost them (stream.h, wk_stream_reown). */
#include "worker/stream_int.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* ARGV[3] is the event's data, ARGV[4..] the held ids. Returns {'mine'},
 * {'other'}, or {'new', new id, {gone ids}, XREADGROUP's answer}. */
static const char REOWN_LUA[] = LUA_MINE
    "local gone = {}\n"
    "for i = 4, #ARGV do\n"
    "  local o = owner(ARGV[i])\n"
    "  if o == 'other' or o == 'acked' then return {'other'} end\n"
    "  if o == 'gone' then gone[#gone + 1] = ARGV[i] end\n"
    "end\n"
    "if #gone == 0 then return {'mine'} end\n"
    "local id = redis.call('XADD', KEYS[1], '*', 'data', ARGV[3], 'reowned-from', gone[1])\n"
    "local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'STREAMS', KEYS[1], '>')\n"
    "return {'new', id, gone, got}\n";

/* A re-own in flight. */
typedef struct reown_req {
    wk_stream_reown_cb cb; /* the caller's */
    void *tag;             /* passed back */
} reown_req;

/* The new entry is held; the gone ones are forgotten; what else the read
 * handed over is delivered as new entries. */
static void take_new(wk_stream *s, const redisReply *reply, reown_req *q)
{
    const char *new_id = reply->element[1]->str;
    const redisReply *gone = reply->element[2], *got = reply->element[3];
    size_t n = gone->type == REDIS_REPLY_ARRAY ? gone->elements : 0, ngone = 0;
    const char **ids = ex_malloc((n ? n : 1) * sizeof *ids); /* without it the caller keeps the old ids */
    for (size_t i = 0; i < n; i++) {
        tracked *t = gone->element[i]->type == REDIS_REPLY_STRING ? st_find(s, gone->element[i]->str) : NULL;
        if (t && t->state == T_HELD) st_forget(s, t);
        if (ids && gone->element[i]->type == REDIS_REPLY_STRING) ids[ngone++] = gone->element[i]->str;
    }
    if (!st_track(s, new_id)) ex_error("stream", "entry %s: out of memory tracking it", new_id);
    s->stats.entries_reowned++;
    q->cb(s->arg, q->tag, WK_REOWN_NEW, new_id, ids, ngone);
    ex_free(ids);
    /* [[stream, [[id, fields], …]]]: others' new entries come along. */
    const redisReply *st = got->type == REDIS_REPLY_ARRAY && got->elements == 1 ? got->element[0] : NULL;
    const redisReply *entries = st && st->type == REDIS_REPLY_ARRAY && st->elements == 2 ? st->element[1] : NULL;
    for (size_t i = 0; entries && entries->type == REDIS_REPLY_ARRAY && i < entries->elements && !s->stopping; i++)
        st_deliver(s, entries->element[i], 0);
}

static void reown_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    reown_req *q = privdata;
    wk_stream *s = ((conn *)ac->data)->s;
    wk_reown_result res = WK_REOWN_FAILED;
    const redisReply *kind = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 ? reply->element[0]
                                                                                              : NULL;
    if (reply && reply->type == REDIS_REPLY_ERROR) ex_error("stream", "re-owning entries refused: %s", reply->str);
    if (kind && kind->type == REDIS_REPLY_STRING && !s->stopping) {
        if (strcmp(kind->str, "new") == 0 && reply->elements == 4 && reply->element[1]->type == REDIS_REPLY_STRING) {
            take_new(s, reply, q);
            ex_free(q);
            return;
        }
        if (strcmp(kind->str, "mine") == 0) res = WK_REOWN_MINE;
        else if (strcmp(kind->str, "other") == 0) res = WK_REOWN_OTHER;
    }
    q->cb(s->arg, q->tag, res, NULL, NULL, 0);
    ex_free(q);
}

void wk_stream_reown(wk_stream *s, const char (*ids)[WK_STREAM_ID_MAX], size_t nids, const char *data, size_t len,
                     wk_stream_reown_cb cb, void *tag)
{
    reown_req *q = s->cmd.up && s->group_ok ? ex_malloc(sizeof *q) : NULL;
    int rc = REDIS_ERR;
    if (q) {
        const char *keys[1] = {s->stream}, *head[1] = {data};
        q->cb = cb;
        q->tag = tag;
        rc = st_eval_ids(s, reown_cb, q, REOWN_LUA, keys, 1, head, &len, 1, ids, nids);
    }
    if (rc == REDIS_OK) return;
    ex_free(q);
    cb(s->arg, tag, WK_REOWN_FAILED, NULL, NULL, 0);
}
