/* monitor.h — what extrace knows about one watched workflow, for any source.
 *
 * A monitor is fed the outcome of each poll (a canonical snapshot, a
 * failed poll, a 404) and its timeout, and keeps just enough to build the
 * workflow's spans (spans.h): the root and one record per node of the tree
 * the source showed, each with its times, the status events seen, its end
 * and its latest attributes. Pure: no I/O, no clock; every time is an
 * int64 of unix ns passed in. Knows no source: a source maps its answers
 * to a snapshot (snapshot.h) and the monitor applies it.
 *
 * Plain data, pointer-light, so that a million can be held and each can
 * be checkpointed: one allocation for the monitor (key inline), one array
 * of nodes, per node one string block, its events, its attribute blob and
 * an error message once it failed; the rare extras (own state words, a
 * submitter's span) in one more allocation only when there are some.
 * docs/monitor.md has the rules. */
#ifndef EXTRACE_MODEL_MONITOR_H
#define EXTRACE_MODEL_MONITOR_H
#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"

enum { MDL_DONE = 1 }; /* what the feeding calls return once the root has ended (else 0) */
enum { MDL_CONFIRM = 2 }; /* mdl_monitor_apply_exact: the root showed its end; poll to take the final tree */
/* Error codes of the model's functions. */
enum { MDL_ERR_NOMEM = -3, MDL_ERR_STATE = -4 };

#define MDL_NO_WORD  0xFF /* no state observed yet */
#define MDL_MAX_WORDS 250 /* distinct state words per workflow */
#define MDL_SEED_MAX_NODES  8  /* the seed's limits (its contract: at most 8 stages) */
#define MDL_SEED_MAX_EVENTS 64
#define MDL_DEF_MAX_EVENTS  8192

/* How a span ended (the root's or a node's). */
typedef enum {
    MDL_END_OPEN,      /* still running */
    MDL_END_OK,        /* ok */
    MDL_END_FAILED,    /* error: message from the source */
    MDL_END_NODE_OPEN, /* node only: the workflow ended while it was open */
    MDL_END_TIMEOUT,   /* the monitor timed out */
    MDL_END_NOT_FOUND, /* the source answered 404 */
    MDL_END_CANCELLED, /* cancelled */
    MDL_END_SKIPPED,   /* skipped */
} mdl_end;

/* How far a final span got on its way out (mdl_node.exported,
 * mdl_monitor.queued_exported; spans.h: exporting spans as they end). */
typedef enum {
    MDL_EXP_NONE,      /* not handed to the export yet */
    MDL_EXP_SENT,      /* handed to the export; its delivery not yet known */
    MDL_EXP_DELIVERED, /* delivered: never sent again (a checkpoint keeps this) */
    MDL_EXP_FAILED,    /* not delivered: it goes out again with the root */
} mdl_export_state;

/* Where an event's time comes from (attribute extrace.time_source). */
typedef enum { MDL_SRC_SOURCE, MDL_SRC_POLL } mdl_time_source;

/* One status event of one span, named by a state word. Packed (26 bytes,
 * not 32): a monitor holds a handful per node, a worker millions. */
typedef struct __attribute__((packed)) mdl_event {
    int64_t time_ns;   /* the source's own time, or the poll's */
    int64_t before_ns; /* the reply of the poll that first saw it arrived (extrace.observed_before) */
    int64_t after_ns;  /* the request of the successful poll before left, or MDL_NO_TIME */
    uint8_t word;      /* state word: mdl_monitor_word(m, word) */
    uint8_t source;    /* mdl_time_source */
} mdl_event;

/* The root or a node. */
typedef struct mdl_node {
    int64_t start_ns;   /* the source's start (first value seen), or MDL_NO_TIME */
    int64_t end_ns;     /* the span's end; MDL_NO_TIME while open */
    char *strs;         /* owned: key NUL id NUL name NUL kind NUL [error NUL] (root: NULL until
                           named or failed); name is "" when it equals the key */
    uint8_t *attrs;     /* owned attribute blob (attrs.h), or NULL */
    mdl_event *events;  /* owned array of exactly nevents */
    uint32_t parent;    /* index of the parent node, or MDL_ROOT */
    uint16_t nevents;
    uint8_t last_word;  /* the last state observed (mdl_monitor_word), or MDL_NO_WORD */
    uint8_t end;        /* mdl_end */
    uint8_t end_known;  /* 1 when end_ns is the source's own end time */
    uint8_t has_error;  /* 1 when strs holds the source's message of a failed or cancelled node */
    uint8_t status;     /* mdl_status of the last successful poll that showed it (pending until one
                           did; not checkpointed: a resumed monitor shows pending until its next
                           answer); mdl_node_status tells the status of an ended span */
    uint8_t exported;   /* mdl_export_state of a node's span (unused on the root) */
} mdl_node;

