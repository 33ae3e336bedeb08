/* tokenizer/tokenizer_bpe.c — BPE of one pre-token word (its bytes, or its characters with byte
 * fallback and unk), exactly as tokenizers' Word::merge_all: a min-heap of (rank, position) over adjacent pairs, lowest rank first,
 * leftmost on ties; a popped entry is stale when the pair at its position has changed since it
 * was pushed. tokenizers tests "the pair now there merges into the same id"; a changed pair always
 * spans more text, so it never makes the same token, and comparing where the pair ends is the
 * same test without a hash lookup. A per-call cache remembers the ids of words already seen. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

int id_buf_push(struct id_buf *b, int32_t id)
{
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 256;
        int32_t *v = realloc(b->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return 0;
}

/* ---- cache: word bytes -> ids, in two pools; cleared when it grows too large ---- */
#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1 << 17)

struct cache_entry {
    uint32_t hash, word_off, ids_off;
    uint16_t word_len, n_ids;
};
struct bpe_cache {
    uint32_t *slot; /* entry index + 1 */
    uint32_t mask;
    struct cache_entry *e;
    int n;
    char *words;
    size_t words_n, words_cap;
    int32_t *ids;
    size_t ids_n, ids_cap;
};

struct bpe_cache *bpe_cache_new(void)
{
    struct bpe_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->mask = CACHE_MAX_ENTRIES * 2 - 1;
    c->slot = calloc(c->mask + 1, sizeof *c->slot);
    c->e = malloc(CACHE_MAX_ENTRIES * sizeof *c->e);
    c->words_cap = (size_t)CACHE_MAX_ENTRIES * 12;
    c->words = malloc(c->words_cap);
    c->ids_cap = (size_t)CACHE_MAX_ENTRIES * 4;
    c->ids = malloc(c->ids_cap * sizeof *c->ids);
    if (!c->slot || !c->e || !c->words || !c->ids) {
        bpe_cache_free(c);
        return NULL;
    }
    return c;
}

void bpe_cache_free(struct bpe_cache *c)
{
    if (!c)
        return;
    free(c->slot);
    free(c->e);
    free(c->words);
    free(c->ids);
    free(c);
}

static void cache_clear(struct bpe_cache *c)
{
    memset(c->slot, 0, (c->mask + 1) * sizeof *c->slot);
    c->n = 0;
    c->words_n = 0;
    c->ids_n = 0;
}

static const struct cache_entry *cache_get(const struct bpe_cache *c, const char *w, size_t len, uint32_t h)
{
    for (uint32_t j = h & c->mask; c->slot[j]; j = (j + 1) & c->mask) {
        const struct cache_entry *e = &c->e[c->slot[j] - 1];
        if (e->hash == h && e->word_len == len && !memcmp(c->words + e->word_off, w, len))
            return e;
    }
    return NULL;
}

/* Best effort: a word that does not fit is simply not cached. */
static void cache_put(struct bpe_cache *c, const char *w, size_t len, uint32_t h, const int32_t *ids, int n)
{
    if (c->n == CACHE_MAX_ENTRIES || c->words_n + len > c->words_cap || c->ids_n + (size_t)n > c->ids_cap)
        cache_clear(c);
    if (len > c->words_cap || (size_t)n > c->ids_cap)
        return;
    uint32_t j = h & c->mask;
    while (c->slot[j])
        j = (j + 1) & c->mask;
    struct cache_entry *e = &c->e[c->n];
    *e = (struct cache_entry){h, (uint32_t)c->words_n, (uint32_t)c->ids_n, (uint16_t)len, (uint16_t)n};
    memcpy(c->words + c->words_n, w, len);
    memcpy(c->ids + c->ids_n, ids, (size_t)n * sizeof *ids);
    c->words_n += len;
    c->ids_n += (size_t)n;
    c->slot[j] = (uint32_t)++c->n;
}

/* ---- merge ---- */
struct symbol {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
    int32_t end;        /* index of the first symbol after this one's text; 0 once merged away */
};
struct merge {
    int32_t rank, pos, id;
    int32_t end; /* end of the pair's right symbol when pushed */
};

