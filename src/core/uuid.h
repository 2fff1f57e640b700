/* uuid.h — random (version 4) UUIDs in the canonical lower-case form that
 * .NET's Guid.ToString() writes: 8-4-4-4-12 hex digits. */
#ifndef EXTRACE_CORE_UUID_H
#define EXTRACE_CORE_UUID_H
#include "core/rng.h"

#define EX_UUID_LEN 36

/* Write a v4 UUID drawn from r into out (EX_UUID_LEN + 1 bytes). */
char *ex_uuid4(ex_rng *r, char *out);
/* 1 if s is a canonical UUID (any version, either case), else 0. */
int ex_uuid_valid(const char *s);

#endif
