/* strcopy.h — a bounded copy of bytes that are not NUL-terminated (an
 * HTTP/2 header value, a slice of a buffer) into a fixed-size C string. */
#ifndef EXTRACE_CORE_STRCOPY_H
#define EXTRACE_CORE_STRCOPY_H
#include <stddef.h>
#include <string.h>

/* Copies the first n bytes of src into dst (cap > 0 bytes), cut to
 * cap - 1 bytes when longer, and ends dst with a NUL. */
static inline void ex_copy_cut(char *dst, size_t cap, const void *src, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

#endif
