#include "store/ui.h"

#include <microhttpd.h>
#include <string.h>

#include "core/mem.h"

#define UI_PREFIX "/ui/"
#define INDEX "index.html"

/* The page may load nothing from elsewhere: scripts, styles, fetches and
 * images come from this server only, and no inline script runs. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const sui_asset *sui_find(const char *path)
{
    for (size_t i = 0; i < sui_nassets; i++)
        if (strcmp(sui_assets[i].path, path) == 0) return &sui_assets[i];
    return NULL;
}

/* Client-side routes: "/", "/search", "/trace/<id>" (one non-empty segment). */
static int is_page(const char *path)
{
    if (strcmp(path, "/") == 0 || strcmp(path, "/search") == 0 || strcmp(path, "/search/") == 0) return 1;
    const char *id = strncmp(path, "/trace/", 7) == 0 ? path + 7 : NULL;
    return id && *id && !strchr(id, '/');
}

/* If-None-Match (RFC 9110 §13.1.2): "*" or a comma-separated list of
 * entity tags, compared weakly (a W/ prefix is ignored). */
static int etag_matches(const char *header, const char *etag)
{
    if (!header) return 0;
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return 1;
        if (strncmp(p, "W/", 2) == 0) p += 2;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n == elen && strncmp(p, etag, n) == 0) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

/* Fill resp with the asset (or 304 when the client's copy is current). */
static void answer(const sui_asset *a, int page, const char *if_none_match, ex_http_resp *resp)
{
    int rc;
    if (etag_matches(if_none_match, a->etag)) {
        resp->status = 304;
        resp->content_type = a->content_type;
        rc = 0;
    } else {
        rc = ex_http_resp_set(resp, 200, a->content_type, (const char *)a->data, a->len);
    }
    if (!rc) rc = ex_http_resp_header(resp, "ETag", a->etag);
    if (!rc) rc = ex_http_resp_header(resp, "Cache-Control", "no-cache");
    if (!rc) rc = ex_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    if (!rc && page) rc = ex_http_resp_header(resp, "Content-Security-Policy", csp);
    if (!rc && page) rc = ex_http_resp_header(resp, "Referrer-Policy", "no-referrer");
    if (rc) {
        /* Out of memory: drop what was built; a fixed answer needs no allocation. */
        for (int i = 0; i < resp->nheaders; i++) ex_free(resp->header_values[i]);
        ex_free(resp->body);
        *resp = (ex_http_resp){.status = 500};
    }
}

int sui_serve(const char *method, const char *path, const char *if_none_match, ex_http_resp *resp)
{
    int page = is_page(path);
    int asset = !page && strncmp(path, UI_PREFIX, strlen(UI_PREFIX)) == 0;
    if (!page && !asset) return 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        if (ex_http_resp_printf(resp, 405, NULL, "%s %s: the UI answers GET and HEAD only\n", method, path) == 0)
            ex_http_resp_header(resp, "Allow", "GET, HEAD");
        else
            resp->status = 500;
        return 1;
    }
    const sui_asset *a = sui_find(page ? INDEX : path + strlen(UI_PREFIX));
    if (!a) {
        if (ex_http_resp_printf(resp, 404, NULL, "no UI file %s in this build\n", path) != 0) resp->status = 500;
        return 1;
    }
    answer(a, page, if_none_match, resp);
    return 1;
}

int sui_route(const ex_http_req *req, ex_http_resp *resp)
{
    const char *inm = req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "If-None-Match") : NULL;
    return sui_serve(req->method, req->path, inm, resp);
}
