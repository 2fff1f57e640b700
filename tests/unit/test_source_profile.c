/* Unit tests of source/profile: a full profile loads field by field, and
 * every kind of mistake is refused with file:line:col, the field and the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/mem.h"
#include "source/profile.h"

static const char GOOD[] =
    "name: github-actions\n"
    "description: GitHub Actions workflow runs\n"
    "key: [owner, repo, run_id]\n"
    "base_url: https://api.github.com\n"
    "auth:\n"
    "  type: bearer\n"
    "  token_env: GITHUB_TOKEN\n"
    "headers:\n"
    "  Accept: application/vnd.github+json\n"
    "  X-GitHub-Api-Version: \"2022-11-28\"\n"
    "requests:\n"
    "  run:\n"
    "    url: /repos/{owner}/{repo}/actions/runs/{run_id}\n"
    "  jobs:\n"
    "    url: /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?filter=all&per_page=100\n"
    "    paginate: link\n"
    "    max_pages: 20\n"
    "  search:\n"
    "    method: POST\n"
    "    url: https://other.example/q\n"
    "    headers: {Content-Type: application/json}\n"
    "    body: '{\"run\": \"{run_id}\"}'\n"
    "map: |\n"
    "  {name: .run.name, status: \"running\"}\n";

static sr_profile *load_ok(const char *text)
{
    sr_profile *p = NULL;
    char err[SR_ERR_LEN];
    if (sr_profile_load_string("t.yaml", text, strlen(text), &p, err, sizeof err) != 0) fail_msg("refused: %s", err);
    return p;
}

/* Load expecting failure; the message must equal `want`. */
static void load_bad(const char *text, const char *want)
{
    sr_profile *p = NULL;
    char err[SR_ERR_LEN] = "";
    if (sr_profile_load_string("x.yaml", text, strlen(text), &p, err, sizeof err) == 0) {
        sr_profile_free(p);
        fail_msg("accepted:\n%s", text);
    }
    assert_null(p);
    if (strcmp(err, want) != 0) fail_msg("got  \"%s\"\nwant \"%s\"", err, want);
}

static void test_good_profile(void **state)
{
    sr_profile *p = load_ok(GOOD);
    assert_string_equal(p->origin, "t.yaml");
    assert_string_equal(p->name, "github-actions");
    assert_string_equal(p->description, "GitHub Actions workflow runs");
    assert_int_equal(p->nkey, 3);
    assert_string_equal(p->key[2], "run_id");
    assert_string_equal(p->base_url, "https://api.github.com");
    assert_string_equal(p->root_name, "Workflow");
    assert_int_equal(p->auth.type, SR_AUTH_BEARER);
    assert_string_equal(p->auth.token_env, "GITHUB_TOKEN");
    assert_null(p->auth.token_file);
    assert_int_equal(p->nheaders, 2);
    assert_string_equal(p->headers[1].name, "X-GitHub-Api-Version");
    assert_string_equal(p->headers[1].value, "2022-11-28");
    assert_int_equal(p->nrequests, 3);
    const sr_request *r = &p->requests[0];
    assert_string_equal(r->name, "run");
    assert_int_equal(r->method, SR_METHOD_GET);
    assert_int_equal(r->paginate, SR_PAGINATE_NONE);
    assert_int_equal(r->max_pages, 1);
    r = sr_profile_request(p, "jobs");
    assert_non_null(r);
    assert_int_equal(r->paginate, SR_PAGINATE_LINK);
    assert_int_equal(r->max_pages, 20);
    r = sr_profile_request(p, "search");
    assert_int_equal(r->method, SR_METHOD_POST);
    assert_string_equal(r->body, "{\"run\": \"{run_id}\"}");
    assert_string_equal(r->headers[0].name, "Content-Type");
    assert_null(sr_profile_request(p, "nope"));
    assert_string_equal(p->map, "{name: .run.name, status: \"running\"}\n");
    assert_int_equal(p->map_line, 24); /* the line after "map: |" */
    char k[64];
    assert_string_equal(sr_profile_key_format(p, k, sizeof k), "owner/repo/run_id");
    assert_int_equal(sr_profile_key_index(p, "repo", 4), 1);
    sr_profile_free(p);
}

static void test_defaults_and_nulls(void **state)
{
    sr_profile *p = load_ok("name: s\nkey: [id]\nbase_url: ~\nauth:\nrequests:\n  w:\n    url: /w/{id}\n    paginate: link\n"
                            "map: '{status: \"ok\"}'\n");
    assert_null(p->base_url);
    assert_string_equal(p->description, "");
    assert_int_equal(p->auth.type, SR_AUTH_NONE);
    assert_int_equal(p->requests[0].max_pages, SR_PAGES_DEFAULT);
    assert_int_equal(p->map_line, 9);
    sr_profile_free(p);
}

