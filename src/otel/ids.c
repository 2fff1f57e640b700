#include "otel/ids.h"

#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>


static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

void exo_trace_id_source(const char *ns, const char *source, const char *key, uint8_t out[16])
{
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    XXH3_128bits_update(&st, ns, strlen(ns) + 1); /* the NUL separates the parts */
    if (source) XXH3_128bits_update(&st, source, strlen(source) + 1);
    XXH3_128bits_update(&st, key, strlen(key));
    XXH128_hash_t h = XXH3_128bits_digest(&st);
    put_be64(out, h.high64);
    put_be64(out + 8, h.low64);
    if (all_zero(out, 16)) out[15] = 1;
}

void exo_trace_id(const char *ns, const char *workflow_id, uint8_t out[16])
{
    exo_trace_id_source(ns, NULL, workflow_id, out);
}

void exo_span_id(const uint8_t trace_id[16], const char *span_name, const char *stage_id, uint8_t out[8])
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, trace_id, 16);
    XXH3_64bits_update(&st, span_name, strlen(span_name) + 1);
    XXH3_64bits_update(&st, stage_id ? stage_id : "", stage_id ? strlen(stage_id) : 0);
    put_be64(out, XXH3_64bits_digest(&st));
    if (all_zero(out, 8)) out[7] = 1;
}

char *exo_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}
