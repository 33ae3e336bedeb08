#include "test_tokenizer_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "test_util.h"

const char *tok_qwen3(void)
{
    if (access(QWEN3_TOKENIZER, R_OK)) {
        test_skip("%s is missing (make deps fetches it)", QWEN3_TOKENIZER);
        return NULL;
    }
    return QWEN3_TOKENIZER;
}

static json_t *parse(const char *text, const char *dflt)
{
    json_error_t je;
    json_t *j = json_loads(text ? text : dflt, JSON_DECODE_ANY, &je);
    if (!j)
        printf("\n    bad JSON in test: %s: %s\n", text, je.text);
    return j;
}

/* The byte-level character of byte b, as UTF-8 (GPT-2 bytes_to_unicode, written out here
 * independently of the library). */
static void byte_char(int b, char out[4])
{
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    unsigned cp = (unsigned)b;
    if (!printable) {
        cp = 256;
        for (int i = 0; i < b; i++)
            cp += !((i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE));
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

const char *tok_hand(const char *tag, const char *extra_vocab, const char *merges, const char *added,
                     const char *normalizer, const char *pretok, const char *model_extra, const char *top_extra)
{
    const char *dir = test_tmpdir(tag);
    json_t *vocab = parse(extra_vocab, "{}");
    json_t *jm = parse(merges, "[]"), *ja = parse(added, "[]"), *jn = parse(normalizer, "null");
    json_t *jp = parse(pretok, "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}");
    json_t *me = parse(model_extra, "{}"), *te = parse(top_extra, "{}");
    if (!dir || !vocab || !jm || !ja || !jn || !jp || !me || !te) {
        CU_FAIL("tok_hand: bad test input");
        return NULL;
    }
    for (int b = 0; b < 256; b++) {
        char c[4];
        byte_char(b, c);
        json_object_set_new(vocab, c, json_integer(b));
    }
    json_t *model = json_pack("{s:s, s:o, s:o}", "type", "BPE", "vocab", vocab, "merges", jm);
    json_object_update(model, me);
    json_t *root = json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:s}}", "version", "1.0", "added_tokens", ja,
                             "normalizer", jn, "pre_tokenizer", jp, "model", model, "decoder", "type", "ByteLevel");
    json_object_update(root, te);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int rc = json_dump_file(root, path, JSON_INDENT(1));
    json_decref(root);
    json_decref(me);
    json_decref(te);
    CU_ASSERT_EQUAL(rc, 0);
    return rc ? NULL : dir;
}

struct tokenizer *tok_load_ok(const char *dir)
{
    struct ss_error err = {0};
    struct tokenizer *tk = NULL;
    if (!dir || tokenizer_load(&tk, dir, &err)) {
        printf("\n    load failed: %s\n", dir ? err.msg : "(no dir)");
        CU_FAIL("tokenizer_load");
        return NULL;
    }
    return tk;
}

static void print_ids(const char *label, const int32_t *v, int n)
{
    printf("      %s (%d):", label, n);
    for (int i = 0; i < n; i++)
        printf(" %d", (int)v[i]);
    printf("\n");
}

int tok_expect_ids(const struct tokenizer *tk, const char *text, size_t len, const int32_t *want, int nwant)
{
    if (!tk)
        return 0;
    struct ss_error err = {0};
    int32_t *got = NULL;
    int n = 0;
    if (tokenizer_encode(tk, text, len, 0, &got, &n, &err)) {
        printf("\n    encode failed: %s\n", err.msg);
        return 0;
    }
    int same = n == nwant && (!n || !memcmp(got, want, (size_t)n * sizeof *got));
    if (!same) {
        json_t *s = json_stringn(text, len);
        char *d = json_dumps(s, JSON_ENCODE_ANY);
        printf("\n    mismatch for %s\n", d ? d : "(text)");
        free(d);
        json_decref(s);
        print_ids("got ", got, n);
        print_ids("want", want, nwant);
    }
    free(got);
    return same;
}

