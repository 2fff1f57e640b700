/* The deployment files (deploy/compose, deploy/helm, deploy/systemd)
 * checked against the binary they deploy. tests/deploy/check.js parses
 * them and checks their structure (and runs `extrace <args> --help` with
 * each container's arguments and environment, so the binary itself
 * accepts them); where the real tools exist they run too: `docker compose
 * config`, `helm template`, `systemd-analyze verify` and `security`. The
 * compose healthchecks run against real extrace processes. Each check is
 * also run on a broken copy, to show it can fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

static const char *workdir; /* one temp dir for every file this test writes */

static const char *src(void)
{
    const char *s = getenv("EXTRACE_SOURCE_DIR");
    if (!s || !*s) fail_msg("EXTRACE_SOURCE_DIR is not set (ctest sets it to the source tree)");
    return s;
}

/* Whether an executable `name` is on PATH (no process started). */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[1024];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0) return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* Run argv; stdout and stderr go to a file of workdir, returned in *out
 * (malloc'd). Returns the exit status. (ts_run would take a temp dir per
 * call; this test runs many short commands.) */
static int run_capture(char *const argv[], char **out)
{
    static int n;
    char log[512];
    snprintf(log, sizeof log, "%s/run-%d.log", workdir, n++);
    pid_t pid = ts_spawn(argv, log);
    assert_true(pid > 0);
    int rc = ts_wait(pid, 120000);
    if (rc == -2) rc = ts_stop(pid, SIGKILL, 1000);
    *out = ts_read_file(log, NULL);
    if (!*out) *out = strdup("");
    return rc;
}

/* `node tests/deploy/check.js <args…>` (NULL-terminated); output in *out. */
static int check(char **out, ...)
{
    char script[600], yaml[600];
    snprintf(script, sizeof script, "%s/tests/deploy/check.js", src());
    snprintf(yaml, sizeof yaml, "%s/tests/deploy/node_modules/yaml/package.json", src());
    if (access(yaml, R_OK) != 0)
        fail_msg("%s is missing: run scripts/install-deps (it runs npm ci in tests/deploy)", yaml);
    char *argv[16] = {"node", script};
    int n = 2;
    va_list ap;
    va_start(ap, out);
    for (char *a; n < 15 && (a = va_arg(ap, char *)) != NULL;) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run_capture(argv, out);
}

static void expect_ok(int rc, const char *out, const char *what)
{
    if (rc != 0 || !strstr(out, "\n0 problems\n")) fail_msg("%s: exit %d\n%s", what, rc, out);
}

static void expect_text(const char *out, const char *text)
{
    if (!strstr(out, text)) fail_msg("expected \"%s\" in:\n%s", text, out);
}

/* Copy src-relative `rel` to workdir/name with the first `from` replaced by `to`. */
static char *broken_copy(const char *rel, const char *name, const char *from, const char *to)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", src(), rel);
    char *text = ts_read_file(path, NULL);
    assert_non_null(text);
    char *at = strstr(text, from);
    if (!at) fail_msg("\"%s\" not found in %s", from, rel);
    char *dst = malloc(600);
    snprintf(dst, 600, "%s/%s", workdir, name);
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    fclose(f);
    free(text);
    return dst;
}

