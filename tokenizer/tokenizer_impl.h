/* tokenizer/tokenizer_impl.h — internals shared by the tokenizer_*.c files (not a public API).
 *
 * Pipeline of tokenizer_encode, as Hugging Face `tokenizers` runs it:
 *   UTF-8 check (or lossy repair) -> split on non-normalized added tokens -> normalize each
 *   remaining piece -> split on normalized added tokens -> pre-tokenizer steps (Split regex,
 *   ByteLevel, Metaspace) -> BPE per word.
 * Two kinds of BPE vocabularies:
 *   byte-level (a ByteLevel pre-tokenizer: GPT-2, Qwen, Llama 3): BPE runs directly on bytes; the
 *   ByteLevel alphabet maps each byte to one character, so "characters of the mapped word" are
 *   exactly the word's bytes.
 *   SentencePiece-style (Llama 2, Mistral, Gemma, Phi-3): BPE runs on the word's characters; a
 *   character missing from the vocab becomes its UTF-8 bytes as <0xNN> tokens (byte_fallback), or
 *   the unk token. */
#ifndef SS_MODEL_TOKENIZER_IMPL_H
#define SS_MODEL_TOKENIZER_IMPL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <jansson.h>

#include "../common/error.h"

/* ---- hash maps (tokenizer_map.c) ---- */

/* Copies of strings live in an arena freed all at once. */
struct tok_arena {
    char **chunks;
    int n_chunks;
    size_t used, cap; /* in the last chunk */
};
void *tok_arena_alloc(struct tok_arena *a, size_t n); /* NULL when out of memory */
/* A NUL-terminated copy of s[0..len) in the arena, or NULL when out of memory. */
char *tok_arena_strdup(struct tok_arena *a, const char *s, size_t len);
void tok_arena_free(struct tok_arena *a);

/* string (bytes, length) -> id; keys are not copied (they must outlive the map). */
struct strmap_entry {
    const char *s;
    uint32_t len;
    uint32_t hash;
    int32_t id;
};
struct strmap {
    uint32_t *slot; /* entry index + 1; 0 = empty */
    uint32_t mask;
    struct strmap_entry *e;
    int n, cap;
};
uint32_t tok_hash(const void *s, size_t len);
int strmap_init(struct strmap *m, int expected); /* 0 ok, -1 out of memory */
/* Insert or overwrite; returns 0, or -1 out of memory. */
int strmap_put(struct strmap *m, const char *s, size_t len, int32_t id);
int32_t strmap_get(const struct strmap *m, const char *s, size_t len); /* -1 when absent */
void strmap_free(struct strmap *m);

/* (left id, right id) -> (rank, merged id) */
struct pairmap_slot {
    uint64_t key; /* (left << 32 | right) + 1; 0 = empty */
    int32_t rank, id;
};
struct pairmap {
    struct pairmap_slot *slot;
    uint64_t mask;
    int n;
};
int pairmap_init(struct pairmap *m, int expected);
int pairmap_put(struct pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id);
/* 1 and fills rank/id when present, else 0. */
static inline int pairmap_get(const struct pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *id)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    for (uint64_t i = h >> 20 & m->mask;; i = (i + 1) & m->mask) {
        const struct pairmap_slot *s = &m->slot[i];
        if (s->key == key) {
            *rank = s->rank;
            *id = s->id;
            return 1;
        }
        if (!s->key)
            return 0;
    }
}
void pairmap_free(struct pairmap *m);

/* ---- bytes and UTF-8 (tokenizer_bytes.c) ---- */

/* GPT-2 bytes_to_unicode: the code point that stands for byte b in byte-level vocabularies. */
uint32_t byte_level_char(uint8_t b);
/* The inverse: the byte for code point c, or -1 when c is not in the alphabet. */
int byte_level_byte(uint32_t c);
/* The bytes a byte-level token string s (valid UTF-8) stands for, written to out (room for len
 * bytes): the alphabet undone when every character is in it, else s itself. Returns the length. */
size_t byte_level_unmap(const char *s, size_t len, char *out);
/* Length of the valid UTF-8 prefix of s (== len when all valid). */
size_t utf8_valid_prefix(const char *s, size_t len);
/* s with each maximal ill-formed subsequence replaced by U+FFFD (as Python's
 * errors="replace" and Rust's from_utf8_lossy do). Malloc'd, NUL-terminated; *out_len set. NULL on OOM. */
char *utf8_lossy(const char *s, size_t len, size_t *out_len);
/* Decode one code point from valid UTF-8 at s; returns its length in bytes. */
int utf8_decode(const char *s, uint32_t *cp);
int utf8_encode(uint32_t cp, char *out); /* returns bytes written (1..4) */
int unicode_is_whitespace(uint32_t c);  /* Rust char::is_whitespace (Unicode White_Space) */
int unicode_is_word(uint32_t c);        /* \w: letters, marks, numbers, connector punctuation */

/* ---- added tokens ---- */
struct added_token {
    char *content; /* in the arena */
    int len;
    char *match;   /* what is searched for: content, normalized when normalized is set */
    int match_len;
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
};

