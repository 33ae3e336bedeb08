/* tokenizer/tokenizer_load.c — tokenizer.json (model BPE: vocab, merges in both spellings, byte_fallback,
 * unk_token, fuse_unk, ignore_merges, added_tokens, normalizer, pre_tokenizer, decoder) and
 * tokenizer_config.json (bos/eos, add_bos_token). Every problem is one line naming the file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenizer.h"
#include "tokenizer_impl.h"
#include "../common/readfile.h"

#define TOK_MAX_ID (1 << 24)

/* Bytes a token string stands for: in a byte-level vocabulary the alphabet undone when every character
 * is in it, else the string itself (tokenizers' ByteLevel decoder does the same); otherwise what the
 * decoder makes of the token alone (decoder_piece: "▁the" -> " the", "<0x0A>" -> "\n"). */
static enum ss_status set_token(struct tokenizer *tk, int32_t id, const char *s, size_t len)
{
    char *str = tok_arena_strdup(&tk->arena, s, len);
    char *bytes = NULL, *piece = NULL;
    size_t n = len;
    if (tk->byte_level) {
        if ((bytes = tok_arena_alloc(&tk->arena, len + 1)))
            n = byte_level_unmap(s, len, bytes);
    } else if (!decoder_piece(&tk->decoder, s, len, &piece, &n)) {
        bytes = tok_arena_strdup(&tk->arena, piece, n);
        free(piece);
    }
    if (!str || !bytes)
        return SS_ERR_NOMEM;
    bytes[n] = 0;
    tk->tok_str[id] = str;
    tk->tok_str_len[id] = (uint32_t)len;
    tk->tok_bytes[id] = bytes;
    tk->tok_bytes_len[id] = (uint32_t)n;
    return SS_OK;
}

static int all_byte_level(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += (size_t)utf8_decode(s + i, &c);
        if (byte_level_byte(c) < 0)
            return 0;
    }
    return 1;
}

/* tk->sp_cut and sp_keep (tokenizer_impl.h): the characters that precede U+2581 inside some token. */
static void sp_cut_init(struct tokenizer *tk)
{
    tk->sp_cut = !tk->byte_level && strmap_get(&tk->vocab, "\xe2\x96\x81", 3) >= 0;
    for (int i = 0; tk->sp_cut && i < tk->vocab.n; i++) {
        const char *s = tk->vocab.e[i].s;
        size_t len = tk->vocab.e[i].len;
        for (const char *q = s; (q = memmem(q, len - (size_t)(q - s), "\xe2\x96\x81", 3)); q += 3) {
            if (q == s)
                continue;
            size_t k = (size_t)(q - s) - 1;
            while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
                k--;
            uint32_t c;
            utf8_decode(s + k, &c);
            int j = 0;
            while (j < tk->n_sp_keep && tk->sp_keep[j] != c)
                j++;
            if (j < tk->n_sp_keep)
                continue;
            if (tk->n_sp_keep == (int)(sizeof tk->sp_keep / sizeof tk->sp_keep[0]))
                tk->sp_cut = 0;
            else
                tk->sp_keep[tk->n_sp_keep++] = c;
        }
    }
}

static enum ss_status load_vocab(struct tokenizer *tk, const json_t *vocab, const char *f, struct ss_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)vocab, key, v) {
        json_int_t id = json_integer_value(v);
        if (!json_is_integer(v) || id < 0 || id >= TOK_MAX_ID)
            return ss_fail(err, SS_ERR_INPUT, "%s: vocab entry \"%.80s\" has no valid id", f, key);
        size_t len = strlen(key); /* jansson rejects \u0000 in keys, so strlen is the length */
        if (tk->tok_str[id])
            return ss_fail(err, SS_ERR_INPUT, "%s: vocab id %lld is given twice", f, (long long)id);
        if (set_token(tk, (int32_t)id, key, len) || strmap_put(&tk->vocab, tk->tok_str[id], len, (int32_t)id))
            return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
    }
    return SS_OK;
}