static void test_compose(void **state)
{
    char main_yml[600], mon_yml[600], *out;
    snprintf(main_yml, sizeof main_yml, "%s/deploy/compose/docker-compose.yml", src());
    snprintf(mon_yml, sizeof mon_yml, "%s/deploy/compose/docker-compose-monitoring.yml", src());
    int rc = check(&out, "compose", main_yml, mon_yml, NULL);
    expect_ok(rc, out, "compose files");
    expect_text(out, "docker-compose.yml: services redis, api, worker, generate, store; worker exports to store");
    expect_text(out, "+ docker-compose-monitoring.yml: services redis, api, worker, generate, store, tempo, grafana; "
                     "worker exports to tempo");
    free(out);

    /* The real tool too, where the compose plugin exists. */
    char *version[] = {"docker", "compose", "version", NULL};
    int have_compose = 0;
    if (on_path("docker")) {
        have_compose = run_capture(version, &out) == 0;
        free(out);
    }
    if (have_compose) {
        char *config[] = {"docker", "compose", "-f", main_yml, "-f", mon_yml, "config", "--quiet", NULL};
        if (run_capture(config, &out) != 0) fail_msg("docker compose config: %s", out);
        free(out);
        print_message("docker compose config: valid\n");
    } else {
        print_message("docker compose plugin not available: structural check only\n");
    }

    /* A misspelt seed variable and a bad value are caught. */
    char *bad = broken_copy("deploy/compose/docker-compose.yml", "docker-compose.yml",
                            "TracingSample__ExternalApi__BaseUrl: http://api:5146",
                            "TracingSample__ExternalApi__BaseURL: http://api:5146\n      EXTRACE_INTERVAL: soon");
    rc = check(&out, "compose", bad, NULL);
    assert_int_equal(rc, 1);
    expect_text(out, "worker: extrace worker does not read the variable TracingSample__ExternalApi__BaseURL");
    expect_text(out, "EXTRACE_INTERVAL=\"soon\" (environment): not a duration");
    free(out);
    free(bad);
}

/* Run one compose healthcheck script with its port replaced by `port`. */
static int healthcheck(const char *script, int container_port, int port)
{
    char from[64], to[64], cmd[1024];
    snprintf(from, sizeof from, "/dev/tcp/127.0.0.1/%d", container_port);
    snprintf(to, sizeof to, "/dev/tcp/127.0.0.1/%d", port);
    const char *at = strstr(script, from);
    if (!at) fail_msg("healthcheck \"%s\" does not probe port %d", script, container_port);
    snprintf(cmd, sizeof cmd, "%.*s%s%s", (int)(at - script), script, to, at + strlen(from));
    char *argv[] = {"bash", "-c", cmd, NULL}, log[600];
    snprintf(log, sizeof log, "%s/healthchecks.log", workdir);
    pid_t pid = ts_spawn(argv, log);
    return ts_wait(pid, 10000);
}

/* Retry a healthcheck until it passes (the process is starting) or 10 s pass. */
static int healthy(const char *script, int container_port, int port)
{
    for (int i = 0; i < 100; i++) {
        if (healthcheck(script, container_port, port) == 0) return 1;
        usleep(100000);
    }
    return 0;
}

/* The bash healthchecks of the compose file, against real extrace processes. */
static void test_compose_healthchecks(void **state)
{
    char yml[600], *list;
    snprintf(yml, sizeof yml, "%s/deploy/compose/docker-compose.yml", src());
    assert_int_equal(check(&list, "healthchecks", yml, NULL), 0);
    const char *api = strstr(list, "api\t"), *worker = strstr(list, "worker\t"), *store = strstr(list, "store\t");
    assert_non_null(api);
    assert_non_null(worker);
    assert_non_null(store);
    char api_hc[512], worker_hc[512], store_hc[512];
    snprintf(api_hc, sizeof api_hc, "%.*s", (int)strcspn(api + 4, "\n"), api + 4);
    snprintf(worker_hc, sizeof worker_hc, "%.*s", (int)strcspn(worker + 7, "\n"), worker + 7);
    snprintf(store_hc, sizeof store_hc, "%.*s", (int)strcspn(store + 6, "\n"), store + 6);
    free(list);

    ts_redis redis;
    assert_int_equal(ts_redis_start(&redis), 0);
    /* held until the processes bind them: the healthchecks first see nothing listen there */
    int api_port = ts_refused_port(), admin_port = ts_refused_port(), q = ts_refused_port(), g = ts_refused_port(),
        h = ts_refused_port();
    char listen[64], admin[64], api_url[64], qa[64], ga[64], ha[64], data[600], log[600];
    snprintf(listen, sizeof listen, "--listen=127.0.0.1:%d", api_port);
    snprintf(admin, sizeof admin, "--admin-listen=127.0.0.1:%d", admin_port);
    snprintf(api_url, sizeof api_url, "--api-url=http://127.0.0.1:%d", api_port);
    snprintf(qa, sizeof qa, "--http-listen=127.0.0.1:%d", q);
    snprintf(ga, sizeof ga, "--otlp-grpc-listen=127.0.0.1:%d", g);
    snprintf(ha, sizeof ha, "--otlp-http-listen=127.0.0.1:%d", h);
    snprintf(data, sizeof data, "--data-dir=%s/store", workdir);
    char redis_flag[96];
    snprintf(redis_flag, sizeof redis_flag, "--redis=%s", redis.url);

    /* Nothing listens yet: the healthchecks must fail. */
    assert_int_not_equal(healthcheck(api_hc, 5146, api_port), 0);
    assert_int_not_equal(healthcheck(store_hc, 3200, q), 0);

    char *api_argv[] = {(char *)ts_bin(), "api", listen, NULL};
    char *store_argv[] = {(char *)ts_bin(), "store", qa, ga, ha, data, NULL};
    char *worker_argv[] = {(char *)ts_bin(), "worker", admin, api_url, redis_flag, NULL};
    snprintf(log, sizeof log, "%s/processes.log", workdir);
    pid_t pa = ts_spawn(api_argv, log), ps = ts_spawn(store_argv, log);
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    pid_t pw = ts_spawn(worker_argv, log);
    unsetenv("OTEL_TRACES_EXPORTER");
    if (!healthy(api_hc, 5146, api_port) || !healthy(store_hc, 3200, q) || !healthy(worker_hc, 9464, admin_port))
        fail_msg("a healthcheck never passed; the processes logged:\n%s", ts_read_file(log, NULL));
    /* The worker's is readiness: without Redis it must turn unhealthy. */
    ts_redis_stop(&redis);
    int unready = 0;
    for (int i = 0; i < 100 && !unready; i++, usleep(100000)) unready = healthcheck(worker_hc, 9464, admin_port) != 0;
    assert_true(unready);
    assert_int_equal(ts_stop(pw, SIGTERM, 10000), 0);
    assert_int_equal(ts_stop(ps, SIGTERM, 10000), 0);
    assert_int_equal(ts_stop(pa, SIGTERM, 10000), 0);
}

