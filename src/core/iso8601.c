#include "core/iso8601.h"

#include <string.h>

#include "core/clock.h"

/* Era arithmetic: 400-year cycles of 146097 days, years starting in March. */
int64_t ex_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void split(int64_t unix_ns, int *Y, int *M, int *D, int *h, int *mi, int *s, int64_t *frac_ns)
{
    int64_t secs = unix_ns / EX_NS_PER_SEC, ns = unix_ns % EX_NS_PER_SEC;
    if (ns < 0) { ns += EX_NS_PER_SEC; secs--; }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) { rem += 86400; days--; }
    civil_from_days(days, Y, M, D);
    *h = (int)(rem / 3600);
    *mi = (int)(rem / 60 % 60);
    *s = (int)(rem % 60);
    *frac_ns = ns;
}

/* Write v as exactly n decimal digits (v < 10^n). */
static char *put_digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
    return p + n;
}

/* "YYYY-MM-DDTHH:MM:SS." then `fdigits` digits of the fraction and 'Z'. */
static char *format(int64_t unix_ns, char *buf, int fdigits, int64_t fdiv)
{
    int Y, M, D, h, mi, s;
    int64_t ns;
    split(unix_ns, &Y, &M, &D, &h, &mi, &s, &ns);
    char *p = put_digits(buf, Y % 10000, 4);
    *p++ = '-';
    p = put_digits(p, M, 2);
    *p++ = '-';
    p = put_digits(p, D, 2);
    *p++ = 'T';
    p = put_digits(p, h, 2);
    *p++ = ':';
    p = put_digits(p, mi, 2);
    *p++ = ':';
    p = put_digits(p, s, 2);
    *p++ = '.';
    p = put_digits(p, ns / fdiv, fdigits);
    *p++ = 'Z';
    *p = '\0';
    return buf;
}

char *ex_iso_format(int64_t unix_ns, char *buf) { return format(unix_ns, buf, 7, 100); }

char *ex_iso_format_ms(int64_t unix_ns, char *buf) { return format(unix_ns, buf, 3, EX_NS_PER_MS); }

/* Read exactly n digits at *p; -1 if any is not a digit. */
static int digits(const char **p, const char *end, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9') return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static int expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c) return -1;
    (*p)++;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int ex_iso_parse(const char *s, size_t len, int64_t *out_ns, const char **why)
{
    const char *dummy, *p = s, *end = s + len;
    if (!why) why = &dummy;
    *why = "expected YYYY-MM-DDTHH:MM:SS[.fffffff]Z";
    int Y = digits(&p, end, 4);
    if (Y < 0 || expect(&p, end, '-')) return -1;
    int M = digits(&p, end, 2);
    if (M < 0 || expect(&p, end, '-')) return -1;
    int D = digits(&p, end, 2);
    if (D < 0 || p >= end || (*p != 'T' && *p != 't')) return -1;
    p++;
    int h = digits(&p, end, 2);
    if (h < 0 || expect(&p, end, ':')) return -1;
    int mi = digits(&p, end, 2);
    if (mi < 0 || expect(&p, end, ':')) return -1;
    int sec = digits(&p, end, 2);
    if (sec < 0) return -1;

    int64_t frac = 0;
    if (p < end && *p == '.') {
        p++;
        int n = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++, n++) {
            if (n >= 9) { *why = "more than 9 fractional digits"; return -1; }
            frac = frac * 10 + (*p - '0');
        }
        if (n == 0) { *why = "no digits after '.'"; return -1; }
        for (; n < 9; n++) frac *= 10;
    }

    int64_t offset_s = 0;
    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, end, 2);
        if (oh < 0 || expect(&p, end, ':')) return -1;
        int om = digits(&p, end, 2);
        if (om < 0 || oh > 23 || om > 59) return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        *why = "missing time zone (Z or ±HH:MM)";
        return -1;
    }
    if (p != end) { *why = "trailing characters"; return -1; }
    if (Y < 1970 || Y > 2261 || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 ||
        sec > 59) {
        *why = "date or time out of range";
        return -1;
    }
    int64_t secs = ex_days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *out_ns = secs * EX_NS_PER_SEC + frac;
    return 0;
}
