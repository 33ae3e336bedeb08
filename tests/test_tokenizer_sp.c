/* tests/test_tokenizer_sp.c — SentencePiece-style tokenizer.json files built by hand: byte_fallback and
 * <0xNN> tokens, unk and fuse_unk, the Prepend / Replace normalizers, the Metaspace pre-tokenizer
 * (prepend_scheme first/always/never, split), ignore_merges on characters, the decoders ByteFallback,
 * Fuse, Strip, Replace and Metaspace, and tokenizer_config.json with an integer beyond 64 bits.
 * Expected ids follow tokenizers' rules (models/bpe/model.rs merge_word, pre_tokenizers/metaspace.rs,
 * the decoders), worked out by hand in the comments; the real files are checked in test_tokenizer_real.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

#define SP "\xe2\x96\x81" /* U+2581, SentencePiece's space */
#define FB(b) (3 + (b))   /* id of <0xNN> */

/* Vocab: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, then ▁ 259, a 260, b 261, c 262, ▁a 263,
 * ab 264, ▁ab 265, é 266, b▁ 267, abc 268. skip_byte >= 0 leaves that <0xNN> out. */
static const char *sp_hand(const char *tag, const char *merges, const char *normalizer, const char *pretok,
                           const char *decoder, const char *model_extra, int skip_byte)
{
    static const char *words[] = {SP, "a", "b", "c", SP "a", "ab", SP "ab", "\xc3\xa9", "b" SP, "abc"};
    const char *dir = test_tmpdir(tag);
    json_t *vocab = json_pack("{s:i, s:i, s:i}", "<unk>", 0, "<s>", 1, "</s>", 2);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        if (b != skip_byte)
            json_object_set_new(vocab, name, json_integer(FB(b)));
    }
    for (int i = 0; i < (int)(sizeof words / sizeof words[0]); i++)
        json_object_set_new(vocab, words[i], json_integer(259 + i));
    json_error_t je;
    json_t *jm = json_loads(merges, 0, &je), *jn = json_loads(normalizer ? normalizer : "null", JSON_DECODE_ANY, &je);
    json_t *jp = json_loads(pretok ? pretok : "null", JSON_DECODE_ANY, &je);
    json_t *jd = json_loads(decoder ? decoder : "null", JSON_DECODE_ANY, &je);
    json_t *me = json_loads(model_extra ? model_extra : "{}", 0, &je);
    json_t *added = json_pack("[{s:i, s:s, s:b, s:b}, {s:i, s:s, s:b, s:b}, {s:i, s:s, s:b, s:b}]", "id", 0, "content",
                              "<unk>", "special", 1, "normalized", 0, "id", 1, "content", "<s>", "special", 1,
                              "normalized", 0, "id", 2, "content", "</s>", "special", 1, "normalized", 0);
    if (!dir || !jm || !jn || !jp || !jd || !me) {
        CU_FAIL("sp_hand: bad test input");
        return NULL;
    }
    json_t *model = json_pack("{s:s, s:o, s:o, s:s, s:b, s:b}", "type", "BPE", "vocab", vocab, "merges", jm,
                              "unk_token", "<unk>", "byte_fallback", 1, "fuse_unk", 1);
    json_object_update(model, me);
    json_decref(me);
    json_t *root = json_pack("{s:o, s:o, s:o, s:o, s:o}", "added_tokens", added, "normalizer", jn, "pre_tokenizer",
                             jp, "model", model, "decoder", jd);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int rc = json_dump_file(root, path, 0);
    json_decref(root);
    CU_ASSERT_EQUAL(rc, 0);
    return rc ? NULL : dir;
}

/* Llama 2's pipeline: Prepend ▁, spaces -> ▁, no pre-tokenizer, byte fallback; decode undoes it all. */
#define LLAMA2_NORM                                                                                                  \
    "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"" SP "\"},"                          \
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" SP "\"}]}"
#define LLAMA2_DEC                                                                                                   \
    "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"" SP "\"},\"content\":\" \"}," \
    "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}"
