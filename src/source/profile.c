/* profile.c — loading a profile from YAML (profile.h): the document, the
 * top-level fields and the generic helpers of profile_load.h. auth: and
 * requests: are in profile_parts.c. */
#include "source/profile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/secret.h"
#include "source/discover.h"
#include "source/profile_int.h"
#include "source/profile_load.h"
#include "source/template.h"
#include "worker/event.h"

int sr_ld_fail(sr_ld *l, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
    char msg[SR_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Not masked as a whole: field names such as auth.token_env would
     * hide the variable's name; values are masked by sr_ld_quote. */
    if (n)
        snprintf(l->err, l->errlen, "%s:%zu:%zu: %s%s%s", l->origin, n->start_mark.line + 1, n->start_mark.column + 1,
                 path ? path : "", path ? ": " : "", msg);
    else
        snprintf(l->err, l->errlen, "%s: %s%s%s", l->origin, path ? path : "", path ? ": " : "", msg);
    return -1;
}

const char *sr_ld_quote(const yaml_node_t *n, char *out, size_t outlen)
{
    if (n->type != YAML_SCALAR_NODE) {
        snprintf(out, outlen, "%s", n->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
        return out;
    }
    wk_quote((const char *)n->data.scalar.value, n->data.scalar.length, 80, out, outlen);
    ex_secret_mask_inplace(out, outlen);
    return out;
}

int sr_ld_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    return len == 0 || (len == 1 && s[0] == '~') || sr_ieq(s, len, "null");
}

int sr_ld_want(sr_ld *l, yaml_node_t *n, yaml_node_type_t type, const char *path)
{
    if (n->type == type) return 0;
    char q[160];
    return sr_ld_fail(l, n, path, "expected %s, found %s", type == YAML_MAPPING_NODE ? "a mapping" : "a list",
                      n->type == YAML_SCALAR_NODE ? sr_ld_quote(n, q, sizeof q)
                      : n->type == YAML_MAPPING_NODE ? "a mapping"
                                                     : "a list");
}

int sr_ld_fields(sr_ld *l, yaml_node_t *map, const char *path, sr_field *f, size_t nf)
{
    if (sr_ld_want(l, map, YAML_MAPPING_NODE, path) != 0) return -1;
    for (size_t i = 0; i < nf; i++) f[i].node = f[i].at = NULL;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, pr->value);
        char q[160];
        if (!k || !v) return sr_ld_fail(l, map, path, "malformed mapping");
        if (k->type != YAML_SCALAR_NODE) return sr_ld_fail(l, k, path, "a field name must be text");
        const char *name = (const char *)k->data.scalar.value;
        size_t i = 0;
        while (i < nf && !(strlen(f[i].name) == k->data.scalar.length && memcmp(f[i].name, name, k->data.scalar.length) == 0))
            i++;
        if (i == nf) {
            char known[400] = "";
            size_t o = 0;
            for (size_t j = 0; j < nf && o < sizeof known; j++)
                o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", j ? ", " : "", f[j].name);
            return sr_ld_fail(l, k, path, "unknown field %s (%s)", sr_ld_quote(k, q, sizeof q), known);
        }
        if (f[i].at) return sr_ld_fail(l, k, path, "field %s given twice", sr_ld_quote(k, q, sizeof q));
        f[i].at = k;
        f[i].node = sr_ld_is_null(v) ? NULL : v;
    }
    return 0;
}

int sr_ld_str(sr_ld *l, yaml_node_t *n, const char *path, size_t max, const char *allowed, char **out)
{
    char q[160];
    if (n->type != YAML_SCALAR_NODE) return sr_ld_fail(l, n, path, "expected a text, found %s", sr_ld_quote(n, q, sizeof q));
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (len == 0) return sr_ld_fail(l, n, path, "must not be empty");
    if (len > max) return sr_ld_fail(l, n, path, "%s is %zu bytes long, at most %zu allowed", sr_ld_quote(n, q, sizeof q), len, max);
    if (memchr(s, '\0', len) || !sr_no_controls(s, len, allowed))
        return sr_ld_fail(l, n, path, "%s holds a control character", sr_ld_quote(n, q, sizeof q));
    if (!(*out = ex_strndup(s, len))) return sr_ld_fail(l, n, path, "out of memory");
    return 0;
}

