/* SPDX-License-Identifier: MIT */
/* Q4_K and Q5_K: 256-element super-blocks of 8 sub-blocks of 32 values with a
 * 6-bit scale and 6-bit min each; x = d * sc_j * q - dmin * m_j, q in
 * [0, 15] (Q4_K) or [0, 31] (Q5_K).
 *
 * Element e of a super-block (docs/quant-formats.md):
 *   sub-block j = e / 32; low 4 bits in byte qs[32 * (j / 2) + e % 32],
 *   low nibble for even j, high nibble for odd j;
 *   Q5_K: bit 4 in bit j of qh[e % 32].
 *
 * Quantization (our own scheme):
 *   1. each sub-block: weighted least-squares fit of (scale, min) (fit.c);
 *   2. d = max scale / 63, dmin = max min / 63 (as f16); per sub-block the
 *      6-bit sc_j / m_j are chosen among floor and ceil of scale / d and
 *      min / dmin by the actual weighted error after re-rounding the values;
 *   3. with the integers fixed, (d, dmin) is re-fitted jointly over the whole
 *      super-block (a 2x2 least-squares problem) and kept if the error after
 *      f16 rounding and re-rounding the values is lower. */
#include "rosenblatt/quant.h"

#include <string.h>

#include "quant_impl.h"

#define NSUB 8
#define SUB 32
#define SCALE_MAX 63

