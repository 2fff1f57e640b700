/* persona_client.h — drive a simulator persona without sockets, for unit
 * tests: a sim_api on a fake clock, requests with query arguments and
 * headers, replies parsed as JSON. */
#ifndef EXTRACE_TEST_PERSONA_CLIENT_H
#define EXTRACE_TEST_PERSONA_CLIENT_H
#include <jansson.h>
#include <stdint.h>

#include "sim/persona.h"

#define PC_T0 INT64_C(1714557600000000000) /* 2024-05-01T10:00:00Z */

typedef struct pc {
    ex_clock clock;
    ex_rng rng;
    sim_api api;
    sim_reply rep;
    char body[SIM_REPLY_MAX + 1];
    const char *if_none_match; /* sent with the next requests when set */
    const char *host;          /* Host header, default 127.0.0.1:5146 */
} pc;

/* A persona's api on a fake clock at PC_T0, seeded, with this failure
 * rate and advance mode, at time scale 1. */
void pc_init(pc *c, const sim_persona *p, uint64_t seed, double failure_rate, sim_advance advance);
void pc_destroy(pc *c);
/* GET path?query ("a=1&b=2" or NULL); returns the status. */
int pc_get(pc *c, const char *path, const char *query);
/* The reply's body as JSON (fails the test if it is not); caller decrefs. */
json_t *pc_json(pc *c);
/* A reply header or NULL. */
const char *pc_header(pc *c, const char *name);
/* Parse an RFC 3339 time of a JSON member (fails the test if it is not
 * one); SIM_NO_TIME for null. */
int64_t pc_time(json_t *obj, const char *member);
/* Advance the fake clock. */
void pc_sleep(pc *c, int64_t ns);

#endif
