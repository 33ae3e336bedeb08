/* tests/test_cases.c — the one runner of the data-file test cases (format: test_cases.h).
 * Each tests/cases/NAME.test becomes suite NAME: a first test that checks the catalogue
 * itself (every case parses, names are unique, every `given:` names a known setup and every
 * known setup is used by some case), then one test per case, which runs the command
 * in-process (cli_main) and checks exit status, stderr, stdout and the files left behind. */
#include <CUnit/CUnit.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_cases.h"
#include "test_tokenizer_util.h"
#include "test_util.h"

#define CASES_GLOB "tests/cases/*.test"
#define MAX_WORDS 32
#define MAX_MULTI 8

static const struct case_setup *const setup_tables[] = {badinput_setups, analyze_golden_setups};

struct tcase {
    char *name, *given, *stdout_file;
    char *argv[MAX_WORDS];
    int argc, exit_status, stderr_lines, line;
    char *expect[MAX_MULTI], *absent[MAX_MULTI], *kept[MAX_MULTI], *before[MAX_MULTI];
    int n_expect, n_absent, n_kept, n_before;
};

struct tfile {
    char path[256], suite[64], error[512];
    struct tcase *cases;
    int n;
};

static struct tfile *files;
static int n_files;

/* ---- parsing ---------------------------------------------------------------- */

static char *dup_str(const char *s) { return strcpy(malloc(strlen(s) + 1), s); }

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Split the value of run: into words; "..." quotes (\" \\ \xHH). Returns -1 on a syntax error. */
static int split_words(const char *s, char **argv, int *argc)
{
    char word[1200];
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        size_t n = 0;
        if (*s == '"') {
            for (s++; *s && *s != '"' && n < sizeof word - 1; s++) {
                if (*s == '\\' && s[1] == 'x' && hexval(s[2]) >= 0 && hexval(s[3]) >= 0) {
                    word[n++] = (char)(hexval(s[2]) * 16 + hexval(s[3]));
                    s += 3;
                } else if (*s == '\\' && (s[1] == '"' || s[1] == '\\')) {
                    word[n++] = *++s;
                } else
                    word[n++] = *s;
            }
            if (*s++ != '"')
                return -1;
        } else {
            while (*s && *s != ' ' && n < sizeof word - 1)
                word[n++] = *s++;
        }
        word[n] = 0;
        if (*argc >= MAX_WORDS - 1)
            return -1;
        argv[(*argc)++] = dup_str(word);
    }
    return *argc ? 0 : -1;
}

static int add_multi(char **list, int *n, const char *v)
{
    if (*n >= MAX_MULTI)
        return -1;
    list[(*n)++] = dup_str(v);
    return 0;
}

/* One `key: value` line into c; -1 for an unknown key or a bad value. */
static int parse_field(struct tcase *c, const char *key, const char *v)
{
    char *end;
    if (!strcmp(key, "name") && !c->name)
        c->name = dup_str(v);
    else if (!strcmp(key, "given") && !c->given)
        c->given = dup_str(v);
    else if (!strcmp(key, "run") && !c->argc)
        return split_words(v, c->argv, &c->argc);
    else if (!strcmp(key, "before")) {
        char *w[MAX_WORDS];
        int n = 0, bad = split_words(v, w, &n); /* checked now, split again when run */
        for (int i = 0; i < n; i++)
            free(w[i]);
        return bad ? -1 : add_multi(c->before, &c->n_before, v);
    }
    else if (!strcmp(key, "exit") || !strcmp(key, "stderr-lines")) {
        long x = strtol(v, &end, 10);
        if (end == v || *end || x < 0 || x > 255)
            return -1;
        *(key[0] == 'e' ? &c->exit_status : &c->stderr_lines) = (int)x;
    } else if (!strcmp(key, "stderr"))
        return add_multi(c->expect, &c->n_expect, v);
    else if (!strcmp(key, "stdout") && !c->stdout_file)
        c->stdout_file = dup_str(v);
    else if (!strcmp(key, "absent"))
        return add_multi(c->absent, &c->n_absent, v);
    else if (!strcmp(key, "kept"))
        return add_multi(c->kept, &c->n_kept, v);
    else
        return -1;
    return 0;
}

static struct tcase *new_case(struct tfile *f, int line)
{
    f->cases = realloc(f->cases, (size_t)(f->n + 1) * sizeof *f->cases);
    struct tcase *c = &f->cases[f->n++];
    memset(c, 0, sizeof *c);
    c->exit_status = -1;
    c->stderr_lines = -1;
    c->line = line;
    return c;
}

