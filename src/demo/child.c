/* child.c — spawning, logging and reaping one child of the demo. */
#include "demo/child.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

#define GRACE_MS 1000 /* wait for the pipes' EOF after the exit at most this long */

void dm_child_init(dm_child *c, const char *name, const char *log_path, dm_child_finished_cb finished_cb,
                   dm_child_line_cb line_cb, void *data)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    snprintf(c->log_path, sizeof c->log_path, "%s", log_path);
    c->log_fd = -1;
    c->finished_cb = finished_cb;
    c->line_cb = line_cb;
    c->data = data;
}

static void handle_closed_cb(uv_handle_t *h)
{
    dm_child *c = h->data;
    c->open_handles--;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, handle_closed_cb);
}

/* Exit seen and pipes drained: close what is left, then tell the owner. */
static void maybe_finish(dm_child *c)
{
    if (c->running || c->pipes_open > 0 || c->finished) return;
    c->finished = 1;
    uv_timer_stop(&c->grace);
    close_handle((uv_handle_t *)&c->grace);
    if (c->log_fd >= 0) close(c->log_fd);
    c->log_fd = -1;
    c->finished_cb(c);
}

static void write_log(dm_child *c, const char *p, size_t n)
{
    while (c->log_fd >= 0 && n > 0) {
        ssize_t w = write(c->log_fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            ex_warn("demo", "cannot write the log of %s to %s: %s; its further output is dropped", c->name,
                    c->log_path, strerror(errno));
            close(c->log_fd);
            c->log_fd = -1;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Hand complete lines to line_cb; a line longer than DM_LINE_MAX goes in pieces. */
static void split_lines(dm_child *c, int i, const char *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (p[k] == '\n' || c->line_len[i] == DM_LINE_MAX) {
            c->line_cb(c, c->line[i], c->line_len[i]);
            c->line_len[i] = 0;
            if (p[k] == '\n') continue;
        }
        c->line[i][c->line_len[i]++] = p[k];
    }
}

static void close_pipe(dm_child *c, int i)
{
    uv_handle_t *h = (uv_handle_t *)&c->pipes[i];
    if (uv_is_closing(h)) return;
    if (c->line_cb && c->line_len[i]) c->line_cb(c, c->line[i], c->line_len[i]);
    c->line_len[i] = 0;
    close_handle(h);
    c->pipes_open--;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    dm_child *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    dm_child *c = s->data;
    int i = s == (uv_stream_t *)&c->pipes[0] ? 0 : 1;
    if (n > 0) {
        write_log(c, buf->base, (size_t)n);
        if (c->line_cb) split_lines(c, i, buf->base, (size_t)n);
        return;
    }
    if (n == 0) return; /* EAGAIN */
    close_pipe(c, i);   /* EOF or a read error: the child is gone or closed its end */
    maybe_finish(c);
}

static void grace_cb(uv_timer_t *t)
{
    dm_child *c = t->data;
    close_pipe(c, 0);
    close_pipe(c, 1);
    maybe_finish(c);
}

static void exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    dm_child *c = p->data;
    c->running = 0;
    c->exit_status = status;
    c->term_signal = term_signal;
    close_handle((uv_handle_t *)&c->proc);
    if (c->pipes_open > 0) uv_timer_start(&c->grace, grace_cb, GRACE_MS, 0);
    maybe_finish(c);
}

/* The trampoline's argv: self demo --exec-child PPID FILE ARGV… NULL (owned). */
static char **trampoline_args(const char *self, const char *file, char *const argv[], char *ppid)
{
    size_t n = 0;
    while (argv[n]) n++;
    char **args = ex_calloc(n + 6, sizeof *args);
    if (!args) return NULL;
    args[0] = (char *)self;
    args[1] = "demo";
    args[2] = "--exec-child";
    args[3] = ppid;
    args[4] = (char *)file;
    for (size_t i = 0; i < n; i++) args[5 + i] = argv[i];
    return args;
}

int dm_child_spawn(dm_child *c, uv_loop_t *loop, const char *self, const char *file, char *const argv[],
                   char *const env[], char *err, size_t errlen)
{
    char ppid[24];
    snprintf(ppid, sizeof ppid, "%ld", (long)getpid());
    char **args = trampoline_args(self, file, argv, ppid);
    if (!args) {
        snprintf(err, errlen, "out of memory");
        return UV_ENOMEM;
    }
    c->log_fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->log_fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open its log %s: %s", c->log_path, strerror(e));
        ex_free(args);
        return uv_translate_sys_error(e);
    }
    c->finished = c->spawned = 0;
    c->line_len[0] = c->line_len[1] = 0;
    for (int i = 0; i < 2; i++) {
        uv_pipe_init(loop, &c->pipes[i], 0);
        c->pipes[i].data = c;
    }
    uv_timer_init(loop, &c->grace);
    c->grace.data = c->proc.data = c;
    c->open_handles = 3;
    c->pipes_open = 2;

    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->pipes[0]},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->pipes[1]},
    };
    uv_process_options_t o = {
        .exit_cb = exit_cb, .file = self, .args = args, .env = (char **)env,
        .stdio_count = 3, .stdio = stdio, .flags = UV_PROCESS_DETACHED, /* setsid: a group of its own */
    };
    int rc = uv_spawn(loop, &c->proc, &o);
    ex_free(args);
    c->open_handles++;
    if (rc != 0) {
        snprintf(err, errlen, "cannot start %s: %s", file, uv_strerror(rc));
        close_handle((uv_handle_t *)&c->proc);
        close_pipe(c, 0);
        close_pipe(c, 1);
        close_handle((uv_handle_t *)&c->grace);
        close(c->log_fd);
        c->log_fd = -1;
        c->finished = 1;
        return rc;
    }
    c->pid = c->proc.pid;
    c->spawned = c->running = 1;
    for (int i = 0; i < 2; i++) uv_read_start((uv_stream_t *)&c->pipes[i], alloc_cb, read_cb);
    return 0;
}

