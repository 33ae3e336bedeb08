/* report/outfile.c — the destination rule of every sinkscope writer, for the page:
 * checked before the work, then the complete DEST.tmp-PID is linked into place
 * (link() fails on an existing name, so no clobbering even between two writers)
 * or, with force, renamed over a regular file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report_int.h"

enum ss_status report_out_check(const char *dest, int force, struct ss_error *err)
{
    struct stat st;
    if (lstat(dest, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return ss_fail(err, SS_ERR_IO, "%s: is a directory", dest);
        if (!force)
            return ss_fail(err, SS_ERR_IO, "%s: exists; use --force to overwrite it", dest);
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
            return ss_fail(err, SS_ERR_IO, "%s: not a regular file; refusing to replace it", dest);
    }
    char dir[4096];
    const char *slash = strrchr(dest, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", slash == dest ? 1 : (int)(slash - dest), dest);
    else
        snprintf(dir, sizeof dir, ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ss_fail(err, SS_ERR_IO, "%s: cannot write: directory %s does not exist", dest, dir);
    if (access(dir, W_OK) != 0)
        return ss_fail(err, SS_ERR_IO, "%s: cannot write: %s", dest, strerror(errno));
    return SS_OK;
}

enum ss_status report_out_commit(const char *tmp, const char *dest, int force, struct ss_error *err)
{
    if (force) {
        if (rename(tmp, dest) != 0)
            return ss_fail(err, SS_ERR_IO, "%s: cannot rename into place: %s", dest, strerror(errno));
        return SS_OK;
    }
    if (link(tmp, dest) != 0)
        return ss_fail(err, SS_ERR_IO, "%s: %s", dest,
                       errno == EEXIST ? "exists (written meanwhile); use --force to overwrite it" : strerror(errno));
    unlink(tmp);
    return SS_OK;
}
