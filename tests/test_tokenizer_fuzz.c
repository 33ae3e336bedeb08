/* tests/test_tokenizer_fuzz.c — nothing crashes: malformed tokenizer.json documents are refused
 * with one line naming the file, truncated files never load half-way, and arbitrary bytes as text
 * either encode (valid UTF-8) or are refused with the byte offset (strict mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "../tokenizer/tokenizer.h"
#include "../tokenizer/tokenizer_impl.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

#define BL "\"pre_tokenizer\":{\"type\":\"ByteLevel\"}"
#define MODEL(v, m) "\"model\":{\"type\":\"BPE\",\"vocab\":" v ",\"merges\":" m "}"
#define V "{\"a\":0,\"b\":1,\"ab\":2}"

static const char *bad_docs[] = {
    "[]", "5", "\"x\"", "{}", "{" BL "}", "{\"model\":\"BPE\"," BL "}",
    "{" MODEL("[]", "[]") "," BL "}",
    "{" MODEL("{\"a\":-1}", "[]") "," BL "}",
    "{" MODEL("{\"a\":\"0\"}", "[]") "," BL "}",
    "{" MODEL("{\"a\":99999999999}", "[]") "," BL "}",
    "{" MODEL("{\"a\":0,\"b\":0}", "[]") "," BL "}",
    "{" MODEL(V, "{}") "," BL "}",
    "{" MODEL(V, "[1]") "," BL "}",
    "{" MODEL(V, "[[\"a\"]]") "," BL "}",
    "{" MODEL(V, "[[\"a\",\"b\",\"c\"]]") "," BL "}",
    "{" MODEL(V, "[null]") "," BL "}",
    "{" MODEL(V, "[[\"a\",5]]") "," BL "}",
    "{" MODEL(V, "[\"a\"]") "," BL "}",
    "{" MODEL(V, "[\"b a\"]") "," BL "}",
    "{" MODEL(V, "[]") "," BL ",\"added_tokens\":\"x\"}",
    "{" MODEL(V, "[]") "," BL ",\"added_tokens\":[1]}",
    "{" MODEL(V, "[]") "," BL ",\"added_tokens\":[{\"content\":5,\"id\":1}]}",
    "{" MODEL(V, "[]") "," BL ",\"added_tokens\":[{\"content\":\"x\",\"id\":-3}]}",
    "{" MODEL(V, "[]") "," BL ",\"added_tokens\":[{\"content\":\"x\"}]}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":{\"type\":\"Split\"}}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":5}}}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":5}}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":{\"type\":5}}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":[]}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"ab\"}}",
    "{" MODEL(V, "[]") ",\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"_\",\"prepend_scheme\":\"x\"}}",
    "{" MODEL(V, "[]") ",\"normalizer\":{\"type\":\"Prepend\",\"prepend\":5}}",
    "{" MODEL(V, "[]") ",\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" \"},\"content\":\"_\"}}",
    "{" MODEL(V, "[]") ",\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\"\"},\"content\":\"_\"}}",
    "{" MODEL(V, "[]") ",\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"}}}",
    "{" MODEL(V, "[]") ",\"decoder\":{\"type\":\"Strip\",\"content\":\" \",\"start\":-1,\"stop\":0}}",
    "{" MODEL(V, "[]") ",\"decoder\":{\"type\":\"Replace\",\"pattern\":{\"String\":\"_\"}}}",
    "{" MODEL(V, "[]") ",\"decoder\":{\"type\":\"Sequence\",\"decoders\":{}}}",
    "{" MODEL(V, "[]") "," BL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":\"x\"}}",
    "{" MODEL(V, "[]") "," BL ",\"normalizer\":5}",
    "{" MODEL(V, "[]") "," BL ",\"decoder\":{\"type\":\"WordPiece\"}}",
    "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}," BL "}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":" V ",\"merges\":[],\"continuing_subword_prefix\":\"##\"}," BL "}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":" V ",\"merges\":[],\"dropout\":0.1}," BL "}",
};

static void test_malformed_documents(void)
{
    const char *dir = test_tmpdir("tokfuzz");
    char path[600], msg[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int refused = 0, n = (int)(sizeof bad_docs / sizeof bad_docs[0]);
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad_docs[i], f);
        fclose(f);
        int st = tok_load_status(path, msg, sizeof msg);
        int ok = st == SS_ERR_INPUT && strstr(msg, path) && !strchr(msg, '\n');
        if (!ok)
            printf("\n    document %d: status %d, message \"%s\"\n", i, st, msg);
        refused += ok;
    }
    printf("\n    %d of %d malformed documents refused with one line\n", refused, n);
    CU_ASSERT_EQUAL(refused, n);
}

/* Every prefix of a valid tokenizer.json (cut every 13 bytes) is refused, never half-loaded. */
static void test_truncated_files(void)
{
    const char *dir = tok_hand("tokfuzztr", "{\"ab\":256}", "[[\"a\",\"b\"]]",
                               "[{\"id\":300,\"content\":\"<X>\",\"special\":true}]", "{\"type\":\"NFC\"}", NULL, NULL, NULL);
    if (!dir)
        return;
    char path[600], cut[600], msg[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 16);
    size_t len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    const char *d2 = test_tmpdir("tokfuzztr2");
    snprintf(cut, sizeof cut, "%s/tokenizer.json", d2);
    int bad = 0, tried = 0;
    for (size_t n = 0; n + 1 < len; n += 13, tried++) {
        f = fopen(cut, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        bad += tok_load_status(cut, msg, sizeof msg) != SS_ERR_INPUT;
    }
    printf("\n    %d truncations of %zu bytes, %d not refused\n", tried, len, bad);
    CU_ASSERT_EQUAL(bad, 0);
    free(buf);
}

static uint64_t rng = 12345;
static uint32_t next_rand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

/* Strict mode on random bytes: SS_OK exactly when the bytes are valid UTF-8, else SS_ERR_INPUT
 * naming an offset inside the text. */
static void test_random_bytes_strict(void)
{
    struct tokenizer *tk = tok_load_ok(tok_hand("tokfuzzrb", "{\"ab\":256}", "[[\"a\",\"b\"]]", NULL, "{\"type\":\"NFC\"}", NULL, NULL, NULL));
    if (!tk)
        return;
    char buf[256];
    int ok = 0, refused = 0, wrong = 0;
    for (int i = 0; i < 2000; i++) {
        size_t len = next_rand() % sizeof buf;
        int ascii_bias = i % 2; /* half mostly-ASCII, so that some strings are valid */
        for (size_t j = 0; j < len; j++)
            buf[j] = (char)(ascii_bias && next_rand() % 8 ? next_rand() % 128 : next_rand() & 0xFF);
        struct ss_error err = {0};
        int32_t *ids = NULL;
        int n = 0;
        enum ss_status st = tokenizer_encode(tk, buf, len, 0, &ids, &n, &err);
        if (st == SS_OK)
            ok++;
        else if (st == SS_ERR_INPUT && strstr(err.msg, "byte offset"))
            refused++;
        else
            wrong++;
        free(ids);
    }
    printf("\n    2000 random byte strings: %d encoded, %d refused with an offset, %d otherwise\n", ok, refused, wrong);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT(ok > 0 && refused > 0);
    tokenizer_free(tk);
}

/* The normalizer works on the non-ASCII stretches only; that must equal utf8proc on the whole
 * text, for each normal form, on strings dense in combining marks, compatibility characters and
 * Hangul next to ASCII. */
static void test_segmented_normalization(void)
{
    static const char *pieces[] = {"e", "E", " ", "a", "\xcc\x81", "\xcc\x88", "\xcc\xa3", "\xcd\x85", "\xc3\xa9",
                                   "\xef\xac\x81", "\xef\xbc\xa1", "\xe1\x84\x80", "\xe1\x85\xa1", "\xea\xb0\x80",
                                   "\xe2\x84\xab", "\xc7\x84", "1", "\xc2\xbd", "\n", "\xe3\x82\xab", "\xe3\x82\x99"};
    static const int forms[] = {UTF8PROC_STABLE | UTF8PROC_COMPOSE, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE,
                                UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT,
                                UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT};
    char buf[512];
    int differ = 0, total = 0;
    for (int f = 0; f < 4; f++) {
        struct normalizer nz = {.n = 1, .step = {{.kind = NORM_KIND_UNICODE, .options = forms[f]}}};
        for (int i = 0; i < 500; i++, total++) {
            size_t n = 0;
            int k = 1 + (int)(next_rand() % 24);
            for (int j = 0; j < k; j++) {
                const char *p = pieces[next_rand() % (sizeof pieces / sizeof pieces[0])];
                memcpy(buf + n, p, strlen(p));
                n += strlen(p);
            }
            char *got = NULL;
            size_t got_len = 0;
            struct ss_error err = {0};
            utf8proc_uint8_t *want = NULL;
            utf8proc_ssize_t wl = utf8proc_map((const utf8proc_uint8_t *)buf, (utf8proc_ssize_t)n, &want,
                                               (utf8proc_option_t)forms[f]);
            CU_ASSERT_EQUAL_FATAL(normalizer_apply(&nz, buf, n, &got, &got_len, &err), SS_OK);
            const char *g = got ? got : buf;
            size_t gl = got ? got_len : n;
            if (wl < 0 || (size_t)wl != gl || memcmp(g, want, gl))
                differ++;
            free(got);
            free(want);
        }
    }
    printf("\n    %d of %d strings normalized differently from utf8proc on the whole text\n", differ, total);
    CU_ASSERT_EQUAL(differ, 0);
}

SS_SUITE(tokenizer_fuzz)
{
    CU_pSuite s = CU_add_suite("tokenizer_fuzz", NULL, NULL);
    CU_add_test(s, "malformed tokenizer.json documents are refused", test_malformed_documents);
    CU_add_test(s, "truncated tokenizer.json files are refused", test_truncated_files);
    CU_add_test(s, "random bytes: encoded or refused with the offset", test_random_bytes_strict);
    CU_add_test(s, "normalizing non-ASCII stretches equals whole-text utf8proc", test_segmented_normalization);
}
