/* store_cmd.c — `extrace store`: the embedded trace store.
 *
 * The main libuv loop runs the OTLP receivers (HTTP 4318, gRPC 4317) and
 * the retention timer over the SQLite writer connection; the query API +
 * web UI (3200) run on their own thread and loop over a read-only
 * connection (query_thread.h). Every handler answers synchronously, so
 * when SIGINT or SIGTERM is taken no transaction is in progress: the
 * listeners stop, the query thread is joined, the loop drains the closing
 * handles, the database is closed, and the exit status is 0. */
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/mem_budget.h"
#include "net/conn_opts.h"
#include "store/db.h"
#include "store/dirlock.h"
#include "store/ingest_grpc.h"
#include "store/ingest_http.h"
#include "store/live.h"
#include "store/query_thread.h"
#include "store/retention.h"


typedef struct store_cfg {
    char *otlp_http_listen;    /* OTLP/HTTP receiver address */
    char *otlp_grpc_listen;    /* OTLP/gRPC receiver address */
    char *http_listen;         /* query API + UI address */
    char *data_dir;            /* where traces.db lives */
    int64_t retention_ns;      /* keep traces that ended within this long */
    int64_t retention_check_ns; /* time between retention passes */
    int64_t max_request_bytes; /* OTLP request bound (before and after gunzip) */
    int64_t max_inflight_bytes; /* bound of all OTLP request bodies buffered at once */
    ex_conn_opts conns;        /* limits of each listener */
    int64_t query_max_bytes;    /* span bytes one search may read */
    int64_t query_timeout_ns;   /* time one search may take */
    char *live;                 /* worker admin base URLs, comma-separated (NULL: none) */
    int64_t live_interval_ns;   /* time between two polls of each worker */
} store_cfg;

static const ex_opt opts[] = {
    {"otlp-http-listen", EX_OPT_STRING, offsetof(store_cfg, otlp_http_listen), "127.0.0.1:4318", EX_NO_BOUNDS,
     "HOST:PORT", "Address of the OTLP/HTTP receiver (POST /v1/traces; port 0 picks a free one).", NULL,
     ex_check_hostport, NULL},
    {"otlp-grpc-listen", EX_OPT_STRING, offsetof(store_cfg, otlp_grpc_listen), "127.0.0.1:4317", EX_NO_BOUNDS,
     "HOST:PORT", "Address of the OTLP/gRPC receiver (cleartext HTTP/2).", NULL, ex_check_hostport, NULL},
    {"http-listen", EX_OPT_STRING, offsetof(store_cfg, http_listen), "127.0.0.1:3200", EX_NO_BOUNDS, "HOST:PORT",
     "Address of the Tempo-style query API and the web UI.", NULL, ex_check_hostport, NULL},
    {"data-dir", EX_OPT_STRING, offsetof(store_cfg, data_dir), "./extrace-data", EX_NO_BOUNDS, "DIR",
     "Directory of the database (traces.db, SQLite in WAL mode); created when missing.", NULL, NULL, NULL},
    {"retention", EX_OPT_DURATION, offsetof(store_cfg, retention_ns), "24h", 1e9, 3.2e18, "DURATION",
     "Delete traces that ended longer ago than this (by the traces' own timestamps).", NULL, NULL, NULL},
    {"retention-check-interval", EX_OPT_DURATION, offsetof(store_cfg, retention_check_ns), "1m", 1e7, 8.64e13,
     "DURATION", "Time between two retention passes.", NULL, NULL, NULL},
    {"max-request-bytes", EX_OPT_INT, offsetof(store_cfg, max_request_bytes), "67108864", 1024, 1073741824, "N",
     "Largest OTLP request accepted, before and after gzip decompression: bigger ones get HTTP 413 or gRPC "
     "RESOURCE_EXHAUSTED.",
     NULL, NULL, NULL},
    {"max-inflight-bytes", EX_OPT_INT, offsetof(store_cfg, max_inflight_bytes), "268435456", 1024, 1099511627776.0,
     "N",
     "Budget of all OTLP request bodies buffered at once (HTTP and gRPC together; at least --max-request-bytes): "
     "a body that does not fit gets HTTP 429 with Retry-After or gRPC RESOURCE_EXHAUSTED with RetryInfo, which "
     "OTLP exporters retry.",
     NULL, NULL, NULL},
    EX_CONN_OPTS(store_cfg, conns, "", "each listener (OTLP/HTTP, OTLP/gRPC, query)", "503 (gRPC: GOAWAY)",
                 "1000", "100", "10s", "60s", "60s"),
    {"query-max-bytes", EX_OPT_INT, offsetof(store_cfg, query_max_bytes), "536870912", 0, 1099511627776.0, "N",
     "Span bytes one search or tag scan may read; past it the query answers with what it found so far and the "
     "header X-Extrace-Limit (0: no limit).",
     NULL, NULL, NULL},
    {"query-timeout", EX_OPT_DURATION, offsetof(store_cfg, query_timeout_ns), "30s", 0, 8.64e13, "DURATION",
     "Time one search or tag scan may take; past it the query answers with what it found so far and the header "
     "X-Extrace-Limit (0: no limit).",
     NULL, NULL, NULL},
    {"live", EX_OPT_STRING, offsetof(store_cfg, live), NULL, EX_NO_BOUNDS, "URL[,URL...]",
     "Admin base URLs of the workers whose workflows in flight the UI shows (each worker's --admin-listen, e.g. "
     "http://127.0.0.1:9464): the store polls their GET /api/workflows and serves the merged view on "
     "/api/live.",
     NULL, slv_check_urls, NULL},
    {"live-interval", EX_OPT_DURATION, offsetof(store_cfg, live_interval_ns), "1s", 1e8, 6e10, "DURATION",
     "Time between two polls of each --live worker.", NULL, NULL, NULL},
};