static int merge_less(const struct merge *a, const struct merge *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct merge *h, int *n, struct merge m)
{
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!merge_less(&m, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = m;
}

static struct merge heap_pop(struct merge *h, int *n)
{
    struct merge top = h[0], last = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && merge_less(&h[c + 1], &h[c]))
            c++;
        if (!merge_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = last;
    return top;
}

/* Word::merge_all on symbols sym[0..n); the surviving ids are appended to out. */
static int merge_word(const struct tokenizer *tk, struct symbol *sym, int n, struct merge *heap,
                      struct id_buf *out)
{
    int hn = 0;
    int32_t rank, id;
    for (int i = 0; i + 1 < n; i++)
        if (pairmap_get(&tk->merges, sym[i].id, sym[i + 1].id, &rank, &id))
            heap_push(heap, &hn, (struct merge){rank, i, id, sym[i + 1].end});
    while (hn > 0) {
        struct merge top = heap_pop(heap, &hn);
        struct symbol *cur = &sym[top.pos];
        if (!cur->end || cur->next < 0 || sym[cur->next].end != top.end)
            continue; /* stale */
        struct symbol *right = &sym[cur->next];
        cur->id = top.id;
        cur->end = right->end;
        right->end = 0;
        cur->next = right->next;
        if (right->next >= 0)
            sym[right->next].prev = top.pos;
        if (cur->prev >= 0 && pairmap_get(&tk->merges, sym[cur->prev].id, cur->id, &rank, &id))
            heap_push(heap, &hn, (struct merge){rank, cur->prev, id, cur->end});
        if (cur->next >= 0 && pairmap_get(&tk->merges, cur->id, sym[cur->next].id, &rank, &id))
            heap_push(heap, &hn, (struct merge){rank, top.pos, id, sym[cur->next].end});
    }
    for (int i = 0; i >= 0 && i < n; i = sym[i].next)
        if (id_buf_push(out, sym[i].id))
            return -1;
    return 0;
}

static void sym_add(struct symbol *sym, int *n, int32_t id)
{
    sym[*n] = (struct symbol){id, *n - 1, *n + 1, *n + 1};
    ++*n;
}

/* Byte-level words: one symbol per byte; a byte missing from the vocab is dropped, as tokenizers does
 * without an unk token. */
static int byte_symbols(const struct tokenizer *tk, const unsigned char *p, size_t len, struct symbol *sym)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        if (tk->byte_id[p[i]] >= 0)
            sym_add(sym, &n, tk->byte_id[p[i]]);
    return n;
}

/* SentencePiece-style words: one symbol per character (tokenizers' BPE::merge_word). A character
 * missing from the vocab becomes the <0xNN> tokens of its bytes when byte_fallback has them all,
 * else the unk token; consecutive unknowns share one unk with fuse_unk. As in tokenizers, a pending
 * unk is written only when the next character found in the vocab (or the end) comes, so byte
 * fallback tokens in between land before it. Without an unk token the character is dropped. */
static int char_symbols(const struct tokenizer *tk, const char *w, size_t len, struct symbol *sym)
{
    int n = 0, pending = 0;
    for (size_t i = 0; i < len;) {
        unsigned char b = (unsigned char)w[i];
        size_t cl = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; /* w is valid UTF-8 */
        int32_t id = b < 0x80 ? tk->byte_id[b] : strmap_get(&tk->vocab, w + i, cl);
        if (id >= 0) {
            if (pending)
                sym_add(sym, &n, tk->unk_id);
            pending = 0;
            sym_add(sym, &n, id);
        } else {
            size_t k = 0;
            while (tk->byte_fallback && k < cl && tk->fallback_id[(unsigned char)w[i + k]] >= 0)
                k++;
            if (tk->byte_fallback && k == cl)
                for (k = 0; k < cl; k++)
                    sym_add(sym, &n, tk->fallback_id[(unsigned char)w[i + k]]);
            else if (tk->unk_id >= 0) {
                if (pending && !tk->fuse_unk)
                    sym_add(sym, &n, tk->unk_id);
                pending = 1;
            }
        }
        i += cl;
    }
    if (pending)
        sym_add(sym, &n, tk->unk_id);
    return n;
}

