/* curl_uv.h — libcurl's multi interface driven by a libuv loop.
 *
 * One ex_curl_loop wraps one CURLM handle: curl tells us which sockets to
 * watch and when to wake it (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION), we
 * watch them with uv_poll and a uv_timer, and each finished transfer is
 * handed to its completion callback. Everything runs on the loop's thread.
 *
 * A socket keeps its uv_poll from its first transfer until curl closes it,
 * so a transfer on a kept-alive connection costs no epoll_ctl.
 *
 * The easy handle's CURLOPT_PRIVATE and its open/close socket callbacks
 * (CURLOPT_OPENSOCKETFUNCTION, CURLOPT_CLOSESOCKETFUNCTION and their data)
 * belong to this module; don't set them. An easy handle once added to a
 * loop is used with that loop only. */
#ifndef EXTRACE_NET_CURL_UV_H
#define EXTRACE_NET_CURL_UV_H
#include <curl/curl.h>
#include <uv.h>

typedef struct ex_curl_loop ex_curl_loop;

/* Called once per transfer when it has finished (successfully or not),
 * after the easy handle was removed from the multi handle: the callback
 * owns `easy` again and may reuse, re-add or clean it up. */
typedef void (*ex_curl_done_cb)(CURL *easy, CURLcode result, void *arg);

/* Create on `loop`; NULL on failure. The caller keeps the loop. */
ex_curl_loop *ex_curl_loop_new(uv_loop_t *loop);
/* The multi handle, for curl_multi_setopt (connection limits, HTTP/2). */
CURLM *ex_curl_loop_multi(ex_curl_loop *cl);
/* The body of an answer, appended as curl hands it over
 * (CURLOPT_WRITEFUNCTION): *buf grows (doubling, from 16 KiB) and stays
 * NUL-terminated, holding at most max - 1 bytes. Returns n, or 0 — which
 * makes curl fail the transfer with CURLE_WRITE_ERROR — when the body would
 * exceed that (*too_big set) or memory ran out. */
size_t ex_curl_append(char **buf, size_t *len, size_t *cap, size_t max, int *too_big, const char *data,
                      size_t n);

/* Start a transfer. 0, or -1 if it could not be added (cb is not called). */
int ex_curl_loop_add(ex_curl_loop *cl, CURL *easy, ex_curl_done_cb cb, void *arg);
/* Transfers in progress. */
int ex_curl_loop_active(const ex_curl_loop *cl);
/* Abort every transfer (their callbacks run with CURLE_ABORTED_BY_CALLBACK),
 * close the uv handles and free the loop once they are closed. */
void ex_curl_loop_destroy(ex_curl_loop *cl);

#endif
