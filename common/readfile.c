/* common/readfile.c — see readfile.h. */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum ss_status fail_open(const char *path, const char *what, int e, struct ss_error *err)
{
    const char *w = what ? what : "file";
    if (e == EACCES || e == EPERM)
        return ss_fail(err, SS_ERR_IO, "%s: cannot read the %s: permission denied", path, w);
    if (e == ENOENT)
        return ss_fail(err, SS_ERR_INPUT, "%s: cannot read the %s: no such file", path, w);
    return ss_fail(err, SS_ERR_IO, "%s: cannot read the %s: %s", path, w, strerror(e));
}

enum ss_status readfile_all(const char *path, size_t limit, const char *what, char **buf, size_t *len,
                            struct ss_error *err)
{
    *buf = NULL;
    *len = 0;
    const char *w = what ? what : "file";
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fail_open(path, what, errno, err);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail_open(path, what, e, err);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ss_fail(err, SS_ERR_INPUT, "%s: cannot read the %s: is a directory", path, w);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit) {
        close(fd);
        return ss_fail(err, SS_ERR_INPUT, "%s: %s of %lld bytes is over the limit of %zu MiB", path, w,
                       (long long)st.st_size, limit >> 20);
    }
    int fl = fcntl(fd, F_GETFL); /* O_NONBLOCK only kept open() from blocking on a FIFO */
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    enum ss_status s = SS_OK;
    while (b) {
        if (n == cap) {
            if (cap > limit) {
                s = ss_fail(err, SS_ERR_INPUT, "%s: %s is over the limit of %zu MiB (a device or a growing file?)",
                            path, w, limit >> 20);
                break;
            }
            size_t nc = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            char *nb = realloc(b, nc + 1);
            if (!nb) {
                s = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory reading the %s (%zu bytes)", path, w, nc);
                break;
            }
            b = nb;
            cap = nc;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            s = ss_fail(err, SS_ERR_IO, "%s: read error on the %s: %s", path, w, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!b)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory reading the %s", path, w);
    if (!s && n > limit)
        s = ss_fail(err, SS_ERR_INPUT, "%s: %s is over the limit of %zu MiB", path, w, limit >> 20);
    if (s) {
        free(b);
        return s;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return SS_OK;
}
