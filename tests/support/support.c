#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 256
#define MAX_DIRS 256

static pid_t children[MAX_CHILDREN];
static char *dirs[MAX_DIRS];
static int nchildren, ndirs, registered;

static void on_fatal(int sig)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0) kill(children[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void ensure_registered(void)
{
    if (registered) return;
    registered = 1;
    atexit(ts_cleanup);
    signal(SIGSEGV, on_fatal);
    signal(SIGABRT, on_fatal);
    signal(SIGTERM, on_fatal);
    signal(SIGINT, on_fatal);
    signal(SIGPIPE, SIG_IGN);
}

const char *ts_bin(void)
{
    const char *b = getenv("EXTRACE_BIN");
    return b && *b ? b : "build/extrace";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ts_refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int one = 1;
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    return ntohs(a.sin_port); /* fd stays open (and bound) until exit */
}

size_t ts_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* The port on the line at p: "(port N)" if the line has it, else the
 * digits after the last ':' of the word at p (or the word itself). 0
 * without a whole line. */
static int port_on_line(const char *p)
{
    const char *eol = strchr(p, '\n');
    if (!eol) return 0;
    const char *tag = strstr(p, "(port ");
    if (tag && tag < eol) return atoi(tag + 6);
    const char *colon = NULL;
    for (const char *q = p; q < eol && *q != ' ' && *q != ','; q++)
        if (*q == ':') colon = q;
    return atoi(colon ? colon + 1 : p);
}

int ts_logged_port(const char *log_path, size_t from, const char *marker, int timeout_ms)
{
    for (long long end = ts_mono_ms() + timeout_ms;; ts_sleep_ms(20)) {
        size_t len = 0;
        char *s = ts_read_file(log_path, &len);
        const char *m = s && len > from ? strstr(s + from, marker) : NULL;
        int port = m ? port_on_line(m + strlen(marker)) : 0;
        free(s);
        if (port > 0) return port;
        if (ts_mono_ms() >= end) {
            fprintf(stderr, "no port logged after \"%s\" in %s within %d ms\n", marker, log_path, timeout_ms);
            return 0;
        }
    }
}

const char *ts_tmpdir(void)
{
    ensure_registered();
    char tmpl[] = "/tmp/extrace-test-XXXXXX";
    if (!mkdtemp(tmpl) || ndirs >= MAX_DIRS) return NULL;
    dirs[ndirs] = strdup(tmpl);
    return dirs[ndirs++];
}

pid_t ts_spawn(char *const argv[], const char *log_path)
{
    ensure_registered();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (nchildren < MAX_CHILDREN) children[nchildren++] = pid;
    return pid;
}

static void forget(pid_t pid)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] == pid) children[i] = 0;
}

static int decode_status(int st)
{
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int ts_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            forget(pid);
            return decode_status(st);
        }
        if (r < 0) return -1;
        if (now_ms() >= deadline) return -2;
        usleep(10000);
    }
}

int ts_stop(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0) return -1;
    kill(pid, sig);
    int rc = ts_wait(pid, timeout_ms);
    if (rc == -2) {
        kill(pid, SIGKILL);
        ts_wait(pid, 5000);
        return -1;
    }
    return rc;
}

