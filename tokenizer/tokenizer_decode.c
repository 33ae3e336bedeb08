/* tokenizer/tokenizer_decode.c — the "decoder" of tokenizer.json (ByteLevel, Replace with a String
 * pattern, ByteFallback, Fuse, Strip, Metaspace, Sequence) and tokenizer_decode. As tokenizers does
 * it, the token strings (added tokens included) go through each step of the chain as a list, and
 * the list is joined at the end. A decoder that is exactly ByteLevel takes a shortcut: the bytes of
 * the tokens, joined. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "tokenizer_impl.h"

static enum ss_status literal(const json_t *v, const char *what, const char *file, const char **s, size_t *len,
                              struct ss_error *err)
{
    if (!json_is_string(v))
        return ss_fail(err, SS_ERR_INPUT, "%s: decoder %s is not a string", file, what);
    *s = json_string_value(v);
    *len = json_string_length(v);
    return SS_OK;
}

static int one_char(const char *s, size_t len)
{
    uint32_t c;
    return len && len <= 4 && utf8_valid_prefix(s, len) == len && (size_t)utf8_decode(s, &c) == len;
}

static enum ss_status parse_step(struct dec_step *st, const char *type, const json_t *j, const char *file,
                                 struct ss_error *err)
{
    enum ss_status r = SS_OK;
    if (!strcmp(type, "ByteLevel"))
        st->kind = DEC_KIND_BYTE_LEVEL;
    else if (!strcmp(type, "ByteFallback"))
        st->kind = DEC_KIND_BYTE_FALLBACK;
    else if (!strcmp(type, "Fuse"))
        st->kind = DEC_KIND_FUSE;
    else if (!strcmp(type, "Replace")) {
        const json_t *pat = json_object_get(j, "pattern");
        st->kind = DEC_KIND_REPLACE;
        if (json_object_get(pat, "Regex"))
            return ss_fail(err, SS_ERR_INPUT, "%s: decoder Replace with a Regex pattern is not supported (only String)",
                           file);
        if ((r = literal(json_object_get(pat, "String"), "Replace pattern", file, &st->pat, &st->pat_len, err)) ||
            (r = literal(json_object_get(j, "content"), "Replace content", file, &st->str, &st->str_len, err)))
            return r;
        if (!st->pat_len)
            return ss_fail(err, SS_ERR_INPUT, "%s: decoder Replace with an empty pattern", file);
    } else if (!strcmp(type, "Strip")) {
        const json_t *start = json_object_get(j, "start"), *stop = json_object_get(j, "stop");
        st->kind = DEC_KIND_STRIP;
        if ((r = literal(json_object_get(j, "content"), "Strip content", file, &st->pat, &st->pat_len, err)))
            return r;
        if (!one_char(st->pat, st->pat_len) || !json_is_integer(start) || !json_is_integer(stop) ||
            json_integer_value(start) < 0 || json_integer_value(stop) < 0 || json_integer_value(start) > 1 << 20 ||
            json_integer_value(stop) > 1 << 20)
            return ss_fail(err, SS_ERR_INPUT, "%s: decoder Strip needs one \"content\" character and \"start\"/\"stop\" counts",
                           file);
        st->start = (int)json_integer_value(start);
        st->stop = (int)json_integer_value(stop);
    } else if (!strcmp(type, "Metaspace")) {
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        st->kind = DEC_KIND_METASPACE;
        if ((r = literal(json_object_get(j, "replacement"), "Metaspace replacement", file, &st->pat, &st->pat_len, err)))
            return r;
        if (!one_char(st->pat, st->pat_len))
            return ss_fail(err, SS_ERR_INPUT, "%s: decoder Metaspace \"replacement\" is not one character", file);
        if (!scheme)
            st->prepend = json_is_false(json_object_get(j, "add_prefix_space")) ? PREPEND_NEVER : PREPEND_ALWAYS;
        else if (!strcmp(scheme, "never"))
            st->prepend = PREPEND_NEVER;
        else if (!strcmp(scheme, "always") || !strcmp(scheme, "first"))
            st->prepend = PREPEND_ALWAYS; /* the decoder treats both alike */
        else
            return ss_fail(err, SS_ERR_INPUT, "%s: unsupported Metaspace prepend_scheme \"%s\"", file, scheme);
    } else
        return ss_fail(err, SS_ERR_INPUT, "%s: unsupported decoder type \"%s\"", file, type);
    return SS_OK;
}

