/* commands.h — the subcommands of the extrace binary.
 *
 * Each command's entry point gets argv with argv[0] = the command name and
 * the process environment; it returns the process exit status. */
#ifndef EXTRACE_COMMANDS_H
#define EXTRACE_COMMANDS_H

typedef int (*ex_command_fn)(int argc, char **argv, char *const *envp);

typedef struct ex_command {
    const char *name;
    const char *summary;
    ex_command_fn run;
} ex_command;

int api_main(int argc, char **argv, char *const *envp);      /* src/sim/api_cmd.c */
int generate_main(int argc, char **argv, char *const *envp); /* src/gen/generate_cmd.c */
int worker_main(int argc, char **argv, char *const *envp);   /* src/worker/worker_cmd.c */
int traceid_main(int argc, char **argv, char *const *envp);  /* src/worker/traceid_cmd.c */
int store_main(int argc, char **argv, char *const *envp);    /* src/store/store_cmd.c */
int demo_main(int argc, char **argv, char *const *envp);     /* src/demo/demo_cmd.c */
int config_doc_main(int argc, char **argv, char *const *envp); /* src/tools/config_doc_cmd.c */
int sources_main(int argc, char **argv, char *const *envp);  /* src/source/sources_cmd.c */
int profile_main(int argc, char **argv, char *const *envp);  /* src/source/profile_cmd.c */

/* The commands' option tables, for `extrace config-doc` (generate's is gen_spec() in gen/gen_config.h). */
struct ex_cmd_spec;
extern const struct ex_cmd_spec *const api_cmd_spec;     /* src/sim/api_cmd.c */
extern const struct ex_cmd_spec *const worker_cmd_spec;  /* src/worker/worker_cmd.c */
extern const struct ex_cmd_spec *const traceid_cmd_spec; /* src/worker/traceid_cmd.c */
extern const struct ex_cmd_spec *const store_cmd_spec;   /* src/store/store_cmd.c */
extern const struct ex_cmd_spec *const demo_cmd_spec;    /* src/demo/demo_cmd.c */
extern const struct ex_cmd_spec *const sources_cmd_spec; /* src/source/sources_cmd.c */
extern const struct ex_cmd_spec *const profile_check_cmd_spec; /* src/source/profile_cmd.c */

#endif