/* Check a finished case; names must be unique within the file. */
static int case_complete(struct tfile *f, const struct tcase *c)
{
    const char *why = !c->name ? "no name:" : !c->argc ? "no run:" : c->exit_status < 0 ? "no exit:" : NULL;
    for (int i = 0; !why && i < f->n - 1; i++)
        if (!strcmp(f->cases[i].name, c->name))
            why = "a second case of this name";
    if (why)
        snprintf(f->error, sizeof f->error, "%s:%d: %s", f->path, c->line, why);
    return why ? -1 : 0;
}

static void parse_file(struct tfile *f)
{
    size_t len = 0;
    char *text = test_read_file(f->path, &len);
    if (!text) {
        snprintf(f->error, sizeof f->error, "%s: cannot read", f->path);
        return;
    }
    struct tcase *c = NULL;
    int lineno = 0;
    for (char *line = text, *next; line && !f->error[0]; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        if (line[0] == '#')
            continue;
        if (!line[0]) {
            if (c && case_complete(f, c))
                break;
            c = NULL;
            continue;
        }
        char *colon = strstr(line, ": ");
        if (!c)
            c = new_case(f, lineno);
        if (colon)
            *colon = 0;
        if (!colon || parse_field(c, line, colon + 2))
            snprintf(f->error, sizeof f->error, "%s:%d: bad line (key: value, keys in tests/test_cases.h)", f->path,
                     lineno);
    }
    if (c && !f->error[0])
        case_complete(f, c);
    free(text);
}

/* ---- setups and substitution ------------------------------------------------------ */

static const struct case_setup *find_setup(const char *name)
{
    for (size_t t = 0; t < sizeof setup_tables / sizeof setup_tables[0]; t++)
        for (const struct case_setup *s = setup_tables[t]; s->name; s++)
            if (!strcmp(s->name, name))
                return s;
    return NULL;
}

/* Replace @D, @M, @R, @T in s; returns a static buffer from a ring. */
static const char *subst(const char *s, const char *dir)
{
    static char ring[MAX_WORDS + MAX_MULTI][1200];
    static int k;
    char *o = ring[k++ % (MAX_WORDS + MAX_MULTI)];
    size_t n = 0;
    for (const char *p = s; *p && n < 1100; p++) {
        const char *rep = NULL;
        if (p[0] == '@' && p[1] && strchr("DMRT", p[1]))
            rep = p[1] == 'D' ? dir : p[1] == 'M' ? case_model() : p[1] == 'R' ? case_run() : case_tokenizer();
        if (rep) {
            n += (size_t)snprintf(o + n, 1200 - n, "%s", rep);
            p++;
        } else {
            o[n++] = *p;
        }
    }
    o[n] = 0;
    return o;
}

/* ---- the valid inputs ------------------------------------------------------------- */

static char g_model[512], g_run[512], g_tok[512];

/* synth --preset tiny, a run of it, a byte-level tokenizer (ids 0..255 = bytes, two merges,
 * one special token); 0 when ready. Made on first use, not in a suite's init: tok_hand
 * reports through CUnit. */
static int base_make(void)
{
    const char *d = test_tmpdir("case-base");
    if (!d)
        return 1;
    snprintf(g_model, sizeof g_model, "%s/tiny", d);
    snprintf(g_run, sizeof g_run, "%s/tiny.h5", d);
    if (test_cli(NULL, 0, NULL, 0, "synth", "-o", g_model, "--preset", "tiny", NULL) != 0)
        return 1;
    if (test_cli(NULL, 0, NULL, 0, "run", "-m", g_model, "--token-ids", "1,2,3,4,5,6,7,8", "-o", g_run, "--quiet",
                 NULL) != 0)
        return 1;
    const char *t = tok_hand("case-tok", "{\"ab\": 256, \"cd\": 257}", "[\"a b\", \"c d\"]",
                             "[{\"id\": 300, \"content\": \"<s>\", \"special\": true}]", NULL, NULL, NULL, NULL);
    if (!t)
        return 1;
    snprintf(g_tok, sizeof g_tok, "%s", t);
    return 0;
}

static int base_ready(void)
{
    static int base = -1;
    if (base < 0)
        base = base_make();
    if (base)
        CU_FAIL("the valid inputs (synth, run, tokenizer) cannot be made");
    return base;
}

