#include "net/conn_guard.h"

#include <string.h>

#include "core/mem.h"

#define BUCKETS 512
#define KEY_MAX 16

/* Connections open from one client address; exists while count > 0. */
typedef struct client {
    uint8_t key[KEY_MAX];
    size_t len;
    int64_t count;
    struct client *next;
} client;

struct ex_conn_guard {
    ex_conn_limits limits;
    ex_conn_stats stats;
    client *buckets[BUCKETS];
    uint64_t last_report_ms;  /* when the last report was due */
    uint64_t suppressed;      /* events since then not reported */
    int reported;             /* a report was ever due */
};

ex_conn_guard *ex_guard_new(const ex_conn_limits *limits)
{
    ex_conn_guard *g = ex_calloc(1, sizeof *g);
    if (g) g->limits = *limits;
    return g;
}

void ex_guard_free(ex_conn_guard *g)
{
    if (!g) return;
    for (size_t i = 0; i < BUCKETS; i++) {
        while (g->buckets[i]) {
            client *c = g->buckets[i];
            g->buckets[i] = c->next;
            ex_free(c);
        }
    }
    ex_free(g);
}

const ex_conn_limits *ex_guard_limits(const ex_conn_guard *g) { return &g->limits; }

const ex_conn_stats *ex_guard_stats(const ex_conn_guard *g) { return &g->stats; }

static size_t bucket_of(const void *key, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ ((const uint8_t *)key)[i]) * 16777619u;
    return h % BUCKETS;
}

static client **find(const ex_conn_guard *g, const void *key, size_t len)
{
    client **pp = (client **)&g->buckets[bucket_of(key, len)];
    while (*pp && ((*pp)->len != len || memcmp((*pp)->key, key, len) != 0)) pp = &(*pp)->next;
    return pp;
}

ex_guard_verdict ex_guard_admit(ex_conn_guard *g, const void *key, size_t len)
{
    if (len > KEY_MAX) len = KEY_MAX;
    if (g->limits.max_conns > 0 && g->stats.open >= g->limits.max_conns) {
        g->stats.refused_full++;
        return EX_GUARD_FULL;
    }
    client **pp = find(g, key, len);
    if (*pp && g->limits.max_per_client > 0 && (*pp)->count >= g->limits.max_per_client) {
        g->stats.refused_client++;
        return EX_GUARD_CLIENT_FULL;
    }
    if (!*pp) {
        client *c = ex_calloc(1, sizeof *c);
        if (!c) {
            g->stats.refused_full++;
            return EX_GUARD_FULL;
        }
        memcpy(c->key, key, len);
        c->len = len;
        *pp = c;
    }
    (*pp)->count++;
    g->stats.open++;
    g->stats.accepted++;
    return EX_GUARD_ADMIT;
}

void ex_guard_release(ex_conn_guard *g, const void *key, size_t len)
{
    if (len > KEY_MAX) len = KEY_MAX;
    client **pp = find(g, key, len);
    if (!*pp) return;
    g->stats.open--;
    if (--(*pp)->count > 0) return;
    client *c = *pp;
    *pp = c->next;
    ex_free(c);
}

int64_t ex_guard_client_open(const ex_conn_guard *g, const void *key, size_t len)
{
    if (len > KEY_MAX) len = KEY_MAX;
    client **pp = find(g, key, len);
    return *pp ? (*pp)->count : 0;
}

uint64_t ex_guard_deadline(const ex_conn_limits *l, ex_conn_phase phase, uint64_t since_ms)
{
    int64_t t = phase == EX_PHASE_HEADERS ? l->header_timeout_ms
                : phase == EX_PHASE_BODY  ? l->body_timeout_ms
                : phase == EX_PHASE_IDLE  ? l->idle_timeout_ms
                                          : 0;
    return t > 0 ? since_ms + (uint64_t)t : UINT64_MAX;
}

void ex_guard_count_timeout(ex_conn_guard *g, ex_conn_phase phase)
{
    if ((unsigned)phase < EX_CONN_PHASES) g->stats.timed_out[phase]++;
}

int ex_guard_report_due(ex_conn_guard *g, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed)
{
    if (g->reported && now_ms - g->last_report_ms < interval_ms) {
        g->suppressed++;
        return 0;
    }
    *suppressed = g->suppressed;
    g->suppressed = 0;
    g->reported = 1;
    g->last_report_ms = now_ms;
    return 1;
}

const char *ex_conn_phase_name(ex_conn_phase phase)
{
    static const char *const names[EX_CONN_PHASES] = {"headers", "body", "reply", "idle"};
    return (unsigned)phase < EX_CONN_PHASES ? names[phase] : "?";
}