/* ---- normalizer (tokenizer_norm.c) ---- */
#define TOK_MAX_NORM 8
enum norm_kind {
    NORM_KIND_UNICODE, /* NFC/NFD/NFKC/NFKD through utf8proc */
    NORM_KIND_PREPEND, /* text = str + text, unless text is empty */
    NORM_KIND_REPLACE, /* every occurrence of the literal pattern -> str */
};
struct norm_step {
    enum norm_kind kind;
    int options;        /* UNICODE: utf8proc_option_t set */
    const char *pat;    /* REPLACE: the literal (in the arena) */
    size_t pat_len;
    const char *str;    /* PREPEND: prepended; REPLACE: replacement (in the arena) */
    size_t str_len;
};
struct normalizer {
    int n;
    struct norm_step step[TOK_MAX_NORM]; /* applied in order */
};
/* j: the "normalizer" value (may be NULL / JSON null); strings are copied into arena. */
enum ss_status normalizer_parse(struct normalizer *nz, const json_t *j, struct tok_arena *arena, const char *file,
                                struct ss_error *err);
/* Normalize valid UTF-8 s; *out is malloc'd (NULL and 0 returned for pass-through when
 * nothing needs to change). Returns SS_OK or SS_ERR_NOMEM. */
enum ss_status normalizer_apply(const struct normalizer *nz, const char *s, size_t len, char **out,
                                size_t *out_len, struct ss_error *err);

/* ---- pre-tokenizer (tokenizer_pretok.c) ---- */
enum pretok_kind {
    PRETOK_KIND_SPLIT,
    PRETOK_KIND_BYTE_LEVEL,
    PRETOK_KIND_METASPACE,
};
enum prepend_scheme { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };
enum split_behavior {
    SPLIT_BEHAVIOR_REMOVED,
    SPLIT_BEHAVIOR_ISOLATED,
    SPLIT_BEHAVIOR_MERGED_WITH_PREVIOUS,
    SPLIT_BEHAVIOR_MERGED_WITH_NEXT,
    SPLIT_BEHAVIOR_CONTIGUOUS,
};
#define TOK_MAX_PRETOK 8
struct pretok_step {
    enum pretok_kind kind;
    pcre2_code *re;                 /* SPLIT, BYTE_LEVEL with use_regex (GPT-2 regex), METASPACE with split
                                       (the replacement as a literal) */
    enum split_behavior behavior;   /* SPLIT */
    int invert;                     /* SPLIT */
    int add_prefix_space;           /* BYTE_LEVEL */
    char replacement[5];            /* METASPACE: one character, UTF-8, NUL-terminated */
    int replacement_len;
    enum prepend_scheme prepend;    /* METASPACE */
};
struct pretok {
    int n;
    struct pretok_step step[TOK_MAX_PRETOK];
    int byte_level; /* a ByteLevel step is present */
};
enum ss_status pretok_parse(struct pretok *pt, const json_t *j, const char *file, struct ss_error *err);
void pretok_free(struct pretok *pt);

/* Called for each final pre-token word (bytes of the word). Returns SS_OK or an error status. */
typedef enum ss_status (*pretok_word_fn)(void *ctx, const char *w, size_t len);
/* The regex budget of one encode, in PCRE2 match-limit units (deterministic, unlike time): a match
 * that finishes within TOK_RE_FREE_STEPS costs nothing (matches are at most one per byte, so this
 * part is linear in the text); one that needs more is retried with the rest of the budget as its
 * limit, at most TOK_RE_MATCH_STEPS, and that limit is spent. Real tokenizers' regexes never leave
 * the free part; a catastrophic-backtracking one fails the encode with SS_ERR_INPUT. */
#define TOK_RE_FREE_STEPS 1000u
#define TOK_RE_MATCH_STEPS 1000000u
#define TOK_RE_ENCODE_STEPS 10000000u
/* Per-call scratch (PCRE2 match data and JIT stack): encode is const and reentrant. */
struct pretok_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    const char *file;       /* the tokenizer.json, for messages */
    uint32_t budget;        /* what is left of TOK_RE_ENCODE_STEPS */
};
enum ss_status pretok_scratch_init(struct pretok_scratch *sc, const char *file, struct ss_error *err);
void pretok_scratch_free(struct pretok_scratch *sc);
/* Run steps [from, n) on the valid UTF-8 piece s, calling fn for every resulting word. at_start: s begins
 * at offset 0 of the original text (Metaspace prepend_scheme "first" prepends only there). */
enum ss_status pretok_run(const struct pretok *pt, int from, struct pretok_scratch *sc, const char *s,
                          size_t len, int at_start, pretok_word_fn fn, void *ctx, struct ss_error *err);

