/* tests/test_tokenizer_roundtrip.c — decode(encode(s)) == s for every tokenizer.json present
 * (the Qwen3 and Llama 2 ones and the demo models'), on a few hundred generated strings and on random
 * bytes in lossy mode. "s" here is the text as the tokenizer sees it: invalid UTF-8 replaced by U+FFFD
 * and, for byte-level files, the file's normalizer applied (Qwen3's NFC composes e + U+0301); Llama 2's
 * decoder undoes its normalizer (▁ back to spaces, the prepended one stripped) and its byte fallback. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tokenizer/tokenizer.h"
#include "../tokenizer/tokenizer_impl.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

#define LLAMA2_TOKENIZER "tests/fixtures/llama2-tokenizer/tokenizer.json"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static const char *fragments[] = {
    "the", "The", " quick", " brown", " fox", "jumps", " over", " lazy", " dog", ".", ",", "!", "?", "'s", "'S",
    "'ll", "'RE", " don't", " DON'T", "0", "7", "42", " 1234567890", "3.14159", " ", "  ", "   ", "\t", "\t\t",
    "\n", "\n\n", "\r\n", " \n", "\n ", "Привет", " мир", "Γειά", "مرحبا", "שלום", "नमस्ते", "こんにちは", "世界",
    "你好", "，", "。", "안녕하세요", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸", "🧑‍💻", "e\xcc\x81", "a\xcc\x88", "n\xcc\x83", "Å",
    "ﬁ", "ß", "İ", "\xc2\xa0", "\xe2\x80\x8b", "\xe3\x80\x80", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<think>", "</think>", "def f(x):", "    return x", "{", "}", "();", "=>", "#include <stdio.h>", "//", "/*",
    "https://example.com/a?b=c", "user@example.com", "$", "%", "&&", "||", "...", "—", "“", "”", "\xf0\x9d\x94\x98",
};

static size_t make_text(char *buf, size_t cap)
{
    size_t n = 0;
    int k = 1 + (int)(next_rand() % 30);
    for (int i = 0; i < k; i++) {
        const char *f = fragments[next_rand() % (sizeof fragments / sizeof fragments[0])];
        size_t l = strlen(f);
        if (n + l >= cap)
            break;
        memcpy(buf + n, f, l);
        n += l;
    }
    return n;
}

/* Returns the number of strings that failed to round-trip. */
static int roundtrip(const struct tokenizer *tk, const char *text, size_t len, int lossy)
{
    struct ss_error err = {0};
    int32_t *ids = NULL;
    int n = 0;
    char *back = NULL, *norm = NULL;
    size_t fixed_len, norm_len;
    char *fixed = utf8_lossy(text, len, &fixed_len);
    int bad = 1;
    if (tokenizer_encode(tk, text, len, lossy, &ids, &n, &err) || tokenizer_decode(tk, ids, n, &back, &err) ||
        normalizer_apply(&tk->norm, fixed, fixed_len, &norm, &norm_len, &err))
        printf("\n    error: %s\n", err.msg);
    else {
        const char *want = norm && tk->byte_level ? norm : fixed;
        size_t want_len = norm && tk->byte_level ? norm_len : fixed_len;
        bad = strlen(back) != want_len || memcmp(back, want, want_len);
        if (bad)
            printf("\n    round trip differs: %zu bytes in, %zu back: \"%.60s\"\n", want_len, strlen(back), back);
    }
    free(ids);
    free(back);
    free(norm);
    free(fixed);
    return bad;
}

static void roundtrip_file(const char *path)
{
    struct tokenizer *tk = tok_load_ok(path);
    if (!tk)
        return;
    char buf[2048];
    int failed = 0, total = 0;
    for (int i = 0; i < 400; i++, total++) {
        size_t len = make_text(buf, sizeof buf);
        for (size_t j = 0; j < len; j++) /* NUL would cut the message above, nothing else */
            if (!buf[j])
                buf[j] = ' ';
        failed += roundtrip(tk, buf, len, 0);
    }
    for (int i = 0; i < 200; i++, total++) { /* random bytes, lossy */
        size_t len = 1 + next_rand() % 96;
        for (size_t j = 0; j < len; j++)
            buf[j] = (char)(next_rand() & 0xFF);
        for (size_t j = 0; j < len; j++)
            if (!buf[j])
                buf[j] = 1;
        failed += roundtrip(tk, buf, len, 1);
    }
    printf("\n    %s: %d of %d strings round-trip\n", path, total - failed, total);
    CU_ASSERT_EQUAL(failed, 0);
    tokenizer_free(tk);
}

static void test_roundtrip_all(void)
{
    int found = 0;
    if (tok_qwen3()) {
        roundtrip_file(QWEN3_TOKENIZER);
        found++;
    }
    if (!access(LLAMA2_TOKENIZER, R_OK)) {
        roundtrip_file(LLAMA2_TOKENIZER);
        found++;
    } else
        test_skip("%s is missing (make deps fetches it)", LLAMA2_TOKENIZER);
    glob_t g;
    if (!glob("demo/models/*/tokenizer.json", 0, NULL, &g)) {
        for (size_t i = 0; i < g.gl_pathc; i++, found++)
            roundtrip_file(g.gl_pathv[i]);
        globfree(&g);
    } else
        test_skip("no demo/models/*/tokenizer.json");
    /* always at least one: a hand-built byte-level tokenizer with NFC */
    const char *dir = tok_hand("tokrt", "{\"ab\":256,\"\\u0120the\":257,\"\\u0120t\":258,\"he\":259}",
                               "[[\"a\",\"b\"],[\"h\",\"e\"],[\"\\u0120\",\"t\"],[\"\\u0120t\",\"he\"]]",
                               NULL, "{\"type\":\"NFC\"}", NULL, NULL, NULL);
    if (dir) {
        char path[600];
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        roundtrip_file(path);
    }
    printf("    (%d real tokenizer.json files)\n", found);
}

SS_SUITE(tokenizer_roundtrip)
{
    CU_pSuite s = CU_add_suite("tokenizer_roundtrip", NULL, NULL);
    CU_add_test(s, "decode(encode(s)) == s for every tokenizer.json present", test_roundtrip_all);
}
