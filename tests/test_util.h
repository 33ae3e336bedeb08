/* tests/test_util.h — shared helpers for the CUnit suites.
 * Each test file declares suites with SS_SUITE(name) at the start of a line:
 *     SS_SUITE(safetensors) { CU_pSuite s = CU_add_suite("safetensors", NULL, NULL);
 *                             CU_add_test(s, "rejects huge header", test_huge_header); }
 * The Makefile collects them; tests/main.c registers them all. */
#ifndef SS_TESTS_TEST_UTIL_H
#define SS_TESTS_TEST_UTIL_H

#include <CUnit/CUnit.h>
#include <stddef.h>

#define SS_SUITE(name) void ss_suite_##name(void); void ss_suite_##name(void)

/* A fresh empty directory under tests/out/ (created), unique per call; returns a static-lifetime copy. */
const char *test_tmpdir(const char *tag);
/* Run `sinkscope ARGS...` in-process (cli_main) with stdout/stderr captured into files;
 * returns the exit status. out/err may be NULL; when given they receive up to n-1 bytes. */
int test_cli(char *out, size_t nout, char *err, size_t nerr, const char *arg0, ...);
/* The same with an argument vector (argv[0] is the first argument after `sinkscope`). */
int test_cli_argv(char *out, size_t nout, char *err, size_t nerr, int argc, const char *const *argv);
/* Something a test needs is absent (a fetched tokenizer, a generated fixture, a tool):
 * print "SKIP: <why>" and list it at the end of the run; with CI=true in the
 * environment every listed skip fails the run (tests/main.c). Something present but
 * unusable is not a skip: fail. Repeated reasons are listed once. */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the list of skips (if any); returns how many. */
int test_skips_report(void);
/* The whole file, NUL-terminated (malloc'd; *n = its size), or NULL when unreadable. */
char *test_read_file(const char *path, size_t *n);
/* Count the lines of s (a trailing newline does not start a new line). */
int test_count_lines(const char *s);
/* A byte-level tokenizer.json (ids 0..255 the bytes, 256 <|endoftext|>; no merges) and a
 * tokenizer_config.json without BOS in dir, so text inputs work on the tiny fixtures. */
void test_write_byte_tokenizer(const char *dir);
/* max |a-b| over n floats */
double test_max_abs_diff(const float *a, const float *b, size_t n);

#endif
