/* live.h — the worker's live view of its in-flight workflows, as pure
 * logic (no sockets, no clock: times come in): the JSON of a workflow,
 * the list's filter and paging, and the change feed that the admin
 * listener's Server-Sent Events stream fans out (admin_live.c serves
 * them; docs/worker.md, "Live API", has the fields and examples).
 *
 * Every text is bounded: a workflow's JSON by WK_LIVE_MAX_WORKFLOW (its
 * nodes are cut, "nodesOmitted" says how many), a page by
 * WK_LIVE_MAX_PAGE (it ends early and its cursor resumes there), the
 * feed by WK_FEED_SLOTS messages and WK_FEED_MAX_BYTES. */
#ifndef EXTRACE_WORKER_LIVE_H
#define EXTRACE_WORKER_LIVE_H
#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"
#include "sim/render.h"
#include "worker/registry.h"

#define WK_LIVE_LIMIT_DEFAULT 100
#define WK_LIVE_LIMIT_MAX     1000
#define WK_LIVE_MAX_WORKFLOW  (1024 * 1024)      /* bytes of one workflow's JSON (events aside) */
#define WK_LIVE_MAX_PAGE      (8 * 1024 * 1024)  /* bytes of a list page */
#define WK_LIVE_MAX_DETAIL    (4 * 1024 * 1024)  /* bytes of one workflow with its events */
#define WK_LIVE_CURSOR_MAX    (16 + 2 * 4 * MDL_KEY_MAX) /* hex chars of a cursor */

/* What the JSON needs besides the monitor. */
typedef struct wk_live_ctx {
    const char *ns;     /* service.namespace (trace ids) */
    const char *source; /* the worker's source name ("seed", "github-actions", …) */
    const wk_registry *reg; /* where entries' next polls are (NULL: nextPoll unknown, null) */
} wk_live_ctx;

/* ---- one workflow ---- */

/* Append W (docs/worker.md) of e's monitor to b: key, source, traceId,
 * status, times, polls, the nodes (cut to fit WK_LIVE_MAX_WORKFLOW bytes).
 * events = 1 adds "events" (every state event so far, by time; cut at
 * the buffer's maximum). 0, or -1 when b overflowed. */
int wk_live_render(sim_buf *b, const wk_live_ctx *c, const wk_entry *e, int events);
/* The deepest node still running (the latest started among equals), or NULL. */
const mdl_node *wk_live_current(const mdl_monitor *m);

/* ---- the list's query ---- */

typedef struct wk_live_query {
    unsigned status_mask;   /* 1 << mdl_status accepted; 0: any */
    char source[64];        /* "" any */
    int limit;              /* 1..WK_LIVE_LIMIT_MAX */
    int has_cursor;
    int64_t after_submitted; /* with has_cursor: the last workflow of the previous page */
    char after_key[4 * MDL_KEY_MAX + 1];
} wk_live_query;

/* Defaults: any status and source, limit 100, from the start. */
void wk_live_query_init(wk_live_query *q);
/* Take one query parameter (status, source, limit, cursor; any other is
 * refused). status is one canonical status or several, comma-separated.
 * 0, or -1 with a message naming the parameter and its value in why. */
int wk_live_query_param(wk_live_query *q, const char *name, const char *value, char *why, size_t whylen);
/* The cursor that resumes after (submitted_ns, key): opaque hex, at most
 * WK_LIVE_CURSOR_MAX chars, into out (that + 1 bytes). */
void wk_live_cursor(int64_t submitted_ns, const char *key, char *out);
/* 1 when e passes q's filters (cursor aside). */
int wk_live_match(const wk_live_query *q, const char *source, const wk_entry *e);

/* A page: the matching entries after the cursor in (submitted, key)
 * order, at most q->limit. */
typedef struct wk_live_page {
    const wk_entry **items; /* owned array of n, in order */
    size_t n;
    size_t total;           /* entries matching the filters, cursor aside */
    size_t after;           /* matching entries after the cursor (n of them are in items) */
} wk_live_page;

/* Select q's page from the registry: O(entries × log limit). 0, or -1
 * when out of memory. Free with wk_live_page_free. */
int wk_live_select(const wk_registry *r, const wk_live_query *q, const char *source, wk_live_page *out);
void wk_live_page_free(wk_live_page *p);
/* Append the list's answer for page p (the "worker" object comes
 * prebuilt in worker_json) to b: rendering stops before the workflow
 * that would pass WK_LIVE_MAX_PAGE, and "next" resumes there. 0, or -1
 * when out of memory. */
int wk_live_render_page(sim_buf *b, const wk_live_ctx *c, const char *worker_json, const wk_live_page *p);

/* ---- the change feed ---- */

#define WK_FEED_SLOTS     4096               /* messages kept for clients that lag */
#define WK_FEED_MAX_BYTES (8 * 1024 * 1024)  /* … and their bytes at most */
#define WK_FEED_MSG_MAX   (16 * 1024)        /* bytes of one message (its strings are cut to fit) */

/* A ring of rendered SSE messages, numbered by seq (1, 2, …). */
typedef struct wk_feed_msg {
    uint64_t seq;
    char *text; /* owned: "id: N\nevent: E\ndata: {…}\n\n" */
    size_t len;
} wk_feed_msg;

typedef struct wk_feed {
    wk_feed_msg slots[WK_FEED_SLOTS];
    uint64_t last;     /* seq of the newest message (0: none yet) */
    uint64_t oldest;   /* seq of the oldest kept (last + 1 when none) */
    size_t bytes;      /* bytes of the kept texts */
    int keep;          /* 0: number messages but keep no text (no client listens) */
    uint64_t messages; /* messages numbered since start */
    /* Scratch of wk_feed_before/after: each node's events and status before a poll. */
    uint16_t pre_events[MDL_MAX_NODES + 1]; /* [0] the root, [1 + i] node i */
    uint8_t pre_status[MDL_MAX_NODES + 1];
    uint8_t pre_word[MDL_MAX_NODES + 1];
    uint32_t pre_nnodes;
    uint32_t pre_total; /* m->nevents before */
    const mdl_monitor *pre_mon;
} wk_feed;

void wk_feed_init(wk_feed *f);
/* Free every kept text. */
void wk_feed_clear(wk_feed *f);
/* Keep texts (a client listens) or only number messages. */
void wk_feed_keep(wk_feed *f, int keep);
/* The message seq, or NULL when it is no longer (or not yet) kept. */
const wk_feed_msg *wk_feed_get(const wk_feed *f, uint64_t seq);

/* A watch of m began at now_ns: event "watch". */
void wk_feed_watch(wk_feed *f, const wk_live_ctx *c, const mdl_monitor *m, int64_t now_ns);
/* Around a change of m (mdl_monitor_apply and friends): before records
 * each span's events and status, after adds an event "state" for each
 * state event recorded in between (nodes in order, then the root), with
 * the canonical status before (from) and after (to). */
void wk_feed_before(wk_feed *f, const mdl_monitor *m);
void wk_feed_after(wk_feed *f, const wk_live_ctx *c, const mdl_monitor *m);
/* m's watch ended (done and handed to export, or no longer this worker's) at now_ns: event "end". */
void wk_feed_end(wk_feed *f, const wk_live_ctx *c, const mdl_monitor *m, int64_t now_ns);

#endif
