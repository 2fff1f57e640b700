/* compress.h — gzip bodies for OTLP (Content-Encoding: gzip, grpc-encoding:
 * gzip), with zlib.
 *
 * Decompression is bounded: a small hostile body must not expand into
 * gigabytes, so the caller states the largest output it accepts. */
#ifndef EXTRACE_OTEL_COMPRESS_H
#define EXTRACE_OTEL_COMPRESS_H
#include <stddef.h>
#include <stdint.h>

enum {
    EXO_Z_ECORRUPT = -1, /* not gzip, damaged, truncated or trailing garbage */
    EXO_Z_ETOOBIG = -2,  /* the output would exceed max_out */
    EXO_Z_ENOMEM = -3,   /* allocation failed */
};

/* Compress in[0..len) into one gzip member. *out is allocated (ex_free).
 * 0, EXO_Z_ENOMEM, or EXO_Z_ETOOBIG for input over 2 GiB. */
int exo_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

/* Decompress gzip data (one or more concatenated members) into a new
 * buffer of at most max_out bytes. *out is allocated (ex_free; it holds a
 * NUL after the data, not counted in *out_len). 0 or EXO_Z_*; on error
 * *out is NULL. Input over 4 GiB is EXO_Z_ETOOBIG. */
int exo_gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out, size_t *out_len);

/* A short English description of an EXO_Z_* code. */
const char *exo_z_strerror(int code);

#endif
