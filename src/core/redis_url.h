/* redis_url.h — where a Redis server is and how to log in, from text.
 *
 * Two spellings are accepted:
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 *       The usual URL (user and password may be %-encoded; IPv6 hosts in
 *       brackets). rediss:// (TLS) is rejected: TLS is not supported.
 *
 *   HOST[:PORT][,OPTION=VALUE…]
 *       The StackExchange.Redis configuration string of the seed, e.g.
 *       "redis:6379,password=s3cret,defaultDatabase=2,abortConnect=false".
 *       Applied: password, user, defaultDatabase, connectTimeout (ms),
 *       syncTimeout (ms, the command timeout). Accepted and ignored,
 *       because they change nothing for a single plain connection:
 *       abortConnect, allowAdmin, asyncTimeout, connectRetry, keepAlive,
 *       name, configCheckSeconds, resolveDns, setlib, responseTimeout,
 *       ssl=false. ssl=true and any other option are rejected.
 *
 * The port defaults to 6379 in both forms. Parsing is pure: no sockets, no
 * name resolution. */
#ifndef EXTRACE_CORE_REDIS_URL_H
#define EXTRACE_CORE_REDIS_URL_H
#include <stddef.h>
#include <stdint.h>

#define EX_REDIS_DEFAULT_PORT 6379
#define EX_REDIS_HOST_MAX 256
#define EX_REDIS_USER_MAX 128
#define EX_REDIS_PASSWORD_MAX 256
#define EX_REDIS_ADDR_STR_MAX (EX_REDIS_HOST_MAX + 24)

typedef struct ex_redis_addr {
    char host[EX_REDIS_HOST_MAX];         /* name or IP; IPv6 without brackets */
    int port;                             /* 1–65535 */
    int db;                               /* database for SELECT; 0 = Redis' default */
    char user[EX_REDIS_USER_MAX];         /* ACL user for AUTH; "" = the default user */
    char password[EX_REDIS_PASSWORD_MAX]; /* "" = no AUTH */
    int64_t connect_timeout_ms;           /* 0 = the caller's default */
    int64_t command_timeout_ms;           /* 0 = the caller's default */
} ex_redis_addr;

/* Parse `text` into *out (fully overwritten). Returns 0, or -1 with a
 * reason in why that names the offending part (never the password). */
int ex_redis_url_parse(const char *text, ex_redis_addr *out, char *why, size_t whylen);

/* ex_opt_check_fn for options that hold a Redis address. */
int ex_redis_url_check(const char *text, char *why, size_t whylen);

/* "host:port" ("[::1]:port" for IPv6) plus "/db" when db != 0, for logs and
 * error messages; no credentials. buf holds EX_REDIS_ADDR_STR_MAX bytes. */
char *ex_redis_addr_format(const ex_redis_addr *a, char *buf, size_t len);

#endif
