/* tokenizer/tokenizer_pretok.c — the "pre_tokenizer" of tokenizer.json: Split (the file's own regex,
 * run as written by PCRE2 with JIT, UTF + UCP), ByteLevel (add_prefix_space, use_regex with the
 * GPT-2 regex), Metaspace (spaces -> the replacement, prepend_scheme, split), Digits and Sequence.
 * Steps run depth-first on each piece: no intermediate lists of the whole text beyond one step's
 * split points. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

/* The regex ByteLevel uses when use_regex is true (tokenizers pre_tokenizers/byte_level.rs). */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static enum ss_status compile_re(pcre2_code **re, const char *pat, size_t len, int literal, const char *file,
                                 struct ss_error *err)
{
    int code;
    PCRE2_SIZE off;
    uint32_t opt = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP); /* LITERAL refuses UCP */
    *re = pcre2_compile((PCRE2_SPTR)pat, len, opt, &code, &off, NULL);
    if (!*re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return ss_fail(err, SS_ERR_INPUT, "%s: pre_tokenizer regex does not compile at offset %zu: %s", file,
                       (size_t)off, (const char *)msg);
    }
    /* Without JIT the interpreter still works. A literal is left to the interpreter, which finds it with
     * memchr; JIT's vector search for one reads bytes past the subject (uninitialized to valgrind). */
    if (!literal)
        pcre2_jit_compile(*re, PCRE2_JIT_COMPLETE);
    return SS_OK;
}

