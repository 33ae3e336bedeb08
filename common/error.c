#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void flatten(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

/* Copy text into out (n bytes). When it does not fit, the longest word (a path, as a
 * rule) loses its middle to "..." until it does, so a long path never cuts off the
 * problem that follows it; only text with no long word is cut at the end. */
static void fit_message(char *out, size_t n, const char *text)
{
    size_t len = strlen(text);
    if (len < n) {
        memcpy(out, text, len + 1);
        return;
    }
    size_t best = 0, best_len = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != ' ')
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j + 1;
    }
    size_t excess = len - (n - 1) + 3; /* bytes to drop, "..." included */
    if (best_len > excess + 16) {
        size_t keep_head = (best_len - excess) / 2, cut = best + keep_head;
        snprintf(out, n, "%.*s...%s", (int)cut, text, text + cut + excess);
        return;
    }
    snprintf(out, n, "%.*s", (int)(n - 1), text);
}

enum ss_status ss_fail(struct ss_error *e, enum ss_status status, const char *fmt, ...)
{
    if (!e)
        return status;
    char big[4 * sizeof e->msg + 8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(big, sizeof big, fmt, ap);
    va_end(ap);
    flatten(big);
    fit_message(e->msg, sizeof e->msg, big);
    e->status = status;
    return status;
}

enum ss_status ss_prefix(struct ss_error *e, const char *fmt, ...)
{
    if (!e)
        return SS_ERR_INTERNAL;
    char head[8192], big[sizeof head + sizeof e->msg + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    snprintf(big, sizeof big, "%s: %s", head, e->msg);
    flatten(big);
    fit_message(e->msg, sizeof e->msg, big);
    return e->status;
}

void ss_error_clear(struct ss_error *e)
{
    if (e) {
        e->status = SS_OK;
        e->msg[0] = 0;
    }
}
