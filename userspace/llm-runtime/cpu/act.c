/* SPDX-License-Identifier: MIT */
/* Activation quantization into the rb_act scratch layout. The scalar rows
 * come straight from rb_quant's reference quantizers (so the definitions live
 * in one place); the SIMD rows (act_avx2.c, act_neon.c) are tested bit for bit
 * against them. */
#include <string.h>

#include "cpu_internal.h"
#include "rosenblatt/quant.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t rb_act_bytes(enum rb_type type, int64_t n_tok, int64_t k)
{
	const size_t nt = (size_t)n_tok, nk = (size_t)k;
	size_t bytes = align64(nt * nk); /* qs */
	if (type == RB_TYPE_Q8_K) {
		bytes += align64(nt * (nk / RB_QK_K) * sizeof(float));
		bytes += align64(nt * (nk / 16) * sizeof(int16_t));
		bytes += align64(nt * (nk / 32) * sizeof(int16_t));
	} else {
		bytes += align64(nt * (nk / RB_QK8_0) * sizeof(float));
		bytes += align64(nt * (nk / RB_QK8_0) * sizeof(int32_t));
	}
	return bytes;
}

void rb_act_layout(rb_act *a, enum rb_type type, int64_t n_tok, int64_t k, void *buf)
{
	const size_t nt = (size_t)n_tok, nk = (size_t)k;
	uint8_t *p = buf;
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->n_tok = n_tok;
	a->k = k;
	a->qs = (int8_t *)p;
	p += align64(nt * nk);
	if (type == RB_TYPE_Q8_K) {
		a->d = (float *)p;
		p += align64(nt * (nk / RB_QK_K) * sizeof(float));
		a->bs16 = (int16_t *)p;
		p += align64(nt * (nk / 16) * sizeof(int16_t));
		a->bs32 = (int16_t *)p;
	} else {
		a->d = (float *)p;
		p += align64(nt * (nk / RB_QK8_0) * sizeof(float));
		a->sum = (int32_t *)p;
	}
}

void rb_act_q8k_row_scalar(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bs16,
			   int16_t *bs32)
{
	rb_block_q8_k blk;
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		rb_quantize_row_q8_K(x + b * RB_QK_K, &blk, RB_QK_K);
		memcpy(qs + b * RB_QK_K, blk.qs, RB_QK_K);
		d[b] = blk.d;
		for (int g = 0; g < RB_QK_K / 16; g++)
			bs16[b * 16 + g] = blk.bsums[g];
		for (int g = 0; g < RB_QK_K / 32; g++)
			bs32[b * 8 + g] = (int16_t)(blk.bsums[2 * g] + blk.bsums[2 * g + 1]);
	}
}

void rb_act_q80_row_scalar(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum)
{
	rb_block_q8_0 blk;
	for (int64_t b = 0; b < n / RB_QK8_0; b++) {
		rb_quantize_row_q8_0(x + b * RB_QK8_0, &blk, RB_QK8_0);
		memcpy(qs + b * RB_QK8_0, blk.qs, RB_QK8_0);
		d[b] = rb_f16_to_f32(blk.d);
		int32_t s = 0;
		for (int i = 0; i < RB_QK8_0; i++)
			s += blk.qs[i];
		sum[b] = s;
	}
}

void rb_act_quantize(rb_act *a, const float *x, int64_t ldx, int64_t t0, int64_t t1)
{
	const rb_kernel_set *ks = rb_kernels_best();
	const int64_t k = a->k;
	for (int64_t t = t0; t < t1; t++) {
		const float *xr = x + t * ldx;
		int8_t *qs = a->qs + t * k;
		if (a->type == RB_TYPE_Q8_K) {
			float *d = a->d + t * (k / RB_QK_K);
			int16_t *b16 = a->bs16 + t * (k / 16), *b32 = a->bs32 + t * (k / 32);
			if (ks && ks->act_q8k)
				ks->act_q8k(xr, k, qs, d, b16, b32);
			else
				rb_act_q8k_row_scalar(xr, k, qs, d, b16, b32);
		} else {
			float *d = a->d + t * (k / RB_QK8_0);
			int32_t *s = a->sum + t * (k / RB_QK8_0);
			if (ks && ks->act_q80)
				ks->act_q80(xr, k, qs, d, s);
			else
				rb_act_q80_row_scalar(xr, k, qs, d, s);
		}
	}
}
