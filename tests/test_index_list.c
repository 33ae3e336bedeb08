/* tests/test_index_list.c — the one index-list grammar (common/index_list.h) that every
 * --layers/--heads goes through; the commands' use of it: tests/cases/index_lists.test. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "../common/index_list.h"
#include "test_util.h"

/* spec over n items: the indices in order ("" = none), or NULL and a text the error contains. */
static const struct {
    const char *spec;
    int n;
    const char *want, *error;
} cases[] = {
    {"all", 4, "0 1 2 3", NULL},
    {"2", 4, "2", NULL},
    {"-1", 4, "3", NULL},
    {"-4", 4, "0", NULL},
    {"1-3", 4, "1 2 3", NULL},
    {"5-7", 8, "5 6 7", NULL},
    {"0--1", 3, "0 1 2", NULL},
    {"-3--2", 5, "2 3", NULL},
    {"3,0,1-2,-1", 5, "3 0 1 2 4", NULL}, /* order as written, duplicates once */
    {"2,2,2", 4, "2", NULL},
    {"1-1", 2, "1", NULL},
    {"", 4, NULL, "empty"},
    {"x", 4, NULL, "expected all"},
    {"0,x", 4, NULL, "'0,x'"},
    {"0,", 4, NULL, "unexpected ','"},
    {",0", 4, NULL, "expected all"},
    {"1 2", 4, NULL, "unexpected ' '"},
    {"all,1", 4, NULL, "expected all"},
    {"2-1", 4, NULL, "bad range"},
    {"-1-0", 4, NULL, "bad range"},
    {"1-x", 4, NULL, "bad range"},
    {"4", 4, NULL, "layer 4 is outside 0-3"},
    {"-5", 4, NULL, "layer -5 is outside 0-3"},
    {"0-9", 4, NULL, "layer 9 is outside"},
    {"99999999999999999999", 4, NULL, "expected all"},
    {"0", 0, NULL, "outside"},
};

static void test_grammar(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int idx[16], n = -1;
        struct ss_error err = {0};
        enum ss_status s = index_list_parse(cases[i].spec, cases[i].n, "--layers", "layer", idx, &n, &err);
        char got[128] = "";
        for (int k = 0; !s && k < n; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), k ? " %d" : "%d", idx[k]);
        int ok = cases[i].want ? s == SS_OK && !strcmp(got, cases[i].want)
                               : s == SS_ERR_INPUT && strstr(err.msg, cases[i].error) && strstr(err.msg, "--layers");
        if (!ok)
            printf("\n    '%s' over %d: got '%s' (status %d: %s), want '%s'", cases[i].spec, cases[i].n, got, s,
                   err.msg, cases[i].want ? cases[i].want : cases[i].error);
        CU_ASSERT(ok);
    }
}

/* The mask form picks the same set; the syntax check agrees with the parser on syntax. */
static void test_mask_and_check(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char sel[16];
        int idx[16], n = 0, m = 0;
        struct ss_error err = {0};
        enum ss_status sp = index_list_parse(cases[i].spec, cases[i].n, "--heads", "head", idx, &n, &err);
        enum ss_status sm = index_list_mask(cases[i].spec, cases[i].n, "--heads", "head", sel, &m, &err);
        CU_ASSERT_EQUAL(sp, sm);
        CU_ASSERT_EQUAL(n, m);
        for (int k = 0; !sp && k < n; k++)
            CU_ASSERT(sel[idx[k]]);
        /* a range whose ends count from different sides is only known bad once n is known */
        int syntax_error = cases[i].error && !strstr(cases[i].error, "outside") && strcmp(cases[i].spec, "-1-0");
        CU_ASSERT_EQUAL(index_list_check(cases[i].spec, "--layers", &err) != SS_OK, syntax_error);
    }
}

SS_SUITE(index_list)
{
    CU_pSuite s = CU_add_suite("index_list", NULL, NULL);
    CU_add_test(s, "all, i, -i, a-b, lists; errors name the option and the list", test_grammar);
    CU_add_test(s, "mask and syntax check agree with the parser", test_mask_and_check);
}
