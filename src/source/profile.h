/* profile.h — a source profile: how to fetch one workflow's state from an
 * external API and the jq program that maps the answers to the canonical
 * snapshot (docs/sources.md, "Profiles").
 *
 * A profile is YAML, read with libyaml's document API. Loading validates
 * everything before anything runs: unknown fields, names by their
 * character rules, URL and body templates (every {placeholder} must be a
 * key part), header names and values, and auth (secrets only through
 * *_env or *_file, never literal). An error names the file, the line and
 * column of the offending node, the field path and the value (masked by
 * core/secret.h), e.g.
 *     profiles/x.yaml:12:5: requests.jobs.paginate: unknown value "pages" (link)
 * Pure: no environment or file is read apart from the profile file itself
 * (auth secrets are read by auth.h). */
#ifndef EXTRACE_SOURCE_PROFILE_H
#define EXTRACE_SOURCE_PROFILE_H
#include <stddef.h>

#define SR_NAME_MAX         64      /* source, key part and request names */
#define SR_KEY_PARTS_MAX    8       /* parts of a key */
#define SR_REQUESTS_MAX     16      /* requests of a profile */
#define SR_HEADERS_MAX      32      /* headers of the profile, and of each request */
#define SR_PAGES_MAX        1000    /* largest max_pages */
#define SR_PAGES_DEFAULT    10      /* max_pages when paginate is given without it */
#define SR_PROFILE_MAX      (1024 * 1024) /* largest profile file, bytes */
#define SR_TEXT_MAX         256     /* description, root_name */
#define SR_URL_MAX          2048    /* URL templates and base_url */
#define SR_VALUE_MAX        4096    /* header values, body templates */
#define SR_ERR_LEN          512     /* a good size for error buffers */

typedef struct sr_header {
    char *name;  /* token characters (RFC 9110) */
    char *value; /* printable, no CR/LF; never a credential (see auth) */
} sr_header;

typedef enum { SR_AUTH_NONE = 0, SR_AUTH_BEARER, SR_AUTH_BASIC, SR_AUTH_HEADER } sr_auth_type;

/* Where the secrets come from; exactly one of *_env / *_file per secret.
 * The values are names (of variables, of files), never the secrets. */
typedef struct sr_auth_spec {
    sr_auth_type type;
    char *header;                      /* header: the header's name (X-API-Key) */
    char *token_env, *token_file;      /* bearer, header */
    char *username_env, *username_file; /* basic */
    char *password_env, *password_file; /* basic */
} sr_auth_spec;

typedef enum { SR_METHOD_GET = 0, SR_METHOD_POST } sr_method;
typedef enum { SR_PAGINATE_NONE = 0, SR_PAGINATE_LINK } sr_paginate;

typedef struct sr_request {
    char *name;          /* [a-z0-9_]+, not "key"; the member of the jq input */
    sr_method method;
    char *url;           /* template: {part} → percent-encoded key part; relative → joined to the base URL */
    char *body;          /* POST only, may be NULL; template: {part} → the part JSON-string-escaped */
    sr_header *headers;  /* sent with this request, after the profile's */
    size_t nheaders;
    sr_paginate paginate;
    int max_pages;       /* SR_PAGINATE_LINK: 1..SR_PAGES_MAX; else 1 */
} sr_request;

/* How a webhook delivery is authenticated (docs/sources.md, "Webhooks"). */
typedef enum {
    SR_SIG_HMAC_SHA256 = 1, /* signature_header = prefix + hex HMAC-SHA256(secret, raw body) (GitHub) */
    SR_SIG_TOKEN,           /* signature_header = the shared secret itself (Argo Events, generic) */
} sr_sig_scheme;

/* The profile's `webhook:` section: how to check a delivery and map it. */
typedef struct sr_webhook {
    sr_sig_scheme signature;
    char *signature_header; /* X-Hub-Signature-256 */
    char *signature_prefix; /* "sha256=" (hmac-sha256), "" otherwise */
    char *event_header;     /* X-GitHub-Event, or NULL: the program sees event null */
    char *delivery_header;  /* X-GitHub-Delivery (de-duplicated), or NULL */
    char **events;          /* event names accepted (others: 202, ignored), or NULL: all */
    size_t nevents;
    char *map;              /* jq: {event, delivery, payload} → {key, at, snapshot} or null */
    int map_line;
} sr_webhook;
struct sr_discover; /* discover.h */

typedef struct sr_profile {
    char *origin;        /* file name, or "builtin:NAME", for messages */
    char *name;          /* [a-z0-9-]+ */
    char *description;   /* "" when not given */
    char *key[SR_KEY_PARTS_MAX]; /* part names, [a-z][a-z0-9_]* */
    size_t nkey;
    char *base_url;      /* http(s)://host[:port][/path], no userinfo/query; NULL when not given */
    char *root_name;     /* "Workflow" when not given */
    sr_auth_spec auth;
    sr_header *headers;
    size_t nheaders;
    sr_request *requests; /* in fetch order; the first one's 404 means "gone" */
    size_t nrequests;
    char *map;           /* the jq program text */
    int map_line;        /* 1-based line of the profile where the program text begins */
    sr_webhook *webhook; /* the webhook: section, or NULL */
    struct sr_discover *discover; /* the discover: section (its list request), or NULL */
} sr_profile;

/* Load the profile in text[0..len) (need not be NUL-terminated); origin
 * names it in messages. Returns 0 and *out (free with sr_profile_free), or
 * -1 with the error in err (errlen ≥ 1, always terminated). */
int sr_profile_load_string(const char *origin, const char *text, size_t len, sr_profile **out, char *err,
                           size_t errlen);
/* Load the profile file at path (at most SR_PROFILE_MAX bytes); the same
 * contract, messages prefixed by path. */
int sr_profile_load_file(const char *path, sr_profile **out, char *err, size_t errlen);
void sr_profile_free(sr_profile *p);

/* The request named `name`, or NULL. */
const sr_request *sr_profile_request(const sr_profile *p, const char *name);
/* Index of key part `name` (len bytes), or -1. */
int sr_profile_key_index(const sr_profile *p, const char *name, size_t len);
/* The key's part names joined by '/' ("owner/repo/run_id") into out. */
const char *sr_profile_key_format(const sr_profile *p, char *out, size_t outlen);

#endif
