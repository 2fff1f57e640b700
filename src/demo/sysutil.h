/* sysutil.h — what the demo needs from the system before its loop runs:
 * ports, programs in PATH, its own binary, a Redis that answers, the
 * children's environment, and its temp dir. All synchronous. */
#ifndef EXTRACE_DEMO_SYSUTIL_H
#define EXTRACE_DEMO_SYSUTIL_H
#include <stddef.h>

/* A TCP port on 127.0.0.1 that was free a moment ago, never one of the
 * `n` ports in `taken`; -1 on failure. */
int dm_port_pick(const int *taken, size_t n);

/* 1 when host:port can be bound now (host is a name or an address),
 * 0 when it is in use, -1 with a reason in why when host does not resolve
 * or the check itself failed. */
int dm_port_available(const char *host, int port, char *why, size_t whylen);

/* 1 when `prog` is an executable file in one of PATH's directories. */
int dm_in_path(const char *prog);

/* The path of the running binary (from /proc/self/exe) into buf; 0 or -1. */
int dm_self_path(char *buf, size_t len);

/* A copy of envp without the variables that would reconfigure the
 * children behind the demo's back (EXTRACE_*, TracingSample__*, OTEL_*),
 * with `extra` ("K=V", NULL-ended, may be NULL) appended. NULL-ended;
 * free with dm_env_free. NULL when out of memory. */
char **dm_env_make(char *const *envp, const char *const *extra);
void dm_env_free(char **env);

/* Remove dir and everything under it (no symlinks followed). 0 or -1. */
int dm_remove_tree(const char *dir);

#endif