/* Check `chart` with up to two --set values (NULL: none); refusal: the chart must refuse them. */
static void helm_scenario(const char *chart, const char *set1, const char *set2, const char *expect, int refusal)
{
    char dir[600], *out;
    snprintf(dir, sizeof dir, "%s/deploy/helm/%s", src(), chart);
    const char *refuse = refusal ? "--expect-refusal" : NULL;
    int rc = !set1   ? check(&out, "helm", dir, refuse, NULL)
             : !set2 ? check(&out, "helm", dir, "--set", set1, refuse, NULL)
                     : check(&out, "helm", dir, "--set", set1, "--set", set2, refuse, NULL);
    expect_ok(rc, out, chart);
    expect_text(out, expect);
    free(out);
}

/* With helm installed, `helm template` renders and check.js checks its output. */
static void helm_template(const char *chart, const char *set)
{
    char dir[600], rendered[600], cmd[2048], *out;
    snprintf(dir, sizeof dir, "%s/deploy/helm/%s", src(), chart);
    snprintf(rendered, sizeof rendered, "%s/%s.rendered.yaml", workdir, chart);
    snprintf(cmd, sizeof cmd, "helm template extrace '%s' -n extrace %s%s > '%s'", dir, set ? "--set " : "",
             set ? set : "", rendered);
    char *argv[] = {"bash", "-c", cmd, NULL};
    if (run_capture(argv, &out) != 0) fail_msg("helm template %s: %s", chart, out);
    free(out);
    int rc = set ? check(&out, "helm", dir, "--rendered", rendered, "--set", set, NULL)
                 : check(&out, "helm", dir, "--rendered", rendered, NULL);
    expect_ok(rc, out, "helm template output");
    free(out);
}

