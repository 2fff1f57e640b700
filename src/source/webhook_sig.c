/* webhook_sig.c — delivery signatures and the de-duplication set (webhook_sig.h). */
#include "source/webhook_sig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "core/hex.h"
#include "core/mem.h"

#define DIGEST 32

const char *sr_sig_result_name(sr_sig_result r)
{
    switch (r) {
    case SR_SIG_OK: return "ok";
    case SR_SIG_MISSING: return "missing";
    case SR_SIG_MALFORMED: return "malformed";
    default: return "mismatch";
    }
}

static int hmac(const char *secret, size_t slen, const char *body, size_t len, unsigned char out[DIGEST])
{
    unsigned int n = 0;
    if (slen > SR_SECRET_MAX || slen > (size_t)0x7fffffff) return -1;
    if (!HMAC(EVP_sha256(), secret, (int)slen, (const unsigned char *)body, len, out, &n) || n != DIGEST) return -1;
    return 0;
}

sr_sig_result sr_sig_check(sr_sig_scheme scheme, const char *prefix, const char *secret, size_t secret_len,
                           const char *body, size_t len, const char *header)
{
    if (!header || !header[0]) return SR_SIG_MISSING;
    size_t hlen = strlen(header);
    if (scheme == SR_SIG_TOKEN) {
        /* Unequal lengths differ; equal ones are compared in constant time. */
        if (hlen != secret_len) return SR_SIG_MISMATCH;
        return CRYPTO_memcmp(header, secret, hlen) == 0 ? SR_SIG_OK : SR_SIG_MISMATCH;
    }
    size_t plen = strlen(prefix);
    if (hlen != plen + 2 * DIGEST || memcmp(header, prefix, plen) != 0) return SR_SIG_MALFORMED;
    unsigned char given[DIGEST], want[DIGEST];
    for (size_t i = 0; i < DIGEST; i++) {
        int hi = ex_hex_digit(header[plen + 2 * i]), lo = ex_hex_digit(header[plen + 2 * i + 1]);
        if (hi < 0 || lo < 0) return SR_SIG_MALFORMED;
        given[i] = (unsigned char)(hi << 4 | lo);
    }
    if (hmac(secret, secret_len, body, len, want)) return SR_SIG_MISMATCH;
    return CRYPTO_memcmp(given, want, DIGEST) == 0 ? SR_SIG_OK : SR_SIG_MISMATCH;
}

int sr_sig_sign(sr_sig_scheme scheme, const char *prefix, const char *secret, size_t secret_len, const char *body,
                size_t len, char *out, size_t outlen)
{
    if (scheme == SR_SIG_TOKEN) {
        if (secret_len + 1 > outlen) return -1;
        memcpy(out, secret, secret_len);
        out[secret_len] = '\0';
        return 0;
    }
    unsigned char d[DIGEST];
    size_t plen = strlen(prefix);
    if (plen + 2 * DIGEST + 1 > outlen || hmac(secret, secret_len, body, len, d)) return -1;
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < DIGEST; i++) snprintf(out + plen + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* ---- the set ---- */

static uint64_t id_hash(const char *id, size_t len)
{
    uint64_t h = XXH3_64bits(id, len);
    return h ? h : 1; /* 0 marks an empty slot */
}

int sr_dedup_init(sr_dedup *d, size_t cap)
{
    memset(d, 0, sizeof *d);
    if (cap == 0 || cap > (1u << 24)) return -1;
    size_t n = 2;
    while (n < 2 * cap) n <<= 1;
    d->ring = ex_calloc(cap, sizeof *d->ring);
    d->slots = ex_calloc(n, sizeof *d->slots);
    if (!d->ring || !d->slots) {
        sr_dedup_free(d);
        return -1;
    }
    d->cap = cap;
    d->nslots = n;
    return 0;
}

void sr_dedup_free(sr_dedup *d)
{
    ex_free(d->ring);
    ex_free(d->slots);
    memset(d, 0, sizeof *d);
}

/* The slot holding h, or the empty slot where it would go. */
static size_t find(const sr_dedup *d, uint64_t h)
{
    size_t mask = d->nslots - 1, i = (size_t)h & mask;
    while (d->slots[i] && d->slots[i] != h) i = (i + 1) & mask;
    return i;
}

/* Empty slot i, shifting later entries of the probe run back (no tombstones). */
static void remove_at(sr_dedup *d, size_t i)
{
    size_t mask = d->nslots - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!d->slots[j]) break;
        size_t home = (size_t)d->slots[j] & mask;
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        d->slots[i] = d->slots[j];
        i = j;
    }
    d->slots[i] = 0;
}

int sr_dedup_seen(const sr_dedup *d, const char *id, size_t len)
{
    if (!d->nslots) return 0;
    return d->slots[find(d, id_hash(id, len))] != 0;
}

void sr_dedup_add(sr_dedup *d, const char *id, size_t len)
{
    if (!d->nslots) return;
    uint64_t h = id_hash(id, len);
    if (d->slots[find(d, h)]) return;
    if (d->count == d->cap) { /* forget the oldest */
        remove_at(d, find(d, d->ring[d->head]));
        d->count--;
    }
    d->slots[find(d, h)] = h;
    d->ring[d->head] = h;
    d->head = (d->head + 1) % d->cap;
    d->count++;
}
