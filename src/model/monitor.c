/* monitor.c — the tree monitor: nodes, state events, ends. */
#include "model/monitor.h"

#include <string.h>

#include "core/mem.h"
#include "model/attrs.h"
#include "model/keyindex.h"

#define INDEX_FROM  16     /* more nodes than this: find them through a key index */
#define TRUNCATED   "...[truncated]"

/* The poll being applied: it brackets every event it records. */
typedef struct poll_ctx {
    int64_t before_ns; /* this poll's reply arrived */
    int64_t after_ns;  /* the previous successful poll's request left, or MDL_NO_TIME */
    int64_t seen_ns;   /* the state shown is no older than this: a poll's send, an exact observation's time */
    int exact;         /* an exact observation (webhook), not a poll */
    int partial;       /* set when some of the snapshot was not taken (stale, dropped, no memory) */
} poll_ctx;

mdl_monitor *mdl_monitor_new(const char *key, int64_t submitted_ns, int64_t now_ns, int64_t timeout_ns,
                             unsigned max_nodes, unsigned max_events)
{
    size_t len = key ? strlen(key) : 0;
    if (len == 0 || len > 4 * MDL_KEY_MAX || max_nodes == 0 || max_nodes > MDL_MAX_NODES || max_events > UINT16_MAX)
        return NULL;
    mdl_monitor *m = ex_calloc(1, offsetof(mdl_monitor, key) + len + 1);
    if (!m) return NULL;
    m->submitted_ns = submitted_ns;
    m->created_ns = now_ns;
    m->timeout_ns = timeout_ns;
    m->last_sent_ns = MDL_NO_TIME;
    m->root.start_ns = m->root.end_ns = MDL_NO_TIME;
    m->root.parent = MDL_ROOT;
    m->root.last_word = MDL_NO_WORD;
    m->max_nodes = (uint16_t)max_nodes;
    m->max_events = (uint16_t)max_events;
    memcpy(m->key, key, len + 1);
    return m;
}

static void node_free(mdl_node *n)
{
    ex_free(n->strs);
    ex_free(n->attrs);
    ex_free(n->events);
}

void mdl_monitor_free(mdl_monitor *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nnodes; i++) node_free(&m->nodes[i]);
    node_free(&m->root);
    if (m->extra) {
        for (size_t i = 0; i < m->extra->nwords; i++) ex_free(m->extra->words[i]);
        ex_free(m->extra->words);
        ex_free(m->extra);
    }
    ex_free(m->nodes);
    ex_free(m);
}

/* m's extras, made on first use; NULL when out of memory. */
static mdl_extra *extra(mdl_monitor *m)
{
    if (!m->extra) m->extra = ex_calloc(1, sizeof *m->extra);
    return m->extra;
}

int mdl_monitor_set_link(mdl_monitor *m, const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags)
{
    mdl_extra *x = extra(m);
    if (!x) return MDL_ERR_NOMEM;
    memcpy(x->link.trace_id, trace_id, 16);
    memcpy(x->link.span_id, span_id, 8);
    x->link.flags = flags;
    x->has_link = 1;
    return 0;
}

const mdl_link *mdl_monitor_link(const mdl_monitor *m)
{
    return m->extra && m->extra->has_link ? &m->extra->link : NULL;
}

unsigned mdl_monitor_nwords(const mdl_monitor *m) { return m->extra ? m->extra->nwords : 0; }

const char *mdl_monitor_own_word(const mdl_monitor *m, unsigned i) { return m->extra->words[i]; }

static const char *str_at(const mdl_node *n, int k)
{
    const char *s = n->strs;
    if (!s) return "";
    while (k-- > 0) s += strlen(s) + 1;
    return s;
}

const char *mdl_node_key(const mdl_node *n) { return str_at(n, 0); }
const char *mdl_node_id(const mdl_node *n) { return str_at(n, 1); }
const char *mdl_node_name(const mdl_node *n)
{
    const char *name = str_at(n, 2);
    return name[0] ? name : mdl_node_key(n); /* kept only when it differs from the key */
}
const char *mdl_node_kind(const mdl_node *n) { return str_at(n, 3); }

