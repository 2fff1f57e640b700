#include "worker/monitor.h"

#include <string.h>

#include "core/mem.h"

#define EVENTS_STEP 4 /* events grow by this many slots: little slack per monitor */

/* The poll being applied: it brackets every event it records. */
typedef struct poll_ctx {
    int64_t before_ns; /* this poll's reply arrived */
    int64_t after_ns;  /* the previous successful poll's request left, or WM_NO_TIME */
} poll_ctx;

/* The API's own times for one span's statuses (WM_NO_TIME: not known). */
typedef struct source_times {
    int64_t initializing_ns; /* the start */
    int64_t processing_ns;   /* workflow: its first stage's start; stage: entityProcessingStartTime if read */
    int64_t end_ns;          /* Completed / Failed: the end */
} source_times;

wm_monitor *wm_monitor_new(const char *workflow_id, int64_t submitted_at_ns, int64_t now_ns, int64_t timeout_ns)
{
    size_t len = workflow_id ? strlen(workflow_id) : 0;
    if (len == 0 || len > WM_ID_MAX) return NULL;
    wm_monitor *m = ex_calloc(1, sizeof *m + len + 1);
    if (!m) return NULL;
    m->submitted_ns = submitted_at_ns;
    m->created_ns = now_ns;
    m->timeout_ns = timeout_ns;
    m->start_ns = m->end_ns = m->last_sent_ns = WM_NO_TIME;
    m->last_status = WM_NO_STATUS;
    m->end = WM_END_OPEN;
    memcpy(m->workflow_id, workflow_id, len + 1);
    return m;
}

void wm_monitor_free(wm_monitor *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nstages; i++) {
        ex_free(m->stages[i].names);
        ex_free(m->stages[i].error);
    }
    ex_free(m->stages);
    ex_free(m->events);
    ex_free(m->error);
    ex_free(m);
}

const char *wm_stage_type(const wm_stage *st) { return st->names; }

const char *wm_stage_id(const wm_stage *st) { return st->names + strlen(st->names) + 1; }

int64_t wm_monitor_deadline(const wm_monitor *m)
{
    if (m->timeout_ns > 0 && m->created_ns > INT64_MAX - m->timeout_ns) return INT64_MAX;
    return m->created_ns + m->timeout_ns;
}

int wm_monitor_done(const wm_monitor *m) { return m->end != WM_END_OPEN; }

size_t wm_monitor_size_bytes(const wm_monitor *m)
{
    size_t n = sizeof *m + strlen(m->workflow_id) + 1;
    n += m->nstages * sizeof *m->stages + m->events_cap * sizeof *m->events;
    if (m->error) n += strlen(m->error) + 1;
    for (size_t i = 0; i < m->nstages; i++) {
        const wm_stage *st = &m->stages[i];
        n += strlen(wm_stage_type(st)) + strlen(wm_stage_id(st)) + 2;
        if (st->error) n += strlen(st->error) + 1;
    }
    return n;
}

static int has_event(const wm_monitor *m, uint8_t owner, uint8_t status)
{
    for (size_t i = 0; i < m->nevents; i++)
        if (m->events[i].owner == owner && m->events[i].status == status) return 1;
    return 0;
}

/* Keep one event, or count it as dropped at the limit or without memory. */
static void add_event(wm_monitor *m, uint8_t owner, uint8_t status, int64_t time_ns, uint8_t source,
                      const poll_ctx *pc)
{
    if (m->nevents == m->events_cap) {
        size_t cap = (size_t)m->events_cap + EVENTS_STEP;
        wm_event *ev = cap <= WM_MAX_EVENTS ? ex_realloc(m->events, cap * sizeof *ev) : NULL;
        if (!ev) {
            if (m->events_dropped < UINT16_MAX) m->events_dropped++;
            return;
        }
        m->events = ev;
        m->events_cap = (uint8_t)cap;
    }
    m->events[m->nevents++] = (wm_event){time_ns, pc->before_ns, pc->after_ns, owner, status, source};
}

/* The span `owner` was seen in `now` (last seen in *last). On a change,
 * record its event: at the API's time for that status the first time the
 * status is seen, at the poll time otherwise (a status the API has no time
 * for, or one that came back). A span first seen past Initializing still
 * gets its Initializing event at its start: every workflow and stage begins
 * there. Returns 1 if anything changed. */
static int observe(wm_monitor *m, uint8_t owner, uint8_t *last, wm_status now, const source_times *src,
                   const poll_ctx *pc)
{
    if (*last == now) return 0;
    if (*last == WM_NO_STATUS && now != WM_INITIALIZING)
        add_event(m, owner, WM_INITIALIZING, src->initializing_ns, WM_SRC_SOURCE, pc);
    int64_t t = now == WM_INITIALIZING ? src->initializing_ns
              : now == WM_PROCESSING   ? src->processing_ns
                                       : src->end_ns;
    if (t == WM_NO_TIME || has_event(m, owner, (uint8_t)now))
        add_event(m, owner, (uint8_t)now, pc->before_ns, WM_SRC_POLL, pc);
    else
        add_event(m, owner, (uint8_t)now, t, WM_SRC_SOURCE, pc);
    *last = (uint8_t)now;
    return 1;
}

