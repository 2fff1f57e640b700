#include "store/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

struct sdl_lock {
    int fd; /* <dir>/LOCK, open while the lock is held */
};

int sdl_mkdir_p(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "--data-dir \"%.60s…\": path too long", dir);
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "--data-dir \"%s\": cannot create %s: %s", dir, path, strerror(errno));
            return -1;
        }
        if (!c) break;
        *p = c;
    }
    return 0;
}

sdl_lock *sdl_acquire(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    sdl_lock *l = NULL;
    int fd = -1;
    if (sdl_mkdir_p(dir, err, errlen) != 0) return NULL;
    if (snprintf(path, sizeof path, "%s/LOCK", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "--data-dir \"%.60s…\": path too long", dir);
        return NULL;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "--data-dir \"%s\": cannot open %s: %s", dir, path, strerror(errno));
        goto fail;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if ((e == EACCES || e == EAGAIN) && fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
            snprintf(err, errlen,
                     "--data-dir \"%s\" is in use by another extrace store (pid %ld holds %s); stop it, or give "
                     "this one another --data-dir", dir, (long)who.l_pid, path);
        else snprintf(err, errlen, "--data-dir \"%s\": cannot lock %s: %s", dir, path, strerror(e));
        goto fail;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        snprintf(err, errlen, "--data-dir \"%s\": cannot write %s: %s", dir, path, strerror(errno));
        goto fail;
    }
    if (!(l = ex_malloc(sizeof *l))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    l->fd = fd;
    return l;
fail:
    if (fd >= 0) close(fd);
    return NULL;
}

void sdl_release(sdl_lock *l)
{
    if (!l) return;
    close(l->fd); /* closing drops the record lock */
    ex_free(l);
}
