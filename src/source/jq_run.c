/* jq_run.c — compile and run a profile's jq program (jq_run.h). */
#include "source/jq_run.h"

#include <jansson.h>
#include <jq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/secret.h"
#include "source/jq_conv.h"

/* Put before the program on its first line (so jq's line numbers stay
 * the profile's): the environment is hidden, stderr prints nothing. */
#define SR_JQ_PRELUDE "def env: {}; def stderr: .; {} as $ENV | "

struct sr_jq {
    jq_state *jq;
    char *origin;
    const char *field; /* the profile field holding the program: "map", "webhook.map" */
    int map_line;
    int allow_null;    /* a null output is "nothing to do" (webhook programs), not an error */
    char first[SR_ERR_LEN]; /* the first message jq reported */
    int nmsg;
};

struct sr_jq_input {
    const sr_profile *p;
    jv obj;
    size_t bytes, max;
};

static const char *const kind_names[SR_JQ_NKINDS] = {
    "ok", "input_too_large", "input", "runtime", "no_output", "many_outputs", "not_object", "output", "nomem",
};

const char *sr_jq_error_name(sr_jq_error kind)
{
    return (unsigned)kind < SR_JQ_NKINDS ? kind_names[kind] : "unknown";
}

static void on_error(void *data, jv msg)
{
    sr_jq *s = data;
    if (jv_get_kind(msg) == JV_KIND_STRING) {
        const char *m = jv_string_value(msg);
        if (strstr(m, " compile error") == NULL || strncmp(m, "jq: error", 9) == 0) {
            if (s->nmsg++ == 0) snprintf(s->first, sizeof s->first, "%s", m);
        }
    }
    jv_free(msg);
}

/* Remove every occurrence of what from s. */
static void cut_all(char *s, const char *what)
{
    size_t n = strlen(what);
    for (char *p; (p = strstr(s, what));) memmove(p, p + n, strlen(p + n) + 1);
}

/* jq's compile message, rewritten for a profile: the prelude and jq's
 * shell hints removed, "at <top-level>, line N:" with the profile line. */
