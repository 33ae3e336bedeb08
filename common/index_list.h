/* common/index_list.h — the one grammar of index lists, for every option that picks layers
 * or heads (run --layers/--heads, audit --layers, plot --layers):
 *
 *     all      every index
 *     i        the 0-based index i
 *     -i       the i-th from the end (-1 = the last)
 *     a-b      a through b inclusive; either end may count from the end (0--1, -3--1)
 *     x,y,...  any combination of the above (duplicates count once)
 *
 * Errors are SS_ERR_INPUT with one line naming the option and the list. */
#ifndef SS_COMMON_INDEX_LIST_H
#define SS_COMMON_INDEX_LIST_H

#include "error.h"

/* The indices spec picks out of n (what: the option, e.g. "--layers"; noun: "layer"),
 * distinct and in the order written, into idx (room for n); *count of them. */
enum ss_status index_list_parse(const char *spec, int n, const char *what, const char *noun, int *idx, int *count,
                                struct ss_error *err);
/* The same as a mask: sel[i] = 1 for each picked index, 0 otherwise (sel has n bytes). */
enum ss_status index_list_mask(const char *spec, int n, const char *what, const char *noun, unsigned char *sel,
                               int *count, struct ss_error *err);
/* Syntax only, before the number of items is known (e.g. plot, before it opens the runs). */
enum ss_status index_list_check(const char *spec, const char *what, struct ss_error *err);

#endif
