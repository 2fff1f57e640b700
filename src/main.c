/* extrace — trace long processes that run in someone else's system.
 * One binary, one subcommand per role. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

extern char **environ;

static const ex_command commands[] = {
    {"api", "Simulate the seed's external workflow API over HTTP", api_main},
    {"generate", "Publish WorkflowStarted events to Redis, as the seed's generator does", generate_main},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: extrace <command> [OPTIONS]\n\n"
            "extrace makes long processes that run in someone else's system (batch\n"
            "workflows, jobs, pipelines) visible as OpenTelemetry traces.\n\n"
            "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nOptions:\n"
            "  --help       Show this help and exit.\n"
            "  --version    Show the version and exit.\n\n"
            "Run 'extrace <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) return commands[i].run(2, help_argv, environ);
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("extrace %s\n", EXTRACE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, cmd) == 0) return commands[i].run(argc - 1, argv + 1, environ);
    fprintf(stderr, "extrace: unknown command \"%s\" (try extrace --help)\n", cmd);
    return 2;
}
