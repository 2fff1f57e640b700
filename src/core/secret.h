/* secret.h — the one place that hides credentials in text meant for
 * people: log lines, configuration errors, /metrics label values, --help
 * defaults.
 *
 * What is replaced by "***" (the rest is kept, so a message still names
 * the value it is about):
 *   - the password of a URL's userinfo: "redis://alice:PASS@host" shows
 *     as "alice:***@host"; a userinfo without ':' (a token) or with
 *     characters other than a plain user name is replaced whole
 *     ("***@host");
 *   - the value after a credential-like key and '=' or ':' — a key (ASCII
 *     letters, digits, '_', '-', '.') containing password, passwd, pwd,
 *     secret, token, apikey, api-key, api_key, authorization, credential,
 *     cookie or signature, case-insensitively: the seed's
 *     "host,password=***", "Authorization=***" in OTEL_EXPORTER_OTLP_HEADERS,
 *     "x-api-key: ***", "\"token\":\"***\"". When the value starts with an
 *     auth scheme (Bearer, Basic, Digest, Token, Negotiate, ApiKey) and a
 *     space, the scheme stays: "Authorization=Bearer ***";
 *   - the credentials after "Bearer " or "Basic " anywhere.
 * A value ends at ',', ';', '&', white space, a bracket or a quote (a
 * quoted value at its closing quote). A URL's userinfo is found between
 * "://" and the last '@' before white space, a quote or '<', '>', '`'
 * (so "http://host/a@b" is masked too: the rule errs on the side of
 * hiding). Masking is idempotent and pure. */
#ifndef EXTRACE_CORE_SECRET_H
#define EXTRACE_CORE_SECRET_H
#include <stdarg.h>
#include <stddef.h>

#define EX_SECRET_MASK "***"

/* Copy `in` to `out` (outlen ≥ 1 bytes, always NUL-terminated, cut at
 * outlen - 1 bytes) with every credential replaced by "***". in and out
 * must not overlap. Returns how many credentials were replaced (also
 * those past the cut). */
size_t ex_secret_mask(const char *in, char *out, size_t outlen);

/* The same in place: s holds a NUL-terminated string in a buffer of cap
 * bytes (the masked text may be longer than the original by a few bytes
 * per credential; it is cut to fit). Buffers over 4 KiB need a heap
 * copy: without memory for it the text is replaced by "***" whole.
 * Returns how many were replaced. */
size_t ex_secret_mask_inplace(char *s, size_t cap);

/* vsnprintf into out (outlen ≥ 1 bytes), masked: the whole text is
 * formatted first (on the heap when longer than out) and cut after
 * masking, so a cut never splits a URL before the '@' that marks its
 * password. Without memory for a long text, everything from the last
 * "://" on is dropped instead. Returns how many credentials were replaced. */
size_t ex_secret_vformat(char *out, size_t outlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
size_t ex_secret_format(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
