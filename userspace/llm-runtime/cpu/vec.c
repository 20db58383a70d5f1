/* SPDX-License-Identifier: MIT */
/* Scalar vector primitives (reference; SIMD variants dispatch from here). */
#include "rosenblatt/vec.h"

#include <math.h>

float rb_vec_dot_f32(int64_t n, const float *x, const float *y)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)x[i] * y[i];
	return (float)s;
}

float rb_vec_dot_f16_f32(int64_t n, const rb_f16 *x, const float *y)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)rb_f16_to_f32(x[i]) * y[i];
	return (float)s;
}

void rb_vec_mad_f32(int64_t n, float *y, const float *x, float a)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += a * x[i];
}

void rb_vec_mad_f16(int64_t n, float *y, const rb_f16 *x, float a)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += a * rb_f16_to_f32(x[i]);
}

void rb_vec_scale_f32(int64_t n, float *y, float a)
{
	for (int64_t i = 0; i < n; i++)
		y[i] *= a;
}

void rb_vec_add_f32(int64_t n, float *y, const float *x)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += x[i];
}

void rb_vec_f32_to_f16(int64_t n, rb_f16 *dst, const float *src)
{
	for (int64_t i = 0; i < n; i++)
		dst[i] = rb_f32_to_f16(src[i]);
}

void rb_vec_f16_to_f32(int64_t n, float *dst, const rb_f16 *src)
{
	for (int64_t i = 0; i < n; i++)
		dst[i] = rb_f16_to_f32(src[i]);
}

float rb_vec_max_f32(int64_t n, const float *x)
{
	float m = -INFINITY;
	for (int64_t i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

float rb_vec_exp_sub_sum_f32(int64_t n, float *x, float max)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		s += x[i];
	}
	return (float)s;
}

void rb_rmsnorm_f32(int64_t n, float *out, const float *x, const float *w, float eps)
{
	double ss = 0;
	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	const float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
	for (int64_t i = 0; i < n; i++)
		out[i] = x[i] * scale * w[i];
}

void rb_vec_swiglu_f32(int64_t n, float *out, const float *gate, const float *up)
{
	for (int64_t i = 0; i < n; i++) {
		const float g = gate[i];
		out[i] = g / (1.0f + expf(-g)) * up[i];
	}
}
