/* tree_check.h — a workflow's expected span tree, written by a test from
 * a source's final JSON (its own reading, not the profile's jq), checked
 * against what an OTLP receiver got (tests/node/receiver.js lines).
 *
 * The expected tree names, per node, its key and id (span id =
 * exo_span_id(trace id, key, id)), its parent's key ("" = the root), the
 * span name, the source's start and end, the span status and message, and
 * the source's last status word (the span's last status event). The trace
 * id is mdl_trace_id(namespace, source, key). Every event must lie in its
 * observation window; no span may arrive in differing copies (copies from
 * two workers differ only in service.instance.id, which is not compared). */
#ifndef EXTRACE_TEST_TREE_CHECK_H
#define EXTRACE_TEST_TREE_CHECK_H
#include <stddef.h>
#include <stdint.h>

#include "trace_check.h"

#define TK_NO_TIME INT64_MIN

typedef struct tk_node {
    char key[320];
    char id[64];
    char parent[320];   /* "" = child of the root */
    char name[320];
    int64_t start, end; /* unix ns; TK_NO_TIME when the source gives none */
    int code;           /* OTLP status code: 0 unset, 1 ok, 2 error */
    char message[1100]; /* the status message of an ERROR span */
    char word[64];      /* the last status event's name */
} tk_node;

typedef struct tk_tree {
    const char *source; /* source name ("seed" for the seed's ids) */
    char key[320];      /* the workflow's key */
    tk_node root;       /* key/id/parent unused; start is the source's start */
    tk_node *nodes;     /* owned */
    size_t n, cap;
} tk_tree;

/* Start an empty tree of `source`'s workflow `key`. */
void tk_init(tk_tree *t, const char *source, const char *key);
void tk_free(tk_tree *t);
/* Append a node (zeroed, times TK_NO_TIME) and return it. */
tk_node *tk_add(tk_tree *t);
/* Parse an RFC 3339 time, or TK_NO_TIME for NULL/empty. Fails the test on a bad one. */
int64_t tk_time(const char *iso);

/* Check t against the spans: exactly one root and one span per node (and
 * Queued iff the announcement came before the source's start), each as
 * expected. Fails the test naming `label`. Returns the most copies any
 * span arrived in. */
int tk_check(const tc_spans *s, const tk_tree *t, const char *ns, const char *label);

/* Root spans (no parent) in a receiver file so far, copies included. */
int tk_count_roots(const char *path);

#endif
