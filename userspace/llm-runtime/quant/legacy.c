/* SPDX-License-Identifier: MIT */
/* The 32-element block types Q4_0, Q4_1, Q5_0, Q5_1: dequantization,
 * quantization (weighted scale search, fit.c) and dot products against
 * Q8_0 / Q8_1 activations.
 *
 * Element order inside a block (docs/quant-formats.md): byte qs[j] holds
 * element j in its low nibble and element j + 16 in its high nibble; for the
 * 5-bit types bit j of the little-endian 32-bit word qh is bit 4 of element j. */
#include "rosenblatt/quant.h"

#include "quant_impl.h"

#define QK 32

static void pack_nibbles(const uint8_t q[QK], uint8_t qs[QK / 2])
{
	for (int j = 0; j < QK / 2; j++)
		qs[j] = (uint8_t)((q[j] & 0x0f) | (q[j + QK / 2] & 0x0f) << 4);
}

static void pack_bit4(const uint8_t q[QK], uint8_t qh_bytes[4])
{
	uint32_t qh = 0;
	for (int j = 0; j < QK; j++)
		qh |= (uint32_t)((q[j] >> 4) & 1) << j;
	for (int k = 0; k < 4; k++) /* little endian, whatever the host is */
		qh_bytes[k] = (uint8_t)(qh >> (8 * k));
}

/* Unsigned 4/5-bit value of element i (i < 32) of a block. */
static inline int nibble_at(const uint8_t qs[QK / 2], int i)
{
	return i < QK / 2 ? qs[i] & 0x0f : qs[i - QK / 2] >> 4;
}

static inline uint32_t load_qh(const uint8_t qh[4])
{
	return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
	       (uint32_t)qh[3] << 24;
}

static inline int five_bit_at(const uint8_t qs[QK / 2], uint32_t qh, int i)
{
	return nibble_at(qs, i) | (int)((qh >> i) & 1) << 4;
}

/* Symmetric block: x ~ d * (q - offset), q in [0, 2 * offset - 1]. Returns d
 * as f16; q unsigned. */
static rb_f16 quantize_sym_block(const float *src, int offset, uint8_t q[QK])
{
	float x[QK], w[QK];
	rb_q_prepare(QK, src, x, w);
	const rb_f16 d = rb_q_f16_sat(rb_fit_symmetric(QK, x, w, -offset, offset - 1, NULL));
	const float dv = rb_f16_to_f32(d);
	const float inv = dv != 0 ? 1.0f / dv : 0.0f;
	for (int i = 0; i < QK; i++)
		q[i] = (uint8_t)(rb_q_round(x[i] * inv, -offset, offset - 1) + offset);
	return d;
}

/* Affine block: x ~ d * q + m, q in [0, qmax]. */
static void quantize_affine_block(const float *src, int qmax, uint8_t q[QK], rb_f16 *d, rb_f16 *m)
{
	float x[QK], w[QK], b;
	rb_q_prepare(QK, src, x, w);
	const float s = rb_fit_affine(QK, x, w, qmax, false, &b, NULL);
	*d = rb_q_f16_sat(s);
	*m = rb_q_f16_sat(b);
	const float dv = rb_f16_to_f32(*d), mv = rb_f16_to_f32(*m);
	const float inv = dv > 0 ? 1.0f / dv : 0.0f;
	for (int i = 0; i < QK; i++)
		q[i] = (uint8_t)rb_q_round((x[i] - mv) * inv, 0, qmax);
}

/* ---- Q4_0: x = d * (q - 8) ------------------------------------------------ */

void rb_quantize_row_q4_0(const float *x, rb_block_q4_0 *y, int64_t n)
{
	uint8_t q[QK];
	for (int64_t b = 0; b < n / QK; b++, x += QK) {
		y[b].d = quantize_sym_block(x, 8, q);
		pack_nibbles(q, y[b].qs);
	}
}

void rb_dequantize_row_q4_0(const rb_block_q4_0 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / QK; b++) {
		const float d = rb_f16_to_f32(x[b].d);
		for (int i = 0; i < QK; i++)
			*y++ = (float)(nibble_at(x[b].qs, i) - 8) * d;
	}
}

float rb_ref_dot_q4_0_q8_0(int64_t n, const rb_block_q4_0 *x, const rb_block_q8_0 *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / QK; b++) {
		int32_t sumi = 0;
		for (int i = 0; i < QK; i++)
			sumi += (nibble_at(x[b].qs, i) - 8) * y[b].qs[i];
		acc += rb_f16_to_f32(x[b].d) * rb_f16_to_f32(y[b].d) * (float)sumi;
	}
	return acc;
}

