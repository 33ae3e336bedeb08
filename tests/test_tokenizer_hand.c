/* tests/test_tokenizer_hand.c — small hand-built tokenizer.json files whose ids are worked out
 * by hand: ids 0..255 are the bytes themselves, so a byte left unmerged shows as its value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

#define V_ABC "{\"ab\":256,\"bc\":257,\"abc\":258}"
#define PRETOK_QWEN                                                                                        \
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"                  \
    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|" \
    "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"              \
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}"
#define BYTELEVEL_NOREGEX "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}"

static void split_pretok(char *buf, size_t n, const char *pattern_kind, const char *pattern, const char *behavior,
                         int invert)
{
    snprintf(buf, n,
             "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"%s\":\"%s\"},"
             "\"behavior\":\"%s\",\"invert\":%s}," BYTELEVEL_NOREGEX "]}",
             pattern_kind, pattern, behavior, invert ? "true" : "false");
}

/* Merges are applied lowest rank first: a b c -> ab c -> abc; "abcbc" -> abc bc. */
static void test_merge_pairs(void)
{
    struct tokenizer *tk = tok_load_ok(
        tok_hand("tokpairs", V_ABC, "[[\"a\",\"b\"],[\"b\",\"c\"],[\"ab\",\"c\"]]", NULL, NULL, NULL, NULL, NULL));
    TOK_EXPECT(tk, "abc", 258);
    TOK_EXPECT(tk, "bc", 257);
    TOK_EXPECT(tk, "abcbc", 258, 257);
    TOK_EXPECT(tk, "cab", 99, 256);
    TOK_EXPECT_EMPTY(tk, "");
    tokenizer_free(tk);
}

/* The legacy "a b" spelling must give the same merges (a reader missing it degrades to bytes). */
static void test_merge_strings(void)
{
    struct tokenizer *tk =
        tok_load_ok(tok_hand("tokstrings", V_ABC, "[\"a b\",\"b c\",\"ab c\"]", NULL, NULL, NULL, NULL, NULL));
    TOK_EXPECT(tk, "abc", 258);
    TOK_EXPECT(tk, "abcbc", 258, 257);
    tokenizer_free(tk);
}

/* Rank order decides: with b c first, "abc" becomes a bc and (a, bc) is no merge. */
static void test_merge_rank_order(void)
{
    struct tokenizer *tk = tok_load_ok(
        tok_hand("tokrank", V_ABC, "[[\"b\",\"c\"],[\"a\",\"b\"],[\"ab\",\"c\"]]", NULL, NULL, NULL, NULL, NULL));
    TOK_EXPECT(tk, "abc", 97, 257);
    TOK_EXPECT(tk, "ab", 256);
    tokenizer_free(tk);
}

/* Equal ranks: the leftmost pair merges first. */
static void test_merge_leftmost(void)
{
    struct tokenizer *tk = tok_load_ok(tok_hand("tokleft", "{\"aa\":256}", "[[\"a\",\"a\"]]", NULL, NULL, NULL, NULL, NULL));
    TOK_EXPECT(tk, "aaa", 256, 97);
    TOK_EXPECT(tk, "aaaa", 256, 256);
    TOK_EXPECT(tk, "aaaaa", 256, 256, 97);
    tokenizer_free(tk);
}

/* ignore_merges (Llama 3): a word found whole in the vocab is one token, merges or not. */
static void test_ignore_merges(void)
{
    const char *v = "{\"ab\":256,\"abcd\":300}";
    struct tokenizer *on = tok_load_ok(tok_hand("tokign1", v, "[[\"a\",\"b\"]]", NULL, NULL, NULL,
                                                "{\"ignore_merges\":true}", NULL));
    struct tokenizer *off = tok_load_ok(tok_hand("tokign0", v, "[[\"a\",\"b\"]]", NULL, NULL, NULL, NULL, NULL));
    TOK_EXPECT(on, "abcd", 300);
    TOK_EXPECT(off, "abcd", 256, 99, 100);
    TOK_EXPECT(on, "abc", 256, 99);
    tokenizer_free(on);
    tokenizer_free(off);
}

