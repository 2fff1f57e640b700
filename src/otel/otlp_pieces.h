/* otlp_pieces.h — decode a received ExportTraceServiceRequest in pieces.
 *
 * exo_otlp_proto_decode_request unpacks a whole request at once: protobuf-c
 * then holds every span as its own structures, about ten times the wire
 * size for small spans (a 52 MB request of 1M spans peaked at ~500 MB).
 * This walks the wire format instead — ExportTraceServiceRequest →
 * ResourceSpans → ScopeSpans → Span — and hands the spans over in pieces
 * of at most max_spans, each a small request of its own (one ResourceSpans
 * with its resource, one ScopeSpans with its scope, those spans), freed
 * after the callback returns; memory stays at about one piece.
 *
 * What is accepted and refused is what the whole-message decoder does:
 * the same nesting bound and wire-format check first (before any piece is
 * delivered), then protobuf-c unpacks each part with the same code
 * (ResourceSpans / ScopeSpans fields other than the nested lists are
 * unpacked together, so repeated fields merge as protobuf-c merges them).
 * The error messages are the same. A request found invalid after pieces
 * were delivered fails as a whole: the caller must be able to undo what
 * it did with them (the store keeps them in one transaction). */
#ifndef EXTRACE_OTEL_OTLP_PIECES_H
#define EXTRACE_OTEL_OTLP_PIECES_H
#include <stddef.h>
#include <stdint.h>

#include "otel/otlp_proto.h"

/* One piece of a request. */
typedef struct exo_otlp_piece {
    const exo_pb_request *req; /* one ResourceSpans with one ScopeSpans holding 1..max_spans spans */
    size_t rs_index;           /* index of that ResourceSpans in the whole request */
    size_t ss_index;           /* index of that ScopeSpans in its ResourceSpans */
    size_t span_index;         /* index of the piece's first span in its ScopeSpans */
} exo_otlp_piece;

/* Called per piece; the piece is valid only during the call. Return 0 to
 * go on, anything else to stop (exo_otlp_proto_decode_pieces then returns
 * EXO_OTLP_ESTOPPED). */
typedef int (*exo_otlp_piece_fn)(void *arg, const exo_otlp_piece *p);

/* Returned when the callback stopped the walk. */
#define EXO_OTLP_ESTOPPED (-10)

/* Decode buf[0..len) piece by piece (ScopeSpans without spans deliver no
 * piece but are still checked). Returns 0, EXO_OTLP_EINVAL with the reason
 * in err, EXO_OTLP_ENOMEM, or EXO_OTLP_ESTOPPED. max_spans 0 means 1. */
int exo_otlp_proto_decode_pieces(const uint8_t *buf, size_t len, size_t max_spans, exo_otlp_piece_fn cb, void *arg,
                                 char *err, size_t errlen);

#endif
