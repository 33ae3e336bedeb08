/* common/outfile.c — see outfile.h. */
#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* dirname of path into buf ("." when there is no slash). */
static void dir_of(const char *path, char *buf, size_t n)
{
    const char *s = strrchr(path, '/');
    if (!s)
        snprintf(buf, n, ".");
    else if (s == path)
        snprintf(buf, n, "/");
    else
        snprintf(buf, n, "%.*s", (int)(s - path), path);
}

static const char *kind_of(mode_t m)
{
    return S_ISCHR(m) || S_ISBLK(m) ? "a device" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

enum ss_status outfile_check(const char *dest, int force, struct ss_error *err)
{
    if (!dest || !*dest)
        return ss_fail(err, SS_ERR_INPUT, "empty output path");
    if (strlen(dest) + 32 > PATH_MAX)
        return ss_fail(err, SS_ERR_INPUT, "%s: path longer than PATH_MAX (%d)", dest, PATH_MAX);
    struct stat st;
    if (lstat(dest, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return ss_fail(err, SS_ERR_INPUT, "%s: is a directory", dest);
        if (S_ISLNK(st.st_mode) && stat(dest, &st) != 0) {
            if (!force)
                return ss_fail(err, SS_ERR_INPUT, "%s: exists (a dangling symlink); use --force to replace it", dest);
        } else if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            return ss_fail(err, SS_ERR_INPUT, "%s: is %s; sinkscope replaces regular files only, even with --force",
                           dest, kind_of(st.st_mode));
        } else if (!force) {
            return ss_fail(err, SS_ERR_INPUT, "%s: exists; use --force to overwrite it", dest);
        }
    } else if (errno != ENOENT) {
        return ss_fail(err, SS_ERR_IO, "%s: %s", dest, strerror(errno));
    }
    char dir[PATH_MAX];
    dir_of(dest, dir, sizeof dir);
    if (stat(dir, &st) != 0)
        return errno == ENOENT
                   ? ss_fail(err, SS_ERR_IO, "%s: cannot write: output directory %s does not exist", dest, dir)
                   : ss_fail(err, SS_ERR_IO, "%s: cannot write: output directory %s: %s", dest, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ss_fail(err, SS_ERR_IO, "%s: output directory %s is not a directory", dest, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return ss_fail(err, SS_ERR_IO, "%s: cannot write: output directory %s is not writable", dest, dir);
    return SS_OK;
}

int outfile_tmp_name(const char *dest, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s.tmp-%d", dest, (int)getpid());
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* Without force: tmp appears at dest only if dest does not exist, atomically. */
static int link_noreplace(const char *tmp, const char *dest)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
    /* a file system without RENAME_NOREPLACE: link() also fails on an existing name */
    if (link(tmp, dest) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

enum ss_status outfile_commit(const char *tmp, const char *dest, int force, struct ss_error *err)
{
    if (!force) {
        if (link_noreplace(tmp, dest) == 0)
            return SS_OK;
        if (errno == EEXIST)
            return ss_fail(err, SS_ERR_INPUT, "%s: appeared while this command ran (another writer?); "
                           "nothing replaced, use --force to overwrite it", dest);
        return ss_fail(err, SS_ERR_IO, "%s: cannot put the output in place: %s", dest, strerror(errno));
    }
    struct stat st; /* checked again now: the name may have become a device since outfile_check */
    if (lstat(dest, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        return ss_fail(err, SS_ERR_INPUT, "%s: is %s; sinkscope replaces regular files only, even with --force",
                       dest, S_ISDIR(st.st_mode) ? "a directory" : kind_of(st.st_mode));
    if (rename(tmp, dest) != 0)
        return ss_fail(err, SS_ERR_IO, "%s: cannot put the output in place: %s", dest, strerror(errno));
    return SS_OK;
}

void outfile_clean_stale(const char *dest)
{
    char dir[PATH_MAX];
    dir_of(dest, dir, sizeof dir);
    const char *s = strrchr(dest, '/');
    const char *base = s ? s + 1 : dest;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, base, bl) || strncmp(e->d_name + bl, ".tmp-", 5))
            continue;
        char *end;
        errno = 0;
        long pid = strtol(e->d_name + bl + 5, &end, 10);
        if (*end || errno || pid <= 0 || pid > INT_MAX || pid == getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive, or not ours to judge */
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p) {
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
                unlink(p);
        }
    }
    closedir(d);
}