int sr_ld_opt_str(sr_ld *l, const sr_field *f, const char *path, size_t max, const char *def, char **out)
{
    if (f->node) return sr_ld_str(l, f->node, path, max, "", out);
    if (def && !(*out = ex_strdup(def))) return sr_ld_fail(l, NULL, path, "out of memory");
    return 0;
}

int sr_ld_int(sr_ld *l, yaml_node_t *n, const char *path, long min, long max, int *out)
{
    char q[160];
    if (n->type != YAML_SCALAR_NODE) return sr_ld_fail(l, n, path, "expected a number, found %s", sr_ld_quote(n, q, sizeof q));
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    long v = 0;
    size_t i = 0;
    for (; i < len && i < 12 && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (s[i] - '0');
    if (len == 0 || i != len) return sr_ld_fail(l, n, path, "%s is not a whole number", sr_ld_quote(n, q, sizeof q));
    if (v < min || v > max) return sr_ld_fail(l, n, path, "%s is out of range (%ld..%ld)", sr_ld_quote(n, q, sizeof q), min, max);
    *out = (int)v;
    return 0;
}

/* "Name: value" would show a secret: such headers belong in auth:. */
static int looks_secret(const char *name, const char *value)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "cookie"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (sr_ieq(name, strlen(name), names[i])) return 1;
    char line[SR_VALUE_MAX + 256], masked[SR_VALUE_MAX + 512];
    snprintf(line, sizeof line, "%s: %s", name, value);
    return ex_secret_mask(line, masked, sizeof masked) > 0;
}

int sr_ld_headers(sr_ld *l, yaml_node_t *n, const char *path, sr_header **out, size_t *nout)
{
    if (sr_ld_want(l, n, YAML_MAPPING_NODE, path) != 0) return -1;
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count > SR_HEADERS_MAX) return sr_ld_fail(l, n, path, "%zu headers, at most %d allowed", count, SR_HEADERS_MAX);
    sr_header *h = count ? ex_calloc(count, sizeof *h) : NULL;
    if (count && !h) return sr_ld_fail(l, n, path, "out of memory");
    *out = h;
    *nout = 0;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, pr->value);
        char q[160], sub[SR_NAME_MAX * 2 + 200];
        if (!k || !v) return sr_ld_fail(l, n, path, "malformed mapping");
        if (k->type != YAML_SCALAR_NODE || !sr_is_token((const char *)k->data.scalar.value, k->data.scalar.length))
            return sr_ld_fail(l, k, path, "%s is not a header name (letters, digits and !#$%%&'*+-.^_`|~)",
                              sr_ld_quote(k, q, sizeof q));
        const char *name = (const char *)k->data.scalar.value;
        snprintf(sub, sizeof sub, "%s.%s", path, name);
        for (size_t j = 0; j < *nout; j++)
            if (sr_ieq(name, k->data.scalar.length, h[j].name))
                return sr_ld_fail(l, k, path, "header %s given twice", sr_ld_quote(k, q, sizeof q));
        char *value = NULL;
        if (sr_ld_is_null(v)) return sr_ld_fail(l, v, sub, "a header needs a value");
        if (sr_ld_str(l, v, sub, SR_VALUE_MAX, "\t", &value) != 0) return -1;
        if (looks_secret(name, value)) {
            ex_free(value);
            return sr_ld_fail(l, v, sub,
                              "looks like a credential: a secret is never written in a profile; "
                              "use auth: (type: header, header: %s, token_env: VAR or token_file: PATH)",
                              name);
        }
        if (!(h[*nout].name = ex_strdup(name))) {
            ex_free(value);
            return sr_ld_fail(l, k, path, "out of memory");
        }
        h[(*nout)++].value = value;
    }
    return 0;
}

void sr_headers_free(sr_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ex_free(h[i].name);
        ex_free(h[i].value);
    }
    ex_free(h);
}

