/* http.h — a small libcurl client for integration tests: one request at a
 * time on a handle the caller keeps (so a keep-alive test sees its
 * connection reused), answering the status, the body and the few response
 * headers tests look at. The caller sets up libcurl (curl_global_init). */
#ifndef EXTRACE_TEST_HTTP_H
#define EXTRACE_TEST_HTTP_H
#include <curl/curl.h>
#include <stddef.h>

/* One response. */
typedef struct th_resp {
    long status;            /* HTTP status; 0 when no answer came */
    char *body;             /* owned, malloc'd, NUL-terminated; freed by th_resp_free */
    size_t len;             /* bytes in body, the NUL not counted */
    char content_type[128]; /* Content-Type, "" when absent */
    char location[256];     /* Location, "" when absent */
    char allow[64];         /* Allow, "" when absent */
    char retry_after[32];   /* Retry-After, "" when absent */
    char limit[160];        /* X-Extrace-Limit (the store's query limits), "" when absent */
    char etag[128];         /* ETag, "" when absent */
    char link[2048];        /* Link, "" when absent */
    char rate_remaining[32]; /* X-RateLimit-Remaining, "" when absent */
    char engine[16];        /* X-Extrace-Engine (which engine answered a metrics query), "" when absent */
} th_resp;

/* What a request sends besides its method and URL; a NULL th_req sends
 * none of it and uses the defaults. */
typedef struct th_req {
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const void *body;           /* request body (the caller keeps it), or NULL for none */
    size_t body_len;            /* bytes of body */
    long timeout_ms;            /* for the whole request; 0 means 5000 */
    int fresh_connection;       /* 1: a new connection, closed afterwards */
} th_req;

/* Zero *r and point c's body and header callbacks at it, for a handle the
 * caller drives itself (curl_multi). Setting r->len to 0 starts the body
 * over; the caller frees it with th_resp_free. */
void th_collect(CURL *c, th_resp *r);

/* Send one request with `method` to `url` on c. The handle is reset first,
 * so nothing of an earlier request carries over but its connection. *r is
 * filled in (status 0 unless the result is CURLE_OK); its body is at least
 * "" unless memory ran out, and is the caller's to free with th_resp_free
 * whatever the result. Returns libcurl's result. */
CURLcode th_request_rc(CURL *c, const char *method, const char *url, const th_req *req, th_resp *r);

/* As th_request_rc, but a request that gets no answer fails the running
 * test with a message naming the method, the URL and libcurl's reason. */
void th_request(CURL *c, const char *method, const char *url, const th_req *req, th_resp *r);

/* Free r's body; r can be used for another request afterwards. */
void th_resp_free(th_resp *r);

#endif
