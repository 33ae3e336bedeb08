/* fuzz/fuzz_util.h — helpers shared by the libFuzzer harnesses (header-only).
 * Harnesses that need a file write the input to a per-process temp path under
 * /tmp; a harness aborts only on a broken contract (a crash is the finding). */
#ifndef SS_FUZZ_UTIL_H
#define SS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/error.h"

/* A per-process directory /tmp/ssfuzz-TAG-PID (created once). */
static inline const char *fuzz_dir(const char *tag)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/ssfuzz-%s-%d", tag, (int)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

/* Write data[size] to path (whole file); aborts if the system refuses (not a finding). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(path);
        abort();
    }
}

/* The library contract: a failure carries exactly one non-empty line. */
static inline void fuzz_check_error(enum ss_status s, const struct ss_error *e)
{
    if (s == SS_OK)
        return;
    if (e->status != s || !e->msg[0] || strchr(e->msg, '\n')) {
        fprintf(stderr, "fuzz: broken error contract (status %d/%d, msg '%s')\n", (int)s, (int)e->status, e->msg);
        abort();
    }
}

#endif