static const ex_cmd_spec spec = {
    "store",
    "Embedded trace store: OTLP in (gRPC + HTTP), SQLite, Tempo-style query API and web UI",
    "Receives OTLP traces over gRPC (--otlp-grpc-listen) and HTTP (--otlp-http-listen), stores them in\n"
    "SQLite under --data-dir (a span is acknowledged once committed; a re-sent span replaces its earlier\n"
    "copy), deletes traces older than --retention, and answers Grafana Tempo's query API plus a web UI on\n"
    "--http-listen. X-Scope-OrgID (header or gRPC metadata) selects the tenant; without it the tenant is\n"
    "\"single-tenant\". SIGINT or SIGTERM stops it cleanly.",
    NULL, 0, 0, opts, sizeof opts / sizeof opts[0],
};

/* The option table, for `extrace config-doc` (commands.h). */
const ex_cmd_spec *const store_cmd_spec = &spec;

/* Everything the running store holds. */
typedef struct store {
    uv_loop_t loop;
    sdl_lock *lock; /* of the data dir: one store per directory */
    sdb *db;
    sih_server *otlp_http;
    sig_server *otlp_grpc;
    sqt *query;            /* the query API and UI, on their own thread */
    sret *retention;
    ex_mem_budget budget;  /* request bodies in flight, both receivers */
    uv_signal_t sigint, sigterm;
} store;

static void log_stats(const store *s)
{
    const sdb_stats *d = sdb_get_stats(s->db);
    ex_info("store",
            "stored %" PRIu64 " spans in %" PRIu64 " requests (%" PRIu64 " spans rejected, %" PRIu64
            " requests failed); retention deleted %" PRIu64 " traces (%" PRIu64 " spans)",
            d->spans, d->requests, d->rejected, d->failed, d->traces_deleted, d->spans_deleted);
    if (s->otlp_http) {
        const sih_stats *h = sih_get_stats(s->otlp_http);
        ex_info("store",
                "OTLP/HTTP: %" PRIu64 " requests, %" PRIu64 " ok (%" PRIu64 " partial), %" PRIu64 " bad, %" PRIu64
                " too large, %" PRIu64 " unsupported type, %" PRIu64 " not found, %" PRIu64 " bad method, %" PRIu64
                " failed, %" PRIu64 " refused (memory budget)",
                h->requests, h->ok, h->partial, h->bad_request, h->too_large, h->unsupported, h->not_found,
                h->bad_method, h->failed, h->throttled);
    }
    if (s->otlp_grpc) {
        const sig_stats *g = sig_get_stats(s->otlp_grpc);
        ex_info("store",
                "OTLP/gRPC: %" PRIu64 " connections, %" PRIu64 " calls, %" PRIu64 " ok (%" PRIu64 " partial), %" PRIu64
                " invalid, %" PRIu64 " too large, %" PRIu64 " unimplemented, %" PRIu64 " failed, %" PRIu64
                " protocol errors, %" PRIu64 " refused (memory budget)",
                g->connections, g->calls, g->ok, g->partial, g->invalid, g->too_large - g->throttled, g->unimplemented,
                g->failed, g->protocol_errors, g->throttled);
    }
}

/* Close every listener and timer; the loop then runs out. */
static void shut(store *s)
{
    if (s->otlp_http || s->otlp_grpc) log_stats(s);
    if (s->otlp_http) ex_listener_log_stats(sih_listener(s->otlp_http), "store");
    if (s->otlp_grpc) ex_listener_log_stats(sig_listener(s->otlp_grpc), "store");
    sih_stop(s->otlp_http);
    s->otlp_http = NULL;
    sig_stop(s->otlp_grpc);
    s->otlp_grpc = NULL;
    sqt_stop(s->query);
    s->query = NULL;
    sret_stop(s->retention);
    s->retention = NULL;
    if (!uv_is_closing((uv_handle_t *)&s->sigint)) uv_close((uv_handle_t *)&s->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->sigterm)) uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    ex_info("store", "received %s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    shut(h->data);
}

