/* snapshot.h — one poll's answer about one workflow, in the canonical form
 * every source maps to: a root and a tree of nodes of any depth.
 *
 * A snapshot lives for one poll. Its strings and attribute objects are
 * borrowed: from the JSON it was read from (mdl_snapshot_from_json keeps a
 * reference to it) or from a source's own parse (the seed's native path
 * fills the fields directly). The rules are in docs/sources.md, "The
 * canonical snapshot". Pure: no I/O. */
#ifndef EXTRACE_MODEL_SNAPSHOT_H
#define EXTRACE_MODEL_SNAPSHOT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MDL_NO_TIME    INT64_MIN
#define MDL_ROOT       UINT32_MAX /* parent index of a top-level node */
#define MDL_KEY_MAX    256        /* bytes of a key, id, name or parent */
#define MDL_WORD_MAX   64         /* bytes of a kind or a state word */
#define MDL_MAX_NODES  4096       /* nodes per snapshot */
#define MDL_MAX_ATTRS  64         /* attributes per node */
#define MDL_ATTR_KEY_MAX 128      /* bytes of an attribute key */
#define MDL_ATTR_STR_MAX 4096     /* bytes of a string attribute value */
#define MDL_MSG_MAX    1024       /* bytes of an error message kept (marker included) */
#define MDL_NSATTR     2          /* string attributes a native parser can set without JSON */

/* Canonical status of the root or a node. */
typedef enum { MDL_PENDING, MDL_RUNNING, MDL_OK, MDL_ERROR, MDL_CANCELLED, MDL_SKIPPED, MDL_NSTATUS } mdl_status;

/* A string attribute set without a JSON object (native parsers). */
typedef struct mdl_sattr {
    const char *key, *val;
} mdl_sattr;

/* The root or one node. NULL strings and MDL_NO_TIME times are absent. */
typedef struct mdl_snode {
    const char *key;           /* nodes: identity across polls; root: NULL */
    const char *id;            /* second identity part of the span id, or NULL ("") */
    const char *parent;        /* parent's key; NULL: the root */
    const char *name;          /* span name, or NULL (root: the source's root name; node: its key) */
    const char *kind;          /* attribute extrace.node.kind, or NULL */
    const char *state;         /* the source's status word, or NULL (then the status name) */
    const char *error;         /* the source's message, or NULL */
    size_t error_len;          /* bytes of error */
    const char *initial_state; /* the state it begins in, or NULL */
    int64_t initial_ns;        /* … and when */
    int64_t since_ns;          /* when the current state began, by the source */
    int64_t start_ns, end_ns;  /* the source's start and end */
    const json_t *attrs;       /* object of attributes (validated), or NULL */
    mdl_sattr sattrs[MDL_NSATTR]; /* then these string attributes */
    uint8_t nsattrs;
    uint8_t status;            /* mdl_status */
    uint32_t parent_idx;       /* filled by mdl_snapshot_link: index of the parent in nodes, or MDL_ROOT */
} mdl_snode;

typedef struct mdl_snapshot {
    mdl_snode root;
    mdl_snode *nodes; /* owned array of nnodes; parents come before their children */
    size_t nnodes, cap;
    json_t *json;     /* owned reference to the JSON the strings point into, or NULL */
    uint8_t root_absent; /* a partial snapshot (a webhook's) that says nothing about the root */
} mdl_snapshot;

/* "pending", "running", "ok", "error", "cancelled", "skipped"; "?" otherwise. */
const char *mdl_status_name(int status);
/* The status of a name, or -1. */
int mdl_status_parse(const char *name);
/* 1 for ok, error, cancelled and skipped: the node has ended. */
int mdl_status_terminal(int status);
/* The state word of n: its own, or its status's name. */
const char *mdl_snode_state(const mdl_snode *n);

/* An empty snapshot (nodes grow with mdl_snapshot_add). */
void mdl_snapshot_init(mdl_snapshot *s);
/* Release what s owns; s is empty and reusable afterwards. */
void mdl_snapshot_clear(mdl_snapshot *s);
/* A new zeroed node (times MDL_NO_TIME) at the end of s->nodes, or NULL
 * when memory runs out or MDL_MAX_NODES are there. The pointer is valid
 * until the next add. */
mdl_snode *mdl_snapshot_add(mdl_snapshot *s);
/* A zeroed node with every time MDL_NO_TIME. */
void mdl_snode_init(mdl_snode *n);

/* Check the tree: keys unique, each parent a node of s, no cycle; then
 * order the nodes so that parents come first (document order otherwise)
 * and fill parent_idx. 0, or -1 with a message naming the key in why. */
int mdl_snapshot_link(mdl_snapshot *s, char *why, size_t whylen);

/* Read the canonical JSON form (docs/sources.md) into *s (initialised by
 * the caller; cleared first), validating every field, and link it. Takes
 * a reference to `json`. 0, or -1 with a message naming the field path
 * and the value, e.g.
 *   nodes[3].status: unknown status "done" (pending running ok error cancelled skipped) */
int mdl_snapshot_from_json(mdl_snapshot *s, json_t *json, char *why, size_t whylen);
/* The same for a partial snapshot (a webhook's): a root without "status"
 * says nothing about the root (root_absent = 1, its other fields are
 * ignored); nodes are read as above. */
int mdl_snapshot_from_json_partial(mdl_snapshot *s, json_t *json, char *why, size_t whylen);

/* Parse a time value: RFC 3339 string, number of unix seconds (a
 * fraction is kept to the microsecond, as much as a double holds), or null
 * (MDL_NO_TIME). 0, or -1 when it is none of those. */
int mdl_time_from_json(const json_t *v, int64_t *out_ns);

#endif