static void test_auth_forms(void **state)
{
    sr_profile *p = load_ok("name: s\nkey: [id]\nauth: {type: basic, username_env: U, password_file: /run/pw}\n"
                            "requests: {w: {url: /w}}\nmap: .\n");
    assert_int_equal(p->auth.type, SR_AUTH_BASIC);
    assert_string_equal(p->auth.username_env, "U");
    assert_string_equal(p->auth.password_file, "/run/pw");
    sr_profile_free(p);
    p = load_ok("name: s\nkey: [id]\nauth: {type: header, header: X-API-Key, token_file: /k}\n"
                "requests: {w: {url: /w}}\nmap: .\n");
    assert_int_equal(p->auth.type, SR_AUTH_HEADER);
    assert_string_equal(p->auth.header, "X-API-Key");
    sr_profile_free(p);
}

#define HEAD "name: s\nkey: [id]\n"
#define REQ "requests:\n  w:\n    url: /w/{id}\n"
#define MAP "map: .\n"

static void test_errors_structure(void **state)
{
    load_bad(HEAD REQ "  jobs:\n    url: /j\n    paginate: pages\n" MAP,
             "x.yaml:8:15: requests.jobs.paginate: unknown value \"pages\" (link)");
    load_bad(HEAD REQ MAP "colour: red\n",
             "x.yaml:7:1: unknown field \"colour\" (name, description, key, base_url, root_name, auth, headers, requests, map, webhook, discover)");
    load_bad(HEAD HEAD REQ MAP, "x.yaml:3:1: field \"name\" given twice");
    load_bad("key: [id]\n" REQ MAP, "x.yaml: name: missing (the source name, [a-z0-9-]+)");
    load_bad(HEAD MAP, "x.yaml: requests: missing (at least one request)");
    load_bad(HEAD REQ, "x.yaml: map: missing (the jq program that outputs the snapshot)");
    load_bad("", "x.yaml: empty profile");
    load_bad("- a\n", "x.yaml:1:1: expected a mapping, found a list");
    load_bad(HEAD REQ MAP "---\nname: t\n", "x.yaml: more than one YAML document (---): a profile is one document");
    load_bad("name: [unclosed\n", "x.yaml:2:1: not valid YAML: did not find expected ',' or ']' while parsing a flow sequence");
    load_bad(HEAD "requests: {}\n" MAP, "x.yaml:3:11: requests: 0 requests, 1 to 16 allowed");
    load_bad(HEAD "requests:\n  w:\n" MAP, "x.yaml:4:5: requests.w: needs at least url:");
    load_bad(HEAD "requests:\n  w: {method: GET}\n" MAP, "x.yaml: requests.w.url: missing (the request's URL template)");
    load_bad(HEAD "requests:\n  w: {url: /w, colour: 1}\n" MAP,
             "x.yaml:4:16: requests.w: unknown field \"colour\" (url, method, headers, body, paginate, max_pages)");
}

static void test_errors_names(void **state)
{
    load_bad("name: GitHub\nkey: [id]\n" REQ MAP,
             "x.yaml:1:7: name: \"GitHub\": use lower-case letters, digits and '-', not starting with '-'");
    load_bad("name: s\nkey: [Id]\n" REQ MAP, "x.yaml:2:7: key[0]: \"Id\": a part name is [a-z][a-z0-9_]*");
    load_bad("name: s\nkey: [id, id]\n" REQ MAP, "x.yaml:2:11: key[1]: \"id\" given twice");
    load_bad("name: s\nkey: []\n" REQ MAP, "x.yaml:2:6: key: 0 parts, 1 to 8 allowed");
    load_bad("name: s\nkey: id\n" REQ MAP, "x.yaml:2:6: key: expected a list, found \"id\"");
    load_bad(HEAD "requests:\n  Run: {url: /w}\n" MAP,
             "x.yaml:4:3: requests: \"Run\" is not a request name ([a-z0-9_]+, not \"key\")");
    load_bad(HEAD "requests:\n  key: {url: /w}\n" MAP,
             "x.yaml:4:3: requests: \"key\" is not a request name ([a-z0-9_]+, not \"key\")");
    load_bad(HEAD "headers: {\"Bad Name\": x}\n" REQ MAP,
             "x.yaml:3:11: headers: \"Bad Name\" is not a header name (letters, digits and !#$%&'*+-.^_`|~)");
    load_bad(HEAD "headers: {Accept: a, accept: b}\n" REQ MAP, "x.yaml:3:22: headers: header \"accept\" given twice");
    load_bad(HEAD "headers: {X-A: \"a\\nb\"}\n" REQ MAP, "x.yaml:3:16: headers.X-A: \"a\\x0ab\" holds a control character");
}

