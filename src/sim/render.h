/* render.h — the simulator's JSON output, byte for byte as the seed's
 * ASP.NET API writes it (System.Text.Json: compact, camelCase keys in
 * declaration order, enums as strings, null members omitted).
 *
 * Output goes into a sim_buf: a growable byte buffer with a hard maximum,
 * reused across requests so the hot path does not allocate. */
#ifndef EXTRACE_SIM_RENDER_H
#define EXTRACE_SIM_RENDER_H
#include <stddef.h>

#include "sim/workflow.h"

/* A growable buffer; owns `data`. Once a write would pass `max`, the
 * buffer is marked `overflow`, stops growing and keeps what fit. */
typedef struct sim_buf {
    char *data;   /* NUL-terminated contents (NULL until the first write) */
    size_t len;   /* bytes used, without the NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* largest len allowed */
    int overflow; /* 1 once a write was cut short (limit or out of memory) */
} sim_buf;

/* An empty buffer that will hold at most `max` bytes. */
void sim_buf_init(sim_buf *b, size_t max);
/* Forget the contents, keep the memory. */
void sim_buf_reset(sim_buf *b);
/* Forget what b holds past len bytes (len <= b->len), and an overflow:
 * a part that did not fit is dropped, what came before stays. */
void sim_buf_truncate(sim_buf *b, size_t len);
/* Free the memory; the buffer can be initialised again. */
void sim_buf_free(sim_buf *b);
/* Append n bytes / a C string / a formatted string. 0, or -1 on overflow. */
int sim_buf_put(sim_buf *b, const char *s, size_t n);
int sim_buf_puts(sim_buf *b, const char *s);
int sim_buf_printf(sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s (n bytes) as a JSON string literal with its quotes. ", \ and
 * control bytes are escaped, and so are bytes >= 0x7f (as \u00XX, one per
 * byte), so the output is ASCII and valid JSON whatever the input. */
int sim_buf_json_string(sim_buf *b, const char *s, size_t n);
/* The same without the quotes: a value inside a string being written. */
int sim_buf_json_chars(sim_buf *b, const char *s, size_t n);

/* Append the workflow with id `id` in the seed's format; with
 * `processing_times`, each entity past Initializing also carries
 * entityProcessingStartTime (an extension: --advance on-time). 0 or -1. */
int sim_render_workflow(sim_buf *b, const char *id, const sim_workflow *w, int processing_times);
/* Append {"error":"<message>"}. 0 or -1. */
int sim_render_error(sim_buf *b, const char *message);

#endif
