/* SPDX-License-Identifier: MIT */
/* NEON kernels of the npu backend (the A76 path), bit-identical to act.c:
 * the same float multiply and clamp, fcvtns rounds half to even like lrintf,
 * scvtf rounds like the (float) cast. */
#include <arm_neon.h>
#include <string.h>

#include "npu_internal.h"
#include "rosenblatt/fp16.h"

static float absmax_neon(const float *x, int64_t n)
{
	const uint32x4_t mask = vdupq_n_u32(0x7fffffffu);
	uint32x4_t m0 = vdupq_n_u32(0), m1 = vdupq_n_u32(0);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		m0 = vmaxq_u32(m0, vandq_u32(vld1q_u32((const uint32_t *)(x + i)), mask));
		m1 = vmaxq_u32(m1, vandq_u32(vld1q_u32((const uint32_t *)(x + i + 4)), mask));
	}
	uint32_t r = vmaxvq_u32(vmaxq_u32(m0, m1));
	for (; i < n; i++) {
		const uint32_t b = rb_f32_bits(x[i]) & 0x7fffffffu;
		r = b > r ? b : r;
	}
	return rb_bits_f32(r);
}

static inline int32x4_t quant4(const float *x, float32x4_t inv, float32x4_t lo, float32x4_t hi)
{
	float32x4_t v = vmulq_f32(vld1q_f32(x), inv);
	v = vminq_f32(vmaxq_f32(v, lo), hi);
	return vcvtnq_s32_f32(v);
}

static void quantize_neon(const float *x, int64_t n, float inv, int8_t *q, size_t stride)
{
	const float32x4_t vinv = vdupq_n_f32(inv), lo = vdupq_n_f32(-127.0f),
			  hi = vdupq_n_f32(127.0f);
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		const int16x8_t a = vcombine_s16(vmovn_s32(quant4(x + i, vinv, lo, hi)),
						 vmovn_s32(quant4(x + i + 4, vinv, lo, hi)));
		const int16x8_t b = vcombine_s16(vmovn_s32(quant4(x + i + 8, vinv, lo, hi)),
						 vmovn_s32(quant4(x + i + 12, vinv, lo, hi)));
		vst1q_s8(q + (size_t)(i / NPU_Q_ATOM) * stride, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
	}
	for (; i < n; i++) {
		float v = x[i] * inv;
		v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
		q[(size_t)(i / NPU_Q_ATOM) * stride + i % NPU_Q_ATOM] = (int8_t)vcvtns_s32_f32(v);
	}
}

static void residual_neon(const float *x, int64_t n, float d, const int8_t *q, float *r)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const int16x8_t q16 = vmovl_s8(vld1_s8(q + i));
		const float32x4_t lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(q16)));
		const float32x4_t hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(q16)));
		/* vmulq then vsubq, not vmlsq/vfmsq: the same roundings as act.c */
		vst1q_f32(r + i, vsubq_f32(vld1q_f32(x + i), vmulq_n_f32(lo, d)));
		vst1q_f32(r + i + 4, vsubq_f32(vld1q_f32(x + i + 4), vmulq_n_f32(hi, d)));
	}
	for (; i < n; i++) {
		const float v = d * (float)q[i];
		r[i] = x[i] - v;
	}
}

const npu_act_kernels npu_act_neon = {
	.name = "neon",
	.absmax = absmax_neon,
	.quantize = quantize_neon,
	.residual = residual_neon,
};
