/* webhook_load.c — the profile's `webhook:` section (profile.h, sr_webhook):
 *
 *   webhook:
 *     signature: hmac-sha256            # or token
 *     signature_header: X-Hub-Signature-256
 *     signature_prefix: "sha256="       # hmac-sha256 only; default "sha256="
 *     event_header: X-GitHub-Event      # optional
 *     delivery_header: X-GitHub-Delivery # optional: de-duplicated
 *     events: [workflow_run, workflow_job] # optional: others are ignored
 *     map: |                            # jq
 *       …
 * The secret itself is never in a profile: the worker reads it from
 * --webhook-secret-file or EXTRACE_WEBHOOK_SECRET. */
#include <string.h>

#include "core/mem.h"
#include "source/profile.h"
#include "source/profile_int.h"
#include "source/profile_load.h"

#define EVENTS_MAX 32

void sr_webhook_free(sr_webhook *w)
{
    if (!w) return;
    ex_free(w->signature_header);
    ex_free(w->signature_prefix);
    ex_free(w->event_header);
    ex_free(w->delivery_header);
    for (size_t i = 0; i < w->nevents; i++) ex_free(w->events[i]);
    ex_free(w->events);
    ex_free(w->map);
    ex_free(w);
}

/* A header name field (optional unless required). */
static int header_field(sr_ld *l, const sr_field *f, const char *path, int required, yaml_node_t *at, char **out)
{
    char q[160];
    if (!f->node) return required ? sr_ld_fail(l, at, path, "missing (a header name)") : 0;
    if (sr_ld_str(l, f->node, path, 128, "", out) != 0) return -1;
    if (!sr_is_token(*out, strlen(*out))) return sr_ld_fail(l, f->node, path, "%s is not a header name", sr_ld_quote(f->node, q, sizeof q));
    return 0;
}

static int load_events(sr_ld *l, yaml_node_t *n, sr_webhook *w)
{
    char q[160];
    if (sr_ld_want(l, n, YAML_SEQUENCE_NODE, "webhook.events") != 0) return -1;
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0 || count > EVENTS_MAX) return sr_ld_fail(l, n, "webhook.events", "1..%d names, found %zu", EVENTS_MAX, count);
    if (!(w->events = ex_calloc(count, sizeof *w->events))) return sr_ld_fail(l, n, "webhook.events", "out of memory");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(l->doc, *it);
        if (!e || sr_ld_str(l, e, "webhook.events", SR_NAME_MAX, "", &w->events[w->nevents]) != 0) return -1;
        const char *v = w->events[w->nevents++];
        if (!sr_is_request_name(v, strlen(v)))
            return sr_ld_fail(l, e, "webhook.events", "%s: an event name is [a-z0-9_]+", sr_ld_quote(e, q, sizeof q));
    }
    return 0;
}

int sr_ld_webhook(sr_ld *l, yaml_node_t *n)
{
    char q[160];
    sr_field f[] = {{"signature"}, {"signature_header"}, {"signature_prefix"}, {"event_header"},
                    {"delivery_header"}, {"events"}, {"map"}};
    if (sr_ld_fields(l, n, "webhook", f, sizeof f / sizeof f[0]) != 0) return -1;
    sr_webhook *w = ex_calloc(1, sizeof *w);
    if (!w) return sr_ld_fail(l, n, "webhook", "out of memory");
    l->p->webhook = w; /* freed with the profile */
    yaml_node_t *t = f[0].node;
    if (!t) return sr_ld_fail(l, n, "webhook.signature", "missing (hmac-sha256, token)");
    const char *tv = t->type == YAML_SCALAR_NODE ? (const char *)t->data.scalar.value : "";
    size_t tl = t->type == YAML_SCALAR_NODE ? t->data.scalar.length : 0;
    if (sr_ieq(tv, tl, "hmac-sha256")) w->signature = SR_SIG_HMAC_SHA256;
    else if (sr_ieq(tv, tl, "token")) w->signature = SR_SIG_TOKEN;
    else return sr_ld_fail(l, t, "webhook.signature", "unknown value %s (hmac-sha256, token)", sr_ld_quote(t, q, sizeof q));
    if (header_field(l, &f[1], "webhook.signature_header", 1, n, &w->signature_header) != 0) return -1;
    if (f[2].node && w->signature != SR_SIG_HMAC_SHA256)
        return sr_ld_fail(l, f[2].node, "webhook.signature_prefix", "only for signature hmac-sha256");
    if (sr_ld_opt_str(l, &f[2], "webhook.signature_prefix", 64, w->signature == SR_SIG_HMAC_SHA256 ? "sha256=" : "",
                      &w->signature_prefix) != 0)
        return -1;
    if (header_field(l, &f[3], "webhook.event_header", 0, n, &w->event_header) != 0 ||
        header_field(l, &f[4], "webhook.delivery_header", 0, n, &w->delivery_header) != 0)
        return -1;
    if (f[5].node && load_events(l, f[5].node, w) != 0) return -1;
    if (!f[6].node) return sr_ld_fail(l, n, "webhook.map", "missing (the jq program that maps a delivery)");
    return sr_ld_program(l, f[6].node, "webhook.map", &w->map, &w->map_line);
}
