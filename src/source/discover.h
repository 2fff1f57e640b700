/* discover.h — a profile's `discover:` section: the list request that
 * names the workflows created since a time, and the jq program that maps
 * each page of its answer to keys and times (docs/sources.md, "Discovery").
 *
 *   discover:
 *     url: /repos/{owner}/{repo}/actions/runs?created=%3E%3D{since}&per_page=100&page={page}
 *     start: {page: "1"}        # the first page's variables
 *     max_pages: 10             # pages per listing at most
 *     overlap: 2m               # how far before the high-water mark each listing reaches back
 *     map: |                    # {scope, since, vars, page} → {workflows: [{key, time, traceparent?}], next}
 *
 * The URL template takes {since} (RFC 3339 UTC), the scope's key parts
 * (the leading parts of a key that --discover-scope gives: {owner},
 * {repo}) and the page variables ({page}). The program's `next` is the
 * next page's variables (an object of strings), or null after the last
 * page. Pure apart from the jq run. */
#ifndef EXTRACE_SOURCE_DISCOVER_H
#define EXTRACE_SOURCE_DISCOVER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "source/profile.h"
#include "source/template.h"

#define SR_DISC_VARS_MAX  4                  /* page variables */
#define SR_DISC_OVERLAP_DEFAULT (120 * INT64_C(1000000000))
#define SR_DISC_PAGES_DEFAULT 10
#define SR_DISC_FOUND_MAX 10000              /* workflows one page may name */

typedef struct sr_discover {
    char *url;                       /* template: scope parts, {since}, page variables */
    char *vars[SR_DISC_VARS_MAX];    /* the page variables' names */
    char *start[SR_DISC_VARS_MAX];   /* … and their first values */
    size_t nvars;
    int max_pages;                   /* 1..SR_PAGES_MAX */
    int64_t overlap_ns;              /* ≥ 0 */
    char *map;                       /* jq program text */
    int map_line;                    /* profile line where it begins */
} sr_discover;

/* One workflow a listing names. */
typedef struct sr_found {
    char *key;                       /* owned; checked against the profile's key parts */
    int64_t time_ns;                 /* its creation time by the source's clock (the high-water mark's unit) */
    char *traceparent;               /* owned; the submitter's, or NULL */
} sr_found;

/* A mapped page: the workflows and the next page's variables (NULL: done). */
typedef struct sr_found_page {
    sr_found *items;
    size_t n;
    char *next[SR_DISC_VARS_MAX];    /* owned values, in the order of d->vars; all NULL when no next page */
    int has_next;
} sr_found_page;

void sr_discover_free(sr_discover *d);

/* The URL of one page: base (the worker's --api-url) + the template with
 * the scope's parts (scope: nscope leading key parts), since (ns, written
 * RFC 3339 UTC to the second, rounded down) and the variables' values.
 * ex_malloc'd, or NULL with err. */
char *sr_discover_url(const sr_profile *p, const char *base, const sr_key *scope, int64_t since_ns,
                      char *const *values, char *err, size_t errlen);

/* The jq input of one page as JSON text: {"scope": {part: value…},
 * "since": "<RFC 3339>", "vars": {name: value…}, "page": <body>} (body
 * inserted as it came; jq refuses it when it is not JSON). ex_malloc'd,
 * or NULL when out of memory. */
char *sr_discover_input(const sr_profile *p, const sr_key *scope, int64_t since_ns, char *const *values,
                        const char *body, size_t len, size_t *outlen);

/* Read the program's output: {"workflows": [{"key": string, "time":
 * time, "traceparent": string|null}…], "next": {var: string…}|null}.
 * Every key must parse with the profile's key (sr_key_parse); times as in
 * the snapshot (RFC 3339 or unix seconds). 0 with *out (free with
 * sr_found_page_clear), or -1 with err naming the member and the value. */
int sr_discover_read(const sr_profile *p, const json_t *out_json, sr_found_page *out, char *err, size_t errlen);
void sr_found_page_clear(sr_found_page *pg);

/* Split a --discover-scope text into the profile's first parts (fewer
 * than the key has, ≥ 1, joined by '/'; "" is no scope). 0 with *out
 * (sr_key_free), or -1 with err. */
int sr_discover_scope(const sr_profile *p, const char *text, sr_key *out, char *err, size_t errlen);

#endif
