/* fuzz/fuzz_config.c — config.json text through model_config_parse, and the
 * derived sizes every later stage computes from an accepted config. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../model/model.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    struct model_config c;
    memset(&c, 0, sizeof c);
    struct ss_error err = {0};
    enum ss_status st = model_config_parse(&c, text, "fuzz/config.json", &err);
    fuzz_check_error(st, &err);
    if (st == SS_OK) {
        /* an accepted config must be usable: positive sizes, heads divisible into groups */
        if (c.n_layers <= 0 || c.hidden <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 ||
            c.ffn <= 0 || c.vocab <= 0 || c.n_heads % c.n_kv_heads)
            abort();
        (void)model_config_q_out(&c);
        (void)model_config_gate_dim(&c);
        (void)model_config_q_group_rows(&c);
        (void)model_config_n_params(&c);
        if (c.head_dim <= 4096) {
            float inv[2048];
            rope_inv_freq(&c.rope, c.head_dim, c.max_pos, inv);
            (void)rope_attention_factor(&c.rope, c.max_pos);
        }
    }
    free(text);
    return 0;
}
