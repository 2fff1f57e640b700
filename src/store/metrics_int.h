/* metrics_int.h — what metrics_agg.c (observing) and metrics_result.c
 * (the answer) share. Not a public header. */
#ifndef EXTRACE_STORE_METRICS_INT_H
#define EXTRACE_STORE_METRICS_INT_H
#include "core/mem.h"
#include "store/metrics.h"

/* uthash reports a failed allocation through smx__hash_oom instead of
 * exiting; the element is then not in the table. */
extern _Thread_local int smx__hash_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (smx__hash_oom = 1)
#define uthash_malloc(sz) ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#include <uthash.h>

#define NS_PER_S 1e9

/* One group of spans: the by() values (plus the bucket of a histogram). */
typedef struct group {
    uint8_t *key;                  /* serialized labels (owned) */
    size_t keylen;
    size_t index;                  /* in smx_agg.groups */
    tql_value vals[SMX_BY_MAX + 1];/* label values; strings owned */
    size_t nvals;
    uint64_t *count;               /* per step */
    double *acc;                   /* per step: sum, min or max (NULL when not needed) */
    uint8_t *has_exemplar;         /* bitmap per step */
    uint64_t spans, errors;        /* over every step */
    UT_hash_handle hh;
} group;

/* A value kept for a quantile. */
/* A value kept for a quantile, standing for w spans (1, or a histogram
 * bucket's count). group < SMX_SERIES_MAX and step < SMX_STEPS_MAX fit. */
typedef struct qvalue {
    uint16_t group, step;
    uint32_t w;
    double v;
} qvalue;

typedef struct xentry {
    size_t group;
    smx_exemplar ex;
} xentry;

struct smx_agg {
    const smx_query *q;
    const smx_grid *g;
    group *table;                  /* uthash by key */
    group **groups;                /* in creation order */
    size_t ngroups, capgroups;
    size_t per_group;              /* answer series per group: quantiles, else 1 */
    qvalue *values;
    size_t nvalues, capvalues;
    xentry *ex;
    size_t nex, maxex;
    uint64_t spans;
};

#endif
