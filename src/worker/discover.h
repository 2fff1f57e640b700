/* discover.h — `extrace worker --discover INTERVAL`: find the workflows a
 * source runs by listing them (the profile's discover: section,
 * source/discover.h), and start a watch for each new one.
 *
 * Every INTERVAL one listing runs: the list request from since =
 * high-water mark − overlap (hwm.h), page after page as the program's
 * `next` says (at most max_pages), each page mapped to keys and times.
 * A key not seen before starts a watch:
 *   - without --stream, at once, like an event (wk_watch_event); the
 *     mark and the keys seen live in memory, so a restart lists again from
 *     now − overlap: workflows that started while no worker ran and
 *     longer ago than the overlap are missed, and the ones within it that
 *     had finished are traced again (same trace id: a backend keeps one);
 *   - with --stream, as an entry of the stream, added by one Lua script
 *     only if the key is not yet in the sorted set of keys seen
 *     (extrace:discover:<source>:<scope>:seen, score = its time in ms),
 *     so every worker of a group and every restart adds it exactly once;
 *     the consumer group then hands it to one worker, which acknowledges
 *     it once its trace is delivered. After a listing whose every key was
 *     recorded, the mark (…:hwm, ns) moves forward in Redis (never back)
 *     and keys older than the new since leave the set. A worker killed
 *     in the middle of a listing left the mark where it was: the next one
 *     lists that stretch again and the set skips what was added. */
#ifndef EXTRACE_WORKER_DISCOVER_H
#define EXTRACE_WORKER_DISCOVER_H
#include <stddef.h>
#include <stdint.h>

struct wk_worker;
struct wk_text;
typedef struct wk_disc wk_disc;

/* Start discovery on w's loop every interval_ns for scope (the leading
 * key parts, "" for none). NULL with err when the source has no
 * discover: section, the scope does not fit its key, or its program does
 * not compile. */
wk_disc *wk_disc_start(struct wk_worker *w, int64_t interval_ns, const char *scope, char *err, size_t errlen);
/* Stop (a listing in flight is abandoned) and free once libuv closed its handles. NULL is ignored. */
void wk_disc_stop(wk_disc *d);
/* Its metrics (Prometheus text). d may be NULL (nothing rendered). */
void wk_disc_render(const wk_disc *d, struct wk_text *t);

#endif
