/* query_thread.h — the store's query side on a thread of its own.
 *
 * The Tempo query API and the web UI (query_api.h, ui.h) run on their own
 * libuv loop in their own thread, over a read-only database connection
 * (sdb_open_reader), so a long search never delays ingest and a big
 * ingest never delays /api/echo or a search: the two sides share nothing
 * in memory but what sdb_open_reader documents (docs/store.md,
 * "Threads"). */
#ifndef EXTRACE_STORE_QUERY_THREAD_H
#define EXTRACE_STORE_QUERY_THREAD_H
#include <stddef.h>

#include "net/conn_guard.h"
#include "store/db.h"
#include "store/query_api.h"

typedef struct sqt sqt;

/* The workers whose live APIs the query thread polls (store/live.h). */
typedef struct sqt_live {
    const char *urls;     /* "URL[,URL…]" (checked by slv_check_urls), NULL or "": none */
    int64_t interval_ns;  /* time between two polls of each worker */
} sqt_live;

/* Open a reader beside writer (which must outlive the thread), listen on
 * listen ("host:port") with the connection limits conn and start serving
 * on a new thread with the query work limits in lim, polling the live
 * workers of live (NULL: none). NULL with err set on failure (nothing
 * left running). */
sqt *sqt_start(const sdb *writer, const char *listen, const ex_conn_limits *conn, const sq_limits *lim,
               const sqt_live *live, char *err, size_t errlen);
/* The port bound. */
int sqt_port(const sqt *t);
/* Stop serving, wait for the thread to end, log its counters (the
 * listener's and the query API's), close the
 * reader and free everything. NULL is ignored. Call from the thread that
 * started it. */
void sqt_stop(sqt *t);

#endif
