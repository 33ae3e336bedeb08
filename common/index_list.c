/* common/index_list.c — the index-list grammar of index_list.h. One scanner serves the three
 * entry points: with n < 0 it checks the syntax only. */
#include "index_list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One index at *p: digits, or '-' and digits. */
static int read_index(const char **p, long *v)
{
    const char *s = *p;
    if (!(s[0] >= '0' && s[0] <= '9') && !(s[0] == '-' && s[1] >= '0' && s[1] <= '9'))
        return -1;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno)
        return -1;
    *p = end;
    *v = x;
    return 0;
}

/* Walk spec over n items (n < 0: syntax only), calling mark(i) for each picked index. */
static enum ss_status scan(const char *spec, int n, const char *what, const char *noun,
                           void (*mark)(void *ctx, int i), void *ctx, struct ss_error *err)
{
    if (!spec || !*spec)
        return ss_fail(err, SS_ERR_INPUT, "%s: empty list (give all or indices like 0,2,5-7,-1)", what);
    if (!strcmp(spec, "all")) {
        for (int i = 0; i < n; i++)
            mark(ctx, i);
        return SS_OK;
    }
    for (const char *p = spec;;) {
        long a, b;
        if (read_index(&p, &a))
            return ss_fail(err, SS_ERR_INPUT, "%s '%s': expected all or 0-based indices like 0,2,5-7,-1", what, spec);
        b = a;
        if (*p == '-') {
            p++;
            if (read_index(&p, &b))
                return ss_fail(err, SS_ERR_INPUT, "%s '%s': bad range (expected A-B with A <= B)", what, spec);
        }
        if (n >= 0) {
            long ra = a < 0 ? n + a : a, rb = b < 0 ? n + b : b;
            if (ra < 0 || ra >= n || rb < 0 || rb >= n)
                return ss_fail(err, SS_ERR_INPUT, "%s '%s': %s %ld is outside 0-%d", what, spec, noun,
                               ra < 0 || ra >= n ? a : b, n - 1);
            if (rb < ra)
                return ss_fail(err, SS_ERR_INPUT, "%s '%s': bad range (expected A-B with A <= B)", what, spec);
            for (long i = ra; i <= rb; i++)
                mark(ctx, (int)i);
        } else if ((a < 0) == (b < 0) && b < a) {
            return ss_fail(err, SS_ERR_INPUT, "%s '%s': bad range (expected A-B with A <= B)", what, spec);
        }
        if (!*p)
            return SS_OK;
        if (*p != ',' || !p[1])
            return ss_fail(err, SS_ERR_INPUT, "%s '%s': unexpected '%c'", what, spec, *p);
        p++;
    }
}

struct picked {
    unsigned char *sel;
    int *idx;
    int count;
};

static void pick(void *ctx, int i)
{
    struct picked *k = ctx;
    if (k->sel[i])
        return;
    k->sel[i] = 1;
    if (k->idx)
        k->idx[k->count] = i;
    k->count++;
}

static void ignore(void *ctx, int i)
{
    (void)ctx;
    (void)i;
}

enum ss_status index_list_mask(const char *spec, int n, const char *what, const char *noun, unsigned char *sel,
                               int *count, struct ss_error *err)
{
    struct picked k = {sel, NULL, 0};
    memset(sel, 0, (size_t)(n > 0 ? n : 0));
    enum ss_status s = scan(spec, n > 0 ? n : 0, what, noun, pick, &k, err);
    *count = s ? 0 : k.count;
    return s;
}

enum ss_status index_list_parse(const char *spec, int n, const char *what, const char *noun, int *idx, int *count,
                                struct ss_error *err)
{
    unsigned char *sel = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!sel)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", what);
    struct picked k = {sel, idx, 0};
    enum ss_status s = scan(spec, n > 0 ? n : 0, what, noun, pick, &k, err);
    free(sel);
    *count = s ? 0 : k.count;
    return s;
}

enum ss_status index_list_check(const char *spec, const char *what, struct ss_error *err)
{
    return scan(spec, -1, what, "index", ignore, NULL, err);
}