/* ranks: ▁a 0, ab 1, ▁ab 2 */
#define MERGES "[\"" SP " a\", \"a b\", \"" SP "a b\"]"

static void expect_decode(const struct tokenizer *tk, const int32_t *ids, int n, const char *want)
{
    char *text = NULL;
    struct ss_error err = {0};
    CU_ASSERT_EQUAL(tokenizer_decode(tk, ids, n, &text, &err), SS_OK);
    if (!text || strcmp(text, want))
        printf("\n    decode: got \"%s\", want \"%s\"\n", text ? text : err.msg, want);
    CU_ASSERT(text && !strcmp(text, want));
    free(text);
}
#define DECODE(tk, want, ...)                                                                                        \
    do {                                                                                                             \
        const int32_t ids_[] = {__VA_ARGS__};                                                                        \
        expect_decode(tk, ids_, (int)(sizeof ids_ / sizeof ids_[0]), want);                                           \
    } while (0)

static void test_llama2_pipeline(void)
{
    struct tokenizer *tk = tok_load_ok(sp_hand("spl2", MERGES, LLAMA2_NORM, NULL, LLAMA2_DEC, NULL, -1));
    if (!tk)
        return;
    TOK_EXPECT(tk, "ab", 265);                    /* ▁ab: ▁a (rank 0) then ▁a+b (rank 2) */
    TOK_EXPECT(tk, "ab ab", 265, 265);            /* ▁ab▁ab: one word, no pre-tokenizer */
    TOK_EXPECT(tk, "c", 259, 262);                /* ▁ c: no merge */
    TOK_EXPECT(tk, "A", 259, FB(0x41));           /* A is not in the vocab: <0x41> */
    TOK_EXPECT(tk, "\xc3\xa9", 259, 266);         /* é is */
    TOK_EXPECT(tk, "\xc3\xbc", 259, FB(0xC3), FB(0xBC)); /* ü is not: both of its bytes */
    TOK_EXPECT(tk, "<s>a", 1, 263);               /* each piece after an added token gets its own ▁ */
    TOK_EXPECT(tk, " a", 259, 263);               /* "▁▁a" */
    TOK_EXPECT_EMPTY(tk, "");                     /* Prepend leaves empty text empty */
    DECODE(tk, "ab ab", 265, 265);                /* " ab ab", the first space stripped */
    DECODE(tk, "<s> a", 1, 263);                  /* added tokens go through the chain too */
    DECODE(tk, "\xc3\xbc", 259, FB(0xC3), FB(0xBC));
    DECODE(tk, "\xef\xbf\xbd", FB(0xC3));         /* a lone lead byte: U+FFFD */
    /* E5 8F is one ill-formed sequence, but ByteFallback gives one U+FFFD per byte token */
    DECODE(tk, "\xef\xbf\xbd\xef\xbf\xbd" "a", FB(0xE5), FB(0x8F), 260);
    DECODE(tk, "\xe5\x8f\xab", FB(0xE5), FB(0x8F), FB(0xAB)); /* 叫 */
    DECODE(tk, "  ab", 259, 259, 265);            /* "   ab" less one */
    char *p = tokenizer_piece(tk, 265);           /* a piece: ▁ -> space, no Strip */
    CU_ASSERT(p && !strcmp(p, " ab"));
    free(p);
    p = tokenizer_piece(tk, FB(0x0A));
    CU_ASSERT(p && !strcmp(p, "\n"));
    free(p);
    tokenizer_free(tk);
}

/* Without byte fallback: one unk per unknown run (fuse_unk), or per character. With byte fallback
 * missing a byte, the character is unk, and tokenizers writes a pending unk only at the next known
 * character: byte tokens of a later character land before it. */
