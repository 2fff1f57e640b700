/* source_rt.c — open --source: the seed, a built-in profile or a file. */
#include "worker/source_rt.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "model/monitor.h"
#include "model/spans.h"
#include "source/builtin.h"

extern char **environ;

int wk_source_is_seed(const wk_source *s) { return s->profile == NULL; }

static int add_header(wk_source *s, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = ex_malloc(n);
    if (!line) return -1;
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *h = curl_slist_append(s->headers, line);
    explicit_bzero(line, n); /* it may hold the credential */
    ex_free(line);
    if (!h) return -1;
    s->headers = h;
    return 0;
}

int wk_source_open(const char *spec, const char *api_url, wk_source *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->name = MDL_SEED_SOURCE;
    out->max_nodes = MDL_SEED_MAX_NODES;
    out->max_events = MDL_SEED_MAX_EVENTS;
    out->key_attr = "workflowId";
    if (!spec || strcmp(spec, MDL_SEED_SOURCE) == 0) return 0;
    if (sr_profile_load_any(spec, &out->profile, err, errlen)) return -1;
    sr_profile *p = out->profile;
    out->name = p->name;
    out->max_nodes = MDL_MAX_NODES;
    out->max_events = MDL_DEF_MAX_EVENTS;
    out->key_attr = MDL_KEY_ATTR;
    const char *base = api_url && api_url[0] ? api_url : p->base_url;
    if (!base) {
        snprintf(err, errlen, "%s: the profile has no base_url: give --api-url", p->origin);
        goto fail;
    }
    if (sr_jq_compile(p, &out->jq, err, errlen) || sr_auth_load(p->origin, &p->auth, environ, &out->auth, err, errlen))
        goto fail;
    if (!(out->base_url = ex_strdup(base))) goto nomem;
    int own_accept = 0;
    for (size_t i = 0; i < p->nheaders; i++) own_accept |= strcasecmp(p->headers[i].name, "Accept") == 0;
    if ((!own_accept && add_header(out, "Accept", "application/json")) ||
        add_header(out, "User-Agent", "extrace-worker/" EXTRACE_VERSION))
        goto nomem;
    for (size_t i = 0; i < p->nheaders; i++)
        if (add_header(out, p->headers[i].name, p->headers[i].value)) goto nomem;
    if (out->auth.name && add_header(out, out->auth.name, out->auth.value)) goto nomem;
    return 0;
nomem:
    snprintf(err, errlen, "%s: out of memory", p->origin);
fail:
    wk_source_close(out);
    return -1;
}

void wk_source_close(wk_source *s)
{
    if (s->headers) {
        for (struct curl_slist *h = s->headers; h; h = h->next) explicit_bzero(h->data, strlen(h->data));
        curl_slist_free_all(s->headers);
    }
    sr_jq_free(s->jq);
    sr_auth_free(&s->auth);
    ex_free(s->base_url);
    sr_profile_free(s->profile);
    memset(s, 0, sizeof *s);
}
