/* otlp_proto.h — OTLP protobuf encoding, response decoding, gRPC framing.
 *
 * The messages are the protobuf-c structs generated from proto/ (our own
 * .proto files, written from the OTLP field numbers). This module turns
 * finished spans (otel/span.h) into an ExportTraceServiceRequest, decodes
 * what a collector answers (ExportTraceServiceResponse, google.rpc.Status
 * with RetryInfo), decodes received requests with a bound on value nesting,
 * and frames messages for gRPC (gRPC over HTTP/2, "Length-Prefixed-Message").
 *
 * One in-memory model serves both encodings: otlp_json.c encodes from and
 * otlp_json_decode.c decodes to the same structs. Decoded messages are allocated through
 * exo_pb_allocator (ex_malloc) and freed with exo_otlp_request_free. */
#ifndef EXTRACE_OTEL_OTLP_PROTO_H
#define EXTRACE_OTEL_OTLP_PROTO_H
#include <stddef.h>
#include <stdint.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otel/span.h"

/* Short names for the generated types. */
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest exo_pb_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse exo_pb_response;
typedef Opentelemetry__Proto__Trace__V1__TracesData exo_pb_traces_data;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans exo_pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans exo_pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span exo_pb_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event exo_pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link exo_pb_link;
typedef Opentelemetry__Proto__Trace__V1__Status exo_pb_status;
typedef Opentelemetry__Proto__Resource__V1__Resource exo_pb_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope exo_pb_scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue exo_pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue exo_pb_any;
typedef Opentelemetry__Proto__Common__V1__ArrayValue exo_pb_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList exo_pb_kvlist;

/* Error codes of this module and otlp_json.c / otlp_json_decode.c (0 = success). */
enum {
    EXO_OTLP_EINVAL = -1,      /* malformed input */
    EXO_OTLP_ENOMEM = -2,      /* allocation failed */
    EXO_OTLP_ETOOBIG = -3,     /* over a size limit */
    EXO_OTLP_EINCOMPLETE = -4, /* more bytes needed (gRPC unframe) */
};

/* Nesting bound for AnyValue (arrayValue / kvlistValue) in decoded input:
 * an attribute's own value is depth 1. Deeper input is rejected. */
#define EXO_OTLP_MAX_VALUE_DEPTH 32

/* Span.flags written for every span: the W3C "sampled" trace flag; a span
 * whose parent is remote (exo_span.parent_remote) also gets the
 * has-is-remote and is-remote bits. */
#define EXO_OTLP_SPAN_FLAGS 0x01u

/* gRPC path of the export call (otlp-tempo.md §1). */
#define EXO_OTLP_GRPC_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

/* Allocator (ex_malloc / ex_free) for every message this module decodes. */
extern ProtobufCAllocator exo_pb_allocator;

/* A request that refers to the spans and resource without copying them
 * (strings that are not valid UTF-8 are copied, repaired with U+FFFD,
 * since proto3 strings must be UTF-8). The spans, the resource and the
 * scope strings must outlive the view. */
typedef struct exo_otlp_view exo_otlp_view;

/* Build a view of n spans as one ResourceSpans with one ScopeSpans.
 * res and scope_version may be NULL. NULL on allocation failure. */
exo_otlp_view *exo_otlp_view_build(const exo_resource *res, const char *scope_name,
                                   const char *scope_version, exo_span *const *spans, size_t n);
/* The request inside a view (owned by the view). */
const exo_pb_request *exo_otlp_view_request(const exo_otlp_view *v);
void exo_otlp_view_free(exo_otlp_view *v);

/* Serialize n spans as an ExportTraceServiceRequest, straight from the
 * span model (otlp_encode.c). On success *out is allocated (the caller
 * frees it with ex_free) and 0 is returned; else EXO_OTLP_ENOMEM and *out
 * is NULL. */
int exo_otlp_proto_encode(const exo_resource *res, const char *scope_name, const char *scope_version,
                          exo_span *const *spans, size_t n, uint8_t **out, size_t *out_len);
/* The same with `prefix` bytes left free (uninitialized) in front of the
 * message, e.g. for the gRPC message header: *out_len = prefix + message
 * length. */
int exo_otlp_proto_encode_into(const exo_resource *res, const char *scope_name, const char *scope_version,
                               exo_span *const *spans, size_t n, size_t prefix, uint8_t **out, size_t *out_len);
/* A buffer kept between encodings (by an exporter) so each batch is
 * written into warm memory; zero-initialize, free with
 * exo_otlp_scratch_free. */
typedef struct exo_otlp_scratch {
    uint8_t *buf;
    size_t cap;
} exo_otlp_scratch;
/* exo_otlp_proto_encode_into writing in scratch (NULL: a buffer of its own). */
int exo_otlp_proto_encode_scratch(exo_otlp_scratch *scratch, const exo_resource *res, const char *scope_name,
                                  const char *scope_version, exo_span *const *spans, size_t n, size_t prefix,
                                  uint8_t **out, size_t *out_len);
