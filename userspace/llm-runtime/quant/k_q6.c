/* SPDX-License-Identifier: MIT */
/* Q6_K: 256-element super-blocks of 16 sub-blocks of 16 values with a signed
 * 8-bit scale each; x = d * sc_k * (q - 32), q in [0, 63].
 *
 * Element e of a super-block (docs/quant-formats.md): with h = e / 128,
 * g = (e % 128) / 32, l = e % 32:
 *   low 4 bits: ql[64 h + 32 (g % 2) + l], low nibble for g < 2, high for g >= 2;
 *   high 2 bits: bits 2g..2g+1 of qh[32 h + l];
 *   scale: scales[e / 16].
 *
 * Quantization (our own scheme): per sub-block a weighted least-squares
 * symmetric fit (fit.c), d = max |scale| / 127, each sc_k the floor or ceil of
 * scale / d whichever re-rounds to the lower error, then d re-fitted over the
 * super-block with the integers fixed, kept if better. */
#include "rosenblatt/quant.h"

#include <string.h>

#include "quant_impl.h"

#define NSUB 16
#define SUB 16
#define QMIN (-32)
#define QMAX 31

struct k_sym {
	float d; /* as stored in f16 */
	int8_t sc[NSUB];
	int8_t q[RB_QK_K]; /* q - 32, in [-32, 31] */
};

static double sub_assign(const float *x, const float *w, float ds, int8_t *q)
{
	const float inv = ds != 0 ? 1.0f / ds : 0.0f;
	double err = 0;
	for (int i = 0; i < SUB; i++) {
		q[i] = (int8_t)rb_q_round(x[i] * inv, QMIN, QMAX);
		const double r = (double)x[i] - ds * (float)q[i];
		err += w[i] * r * r;
	}
	return err;
}

static double choose_sub_scales(struct k_sym *k, const float *x, const float *w,
				const float s[NSUB])
{
	int8_t tmp[SUB];
	double total = 0;
	for (int j = 0; j < NSUB; j++) {
		int cand[2] = {0, 0}, nc = 1;
		if (k->d > 0) {
			const float r = rb_q_min(rb_q_max(s[j] / k->d, -128.0f), 127.0f);
			cand[0] = (int)floorf(r);
			cand[1] = cand[0] < 127 ? cand[0] + 1 : cand[0];
			nc = cand[1] != cand[0] ? 2 : 1;
		}
		double best = INFINITY;
		for (int c = 0; c < nc; c++) {
			const double err =
				sub_assign(x + SUB * j, w + SUB * j, k->d * (float)cand[c], tmp);
			if (err < best) {
				best = err;
				k->sc[j] = (int8_t)cand[c];
				memcpy(k->q + SUB * j, tmp, SUB);
			}
		}
		total += best;
	}
	return total;
}

static double assign_all(struct k_sym *k, const float *x, const float *w)
{
	double total = 0;
	for (int j = 0; j < NSUB; j++)
		total += sub_assign(x + SUB * j, w + SUB * j, k->d * (float)k->sc[j],
				    k->q + SUB * j);
	return total;
}

static void quantize_q6_block(const float *src, struct k_sym *k)
{
	float x[RB_QK_K], w[RB_QK_K], s[NSUB];
	rb_q_prepare(RB_QK_K, src, x, w);

	float smax = 0;
	for (int j = 0; j < NSUB; j++) {
		s[j] = rb_fit_symmetric(SUB, x + SUB * j, w + SUB * j, QMIN, QMAX, NULL);
		smax = rb_q_max(smax, fabsf(s[j]));
	}
	k->d = rb_q_f16_round(smax / 127);
	double err = choose_sub_scales(k, x, w, s);

	for (int round = 0; round < 2; round++) {
		double num = 0, den = 0;
		for (int i = 0; i < RB_QK_K; i++) {
			const double u = (double)k->sc[i / SUB] * k->q[i];
			num += w[i] * x[i] * u;
			den += w[i] * u * u;
		}
		if (!(den > 0) || !(num > 0))
			break;
		struct k_sym t = *k;
		t.d = rb_q_f16_round((float)(num / den));
		const double e = assign_all(&t, x, w);
		if (!(e < err))
			break;
		*k = t;
		err = e;
	}
}

void rb_quantize_row_q6_K(const float *x, rb_block_q6_k *y, int64_t n)
{
	struct k_sym k;
	for (int64_t b = 0; b < n / RB_QK_K; b++, x += RB_QK_K) {
		quantize_q6_block(x, &k);
		y[b].d = rb_f32_to_f16(k.d);
		memcpy(y[b].scales, k.sc, sizeof(k.sc));
		memset(y[b].ql, 0, sizeof(y[b].ql));
		memset(y[b].qh, 0, sizeof(y[b].qh));
		for (int e = 0; e < RB_QK_K; e++) {
			const int h = e / 128, g = (e % 128) / 32, l = e % 32;
			const unsigned q = (unsigned)(k.q[e] + 32);
			y[b].ql[64 * h + 32 * (g % 2) + l] |= (uint8_t)((q & 0x0f) << (4 * (g / 2)));
			y[b].qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * g));
		}
	}
}

/* q - 32 of element e of a block. */
static inline int q6_at(const rb_block_q6_k *x, int e)
{
	const int h = e / 128, g = (e % 128) / 32, l = e % 32;
	const int lo = (x->ql[64 * h + 32 * (g % 2) + l] >> (4 * (g / 2))) & 0x0f;
	const int hi = (x->qh[32 * h + l] >> (2 * g)) & 0x03;
	return (lo | hi << 4) - 32;
}

void rb_dequantize_row_q6_K(const rb_block_q6_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		const float d = rb_f16_to_f32(x[b].d);
		for (int j = 0; j < NSUB; j++) {
			const float ds = d * (float)x[b].scales[j];
			for (int i = 0; i < SUB; i++)
				*y++ = ds * (float)q6_at(&x[b], SUB * j + i);
		}
	}
}

float rb_ref_dot_q6_K_q8_K(int64_t n, const rb_block_q6_k *x, const rb_block_q8_k *y)
{
	float acc = 0;
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		int32_t sum = 0;
		for (int j = 0; j < NSUB; j++) {
			int32_t s = 0;
			for (int i = 0; i < SUB; i++)
				s += q6_at(&x[b], SUB * j + i) * y[b].qs[SUB * j + i];
			sum += x[b].scales[j] * s;
		}
		acc += rb_f16_to_f32(x[b].d) * y[b].d * (float)sum;
	}
	return acc;
}
