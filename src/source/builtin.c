/* builtin.c — looking up the built-in profiles (builtin.h). */
#include "source/builtin.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const sr_builtin *sr_builtin_find(const char *name)
{
    for (size_t i = 0; i < sr_nbuiltins; i++)
        if (strcmp(sr_builtins[i].name, name) == 0) return &sr_builtins[i];
    return NULL;
}

int sr_profile_load_any(const char *name_or_path, sr_profile **out, char *err, size_t errlen)
{
    struct stat st;
    *out = NULL;
    if (stat(name_or_path, &st) == 0 || strchr(name_or_path, '/')) return sr_profile_load_file(name_or_path, out, err, errlen);
    const sr_builtin *b = sr_builtin_find(name_or_path);
    if (!b) {
        char names[512] = "";
        size_t o = 0;
        for (size_t i = 0; i < sr_nbuiltins && o < sizeof names; i++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", sr_builtins[i].name);
        snprintf(err, errlen, "%.200s: no such file, and no built-in profile of that name (%s)", name_or_path, names);
        return -1;
    }
    char origin[SR_NAME_MAX + 16];
    snprintf(origin, sizeof origin, "builtin:%s", b->name);
    return sr_profile_load_string(origin, b->text, b->len, out, err, errlen);
}
