/* sysutil.c — ports, PATH, Redis PING, environment and temp dir helpers. */
#include "demo/sysutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mem.h"


static int ephemeral_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

int dm_port_pick(const int *taken, size_t n)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int port = ephemeral_port(), dup = 0;
        if (port < 0) return -1;
        for (size_t i = 0; i < n; i++) dup |= taken[i] == port;
        if (!dup) return port;
    }
    return -1;
}

int dm_port_available(const char *host, int port, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "host \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol), free_now = -1;
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
    } else {
        /* The servers set SO_REUSEADDR too: a port in TIME_WAIT counts as free. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, res->ai_addr, res->ai_addrlen) == 0) free_now = 1;
        else if (errno == EADDRINUSE || errno == EACCES) free_now = 0;
        else snprintf(why, whylen, "bind %s:%d: %s", host, port, strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    return free_now;
}

int dm_in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < sizeof dir - 2 - strlen(prog)) {
            snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, prog);
            if (access(dir, X_OK) == 0) return 1;
        }
        path += n + (path[n] == ':');
    }
    return 0;
}

int dm_self_path(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0 || (size_t)n >= len - 1) return -1;
    buf[n] = '\0';
    return 0;
}

static int reserved(const char *kv)
{
    return strncmp(kv, "EXTRACE_", 8) == 0 || strncmp(kv, "TracingSample__", 15) == 0 || strncmp(kv, "OTEL_", 5) == 0;
}

char **dm_env_make(char *const *envp, const char *const *extra)
{
    size_t n = 0, m = 0;
    while (envp && envp[n]) n++;
    while (extra && extra[m]) m++;
    char **env = ex_calloc(n + m + 1, sizeof *env);
    if (!env) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (!reserved(envp[i]) && !(env[o++] = ex_strdup(envp[i]))) goto fail;
    for (size_t i = 0; i < m; i++)
        if (!(env[o++] = ex_strdup(extra[i]))) goto fail;
    return env;
fail:
    dm_env_free(env);
    return NULL;
}

void dm_env_free(char **env)
{
    if (!env) return;
    for (size_t i = 0; env[i]; i++) ex_free(env[i]);
    ex_free(env);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int dm_remove_tree(const char *dir)
{
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
