/* profile_load.h — the YAML walking helpers of the profile loader
 * (profile.c, profile_parts.c); not part of the module's interface. */
#ifndef EXTRACE_SOURCE_PROFILE_LOAD_H
#define EXTRACE_SOURCE_PROFILE_LOAD_H
#include <stddef.h>
#include <yaml.h>

#include "source/profile.h"

typedef struct sr_ld {
    const char *origin;
    yaml_document_t *doc;
    sr_profile *p;
    char *err;
    size_t errlen;
} sr_ld;

/* One known field of a mapping: filled by sr_ld_fields. */
typedef struct sr_field {
    const char *name;
    yaml_node_t *node; /* the value; NULL when absent or null */
    yaml_node_t *at;   /* the key's node (for "missing" errors: the mapping) */
} sr_field;

/* Write "origin:line:col: path: message" (masked) to l->err; returns -1. */
int sr_ld_fail(sr_ld *l, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A quoted, cut copy of a scalar's value for messages (buffer of 128). */
const char *sr_ld_quote(const yaml_node_t *n, char *out, size_t outlen);
/* 1 when n is a null scalar ("", ~, null). */
int sr_ld_is_null(const yaml_node_t *n);
/* Match the keys of mapping `map` against f[0..nf): unknown, duplicate or
 * non-text keys are errors. Returns 0 or -1. */
int sr_ld_fields(sr_ld *l, yaml_node_t *map, const char *path, sr_field *f, size_t nf);
/* Require a mapping (kind "a mapping") / sequence; 0 or -1. */
int sr_ld_want(sr_ld *l, yaml_node_t *n, yaml_node_type_t type, const char *path);
/* A text value of 1..max bytes, no NUL, no control characters except
 * those in `allowed`: 0 and *out (ex_malloc'd), or -1. */
int sr_ld_str(sr_ld *l, yaml_node_t *n, const char *path, size_t max, const char *allowed, char **out);
/* A string field: absent → *out = dup(def) (NULL def: stays NULL). */
int sr_ld_opt_str(sr_ld *l, const sr_field *f, const char *path, size_t max, const char *def, char **out);
/* An integer in [min, max]; 0 or -1. */
int sr_ld_int(sr_ld *l, yaml_node_t *n, const char *path, long min, long max, int *out);
/* A headers mapping (name → value): 0 or -1. */
int sr_ld_headers(sr_ld *l, yaml_node_t *n, const char *path, sr_header **out, size_t *nout);
/* auth: / requests: (profile_parts.c). */
int sr_ld_auth(sr_ld *l, yaml_node_t *n);
int sr_ld_requests(sr_ld *l, yaml_node_t *n);
void sr_headers_free(sr_header *h, size_t n);
/* webhook: (webhook_load.c), and freeing it. */
int sr_ld_webhook(sr_ld *l, yaml_node_t *n);
void sr_webhook_free(sr_webhook *w);
/* A jq program's text (literal or folded block): *out and its first line. 0 or -1. */
int sr_ld_program(sr_ld *l, yaml_node_t *n, const char *path, char **out, int *line);
/* discover: (discover_load.c). */
int sr_ld_discover(sr_ld *l, yaml_node_t *n);

#endif