static int find_stage(const wm_monitor *m, const char *type)
{
    for (int i = 0; i < m->nstages; i++)
        if (strcmp(wm_stage_type(&m->stages[i]), type) == 0) return i;
    return -1;
}

/* A stage seen for the first time; its index, or -1 when it cannot be kept. */
static int add_stage(wm_monitor *m, const wm_snap_stage *ss)
{
    size_t tlen = strlen(ss->type), ilen = strlen(ss->id);
    char *names = m->nstages < WM_MAX_STAGES ? ex_malloc(tlen + ilen + 2) : NULL;
    wm_stage *stages = names ? ex_realloc(m->stages, (m->nstages + 1u) * sizeof *stages) : NULL;
    if (!stages) {
        ex_free(names);
        if (m->stages_dropped < UINT16_MAX) m->stages_dropped++;
        return -1;
    }
    memcpy(names, ss->type, tlen + 1);
    memcpy(names + tlen + 1, ss->id, ilen + 1);
    m->stages = stages;
    stages[m->nstages] = (wm_stage){ss->start_ns, WM_NO_TIME, names, NULL, WM_NO_STATUS, WM_END_OPEN};
    return m->nstages++;
}

/* A copy of the API's message when there is one; NULL (the span builder
 * then says so) when it is empty or memory is short. */
static char *message_copy(int has, const char *msg) { return has && msg[0] ? ex_strdup(msg) : NULL; }

/* Apply one stage of the snapshot. Returns 1 if anything changed. */
static int apply_stage(wm_monitor *m, const wm_snap_stage *ss, const poll_ctx *pc)
{
    int changed = 0, i = find_stage(m, ss->type);
    if (i < 0) {
        if ((i = add_stage(m, ss)) < 0) return 0;
        changed = 1;
    }
    wm_stage *st = &m->stages[i];
    if (st->end != WM_END_OPEN) return changed; /* an ended stage is final */
    source_times src = {st->start_ns, ss->processing_ns, ss->end_ns};
    changed |= observe(m, (uint8_t)i, &st->last_status, ss->status, &src, pc);
    if (ss->complete) {
        st->end_ns = ss->end_ns;
        st->end = ss->status == WM_FAILED ? WM_END_FAILED : WM_END_OK;
        if (st->end == WM_END_FAILED) st->error = message_copy(ss->has_error, ss->error);
        changed = 1;
    }
    return changed;
}

/* End the workflow and every stage still open, at `at`, for `why`. */
static void finish(wm_monitor *m, int64_t at, wm_end why, wm_end open_stage_why)
{
    for (size_t i = 0; i < m->nstages; i++) {
        if (m->stages[i].end != WM_END_OPEN) continue;
        m->stages[i].end = (uint8_t)open_stage_why;
        m->stages[i].end_ns = at;
    }
    m->end = (uint8_t)why;
    m->end_ns = at;
    m->version++;
}

int wm_monitor_apply(wm_monitor *m, const wm_snapshot *s, int64_t sent_ns, int64_t received_ns, int *changed)
{
    int any = 0;
    if (wm_monitor_done(m)) {
        if (changed) *changed = 0;
        return WM_DONE;
    }
    if (sent_ns > received_ns) sent_ns = received_ns; /* a caller's clock went back: stay inside the poll */
    poll_ctx pc = {received_ns, m->last_sent_ns};
    if (m->start_ns == WM_NO_TIME) {
        m->start_ns = s->start_ns; /* first value wins, like the startTime attribute */
        any = 1;
    }
    for (size_t i = 0; i < s->nstages; i++) any |= apply_stage(m, &s->stages[i], &pc);
    /* The contract: a workflow becomes Processing exactly when its first stage is added. */
    source_times src = {m->start_ns, s->nstages ? s->stages[0].start_ns : WM_NO_TIME, s->end_ns};
    any |= observe(m, WM_OWNER_WORKFLOW, &m->last_status, s->status, &src, &pc);
    m->polls++;
    m->last_sent_ns = sent_ns;
    if (any) m->version++;
    if (s->complete) {
        wm_end why = s->status == WM_FAILED ? WM_END_FAILED : WM_END_OK;
        if (why == WM_END_FAILED) m->error = message_copy(s->has_error, s->error);
        finish(m, s->end_ns, why, WM_END_STAGE_OPEN);
        any = 1;
    }
    if (changed) *changed = any;
    return wm_monitor_done(m) ? WM_DONE : WM_RUNNING;
}

void wm_monitor_poll_failed(wm_monitor *m, int64_t poll_ns, int kind)
{
    (void)poll_ns;
    (void)kind;
    if (!wm_monitor_done(m) && m->poll_errors < UINT32_MAX) m->poll_errors++;
}

int wm_monitor_not_found(wm_monitor *m, int64_t poll_ns)
{
    if (!wm_monitor_done(m)) finish(m, poll_ns, WM_END_NOT_FOUND, WM_END_NOT_FOUND);
    return WM_DONE;
}

int wm_monitor_timeout(wm_monitor *m, int64_t now_ns)
{
    int64_t deadline = wm_monitor_deadline(m);
    /* A timer that fires late (or a monitor restored after its deadline)
     * still ends the spans where the monitor gave up. */
    if (!wm_monitor_done(m)) finish(m, now_ns < deadline ? now_ns : deadline, WM_END_TIMEOUT, WM_END_TIMEOUT);
    return WM_DONE;
}
