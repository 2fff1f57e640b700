/* target_webhook.c — fuzz run for webhook deliveries: the signature check
 * (src/source/webhook_sig.h), the de-duplication set, and the
 * github-actions profile's webhook.map (src/source/webhook_map.h) with the
 * partial snapshot it yields applied to a monitor as exact observations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "model/monitor.h"
#include "source/builtin.h"
#include "source/webhook_map.h"
#include "source/webhook_sig.h"
#include "targets.h"
#include "targets_int.h"

#define SECRET "fuzz-secret"

static sr_profile *gh;
static sr_jq *hook_jq, *map_jq;

/* The profile is loaded once (plain memory); the jq programs are compiled
 * per input and torn down after it: a live jq_state's stack is held by a
 * pointer past its end, which LeakSanitizer takes for a leak. */
static void load(void)
{
    char err[SR_ERR_LEN];
    if (!gh && (sr_profile_load_any("github-actions", &gh, err, sizeof err) || !gh->webhook))
        fuzz__fail("webhook", "the github-actions profile: %s", err);
    if (sr_jq_compile_prog(gh->origin, "webhook.map", gh->webhook->map, gh->webhook->map_line, 1, &hook_jq, err,
                           sizeof err) ||
        sr_jq_compile(gh, &map_jq, err, sizeof err))
        fuzz__fail("webhook", "the github-actions programs: %s", err);
}

static void signature(const char *header, const char *body, size_t len)
{
    sr_sig_result r = sr_sig_check(SR_SIG_HMAC_SHA256, "sha256=", SECRET, strlen(SECRET), body, len, header);
    if (r > SR_SIG_OK || r < SR_SIG_MISMATCH) fuzz__fail("webhook", "signature result %d", (int)r);
    if (r == SR_SIG_OK) fuzz__fail("webhook", "a fuzzed signature matched");
    char sig[80];
    if (sr_sig_sign(SR_SIG_HMAC_SHA256, "sha256=", SECRET, strlen(SECRET), body, len, sig, sizeof sig) ||
        sr_sig_check(SR_SIG_HMAC_SHA256, "sha256=", SECRET, strlen(SECRET), body, len, sig) != SR_SIG_OK)
        fuzz__fail("webhook", "a body's own signature does not check");
    if (sr_sig_check(SR_SIG_TOKEN, "", SECRET, strlen(SECRET), body, len, header) == SR_SIG_OK &&
        strcmp(header, SECRET) != 0)
        fuzz__fail("webhook", "token \"%s\" accepted", header);
}

static void dedup(const char *id)
{
    sr_dedup d;
    if (sr_dedup_init(&d, 4)) return;
    if (sr_dedup_seen(&d, id, strlen(id))) fuzz__fail("webhook", "an empty set has \"%s\"", id);
    sr_dedup_add(&d, id, strlen(id));
    if (!sr_dedup_seen(&d, id, strlen(id))) fuzz__fail("webhook", "\"%s\" forgotten at once", id);
    sr_dedup_free(&d);
}

/* Input: the signature header line, then the event name line, then the body. */
int fuzz_run_webhook(const uint8_t *data, size_t size)
{
    load();
    char *text = fuzz__cstr(data, size);
    char *event = strchr(text, '\n');
    char *body = event ? strchr(event + 1, '\n') : NULL;
    if (event) *event++ = '\0';
    if (body) *body++ = '\0';
    const char *b = body ? body : "";
    size_t blen = body ? size - (size_t)(body - text) : 0;
    signature(text, b, blen);
    dedup(text);
    sr_hook h;
    sr_jq_error kind;
    char err[SR_ERR_LEN];
    int rc = sr_hook_map(gh, hook_jq, map_jq, event, text, b, blen, &h, &kind, err, sizeof err);
    if (rc == SR_HOOK_BAD) {
        fuzz__check_terminated("webhook", "the error", err, sizeof err);
    } else if (rc == SR_HOOK_MAPPED) {
        sr_key k;
        if (sr_key_parse(gh, h.key, strlen(h.key), &k, err, sizeof err)) fuzz__fail("webhook", "mapped key: %s", err);
        sr_key_free(&k);
        mdl_monitor *m = mdl_monitor_new(h.key, 0, 0, INT64_C(600000000000), MDL_MAX_NODES, MDL_DEF_MAX_EVENTS);
        if (m && h.has_snapshot) {
            int changed;
            int r1 = mdl_monitor_apply_exact(m, &h.snap, h.at_ns, INT64_C(1700000000000000000), &changed);
            int r2 = mdl_monitor_apply_exact(m, &h.snap, h.at_ns, INT64_C(1700000000000000000), &changed);
            if (r1 < 0 || r1 > MDL_CONFIRM || r2 != r1) fuzz__fail("webhook", "apply_exact %d then %d", r1, r2);
            if (mdl_monitor_done(m)) fuzz__fail("webhook", "an exact observation ended the monitor");
        }
        mdl_monitor_free(m);
        sr_hook_clear(&h);
    } else if (rc != SR_HOOK_NOTHING) {
        fuzz__fail("webhook", "sr_hook_map returned %d", rc);
    }
    ex_free(text);
    sr_jq_free(hook_jq);
    sr_jq_free(map_jq);
    hook_jq = map_jq = NULL;
    return 0;
}
