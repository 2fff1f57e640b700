#include "otel/retry.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "otel/otlp_proto.h"

void exo_backoff_default(exo_backoff *b)
{
    b->initial_ns = 1 * EX_NS_PER_SEC;
    b->max_ns = 30 * EX_NS_PER_SEC;
    b->multiplier = 2.0;
    b->jitter = 0.2;
}

int64_t exo_backoff_delay(const exo_backoff *b, unsigned attempt, ex_rng *rng)
{
    double initial = b->initial_ns < EX_NS_PER_MS ? (double)EX_NS_PER_MS : (double)b->initial_ns;
    double max = (double)b->max_ns < initial ? initial : (double)b->max_ns;
    double mult = b->multiplier < 1.0 ? 1.0 : b->multiplier;
    double jitter = b->jitter < 0.0 ? 0.0 : b->jitter > 1.0 ? 1.0 : b->jitter;
    double d = initial;
    for (unsigned i = 0; i < attempt && d < max; i++) d *= mult;
    if (d > max) d = max;
    d *= 1.0 + (2.0 * ex_rng_double(rng) - 1.0) * jitter;
    if (d > max) d = max;
    if (d < 0) d = 0;
    return (int64_t)d;
}

exo_retry_verdict exo_retry_http_verdict(long http_status)
{
    if (http_status >= 200 && http_status < 300) return EXO_RETRY_OK;
    return exo_otlp_http_retryable((int)http_status) ? EXO_RETRY_AGAIN : EXO_RETRY_FINAL;
}

exo_retry_verdict exo_retry_grpc_verdict(int grpc_code, int has_retry_info)
{
    if (grpc_code == EXO_GRPC_OK) return EXO_RETRY_OK;
    return exo_otlp_grpc_retryable(grpc_code, has_retry_info) ? EXO_RETRY_AGAIN : EXO_RETRY_FINAL;
}

exo_retry_verdict exo_retry_transport_verdict(CURLcode result)
{
    switch (result) {
    case CURLE_OK:
        return EXO_RETRY_OK;
    /* The collector is not reachable right now, or the connection broke:
     * the OTLP spec treats these like UNAVAILABLE / 503. */
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return EXO_RETRY_AGAIN;
    /* Bad URL, unsupported protocol, certificate problems, out of memory,
     * aborted by our own shutdown: trying again gives the same result. */
    default:
        return EXO_RETRY_FINAL;
    }
}

int exo_retry_grpc_from_http(long http_status)
{
    switch (http_status) {
    case 400: return EXO_GRPC_INTERNAL;
    case 401: return EXO_GRPC_UNAUTHENTICATED;
    case 403: return EXO_GRPC_PERMISSION_DENIED;
    case 404: return EXO_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return EXO_GRPC_UNAVAILABLE;
    default: return EXO_GRPC_UNKNOWN;
    }
}

int exo_retry_after_parse(const char *value, int64_t now_ns, int64_t *delay_ns)
{
    if (!value) return -1;
    while (*value == ' ' || *value == '\t') value++;
    size_t len = strlen(value);
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
                   value[len - 1] == '\n'))
        len--;
    if (len == 0 || len > 64) return -1;
    char buf[65];
    memcpy(buf, value, len);
    buf[len] = '\0';

    size_t digits = strspn(buf, "0123456789");
    if (digits == len) {
        /* delay-seconds; absurdly long values saturate at one day, the
         * export deadline cuts them much earlier anyway. */
        int64_t secs = 0;
        for (size_t i = 0; i < len && secs < 86400; i++) secs = secs * 10 + (buf[i] - '0');
        if (secs > 86400) secs = 86400;
        *delay_ns = secs * EX_NS_PER_SEC;
        return 0;
    }
    /* An HTTP-date names a weekday first (IMF-fixdate, RFC 850, asctime):
     * insisting on a letter keeps curl's lenient parser from reading
     * numbers such as "-5" or "1.5" as dates. */
    if (!isalpha((unsigned char)buf[0])) return -1;
    time_t t = curl_getdate(buf, NULL);
    if (t == (time_t)-1) return -1;
    int64_t at = (int64_t)t * EX_NS_PER_SEC;
    *delay_ns = at > now_ns ? at - now_ns : 0;
    return 0;
}

/* Value of a base64 digit (standard or URL alphabet), or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decode base64 (padding optional, as gRPC binary headers allow) into out
 * (at least len * 3 / 4 + 1 bytes). Returns the decoded length or -1. */
static long b64_decode(const char *in, size_t len, uint8_t *out)
{
    while (len && in[len - 1] == '=') len--;
    if (len % 4 == 1) return -1;
    uint32_t acc = 0;
    int bits = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

int exo_retry_grpc_details(const char *b64, size_t len, int64_t *retry_delay_ns, char *msg, size_t msglen)
{
    int rc = -1;
    char dummy[1];
    int32_t code;
    *retry_delay_ns = -1;
    uint8_t *raw = ex_malloc(len * 3 / 4 + 1);
    if (!raw) goto out;
    long n = b64_decode(b64, len, raw);
    if (n < 0) goto out;
    if (!msg) {
        msg = dummy;
        msglen = sizeof dummy;
    }
    if (exo_otlp_decode_status(raw, (size_t)n, &code, msg, msglen, retry_delay_ns) != 0) {
        *retry_delay_ns = -1;
        goto out;
    }
    rc = 0;
out:
    ex_free(raw);
    return rc;
}

int64_t exo_retry_delay(const exo_backoff *b, unsigned attempt, int64_t server_delay_ns, ex_rng *rng)
{
    if (server_delay_ns >= 0) return server_delay_ns;
    return exo_backoff_delay(b, attempt, rng);
}

int exo_retry_fits(int64_t now_ns, int64_t delay_ns, int64_t deadline_ns)
{
    return delay_ns >= 0 && now_ns + delay_ns < deadline_ns;
}
