/* tokenizer/tokenizer.c — encode (the pipeline of tokenizer_impl.h), pieces, lookups. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "tokenizer_impl.h"

struct encode_ctx {
    const struct tokenizer *tk;
    const char *text, *norm; /* the text, and the normalized piece being split (for at_start) */
    int raw_at_start;        /* the raw piece being normalized starts the text */
    struct bpe_cache *cache;
    struct pretok_scratch sc;
    struct id_buf out;
    struct ss_error *err;
};

static enum ss_status on_word(void *p, const char *w, size_t len)
{
    struct encode_ctx *c = p;
    return bpe_word(c->tk, c->cache, w, len, &c->out, c->err);
}

static enum ss_status on_token(void *p, int32_t id)
{
    struct encode_ctx *c = p;
    return id_buf_push(&c->out, id) ? ss_fail(c->err, SS_ERR_NOMEM, "tokenizer: out of memory") : SS_OK;
}

/* A normalized piece between added tokens: pre-tokenize, then BPE every word. */
static enum ss_status on_normalized_piece(void *p, const char *s, size_t len)
{
    struct encode_ctx *c = p;
    return pretok_run(&c->tk->pretok, 0, &c->sc, s, len, c->raw_at_start && s == c->norm, on_word, c, c->err);
}

/* A raw piece between non-normalized added tokens: normalize, then look for normalized ones. */
static enum ss_status on_raw_piece(void *p, const char *s, size_t len)
{
    struct encode_ctx *c = p;
    char *norm;
    size_t nl;
    enum ss_status st = normalizer_apply(&c->tk->norm, s, len, &norm, &nl, c->err);
    if (st)
        return st;
    const char *t = norm ? norm : s;
    size_t tl = norm ? nl : len;
    c->raw_at_start = s == c->text;
    c->norm = t;
    if (c->tk->has_normalized_added)
        st = added_split(c->tk, 1, t, tl, on_normalized_piece, on_token, c);
    else
        st = on_normalized_piece(c, t, tl);
    free(norm);
    return st;
}

enum ss_status tokenizer_encode(const struct tokenizer *tk, const char *text, size_t len, int lossy,
                                int32_t **ids, int *n, struct ss_error *err)
{
    *ids = NULL;
    *n = 0;
    char *fixed = NULL;
    size_t ok = utf8_valid_prefix(text, len);
    if (ok < len) {
        if (!lossy)
            return ss_fail(err, SS_ERR_INPUT, "text: invalid UTF-8 at byte offset %zu (byte 0x%02X)", ok,
                           (unsigned char)text[ok]);
        if (!(fixed = utf8_lossy(text, len, &len)))
            return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
        text = fixed;
    }
    struct encode_ctx c = {.tk = tk, .text = text, .err = err};
    enum ss_status st = pretok_scratch_init(&c.sc, tk->path, err);
    if (!st) {
        /* short texts repeat few words; without a cache (or memory for one) BPE still works */
        c.cache = len > 4096 ? bpe_cache_new() : NULL;
        st = added_split(tk, 0, text, len, on_raw_piece, on_token, &c);
        bpe_cache_free(c.cache);
        pretok_scratch_free(&c.sc);
    }
    free(fixed);
    if (st) {
        free(c.out.v);
        return st;
    }
    if (!c.out.v && !(c.out.v = malloc(sizeof *c.out.v)))
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
    *ids = c.out.v;
    *n = c.out.n;
    return SS_OK;
}

char *tokenizer_piece_len(const struct tokenizer *tk, int32_t id, size_t *len)
{
    *len = 0;
    if (id < 0 || id >= tk->n_ids || !tk->tok_bytes[id])
        return NULL;
    return utf8_lossy(tk->tok_bytes[id], tk->tok_bytes_len[id], len);
}

char *tokenizer_piece(const struct tokenizer *tk, int32_t id)
{
    size_t len;
    return tokenizer_piece_len(tk, id, &len);
}

int tokenizer_vocab_size(const struct tokenizer *tk)
{
    return tk->n_ids;
}

int32_t tokenizer_token_id(const struct tokenizer *tk, const char *piece)
{
    size_t len = strlen(piece);
    int32_t id = strmap_get(&tk->added_map, piece, len);
    return id >= 0 ? id : strmap_get(&tk->vocab, piece, len);
}

int32_t tokenizer_default_bos(const struct tokenizer *tk)
{
    return tk->default_bos;
}

int32_t tokenizer_bos_id(const struct tokenizer *tk)
{
    return tk->bos_id;
}

int32_t tokenizer_eos_id(const struct tokenizer *tk)
{
    return tk->eos_id;
}
