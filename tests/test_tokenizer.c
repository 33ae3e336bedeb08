/* tests/test_tokenizer.c — the real Qwen3 tokenizer against reference ids.
 * tests/fixtures/tokenizer/qwen3_cases.jsonl: ids from Hugging Face `tokenizers` (the fixtures'
 * gen_fixtures.py); every case must match exactly. qwen3_js_cases.jsonl: more strings (random mixes
 * of scripts, whitespace, special tokens) with ids from the JS port @lenml/tokenizers, made with
 * tests/fixtures/tokenizer/gen_js_cases.sh. demo_cases.jsonl: the demo models' tokenizer
 * (train/train.py, HF tokenizers) against demo/models/NAME/tokenizer.json. Each is skipped with a
 * listed SKIP when absent (a failure under CI=true); a tokenizer that is present but does not load
 * fails the suite (its setup fails). */
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tokenizer/tokenizer.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

#define HF_CASES "tests/fixtures/tokenizer/qwen3_cases.jsonl"
#define JS_CASES "tests/fixtures/tokenizer/qwen3_js_cases.jsonl"
#define DEMO_CASES "tests/fixtures/tokenizer/demo_cases.jsonl"

static struct tokenizer *qwen3;

/* Present but unloadable fails the whole suite (CUnit counts a failed suite setup). */
static int qwen3_setup(void)
{
    const char *p = tok_qwen3();
    struct ss_error err = {0};
    if (p && tokenizer_load(&qwen3, p, &err)) {
        printf("\n    %s does not load: %s\n", p, err.msg);
        return 1;
    }
    return 0;
}

/* The tests below need the fetched tokenizer: absent is a listed skip. */
#define NEED_QWEN3()                                                  \
    do {                                                              \
        if (!qwen3) {                                                 \
            test_skip("%s is missing (make deps fetches it)", QWEN3_TOKENIZER); \
            return;                                                   \
        }                                                             \
    } while (0)

static int qwen3_teardown(void)
{
    tokenizer_free(qwen3);
    qwen3 = NULL;
    return 0;
}

static void test_hf_cases(void)
{
    NEED_QWEN3();
    tok_check_cases(qwen3, HF_CASES, 200, 0);
}

static void test_js_cases(void)
{
    NEED_QWEN3();
    tok_check_cases(qwen3, JS_CASES, 300, 0);
}

/* The demo models share one tokenizer; the first demo/models/NAME/tokenizer.json stands for it. */
static void test_demo_cases(void)
{
    glob_t g;
    if (glob("demo/models/*/tokenizer.json", 0, NULL, &g)) {
        test_skip("no demo/models/*/tokenizer.json");
        return;
    }
    struct tokenizer *tk = NULL;
    struct ss_error err = {0};
    if (tokenizer_load(&tk, g.gl_pathv[0], &err)) {
        printf("\n    %s\n", err.msg);
        CU_FAIL("demo tokenizer does not load");
    } else {
        tok_check_cases(tk, DEMO_CASES, 200, 0);
        /* train.py's tokenizer_config.json: add_bos_token with <|bos|> = id 0 */
        CU_ASSERT_EQUAL(tokenizer_default_bos(tk), tokenizer_token_id(tk, "<|bos|>"));
    }
    tokenizer_free(tk);
    globfree(&g);
}

static void test_special_ids(void)
{
    NEED_QWEN3();
    CU_ASSERT_EQUAL(tokenizer_vocab_size(qwen3), 151669);
    CU_ASSERT_EQUAL(tokenizer_token_id(qwen3, "<|im_end|>"), 151645);
    CU_ASSERT_EQUAL(tokenizer_eos_id(qwen3), 151645);   /* tokenizer_config.json eos_token */
    CU_ASSERT_EQUAL(tokenizer_bos_id(qwen3), -1);       /* bos_token null */
    CU_ASSERT_EQUAL(tokenizer_default_bos(qwen3), -1);  /* add_bos_token false */
    CU_ASSERT_EQUAL(tokenizer_token_id(qwen3, "no such token at all"), -1);
    CU_ASSERT_EQUAL(tokenizer_token_id(qwen3, "\xc4\xa0the"), 279); /* "Ġthe" */
}

static void test_pieces(void)
{
    NEED_QWEN3();
    char *p = tokenizer_piece(qwen3, tokenizer_token_id(qwen3, "\xc4\xa0the"));
    CU_ASSERT_STRING_EQUAL(p, " the");
    free(p);
    p = tokenizer_piece(qwen3, tokenizer_token_id(qwen3, "\xc4\x8a")); /* "Ċ" */
    CU_ASSERT_STRING_EQUAL(p, "\n");
    free(p);
    /* byte 0xF0 alone (spelled "ð") is half of a 4-byte character: U+FFFD */
    p = tokenizer_piece(qwen3, tokenizer_token_id(qwen3, "\xc3\xb0"));
    CU_ASSERT_STRING_EQUAL(p, "\xef\xbf\xbd");
    free(p);
    p = tokenizer_piece(qwen3, 151644);
    CU_ASSERT_STRING_EQUAL(p, "<|im_start|>");
    free(p);
}

