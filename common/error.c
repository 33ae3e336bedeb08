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

enum ss_status ss_fail(struct ss_error *e, enum ss_status status, const char *fmt, ...)
{
    if (!e)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    flatten(e->msg);
    e->status = status;
    return status;
}

enum ss_status ss_prefix(struct ss_error *e, const char *fmt, ...)
{
    if (!e)
        return SS_ERR_INTERNAL;
    char head[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %.*s", head, (int)(sizeof e->msg - strlen(head) - 3), old);
    flatten(e->msg);
    return e->status;
}

void ss_error_clear(struct ss_error *e)
{
    if (e) {
        e->status = SS_OK;
        e->msg[0] = 0;
    }
}
