/* SPDX-License-Identifier: MIT */
/* Private structure of rb_session: KV cache and activation scratch. */
#ifndef RB_SESSION_IMPL_H
#define RB_SESSION_IMPL_H

#include "model_impl.h"

struct rb_session {
	const rb_model *m;
	rb_threadpool *tp;
	int n_threads;
	long max_chunks;  /* most chunks of a job outside the matmuls (forward.c) */
	int64_t n_ctx, n_batch, n_past;
	bool logits_all;

	/* KV cache, F16 or F32, per layer:
	 *  K: n_ctx rows of kv_dim elements (row = position, heads side by side),
	 *     so q.k is a dot product along a row;
	 *  V: transposed, kv_dim rows of n_ctx elements (row = one dimension of
	 *     one head over the positions), so the weighted sum of values is
	 *     one long dot product per output element instead of a read-modify-
	 *     write of the whole output per position. */
	enum rb_type kv_type;
	size_t kv_elt;         /* element size */
	size_t kv_row_bytes;   /* K row: kv_dim * kv_elt */
	size_t kv_layer_bytes; /* n_ctx * kv_row_bytes (K and V alike) */
	void *k_cache, *v_cache;

	/* Activations for up to n_batch tokens, row-major [token][feature]. */
	float *x;      /* residual stream, n_embd */
	float *xb;     /* normalized input / projection output, n_embd */
	float *q;      /* queries, n_embd */
	float *k, *v;  /* this step's keys/values before caching, kv_dim */
	float *att;    /* attention output, n_embd */
	float *hb;     /* ffn gate, n_ff */
	float *hb2;    /* ffn up, n_ff */
	float *rope;   /* per token: cos, sin of the n_rot/2 frequencies */
	float *rope_freq; /* n_rot/2 inverse frequencies */
	float *scores; /* per chunk (max_chunks): RB_ATTN_QBLOCK rows of n_ctx attention weights */
	float *logits; /* (logits_all ? n_batch : 1) rows of n_vocab */
	int64_t n_logits; /* rows of logits valid from the last eval */
	int64_t logits_first; /* index, within the last eval, of the token of row 0 */
	int64_t n_eval;       /* tokens of the last eval */
};

/* Jobs outside the matmuls are cut into at most this many chunks per thread:
 * enough that a descheduled thread holds up little, few enough that claiming
 * one costs nothing next to its work (the cpu matmul backend cuts the same). */
#define RB_FWD_CHUNKS_PER_THREAD 8

/* Most query heads of one KV head that attention takes together (forward.c):
 * each needs an n_ctx-long row of scores per chunk. Rows past the group size
 * are never touched, so their zero pages are never mapped. */
#define RB_ATTN_QBLOCK 8

/* One forward step over n <= n_batch tokens at positions n_past.. (forward.c).
 * want_logits: number of trailing tokens whose logits are computed (0..n). */
int rb_forward_step(rb_session *s, const int32_t *tokens, int64_t n, int64_t want_logits,
		    rb_err *err);

#endif