/* A merge is ["a", "b"] (tokenizers >= 0.20) or "a b" (older files). */
static enum ss_status load_merges(struct tokenizer *tk, const json_t *merges, const char *f, struct ss_error *err)
{
    char buf[1024];
    size_t n = json_array_size(merges);
    if (pairmap_init(&tk->merges, (int)n))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
    for (size_t r = 0; r < n; r++) {
        const json_t *m = json_array_get(merges, r);
        const char *a, *b;
        size_t la, lb;
        if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
            json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            la = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            lb = json_string_length(json_array_get(m, 1));
        } else if (json_is_string(m) && strchr(json_string_value(m), ' ')) {
            a = json_string_value(m);
            const char *sp = strchr(a, ' ');
            la = (size_t)(sp - a);
            b = sp + 1;
            lb = json_string_length(m) - la - 1;
        } else
            return ss_fail(err, SS_ERR_INPUT, "%s: merge %zu is neither [\"a\", \"b\"] nor \"a b\"", f, r);
        int32_t ia = strmap_get(&tk->vocab, a, la), ib = strmap_get(&tk->vocab, b, lb);
        if (ia < 0 || ib < 0)
            return ss_fail(err, SS_ERR_INPUT, "%s: merge %zu names unknown token \"%.*s\"", f, r,
                           (int)(ia < 0 ? (la > 80 ? 80 : la) : (lb > 80 ? 80 : lb)), ia < 0 ? a : b);
        char *ab = la + lb <= sizeof buf ? buf : malloc(la + lb);
        if (!ab)
            return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
        memcpy(ab, a, la);
        memcpy(ab + la, b, lb);
        int32_t im = strmap_get(&tk->vocab, ab, la + lb);
        if (im < 0)
            ss_fail(err, SS_ERR_INPUT, "%s: merge %zu makes \"%.*s\", which is not in the vocab", f, r,
                    (int)(la + lb > 80 ? 80 : la + lb), ab);
        if (ab != buf)
            free(ab);
        if (im < 0)
            return SS_ERR_INPUT;
        if (pairmap_put(&tk->merges, ia, ib, (int32_t)r, im))
            return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
    }
    return SS_OK;
}

static int cmp_added(const void *x, const void *y)
{
    const struct added_token *a = x, *b = y;
    return a->match_len != b->match_len ? b->match_len - a->match_len : a->id - b->id;
}

static enum ss_status load_added(struct tokenizer *tk, const json_t *list, const char *f, struct ss_error *err)
{
    size_t n = json_array_size(list);
    if (!n)
        return SS_OK;
    if (!(tk->added = calloc(n, sizeof *tk->added)))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(list, i);
        const json_t *c = json_object_get(o, "content");
        const json_t *jid = json_object_get(o, "id");
        if (!json_is_string(c) || !json_is_integer(jid) || json_integer_value(jid) < 0 ||
            json_integer_value(jid) >= TOK_MAX_ID)
            return ss_fail(err, SS_ERR_INPUT, "%s: added_tokens[%zu] needs a \"content\" string and an \"id\"", f, i);
        if (!json_string_length(c))
            continue; /* tokenizers ignores empty added tokens */
        struct added_token *t = &tk->added[tk->n_added++];
        t->id = (int32_t)json_integer_value(jid);
        t->len = (int)json_string_length(c);
        if (!(t->content = tok_arena_strdup(&tk->arena, json_string_value(c), (size_t)t->len)))
            return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
#define FLAG(name, dflt) (json_is_boolean(json_object_get(o, name)) ? json_is_true(json_object_get(o, name)) : (dflt))
        t->special = FLAG("special", 0);
        t->lstrip = FLAG("lstrip", 0);
        t->rstrip = FLAG("rstrip", 0);
        t->single_word = FLAG("single_word", 0);
        t->normalized = FLAG("normalized", !t->special);
#undef FLAG
    }
    return SS_OK;
}

