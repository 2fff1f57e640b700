/* mem.h — the one allocation wrapper of extrace.
 *
 * Every allocation goes through these functions so tests can make the
 * n-th allocation fail (ex_mem_fail_after) and check the failure paths.
 * They return NULL on failure like their libc counterparts; ex_strdup(NULL)
 * returns NULL. Memory is freed with ex_free. */
#ifndef EXTRACE_CORE_MEM_H
#define EXTRACE_CORE_MEM_H
#include <stddef.h>

void *ex_malloc(size_t n);
void *ex_calloc(size_t count, size_t n);
void *ex_realloc(void *p, size_t n);
char *ex_strdup(const char *s);
char *ex_strndup(const char *s, size_t n);
void ex_free(void *p);

/* Test hook: allocations after the next `n` ones fail; n < 0 disables. */
void ex_mem_fail_after(long n);

#endif
