/* template.h — keys and URLs of a source (docs/sources.md, "Keys").
 *
 * A key is the text that names one workflow: its parts joined by '/', as
 * many as the profile's `key:` list names. Every part is 1–256 bytes
 * without control characters; all but the last also without '/', the last
 * takes the rest (so it may hold '/'). Templates are URL or body texts
 * with {part} placeholders; any other '{' or '}' is literal. Pure. */
#ifndef EXTRACE_SOURCE_TEMPLATE_H
#define EXTRACE_SOURCE_TEMPLATE_H
#include <stddef.h>

#include "source/profile.h"

#define SR_PART_MAX 256

typedef struct sr_key {
    size_t n;
    char *parts[SR_KEY_PARTS_MAX]; /* NUL-terminated, owned */
} sr_key;

/* Split text[0..len) into the profile's key parts. Returns 0 (free with
 * sr_key_free), or -1 with an error naming the key (quoted, cut) and the
 * part, e.g. `key "octo/hello": 2 parts, github-actions needs 3 (owner/repo/run_id)`. */
int sr_key_parse(const sr_profile *p, const char *text, size_t len, sr_key *out, char *err, size_t errlen);
void sr_key_free(sr_key *k);

/* A placeholder-aware scan of a template: calls back for each {name}
 * (name = [A-Za-z_][A-Za-z0-9_]*, at most SR_NAME_MAX bytes). Used by the
 * loader to check that every placeholder is a key part: returns 0, or -1
 * with err naming the first unknown placeholder and the byte offset. */
int sr_template_check(const sr_profile *p, const char *tmpl, char *err, size_t errlen);

/* Expand a URL template: placeholders become the key's parts,
 * percent-encoded (RFC 3986 unreserved characters kept); a template that
 * is not absolute (http:// or https://) is appended to base (its trailing
 * '/' and the template's leading '/' merged into one). Returns an ex_malloc'd
 * URL, or NULL with err (no base for a relative template, too long,
 * out of memory). */
char *sr_url_build(const sr_profile *p, const char *tmpl, const char *base, const sr_key *k, char *err,
                   size_t errlen);
/* Expand a body template: placeholders become the parts escaped as the
 * inside of a JSON string. ex_malloc'd, or NULL with err. */
char *sr_body_build(const sr_profile *p, const char *tmpl, const sr_key *k, char *err, size_t errlen);

/* Resolve reference `ref` (a Link target: absolute, "//host/…", "/path",
 * "?query" or relative path) against the absolute URL `base` (RFC 3986
 * §5.2, dot segments removed). ex_malloc'd, or NULL when base is not an
 * absolute http(s) URL or out of memory. */
char *sr_url_resolve(const char *base, const char *ref);

/* Check an absolute http(s) base URL: host present, no userinfo, query or
 * fragment. 0, or -1 with a reason (static text) in *why. */
int sr_base_url_check(const char *url, const char **why);

#endif
