/* auth.h — a profile's credentials, read once when the profile is put to
 * use (not in profile.h, which stays pure).
 *
 *   bearer   Authorization: Bearer <token>     token_env | token_file
 *   basic    Authorization: Basic base64(u:p)  username_env | username_file,
 *                                              password_env | password_file
 *   header   <header>: <token>                 token_env | token_file
 *
 * A file's content is used without its trailing newline (CR LF too); a
 * secret must be 1..SR_SECRET_MAX bytes without control characters. An
 * error names the field and the variable or file, never the secret
 * ("auth.token_env: GITHUB_TOKEN is not set"). The header holding a secret
 * is wiped when freed; print it only through core/secret.h. */
#ifndef EXTRACE_SOURCE_AUTH_H
#define EXTRACE_SOURCE_AUTH_H
#include <stddef.h>

#include "source/profile.h"

#define SR_SECRET_MAX 8192

typedef struct sr_auth {
    char *name;  /* "Authorization", or the profile's header; NULL for none */
    char *value; /* the secret-bearing value */
} sr_auth;

/* Read the secrets of spec from envp (NULL-terminated "K=V", e.g. environ)
 * or their files. Returns 0 with *out filled (name NULL for type none), or
 * -1 with err prefixed by origin. */
int sr_auth_load(const char *origin, const sr_auth_spec *spec, char *const *envp, sr_auth *out, char *err,
                 size_t errlen);
/* Wipe and free. */
void sr_auth_free(sr_auth *a);
/* Read one secret from variable `env` of envp, or else from `file` (its
 * content without the trailing newline): 1..SR_SECRET_MAX bytes without
 * control characters. 0 and *out (ex_malloc'd; wipe it before freeing),
 * or -1 with err naming origin, field, the variable or file, never the
 * secret ("origin: auth.token_env: GITHUB_TOKEN is not set"). */
int sr_secret_read(const char *origin, const char *field, const char *env, const char *file, char *const *envp,
                   char **out, char *err, size_t errlen);

#endif
