/* SPDX-License-Identifier: MIT */
/* Vector primitives for the non-matmul parts of the forward pass (attention
 * over the KV cache, norms, activations). Each has a scalar version and SIMD
 * versions (AVX2+FMA+F16C on x86-64, NEON on aarch64) picked at run time
 * (RB_CPU_DISABLE=avx2 / neon selects the scalar ones).
 *
 * Accuracy: the scalar versions accumulate sums in double; the SIMD versions
 * accumulate in float lanes (relative error ~1e-6 of sum |terms| for the
 * lengths of a forward pass) and use a polynomial exp within 2 ulp of expf
 * (exp(x) = 0 below -87.3, +inf above 88.72). f32 <-> f16 conversions are
 * bit exact (round to nearest even) in every version. n may be any size >= 0. */
#ifndef ROSENBLATT_VEC_H
#define ROSENBLATT_VEC_H

#include <stdint.h>

#include "rosenblatt/fp16.h"

#ifdef __cplusplus
extern "C" {
#endif

float rb_vec_dot_f32(int64_t n, const float *x, const float *y);
float rb_vec_dot_f16(int64_t n, const rb_f16 *x, const float *y);
/* out[g * ldo] = dot(x, y + g * ldy) for g < ny: one f16 row against several
 * f32 vectors (the queries of the heads that share a KV head, or their
 * attention weights), loading and converting x once for all of them. Each
 * result is bit for bit rb_vec_dot_f16(n, x, y + g * ldy). */
void rb_vec_dot_f16_multi(int64_t n, const rb_f16 *x, const float *y, int64_t ldy, int64_t ny,
			  float *out, int64_t ldo);
void rb_vec_mad_f32(int64_t n, float *y, const float *x, float a);  /* y += a * x */
void rb_vec_mad_f16(int64_t n, float *y, const rb_f16 *x, float a); /* y += a * x */
void rb_vec_scale_f32(int64_t n, float *y, float a);                /* y *= a */
void rb_vec_add_f32(int64_t n, float *y, const float *x);           /* y += x */
void rb_vec_f32_to_f16(int64_t n, rb_f16 *dst, const float *src);   /* round to nearest even */
void rb_vec_f16_to_f32(int64_t n, float *dst, const rb_f16 *src);
float rb_vec_max_f32(int64_t n, const float *x);
/* x[i] = exp(x[i] - max); returns the sum. */
float rb_vec_exp_sub_sum_f32(int64_t n, float *x, float max);
/* out = x / sqrt(mean(x^2) + eps) * w  (out may alias x) */
void rb_rmsnorm_f32(int64_t n, float *out, const float *x, const float *w, float eps);
/* out = silu(gate) * up, silu(g) = g / (1 + exp(-g))  (out may alias gate) */
void rb_vec_swiglu_f32(int64_t n, float *out, const float *gate, const float *up);

/* Which implementation the functions above use: "avx2", "neon" or "scalar". */
const char *rb_vec_impl_name(void);

#ifdef __cplusplus
}
#endif
#endif