/* Merges of one word (or one independent stretch of it), through the cache. */
static enum ss_status bpe_piece(const struct tokenizer *tk, struct bpe_cache *cache, const char *w, size_t len,
                                struct id_buf *out, struct ss_error *err)
{
    const unsigned char *p = (const unsigned char *)w;
    if (len == 1 && tk->byte_level) {
        if (tk->byte_id[p[0]] >= 0 && id_buf_push(out, tk->byte_id[p[0]]))
            return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
        return SS_OK;
    }
    uint32_t h = 0;
    if (cache && len <= CACHE_MAX_WORD) {
        h = tok_hash(w, len);
        const struct cache_entry *e = cache_get(cache, w, len, h);
        if (e) {
            for (int i = 0; i < e->n_ids; i++)
                if (id_buf_push(out, cache->ids[e->ids_off + i]))
                    return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
            return SS_OK;
        }
    }
    struct symbol sym_small[CACHE_MAX_WORD];
    struct merge heap_small[CACHE_MAX_WORD * 3];
    struct symbol *sym = sym_small;
    struct merge *heap = heap_small;
    /* every merge pushes at most two entries: the heap holds fewer than 3 * len */
    if (len > CACHE_MAX_WORD) {
        sym = malloc(len * sizeof *sym);
        heap = malloc(len * 3 * sizeof *heap);
        if (!sym || !heap) {
            free(sym);
            free(heap);
            return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
        }
    }
    /* a word has at most len symbols: one per byte, character or fallback byte */
    int n = tk->byte_level ? byte_symbols(tk, p, len, sym) : char_symbols(tk, w, len, sym);
    if (n)
        sym[n - 1].next = -1;
    int start = out->n;
    int rc = merge_word(tk, sym, n, heap, out);
    if (sym != sym_small) {
        free(sym);
        free(heap);
    }
    if (rc)
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
    if (cache && len <= CACHE_MAX_WORD)
        cache_put(cache, w, len, h, out->v + start, out->n - start);
    return SS_OK;
}

#define SP_SPACE "\xe2\x96\x81" /* U+2581 */

/* 1 when a character word may be cut before the ▁ at w + i (see tokenizer_impl.h, sp_cut): the
 * character before it is in the vocab on its own and never precedes ▁ inside a token. */
static int cut_before(const struct tokenizer *tk, const char *w, size_t i)
{
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)w[k] & 0xC0) == 0x80)
        k--;
    uint32_t c;
    utf8_decode(w + k, &c);
    for (int j = 0; j < tk->n_sp_keep; j++)
        if (tk->sp_keep[j] == c)
            return 0;
    return c < 0x80 ? tk->byte_id[c] >= 0 : strmap_get(&tk->vocab, w + k, i - k) >= 0;
}

enum ss_status bpe_word(const struct tokenizer *tk, struct bpe_cache *cache, const char *w, size_t len,
                        struct id_buf *out, struct ss_error *err)
{
    if (tk->ignore_merges) {
        int32_t id = strmap_get(tk->byte_level ? &tk->byte_vocab : &tk->vocab, w, len);
        if (id >= 0)
            return id_buf_push(out, id) ? ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory") : SS_OK;
    }
    if (tk->byte_level || !tk->sp_cut || len <= CACHE_MAX_WORD)
        return bpe_piece(tk, cache, w, len, out, err);
    /* a long character word (Llama 2 and Gemma have no pre-tokenizer: a whole text is one word) is
     * merged stretch by stretch, cut where no merge can cross, so the cache sees words again */
    size_t start = 0;
    for (const char *q = w + 1; (q = memmem(q, len - (size_t)(q - w), SP_SPACE, 3)); q += 3) {
        size_t i = (size_t)(q - w);
        if (!cut_before(tk, w, i))
            continue;
        enum ss_status st = bpe_piece(tk, cache, w + start, i - start, out, err);
        if (st)
            return st;
        start = i;
    }
    return bpe_piece(tk, cache, w + start, len - start, out, err);
}
