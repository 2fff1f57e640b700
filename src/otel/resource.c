#include "otel/resource.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/uuid.h"
#include "otel/otel_env.h"

int exo_resource_set(exo_resource *r, const char *key, const char *value)
{
    for (size_t i = 0; i < r->attrs.len; i++) {
        exo_attr *a = &r->attrs.items[i];
        if (strcmp(a->key, key) != 0) continue;
        char *copy = ex_strdup(value);
        if (!copy) return -1;
        if (a->type == EXO_VAL_STRING) ex_free(a->v.s);
        a->type = EXO_VAL_STRING;
        a->v.s = copy;
        return 0;
    }
    return exo_attrs_add_str(&r->attrs, key, value);
}

const char *exo_resource_get(const exo_resource *r, const char *key)
{
    const exo_attr *a = exo_attrs_find(&r->attrs, key);
    return a && a->type == EXO_VAL_STRING ? a->v.s : NULL;
}

void exo_resource_free(exo_resource *r)
{
    if (r) exo_attrs_clear(&r->attrs);
}

/* Apply OTEL_RESOURCE_ATTRIBUTES. 0 (maybe with a warning) or -1. */
static int apply_attributes(char *const *envp, exo_resource *r, char *warn, size_t warnlen)
{
    const char *var = "OTEL_RESOURCE_ATTRIBUTES", *v = exo_env_get(envp, var);
    if (!v) return 0;
    exo_kv_list l;
    char why[160] = "";
    int rc = exo_kv_list_parse(v, &l, why, sizeof why);
    if (rc == -2) return -1;
    if (rc) {
        if (warn && warnlen) snprintf(warn, warnlen, "%s=\"%.200s\": %s; the variable is ignored", var, v, why);
        return 0;
    }
    for (size_t i = 0; i < l.len && rc == 0; i++) rc = exo_resource_set(r, l.items[i].key, l.items[i].value);
    exo_kv_list_free(&l);
    return rc;
}

int exo_resource_from_env(char *const *envp, ex_rng *rng, exo_resource *out, char *warn, size_t warnlen)
{
    static const char *const defaults[][2] = {
        {"service.name", EXO_DEFAULT_SERVICE_NAME},
        {"service.version", EXO_DEFAULT_SERVICE_VERSION},
        {"service.namespace", EXO_DEFAULT_SERVICE_NAMESPACE},
        {"service.instance.id", ""}, /* placeholder: keeps the service.* keys together */
        {"telemetry.sdk.name", "extrace"},
        {"telemetry.sdk.language", "c"},
        {"telemetry.sdk.version", EXTRACE_VERSION},
    };
    memset(out, 0, sizeof *out);
    if (warn && warnlen) warn[0] = '\0';
    int rc = 0;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0] && rc == 0; i++)
        rc = exo_attrs_add_str(&out->attrs, defaults[i][0], defaults[i][1]);
    if (rc == 0) rc = apply_attributes(envp, out, warn, warnlen);
    const char *name = exo_env_get(envp, "OTEL_SERVICE_NAME");
    if (rc == 0 && name) rc = exo_resource_set(out, "service.name", name);
    const char *id = exo_resource_get(out, "service.instance.id");
    if (rc == 0 && (!id || !*id)) {
        ex_rng own;
        char uuid[EX_UUID_LEN + 1];
        if (!rng) ex_rng_seed_random(rng = &own);
        rc = exo_resource_set(out, "service.instance.id", ex_uuid4(rng, uuid));
    }
    if (rc) exo_resource_free(out);
    return rc ? -1 : 0;
}
