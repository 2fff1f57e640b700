/* dirlock.h — one `extrace store` per data directory.
 *
 * The store takes an exclusive POSIX record lock on <dir>/LOCK (created,
 * holding the owner's pid as text for people) before it opens the
 * database, and holds it until it exits: a second store on the same
 * directory is refused with a message naming the first one's pid (asked of
 * the kernel, F_GETLK, so a stale pid in the file cannot mislead). The OS
 * drops the lock when the process dies, so a crash leaves nothing to clean. */
#ifndef EXTRACE_STORE_DIRLOCK_H
#define EXTRACE_STORE_DIRLOCK_H
#include <stddef.h>

typedef struct sdl_lock sdl_lock;

/* Create dir and its parents as needed (mode 0755). 0, or -1 with err
 * naming the directory and the OS reason. */
int sdl_mkdir_p(const char *dir, char *err, size_t errlen);

/* Create dir if needed and lock it. The lock, or NULL with err naming the
 * directory and why: another process holds it (its pid), or the OS reason
 * (strerror) the lock file could not be made. */
sdl_lock *sdl_acquire(const char *dir, char *err, size_t errlen);

/* Release and free the lock (the file stays). NULL is ignored. */
void sdl_release(sdl_lock *l);

#endif
