/* SPDX-License-Identifier: MIT */
/* Internal helpers of rb_quant: safe rounding, input sanitizing, the scale
 * searches (fit.c). Not a public header. */
#ifndef RB_QUANT_IMPL_H
#define RB_QUANT_IMPL_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "rosenblatt/fp16.h"

/* Largest finite binary16 value. */
#define RB_F16_MAX 65504.0f

/* Round to nearest, ties to even (the default FP rounding mode, as cvtps2dq
 * and fcvtns), clamped to [lo, hi] (a range that contains 0). Defined for
 * every v: NaN gives 0, +-Inf the bounds. The clamp happens in float before
 * the conversion, so it is never undefined behaviour; written without
 * branches (minss/maxss, fminnm/fmaxnm) because it is the inner loop of every
 * quantizer. */
static inline int rb_q_round(float v, int lo, int hi)
{
	v = v == v ? v : 0.0f;
	v = v > (float)lo ? v : (float)lo;
	v = v < (float)hi ? v : (float)hi;
	return (int)lrintf(v);
}

static inline float rb_q_min(float a, float b) { return a < b ? a : b; }
static inline float rb_q_max(float a, float b) { return a > b ? a : b; }

/* Input value made finite: NaN -> 0, +-Inf -> +-FLT_MAX. */
static inline float rb_q_finite(float v)
{
	if (fabsf(v) <= FLT_MAX)
		return v;
	return v != v ? 0.0f : copysignf(FLT_MAX, v);
}

/* A finite float as binary16, saturating at +-65504 instead of rounding to
 * infinity (a scale that overflows stays usable, values clip). */
static inline rb_f16 rb_q_f16_sat(float v)
{
	return rb_f32_to_f16(rb_q_min(rb_q_max(v, -RB_F16_MAX), RB_F16_MAX));
}

/* The value a scale will have once stored as f16. */
static inline float rb_q_f16_round(float v)
{
	return rb_f16_to_f32(rb_q_f16_sat(v));
}

/* Largest |x| of a block with non-finite values made finite. */
static inline float rb_q_amax(int n, const float *x)
{
	float amax = 0;
	for (int i = 0; i < n; i++)
		amax = rb_q_max(amax, fabsf(rb_q_finite(x[i])));
	return amax;
}

/* Copy n values made finite into dst and fill w with the error weights the
 * weight quantizers minimize: w_i = 1 + x_i^2 / (4 mean(x^2)).
 * Why: without activation statistics every weight's error reaches a matmul
 * output with the same expected gain, so plain squared error is the neutral
 * choice; the mild quadratic term protects the few large weights (a 3-sigma
 * value counts 3.25x) at a cost of < 1% RMSE on Gaussian data.
 * Returns the largest |x_i| (0 for an all-zero block). */
float rb_q_prepare(int n, const float *src, float *dst, float *w);

/* Best scale s for x ~ s * q, q integer in [qmin, qmax] (qmin < 0 < qmax),
 * minimizing sum w_i (x_i - s q_i)^2. The sign of s is free. Writes q (may be
 * NULL) and returns s; 0 when all x are 0. n <= 256. */
float rb_fit_symmetric(int n, const float *x, const float *w, int qmin, int qmax, int8_t *q);

/* Best (s >= 0, b) for x ~ s * q + b, q integer in [0, qmax], minimizing
 * sum w_i (x_i - s q_i - b)^2. With b_nonpos, b <= 0 is enforced (K-quant
 * mins). Writes q (may be NULL) and *b; returns s. n <= 256. */
float rb_fit_affine(int n, const float *x, const float *w, int qmax, bool b_nonpos, float *b,
		    uint8_t *q);

#endif
