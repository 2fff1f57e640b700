/* resource.h — the resource (who produced the spans) of the worker.
 *
 * Built from, lowest precedence first (OpenTelemetry specification,
 * "Resource SDK" and "Environment Variable Specification"):
 *   1. the seed's defaults: service.name=Tracing.Worker,
 *      service.version=1.0.0, service.namespace=dev1, and the SDK's own
 *      telemetry.sdk.name=extrace, telemetry.sdk.language=c,
 *      telemetry.sdk.version=EXTRACE_VERSION;
 *   2. OTEL_RESOURCE_ATTRIBUTES ("k1=v1,k2=v2", percent-decoded; on a
 *      decoding error the whole variable is dropped with a warning);
 *   3. OTEL_SERVICE_NAME, which wins over service.name;
 *   4. service.instance.id = a new UUID v4, unless given.
 * Every value is a string; a later key replaces an earlier one in place,
 * so no key appears twice. */
#ifndef EXTRACE_OTEL_RESOURCE_H
#define EXTRACE_OTEL_RESOURCE_H
#include <stddef.h>

#include "core/rng.h"
#include "otel/span.h"

#define EXO_DEFAULT_SERVICE_NAME "Tracing.Worker"
#define EXO_DEFAULT_SERVICE_VERSION "1.0.0"
#define EXO_DEFAULT_SERVICE_NAMESPACE "dev1"

/* Fill *out (overwritten) from envp (may be NULL). rng draws the instance
 * id (NULL: seeded from the OS). Returns 0 (when something in the
 * environment was ignored, warn holds why, naming the variable; else
 * warn is ""), or -1 on allocation failure (*out is then empty). Free
 * with exo_resource_free. */
int exo_resource_from_env(char *const *envp, ex_rng *rng, exo_resource *out, char *warn, size_t warnlen);
/* Free the attributes of r (not r itself). */
void exo_resource_free(exo_resource *r);
/* The value of a string attribute, or NULL when absent or not a string. */
const char *exo_resource_get(const exo_resource *r, const char *key);
/* Set a string attribute, replacing the value of an existing key in
 * place. 0 or -1 on allocation failure. */
int exo_resource_set(exo_resource *r, const char *key, const char *value);

#endif
