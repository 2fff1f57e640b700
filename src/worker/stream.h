/* stream.h — durable intake: WorkflowStarted events from a Redis Stream
 * read through a consumer group (at-least-once), with acknowledgement,
 * claiming of a dead consumer's entries, dead letters and the monitors'
 * checkpoints.
 *
 * Two hiredis async connections on the caller's libuv loop, each with its
 * own reconnect backoff (backoff_min doubling to backoff_max):
 *   read — XREADGROUP … BLOCK only (a blocked connection can do nothing
 *          else). After every (re)connect it first reads this consumer's
 *          own pending entries (id 0 onwards, delivered with resumed = 1),
 *          then new ones (">").
 *   cmd  — XGROUP CREATE <stream> <group> 0 MKSTREAM (BUSYGROUP is fine),
 *          acknowledgements and dead letters (XACK, XADD <stream>:dead),
 *          checkpoints (SET, GET, DEL), the
 *          periodic XAUTOCLAIM of entries idle for claim_idle (delivered
 *          with resumed = 1) and the ownership heartbeat.
 * Every delivered entry is held — kept ours by a heartbeat every third
 * of claim_idle (an XCLAIM … JUSTID that only touches entries still ours,
 * in one Lua script) — until the caller acks, dead-letters or releases
 * it; held entries are not delivered again.
 *
 * Ownership decides what a consumer may still do with an entry: another
 * consumer may have claimed it (this one looked idle, e.g. across a
 * Redis restart). So checkpoint writes, acknowledgements and dead
 * letters are Lua scripts that act only while every entry concerned is
 * still pending for this consumer, and report when it is not (LOST):
 * the new owner resumes from the last checkpoint this one wrote, and
 * only one of them may go on. Acknowledgements and dead letters asked
 * for while cmd is down wait in a bounded outbox and are sent after the
 * reconnect; entries waiting there are not delivered again meanwhile.
 * A watchdog PINGs both connections every second and reconnects one
 * that has not answered within block_ns + connect_timeout_ns.
 *
 * Redis may also lose its data (restarted without persistence, the
 * stream or group deleted, an older snapshot restored): then held
 * entries are neither ours nor another consumer's — they are gone. The
 * stream tells that apart from a claim: the group had to be created
 * again on a reconnect (XGROUP CREATE answered OK where an earlier
 * connection had it), or an entry we hold is no longer in the stream at
 * all (the heartbeat, a checkpoint write). It then calls the lost
 * callback; the caller puts its workflows back with wk_stream_reown. */
#ifndef EXTRACE_WORKER_STREAM_H
#define EXTRACE_WORKER_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/redis_url.h"

#define WK_STREAM_ID_MAX 48 /* bytes of an entry id "ms-seq", NUL included */

typedef struct wk_stream wk_stream;

/* One entry for the worker: id (NUL-terminated), the "data" field (not
 * NUL-terminated; NULL when the entry has no such field or was deleted),
 * and resumed = 1 when it was pending already (ours after a restart or
 * reconnect, or claimed from another consumer): look for a checkpoint. */
typedef void (*wk_stream_entry_cb)(void *arg, const char *id, const char *data, size_t len, int resumed);
/* Answer of wk_stream_ckpt_save. */
typedef enum wk_ckpt_result {
    WK_CKPT_SAVED,  /* written (every entry was ours; their idle time is reset) */
    WK_CKPT_LOST,   /* not written: an entry is another consumer's now, or acknowledged */
    WK_CKPT_GONE,   /* not written: an entry is no longer in the stream (Redis lost its data) */
    WK_CKPT_FAILED  /* Redis down, refused, or gone before answering: written or not */
} wk_ckpt_result;
typedef void (*wk_stream_save_cb)(void *arg, void *tag, wk_ckpt_result result);

/* Both connections are up and the group exists (1), or not (0). */
typedef void (*wk_stream_state_cb)(void *arg, int ready);
/* Answer of wk_stream_ckpt_load: the blob (NULL if there is none, len 0)
 * or found = -1 when Redis could not be asked. */
typedef void (*wk_stream_load_cb)(void *arg, void *tag, int found, const uint8_t *blob, size_t len);
/* Redis lost entries this consumer held (why: for the log); the
 * stream's own state (group, connections) is back already. */
typedef void (*wk_stream_lost_cb)(void *arg, const char *why);

/* Answer of wk_stream_reown. */
typedef enum wk_reown_result {
    WK_REOWN_MINE,   /* every entry is still ours: nothing was done */
    WK_REOWN_NEW,    /* the entries that were gone were replaced by new_id, pending for this consumer */
    WK_REOWN_OTHER,  /* an entry is another consumer's (or acknowledged): leave the workflow to it */
    WK_REOWN_FAILED  /* Redis down or refused: try again later */
} wk_reown_result;
/* gone: the ids that were replaced (ngone of them), only with WK_REOWN_NEW. */
typedef void (*wk_stream_reown_cb)(void *arg, void *tag, wk_reown_result result, const char *new_id,
                                   const char *const *gone, size_t ngone);

typedef struct wk_stream_config {
    ex_redis_addr addr;         /* where and how to log in (copied) */
    const char *stream;         /* stream key (copied) */
    const char *group;          /* consumer group (copied) */
    const char *consumer;       /* this consumer's name (copied) */
    int count;                  /* entries per XREADGROUP / XAUTOCLAIM */
    int64_t block_ns;           /* BLOCK of XREADGROUP */
    int64_t claim_idle_ns;      /* claim others' entries idle this long; heartbeat every third of it */
    int64_t backoff_min_ns;     /* first retry delay */
    int64_t backoff_max_ns;     /* largest retry delay */
    int64_t connect_timeout_ns; /* connect + AUTH + SELECT + PING must finish within this */
    size_t outbox_max;          /* acknowledgements / dead letters held while disconnected */
} wk_stream_config;

