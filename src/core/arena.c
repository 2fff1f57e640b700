/* arena.c — bump allocator (arena.h). */
#include "core/arena.h"

#include <stdalign.h>
#include <stdint.h>

#include "core/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ALIGN (alignof(max_align_t))
#define DEFAULT_CHUNK ((size_t)64 << 10)

struct ex_arena_chunk {
    ex_arena_chunk *next;
    size_t cap;  /* bytes of data */
    size_t used; /* bytes of data handed out */
    alignas(max_align_t) unsigned char data[];
};

void ex_arena_init(ex_arena *a, size_t chunk, size_t keep)
{
    a->head = NULL;
    a->chunk = chunk ? chunk : DEFAULT_CHUNK;
    a->keep = keep;
}

/* A new chunk of at least n bytes of data in front of the list; NULL when
 * out of memory. */
static ex_arena_chunk *grow(ex_arena *a, size_t n)
{
    size_t cap = n > a->chunk ? n : a->chunk;
    if (cap > SIZE_MAX - sizeof(ex_arena_chunk)) return NULL;
    ex_arena_chunk *c = ex_malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->cap = cap;
    c->used = 0;
    c->next = a->head;
    a->head = c;
    POISON(c->data, cap);
    return c;
}

void *ex_arena_alloc(ex_arena *a, size_t n)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX - ALIGN) return NULL;
    n = (n + ALIGN - 1) & ~(ALIGN - 1);
    ex_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        /* An empty chunk kept from before that fits: move it to the front. */
        ex_arena_chunk **pp = c ? &c->next : &a->head;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->used == 0 && (*pp)->cap >= n) break;
        if (*pp) {
            c = *pp;
            *pp = c->next;
            c->next = a->head;
            a->head = c;
        } else if (!(c = grow(a, n))) {
            return NULL;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    UNPOISON(p, n);
    return p;
}

void ex_arena_reset(ex_arena *a)
{
    size_t kept = 0;
    for (ex_arena_chunk **pp = &a->head; *pp;) {
        ex_arena_chunk *c = *pp;
        if (kept + c->cap <= a->keep) {
            kept += c->cap;
            c->used = 0;
            POISON(c->data, c->cap);
            pp = &c->next;
        } else {
            *pp = c->next;
            UNPOISON(c->data, c->cap);
            ex_free(c);
        }
    }
}

void ex_arena_free(ex_arena *a)
{
    while (a->head) {
        ex_arena_chunk *c = a->head;
        a->head = c->next;
        UNPOISON(c->data, c->cap);
        ex_free(c);
    }
}

size_t ex_arena_held(const ex_arena *a)
{
    size_t n = 0;
    for (const ex_arena_chunk *c = a->head; c; c = c->next) n += c->cap;
    return n;
}
