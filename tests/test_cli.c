#include <string.h>

#include "test_util.h"

static void test_unknown_command(void)
{
    char err[512];
    int rc = test_cli(NULL, 0, err, sizeof err, "frobnicate", NULL);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown command 'frobnicate'"));
    CU_ASSERT_EQUAL(test_count_lines(err), 1); /* bad input gets one line */
}

static void test_help_lists_commands(void)
{
    char out[4096];
    int rc = test_cli(out, sizeof out, NULL, 0, "--help", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "summary"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "plot"));
}

SS_SUITE(cli)
{
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    CU_add_test(s, "unknown command exits 2 naming it", test_unknown_command);
    CU_add_test(s, "--help lists the commands", test_help_lists_commands);
}