/* ByteLevel: the GPT-2 regex keeps a leading space on the word; add_prefix_space adds one. */
static void test_byte_level_prefix_space(void)
{
    const char *m = "[[\"a\",\"b\"],[\"b\",\"c\"],[\"ab\",\"c\"],[\"\\u0120\",\"abc\"]]";
    const char *v = "{\"ab\":256,\"bc\":257,\"abc\":258,\"\\u0120abc\":259}";
    struct tokenizer *plain = tok_load_ok(tok_hand("tokbl0", v, m, NULL, NULL, NULL, NULL, NULL));
    struct tokenizer *pre = tok_load_ok(tok_hand(
        "tokbl1", v, m, NULL, NULL, "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}", NULL, NULL));
    TOK_EXPECT(plain, "abc", 258);
    TOK_EXPECT(plain, " abc", 259);
    TOK_EXPECT(plain, "abc abc", 258, 259);
    TOK_EXPECT(pre, "abc", 259);
    TOK_EXPECT(pre, " abc", 259);
    tokenizer_free(plain);
    tokenizer_free(pre);
}

/* The GPT-2 regex splits "it's" into it | 's, so the (t, ') merge cannot apply; without a
 * regex the word is whole and it can. */
static void test_byte_level_regex_split(void)
{
    const char *v = "{\"t'\":260}", *m = "[[\"t\",\"'\"]]";
    struct tokenizer *re = tok_load_ok(tok_hand("tokre1", v, m, NULL, NULL, NULL, NULL, NULL));
    struct tokenizer *nore = tok_load_ok(tok_hand("tokre0", v, m, NULL, NULL, BYTELEVEL_NOREGEX, NULL, NULL));
    TOK_EXPECT(re, "it's", 105, 116, 39, 115);
    TOK_EXPECT(nore, "it's", 105, 260, 115);
    tokenizer_free(re);
    tokenizer_free(nore);
}

/* Split with the Qwen regex (single digits, (?i:'S), \s+(?!\S)) vs ByteLevel's GPT-2 regex (digit runs). */
static void test_split_qwen_regex(void)
{
    const char *v = "{\"12\":261,\"\\u0120\\u0120\":262,\"'S\":263}";
    const char *m = "[[\"1\",\"2\"],[\"\\u0120\",\"\\u0120\"],[\"'\",\"S\"]]";
    struct tokenizer *q = tok_load_ok(tok_hand("tokqwen", v, m, NULL, NULL, PRETOK_QWEN, NULL, NULL));
    struct tokenizer *g = tok_load_ok(tok_hand("tokgpt2", v, m, NULL, NULL, NULL, NULL, NULL));
    TOK_EXPECT(q, "12345", 49, 50, 51, 52, 53);
    TOK_EXPECT(g, "12345", 261, 51, 52, 53);
    /* "a   b": \s+(?!\S) takes two spaces, the third goes with b: a | "  " | " b" */
    TOK_EXPECT(q, "a   b", 97, 262, 32, 98);
    TOK_EXPECT(q, "IT'S", 73, 84, 263);
    tokenizer_free(q);
    tokenizer_free(g);
}

static void test_split_behaviors(void)
{
    char pt[512];
    split_pretok(pt, sizeof pt, "String", " ", "Removed", 0);
    struct tokenizer *tk = tok_load_ok(tok_hand("tokrm", "{\"ab\":256}", "[[\"a\",\"b\"]]", NULL, NULL, pt, NULL, NULL));
    TOK_EXPECT(tk, "a b  ab", 97, 98, 256);
    tokenizer_free(tk);

    split_pretok(pt, sizeof pt, "String", "-", "MergedWithPrevious", 0);
    tk = tok_load_ok(tok_hand("tokmp", "{\"a-\":262}", "[[\"a\",\"-\"]]", NULL, NULL, pt, NULL, NULL));
    TOK_EXPECT(tk, "a-b-c", 262, 98, 45, 99);
    tokenizer_free(tk);

    split_pretok(pt, sizeof pt, "String", "-", "MergedWithNext", 0);
    tk = tok_load_ok(tok_hand("tokmn", "{\"-b\":263,\"a-\":264}", "[[\"-\",\"b\"],[\"a\",\"-\"]]", NULL, NULL, pt, NULL, NULL));
    TOK_EXPECT(tk, "a-b", 97, 263);
    tokenizer_free(tk);

    split_pretok(pt, sizeof pt, "Regex", "x", "Contiguous", 0);
    tk = tok_load_ok(tok_hand("tokct", "{\"xx\":264}", "[[\"x\",\"x\"]]", NULL, NULL, pt, NULL, NULL));
    TOK_EXPECT(tk, "axxb", 97, 264, 98);
    tokenizer_free(tk);

    split_pretok(pt, sizeof pt, "Regex", "x", "Isolated", 0);
    tk = tok_load_ok(tok_hand("tokiso", "{\"xx\":264}", "[[\"x\",\"x\"]]", NULL, NULL, pt, NULL, NULL));
    TOK_EXPECT(tk, "axxb", 97, 120, 120, 98);
    tokenizer_free(tk);

    /* invert: the spaces become the kept pieces and the words are removed */
    split_pretok(pt, sizeof pt, "String", " ", "Removed", 1);
    tk = tok_load_ok(tok_hand("tokinv", NULL, NULL, NULL, NULL, pt, NULL, NULL));
    TOK_EXPECT(tk, "ab cd", 32);
    tokenizer_free(tk);
}

