/* extrace — trace long processes that run in someone else's system.
 * One binary, one subcommand per role. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/mem.h"
#include "core/wrap.h"

extern char **environ;

static const ex_command commands[] = {
    {"api", "Simulate the seed's external workflow API over HTTP", api_main},
    {"generate", "Publish WorkflowStarted events to Redis, as the seed's generator does", generate_main},
    {"worker", "Watch workflows through the external API and export their traces", worker_main},
    {"traceid", "Print the trace id of a workflow (32 hex digits)", traceid_main},
    {"store", "Embedded trace store: OTLP in, SQLite, Tempo-style query API and web UI", store_main},
    {"demo", "Run the whole system locally: Redis, store + web UI, API simulator, worker, generator", demo_main},
    {"sources", "List the built-in source profiles: their names, descriptions and keys", sources_main},
    {"profile", "Check a source profile: load it, compile its jq program, run it on recorded answers", profile_main},
    {"config-doc", "Print docs/configuration.md: every command's options, from their tables", config_doc_main},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: extrace <command> [OPTIONS]\n\n"
            "extrace makes long processes that run in someone else's system (batch\n"
            "workflows, jobs, pipelines) visible as OpenTelemetry traces.\n\n"
            "Commands:\n");
    int width = ex_wrap_width(out);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        int n = fprintf(out, "  %-12s ", commands[i].name);
        ex_wrap(out, commands[i].summary, n, n, width);
    }
    fprintf(out,
            "\nOptions:\n"
            "  --help, -h    Show this help and exit.\n"
            "  --version, -V Show the version and exit.\n\n"
            "Run 'extrace <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    json_set_alloc_funcs(ex_malloc, ex_free); /* jansson allocates through our wrapper too */
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
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("extrace %s\n", EXTRACE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, cmd) == 0) return commands[i].run(argc - 1, argv + 1, environ);
    fprintf(stderr, "extrace: unknown command \"%s\" (try extrace --help)\n", cmd);
    return 2;
}
