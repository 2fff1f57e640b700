/* webhook_map.c — a delivery through webhook.map to key, time and partial snapshot. */
#include "source/webhook_map.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "source/template.h"
#include "worker/event.h"

void sr_hook_clear(sr_hook *h)
{
    mdl_snapshot_clear(&h->snap);
    ex_free(h->snap.nodes);
    mdl_snapshot_init(&h->snap);
    h->has_snapshot = 0;
}

/* A shown value for messages. */
static const char *show(const json_t *v, char *buf, size_t len)
{
    char *d = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    wk_quote(d ? d : "null", d ? strlen(d) : 4, 64, buf, len);
    free(d);
    return buf;
}

/* The key: a string, or an object with the profile's parts in its order. */
static int take_key(const sr_profile *p, const json_t *k, char *out, size_t outlen, char *err, size_t errlen)
{
    char b[200];
    if (json_is_string(k)) {
        if (json_string_length(k) >= outlen) goto bad;
        memcpy(out, json_string_value(k), json_string_length(k) + 1);
    } else if (json_is_object(k)) {
        size_t o = 0;
        for (size_t i = 0; i < p->nkey; i++) {
            const json_t *v = json_object_get(k, p->key[i]);
            int w = json_is_string(v) ? snprintf(out + o, outlen - o, "%s%s", i ? "/" : "", json_string_value(v))
                    : json_is_integer(v) ? snprintf(out + o, outlen - o, "%s%" PRId64, i ? "/" : "",
                                                    (int64_t)json_integer_value(v))
                                         : -1;
            if (w < 0) {
                snprintf(err, errlen, "%s: webhook.map: key.%s: expected a string or a whole number, got %s",
                         p->origin, p->key[i], show(v, b, sizeof b));
                return -1;
            }
            if ((size_t)w >= outlen - o) goto bad;
            o += (size_t)w;
        }
    } else {
        goto bad;
    }
    sr_key key;
    char why[SR_ERR_LEN];
    if (sr_key_parse(p, out, strlen(out), &key, why, sizeof why)) {
        snprintf(err, errlen, "%s: webhook.map: %s", p->origin, why);
        return -1;
    }
    sr_key_free(&key);
    return 0;
bad:
    snprintf(err, errlen, "%s: webhook.map: key: expected a string or an object of the key's parts (at most %d bytes), got %s",
             p->origin, SR_HOOK_KEY_MAX, show(k, b, sizeof b));
    return -1;
}

/* input (+ "key" as parts) through the profile's map: the snapshot's JSON, or NULL with err. */
static json_t *through_map(const sr_profile *p, sr_jq *map_jq, json_t *input, const char *key, sr_jq_error *kind,
                           char *err, size_t errlen)
{
    sr_key k;
    char why[SR_ERR_LEN];
    json_t *parts = json_object(), *snap = NULL;
    if (!parts || sr_key_parse(p, key, strlen(key), &k, why, sizeof why)) {
        json_decref(parts);
        snprintf(err, errlen, "%s: webhook.map: out of memory", p->origin);
        return NULL;
    }
    for (size_t i = 0; i < k.n; i++) json_object_set_new(parts, p->key[i], json_string(k.parts[i]));
    sr_key_free(&k);
    json_object_set_new(input, "key", parts);
    *kind = sr_jq_run_json(map_jq, input, &snap, err, errlen);
    return snap;
}

static int check_output(const sr_profile *p, sr_jq *map_jq, json_t *o, sr_hook *out, sr_jq_error *kind, char *err,
                        size_t errlen)
{
    char b[200], why[SR_ERR_LEN];
    static const char *const fields[] = {"key", "at", "snapshot", "input", "root"};
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v) {
        size_t i = 0;
        while (i < 5 && strcmp(fields[i], name) != 0) i++;
        if (i == 5) {
            snprintf(err, errlen, "%s: webhook.map: unknown output field %s (key, at, snapshot, input, root)", p->origin,
                     wk_quote(name, strlen(name), 64, b, sizeof b));
            return -1;
        }
    }
    if (take_key(p, json_object_get(o, "key"), out->key, sizeof out->key, err, errlen)) return -1;
    if (mdl_time_from_json(json_object_get(o, "at"), &out->at_ns)) {
        snprintf(err, errlen, "%s: webhook.map: at: expected an RFC 3339 time, unix seconds or null, got %s", p->origin,
                 show(json_object_get(o, "at"), b, sizeof b));
        return -1;
    }
    json_t *snap = json_object_get(o, "snapshot"), *input = json_object_get(o, "input"), *root = json_object_get(o, "root");
    if (input && !json_is_null(input)) {
        if (!json_is_object(input) || (snap && !json_is_null(snap)) || (root && !json_is_boolean(root))) {
            snprintf(err, errlen, "%s: webhook.map: input: expected an object (without snapshot; root true or false), got %s",
                     p->origin, show(input, b, sizeof b));
            return -1;
        }
        if (!(snap = through_map(p, map_jq, input, out->key, kind, err, errlen))) return -1;
        int rc = mdl_snapshot_from_json(&out->snap, snap, why, sizeof why);
        json_decref(snap);
        if (rc) {
            snprintf(err, errlen, "%s: map (of webhook.map's input): %s", p->origin, why);
            return -1;
        }
        out->snap.root_absent = (uint8_t)json_is_false(root);
        out->has_snapshot = 1;
        return 0;
    }
    if (!snap || json_is_null(snap)) return 0;
    if (mdl_snapshot_from_json_partial(&out->snap, snap, why, sizeof why)) {
        snprintf(err, errlen, "%s: webhook.map: snapshot: %s", p->origin, why);
        return -1;
    }
    out->has_snapshot = 1;
    return 0;
}

int sr_hook_map(const sr_profile *p, sr_jq *jq, sr_jq *map_jq, const char *event, const char *delivery, const char *body,
                size_t len, sr_hook *out, sr_jq_error *kind, char *err, size_t errlen)
{
    json_t *o = NULL;
    memset(out, 0, sizeof *out);
    mdl_snapshot_init(&out->snap);
    out->at_ns = MDL_NO_TIME;
    *kind = sr_jq_run_hook(jq, event, delivery, body, len, &o, err, errlen);
    if (*kind != SR_JQ_OK) return SR_HOOK_BAD;
    if (!o) return SR_HOOK_NOTHING;
    int rc = check_output(p, map_jq, o, out, kind, err, errlen);
    json_decref(o);
    if (rc) sr_hook_clear(out);
    return rc ? SR_HOOK_BAD : SR_HOOK_MAPPED;
}
