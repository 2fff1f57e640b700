/* otlp_json_int.h — what the two halves of the OTLP/JSON codec share:
 * otlp_json.c (the rules both directions follow, the encoder, and the
 * decoders of a collector's answers) and otlp_json_decode.c (the decoder of
 * requests and other messages from untrusted input). Not a public
 * interface: only those two files include it; everyone else uses
 * otlp_json.h. */
#ifndef EXTRACE_OTEL_OTLP_JSON_INT_H
#define EXTRACE_OTEL_OTLP_JSON_INT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/otlp_proto.h"

/* ---- otlp_json.c ---- */

/* The lowerCamelCase JSON name of a snake_case field name, written to out
 * (NUL-terminated, cut to outlen - 1 characters). */
void exo__json_name(const char *name, char *out, size_t outlen);

/* Byte length of an id field, written as hex (16 for trace_id, 8 for
 * span_id and parent_span_id), or 0 for any other field (other bytes are
 * base64). */
size_t exo__json_id_len(const ProtobufCFieldDescriptor *f);

/* Decode the JSON text s (n characters, n > 0) of a bytes field into out.
 * With want = exo__json_id_len(field) > 0, s must be exactly 2 * want hex
 * digits of either case and out holds want bytes; with want = 0, s is
 * base64 (padding optional, the URL-safe alphabet accepted) and out holds
 * at least 3 * n / 4 + 3 bytes. Returns the bytes written, or -1 when s
 * is not of that form. */
long exo__json_bytes_decode(size_t want, const char *s, size_t n, uint8_t *out);

/* ---- otlp_json_decode.c ---- */

/* Parse len bytes of JSON (duplicate keys rejected) whose top level must
 * be an object into *root, released by the caller with json_decref.
 * 0, or EXO_OTLP_EINVAL with *root NULL. */
int exo__json_load_object(const char *json, size_t len, json_t **root);

/* j as an integer in [lo, hi], taking what the decoder takes for integer
 * fields: a JSON number without a fraction or a decimal string. 0, or
 * EXO_OTLP_EINVAL with *out unchanged. */
int exo__json_int(const json_t *j, int64_t lo, int64_t hi, int64_t *out);

#endif
