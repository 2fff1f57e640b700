/* webhook_sig.h — checking a webhook delivery: its signature and its
 * delivery id (docs/sources.md, "Webhooks").
 *
 * Signatures: hmac-sha256 (GitHub's X-Hub-Signature-256: the prefix
 * "sha256=" then the lowercase hex HMAC-SHA256 of the raw body keyed with
 * the shared secret) or token (the header carries the secret itself).
 * Both compare in constant time (OpenSSL's CRYPTO_memcmp) over equal
 * lengths; nothing is compared byte-by-byte with an early exit.
 *
 * De-duplication: a bounded set of the delivery ids seen last (XXH3-64 of
 * the id, first in first out once full), so a delivery sent again with
 * the same id is recognised while memory stays at 16 bytes per id kept.
 * Pure: no I/O, no clock. */
#ifndef EXTRACE_SOURCE_WEBHOOK_SIG_H
#define EXTRACE_SOURCE_WEBHOOK_SIG_H
#include <stddef.h>
#include <stdint.h>

#include "source/auth.h" /* SR_SECRET_MAX */
#include "source/profile.h"

/* Results of sr_sig_check. */
typedef enum {
    SR_SIG_OK = 0,
    SR_SIG_MISSING = -1,   /* no signature header */
    SR_SIG_MALFORMED = -2, /* hmac: not prefix + 64 hex digits */
    SR_SIG_MISMATCH = -3,  /* well formed, but not the body's signature under the secret */
} sr_sig_result;

/* Check `header` (the signature header's value, NULL when absent) of a
 * delivery whose raw body is body[0..len), for `scheme` with `prefix`
 * (hmac) and the secret. */
sr_sig_result sr_sig_check(sr_sig_scheme scheme, const char *prefix, const char *secret, size_t secret_len,
                           const char *body, size_t len, const char *header);
/* "ok", "missing", "malformed", "mismatch". */
const char *sr_sig_result_name(sr_sig_result r);
/* The header value for body under the secret ("sha256=" + 64 hex for
 * hmac, with `prefix`; the secret itself for token) into out (outlen ≥
 * strlen(prefix) + 65). 0, or -1 when it does not fit. (The simulator's
 * sender and tests.) */
int sr_sig_sign(sr_sig_scheme scheme, const char *prefix, const char *secret, size_t secret_len, const char *body,
                size_t len, char *out, size_t outlen);

/* The delivery ids seen last. */
typedef struct sr_dedup {
    uint64_t *ring;  /* ids in arrival order (cap) */
    uint64_t *slots; /* open addressing (2 * cap, power of two); 0 empty, 1 deleted */
    size_t cap, count, head, nslots;
} sr_dedup;

/* A set keeping the last `cap` (1..2^24) ids. 0, or -1 out of memory. */
int sr_dedup_init(sr_dedup *d, size_t cap);
void sr_dedup_free(sr_dedup *d);
/* 1 when id[0..len) is in the set. */
int sr_dedup_seen(const sr_dedup *d, const char *id, size_t len);
/* Add id (the oldest is forgotten once cap are kept); adding one seen is a no-op. */
void sr_dedup_add(sr_dedup *d, const char *id, size_t len);

#endif
