/* poller_int.h — the poller's pool and slots, shared by the seed's
 * one-request poll (poller.c) and a profile's request sequence
 * (poll_profile.c). */
#ifndef EXTRACE_WORKER_POLLER_INT_H
#define EXTRACE_WORKER_POLLER_INT_H
#include <curl/curl.h>
#include <uthash.h>

#include "model/snapshot.h"
#include "net/curl_uv.h"
#include "net/h1_uv.h"
#include "source/httpmeta.h"
#include "source/jq_run.h"
#include "source/template.h"
#include "worker/poller.h"
#include "worker/snapshot.h"

#define WK_KEY_MAX (4 * MDL_KEY_MAX) /* bytes of a workflow key */

/* The conditional-request state of one workflow: per URL fetched at its
 * last poll, the validators and the body they validate. */
typedef struct cond_url {
    char *url;  /* owned */
    char *link; /* owned: the Link header of the kept answer (paging on a 304), or NULL */
    sr_cond c;
} cond_url;

typedef struct cond_entry {
    UT_hash_handle hh; /* in wk_poller.conds, keyed by key */
    cond_url *urls;    /* owned array */
    size_t n;
    char key[];
} cond_entry;

/* One easy handle of the pool and what its current poll needs. */
typedef struct poll_slot {
    CURL *easy;                  /* owned; NULL when the poller uses its HTTP/1.1 client */
    ex_h1_call call;             /* … that client's call */
    char *h1_req;                /* owned: its request bytes */
    size_t h1_req_cap;
    struct wk_poller *p;         /* the pool it belongs to */
    void *tag;                   /* caller's, for the callback */
    int64_t started_ns;          /* monotonic start of the poll */
    int64_t sent_ns;             /* wall clock: the poll's start, then just before the request is sent */
    char *body;                  /* owned response buffer */
    size_t len, cap;
    int too_large;               /* the body passed max_body */
    uint64_t doc_hash;           /* the seed's: the hash of the answer applied last (0: none) */
    char id[WK_KEY_MAX + 1];     /* the workflow polled */
    char err[CURL_ERROR_SIZE];   /* curl's error text */
    struct poll_slot *next_free; /* free list */
    /* A profile's poll: its requests in order, pages followed. */
    sr_key key;                  /* the key's parts */
    sr_jq_input *in;             /* the jq input being gathered */
    size_t req;                  /* the request being fetched */
    int page;                    /* its page (0-based) */
    int fresh;                   /* some answer of this poll was a 200 (not all 304) */
    int http_304;                /* the current answer is a 304 */
    int64_t first_sent_ns;       /* wall clock: the first request of the poll left */
    char *url;                   /* owned: the URL being fetched */
    struct curl_slist *req_headers; /* owned: the current request's headers */
    cond_entry *cond;            /* the workflow's conditional state, or NULL */
    cond_url *cond_now;          /* the entry of the current URL, or NULL */
} poll_slot;

struct wk_poller {
    ex_curl_loop *curl;          /* owned; NULL when h1 serves every poll */
    ex_h1_pool *h1;              /* owned: the HTTP/1.1 client for a plain http:// API, or NULL */
    char *req_head, *req_tail;   /* owned: its request bytes before and after the workflow id */
    size_t head_len, tail_len;
    wk_poller_config cfg;        /* api_url points at base below */
    char *base;                  /* owned: api_url without trailing '/' */
    char *url;                   /* owned scratch: base + "/workflows/" + id */
    size_t base_len;
    struct curl_slist *headers;  /* owned: Accept, User-Agent */
    wk_poll_cb cb;               /* the worker's result handler */
    void *arg;                   /* its argument */
    poll_slot **slots;           /* owned array of max_concurrent, made lazily */
    int nslots;                  /* slots made */
    poll_slot *free_slots;       /* idle slots */
    int active;                  /* polls in flight */
    int closing;                 /* destroy called */
    wm_snapshot snap;            /* the answer being classified (reused) */
    mdl_snapshot tree;           /* … as a canonical tree (reused) */
    cond_entry *conds;           /* profile polls: conditional state per workflow */
    size_t cond_bytes;           /* bodies kept there */
    sr_ratelimit rl;             /* what the API's rate-limit headers said last */
};

/* poller.c: start s's transfer (URL and headers set) on the loop. 0 or -1. */
int wk_poller_transfer(poll_slot *s);
/* poller.c: the slot's poll is over: report r (times and pause filled here) and free the slot. */
void wk_poller_finish(poll_slot *s, wk_poll_result *r);
/* poll_profile.c */
int wk_pp_start(poll_slot *s);           /* begin a profile poll; 0 or -1 */
void wk_pp_done(poll_slot *s, CURLcode code); /* a transfer of it ended */
void wk_pp_slot_reset(poll_slot *s);     /* free what a profile poll held */
void wk_pp_forget(struct wk_poller *p, const char *key);
void wk_pp_clear(struct wk_poller *p);

#endif
