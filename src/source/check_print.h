/* check_print.h — what `extrace profile check` prints: a profile's
 * summary and a validated snapshot as an indented tree. */
#ifndef EXTRACE_SOURCE_CHECK_PRINT_H
#define EXTRACE_SOURCE_CHECK_PRINT_H
#include <stdio.h>

#include "model/snapshot.h"
#include "source/profile.h"

/* The profile: name, description, key, base URL, auth (type and where the
 * secrets come from, never a secret), headers, requests. */
void sr_print_profile(FILE *out, const sr_profile *p);

/* The snapshot as a tree: the root (named root_name when it has no name),
 * then every node under its parent, two spaces deeper per level, each
 * with key, name, kind, status (state), times, error and attribute count. */
void sr_print_tree(FILE *out, const mdl_snapshot *s, const char *root_name);

#endif
