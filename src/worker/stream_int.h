/* stream_int.h — what stream.c (connections, reading, claiming, the
 * heartbeat) and stream_write.c (acknowledgements, dead letters,
 * checkpoints) share. Not a public interface. */
#ifndef EXTRACE_WORKER_STREAM_INT_H
#define EXTRACE_WORKER_STREAM_INT_H
#include "core/mem.h"

/* uthash allocates through our wrapper and leaves an item out
 * (hh.tbl == NULL) when that fails. */
#define uthash_malloc(sz)    ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#define HASH_NONFATAL_OOM 1

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uthash.h>

#include "worker/stream.h"

/* The scripts below act on entries of group ARGV[1] of stream KEYS[1]
 * only while they are pending for consumer ARGV[2]. owner(id) says whose
 * an entry is: 'mine', 'other' (pending for another consumer), 'acked'
 * (in the stream, pending for nobody) or 'gone' (not in the stream at
 * all: Redis lost its data, or the entry was deleted or trimmed). */
#define LUA_MINE                                                              \
    "local function owner(id)\n"                                              \
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)\n"       \
    "  if #p == 1 then if p[1][2] == ARGV[2] then return 'mine' end return 'other' end\n" \
    "  if #redis.call('XRANGE', KEYS[1], id, id) == 1 then return 'acked' end\n" \
    "  return 'gone'\n"                                                       \
    "end\n"                                                                   \
    "local function mine(id) return owner(id) == 'mine' end\n"

/* What happens to an entry the stream knows about. */
enum { T_HELD, T_QUEUED, T_SENT };

/* An entry being worked on (HELD) or being acknowledged (QUEUED while
 * cmd is down, SENT while its XACK is in flight). */
typedef struct tracked {
    UT_hash_handle hh;
    char id[WK_STREAM_ID_MAX]; /* entry id, the key */
    int state;                 /* T_* */
    char *data;                /* dead letter only: owned copy of the data field, or NULL */
    size_t len;                /* bytes of data */
    char *reason;              /* dead letter only: owned; NULL for a plain ack */
    char *ckpt;                /* owned: workflow id whose checkpoint goes after the XACK, or NULL */
} tracked;

/* One Redis connection with its own reconnect backoff. */
typedef struct conn {
    struct wk_stream *s;       /* owner */
    const char *name;          /* "read" or "command", for messages */
    redisAsyncContext *ac;     /* current connection, or NULL */
    uv_timer_t timer;          /* retry backoff, or the connect timeout */
    int64_t backoff_ns;        /* next retry delay */
    int up;                    /* PING answered: usable */
    int64_t probe_sent;        /* mono ns of the watchdog's PING awaiting its answer, 0 if none */
    void (*on_up)(struct conn *c); /* called once usable */
} conn;

struct wk_stream {
    uv_loop_t *loop;                   /* not owned */
    wk_stream_config cfg;              /* strings point at the owned copies below */
    char *stream, *group, *consumer;   /* owned copies */
    char *dead_key;                    /* owned: "<stream>:dead" */
    char where[EX_REDIS_ADDR_STR_MAX]; /* "host:port" for messages */
    conn rd, cmd;                      /* the two connections */
    uv_timer_t tick;                   /* heartbeat + XAUTOCLAIM */
    uv_timer_t watch;                  /* watchdog: PING both connections every WATCH_MS */
    int group_ok;                      /* XGROUP CREATE answered on the current cmd connection */
    int had_group;                     /* the group existed (or was made) on an earlier connection */
    int64_t lost_at;                   /* mono ns when a loss of data was last found, 0 if never */
    int reading;                       /* an XREADGROUP is in flight on rd */
    int own_pending;                   /* reading this consumer's own pending entries (from `cursor`) */
    char cursor[WK_STREAM_ID_MAX];     /* next id of the own-pending pass */
    int claiming;                      /* an XAUTOCLAIM pass is running */
    char claim_cursor[WK_STREAM_ID_MAX]; /* where that pass goes on */
    int ready;                         /* last state reported */
    int stopping;                      /* wk_stream_stop called */
    int closing;                       /* handles left to close */
    tracked *by_id;                    /* uthash of tracked entries */
    size_t queued;                     /* entries in state T_QUEUED */
    wk_stream_stats stats;             /* counters */
    wk_stream_entry_cb on_entry;       /* each entry */
    wk_stream_state_cb on_state;       /* ready / not */
    wk_stream_lost_cb on_lost;         /* Redis lost its data, or NULL */
    void *arg;                         /* argument of both */
};

/* stream.c: hand one [id, [field, value, …]] entry over unless it is tracked already. */
void st_deliver(wk_stream *s, const redisReply *e, int resumed);
/* Tell the caller that Redis lost entries (why: for the log), counted. */
void st_data_lost(wk_stream *s, const char *why);

/* stream_write.c: tracked entries */
tracked *st_find(const wk_stream *s, const char *id);
/* The entry of `id`, made HELD if new. NULL when out of memory or the id is too long. */
tracked *st_track(wk_stream *s, const char *id);
void st_forget(wk_stream *s, tracked *t);
/* Free every tracked entry (at the end). */
void st_forget_all(wk_stream *s);
/* EVAL script with the nkeys keys, then group, consumer and the nargs
 * strings of args (lens NULL: NUL-terminated). REDIS_OK or REDIS_ERR. */
int st_eval(wk_stream *s, redisCallbackFn *cb, void *privdata, const char *script, const char *const *keys, int nkeys,
            const char *const *args, const size_t *lens, size_t nargs);
/* st_eval with the nhead strings of head (headlens) and then the nids
 * entry ids as arguments. REDIS_OK or REDIS_ERR (also out of memory). */
int st_eval_ids(wk_stream *s, redisCallbackFn *cb, void *privdata, const char *script, const char *const *keys,
                int nkeys, const char *const *head, const size_t *headlens, size_t nhead,
                const char (*ids)[WK_STREAM_ID_MAX], size_t nids);
/* Send the acknowledgements that waited for the command connection. */
void st_flush_outbox(wk_stream *s);

#endif
