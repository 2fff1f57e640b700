/* target_text.c — fuzz runs for the text parsers: the WorkflowStarted
 * event, the API snapshot, durations and ISO 8601 times, Redis addresses,
 * and the credential masker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/duration.h"
#include "core/iso8601.h"
#include "core/mem.h"
#include "core/redis_url.h"
#include "core/secret.h"
#include "targets.h"
#include "targets_int.h"
#include "worker/event.h"
#include "worker/snapshot.h"

/* ---- event ------------------------------------------------------------- */

static void event_check_ok(const wk_event *ev)
{
    size_t n = strnlen(ev->workflow_id, sizeof ev->workflow_id);
    char why[256];
    if (n == 0 || n > WK_EVENT_ID_MAX) fuzz__fail("event", "accepted a workflow id of %zu bytes", n);
    if (wk_event_check_id(ev->workflow_id, n, why, sizeof why))
        fuzz__fail("event", "accepted workflow id \"%s\" that wk_event_check_id rejects: %s", ev->workflow_id, why);
}

int fuzz_run_event(const uint8_t *data, size_t size)
{
    const char *payload = (const char *)data;
    wk_event ev;
    wk_reject reason = WK_NREJECT;
    char why[256], small[8], quoted[96];
    if (wk_event_parse(payload, size, &ev, &reason, why, sizeof why) == 0) {
        event_check_ok(&ev);
    } else {
        if (reason < 0 || reason >= WK_NREJECT) fuzz__fail("event", "rejected with reason %d", (int)reason);
        fuzz__check_terminated("event", "the rejection message", why, sizeof why);
        if (!why[0]) fuzz__fail("event", "rejected (%s) with an empty message", wk_reject_name(reason));
    }
    /* The same input with a message buffer too small for any message. */
    if (wk_event_parse(payload, size, &ev, &reason, small, sizeof small) != 0)
        fuzz__check_terminated("event", "a truncated message", small, sizeof small);
    wk_quote(payload, size, 64, quoted, sizeof quoted);
    fuzz__check_terminated("event", "wk_quote's output", quoted, sizeof quoted);
    wk_quote(payload, size, size, small, sizeof small);
    fuzz__check_terminated("event", "wk_quote's short output", small, sizeof small);
    /* The empty id is the callers' to reject (wk_event_parse: missing_field). */
    if (wk_event_check_id(payload, size, why, sizeof why) == 0 && size > WK_EVENT_ID_MAX)
        fuzz__fail("event", "wk_event_check_id accepted %zu bytes", size);
    return 0;
}

/* ---- snapshot ---------------------------------------------------------- */

/* The id every snapshot input must name (the seed corpus uses it). */
#define SNAPSHOT_ID "wf-1"

static void snapshot_check_times(const char *what, wm_status st, int complete, int64_t start, int64_t end)
{
    int terminal = st == WM_COMPLETED || st == WM_FAILED;
    if (st < 0 || st >= WM_NSTATUS) fuzz__fail("snapshot", "%s status %d", what, (int)st);
    if (complete != terminal) fuzz__fail("snapshot", "%s complete=%d with status %s", what, complete, wm_status_name(st));
    if (complete && (end == WM_NO_TIME || end < start))
        fuzz__fail("snapshot", "%s complete with end %lld before start %lld", what, (long long)end, (long long)start);
    if (!complete && end != WM_NO_TIME) fuzz__fail("snapshot", "%s not complete but has an end time", what);
}

