/* SPDX-License-Identifier: MIT */
/* Internals of the "npu" matmul backend (rosenblatt/npu_backend.h): the
 * backend and per-weight state, and the CPU-side kernels that turn f32
 * activations into NPU operands and int32 sums back into f32.
 *
 * The quantization recipe, shared by weights (per output channel, at load)
 * and activations (per token, per call) and by the spot checks that redo it:
 *
 *	amax = max |v|,  d = amax / 127,  inv = d > 0 ? 1 / d : 0
 *	q    = round_half_even(clamp(v * inv, -127, 127))
 *
 * Every kernel variant computes exactly these float operations (a multiply,
 * a clamp, one rounding), so scalar, AVX2 and NEON agree bit for bit. */
#ifndef RB_NPU_INTERNAL_H
#define RB_NPU_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "npu/npu_device.h"
#include "npu/npu_gemm.h"
#include "rosenblatt/npu_backend.h"

/* ---- CPU kernels (act.c, act_avx2.c, act_neon.c) --------------------------------- */

/* int8 elements per atom of the NPU's input layout (16 bytes). */
#define NPU_Q_ATOM 16

typedef struct npu_act_kernels {
	const char *name; /* "avx2", "neon", "scalar" */
	/* max |x[i]|; +inf when any element is inf, a NaN when any is NaN (so
	 * `!(amax <= FLT_MAX)` spots every non-finite row). */
	float (*absmax)(const float *x, int64_t n);
	/* q_i = round_half_even(clamp(x[i] * inv, -127, 127)), stored in
	 * atoms of NPU_Q_ATOM: q_i at q[(i / 16) * stride + i % 16]. stride 16
	 * is a plain array; a larger one writes straight into the NPU's input
	 * layout (npu_gemm_a_row_at). Exactly n values are written. */
	void (*quantize)(const float *x, int64_t n, float inv, int8_t *q, size_t stride);
	/* r[i] = x[i] - d * q[i]: what quantizing x with step d left over. */
	void (*residual)(const float *x, int64_t n, float d, const int8_t *q, float *r);
} npu_act_kernels;

extern const npu_act_kernels npu_act_scalar;
#if defined(__x86_64__)
extern const npu_act_kernels npu_act_avx2;
#endif
#if defined(__aarch64__)
extern const npu_act_kernels npu_act_neon;
#endif
/* The best variant for this CPU (rb_cpu(), RB_CPU_DISABLE honoured). */
const npu_act_kernels *npu_act_best(void);

static inline float npu_q_scale(float amax) { return amax / 127.0f; }
static inline float npu_q_inv(float d) { return d > 0 ? 1.0f / d : 0.0f; }

/* ---- backend state ----------------------------------------------------------------- */

/* w->packed of a weight bound to the npu backend. */
typedef struct npu_weight npu_weight;

/* Weights that always take the same input (a layer's q, k, v), resident as
 * one weight whose rows are theirs in order (share_input): one NPU call,
 * one quantization of the input, each member's columns written to its own
 * output by the output stage. */
typedef struct npu_group {
	npu_gemm_weights *gw;
	float *scale;            /* int8: the members' d_w, concatenated */
	int64_t n_out;           /* rows of gw */
	int n;                   /* members */
	const npu_weight *member[RB_SHARED_MAX]; /* NULL once released */
	int64_t rows[RB_SHARED_MAX];             /* each member's rows of gw */
	int refs;                /* members not released yet */
} npu_group;

struct npu_weight {
	rb_weight fb;            /* the same weight, bound to the fallback backend */
	npu_gemm_weights *gw;    /* resident on the NPU alone, or NULL */
	npu_group *group;        /* resident as part of a group, or NULL */
	float *scale;            /* int8: n_out per-channel scales d_w */
	const char *cpu_only;    /* why it is not on the NPU (static text) */
};

/* What one NPU call computes: a resident weight (one rb_weight, or a group)
 * and where each member's columns go. */
typedef struct npu_target {
	const npu_gemm_weights *gw;
	const float *scale;      /* int8: per column of gw */
	int64_t K, N;
	int n;                   /* members, in column order */
	const npu_weight *member[RB_SHARED_MAX]; /* NULL: released (its columns unused) */
	int64_t cols[RB_SHARED_MAX];             /* member i's columns */
	float *y[RB_SHARED_MAX]; /* member i's output, or NULL: its columns are dropped */
	int64_t ldy[RB_SHARED_MAX];
} npu_target;

typedef struct npu_backend {
	rb_matmul_backend be;    /* first: the public table */
	rb_npu_backend_params p; /* as given (pointers borrowed) */
	const npu_act_kernels *k;
	npu_device *dev[NPU_DEVICE_MAX_CONTEXTS];
	unsigned ndev;
	bool own_devices;
	bool is_sim;
	npu_gemm_ctx *gctx;
	pthread_mutex_t lock;    /* one matmul at a time: scratch, stats, device */

	/* Scratch of NPU calls, grown only (no allocation once warm); the
	 * activations themselves go straight into libnpu's input buffer. */
	float *act_scale;        /* passes x m per-token scales (int8) */
	size_t act_scale_bytes;
	uint8_t *rows;           /* fp16, act_residual: a row of K floats + K int8 per thread */
	size_t rows_bytes;
	void *vbuf;              /* spot checks' scratch, carved into: */
	size_t vbuf_bytes;
	float *vrow;             /*   K floats: a weight row */
	int8_t *vrow_q;          /*   K int8: that row requantized */
	void *vact;              /*   K int8 or fp16: an activation row read back */

	unsigned consecutive_failures;
	bool disabled;
	uint64_t rng;            /* spot-check sample positions */

	/* Rate-limited warnings. */
	double last_warning;
	uint64_t suppressed;
	bool warned_once;

	rb_npu_backend_stats st;
	npu_sim_stats sim_base;  /* simulator totals at the last reset */
} npu_backend;

double npu_now(void);
void npu_warn(npu_backend *nb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* weights.c */
bool npu_backend_supports(void *ctx, const rb_weight *w);
int npu_backend_prepare(void *ctx, rb_weight *w, rb_err *err);
void npu_backend_release(void *ctx, rb_weight *w);
int npu_backend_share_input(void *ctx, rb_weight *const *ws, int n, rb_err *err);

/* matmul.c */
int npu_backend_matmul(void *ctx, const rb_weight *w, int64_t n_tokens, const float *x,
		       int64_t ldx, float *y, int64_t ldy, rb_err *err);
int npu_backend_matmul_shared(void *ctx, const rb_weight *const *ws, int n, int64_t n_tokens,
			      const float *x, int64_t ldx, float *const *ys, const int64_t *ldys,
			      rb_err *err);

/* verify.c: spot-check the m x N results of the last npu_gemm_finish (of
 * target tg), whose output stage was `out`, against the CPU: from the
 * operands the NPU read (npu_gemm_get_a_row, the member's weight row
 * requantized), its sums (npu_gemm_last_result) and what the output stage
 * wrote from them. RB_OK or RB_E_DEVICE naming the output that disagrees. */
int npu_verify(npu_backend *nb, const npu_target *tg, int64_t m, const npu_gemm_output *out,
	       rb_err *err);

#endif