static int get_bool(const json_t *o, const char *key, int dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static enum ss_status parse_split(struct pretok_step *st, const json_t *j, const char *file, struct ss_error *err)
{
    const json_t *pat = json_object_get(j, "pattern");
    const json_t *re = json_object_get(pat, "Regex");
    const json_t *lit = json_object_get(pat, "String");
    const json_t *p = json_is_string(re) ? re : lit;
    if (!json_is_string(p))
        return ss_fail(err, SS_ERR_INPUT, "%s: Split pre_tokenizer without a \"pattern\" Regex or String", file);
    const char *beh = json_string_value(json_object_get(j, "behavior"));
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    st->behavior = SPLIT_BEHAVIOR_ISOLATED;
    if (beh) {
        int k = -1;
        for (int i = 0; i < 5; i++)
            if (!strcmp(beh, names[i]))
                k = i;
        if (k < 0)
            return ss_fail(err, SS_ERR_INPUT, "%s: unsupported Split behavior \"%s\"", file, beh);
        st->behavior = (enum split_behavior)k;
    }
    st->invert = get_bool(j, "invert", 0);
    st->kind = PRETOK_KIND_SPLIT;
    return compile_re(&st->re, json_string_value(p), json_string_length(p), p == lit, file, err);
}

/* Metaspace: "replacement" (one character), "prepend_scheme" always/first/never (older files:
 * "add_prefix_space" true = always, false = never), "split" (default true). */
static enum ss_status parse_metaspace(struct pretok_step *st, const json_t *j, const char *file, struct ss_error *err)
{
    const json_t *r = json_object_get(j, "replacement");
    const char *rs = json_string_value(r);
    uint32_t c;
    if (!rs || !json_string_length(r) || json_string_length(r) > 4 ||
        utf8_valid_prefix(rs, json_string_length(r)) != json_string_length(r) ||
        utf8_decode(rs, &c) != (int)json_string_length(r))
        return ss_fail(err, SS_ERR_INPUT, "%s: Metaspace \"replacement\" is not one character", file);
    st->kind = PRETOK_KIND_METASPACE;
    memcpy(st->replacement, rs, json_string_length(r));
    st->replacement_len = (int)json_string_length(r);
    const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
    if (!scheme)
        st->prepend = get_bool(j, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER;
    else if (!strcmp(scheme, "always"))
        st->prepend = PREPEND_ALWAYS;
    else if (!strcmp(scheme, "first"))
        st->prepend = PREPEND_FIRST;
    else if (!strcmp(scheme, "never"))
        st->prepend = PREPEND_NEVER;
    else
        return ss_fail(err, SS_ERR_INPUT, "%s: unsupported Metaspace prepend_scheme \"%s\"", file, scheme);
    st->behavior = SPLIT_BEHAVIOR_MERGED_WITH_NEXT;
    if (get_bool(j, "split", 1))
        return compile_re(&st->re, st->replacement, (size_t)st->replacement_len, 1, file, err);
    return SS_OK;
}

static enum ss_status parse_one(struct pretok *pt, const json_t *j, const char *file, int depth, struct ss_error *err)
{
    if (!j || json_is_null(j))
        return SS_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return ss_fail(err, SS_ERR_INPUT, "%s: pre_tokenizer has no \"type\"", file);
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(j, "pretokenizers");
        if (!json_is_array(list) || depth > 4)
            return ss_fail(err, SS_ERR_INPUT, "%s: pre_tokenizer Sequence without a \"pretokenizers\" list", file);
        for (size_t i = 0; i < json_array_size(list); i++) {
            enum ss_status s = parse_one(pt, json_array_get(list, i), file, depth + 1, err);
            if (s)
                return s;
        }
        return SS_OK;
    }
    if (pt->n == TOK_MAX_PRETOK)
        return ss_fail(err, SS_ERR_INPUT, "%s: more than %d pre_tokenizers", file, TOK_MAX_PRETOK);
    struct pretok_step *st = &pt->step[pt->n];
    memset(st, 0, sizeof *st);
    if (!strcmp(type, "Split")) {
        enum ss_status s = parse_split(st, j, file, err);
        if (s)
            return s;
    } else if (!strcmp(type, "Digits")) {
        /* tokenizers splits on char::is_numeric (Unicode N*): each digit, or runs of them */
        st->kind = PRETOK_KIND_SPLIT;
        int single = get_bool(j, "individual_digits", 0);
        st->behavior = single ? SPLIT_BEHAVIOR_ISOLATED : SPLIT_BEHAVIOR_CONTIGUOUS;
        enum ss_status s = compile_re(&st->re, "\\p{N}", 5, 0, file, err);
        if (s)
            return s;
    } else if (!strcmp(type, "ByteLevel")) {
        st->kind = PRETOK_KIND_BYTE_LEVEL;
        st->add_prefix_space = get_bool(j, "add_prefix_space", 1);
        if (get_bool(j, "use_regex", 1)) {
            enum ss_status s = compile_re(&st->re, gpt2_regex, sizeof gpt2_regex - 1, 0, file, err);
            if (s)
                return s;
        }
        pt->byte_level = 1;
    } else if (!strcmp(type, "Metaspace")) {
        enum ss_status s = parse_metaspace(st, j, file, err);
        if (s)
            return s;
    } else
        return ss_fail(err, SS_ERR_INPUT, "%s: unsupported pre_tokenizer type \"%s\"", file, type);
    pt->n++;
    return SS_OK;
}

enum ss_status pretok_parse(struct pretok *pt, const json_t *j, const char *file, struct ss_error *err)
{
    memset(pt, 0, sizeof *pt);
    return parse_one(pt, j, file, 0, err);
}

void pretok_free(struct pretok *pt)
{
    for (int i = 0; i < pt->n; i++)
        pcre2_code_free(pt->step[i].re);
    memset(pt, 0, sizeof *pt);
}

enum ss_status pretok_scratch_init(struct pretok_scratch *sc, const char *file, struct ss_error *err)
{
    sc->file = file;
    sc->budget = TOK_RE_ENCODE_STEPS;
    sc->md = pcre2_match_data_create(1, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    sc->jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!sc->md || !sc->mctx) {
        pretok_scratch_free(sc);
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
    }
    if (sc->jit)
        pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit);
    return SS_OK;
}

void pretok_scratch_free(struct pretok_scratch *sc)
{
    pcre2_match_data_free(sc->md);
    pcre2_match_context_free(sc->mctx);
    pcre2_jit_stack_free(sc->jit);
    memset(sc, 0, sizeof *sc);
}

