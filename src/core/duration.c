#include "core/duration.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"

static const struct {
    const char *name;
    int64_t ns;
} units[] = {
    {"ns", 1},
    {"us", EX_NS_PER_US},
    {"ms", EX_NS_PER_MS},
    {"s", EX_NS_PER_SEC},
    {"m", 60 * EX_NS_PER_SEC},
    {"h", 3600 * EX_NS_PER_SEC},
};

/* Longest unit name that prefixes p ("ms" before "m"). */
static int match_unit(const char *p, size_t *len)
{
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i].name);
        if (n > best_len && strncmp(p, units[i].name, n) == 0) {
            best = (int)i;
            best_len = n;
        }
    }
    *len = best_len;
    return best;
}

int ex_duration_parse(const char *s, int64_t *out_ns, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    if (!s || !*s) { *why = "empty duration"; return -1; }
    if (strcmp(s, "0") == 0) { *out_ns = 0; return 0; }
    if (*s == '-') { *why = "negative duration"; return -1; }

    double total = 0;
    const char *p = s;
    while (*p) {
        const char *num = p;
        while ((*p >= '0' && *p <= '9') || *p == '.') p++;
        if (p == num) { *why = "expected a number"; return -1; }
        char buf[32];
        size_t n = (size_t)(p - num);
        if (n >= sizeof buf || memchr(num, '.', n) != memrchr(num, '.', n) || num[n - 1] == '.') {
            *why = "malformed number";
            return -1;
        }
        memcpy(buf, num, n);
        buf[n] = '\0';
        if (!*p) { *why = "missing unit (use ns, us, ms, s, m or h)"; return -1; }
        size_t ulen;
        int u = match_unit(p, &ulen);
        if (u < 0) { *why = "unknown unit (use ns, us, ms, s, m or h)"; return -1; }
        total += strtod(buf, NULL) * (double)units[u].ns;
        p += ulen;
    }
    if (total > (double)INT64_MAX / 2) { *why = "duration too large"; return -1; }
    *out_ns = (int64_t)llround(total);
    return 0;
}

char *ex_duration_format(int64_t ns, char *buf)
{
    if (ns == 0) { strcpy(buf, "0s"); return buf; }
    /* Whole hours/minutes/seconds as "1h30m5s"; anything finer in one unit. */
    if (ns % EX_NS_PER_SEC == 0) {
        int64_t s = ns / EX_NS_PER_SEC, h = s / 3600, m = (s / 60) % 60, sec = s % 60;
        size_t off = 0;
        buf[0] = '\0';
        if (h) off += (size_t)snprintf(buf + off, EX_DURATION_STR_MAX - off, "%lldh", (long long)h);
        if (m) off += (size_t)snprintf(buf + off, EX_DURATION_STR_MAX - off, "%lldm", (long long)m);
        if (sec) snprintf(buf + off, EX_DURATION_STR_MAX - off, "%llds", (long long)sec);
        return buf;
    }
    if (ns % EX_NS_PER_MS == 0) snprintf(buf, EX_DURATION_STR_MAX, "%lldms", (long long)(ns / EX_NS_PER_MS));
    else if (ns % EX_NS_PER_US == 0) snprintf(buf, EX_DURATION_STR_MAX, "%lldus", (long long)(ns / EX_NS_PER_US));
    else snprintf(buf, EX_DURATION_STR_MAX, "%lldns", (long long)ns);
    return buf;
}
