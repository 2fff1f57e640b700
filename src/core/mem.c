#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

static long fail_after = -1; /* -1: never fail */

static int should_fail(void)
{
    if (fail_after < 0) return 0;
    if (fail_after == 0) return 1;
    fail_after--;
    return 0;
}

void ex_mem_fail_after(long n) { fail_after = n; }

void *ex_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }

void *ex_calloc(size_t count, size_t n) { return should_fail() ? NULL : calloc(count, n); }

void *ex_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }

char *ex_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = ex_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ex_strdup(const char *s) { return s ? ex_strndup(s, strlen(s)) : NULL; }

void ex_free(void *p) { free(p); }
