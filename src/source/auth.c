/* auth.c — reading a profile's secrets (auth.h). */
#include "source/auth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "otel/otlp_json.h"
#include "source/profile_int.h"

static void wipe(char *s)
{
    if (s) explicit_bzero(s, strlen(s));
}

/* The value of variable name in envp, or NULL. */
static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    return NULL;
}

int sr_secret_read(const char *origin, const char *field, const char *env, const char *file, char *const *envp,
                       char **out, char *err, size_t errlen)
{
    char *s = NULL;
    size_t len = 0;
    if (env) {
        const char *v = env_get(envp, env);
        if (!v) return snprintf(err, errlen, "%s: %s_env: %s is not set", origin, field, env), -1;
        len = strlen(v);
        if (len > SR_SECRET_MAX) return snprintf(err, errlen, "%s: %s_env: %s is longer than %d bytes", origin, field, env, SR_SECRET_MAX), -1;
        if (!(s = ex_strndup(v, len))) return snprintf(err, errlen, "%s: %s_env: out of memory", origin, field), -1;
    } else {
        FILE *f = fopen(file, "rb");
        if (!f) return snprintf(err, errlen, "%s: %s_file: %s: %s", origin, field, file, strerror(errno)), -1;
        s = ex_malloc(SR_SECRET_MAX + 2);
        len = s ? fread(s, 1, SR_SECRET_MAX + 1, f) : 0;
        int bad = !s || ferror(f);
        fclose(f);
        if (bad || len > SR_SECRET_MAX) {
            if (s) explicit_bzero(s, SR_SECRET_MAX + 2);
            ex_free(s);
            snprintf(err, errlen, "%s: %s_file: %s: %s", origin, field, file,
                     !s ? "out of memory" : bad ? "read error" : "longer than 8192 bytes");
            return -1;
        }
        s[len] = '\0';
        if (len && s[len - 1] == '\n') s[--len] = '\0';
        if (len && s[len - 1] == '\r') s[--len] = '\0';
    }
    const char *why = len == 0 ? "is empty" : (memchr(s, '\0', len) || !sr_no_controls(s, len, "")) ? "holds a control character" : NULL;
    if (why) {
        wipe(s);
        ex_free(s);
        snprintf(err, errlen, "%s: %s_%s: %s %s", origin, field, env ? "env" : "file", env ? env : file, why);
        return -1;
    }
    *out = s;
    return 0;
}

/* "Basic base64(user:pass)". */
static char *basic_value(const char *user, const char *pass)
{
    size_t n = strlen(user) + 1 + strlen(pass);
    char *raw = ex_malloc(n + 1);
    char *v = ex_malloc(6 + 4 * ((n + 2) / 3) + 1);
    if (raw && v) {
        snprintf(raw, n + 1, "%s:%s", user, pass);
        memcpy(v, "Basic ", 6);
        exo_b64_encode((const uint8_t *)raw, n, v + 6);
    } else {
        ex_free(v);
        v = NULL;
    }
    if (raw) explicit_bzero(raw, n + 1);
    ex_free(raw);
    return v;
}

int sr_auth_load(const char *origin, const sr_auth_spec *spec, char *const *envp, sr_auth *out, char *err,
                 size_t errlen)
{
    char *a = NULL, *b = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (spec->type == SR_AUTH_NONE) return 0;
    if (spec->type == SR_AUTH_BASIC) {
        if (sr_secret_read(origin, "auth.username", spec->username_env, spec->username_file, envp, &a, err, errlen) != 0 ||
            sr_secret_read(origin, "auth.password", spec->password_env, spec->password_file, envp, &b, err, errlen) != 0)
            goto done;
        out->value = basic_value(a, b);
    } else {
        if (sr_secret_read(origin, "auth.token", spec->token_env, spec->token_file, envp, &a, err, errlen) != 0) goto done;
        if (spec->type == SR_AUTH_BEARER) {
            size_t n = strlen(a) + 8;
            if ((out->value = ex_malloc(n))) snprintf(out->value, n, "Bearer %s", a);
        } else {
            out->value = ex_strdup(a);
        }
    }
    out->name = ex_strdup(spec->type == SR_AUTH_HEADER ? spec->header : "Authorization");
    if (!out->value || !out->name) {
        sr_auth_free(out);
        snprintf(err, errlen, "%s: auth: out of memory", origin);
        goto done;
    }
    rc = 0;
done:
    wipe(a);
    wipe(b);
    ex_free(a);
    ex_free(b);
    return rc;
}

void sr_auth_free(sr_auth *a)
{
    wipe(a->value);
    ex_free(a->value);
    ex_free(a->name);
    a->value = a->name = NULL;
}
