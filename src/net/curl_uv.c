#include "net/curl_uv.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

/* What we keep per transfer, behind CURLOPT_PRIVATE. */
typedef struct transfer {
    ex_curl_done_cb cb;
    void *arg;
    CURL *easy;                   /* not owned */
    struct transfer *prev, *next; /* the loop's list of running transfers */
} transfer;

/* One per socket curl opened, from its first watch until curl closes it:
 * a kept-alive connection keeps its uv_poll between transfers. */
typedef struct sock_watch {
    uv_poll_t poll;
    curl_socket_t fd;
    struct ex_curl_loop *cl;
    int want;                       /* UV_* events curl asked for; 0 after CURL_POLL_REMOVE */
    int events;                     /* UV_* events the uv_poll watches now */
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
    sock_watch *watches; /* list of watches, closing ones included */
    sock_watch **by_fd;  /* owned: the open watch of each socket, by fd */
    size_t nfd;          /* entries of by_fd */
};

#define LIST_ADD(head, item) \
    do { (item)->prev = NULL; (item)->next = (head); if (head) (head)->prev = (item); (head) = (item); } while (0)
#define LIST_DEL(head, item) \
    do { if ((item)->prev) (item)->prev->next = (item)->next; else (head) = (item)->next; \
         if ((item)->next) (item)->next->prev = (item)->prev; } while (0)

static void maybe_free(ex_curl_loop *cl)
{
    if (cl->closing == 2 && !cl->watches) {
        ex_free(cl->by_fd);
        ex_free(cl);
    }
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

/* The socket's open watch, or NULL. */
static sock_watch *watch_of(const ex_curl_loop *cl, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < cl->nfd ? cl->by_fd[fd] : NULL;
}

static void watch_close(sock_watch *w)
{
    if (w->closing) return;
    w->closing = 1;
    ex_curl_loop *cl = w->cl;
    if (watch_of(cl, w->fd) == w) cl->by_fd[w->fd] = NULL;
    uv_close((uv_handle_t *)&w->poll, poll_close_cb); /* stops the poll while the fd is still open */
}

static void watch_set(sock_watch *w, int events);

static void poll_cb(uv_poll_t *p, int status, int events)
{
    sock_watch *w = p->data;
    ex_curl_loop *cl = w->cl;
    if (!w->want) {
        /* An idle kept-alive connection became readable (the server closed
         * it, most likely): stop watching; curl finds out when it next
         * checks the connection and closes it then. */
        watch_set(w, 0);
        return;
    }
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(cl->multi, w->fd, flags, &running);
    drain_done(cl);
}

/* Watch exactly `events` (0: none); no system call when nothing changes. */
static void watch_set(sock_watch *w, int events)
{
    if (w->events == events) return;
    w->events = events;
    if (events) uv_poll_start(&w->poll, events, poll_cb);
    else uv_poll_stop(&w->poll);
}

static sock_watch *watch_new(ex_curl_loop *cl, curl_socket_t fd)
{
    if ((size_t)fd >= cl->nfd) {
        size_t n = cl->nfd ? cl->nfd : 64;
        while (n <= (size_t)fd) n *= 2;
        sock_watch **b = ex_realloc(cl->by_fd, n * sizeof *b);
        if (!b) return NULL;
        memset(b + cl->nfd, 0, (n - cl->nfd) * sizeof *b);
        cl->by_fd = b;
        cl->nfd = n;
    }
    sock_watch *w = ex_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fd = fd;
    w->cl = cl;
    if (uv_poll_init_socket(cl->loop, &w->poll, fd) != 0) {
        ex_free(w);
        return NULL;
    }
    w->poll.data = w;
    LIST_ADD(cl->watches, w);
    cl->by_fd[fd] = w;
    return w;
}

/* curl's wishes for one socket. A removal only records that curl no longer
 * wants events: a kept-alive connection stays watched for reading (an idle
 * socket is never readable unless its peer closed it), so the next
 * transfer on it costs no epoll_ctl, no uv_poll_init and no uv_close. The
 * watch goes when curl closes the socket (close_socket). */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    ex_curl_loop *cl = userp;
    sock_watch *w = socketp;
    if (!w) w = watch_of(cl, fd);
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            w->want = 0;
            if (w->events & UV_WRITABLE) watch_set(w, UV_READABLE);
            uv_unref((uv_handle_t *)&w->poll); /* an idle connection does not keep the loop alive */
        }
        return 0;
    }
    if (cl->closing) return 0;
    if (!w && !(w = watch_new(cl, fd))) return -1;
    if (!socketp) curl_multi_assign(cl->multi, fd, w);
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    w->want = events;
    uv_ref((uv_handle_t *)&w->poll);
    watch_set(w, events);
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: a new socket. A watch still filed under its
 * number belongs to a socket closed behind our back: drop it. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    ex_curl_loop *cl = clientp;
    (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    sock_watch *w = fd == CURL_SOCKET_BAD ? NULL : watch_of(cl, fd);
    if (w) watch_close(w);
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: curl is done with a socket (a connection
 * dropped or evicted from its cache): close its watch, then the socket. */
static int close_socket(void *clientp, curl_socket_t fd)
{
    sock_watch *w = watch_of(clientp, fd);
    if (w) watch_close(w);
    return close(fd);
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
    (void)multi;
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
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, cl);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, cl);
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
