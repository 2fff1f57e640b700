/* profile_parts.c — the auth: and requests: sections of a profile
 * (profile_load.h). */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "source/profile.h"
#include "source/profile_int.h"
#include "source/profile_load.h"
#include "source/template.h"

/* One secret: exactly one of NAME_env and NAME_file. f points at the pair. */
static int load_secret(sr_ld *l, yaml_node_t *auth, const sr_field *f, const char *what, char **env, char **file)
{
    char path[64], q[160];
    if (f[0].node && f[1].node)
        return sr_ld_fail(l, f[1].at, "auth", "give %s_env or %s_file, not both", what, what);
    if (!f[0].node && !f[1].node)
        return sr_ld_fail(l, auth, "auth", "%s_env or %s_file is needed (the secret itself is never written in a profile)",
                          what, what);
    if (f[0].node) {
        snprintf(path, sizeof path, "auth.%s_env", what);
        if (sr_ld_str(l, f[0].node, path, 256, "", env) != 0) return -1;
        if (!sr_is_env_name(*env, strlen(*env)))
            return sr_ld_fail(l, f[0].node, path, "%s is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                              sr_ld_quote(f[0].node, q, sizeof q));
        return 0;
    }
    snprintf(path, sizeof path, "auth.%s_file", what);
    return sr_ld_str(l, f[1].node, path, 4096, "", file);
}

/* Fields a given auth type must not have. */
static int refuse(sr_ld *l, const sr_field *f, size_t from, size_t to, const char *type)
{
    char q[160];
    for (size_t i = from; i < to; i++)
        if (f[i].at)
            return sr_ld_fail(l, f[i].at, "auth", "%s does not apply to type %s", sr_ld_quote(f[i].at, q, sizeof q), type);
    return 0;
}

int sr_ld_auth(sr_ld *l, yaml_node_t *n)
{
    sr_auth_spec *a = &l->p->auth;
    char q[160];
    if (sr_ld_want(l, n, YAML_MAPPING_NODE, "auth") != 0) return -1;
    /* A literal secret gets its own message rather than "unknown field". */
    static const char *const literal[] = {"token", "password", "username", "secret", "value"};
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
        for (size_t i = 0; k && k->type == YAML_SCALAR_NODE && i < sizeof literal / sizeof literal[0]; i++)
            if (sr_ieq((const char *)k->data.scalar.value, k->data.scalar.length, literal[i]))
                return sr_ld_fail(l, k, "auth", "field %s would hold a secret, which is never written in a profile; use %s_env or %s_file",
                                  sr_ld_quote(k, q, sizeof q), literal[i], literal[i]);
    }
    sr_field f[] = {{"type"},         {"header"},       {"token_env"},    {"token_file"},
                    {"username_env"}, {"username_file"}, {"password_env"}, {"password_file"}};
    if (sr_ld_fields(l, n, "auth", f, sizeof f / sizeof f[0]) != 0) return -1;
    if (!f[0].node) return sr_ld_fail(l, n, "auth.type", "missing (bearer, basic, header, none)");
    yaml_node_t *t = f[0].node;
    const char *tv = t->type == YAML_SCALAR_NODE ? (const char *)t->data.scalar.value : "";
    size_t tl = t->type == YAML_SCALAR_NODE ? t->data.scalar.length : 0;
    if (sr_ieq(tv, tl, "none")) {
        a->type = SR_AUTH_NONE;
        return refuse(l, f, 1, 8, "none");
    }
    if (sr_ieq(tv, tl, "bearer") || sr_ieq(tv, tl, "header")) {
        a->type = sr_ieq(tv, tl, "bearer") ? SR_AUTH_BEARER : SR_AUTH_HEADER;
        if (refuse(l, f, 4, 8, tv) != 0) return -1;
        if (a->type == SR_AUTH_BEARER && refuse(l, f, 1, 2, "bearer") != 0) return -1;
        if (a->type == SR_AUTH_HEADER) {
            if (!f[1].node) return sr_ld_fail(l, n, "auth.header", "missing (the header's name, e.g. X-API-Key)");
            if (sr_ld_str(l, f[1].node, "auth.header", 128, "", &a->header) != 0) return -1;
            if (!sr_is_token(a->header, strlen(a->header)))
                return sr_ld_fail(l, f[1].node, "auth.header", "%s is not a header name", sr_ld_quote(f[1].node, q, sizeof q));
        }
        return load_secret(l, n, &f[2], "token", &a->token_env, &a->token_file);
    }
    if (sr_ieq(tv, tl, "basic")) {
        a->type = SR_AUTH_BASIC;
        if (refuse(l, f, 1, 4, "basic") != 0) return -1;
        if (load_secret(l, n, &f[4], "username", &a->username_env, &a->username_file) != 0) return -1;
        return load_secret(l, n, &f[6], "password", &a->password_env, &a->password_file);
    }
    return sr_ld_fail(l, t, "auth.type", "unknown value %s (bearer, basic, header, none)", sr_ld_quote(t, q, sizeof q));
}

static int check_template(sr_ld *l, yaml_node_t *n, const char *path, const char *tmpl)
{
    char why[SR_ERR_LEN];
    if (sr_template_check(l->p, tmpl, why, sizeof why) == 0) return 0;
    return sr_ld_fail(l, n, path, "%s", why);
}

