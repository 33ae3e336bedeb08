/* tokenizer/tokenizer_norm.c — the "normalizer" of tokenizer.json: NFC/NFD/NFKC/NFKD (by utf8proc),
 * Prepend, Replace (String patterns), Sequence, null. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer_impl.h"

/* A {"String": ...} pattern (Replace); a Regex pattern is refused. */
static enum ss_status parse_literal(const json_t *pat, const char *what, const char *file, const char **s,
                                    size_t *len, struct ss_error *err)
{
    const json_t *lit = json_object_get(pat, "String");
    if (json_object_get(pat, "Regex"))
        return ss_fail(err, SS_ERR_INPUT, "%s: %s with a Regex pattern is not supported (only String)", file, what);
    if (!json_is_string(lit) || !json_string_length(lit))
        return ss_fail(err, SS_ERR_INPUT, "%s: %s without a non-empty \"pattern\" String", file, what);
    *s = json_string_value(lit);
    *len = json_string_length(lit);
    return SS_OK;
}

static enum ss_status add_step(struct normalizer *nz, struct norm_step st, struct tok_arena *arena, const char *file,
                               struct ss_error *err)
{
    if (nz->n == TOK_MAX_NORM)
        return ss_fail(err, SS_ERR_INPUT, "%s: more than %d normalizers", file, TOK_MAX_NORM);
    if ((st.pat && !(st.pat = tok_arena_strdup(arena, st.pat, st.pat_len))) ||
        (st.str && !(st.str = tok_arena_strdup(arena, st.str, st.str_len))))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", file);
    nz->step[nz->n++] = st;
    return SS_OK;
}

static enum ss_status parse_one(struct normalizer *nz, const json_t *j, struct tok_arena *arena, const char *file,
                                int depth, struct ss_error *err)
{
    if (!j || json_is_null(j))
        return SS_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return ss_fail(err, SS_ERR_INPUT, "%s: normalizer has no \"type\"", file);
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(j, "normalizers");
        if (!json_is_array(list) || depth > 4)
            return ss_fail(err, SS_ERR_INPUT, "%s: normalizer Sequence without a \"normalizers\" list", file);
        for (size_t i = 0; i < json_array_size(list); i++) {
            enum ss_status st = parse_one(nz, json_array_get(list, i), arena, file, depth + 1, err);
            if (st)
                return st;
        }
        return SS_OK;
    }
    struct norm_step st = {.kind = NORM_KIND_UNICODE};
    if (!strcmp(type, "NFC"))
        st.options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    else if (!strcmp(type, "NFD"))
        st.options = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
    else if (!strcmp(type, "NFKC"))
        st.options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else if (!strcmp(type, "NFKD"))
        st.options = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    else if (!strcmp(type, "Prepend")) {
        const json_t *p = json_object_get(j, "prepend");
        if (!json_is_string(p))
            return ss_fail(err, SS_ERR_INPUT, "%s: normalizer Prepend without a \"prepend\" string", file);
        st = (struct norm_step){.kind = NORM_KIND_PREPEND, .str = json_string_value(p), .str_len = json_string_length(p)};
    } else if (!strcmp(type, "Replace")) {
        const json_t *c = json_object_get(j, "content");
        st.kind = NORM_KIND_REPLACE;
        enum ss_status r = parse_literal(json_object_get(j, "pattern"), "normalizer Replace", file, &st.pat,
                                         &st.pat_len, err);
        if (r)
            return r;
        if (!json_is_string(c))
            return ss_fail(err, SS_ERR_INPUT, "%s: normalizer Replace without a \"content\" string", file);
        st.str = json_string_value(c);
        st.str_len = json_string_length(c);
    } else
        return ss_fail(err, SS_ERR_INPUT, "%s: unsupported normalizer type \"%s\"", file, type);
    return add_step(nz, st, arena, file, err);
}

enum ss_status normalizer_parse(struct normalizer *nz, const json_t *j, struct tok_arena *arena, const char *file,
                                struct ss_error *err)
{
    nz->n = 0;
    return parse_one(nz, j, arena, file, 0, err);
}

/* Every occurrence of pat in s, left to right without overlaps, replaced by str (tokenizers' Replace with
 * a String pattern). *out NULL when pat does not occur. */