/* name, description, root_name, base_url. */
static int load_texts(sr_ld *l, sr_field *f)
{
    sr_profile *p = l->p;
    char q[160];
    if (!f[0].node) return sr_ld_fail(l, NULL, "name", "missing (the source name, [a-z0-9-]+)");
    if (sr_ld_str(l, f[0].node, "name", SR_NAME_MAX, "", &p->name) != 0) return -1;
    if (!sr_is_source_name(p->name, strlen(p->name)))
        return sr_ld_fail(l, f[0].node, "name", "%s: use lower-case letters, digits and '-', not starting with '-'",
                          sr_ld_quote(f[0].node, q, sizeof q));
    if (sr_ld_opt_str(l, &f[1], "description", SR_TEXT_MAX, "", &p->description) != 0) return -1;
    if (sr_ld_opt_str(l, &f[4], "root_name", SR_TEXT_MAX, "Workflow", &p->root_name) != 0) return -1;
    if (sr_ld_opt_str(l, &f[3], "base_url", SR_URL_MAX, NULL, &p->base_url) != 0) return -1;
    const char *why;
    if (p->base_url && sr_base_url_check(p->base_url, &why) != 0)
        return sr_ld_fail(l, f[3].node, "base_url", "%s: %s", sr_ld_quote(f[3].node, q, sizeof q), why);
    return 0;
}

static int load_key(sr_ld *l, yaml_node_t *n)
{
    sr_profile *p = l->p;
    char q[160];
    if (!n) return sr_ld_fail(l, NULL, "key", "missing (the key's part names, e.g. [owner, repo, run_id])");
    if (sr_ld_want(l, n, YAML_SEQUENCE_NODE, "key") != 0) return -1;
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0 || count > SR_KEY_PARTS_MAX)
        return sr_ld_fail(l, n, "key", "%zu parts, 1 to %d allowed", count, SR_KEY_PARTS_MAX);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *it = yaml_document_get_node(l->doc, n->data.sequence.items.start[i]);
        char path[32];
        snprintf(path, sizeof path, "key[%zu]", i);
        if (!it) return sr_ld_fail(l, n, path, "malformed list");
        if (sr_ld_str(l, it, path, SR_NAME_MAX, "", &p->key[i]) != 0) return -1;
        p->nkey = i + 1;
        if (!sr_is_part_name(p->key[i], strlen(p->key[i])))
            return sr_ld_fail(l, it, path, "%s: a part name is [a-z][a-z0-9_]*", sr_ld_quote(it, q, sizeof q));
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->key[j], p->key[i]) == 0) return sr_ld_fail(l, it, path, "%s given twice", sr_ld_quote(it, q, sizeof q));
    }
    return 0;
}

int sr_ld_program(sr_ld *l, yaml_node_t *n, const char *path, char **out, int *line)
{
    if (sr_ld_str(l, n, path, SR_PROFILE_MAX, "\t\n\r", out) != 0) return -1;
    int block = n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE || n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
    *line = (int)n->start_mark.line + 1 + (block ? 1 : 0);
    return 0;
}

static int load_map(sr_ld *l, yaml_node_t *n)
{
    sr_profile *p = l->p;
    if (!n) return sr_ld_fail(l, NULL, "map", "missing (the jq program that outputs the snapshot)");
    return sr_ld_program(l, n, "map", &p->map, &p->map_line);
}

static int load_root(sr_ld *l, yaml_node_t *root)
{
    sr_field f[] = {{"name"},     {"description"}, {"key"},     {"base_url"}, {"root_name"},
                    {"auth"},     {"headers"},     {"requests"}, {"map"}, {"webhook"}, {"discover"}};
    if (sr_ld_fields(l, root, NULL, f, sizeof f / sizeof f[0]) != 0) return -1;
    if (load_texts(l, f) != 0 || load_key(l, f[2].node) != 0) return -1;
    if (f[5].node && sr_ld_auth(l, f[5].node) != 0) return -1;
    if (f[6].node && sr_ld_headers(l, f[6].node, "headers", &l->p->headers, &l->p->nheaders) != 0) return -1;
    if (!f[7].node) return sr_ld_fail(l, NULL, "requests", "missing (at least one request)");
    if (sr_ld_requests(l, f[7].node) != 0) return -1;
    if (load_map(l, f[8].node) != 0) return -1;
    if (f[9].node && sr_ld_webhook(l, f[9].node) != 0) return -1;
    return f[10].node ? sr_ld_discover(l, f[10].node) : 0;
}

