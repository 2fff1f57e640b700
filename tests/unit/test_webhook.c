/* Webhook deliveries, pure parts: the HMAC-SHA256 signature (GitHub's
 * published test vector), the token form, the bounded de-duplication
 * set, the profile's webhook: section (errors name file, line and value)
 * and the github-actions mapping of workflow_run / workflow_job payloads
 * to key, time and partial snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "model/monitor.h"
#include "source/builtin.h"
#include "source/webhook_map.h"
#include "source/webhook_sig.h"

#define GH_SECRET "It's a Secret to Everybody"
#define GH_SIG "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static sr_sig_result gh(const char *secret, const char *body, const char *header)
{
    return sr_sig_check(SR_SIG_HMAC_SHA256, "sha256=", secret, strlen(secret), body, strlen(body), header);
}

/* docs.github.com, "Validating webhook deliveries": secret, payload and signature. */
static void test_hmac_github_vector(void **state)
{
    (void)state;
    assert_int_equal(gh(GH_SECRET, "Hello, World!", GH_SIG), SR_SIG_OK);
    char out[80];
    assert_int_equal(sr_sig_sign(SR_SIG_HMAC_SHA256, "sha256=", GH_SECRET, strlen(GH_SECRET), "Hello, World!", 13, out,
                                 sizeof out),
                     0);
    assert_string_equal(out, GH_SIG);
    /* upper-case hex is the same digest */
    char upper[80];
    snprintf(upper, sizeof upper, "sha256=%s", "757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17");
    assert_int_equal(gh(GH_SECRET, "Hello, World!", upper), SR_SIG_OK);
    assert_int_equal(gh(GH_SECRET, "Hello, World?", GH_SIG), SR_SIG_MISMATCH);       /* body changed */
    assert_int_equal(gh("it's a secret to everybody", "Hello, World!", GH_SIG), SR_SIG_MISMATCH);
    assert_int_equal(gh(GH_SECRET, "Hello, World!", NULL), SR_SIG_MISSING);
    assert_int_equal(gh(GH_SECRET, "Hello, World!", ""), SR_SIG_MISSING);
    assert_int_equal(gh(GH_SECRET, "Hello, World!", "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
                     SR_SIG_MALFORMED);
    assert_int_equal(gh(GH_SECRET, "Hello, World!", "sha256=757107ea"), SR_SIG_MALFORMED);
    assert_int_equal(gh(GH_SECRET, "Hello, World!", "sha256=z57107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
                     SR_SIG_MALFORMED);
}

static void test_token(void **state)
{
    (void)state;
    const char *s = "s3cret-token";
    assert_int_equal(sr_sig_check(SR_SIG_TOKEN, "", s, strlen(s), "{}", 2, "s3cret-token"), SR_SIG_OK);
    assert_int_equal(sr_sig_check(SR_SIG_TOKEN, "", s, strlen(s), "{}", 2, "s3cret-tokem"), SR_SIG_MISMATCH);
    assert_int_equal(sr_sig_check(SR_SIG_TOKEN, "", s, strlen(s), "{}", 2, "s3cret"), SR_SIG_MISMATCH);
    assert_int_equal(sr_sig_check(SR_SIG_TOKEN, "", s, strlen(s), "{}", 2, NULL), SR_SIG_MISSING);
}

static void test_dedup_bounded(void **state)
{
    (void)state;
    sr_dedup d;
    char id[64];
    assert_int_equal(sr_dedup_init(&d, 1000), 0);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof id, "72d3162e-cc78-11e3-81ab-%012d", i);
        assert_false(sr_dedup_seen(&d, id, (size_t)n));
        sr_dedup_add(&d, id, (size_t)n);
        assert_true(sr_dedup_seen(&d, id, (size_t)n));
        sr_dedup_add(&d, id, (size_t)n); /* again: no second copy */
        assert_true(d.count <= 1000);
    }
    /* the last 1000 are remembered, the older ones forgotten */
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof id, "72d3162e-cc78-11e3-81ab-%012d", i);
        assert_int_equal(sr_dedup_seen(&d, id, (size_t)n), i >= 4000);
    }
    sr_dedup_free(&d);
    assert_int_equal(sr_dedup_init(&d, 0), -1);
}

static void load_bad(const char *webhook, const char *want)
{
    char text[2048], err[SR_ERR_LEN] = "";
    snprintf(text, sizeof text, "name: x\nkey: [id]\nbase_url: http://h\nrequests:\n  one:\n    url: /w/{id}\nmap: .\n%s",
             webhook);
    sr_profile *p = NULL;
    if (sr_profile_load_string("x.yaml", text, strlen(text), &p, err, sizeof err) == 0) {
        sr_profile_free(p);
        fail_msg("accepted:\n%s", text);
    }
    if (!strstr(err, want)) fail_msg("message \"%s\" lacks \"%s\"", err, want);
}