/* Counters of the stream intake. */
typedef struct wk_stream_stats {
    uint64_t entries_read;     /* entries delivered, resumed ones included */
    uint64_t entries_resumed;  /* of which pending already or claimed */
    uint64_t entries_claimed;  /* taken over from idle consumers with XAUTOCLAIM */
    uint64_t acks;             /* entries acknowledged (XACK confirmed) */
    uint64_t acks_lost;        /* acks / dead letters not done: the entry was another consumer's by then */
    uint64_t dead_letters;     /* entries moved to <stream>:dead */
    uint64_t outbox_dropped;   /* acks / dead letters dropped at outbox_max (left pending) */
    uint64_t ckpt_saved;       /* checkpoints written */
    uint64_t ckpt_save_failed; /* checkpoint writes dropped (disconnected) or refused */
    uint64_t ckpt_lost;        /* checkpoint writes not done: an entry was another consumer's */
    uint64_t connects;         /* successful (re)connections, both connections */
    uint64_t data_lost;        /* times Redis was found without the group or without held entries */
    uint64_t entries_reowned;  /* entries added again (XADD) after Redis lost them, and owned at once */
    uint64_t acks_gone;        /* acks / dead letters not done: the entry was no longer in Redis */
} wk_stream_stats;

/* Start both connections on `loop`. NULL on allocation failure. */
wk_stream *wk_stream_new(uv_loop_t *loop, const wk_stream_config *cfg, wk_stream_entry_cb on_entry,
                         wk_stream_state_cb on_state, void *arg);
/* 1 while both connections are up and the group exists. */
int wk_stream_ready(const wk_stream *s);
/* Acknowledge entry `id` (now, or after the reconnect) if it is still
 * ours, and then DEL the checkpoint of ckpt_workflow_id unless it is
 * NULL; an entry claimed by another consumer meanwhile is left to it
 * (counted in acks_lost), its checkpoint too. */
void wk_stream_ack(wk_stream *s, const char *id, const char *ckpt_workflow_id);
/* Move entry `id` to <stream>:dead with its data and `reason`, then ack
 * it; like wk_stream_ack, only while it is ours. */
void wk_stream_dead_letter(wk_stream *s, const char *id, const char *data, size_t len, const char *reason);
/* Give up entry `id` without acknowledging it: it stays pending, stops
 * being kept ours by the heartbeat, and is claimed again (by any worker,
 * this one included) once idle for claim_idle. */
void wk_stream_release(wk_stream *s, const char *id);
/* SET extrace:ckpt:<workflow id> blob PX ttl if each of the nids entries
 * is still pending for this consumer (one script, so a claim happens
 * either before, and nothing is written, or after, and the claimer reads
 * this blob). cb (may be NULL) runs exactly once with tag: later with the
 * answer, or inside this call when cmd is down (FAILED). */
void wk_stream_ckpt_save(wk_stream *s, const char *workflow_id, const char (*ids)[WK_STREAM_ID_MAX], size_t nids,
                         const uint8_t *blob, size_t len, int64_t ttl_ns, wk_stream_save_cb cb, void *tag);
/* GET the checkpoint of workflow_id; cb(arg, tag, …) runs exactly once:
 * with the answer, or with found = -1 when the connection goes down
 * first (also during wk_stream_stop) or is down already (then inside
 * this call). */
void wk_stream_ckpt_load(wk_stream *s, const char *workflow_id, wk_stream_load_cb cb, void *tag);
/* Call cb(arg, why) whenever Redis is found to have lost held entries
 * (see above). */
void wk_stream_on_lost(wk_stream *s, wk_stream_lost_cb cb);
/* Put a workflow's entries (nids ids) back under this consumer when Redis
 * lost them: one script checks each id; if all are still ours it does
 * nothing (MINE); if one is another consumer's or acknowledged, nothing
 * either (OTHER); else it adds `data` (the WorkflowStarted JSON) to the
 * stream again, with field reowned-from, and reads it into this
 * consumer's pending list at once (XREADGROUP …  >, in the same script:
 * no other consumer can get it first), replacing the ids that were gone
 * (NEW). Entries that other producers added meanwhile and that the same
 * read hands over are delivered as new ones. cb runs exactly once, later
 * or (FAILED, Redis down) inside this call. */
void wk_stream_reown(wk_stream *s, const char (*ids)[WK_STREAM_ID_MAX], size_t nids, const char *data, size_t len,
                     wk_stream_reown_cb cb, void *tag);
struct redisReply;
/* Answer of wk_stream_command: the reply (borrowed, valid during the
 * call) or NULL when Redis refused it (err: its message) or could not be
 * asked (err: why). */
typedef void (*wk_stream_reply_cb)(void *tag, const struct redisReply *reply, const char *err);
/* Send argv (argc strings of lens bytes) on the cmd connection; cb runs
 * exactly once: later with the answer, or inside this call when cmd is
 * down (NULL reply). */
void wk_stream_command(wk_stream *s, int argc, const char **argv, const size_t *lens, wk_stream_reply_cb cb,
                       void *tag);
/* The stream's key (--stream). */
const char *wk_stream_key(const wk_stream *s);
/* Copy the counters. */
void wk_stream_get_stats(const wk_stream *s, wk_stream_stats *out);
/* Close both connections (no callbacks after this, except pending load
 * callbacks, which run with found = -1 before it returns); held entries
 * stay pending for a restart or another worker. The memory is freed once
 * libuv has closed the handles. NULL is ignored. */
void wk_stream_stop(wk_stream *s);

#endif