static enum ss_status replace_all(const struct norm_step *st, const char *s, size_t len, char **out, size_t *out_len,
                                  struct ss_error *err)
{
    *out = NULL;
    size_t count = 0;
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), st->pat, st->pat_len)); p += st->pat_len)
        count++;
    if (!count)
        return SS_OK;
    size_t n = len - count * st->pat_len + count * st->str_len, o = 0;
    char *buf = malloc(n + 1);
    if (!buf)
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory normalizing text");
    const char *p = s, *q;
    while ((q = memmem(p, len - (size_t)(p - s), st->pat, st->pat_len))) {
        memcpy(buf + o, p, (size_t)(q - p));
        o += (size_t)(q - p);
        memcpy(buf + o, st->str, st->str_len);
        o += st->str_len;
        p = q + st->pat_len;
    }
    memcpy(buf + o, p, len - (size_t)(p - s));
    buf[n] = 0; /* PCRE2's JIT may read a little past the subject: no uninitialized bytes there */
    *out = buf;
    *out_len = n;
    return SS_OK;
}

/* One normal form of s, normalizing only the stretches that hold non-ASCII text. Cutting before
 * an ASCII character is safe for NFC/NFD/NFKC/NFKD: ASCII characters are starters that never
 * combine with what precedes them, so the form of the text is the forms of the pieces joined.
 * The ASCII character before a stretch goes with it (e + U+0301 composes). */
static enum ss_status normalize_one(int options, const char *s, size_t len, char **out, size_t *out_len,
                                    struct ss_error *err)
{
    size_t cap = len + 16, n = 0, i = 0;
    char *buf = malloc(cap);
    if (!buf)
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory normalizing text");
    while (i < len) {
        size_t j = i;
        while (j < len && !((unsigned char)s[j] & 0x80))
            j++;
        if (j == len) {
            memcpy(buf + n, s + i, len - i);
            n += len - i;
            break;
        }
        size_t a = j > i ? j - 1 : j, b = j; /* the stretch [a, b) */
        while (b < len && ((unsigned char)s[b] & 0x80))
            b++;
        memcpy(buf + n, s + i, a - i);
        n += a - i;
        utf8proc_uint8_t *dst = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s + a, (utf8proc_ssize_t)(b - a), &dst,
                                          (utf8proc_option_t)options);
        if (r < 0) {
            free(dst);
            free(buf);
            if (r == UTF8PROC_ERROR_NOMEM)
                return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory normalizing text");
            return ss_fail(err, SS_ERR_INPUT, "tokenizer: normalization failed: %s", utf8proc_errmsg(r));
        }
        if (n + (size_t)r + (len - b) > cap) {
            cap = (n + (size_t)r + (len - b)) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(dst);
                free(buf);
                return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory normalizing text");
            }
            buf = nb;
        }
        memcpy(buf + n, dst, (size_t)r);
        n += (size_t)r;
        free(dst);
        i = b;
    }
    *out = buf;
    *out_len = n;
    return SS_OK;
}

static int has_non_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] & 0x80)
            return 1;
    return 0;
}

enum ss_status normalizer_apply(const struct normalizer *nz, const char *s, size_t len, char **out,
                                size_t *out_len, struct ss_error *err)
{
    *out = NULL;
    *out_len = 0;
    char *cur = NULL; /* owned; NULL while s is unchanged */
    size_t cur_len = len;
    for (int k = 0; k < nz->n; k++) {
        const struct norm_step *st = &nz->step[k];
        const char *in = cur ? cur : s;
        char *next = NULL;
        size_t next_len = 0;
        enum ss_status r = SS_OK;
        if (st->kind == NORM_KIND_UNICODE) {
            if (has_non_ascii(in, cur_len)) /* ASCII is unchanged by every normal form */
                r = normalize_one(st->options, in, cur_len, &next, &next_len, err);
        } else if (st->kind == NORM_KIND_REPLACE)
            r = replace_all(st, in, cur_len, &next, &next_len, err);
        else if (cur_len) { /* PREPEND: not on empty text */
            next_len = st->str_len + cur_len;
            if (!(next = malloc(next_len + 1)))
                r = ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory normalizing text");
            else {
                memcpy(next, st->str, st->str_len);
                memcpy(next + st->str_len, in, cur_len);
                next[next_len] = 0;
            }
        }
        if (r) {
            free(cur);
            return r;
        }
        if (next) {
            free(cur);
            cur = next;
            cur_len = next_len;
        }
    }
    *out = cur;
    *out_len = cur ? cur_len : 0;
    return SS_OK;
}
