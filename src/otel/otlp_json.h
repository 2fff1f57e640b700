/* otlp_json.h — the OTLP/JSON encoding (OTLP specification, "JSON Protobuf
 * Encoding"), both ways, over the protobuf-c model of otlp_proto.h.
 *
 * OTLP/JSON is the proto3 JSON mapping with these differences, which both
 * directions follow:
 *   - keys are lowerCamelCase field names (the decoder also accepts the
 *     original snake_case names);
 *   - traceId / spanId / parentSpanId are lower-case hex, not base64 (the
 *     decoder takes either case; "" means empty, as an absent field does);
 *   - enums are integers (the decoder also takes the value names, such as
 *     "SPAN_KIND_SERVER");
 *   - 64-bit integers are decimal strings (the decoder also takes numbers);
 *   - other bytes (AnyValue.bytesValue) are base64;
 *   - non-finite doubles are "NaN", "Infinity", "-Infinity";
 *   - fields with default values are omitted; unknown fields are ignored.
 *
 * The decoder is meant for untrusted input: it rejects duplicate keys,
 * bounds AnyValue nesting to EXO_OTLP_MAX_VALUE_DEPTH, and every error
 * names the JSON path and the offending value, e.g.
 *   resourceSpans[0].scopeSpans[0].spans[3].traceId: expected 32 hex digits, got "zz" */
#ifndef EXTRACE_OTEL_OTLP_JSON_H
#define EXTRACE_OTEL_OTLP_JSON_H
#include <stddef.h>
#include <stdint.h>

#include "otel/otlp_proto.h"

/* Encode n spans as an OTLP/JSON ExportTraceServiceRequest (one
 * ResourceSpans, one ScopeSpans; compact, no trailing newline). *out is
 * NUL-terminated and allocated (ex_free). 0 or EXO_OTLP_ENOMEM. */
int exo_otlp_json_encode(const exo_resource *res, const char *scope_name, const char *scope_version,
                         exo_span *const *spans, size_t n, char **out, size_t *out_len);

/* Encode any message of the model (a request, a TracesData, a response…)
 * as OTLP/JSON. *out as above. 0 or EXO_OTLP_ENOMEM. */
int exo_otlp_json_encode_message(const ProtobufCMessage *msg, char **out, size_t *out_len);

/* Decode an OTLP/JSON ExportTraceServiceRequest of len bytes. On success
 * *out is freed with exo_otlp_request_free. Returns 0, EXO_OTLP_EINVAL
 * (reason in err) or EXO_OTLP_ENOMEM. Absent ids stay empty: checking
 * that a span has ids is the receiver's job. */
int exo_otlp_json_decode_request(const char *json, size_t len, exo_pb_request **out, char *err,
                                 size_t errlen);

/* Decode OTLP/JSON into a new message of type desc (for TracesData and
 * other messages of the model). Free *out with
 * protobuf_c_message_free_unpacked(*out, &exo_pb_allocator). Returns as
 * exo_otlp_json_decode_request. */
int exo_otlp_json_decode_message(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                 ProtobufCMessage **out, char *err, size_t errlen);

/* Decode an OTLP/JSON ExportTraceServiceResponse body: as
 * exo_otlp_proto_decode_response. 0 or EXO_OTLP_EINVAL. */
int exo_otlp_json_decode_response(const char *json, size_t len, int64_t *rejected, char *msg,
                                  size_t msglen);

/* Decode a JSON google.rpc.Status body ({"code":…, "message":…,
 * "details":[{"@type":…RetryInfo, "retryDelay":"1.5s"}]}): as
 * exo_otlp_decode_status. 0 or EXO_OTLP_EINVAL. */
int exo_otlp_json_decode_status(const char *json, size_t len, int32_t *code, char *msg, size_t msglen,
                                int64_t *retry_delay_ns);

/* Padded base64 (standard alphabet) of n bytes into out, which holds
 * 4 * ((n + 2) / 3) + 1 bytes (NUL-terminated). */
void exo_b64_encode(const uint8_t *data, size_t n, char *out);

#endif
