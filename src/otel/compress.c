#include "otel/compress.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "core/mem.h"

#define GZIP_WINDOW (15 + 16) /* 32 KiB window, gzip header and trailer */
#define MAX_GZIP_IN ((size_t)1 << 31)

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return ex_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    ex_free(p);
}

int exo_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len > MAX_GZIP_IN) return EXO_Z_ETOOBIG;
    z_stream z;
    memset(&z, 0, sizeof z);
    z.zalloc = z_alloc;
    z.zfree = z_free;
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return EXO_Z_ENOMEM;
    int rc = EXO_Z_ENOMEM;
    size_t cap = deflateBound(&z, (uLong)len);
    uint8_t *buf = ex_malloc(cap);
    if (!buf) goto out;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    /* deflateBound guarantees that one call with Z_FINISH completes. */
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) goto out;
    *out = buf;
    *out_len = cap - z.avail_out;
    buf = NULL;
    rc = 0;
out:
    deflateEnd(&z);
    ex_free(buf);
    return rc;
}

/* Give inflate the next stretch of the output buffer, growing it (at most
 * to limit bytes) when it is full. 0 or an EXO_Z_* code. */
static int refill(z_stream *z, uint8_t **buf, size_t *cap, size_t limit)
{
    size_t used = (size_t)(z->next_out - *buf);
    if (used == *cap) {
        if (*cap >= limit) return EXO_Z_ETOOBIG;
        size_t ncap = *cap > limit / 2 ? limit : *cap * 2;
        uint8_t *n = ex_realloc(*buf, ncap + 1); /* + 1: the closing NUL */
        if (!n) return EXO_Z_ENOMEM;
        *buf = n;
        *cap = ncap;
        z->next_out = n + used;
    }
    size_t room = *cap - used;
    z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
    return 0;
}

int exo_gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len > UINT_MAX) return EXO_Z_ETOOBIG;
    if (max_out > SIZE_MAX - 2) max_out = SIZE_MAX - 2;
    /* One byte beyond max_out is room to notice output that is too big. */
    size_t limit = max_out + 1, cap = len < 256 ? 1024 : len * 4;
    if (cap > limit) cap = limit;
    z_stream z;
    memset(&z, 0, sizeof z);
    z.zalloc = z_alloc;
    z.zfree = z_free;
    if (inflateInit2(&z, GZIP_WINDOW) != Z_OK) return EXO_Z_ENOMEM;
    int rc;
    uint8_t *buf = ex_malloc(cap + 1);
    if (!buf) {
        rc = EXO_Z_ENOMEM;
        goto out;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = 0;
    for (;;) {
        if (z.avail_out == 0 && (rc = refill(&z, &buf, &cap, limit)) != 0) goto out;
        int zr = inflate(&z, Z_NO_FLUSH);
        if ((size_t)(z.next_out - buf) > max_out) {
            rc = EXO_Z_ETOOBIG;
            goto out;
        }
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0) break;
            inflateReset(&z); /* another gzip member follows (RFC 1952 §2.2) */
            continue;
        }
        if (zr == Z_OK || (zr == Z_BUF_ERROR && z.avail_out == 0)) continue;
        /* Z_BUF_ERROR with room left: the input ended inside a member. */
        rc = zr == Z_MEM_ERROR ? EXO_Z_ENOMEM : EXO_Z_ECORRUPT;
        goto out;
    }
    *out_len = (size_t)(z.next_out - buf);
    buf[*out_len] = '\0';
    *out = buf;
    buf = NULL;
    rc = 0;
out:
    inflateEnd(&z);
    ex_free(buf);
    return rc;
}

const char *exo_z_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    case EXO_Z_ECORRUPT: return "not valid gzip data (damaged or truncated)";
    case EXO_Z_ETOOBIG: return "decompressed size over the limit";
    case EXO_Z_ENOMEM: return "out of memory";
    default: return "unknown error";
    }
}