struct span {
    size_t start, end;
    int match;
};
struct span_list {
    struct span *v;
    size_t n, cap;
};

static int span_push(struct span_list *l, size_t start, size_t end, int match)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct span *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct span){start, end, match};
    return 0;
}

/* One pcre2_match under the budget of tokenizer_impl.h: free steps first, then the rest of the
 * budget (spent whether or not the match needed all of it). */
static int match_budgeted(const pcre2_code *re, struct pretok_scratch *sc, const char *s, size_t len, size_t pos)
{
    pcre2_set_match_limit(sc->mctx, TOK_RE_FREE_STEPS);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
    if (rc != PCRE2_ERROR_MATCHLIMIT || !sc->budget)
        return rc;
    uint32_t lim = sc->budget < TOK_RE_MATCH_STEPS ? sc->budget : TOK_RE_MATCH_STEPS;
    sc->budget -= lim;
    pcre2_set_match_limit(sc->mctx, lim);
    return pcre2_match(re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
}

/* HF find_matches: matches and the gaps between them, covering s. Empty matches are
 * skipped (advancing one character); no tokenizer.json regex we know of produces them. */
static enum ss_status find_matches(const pcre2_code *re, struct pretok_scratch *sc, const char *s, size_t len,
                                   struct span_list *out, struct ss_error *err)
{
    size_t pos = 0, prev = 0;
    while (pos < len) {
        int rc = match_budgeted(re, sc, s, len, pos);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc == PCRE2_ERROR_MATCHLIMIT)
            return ss_fail(err, SS_ERR_INPUT,
                           "%s: pre_tokenizer regex is over its matching budget (%u steps per text, %u per match) "
                           "at byte %zu: catastrophic backtracking?",
                           sc->file ? sc->file : "tokenizer", TOK_RE_ENCODE_STEPS, TOK_RE_MATCH_STEPS, pos);
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return ss_fail(err, SS_ERR_INPUT, "tokenizer: pre_tokenizer regex failed at byte %zu: %s", pos,
                           (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        size_t a = ov[0], b = ov[1];
        if (a == b) {
            pos = a + 1;
            while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80)
                pos++;
            continue;
        }
        if ((prev != a && span_push(out, prev, a, 0)) || span_push(out, a, b, 1))
            return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
        prev = pos = b;
    }
    if (prev != len && span_push(out, prev, len, 0))
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
    return SS_OK;
}

/* SplitDelimiterBehavior as tokenizers applies it to the (span, is_match) list, in place. */
static void apply_behavior(struct span_list *l, enum split_behavior b, int invert)
{
    size_t n = 0;
    int prev = 0;
    if (invert)
        for (size_t i = 0; i < l->n; i++)
            l->v[i].match = !l->v[i].match;
    switch (b) {
    case SPLIT_BEHAVIOR_ISOLATED:
        return;
    case SPLIT_BEHAVIOR_REMOVED:
        for (size_t i = 0; i < l->n; i++)
            if (!l->v[i].match)
                l->v[n++] = l->v[i];
        break;
    case SPLIT_BEHAVIOR_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < l->n; i++) {
            struct span s = l->v[i];
            if (s.match && !prev && n)
                l->v[n - 1].end = s.end;
            else
                l->v[n++] = s;
            prev = s.match;
        }
        break;
    case SPLIT_BEHAVIOR_MERGED_WITH_NEXT:
        /* walk backwards, writing from the end; then shift down */
        n = l->n;
        for (size_t i = l->n; i-- > 0;) {
            struct span s = l->v[i];
            if (s.match && !prev && n < l->n)
                l->v[n].start = s.start;
            else
                l->v[--n] = s;
            prev = s.match;
        }
        memmove(l->v, l->v + n, (l->n - n) * sizeof *l->v);
        n = l->n - n;
        break;
    case SPLIT_BEHAVIOR_CONTIGUOUS:
        for (size_t i = 0; i < l->n; i++) {
            struct span s = l->v[i];
            if (s.match == prev && n)
                l->v[n - 1].end = s.end;
            else
                l->v[n++] = s;
            prev = s.match;
        }
        break;
    }
    l->n = n;
}

