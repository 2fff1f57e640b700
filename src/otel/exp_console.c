/* exp_console.c — console exporter: each span as a text block on stdout
 * (format: console.h), like the .NET console exporter of the seed.
 *
 * Writes go through uv_fs_write on fd 1, so a slow terminal or pipe
 * never blocks the loop; libuv writes the whole buffer. A failed write
 * (closed pipe, full disk) is final: the batch is dropped and counted. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "otel/console.h"
#include "otel/exporter.h"

typedef struct console_exporter {
    uv_loop_t *loop;               /* not owned */
    const exo_resource *resource;  /* the pipeline's */
    const char *scope_name;        /* the pipeline's */
    int writes;                    /* uv_fs_write requests in flight */
    int closing;                   /* shutdown called */
    exo_exporter_closed_cb closed; /* to call once writes == 0 after shutdown */
    void *closed_arg;
} console_exporter;

typedef struct console_write {
    uv_fs_t req;                   /* first: the request is the write */
    console_exporter *ex;
    exo_export_done_cb done;
    void *arg;
} console_write;

static int console_init(const exo_exporter_env *env, void **state, char *err, size_t errlen)
{
    console_exporter *ex = ex_calloc(1, sizeof *ex);
    *state = ex;
    if (!ex) {
        snprintf(err, errlen, "out of memory creating the console exporter");
        return -1;
    }
    ex->loop = env->loop;
    ex->resource = env->resource;
    ex->scope_name = env->scope_name;
    return 0;
}

static int console_encode(void *state, exo_span *const *spans, size_t n, exo_payload *out, char *err,
                          size_t errlen)
{
    console_exporter *ex = state;
    char *text = NULL, *block;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (exo_console_format(ex->resource, ex->scope_name, spans[i], &block) != 0) goto oom;
        size_t blen = strlen(block);
        char *grown = ex_realloc(text, len + blen + 1);
        if (!grown) {
            ex_free(block);
            goto oom;
        }
        text = grown;
        memcpy(text + len, block, blen + 1);
        len += blen;
        ex_free(block);
    }
    out->data = (uint8_t *)text;
    out->len = len;
    out->nspans = n;
    return 0;
oom:
    ex_free(text);
    snprintf(err, errlen, "out of memory formatting %zu spans for the console", n);
    return -1;
}

static void maybe_closed(console_exporter *ex)
{
    if (!ex->closing || ex->writes > 0) return;
    exo_exporter_closed_cb closed = ex->closed;
    void *arg = ex->closed_arg;
    ex_free(ex);
    closed(arg);
}

static void write_cb(uv_fs_t *req)
{
    console_write *w = (console_write *)req;
    console_exporter *ex = w->ex;
    exo_export_result res = {.verdict = EXO_RETRY_OK, .retry_after_ns = -1};
    if (req->result < 0) {
        res.verdict = EXO_RETRY_FINAL;
        snprintf(res.reason, sizeof res.reason, "writing to stdout failed: %s", uv_strerror((int)req->result));
    }
    uv_fs_req_cleanup(req);
    exo_export_done_cb done = w->done;
    void *arg = w->arg;
    ex_free(w);
    ex->writes--;
    done(arg, &res);
    maybe_closed(ex);
}

static int console_send(void *state, const exo_payload *p, int64_t timeout_ns, exo_export_done_cb done, void *arg,
                        char *err, size_t errlen)
{
    console_exporter *ex = state;
    console_write *w = ex_calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory writing %zu spans to stdout", p->nspans);
        return -1;
    }
    w->ex = ex;
    w->done = done;
    w->arg = arg;
    uv_buf_t buf = uv_buf_init((char *)p->data, (unsigned)p->len);
    int rc = uv_fs_write(ex->loop, &w->req, STDOUT_FILENO, &buf, 1, -1, write_cb);
    if (rc < 0) {
        snprintf(err, errlen, "cannot write to stdout: %s", uv_strerror(rc));
        ex_free(w);
        return -1;
    }
    ex->writes++;
    return 0;
}

/* A write that has started cannot be taken back: shutdown waits for it. */
static void console_shutdown(void *state, exo_exporter_closed_cb closed, void *arg)
{
    console_exporter *ex = state;
    ex->closing = 1;
    ex->closed = closed;
    ex->closed_arg = arg;
    maybe_closed(ex);
}

const exo_exporter exo_exporter_console = {
    .name = "console",
    .kind = EXO_EXPORTER_CONSOLE,
    .protocols = 0,
    .init = console_init,
    .encode = console_encode,
    .send = console_send,
    .shutdown = console_shutdown,
};
