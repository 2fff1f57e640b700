/* live_feed.c — the change feed: a ring of rendered SSE messages (live.h). */
#include <inttypes.h>
#include <string.h>

#include "core/iso8601.h"
#include "core/mem.h"
#include "model/spans.h"
#include "otel/ids.h"
#include "worker/live.h"

void wk_feed_init(wk_feed *f)
{
    memset(f, 0, sizeof *f);
    f->oldest = 1;
}

static void drop_oldest(wk_feed *f)
{
    wk_feed_msg *s = &f->slots[f->oldest % WK_FEED_SLOTS];
    if (s->seq == f->oldest && s->text) {
        f->bytes -= s->len;
        ex_free(s->text);
    }
    memset(s, 0, sizeof *s);
    f->oldest++;
}

void wk_feed_clear(wk_feed *f)
{
    while (f->oldest <= f->last) drop_oldest(f);
    f->oldest = f->last + 1;
}

void wk_feed_keep(wk_feed *f, int keep)
{
    if (!keep) wk_feed_clear(f);
    f->keep = keep;
}

const wk_feed_msg *wk_feed_get(const wk_feed *f, uint64_t seq)
{
    if (seq < f->oldest || seq > f->last) return NULL;
    const wk_feed_msg *s = &f->slots[seq % WK_FEED_SLOTS];
    return s->seq == seq && s->text ? s : NULL;
}

/* Number the next message; keep "id/event/data" when clients listen. */
static void push(wk_feed *f, const char *event, const sim_buf *data)
{
    uint64_t seq = ++f->last;
    f->messages++;
    if (!f->keep) {
        f->oldest = seq + 1;
        return;
    }
    while (f->oldest + WK_FEED_SLOTS <= seq) drop_oldest(f); /* its slot */
    wk_feed_msg *s = &f->slots[seq % WK_FEED_SLOTS];
    sim_buf t;
    sim_buf_init(&t, WK_FEED_MSG_MAX + 64);
    if (data->overflow ||
        sim_buf_printf(&t, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", seq, event, data->data ? data->data : "{}")) {
        sim_buf_free(&t); /* a client that needs it finds it missing and is disconnected */
        *s = (wk_feed_msg){seq, NULL, 0};
        return;
    }
    *s = (wk_feed_msg){seq, t.data, t.len};
    f->bytes += t.len;
    while (f->bytes > WK_FEED_MAX_BYTES && f->oldest < seq) drop_oldest(f);
}

static void put_str(sim_buf *b, const char *s) { sim_buf_json_string(b, s, strlen(s)); }

/* {"key":…,"source":… */
static void head(sim_buf *b, const wk_live_ctx *c, const mdl_monitor *m)
{
    sim_buf_init(b, WK_FEED_MSG_MAX);
    sim_buf_puts(b, "{\"key\":");
    put_str(b, m->key);
    sim_buf_puts(b, ",\"source\":");
    put_str(b, c->source);
}

static void put_trace(sim_buf *b, const wk_live_ctx *c, const mdl_monitor *m)
{
    uint8_t trace[16];
    char hex[33];
    mdl_trace_id(c->ns, c->source, m->key, trace);
    sim_buf_printf(b, ",\"traceId\":\"%s\"", exo_hex(trace, 16, hex));
}

static void put_time(sim_buf *b, int64_t ns)
{
    char iso[EX_ISO_LEN + 1];
    sim_buf_printf(b, ",\"time\":\"%s\"}", ex_iso_format(ns, iso));
}

void wk_feed_watch(wk_feed *f, const wk_live_ctx *c, const mdl_monitor *m, int64_t now_ns)
{
    sim_buf b;
    if (!f->keep) { push(f, "watch", NULL); return; }
    head(&b, c, m);
    put_trace(&b, c, m);
    put_time(&b, now_ns);
    push(f, "watch", &b);
    sim_buf_free(&b);
}

void wk_feed_end(wk_feed *f, const wk_live_ctx *c, const mdl_monitor *m, int64_t now_ns)
{
    sim_buf b;
    if (!f->keep) { push(f, "end", NULL); return; }
    head(&b, c, m);
    put_trace(&b, c, m);
    sim_buf_printf(&b, ",\"status\":\"%s\"", mdl_status_name(mdl_node_status(&m->root)));
    put_time(&b, m->root.end_ns != MDL_NO_TIME ? m->root.end_ns : now_ns);
    push(f, "end", &b);
    sim_buf_free(&b);
}

void wk_feed_before(wk_feed *f, const mdl_monitor *m)
{
    f->pre_mon = m;
    f->pre_total = m->nevents;
    if (!f->keep) return;
    f->pre_nnodes = m->nnodes;
    for (uint32_t i = 0; i <= m->nnodes; i++) {
        const mdl_node *n = i == 0 ? &m->root : &m->nodes[i - 1];
        f->pre_events[i] = n->nevents;
        f->pre_status[i] = (uint8_t)mdl_node_status(n);
        f->pre_word[i] = n->last_word;
    }
}

/* An event "state" for each event of n past its first `from_ev`; slot: n's index in the pre_ arrays. */
static void node_events(wk_feed *f, const wk_live_ctx *c, const mdl_monitor *m, const mdl_node *n, uint32_t slot)
{
    int existed = slot == 0 || slot - 1 < f->pre_nnodes;
    size_t from_ev = existed ? f->pre_events[slot] : 0;
    const char *prev = existed && f->pre_word[slot] != MDL_NO_WORD ? mdl_status_name(f->pre_status[slot]) : NULL;
    for (size_t k = from_ev; k < n->nevents; k++) {
        int last = k + 1 == n->nevents;
        /* Only a node's first sighting records two events: the state it began in (pending), then its own. */
        const char *to = last ? mdl_status_name(mdl_node_status(n)) : mdl_status_name(MDL_PENDING);
        sim_buf b;
        head(&b, c, m);
        sim_buf_puts(&b, ",\"node\":");
        if (slot == 0) sim_buf_puts(&b, "null");
        else put_str(&b, mdl_node_key(n));
        sim_buf_puts(&b, ",\"name\":");
        put_str(&b, mdl_monitor_word(m, n->events[k].word));
        sim_buf_puts(&b, ",\"from\":");
        if (prev) sim_buf_printf(&b, "\"%s\"", prev);
        else sim_buf_puts(&b, "null");
        sim_buf_printf(&b, ",\"to\":\"%s\",\"sourceStatus\":", to);
        put_str(&b, mdl_monitor_word(m, last ? n->last_word : n->events[k].word));
        put_time(&b, n->events[k].time_ns);
        push(f, "state", &b);
        sim_buf_free(&b);
        prev = to;
    }
}

void wk_feed_after(wk_feed *f, const wk_live_ctx *c, const mdl_monitor *m)
{
    if (f->pre_mon != m) return;
    f->pre_mon = NULL;
    if (!f->keep) { /* numbered only */
        for (uint32_t k = f->pre_total; k < m->nevents; k++) push(f, "state", NULL);
        return;
    }
    for (uint32_t i = 0; i < m->nnodes; i++) node_events(f, c, m, &m->nodes[i], i + 1);
    node_events(f, c, m, &m->root, 0);
}