void dm_child_signal(dm_child *c, int sig)
{
    if (!c->running) return;
    /* Right after the spawn the child may not have called setsid yet: then
     * there is no group of that id, and the child alone gets the signal. */
    if (kill(-c->pid, sig) != 0) kill(c->pid, sig);
}

int dm_child_closed(const dm_child *c) { return c->open_handles == 0; }

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGKILL: return "SIGKILL";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGPIPE: return "SIGPIPE";
    default: return NULL;
    }
}

char *dm_child_describe_exit(const dm_child *c, char *buf, size_t len)
{
    if (c->term_signal) {
        const char *name = signal_name(c->term_signal);
        if (name) snprintf(buf, len, "was killed by %s", name);
        else snprintf(buf, len, "was killed by signal %d", c->term_signal);
    } else {
        snprintf(buf, len, "exited with status %" PRId64, c->exit_status);
    }
    return buf;
}

char *dm_child_log_tail(const dm_child *c, int lines, const char *indent, char *buf, size_t len)
{
    enum { TAIL = 8192 };
    char tail[TAIL + 1];
    buf[0] = '\0';
    FILE *f = fopen(c->log_path, "rb");
    if (!f) return buf;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    long from = size > TAIL ? size - TAIL : 0;
    size_t n = size >= 0 && fseek(f, from, SEEK_SET) == 0 ? fread(tail, 1, TAIL, f) : 0;
    fclose(f);
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r')) n--;
    tail[n] = '\0';
    /* Walk back `lines` line starts. */
    size_t start = n;
    for (int k = 0; k < lines && start > 0; k++) {
        start--;
        while (start > 0 && tail[start - 1] != '\n') start--;
    }
    size_t o = 0;
    for (char *line = tail + start; *line && o + 1 < len;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        int w = snprintf(buf + o, len - o, "%s%.*s\n", indent, (int)ll, line);
        if (w < 0) break;
        o += (size_t)w < len - o ? (size_t)w : len - o - 1;
        line += ll + (nl ? 1 : 0);
    }
    return buf;
}

int dm_child_exec(int argc, char **argv)
{
    /* argv: demo --exec-child PPID FILE ARGV0 ARGS… */
    if (argc < 5) {
        fprintf(stderr, "extrace demo --exec-child: expected PPID FILE ARGV0 [ARGS…]\n");
        return 2;
    }
    char *end;
    long ppid = strtol(argv[2], &end, 10);
    if (*end || ppid <= 1) {
        fprintf(stderr, "extrace demo --exec-child: \"%s\" is not a parent process id\n", argv[2]);
        return 2;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        fprintf(stderr, "extrace demo --exec-child: prctl(PR_SET_PDEATHSIG): %s\n", strerror(errno));
        return 1;
    }
    /* The demo may have died before prctl: then nobody would stop us. */
    if (getppid() != (pid_t)ppid) return 1;
    execvp(argv[3], argv + 4);
    fprintf(stderr, "extrace demo: cannot run %s: %s\n", argv[3], strerror(errno));
    return 127;
}
