/* arena.h — a bump allocator for short-lived structures freed all at once.
 *
 * Allocations come from chunks taken with ex_malloc; nothing is freed one
 * by one: ex_arena_reset makes every chunk empty again (keeping up to
 * `keep` bytes of them for the next round, freeing the rest) and
 * ex_arena_free frees them all. The decoder of received spans unpacks each
 * piece of a request through one (protobuf-c's per-field allocations then
 * cost a pointer bump; otel/otlp_pieces.c). Every allocation is aligned
 * for any type (max_align_t). Under AddressSanitizer a reset poisons what
 * was handed out, so a use after reset is reported. Not thread-safe. */
#ifndef EXTRACE_CORE_ARENA_H
#define EXTRACE_CORE_ARENA_H
#include <stddef.h>

typedef struct ex_arena_chunk ex_arena_chunk;

typedef struct ex_arena {
    ex_arena_chunk *head; /* all chunks, the one in use first */
    size_t chunk;         /* size of a new chunk (bigger for a bigger request) */
    size_t keep;          /* bytes of chunks ex_arena_reset keeps */
} ex_arena;

/* An empty arena whose chunks are `chunk` bytes (0: 64 KiB) and that keeps
 * up to `keep` bytes of them across resets. Takes no memory yet. */
void ex_arena_init(ex_arena *a, size_t chunk, size_t keep);

/* n bytes (n 0 counts as 1), or NULL when out of memory. */
void *ex_arena_alloc(ex_arena *a, size_t n);

/* Every allocation is gone; chunks up to `keep` bytes stay for reuse. */
void ex_arena_reset(ex_arena *a);

/* Free every chunk; the arena is empty (and usable) again. */
void ex_arena_free(ex_arena *a);

/* Bytes held in chunks (for tests and statistics). */
size_t ex_arena_held(const ex_arena *a);

#endif
