#include "sim/render.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/iso8601.h"
#include "core/mem.h"

void sim_buf_init(sim_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void sim_buf_reset(sim_buf *b)
{
    b->len = 0;
    b->overflow = 0;
    if (b->data) b->data[0] = '\0';
}

void sim_buf_truncate(sim_buf *b, size_t len)
{
    if (len > b->len) return;
    b->len = len;
    b->overflow = 0;
    if (b->data) b->data[len] = '\0';
}

void sim_buf_free(sim_buf *b)
{
    ex_free(b->data);
    sim_buf_init(b, b->max);
}

/* Make room for n more bytes plus the NUL. 0, or -1 (and overflow). */
static int reserve(sim_buf *b, size_t n)
{
    if (b->overflow) return -1;
    if (n > b->max - b->len) {
        b->overflow = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = ex_realloc(b->data, cap);
    if (!p) {
        b->overflow = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int sim_buf_put(sim_buf *b, const char *s, size_t n)
{
    if (reserve(b, n)) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sim_buf_puts(sim_buf *b, const char *s) { return sim_buf_put(b, s, strlen(s)); }

int sim_buf_printf(sim_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Decode one UTF-8 sequence at s (n bytes left): the code point, or -1 if
 * the bytes there are not well-formed UTF-8 (then one byte is consumed). */
static long utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    *used = 1;
    if (s[0] < 0x80) return s[0];
    int len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (len == 0 || (size_t)len > n) return -1;
    long cp = s[0] & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const long least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *used = (size_t)len;
    return cp;
}

int sim_buf_json_string(sim_buf *b, const char *s, size_t n)
{
    if (sim_buf_put(b, "\"", 1) || sim_buf_json_chars(b, s, n)) return -1;
    return sim_buf_put(b, "\"", 1);
}

int sim_buf_json_chars(sim_buf *b, const char *s, size_t n)
{
    /* System.Text.Json's default encoder: short escapes for \b \t \n \f \r
     * and backslash; \u00XX (upper-case hex) for the quote, other controls
     * and the HTML-sensitive < > & ' + `; every non-ASCII code point as
     * \uXXXX (surrogate pairs above U+FFFF); ill-formed UTF-8 as \uFFFD. */
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x7f && !strchr("\"\\<>&'+`", u[run])) run++;
        if (run > i && sim_buf_put(b, s + i, run - i)) return -1;
        if ((i = run) >= n) break;
        const char *shortesc = u[i] == '\\' ? "\\\\" : u[i] == '\b' ? "\\b" : u[i] == '\t' ? "\\t"
                             : u[i] == '\n' ? "\\n" : u[i] == '\f' ? "\\f" : u[i] == '\r' ? "\\r" : NULL;
        if (shortesc) {
            if (sim_buf_put(b, shortesc, 2)) return -1;
            i++;
            continue;
        }
        size_t used;
        long cp = utf8_next(u + i, n - i, &used);
        if (cp < 0) cp = 0xfffd;
        i += used;
        int rc = cp > 0xffff ? sim_buf_printf(b, "\\u%04lX\\u%04lX", 0xd800 + ((cp - 0x10000) >> 10),
                                              0xdc00 + ((cp - 0x10000) & 0x3ff))
                             : sim_buf_printf(b, "\\u%04lX", cp);
        if (rc) return -1;
    }
    return 0;
}

/* Append several C strings; 0, or -1 on overflow. The list ends with NULL. */
static int put_all(sim_buf *b, ...)
{
    va_list ap;
    va_start(ap, b);
    int rc = 0;
    for (const char *s; !rc && (s = va_arg(ap, const char *)) != NULL;) rc = sim_buf_puts(b, s);
    va_end(ap);
    return rc;
}

/* ,"key":"<timestamp>" — `key_open` is the text up to the opening quote. */
static int put_time(sim_buf *b, const char *key_open, int64_t ns)
{
    char ts[EX_ISO_LEN + 1];
    ex_iso_format(ns, ts);
    return put_all(b, key_open, ts, "\"", NULL);
}

static int render_entity(sim_buf *b, const sim_entity *e, int processing_times)
{
    const char *stage = sim_stage_name(e->type);
    int rc = put_all(b, "\"", stage, "\":{\"entityType\":\"", stage, "\",\"entityId\":\"", e->id,
                     "\",\"entityStatus\":\"", sim_status_name(e->status), "\"", NULL);
    if (!rc && e->status == SIM_FAILED)
        rc = sim_buf_printf(b, ",\"entityErrorMessage\":\"Failed. Error code: %d\"", (int)e->error_code);
    if (!rc) rc = put_time(b, ",\"entityStartTime\":\"", e->start_ns);
    if (!rc && sim_entity_complete(e)) rc = put_time(b, ",\"entityEndTime\":\"", e->end_ns);
    if (!rc && processing_times && e->processing_ns != SIM_NO_TIME)
        rc = put_time(b, ",\"entityProcessingStartTime\":\"", e->processing_ns);
    if (!rc) rc = sim_buf_puts(b, sim_entity_complete(e) ? ",\"isComplete\":true}" : ",\"isComplete\":false}");
    return rc;
}

int sim_render_workflow(sim_buf *b, const char *id, const sim_workflow *w, int processing_times)
{
    int rc = sim_buf_puts(b, "{\"workflowId\":");
    if (!rc) rc = sim_buf_json_string(b, id, strlen(id));
    if (!rc) rc = put_all(b, ",\"workflowStatus\":\"", sim_status_name(w->status), "\"", NULL);
    if (!rc) rc = put_time(b, ",\"workflowStartTime\":\"", w->start_ns);
    if (!rc && sim_workflow_complete(w)) rc = put_time(b, ",\"workflowEndTime\":\"", w->end_ns);
    if (!rc) rc = sim_buf_puts(b, sim_workflow_complete(w) ? ",\"isComplete\":true" : ",\"isComplete\":false");
    const sim_entity *failed = sim_workflow_failed_entity(w);
    if (!rc && failed)
        rc = put_all(b, ",\"workflowErrorMessage\":\"Entity failed: ", sim_stage_name(failed->type), "\"", NULL);
    if (!rc) rc = sim_buf_puts(b, ",\"workflowEntities\":{");
    for (int i = 0; !rc && i < w->nentities; i++) {
        if (i > 0) rc = sim_buf_put(b, ",", 1);
        if (!rc) rc = render_entity(b, &w->entities[i], processing_times);
    }
    if (!rc) rc = sim_buf_puts(b, "}}");
    return rc;
}

int sim_render_error(sim_buf *b, const char *message)
{
    int rc = sim_buf_puts(b, "{\"error\":");
    if (!rc) rc = sim_buf_json_string(b, message, strlen(message));
    if (!rc) rc = sim_buf_put(b, "}", 1);
    return rc;
}
