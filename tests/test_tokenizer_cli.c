/* tests/test_tokenizer_cli.c — `sinkscope tokenize`: outputs, -f, and bad input (exit 2, one line). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_tokenizer_util.h"
#include "test_util.h"

/* A hand tokenizer: "ab" is 256, ids 0..255 are bytes. */
static const char *tok_dir(void)
{
    static const char *dir;
    if (!dir)
        dir = tok_hand("tokcli", "{\"ab\":256}", "[[\"a\",\"b\"]]",
                       "[{\"id\":300,\"content\":\"<X>\",\"special\":true,\"normalized\":false}]", NULL, NULL,
                       NULL, NULL);
    return dir;
}

static const char *write_file(const char *name, const char *data, size_t len)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir("tokclifile"), name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

static void test_ids(void)
{
    char out[4096], err[1024];
    int rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-p", "ab<X> b", "--ids", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(out, "256 300 32 98\n");
    const char *q = tok_qwen3();
    if (q) {
        rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", "tests/fixtures/qwen3-tokenizer", "-p",
                      "Hello world", "--ids", NULL);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_STRING_EQUAL(out, "9707 1879\n");
    }
}

/* -f strips exactly one trailing newline. */
static void test_file(void)
{
    char out[4096], want[4096], err[1024];
    const char *f = write_file("t.txt", "ab\n\n", 4);
    CU_ASSERT_EQUAL(test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-f", f, "--ids", NULL), 0);
    CU_ASSERT_EQUAL(test_cli(want, sizeof want, err, sizeof err, "tokenize", "-m", tok_dir(), "-p", "ab\n", "--ids", NULL), 0);
    CU_ASSERT_STRING_EQUAL(out, want);
    CU_ASSERT_STRING_EQUAL(out, "256 10\n");
}

static void test_json_and_pieces(void)
{
    char out[4096], err[1024];
    int rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-p", "ab\n<X>", "--json", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    CU_ASSERT_PTR_NOT_NULL(o);
    json_t *ids = json_object_get(o, "ids"), *pieces = json_object_get(o, "pieces");
    CU_ASSERT_EQUAL(json_array_size(ids), 3);
    CU_ASSERT_EQUAL(json_array_size(pieces), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(ids, 2)), 300);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(pieces, 1)), "\n");
    json_decref(o);
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-p", "ab\n<X>", "--pieces", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(out, "\"ab\"\n\"\\n\"\n\"<X>\"\n");
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-p", "ab", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(out, "0\t256\t\"ab\"\n");
}

static void test_bad_input(void)
{
    char out[4096], err[1024];
    const char *f = write_file("bad.txt", "ab\xff\n", 4);
    int rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-f", f, "--ids", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid UTF-8 at byte offset 2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.txt"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    CU_ASSERT_STRING_EQUAL(out, "");
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-f", f, "--ids", "--lossy", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(out, "256 239 191 189\n"); /* U+FFFD as three byte tokens */

    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", "tests/out/none-such", "-p", "x", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    const char *wp = tok_hand("tokcliwp", NULL, NULL, NULL, NULL, NULL, "{\"type\":\"Unigram\"}", NULL);
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", wp, "-p", "x", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unsupported model type \"Unigram\""));
    CU_ASSERT_EQUAL(test_count_lines(err), 1);
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), NULL);
    CU_ASSERT_EQUAL(rc, 2);
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-p", "x", "-f", f, NULL);
    CU_ASSERT_EQUAL(rc, 2);
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-p", "x", "--ids", "--json", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    rc = test_cli(out, sizeof out, err, sizeof err, "tokenize", "-m", tok_dir(), "-f", "tests/out/no-file.txt", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-file.txt: cannot read"));
}

SS_SUITE(tokenizer_cli)
{
    CU_pSuite s = CU_add_suite("tokenizer_cli", NULL, NULL);
    CU_add_test(s, "--ids prints the ids on one line", test_ids);
    CU_add_test(s, "-f strips one trailing newline", test_file);
    CU_add_test(s, "--json, --pieces and the default table", test_json_and_pieces);
    CU_add_test(s, "bad input: exit 2 with one line; --lossy", test_bad_input);
}
