/* common/outfile.h — the one no-clobber rule for every command that writes a file.
 *
 * A command checks its destination before it starts (outfile_check), writes a
 * temporary "DEST.tmp-PID" beside it (outfile_tmp_name) and puts it in place at the
 * end (outfile_commit). Without --force the commit is atomic and refuses an existing
 * name (renameat2 RENAME_NOREPLACE, else link()), so two writers of one new name
 * cannot both succeed; a dangling symlink counts as existing. With --force a regular
 * file (or a symlink) is replaced; a device node, FIFO, socket or directory never is. */
#ifndef SS_COMMON_OUTFILE_H
#define SS_COMMON_OUTFILE_H

#include <stddef.h>

#include "error.h"

/* Before the work: dest may be written (its directory exists and is writable; dest is
 * absent, or force and a regular file / symlink). what: "output" or similar, unused
 * when NULL. SS_ERR_INPUT / SS_ERR_IO with one line naming dest otherwise. */
enum ss_status outfile_check(const char *dest, int force, struct ss_error *err);

/* "DEST.tmp-PID" into buf (n >= strlen(dest) + 32); -1 when it does not fit. */
int outfile_tmp_name(const char *dest, char *buf, size_t n);

/* Put the complete file tmp at dest under the rule above. On failure tmp is left
 * in place for the caller to remove; dest is untouched. */
enum ss_status outfile_commit(const char *tmp, const char *dest, int force, struct ss_error *err);

/* Remove "DEST.tmp-PID" (files or, with recursive, nothing else) left by processes
 * that no longer exist (a SIGKILLed run). Temporaries of live processes are kept. */
void outfile_clean_stale(const char *dest);

#endif
