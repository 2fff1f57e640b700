#include "otel/traceparent.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Read n hex digits (2n of s) into out; -1 with why naming the field. */
static int hex_field(const char *s, size_t off, size_t n, uint8_t *out, const char *field, char *why, size_t whylen)
{
    for (size_t i = 0; i < 2 * n; i++) {
        int v = hexval(s[off + i]);
        if (v < 0) {
            unsigned char c = (unsigned char)s[off + i];
            if (c > 0x20 && c < 0x7f)
                snprintf(why, whylen, "%s: '%c' at offset %zu is not a lower-case hex digit", field, c, off + i);
            else snprintf(why, whylen, "%s: byte 0x%02x at offset %zu is not a lower-case hex digit", field, c, off + i);
            return -1;
        }
        if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
        else out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

static int dash_at(const char *s, size_t off, const char *after, char *why, size_t whylen)
{
    if (s[off] == '-') return 0;
    snprintf(why, whylen, "expected '-' after the %s at offset %zu", after, off);
    return -1;
}

int exo_traceparent_parse(const char *s, size_t len, exo_traceparent *out, char *why, size_t whylen)
{
    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len > EXO_TRACEPARENT_MAX) {
        snprintf(why, whylen, "%zu bytes long, more than the %d looked at", len, EXO_TRACEPARENT_MAX);
        return -1;
    }
    if (len < EXO_TRACEPARENT_LEN) {
        snprintf(why, whylen, "%zu bytes long, a traceparent has %d (version-traceid-parentid-flags)", len,
                 EXO_TRACEPARENT_LEN);
        return -1;
    }
    uint8_t ver;
    if (hex_field(s, 0, 1, &ver, "version", why, whylen)) return -1;
    if (ver == 0xff) {
        snprintf(why, whylen, "version ff is invalid");
        return -1;
    }
    if (dash_at(s, 2, "version", why, whylen) || hex_field(s, 3, 16, out->trace_id, "trace-id", why, whylen) ||
        dash_at(s, 35, "trace-id", why, whylen) || hex_field(s, 36, 8, out->span_id, "parent-id", why, whylen) ||
        dash_at(s, 52, "parent-id", why, whylen) || hex_field(s, 53, 1, &out->flags, "trace-flags", why, whylen))
        return -1;
    if (ver == 0 && len != EXO_TRACEPARENT_LEN) {
        snprintf(why, whylen, "version 00 has exactly %d bytes, this has %zu", EXO_TRACEPARENT_LEN, len);
        return -1;
    }
    if (ver != 0 && len > EXO_TRACEPARENT_LEN && s[EXO_TRACEPARENT_LEN] != '-') {
        snprintf(why, whylen, "expected '-' after the trace-flags at offset %d", EXO_TRACEPARENT_LEN);
        return -1;
    }
    if (all_zero(out->trace_id, 16)) {
        snprintf(why, whylen, "trace-id is all zeros");
        return -1;
    }
    if (all_zero(out->span_id, 8)) {
        snprintf(why, whylen, "parent-id is all zeros");
        return -1;
    }
    out->version = ver;
    return 0;
}

char *exo_traceparent_format(const exo_traceparent *tp, char *out)
{
    static const char hx[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '0';
    out[o++] = '0';
    out[o++] = '-';
    for (int i = 0; i < 16; i++) out[o++] = hx[tp->trace_id[i] >> 4], out[o++] = hx[tp->trace_id[i] & 15];
    out[o++] = '-';
    for (int i = 0; i < 8; i++) out[o++] = hx[tp->span_id[i] >> 4], out[o++] = hx[tp->span_id[i] & 15];
    out[o++] = '-';
    out[o++] = hx[tp->flags >> 4];
    out[o++] = hx[tp->flags & 15];
    out[o] = '\0';
    return out;
}
