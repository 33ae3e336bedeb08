/* pipeline/inputs.c — the token sequences of `sinkscope run`: --token-ids, a
 * prompt (-p), a file (-f) or a corpus (--corpus, plain text or JSONL with a
 * "text" field) cut into windows of -c tokens, each with the BOS when on. */
#include "pipeline.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/readfile.h"
#include "../tokenizer/tokenizer.h"

#define CORPUS_DEFAULT_CTX 512

void run_seqs_free(struct run_seqs *s)
{
    free(s->tok);
    s->tok = NULL;
}


/* "1,2,3" (commas or white space between ids), or "@FILE" holding such a list. */
static enum ss_status parse_ids(const char *list, int vocab, int32_t **ids, int *n, struct ss_error *err)
{
    char *file_text = NULL;
    const char *what = "--token-ids";
    if (list[0] == '@') {
        size_t len;
        enum ss_status s = readfile_all(list + 1, READFILE_LIMIT_TEXT, "token-id list", &file_text, &len, err);
        if (s)
            return s;
        what = list + 1;
        list = file_text;
    }
    int cap = 16, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    const char *p = list;
    enum ss_status s = v ? SS_OK : ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", what);
    while (!s) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || (*end && *end != ',' && !isspace((unsigned char)*end)))
            s = ss_fail(err, SS_ERR_INPUT, "%s: '%.40s' is not a list of integer token ids", what, p);
        else if (x < 0 || x >= vocab)
            s = ss_fail(err, SS_ERR_INPUT, "%s: id %ld is out of range [0, %d)", what, x, vocab);
        else if (k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                s = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", what);
            else
                v = nv;
        }
        if (!s) {
            v[k++] = (int32_t)x;
            p = end;
        }
    }
    free(file_text);
    if (!s && k == 0)
        s = ss_fail(err, SS_ERR_INPUT, "%s: empty list", what);
    if (s) {
        free(v);
        return s;
    }
    *ids = v;
    *n = k;
    return SS_OK;
}

/* Append ids to a growing stream. */
static int append(int32_t **s, int *n, int *cap, const int32_t *ids, int k)
{
    if (*n + k > *cap) {
        int nc = (*n + k) * 2 + 64;
        int32_t *ns = realloc(*s, nc * sizeof *ns);
        if (!ns)
            return -1;
        *s = ns;
        *cap = nc;
    }
    memcpy(*s + *n, ids, k * sizeof *ids);
    *n += k;
    return 0;
}

/* Corpus text -> one token stream; JSONL documents are joined by EOS (when the tokenizer has one). */
static enum ss_status corpus_tokens(const char *path, const char *text, size_t len, const struct tokenizer *tk,
                                    int lossy, int32_t **stream, int *n, struct ss_error *err)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    int cap = 0, jsonl = i < len && text[i] == '{';
    *stream = NULL;
    *n = 0;
    if (!jsonl) {
        enum ss_status s = tokenizer_encode(tk, text, len, lossy, stream, n, err);
        return s ? ss_prefix(err, "%s", path) : SS_OK;
    }
    int32_t eos = tokenizer_eos_id(tk);
    int line = 0, docs = 0;
    for (const char *p = text; p < text + len; line++) {
        const char *nl = memchr(p, '\n', text + len - p);
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        int blank = 1;
        for (size_t k = 0; k < ll; k++)
            blank &= isspace((unsigned char)p[k]) != 0;
        if (!blank) {
            json_error_t je;
            json_t *obj = json_loadb(p, ll, 0, &je);
            json_t *t = obj ? json_object_get(obj, "text") : NULL;
            if (!json_is_string(t)) {
                json_decref(obj);
                free(*stream);
                return ss_fail(err, SS_ERR_INPUT, "%s:%d: not a JSON object with a \"text\" string", path, line + 1);
            }
            int32_t *ids = NULL;
            int k = 0;
            enum ss_status s = tokenizer_encode(tk, json_string_value(t), json_string_length(t), lossy, &ids, &k, err);
            json_decref(obj);
            if (s) {
                free(*stream);
                return ss_prefix(err, "%s:%d", path, line + 1);
            }
            int bad = (docs > 0 && eos >= 0 && append(stream, n, &cap, &eos, 1)) || append(stream, n, &cap, ids, k);
            free(ids);
            if (bad) {
                free(*stream);
                return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
            }
            docs++;
        }
        p += ll + 1;
    }
    return SS_OK;
}

static enum ss_status resolve_bos(const struct pipeline_opts *a, const struct tokenizer *tk, int vocab, int *bos,
                                  struct ss_error *err)
{
    if (!strcmp(a->bos, "none")) {
        *bos = -1;
    } else if (!strcmp(a->bos, "auto")) {
        *bos = a->token_ids || !tk ? -1 : tokenizer_default_bos(tk);
    } else {
        char *end;
        errno = 0;
        long v = strtol(a->bos, &end, 10);
        if (end == a->bos || *end || errno)
            return ss_fail(err, SS_ERR_INPUT, "--bos: '%s' is not auto, none or a token id", a->bos);
        if (v < 0 || v >= vocab)
            return ss_fail(err, SS_ERR_INPUT, "--bos: id %ld is out of range [0, %d)", v, vocab);
        *bos = (int)v;
    }
    return SS_OK;
}

