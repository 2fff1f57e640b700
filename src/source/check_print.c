/* check_print.c — the text `extrace profile check` prints (check_print.h). */
#include "source/check_print.h"

#include <string.h>

#include "core/iso8601.h"
#include "worker/event.h"

static const char *const auth_names[] = {"none", "bearer", "basic", "header"};

static void print_secret_source(FILE *out, const char *what, const char *env, const char *file)
{
    if (env) fprintf(out, " %s from $%s", what, env);
    else if (file) fprintf(out, " %s from file %s", what, file);
}

void sr_print_profile(FILE *out, const sr_profile *p)
{
    char key[SR_KEY_PARTS_MAX * (SR_NAME_MAX + 1) + 1];
    fprintf(out, "profile %s (%s)\n", p->name, p->origin);
    if (*p->description) fprintf(out, "  description: %s\n", p->description);
    fprintf(out, "  key: %s\n", sr_profile_key_format(p, key, sizeof key));
    fprintf(out, "  base_url: %s\n", p->base_url ? p->base_url : "(none: --api-url gives it)");
    fprintf(out, "  root_name: %s\n", p->root_name);
    const sr_auth_spec *a = &p->auth;
    fprintf(out, "  auth: %s", auth_names[a->type]);
    if (a->type == SR_AUTH_HEADER) fprintf(out, " (%s)", a->header);
    print_secret_source(out, "token", a->token_env, a->token_file);
    print_secret_source(out, "username", a->username_env, a->username_file);
    print_secret_source(out, "password", a->password_env, a->password_file);
    fputc('\n', out);
    for (size_t i = 0; i < p->nheaders; i++) fprintf(out, "  header %s: %s\n", p->headers[i].name, p->headers[i].value);
    for (size_t i = 0; i < p->nrequests; i++) {
        const sr_request *r = &p->requests[i];
        fprintf(out, "  request %s: %s %s", r->name, r->method == SR_METHOD_POST ? "POST" : "GET", r->url);
        if (r->paginate == SR_PAGINATE_LINK) fprintf(out, " (paged by Link, at most %d pages)", r->max_pages);
        fputc('\n', out);
        for (size_t j = 0; j < r->nheaders; j++) fprintf(out, "    header %s: %s\n", r->headers[j].name, r->headers[j].value);
    }
    fprintf(out, "  map: %zu bytes of jq from line %d, compiled\n", strlen(p->map), p->map_line);
}

static void print_time(FILE *out, const char *label, int64_t ns)
{
    char buf[EX_ISO_LEN + 1];
    if (ns != MDL_NO_TIME) fprintf(out, ", %s %s", label, ex_iso_format(ns, buf));
}

static void print_node(FILE *out, const mdl_snode *n, int depth, const char *fallback)
{
    char q[400];
    fprintf(out, "%*s", (depth < 40 ? depth : 40) * 2, ""); /* deeper levels line up at 40 */
    if (n->key) fprintf(out, "%s ", n->key);
    const char *name = n->name ? n->name : fallback;
    fprintf(out, "%s", wk_quote(name, strlen(name), 128, q, sizeof q));
    if (n->kind) fprintf(out, " [%s]", n->kind);
    fprintf(out, ": %s", mdl_status_name(n->status));
    if (n->state) fprintf(out, " (%s)", n->state);
    if (n->id && *n->id) fprintf(out, ", id %s", n->id);
    print_time(out, "start", n->start_ns);
    print_time(out, "end", n->end_ns);
    print_time(out, "since", n->since_ns);
    if (n->initial_state) {
        fprintf(out, ", initially %s", n->initial_state);
        print_time(out, "at", n->initial_ns);
    }
    if (n->error) fprintf(out, ", error %s", wk_quote(n->error, n->error_len, 200, q, sizeof q));
    size_t na = (n->attrs ? json_object_size(n->attrs) : 0) + n->nsattrs;
    if (na) fprintf(out, ", %zu attribute%s", na, na == 1 ? "" : "s");
    fputc('\n', out);
}

static void print_children(FILE *out, const mdl_snapshot *s, uint32_t parent, int depth)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        if (s->nodes[i].parent_idx != parent) continue;
        print_node(out, &s->nodes[i], depth, s->nodes[i].key);
        print_children(out, s, (uint32_t)i, depth + 1);
    }
}

void sr_print_tree(FILE *out, const mdl_snapshot *s, const char *root_name)
{
    print_node(out, &s->root, 0, root_name);
    print_children(out, s, MDL_ROOT, 1);
}
