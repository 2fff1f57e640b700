/* child.h — one supervised child process of the demo.
 *
 * A child is started with uv_spawn in a session (and process group) of its
 * own, so a Ctrl-C on the terminal reaches only the demo, which stops the
 * children itself in order. It is started through `extrace demo
 * --exec-child PPID FILE ARGV…`, which sets PR_SET_PDEATHSIG to SIGTERM and
 * then execs FILE: if the demo dies, even by SIGKILL, the child gets
 * SIGTERM (uv_spawn cannot run code between fork and exec).
 *
 * Its stdout and stderr are read through pipes and appended to a log file;
 * with a line callback each complete line is also handed over (--verbose).
 * `finished_cb` runs once the process has exited and its output is drained
 * (or 1 s after the exit, should something else hold the pipes open). */
#ifndef EXTRACE_DEMO_CHILD_H
#define EXTRACE_DEMO_CHILD_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define DM_LINE_MAX 2048 /* longer output lines are handed over in pieces */

typedef struct dm_child dm_child;
typedef void (*dm_child_finished_cb)(dm_child *c);
typedef void (*dm_child_line_cb)(dm_child *c, const char *line, size_t len);

struct dm_child {
    const char *name;             /* "store", "redis-server" …: for messages and the log file name */
    char log_path[4096];          /* where its output goes */
    int log_fd;                   /* open while it runs; -1 otherwise */
    uv_process_t proc;            /* the process handle */
    uv_pipe_t pipes[2];           /* its stdout and stderr */
    uv_timer_t grace;             /* bounds the wait for the pipes after the exit */
    int open_handles;             /* handles not yet closed */
    int pipes_open;               /* pipes not yet at EOF / closed */
    int pid;                      /* its pid; 0 before the first spawn */
    int spawned;                  /* spawn succeeded (this attempt) */
    int running;                  /* spawned and its exit not yet seen */
    int finished;                 /* exit seen and output drained */
    int64_t exit_status;          /* exit status, valid once finished */
    int term_signal;              /* signal that ended it, or 0 */
    char line[2][DM_LINE_MAX];    /* partial output line, per pipe */
    size_t line_len[2];           /* bytes in line[i] */
    char rbuf[65536];             /* read buffer, shared by both pipes */
    dm_child_finished_cb finished_cb; /* see above; required */
    dm_child_line_cb line_cb;     /* NULL: output only goes to the log */
    void *data;                   /* the owner's */
};

/* Prepare a child (not running); the caller owns `c` and keeps `name`. */
void dm_child_init(dm_child *c, const char *name, const char *log_path, dm_child_finished_cb finished_cb,
                   dm_child_line_cb line_cb, void *data);

/* Start FILE (searched in PATH when it has no '/') with argv and env
 * (NULL-terminated) through `self` (the extrace binary). Returns 0, or a
 * negative uv error with a message in err; then nothing runs and no
 * callback will come. The child must be finished (or never started), and
 * its handles closed, before a new spawn. */
int dm_child_spawn(dm_child *c, uv_loop_t *loop, const char *self, const char *file, char *const argv[],
                   char *const env[], char *err, size_t errlen);

/* Send sig to the child's process group (the child and whatever it
 * started). No-op unless it runs. */
void dm_child_signal(dm_child *c, int sig);

/* 1 once every handle of the child is closed (or it never started). */
int dm_child_closed(const dm_child *c);

/* "exited with status 1", "was killed by SIGKILL" … into buf. */
char *dm_child_describe_exit(const dm_child *c, char *buf, size_t len);

/* The last `lines` lines of the child's log, each prefixed with `indent`,
 * into buf (NUL-ended, empty when the log is empty or unreadable). */
char *dm_child_log_tail(const dm_child *c, int lines, const char *indent, char *buf, size_t len);

/* Entry of `extrace demo --exec-child PPID FILE ARGV…`: arranges SIGTERM
 * on the death of PPID and execs FILE. Returns only on failure (status). */
int dm_child_exec(int argc, char **argv);

#endif
