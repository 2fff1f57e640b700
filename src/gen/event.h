/* event.h — the WorkflowStarted event of the seed's generator.
 *
 * Wire format (seed contract): compact JSON, PascalCase keys in this order:
 *   {"WorkflowId":"<guid>","SubmittedAt":"<iso>","MessageType":"event.workflow.started",
 *    "CorrelationId":"<guid>","Timestamp":"<iso>"}
 * GUIDs are lower case; timestamps UTC with 7 fractional digits and a Z.
 * Building is pure: the clock and the random source are passed in. */
#ifndef EXTRACE_GEN_EVENT_H
#define EXTRACE_GEN_EVENT_H
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/uuid.h"

#define GEN_EVENT_TYPE "event.workflow.started" /* MessageType, and the channel */
#define GEN_EVENT_JSON_MAX 1024                 /* the seed's JSON is 235 bytes; a key adds up to ~600 */
#define GEN_KEY_MAX 600                         /* longest source key */

typedef struct gen_event {
    char workflow_id[EX_UUID_LEN + 1];    /* new GUID per workflow */
    char correlation_id[EX_UUID_LEN + 1]; /* new GUID per message */
    int64_t submitted_at;                 /* ns since epoch: when the workflow was submitted */
    int64_t timestamp;                    /* ns since epoch: when the message was created */
    const char *source;                   /* NULL (the seed's event), or the source's name */
    char key[GEN_KEY_MAX];                /* with a source: the workflow's key */
    char traceparent[64];                 /* "" or the submitter's W3C traceparent ("Traceparent", last) */
} gen_event;

/* A new version-00 traceparent (sampled) drawn from rng, into out (≥ 56 bytes). */
void gen_event_random_traceparent(ex_rng *rng, char *out);

/* Fill *ev as the seed does: SubmittedAt = now, then the ids, then
 * Timestamp = now again (the message is created just after). */
void gen_event_new(gen_event *ev, ex_rng *ids, const ex_clock *clock);

/* With a source (ev->source set), the JSON also carries "Source" and
 * "Key" after SubmittedAt; with a traceparent, "Traceparent" comes last;
 * without either, it is the seed's byte for byte.
 * Write the event's JSON (NUL-terminated) into buf. Returns its length, or
 * -1 if it does not fit in len bytes or memory ran out. */
int gen_event_json(const gen_event *ev, char *buf, size_t len);

#endif
