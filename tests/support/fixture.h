/* fixture.h — the pieces the worker's stream tests share: worker
 * processes and their /metrics, a restartable redis-server, Redis
 * commands, and the Node OTLP receiver. Failures fail the running test. */
#ifndef EXTRACE_TEST_FIXTURE_H
#define EXTRACE_TEST_FIXTURE_H
#include <hiredis/hiredis.h>
#include <sys/types.h>

/* One `extrace worker` process. */
typedef struct tf_worker {
    const char *consumer; /* --consumer, and its log's name */
    pid_t pid;            /* 0 when not running */
    int admin_port;       /* /readyz, /metrics */
    char log[320];        /* its output, appended across restarts */
} tf_worker;

/* Start `extrace worker` with args (NULL-terminated; --admin-listen on
 * port 0 is added, w->admin_port is the one its log names: not with a
 * --log-level above info) with its output appended to w->log, and wait up to
 * 15 s for /readyz to say 200. */
void tf_worker_start(tf_worker *w, char *const args[]);
/* The same, waiting for /healthz only (a worker that cannot be ready, e.g.
 * without Redis). */
void tf_worker_start_live(tf_worker *w, char *const args[]);
/* Start w as `extrace worker --stream <stream>` on redis_url (its log
 * w->log must be set), polling the API on api_port 20 ms after an event
 * and every 50 ms, with --claim-idle 1s, exporting over OTLP
 * http/protobuf to port http_port every 100 ms; then the extra arguments
 * (NULL-terminated). */
void tf_stream_worker_start(tf_worker *w, const char *redis_url, int api_port, int http_port, const char *stream,
                            char *const extra[]);
/* GET /readyz of w: the status, 0 without an answer. */
long tf_worker_readyz(const tf_worker *w);
/* A sample of w's /metrics, or -1 (no answer, or no such sample). */
double tf_worker_metric(const tf_worker *w, const char *sample);
/* A sample's value in a Prometheus text, or -1 if absent. */
double tf_metric(const char *text, const char *sample);

/* (Re)start redis-server with its data in dir on *port (0: one of its
 * own, stored in *port; ts_redis_spawn), in an append-only
 * file fsynced on every write (a restart keeps streams and groups), and
 * wait until it serves (not LOADING). Returns its pid. */
pid_t tf_redis_start_aof(int *port, const char *dir);
/* A command's reply on a fresh connection to 127.0.0.1:port (free it). */
redisReply *tf_redis(int port, const char *fmt, ...);
/* Entries pending in group of stream (the XPENDING summary count), -1 if unknown. */
long long tf_redis_pending(int port, const char *stream, const char *group);

/* Start tests/node/receiver.js on *grpc_port and *http_port (0: ports of
 * its own, read from its log into them; a restart passes the ones it
 * had), spans to out_path, output appended to log_path; returns once both
 * listen. */
pid_t tf_receiver_start(int *grpc_port, int *http_port, const char *out_path, const char *log_path);

#endif
