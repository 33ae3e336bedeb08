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
/* The whole file, NUL-terminated (malloc'd; *n = its size), or NULL when unreadable. */
char *test_read_file(const char *path, size_t *n);
/* Count the lines of s (a trailing newline does not start a new line). */
int test_count_lines(const char *s);
/* max |a-b| over n floats */
double test_max_abs_diff(const float *a, const float *b, size_t n);

#endif