/* Digits: each digit alone (individual_digits) or runs of digits, as a Split on \p{N}. */
static void test_digits(void)
{
    const char *v = "{\"ab\":256,\"12\":261}", *m = "[[\"a\",\"b\"],[\"1\",\"2\"]]";
    struct tokenizer *one = tok_load_ok(tok_hand("tokdig1", v, m, NULL, NULL,
        "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true}," BYTELEVEL_NOREGEX "]}",
        NULL, NULL));
    struct tokenizer *run = tok_load_ok(tok_hand("tokdig0", v, m, NULL, NULL,
        "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":false}," BYTELEVEL_NOREGEX "]}",
        NULL, NULL));
    TOK_EXPECT(one, "ab123", 256, 49, 50, 51);
    TOK_EXPECT(run, "ab123", 256, 261, 51);
    TOK_EXPECT(run, "1a2", 49, 97, 50);
    tokenizer_free(one);
    tokenizer_free(run);
}

#define ADDED                                                                                              \
    "[{\"id\":300,\"content\":\"<X>\",\"special\":true,\"normalized\":false},"                               \
    "{\"id\":301,\"content\":\"<L>\",\"special\":true,\"lstrip\":true,\"normalized\":false},"                \
    "{\"id\":302,\"content\":\"<R>\",\"special\":true,\"rstrip\":true,\"normalized\":false},"                \
    "{\"id\":305,\"content\":\"<Y\",\"special\":false,\"normalized\":false},"                                \
    "{\"id\":306,\"content\":\"<YY\",\"special\":false,\"normalized\":false},"                               \
    "{\"id\":307,\"content\":\"hi\",\"special\":false,\"single_word\":true,\"normalized\":false},"           \
    "{\"id\":308,\"content\":\"\\u00e9\",\"special\":false,\"normalized\":true},"                            \
    "{\"id\":309,\"content\":\"\\u00e8\",\"special\":false,\"normalized\":false}]"

static struct tokenizer *added_tokenizer(void)
{
    return tok_load_ok(tok_hand("tokadded", "{\"ab\":256}", "[[\"a\",\"b\"]]", ADDED, "{\"type\":\"NFC\"}", NULL, NULL, NULL));
}

static void test_added_basic(void)
{
    struct tokenizer *tk = added_tokenizer();
    TOK_EXPECT(tk, "ab<X>ab", 256, 300, 256);
    TOK_EXPECT(tk, "<X><X>", 300, 300);
    TOK_EXPECT(tk, "< X>", 60, 32, 88, 62);
    /* split before BPE: the merge (a, b) cannot cross the token */
    TOK_EXPECT(tk, "a<X>b", 97, 300, 98);
    CU_ASSERT_EQUAL(tokenizer_token_id(tk, "<X>"), 300);
    CU_ASSERT_EQUAL(tokenizer_vocab_size(tk), 310);
    tokenizer_free(tk);
}

static void test_added_strip(void)
{
    struct tokenizer *tk = added_tokenizer();
    TOK_EXPECT(tk, "a  <L>b", 97, 301, 98);
    TOK_EXPECT(tk, "a<R>  b", 97, 302, 98);
    TOK_EXPECT(tk, "a  <X>  b", 97, 32, 32, 300, 32, 32, 98);
    tokenizer_free(tk);
}

static void test_added_longest_and_single_word(void)
{
    struct tokenizer *tk = added_tokenizer();
    TOK_EXPECT(tk, "<YY", 306);
    TOK_EXPECT(tk, "<Y", 305);
    TOK_EXPECT(tk, "<YYY", 306, 89);
    TOK_EXPECT(tk, "hi ab", 307, 32, 256);
    TOK_EXPECT(tk, "this", 116, 104, 105, 115);
    tokenizer_free(tk);
}

