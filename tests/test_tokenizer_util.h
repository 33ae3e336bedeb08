/* tests/test_tokenizer_util.h — helpers for the tokenizer suites: hand-built tokenizer.json
 * files and an id-list comparison that prints both lists when they differ. */
#ifndef SS_TESTS_TEST_TOKENIZER_UTIL_H
#define SS_TESTS_TEST_TOKENIZER_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "../tokenizer/tokenizer.h"

#define QWEN3_TOKENIZER "tests/fixtures/qwen3-tokenizer/tokenizer.json"

/* Path of the real Qwen3 tokenizer.json, or NULL after printing a skip notice (make deps fetches it). */
const char *tok_qwen3(void);

/* Writes DIR/tokenizer.json (DIR fresh under tests/out) for a byte-level BPE whose ids 0..255 are the
 * 256 byte characters (id = byte value). JSON texts, NULL for the default:
 *   extra_vocab  {"token": id, ...} added to the vocab      merges  list in either spelling ([] )
 *   added        the added_tokens list (none)                normalizer (null)
 *   pretok       (ByteLevel, add_prefix_space false, use_regex true)
 *   model_extra  more fields of "model", e.g. {"ignore_merges": true}
 *   top_extra    more top-level fields, e.g. {"post_processor": ...}
 * Returns DIR (static lifetime), or NULL on failure (reported through CUnit). */
const char *tok_hand(const char *tag, const char *extra_vocab, const char *merges, const char *added,
                     const char *normalizer, const char *pretok, const char *model_extra, const char *top_extra);

/* Loads DIR (CU_FAIL on error, printing the message) */
struct tokenizer *tok_load_ok(const char *dir);

/* 1 when encoding text (len bytes) gives want[0..nwant); else prints text, got and want, returns 0. */
int tok_expect_ids(const struct tokenizer *tk, const char *text, size_t len, const int32_t *want, int nwant);
#define TOK_EXPECT(tk, text, ...)                                                                    \
    do {                                                                                             \
        const int32_t want_[] = {__VA_ARGS__};                                                       \
        CU_ASSERT(tok_expect_ids(tk, text, strlen(text), want_, (int)(sizeof want_ / sizeof want_[0]))); \
    } while (0)
#define TOK_EXPECT_EMPTY(tk, text) CU_ASSERT(tok_expect_ids(tk, text, strlen(text), NULL, 0))

/* Every line {"text": ..., "ids": [...]} of the cases file path must encode to exactly ids (printing
 * the first mismatches); with check_decode, decoding ids must also give the line's "decoded" (when
 * present) or else its text. At least min_cases lines. A missing tokenizer or file is a listed skip.
 * Returns the number of cases. */
int tok_check_cases(const struct tokenizer *tk, const char *path, int min_cases, int check_decode);

/* Prints the message of a load failure for path and returns its status (SS_OK when it loads). */
int tok_load_status(const char *path, char *msg, size_t nmsg);

#endif
