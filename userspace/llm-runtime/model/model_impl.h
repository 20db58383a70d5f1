/* SPDX-License-Identifier: MIT */
/* Private structures of rb_model (shared by load, forward and session code). */
#ifndef RB_MODEL_IMPL_H
#define RB_MODEL_IMPL_H

#include <pthread.h>

#include "rosenblatt/model.h"

/* A matmul weight plus its run-time fallback: if the owning backend fails a
 * call (e.g. an accelerator timeout), the weight is bound once to the model's
 * fallback backend (the last of the list) and served from there on. */
struct rb_mweight {
	rb_weight w;
	rb_weight fb;
	bool fb_bound;
};

/* One transformer block. Vectors are owned float copies (norm weights and
 * biases are tiny; copying them frees the forward pass from the file's types
 * and alignment). */
struct rb_layer {
	float *attn_norm, *ffn_norm; /* n_embd */
	float *bq, *bk, *bv;         /* q: n_embd, k/v: kv_dim; NULL without biases */
	struct rb_mweight wq, wk, wv, wo;
	struct rb_mweight w_gate, w_up, w_down;
};

struct rb_model {
	rb_gguf *g;
	rb_model_hparams hp;
	const rb_gguf_tensor *tok_embd; /* [n_vocab][n_embd], any type with to_float */
	float *output_norm;
	struct rb_mweight output;       /* data may be token_embd's (tied) */
	struct rb_layer *layers;
	struct rb_mweight **weights;    /* every matmul weight, for iteration */
	int64_t n_weights;
	/* fallback for a weight whose backend fails at run time (e.g. device
	 * timeout): the last backend of the list, bound on first failure */
	const rb_matmul_backend *fallback;
	pthread_mutex_t fb_lock;
	int n_fallbacks;                /* weights moved to the fallback so far */
	char *names;                    /* storage of the rb_weight names */
	float *vecs;                    /* storage of all the float vectors */
	uint64_t size_bytes, n_params;
};

static inline int64_t rb_hp_kv_dim(const rb_model_hparams *hp)
{
	return hp->n_head_kv * hp->head_dim;
}

#endif