static void test_helm(void **state)
{
    helm_scenario("extrace", NULL, NULL, "checked Deployment extrace-api: 2 replicas: api --listen=0.0.0.0:5146", 0);
    helm_scenario("extrace", NULL, NULL, "checked StatefulSet extrace-store: 1 replicas: store", 0);
    helm_scenario("extrace", "worker.stream.enabled=true", "worker.replicaCount=3",
                  "checked Deployment extrace-worker: 3 replicas: worker --admin-listen=0.0.0.0:9464 --initial-delay=5s "
                  "--interval=10s --timeout=30m --max-concurrent-polls=256 --stream=workflows --group=extrace-workers",
                  0);
    helm_scenario("extrace", "worker.stream.enabled=true", NULL,
                  "checked Deployment extrace-redis: appendonly yes, fsync everysec", 0);
    helm_scenario("extrace", NULL, NULL, "checked Deployment extrace-redis: appendonly no", 0);
    helm_scenario("extrace", "store.enabled=false", NULL, "refuses store.enabled=false: store.enabled is false", 1);
    helm_scenario("extrace", "store.enabled=false", "otel.endpoint=http://monitoring-tempo.monitoring:4317",
                  "checked extrace (", 0);
    helm_scenario("extrace", "generate.enabled=true", "redis.url=redis://redis.example:6379",
                  "checked Job extrace-generate: job: generate", 0);
    helm_scenario("monitoring", NULL, NULL, "checked StatefulSet extrace-tempo", 0);

    /* Store off: no store objects at all. */
    char dir[600], *out;
    snprintf(dir, sizeof dir, "%s/deploy/helm/extrace", src());
    assert_int_equal(check(&out, "helm", dir, "--set", "store.enabled=false", "--set", "otel.endpoint=http://t:4317", NULL), 0);
    assert_null(strstr(out, "extrace-store"));
    free(out);
    /* A value the binary rejects fails the check. */
    assert_int_equal(check(&out, "helm", dir, "--set", "api.timeScale=fast", NULL), 1);
    expect_text(out, "extrace api: --time-scale=\"fast\": not a number");
    free(out);

    if (on_path("helm")) {
        helm_template("extrace", NULL);
        helm_template("extrace", "worker.stream.enabled=true");
        helm_template("monitoring", NULL);
        print_message("helm template: rendered and checked\n");
    } else {
        print_message("helm is not installed (Debian 12 has no helm package): built-in renderer only\n");
    }
}

/* Copy src-relative `rel` into workdir unchanged. */
static void plain_copy(const char *rel, const char *name)
{
    char path[600], dst[600];
    snprintf(path, sizeof path, "%s/%s", src(), rel);
    snprintf(dst, sizeof dst, "%s/%s", workdir, name);
    char *text = ts_read_file(path, NULL);
    assert_non_null(text);
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
}

/* The chart's alerts: every metric they use is in a real worker's /metrics,
 * promtool accepts the rules, and its unit tests (tests/deploy/alerts_test.yml)
 * show them firing and staying quiet on synthetic series. */
static void test_alert_rules(void **state)
{
    if (!on_path("promtool")) fail_msg("promtool is missing: scripts/install-deps installs it (package prometheus)");
    ts_redis redis;
    assert_int_equal(ts_redis_start(&redis), 0);
    char redis_flag[96], url[96], metrics[600], rules[600], log[600], dir[600], *out;
    snprintf(redis_flag, sizeof redis_flag, "--redis=%s", redis.url);
    snprintf(metrics, sizeof metrics, "%s/metrics.txt", workdir);
    snprintf(rules, sizeof rules, "%s/alerts.yml", workdir);
    snprintf(log, sizeof log, "%s/alerts-worker.log", workdir);
    char *worker_argv[] = {(char *)ts_bin(), "worker", "--admin-listen=127.0.0.1:0", redis_flag, NULL};
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    pid_t pw = ts_spawn(worker_argv, log);
    unsetenv("OTEL_TRACES_EXPORTER");
    int port = ts_logged_port(log, 0, "admin HTTP on ", 15000);
    if (!port) fail_msg("the worker logged no admin port (log %s)", log);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    char *curl[] = {"curl", "-sf", "-o", metrics, url, NULL};
    assert_int_equal(run_capture(curl, &out), 0);
    free(out);
    assert_int_equal(ts_stop(pw, SIGTERM, 10000), 0);
    ts_redis_stop(&redis);

    snprintf(dir, sizeof dir, "%s/deploy/helm/extrace", src());
    int rc = check(&out, "helm", dir, "--set", "prometheusRule.enabled=true", "--rules-out", rules, "--metrics", metrics,
                   NULL);
    expect_ok(rc, out, "alert rules");
    expect_text(out, "checked PrometheusRule: 8 alerts on extrace_poll_errors_total, extrace_polls_total");
    free(out);
    char *check_rules[] = {"promtool", "check", "rules", rules, NULL};
    if (run_capture(check_rules, &out) != 0) fail_msg("promtool check rules: %s", out);
    free(out);
    plain_copy("tests/deploy/alerts_test.yml", "alerts_test.yml");
    char tests[600];
    snprintf(tests, sizeof tests, "%s/alerts_test.yml", workdir);
    char *test_rules[] = {"promtool", "test", "rules", tests, NULL};
    if (run_capture(test_rules, &out) != 0) fail_msg("promtool test rules: %s", out);
    free(out);
}

