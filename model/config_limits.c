/* model/config_limits.c — sizes a config may declare, checked before anything is sized
 * from them (issue 14): a 700-byte config must not make the loader allocate gigabytes
 * or wrap an int. The layer bound is far above any released model (the largest have
 * ~130 layers); the products are those the forward pass keeps in an int (rows of a
 * projection) or a size_t (a weight matrix). */
#include <limits.h>
#include <stdint.h>

#include "../common/checked.h"
#include "model.h"

#define CONFIG_MAX_LAYERS 10000

enum ss_status model_config_check_limits(const struct model_config *c, const char *path, struct ss_error *err)
{
    if (c->n_layers > CONFIG_MAX_LAYERS)
        return ss_fail(err, SS_ERR_INPUT, "%s: num_hidden_layers %d is over the limit of %d (refused before "
                       "allocating anything)", path, c->n_layers, CONFIG_MAX_LAYERS);
    if (c->max_pos < 1)
        return ss_fail(err, SS_ERR_INPUT, "%s: max_position_embeddings %d must be positive", path, c->max_pos);
    int q2, kv, sq;
    size_t m;
    if (ck_mul_int(c->n_heads, c->head_dim, &q2) || ck_mul_int(q2, 2, &q2)) /* queries and gate logits */
        return ss_fail(err, SS_ERR_INPUT, "%s: num_attention_heads %d x head_dim %d is too large (over 2^30)", path,
                       c->n_heads, c->head_dim);
    if (ck_mul_int(c->n_kv_heads, c->head_dim, &kv))
        return ss_fail(err, SS_ERR_INPUT, "%s: num_key_value_heads %d x head_dim %d is too large (over 2^31)", path,
                       c->n_kv_heads, c->head_dim);
    if (ck_mul_int(c->hidden, c->hidden > c->ffn ? c->hidden : c->ffn, &sq) ||
        ck_mul_size((size_t)c->vocab, (size_t)c->hidden, &m) || m > (size_t)INT_MAX * 64)
        return ss_fail(err, SS_ERR_INPUT, "%s: hidden_size %d, intermediate_size %d, vocab_size %d are too large",
                       path, c->hidden, c->ffn, c->vocab);
    return SS_OK;
}