static void test_profile_section_errors(void **state)
{
    (void)state;
    load_bad("webhook:\n  signature: rsa\n  signature_header: X-Sig\n  map: .\n",
             "x.yaml:9:14: webhook.signature: unknown value \"rsa\" (hmac-sha256, token)");
    load_bad("webhook:\n  signature: token\n  map: .\n", "x.yaml:9:3: webhook.signature_header: missing");
    load_bad("webhook:\n  signature: token\n  signature_header: \"X Sig\"\n  map: .\n",
             "x.yaml:10:21: webhook.signature_header: \"X Sig\" is not a header name");
    load_bad("webhook:\n  signature: token\n  signature_header: X-Sig\n  signature_prefix: v1=\n  map: .\n",
             "x.yaml:11:21: webhook.signature_prefix: only for signature hmac-sha256");
    load_bad("webhook:\n  signature: token\n  signature_header: X-Sig\n  events: [Push]\n  map: .\n",
             "x.yaml:11:12: webhook.events: \"Push\": an event name is [a-z0-9_]+");
    load_bad("webhook:\n  signature: token\n  signature_header: X-Sig\n  secret: abc\n  map: .\n",
             "x.yaml:11:3: webhook: unknown field \"secret\"");
    load_bad("webhook:\n  signature: token\n  signature_header: X-Sig\n", "webhook.map: missing");
}

/* ---- the github-actions mapping ---- */

static sr_profile *gh_profile;
static sr_jq *gh_hook, *gh_map;

static int gh_setup(void **state)
{
    (void)state;
    char err[SR_ERR_LEN];
    if (sr_profile_load_any("github-actions", &gh_profile, err, sizeof err) || !gh_profile->webhook) return -1;
    const sr_webhook *w = gh_profile->webhook;
    if (sr_jq_compile_prog(gh_profile->origin, "webhook.map", w->map, w->map_line, 1, &gh_hook, err, sizeof err) ||
        sr_jq_compile(gh_profile, &gh_map, err, sizeof err))
        return -1;
    return 0;
}

static int gh_teardown(void **state)
{
    (void)state;
    sr_jq_free(gh_hook);
    sr_jq_free(gh_map);
    sr_profile_free(gh_profile);
    return 0;
}

#define REPO "\"repository\":{\"id\":1,\"name\":\"hello-world\",\"full_name\":\"octo-org/hello-world\",\"owner\":{\"login\":\"octo-org\"}}"

static const char job_in_progress[] =
    "{\"action\":\"in_progress\",\"workflow_job\":{\"id\":29679449,\"run_id\":5428,\"run_attempt\":1,\"name\":\"build\","
    "\"status\":\"in_progress\",\"conclusion\":null,\"created_at\":\"2024-05-01T10:00:02Z\","
    "\"started_at\":\"2024-05-01T10:00:09Z\",\"completed_at\":null,\"labels\":[\"ubuntu-latest\"],"
    "\"runner_name\":\"GitHub Actions 2\",\"runner_group_name\":\"GitHub Actions\",\"steps\":[{\"name\":\"Set up job\","
    "\"status\":\"in_progress\",\"conclusion\":null,\"number\":1,\"started_at\":\"2024-05-01T10:00:09Z\","
    "\"completed_at\":null}]}," REPO ",\"sender\":{\"login\":\"octocat\"}}";

static const char run_completed[] =
    "{\"action\":\"completed\",\"workflow_run\":{\"id\":5428,\"name\":\"CI\",\"status\":\"completed\","
    "\"conclusion\":\"failure\",\"created_at\":\"2024-05-01T10:00:00Z\",\"updated_at\":\"2024-05-01T10:05:00Z\","
    "\"run_attempt\":1,\"run_started_at\":\"2024-05-01T10:00:00Z\"," REPO "}," REPO "}";

static void test_github_job_delivery(void **state)
{
    (void)state;
    sr_hook h;
    sr_jq_error kind;
    char err[SR_ERR_LEN];
    int rc = sr_hook_map(gh_profile, gh_hook, gh_map, "workflow_job", "d-1", job_in_progress, strlen(job_in_progress), &h,
                         &kind, err, sizeof err);
    if (rc != SR_HOOK_MAPPED) fail_msg("%s", err);
    assert_string_equal(h.key, "octo-org/hello-world/5428");
    assert_true(h.at_ns == INT64_C(1714557609) * EX_NS_PER_SEC);
    assert_true(h.has_snapshot && h.snap.root_absent);
    /* the job, its wait for a runner (ended at started_at) and its first step */
    assert_int_equal(h.snap.nnodes, 3);
    assert_string_equal(h.snap.nodes[0].key, "job/29679449");
    assert_int_equal(h.snap.nodes[0].status, MDL_RUNNING);
    assert_string_equal(h.snap.nodes[1].key, "queued/29679449");
    assert_int_equal(h.snap.nodes[1].status, MDL_OK);
    assert_string_equal(h.snap.nodes[2].key, "step/29679449/1");
    sr_hook_clear(&h);
}