int ts_wait_port(int port, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    while (now_ms() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) return 0;
        usleep(20000);
    }
    return -1;
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int ts_run(char *const argv[], char **out, char **err, int timeout_ms)
{
    const char *dir = ts_tmpdir();
    if (!dir) return -1;
    char opath[300], epath[300];
    snprintf(opath, sizeof opath, "%s/stdout", dir);
    snprintf(epath, sizeof epath, "%s/stderr", dir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        dup2(o, 1);
        dup2(e, 2);
        dup2(in, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (nchildren < MAX_CHILDREN) children[nchildren++] = pid;
    int rc = ts_wait(pid, timeout_ms);
    if (rc == -2) rc = ts_stop(pid, SIGKILL, 1000);
    if (out) *out = ts_read_file(opath, NULL);
    if (err) *err = ts_read_file(epath, NULL);
    return rc;
}

int ts_node_test(const char *script, int timeout_ms)
{
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    if (!src || !*src) {
        printf("EXTRACE_SOURCE_DIR is not set (ctest sets it to the source tree)\n");
        return -1;
    }
    char path[1024], modules[1100];
    snprintf(path, sizeof path, "%s/%s", src, script);
    const char *slash = strrchr(path, '/');
    snprintf(modules, sizeof modules, "%.*s/node_modules", (int)(slash - path), path);
    if (access(modules, R_OK) != 0) {
        printf("%s is missing: run `npm ci` in its folder (scripts/install-deps does)\n", modules);
        return -1;
    }
    setenv("EXTRACE_BIN", ts_bin(), 0);
    char *argv[] = {"node", "--test", "--test-reporter=spec", path, NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, timeout_ms);
    printf("%s%s", out ? out : "", err ? err : "");
    printf("node --test %s: exit %d\n", path, rc);
    /* The reporter's summary: "ℹ fail 0", no suite cancelled by a failed
     * hook, and something ran. */
    int passed = rc == 0 && out && strstr(out, " fail 0\n") && strstr(out, " cancelled 0\n") && !strstr(out, " pass 0\n");
    free(out);
    free(err);
    return passed ? 0 : -1;
}

int ts_browser_test(const char *script, int timeout_ms)
{
    const char *chromium = "/usr/bin/chromium";
    if (access(chromium, X_OK) != 0) {
        printf("skipped: %s is missing (scripts/install-deps installs the chromium package)\n", chromium);
        return 1;
    }
    char cwd[PATH_MAX], artifacts[PATH_MAX + 16];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    snprintf(artifacts, sizeof artifacts, "%s/ui-artifacts", cwd);
    setenv("EXTRACE_UI_ARTIFACTS", artifacts, 1);
    int rc = ts_node_test(script, timeout_ms);
    printf("artifacts in %s\n", artifacts);
    return rc;
}

void ts_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

long long ts_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start argv (its args after the fixed ones, NULL-terminated, appended)
 * with output appended to log; *from is where its output begins. */
static pid_t spawn_with(const char *const fixed[], char *const args[], const char *log, size_t *from)
{
    char *argv[64];
    size_t n = 0;
    for (; fixed[n]; n++) argv[n] = (char *)fixed[n];
    for (size_t i = 0; args && args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    *from = ts_file_size(log);
    return ts_spawn(argv, log);
}

pid_t ts_api_start(char *const args[], const char *log, int *port)
{
    const char *fixed[] = {ts_bin(), "api", "--listen", "127.0.0.1:0", NULL};
    size_t from;
    pid_t pid = spawn_with(fixed, args, log, &from);
    if (pid > 0 && (*port = ts_logged_port(log, from, "api: listening on ", 20000)) > 0) return pid;
    if (pid > 0) ts_stop(pid, SIGKILL, 1000);
    return -1;
}

pid_t ts_store_start(char *const args[], const char *log, ts_store_ports *p)
{
    const char *fixed[] = {ts_bin(), "store", "--http-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0",
                           "--otlp-grpc-listen", "127.0.0.1:0", NULL};
    size_t from;
    pid_t pid = spawn_with(fixed, args, log, &from);
    /* the query API's line comes last: then all three listen */
    if (pid > 0 && (p->query = ts_logged_port(log, from, "query API and UI listening on ", 20000)) > 0) {
        p->otlp_http = ts_logged_port(log, from, "OTLP/HTTP listening on ", 1000);
        p->otlp_grpc = ts_logged_port(log, from, "OTLP/gRPC listening on ", 1000);
        if (p->otlp_http > 0 && p->otlp_grpc > 0) return pid;
    }
    if (pid > 0) ts_stop(pid, SIGKILL, 1000);
    return -1;
}

/* Start redis-server on port with args; its pid once its own log (from
 * the offset it had) says it is ready, else -1 (killed). redis-server
 * binds with SO_REUSEADDR, so a port held by ts_refused_port is its. */
static pid_t redis_try(int port, char *const args[], const char *log)
{
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    char *argv[48] = {"redis-server", "--port", ports, "--bind", "127.0.0.1", "--daemonize", "no"};
    size_t n = 7;
    for (size_t i = 0; args && args[i] && n < 47; i++) argv[n++] = args[i];
    argv[n] = NULL;
    size_t from = ts_file_size(log);
    pid_t pid = ts_spawn(argv, log);
    if (pid <= 0) return -1;
    for (long long end = ts_mono_ms() + 20000; ts_mono_ms() < end; ts_sleep_ms(20)) {
        size_t len = 0;
        char *s = ts_read_file(log, &len);
        int ready = s && len > from && strstr(s + from, "Ready to accept connections");
        int failed = s && len > from && strstr(s + from, "Could not create server TCP listening socket");
        free(s);
        if (ready) return pid;
        if (failed) break;
    }
    ts_stop(pid, SIGKILL, 1000);
    return -1;
}

pid_t ts_redis_spawn(int *port, char *const args[], const char *log)
{
    if (*port <= 0 && (*port = ts_refused_port()) <= 0) return -1;
    return redis_try(*port, args, log);
}

int ts_redis_start_with(ts_redis *r, char *const extra[])
{
    const char *dir = ts_tmpdir();
    if (!dir) return -1;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    char log[300];
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    char *args[40] = {"--dir", r->dir, "--save", "", "--appendonly", "no"};
    size_t n = 6;
    for (size_t i = 0; extra && extra[i] && n < 39; i++) args[n++] = extra[i];
    args[n] = NULL;
    r->port = 0;
    r->pid = ts_redis_spawn(&r->port, args, log);
    if (r->pid <= 0) return -1;
    snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
    return 0;
}

int ts_redis_start(ts_redis *r) { return ts_redis_start_with(r, NULL); }

void ts_redis_stop(ts_redis *r)
{
    if (r->pid > 0) ts_stop(r->pid, SIGTERM, 5000);
    r->pid = 0;
}

void ts_cleanup(void)
{
    for (int i = 0; i < nchildren; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
    for (int i = 0; i < ndirs; i++) {
        if (!dirs[i]) continue;
        if (!getenv("EXTRACE_KEEP_TMP")) {
            char cmd[400];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", dirs[i]);
            if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dirs[i]);
        }
        free(dirs[i]);
        dirs[i] = NULL;
    }
}

char *ts_wait_file_text(const char *path, const char *needle, int timeout_ms)
{
    struct timespec start, now, nap = {0, 20 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        char *s = ts_read_file(path, NULL);
        if (s && strstr(s, needle)) return s;
        free(s);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
        if (ms >= timeout_ms) return NULL;
        nanosleep(&nap, NULL);
    }
}
