/* target_link.c — the submitter's traceparent and discovery's page
 * mapping (docs/fuzzing.md). */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "otel/traceparent.h"
#include "source/builtin.h"
#include "source/discover.h"
#include "targets_int.h"

/* ---- traceparent -------------------------------------------------------- */

int fuzz_run_traceparent(const uint8_t *data, size_t size)
{
    exo_traceparent tp;
    char why[200], small[8], back[EXO_TRACEPARENT_LEN + 1];
    int rc = exo_traceparent_parse((const char *)data, size, &tp, why, sizeof why);
    if (rc == 0) {
        static const uint8_t zero[16];
        if (!memcmp(tp.trace_id, zero, 16) || !memcmp(tp.span_id, zero, 8) || tp.version == 0xff)
            fuzz__fail("traceparent", "accepted a zero id or version ff");
        /* what is accepted formats back to a value that parses to the same ids */
        exo_traceparent again;
        exo_traceparent_format(&tp, back);
        if (exo_traceparent_parse(back, strlen(back), &again, why, sizeof why) ||
            memcmp(again.trace_id, tp.trace_id, 16) || memcmp(again.span_id, tp.span_id, 8) || again.flags != tp.flags)
            fuzz__fail("traceparent", "%s does not read back", back);
    } else {
        fuzz__check_terminated("traceparent", "the message", why, sizeof why);
        if (!why[0]) fuzz__fail("traceparent", "refused with an empty message");
    }
    if (exo_traceparent_parse((const char *)data, size, &tp, small, sizeof small) != rc)
        fuzz__fail("traceparent", "the result depends on the message buffer");
    if (rc) fuzz__check_terminated("traceparent", "the short message", small, sizeof small);
    return 0;
}

/* ---- discover: a page's mapped output and the next page's URL ------------ */

int fuzz_run_discover(const uint8_t *data, size_t size)
{
    static sr_profile *p;
    char err[SR_ERR_LEN];
    if (!p) {
        const sr_builtin *b = sr_builtin_find("github-actions");
        if (!b || sr_profile_load_string("builtin:github-actions", b->text, b->len, &p, err, sizeof err) || !p->discover)
            fuzz__fail("discover", "the github-actions profile has no discover: section");
    }
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j) return 0;
    sr_found_page pg;
    if (sr_discover_read(p, j, &pg, err, sizeof err) == 0) {
        for (size_t i = 0; i < pg.n; i++)
            if (!pg.items[i].key || !pg.items[i].key[0]) fuzz__fail("discover", "an empty key was accepted");
        if (pg.has_next) {
            sr_key scope;
            if (sr_discover_scope(p, "o/r", &scope, err, sizeof err)) fuzz__fail("discover", "scope o/r: %s", err);
            char *url = sr_discover_url(p, "http://h", &scope, 0, pg.next, err, sizeof err);
            if (url && strncmp(url, "http://h/repos/o/r/actions/runs?", 32) != 0)
                fuzz__fail("discover", "the next page's URL %s left the listing", url);
            ex_free(url);
            sr_key_free(&scope);
        }
        sr_found_page_clear(&pg);
    } else {
        fuzz__check_terminated("discover", "the error", err, sizeof err);
    }
    size_t len;
    char *in = sr_discover_input(p, NULL, 0, NULL, (const char *)data, size, &len);
    if (in && (len < size || memcmp(in + len - size - 1, data, size) != 0))
        fuzz__fail("discover", "the jq input does not hold the page as it came");
    ex_free(in);
    json_decref(j);
    return 0;
}
