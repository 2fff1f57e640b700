/* support.h — helpers for integration tests: real processes listening on
 * port 0 (the port read from their logs) in temp dirs, always stopped
 * (children get SIGKILL when the test process dies, and ts_cleanup runs
 * at exit). */
#ifndef EXTRACE_TEST_SUPPORT_H
#define EXTRACE_TEST_SUPPORT_H
#include <stddef.h>
#include <sys/types.h>

/* Path of the extrace binary under test ($EXTRACE_BIN, else build/extrace). */
const char *ts_bin(void);
/* A TCP port on 127.0.0.1 that refuses connections: bound by the test
 * process until it exits (the kernel's choice of port), never listening,
 * with SO_REUSEADDR. No port-0 bind or outgoing connection (of any
 * process) can get it, but a server the test starts on it later can (libuv,
 * so Node.js and extrace, binds with SO_REUSEADDR): a receiver that is
 * down at first and comes up on the address its client already has.
 * -1 on error. */
int ts_refused_port(void);
/* Size of the file at path, 0 if it does not exist (where a log that is
 * appended to across restarts begins for the next process). */
size_t ts_file_size(const char *path);
/* The port a server started on port 0 wrote to its log: the first line
 * after byte offset `from` with marker, whose "(port N)" or, without one,
 * the address after marker ("listening on 127.0.0.1:N"; or the number
 * right after it). Waits up to timeout_ms for the whole line; 0 (said on
 * stderr) at the timeout. */
int ts_logged_port(const char *log_path, size_t from, const char *marker, int timeout_ms);
/* Create a fresh temp dir (removed by ts_cleanup); returns its path. */
const char *ts_tmpdir(void);
/* Start argv[0] with stdout+stderr appended to log_path (NULL: inherit).
 * Returns the pid; the child is killed at exit if still running. */
pid_t ts_spawn(char *const argv[], const char *log_path);
/* Send sig and wait up to timeout_ms; returns the exit status (0–255),
 * 128+signal if killed, or -1 if it had to be SIGKILLed after the wait. */
int ts_stop(pid_t pid, int sig, int timeout_ms);
/* Wait for the child to exit by itself; same returns as ts_stop, -2 on timeout. */
int ts_wait(pid_t pid, int timeout_ms);
/* Wait until something accepts TCP connections on 127.0.0.1:port. 0 or -1. */
int ts_wait_port(int port, int timeout_ms);
/* Run argv to completion, capturing stdout into *out (malloc'd, NUL-ended)
 * and stderr into *err (may be NULL). Returns the exit status or -1. */
int ts_run(char *const argv[], char **out, char **err, int timeout_ms);
/* Run a node:test script of the source tree ($EXTRACE_SOURCE_DIR/<script>,
 * its folder's node_modules installed by scripts/install-deps) with the
 * spec reporter, print its report, and judge it: 0 when it exited 0 with
 * "fail 0", "cancelled 0" and something passed; -1 otherwise (the reason
 * is printed). EXTRACE_BIN is passed on (ts_bin()). */
int ts_node_test(const char *script, int timeout_ms);
/* ts_node_test of a script that drives /usr/bin/chromium, with
 * EXTRACE_UI_ARTIFACTS set to ui-artifacts/ in the working directory
 * (printed): 0 passed, -1 failed, 1 when /usr/bin/chromium is missing
 * (said so; the caller skips). */
int ts_browser_test(const char *script, int timeout_ms);
/* Sleep ms milliseconds; monotonic time in ms (for deadlines). */
void ts_sleep_ms(int ms);
long long ts_mono_ms(void);
/* Read a whole file (malloc'd, NUL-terminated) or NULL. */
char *ts_read_file(const char *path, size_t *len);
/* Wait up to timeout_ms for the file at path to contain needle: its whole
 * text (malloc'd) once it does, NULL at the timeout. */
char *ts_wait_file_text(const char *path, const char *needle, int timeout_ms);

/* `extrace api --listen 127.0.0.1:0` then args (NULL-terminated; NULL:
 * none), output appended to log: its pid once it logged the port it got
 * (into *port), -1 if it did not within 20 s (then it is killed). */
pid_t ts_api_start(char *const args[], const char *log, int *port);
/* The ports of an `extrace store`. */
typedef struct ts_store_ports {
    int query;     /* --http-listen: query API and UI */
    int otlp_http; /* --otlp-http-listen */
    int otlp_grpc; /* --otlp-grpc-listen */
} ts_store_ports;
/* `extrace store` with its three listeners on 127.0.0.1:0 then args, as
 * ts_api_start: its pid once it logged all three ports into *p, else -1. */
pid_t ts_store_start(char *const args[], const char *log, ts_store_ports *p);

/* redis-server on 127.0.0.1:*port with args (NULL-terminated), output
 * appended to log; returns its pid once its own log says it is ready, -1
 * if it did not get there. redis-server cannot listen on port 0: *port 0
 * takes a ts_refused_port (held, so a restart on it cannot lose it to
 * another test) and stores it; a port given (a restart) is used as it is. */
pid_t ts_redis_spawn(int *port, char *const args[], const char *log);

/* A real redis-server on a port held for it (ts_redis_spawn) in its own temp dir. */
typedef struct ts_redis {
    pid_t pid;
    int port;
    char dir[256];
    char url[64]; /* redis://127.0.0.1:<port> */
} ts_redis;
int ts_redis_start(ts_redis *r);
/* The same with extra redis-server arguments (NULL-terminated; NULL: none). */
int ts_redis_start_with(ts_redis *r, char *const extra[]);
void ts_redis_stop(ts_redis *r);

/* Kill every child still running and remove temp dirs (also atexit). */
void ts_cleanup(void);

#endif
