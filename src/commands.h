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

#endif