static void compile_message(const sr_jq *s, char *err, size_t errlen)
{
    char m[SR_ERR_LEN];
    snprintf(m, sizeof m, "%s", s->nmsg ? s->first : "jq: error: the program does not compile");
    cut_all(m, SR_JQ_PRELUDE);
    cut_all(m, " (Unix shell quoting issues?)");
    const char *body = strncmp(m, "jq: error: ", 11) == 0 ? m + 11 : m;
    for (char *p = m; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    size_t len = strlen(m);
    while (len && m[len - 1] == ' ') m[--len] = '\0';
    char where[96] = "";
    const char *at = strstr(body, " at <top-level>, line ");
    char head[SR_ERR_LEN];
    snprintf(head, sizeof head, "%.*s", at ? (int)(at - body) : (int)strlen(body), body);
    const char *tail = "";
    if (at) {
        int line = atoi(at + 22);
        const char *colon = strchr(at + 22, ':');
        tail = colon ? colon + 1 : "";
        while (*tail == ' ') tail++;
        snprintf(where, sizeof where, " at line %d (profile line %d)", line, s->map_line + line - 1);
    }
    char more[48] = "";
    if (s->nmsg > 1) snprintf(more, sizeof more, " (and %d more error%s)", s->nmsg - 1, s->nmsg > 2 ? "s" : "");
    ex_secret_format(err, errlen, "%s:%d: %s: %s%s%s%s%s", s->origin, s->map_line, s->field, head, where, *tail ? ": " : "",
                     tail, more);
}

int sr_jq_compile_prog(const char *origin, const char *field, const char *text, int line, int allow_null,
                       sr_jq **out, char *err, size_t errlen)
{
    *out = NULL;
    sr_jq *s = ex_calloc(1, sizeof *s);
    size_t plen = strlen(SR_JQ_PRELUDE) + strlen(text) + 1;
    char *prog = ex_malloc(plen);
    if (!s || !prog || !(s->origin = ex_strdup(origin)) || !(s->jq = jq_init())) {
        snprintf(err, errlen, "%s: %s: out of memory", origin, field);
        ex_free(prog);
        sr_jq_free(s);
        return -1;
    }
    s->field = field;
    s->map_line = line;
    s->allow_null = allow_null;
    snprintf(prog, plen, "%s%s", SR_JQ_PRELUDE, text);
    jq_set_error_cb(s->jq, on_error, s);
    /* No module search path: import and include find nothing. */
    jq_set_attr(s->jq, jv_string("JQ_LIBRARY_PATH"), jv_array());
    int ok = jq_compile_args(s->jq, prog, jv_object());
    ex_free(prog);
    if (!ok) {
        compile_message(s, err, errlen);
        sr_jq_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int sr_jq_compile(const sr_profile *p, sr_jq **out, char *err, size_t errlen)
{
    return sr_jq_compile_prog(p->origin, "map", p->map, p->map_line, 0, out, err, errlen);
}

void sr_jq_free(sr_jq *s)
{
    if (!s) return;
    if (s->jq) jq_teardown(&s->jq);
    ex_free(s->origin);
    ex_free(s);
}

sr_jq_input *sr_jq_input_new(const sr_profile *p, const sr_key *key, size_t max_input)
{
    sr_jq_input *in = ex_calloc(1, sizeof *in);
    if (!in) return NULL;
    in->p = p;
    in->max = max_input ? max_input : SR_JQ_INPUT_MAX;
    jv k = jv_object();
    for (size_t i = 0; i < p->nkey && i < key->n; i++) {
        k = jv_object_set(k, jv_string(p->key[i]), jv_string(key->parts[i]));
        in->bytes += strlen(key->parts[i]);
    }
    in->obj = jv_object_set(jv_object(), jv_string("key"), k);
    return in;
}

void sr_jq_input_free(sr_jq_input *in)
{
    if (!in) return;
    jv_free(in->obj);
    ex_free(in);
}

/* libjq's message of an invalid value (consumed), dumped when not a string. */
static void invalid_message(jv v, char *out, size_t outlen)
{
    jv msg = jv_invalid_get_msg(v);
    if (jv_get_kind(msg) == JV_KIND_STRING) {
        snprintf(out, outlen, "%s", jv_string_value(msg));
    } else if (jv_get_kind(msg) == JV_KIND_NULL) {
        snprintf(out, outlen, "error(null)");
    } else {
        char buf[SR_ERR_LEN];
        snprintf(out, outlen, "%s", jv_dump_string_trunc(jv_copy(msg), buf, sizeof buf));
    }
    jv_free(msg);
}

/* libjq's parse errors end with " (while parsing '<the whole text>')": not
 * for logs (size, secrets). */
static void cut_echo(char *m)
{
    char *p = strstr(m, " (while parsing '");
    if (p) *p = '\0';
}

/* Parse a text that is anybody's (an API's answer, a delivery's body) into
 * *out; -1 with the reason in m. jansson checks it first: libjq 1.6 leaks a
 * string that follows a value without a separator ({"a":"b" "c":1}).
 * Numbers are checked as reals, as jq reads them all (so an integer past
 * 2^63 is fine and 1e400 is refused). */
static int parse_text(const char *text, size_t len, jv *out, char *m, size_t mlen)
{
    json_error_t je;
    json_t *chk = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!chk) {
        snprintf(m, mlen, "%s at line %d, column %d", je.text, je.line, je.column);
        return -1;
    }
    json_decref(chk);
    jv v = jv_parse_sized(text, (int)len);
    if (!jv_is_valid(v)) {
        invalid_message(v, m, mlen);
        cut_echo(m);
        return -1;
    }
    *out = v;
    return 0;
}

sr_jq_error sr_jq_input_add(sr_jq_input *in, const char *request, const char *body, size_t len, char *err,
                            size_t errlen)
{
    const sr_request *r = sr_profile_request(in->p, request);
    if (!r) {
        snprintf(err, errlen, "%s: no request named \"%.64s\"", in->p->origin, request);
        return SR_JQ_ERR_INPUT;
    }
    if (len > in->max || in->bytes + len > in->max) {
        snprintf(err, errlen, "%s: answers of %zu bytes in all, more than the %zu allowed (at request %s)", in->p->origin,
                 in->bytes + len, in->max, r->name);
        return SR_JQ_ERR_INPUT_TOO_LARGE;
    }
    if (len > (size_t)0x7fffffff) return SR_JQ_ERR_INPUT_TOO_LARGE;
    jv v;
    char m[256];
    if (parse_text(body, len, &v, m, sizeof m) != 0) {
        ex_secret_format(err, errlen, "%s: the answer of request %s is not JSON: %s", in->p->origin, r->name, m);
        return SR_JQ_ERR_INPUT;
    }
    in->bytes += len;
    jv name = jv_string(r->name);
    if (r->paginate != SR_PAGINATE_NONE) {
        jv pages = jv_object_get(jv_copy(in->obj), jv_copy(name));
        if (jv_get_kind(pages) != JV_KIND_ARRAY) {
            jv_free(pages);
            pages = jv_array();
        }
        v = jv_array_append(pages, v);
    }
    in->obj = jv_object_set(in->obj, name, v);
    return SR_JQ_OK;
}

/* What the program must output, for messages. */
static const char *what_out(const sr_jq *s) { return s->allow_null ? "an object or null" : "a snapshot object"; }

/* Run on input (consumed). */
static sr_jq_error run_value(sr_jq *s, jv input, json_t **out, char *err, size_t errlen)
{
    char m[SR_ERR_LEN];
    *out = NULL;
    jq_start(s->jq, input, 0);
    jv v = jq_next(s->jq);
    if (!jv_is_valid(v)) {
        if (jv_invalid_has_msg(jv_copy(v))) {
            invalid_message(v, m, sizeof m);
            ex_secret_format(err, errlen, "%s: %s: %s", s->origin, s->field, m);
            return SR_JQ_ERR_RUNTIME;
        }
        jv_free(v);
        snprintf(err, errlen, "%s: %s: no output (%s is needed)%s", s->origin, s->field, what_out(s),
                 jq_halted(s->jq) ? ": the program halted" : "");
        return SR_JQ_ERR_NO_OUTPUT;
    }
    jv next = jq_next(s->jq);
    if (jv_is_valid(next) || jv_invalid_has_msg(jv_copy(next))) {
        int second = jv_is_valid(next);
        if (!second) invalid_message(next, m, sizeof m);
        else jv_free(next);
        jv_free(v);
        if (!second) {
            ex_secret_format(err, errlen, "%s: %s: %s (after a first output)", s->origin, s->field, m);
            return SR_JQ_ERR_RUNTIME;
        }
        snprintf(err, errlen, "%s: %s: more than one output (exactly one %s is needed)", s->origin, s->field,
                 s->allow_null ? "object or null" : "snapshot object");
        return SR_JQ_ERR_MANY_OUTPUTS;
    }
    jv_free(next);
    if (s->allow_null && jv_get_kind(v) == JV_KIND_NULL) {
        jv_free(v);
        return SR_JQ_OK; /* *out stays NULL: nothing to do */
    }
    if (jv_get_kind(v) != JV_KIND_OBJECT) {
        char buf[80];
        ex_secret_format(err, errlen, "%s: %s: the output is %s %s, not an object", s->origin, s->field,
                         jv_kind_name(jv_get_kind(v)), jv_dump_string_trunc(jv_copy(v), buf, sizeof buf));
        jv_free(v);
        return SR_JQ_ERR_NOT_OBJECT;
    }
    const char *why;
    *out = sr_jv_to_json(v, SR_JQ_OUTPUT_MAX, &why);
    jv_free(v);
    if (!*out) {
        snprintf(err, errlen, "%s: %s: %s", s->origin, s->field, why);
        return strcmp(why, "out of memory") == 0 ? SR_JQ_ERR_NOMEM : SR_JQ_ERR_OUTPUT;
    }
    return SR_JQ_OK;
}

sr_jq_error sr_jq_run(sr_jq *s, sr_jq_input *in, json_t **out, char *err, size_t errlen)
{
    jv input = jv_copy(in->obj);
    sr_jq_input_free(in);
    return run_value(s, input, out, err, errlen);
}

sr_jq_error sr_jq_run_text(sr_jq *s, const char *input, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > SR_JQ_INPUT_MAX) {
        snprintf(err, errlen, "%s: input of %zu bytes, more than the %u allowed", s->origin, len, SR_JQ_INPUT_MAX);
        return SR_JQ_ERR_INPUT_TOO_LARGE;
    }
    jv v;
    char m[256];
    if (parse_text(input, len, &v, m, sizeof m) != 0) {
        ex_secret_format(err, errlen, "%s: the input is not JSON: %s", s->origin, m);
        return SR_JQ_ERR_INPUT;
    }
    return run_value(s, v, out, err, errlen);
}

sr_jq_error sr_jq_run_hook(sr_jq *s, const char *event, const char *delivery, const char *body, size_t len,
                           json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > SR_JQ_INPUT_MAX) {
        snprintf(err, errlen, "%s: a payload of %zu bytes, more than the %u allowed", s->origin, len, SR_JQ_INPUT_MAX);
        return SR_JQ_ERR_INPUT_TOO_LARGE;
    }
    jv v;
    char m[256];
    if (parse_text(body, len, &v, m, sizeof m) != 0) {
        ex_secret_format(err, errlen, "the payload is not JSON: %s", m);
        return SR_JQ_ERR_INPUT;
    }
    jv in = jv_object();
    in = jv_object_set(in, jv_string("event"), event ? jv_string(event) : jv_null());
    in = jv_object_set(in, jv_string("delivery"), delivery ? jv_string(delivery) : jv_null());
    in = jv_object_set(in, jv_string("payload"), v);
    return run_value(s, in, out, err, errlen);
}

sr_jq_error sr_jq_run_json(sr_jq *s, const json_t *input, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    char *text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        snprintf(err, errlen, "%s: %s: out of memory", s->origin, s->field);
        return SR_JQ_ERR_NOMEM;
    }
    sr_jq_error rc = sr_jq_run_text(s, text, strlen(text), out, err, errlen);
    free(text);
    return rc;
}