static void test_errors_templates_and_values(void **state)
{
    load_bad(HEAD "requests:\n  w: {url: \"/w/{run}\"}\n" MAP,
             "x.yaml:4:12: requests.w.url: placeholder {run} at byte 3 is not a key part (id)");
    load_bad(HEAD "requests:\n  w: {url: w/x}\n" MAP,
             "x.yaml:4:12: requests.w.url: \"w/x\": starts with '/' (joined to base_url) or http(s)://");
    load_bad(HEAD "requests:\n  w: {url: /w, body: x}\n" MAP, "x.yaml:4:22: requests.w.body: a body needs method: POST");
    load_bad(HEAD "requests:\n  w: {url: /w, method: POST, body: '{\"a\": \"{nope}\"}'}\n" MAP,
             "x.yaml:4:36: requests.w.body: placeholder {nope} at byte 7 is not a key part (id)");
    load_bad(HEAD "requests:\n  w: {url: /w, method: PUT}\n" MAP, "x.yaml:4:24: requests.w.method: unknown value \"PUT\" (GET, POST)");
    load_bad(HEAD "requests:\n  w: {url: /w, paginate: link, max_pages: 0}\n" MAP,
             "x.yaml:4:43: requests.w.max_pages: \"0\" is out of range (1..1000)");
    load_bad(HEAD "requests:\n  w: {url: /w, paginate: link, max_pages: ten}\n" MAP,
             "x.yaml:4:43: requests.w.max_pages: \"ten\" is not a whole number");
    load_bad(HEAD "requests:\n  w: {url: /w, max_pages: 3}\n" MAP, "x.yaml:4:27: requests.w.max_pages: needs paginate: link");
    load_bad(HEAD "base_url: ftp://h\n" REQ MAP, "x.yaml:3:11: base_url: \"ftp://h\": not an http:// or https:// URL");
    load_bad(HEAD "base_url: https://u:pw@h\n" REQ MAP,
             "x.yaml:3:11: base_url: \"https://u:***@h\": user or password in the URL: credentials go in auth:");
    load_bad(HEAD "base_url: https://h/?a=1\n" REQ MAP, "x.yaml:3:11: base_url: \"https://h/?a=1\": a base URL has no query or fragment");
}

static void test_errors_secrets(void **state)
{
    load_bad(HEAD "auth: {type: bearer, token: abc123}\n" REQ MAP,
             "x.yaml:3:22: auth: field \"token\" would hold a secret, which is never written in a profile; use token_env or token_file");
    load_bad(HEAD "auth: {type: bearer}\n" REQ MAP,
             "x.yaml:3:7: auth: token_env or token_file is needed (the secret itself is never written in a profile)");
    load_bad(HEAD "auth: {type: bearer, token_env: A, token_file: /b}\n" REQ MAP,
             "x.yaml:3:36: auth: give token_env or token_file, not both");
    load_bad(HEAD "auth: {type: bearer, token_env: 1A}\n" REQ MAP,
             "x.yaml:3:33: auth.token_env: \"1A\" is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    load_bad(HEAD "auth: {type: digest}\n" REQ MAP, "x.yaml:3:14: auth.type: unknown value \"digest\" (bearer, basic, header, none)");
    load_bad(HEAD "auth: {type: basic, token_env: T}\n" REQ MAP, "x.yaml:3:21: auth: \"token_env\" does not apply to type basic");
    load_bad(HEAD "auth: {type: header, token_env: T}\n" REQ MAP,
             "x.yaml:3:7: auth.header: missing (the header's name, e.g. X-API-Key)");
    /* A literal credential in headers: refused, and never shown. */
    load_bad(HEAD "headers: {Authorization: Bearer s3cr3t}\n" REQ MAP,
             "x.yaml:3:26: headers.Authorization: looks like a credential: a secret is never written in a profile; "
             "use auth: (type: header, header: Authorization, token_env: VAR or token_file: PATH)");
    load_bad(HEAD "headers: {X-Api-Key: s3cr3t}\n" REQ MAP,
             "x.yaml:3:22: headers.X-Api-Key: looks like a credential: a secret is never written in a profile; "
             "use auth: (type: header, header: X-Api-Key, token_env: VAR or token_file: PATH)");
}

static void test_file_errors(void **state)
{
    sr_profile *p;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_profile_load_file("/nonexistent/p.yaml", &p, err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/p.yaml: No such file or directory");
    char path[] = "/tmp/extrace-profile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(HEAD "requests:\n  w: {url: /w}\nmap: \"{\"\n", f);
    fclose(f);
    assert_int_equal(sr_profile_load_file(path, &p, err, sizeof err), 0);
    assert_string_equal(p->origin, path);
    assert_string_equal(p->map, "{");
    assert_int_equal(p->map_line, 5);
    sr_profile_free(p);
    remove(path);
}

/* Every allocation failure is an error, never a crash or a leak. */
static void test_out_of_memory(void **state)
{
    for (long n = 0; n < 400; n++) {
        sr_profile *p = NULL;
        char err[SR_ERR_LEN];
        ex_mem_fail_after(n);
        int rc = sr_profile_load_string("t.yaml", GOOD, strlen(GOOD), &p, err, sizeof err);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            sr_profile_free(p);
            return;
        }
        if (!strstr(err, "out of memory")) fail_msg("allocation %ld: %s", n, err);
    }
    fail_msg("never loaded within 400 allocations");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_profile),        cmocka_unit_test(test_defaults_and_nulls),
        cmocka_unit_test(test_auth_forms),          cmocka_unit_test(test_errors_structure),
        cmocka_unit_test(test_errors_names),        cmocka_unit_test(test_errors_templates_and_values),
        cmocka_unit_test(test_errors_secrets),      cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
