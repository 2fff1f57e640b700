/* retention.h — deletes traces older than the retention period, on a
 * libuv timer, in bounded chunks.
 *
 * A trace is old when its end (the latest span end time stored for it) is
 * before now - retention; whole traces go, never single spans of a trace
 * that is still being written. Each chunk is one short transaction of at
 * most `chunk` traces; while old traces remain the next chunk runs on the
 * next loop iteration, so ingest requests are served in between. */
#ifndef EXTRACE_STORE_RETENTION_H
#define EXTRACE_STORE_RETENTION_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/clock.h"
#include "store/db.h"

typedef struct sret_cfg {
    int64_t retention_ns; /* keep traces that ended within this long */
    int64_t interval_ns;  /* time between passes */
    size_t chunk;         /* traces per transaction */
} sret_cfg;

typedef struct sret sret;

/* Start passes on loop over db (not owned) with clock (not owned; now is
 * read from it). The first pass runs at once. NULL on allocation failure. */
sret *sret_start(uv_loop_t *loop, sdb *db, const ex_clock *clock, const sret_cfg *cfg);
/* Traces deleted so far (also in sdb_get_stats). */
uint64_t sret_deleted(const sret *r);
/* Stop; freed once libuv closed the timer (keep running the loop). */
void sret_stop(sret *r);

#endif
