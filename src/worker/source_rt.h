/* source_rt.h — the source a worker watches, ready to poll.
 *
 * `--source NAME|FILE` names the seed (the simulator's API, polled by the
 * native fast path), a built-in profile or a profile file. Opening it
 * loads and checks the profile, compiles its jq program, reads its
 * credentials and prepares the headers every request sends; the poller
 * (poll_profile.c) then runs its requests and the monitor sees only
 * canonical snapshots. */
#ifndef EXTRACE_WORKER_SOURCE_RT_H
#define EXTRACE_WORKER_SOURCE_RT_H
#include <curl/curl.h>
#include <stddef.h>

#include "source/auth.h"
#include "source/jq_run.h"
#include "source/profile.h"

typedef struct wk_source {
    const char *name;           /* "seed", or the profile's name */
    sr_profile *profile;        /* owned; NULL for the seed */
    sr_jq *jq;                  /* owned: the compiled map */
    sr_auth auth;               /* owned: the credential header, if any */
    struct curl_slist *headers; /* owned: Accept, User-Agent, the profile's headers, the credential */
    char *base_url;             /* owned: --api-url, else the profile's base_url */
    unsigned max_nodes;         /* monitor limits */
    unsigned max_events;
    const char *key_attr;       /* the root attribute holding the key */
} wk_source;

/* Open `spec` ("seed", a built-in profile's name, or a profile file) with
 * `api_url` (may be NULL for a profile with a base_url). 0, or -1 with a
 * message naming the profile, line and value in err. */
int wk_source_open(const char *spec, const char *api_url, wk_source *out, char *err, size_t errlen);
/* 1 for the seed (native path). */
int wk_source_is_seed(const wk_source *s);
void wk_source_close(wk_source *s);

#endif