int tok_load_status(const char *path, char *msg, size_t nmsg)
{
    struct ss_error err = {0};
    struct tokenizer *tk = NULL;
    enum ss_status st = tokenizer_load(&tk, path, &err);
    tokenizer_free(tk);
    snprintf(msg, nmsg, "%s", st ? err.msg : "");
    return (int)st;
}

static void print_list(const char *label, const int32_t *v, int n, const json_t *ja)
{
    printf("      %s:", label);
    for (int i = 0; i < n; i++)
        printf(" %d", v ? (int)v[i] : (int)json_integer_value(json_array_get(ja, (size_t)i)));
    printf("\n");
}

/* 1 when ids decode to want (printing both texts otherwise, when where is given). */
static int decode_matches(const struct tokenizer *tk, const json_t *ids, const json_t *want, const char *where)
{
    int n = (int)json_array_size(ids);
    int32_t *v = malloc(((size_t)n + 1) * sizeof *v);
    char *text = NULL;
    struct ss_error err = {0};
    for (int i = 0; v && i < n; i++)
        v[i] = (int32_t)json_integer_value(json_array_get(ids, (size_t)i));
    /* the decoded text is NUL-terminated: a text with U+0000 is compared up to it */
    size_t want_len = strnlen(json_string_value(want), json_string_length(want));
    int same = v && !tokenizer_decode(tk, v, n, &text, &err) && strlen(text) == want_len &&
               !memcmp(text, json_string_value(want), want_len);
    if (!same && where) {
        json_t *got = text ? json_string(text) : NULL;
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL, *w = json_dumps(want, JSON_ENCODE_ANY);
        printf("\n    decode differs %s\n      got  %s%s\n      want %s\n", where, g ? g : "(none) ", err.msg, w ? w : "");
        free(g);
        free(w);
        json_decref(got);
    }
    free(text);
    free(v);
    return same;
}

int tok_check_cases(const struct tokenizer *tk, const char *path, int min_cases, int check_decode)
{
    if (!tk) {
        test_skip("no tokenizer for %s", path);
        return 0;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        test_skip("%s not found", path);
        return 0;
    }
    char *line = NULL;
    size_t cap = 0;
    int total = 0, matched = 0, shown = 0, decoded = 0, dshown = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '\n')
            continue;
        json_error_t je;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &je);
        json_t *text = json_object_get(o, "text"), *ids = json_object_get(o, "ids");
        json_t *dec = json_object_get(o, "decoded");
        total++;
        if (!json_is_string(text) || !json_is_array(ids)) {
            printf("\n    %s:%d: not a {\"text\", \"ids\"} line\n", path, total);
            json_decref(o);
            continue;
        }
        struct ss_error err = {0};
        int32_t *got = NULL;
        int n = 0;
        int ok = !tokenizer_encode(tk, json_string_value(text), json_string_length(text), 0, &got, &n, &err);
        int same = ok && n == (int)json_array_size(ids);
        for (int i = 0; same && i < n; i++)
            same = got[i] == json_integer_value(json_array_get(ids, (size_t)i));
        matched += same;
        if (!same && shown++ < 5) {
            char *d = json_dumps(text, JSON_ENCODE_ANY);
            printf("\n    mismatch %s:%d %s%s\n", path, total, d ? d : "", ok ? "" : err.msg);
            free(d);
            print_list("got ", got, n, NULL);
            print_list("want", NULL, (int)json_array_size(ids), ids);
        }
        if (check_decode) {
            char where[600];
            snprintf(where, sizeof where, "%s:%d", path, total);
            int d = decode_matches(tk, ids, json_is_string(dec) ? dec : text, dshown < 5 ? where : NULL);
            decoded += d;
            dshown += !d;
        }
        free(got);
        json_decref(o);
    }
    free(line);
    fclose(f);
    printf("\n    %s: %d of %d cases matched", path, matched, total);
    if (check_decode)
        printf(", %d of %d decode as tokenizers does", decoded, total);
    printf("\n");
    CU_ASSERT_EQUAL(matched, total);
    CU_ASSERT(total >= min_cases);
    if (check_decode)
        CU_ASSERT_EQUAL(decoded, total);
    return total;
}
