#include "worker/snapshot.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/iso8601.h"
#include "worker/snapshot_int.h"

#define SHOW_MAX 64 /* bytes of an offending value quoted in a message */

static const char *const status_names[WM_NSTATUS] = {"Initializing", "Processing", "Completed", "Failed"};

const char *wm_status_name(int status)
{
    return status >= 0 && status < WM_NSTATUS ? status_names[status] : "?";
}

/* Where messages go, and the path prefix of the object being read
 * ("" for the workflow, "workflowEntities.DataLoader." for a stage). */
typedef struct parse_ctx {
    char *why;
    size_t whylen;
    const char *prefix;
    unsigned flags; /* WM_PARSE_* */
} parse_ctx;

static int fail(const parse_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(const parse_ctx *c, int code, const char *fmt, ...)
{
    if (c->why && c->whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->whylen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* s as a JSON-ish quoted string for a message: at most SHOW_MAX bytes of
 * it, quotes, backslashes and control bytes escaped, "..." when cut. */
static char *quote(const char *s, size_t len, char *buf, size_t n)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len && i < SHOW_MAX && o + 6 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    if (len > SHOW_MAX && o + 4 < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* A short description of any JSON value, for "expected X, got Y". */
static char *describe(const json_t *v, char *buf, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: snprintf(buf, n, "an object"); break;
    case JSON_ARRAY: snprintf(buf, n, "an array"); break;
    case JSON_STRING: quote(json_string_value(v), json_string_length(v), buf, n); break;
    case JSON_INTEGER: snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: snprintf(buf, n, "%.17g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(buf, n, "true"); break;
    case JSON_FALSE: snprintf(buf, n, "false"); break;
    default: snprintf(buf, n, "null"); break;
    }
    return buf;
}

/* The field `key` of obj; absent and null both give NULL ("null fields
 * omitted" in the contract, but a null is tolerated as absence). */
static json_t *field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* Read a string field. Returns 0 (found), 1 (absent and optional) or an error. */
static int get_string(const parse_ctx *c, const json_t *obj, const char *key, int required, const char **s,
                      size_t *len)
{
    char got[SHOW_MAX * 4 + 16];
    json_t *v = field(obj, key);
    if (!v) return required ? fail(c, WM_ERR_CONTRACT, "%s%s: required field missing", c->prefix, key) : 1;
    if (!json_is_string(v))
        return fail(c, WM_ERR_CONTRACT, "%s%s: expected a string, got %s", c->prefix, key,
                    describe(v, got, sizeof got));
    *s = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

/* Read a timestamp field into *ns (WM_NO_TIME when absent and optional). */
static int get_time(const parse_ctx *c, const json_t *obj, const char *key, int required, int64_t *ns)
{
    const char *s;
    size_t len;
    char got[SHOW_MAX * 4 + 16];
    *ns = WM_NO_TIME;
    int rc = get_string(c, obj, key, required, &s, &len);
    if (rc) return rc;
    if (ex_iso_parse(s, len, ns, NULL) != 0)
        return fail(c, WM_ERR_CONTRACT, "%s%s: expected ISO-8601 UTC, got %s", c->prefix, key,
                    quote(s, len, got, sizeof got));
    return 0;
}

static int get_status(const parse_ctx *c, const json_t *obj, const char *key, wm_status *out)
{
    const char *s;
    size_t len;
    char got[SHOW_MAX * 4 + 16];
    int rc = get_string(c, obj, key, 1, &s, &len);
    if (rc) return rc;
    int st = wm__status_find(s, len);
    if (st >= 0) {
        *out = (wm_status)st;
        return 0;
    }
    return fail(c, WM_ERR_CONTRACT, "%s%s: unknown status %s", c->prefix, key, quote(s, len, got, sizeof got));
}

static int get_bool(const parse_ctx *c, const json_t *obj, const char *key, int *out)
{
    char got[SHOW_MAX * 4 + 16];
    json_t *v = field(obj, key);
    if (!v) return fail(c, WM_ERR_CONTRACT, "%s%s: required field missing", c->prefix, key);
    if (!json_is_boolean(v))
        return fail(c, WM_ERR_CONTRACT, "%s%s: expected true or false, got %s", c->prefix, key,
                    describe(v, got, sizeof got));
    *out = json_is_true(v);
    return 0;
}

int wm__status_find(const char *s, size_t len)
{
    for (int i = 0; i < WM_NSTATUS; i++)
        if (len == strlen(status_names[i]) && memcmp(s, status_names[i], len) == 0) return i;
    return -1;
}

int wm__type_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > WM_TYPE_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                 ch == '.' || ch == '-';
        if (!ok) return 0;
    }
    return 1;
}

/* Copy an error message into dst (WM_MSG_MAX + 1 bytes), cutting a long
 * one at a character boundary and marking the cut. */
void wm__copy_message(char *dst, const char *s, size_t len)
{
    if (len <= WM_MSG_MAX) {
        memcpy(dst, s, len);
        dst[len] = '\0';
        return;
    }
    size_t keep = WM_MSG_MAX - (sizeof WM_TRUNCATED - 1);
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--; /* s[keep] starts a character */
    memcpy(dst, s, keep);
    memcpy(dst + keep, WM_TRUNCATED, sizeof WM_TRUNCATED);
}

/* Optional error message field into has/dst. */
static int get_message(const parse_ctx *c, const json_t *obj, const char *key, int *has, char *dst)
{
    const char *s;
    size_t len;
    int rc = get_string(c, obj, key, 0, &s, &len);
    *has = rc == 0;
    dst[0] = '\0';
    if (rc == 0) wm__copy_message(dst, s, len);
    return rc < 0 ? rc : 0;
}

/* The rules shared by the workflow and its entities: status, end time and
 * isComplete agree; the end is not before the start. */
static int check_completion(const parse_ctx *c, const char *what, wm_status status, int complete, int64_t start,
                            int64_t end)
{
    char a[EX_ISO_LEN + 1], b[EX_ISO_LEN + 1];
    int terminal = status == WM_COMPLETED || status == WM_FAILED;
    if (complete && end == WM_NO_TIME)
        return fail(c, WM_ERR_CONTRACT, "%s%sEndTime: missing but isComplete is true", c->prefix, what);
    if (!complete && end != WM_NO_TIME)
        return fail(c, WM_ERR_CONTRACT, "%s%sEndTime: present but isComplete is false", c->prefix, what);
    if (terminal != complete)
        return fail(c, WM_ERR_CONTRACT, "%s%sStatus: \"%s\" but isComplete is %s", c->prefix, what,
                    wm_status_name(status), complete ? "true" : "false");
    if (complete && end < start)
        return fail(c, WM_ERR_CONTRACT, "%s%sEndTime: %s is before %sStartTime %s", c->prefix, what,
                    ex_iso_format(end, a), what, ex_iso_format(start, b));
    return 0;
}

/* An entity type: 1..WM_TYPE_MAX bytes of [A-Za-z0-9_.-]. */
static int check_type_name(const parse_ctx *c, const char *key)
{
    char got[SHOW_MAX * 4 + 16];
    size_t len = strlen(key); /* jansson keys never hold NUL unless JSON_ALLOW_NUL */
    if (len == 0) return fail(c, WM_ERR_CONTRACT, "workflowEntities: empty entity type");
    if (len > WM_TYPE_MAX)
        return fail(c, WM_ERR_CONTRACT, "workflowEntities: entity type %s is %zu bytes, at most %d allowed",
                    quote(key, len, got, sizeof got), len, WM_TYPE_MAX);
    if (!wm__type_name_ok(key, len))
        return fail(c, WM_ERR_CONTRACT, "workflowEntities: invalid entity type %s: only A-Z a-z 0-9 _ . - allowed",
                    quote(key, len, got, sizeof got));
    return 0;
}

static int parse_stage_ids(const parse_ctx *c, const char *key, const json_t *v, wm_snap_stage *st)
{
    const char *s;
    size_t len;
    char got[SHOW_MAX * 4 + 16];
    int rc = get_string(c, v, "entityType", 1, &s, &len);
    if (rc) return rc;
    if (len != strlen(key) || memcmp(s, key, len) != 0)
        return fail(c, WM_ERR_CONTRACT, "%sentityType: %s does not match its key \"%s\"", c->prefix,
                    quote(s, len, got, sizeof got), key);
    memcpy(st->type, key, len + 1);
    if ((rc = get_string(c, v, "entityId", 1, &s, &len))) return rc;
    if (len == 0) return fail(c, WM_ERR_CONTRACT, "%sentityId: empty", c->prefix);
    if (len > WM_ID_MAX)
        return fail(c, WM_ERR_CONTRACT, "%sentityId: %s is %zu bytes, at most %d allowed", c->prefix,
                    quote(s, len, got, sizeof got), len, WM_ID_MAX);
    memcpy(st->id, s, len);
    st->id[len] = '\0';
    return 0;
}

/* entityProcessingStartTime (an extension of the seed's contract, read
 * only with WM_PARSE_PROCESSING_TIME): when present, the stage has been
 * Processing since then, within [start, end]. */
static int get_processing_time(const parse_ctx *c, const json_t *v, wm_snap_stage *st)
{
    char a[EX_ISO_LEN + 1], b[EX_ISO_LEN + 1];
    st->processing_ns = WM_NO_TIME;
    if (!(c->flags & WM_PARSE_PROCESSING_TIME)) return 0;
    int rc = get_time(c, v, "entityProcessingStartTime", 0, &st->processing_ns);
    if (rc < 0) return rc;
    if (st->processing_ns == WM_NO_TIME) return 0;
    if (st->status == WM_INITIALIZING)
        return fail(c, WM_ERR_CONTRACT, "%sentityProcessingStartTime: present but entityStatus is \"Initializing\"",
                    c->prefix);
    if (st->processing_ns < st->start_ns)
        return fail(c, WM_ERR_CONTRACT, "%sentityProcessingStartTime: %s is before entityStartTime %s", c->prefix,
                    ex_iso_format(st->processing_ns, a), ex_iso_format(st->start_ns, b));
    if (st->end_ns != WM_NO_TIME && st->processing_ns > st->end_ns)
        return fail(c, WM_ERR_CONTRACT, "%sentityProcessingStartTime: %s is after entityEndTime %s", c->prefix,
                    ex_iso_format(st->processing_ns, a), ex_iso_format(st->end_ns, b));
    return 0;
}

static int parse_stage(const parse_ctx *pc, const char *key, const json_t *v, wm_snap_stage *st)
{
    char prefix[sizeof "workflowEntities.." + WM_TYPE_MAX];
    char got[SHOW_MAX * 4 + 16];
    parse_ctx c = {pc->why, pc->whylen, "workflowEntities.", pc->flags};
    int rc = check_type_name(&c, key);
    if (rc) return rc;
    snprintf(prefix, sizeof prefix, "workflowEntities.%s.", key);
    c.prefix = prefix;
    if (!json_is_object(v))
        return fail(&c, WM_ERR_CONTRACT, "workflowEntities.%s: expected an object, got %s", key,
                    describe(v, got, sizeof got));
    if ((rc = parse_stage_ids(&c, key, v, st))) return rc;
    if ((rc = get_status(&c, v, "entityStatus", &st->status))) return rc;
    if ((rc = get_time(&c, v, "entityStartTime", 1, &st->start_ns))) return rc;
    if ((rc = get_time(&c, v, "entityEndTime", 0, &st->end_ns)) < 0) return rc;
    if ((rc = get_bool(&c, v, "isComplete", &st->complete))) return rc;
    if ((rc = get_message(&c, v, "entityErrorMessage", &st->has_error, st->error))) return rc;
    if ((rc = check_completion(&c, "entity", st->status, st->complete, st->start_ns, st->end_ns))) return rc;
    return get_processing_time(&c, v, st);
}

static int parse_stages(const parse_ctx *c, const json_t *root, wm_snapshot *out)
{
    char got[SHOW_MAX * 4 + 16];
    json_t *ents = field(root, "workflowEntities");
    out->nstages = 0;
    if (!ents) return 0; /* an omitted (null) dictionary: no entities yet */
    if (!json_is_object(ents))
        return fail(c, WM_ERR_CONTRACT, "workflowEntities: expected an object, got %s",
                    describe(ents, got, sizeof got));
    size_t n = json_object_size(ents);
    if (n > WM_MAX_STAGES)
        return fail(c, WM_ERR_CONTRACT, "workflowEntities: %zu entities, at most %d allowed", n, WM_MAX_STAGES);
    const char *key;
    json_t *v;
    /* jansson (>= 2.8) iterates objects in document order: the stage order. */
    json_object_foreach(ents, key, v)
    {
        int rc = parse_stage(c, key, v, &out->stages[out->nstages]);
        if (rc) return rc;
        out->nstages++;
    }
    return 0;
}

static int parse_workflow(const parse_ctx *c, const json_t *root, const char *expected_id, wm_snapshot *out)
{
    const char *s;
    size_t len;
    char got[SHOW_MAX * 4 + 16], want[SHOW_MAX * 4 + 16];
    int rc = get_string(c, root, "workflowId", 1, &s, &len);
    if (rc) return rc;
    if (len != strlen(expected_id) || memcmp(s, expected_id, len) != 0)
        return fail(c, WM_ERR_CONTRACT, "workflowId: expected %s, got %s",
                    quote(expected_id, strlen(expected_id), want, sizeof want), quote(s, len, got, sizeof got));
    if ((rc = get_status(c, root, "workflowStatus", &out->status))) return rc;
    if ((rc = get_time(c, root, "workflowStartTime", 1, &out->start_ns))) return rc;
    if ((rc = get_time(c, root, "workflowEndTime", 0, &out->end_ns)) < 0) return rc;
    if ((rc = get_bool(c, root, "isComplete", &out->complete))) return rc;
    if ((rc = get_message(c, root, "workflowErrorMessage", &out->has_error, out->error))) return rc;
    if ((rc = check_completion(c, "workflow", out->status, out->complete, out->start_ns, out->end_ns))) return rc;
    return parse_stages(c, root, out);
}

int wm_snapshot_parse(const char *body, size_t len, const char *expected_workflow_id, wm_snapshot *out,
                      char *why, size_t whylen)
{
    return wm_snapshot_parse_flags(body, len, expected_workflow_id, 0, out, why, whylen);
}

int wm_snapshot_parse_flags(const char *body, size_t len, const char *expected_workflow_id, unsigned flags,
                            wm_snapshot *out, char *why, size_t whylen)
{
    if (len <= WM_BODY_MAX && wm_snapshot__parse_fast(body, len, expected_workflow_id, flags, out) == 0) {
        if (why && whylen) why[0] = '\0';
        return 0;
    }
    return wm_snapshot__parse_dom(body, len, expected_workflow_id, flags, out, why, whylen);
}

int wm_snapshot__parse_dom(const char *body, size_t len, const char *expected_workflow_id, unsigned flags,
                           wm_snapshot *out, char *why, size_t whylen)
{
    parse_ctx c = {why, whylen, "", flags};
    char got[SHOW_MAX * 4 + 16];
    if (why && whylen) why[0] = '\0';
    if (len > WM_BODY_MAX)
        return fail(&c, WM_ERR_JSON, "body of %zu bytes exceeds the limit of %d bytes", len, WM_BODY_MAX);
    json_error_t jerr;
    /* Duplicate keys would make "which value counts" ambiguous: refuse them. */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(&c, WM_ERR_JSON, "not JSON: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
    int rc;
    if (!json_is_object(root))
        rc = fail(&c, WM_ERR_JSON, "not a JSON object: got %s", describe(root, got, sizeof got));
    else
        rc = parse_workflow(&c, root, expected_workflow_id, out);
    json_decref(root);
    return rc;
}