void rb_k_get_scale_min(const uint8_t s[RB_K_SCALE_SIZE], int j, uint8_t *sc, uint8_t *m)
{
	if (j < 4) {
		*sc = s[j] & 0x3f;
		*m = s[j + 4] & 0x3f;
	} else {
		/* low 4 bits in byte 8 + (j - 4), top 2 bits in bits 6..7 of bytes 0..7 */
		*sc = (uint8_t)((s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4);
		*m = (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
	}
}

void rb_k_pack_scale_min(uint8_t s[RB_K_SCALE_SIZE], const uint8_t sc[8], const uint8_t m[8])
{
	for (int j = 0; j < 4; j++) {
		s[j] = (uint8_t)((sc[j] & 0x3f) | (sc[j + 4] >> 4) << 6);
		s[j + 4] = (uint8_t)((m[j] & 0x3f) | (m[j + 4] >> 4) << 6);
		s[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | (m[j + 4] & 0x0f) << 4);
	}
}

/* ---- quantization --------------------------------------------------------- */

struct k_affine {
	int qmax;
	float d, dmin; /* values as stored in f16 */
	uint8_t sc[NSUB], mn[NSUB];
	uint8_t q[RB_QK_K];
};

/* Round a sub-block with effective scale ds = d * sc and min dm = dmin * m;
 * returns the weighted squared error of the dequantized values. */
static double sub_assign(const float *x, const float *w, float ds, float dm, int qmax, uint8_t *q)
{
	const float inv = ds > 0 ? 1.0f / ds : 0.0f;
	double err = 0;
	for (int i = 0; i < SUB; i++) {
		q[i] = (uint8_t)rb_q_round((x[i] + dm) * inv, 0, qmax);
		const double r = (double)x[i] - (ds * (float)q[i] - dm);
		err += w[i] * r * r;
	}
	return err;
}

/* The two 6-bit integers around v / unit (just 0 when unit is 0). */
static int int_candidates(float v, float unit, int out[2])
{
	if (!(unit > 0)) {
		out[0] = 0;
		return 1;
	}
	const float r = rb_q_min(rb_q_max(v / unit, 0.0f), (float)SCALE_MAX);
	out[0] = (int)floorf(r);
	out[1] = out[0] < SCALE_MAX ? out[0] + 1 : out[0];
	return out[1] != out[0] ? 2 : 1;
}

/* Step 2: sc_j, m_j and q for the current d, dmin; returns the total error. */
static double choose_sub_scales(struct k_affine *k, const float *x, const float *w,
				const float s[NSUB], const float m[NSUB])
{
	uint8_t tmp[SUB];
	double total = 0;
	for (int j = 0; j < NSUB; j++) {
		int scs[2], mns[3];
		const int nsc = int_candidates(s[j], k->d, scs);
		int nmn = int_candidates(m[j], k->dmin, mns);
		/* d underflowed to 0 (block far below f16 resolution): the values
		 * collapse to -dmin * m, and m = 0 may be the better constant */
		if (k->d == 0 && mns[0] != 0)
			mns[nmn++] = 0;
		const float *xj = x + SUB * j, *wj = w + SUB * j;
		double best = INFINITY;
		for (int a = 0; a < nsc; a++) {
			for (int b = 0; b < nmn; b++) {
				const float ds = k->d * (float)scs[a];
				const float dm = k->dmin * (float)mns[b];
				const double err = sub_assign(xj, wj, ds, dm, k->qmax, tmp);
				if (err < best) {
					best = err;
					k->sc[j] = (uint8_t)scs[a];
					k->mn[j] = (uint8_t)mns[b];
					memcpy(k->q + SUB * j, tmp, SUB);
				}
			}
		}
		total += best;
	}
	return total;
}

/* Re-round every value for the current d, dmin, sc, m; total error. */
static double assign_all(struct k_affine *k, const float *x, const float *w)
{
	double total = 0;
	for (int j = 0; j < NSUB; j++)
		total += sub_assign(x + SUB * j, w + SUB * j, k->d * (float)k->sc[j],
				    k->dmin * (float)k->mn[j], k->qmax, k->q + SUB * j);
	return total;
}

/* Step 3: least-squares (d, dmin) for x ~ d * (sc_j q) - dmin * m_j with the
 * integers fixed. False if there is no better-defined solution. */
static bool refit_super(const struct k_affine *k, const float *x, const float *w, float *d,
			float *dmin)
{
	double A = 0, B = 0, C = 0, P = 0, Q = 0;
	for (int i = 0; i < RB_QK_K; i++) {
		const double u = (double)k->sc[i / SUB] * k->q[i], v = k->mn[i / SUB];
		A += w[i] * u * u;
		B += w[i] * u * v;
		C += w[i] * v * v;
		P += w[i] * x[i] * u;
		Q += w[i] * x[i] * v;
	}
	if (!(A > 0))
		return false;
	double a, c;
	if (C == 0) {
		a = P / A;
		c = k->dmin;
	} else {
		const double det = A * C - B * B;
		if (!(det > 1e-9 * A * C))
			return false;
		a = (C * P - B * Q) / det;
		c = (B * P - A * Q) / det;
	}
	if (!(a > 0) || !(c >= 0))
		return false;
	*d = rb_q_f16_round((float)a);
	*dmin = rb_q_f16_round((float)c);
	return true;
}

static void quantize_k_affine(const float *src, int qmax, struct k_affine *k)
{
	float x[RB_QK_K], w[RB_QK_K], s[NSUB], m[NSUB];
	rb_q_prepare(RB_QK_K, src, x, w);

	float smax = 0, mmax = 0;
	for (int j = 0; j < NSUB; j++) {
		float b;
		s[j] = rb_fit_affine(SUB, x + SUB * j, w + SUB * j, qmax, true, &b, NULL);
		m[j] = -b;
		smax = rb_q_max(smax, s[j]);
		mmax = rb_q_max(mmax, m[j]);
	}
	k->qmax = qmax;
	k->d = rb_q_f16_round(smax / SCALE_MAX);
	k->dmin = rb_q_f16_round(mmax / SCALE_MAX);
	double err = choose_sub_scales(k, x, w, s, m);

	for (int round = 0; round < 2; round++) {
		struct k_affine t = *k;
		if (!refit_super(k, x, w, &t.d, &t.dmin))
			break;
		const double e = assign_all(&t, x, w);
		if (!(e < err))
			break;
		*k = t;
		err = e;
	}
}

void rb_quantize_row_q4_K(const float *x, rb_block_q4_k *y, int64_t n)
{
	struct k_affine k;
	for (int64_t b = 0; b < n / RB_QK_K; b++, x += RB_QK_K) {
		quantize_k_affine(x, 15, &k);
		y[b].d = rb_f32_to_f16(k.d);
		y[b].dmin = rb_f32_to_f16(k.dmin);
		rb_k_pack_scale_min(y[b].scales, k.sc, k.mn);
		for (int e = 0; e < RB_QK_K; e++) {
			uint8_t *byte = &y[b].qs[SUB * (e / 64) + e % SUB];
			if ((e / SUB) % 2 == 0)
				*byte = k.q[e];
			else
				*byte |= (uint8_t)(k.q[e] << 4);
		}
	}
}

void rb_quantize_row_q5_K(const float *x, rb_block_q5_k *y, int64_t n)
{
	struct k_affine k;
	for (int64_t b = 0; b < n / RB_QK_K; b++, x += RB_QK_K) {
		quantize_k_affine(x, 31, &k);
		y[b].d = rb_f32_to_f16(k.d);
		y[b].dmin = rb_f32_to_f16(k.dmin);
		rb_k_pack_scale_min(y[b].scales, k.sc, k.mn);
		memset(y[b].qh, 0, sizeof(y[b].qh));
		for (int e = 0; e < RB_QK_K; e++) {
			uint8_t *byte = &y[b].qs[SUB * (e / 64) + e % SUB];
			const uint8_t lo = k.q[e] & 0x0f;
			if ((e / SUB) % 2 == 0)
				*byte = lo;
			else
				*byte |= (uint8_t)(lo << 4);
			y[b].qh[e % SUB] |= (uint8_t)((k.q[e] >> 4) << (e / SUB));
		}
	}
}

/* ---- dequantization and dot products --------------------------------------- */

/* 4-bit part of element i of sub-block j. */
static inline int low4(const uint8_t *qs, int j, int i)
{
	return (qs[SUB * (j / 2) + i] >> (4 * (j % 2))) & 0x0f;
}

static inline int high1(const uint8_t *qh, int j, int i)
{
	return ((qh[i] >> j) & 1) << 4;
}

void rb_dequantize_row_q4_K(const rb_block_q4_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		const float d = rb_f16_to_f32(x[b].d), dmin = rb_f16_to_f32(x[b].dmin);
		for (int j = 0; j < NSUB; j++) {
			uint8_t sc, m;
			rb_k_get_scale_min(x[b].scales, j, &sc, &m);
			const float ds = d * (float)sc, dm = dmin * (float)m;
			for (int i = 0; i < SUB; i++)
				*y++ = ds * (float)low4(x[b].qs, j, i) - dm;
		}
	}
}

void rb_dequantize_row_q5_K(const rb_block_q5_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		const float d = rb_f16_to_f32(x[b].d), dmin = rb_f16_to_f32(x[b].dmin);
		for (int j = 0; j < NSUB; j++) {
			uint8_t sc, m;
			rb_k_get_scale_min(x[b].scales, j, &sc, &m);
			const float ds = d * (float)sc, dm = dmin * (float)m;
			for (int i = 0; i < SUB; i++)
				*y++ = ds * (float)(low4(x[b].qs, j, i) | high1(x[b].qh, j, i)) - dm;
		}
	}
}