void exo_otlp_scratch_free(exo_otlp_scratch *s);
/* The reference encoding: protobuf-c packing the view of
 * exo_otlp_view_build. Same contract and, byte for byte, the same output
 * as exo_otlp_proto_encode (test_otlp_encode checks), at several times
 * the cost. */
int exo_otlp_proto_encode_pbc(const exo_resource *res, const char *scope_name, const char *scope_version,
                              exo_span *const *spans, size_t n, uint8_t **out, size_t *out_len);

/* Decode a received ExportTraceServiceRequest. Rejects (EXO_OTLP_EINVAL,
 * reason in err) malformed protobuf and values nested deeper than
 * EXO_OTLP_MAX_VALUE_DEPTH, before protobuf-c recurses into them. On
 * success *out is freed with exo_otlp_request_free. */
int exo_otlp_proto_decode_request(const uint8_t *buf, size_t len, exo_pb_request **out, char *err,
                                  size_t errlen);
/* Free a request from exo_otlp_proto_decode_request or
 * exo_otlp_json_decode_request; NULL is ignored. */
void exo_otlp_request_free(exo_pb_request *req);

/* Decode an ExportTraceServiceResponse body. *rejected = rejected_spans
 * (0 without partial_success); msg gets its error_message ("" if none;
 * truncated to msglen - 1). 0, or EXO_OTLP_EINVAL for a malformed body. */
int exo_otlp_proto_decode_response(const uint8_t *buf, size_t len, int64_t *rejected, char *msg,
                                   size_t msglen);

/* Decode a google.rpc.Status body (OTLP/HTTP error responses, or the
 * grpc-status-details-bin trailer after base64 decoding). *code and msg
 * as in the status; *retry_delay_ns (may be NULL) = the delay of a
 * google.rpc.RetryInfo detail, or -1 when there is none. 0 or
 * EXO_OTLP_EINVAL. */
int exo_otlp_decode_status(const uint8_t *buf, size_t len, int32_t *code, char *msg, size_t msglen,
                           int64_t *retry_delay_ns);

/* Frame one gRPC message: flag byte (1 = compressed), 4-byte big-endian
 * length, message. *out is allocated (ex_free). 0, EXO_OTLP_ETOOBIG (over
 * 4 GiB - 1) or EXO_OTLP_ENOMEM. */
int exo_grpc_frame(const uint8_t *msg, size_t len, int compressed, uint8_t **out, size_t *out_len);
/* Write the 5-byte gRPC message header for a message of len bytes
 * (<= UINT32_MAX) at hdr. */
void exo_grpc_frame_header(uint8_t *hdr, size_t len, int compressed);

/* Read one gRPC message from the start of buf without copying: *msg
 * points into buf, *consumed = 5 + *msg_len. Returns 0;
 * EXO_OTLP_EINCOMPLETE when buf does not yet hold the whole message;
 * EXO_OTLP_EINVAL for a flag byte other than 0 or 1; EXO_OTLP_ETOOBIG
 * when the declared length exceeds max_msg. */
int exo_grpc_unframe(const uint8_t *buf, size_t len, size_t max_msg, const uint8_t **msg,
                     size_t *msg_len, int *compressed, size_t *consumed);

/* Whether a failed export may be retried (otlp-tempo.md §1, from the OTLP
 * specification "Failures"): gRPC codes CANCELLED, DEADLINE_EXCEEDED,
 * ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED
 * only when the server sent RetryInfo; HTTP 429, 502, 503, 504. 1 or 0. */
int exo_otlp_grpc_retryable(int grpc_code, int has_retry_info);
int exo_otlp_http_retryable(int http_status);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF), else 0. Shared with otlp_json.c. */
int exo__utf8_valid(const char *s, size_t len);
/* Read a base-128 varint at p[*pos] (advancing *pos). 0, or -1 when it
 * runs past len or is longer than 64 bits. Shared with otlp_pieces.c. */
int exo__read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v);
/* The checks exo_otlp_proto_decode_request makes before unpacking: the
 * wire format is well formed and AnyValues nest at most
 * EXO_OTLP_MAX_VALUE_DEPTH deep. 0, or EXO_OTLP_EINVAL with the reason in
 * err. Shared with otlp_pieces.c. */
int exo__proto_check_request(const uint8_t *buf, size_t len, char *err, size_t errlen);
/* Bytes needed by exo__utf8_repair for s[0..len), NUL included. */
size_t exo__utf8_repair_size(const char *s, size_t len);
/* Copy s[0..len) into out (exo__utf8_repair_size bytes), each byte that is
 * not part of a valid sequence replaced by U+FFFD; returns out. */
char *exo__utf8_repair(const char *s, size_t len, char *out);

/* Percent-decode a grpc-message header value into out (NUL-terminated,
 * truncated to outlen - 1 bytes). Per the gRPC HTTP/2 spec a malformed
 * escape is kept literally, never an error. Returns the bytes written. */
size_t exo_grpc_decode_message(const char *in, char *out, size_t outlen);

#endif