static enum ss_status split_run(const struct pretok *pt, int from, const pcre2_code *re, enum split_behavior b,
                                int invert, struct pretok_scratch *sc, const char *s, size_t len, int at_start,
                                pretok_word_fn fn, void *ctx, struct ss_error *err)
{
    struct span_list l = {0};
    enum ss_status st = find_matches(re, sc, s, len, &l, err);
    if (!st) {
        apply_behavior(&l, b, invert);
        for (size_t i = 0; i < l.n && !st; i++)
            if (l.v[i].end > l.v[i].start)
                st = pretok_run(pt, from + 1, sc, s + l.v[i].start, l.v[i].end - l.v[i].start,
                                at_start && !l.v[i].start, fn, ctx, err);
    }
    free(l.v);
    return st;
}

/* Metaspace: spaces become the replacement, which is prepended as the scheme says unless the piece
 * already starts with it; then the piece is split before each replacement (or kept whole). */
static enum ss_status metaspace_run(const struct pretok *pt, int from, struct pretok_scratch *sc, const char *s,
                                    size_t len, int at_start, pretok_word_fn fn, void *ctx, struct ss_error *err)
{
    const struct pretok_step *st = &pt->step[from];
    size_t rl = (size_t)st->replacement_len, spaces = 0;
    for (size_t i = 0; i < len; i++)
        spaces += s[i] == ' ';
    int starts = (s[0] == ' ' || (len >= rl && !memcmp(s, st->replacement, rl)));
    int prepend = !starts && (st->prepend == PREPEND_ALWAYS || (st->prepend == PREPEND_FIRST && at_start));
    char *buf = calloc(1, len + spaces * (rl - 1) + rl + 1); /* zeroed: PCRE2's JIT may read past the subject */
    if (!buf)
        return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
    size_t n = 0;
    if (prepend) {
        memcpy(buf, st->replacement, rl);
        n = rl;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(buf + n, st->replacement, rl);
            n += rl;
        } else
            buf[n++] = s[i];
    }
    enum ss_status r = st->re ? split_run(pt, from, st->re, st->behavior, 0, sc, buf, n, at_start, fn, ctx, err)
                              : pretok_run(pt, from + 1, sc, buf, n, at_start, fn, ctx, err);
    free(buf);
    return r;
}

enum ss_status pretok_run(const struct pretok *pt, int from, struct pretok_scratch *sc, const char *s,
                          size_t len, int at_start, pretok_word_fn fn, void *ctx, struct ss_error *err)
{
    if (!len)
        return SS_OK;
    if (from == pt->n)
        return fn(ctx, s, len);
    const struct pretok_step *st = &pt->step[from];
    if (st->kind == PRETOK_KIND_SPLIT)
        return split_run(pt, from, st->re, st->behavior, st->invert, sc, s, len, at_start, fn, ctx, err);
    if (st->kind == PRETOK_KIND_METASPACE)
        return metaspace_run(pt, from, sc, s, len, at_start, fn, ctx, err);
    /* ByteLevel: optional leading space, optional GPT-2 split; the byte mapping itself is
     * implicit (BPE works on bytes). */
    char *buf = NULL;
    if (st->add_prefix_space && s[0] != ' ') {
        if (!(buf = malloc(len + 1)))
            return ss_fail(err, SS_ERR_NOMEM, "tokenizer: out of memory");
        buf[0] = ' ';
        memcpy(buf + 1, s, len);
        s = buf;
        len++;
    }
    enum ss_status r = st->re ? split_run(pt, from, st->re, SPLIT_BEHAVIOR_ISOLATED, 0, sc, s, len, at_start, fn, ctx,
                                          err)
                              : pretok_run(pt, from + 1, sc, s, len, at_start, fn, ctx, err);
    free(buf);
    return r;
}
