/* rng.h — the random source, injectable and reproducible.
 *
 * xoshiro256** seeded through splitmix64: fast, good statistical quality,
 * not for secrets. A fixed seed gives the same sequence on every machine. */
#ifndef EXTRACE_CORE_RNG_H
#define EXTRACE_CORE_RNG_H
#include <stdint.h>

typedef struct ex_rng {
    uint64_t s[4];
} ex_rng;

void ex_rng_seed(ex_rng *r, uint64_t seed);
/* Seed from the operating system's entropy (getrandom); returns the seed used. */
uint64_t ex_rng_seed_random(ex_rng *r);
uint64_t ex_rng_next(ex_rng *r);
/* Parse a --seed value: a decimal integer from 0 to 2^64-1, no sign.
 * 0, or -1 when it is not one. */
int ex_seed_parse(const char *text, uint64_t *out);
/* Uniform integer in [lo, hi) without modulo bias; returns lo when hi <= lo
 * (like .NET's Random.Next(min, max) with min == max). */
int64_t ex_rng_range(ex_rng *r, int64_t lo, int64_t hi);
/* Uniform double in [0, 1). */
double ex_rng_double(ex_rng *r);

#endif
