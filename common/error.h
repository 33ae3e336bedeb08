/* common/error.h — the one error type every layer returns.
 *
 * Library code never exits: a function that can fail returns an enum ss_status
 * and fills a struct ss_error with ONE line, "FILE: problem" (no newline, no
 * program name). Only cli/ turns it into a message and an exit status.
 * This folder includes nothing from the project: every other folder may use it. */
#ifndef SS_COMMON_ERROR_H
#define SS_COMMON_ERROR_H

#include <stddef.h>

enum ss_status {
    SS_OK = 0,
    SS_ERR_INPUT,    /* bad input: file, option, data (exit status 2) */
    SS_ERR_IO,       /* the system refused: open, write, rename, disk full (exit 2) */
    SS_ERR_NOMEM,    /* allocation failed (exit 3) */
    SS_ERR_INTERNAL, /* a bug: should never happen (exit 3) */
    SS_ERR_INTERRUPTED, /* SIGINT/SIGTERM seen; work was abandoned cleanly (exit 130) */
};

struct ss_error {
    enum ss_status status;
    char msg[1024];
};

/* Set e (may be NULL) to status and a printf-formatted one-line message;
 * returns status so callers can write `return ss_fail(err, SS_ERR_INPUT, ...)`.
 * Newlines in the message are replaced by spaces. */
enum ss_status ss_fail(struct ss_error *e, enum ss_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "context: old message". Keeps the status. */
enum ss_status ss_prefix(struct ss_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void ss_error_clear(struct ss_error *e);

#endif