const mdl_node *mdl_monitor_find(const mdl_monitor *m, const char *key)
{
    for (size_t i = 0; i < m->nnodes; i++)
        if (strcmp(mdl_node_key(&m->nodes[i]), key) == 0) return &m->nodes[i];
    return NULL;
}

int64_t mdl_monitor_deadline(const mdl_monitor *m)
{
    if (m->timeout_ns > 0 && m->created_ns > INT64_MAX - m->timeout_ns) return INT64_MAX;
    return m->created_ns + m->timeout_ns;
}

int mdl_monitor_done(const mdl_monitor *m) { return m->root.end != MDL_END_OPEN; }

/* Bytes of n->strs. */
static size_t strs_len(const mdl_node *n)
{
    if (!n->strs) return 0;
    const char *s = n->strs;
    for (int k = 0; k < 4 + n->has_error; k++) s += strlen(s) + 1;
    return (size_t)(s - n->strs);
}

static size_t node_bytes(const mdl_node *n)
{
    return n->nevents * sizeof *n->events + mdl_attrs_len(n->attrs) + strs_len(n);
}

const char *mdl_node_error(const mdl_node *n) { return n->has_error ? str_at(n, 4) : NULL; }

size_t mdl_monitor_size_bytes(const mdl_monitor *m)
{
    size_t b = offsetof(mdl_monitor, key) + strlen(m->key) + 1 + node_bytes(&m->root) + m->nnodes * sizeof *m->nodes;
    for (size_t i = 0; i < m->nnodes; i++) b += node_bytes(&m->nodes[i]);
    if (!m->extra) return b;
    b += sizeof *m->extra + m->extra->nwords * sizeof *m->extra->words;
    for (size_t i = 0; i < m->extra->nwords; i++) b += strlen(m->extra->words[i]) + 1;
    return b;
}

int mdl_monitor_add_word(mdl_monitor *m, const char *word, size_t len)
{
    mdl_extra *x = extra(m);
    if (!x || x->nwords >= MDL_MAX_WORDS) return -1;
    char **w = ex_realloc(x->words, (x->nwords + 1u) * sizeof *w);
    if (!w) return -1;
    x->words = w;
    if (!(w[x->nwords] = ex_malloc(len + 1))) return -1;
    memcpy(w[x->nwords], word, len);
    w[x->nwords][len] = '\0';
    x->nwords++;
    return 0;
}

/* State words of the built-in sources, shared by every monitor (most
 * monitors then allocate no word of their own). Append only: a
 * checkpoint stores words by name, but keep the order anyway. */
static const char *const common_words[] = {
    "Initializing", "Processing", "Completed", "Failed",                            /* the seed */
    "pending", "running", "ok", "error", "cancelled", "skipped",                     /* canonical */
    "queued", "in_progress", "completed", "waiting", "requested", "success", "failure", /* GitHub */
    "neutral", "timed_out", "action_required", "stale", "startup_failure",
    "Pending", "Running", "Succeeded", "Error", "Skipped", "Omitted",               /* Argo */
    "scheduled", "failed", "up_for_retry", "up_for_reschedule", "upstream_failed",  /* Airflow */
    "removed", "deferred", "restarting", "shutdown", "none",
};
#define NCOMMON (sizeof common_words / sizeof *common_words)

const char *mdl_monitor_word(const mdl_monitor *m, uint8_t w)
{
    if (w < NCOMMON) return common_words[w];
    return (size_t)(w - NCOMMON) < mdl_monitor_nwords(m) ? m->extra->words[w - NCOMMON] : "?";
}

/* The index of `word`, added when new; MDL_NO_WORD when it cannot be kept. */
static uint8_t word_index(mdl_monitor *m, const char *word)
{
    for (uint8_t i = 0; i < NCOMMON; i++)
        if (strcmp(common_words[i], word) == 0) return i;
    unsigned n = mdl_monitor_nwords(m);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(m->extra->words[i], word) == 0) return (uint8_t)(i + NCOMMON);
    if (NCOMMON + n >= MDL_MAX_WORDS || mdl_monitor_add_word(m, word, strlen(word))) return MDL_NO_WORD;
    return (uint8_t)(NCOMMON + mdl_monitor_nwords(m) - 1);
}