/* NFC composes e + U+0301 into U+00E9; a normalized added token matches the composed form,
 * a non-normalized one only its raw spelling. */
static void test_normalizer_nfc(void)
{
    struct tokenizer *tk = added_tokenizer();
    TOK_EXPECT(tk, "e\xcc\x81", 308);
    TOK_EXPECT(tk, "\xc3\xa9", 308);
    TOK_EXPECT(tk, "\xc3\xa8", 309);
    TOK_EXPECT(tk, "e\xcc\x80", 0xC3, 0xA8);
    tokenizer_free(tk);
    struct tokenizer *raw = tok_load_ok(tok_hand("toknonorm", NULL, NULL, NULL, NULL, NULL, NULL, NULL));
    TOK_EXPECT(raw, "e\xcc\x81", 101, 0xCC, 0x81);
    tokenizer_free(raw);
    struct tokenizer *nfd = tok_load_ok(tok_hand("toknfd", NULL, NULL, NULL,
                                                 "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"}]}", NULL, NULL, NULL));
    TOK_EXPECT(nfd, "\xc3\xa9", 101, 0xCC, 0x81);
    tokenizer_free(nfd);
}

static void expect_load_error(const char *dir, const char *needle)
{
    char path[600], msg[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir ? dir : "missing");
    int st = tok_load_status(path, msg, sizeof msg);
    CU_ASSERT_EQUAL(st, SS_ERR_INPUT);
    if (!strstr(msg, needle) || !strstr(msg, path))
        printf("\n    expected \"%s\" and the path in: %s\n", needle, msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, needle));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, path));
    CU_ASSERT_PTR_NULL(strchr(msg, '\n'));
}

