/* checkpoint_int.h — the checkpoint reader's cursor, shared by the
 * current format's reader (checkpoint.c) and the old formats' (checkpoint_v2.c). */
#ifndef EXTRACE_WORKER_CHECKPOINT_INT_H
#define EXTRACE_WORKER_CHECKPOINT_INT_H
#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"

#define CK_NULL_STR 0xFFFFu /* the length of an absent string */
#define CK_TAG_LINK 0x4Cu   /* 'L': section holding the submitter's span (16 + 8 + 1 bytes) */

/* Input cursor; the first error is kept in why and stops everything after. */
typedef struct ck_rbuf {
    const uint8_t *p; /* not owned */
    size_t len, pos;  /* size (checksum excluded), read position */
    char *why;        /* caller's message buffer */
    size_t whylen;
    int failed;       /* an error was recorded */
} ck_rbuf;

void ck_fail(ck_rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The next n bytes, or NULL (error recorded) when there are fewer. */
const uint8_t *ck_take(ck_rbuf *r, size_t n, const char *what);
uint64_t ck_get_uint(ck_rbuf *r, size_t bytes, const char *what);
int64_t ck_get_i64(ck_rbuf *r, const char *what);
/* A string of min..max bytes without NUL, owned; NULL for an absent one
 * (an error unless nullable) or on error. */
char *ck_get_str(ck_rbuf *r, size_t min, size_t max, int nullable, const char *what);
uint32_t ck_fnv1a(const uint8_t *p, size_t n);

/* Read formats 1 and 2 (the seed's fixed stages) after the envelope, as a tree. */
mdl_monitor *wk_ckpt_decode_v2(ck_rbuf *r, uint8_t version);

#endif
