/* SPDX-License-Identifier: MIT */
/* Internal state shared by the tokenizer files. */
#ifndef RB_TOKENIZER_INTERNAL_H
#define RB_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rosenblatt/tokenizer.h"

/* Open-addressing hash map from a byte string to a token id. */
struct rb_strmap {
	uint32_t mask;   /* capacity - 1, capacity a power of two */
	int32_t *slots;  /* token id or -1 */
};

/* Open-addressing hash map from a pair of ids to a BPE merge. */
struct rb_merge {
	uint64_t key;   /* (left << 32) | right, UINT64_MAX when empty */
	int32_t rank;   /* position in tokenizer.ggml.merges: lower merges first */
	int32_t result; /* id of the merged token */
};

struct rb_pairmap {
	uint32_t mask;
	struct rb_merge *slots;
};

/* A token text that must be matched as a whole in the input. */
struct rb_special {
	int32_t id;
	uint32_t len;
	bool control; /* CONTROL/UNKNOWN: only with RB_TOK_PARSE_SPECIAL */
};

struct rb_tokenizer {
	enum rb_tok_model model;
	enum rb_tok_pre pre;
	int32_t n_vocab;
	char **text;        /* vocabulary strings, NUL-terminated */
	uint32_t *text_len;
	uint8_t *type;      /* enum rb_token_type */
	float *score;       /* SPM merge scores (NULL for BPE) */
	char **piece;       /* decoded bytes of each token */
	uint32_t *piece_len;
	struct rb_strmap vocab;

	int32_t bos, eos, unk, pad, eot;
	bool add_bos, add_eos;
	bool add_space_prefix; /* SPM dummy prefix */
	bool ignore_merges;    /* BPE: a pre-token found whole in the vocabulary is kept */
	bool spm_word_split;   /* SPM: no piece has U+2581 after another character, so
				* merging can run word by word */
	int32_t eog[8];
	int n_eog;

	/* BPE */
	struct rb_pairmap merges;
	int32_t byte_token[256]; /* BPE: id of the one-byte symbol; SPM: <0xNN>; -1 if none */

	/* specials, sorted by first byte then by length (longest first) */
	struct rb_special *specials;
	uint32_t n_specials;
	uint32_t special_first[257]; /* specials[special_first[b] .. special_first[b+1]) start with b */

	char *chat_template;
	char warning[256];
};

/* strmap */
int rb_strmap_init(struct rb_strmap *m, uint32_t n_items);
void rb_strmap_free(struct rb_strmap *m);
uint32_t rb_hash_bytes(const void *data, size_t len);
/* Insert id for text (the map keeps only the id; texts are read from tok). */
void rb_strmap_insert(struct rb_strmap *m, const rb_tokenizer *tok, int32_t id);
int32_t rb_strmap_find(const struct rb_strmap *m, const rb_tokenizer *tok, const char *s,
		       size_t len);

/* GPT-2 byte <-> unicode alphabet */
uint32_t rb_bpe_byte_to_cp(uint8_t b);
int rb_bpe_cp_to_byte(uint32_t cp); /* -1 if cp is not in the alphabet */

/* Pre-tokenizer: calls emit for each piece of text[0..len). */
typedef int (*rb_piece_fn)(void *user, const char *piece, size_t len);
int rb_pretokenize(enum rb_tok_pre pre, const char *text, size_t len, rb_piece_fn emit,
		   void *user, rb_err *err);

/* Model-specific encoders of one raw-text fragment (no specials in it). */
int rb_bpe_build(rb_tokenizer *tok, const rb_gguf_array *merges, rb_err *err);
int rb_bpe_encode(const rb_tokenizer *tok, const char *text, size_t len, rb_tokens *out,
		  rb_err *err);
int rb_spm_build(rb_tokenizer *tok, rb_err *err);
int rb_spm_encode(const rb_tokenizer *tok, const char *text, size_t len, bool add_prefix,
		  rb_tokens *out, rb_err *err);

/* Merge candidates of the BPE and SentencePiece encoders (merge_queue.c):
 * the adjacent symbols (left, right), popped lowest key first, leftmost first
 * among equal keys; left_was/right_was snapshot the pair when it was pushed
 * (token ids in BPE, byte lengths in SPM) so that stale candidates are
 * recognised and skipped. A double holds BPE ranks and negated SPM scores
 * exactly. */
struct rb_merge_cand {
	double key;
	uint32_t left, right;
	uint32_t left_was, right_was;
};

struct rb_merge_queue {
	struct rb_merge_cand *heap; /* owned by the encoder, sized for all its pushes */
	size_t n;
};

void rb_merge_queue_push(struct rb_merge_queue *q, struct rb_merge_cand c);
struct rb_merge_cand rb_merge_queue_pop(struct rb_merge_queue *q);

/* Decoded bytes of every token (decode.c). */
int rb_build_pieces(rb_tokenizer *tok, rb_err *err);

#endif