static void test_systemd(void **state)
{
    char dir[600], *out;
    snprintf(dir, sizeof dir, "%s/deploy/systemd", src());
    int rc = check(&out, "systemd", dir, NULL);
    expect_ok(rc, out, "systemd units");
    expect_text(out, "checked extrace-store.service: extrace store, data in /var/lib/extrace-store");
    expect_text(out, "checked extrace-worker.service: extrace worker");
    free(out);

    if (!on_path("systemd-analyze")) {
        print_message("systemd-analyze not available: key checks only\n");
        return;
    }
    /* systemd-analyze checks that ExecStart exists: point it at the binary under test. */
    const char *units[] = {"extrace-worker.service", "extrace-store.service"};
    char paths[2][600];
    for (int i = 0; i < 2; i++) {
        char rel[128], *p;
        snprintf(rel, sizeof rel, "deploy/systemd/%s", units[i]);
        char exec[700];
        snprintf(exec, sizeof exec, "ExecStart=%s ", ts_bin());
        p = broken_copy(rel, units[i], "ExecStart=/usr/local/bin/extrace ", exec);
        snprintf(paths[i], sizeof paths[i], "%s", p);
        free(p);
    }
    char *verify[] = {"systemd-analyze", "verify", paths[0], paths[1], NULL};
    rc = run_capture(verify, &out);
    if (rc != 0 || out[0]) fail_msg("systemd-analyze verify (exit %d): %s", rc, out);
    free(out);
    for (int i = 0; i < 2; i++) {
        char *security[] = {"systemd-analyze", "security", "--offline=yes", "--threshold=20", paths[i], NULL};
        rc = run_capture(security, &out);
        if (rc != 0) fail_msg("systemd-analyze security: exposure above 2.0 for %s:\n%s", units[i], out);
        free(out);
    }
    /* A misspelt key is reported (verify exits 0 on it: any output counts). */
    char *bad = broken_copy("deploy/systemd/extrace-store.service", "bad.service", "RestartSec=", "RestartSecs=");
    char *verify_bad[] = {"systemd-analyze", "verify", bad, NULL};
    run_capture(verify_bad, &out);
    expect_text(out, "Unknown key 'RestartSecs'");
    free(out);
    free(bad);
}

static void test_dockerfile(void **state)
{
    char file[600], *out;
    snprintf(file, sizeof file, "%s/deploy/compose/Dockerfile", src());
    int rc = check(&out, "dockerfile", file, NULL);
    expect_ok(rc, out, "Dockerfile");
    expect_text(out, "debian:bookworm-slim (17 packages, USER 10001:10001)");
    free(out);
    /* A runtime stage without a library the binary links is caught. */
    char *bad = broken_copy("deploy/compose/Dockerfile", "Dockerfile", " libxxhash0 zlib1g", " zlib1g");
    char *ignore = broken_copy("deploy/compose/Dockerfile.dockerignore", "Dockerfile.dockerignore", "!src/", "!src/x");
    assert_int_equal(check(&out, "dockerfile", bad, NULL), 1);
    expect_text(out, "the binary needs libxxhash.so.0 from libxxhash0, which the runtime stage does not install");
    expect_text(out, "excludes src/");
    free(out);
    free(bad);
    free(ignore);
}

static int setup(void **state)
{
    workdir = ts_tmpdir();
    return workdir ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_compose_healthchecks),
        cmocka_unit_test(test_helm),
        cmocka_unit_test(test_alert_rules),
        cmocka_unit_test(test_systemd),
        cmocka_unit_test(test_dockerfile),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    ts_cleanup();
    return rc;
}