/* sum_e (d sc_j q_e - dmin m_j) d8 q8_e
 *   = d8 (d sum_j sc_j sum_i q q8  -  dmin sum_j m_j (bsum_2j + bsum_2j+1)) */
float rb_ref_dot_q4_K_q8_K(int64_t n, const rb_block_q4_k *x, const rb_block_q8_k *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		int32_t sum_q = 0, sum_m = 0;
		for (int j = 0; j < NSUB; j++) {
			uint8_t sc, m;
			rb_k_get_scale_min(x[b].scales, j, &sc, &m);
			int32_t s = 0;
			for (int i = 0; i < SUB; i++)
				s += low4(x[b].qs, j, i) * y[b].qs[SUB * j + i];
			sum_q += sc * s;
			sum_m += m * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
		}
		acc += y[b].d * (rb_f16_to_f32(x[b].d) * (float)sum_q -
				 rb_f16_to_f32(x[b].dmin) * (float)sum_m);
	}
	return acc;
}

float rb_ref_dot_q5_K_q8_K(int64_t n, const rb_block_q5_k *x, const rb_block_q8_k *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		int32_t sum_q = 0, sum_m = 0;
		for (int j = 0; j < NSUB; j++) {
			uint8_t sc, m;
			rb_k_get_scale_min(x[b].scales, j, &sc, &m);
			int32_t s = 0;
			for (int i = 0; i < SUB; i++)
				s += (low4(x[b].qs, j, i) | high1(x[b].qh, j, i)) *
				     y[b].qs[SUB * j + i];
			sum_q += sc * s;
			sum_m += m * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
		}
		acc += y[b].d * (rb_f16_to_f32(x[b].d) * (float)sum_q -
				 rb_f16_to_f32(x[b].dmin) * (float)sum_m);
	}
	return acc;
}
