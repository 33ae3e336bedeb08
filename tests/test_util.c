#include "test_util.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cli/cli.h"

const char *test_tmpdir(const char *tag)
{
    static char bufs[64][512];
    static int next;
    static int counter;
    char *p = bufs[next++ % 64];
    mkdir("tests/out", 0755);
    snprintf(p, 512, "tests/out/%s-%d-%d", tag, (int)getpid(), counter++);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0)
        return NULL;
    mkdir(p, 0755);
    return p;
}

static void slurp(const char *path, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t r = fread(buf, 1, n - 1, f);
    buf[r] = 0;
    fclose(f);
}

int test_cli(char *out, size_t nout, char *err, size_t nerr, const char *arg0, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 62; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    return test_cli_argv(out, nout, err, nerr, n, args);
}

int test_cli_argv(char *out, size_t nout, char *err, size_t nerr, int nargs, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "sinkscope";
    for (int i = 0; i < nargs && argc < 63; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;

    mkdir("tests/out", 0755);
    char fo[256], fe[256];
    snprintf(fo, sizeof fo, "tests/out/cli-%d.out", (int)getpid());
    snprintf(fe, sizeof fe, "tests/out/cli-%d.err", (int)getpid());
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int o = open(fo, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(fe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    close(o);
    close(e);
    int rc = cli_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    slurp(fo, out, nout);
    slurp(fe, err, nerr);
    return rc;
}

char *test_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return buf;
}

int test_count_lines(const char *s)
{
    int n = 0;
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n')
            n++;
    if (len && s[len - 1] != '\n')
        n++;
    return n;
}

double test_max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

static char skips[32][256];
static int n_skips;

void test_skip(const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    printf("\n    SKIP: %s\n", why);
    for (int i = 0; i < n_skips; i++)
        if (!strcmp(skips[i], why))
            return;
    if (n_skips < 32)
        snprintf(skips[n_skips++], sizeof skips[0], "%s", why);
}

int test_skips_report(void)
{
    if (n_skips)
        printf("\n%d skipped (each is a failure under CI=true):\n", n_skips);
    for (int i = 0; i < n_skips; i++)
        printf("  SKIP: %s\n", skips[i]);
    return n_skips;
}

/* GPT-2 byte-level alphabet: byte b -> code point. */
static unsigned byte_char(int b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        return b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)))
            n++;
    return 256 + n;
}

/* A byte-level tokenizer.json without merges: ids 0..255 are the bytes, 256 is <|endoftext|>. */
void test_write_byte_tokenizer(const char *dir)
{
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        unsigned c = byte_char(b);
        char s[4];
        if (c < 0x80) {
            s[0] = (char)c;
            s[1] = 0;
        } else {
            s[0] = (char)(0xC0 | (c >> 6));
            s[1] = (char)(0x80 | (c & 0x3F));
            s[2] = 0;
        }
        json_object_set_new(vocab, s, json_integer(b));
    }
    json_t *root = json_pack("{s:{s:s,s:o,s:[]},s:{s:s,s:b,s:b,s:b},s:{s:s,s:b,s:b,s:b},s:[{s:i,s:s,s:b,s:b,s:b,s:b,s:b}]}",
                             "model", "type", "BPE", "vocab", vocab, "merges",
                             "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1,
                             "decoder", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1,
                             "added_tokens", "id", 256, "content", "<|endoftext|>", "single_word", 0, "lstrip", 0,
                             "rstrip", 0, "normalized", 0, "special", 1);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    json_dump_file(root, path, 0);
    json_decref(root);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"eos_token\": \"<|endoftext|>\", \"bos_token\": null, \"add_bos_token\": false}\n", f);
    fclose(f);
}