static void test_github_run_delivery(void **state)
{
    (void)state;
    sr_hook h;
    sr_jq_error kind;
    char err[SR_ERR_LEN];
    int rc = sr_hook_map(gh_profile, gh_hook, gh_map, "workflow_run", "d-2", run_completed, strlen(run_completed), &h,
                         &kind, err, sizeof err);
    if (rc != SR_HOOK_MAPPED) fail_msg("%s", err);
    assert_string_equal(h.key, "octo-org/hello-world/5428");
    assert_false(h.snap.root_absent);
    assert_int_equal(h.snap.root.status, MDL_ERROR);
    assert_int_equal(h.snap.nnodes, 0);
    mdl_monitor *m = mdl_monitor_new(h.key, 0, 0, EX_NS_PER_SEC * 600, 64, 512);
    assert_int_equal(mdl_monitor_apply_exact(m, &h.snap, h.at_ns, h.at_ns, NULL), MDL_CONFIRM);
    mdl_monitor_free(m);
    sr_hook_clear(&h);
    /* another event (push) maps to nothing; a payload that is not JSON is refused */
    assert_int_equal(sr_hook_map(gh_profile, gh_hook, gh_map, "push", "d-3", "{}", 2, &h, &kind, err, sizeof err),
                     SR_HOOK_NOTHING);
    assert_int_equal(sr_hook_map(gh_profile, gh_hook, gh_map, "workflow_run", "d-4", "{\"a\":", 5, &h, &kind, err, sizeof err),
                     SR_HOOK_BAD);
    assert_int_equal(kind, SR_JQ_ERR_INPUT);
    assert_non_null(strstr(err, "the payload is not JSON"));
    /* a run id that is not a number the key can hold */
    const char *bad = "{\"workflow_run\":{\"id\":[1]}," REPO "}";
    assert_int_equal(sr_hook_map(gh_profile, gh_hook, gh_map, "workflow_run", "d-5", bad, strlen(bad), &h, &kind, err, sizeof err),
                     SR_HOOK_BAD);
    assert_non_null(strstr(err, "webhook.map: key.run_id: expected a string or a whole number, got \"[1]\""));
}

/* Argo: the Workflow object posted by a generic JSON webhook, through the profile's own map. */
static void test_argo_workflow_delivery(void **state)
{
    (void)state;
    sr_profile *p;
    sr_jq *hook, *map;
    char err[SR_ERR_LEN], path[512];
    assert_int_equal(sr_profile_load_any("argo-workflows", &p, err, sizeof err), 0);
    assert_non_null(p->webhook);
    assert_int_equal(p->webhook->signature, SR_SIG_TOKEN);
    assert_int_equal(sr_jq_compile_prog(p->origin, "webhook.map", p->webhook->map, p->webhook->map_line, 1, &hook, err,
                                        sizeof err), 0);
    assert_int_equal(sr_jq_compile(p, &map, err, sizeof err), 0);
    const char *dir = getenv("EXTRACE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/sources/argo-workflows/workflow.json", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s: not found (EXTRACE_SOURCE_DIR)", path);
    static char body[256 * 1024];
    size_t n = fread(body, 1, sizeof body - 1, f);
    fclose(f);
    body[n] = '\0';
    sr_hook h;
    sr_jq_error kind;
    int rc = sr_hook_map(p, hook, map, NULL, NULL, body, n, &h, &kind, err, sizeof err);
    if (rc != SR_HOOK_MAPPED) fail_msg("%s", err);
    assert_non_null(strchr(h.key, '/'));
    assert_true(h.at_ns == MDL_NO_TIME);
    assert_true(h.has_snapshot && !h.snap.root_absent && h.snap.nnodes > 0);
    sr_hook_clear(&h);
    assert_int_equal(sr_hook_map(p, hook, map, NULL, NULL, "{\"kind\":\"Pod\"}", 14, &h, &kind, err, sizeof err),
                     SR_HOOK_NOTHING);
    sr_jq_free(hook);
    sr_jq_free(map);
    sr_profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_github_vector),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_dedup_bounded),
        cmocka_unit_test(test_profile_section_errors),
        cmocka_unit_test_setup_teardown(test_github_job_delivery, gh_setup, gh_teardown),
        cmocka_unit_test_setup_teardown(test_github_run_delivery, gh_setup, gh_teardown),
        cmocka_unit_test(test_argo_workflow_delivery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