/* ---- Q4_1: x = d * q + m ------------------------------------------------ */

void rb_quantize_row_q4_1(const float *x, rb_block_q4_1 *y, int64_t n)
{
	uint8_t q[QK];
	for (int64_t b = 0; b < n / QK; b++, x += QK) {
		quantize_affine_block(x, 15, q, &y[b].d, &y[b].m);
		pack_nibbles(q, y[b].qs);
	}
}

void rb_dequantize_row_q4_1(const rb_block_q4_1 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / QK; b++) {
		const float d = rb_f16_to_f32(x[b].d), m = rb_f16_to_f32(x[b].m);
		for (int i = 0; i < QK; i++)
			*y++ = (float)nibble_at(x[b].qs, i) * d + m;
	}
}

/* sum_i (d q_i + m) d8 q8_i = d d8 sum(q q8) + m (d8 sum q8) = ... + m * s8 */
float rb_ref_dot_q4_1_q8_1(int64_t n, const rb_block_q4_1 *x, const rb_block_q8_1 *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / QK; b++) {
		int32_t sumi = 0;
		for (int i = 0; i < QK; i++)
			sumi += nibble_at(x[b].qs, i) * y[b].qs[i];
		acc += rb_f16_to_f32(x[b].d) * rb_f16_to_f32(y[b].d) * (float)sumi +
		       rb_f16_to_f32(x[b].m) * rb_f16_to_f32(y[b].s);
	}
	return acc;
}

/* ---- Q5_0: x = d * (q - 16) ----------------------------------------------- */

void rb_quantize_row_q5_0(const float *x, rb_block_q5_0 *y, int64_t n)
{
	uint8_t q[QK];
	for (int64_t b = 0; b < n / QK; b++, x += QK) {
		y[b].d = quantize_sym_block(x, 16, q);
		pack_nibbles(q, y[b].qs);
		pack_bit4(q, y[b].qh);
	}
}

void rb_dequantize_row_q5_0(const rb_block_q5_0 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / QK; b++) {
		const float d = rb_f16_to_f32(x[b].d);
		const uint32_t qh = load_qh(x[b].qh);
		for (int i = 0; i < QK; i++)
			*y++ = (float)(five_bit_at(x[b].qs, qh, i) - 16) * d;
	}
}

float rb_ref_dot_q5_0_q8_0(int64_t n, const rb_block_q5_0 *x, const rb_block_q8_0 *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / QK; b++) {
		const uint32_t qh = load_qh(x[b].qh);
		int32_t sumi = 0;
		for (int i = 0; i < QK; i++)
			sumi += (five_bit_at(x[b].qs, qh, i) - 16) * y[b].qs[i];
		acc += rb_f16_to_f32(x[b].d) * rb_f16_to_f32(y[b].d) * (float)sumi;
	}
	return acc;
}

/* ---- Q5_1: x = d * q + m ------------------------------------------------ */

void rb_quantize_row_q5_1(const float *x, rb_block_q5_1 *y, int64_t n)
{
	uint8_t q[QK];
	for (int64_t b = 0; b < n / QK; b++, x += QK) {
		quantize_affine_block(x, 31, q, &y[b].d, &y[b].m);
		pack_nibbles(q, y[b].qs);
		pack_bit4(q, y[b].qh);
	}
}

void rb_dequantize_row_q5_1(const rb_block_q5_1 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / QK; b++) {
		const float d = rb_f16_to_f32(x[b].d), m = rb_f16_to_f32(x[b].m);
		const uint32_t qh = load_qh(x[b].qh);
		for (int i = 0; i < QK; i++)
			*y++ = (float)five_bit_at(x[b].qs, qh, i) * d + m;
	}
}

float rb_ref_dot_q5_1_q8_1(int64_t n, const rb_block_q5_1 *x, const rb_block_q8_1 *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / QK; b++) {
		const uint32_t qh = load_qh(x[b].qh);
		int32_t sumi = 0;
		for (int i = 0; i < QK; i++)
			sumi += five_bit_at(x[b].qs, qh, i) * y[b].qs[i];
		acc += rb_f16_to_f32(x[b].d) * rb_f16_to_f32(y[b].d) * (float)sumi +
		       rb_f16_to_f32(x[b].m) * rb_f16_to_f32(y[b].s);
	}
	return acc;
}
