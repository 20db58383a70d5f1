/* SPDX-License-Identifier: MIT */
/* Tokenizers built from GGUF metadata (tokenizer.ggml.*): byte-level BPE
 * ("gpt2", with the qwen2 / llama-bpe / gpt-2 pre-tokenizer splits) and
 * SentencePiece-style BPE ("llama": U+2581 spaces, dummy prefix, score-based
 * merges, <0xNN> byte fallback). See docs/tokenizers.md for the exact rules,
 * the behaviour on invalid UTF-8 and where we differ from other tokenizers.
 *
 * A tokenizer is immutable after creation: every function taking a
 * `const rb_tokenizer *` may be called from several threads at once. It copies
 * what it needs, so the GGUF handle may be closed after rb_tokenizer_from_gguf. */
#ifndef ROSENBLATT_TOKENIZER_H
#define ROSENBLATT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rosenblatt/error.h"
#include "rosenblatt/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rb_tokenizer rb_tokenizer;

/* tokenizer.ggml.model */
enum rb_tok_model {
	RB_TOK_MODEL_BPE = 1, /* "gpt2": byte-level BPE, merges by rank */
	RB_TOK_MODEL_SPM = 2, /* "llama": SentencePiece BPE, merges by score */
};

/* tokenizer.ggml.pre (BPE only; SPM has no pre-tokenizer). */
enum rb_tok_pre {
	RB_TOK_PRE_NONE = 0,    /* SPM */
	RB_TOK_PRE_DEFAULT = 1, /* "default", "gpt-2", "gpt2": GPT-2's original split pattern */
	RB_TOK_PRE_LLAMA3 = 2,  /* "llama-bpe", "llama3", "llama-v3": digits in runs of up to 3 */
	RB_TOK_PRE_QWEN2 = 3,   /* "qwen2": every digit on its own */
};

/* tokenizer.ggml.token_type values (GGUF). */
enum rb_token_type {
	RB_TOKEN_UNDEFINED = 0,
	RB_TOKEN_NORMAL = 1,
	RB_TOKEN_UNKNOWN = 2,
	RB_TOKEN_CONTROL = 3,      /* e.g. <s>, <|im_start|>: matched in text only with PARSE_SPECIAL */
	RB_TOKEN_USER_DEFINED = 4, /* added tokens: always matched in text as a whole */
	RB_TOKEN_UNUSED = 5,       /* padding slots: never produced by encode */
	RB_TOKEN_BYTE = 6,         /* SPM byte fallback <0xNN> */
};

typedef struct rb_tokenizer_options {
	/* Pre-tokenizer name overriding tokenizer.ggml.pre (NULL: use the file's). */
	const char *pre;
} rb_tokenizer_options;

/* Build from an open GGUF. Unknown tokenizer.ggml.model or .pre values are
 * refused (RB_E_UNSUPPORTED, the message lists what is supported); a BPE vocab
 * without .pre uses "default" and records a warning (rb_tokenizer_warning).
 * opt may be NULL. */
int rb_tokenizer_from_gguf(const rb_gguf *g, const rb_tokenizer_options *opt,
			   rb_tokenizer **out, rb_err *err);
/* Convenience: open the file, build, close it. */
int rb_tokenizer_load(const char *path, const rb_tokenizer_options *opt, rb_tokenizer **out,
		      rb_err *err);
void rb_tokenizer_free(rb_tokenizer *tok);

/* A non-fatal remark made while loading (e.g. the pre-tokenizer fallback), or NULL. */
const char *rb_tokenizer_warning(const rb_tokenizer *tok);

/* ---- vocabulary -------------------------------------------------------- */

int32_t rb_tokenizer_n_vocab(const rb_tokenizer *tok);
enum rb_tok_model rb_tokenizer_model(const rb_tokenizer *tok);
enum rb_tok_pre rb_tokenizer_pre(const rb_tokenizer *tok);
const char *rb_tok_pre_name(enum rb_tok_pre pre);

/* Special ids from the metadata, -1 when the file has none. */
int32_t rb_tokenizer_bos(const rb_tokenizer *tok);
int32_t rb_tokenizer_eos(const rb_tokenizer *tok);
int32_t rb_tokenizer_unk(const rb_tokenizer *tok);
int32_t rb_tokenizer_pad(const rb_tokenizer *tok);
/* tokenizer.ggml.add_bos_token / add_eos_token; when absent: BOS for SPM, none for BPE. */
bool rb_tokenizer_add_bos(const rb_tokenizer *tok);
bool rb_tokenizer_add_eos(const rb_tokenizer *tok);

