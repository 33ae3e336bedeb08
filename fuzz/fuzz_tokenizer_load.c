/* fuzz/fuzz_tokenizer_load.c — tokenizer.json documents through tokenizer_load;
 * an accepted tokenizer then encodes, decodes and names pieces of a fixed text. */
#include <stdint.h>
#include <stdlib.h>

#include "../tokenizer/tokenizer.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    snprintf(path, sizeof path, "%s/tokenizer.json", fuzz_dir("tokload"));
    fuzz_write(path, data, size);
    struct tokenizer *tk = NULL;
    struct ss_error err = {0};
    enum ss_status st = tokenizer_load(&tk, path, &err);
    fuzz_check_error(st, &err);
    if (st != SS_OK)
        return 0;
    static const char text[] = "Hello, world! 123 <|im_start|>caf\xc3\xa9  \n\t\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80";
    int32_t *ids = NULL;
    int n = 0;
    struct ss_error e2 = {0};
    st = tokenizer_encode(tk, text, sizeof text - 1, 0, &ids, &n, &e2);
    fuzz_check_error(st, &e2);
    if (st == SS_OK) {
        int vs = tokenizer_vocab_size(tk);
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= vs)
                abort(); /* every id lies in the vocabulary */
            free(tokenizer_piece(tk, ids[i]));
        }
        char *dec = NULL;
        if (tokenizer_decode(tk, ids, n, &dec, &e2) == SS_OK)
            free(dec);
        free(ids);
    }
    free(tokenizer_piece(tk, -1));
    free(tokenizer_piece(tk, 0));
    (void)tokenizer_token_id(tk, "a");
    tokenizer_free(tk);
    return 0;
}
