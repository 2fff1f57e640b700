/* otel_env.h — the standard OTEL_* exporter configuration, read purely
 * from an environment array (OpenTelemetry specification,
 * "Environment Variable Specification" and "OTLP Exporter Configuration";
 * summary in docs/otlp.md).
 *
 * Rules shared by every variable: an empty value is the same as unset;
 * a boolean is true only for case-insensitive "true" (anything else but
 * "false" is false with a warning); durations and timeouts are integer
 * milliseconds. A malformed value is an error that names the variable and
 * its value:  OTEL_EXPORTER_OTLP_TIMEOUT="ten": not an integer number of
 * milliseconds. Header values are never repeated in messages (they often
 * carry credentials). */
#ifndef EXTRACE_OTEL_OTEL_ENV_H
#define EXTRACE_OTEL_OTEL_ENV_H
#include <stddef.h>
#include <stdint.h>

/* The value of `name` in envp ("K=V" strings, NULL-terminated; envp may be
 * NULL), or NULL when it is unset or empty. */
const char *exo_env_get(char *const *envp, const char *name);

/* One pair of a "k1=v1,k2=v2" list. */
typedef struct exo_kv {
    char *key;   /* owned, percent-decoded, never empty */
    char *value; /* owned, percent-decoded, may be empty */
} exo_kv;

typedef struct exo_kv_list {
    exo_kv *items; /* owned array */
    size_t len;
} exo_kv_list;

/* Parse a W3C-Baggage-like list "k1=v1,k2=v2" (the format of
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS): members are
 * split at ',' and each at its first '='; spaces and tabs around keys and
 * values are trimmed; then keys and values are percent-decoded ("%2C" is
 * ','; '+' stays '+'). Empty members are skipped. A member without '=',
 * an empty key, a bad escape, an escape that decodes to NUL, or a result
 * that is not UTF-8 is an error: -1 with the reason in why (it quotes
 * the key, never the value) and *out empty. -2 on allocation failure.
 * Later duplicates are kept; callers decide. */
int exo_kv_list_parse(const char *s, exo_kv_list *out, char *why, size_t whylen);
void exo_kv_list_free(exo_kv_list *l);

/* Exporters named by OTEL_TRACES_EXPORTER. */
typedef enum { EXO_EXPORTER_OTLP, EXO_EXPORTER_CONSOLE } exo_exporter_kind;
#define EXO_MAX_EXPORTERS 2

typedef enum { EXO_PROTOCOL_GRPC, EXO_PROTOCOL_HTTP_PROTOBUF, EXO_PROTOCOL_HTTP_JSON } exo_otlp_protocol;
typedef enum { EXO_COMPRESSION_NONE, EXO_COMPRESSION_GZIP } exo_compression;

/* Exporter configuration. Strings are owned (exo_export_config_free). */
typedef struct exo_export_config {
    exo_exporter_kind exporters[EXO_MAX_EXPORTERS]; /* in the order named, no duplicates */
    size_t nexporters;         /* 0: export nothing ("none" or SDK disabled) */
    int sdk_disabled;          /* OTEL_SDK_DISABLED=true */

    /* OTLP (filled with defaults even when otlp is not among the exporters;
     * its variables are validated only when it is). */
    exo_otlp_protocol protocol;
    char *endpoint;            /* normalized endpoint: HTTP: the full …/v1/traces URL; gRPC: scheme://host:port[/path] */
    char *url;                 /* what the transport POSTs to: endpoint (HTTP) or scheme://host:port + EXO_OTLP_GRPC_PATH */
    const char *endpoint_from; /* the variable endpoint came from, or "default" (static string) */
    int tls;                   /* 1 when url is https */
    exo_kv_list headers;       /* extra request headers, in order */
    int64_t timeout_ms;        /* per export request; default 10000 */
    exo_compression compression; /* default none */
    int insecure;              /* gRPC endpoints without scheme: 1 = plaintext */
    char *certificate;         /* CA bundle path, or NULL */
    char *client_key;          /* mTLS key path, or NULL */
    char *client_certificate;  /* mTLS certificate path, or NULL */

    /* Batch span processor. */
    int64_t bsp_schedule_delay_ms;   /* default 5000 */
    int64_t bsp_export_timeout_ms;   /* default 30000 */
    int64_t bsp_max_queue_size;      /* default 2048 */
    int64_t bsp_max_export_batch_size; /* default 512; never above the queue size */
} exo_export_config;

/* Fill *out (overwritten; free it with exo_export_config_free whatever the
 * result) from envp. Precedence for each OTLP setting:
 * OTEL_EXPORTER_OTLP_TRACES_X, then OTEL_EXPORTER_OTLP_X, then the default.
 * Returns 0, -1 with the first error in err (the config is then not
 * usable), or -2 on allocation failure. Non-fatal remarks (a boolean that
 * is neither true nor false) are joined with "; " into warn (may be NULL).
 * A batch size above the queue size is an error when both are set; when
 * only the queue size is set the batch size follows it down silently. */
int exo_export_config_from_env(char *const *envp, exo_export_config *out, char *err, size_t errlen,
                               char *warn, size_t warnlen);
void exo_export_config_free(exo_export_config *c);

/* "otlp", "console". */
const char *exo_exporter_name(exo_exporter_kind k);
/* "grpc", "http/protobuf", "http/json". */
const char *exo_protocol_name(exo_otlp_protocol p);
/* 1 when the config has exporter k. */
int exo_export_config_has(const exo_export_config *c, exo_exporter_kind k);

#endif
