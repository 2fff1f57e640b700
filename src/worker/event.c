#include "worker/event.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/iso8601.h"
#include "otel/traceparent.h"

#define QUOTE_MAX 64 /* bytes of a value shown in a message */

static const char *const reject_names[WK_NREJECT] = {"json", "missing_field", "bad_id", "bad_time", "capacity", "source"};

const char *wk_reject_name(wk_reject r)
{
    return (unsigned)r < WK_NREJECT ? reject_names[r] : "unknown";
}

char *wk_quote(const char *s, size_t len, size_t max, char *out, size_t outlen)
{
    /* Room kept for the closing quote, the cut marker and the NUL. */
    const size_t tail = 32;
    size_t o = 0, i = 0;
    if (outlen <= tail) {
        if (outlen) out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    for (; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 4 > outlen - tail) break;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (i < len) snprintf(out + o, outlen - o, "\"...(%zu bytes)", len);
    else snprintf(out + o, outlen - o, "\"");
    return out;
}

static int is_id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

int wk_event_check_id(const char *id, size_t len, char *why, size_t whylen)
{
    if (len > WK_EVENT_ID_MAX) {
        snprintf(why, whylen, "%zu bytes long, more than the %d allowed", len, WK_EVENT_ID_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (is_id_char(c)) continue;
        if (c > 0x20 && c < 0x7f) snprintf(why, whylen, "character '%c' at offset %zu is not allowed", c, i);
        else snprintf(why, whylen, "byte 0x%02x at offset %zu is not allowed", c, i);
        snprintf(why + strlen(why), whylen - strlen(why), " (A-Z a-z 0-9 . _ -)");
        return -1;
    }
    /* "." and ".." would be dot segments of the URL path, not an id. */
    if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.')) {
        snprintf(why, whylen, "is a URL dot segment, not an id");
        return -1;
    }
    return 0;
}

/* Set the reason and the message; returns -1. */
static int reject(wk_reject *reason, wk_reject r, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int reject(wk_reject *reason, wk_reject r, char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    *reason = r;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *json_kind(const json_t *v)
{
    return json_is_object(v) ? "object" : json_is_array(v) ? "array" : json_is_number(v) ? "number" : "boolean";
}

static int take_id(json_t *v, wk_event *out, wk_reject *reason, char *why, size_t whylen)
{
    char q[QUOTE_MAX * 4 + 48], detail[128];
    if (!v || json_is_null(v))
        return reject(reason, WK_REJECT_MISSING_FIELD, why, whylen, "WorkflowId is missing");
    if (!json_is_string(v))
        return reject(reason, WK_REJECT_BAD_ID, why, whylen, "WorkflowId is a JSON %s, not a string",
                      json_kind(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0) return reject(reason, WK_REJECT_MISSING_FIELD, why, whylen, "WorkflowId is empty");
    if (wk_event_check_id(s, len, detail, sizeof detail))
        return reject(reason, WK_REJECT_BAD_ID, why, whylen, "WorkflowId %s: %s",
                      wk_quote(s, len, QUOTE_MAX, q, sizeof q), detail);
    memcpy(out->workflow_id, s, len + 1);
    return 0;
}

static int take_time(json_t *v, wk_event *out, wk_reject *reason, char *why, size_t whylen)
{
    char q[QUOTE_MAX * 4 + 48];
    if (!v || json_is_null(v))
        return reject(reason, WK_REJECT_MISSING_FIELD, why, whylen, "SubmittedAt is missing");
    if (!json_is_string(v))
        return reject(reason, WK_REJECT_BAD_TIME, why, whylen, "SubmittedAt is a JSON %s, not a string",
                      json_kind(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0) return reject(reason, WK_REJECT_MISSING_FIELD, why, whylen, "SubmittedAt is empty");
    const char *bad = NULL;
    if (ex_iso_parse(s, len, &out->submitted_ns, &bad))
        return reject(reason, WK_REJECT_BAD_TIME, why, whylen, "SubmittedAt %s: %s",
                      wk_quote(s, len, QUOTE_MAX, q, sizeof q), bad);
    return 0;
}

/* "Key" of another source's workflow: 1..WK_EVENT_KEY_MAX bytes without
 * control characters (its profile checks its parts). */
static int take_key(json_t *v, wk_event *out, wk_reject *reason, char *why, size_t whylen)
{
    char q[QUOTE_MAX * 4 + 48];
    if (!json_is_string(v))
        return reject(reason, WK_REJECT_BAD_ID, why, whylen, "Key is a JSON %s, not a string", json_kind(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0) return reject(reason, WK_REJECT_MISSING_FIELD, why, whylen, "Key is empty");
    if (len > WK_EVENT_KEY_MAX)
        return reject(reason, WK_REJECT_BAD_ID, why, whylen, "Key %s: %zu bytes, at most %d",
                      wk_quote(s, len, QUOTE_MAX, q, sizeof q), len, WK_EVENT_KEY_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return reject(reason, WK_REJECT_BAD_ID, why, whylen, "Key %s: control byte at offset %zu",
                          wk_quote(s, len, QUOTE_MAX, q, sizeof q), i);
    memcpy(out->workflow_id, s, len + 1);
    out->from_key = 1;
    return 0;
}

static int take_source(json_t *v, wk_event *out, wk_reject *reason, char *why, size_t whylen)
{
    char q[QUOTE_MAX * 4 + 48];
    out->source[0] = '\0';
    if (!v || json_is_null(v)) return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t len = s ? json_string_length(v) : 0;
    int ok = s && len >= 1 && len < sizeof out->source;
    for (size_t i = 0; ok && i < len; i++) ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
    if (!ok)
        return reject(reason, WK_REJECT_BAD_ID, why, whylen, "Source %s is not a source name ([a-z0-9-], 1-64)",
                      s ? wk_quote(s, len, QUOTE_MAX, q, sizeof q) : json_kind(v));
    memcpy(out->source, s, len + 1);
    return 0;
}

void wk_event_set_traceparent(wk_event *ev, const char *s, size_t len)
{
    ev->traceparent[0] = '\0';
    ev->traceparent_bad = 0;
    if (!s) return;
    if (len > WK_EVENT_TRACEPARENT_MAX) {
        ev->traceparent_bad = 1;
        return;
    }
    memcpy(ev->traceparent, s, len);
    ev->traceparent[len] = '\0';
    if (memchr(s, '\0', len)) ev->traceparent_bad = 1;
}

int wk_event_link(const wk_event *ev, mdl_link *out, char *why, size_t whylen)
{
    char q[QUOTE_MAX * 4 + 48], detail[160];
    size_t len = strlen(ev->traceparent);
    if (ev->traceparent_bad) {
        snprintf(why, whylen, "traceparent is not a string of at most %d bytes", WK_EVENT_TRACEPARENT_MAX);
        return -1;
    }
    if (len == 0) return 0;
    exo_traceparent tp;
    if (exo_traceparent_parse(ev->traceparent, len, &tp, detail, sizeof detail)) {
        snprintf(why, whylen, "traceparent %s: %s", wk_quote(ev->traceparent, len, QUOTE_MAX, q, sizeof q), detail);
        return -1;
    }
    memcpy(out->trace_id, tp.trace_id, 16);
    memcpy(out->span_id, tp.span_id, 8);
    out->flags = tp.flags;
    return 1;
}

/* "Traceparent": kept as received (checked when the watch starts). */
static void take_traceparent(json_t *v, wk_event *out)
{
    if (!v || json_is_null(v)) wk_event_set_traceparent(out, NULL, 0);
    else if (!json_is_string(v)) {
        wk_event_set_traceparent(out, NULL, 0);
        out->traceparent_bad = 1;
    } else wk_event_set_traceparent(out, json_string_value(v), json_string_length(v));
}

int wk_event_parse(const char *payload, size_t len, wk_event *out, wk_reject *reason, char *why, size_t whylen)
{
    char q[QUOTE_MAX * 4 + 48];
    if (len > WK_EVENT_PAYLOAD_MAX) {
        return reject(reason, WK_REJECT_JSON, why, whylen, "event of %zu bytes is larger than the %d allowed", len,
                      WK_EVENT_PAYLOAD_MAX);
    }
    json_error_t err;
    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        return reject(reason, WK_REJECT_JSON, why, whylen, "event %s is not JSON: %s (line %d, column %d)",
                      wk_quote(payload, len, QUOTE_MAX, q, sizeof q), err.text, err.line, err.column);
    }
    int rc = 0;
    if (!json_is_object(root)) {
        rc = reject(reason, WK_REJECT_JSON, why, whylen, "event %s is JSON but not an object",
                    wk_quote(payload, len, QUOTE_MAX, q, sizeof q));
    } else {
        json_t *key = json_object_get(root, "Key");
        out->from_key = 0;
        wk_event_set_traceparent(out, NULL, 0);
        rc = take_source(json_object_get(root, "Source"), out, reason, why, whylen);
        if (rc == 0 && key && !json_is_null(key)) rc = take_key(key, out, reason, why, whylen);
        else if (rc == 0) rc = take_id(json_object_get(root, "WorkflowId"), out, reason, why, whylen);
        if (rc == 0) rc = take_time(json_object_get(root, "SubmittedAt"), out, reason, why, whylen);
        if (rc == 0) take_traceparent(json_object_get(root, "Traceparent"), out);
    }
    json_decref(root);
    return rc;
}

int wk_event_render(const char *source, const char *key, int64_t submitted_ns, char *buf, size_t len)
{
    char iso[EX_ISO_LEN + 1];
    ex_iso_format(submitted_ns, iso);
    json_t *o = source && strcmp(source, "seed") != 0
                    ? json_pack("{s:s, s:s, s:s, s:s}", "Source", source, "Key", key, "SubmittedAt", iso,
                                "MessageType", "event.workflow.started")
                    : json_pack("{s:s, s:s, s:s}", "WorkflowId", key, "SubmittedAt", iso, "MessageType",
                                "event.workflow.started");
    if (!o) return -1;
    size_t n = json_dumpb(o, buf, len, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return n == 0 || n >= len ? -1 : (int)n;
}
