/* redis_ping.h — is a Redis there, and does it let us in? (blocking)
 *
 * For the checks a user runs before anything else (`extrace worker
 * --check`, `extrace demo --redis URL`): connect, AUTH when the URL has a
 * password, SELECT its database, PING. Blocks for at most the URL's
 * connect timeout per step (EX_REDIS_PING_TIMEOUT_MS by default). */
#ifndef EXTRACE_NET_REDIS_PING_H
#define EXTRACE_NET_REDIS_PING_H
#include <stddef.h>

#define EX_REDIS_PING_TIMEOUT_MS 2000

/* Connect to the Redis at `url` (ex_redis_url forms), AUTH when it has a
 * password, SELECT a non-default database, and PING. 0 on PONG, else -1
 * with the reason in why (naming the address, never the password). */
int ex_redis_ping(const char *url, char *why, size_t whylen);

#endif
