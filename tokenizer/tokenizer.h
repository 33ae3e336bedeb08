/* tokenizer/tokenizer.h — Hugging Face tokenizer.json with a BPE model, identical to the `tokenizers`
 * library id for id: byte-level (Qwen2/Qwen3, Llama 3, gpt-oss, DeepSeek V3, GPT-2 style) and
 * SentencePiece-style (Llama 2, Mistral, Gemma, Phi-3: characters, <0xNN> byte fallback, unk).
 * Reads tokenizer.json and, beside it, tokenizer_config.json (bos/eos, add_bos_token).
 * Supported: model BPE (merges in both spellings, ignore_merges, byte_fallback, unk_token, fuse_unk),
 * added_tokens, normalizer NFC/NFD/NFKC/NFKD/Prepend/Replace (String pattern)/Sequence/null,
 * pre_tokenizer Split/ByteLevel/Metaspace/Digits/Sequence/null, decoder ByteLevel/ByteFallback/Fuse/
 * Strip/Replace (String pattern)/Metaspace/Sequence/null. Anything else is refused at load (SS_ERR_INPUT).
 * A loaded tokenizer is never modified: encode, decode and piece may run concurrently on it. */
#ifndef SS_MODEL_TOKENIZER_H
#define SS_MODEL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

struct tokenizer;

/* path: a checkpoint directory (reads path/tokenizer.json) or a tokenizer.json file. */
enum ss_status tokenizer_load(struct tokenizer **tk, const char *path, struct ss_error *err);
void tokenizer_free(struct tokenizer *tk);

/* Encode UTF-8 text (len bytes; need not be NUL-terminated) into *ids (malloc'd,
 * caller frees), *n ids. Added/special tokens in the text are matched. No BOS is
 * added here (see tokenizer_bos). Invalid UTF-8: SS_ERR_INPUT naming the byte
 * offset, unless lossy, which replaces each bad sequence with U+FFFD. */
enum ss_status tokenizer_encode(const struct tokenizer *tk, const char *text, size_t len, int lossy,
                                int32_t **ids, int *n, struct ss_error *err);

/* The decoded text of one token as a malloc'd NUL-terminated UTF-8 string (a
 * piece that is not valid UTF-8 on its own, e.g. half of a multi-byte
 * character, has the bad bytes replaced by U+FFFD). NULL for an unknown id. */
char *tokenizer_piece(const struct tokenizer *tk, int32_t id);
/* tokenizer_piece that also gives the length (a piece may contain U+0000). */
char *tokenizer_piece_len(const struct tokenizer *tk, int32_t id, size_t *len);
/* Decode ids to text (malloc'd) as tokenizers' decode(ids, skip_special_tokens=False) does: the
 * token strings through the decoder chain. The inverse of encode up to normalization (and, for
 * Llama 2's Strip, the one leading space encode added). */
enum ss_status tokenizer_decode(const struct tokenizer *tk, const int32_t *ids, int n, char **text,
                                struct ss_error *err);

int tokenizer_vocab_size(const struct tokenizer *tk); /* largest id + 1, added tokens included */
/* id of an exact token string (vocab or added token), or -1. */
int32_t tokenizer_token_id(const struct tokenizer *tk, const char *piece);
/* tokenizer_config.json: the BOS id when add_bos_token is true, else -1. */
int32_t tokenizer_default_bos(const struct tokenizer *tk);
/* tokenizer_config.json's bos_token id, whether or not it is added by default; -1 if none. */
int32_t tokenizer_bos_id(const struct tokenizer *tk);
int32_t tokenizer_eos_id(const struct tokenizer *tk);

#endif
