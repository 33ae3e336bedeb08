/* tests/test_cases.h — test cases as data files, read by one runner (tests/test_cases.c).
 *
 * Each tests/cases/NAME.test is a CUnit suite NAME with one test per case. A case is a block
 * of `key: value` lines (blank lines separate cases, `#` starts a comment line):
 *
 *   name:    what the case shows (unique in its file; the CUnit test name)
 *   given:   a named setup (a C function in a setup table, below) that prepares the case's
 *            directory @D, e.g. copies the valid checkpoint and truncates its weights
 *   before:  a sinkscope command that prepares @D and must succeed (repeatable, run in order
 *            after given:; same word rules as run:)
 *   run:     the sinkscope arguments. Words split on spaces; "..." quotes a word (\" \\ \xHH
 *            inside). @D = the case's directory, @M = the valid checkpoint (synth --preset tiny),
 *            @R = a valid run file of it, @T = a valid byte-level tokenizer directory.
 *   exit:    the expected exit status
 *   stderr:  text the standard error must contain (repeatable). Exit 2 also requires exactly
 *            one line on stderr (the bad-input rule); `stderr-lines: N` checks the count otherwise.
 *   stdout:  a golden file (path from the repository root) that stdout must equal byte for
 *            byte; SS_UPDATE_GOLDEN=1 rewrites it instead (review the diff)
 *   absent:  a file under @D that must not exist afterwards (repeatable)
 *   kept:    a file under @D the command must leave byte for byte as it was (repeatable)
 *
 * Every case also fails when a temporary file (.tmp, .partial) is left in @D. */
#ifndef SS_TESTS_TEST_CASES_H
#define SS_TESTS_TEST_CASES_H

/* A named setup: prepares dir (the case's empty directory) for the command. */
struct case_setup {
    const char *name;
    void (*fn)(const char *dir);
};

/* The setup tables (each ends with {NULL, NULL}); a new table is added to the runner's list. */
extern const struct case_setup badinput_setups[];
extern const struct case_setup analyze_golden_setups[];

/* The valid inputs cases start from, made on first use (synth, run, a hand-built tokenizer);
 * "" (and a CUnit failure) when they cannot be made. */
const char *case_model(void);
const char *case_run(void);
const char *case_tokenizer(void);

/* Register one suite per tests/cases/NAME.test (all, or the one named only); free them after. */
void test_cases_register(const char *only);
void test_cases_free(void);

#endif
