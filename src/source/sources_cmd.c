/* sources_cmd.c — `extrace sources`: the built-in profiles, each with its
 * description and key. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/config.h"
#include "core/wrap.h"
#include "source/builtin.h"

static const ex_cmd_spec spec = {
    "sources",
    "List the built-in source profiles: their names, descriptions and keys",
    "Every built-in profile (compiled into the binary from profiles/*.yaml of the source tree), with\n"
    "the key that names one of its workflows. `extrace worker --source NAME` uses one; `extrace\n"
    "profile check NAME` shows it in full. A profile of your own is a YAML file: see docs/sources.md.",
    NULL, 0, 0, NULL, 0,
};
const ex_cmd_spec *const sources_cmd_spec = &spec;

int sources_main(int argc, char **argv, char *const *envp)
{
    ex_cfg_result res;
    int status = 0;
    int rc = ex_cfg_parse(&spec, NULL, argc, argv, envp, stdout, &res);
    if (rc == EX_CFG_ERROR) {
        fprintf(stderr, "extrace sources: %s\n", res.error);
        status = 2;
    } else if (rc == EX_CFG_OK) {
        int width = ex_wrap_width(stdout);
        for (size_t i = 0; i < sr_nbuiltins; i++) {
            sr_profile *p;
            char err[SR_ERR_LEN], key[SR_KEY_PARTS_MAX * (SR_NAME_MAX + 1) + 1];
            if (sr_profile_load_string(sr_builtins[i].name, sr_builtins[i].text, sr_builtins[i].len, &p, err, sizeof err) != 0) {
                fprintf(stderr, "extrace sources: built-in profile %s\n", err); /* a build that ships a broken profile */
                status = 1;
                continue;
            }
            int n = printf("%-16s ", p->name);
            char line[SR_TEXT_MAX + sizeof key + 16];
            snprintf(line, sizeof line, "%s (key: %s)", *p->description ? p->description : "-",
                     sr_profile_key_format(p, key, sizeof key));
            ex_wrap(stdout, line, n, 17, width);
            sr_profile_free(p);
        }
    }
    ex_cfg_result_free(&res);
    return status;
}