/* The span that submitted the workflow (a W3C traceparent of its start). */
typedef struct mdl_link {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;           /* its W3C trace flags */
} mdl_link;

/* What few monitors have: state words of their own, a submitter's span. */
typedef struct mdl_extra {
    char **words;  /* owned: the state words seen that are not common ones (mdl_monitor_word) */
    uint8_t nwords;
    uint8_t has_link;
    mdl_link link; /* the submitter's span when has_link */
} mdl_extra;

/* One allocation of offsetof(mdl_monitor, key) + the key's length + 1
 * (test_monitor pins the size: 141 bytes before the key on 64-bit
 * targets, so a 36-byte GUID key fits a 192-byte malloc chunk). */
typedef struct mdl_monitor {
    int64_t submitted_ns;    /* when the workflow was announced (SubmittedAt) */
    int64_t created_ns;      /* when the monitor was made: the timeout counts from here */
    int64_t timeout_ns;      /* how long it may run */
    int64_t last_sent_ns;    /* when the request of the last successful poll left, or MDL_NO_TIME */
    uint64_t doc_hash;       /* the answer the last poll applied whole (mdl_monitor_apply_doc), or 0 */
    mdl_node root;           /* root.strs: NULL, or "" NUL "" NUL name NUL "" NUL */
    mdl_node *nodes;         /* owned array of exactly nnodes, in order of appearance */
    mdl_extra *extra;        /* owned: own words and link, or NULL (most workflows have neither) */
    uint32_t version;        /* +1 on every state change (what a checkpoint must save) */
    uint32_t polls;          /* successful polls */
    uint32_t poll_errors;    /* failed polls */
    uint32_t doc_version;    /* version right after doc_hash was applied */
    uint16_t nnodes;
    uint16_t max_nodes;      /* nodes kept at most; later ones are counted in nodes_dropped */
    uint16_t max_events;     /* events kept at most over all spans */
    uint16_t nevents;        /* events kept over all spans */
    uint16_t events_dropped; /* status events not kept (limit or no memory) */
    uint16_t nodes_dropped;  /* node sightings not kept (limit or no memory) */
    uint8_t queued_exported; /* mdl_export_state of the Queued span */
    char key[];              /* the workflow's key, NUL-terminated, inline */
} mdl_monitor;

/* A monitor for `key` (1..MDL_KEY_MAX*4 bytes) announced at submitted_ns,
 * made at now_ns, giving up at now_ns + timeout_ns, keeping at most
 * max_nodes nodes (1..MDL_MAX_NODES) and max_events events. NULL on
 * allocation failure or a bad key. */
mdl_monitor *mdl_monitor_new(const char *key, int64_t submitted_ns, int64_t now_ns, int64_t timeout_ns,
                             unsigned max_nodes, unsigned max_events);
void mdl_monitor_free(mdl_monitor *m);

/* A successful poll returned s (validated and linked): its request left
 * at sent_ns and its reply arrived at received_ns. Records new nodes,
 * state events, ends and attributes; each event is bracketed by this
 * poll's received_ns and the previous successful poll's sent_ns. Returns
 * MDL_DONE when the root has ended, else 0; *changed (may be NULL) says
 * whether the state moved. Never fails: what cannot be kept is counted. */
int mdl_monitor_apply(mdl_monitor *m, const mdl_snapshot *s, int64_t sent_ns, int64_t received_ns, int *changed);
/* mdl_monitor_apply of a poll's answer, a document of hash doc_hash
 * (XXH3-64 of its bytes; 0: none). When the snapshot was taken whole
 * (no node stale or dropped, no event dropped, nothing refused for
 * memory) and the root is still open, the hash is noted, else forgotten:
 * applying that document again would change nothing but the poll count
 * until something else changes m, so a poll answering it may take
 * mdl_monitor_unchanged instead of being read (mdl_monitor_doc_hash). */
int mdl_monitor_apply_doc(mdl_monitor *m, const mdl_snapshot *s, uint64_t doc_hash, int64_t sent_ns,
                          int64_t received_ns, int *changed);
/* The hash the last mdl_monitor_apply_doc noted, or 0 when none was or
 * m changed since (its version moved: an exact observation, an end, a
 * timeout, a poll applied otherwise). */
