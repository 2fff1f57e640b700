/* jq_run.h — a profile's `map` program, compiled once and run per poll.
 *
 * The program is compiled with libjq (jq 1.6) when the profile is loaded;
 * a compile error carries jq's message and line, prefixed by the profile
 * file and the line where `map` begins (the profile's own line is added:
 * "profiles/x.yaml:31: map: syntax error, unexpected $end at line 3
 * (profile line 33): .a |"). The program sees only its input: `env` and
 * `$ENV` are empty objects, `stderr` is the identity, and modules
 * (`import`, `include`) are refused.
 *
 * Input: {"key": {part: value…}, "<request>": body, "<paged>": [page…]}.
 * Each body is parsed by libjq straight from the HTTP answer's text (no
 * jansson on the way in); the output, which must be exactly one JSON
 * object, is converted to a jansson json_t for the snapshot validator.
 *
 * Bounds and risks. jq has no step or memory limit and cannot be
 * interrupted: a program that loops (`def f: f; f`, `repeat(.)`) or
 * builds a huge value (`[range(1e9)]`) blocks or exhausts the worker, and
 * libjq aborts the process when malloc fails. A profile is therefore
 * trusted configuration, like code, and reviewed as such. What the
 * external API controls is bounded: the total input is at most
 * `max_input` bytes (SR_JQ_INPUT_MAX by default), so a linear program's
 * work is linear in a bounded size; an output larger than SR_JQ_OUTPUT_MAX
 * bytes is refused. Not thread-safe: one sr_jq per thread. */
#ifndef EXTRACE_SOURCE_JQ_RUN_H
#define EXTRACE_SOURCE_JQ_RUN_H
#include <jansson.h>
#include <stddef.h>

#include "source/profile.h"
#include "source/template.h"

#define SR_JQ_INPUT_MAX  (32u * 1024 * 1024) /* default bound of one run's input, bytes */
#define SR_JQ_OUTPUT_MAX (16u * 1024 * 1024) /* largest output (as JSON text), bytes */

/* Why a run failed, for counters per kind (sr_jq_error_name gives the label). */
typedef enum {
    SR_JQ_OK = 0,
    SR_JQ_ERR_INPUT_TOO_LARGE, /* "input_too_large": the answers exceed max_input */
    SR_JQ_ERR_INPUT,           /* "input": an answer is not JSON */
    SR_JQ_ERR_RUNTIME,         /* "runtime": the program raised an error (error(), .a on a number…) */
    SR_JQ_ERR_NO_OUTPUT,       /* "no_output": it produced nothing (empty, halt) */
    SR_JQ_ERR_MANY_OUTPUTS,    /* "many_outputs": more than one output */
    SR_JQ_ERR_NOT_OBJECT,      /* "not_object": the output is not an object */
    SR_JQ_ERR_OUTPUT,          /* "output": the output is too large or not representable (NaN, Infinity) */
    SR_JQ_ERR_NOMEM,           /* "nomem" */
    SR_JQ_NKINDS
} sr_jq_error;

typedef struct sr_jq sr_jq;
typedef struct sr_jq_input sr_jq_input;

/* Label of a kind ("runtime"…), "ok" for SR_JQ_OK. */
const char *sr_jq_error_name(sr_jq_error kind);

/* Compile p->map. Returns 0 and *out (free with sr_jq_free), or -1 with
 * the compile error (see above) in err. */
int sr_jq_compile(const sr_profile *p, sr_jq **out, char *err, size_t errlen);
/* Compile another program of the profile at origin: `field` (a static
 * string, "webhook.map") names it in messages, `line` is the profile line
 * where its text begins. allow_null: a run whose one output is null
 * succeeds with *out NULL (nothing to do). The same contract otherwise. */
int sr_jq_compile_prog(const char *origin, const char *field, const char *text, int line, int allow_null,
                       sr_jq **out, char *err, size_t errlen);
void sr_jq_free(sr_jq *jq);

/* Start an input for one run: {"key": {part: value…}}; max_input bounds
 * the answers' total bytes (0: SR_JQ_INPUT_MAX). NULL when out of memory. */
sr_jq_input *sr_jq_input_new(const sr_profile *p, const sr_key *key, size_t max_input);
/* Add the answer of `request` (a request of the profile), body[0..len):
 * for a paged request it is appended to that request's array of pages,
 * else it becomes the member (given twice: the later wins). Returns
 * SR_JQ_OK, or SR_JQ_ERR_INPUT_TOO_LARGE / SR_JQ_ERR_INPUT (not JSON:
 * libjq's message, naming the request) / SR_JQ_ERR_NOMEM with err. An
 * unknown request name is SR_JQ_ERR_INPUT. */
sr_jq_error sr_jq_input_add(sr_jq_input *in, const char *request, const char *body, size_t len, char *err,
                            size_t errlen);
void sr_jq_input_free(sr_jq_input *in);

/* Run the program on the input (consumed: freed whatever happens). Returns
 * SR_JQ_OK with *out the one output object (a new jansson reference), or
 * a kind with err holding jq's message or what was wrong, prefixed by the
 * profile's origin ("profiles/x.yaml: map: …"). */
sr_jq_error sr_jq_run(sr_jq *jq, sr_jq_input *in, json_t **out, char *err, size_t errlen);

/* Run on a whole input object given as JSON text (e.g. from a file); the
 * same results. Used by `extrace profile check` and tests. */
sr_jq_error sr_jq_run_text(sr_jq *jq, const char *input, size_t len, json_t **out, char *err, size_t errlen);

/* Run a webhook program on {"event": event, "delivery": delivery (each
 * NULL: null), "payload": the body parsed}. The same results; a body that
 * is not JSON is SR_JQ_ERR_INPUT ("the payload is not JSON: …"). */
sr_jq_error sr_jq_run_hook(sr_jq *jq, const char *event, const char *delivery, const char *body, size_t len,
                           json_t **out, char *err, size_t errlen);
/* Run on a jansson value (borrowed) as input; the same results. */
sr_jq_error sr_jq_run_json(sr_jq *jq, const json_t *input, json_t **out, char *err, size_t errlen);

#endif