static enum ss_status parse_one(struct decoder *d, const json_t *j, struct tok_arena *arena, const char *file,
                                int depth, struct ss_error *err)
{
    if (!j || json_is_null(j))
        return SS_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return ss_fail(err, SS_ERR_INPUT, "%s: decoder has no \"type\"", file);
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(j, "decoders");
        if (!json_is_array(list) || depth > 4)
            return ss_fail(err, SS_ERR_INPUT, "%s: decoder Sequence without a \"decoders\" list", file);
        for (size_t i = 0; i < json_array_size(list); i++) {
            enum ss_status st = parse_one(d, json_array_get(list, i), arena, file, depth + 1, err);
            if (st)
                return st;
        }
        return SS_OK;
    }
    if (d->n == TOK_MAX_DEC)
        return ss_fail(err, SS_ERR_INPUT, "%s: more than %d decoders", file, TOK_MAX_DEC);
    struct dec_step *st = &d->step[d->n];
    memset(st, 0, sizeof *st);
    enum ss_status r = parse_step(st, type, j, file, err);
    if (r)
        return r;
    if ((st->pat && !(st->pat = tok_arena_strdup(arena, st->pat, st->pat_len))) ||
        (st->str && !(st->str = tok_arena_strdup(arena, st->str, st->str_len))))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", file);
    d->n++;
    return SS_OK;
}

enum ss_status decoder_parse(struct decoder *d, const json_t *j, struct tok_arena *arena, const char *file,
                             struct ss_error *err)
{
    memset(d, 0, sizeof *d);
    enum ss_status r = parse_one(d, j, arena, file, 0, err);
    d->byte_level = d->n == 1 && d->step[0].kind == DEC_KIND_BYTE_LEVEL;
    return r;
}

/* ---- a list of token strings, as the chain passes it along ---- */
struct str {
    char *s;
    size_t len, cap;
};
struct str_list {
    struct str *v;
    int n;
};

static int str_add(struct str *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s)
            return -1;
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

static void list_free(struct str_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i].s);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* 1 and the byte when t is "<0xNN>" (hex digits in either case, as u8::from_str_radix reads them). */
static int fallback_byte(const char *t, size_t len, int *b)
{
    if (len != 6 || memcmp(t, "<0x", 3) || t[5] != '>')
        return 0;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = t[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v * 16 + d;
    }
    *b = v;
    return 1;
}

/* One token through a per-token step (Replace, Strip, Metaspace as token `index`); appends to out. */
static int token_step(const struct dec_step *st, const char *s, size_t len, int index, struct str *out)
{
    size_t i = 0, end = len;
    if (st->kind == DEC_KIND_STRIP) {
        for (int k = 0; k < st->start && i + st->pat_len <= end && !memcmp(s + i, st->pat, st->pat_len); k++)
            i += st->pat_len;
        for (int k = 0; k < st->stop && end >= i + st->pat_len && !memcmp(s + end - st->pat_len, st->pat, st->pat_len);
             k++)
            end -= st->pat_len;
        return str_add(out, s + i, end - i);
    }
    int drop = st->kind == DEC_KIND_METASPACE && index == 0 && st->prepend != PREPEND_NEVER;
    const char *with = st->kind == DEC_KIND_METASPACE ? " " : st->str;
    size_t with_len = st->kind == DEC_KIND_METASPACE ? (drop ? 0 : 1) : st->str_len;
    while (i < len) {
        const char *q = memmem(s + i, len - i, st->pat, st->pat_len);
        size_t stop = q ? (size_t)(q - s) : len;
        if (str_add(out, s + i, stop - i) || (q && str_add(out, with, with_len)))
            return -1;
        i = q ? stop + st->pat_len : len;
    }
    return !out->s && str_add(out, "", 0) ? -1 : 0;
}

/* Appends the bytes of a run of n <0xNN> tokens as one token, or n U+FFFD tokens when not UTF-8. */
static int flush_bytes(struct str_list *out, const char *bytes, int n)
{
    if (!n)
        return 0;
    int ok = utf8_valid_prefix(bytes, (size_t)n) == (size_t)n;
    for (int k = 0; k < (ok ? 1 : n); k++) {
        struct str t = {0};
        if (ok ? str_add(&t, bytes, (size_t)n) : str_add(&t, "\xef\xbf\xbd", 3))
            return -1;
        out->v[out->n++] = t;
    }
    return 0;
}

