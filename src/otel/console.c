#include "otel/console.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/iso8601.h"
#include "core/mem.h"
#include "otel/ids.h"

/* A growing text; `failed` sticks after the first allocation failure. */
typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (t->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (t->cap - t->len < (size_t)n + 1) {
        size_t cap = t->cap ? t->cap : 512;
        while (cap - t->len < (size_t)n + 1) cap *= 2;
        char *b = ex_realloc(t->buf, cap);
        if (!b) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* s with control characters escaped, so it stays on one line. */
static void put_escaped(text *t, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') put(t, "\\n");
        else if (c == '\t') put(t, "\\t");
        else if (c == '\r') put(t, "\\r");
        else if (c < 0x20 || c == 0x7F) put(t, "\\x%02x", c);
        else put(t, "%c", c);
    }
}

/* The shortest %g text that reads back as the same double. */
static void put_double(text *t, double d)
{
    char buf[40];
    if (isnan(d)) {
        put(t, "NaN");
        return;
    }
    if (isinf(d)) {
        put(t, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    put(t, "%s", buf);
}

static void put_attrs(text *t, const exo_attrs *a, const char *indent)
{
    for (size_t i = 0; a && i < a->len; i++) {
        const exo_attr *at = &a->items[i];
        put(t, "%s", indent);
        put_escaped(t, at->key);
        put(t, ": ");
        switch (at->type) {
        case EXO_VAL_STRING: put_escaped(t, at->v.s); break;
        case EXO_VAL_BOOL: put(t, "%s", at->v.b ? "true" : "false"); break;
        case EXO_VAL_INT: put(t, "%" PRId64, at->v.i); break;
        case EXO_VAL_DOUBLE: put_double(t, at->v.d); break;
        }
        put(t, "\n");
    }
}

char *exo_console_duration(int64_t ns, char *buf, size_t len)
{
    /* Work in unsigned 100 ns ticks so INT64_MIN has a magnitude too. */
    uint64_t ticks = ns < 0 ? (0 - (uint64_t)ns) / 100 : (uint64_t)ns / 100;
    uint64_t sec = ticks / 10000000, frac = ticks % 10000000;
    uint64_t days = sec / 86400, h = sec / 3600 % 24, m = sec / 60 % 60, s = sec % 60;
    const char *sign = ns < 0 && ticks ? "-" : "";
    if (days)
        snprintf(buf, len, "%s%" PRIu64 ".%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%07" PRIu64, sign, days, h, m, s, frac);
    else
        snprintf(buf, len, "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%07" PRIu64, sign, h, m, s, frac);
    return buf;
}

static const char *kind_name(int kind)
{
    static const char *const names[] = {"Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"};
    return kind >= 0 && kind <= 5 ? names[kind] : "Unspecified";
}

static const char *status_name(int code)
{
    return code == EXO_STATUS_OK ? "Ok" : code == EXO_STATUS_ERROR ? "Error" : "Unset";
}

static void put_events(text *t, const exo_span *s)
{
    char iso[EX_ISO_LEN + 1];
    if (s->nevents == 0) return;
    put(t, "Activity.Events:\n");
    for (size_t i = 0; i < s->nevents; i++) {
        put(t, "    ");
        put_escaped(t, s->events[i].name);
        put(t, " [%s]\n", ex_iso_format(s->events[i].time_ns, iso));
        put_attrs(t, &s->events[i].attrs, "        ");
    }
}

int exo_console_format(const exo_resource *res, const char *scope_name, const exo_span *s, char **out)
{
    char hex[33], iso[EX_ISO_LEN + 1], dur[48];
    text t = {0};
    *out = NULL;
    put(&t, "Activity.TraceId:            %s\n", exo_hex(s->trace_id, 16, hex));
    put(&t, "Activity.SpanId:             %s\n", exo_hex(s->span_id, 8, hex));
    put(&t, "Activity.ParentSpanId:       %s\n", s->has_parent ? exo_hex(s->parent_span_id, 8, hex) : "(root)");
    put(&t, "Activity.ActivitySourceName: ");
    put_escaped(&t, scope_name);
    put(&t, "\nActivity.DisplayName:        ");
    put_escaped(&t, s->name);
    put(&t, "\nActivity.Kind:               %s\n", kind_name(s->kind));
    put(&t, "Activity.StartTime:          %s\n", ex_iso_format(s->start_ns, iso));
    int64_t d;
    if (__builtin_sub_overflow(s->end_ns, s->start_ns, &d)) d = s->end_ns < s->start_ns ? INT64_MIN : INT64_MAX;
    put(&t, "Activity.Duration:           %s\n", exo_console_duration(d, dur, sizeof dur));
    if (s->attrs.len) {
        put(&t, "Activity.Tags:\n");
        put_attrs(&t, &s->attrs, "    ");
    }
    put(&t, "StatusCode: %s\n", status_name(s->status_code));
    if (s->status_message && *s->status_message) {
        put(&t, "Activity.StatusDescription: ");
        put_escaped(&t, s->status_message);
        put(&t, "\n");
    }
    put_events(&t, s);
    if (res && res->attrs.len) {
        put(&t, "Resource associated with Activity:\n");
        put_attrs(&t, &res->attrs, "    ");
    }
    put(&t, "\n");
    if (t.failed) {
        ex_free(t.buf);
        return -1;
    }
    *out = t.buf;
    return 0;
}
