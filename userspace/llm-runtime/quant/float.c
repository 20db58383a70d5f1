/* SPDX-License-Identifier: MIT */
/* Plain float types: F32, F16 (IEEE binary16), BF16 (bfloat16), and their
 * dot products against F32 (accumulated in double: this is the reference). */
#include "rosenblatt/quant.h"

#include <string.h>

void rb_quantize_row_f32(const float *x, float *y, int64_t n)
{
	if (n > 0)
		memmove(y, x, (size_t)n * sizeof(float));
}

void rb_dequantize_row_f32(const float *x, float *y, int64_t n)
{
	rb_quantize_row_f32(x, y, n);
}

void rb_quantize_row_f16(const float *x, rb_f16 *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = rb_f32_to_f16(x[i]);
}

void rb_dequantize_row_f16(const rb_f16 *x, float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = rb_f16_to_f32(x[i]);
}

void rb_quantize_row_bf16(const float *x, rb_bf16 *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = rb_f32_to_bf16(x[i]);
}

void rb_dequantize_row_bf16(const rb_bf16 *x, float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = rb_bf16_to_f32(x[i]);
}

float rb_ref_dot_f32_f32(int64_t n, const float *x, const float *y)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)x[i] * y[i];
	return (float)s;
}

float rb_ref_dot_f16_f32(int64_t n, const rb_f16 *x, const float *y)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)rb_f16_to_f32(x[i]) * y[i];
	return (float)s;
}

float rb_ref_dot_bf16_f32(int64_t n, const rb_bf16 *x, const float *y)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)rb_bf16_to_f32(x[i]) * y[i];
	return (float)s;
}
