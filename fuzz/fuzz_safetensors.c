/* fuzz/fuzz_safetensors.c — one .safetensors file: header parse and validation
 * (st_open_file), then every convertible tensor read out as float32. */
#include <stdint.h>
#include <stdlib.h>

#include "../model/safetensors.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", fuzz_dir("st"));
    fuzz_write(path, data, size);
    struct st_set s = {0};
    struct ss_error err = {0};
    enum ss_status st = st_open_file(&s, path, &err);
    fuzz_check_error(st, &err);
    if (st == SS_OK) {
        for (int i = 0; i < s.n_tensors; i++) {
            const struct st_tensor *t = &s.tensors[i];
            if (st_find(&s, t->name) == NULL)
                abort(); /* every listed tensor must be found by name */
            uint64_t nbytes = t->end - t->begin;
            if (t->end < t->begin || nbytes > size)
                abort(); /* validated offsets lie inside the file */
            void *raw = malloc(nbytes ? nbytes : 1);
            st_read_raw(&s, t, raw);
            free(raw);
            uint64_t n = st_numel(t);
            if (n > (1u << 22))
                continue;
            float *dst = malloc((n ? n : 1) * sizeof *dst);
            size_t bad = 0;
            struct ss_error e2 = {0};
            fuzz_check_error(st_read_f32(&s, t, dst, &bad, &e2), &e2);
            free(dst);
        }
        st_close(&s);
    }
    return 0;
}