int mdl_monitor_word_index(mdl_monitor *m, const char *word) { return word_index(m, word); }

int mdl_monitor_word_valid(const mdl_monitor *m, uint8_t w) { return w < NCOMMON + mdl_monitor_nwords(m); }

static int has_event(const mdl_node *n, uint8_t word)
{
    for (size_t i = 0; i < n->nevents; i++)
        if (n->events[i].word == word) return 1;
    return 0;
}

/* Keep one event, or count it as dropped at the limit or without memory. */
static void add_event(mdl_monitor *m, mdl_node *n, uint8_t word, int64_t t, uint8_t source, poll_ctx *pc)
{
    if (word == MDL_NO_WORD || m->nevents >= m->max_events) goto drop;
    mdl_event *ev = ex_realloc(n->events, (n->nevents + 1u) * sizeof *ev); /* exact: most nodes have 2-4 */
    if (!ev) goto drop;
    n->events = ev;
    int64_t before = pc->before_ns, after = pc->after_ns;
    if (pc->exact && after != MDL_NO_TIME) { /* [at, at], widened to hold a source time of its own */
        if (t < after) after = t;
        if (t > before) before = t;
    }
    n->events[n->nevents++] = (mdl_event){t, before, after, word, source};
    m->nevents++;
    return;
drop:
    pc->partial = 1;
    if (m->events_dropped < UINT16_MAX) m->events_dropped++;
}

/* Record n's state as sn shows it. On a change, an event named by the
 * state: at the source's time for it (since; for a terminal state without
 * one, its end) the first time that state is seen, at the poll otherwise. A node first seen past its initial state
 * gets that one too, at its time. Returns 1 if anything changed. */
static int observe(mdl_monitor *m, mdl_node *n, const mdl_snode *sn, poll_ctx *pc)
{
    const char *state = mdl_snode_state(sn);
    uint8_t w = word_index(m, state);
    if (w != MDL_NO_WORD && n->last_word == w) return 0;
    if (n->last_word == MDL_NO_WORD && sn->initial_state && strcmp(sn->initial_state, state) != 0) {
        int64_t t = sn->initial_ns;
        add_event(m, n, word_index(m, sn->initial_state), t == MDL_NO_TIME ? pc->before_ns : t,
                  t == MDL_NO_TIME ? MDL_SRC_POLL : MDL_SRC_SOURCE, pc);
    }
    /* A terminal state without its own time began at the source's end. */
    int64_t since = sn->since_ns;
    if (since == MDL_NO_TIME && mdl_status_terminal(sn->status)) since = sn->end_ns;
    if (since == MDL_NO_TIME || has_event(n, w))
        add_event(m, n, w, pc->before_ns, MDL_SRC_POLL, pc);
    else
        add_event(m, n, w, since, MDL_SRC_SOURCE, pc);
    n->last_word = w;
    return 1;
}

int mdl_node_set_error(mdl_node *n, const char *msg, size_t len)
{
    size_t keep = len, mark = 0, have = n->strs ? strs_len(n) : 4;
    if (n->has_error || !len) return 0;
    if (len > MDL_MSG_MAX) {
        mark = sizeof TRUNCATED - 1;
        keep = MDL_MSG_MAX - mark;
        while (keep > 0 && ((unsigned char)msg[keep] & 0xC0) == 0x80) keep--;
    }
    char *s = ex_realloc(n->strs, have + keep + mark + 1);
    if (!s) return -1;
    if (!n->strs) memset(s, 0, 4); /* the root before it was named: four empty strings */
    memcpy(s + have, msg, keep);
    memcpy(s + have + keep, TRUNCATED, mark);
    s[have + keep + mark] = '\0';
    n->strs = s;
    n->has_error = 1;
    return 0;
}

static mdl_end end_of(int status)
{
    switch (status) {
    case MDL_OK: return MDL_END_OK;
    case MDL_ERROR: return MDL_END_FAILED;
    case MDL_CANCELLED: return MDL_END_CANCELLED;
    default: return MDL_END_SKIPPED;
    }
}

