/* builtin.h — the profiles compiled into the binary: every profiles/NAME.yaml
 * of the source tree, embedded at build time by cmake/profiles.cmake
 * (`extrace sources` lists them). A built-in profile loads like a file,
 * its messages naming "builtin:NAME". */
#ifndef EXTRACE_SOURCE_BUILTIN_H
#define EXTRACE_SOURCE_BUILTIN_H
#include <stddef.h>

#include "source/profile.h"

typedef struct sr_builtin {
    const char *name; /* the file name without .yaml */
    const char *text; /* the YAML, NUL-terminated */
    size_t len;       /* bytes of text */
} sr_builtin;

/* The table, sorted by name (generated: build/profiles-gen/builtin_profiles.c). */
extern const sr_builtin sr_builtins[];
extern const size_t sr_nbuiltins;

/* The built-in profile named name, or NULL. */
const sr_builtin *sr_builtin_find(const char *name);

/* Load a profile by "NAME|FILE": an existing file at that path, else a
 * built-in name; neither is an error listing the built-in names. The same
 * contract as sr_profile_load_string. */
int sr_profile_load_any(const char *name_or_path, sr_profile **out, char *err, size_t errlen);

#endif