const char *case_model(void) { return base_ready() ? "" : g_model; }
const char *case_run(void) { return base_ready() ? "" : g_run; }
const char *case_tokenizer(void) { return base_ready() ? "" : g_tok; }

/* ---- running a case --------------------------------------------------------------- */

static char out[1 << 18], err[1 << 14];

static void spit(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(s, f);
        fclose(f);
    }
}

/* stdout against the golden file; prints the first differing line. 1 when equal. */
static int check_stdout(const struct tcase *c, const char *dir)
{
    const char *upd = getenv("SS_UPDATE_GOLDEN");
    if (upd && !strcmp(upd, "1")) {
        spit(c->stdout_file, out);
        printf("\n    wrote %s", c->stdout_file);
        return 1;
    }
    size_t n = 0;
    char *g = test_read_file(c->stdout_file, &n);
    if (!g) {
        printf("\n    %s missing (SS_UPDATE_GOLDEN=1 writes it)", c->stdout_file);
        return 0;
    }
    int same = n == strlen(out) && memcmp(g, out, n) == 0;
    if (!same) {
        char actual[1300];
        snprintf(actual, sizeof actual, "%s/stdout.actual", dir);
        spit(actual, out);
        int line = 1;
        for (size_t i = 0; i < n && out[i] && g[i] == out[i]; i++)
            line += g[i] == '\n';
        printf("\n    %s differs from the output at line %d (output in %s)", c->stdout_file, line, actual);
    }
    free(g);
    return same;
}

/* The files the case names under @D: absent ones must not exist, kept ones must be unchanged. */
static int check_files(const struct tcase *c, const char *dir, char **before)
{
    int ok = 1;
    char p[1300];
    for (int i = 0; i < c->n_absent; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, c->absent[i]);
        if (access(p, F_OK) == 0)
            printf("\n    %s exists after the command", p), ok = 0;
    }
    for (int i = 0; i < c->n_kept; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, c->kept[i]);
        size_t n = 0;
        char *now = test_read_file(p, &n);
        if (!now || !before[i] || strcmp(now, before[i]))
            printf("\n    %s changed by the command", p), ok = 0;
        free(now);
    }
    snprintf(p, sizeof p, "ls -a '%s' | grep -q -e '\\.tmp' -e '\\.partial'", dir);
    if (system(p) == 0)
        printf("\n    a temporary file is left in %s", dir), ok = 0;
    return ok;
}

static int check_stderr(const struct tcase *c, const char *dir)
{
    int lines = c->stderr_lines >= 0 ? c->stderr_lines : c->exit_status == 2 ? 1 : -1;
    int ok = lines < 0 || test_count_lines(err) == lines;
    for (int i = 0; i < c->n_expect; i++)
        ok &= strstr(err, subst(c->expect[i], dir)) != NULL;
    if (!ok) {
        printf("\n    stderr (%d lines): %s    expected", test_count_lines(err), err);
        if (lines >= 0)
            printf(" %d line%s", lines, lines == 1 ? "" : "s");
        for (int i = 0; i < c->n_expect; i++)
            printf(" '%s'", subst(c->expect[i], dir));
    }
    return ok;
}

/* The case's before: commands, each of which must succeed. */
static int run_before(const struct tcase *c, const char *dir)
{
    for (int i = 0; i < c->n_before; i++) {
        char *w[MAX_WORDS];
        const char *argv[MAX_WORDS];
        int n = 0;
        split_words(c->before[i], w, &n);
        for (int k = 0; k < n; k++)
            argv[k] = subst(w[k], dir);
        int rc = test_cli_argv(NULL, 0, err, sizeof err, n, argv);
        for (int k = 0; k < n; k++)
            free(w[k]);
        if (rc) {
            printf("\n    before: %s: exit %d: %s", c->before[i], rc, err);
            return -1;
        }
    }
    return 0;
}

