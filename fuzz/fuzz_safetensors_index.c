/* fuzz/fuzz_safetensors_index.c — model.safetensors.index.json of a sharded
 * checkpoint (st_open_dir), next to two valid shards written once:
 * a.safetensors {"x": F32 [2], "y": BF16 [3]} and b.safetensors {"z": F16 [1]}. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../model/safetensors.h"
#include "fuzz_util.h"

static void write_shard(const char *dir, const char *name, const char *hdr, size_t data_len)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t hl = strlen(hdr);
    uint8_t buf[512] = {0};
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hl + i] = (uint8_t)(i * 37 + 1);
    fuzz_write(path, buf, 8 + hl + data_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_dir("stidx");
    static int ready;
    if (!ready) {
        write_shard(dir, "a.safetensors",
                    "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"y\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}", 14);
        write_shard(dir, "b.safetensors", "{\"z\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2);
        ready = 1;
    }
    char path[400];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    fuzz_write(path, data, size);
    struct st_set s = {0};
    struct ss_error err = {0};
    enum ss_status st = st_open_dir(&s, dir, &err);
    fuzz_check_error(st, &err);
    if (st == SS_OK) {
        for (int i = 0; i < s.n_tensors; i++) {
            float v[4];
            struct ss_error e2 = {0};
            if (st_numel(&s.tensors[i]) <= 4)
                fuzz_check_error(st_read_f32(&s, &s.tensors[i], v, NULL, &e2), &e2);
            if (!st_path(&s, &s.tensors[i]))
                abort();
        }
        st_close(&s);
    }
    return 0;
}
