/* SPDX-License-Identifier: MIT */
/* 8-bit types: Q8_0 (weights and activations), Q8_1 and Q8_K (activations).
 *
 * All three are symmetric with d = amax / 127 and q = round-half-even(x / d)
 * computed as x * (1 / d) with d as stored, so q stays in [-127, 127] and a
 * SIMD version (multiply by the reciprocal, convert with round-to-nearest)
 * can match bit for bit. Layouts: docs/quant-formats.md. */
#include "rosenblatt/quant.h"

#include "quant_impl.h"

/* q[0..n) of one block, returns sum(q). */
static int q8_block(const float *x, int n, float inv_d, int8_t *q)
{
	int sum = 0;
	for (int i = 0; i < n; i++) {
		q[i] = (int8_t)rb_q_round(x[i] * inv_d, -127, 127);
		sum += q[i];
	}
	return sum;
}

/* The f16 scale of a Q8_0/Q8_1 block; *inv_d = 1 / its value (0 if zero). */
static rb_f16 q8_f16_scale(const float *x, int n, float *inv_d)
{
	const rb_f16 d = rb_q_f16_sat(rb_q_amax(n, x) / 127.0f);
	const float dv = rb_f16_to_f32(d);
	*inv_d = dv > 0 ? 1.0f / dv : 0.0f;
	return d;
}

void rb_quantize_row_q8_0(const float *x, rb_block_q8_0 *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK8_0; b++, x += RB_QK8_0) {
		float inv_d;
		y[b].d = q8_f16_scale(x, RB_QK8_0, &inv_d);
		q8_block(x, RB_QK8_0, inv_d, y[b].qs);
	}
}

void rb_quantize_row_q8_1(const float *x, rb_block_q8_1 *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK8_1; b++, x += RB_QK8_1) {
		float inv_d;
		y[b].d = q8_f16_scale(x, RB_QK8_1, &inv_d);
		const int sum = q8_block(x, RB_QK8_1, inv_d, y[b].qs);
		/* s = d * sum(q) with d as stored: exactly the block's value sum
		 * (up to f16 rounding of s) that the min term of Q4_1/Q5_1 needs */
		y[b].s = rb_q_f16_sat(rb_f16_to_f32(y[b].d) * (float)sum);
	}
}

void rb_quantize_row_q8_K(const float *x, rb_block_q8_k *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK_K; b++, x += RB_QK_K) {
		const float d = rb_q_amax(RB_QK_K, x) / 127.0f;
		y[b].d = d;
		const float inv_d = d > 0 ? 1.0f / d : 0.0f;
		for (int g = 0; g < RB_QK_K / 16; g++)
			y[b].bsums[g] = (int16_t)q8_block(x + 16 * g, 16, inv_d, y[b].qs + 16 * g);
	}
}

void rb_dequantize_row_q8_0(const rb_block_q8_0 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK8_0; b++) {
		const float d = rb_f16_to_f32(x[b].d);
		for (int i = 0; i < RB_QK8_0; i++)
			*y++ = (float)x[b].qs[i] * d;
	}
}

void rb_dequantize_row_q8_1(const rb_block_q8_1 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK8_1; b++) {
		const float d = rb_f16_to_f32(x[b].d);
		for (int i = 0; i < RB_QK8_1; i++)
			*y++ = (float)x[b].qs[i] * d;
	}
}

void rb_dequantize_row_q8_K(const rb_block_q8_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		for (int i = 0; i < RB_QK_K; i++)
			*y++ = (float)x[b].qs[i] * x[b].d;
	}
}

float rb_ref_dot_q8_0_q8_0(int64_t n, const rb_block_q8_0 *x, const rb_block_q8_0 *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / RB_QK8_0; b++) {
		int32_t sumi = 0;
		for (int i = 0; i < RB_QK8_0; i++)
			sumi += x[b].qs[i] * y[b].qs[i];
		acc += rb_f16_to_f32(x[b].d) * rb_f16_to_f32(y[b].d) * (float)sumi;
	}
	return acc;
}
