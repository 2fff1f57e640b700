/* webhook_map.h — one webhook delivery mapped by its profile's
 * `webhook.map` (docs/sources.md, "Webhooks").
 *
 * The program gets {"event": the event header's value or null,
 * "delivery": the delivery id or null, "payload": the body} and outputs
 * null (nothing to do: an action the profile does not map) or
 *   {"key": "a/b/c" | {part: value…},   the workflow (the profile's key)
 *    "at": time | null,                  when the change it reports happened, by the source
 *    "snapshot": {…} | null,             a partial canonical snapshot (root "status" optional)
 *    "input": {…},                       or: answers for the profile's own `map` (its
 *                                        request names as members; "key" is added), which
 *                                        makes the snapshot, so the mapping is written once
 *    "root": true | false}               with input: false when the delivery says nothing
 *                                        of the root (default true)
 * Values of an object key may be strings or whole numbers. Pure: no I/O. */
#ifndef EXTRACE_SOURCE_WEBHOOK_MAP_H
#define EXTRACE_SOURCE_WEBHOOK_MAP_H
#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"
#include "source/jq_run.h"
#include "source/profile.h"

#define SR_HOOK_KEY_MAX 1024 /* bytes of a mapped key */

typedef struct sr_hook {
    char key[SR_HOOK_KEY_MAX + 1]; /* the workflow's key, checked against the profile */
    int64_t at_ns;                 /* MDL_NO_TIME when not given */
    int has_snapshot;              /* snap holds a partial snapshot */
    mdl_snapshot snap;             /* initialised by sr_hook_map; free with sr_hook_clear */
} sr_hook;

/* Outcomes of sr_hook_map. */
enum { SR_HOOK_MAPPED = 0, SR_HOOK_NOTHING = 1, SR_HOOK_BAD = -1 };

/* Map one delivery with the compiled webhook.map (jq) and the profile's
 * compiled map (map_jq, for "input"). SR_HOOK_MAPPED with *out filled, SR_HOOK_NOTHING
 * (the program output null), or SR_HOOK_BAD with the reason in err
 * naming the field and value (e.g. `webhook.map: key: 2 parts, …`) and
 * *kind the jq error kind (SR_JQ_OK when the output was wrong). */
int sr_hook_map(const sr_profile *p, sr_jq *jq, sr_jq *map_jq, const char *event, const char *delivery, const char *body,
                size_t len, sr_hook *out, sr_jq_error *kind, char *err, size_t errlen);
void sr_hook_clear(sr_hook *h);

#endif
