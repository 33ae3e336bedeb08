/* common/readfile.h — the one way to read a whole file: with a size limit.
 *
 * Reads at most `limit` bytes and refuses more, so a device (/dev/zero), a FIFO fed
 * for ever or a huge file costs at most limit + 1 bytes of memory, never what the
 * input claims. A directory, an unreadable file and a missing one each get their own
 * message naming the path. The buffer is NUL-terminated (one byte past *len). */
#ifndef SS_COMMON_READFILE_H
#define SS_COMMON_READFILE_H

#include <stddef.h>

#include "error.h"

/* Limits the callers use (one place). */
#define READFILE_LIMIT_TEXT ((size_t)64 << 20)     /* one prompt (-f), a token-id list (@FILE) */
#define READFILE_LIMIT_CORPUS ((size_t)1 << 30)    /* --corpus: split into windows, so larger */
#define READFILE_LIMIT_JSON ((size_t)512 << 20)    /* tokenizer.json, config.json, index files */

/* what names the file's role in messages ("prompt file", "tokenizer"), may be NULL. */
enum ss_status readfile_all(const char *path, size_t limit, const char *what, char **buf, size_t *len,
                            struct ss_error *err);

#endif