static void case_exec(const struct tfile *f, const struct tcase *c)
{
    char tag[128];
    snprintf(tag, sizeof tag, "case-%s-%d", f->suite, (int)(c - f->cases));
    const char *dir = test_tmpdir(tag);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    if (c->given)
        find_setup(c->given)->fn(dir);
    CU_ASSERT_EQUAL_FATAL(run_before(c, dir), 0);
    char *before[MAX_MULTI] = {0};
    char p[1300];
    size_t n;
    for (int i = 0; i < c->n_kept; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, c->kept[i]);
        before[i] = test_read_file(p, &n);
    }
    const char *argv[MAX_WORDS];
    for (int i = 0; i < c->argc; i++)
        argv[i] = subst(c->argv[i], dir);
    int rc = test_cli_argv(out, sizeof out, err, sizeof err, c->argc, argv);
    int ok = rc == c->exit_status;
    if (!ok)
        printf("\n    exit %d, expected %d", rc, c->exit_status);
    ok &= check_stderr(c, dir);
    ok &= check_files(c, dir, before);
    if (c->stdout_file)
        ok &= check_stdout(c, dir);
    if (!ok)
        printf("\n    FAILED case '%s' (%s:%d)\n", c->name, f->path, c->line);
    for (int i = 0; i < c->n_kept; i++)
        free(before[i]);
    CU_ASSERT(ok);
}

/* ---- registration ----------------------------------------------------------------- */

static const struct tfile *current_file(void)
{
    const char *suite = CU_get_current_suite()->pName;
    for (int i = 0; i < n_files; i++)
        if (!strcmp(files[i].suite, suite))
            return &files[i];
    return NULL;
}

static void test_one_case(void)
{
    const struct tfile *f = current_file();
    const char *name = CU_get_current_test()->pName;
    for (int i = 0; f && i < f->n; i++)
        if (!strcmp(f->cases[i].name, name)) {
            case_exec(f, &f->cases[i]);
            return;
        }
    CU_FAIL("case not found");
}

/* Is setup name used by a case of any file? */
static int setup_used(const char *name)
{
    for (int i = 0; i < n_files; i++)
        for (int j = 0; j < files[i].n; j++)
            if (files[i].cases[j].given && !strcmp(files[i].cases[j].given, name))
                return 1;
    return 0;
}

/* The catalogue itself: parsed, every given: known, every setup of every table used. */
static void test_catalogue(void)
{
    const struct tfile *f = current_file();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    if (f->error[0])
        printf("\n    %s", f->error);
    CU_ASSERT(!f->error[0]);
    CU_ASSERT(f->n > 0);
    for (int i = 0; i < f->n; i++)
        if (f->cases[i].given && !find_setup(f->cases[i].given)) {
            printf("\n    %s:%d: unknown setup '%s'", f->path, f->cases[i].line, f->cases[i].given);
            CU_FAIL("unknown setup");
        }
    for (size_t t = 0; t < sizeof setup_tables / sizeof setup_tables[0]; t++)
        for (const struct case_setup *s = setup_tables[t]; s->name; s++)
            if (!setup_used(s->name)) {
                printf("\n    setup '%s' is used by no case", s->name);
                CU_FAIL("unused setup");
            }
    printf("\n    %s: %d cases", f->path, f->n);
}

void test_cases_register(const char *only)
{
    glob_t g;
    if (glob(CASES_GLOB, 0, NULL, &g))
        return;
    files = calloc(g.gl_pathc, sizeof *files);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct tfile *f = &files[n_files++];
        snprintf(f->path, sizeof f->path, "%s", g.gl_pathv[i]);
        const char *base = strrchr(f->path, '/') + 1;
        snprintf(f->suite, sizeof f->suite, "%.*s", (int)(strlen(base) - strlen(".test")), base);
        parse_file(f);
    }
    globfree(&g);
    for (int i = 0; i < n_files; i++) {
        const struct tfile *f = &files[i];
        if (only && strcmp(only, f->suite))
            continue;
        CU_pSuite s = CU_add_suite(f->suite, NULL, NULL);
        CU_add_test(s, "the catalogue: cases parse, setups exist and are all used", test_catalogue);
        for (int j = 0; !f->error[0] && j < f->n; j++)
            if (f->cases[j].given == NULL || find_setup(f->cases[j].given))
                CU_add_test(s, f->cases[j].name, test_one_case);
    }
}

static void case_free(struct tcase *c)
{
    free(c->name);
    free(c->given);
    free(c->stdout_file);
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    for (int i = 0; i < c->n_expect; i++)
        free(c->expect[i]);
    for (int i = 0; i < c->n_absent; i++)
        free(c->absent[i]);
    for (int i = 0; i < c->n_kept; i++)
        free(c->kept[i]);
    for (int i = 0; i < c->n_before; i++)
        free(c->before[i]);
}

void test_cases_free(void)
{
    for (int i = 0; i < n_files; i++) {
        for (int j = 0; j < files[i].n; j++)
            case_free(&files[i].cases[j]);
        free(files[i].cases);
    }
    free(files);
    files = NULL;
    n_files = 0;
}
