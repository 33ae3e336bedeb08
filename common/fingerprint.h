/* common/fingerprint.h — what a file is, not what it is called: size, modification time
 * (ns) and a hash of its first bytes (a safetensors header with every tensor's dtype,
 * shape and offsets). `run --resume` reuses finished sequences only when the weights
 * behind the path are the same ones (issue 14: the path alone let changed weights in). */
#ifndef SS_COMMON_FINGERPRINT_H
#define SS_COMMON_FINGERPRINT_H

#include <stdint.h>

/* Bytes hashed from the start of each file. */
#define FINGERPRINT_HEAD_BYTES ((size_t)1 << 20)

/* Fold path's size, mtime and head hash into *h (FNV-1a 64; start from FINGERPRINT_SEED).
 * A file that cannot be read folds in its errno instead (and so differs from a readable one). */
#define FINGERPRINT_SEED 0xcbf29ce484222325ull
void fingerprint_file(const char *path, uint64_t *h);

/* The fingerprint of a checkpoint directory: every *.safetensors and *.json file in it,
 * in name order. */
uint64_t fingerprint_dir(const char *dir);

#endif
