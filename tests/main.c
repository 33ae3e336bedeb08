/* CUnit runner. CU_basic_run_tests() reports success even when tests fail, so the
 * exit status comes from the failure counts. SS_TEST_SUITE=name runs one suite. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define X(name) void ss_suite_##name(void);
#include "suites.gen.h"
#undef X

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 3;
    const char *only = getenv("SS_TEST_SUITE");
#define X(name) if (!only || !strcmp(only, #name)) ss_suite_##name();
#include "suites.gen.h"
#undef X
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    printf("\n%u tests run, %s\n", run, failed ? "FAILURES" : "all passed");
    return (failed || run == 0) ? 1 : 0;
}
