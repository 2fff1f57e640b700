/* stream_cmd.c — any command on the stream's cmd connection (discovery's
 * high-water mark and its de-duplicating XADD: discover.c). */
#include <hiredis/async.h>

#include "core/mem.h"
#include "worker/stream_int.h"

typedef struct cmd_req {
    wk_stream_reply_cb cb;
    void *tag;
} cmd_req;

static void reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    cmd_req *q = privdata;
    redisReply *reply = r;
    q->cb(q->tag, reply && reply->type != REDIS_REPLY_ERROR ? reply : NULL, reply ? reply->str : NULL);
    ex_free(q);
}

void wk_stream_command(wk_stream *s, int argc, const char **argv, const size_t *lens, wk_stream_reply_cb cb,
                       void *tag)
{
    cmd_req *q = s->cmd.up && !s->stopping ? ex_malloc(sizeof *q) : NULL;
    if (q) {
        q->cb = cb;
        q->tag = tag;
        if (redisAsyncCommandArgv(s->cmd.ac, reply_cb, q, argc, argv, lens) == REDIS_OK) return;
        ex_free(q);
    }
    cb(tag, NULL, "Redis is not connected");
}

const char *wk_stream_key(const wk_stream *s) { return s->stream; }