int mdl_node_status(const mdl_node *n)
{
    switch (n->end) {
    case MDL_END_OPEN: return mdl_status_terminal(n->status) ? MDL_RUNNING : n->status;
    case MDL_END_OK: return MDL_OK;
    case MDL_END_CANCELLED: return MDL_CANCELLED;
    case MDL_END_SKIPPED: return MDL_SKIPPED;
    default: return MDL_ERROR;
    }
}

/* Latest attributes win. Returns 1 if they changed. */
static int take_attrs(mdl_node *n, const mdl_snode *sn, poll_ctx *pc)
{
    uint8_t *blob;
    mdl_attr_refs refs = {n->strs ? mdl_node_key(n) : NULL, n->strs ? mdl_node_id(n) : NULL};
    if (mdl_attrs_encode(sn, &refs, &blob)) { /* no memory: keep the old ones */
        pc->partial = 1;
        return 0;
    }
    if (mdl_attrs_equal(blob, n->attrs)) {
        ex_free(blob);
        return 0;
    }
    ex_free(n->attrs);
    n->attrs = blob;
    return 1;
}

/* A node that showed a terminal status ends: at the source's end, or at
 * the poll that saw it. */
static void end_node(mdl_node *n, const mdl_snode *sn, const poll_ctx *pc)
{
    n->end = (uint8_t)end_of(sn->status);
    n->end_known = sn->end_ns != MDL_NO_TIME;
    n->end_ns = n->end_known ? sn->end_ns : pc->before_ns;
    if ((n->end == MDL_END_FAILED || n->end == MDL_END_CANCELLED) && sn->error)
        (void)mdl_node_set_error(n, sn->error, sn->error_len); /* no memory: the span says it had no message */
}

/* 1 when an event was recorded by an exact observation (its window is one instant). */
static int exact_event(const mdl_event *e) { return e->after_ns == e->before_ns && e->source == MDL_SRC_SOURCE; }

/* 1 when what sn shows of n is older than what n already shows: a
 * non-terminal state seen before n's latest event was exactly observed
 * (a poll whose request left before it), or an exact observation older
 * than n's latest event. Terminal states are never stale: they are final. */
static int stale(const mdl_node *n, const mdl_snode *sn, const poll_ctx *pc)
{
    if (mdl_status_terminal(sn->status) || n->nevents == 0) return 0;
    const mdl_event *last = &n->events[n->nevents - 1];
    if (pc->exact) return pc->seen_ns < last->time_ns;
    return exact_event(last) && pc->seen_ns < last->before_ns;
}

static int apply_state(mdl_monitor *m, mdl_node *n, const mdl_snode *sn, poll_ctx *pc)
{
    if (stale(n, sn, pc)) {
        pc->partial = 1;
        return 0;
    }
    int changed = 0;
    if (n->start_ns == MDL_NO_TIME && sn->start_ns != MDL_NO_TIME) {
        n->start_ns = sn->start_ns; /* first value wins */
        changed = 1;
    }
    changed |= take_attrs(n, sn, pc);
    changed |= observe(m, n, sn, pc);
    n->status = sn->status < MDL_NSTATUS ? sn->status : MDL_PENDING;
    return changed;
}

int mdl_node_set_strs(mdl_node *n, const char *key, const char *id, const char *name, const char *kind)
{
    key = key ? key : "";
    const char *part[4] = {key, id ? id : "", name && strcmp(name, key) != 0 ? name : "", kind ? kind : ""};
    size_t len[4], total = 0;
    for (int k = 0; k < 4; k++) total += (len[k] = strlen(part[k])) + 1;
    char *s = ex_malloc(total), *o = s;
    if (!s) return -1;
    for (int k = 0; k < 4; k++) {
        memcpy(o, part[k], len[k] + 1);
        o += len[k] + 1;
    }
    ex_free(n->strs);
    n->strs = s;
    n->has_error = 0;
    return 0;
}

