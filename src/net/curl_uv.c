#include "net/curl_uv.h"

#include <string.h>

#include "core/log.h"
#include "core/mem.h"

/* What we keep per transfer, behind CURLOPT_PRIVATE. */
typedef struct transfer {
    ex_curl_done_cb cb;
    void *arg;
    CURL *easy;                   /* not owned */
    struct transfer *prev, *next; /* the loop's list of running transfers */
} transfer;

/* One per socket curl asks us to watch. */
typedef struct sock_watch {
    uv_poll_t poll;
    curl_socket_t fd;
    struct ex_curl_loop *cl;
    int closing;                    /* uv_close called */
    struct sock_watch *prev, *next; /* the loop's list of watches */
} sock_watch;

struct ex_curl_loop {
    uv_loop_t *loop;    /* not owned */
    CURLM *multi;       /* owned; NULL once destroy has cleaned it up */
    uv_timer_t timer;   /* curl's single timeout */
    int active;         /* transfers added and not yet finished */
    int closing;        /* 1: destroy called; 2: timer closed too */
    transfer *running;  /* list of running transfers */
    sock_watch *watches; /* list of open socket watches */
};

#define LIST_ADD(head, item) \
    do { (item)->prev = NULL; (item)->next = (head); if (head) (head)->prev = (item); (head) = (item); } while (0)
#define LIST_DEL(head, item) \
    do { if ((item)->prev) (item)->prev->next = (item)->next; else (head) = (item)->next; \
         if ((item)->next) (item)->next->prev = (item)->prev; } while (0)

static void maybe_free(ex_curl_loop *cl)
{
    if (cl->closing == 2 && !cl->watches) ex_free(cl);
}

/* Hand every finished transfer to its callback. */
static void drain_done(ex_curl_loop *cl)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cl->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(cl->multi, easy);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        cl->active--;
        if (t) {
            LIST_DEL(cl->running, t);
            t->cb(easy, result, t->arg);
            ex_free(t);
        }
    }
}

static void poll_close_cb(uv_handle_t *h)
{
    sock_watch *w = h->data;
    ex_curl_loop *cl = w->cl;
    LIST_DEL(cl->watches, w);
    ex_free(w);
    maybe_free(cl);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    sock_watch *w = p->data;
    ex_curl_loop *cl = w->cl;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(cl->multi, w->fd, flags, &running);
    drain_done(cl);
}

static void watch_close(sock_watch *w)
{
    if (w->closing) return;
    w->closing = 1;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, poll_close_cb);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    ex_curl_loop *cl = userp;
    sock_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            watch_close(w);
            if (cl->multi) curl_multi_assign(cl->multi, fd, NULL);
        }
        return 0;
    }
    if (cl->closing) return 0;
    if (!w) {
        w = ex_calloc(1, sizeof *w);
        if (!w) return -1;
        w->fd = fd;
        w->cl = cl;
        if (uv_poll_init_socket(cl->loop, &w->poll, fd) != 0) {
            ex_free(w);
            return -1;
        }
        w->poll.data = w;
        LIST_ADD(cl->watches, w);
        curl_multi_assign(cl->multi, fd, w);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    uv_poll_start(&w->poll, events, poll_cb);
    return 0;
}

static void timer_cb(uv_timer_t *t)
{
    ex_curl_loop *cl = t->data;
    int running;
    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(cl);
}

static int timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    ex_curl_loop *cl = userp;
    if (timeout_ms < 0) uv_timer_stop(&cl->timer);
    else uv_timer_start(&cl->timer, timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

ex_curl_loop *ex_curl_loop_new(uv_loop_t *loop)
{
    ex_curl_loop *cl = ex_calloc(1, sizeof *cl);
    if (!cl) return NULL;
    cl->loop = loop;
    cl->multi = curl_multi_init();
    if (!cl->multi) {
        ex_free(cl);
        return NULL;
    }
    uv_timer_init(loop, &cl->timer);
    cl->timer.data = cl;
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    return cl;
}

CURLM *ex_curl_loop_multi(ex_curl_loop *cl) { return cl->multi; }

size_t ex_curl_append(char **buf, size_t *len, size_t *cap, size_t max, int *too_big, const char *data,
                      size_t n)
{
    if (*len + n + 1 > max) {
        *too_big = 1;
        return 0;
    }
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 16384;
        while (c < *len + n + 1) c *= 2;
        char *b = ex_realloc(*buf, c);
        if (!b) return 0;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return n;
}

int ex_curl_loop_active(const ex_curl_loop *cl) { return cl->active; }

int ex_curl_loop_add(ex_curl_loop *cl, CURL *easy, ex_curl_done_cb cb, void *arg)
{
    if (cl->closing) return -1;
    transfer *t = ex_malloc(sizeof *t);
    if (!t) return -1;
    t->cb = cb;
    t->arg = arg;
    t->easy = easy;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    CURLMcode rc = curl_multi_add_handle(cl->multi, easy);
    if (rc != CURLM_OK) {
        ex_warn("http", "could not start a transfer: %s", curl_multi_strerror(rc));
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        ex_free(t);
        return -1;
    }
    LIST_ADD(cl->running, t);
    cl->active++;
    return 0;
}

static void timer_close_cb(uv_handle_t *h)
{
    ex_curl_loop *cl = h->data;
    cl->closing = 2;
    maybe_free(cl);
}

void ex_curl_loop_destroy(ex_curl_loop *cl)
{
    if (!cl || cl->closing) return;
    cl->closing = 1;
    /* Abort what is still running; callbacks see their easy handles once more. */
    while (cl->running) {
        transfer *t = cl->running;
        LIST_DEL(cl->running, t);
        curl_multi_remove_handle(cl->multi, t->easy);
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
        cl->active--;
        t->cb(t->easy, CURLE_ABORTED_BY_CALLBACK, t->arg);
        ex_free(t);
    }
    /* Closing the connection cache tells us to stop watching its sockets;
     * whatever watch is left after that is closed here. */
    curl_multi_cleanup(cl->multi);
    cl->multi = NULL;
    for (sock_watch *w = cl->watches; w; w = w->next) watch_close(w);
    uv_timer_stop(&cl->timer);
    uv_close((uv_handle_t *)&cl->timer, timer_close_cb);
}
