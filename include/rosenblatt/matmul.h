/* SPDX-License-Identifier: MIT */
/* The matmul dispatch interface: every weight matmul of the model goes through
 * a backend function table, chosen per weight at load time. A backend may
 * repack a weight it owns (SIMD-friendly interleaving on the CPU, int8 + NPU
 * native layout in BOs for the NPU) and may refuse a call at run time (e.g. an
 * NPU timeout), in which case the caller falls back to the CPU backend. */
#ifndef ROSENBLATT_MATMUL_H
#define ROSENBLATT_MATMUL_H

#include <stdbool.h>
#include <stdint.h>

#include "rosenblatt/error.h"
#include "rosenblatt/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rb_matmul_backend;

/* A weight matrix as stored in GGUF: n_out rows, each of n_in elements of
 * `type` (GGUF ne[0] = n_in, ne[1] = n_out). */
typedef struct rb_weight {
	const char *name;
	enum rb_type type;
	int64_t n_in, n_out;
	const void *data; /* rb_row_size(type, n_in) * n_out bytes, usually mmapped */
	const struct rb_matmul_backend *backend; /* owner, set by rb_weight_bind */
	void *packed;     /* backend-private data (repacked copy), or NULL */
} rb_weight;

typedef struct rb_matmul_backend {
	const char *name;
	void *ctx;
	/* Can this backend run W (type and shape)? Cheap, no allocation. */
	bool (*supports)(void *ctx, const rb_weight *w);
	/* Once per weight at load: may allocate and fill w->packed. */
	int (*prepare)(void *ctx, rb_weight *w, rb_err *err);
	/* Free what prepare made. */
	void (*release)(void *ctx, rb_weight *w);
	/* Y[t][o] = sum_i W[o][i] * X[t][i] for t < n_tokens.
	 * X: n_tokens rows of n_in floats, row stride ldx (floats);
	 * Y: n_tokens rows of n_out floats, row stride ldy. No allocation on the
	 * hot path. Returns RB_OK or a negative rb_status. */
	int (*matmul)(void *ctx, const rb_weight *w, int64_t n_tokens,
		      const float *x, int64_t ldx, float *y, int64_t ldy, rb_err *err);

	/* Optional (NULL: not offered; callers go through the helpers below).
	 * At load, after binding: the n weights ws, all bound to this backend
	 * with the same n_in, are always multiplied by the same input (a
	 * layer's q, k and v). The backend may prepare a combined form for
	 * matmul_shared (the NPU: one resident weight, one call). RB_OK whether
	 * it did or not; an error only when the weights are left unusable. */
	int (*share_input)(void *ctx, rb_weight *const *ws, int n, rb_err *err);
	/* Optional. ys[i] = W_i x for i < n, every ws[i] bound to this backend
	 * with the same n_in, rows of ys[i] ldys[i] floats apart; otherwise the
	 * contract of matmul. */
	int (*matmul_shared)(void *ctx, const rb_weight *const *ws, int n, int64_t n_tokens,
			     const float *x, int64_t ldx, float *const *ys, const int64_t *ldys,
			     rb_err *err);
} rb_matmul_backend;

/* Bind w to backend b (b->prepare). */
int rb_weight_bind(rb_weight *w, const rb_matmul_backend *b, rb_err *err);
void rb_weight_unbind(rb_weight *w);

static inline int rb_matmul(const rb_weight *w, int64_t n_tokens, const float *x, int64_t ldx,
			    float *y, int64_t ldy, rb_err *err)
{
	return w->backend->matmul(w->backend->ctx, w, n_tokens, x, ldx, y, ldy, err);
}

/* Weights that always take the same input (bound, same n_in; at most
 * RB_SHARED_MAX): their backend's share_input when they share one that
 * offers it, else nothing. */
#define RB_SHARED_MAX 4
int rb_weights_share_input(rb_weight *const *ws, int n, rb_err *err);
/* ys[i] = W_i x for i < n as one matmul_shared call of the backend the
 * weights share. RB_E_UNSUPPORTED, doing nothing, when they do not share
 * one that offers it: the caller then runs rb_matmul per weight. */
int rb_matmul_shared(const rb_weight *const *ws, int n, int64_t n_tokens, const float *x,
		     int64_t ldx, float *const *ys, const int64_t *ldys, rb_err *err);

#ifdef __cplusplus
}
#endif
#endif