static void test_load_errors(void)
{
    expect_load_error(tok_hand("tokewp", NULL, NULL, NULL, NULL, NULL, "{\"type\":\"WordPiece\"}", NULL),
                      "unsupported model type \"WordPiece\"");
    expect_load_error(tok_hand("tokeunk", NULL, "[[\"a\",\"zz\"]]", NULL, NULL, NULL, NULL, NULL),
                      "merge 0 names unknown token \"zz\"");
    expect_load_error(tok_hand("tokemade", NULL, "[\"a b\"]", NULL, NULL, NULL, NULL, NULL), "not in the vocab");
    expect_load_error(tok_hand("tokemsp", NULL, "[\"ab\"]", NULL, NULL, NULL, NULL, NULL), "merge 0 is neither");
    expect_load_error(tok_hand("tokepre", NULL, NULL, NULL, NULL, "{\"type\":\"Whitespace\"}", NULL, NULL),
                      "unsupported pre_tokenizer type \"Whitespace\"");
    expect_load_error(tok_hand("tokere", NULL, NULL, NULL, NULL,
                               "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a\"},"
                               "\"behavior\":\"Isolated\"}," BYTELEVEL_NOREGEX "]}", NULL, NULL),
                      "does not compile");
    expect_load_error(tok_hand("tokenorm", NULL, NULL, NULL, "{\"type\":\"Lowercase\"}", NULL, NULL, NULL),
                      "unsupported normalizer type \"Lowercase\"");

    /* no vocab at all; not JSON; missing file */
    const char *dir = test_tmpdir("toknovocab");
    char path[600], msg[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"model\":{\"type\":\"BPE\",\"merges\":[]},\"pre_tokenizer\":{\"type\":\"ByteLevel\"}}", f);
    fclose(f);
    expect_load_error(dir, "model has no \"vocab\"");
    f = fopen(path, "w");
    fputs("{\"model\": [1, 2,", f);
    fclose(f);
    expect_load_error(dir, "not valid JSON");
    CU_ASSERT_EQUAL(tok_load_status("tests/out/no-such-dir/tokenizer.json", msg, sizeof msg), SS_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no-such-dir/tokenizer.json: cannot open"));
}

/* tokenizer_config.json beside tokenizer.json: bos/eos as string or object, add_bos_token;
 * without it a TemplateProcessing post_processor decides the default BOS. */
static void test_config_bos_eos(void)
{
    const char *dir = tok_hand("tokcfg", NULL, NULL, ADDED, NULL, NULL, NULL, NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"bos_token\":{\"content\":\"<X>\",\"lstrip\":false},\"eos_token\":\"<R>\",\"add_bos_token\":true}", f);
    fclose(f);
    struct tokenizer *tk = tok_load_ok(dir);
    if (tk) {
        CU_ASSERT_EQUAL(tokenizer_bos_id(tk), 300);
        CU_ASSERT_EQUAL(tokenizer_eos_id(tk), 302);
        CU_ASSERT_EQUAL(tokenizer_default_bos(tk), 300);
    }
    tokenizer_free(tk);

    tk = tok_load_ok(tok_hand("tokcfg2", NULL, NULL, ADDED, NULL, NULL, NULL,
                              "{\"post_processor\":{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},"
                              "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<L>\",\"type_id\":0}},"
                              "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<L>\":{\"id\":\"<L>\","
                              "\"ids\":[301],\"tokens\":[\"<L>\"]}}}]}}"));
    if (tk) {
        CU_ASSERT_EQUAL(tokenizer_default_bos(tk), 301);
        CU_ASSERT_EQUAL(tokenizer_bos_id(tk), -1);
        CU_ASSERT_EQUAL(tokenizer_eos_id(tk), -1);
    }
    tokenizer_free(tk);
}

/* Decoding undoes the byte-level alphabet: Ġ is a space, Ċ a newline; half a character is U+FFFD. */
static void test_decode_and_pieces(void)
{
    struct tokenizer *tk = tok_load_ok(tok_hand("tokdec", "{\"\\u0120abc\":259}", NULL, ADDED, NULL, NULL, NULL, NULL));
    if (!tk)
        return;
    struct ss_error err = {0};
    int32_t ids[] = {259, 10, 300, 0xE4, 0xB8, 0xAD};
    char *text = NULL;
    CU_ASSERT_EQUAL(tokenizer_decode(tk, ids, 6, &text, &err), SS_OK);
    CU_ASSERT_STRING_EQUAL(text, " abc\n<X>\xe4\xb8\xad");
    free(text);
    char *p = tokenizer_piece(tk, 259);
    CU_ASSERT_STRING_EQUAL(p, " abc");
    free(p);
    p = tokenizer_piece(tk, 0xE4);
    CU_ASSERT_STRING_EQUAL(p, "\xef\xbf\xbd");
    free(p);
    CU_ASSERT_PTR_NULL(tokenizer_piece(tk, 100000));
    int32_t bad[] = {5, 99999};
    CU_ASSERT_EQUAL(tokenizer_decode(tk, bad, 2, &text, &err), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "99999"));
    tokenizer_free(tk);
}

SS_SUITE(tokenizer_hand)
{
    CU_pSuite s = CU_add_suite("tokenizer_hand", NULL, NULL);
    CU_add_test(s, "merges as [a, b] pairs, lowest rank first", test_merge_pairs);
    CU_add_test(s, "merges as \"a b\" strings give the same ids", test_merge_strings);
    CU_add_test(s, "merge rank order changes the result", test_merge_rank_order);
    CU_add_test(s, "equal ranks merge leftmost first", test_merge_leftmost);
    CU_add_test(s, "ignore_merges emits whole vocab words", test_ignore_merges);
    CU_add_test(s, "ByteLevel add_prefix_space and the leading space", test_byte_level_prefix_space);
    CU_add_test(s, "ByteLevel use_regex splits contractions", test_byte_level_regex_split);
    CU_add_test(s, "Split with the Qwen regex vs the GPT-2 regex", test_split_qwen_regex);
    CU_add_test(s, "Split behaviors and invert", test_split_behaviors);
    CU_add_test(s, "Digits pre-tokenizer", test_digits);
    CU_add_test(s, "added tokens are cut out before BPE", test_added_basic);
    CU_add_test(s, "added tokens lstrip/rstrip", test_added_strip);
    CU_add_test(s, "added tokens longest match, single_word", test_added_longest_and_single_word);
    CU_add_test(s, "NFC normalizer and normalized added tokens", test_normalizer_nfc);
    CU_add_test(s, "malformed tokenizer.json: one line naming file and problem", test_load_errors);
    CU_add_test(s, "tokenizer_config.json bos/eos and TemplateProcessing BOS", test_config_bos_eos);
    CU_add_test(s, "decode and pieces undo the byte alphabet", test_decode_and_pieces);
}