/* Added tokens: ids, lookup map, normalized match strings, longest-first order. */
static enum ss_status index_added(struct tokenizer *tk, const char *f, struct ss_error *err)
{
    if (strmap_init(&tk->added_map, tk->n_added))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
    for (int i = 0; i < tk->n_added; i++) {
        struct added_token *t = &tk->added[i];
        if (set_token(tk, t->id, t->content, (size_t)t->len) ||
            strmap_put(&tk->added_map, tk->tok_str[t->id], (size_t)t->len, t->id))
            return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
        t->match = t->content;
        t->match_len = t->len;
        if (t->normalized) {
            char *norm;
            size_t nl;
            enum ss_status st = normalizer_apply(&tk->norm, t->content, (size_t)t->len, &norm, &nl, err);
            if (st)
                return st;
            if (norm) {
                t->match = tok_arena_strdup(&tk->arena, norm, nl);
                t->match_len = (int)nl;
                free(norm);
                if (!t->match)
                    return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
            }
            tk->has_normalized_added = 1;
        }
        if (t->match_len)
            tk->added_first[t->normalized][(unsigned char)t->match[0]] = 1;
    }
    if (tk->n_added)
        qsort(tk->added, (size_t)tk->n_added, sizeof *tk->added, cmp_added);
    return SS_OK;
}

static enum ss_status check_model(const json_t *model, const char *f, struct ss_error *err)
{
    if (!json_is_object(model))
        return ss_fail(err, SS_ERR_INPUT, "%s: no \"model\" object", f);
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "BPE"))
        return ss_fail(err, SS_ERR_INPUT, "%s: unsupported model type \"%s\" (only BPE)", f, type);
    if (!json_is_object(json_object_get(model, "vocab")))
        return ss_fail(err, SS_ERR_INPUT, "%s: model has no \"vocab\" object", f);
    if (!json_is_array(json_object_get(model, "merges")))
        return ss_fail(err, SS_ERR_INPUT, "%s: model has no \"merges\" list", f);
    const char *pre = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *suf = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((pre && *pre) || (suf && *suf))
        return ss_fail(err, SS_ERR_INPUT, "%s: continuing_subword_prefix/end_of_word_suffix are not supported", f);
    const json_t *drop = json_object_get(model, "dropout");
    if (json_is_number(drop) && json_number_value(drop) > 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: BPE dropout is not supported", f);
    return SS_OK;
}

/* Largest id + 1 over vocab and added tokens. */
static int count_ids(const json_t *vocab, const json_t *added)
{
    json_int_t max = -1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)vocab, key, v)
        if (json_is_integer(v) && json_integer_value(v) > max && json_integer_value(v) < TOK_MAX_ID)
            max = json_integer_value(v);
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (id > max && id < TOK_MAX_ID)
            max = id;
    }
    return (int)(max + 1);
}


