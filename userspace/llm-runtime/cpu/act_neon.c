/* SPDX-License-Identifier: MIT */
/* NEON activation quantizers, bit-identical to rb_quantize_row_q8_K/_q8_0
 * (see act_avx2.c for the recipe; fcvtns rounds half to even). vmaxq_f32
 * propagates NaN, so one check of the block maximum catches NaN and inf. */
#include <arm_neon.h>
#include <float.h>

#include "cpu_internal.h"

static inline float amax_neon(const float *x, int n)
{
	float32x4_t m = vdupq_n_f32(0);
	for (int i = 0; i < n; i += 4)
		m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + i)));
	return vmaxvq_f32(m);
}

/* q[0..16) = round(clamp(x * inv)). */
static inline int8x16_t quant16_neon(const float *x, float inv)
{
	const float32x4_t lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
	int32x4_t v[4];
	for (int i = 0; i < 4; i++) {
		float32x4_t f = vmulq_n_f32(vld1q_f32(x + 4 * i), inv);
		f = vminq_f32(vmaxq_f32(f, lo), hi);
		v[i] = vcvtnq_s32_f32(f);
	}
	const int16x8_t a = vcombine_s16(vmovn_s32(v[0]), vmovn_s32(v[1]));
	const int16x8_t b = vcombine_s16(vmovn_s32(v[2]), vmovn_s32(v[3]));
	return vcombine_s8(vmovn_s16(a), vmovn_s16(b));
}

void rb_act_q8k_row_neon(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bs16,
			 int16_t *bs32)
{
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		const float *xb = x + b * RB_QK_K;
		int8_t *q = qs + b * RB_QK_K;
		const float amax = amax_neon(xb, RB_QK_K);
		if (!(amax <= FLT_MAX)) {
			rb_act_q8k_row_scalar(xb, RB_QK_K, q, d + b, bs16 + 16 * b, bs32 + 8 * b);
			continue;
		}
		const float db = amax / 127.0f;
		const float inv = db > 0 ? 1.0f / db : 0.0f;
		d[b] = db;
		for (int g = 0; g < 16; g++) {
			const int8x16_t v = quant16_neon(xb + 16 * g, inv);
			vst1q_s8(q + 16 * g, v);
			bs16[16 * b + g] = vaddlvq_s8(v);
		}
		for (int g = 0; g < 8; g++)
			bs32[8 * b + g] = (int16_t)(bs16[16 * b + 2 * g] + bs16[16 * b + 2 * g + 1]);
	}
}

void rb_act_q80_row_neon(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum)
{
	for (int64_t b = 0; b < n / RB_QK8_0; b++) {
		const float *xb = x + b * RB_QK8_0;
		int8_t *q = qs + b * RB_QK8_0;
		const float amax = amax_neon(xb, RB_QK8_0);
		if (!(amax <= FLT_MAX)) {
			rb_act_q80_row_scalar(xb, RB_QK8_0, q, d + b, sum + b);
			continue;
		}
		const float s = amax / 127.0f;
		const float db = rb_f16_to_f32(rb_f32_to_f16(s < 65504.0f ? s : 65504.0f));
		const float inv = db > 0 ? 1.0f / db : 0.0f;
		d[b] = db;
		const int8x16_t v0 = quant16_neon(xb, inv), v1 = quant16_neon(xb + 16, inv);
		vst1q_s8(q, v0);
		vst1q_s8(q + 16, v1);
		sum[b] = vaddlvq_s8(v0) + vaddlvq_s8(v1);
	}
}