/* A node seen for the first time; its index, or MDL_ROOT when it cannot be kept. */
static uint32_t add_node(mdl_monitor *m, const mdl_snode *sn, uint32_t parent, poll_ctx *pc)
{
    mdl_node n = {.start_ns = MDL_NO_TIME, .end_ns = MDL_NO_TIME, .parent = parent, .last_word = MDL_NO_WORD};
    int ok = m->nnodes < m->max_nodes && !mdl_node_set_strs(&n, sn->key, sn->id, sn->name, sn->kind);
    mdl_node *nodes = ok ? ex_realloc(m->nodes, (m->nnodes + 1u) * sizeof *nodes) : NULL;
    if (!nodes) {
        ex_free(n.strs);
        pc->partial = 1;
        if (m->nodes_dropped < UINT16_MAX) m->nodes_dropped++;
        return MDL_ROOT;
    }
    m->nodes = nodes;
    nodes[m->nnodes] = n;
    return m->nnodes++;
}

static const char *node_key_at(const void *items, size_t i) { return mdl_node_key(&((const mdl_node *)items)[i]); }

/* Apply every node of s; map[i] receives the monitor index of s->nodes[i]. */
static int apply_nodes(mdl_monitor *m, const mdl_snapshot *s, uint32_t *map, poll_ctx *pc)
{
    int changed = 0, indexed = 0;
    mdl_keyindex ix = {0};
    if (m->nnodes + s->nnodes > INDEX_FROM)
        indexed = !mdl_ki_build(&ix, m->nodes, m->nnodes, (size_t)m->nnodes + s->nnodes, node_key_at, NULL);
    for (size_t i = 0; i < s->nnodes; i++) {
        const mdl_snode *sn = &s->nodes[i];
        uint32_t at = MDL_ROOT;
        if (indexed) {
            ix.items = m->nodes; /* the array may have moved */
            at = mdl_ki_find(&ix, sn->key);
        } else {
            const mdl_node *found = mdl_monitor_find(m, sn->key);
            if (found) at = (uint32_t)(found - m->nodes);
        }
        if (at == MDL_ROOT) {
            uint32_t parent = sn->parent_idx == MDL_ROOT ? MDL_ROOT : map[sn->parent_idx];
            if ((at = add_node(m, sn, parent, pc)) == MDL_ROOT) {
                map[i] = MDL_ROOT;
                continue;
            }
            if (indexed) {
                ix.items = m->nodes;
                mdl_ki_add(&ix, at);
            }
            changed = 1;
        }
        map[i] = at;
        mdl_node *n = &m->nodes[at];
        if (n->end != MDL_END_OPEN) continue; /* an ended node is final */
        changed |= apply_state(m, n, sn, pc);
        if (mdl_status_terminal(sn->status)) {
            end_node(n, sn, pc);
            changed = 1;
        }
    }
    mdl_ki_free(&ix);
    return changed;
}

/* No memory to map s's nodes: none is taken this time. */
static void drop_all(mdl_monitor *m, poll_ctx *pc)
{
    pc->partial = 1;
    if (m->nodes_dropped < UINT16_MAX) m->nodes_dropped++;
}

/* End the root and every node still open, at `at`, for `why`. */
static void finish(mdl_monitor *m, int64_t at, mdl_end why, mdl_end open_why)
{
    for (size_t i = 0; i < m->nnodes; i++) {
        if (m->nodes[i].end != MDL_END_OPEN) continue;
        m->nodes[i].end = (uint8_t)open_why;
        m->nodes[i].end_ns = at;
    }
    m->root.end = (uint8_t)why;
    m->root.end_ns = at;
    m->version++;
}

/* The root's name, when the snapshot gives one that differs. Returns 1 if changed. */
static int take_root_name(mdl_monitor *m, const mdl_snode *r, poll_ctx *pc)
{
    if (!r->name || (m->root.strs && strcmp(mdl_node_name(&m->root), r->name) == 0)) return 0;
    if (!mdl_node_set_strs(&m->root, "", "", r->name, "")) return 1; /* the root is named before it can fail */
    pc->partial = 1;
    return 0;
}