/* End of generation: EOS, tokenizer.ggml.eot_token_id, and the end-of-turn
 * control tokens of the chat formats we know (<|im_end|>, <|eot_id|>,
 * <|endoftext|>, <|end_of_text|>) when the vocabulary has them as CONTROL. */
bool rb_tokenizer_is_eog(const rb_tokenizer *tok, int32_t id);

/* The vocabulary string as stored in the file (byte-level BPE tokens are in
 * the GPT-2 byte->unicode alphabet, SPM ones use U+2581), NUL-terminated;
 * NULL for an id out of range. */
const char *rb_tokenizer_token_text(const rb_tokenizer *tok, int32_t id);
/* RB_TOKEN_UNDEFINED for an id out of range. */
enum rb_token_type rb_tokenizer_token_type(const rb_tokenizer *tok, int32_t id);
/* Exact lookup of a vocabulary string: id or -1. */
int32_t rb_tokenizer_find(const rb_tokenizer *tok, const char *text);

/* tokenizer.chat_template (NUL-terminated), or NULL when the file has none. */
const char *rb_tokenizer_chat_template(const rb_tokenizer *tok);

/* ---- encode ------------------------------------------------------------ */

/* A growable id vector; zero-initialise it. Encode appends to it. */
typedef struct rb_tokens {
	int32_t *ids;
	size_t n, cap;
} rb_tokens;

int rb_tokens_push(rb_tokens *t, int32_t id); /* RB_OK or RB_E_NOMEM */
void rb_tokens_free(rb_tokens *t);            /* frees and zeroes */

enum rb_tok_encode_flags {
	RB_TOK_ADD_SPECIAL = 1u << 0,   /* BOS/EOS as the metadata asks (add_bos/add_eos) */
	RB_TOK_ADD_BOS = 1u << 1,       /* a BOS in front regardless of the metadata */
	RB_TOK_ADD_EOS = 1u << 2,       /* an EOS at the end regardless of the metadata */
	RB_TOK_PARSE_SPECIAL = 1u << 3, /* CONTROL token texts in the input become those tokens */
};

/* Encode len bytes of text (any bytes: invalid UTF-8 is encoded losslessly
 * where the vocabulary allows, see docs/tokenizers.md) and append the ids to
 * *out. USER_DEFINED tokens are always matched as a whole; CONTROL tokens only
 * with RB_TOK_PARSE_SPECIAL. Asking for a BOS/EOS the vocabulary lacks is
 * RB_E_INVALID. On error *out keeps what it had before the call. */
int rb_tokenizer_encode(const rb_tokenizer *tok, const char *text, size_t len, unsigned flags,
			rb_tokens *out, rb_err *err);

/* ---- decode ------------------------------------------------------------ */

enum rb_tok_decode_flags {
	RB_DECODE_SPECIAL = 1u << 0,     /* render CONTROL tokens' text (default: they give nothing) */
	RB_DECODE_STRIP_SPACE = 1u << 1, /* SPM: drop the one space the dummy prefix put in front
					  * of the first text token (what encode added) */
};

/* The bytes one token decodes to (byte-level mapping undone, U+2581 -> ' ',
 * <0xNN> -> that byte; CONTROL tokens give their text). Not NUL-terminated
 * in general; NULL for an id out of range. Lives as long as the tokenizer. */
const char *rb_tokenizer_piece(const rb_tokenizer *tok, int32_t id, size_t *len);

/* Decode ids to bytes: *out is malloc'd and NUL-terminated, *out_len its
 * length (the text may itself contain NUL bytes). An id out of range is
 * RB_E_INVALID naming its position. */
int rb_tokenizer_decode(const rb_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
			char **out, size_t *out_len, rb_err *err);

/* Streaming decoder for generation: feed ids one at a time, get back only
 * whole UTF-8 characters (a character split across tokens, or an SPM
 * byte-fallback sequence, comes out once complete). Bytes that can never form
 * a valid character are passed through as they are, so the concatenated
 * output always equals rb_tokenizer_decode of the same ids with the same flags. */
typedef struct rb_detokenizer rb_detokenizer;

int rb_detokenizer_create(const rb_tokenizer *tok, unsigned flags, rb_detokenizer **out,
			  rb_err *err);
void rb_detokenizer_free(rb_detokenizer *d);
/* Back to the start of a text (pending bytes dropped). */
void rb_detokenizer_reset(rb_detokenizer *d);
/* Feed one id; *text and *len receive the bytes ready now (possibly none). The
 * pointer is valid until the next call on d. */
int rb_detokenizer_push(rb_detokenizer *d, int32_t id, const char **text, size_t *len,
			rb_err *err);
/* End of text: whatever is still pending (an incomplete character), raw. */
void rb_detokenizer_flush(rb_detokenizer *d, const char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
