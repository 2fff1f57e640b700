#include "source/discover.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "model/snapshot.h"

void sr_discover_free(sr_discover *d)
{
    if (!d) return;
    ex_free(d->url);
    for (size_t i = 0; i < d->nvars; i++) {
        ex_free(d->vars[i]);
        ex_free(d->start[i]);
    }
    ex_free(d->map);
    ex_free(d);
}

/* since as RFC 3339 UTC, whole seconds rounded down (what list filters take). */
static void since_text(int64_t ns, char out[32])
{
    time_t t = (time_t)(ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A profile whose "key parts" are the template's names: the scope's parts,
 * since, the page variables; and the values in the same order. */
static size_t names_values(const sr_profile *p, const sr_key *scope, const char *since, char *const *values,
                           sr_profile *vp, sr_key *vk)
{
    const sr_discover *d = p->discover;
    size_t n = 0;
    memset(vp, 0, sizeof *vp);
    memset(vk, 0, sizeof *vk);
    for (size_t i = 0; scope && i < scope->n && n < SR_KEY_PARTS_MAX; i++, n++) {
        vp->key[n] = p->key[i];
        vk->parts[n] = scope->parts[i];
    }
    if (n < SR_KEY_PARTS_MAX) {
        vp->key[n] = (char *)"since";
        vk->parts[n++] = (char *)since;
    }
    for (size_t i = 0; i < d->nvars && n < SR_KEY_PARTS_MAX; i++, n++) {
        vp->key[n] = d->vars[i];
        vk->parts[n] = values && values[i] ? values[i] : d->start[i];
    }
    vp->nkey = vk->n = n;
    vp->origin = p->origin;
    return n;
}

char *sr_discover_url(const sr_profile *p, const char *base, const sr_key *scope, int64_t since_ns,
                      char *const *values, char *err, size_t errlen)
{
    char since[32];
    sr_profile vp;
    sr_key vk;
    since_text(since_ns, since);
    names_values(p, scope, since, values, &vp, &vk);
    if (sr_template_check(&vp, p->discover->url, err, errlen) != 0) return NULL; /* a scope part not given */
    return sr_url_build(&vp, p->discover->url, base, &vk, err, errlen);
}

static json_t *scope_object(const sr_profile *p, const sr_key *scope)
{
    json_t *o = json_object();
    for (size_t i = 0; o && scope && i < scope->n; i++)
        if (json_object_set_new(o, p->key[i], json_string(scope->parts[i]))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

char *sr_discover_input(const sr_profile *p, const sr_key *scope, int64_t since_ns, char *const *values,
                        const char *body, size_t len, size_t *outlen)
{
    const sr_discover *d = p->discover;
    char since[32];
    since_text(since_ns, since);
    json_t *head = json_object(), *vars = json_object();
    char *text = NULL, *out = NULL;
    int rc = !head || !vars || json_object_set_new(head, "scope", scope_object(p, scope)) ||
             json_object_set_new(head, "since", json_string(since));
    for (size_t i = 0; !rc && i < d->nvars; i++)
        rc = json_object_set_new(vars, d->vars[i], json_string(values && values[i] ? values[i] : d->start[i]));
    if (!rc) rc = json_object_set(head, "vars", vars);
    if (!rc) text = json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) { /* "{…}" → "{…,"page":<body>}" */
        size_t tl = strlen(text);
        static const char mid[] = ",\"page\":";
        *outlen = tl - 1 + sizeof mid - 1 + len + 1;
        if ((out = ex_malloc(*outlen + 1))) {
            memcpy(out, text, tl - 1);
            memcpy(out + tl - 1, mid, sizeof mid - 1);
            memcpy(out + tl - 1 + sizeof mid - 1, body, len);
            out[*outlen - 1] = '}';
            out[*outlen] = '\0';
        }
        ex_free(text);
    }
    json_decref(vars);
    json_decref(head);
    return out;
}

void sr_found_page_clear(sr_found_page *pg)
{
    for (size_t i = 0; i < pg->n; i++) {
        ex_free(pg->items[i].key);
        ex_free(pg->items[i].traceparent);
    }
    ex_free(pg->items);
    for (size_t i = 0; i < SR_DISC_VARS_MAX; i++) ex_free(pg->next[i]);
    memset(pg, 0, sizeof *pg);
}

static int read_item(const sr_profile *p, const json_t *it, size_t i, sr_found *f, char *err, size_t errlen)
{
    char detail[SR_ERR_LEN];
    const json_t *k = json_object_get(it, "key"), *t = json_object_get(it, "time"),
                 *tp = json_object_get(it, "traceparent");
    if (!json_is_object(it)) {
        snprintf(err, errlen, "workflows[%zu]: expected {\"key\": …, \"time\": …}", i);
        return -1;
    }
    if (!json_is_string(k)) {
        snprintf(err, errlen, "workflows[%zu].key: expected a string", i);
        return -1;
    }
    sr_key parsed;
    if (sr_key_parse(p, json_string_value(k), json_string_length(k), &parsed, detail, sizeof detail)) {
        snprintf(err, errlen, "workflows[%zu].key: %s", i, detail);
        return -1;
    }
    sr_key_free(&parsed);
    if (!t || mdl_time_from_json(t, &f->time_ns) || f->time_ns == MDL_NO_TIME) {
        snprintf(err, errlen, "workflows[%zu].time: expected an RFC 3339 time or unix seconds", i);
        return -1;
    }
    if (tp && !json_is_null(tp) && !json_is_string(tp)) {
        snprintf(err, errlen, "workflows[%zu].traceparent: expected a string or null", i);
        return -1;
    }
    f->key = ex_strdup(json_string_value(k));
    f->traceparent = json_is_string(tp) ? ex_strdup(json_string_value(tp)) : NULL;
    if (!f->key || (json_is_string(tp) && !f->traceparent)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int read_next(const sr_profile *p, const json_t *next, sr_found_page *out, char *err, size_t errlen)
{
    const sr_discover *d = p->discover;
    if (!next || json_is_null(next)) return 0;
    if (!json_is_object(next)) {
        snprintf(err, errlen, "next: expected an object of the page variables or null");
        return -1;
    }
    for (size_t i = 0; i < d->nvars; i++) {
        const json_t *v = json_object_get(next, d->vars[i]);
        if (!json_is_string(v) && !json_is_integer(v)) {
            snprintf(err, errlen, "next.%s: expected a string (every page variable is given)", d->vars[i]);
            return -1;
        }
        char num[32];
        if (json_is_integer(v)) snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        if (!(out->next[i] = ex_strdup(json_is_string(v) ? json_string_value(v) : num))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    out->has_next = 1;
    return 0;
}

int sr_discover_read(const sr_profile *p, const json_t *o, sr_found_page *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const json_t *wf = json_object_get(o, "workflows");
    if (!json_is_array(wf)) {
        snprintf(err, errlen, "workflows: expected an array of {\"key\", \"time\"}");
        return -1;
    }
    size_t n = json_array_size(wf);
    if (n > SR_DISC_FOUND_MAX) {
        snprintf(err, errlen, "workflows: %zu items, at most %d a page", n, SR_DISC_FOUND_MAX);
        return -1;
    }
    if (n && !(out->items = ex_calloc(n, sizeof *out->items))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (read_item(p, json_array_get(wf, i), i, &out->items[i], err, errlen)) goto fail;
        out->n = i + 1;
    }
    if (read_next(p, json_object_get(o, "next"), out, err, errlen) == 0) return 0;
fail:
    sr_found_page_clear(out);
    return -1;
}

int sr_discover_scope(const sr_profile *p, const char *text, sr_key *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!*text) return 0;
    size_t n = 1;
    for (const char *c = text; *c; c++) n += *c == '/';
    if (n >= p->nkey) {
        snprintf(err, errlen, "scope \"%.200s\": %zu parts; %s keys have %zu, the scope names fewer (the leading ones)",
                 text, n, p->name, p->nkey);
        return -1;
    }
    sr_profile vp = *p;
    vp.nkey = n;
    return sr_key_parse(&vp, text, strlen(text), out, err, errlen);
}
