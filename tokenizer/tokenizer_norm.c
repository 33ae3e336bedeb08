/* tokenizer/tokenizer_norm.c — the "normalizer" of tokenizer.json: NFC/NFD/NFKC/NFKD, Sequence, null,
 * done by utf8proc. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer_impl.h"

static enum ss_status parse_one(struct normalizer *nz, const json_t *j, const char *file, int depth,
                                struct ss_error *err)
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
            enum ss_status st = parse_one(nz, json_array_get(list, i), file, depth + 1, err);
            if (st)
                return st;
        }
        return SS_OK;
    }
    int opt;
    if (!strcmp(type, "NFC"))
        opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    else if (!strcmp(type, "NFD"))
        opt = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
    else if (!strcmp(type, "NFKC"))
        opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else if (!strcmp(type, "NFKD"))
        opt = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    else
        return ss_fail(err, SS_ERR_INPUT, "%s: unsupported normalizer type \"%s\"", file, type);
    if (nz->n == TOK_MAX_NORM)
        return ss_fail(err, SS_ERR_INPUT, "%s: more than %d normalizers", file, TOK_MAX_NORM);
    nz->options[nz->n++] = opt;
    return SS_OK;
}

enum ss_status normalizer_parse(struct normalizer *nz, const json_t *j, const char *file, struct ss_error *err)
{
    nz->n = 0;
    return parse_one(nz, j, file, 0, err);
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

enum ss_status normalizer_apply(const struct normalizer *nz, const char *s, size_t len, char **out,
                                size_t *out_len, struct ss_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (!nz->n)
        return SS_OK;
    size_t i = 0;
    while (i < len && !((unsigned char)s[i] & 0x80))
        i++;
    if (i == len) /* ASCII is unchanged by every normal form */
        return SS_OK;
    char *cur = NULL;
    size_t cur_len = len;
    for (int k = 0; k < nz->n; k++) {
        char *next = NULL;
        size_t next_len = 0;
        enum ss_status st = normalize_one(nz->options[k], cur ? cur : s, cur_len, &next, &next_len, err);
        free(cur);
        if (st)
            return st;
        cur = next;
        cur_len = next_len;
    }
    *out = cur;
    *out_len = cur_len;
    return SS_OK;
}
