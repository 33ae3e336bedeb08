/* runfile/runfile_int.h — what the reader's files share (not a public header):
 * the open file, its one-line failures, and the low-level reads both need. */
#ifndef SS_RUNFILE_INT_H
#define SS_RUNFILE_INT_H

#include <hdf5.h>

#include "runfile.h"

struct runfile {
    hid_t file;
    char path[4096];
};

#define RF_FAIL(rf, err, ...) rf_fail((rf)->path, err, __VA_ARGS__)

/* SS_ERR_INPUT "PATH: message". */
enum ss_status rf_fail(const char *path, struct ss_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when every component of the absolute path exists as a link. */
int rf_link_exists(hid_t file, const char *path);
/* Read a fixed-length string attribute into buf. Returns 0, -1 when the
 * attribute is not a string or cannot be read, -2 for a variable-length string. */
int rf_read_string_attr(hid_t attr, char *buf, size_t n);

#endif