/* One step over the whole list; in is consumed. */
static int list_step(const struct dec_step *st, struct str_list *in, struct str_list *out)
{
    int cap = in->n ? in->n : 1;
    if (!(out->v = calloc((size_t)cap, sizeof *out->v)))
        return -1;
    out->n = 0;
    if (st->kind == DEC_KIND_FUSE || st->kind == DEC_KIND_BYTE_LEVEL) {
        struct str t = {0};
        for (int i = 0; i < in->n; i++) {
            char *b = st->kind == DEC_KIND_BYTE_LEVEL ? malloc(in->v[i].len + 1) : NULL;
            size_t bl = b ? byte_level_unmap(in->v[i].s, in->v[i].len, b) : 0;
            int bad = st->kind == DEC_KIND_BYTE_LEVEL ? !b || str_add(&t, b, bl) : str_add(&t, in->v[i].s, in->v[i].len);
            free(b);
            if (bad) {
                free(t.s);
                return -1;
            }
        }
        if (!t.s && str_add(&t, "", 0))
            return -1;
        if (st->kind == DEC_KIND_BYTE_LEVEL) {
            size_t n;
            char *fixed = utf8_lossy(t.s ? t.s : "", t.len, &n);
            free(t.s);
            if (!fixed)
                return -1;
            t = (struct str){fixed, n, n + 1};
        }
        out->v[out->n++] = t;
        return 0;
    }
    if (st->kind == DEC_KIND_BYTE_FALLBACK) {
        char *run = malloc((size_t)in->n + 1);
        int nrun = 0, b;
        if (!run)
            return -1;
        for (int i = 0; i < in->n; i++) {
            if (fallback_byte(in->v[i].s, in->v[i].len, &b)) {
                run[nrun++] = (char)b;
                continue;
            }
            if (flush_bytes(out, run, nrun)) {
                free(run);
                return -1;
            }
            nrun = 0;
            out->v[out->n++] = in->v[i];
            in->v[i].s = NULL;
        }
        int rc = flush_bytes(out, run, nrun);
        free(run);
        return rc;
    }
    for (int i = 0; i < in->n; i++) {
        struct str t = {0};
        if (token_step(st, in->v[i].s, in->v[i].len, i, &t)) {
            free(t.s);
            return -1;
        }
        out->v[out->n++] = t;
    }
    return 0;
}

/* The chain on the token strings of ids; *text joins the result (with " " when there is no decoder). */
static enum ss_status decode_chain(const struct tokenizer *tk, const int32_t *ids, int n, char **text,
                                   struct ss_error *err)
{
    struct str_list l = {calloc((size_t)n + 1, sizeof *l.v), 0};
    if (!l.v)
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
    int bad = 0;
    for (int i = 0; i < n && !bad; i++)
        bad = str_add(&l.v[l.n++], tk->tok_str[ids[i]], tk->tok_str_len[ids[i]]);
    for (int k = 0; k < tk->decoder.n && !bad; k++) {
        struct str_list next = {0};
        bad = list_step(&tk->decoder.step[k], &l, &next);
        list_free(&l);
        l = next;
    }
    struct str all = {0};
    for (int i = 0; i < l.n && !bad; i++)
        bad = (i && !tk->decoder.n && str_add(&all, " ", 1)) || str_add(&all, l.v[i].s, l.v[i].len);
    list_free(&l);
    size_t len;
    *text = bad ? NULL : utf8_lossy(all.s ? all.s : "", all.len, &len);
    free(all.s);
    return *text ? SS_OK : ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
}

enum ss_status tokenizer_decode(const struct tokenizer *tk, const int32_t *ids, int n, char **text,
                                struct ss_error *err)
{
    *text = NULL;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tk->n_ids || !tk->tok_bytes[ids[i]])
            return ss_fail(err, SS_ERR_INPUT, "decode: token %d has unknown id %d", i, (int)ids[i]);
        total += tk->tok_bytes_len[ids[i]];
    }
    if (!tk->decoder.byte_level && (tk->decoder.n || !tk->byte_level))
        return decode_chain(tk, ids, n, text, err);
    char *buf = malloc(total + 1);
    if (!buf)
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        memcpy(buf + o, tk->tok_bytes[ids[i]], tk->tok_bytes_len[ids[i]]);
        o += tk->tok_bytes_len[ids[i]];
    }
    size_t len;
    *text = utf8_lossy(buf, o, &len); /* tokenizers decodes with from_utf8_lossy */
    free(buf);
    return *text ? SS_OK : ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
}

/* What one token shows as on its own: the per-token steps of the chain (Replace, Metaspace as a later
 * token, a lone <0xNN> as its byte, the byte alphabet undone); Fuse and Strip, which act on the
 * joined text, are left out. Malloc'd into *out; -1 when out of memory. */
int decoder_piece(const struct decoder *d, const char *s, size_t len, char **out, size_t *out_len)
{
    struct str cur = {0};
    if (str_add(&cur, s, len))
        return -1;
    for (int k = 0; k < d->n; k++) {
        const struct dec_step *st = &d->step[k];
        struct str next = {0};
        int b, bad = 0;
        if (st->kind == DEC_KIND_BYTE_FALLBACK && fallback_byte(cur.s, cur.len, &b))
            bad = str_add(&next, (char[]){(char)b}, 1);
        else if (st->kind == DEC_KIND_BYTE_LEVEL) {
            bad = str_add(&next, cur.s, cur.len);
            if (!bad)
                next.len = byte_level_unmap(cur.s, cur.len, next.s);
        } else if (st->kind == DEC_KIND_REPLACE || st->kind == DEC_KIND_METASPACE)
            bad = token_step(st, cur.s, cur.len, 1, &next);
        else
            continue;
        free(cur.s);
        if (bad) {
            free(next.s);
            return -1;
        }
        cur = next;
    }
    *out = cur.s;
    *out_len = cur.len;
    return 0;
}