/* Open the database and start every server; retention is --retention as
 * given. 0 or -1 (logged). */
static int start(store *s, const store_cfg *cfg, const char *retention)
{
    char err[768];
    if (!(s->lock = sdl_acquire(cfg->data_dir, err, sizeof err))) {
        ex_error("store", "%s", err);
        return -1;
    }
    if (!(s->db = sdb_open(cfg->data_dir, err, sizeof err))) {
        ex_error("store", "%s", err);
        return -1;
    }
    ex_info("store", "database %s", sdb_path(s->db));
    size_t max = (size_t)cfg->max_request_bytes;
    if (cfg->max_inflight_bytes < cfg->max_request_bytes) {
        ex_error("store",
                 "--max-inflight-bytes %" PRId64 " is less than --max-request-bytes %" PRId64
                 ": a request of the largest size allowed could never be accepted",
                 cfg->max_inflight_bytes, cfg->max_request_bytes);
        return -1;
    }
    ex_mbud_init(&s->budget, (size_t)cfg->max_inflight_bytes, ex_clock_real(), 10 * EX_NS_PER_SEC);
    ex_conn_limits lim = ex_conn_opts_limits(&cfg->conns);
    if (!(s->otlp_http = sih_start(&s->loop, cfg->otlp_http_listen, &lim, max, &s->budget, s->db, err, sizeof err))) {
        ex_error("store", "--otlp-http-listen: %s", err);
        return -1;
    }
    ex_info("store", "OTLP/HTTP listening on %s (port %d)", cfg->otlp_http_listen, sih_port(s->otlp_http));
    if (!(s->otlp_grpc = sig_start(&s->loop, cfg->otlp_grpc_listen, &lim, max, &s->budget, s->db, err, sizeof err))) {
        ex_error("store", "--otlp-grpc-listen: %s", err);
        return -1;
    }
    ex_info("store", "OTLP/gRPC listening on %s (port %d)", cfg->otlp_grpc_listen, sig_port(s->otlp_grpc));
    sq_limits qlim = {(uint64_t)cfg->query_max_bytes, cfg->query_timeout_ns};
    sqt_live live = {cfg->live, cfg->live_interval_ns};
    if (!(s->query = sqt_start(s->db, cfg->http_listen, &lim, &qlim, &live, err, sizeof err))) {
        ex_error("store", "--http-listen: %s", err);
        return -1;
    }
    if (cfg->live && *cfg->live)
        ex_info("store", "live: polling the workers %s every %s", cfg->live,
                ex_duration_format(cfg->live_interval_ns, (char[EX_DURATION_STR_MAX]){0}));
    char host[256];
    int port = sqt_port(s->query), ignored;
    if (ex_hostport_split(cfg->http_listen, host, sizeof host, &ignored) != 0) snprintf(host, sizeof host, "?");
    int v6 = strchr(host, ':') != NULL;
    ex_info("store", "query API and UI listening on %s (port %d): http://%s%s%s:%d/", cfg->http_listen, port,
            v6 ? "[" : "", strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, v6 ? "]" : "", port);
    sret_cfg rc = {cfg->retention_ns, cfg->retention_check_ns, 1000};
    if (!(s->retention = sret_start(&s->loop, s->db, ex_clock_real(), &rc))) {
        ex_error("store", "out of memory");
        return -1;
    }
    ex_info("store", "retention %s", retention);
    return 0;
}

static int run(const store_cfg *cfg, const char *retention)
{
    store s = {0};
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&s.loop) != 0) {
        ex_error("store", "cannot create the event loop");
        return 1;
    }
    uv_signal_init(&s.loop, &s.sigint);
    uv_signal_init(&s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, signal_cb, SIGINT);
    uv_signal_start(&s.sigterm, signal_cb, SIGTERM);
    int rc = start(&s, cfg, retention) == 0 ? 0 : 1;
    if (rc != 0) shut(&s);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    sdb_close(s.db);
    sdl_release(s.lock);
    if (uv_loop_close(&s.loop) != 0) ex_warn("store", "event loop closed with handles still open");
    if (rc == 0) ex_info("store", "stopped");
    return rc;
}

int store_main(int argc, char **argv, char *const *envp)
{
    store_cfg cfg = {0};
    ex_cfg_result res;
    int rc = ex_cfg_parse(&spec, &cfg, argc, argv, envp, stdout, &res);
    if (rc == EX_CFG_HELP || rc == EX_CFG_ERROR) {
        if (rc == EX_CFG_ERROR) fprintf(stderr, "extrace store: %s\n", res.error);
        ex_cfg_result_free(&res);
        ex_cfg_free(&spec, &cfg);
        return rc == EX_CFG_HELP ? 0 : 2;
    }
    rc = run(&cfg, ex_cfg_given(&spec, &res, "retention"));
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    return rc;
}