uint64_t mdl_monitor_doc_hash(const mdl_monitor *m);
/* An exact observation (a webhook): s, possibly partial (only the nodes
 * it holds; the root only when !s->root_absent), shows the state the
 * source reports for at_ns, its own timestamp of the change; each event
 * it records has the window [at_ns, at_ns] (observed_after = before =
 * at_ns), widened to hold the event's time when the source gives the
 * node one of its own (a step that ended before the job's webhook). at_ns MDL_NO_TIME: unknown, the event is bracketed by
 * received_ns alone. Out of order is safe: a non-terminal state older
 * than the latest event of its node (at_ns before that event's time) is
 * ignored, an ended node stays ended, and a later poll whose request left
 * before an exact event cannot move that node back (mdl_monitor_apply).
 * A terminal root is recorded as its event but does not end the monitor:
 * MDL_CONFIRM asks the caller to poll for the final tree (a webhook tells
 * of one node; the poll ends the others). Not counted as a poll. Returns
 * MDL_DONE when already done, MDL_CONFIRM, or 0; *changed as for apply. */
int mdl_monitor_apply_exact(mdl_monitor *m, const mdl_snapshot *s, int64_t at_ns, int64_t received_ns,
                            int *changed);
/* A successful poll whose answers were all unchanged since the last one
 * (HTTP 304): exactly what applying that poll's snapshot again does —
 * the poll counts and brackets the next change — without the snapshot. */
void mdl_monitor_unchanged(mdl_monitor *m, int64_t sent_ns, int64_t received_ns);
/* A poll failed: counted in poll_errors, nothing else changes. */
void mdl_monitor_poll_failed(mdl_monitor *m);
/* The source answered 404 at poll_ns: ends as ERROR "workflow not found by API". */
int mdl_monitor_not_found(mdl_monitor *m, int64_t poll_ns);
/* The timeout expired: ends as ERROR "Monitor timed out" at min(now, deadline). */
int mdl_monitor_timeout(mdl_monitor *m, int64_t now_ns);
int64_t mdl_monitor_deadline(const mdl_monitor *m);
int mdl_monitor_done(const mdl_monitor *m);
/* Bytes m holds (allocations as requested, allocator overhead excluded). */
size_t mdl_monitor_size_bytes(const mdl_monitor *m);

/* Keep the submitter's span (a traceparent's ids and flags) with m,
 * replacing any kept before. 0, or MDL_ERR_NOMEM. */
int mdl_monitor_set_link(mdl_monitor *m, const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags);
/* The submitter's span kept with m, or NULL. */
const mdl_link *mdl_monitor_link(const mdl_monitor *m);
/* m's own state words (not common ones): how many, and the i-th. */
unsigned mdl_monitor_nwords(const mdl_monitor *m);
const char *mdl_monitor_own_word(const mdl_monitor *m, unsigned i);

/* The canonical status of the root or a node now (mdl_status): an ended
 * span's by how it ended (ok, error, cancelled, skipped; a timeout, a 404
 * or a node still open when the workflow ended: error), an open one's as
 * the source last showed it (pending or running). */
int mdl_node_status(const mdl_node *n);

/* A node's strings; mdl_node_error is NULL when it has none. */
const char *mdl_node_error(const mdl_node *n);
/* Set n's strings to key, id, name, kind (NULL: "") and no error. 0 or -1. */
int mdl_node_set_strs(mdl_node *n, const char *key, const char *id, const char *name, const char *kind);
/* Append the source's message (cut at MDL_MSG_MAX bytes, UTF-8 safe). 0 or -1. */
int mdl_node_set_error(mdl_node *n, const char *msg, size_t len);
const char *mdl_node_key(const mdl_node *n);
const char *mdl_node_id(const mdl_node *n);
const char *mdl_node_name(const mdl_node *n);
const char *mdl_node_kind(const mdl_node *n);
/* The node of `key`, or NULL (linear; for tests and small trees). */
const mdl_node *mdl_monitor_find(const mdl_monitor *m, const char *key);

/* The state word of index w (an event's word, a node's last_word). */
const char *mdl_monitor_word(const mdl_monitor *m, uint8_t w);
/* 1 when w names a word of m (common or its own). */
int mdl_monitor_word_valid(const mdl_monitor *m, uint8_t w);
/* The index of a state word, added to m's own words when it is not a
 * common one; MDL_NO_WORD when no more can be kept. (Checkpoint decoding.) */
int mdl_monitor_word_index(mdl_monitor *m, const char *word);
/* Append a word to m's own words (low level; prefer mdl_monitor_word_index). 0 or -1. */
int mdl_monitor_add_word(mdl_monitor *m, const char *word, size_t len);

#endif
