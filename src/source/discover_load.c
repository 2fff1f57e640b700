/* discover_load.c — the profile's `discover:` section (discover.h). */
#include <stdio.h>
#include <string.h>

#include "core/duration.h"
#include "core/mem.h"
#include "source/discover.h"
#include "source/profile_int.h"
#include "source/profile_load.h"

/* start: {name: value…} — the page variables and their first values. */
static int load_start(sr_ld *l, yaml_node_t *n, sr_discover *d)
{
    char q[160];
    if (!n) return 0;
    if (sr_ld_want(l, n, YAML_MAPPING_NODE, "discover.start") != 0) return -1;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, pr->key), *v = yaml_document_get_node(l->doc, pr->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) return sr_ld_fail(l, n, "discover.start", "malformed mapping");
        const char *name = (const char *)k->data.scalar.value;
        size_t len = k->data.scalar.length;
        if (!sr_is_part_name(name, len) || len > SR_NAME_MAX || (len == 5 && memcmp(name, "since", 5) == 0) ||
            sr_profile_key_index(l->p, name, len) >= 0)
            return sr_ld_fail(l, k, "discover.start", "%s is not a page variable name ([a-z][a-z0-9_]*, not since "
                              "nor a key part)", sr_ld_quote(k, q, sizeof q));
        if (d->nvars == SR_DISC_VARS_MAX)
            return sr_ld_fail(l, k, "discover.start", "more than %d page variables", SR_DISC_VARS_MAX);
        for (size_t i = 0; i < d->nvars; i++)
            if (strlen(d->vars[i]) == len && memcmp(d->vars[i], name, len) == 0)
                return sr_ld_fail(l, k, "discover.start", "%s given twice", sr_ld_quote(k, q, sizeof q));
        if (!(d->vars[d->nvars] = ex_strndup(name, len))) return sr_ld_fail(l, k, "discover.start", "out of memory");
        d->nvars++;
        if (v->type != YAML_SCALAR_NODE) return sr_ld_fail(l, v, "discover.start", "a value is text");
        if (!(d->start[d->nvars - 1] = ex_strndup((const char *)v->data.scalar.value, v->data.scalar.length)))
            return sr_ld_fail(l, v, "discover.start", "out of memory");
    }
    return 0;
}

static int load_url(sr_ld *l, yaml_node_t *n, sr_discover *d)
{
    char q[160], why[SR_ERR_LEN];
    if (!n) return sr_ld_fail(l, NULL, "discover.url", "missing (the list request's URL template)");
    if (sr_ld_str(l, n, "discover.url", SR_URL_MAX, "", &d->url) != 0) return -1;
    if (strpbrk(d->url, " \"<>\\^`|"))
        return sr_ld_fail(l, n, "discover.url", "%s: a URL has no spaces, quotes, <>, \\, ^, ` or |",
                          sr_ld_quote(n, q, sizeof q));
    if (d->url[0] != '/' && strncmp(d->url, "http://", 7) != 0 && strncmp(d->url, "https://", 8) != 0)
        return sr_ld_fail(l, n, "discover.url", "%s: starts with '/' (joined to base_url) or http(s)://",
                          sr_ld_quote(n, q, sizeof q));
    /* Every placeholder: a key part (of the scope), since, or a page variable. */
    sr_profile vp = {.origin = l->p->origin};
    for (size_t i = 0; i < l->p->nkey && vp.nkey < SR_KEY_PARTS_MAX; i++) vp.key[vp.nkey++] = l->p->key[i];
    if (vp.nkey < SR_KEY_PARTS_MAX) vp.key[vp.nkey++] = (char *)"since";
    for (size_t i = 0; i < d->nvars && vp.nkey < SR_KEY_PARTS_MAX; i++) vp.key[vp.nkey++] = d->vars[i];
    if (sr_template_check(&vp, d->url, why, sizeof why) != 0)
        return sr_ld_fail(l, n, "discover.url", "%s (a key part, since, or a variable of start)", why);
    return 0;
}

int sr_ld_discover(sr_ld *l, yaml_node_t *n)
{
    char q[160];
    if (sr_ld_want(l, n, YAML_MAPPING_NODE, "discover") != 0) return -1;
    sr_discover *d = l->p->discover = ex_calloc(1, sizeof *d);
    if (!d) return sr_ld_fail(l, n, "discover", "out of memory");
    d->max_pages = SR_DISC_PAGES_DEFAULT;
    d->overlap_ns = SR_DISC_OVERLAP_DEFAULT;
    sr_field f[] = {{"url"}, {"start"}, {"max_pages"}, {"overlap"}, {"map"}};
    if (sr_ld_fields(l, n, "discover", f, sizeof f / sizeof f[0]) != 0) return -1;
    if (load_start(l, f[1].node, d) != 0 || load_url(l, f[0].node, d) != 0) return -1;
    if (f[2].node && sr_ld_int(l, f[2].node, "discover.max_pages", 1, SR_PAGES_MAX, &d->max_pages) != 0) return -1;
    if (f[3].node) {
        const char *why = NULL;
        yaml_node_t *o = f[3].node;
        char text[64];
        if (o->type != YAML_SCALAR_NODE || o->data.scalar.length >= sizeof text)
            return sr_ld_fail(l, o, "discover.overlap", "expected a duration (90s, 2m)");
        snprintf(text, sizeof text, "%.*s", (int)o->data.scalar.length, (const char *)o->data.scalar.value);
        if (ex_duration_parse(text, &d->overlap_ns, &why) != 0 || d->overlap_ns < 0)
            return sr_ld_fail(l, o, "discover.overlap", "%s: %s", sr_ld_quote(o, q, sizeof q), why ? why : "negative");
    }
    if (!f[4].node) return sr_ld_fail(l, NULL, "discover.map", "missing (the jq program that maps a page)");
    if (sr_ld_str(l, f[4].node, "discover.map", SR_PROFILE_MAX, "\t\n\r", &d->map) != 0) return -1;
    int block = f[4].node->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                f[4].node->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
    d->map_line = (int)f[4].node->start_mark.line + 1 + (block ? 1 : 0);
    return 0;
}
