/* snapshot_int.h — the two parsers behind wm_snapshot_parse_flags, and
 * what they share. For src/worker/snapshot*.c and the tests that prove
 * them equal (tests/unit/test_snapshot_fast.c, fuzz target snapshot_diff).
 *
 * wm_snapshot__parse_fast reads the answer with yajl's callbacks, without
 * a DOM (docs/worker.md, "Reading the seed's answer"). It only ever
 * accepts: on anything it is not sure of — invalid JSON, a contract
 * violation, a duplicate key, an escape or a byte it does not check
 * itself — it declines, and wm_snapshot_parse_flags runs
 * wm_snapshot__parse_dom (jansson), the reference that writes every error
 * message. */
#ifndef EXTRACE_WORKER_SNAPSHOT_INT_H
#define EXTRACE_WORKER_SNAPSHOT_INT_H
#include "worker/snapshot.h"

/* 0 with *out filled exactly as wm_snapshot__parse_dom fills it, or -1:
 * not decided here. Never writes a message; allocates nothing from the
 * heap for an answer of ordinary size (yajl's state lives in a stack arena). */
int wm_snapshot__parse_fast(const char *body, size_t len, const char *expected_workflow_id, unsigned flags,
                            wm_snapshot *out);

/* The jansson parser: wm_snapshot_parse_flags as it was before the fast path. */
int wm_snapshot__parse_dom(const char *body, size_t len, const char *expected_workflow_id, unsigned flags,
                           wm_snapshot *out, char *why, size_t whylen);

/* The status named by s[0..len), or -1. */
int wm__status_find(const char *s, size_t len);
/* 1 when s[0..len) is an entity type: 1..WM_TYPE_MAX bytes of [A-Za-z0-9_.-]. */
int wm__type_name_ok(const char *s, size_t len);
/* Copy an error message into dst (WM_MSG_MAX + 1 bytes), cut at a
 * character boundary and marked when longer. */
void wm__copy_message(char *dst, const char *s, size_t len);

#endif
