/* target_store_body.c — fuzz run for the stored form of span bodies
 * (store/body.h): what the store decodes of every span it reads. */
#include <string.h>

#include "core/mem.h"
#include "store/body.h"
#include "targets.h"
#include "targets_int.h"

/* A dictionary the way a store's looks to zstd (raw content). */
static const char body_dict[] = "\x2a\x08Workflow\x30\x01\x39\x42\x0a\x0bworkflow.id\x12\x05wf-17"
                                "\x0a\x0astage.type\x12\x0a" "DataLoader\x0a\x0cservice.name";

static ZSTD_DDict *body_ddict;

static const ZSTD_DDict *body_lookup(void *arg, uint32_t id)
{
    (void)arg;
    return id == 1 ? body_ddict : NULL;
}

int fuzz_run_store_body(const uint8_t *data, size_t size)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_CDict *cd = ZSTD_createCDict(body_dict, sizeof body_dict - 1, 3);
    body_ddict = ZSTD_createDDict(body_dict, sizeof body_dict - 1);
    if (!cc || !dc || !cd || !body_ddict || sdb_body_cctx_init(cc, 3) != 0 || sdb_body_dctx_init(dc) != 0)
        fuzz__fail("store_body", "zstd contexts");
    uint8_t *buf = NULL, *enc = NULL, *buf2 = NULL;
    size_t cap = 0, ecap = 0, cap2 = 0, n, n2;
    const uint8_t *raw, *raw2;
    char why[160];
    /* 1. the input as a stored body: forms 0 and 1 are compressed (may be
     * refused), form 2 is the Span after its form byte, anything else the
     * Span itself (never refused) */
    int form = size ? data[0] : -1;
    int compressed = form == SDB_BODY_Z || form == SDB_BODY_ZREL;
    if (sdb_body_relative(data, size) != (form == SDB_BODY_ZREL || form == SDB_BODY_REL))
        fuzz__fail("store_body", "form %d: relative times said wrongly", form);
    if (sdb_body_decode(dc, body_lookup, NULL, data, size, &buf, &cap, &raw, &n, why, sizeof why) == 0) {
        if (n > SDB_BODY_MAX) fuzz__fail("store_body", "decoded %zu bytes, more than the bound", n);
        if (form == SDB_BODY_REL && (raw != data + 1 || n != size - 1))
            fuzz__fail("store_body", "a raw body with relative times was changed");
        if (!compressed && form != SDB_BODY_REL && (raw != data || n != size))
            fuzz__fail("store_body", "a raw body was changed");
        if (compressed && raw != buf) fuzz__fail("store_body", "a compressed body decoded in place");
    } else {
        fuzz__check_terminated("store_body", "why", why, sizeof why);
        if (!why[0]) fuzz__fail("store_body", "refused without a reason");
        if (!compressed) fuzz__fail("store_body", "a raw body (form %d) was refused: %s", form, why);
    }
    /* 2. the input as a raw body: encoded in both compressed forms, with
     * and without the dictionary, it decodes to itself */
    for (int k = 0; k < 4; k++) {
        int with = k & 1, as = k < 2 ? SDB_BODY_Z : SDB_BODY_ZREL;
        long len = sdb_body_encode_form(cc, with ? cd : NULL, (uint32_t)with, as, data, size, &enc, &ecap);
        if (len < 0) fuzz__fail("store_body", "%zu bytes do not encode", size);
        if (sdb_body_relative(enc, (size_t)len) != (as == SDB_BODY_ZREL))
            fuzz__fail("store_body", "form %d encoded: relative times said wrongly", as);
        if (sdb_body_decode(dc, body_lookup, NULL, enc, (size_t)len, &buf2, &cap2, &raw2, &n2, why, sizeof why) != 0)
            fuzz__fail("store_body", "an encoded body does not decode: %s", why);
        if (n2 != size || (size && memcmp(raw2, data, size) != 0))
            fuzz__fail("store_body", "round trip changed %zu bytes into %zu", size, n2);
    }
    ex_free(buf);
    ex_free(buf2);
    ex_free(enc);
    ZSTD_freeCDict(cd);
    ZSTD_freeDDict(body_ddict);
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
    return 0;
}
