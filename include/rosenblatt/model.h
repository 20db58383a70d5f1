/* SPDX-License-Identifier: MIT */
/* Transformer models (llama, qwen2) loaded from GGUF, and sessions that run
 * them: a session owns a KV cache and the activation scratch for one token
 * stream (a conversation, a benchmark run).
 *
 * Ownership: a model borrows the matmul backends given at load (they must
 * outlive it) and owns its GGUF mapping; a session borrows its model and its
 * thread pool. The forward pass allocates nothing: every buffer is sized at
 * session creation for the largest batch (n_batch) and the context (n_ctx).
 *
 *	rb_model *m;   rb_model_load(path, &mp, &m, &err);
 *	rb_session *s; rb_session_create(m, &sp, &s, &err);
 *	rb_session_eval(s, prompt, n_prompt, &err);      // prefill (batched)
 *	logits = rb_session_logits(s, -1);              // last token
 *	rb_session_eval(s, &next, 1, &err);              // decode one token
 */
#ifndef ROSENBLATT_MODEL_H
#define ROSENBLATT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "rosenblatt/error.h"
#include "rosenblatt/gguf.h"
#include "rosenblatt/matmul.h"
#include "rosenblatt/threadpool.h"
#include "rosenblatt/types.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rb_arch {
	RB_ARCH_LLAMA, /* no biases, RoPE on adjacent pairs (2i, 2i+1) */
	RB_ARCH_QWEN2, /* q/k/v biases, NEOX RoPE on pairs (i, i + n_rot/2) */
};

/* Hyper-parameters, from "<arch>.*" metadata and the tensor shapes. */
typedef struct rb_model_hparams {
	enum rb_arch arch;
	int64_t n_vocab;     /* rows of token_embd */
	int64_t n_embd;      /* <arch>.embedding_length */
	int64_t n_layer;     /* <arch>.block_count */
	int64_t n_ff;        /* <arch>.feed_forward_length */
	int64_t n_head;      /* <arch>.attention.head_count */
	int64_t n_head_kv;   /* <arch>.attention.head_count_kv (default n_head) */
	int64_t head_dim;    /* n_embd / n_head */
	int64_t n_rot;       /* <arch>.rope.dimension_count (default head_dim) */
	int64_t n_ctx_train; /* <arch>.context_length */
	float rope_base;     /* <arch>.rope.freq_base (default 10000) */
	float rms_eps;       /* <arch>.attention.layer_norm_rms_epsilon */
	bool qkv_bias;       /* qwen2 */
	bool rope_neox;      /* qwen2 */
	bool tied_embeddings; /* no output.weight: the output matmul uses token_embd */
} rb_model_hparams;

typedef struct rb_model_params {
	/* Matmul backends in order of preference: each weight is owned by the
	 * first whose supports() accepts it (borrowed; must outlive the model). */
	const rb_matmul_backend *const *backends;
	int n_backends;
	/* Touch every page of the file before binding weights (read ahead, with
	 * progress); useful for large files on slow storage. */
	bool prefault;
	/* Called now and then while loading: done/total in bytes. May be NULL. */
	rb_progress_fn progress;
	void *progress_user;
} rb_model_params;

typedef struct rb_model rb_model;

/* Load a model file. On failure *out is NULL and err names what is wrong
 * (file offset, key, tensor, shape, type). */
int rb_model_load(const char *path, const rb_model_params *p, rb_model **out, rb_err *err);
/* Same from an open GGUF handle; the model takes ownership of g in every case
 * (it is closed on failure too). */
int rb_model_load_gguf(rb_gguf *g, const rb_model_params *p, rb_model **out, rb_err *err);
void rb_model_free(rb_model *m);

/* Check a file without loading it: hyper-parameters, every tensor present
 * with the right shape, vector types convertible. No backend involved (the
 * matrix types are the backends' business at load). */
int rb_model_validate(const rb_gguf *g, rb_model_hparams *hp, rb_err *err);

const rb_model_hparams *rb_model_get_hparams(const rb_model *m);
/* The underlying file (metadata for the tokenizer, `info`). */
const rb_gguf *rb_model_get_gguf(const rb_model *m);
/* "llama" / "qwen2". */
const char *rb_arch_name(enum rb_arch arch);

/* The matmul weights (every layer's q k v o gate up down, then output), to
 * report which backend owns what. */
int64_t rb_model_n_weights(const rb_model *m);
const rb_weight *rb_model_weight(const rb_model *m, int64_t i);
/* Total bytes of tensor data and number of parameters (elements). */
uint64_t rb_model_size_bytes(const rb_model *m);
uint64_t rb_model_n_params(const rb_model *m);

/* ---- sessions ---------------------------------------------------------- */

typedef struct rb_session_params {
	int64_t n_ctx;         /* KV cache positions; 0 or more than the model's: the model's */
	enum rb_type kv_type;  /* RB_TYPE_F16 (default) or RB_TYPE_F32 */
	int64_t n_batch;       /* most tokens per forward step (scratch size); 0: 512 */
	bool logits_all;       /* keep the logits of every token of an eval (else: last only) */
	rb_threadpool *tp;     /* borrowed, may be NULL (single thread); the backends'
	                        * pool should be the same one */
} rb_session_params;

typedef struct rb_session rb_session;

rb_session_params rb_session_default_params(void);
int rb_session_create(const rb_model *m, const rb_session_params *p, rb_session **out,
		      rb_err *err);
void rb_session_free(rb_session *s);

/* Run n tokens at positions n_past .. n_past + n - 1 and append them to the
 * KV cache. Longer inputs than n_batch are split into steps of n_batch.
 * RB_E_FULL (nothing evaluated) if they do not fit in the context,
 * RB_E_INVALID for a token id outside the vocabulary (or n > n_batch with
 * logits_all). On any other error the session is left at its old n_past. */
int rb_session_eval(rb_session *s, const int32_t *tokens, int64_t n, rb_err *err);

/* Logits (n_vocab floats) of token i of the last eval; i = -1 is the last
 * token. Without logits_all only the last token has logits. NULL if none. */
const float *rb_session_logits(const rb_session *s, int64_t i);

int64_t rb_session_n_past(const rb_session *s);
int64_t rb_session_n_ctx(const rb_session *s);
/* Forget every position >= n_past (0: start over). */
void rb_session_truncate(rb_session *s, int64_t n_past);

#ifdef __cplusplus
}
#endif
#endif