static void test_unk(void)
{
    struct tokenizer *tk = tok_load_ok(sp_hand("spunk", MERGES, LLAMA2_NORM, NULL, LLAMA2_DEC,
                                               "{\"byte_fallback\": false}", -1));
    TOK_EXPECT(tk, "AAb", 259, 0, 261);
    TOK_EXPECT(tk, "AbA", 259, 0, 261, 0);
    tokenizer_free(tk);
    tk = tok_load_ok(sp_hand("spunk2", MERGES, LLAMA2_NORM, NULL, LLAMA2_DEC,
                             "{\"byte_fallback\": false, \"fuse_unk\": false}", -1));
    TOK_EXPECT(tk, "AAb", 259, 0, 0, 261);
    tokenizer_free(tk);
    tk = tok_load_ok(sp_hand("spunk3", MERGES, LLAMA2_NORM, NULL, LLAMA2_DEC, NULL, 0xBC));
    TOK_EXPECT(tk, "\xc3\xbc" "A", 259, FB(0x41), 0); /* ü (no <0xBC>) pending, <0x41>, then the unk */
    TOK_EXPECT(tk, "\xc3\xbc" "a", 259, 0, 260);
    tokenizer_free(tk);
    tk = tok_load_ok(sp_hand("spunk4", MERGES, LLAMA2_NORM, NULL, LLAMA2_DEC,
                             "{\"byte_fallback\": false, \"unk_token\": null}", -1));
    TOK_EXPECT(tk, "AbA", 259, 261); /* no unk token: unknown characters are dropped */
    tokenizer_free(tk);
}

#define METASPACE(scheme, split)                                                                                     \
    "{\"type\":\"Metaspace\",\"replacement\":\"" SP "\",\"prepend_scheme\":\"" scheme "\",\"split\":" split "}"
#define MS_DEC(scheme) "{\"type\":\"Metaspace\",\"replacement\":\"" SP "\",\"prepend_scheme\":\"" scheme "\"}"
/* b▁ first, so merges across a ▁ show whether the text was split at it */
#define MERGES_X "[\"b " SP "\", \"" SP " a\", \"a b\", \"" SP "a b\"]"

static void test_metaspace(void)
{
    /* split false: "▁ab▁ab" is one word: b▁ (rank 0), ▁a, ab -> ▁a b▁ ab */
    struct tokenizer *tk = tok_load_ok(sp_hand("spms1", MERGES_X, NULL, METASPACE("first", "false"),
                                               MS_DEC("first"), NULL, -1));
    TOK_EXPECT(tk, "ab ab", 263, 267, 264);
    TOK_EXPECT(tk, "<s>ab", 1, 264);  /* "first": not after an added token */
    TOK_EXPECT(tk, "<s> ab", 1, 265); /* the space becomes the ▁ */
    TOK_EXPECT(tk, "ab<s>ab", 265, 1, 264);
    DECODE(tk, "ab ab", 265, 265);    /* the decoder drops ▁ in the first token */
    tokenizer_free(tk);
    /* split true: "▁ab", "▁ab" */
    tk = tok_load_ok(sp_hand("spms2", MERGES_X, NULL, METASPACE("always", "true"), MS_DEC("always"), NULL, -1));
    TOK_EXPECT(tk, "ab ab", 265, 265);
    TOK_EXPECT(tk, "<s>ab", 1, 265); /* "always": after added tokens too */
    TOK_EXPECT(tk, "a  b", 263, 259, 259, 261); /* "▁a", "▁", "▁b" with no ▁ b merge */
    tokenizer_free(tk);
    tk = tok_load_ok(sp_hand("spms3", MERGES_X, NULL, METASPACE("never", "true"), MS_DEC("never"), NULL, -1));
    TOK_EXPECT(tk, "ab ab", 264, 265);
    DECODE(tk, " ab ab", 265, 265); /* "never": the first ▁ is a space */
    tokenizer_free(tk);
    /* the pre-2024 spelling: add_prefix_space instead of prepend_scheme */
    tk = tok_load_ok(sp_hand("spms4", MERGES_X, NULL,
                             "{\"type\":\"Metaspace\",\"replacement\":\"" SP "\",\"add_prefix_space\":true}", NULL,
                             NULL, -1));
    TOK_EXPECT(tk, "ab ab", 265, 265);
    tokenizer_free(tk);
}