static void snapshot_check_ok(const wm_snapshot *s)
{
    if (s->nstages > WM_MAX_STAGES) fuzz__fail("snapshot", "%zu stages", s->nstages);
    snapshot_check_times("workflow", s->status, s->complete, s->start_ns, s->end_ns);
    fuzz__check_terminated("snapshot", "workflowErrorMessage", s->error, sizeof s->error);
    for (size_t i = 0; i < s->nstages; i++) {
        const wm_snap_stage *st = &s->stages[i];
        fuzz__check_terminated("snapshot", "entityType", st->type, sizeof st->type);
        fuzz__check_terminated("snapshot", "entityId", st->id, sizeof st->id);
        fuzz__check_terminated("snapshot", "entityErrorMessage", st->error, sizeof st->error);
        size_t tl = strlen(st->type);
        if (tl == 0 || strspn(st->type, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != tl)
            fuzz__fail("snapshot", "accepted entity type \"%s\"", st->type);
        if (!st->id[0]) fuzz__fail("snapshot", "accepted an empty entity id");
        snapshot_check_times("entity", st->status, st->complete, st->start_ns, st->end_ns);
    }
}

int fuzz_run_snapshot(const uint8_t *data, size_t size)
{
    static wm_snapshot snap; /* 11 KiB: kept off the stack */
    char why[256], small[5];
    int rc = wm_snapshot_parse((const char *)data, size, SNAPSHOT_ID, &snap, why, sizeof why);
    if (rc == 0) {
        snapshot_check_ok(&snap);
    } else {
        if (rc != WM_ERR_JSON && rc != WM_ERR_CONTRACT) fuzz__fail("snapshot", "returned %d", rc);
        fuzz__check_terminated("snapshot", "the error message", why, sizeof why);
        if (!why[0]) fuzz__fail("snapshot", "error %d with an empty message", rc);
    }
    if (wm_snapshot_parse((const char *)data, size, SNAPSHOT_ID, &snap, small, sizeof small) != rc)
        fuzz__fail("snapshot", "the result depends on the size of the message buffer");
    if (rc) fuzz__check_terminated("snapshot", "a truncated message", small, sizeof small);
    wm_snapshot_parse((const char *)data, size, SNAPSHOT_ID, &snap, NULL, 0);
    /* With the entityProcessingStartTime extension: never accepts more, and
     * an accepted time lies within the entity's start and end. */
    int rx = wm_snapshot_parse_flags((const char *)data, size, SNAPSHOT_ID, WM_PARSE_PROCESSING_TIME, &snap, why,
                                     sizeof why);
    if (rx == 0 && rc != 0) fuzz__fail("snapshot", "the extension accepted what the seed's parser refused");
    for (size_t i = 0; rx == 0 && i < snap.nstages; i++) {
        const wm_snap_stage *st = &snap.stages[i];
        if (st->processing_ns == WM_NO_TIME) continue;
        if (st->processing_ns < st->start_ns || (st->end_ns != WM_NO_TIME && st->processing_ns > st->end_ns) ||
            st->status == WM_INITIALIZING)
            fuzz__fail("snapshot", "accepted entityProcessingStartTime outside its entity");
    }
    return 0;
}

/* ---- durations and times ------------------------------------------------ */

static void time_check_duration(const char *s)
{
    int64_t ns, again;
    const char *why = NULL;
    char buf[EX_DURATION_STR_MAX];
    if (ex_duration_parse(s, &ns, &why)) {
        if (!why || !*why) fuzz__fail("time", "duration \"%s\" rejected without a reason", s);
        return;
    }
    if (ns < 0) fuzz__fail("time", "duration \"%s\" parsed as %lld ns", s, (long long)ns);
    ex_duration_format(ns, buf);
    fuzz__check_terminated("time", "a formatted duration", buf, sizeof buf);
    if (ex_duration_parse(buf, &again, &why) || again != ns)
        fuzz__fail("time", "duration \"%s\" = %lld ns formats as \"%s\", which does not parse back", s,
                   (long long)ns, buf);
}

static void time_check_iso(const char *s, size_t len)
{
    int64_t ns, again;
    const char *why = NULL;
    char buf[EX_ISO_LEN + 1], ms[EX_ISO_MS_LEN + 1];
    if (ex_iso_parse(s, len, &ns, &why)) {
        if (!why || !*why) fuzz__fail("time", "time rejected without a reason");
        return;
    }
    ex_iso_format(ns, buf);
    ex_iso_format_ms(ns, ms);
    if (strlen(buf) != EX_ISO_LEN || strlen(ms) != EX_ISO_MS_LEN)
        fuzz__fail("time", "%lld ns formats as \"%s\" / \"%s\"", (long long)ns, buf, ms);
    /* An offset can move a time out of 1970–2261; inside it, the text
     * written must read back as the same instant (to 100 ns). */
    int year = atoi(buf);
    if (year < 1970 || year > 2261) return;
    int64_t want = ns - ns % 100;
    if (ex_iso_parse(buf, EX_ISO_LEN, &again, &why) || again != want)
        fuzz__fail("time", "%lld ns formats as \"%s\", which does not parse back", (long long)ns, buf);
}

int fuzz_run_time(const uint8_t *data, size_t size)
{
    char *s = fuzz__cstr(data, size);
    time_check_duration(s);
    time_check_iso((const char *)data, size);
    ex_free(s);
    return 0;
}

/* ---- Redis addresses ---------------------------------------------------- */

static void redis_check_ok(const char *s, const ex_redis_addr *a)
{
    char buf[EX_REDIS_ADDR_STR_MAX], url[EX_REDIS_ADDR_STR_MAX + 16], why[256];
    ex_redis_addr b;
    if (a->port < 1 || a->port > 65535) fuzz__fail("redis_url", "\"%s\": port %d", s, a->port);
    fuzz__check_terminated("redis_url", "host", a->host, sizeof a->host);
    fuzz__check_terminated("redis_url", "user", a->user, sizeof a->user);
    fuzz__check_terminated("redis_url", "password", a->password, sizeof a->password);
    if (!a->host[0]) fuzz__fail("redis_url", "\"%s\": empty host", s);
    if (a->db < 0 || a->connect_timeout_ms < 0 || a->command_timeout_ms < 0)
        fuzz__fail("redis_url", "\"%s\": negative db or timeout", s);
    ex_redis_addr_format(a, buf, sizeof buf);
    fuzz__check_terminated("redis_url", "the formatted address", buf, sizeof buf);
    /* For a host name or address, what the logs show names the same
     * server. (Other bytes in a host are left for name resolution to
     * refuse; the log form makes no promise for them.) */
    if (strspn(a->host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:") != strlen(a->host)) return;
    snprintf(url, sizeof url, "redis://%s", buf);
    if (ex_redis_url_parse(url, &b, why, sizeof why))
        fuzz__fail("redis_url", "\"%s\" formats as \"%s\", which does not parse: %s", s, url, why);
    if (strcmp(a->host, b.host) || a->port != b.port || a->db != b.db)
        fuzz__fail("redis_url", "\"%s\" formats as \"%s\", which parses as another server", s, url);
}

int fuzz_run_redis_url(const uint8_t *data, size_t size)
{
    char *s = fuzz__cstr(data, size);
    char why[256], host[256];
    ex_redis_addr a;
    int port = -1;
    if (ex_redis_url_parse(s, &a, why, sizeof why) == 0) redis_check_ok(s, &a);
    else fuzz__check_terminated("redis_url", "the error message", why, sizeof why);
    if ((ex_redis_url_check(s, why, sizeof why) == 0) != (ex_redis_url_parse(s, &a, why, sizeof why) == 0))
        fuzz__fail("redis_url", "ex_redis_url_check and ex_redis_url_parse disagree on \"%s\"", s);
    if (ex_hostport_split(s, host, sizeof host, &port) == 0) {
        fuzz__check_terminated("redis_url", "the split host", host, sizeof host);
        if (port < 0 || port > 65535) fuzz__fail("redis_url", "ex_hostport_split(\"%s\"): port %d", s, port);
    }
    ex_free(s);
    return 0;
}

/* ---- the credential masker --------------------------------------------- */

#define PLANTED "Zx9Qv7Kp" /* a password planted around the input */

/* Templates that put PLANTED where each rule of secret.h must hide it. */
static const char *const secret_templates[] = {
    "redis://alice:%s@h:1", "redis://%s@h", "h:1,password=%s", "Authorization=Bearer %s",
    "authorization: Basic %s", "x-api-key=%s", "{\"token\":\"%s\"}", "sent Bearer %s",
};

/* Mask s into buffers of several sizes: each is terminated, a prefix of
 * the full result and counts the same; the full result masks to itself. */
static void secret_check_cuts(const char *s)
{
    size_t cap = 3 * strlen(s) + 1, sizes[] = {1, 2, 8, 64};
    char *full = ex_malloc(cap), *again = ex_malloc(cap), part[64];
    if (!full || !again) fuzz__fail("secret", "out of memory");
    size_t n = ex_secret_mask(s, full, cap);
    if (strlen(full) >= cap) fuzz__fail("secret", "\"%s\" grew past 3x", s);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        memset(part, 'X', sizeof part);
        if (ex_secret_mask(s, part, sizes[i]) != n) fuzz__fail("secret", "the count depends on the buffer");
        fuzz__check_terminated("secret", "a cut result", part, sizes[i]);
        size_t pl = strlen(part), fl = strlen(full), want = fl < sizes[i] - 1 ? fl : sizes[i] - 1;
        if (pl != want || strncmp(part, full, pl) != 0)
            fuzz__fail("secret", "\"%s\" cut to %zu bytes is \"%s\", not a prefix of \"%s\"", s, sizes[i], part, full);
    }
    ex_secret_mask(full, again, cap);
    if (strcmp(full, again) != 0) fuzz__fail("secret", "\"%s\" masks to \"%s\", then to \"%s\"", s, full, again);
    memcpy(again, s, strlen(s) + 1);
    if (ex_secret_mask_inplace(again, cap) != n || strcmp(again, full) != 0)
        fuzz__fail("secret", "\"%s\": in place gives \"%s\", not \"%s\"", s, again, full);
    ex_free(full);
    ex_free(again);
}

int fuzz_run_secret(const uint8_t *data, size_t size)
{
    char *s = fuzz__cstr(data, size);
    secret_check_cuts(s);
    if (!strstr(s, PLANTED)) {
        size_t len = strlen(s), cap = 2 * len + 128;
        char *text = ex_malloc(cap), *out = ex_malloc(3 * cap), tmpl[64];
        if (!text || !out) fuzz__fail("secret", "out of memory");
        for (size_t i = 0; i < sizeof secret_templates / sizeof *secret_templates; i++) {
            snprintf(tmpl, sizeof tmpl, secret_templates[i], PLANTED);
            snprintf(text, cap, "%s %s %s", s, tmpl, s);
            ex_secret_mask(text, out, 3 * cap);
            if (strstr(out, PLANTED)) fuzz__fail("secret", "\"%s\" masks to \"%s\": the password shows", text, out);
        }
        ex_free(text);
        ex_free(out);
    }
    ex_free(s);
    return 0;
}