static enum ss_status load_json(struct tokenizer *tk, json_t *root, struct ss_error *err)
{
    const char *f = tk->path;
    const json_t *model = json_object_get(root, "model");
    enum ss_status st = check_model(model, f, err);
    if (st)
        return st;
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_array(added) && !json_is_null(added))
        return ss_fail(err, SS_ERR_INPUT, "%s: \"added_tokens\" is not a list", f);
    if ((st = normalizer_parse(&tk->norm, json_object_get(root, "normalizer"), &tk->arena, f, err)) ||
        (st = pretok_parse(&tk->pretok, json_object_get(root, "pre_tokenizer"), f, err)) ||
        (st = decoder_parse(&tk->decoder, json_object_get(root, "decoder"), &tk->arena, f, err)))
        return st;
    tk->byte_level = tk->pretok.byte_level;
    tk->n_ids = count_ids(vocab, added);
    if (tk->n_ids <= 0)
        return ss_fail(err, SS_ERR_INPUT, "%s: the vocab is empty", f);
    size_t n = (size_t)tk->n_ids;
    tk->tok_str = calloc(n, sizeof *tk->tok_str);
    tk->tok_bytes = calloc(n, sizeof *tk->tok_bytes);
    tk->tok_str_len = calloc(n, sizeof *tk->tok_str_len);
    tk->tok_bytes_len = calloc(n, sizeof *tk->tok_bytes_len);
    if (!tk->tok_str || !tk->tok_bytes || !tk->tok_str_len || !tk->tok_bytes_len ||
        strmap_init(&tk->vocab, (int)json_object_size(vocab)))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
    if ((st = load_vocab(tk, vocab, f, err)))
        return st;
    tk->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    tk->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    tk->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    if (tk->ignore_merges && tk->byte_level) { /* words are bytes: look them up by the bytes tokens spell */
        if (strmap_init(&tk->byte_vocab, tk->vocab.n))
            return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
        for (int i = 0; i < tk->vocab.n; i++) {
            int32_t id = tk->vocab.e[i].id;
            if (!all_byte_level(tk->tok_str[id], tk->tok_str_len[id]))
                continue; /* no byte word spells it */
            if (strmap_put(&tk->byte_vocab, tk->tok_bytes[id], tk->tok_bytes_len[id], id))
                return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", f);
        }
    }
    for (int b = 0; b < 256; b++) {
        char u[8] = {(char)b};
        int k = tk->byte_level ? utf8_encode(byte_level_char((uint8_t)b), u) : 1;
        /* characters: byte_id is the id of each ASCII character, a shortcut past the vocab map */
        tk->byte_id[b] = tk->byte_level || b < 0x80 ? strmap_get(&tk->vocab, u, (size_t)k) : -1;
        snprintf(u, sizeof u, "<0x%02X>", b);
        tk->fallback_id[b] = tk->byte_fallback ? strmap_get(&tk->vocab, u, 6) : -1;
    }
    sp_cut_init(tk);
    const json_t *unk = json_object_get(model, "unk_token");
    tk->unk_id = json_is_string(unk) ? strmap_get(&tk->vocab, json_string_value(unk), json_string_length(unk)) : -1;

    if ((st = load_merges(tk, json_object_get(model, "merges"), f, err)) ||
        (st = load_added(tk, added, f, err)) || (st = index_added(tk, f, err)))
        return st;
    return tokenizer_config_load(tk, json_object_get(root, "post_processor"), err);
}

enum ss_status tokenizer_load(struct tokenizer **out, const char *path, struct ss_error *err)
{
    *out = NULL;
    struct tokenizer *tk = calloc(1, sizeof *tk);
    if (!tk)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    tk->bos_id = tk->eos_id = tk->default_bos = tk->unk_id = -1;
    struct stat sb;
    if (!stat(path, &sb) && S_ISDIR(sb.st_mode))
        snprintf(tk->path, sizeof tk->path, "%s/tokenizer.json", path);
    else
        snprintf(tk->path, sizeof tk->path, "%s", path);
    /* one bounded read (common/readfile.h: a directory, a device or a missing file get their
     * own message) then json_loadb: json_loadf reads a character at a time (twice as slow) */
    json_error_t je;
    char *buf = NULL;
    size_t size = 0;
    enum ss_status st = access(tk->path, F_OK) != 0
                            ? ss_fail(err, SS_ERR_IO, "%s: cannot open: %s", tk->path, strerror(errno))
                            : readfile_all(tk->path, READFILE_LIMIT_JSON, "tokenizer", &buf, &size, err);
    if (st) {
        tokenizer_free(tk);
        return st;
    }
    json_t *root = json_loadb(buf, size, 0, &je);
    free(buf);
    if (!root)
        st = ss_fail(err, SS_ERR_INPUT, "%s: not valid JSON: %s (line %d)", tk->path, je.text, je.line);
    else if (!json_is_object(root))
        st = ss_fail(err, SS_ERR_INPUT, "%s: not a JSON object", tk->path);
    else
        st = load_json(tk, root, err);
    json_decref(root);
    if (st) {
        if (st == SS_ERR_NOMEM && err && !err->msg[0])
            ss_fail(err, st, "%s: out of memory", tk->path);
        tokenizer_free(tk);
        return st;
    }
    *out = tk;
    return SS_OK;
}

void tokenizer_free(struct tokenizer *tk)
{
    if (!tk)
        return;
    free(tk->tok_str);
    free(tk->tok_str_len);
    free(tk->tok_bytes);
    free(tk->tok_bytes_len);
    strmap_free(&tk->vocab);
    strmap_free(&tk->byte_vocab);
    strmap_free(&tk->added_map);
    pairmap_free(&tk->merges);
    free(tk->added);
    pretok_free(&tk->pretok);
    tok_arena_free(&tk->arena);
    free(tk);
}
