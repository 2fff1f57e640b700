/* siege.h — slow-client attacks on a listener, for integration tests:
 * many sockets from one loopback address, each trickling a request a
 * byte at a time, and timed single requests from a chosen source
 * address (127.0.0.2 is a different client than 127.0.0.1 to a server). */
#ifndef EXTRACE_TEST_SIEGE_H
#define EXTRACE_TEST_SIEGE_H
#include <stddef.h>

/* Raise RLIMIT_NOFILE to its hard limit (children inherit it); fails the
 * test when fewer than want descriptors are allowed. */
void sg_raise_nofile(long want);

typedef struct sg_attack {
    int *fds;          /* -1 once closed */
    int n;
    const char *bytes; /* what each socket trickles, one byte per step */
    size_t len;
    size_t step;
} sg_attack;

/* Open n non-blocking connections from source address `from` to
 * 127.0.0.1:port; each will trickle `bytes` (kept by the caller). */
void sg_open(sg_attack *a, const char *from, int port, int n, const char *bytes);
/* Send every open socket its next byte (errors ignored: refused or closed). */
void sg_trickle(sg_attack *a);
/* Trickle every 200 ms for ms milliseconds. */
void sg_trickle_for(sg_attack *a, int ms);
/* Sockets the server has closed (read returns end-of-file, a reset or an
 * answer ending in a close), checked without waiting. */
int sg_count_closed(sg_attack *a);
/* Close every socket and free a. */
void sg_close(sg_attack *a);

/* One HTTP request with libcurl from source address `from`: GET of url, or
 * with grpc set a gRPC unary call (HTTP/2 prior knowledge, POST of an
 * empty ExportTraceServiceRequest). Returns the HTTP status, 0 when no
 * answer came (refused or reset); *ms is the time it took. */
long sg_request(const char *from, const char *url, int grpc, long timeout_ms, long *ms);

#endif
