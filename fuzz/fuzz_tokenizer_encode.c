/* fuzz/fuzz_tokenizer_encode.c — arbitrary bytes through the real Qwen3 tokenizer
 * (tests/fixtures/qwen3-tokenizer/, or $SS_FUZZ_TOKENIZER), strict and lossy.
 * Strict either encodes or names a byte offset; lossy always encodes; ids lie in
 * the vocabulary and decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "fuzz_util.h"

static struct tokenizer *tk;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *p = getenv("SS_FUZZ_TOKENIZER");
    if (!p)
        p = "tests/fixtures/qwen3-tokenizer/tokenizer.json";
    struct ss_error err = {0};
    if (tokenizer_load(&tk, p, &err) != SS_OK) {
        fprintf(stderr, "fuzz_tokenizer_encode: %s (run from the repository root or set SS_FUZZ_TOKENIZER)\n",
                err.msg);
        exit(1);
    }
    return 0;
}

static void check_ids(const int32_t *ids, int n)
{
    int vs = tokenizer_vocab_size(tk);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vs)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t *ids = NULL;
    int n = 0;
    struct ss_error err = {0};
    enum ss_status st = tokenizer_encode(tk, (const char *)data, size, 0, &ids, &n, &err);
    fuzz_check_error(st, &err);
    if (st == SS_OK) {
        check_ids(ids, n);
        char *dec = NULL;
        struct ss_error e2 = {0};
        enum ss_status d = tokenizer_decode(tk, ids, n, &dec, &e2);
        fuzz_check_error(d, &e2);
        if (d != SS_OK)
            abort(); /* ids from encode always decode */
        free(dec);
        free(ids);
    } else if (st == SS_ERR_INPUT && !strstr(err.msg, "invalid UTF-8 at byte offset")) {
        abort(); /* invalid UTF-8 must be located by byte offset */
    }
    ids = NULL;
    n = 0;
    st = tokenizer_encode(tk, (const char *)data, size, 1, &ids, &n, &err);
    fuzz_check_error(st, &err);
    if (st != SS_OK)
        abort(); /* lossy never refuses */
    check_ids(ids, n);
    for (int i = 0; i < n && i < 64; i++)
        free(tokenizer_piece(tk, ids[i]));
    free(ids);
    return 0;
}
