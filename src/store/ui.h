/* ui.h — the store's web UI, served from assets embedded in the binary.
 *
 * cmake/embed.cmake turns every file under web/ into a byte array and one
 * row of `sui_assets` (generated into the build tree). The UI is a
 * single page: index.html answers `/`, `/search` and `/trace/<id>` (the
 * client routes), and the files it loads are served under `/ui/<path>`,
 * <path> being the file's path under web/. Every answer carries an ETag
 * (a hash of the content taken at build time) and `Cache-Control:
 * no-cache`, so browsers revalidate and get 304 until the binary changes. */
#ifndef EXTRACE_STORE_UI_H
#define EXTRACE_STORE_UI_H
#include <stddef.h>

#include "net/httpd_uv.h"

/* One embedded file. All strings and data are static. */
typedef struct sui_asset {
    const char *path;          /* path under web/, e.g. "js/app.js" */
    const char *content_type;  /* from the extension, e.g. "text/javascript; charset=utf-8" */
    const char *etag;          /* quoted strong validator, e.g. "\"3f2a…\"" */
    const unsigned char *data; /* the bytes, followed by one NUL not counted in len */
    size_t len;                /* size in bytes */
} sui_asset;

/* The generated table (build tree web-gen/ui_assets.c), sorted by path. */
extern const sui_asset sui_assets[];
extern const size_t sui_nassets;

/* The asset at `path` (relative to web/), or NULL when none is embedded. */
const sui_asset *sui_find(const char *path);

/* Answer a request for a UI path. `method` and `path` (no query string)
 * are the request's; `if_none_match` is its If-None-Match header or NULL.
 * Returns 1 when the path belongs to the UI and `resp` was filled (200,
 * 304, 404 for an unknown /ui/ file, 405 for a method other than GET or
 * HEAD, 500 without memory), 0 when the path is not the UI's (resp left
 * untouched: the caller routes it elsewhere). */
int sui_serve(const char *method, const char *path, const char *if_none_match, ex_http_resp *resp);

/* sui_serve for an httpd request (reads If-None-Match from its connection;
 * a request without a connection, as in tests, has no headers). */
int sui_route(const ex_http_req *req, ex_http_resp *resp);

#endif