/* ---- decoder (tokenizer_decode.c) ---- */
enum dec_kind {
    DEC_KIND_BYTE_LEVEL,    /* the byte alphabet undone, all tokens fused, invalid UTF-8 -> U+FFFD */
    DEC_KIND_REPLACE,       /* per token: literal pat -> str */
    DEC_KIND_BYTE_FALLBACK, /* runs of <0xNN> tokens -> their bytes (U+FFFD per byte when invalid) */
    DEC_KIND_FUSE,          /* all tokens -> one */
    DEC_KIND_STRIP,         /* per token: up to start/stop copies of ch cut at each end */
    DEC_KIND_METASPACE,     /* per token: replacement -> ' ', dropped in the first token unless never */
};
#define TOK_MAX_DEC 8
struct dec_step {
    enum dec_kind kind;
    const char *pat, *str; /* REPLACE (arena); METASPACE: pat = the replacement; STRIP: pat = ch */
    size_t pat_len, str_len;
    int start, stop;       /* STRIP */
    enum prepend_scheme prepend; /* METASPACE */
};
struct decoder {
    int n;           /* 0: no decoder */
    int byte_level;  /* the decoder is exactly ByteLevel: decoding is the bytes of the tokens joined */
    struct dec_step step[TOK_MAX_DEC];
};
enum ss_status decoder_parse(struct decoder *d, const json_t *j, struct tok_arena *arena, const char *file,
                             struct ss_error *err);
/* What one token shows as on its own (per-token steps of the chain); *out malloc'd. 0, or -1 out of memory. */
int decoder_piece(const struct decoder *d, const char *s, size_t len, char **out, size_t *out_len);

/* ---- the tokenizer ---- */
struct tokenizer {
    char path[PATH_MAX];         /* the tokenizer.json path, for messages */
    int n_ids;                   /* largest id + 1 */
    const char **tok_str;        /* [n_ids] token string as the file spells it (added tokens win); NULL = hole */
    uint32_t *tok_str_len;       /* [n_ids] */
    const char **tok_bytes;      /* [n_ids] bytes the token decodes to */
    uint32_t *tok_bytes_len;     /* [n_ids] */
    struct strmap vocab;         /* model vocab: string -> id */
    struct strmap byte_vocab;    /* model vocab by decoded bytes -> id (ignore_merges on byte words) */
    struct strmap added_map;     /* added token content -> id */
    struct pairmap merges;       /* (left, right) -> (rank, merged) */
    int32_t byte_id[256];        /* id of each single byte (characters: of each ASCII character), -1 if none */
    int32_t fallback_id[256];    /* byte_fallback: id of "<0xNN>" for each byte, -1 when missing */
    int byte_level;              /* words are bytes (ByteLevel pre_tokenizer); else characters */
    int byte_fallback, fuse_unk;
    /* Characters only: a merge only makes tokens of the vocab, so when no token contains "X▁", no merge
     * joins a symbol ending in X to one starting with ▁ (U+2581, its own symbol), and a word may be cut
     * before such a ▁ without changing the result. sp_keep lists the X that do precede ▁ in some token
     * ("▁▁", Gemma's ">▁</"); sp_cut is 0 when ▁ is not in the vocab or there are too many. */
    int sp_cut, n_sp_keep;
    uint32_t sp_keep[16];
    int ignore_merges;
    struct added_token *added;   /* sorted by content length, longest first */
    int n_added;
    int has_normalized_added;    /* some added token has normalized = true */
    uint8_t added_first[2][256]; /* [normalized][byte]: some added token's match starts with byte */
    int32_t unk_id;              /* model.unk_token's id, or -1 */
    struct normalizer norm;
    struct pretok pretok;
    struct decoder decoder;
    int32_t bos_id, eos_id, default_bos;
    struct tok_arena arena;
};

/* BPE of one byte-level word, appending ids (tokenizer_bpe.c). */
struct bpe_cache;
struct id_buf {
    int32_t *v;
    int n, cap;
};
int id_buf_push(struct id_buf *b, int32_t id); /* 0 ok, -1 OOM */
struct bpe_cache *bpe_cache_new(void);
void bpe_cache_free(struct bpe_cache *c);
/* Appends the ids of word w (raw bytes) to out; cache may be NULL. */
enum ss_status bpe_word(const struct tokenizer *tk, struct bpe_cache *cache, const char *w, size_t len,
                        struct id_buf *out, struct ss_error *err);

/* Added-token split (tokenizer_added.c): calls piece_fn for the text between matches and
 * token_fn for each match, following HF AddedVocabulary::find_matches. normalized selects
 * which set of added tokens is matched (normalized = false: raw text, first pass). */
typedef enum ss_status (*added_piece_fn)(void *ctx, const char *s, size_t len);
typedef enum ss_status (*added_token_fn)(void *ctx, int32_t id);
enum ss_status added_split(const struct tokenizer *tk, int normalized, const char *s, size_t len,
                           added_piece_fn piece_fn, added_token_fn token_fn, void *ctx);

/* tokenizer_config.json beside tk->path, and the post_processor's BOS (tokenizer_config.c). */
enum ss_status tokenizer_config_load(struct tokenizer *tk, const json_t *post, struct ss_error *err);

#endif
