/* tokenizer/tokenizer_added.c — added tokens are cut out of the text before BPE, as tokenizers'
 * AddedVocabulary::find_matches does: leftmost-longest matches scanned left to right,
 * single_word requiring non-word characters around, lstrip/rstrip swallowing the whitespace
 * next to the token. */
#include <string.h>

#include "tokenizer_impl.h"

/* Start of the trailing whitespace of s[0..end) (end when there is none). */
static size_t space_leftmost_at_end(const char *s, size_t end)
{
    size_t i = end;
    while (i > 0) {
        size_t k = i - 1;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        uint32_t c;
        utf8_decode(s + k, &c);
        if (!unicode_is_whitespace(c))
            break;
        i = k;
    }
    return i;
}

/* Length of the leading whitespace of s[0..len). */
static size_t space_rightmost_at_start(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t c;
        int k = utf8_decode(s + i, &c);
        if (!unicode_is_whitespace(c))
            break;
        i += (size_t)k;
    }
    return i;
}

static int ends_with_word(const char *s, size_t end)
{
    if (!end)
        return 0;
    size_t k = end - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    uint32_t c;
    utf8_decode(s + k, &c);
    return unicode_is_word(c);
}

static int starts_with_word(const char *s, size_t len)
{
    if (!len)
        return 0;
    uint32_t c;
    utf8_decode(s, &c);
    return unicode_is_word(c);
}

/* The longest added token of the set that matches at s[i..len), or NULL. */
static const struct added_token *longest_at(const struct tokenizer *tk, int normalized, const char *s, size_t i,
                                            size_t len)
{
    for (int k = 0; k < tk->n_added; k++) { /* sorted longest first */
        const struct added_token *t = &tk->added[k];
        if (t->normalized != normalized || (size_t)t->match_len > len - i)
            continue;
        if (t->match[0] == s[i] && !memcmp(t->match, s + i, (size_t)t->match_len))
            return t;
    }
    return NULL;
}

enum ss_status added_split(const struct tokenizer *tk, int normalized, const char *s, size_t len,
                           added_piece_fn piece_fn, added_token_fn token_fn, void *ctx)
{
    const uint8_t *first = tk->added_first[normalized ? 1 : 0];
    size_t start_offset = 0, i = 0;
    enum ss_status st;
    while (i < len) {
        if (!first[(unsigned char)s[i]]) {
            i++;
            continue;
        }
        const struct added_token *t = longest_at(tk, normalized, s, i, len);
        if (!t) {
            i++;
            continue;
        }
        size_t start = i, stop = i + (size_t)t->match_len;
        i = stop; /* the search resumes after the match, whatever is stripped */
        if (t->single_word && ((start && ends_with_word(s, start)) || starts_with_word(s + stop, len - stop)))
            continue;
        if (t->lstrip) {
            size_t ns = space_leftmost_at_end(s, start);
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->rstrip)
            stop += space_rightmost_at_start(s + stop, len - stop);
        if (start_offset < start && (st = piece_fn(ctx, s + start_offset, start - start_offset)))
            return st;
        if ((st = token_fn(ctx, t->id)))
            return st;
        start_offset = stop;
    }
    if (start_offset < len)
        return piece_fn(ctx, s + start_offset, len - start_offset);
    return SS_OK;
}
