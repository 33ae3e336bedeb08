/* report/assets.c — the page's script and style, written as files of their own
 * (report/page.js, report/page.css) and compiled in: the Makefile turns each into
 * report/NAME.inc, one C string literal per line (see the rule "report/%.inc"). */
#include "report_int.h"

const char report_page_js[] =
#include "page.js.inc"
    ;

const char report_page_css[] =
#include "page.css.inc"
    ;
