/* target_source.c — fuzz runs for the source profile engine: the YAML
 * profile loader, and the HTTP header parsers of a polite poller (Link,
 * rate limits, Retry-After dates, URL reference resolution). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "source/httpmeta.h"
#include "source/profile.h"
#include "source/profile_int.h"
#include "source/template.h"
#include "targets.h"
#include "targets_int.h"

/* ---- profile ----------------------------------------------------------- */

static void profile_check_ok(const sr_profile *p)
{
    char err[SR_ERR_LEN];
    if (!sr_is_source_name(p->name, strlen(p->name))) fuzz__fail("profile", "accepted name \"%s\"", p->name);
    if (p->nkey < 1 || p->nkey > SR_KEY_PARTS_MAX) fuzz__fail("profile", "accepted %zu key parts", p->nkey);
    for (size_t i = 0; i < p->nkey; i++)
        if (!sr_is_part_name(p->key[i], strlen(p->key[i]))) fuzz__fail("profile", "accepted key part \"%s\"", p->key[i]);
    if (p->nrequests < 1 || p->nrequests > SR_REQUESTS_MAX) fuzz__fail("profile", "accepted %zu requests", p->nrequests);
    if (!p->map || !*p->map || p->map_line < 1) fuzz__fail("profile", "accepted an empty map or line %d", p->map_line);
    for (size_t i = 0; i < p->nrequests; i++) {
        const sr_request *r = &p->requests[i];
        if (sr_template_check(p, r->url, err, sizeof err) != 0) fuzz__fail("profile", "accepted url: %s", err);
        if (r->body && r->method != SR_METHOD_POST) fuzz__fail("profile", "accepted a body on GET");
        if (r->max_pages < 1 || r->max_pages > SR_PAGES_MAX) fuzz__fail("profile", "max_pages %d", r->max_pages);
        if (sr_profile_request(p, r->name) != r) fuzz__fail("profile", "request %s found twice", r->name);
    }
    const sr_auth_spec *a = &p->auth;
    int secrets = (a->token_env || a->token_file) + (a->username_env || a->username_file) + (a->password_env || a->password_file);
    int want = a->type == SR_AUTH_NONE ? 0 : a->type == SR_AUTH_BASIC ? 2 : 1;
    if (secrets != want) fuzz__fail("profile", "auth type %d with %d secret sources", (int)a->type, secrets);
    /* A key made of 'k's builds every URL against a base. */
    sr_key k = {0};
    for (size_t i = 0; i < p->nkey; i++) k.parts[k.n++] = "k/é";
    for (size_t i = 0; i < p->nrequests; i++) {
        char *u = sr_url_build(p, p->requests[i].url, "http://b", &k, err, sizeof err);
        if (!u) continue; /* too long */
        if (strncmp(u, "http", 4) != 0) fuzz__fail("profile", "built URL \"%s\"", u);
        ex_free(u);
    }
}

int fuzz_run_profile(const uint8_t *data, size_t size)
{
    sr_profile *p = NULL;
    char err[SR_ERR_LEN], small[8];
    int rc = sr_profile_load_string("f.yaml", (const char *)data, size, &p, err, sizeof err);
    if (rc == 0) {
        if (!p) fuzz__fail("profile", "accepted without a profile");
        profile_check_ok(p);
        sr_profile_free(p);
    } else {
        if (p) fuzz__fail("profile", "refused but returned a profile");
        fuzz__check_terminated("profile", "the error", err, sizeof err);
        if (strncmp(err, "f.yaml", 6) != 0) fuzz__fail("profile", "error without the origin: %s", err);
    }
    /* The result does not depend on the message buffer's size. */
    int rc2 = sr_profile_load_string("f.yaml", (const char *)data, size, &p, small, sizeof small);
    if (rc2 != rc) fuzz__fail("profile", "status %d with a large buffer, %d with a small one", rc, rc2);
    fuzz__check_terminated("profile", "the short error", small, sizeof small);
    sr_profile_free(p);
    return 0;
}

/* ---- httpmeta ---------------------------------------------------------- */

static const char *const rl_names[] = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                                       "X-RateLimit-Used",  "RateLimit-Limit",       "RateLimit-Remaining",
                                       "RateLimit-Reset",   "RateLimit",             "RateLimit-Policy",
                                       "Retry-After",       "x-ratelimit-reset",     "Link"};

static void link_check(const char *v, size_t len)
{
    char out[256], small[4];
    int rc = sr_link_next(v, len, out, sizeof out);
    fuzz__check_terminated("httpmeta", "the Link target", out, sizeof out);
    if (rc < -1 || rc > 1) fuzz__fail("httpmeta", "sr_link_next returned %d", rc);
    if (rc == 1 && !memmem(v, len, out, strlen(out))) fuzz__fail("httpmeta", "target \"%s\" is not in the value", out);
    int rc2 = sr_link_next(v, len, small, sizeof small);
    fuzz__check_terminated("httpmeta", "the short Link target", small, sizeof small);
    if (rc == 0 && rc2 != 0) fuzz__fail("httpmeta", "no next with a large buffer, %d with a small one", rc2);
    if (rc == 1) {
        char *u = sr_url_resolve("https://api.example/a/b?c", out);
        if (u && strncmp(u, "http", 4) != 0) fuzz__fail("httpmeta", "resolved to \"%s\"", u);
        ex_free(u);
    }
}

int fuzz_run_httpmeta(const uint8_t *data, size_t size)
{
    const int64_t now = INT64_C(1700000000000000000);
    sr_ratelimit rl;
    sr_ratelimit_init(&rl);
    /* Input: lines, each a name index byte then the value. */
    char *text = fuzz__cstr(data, size);
    for (char *line = text, *nl; line; line = nl) {
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (nl) nl++;
        if (len == 0) continue;
        const char *name = rl_names[(unsigned char)line[0] % (sizeof rl_names / sizeof rl_names[0])];
        const char *v = line + 1;
        len--;
        if (strcmp(name, "Link") == 0) {
            link_check(v, len);
            continue;
        }
        sr_ratelimit_header(&rl, name, v, len, now);
        int64_t t;
        if (sr_http_date_parse(v, len, &t) == 0 && (t < 0 || t % INT64_C(1000000000) != 0))
            fuzz__fail("httpmeta", "HTTP date gave %lld", (long long)t);
    }
    if (rl.limit < -1 || rl.remaining < -1 || rl.used < -1 || rl.reset_ns < 0 || rl.retry_at_ns < 0)
        fuzz__fail("httpmeta", "negative values: limit %lld remaining %lld", (long long)rl.limit, (long long)rl.remaining);
    sr_pace_policy pol = sr_pace_default();
    sr_pace_reason why;
    int64_t pause = sr_ratelimit_pause(&rl, now, &pol, &why);
    if (pause < 0 || pause > pol.max_pause_ns) fuzz__fail("httpmeta", "pause %lld", (long long)pause);
    if ((pause == 0) != (why == SR_PACE_NONE)) fuzz__fail("httpmeta", "pause %lld for reason %d", (long long)pause, (int)why);
    /* The same text as one Link value, and the conditional cache. */
    link_check((const char *)data, size);
    sr_cond c = {0};
    char lines[2][SR_ETAG_MAX + 32];
    if (sr_cond_store(&c, text, text, text, strlen(text)) == 0) {
        int n = sr_cond_headers(&c, lines, 2);
        for (int i = 0; i < n; i++)
            if (strpbrk(lines[i], "\r\n")) fuzz__fail("httpmeta", "a header line with CR or LF");
    }
    sr_cond_clear(&c);
    ex_free(text);
    return 0;
}
