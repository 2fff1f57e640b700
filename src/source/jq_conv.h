/* jq_conv.h — a libjq value as a jansson value (jq_run.c; bench/). */
#ifndef EXTRACE_SOURCE_JQ_CONV_H
#define EXTRACE_SOURCE_JQ_CONV_H
#include <jansson.h>
#include <jq.h>
#include <stddef.h>

#define SR_JQ_DEPTH_MAX 256 /* deepest output nesting converted */

/* Convert v (borrowed: not freed) by walking it. Numbers that are whole
 * and within ±2^53 become integers, others reals; NaN and infinities are
 * refused. Returns a new reference, or NULL with a static reason in *why
 * (too deep, larger than max_bytes of JSON text, NaN, out of memory). */
json_t *sr_jv_to_json(jv v, size_t max_bytes, const char **why);

#endif