/* mdl_monitor_apply; *whole says whether all of s was taken. */
static int apply_poll(mdl_monitor *m, const mdl_snapshot *s, int64_t sent_ns, int64_t received_ns, int *changed,
                      int *whole)
{
    int any = 0;
    *whole = 0;
    if (mdl_monitor_done(m)) {
        if (changed) *changed = 0;
        return MDL_DONE;
    }
    if (sent_ns > received_ns) sent_ns = received_ns; /* a caller's clock went back: stay inside the poll */
    poll_ctx pc = {received_ns, m->last_sent_ns, sent_ns, 0, 0};
    uint32_t small[INDEX_FROM], *map = s->nnodes <= INDEX_FROM ? small : ex_malloc(s->nnodes * sizeof *map);
    if (map) any |= apply_nodes(m, s, map, &pc);
    else drop_all(m, &pc);
    if (map != small) ex_free(map);
    any |= take_root_name(m, &s->root, &pc);
    any |= apply_state(m, &m->root, &s->root, &pc);
    m->polls++;
    m->last_sent_ns = sent_ns;
    if (any) m->version++;
    if (mdl_status_terminal(s->root.status)) {
        end_node(&m->root, &s->root, &pc);
        finish(m, m->root.end_ns, (mdl_end)m->root.end, MDL_END_NODE_OPEN);
        any = 1;
    }
    if (changed) *changed = any;
    *whole = !pc.partial;
    return mdl_monitor_done(m) ? MDL_DONE : 0;
}

int mdl_monitor_apply(mdl_monitor *m, const mdl_snapshot *s, int64_t sent_ns, int64_t received_ns, int *changed)
{
    int whole;
    return apply_poll(m, s, sent_ns, received_ns, changed, &whole);
}

int mdl_monitor_apply_doc(mdl_monitor *m, const mdl_snapshot *s, uint64_t doc_hash, int64_t sent_ns,
                          int64_t received_ns, int *changed)
{
    int whole, rc = apply_poll(m, s, sent_ns, received_ns, changed, &whole);
    m->doc_hash = whole && rc != MDL_DONE ? doc_hash : 0;
    m->doc_version = m->version;
    return rc;
}

uint64_t mdl_monitor_doc_hash(const mdl_monitor *m) { return m->version == m->doc_version ? m->doc_hash : 0; }

int mdl_monitor_apply_exact(mdl_monitor *m, const mdl_snapshot *s, int64_t at_ns, int64_t received_ns,
                            int *changed)
{
    int any = 0, rc = 0;
    if (changed) *changed = 0;
    if (mdl_monitor_done(m)) return MDL_DONE;
    int known = at_ns != MDL_NO_TIME;
    poll_ctx pc = {known ? at_ns : received_ns, known ? at_ns : MDL_NO_TIME, known ? at_ns : received_ns, 1, 0};
    uint32_t small[INDEX_FROM], *map = s->nnodes <= INDEX_FROM ? small : ex_malloc(s->nnodes * sizeof *map);
    if (map) any |= apply_nodes(m, s, map, &pc);
    else drop_all(m, &pc);
    if (map != small) ex_free(map);
    if (!s->root_absent) {
        any |= take_root_name(m, &s->root, &pc);
        any |= apply_state(m, &m->root, &s->root, &pc);
        if (mdl_status_terminal(s->root.status)) rc = MDL_CONFIRM;
    }
    if (any) m->version++;
    if (changed) *changed = any;
    return rc;
}

void mdl_monitor_unchanged(mdl_monitor *m, int64_t sent_ns, int64_t received_ns)
{
    if (mdl_monitor_done(m)) return;
    m->polls++;
    m->last_sent_ns = sent_ns < received_ns ? sent_ns : received_ns;
}

void mdl_monitor_poll_failed(mdl_monitor *m)
{
    if (!mdl_monitor_done(m) && m->poll_errors < UINT32_MAX) m->poll_errors++;
}

int mdl_monitor_not_found(mdl_monitor *m, int64_t poll_ns)
{
    if (!mdl_monitor_done(m)) finish(m, poll_ns, MDL_END_NOT_FOUND, MDL_END_NOT_FOUND);
    return MDL_DONE;
}

int mdl_monitor_timeout(mdl_monitor *m, int64_t now_ns)
{
    int64_t deadline = mdl_monitor_deadline(m);
    /* A timer that fires late (or a monitor restored after its deadline)
     * still ends the spans where the monitor gave up. */
    if (!mdl_monitor_done(m)) finish(m, now_ns < deadline ? now_ns : deadline, MDL_END_TIMEOUT, MDL_END_TIMEOUT);
    return MDL_DONE;
}