/* A long word is merged in stretches cut before a ▁ whose preceding character never precedes ▁ in a
 * token: here "b▁" is a token, so only the ▁ after "c" are cuts; the result is the whole word's. */
static void test_long_word_cuts(void)
{
    struct tokenizer *tk = tok_load_ok(sp_hand("spcut", MERGES_X, LLAMA2_NORM, NULL, LLAMA2_DEC, NULL, -1));
    if (!tk)
        return;
    /* "c ab" x 16 -> "▁c" ("▁ab▁c" x 15) "▁ab": [▁ c] ([▁a b▁ c] x 15) [▁ab] (b▁ first, then ▁a) */
    char text[128] = "c ab";
    int32_t want[64] = {259, 262};
    int n = 2;
    for (int k = 1; k < 16; k++) {
        strcat(text, " c ab");
        want[n++] = 263, want[n++] = 267, want[n++] = 262;
    }
    want[n++] = 265;
    CU_ASSERT(strlen(text) > 64);
    CU_ASSERT(tok_expect_ids(tk, text, strlen(text), want, n));
    tokenizer_free(tk);
}

/* Gemma's pipeline: spaces -> ▁ in the normalizer, a Split on " " that then finds none; ignore_merges
 * takes a whole word from the vocab even when no merge builds it. */
static void test_replace_and_ignore_merges(void)
{
    const char *norm = "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" SP "\"}";
    const char *pre = "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\"}";
    struct tokenizer *tk = tok_load_ok(sp_hand("spgem", MERGES, norm, pre, LLAMA2_DEC, NULL, -1));
    TOK_EXPECT(tk, "ab ab", 264, 265);
    TOK_EXPECT(tk, "abc", 264, 262);
    tokenizer_free(tk);
    tk = tok_load_ok(sp_hand("spim", MERGES, norm, METASPACE("never", "true"), LLAMA2_DEC,
                             "{\"ignore_merges\": true}", -1));
    TOK_EXPECT(tk, "abc", 268);
    TOK_EXPECT(tk, "abc abc", 268, 265, 262); /* "▁abc" is not in the vocab: merges as usual */
    tokenizer_free(tk);
}

/* Llama 3's tokenizer_config.json has "model_max_length": 1000000000000000019884624838656 (> 2^64). */
static void test_config_big_integer(void)
{
    const char *dir = sp_hand("spcfg", MERGES, LLAMA2_NORM, NULL, LLAMA2_DEC, NULL, -1);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"add_bos_token\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\",\n"
          " \"model_max_length\": 1000000000000000019884624838656}\n", f);
    fclose(f);
    struct tokenizer *tk = tok_load_ok(dir);
    CU_ASSERT_EQUAL(tokenizer_default_bos(tk), 1);
    CU_ASSERT_EQUAL(tokenizer_eos_id(tk), 2);
    tokenizer_free(tk);
    f = fopen(path, "w"); /* still refused: not JSON */
    fputs("{\"model_max_length\": 1000000000000000019884624838656,", f);
    fclose(f);
    char msg[1024];
    CU_ASSERT_EQUAL(tok_load_status(dir, msg, sizeof msg), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "tokenizer_config.json"));
}

SS_SUITE(tokenizer_sp)
{
    CU_pSuite s = CU_add_suite("tokenizer_sp", NULL, NULL);
    CU_add_test(s, "Llama 2 pipeline: Prepend, Replace, byte fallback, decode chain", test_llama2_pipeline);
    CU_add_test(s, "unk: fuse_unk, byte fallback with a missing byte, no unk token", test_unk);
    CU_add_test(s, "Metaspace: prepend_scheme first/always/never, split", test_metaspace);
    CU_add_test(s, "Replace normalizer with Split, ignore_merges on characters", test_replace_and_ignore_merges);
    CU_add_test(s, "a long word merged in stretches gives the whole word's ids", test_long_word_cuts);
    CU_add_test(s, "tokenizer_config.json with an integer beyond 64 bits", test_config_big_integer);
}