static int load_url(sr_ld *l, yaml_node_t *n, const char *path, sr_request *r)
{
    char q[160];
    if (!n) return sr_ld_fail(l, NULL, path, "missing (the request's URL template)");
    if (sr_ld_str(l, n, path, SR_URL_MAX, "", &r->url) != 0) return -1;
    if (strpbrk(r->url, " \"<>\\^`|"))
        return sr_ld_fail(l, n, path, "%s: a URL has no spaces, quotes, <>, \\, ^, ` or |", sr_ld_quote(n, q, sizeof q));
    if (r->url[0] != '/' && strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0)
        return sr_ld_fail(l, n, path, "%s: starts with '/' (joined to base_url) or http(s)://", sr_ld_quote(n, q, sizeof q));
    return check_template(l, n, path, r->url);
}

static int load_method(sr_ld *l, yaml_node_t *n, const char *path, sr_request *r)
{
    char q[160];
    if (!n) return 0;
    const char *s = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
    size_t len = n->type == YAML_SCALAR_NODE ? n->data.scalar.length : 0;
    if (sr_ieq(s, len, "GET")) r->method = SR_METHOD_GET;
    else if (sr_ieq(s, len, "POST")) r->method = SR_METHOD_POST;
    else return sr_ld_fail(l, n, path, "unknown value %s (GET, POST)", sr_ld_quote(n, q, sizeof q));
    return 0;
}

static int load_paging(sr_ld *l, const sr_field *pg, const sr_field *mp, const char *name, sr_request *r)
{
    char path[SR_NAME_MAX + 40], q[160];
    r->max_pages = 1;
    snprintf(path, sizeof path, "requests.%s.paginate", name);
    if (pg->node) {
        yaml_node_t *n = pg->node;
        if (n->type != YAML_SCALAR_NODE || !sr_ieq((const char *)n->data.scalar.value, n->data.scalar.length, "link"))
            return sr_ld_fail(l, n, path, "unknown value %s (link)", sr_ld_quote(n, q, sizeof q));
        r->paginate = SR_PAGINATE_LINK;
        r->max_pages = SR_PAGES_DEFAULT;
    }
    snprintf(path, sizeof path, "requests.%s.max_pages", name);
    if (!mp->node) return 0;
    if (!pg->node) return sr_ld_fail(l, mp->node, path, "needs paginate: link");
    return sr_ld_int(l, mp->node, path, 1, SR_PAGES_MAX, &r->max_pages);
}

static int load_request(sr_ld *l, yaml_node_t *k, yaml_node_t *v, sr_request *r)
{
    char q[160], path[SR_NAME_MAX + 40];
    const char *name = (const char *)k->data.scalar.value;
    if (!(r->name = ex_strndup(name, k->data.scalar.length))) return sr_ld_fail(l, k, "requests", "out of memory");
    snprintf(path, sizeof path, "requests.%s", r->name);
    if (sr_ld_is_null(v)) return sr_ld_fail(l, v, path, "needs at least url:");
    sr_field f[] = {{"url"}, {"method"}, {"headers"}, {"body"}, {"paginate"}, {"max_pages"}};
    if (sr_ld_fields(l, v, path, f, sizeof f / sizeof f[0]) != 0) return -1;
    char sub[SR_NAME_MAX + 64];
    snprintf(sub, sizeof sub, "%s.url", path);
    if (load_url(l, f[0].node, sub, r) != 0) return -1;
    snprintf(sub, sizeof sub, "%s.method", path);
    if (load_method(l, f[1].node, sub, r) != 0) return -1;
    snprintf(sub, sizeof sub, "%s.headers", path);
    if (f[2].node && sr_ld_headers(l, f[2].node, sub, &r->headers, &r->nheaders) != 0) return -1;
    snprintf(sub, sizeof sub, "%s.body", path);
    if (f[3].node) {
        if (r->method != SR_METHOD_POST) return sr_ld_fail(l, f[3].node, sub, "a body needs method: POST");
        if (sr_ld_str(l, f[3].node, sub, SR_VALUE_MAX, "\t\n\r", &r->body) != 0) return -1;
        if (check_template(l, f[3].node, sub, r->body) != 0) return -1;
    }
    (void)q;
    return load_paging(l, &f[4], &f[5], r->name, r);
}

int sr_ld_requests(sr_ld *l, yaml_node_t *n)
{
    sr_profile *p = l->p;
    char q[160];
    if (sr_ld_want(l, n, YAML_MAPPING_NODE, "requests") != 0) return -1;
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count == 0 || count > SR_REQUESTS_MAX)
        return sr_ld_fail(l, n, "requests", "%zu requests, 1 to %d allowed", count, SR_REQUESTS_MAX);
    if (!(p->requests = ex_calloc(count, sizeof *p->requests))) return sr_ld_fail(l, n, "requests", "out of memory");
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, pr->value);
        if (!k || !v) return sr_ld_fail(l, n, "requests", "malformed mapping");
        if (k->type != YAML_SCALAR_NODE || !sr_is_request_name((const char *)k->data.scalar.value, k->data.scalar.length) ||
            sr_ieq((const char *)k->data.scalar.value, k->data.scalar.length, "key"))
            return sr_ld_fail(l, k, "requests", "%s is not a request name ([a-z0-9_]+, not \"key\")", sr_ld_quote(k, q, sizeof q));
        for (size_t j = 0; j < p->nrequests; j++)
            if (sr_ieq((const char *)k->data.scalar.value, k->data.scalar.length, p->requests[j].name))
                return sr_ld_fail(l, k, "requests", "request %s given twice", sr_ld_quote(k, q, sizeof q));
        sr_request *r = &p->requests[p->nrequests++];
        if (load_request(l, k, v, r) != 0) return -1;
    }
    return 0;
}
