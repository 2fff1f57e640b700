/* traceparent.h — the W3C Trace Context `traceparent` header value
 * (https://www.w3.org/TR/trace-context/#traceparent-header), as a
 * submitter passes its span on to the workflow it started.
 *
 *   version "-" trace-id "-" parent-id "-" trace-flags
 *   00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
 *
 * Each field is lower-case hex: version 2 digits, not "ff"; trace-id 32
 * digits, not all zero; parent-id 16 digits, not all zero; trace-flags 2
 * digits. Version 00 is exactly 55 bytes. A later version may be longer
 * (its extra fields follow a '-' after the flags; they are ignored, as
 * the specification asks of a parser that knows only 00). Surrounding
 * spaces and tabs (an HTTP header's optional whitespace) are skipped.
 * Pure: no allocation. */
#ifndef EXTRACE_OTEL_TRACEPARENT_H
#define EXTRACE_OTEL_TRACEPARENT_H
#include <stddef.h>
#include <stdint.h>

#define EXO_TRACEPARENT_LEN 55  /* bytes of a version-00 value */
#define EXO_TRACEPARENT_MAX 256 /* longest value looked at; longer ones are refused */

typedef struct exo_traceparent {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;   /* trace-flags; bit 0: sampled */
    uint8_t version; /* the version field */
} exo_traceparent;

/* Parse s[0..len) into *out. 0, or -1 with why (whylen bytes) naming the
 * field and what is wrong with it, e.g. "trace-id is all zeros" or
 * "parent-id: 'G' at offset 36 is not a lower-case hex digit". The value
 * itself is not copied into why (the caller quotes it). */
int exo_traceparent_parse(const char *s, size_t len, exo_traceparent *out, char *why, size_t whylen);

/* The version-00 text of tp into out (at least EXO_TRACEPARENT_LEN + 1
 * bytes). Returns out. */
char *exo_traceparent_format(const exo_traceparent *tp, char *out);

#endif
