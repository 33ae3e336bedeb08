/* runfile/trust.h — run files are untrusted input (they are exchanged between users):
 * the structural checks runfile_open makes on every object before anything is read.
 * Internal to runfile/. */
#ifndef SS_RUNFILE_TRUST_H
#define SS_RUNFILE_TRUST_H

#include <hdf5.h>

#include "../common/error.h"

/* Most objects a run file may hold (a 1000-layer run with every dump has ~4000). */
#define RF_TRUST_MAX_LINKS 100000
/* Deflate cannot shrink data more than ~1032x: a dataset declaring more bytes than this
 * ratio times what it stores (plus RF_TRUST_SLACK for unwritten fill) is a bomb. */
#define RF_TRUST_MAX_RATIO 1100
#define RF_TRUST_SLACK ((hsize_t)1 << 20)

/* Every link of the file is a hard link (no external, soft or user-defined links: an
 * external link can name /etc/passwd or a FIFO); every dataset keeps its data inside
 * the file (no external storage, no virtual layout), uses only the filters sinkscope
 * writes (deflate, shuffle, fletcher32) and declares no more bytes than its storage can
 * hold. One line naming the file and the object otherwise. */
enum ss_status rf_trust_file(hid_t file, const char *path, struct ss_error *err);

/* The per-dataset part of rf_trust_file, for a dataset d at dset. */
enum ss_status rf_trust_dataset(hid_t d, const char *path, const char *dset, struct ss_error *err);

/* Every axis of dset (rank nd, extents dims) equals the file's own dimension scale of
 * that axis (runfile/axes.c); datasets the schema does not name pass. */
enum ss_status rf_axes_check(hid_t file, const char *path, const char *dset, int nd, const hsize_t *dims,
                             struct ss_error *err);

#endif