/* Invalid UTF-8: an error naming the byte offset; lossy mode encodes U+FFFD in its place. */
static void test_invalid_utf8(void)
{
    NEED_QWEN3();
    static const struct {
        const char *s;
        size_t len, offset;
    } bad[] = {
        {"ab\xff" "cd", 5, 2},          /* byte never valid */
        {"x\xe4\xbd", 3, 1},            /* truncated at the end */
        {"\xc0\xaf", 2, 0},             /* overlong */
        {"ok \xed\xa0\x80", 6, 3},      /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0},     /* above U+10FFFF */
        {"abc\x80", 4, 3},              /* lone continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ss_error err = {0};
        int32_t *ids = NULL;
        int n = 0;
        CU_ASSERT_EQUAL(tokenizer_encode(qwen3, bad[i].s, bad[i].len, 0, &ids, &n, &err), SS_ERR_INPUT);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu", bad[i].offset);
        if (!strstr(err.msg, want))
            printf("\n    expected \"%s\" in: %s\n", want, err.msg);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
        CU_ASSERT_PTR_NULL(ids);
        CU_ASSERT_EQUAL(tokenizer_encode(qwen3, bad[i].s, bad[i].len, 1, &ids, &n, &err), SS_OK);
        free(ids);
    }
    /* "ab\xff" "cd" lossy == "ab" U+FFFD "cd"; a truncated 3-byte sequence is ONE U+FFFD */
    int32_t *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    struct ss_error err = {0};
    tokenizer_encode(qwen3, "ab\xff" "cd", 5, 1, &a, &na, &err);
    tokenizer_encode(qwen3, "ab\xef\xbf\xbd" "cd", 7, 0, &b, &nb, &err);
    CU_ASSERT(na == nb && na > 0 && !memcmp(a, b, (size_t)na * sizeof *a));
    free(a);
    free(b);
    tokenizer_encode(qwen3, "x\xe4\xbd", 3, 1, &a, &na, &err);
    tokenizer_encode(qwen3, "x\xef\xbf\xbd", 4, 0, &b, &nb, &err);
    CU_ASSERT(na == nb && na > 0 && !memcmp(a, b, (size_t)na * sizeof *a));
    free(a);
    free(b);
}

/* NUL is a character like any other; the text is length-delimited. */
static void test_nul_and_empty(void)
{
    NEED_QWEN3();
    struct ss_error err = {0};
    int32_t *ids = NULL;
    int n = -1;
    CU_ASSERT_EQUAL(tokenizer_encode(qwen3, "", 0, 0, &ids, &n, &err), SS_OK);
    CU_ASSERT_EQUAL(n, 0);
    free(ids);
    CU_ASSERT_EQUAL(tokenizer_encode(qwen3, "a\0b", 3, 0, &ids, &n, &err), SS_OK);
    char *text = NULL;
    CU_ASSERT_EQUAL(tokenizer_decode(qwen3, ids, n, &text, &err), SS_OK);
    CU_ASSERT(text && text[0] == 'a' && text[1] == 0 && text[2] == 'b');
    free(text);
    free(ids);
}

/* U+0085 (NEL) is White_Space, so \\s matches it in tokenizers' regex engine (JavaScript's does
 * not, which is why the JS cases leave it out). tokenizers gives "!" U+0085 -> [0, 126, 227]
 * (pre-tokens "!", U+0085); "  " U+0085 "*" "/" -> "  " (\\s+(?!\\S) stops before U+0085), U+0085, "*" "/". */
static void test_nel_is_whitespace(void)
{
    NEED_QWEN3();
    TOK_EXPECT(qwen3, "!\xc2\x85", 0, 126, 227);
    TOK_EXPECT(qwen3, "  \xc2\x85*/", 256, 126, 227, 1812);
}

SS_SUITE(tokenizer_qwen3)
{
    CU_pSuite s = CU_add_suite("tokenizer_qwen3", qwen3_setup, qwen3_teardown);
    CU_add_test(s, "Hugging Face tokenizers cases match id for id", test_hf_cases);
    CU_add_test(s, "JS-port cases (random mixes) match id for id", test_js_cases);
    CU_add_test(s, "demo tokenizer: Hugging Face cases match id for id", test_demo_cases);
    CU_add_test(s, "vocab size, eos/bos from tokenizer_config.json", test_special_ids);
    CU_add_test(s, "pieces undo the byte alphabet, U+FFFD for half characters", test_pieces);
    CU_add_test(s, "invalid UTF-8: byte offset, or lossy U+FFFD", test_invalid_utf8);
    CU_add_test(s, "empty text and NUL characters", test_nul_and_empty);
    CU_add_test(s, "U+0085 is whitespace to the Split regex", test_nel_is_whitespace);
}