static int yaml_error(sr_ld *l, const yaml_parser_t *ps)
{
    const yaml_mark_t *m = ps->problem ? &ps->problem_mark : &ps->mark;
    snprintf(l->err, l->errlen, "%s:%zu:%zu: not valid YAML: %s%s%s", l->origin, m->line + 1, m->column + 1,
                     ps->problem ? ps->problem : "error", ps->context ? " " : "", ps->context ? ps->context : "");
    return -1;
}

/* Parse the one document of text and walk it. */
static int load_doc(sr_ld *l, const char *text, size_t len)
{
    yaml_parser_t ps;
    yaml_document_t doc, extra;
    int rc = -1, have_doc = 0;
    if (!yaml_parser_initialize(&ps)) return sr_ld_fail(l, NULL, NULL, "out of memory");
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    if (!yaml_parser_load(&ps, &doc)) {
        yaml_error(l, &ps);
        goto done;
    }
    have_doc = 1;
    l->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        sr_ld_fail(l, NULL, NULL, "empty profile");
        goto done;
    }
    if (!yaml_parser_load(&ps, &extra)) {
        yaml_error(l, &ps);
        goto done;
    }
    int more = yaml_document_get_root_node(&extra) != NULL;
    yaml_document_delete(&extra);
    if (more) {
        sr_ld_fail(l, NULL, NULL, "more than one YAML document (---): a profile is one document");
        goto done;
    }
    rc = load_root(l, root);
done:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    return rc;
}

int sr_profile_load_string(const char *origin, const char *text, size_t len, sr_profile **out, char *err,
                           size_t errlen)
{
    sr_ld l = {origin ? origin : "profile", NULL, NULL, err, errlen};
    *out = NULL;
    if (errlen) err[0] = '\0';
    if (len > SR_PROFILE_MAX) return sr_ld_fail(&l, NULL, NULL, "%zu bytes, at most %d allowed", len, SR_PROFILE_MAX);
    if (!(l.p = ex_calloc(1, sizeof *l.p)) || !(l.p->origin = ex_strdup(l.origin))) {
        ex_free(l.p);
        return sr_ld_fail(&l, NULL, NULL, "out of memory");
    }
    if (load_doc(&l, text, len) != 0) {
        sr_profile_free(l.p);
        return -1;
    }
    *out = l.p;
    return 0;
}

int sr_profile_load_file(const char *path, sr_profile **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = ex_malloc(SR_PROFILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SR_PROFILE_MAX + 1, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    int rc = -1;
    if (bad)
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
    else if (n > SR_PROFILE_MAX)
        snprintf(err, errlen, "%s: larger than %d bytes", path, SR_PROFILE_MAX);
    else
        rc = sr_profile_load_string(path, buf, n, out, err, errlen);
    ex_free(buf);
    return rc;
}

static void auth_spec_free(sr_auth_spec *a)
{
    ex_free(a->header);
    ex_free(a->token_env);
    ex_free(a->token_file);
    ex_free(a->username_env);
    ex_free(a->username_file);
    ex_free(a->password_env);
    ex_free(a->password_file);
}

void sr_profile_free(sr_profile *p)
{
    if (!p) return;
    ex_free(p->origin);
    ex_free(p->name);
    ex_free(p->description);
    for (size_t i = 0; i < p->nkey; i++) ex_free(p->key[i]);
    ex_free(p->base_url);
    ex_free(p->root_name);
    auth_spec_free(&p->auth);
    sr_headers_free(p->headers, p->nheaders);
    for (size_t i = 0; i < p->nrequests; i++) {
        sr_request *r = &p->requests[i];
        ex_free(r->name);
        ex_free(r->url);
        ex_free(r->body);
        sr_headers_free(r->headers, r->nheaders);
    }
    ex_free(p->requests);
    ex_free(p->map);
    sr_webhook_free(p->webhook);
    sr_discover_free(p->discover);
    ex_free(p);
}

const sr_request *sr_profile_request(const sr_profile *p, const char *name)
{
    for (size_t i = 0; i < p->nrequests; i++)
        if (strcmp(p->requests[i].name, name) == 0) return &p->requests[i];
    return NULL;
}

int sr_profile_key_index(const sr_profile *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->nkey; i++)
        if (strlen(p->key[i]) == len && memcmp(p->key[i], name, len) == 0) return (int)i;
    return -1;
}

const char *sr_profile_key_format(const sr_profile *p, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->nkey && o < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "/" : "", p->key[i]);
    return out;
}
