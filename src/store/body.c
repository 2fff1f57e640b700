/* body.c — encoding and decoding of stored span bodies (body.h). */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_format / ZSTD_d_format: frames without magic number */
#include "store/body.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"

int sdb_body_cctx_init(ZSTD_CCtx *cctx, int level)
{
    return ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
                   ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless)) ||
                   ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)) ||
                   ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)) ||
                   ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0))
               ? -1
               : 0;
}

int sdb_body_dctx_init(ZSTD_DCtx *dctx)
{
    return ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless)) ? -1 : 0;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* A varint of at most 5 bytes that fits 32 bits at in[*i..len). 0 or -1. */
static int get_varint(const uint8_t *in, size_t len, size_t *i, uint32_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
        if (*i >= len) return -1;
        uint8_t b = in[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (v > UINT32_MAX) return -1;
            *out = (uint32_t)v;
            return 0;
        }
    }
    return -1;
}

static int reserve(uint8_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    uint8_t *p = ex_realloc(*buf, n);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

long sdb_body_encode(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, uint32_t dict_id, const uint8_t *raw, size_t n,
                     uint8_t **out, size_t *cap)
{
    return sdb_body_encode_form(cctx, cdict, dict_id, SDB_BODY_Z, raw, n, out, cap);
}

int sdb_body_relative(const uint8_t *in, size_t len)
{
    return len > 0 && (in[0] == SDB_BODY_ZREL || in[0] == SDB_BODY_REL);
}

void sdb_body_times(exo_pb_span *s, int to)
{
    /* unsigned arithmetic: exact both ways whatever the values */
    uint64_t base = s->start_time_unix_nano;
    s->end_time_unix_nano = to ? s->end_time_unix_nano - base : s->end_time_unix_nano + base;
    for (size_t i = 0; i < s->n_events; i++) {
        exo_pb_event *e = s->events[i];
        if (e) e->time_unix_nano = to ? e->time_unix_nano - base : e->time_unix_nano + base;
    }
}

long sdb_body_encode_form(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, uint32_t dict_id, int form, const uint8_t *raw,
                          size_t n, uint8_t **out, size_t *cap)
{
    if (n > SDB_BODY_MAX) return -1;
    size_t bound = 1 + 5 + 5 + ZSTD_compressBound(n);
    if (reserve(out, cap, bound) != 0) return -1;
    uint8_t *p = *out;
    size_t h = 0;
    p[h++] = (uint8_t)form;
    h += put_varint(p + h, dict_id);
    h += put_varint(p + h, n);
    if (ZSTD_isError(ZSTD_CCtx_refCDict(cctx, cdict))) return -1;
    size_t z = ZSTD_compress2(cctx, p + h, *cap - h, raw, n);
    if (ZSTD_isError(z)) return -1;
    return (long)(h + z);
}

int sdb_body_decode(ZSTD_DCtx *dctx, sdb_body_dict_fn dict, void *arg, const uint8_t *in, size_t len, uint8_t **buf,
                    size_t *cap, const uint8_t **raw, size_t *rawlen, char *why, size_t whylen)
{
    if (len > 0 && in[0] == SDB_BODY_REL) { /* a protobuf Span after its form byte */
        *raw = in + 1;
        *rawlen = len - 1;
        return 0;
    }
    if (len == 0 || (in[0] != SDB_BODY_Z && in[0] != SDB_BODY_ZREL)) { /* a protobuf Span as it is */
        *raw = in;
        *rawlen = len;
        return 0;
    }
    size_t i = 1;
    uint32_t id, n;
    if (get_varint(in, len, &i, &id) != 0 || get_varint(in, len, &i, &n) != 0) {
        snprintf(why, whylen, "compressed body of %zu bytes: its header is cut short or malformed", len);
        return -1;
    }
    if (n > SDB_BODY_MAX) {
        snprintf(why, whylen, "compressed body: length %u is more than %zu", n, SDB_BODY_MAX);
        return -1;
    }
    const ZSTD_DDict *dd = NULL;
    if (id && !(dd = dict(arg, id))) {
        snprintf(why, whylen, "compressed body: dictionary %u is unknown", id);
        return -1;
    }
    if (reserve(buf, cap, n ? n : 1) != 0) {
        snprintf(why, whylen, "out of memory (%u bytes)", n);
        return -1;
    }
    size_t got = ZSTD_isError(ZSTD_DCtx_refDDict(dctx, dd)) ? (size_t)-1 : 0;
    if (got == 0) got = ZSTD_decompressDCtx(dctx, *buf, n, in + i, len - i);
    if (ZSTD_isError(got) || got != n) {
        snprintf(why, whylen, "compressed body (dictionary %u, %u bytes): %s", id, n,
                 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "shorter than its header says");
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
        return -1;
    }
    *raw = *buf;
    *rawlen = n;
    return 0;
}