/* The token ids of the input (--token-ids, -p, -f or the corpus), each checked against the
 * vocabulary; out->source names where they came from. what: the input's name for messages. */
static enum ss_status input_ids(const struct pipeline_opts *a, const struct tokenizer *tk, int vocab, const char *what,
                                int32_t **ids, int *n, struct run_seqs *out, struct ss_error *err)
{
    enum ss_status s;
    *ids = NULL;
    *n = 0;
    if (a->token_ids) {
        s = parse_ids(a->token_ids, vocab, ids, n, err);
        snprintf(out->source, sizeof out->source, "token-ids");
    } else {
        char *text = NULL;
        size_t len = 0;
        if (a->prompt) {
            text = strdup(a->prompt);
            len = strlen(a->prompt);
            snprintf(out->source, sizeof out->source, "prompt");
            s = text ? SS_OK : ss_fail(err, SS_ERR_NOMEM, "-p: out of memory");
        } else {
            s = a->file ? readfile_all(a->file, READFILE_LIMIT_TEXT, "prompt file", &text, &len, err)
                        : readfile_all(a->corpus, READFILE_LIMIT_CORPUS, "corpus", &text, &len, err);
            snprintf(out->source, sizeof out->source, "%s:%s", a->file ? "file" : "corpus",
                     a->file ? a->file : a->corpus);
        }
        if (!s && a->corpus)
            s = corpus_tokens(a->corpus, text, len, tk, a->lossy, ids, n, err);
        else if (!s && (s = tokenizer_encode(tk, text, len, a->lossy, ids, n, err)))
            ss_prefix(err, "%s", what);
        free(text);
        if (!s && *n == 0) {
            free(*ids);
            *ids = NULL;
            s = ss_fail(err, SS_ERR_INPUT, "%s: empty %s (no tokens)", what, a->corpus ? "corpus" : "prompt");
        }
    }
    if (s) /* the readers free what they allocated when they fail */
        return s;
    for (int i = 0; i < *n; i++)
        if ((*ids)[i] < 0 || (*ids)[i] >= vocab) {
            s = ss_fail(err, SS_ERR_INPUT, "%s: token id %d is out of range for the model's vocabulary of %d", what,
                        (*ids)[i], vocab);
            free(*ids);
            *ids = NULL;
            return s;
        }
    return SS_OK;
}

/* One sequence: the BOS (when hb) and the n ids, at most -c long. */
static enum ss_status seqs_single(const struct pipeline_opts *a, const char *what, const int32_t *ids, int n, int hb,
                                  struct run_seqs *out, struct ss_error *err)
{
    out->T = n + hb;
    if (a->ctx && out->T > a->ctx)
        return ss_fail(err, SS_ERR_INPUT, "%s: the input is %d tokens%s, longer than -c %d", what, out->T,
                       hb ? " with the BOS" : "", a->ctx);
    out->n = 1;
    if (!(out->tok = malloc(out->T * sizeof *out->tok)))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", what);
    if (hb)
        out->tok[0] = out->bos;
    memcpy(out->tok + hb, ids, n * sizeof *ids);
    return SS_OK;
}

/* Corpus windows of -c tokens (BOS + text), every --stride text tokens, at most --max-seqs. */
static enum ss_status seqs_windows(const struct pipeline_opts *a, const int32_t *ids, int n, int hb,
                                   struct run_seqs *out, struct ss_error *err)
{
    int ctx = a->ctx ? a->ctx : CORPUS_DEFAULT_CTX, W = ctx - hb;
    int stride = a->stride ? a->stride : W;
    if (W <= 0)
        return ss_fail(err, SS_ERR_INPUT, "-c: %d leaves no room for text after the BOS", ctx);
    if (n < W)
        return ss_fail(err, SS_ERR_INPUT, "%s: %d tokens, fewer than one window of -c %d", a->corpus, n, ctx);
    int nw = (n - W) / stride + 1;
    if (a->max_seqs && nw > a->max_seqs)
        nw = a->max_seqs;
    out->n = nw;
    out->T = ctx;
    if (!(out->tok = malloc((size_t)nw * ctx * sizeof *out->tok)))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory for %d windows", a->corpus, nw);
    for (int w = 0; w < nw; w++) {
        int32_t *dst = out->tok + (size_t)w * ctx;
        if (hb)
            dst[0] = out->bos;
        memcpy(dst + hb, ids + (size_t)w * stride, W * sizeof *ids);
    }
    return SS_OK;
}

enum ss_status run_input_build(const struct pipeline_opts *a, const struct tokenizer *tk, int vocab,
                               struct run_seqs *out, struct ss_error *err)
{
    memset(out, 0, sizeof *out);
    enum ss_status s = resolve_bos(a, tk, vocab, &out->bos, err);
    if (s)
        return s;
    const char *what = a->token_ids ? "--token-ids" : a->prompt ? "-p" : a->file ? a->file : a->corpus;
    int32_t *ids;
    int n;
    if ((s = input_ids(a, tk, vocab, what, &ids, &n, out, err)))
        return s;
    int hb = out->bos >= 0;
    s = a->corpus ? seqs_windows(a, ids, n, hb, out, err) : seqs_single(a, what, ids, n, hb, out, err);
    free(ids);
    return s;
}
