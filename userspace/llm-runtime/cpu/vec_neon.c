/* SPDX-License-Identifier: MIT */
/* NEON vector primitives (4 floats per q register, two or four accumulators
 * for the reductions). Same algorithms and accuracy as vec_avx2.c. */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "cpu_internal.h"

static inline float32x4_t load_f16x4(const rb_f16 *p)
{
	return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

/* exp(x), see exp8 in vec_avx2.c: Cody-Waite reduction, Taylor to r^7,
 * 2^n added to the exponent field; 0 below -87.3, +inf above 88.72. */
static inline float32x4_t exp4(float32x4_t x)
{
	const float32x4_t lo = vdupq_n_f32(-87.3f), hi = vdupq_n_f32(88.72f);
	const float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi); /* NaN propagates */
	const float32x4_t n = vrndnq_f32(vmulq_n_f32(xc, 1.44269504f));
	float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
	r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
	float32x4_t p = vdupq_n_f32(1.0f / 5040);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
	p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
	const int32x4_t e = vshlq_n_s32(vcvtq_s32_f32(n), 23);
	float32x4_t y = vreinterpretq_f32_s32(vaddq_s32(vreinterpretq_s32_f32(p), e));
	y = vbslq_f32(vcltq_f32(x, lo), vdupq_n_f32(0), y);
	y = vbslq_f32(vcgtq_f32(x, hi), vdupq_n_f32(INFINITY), y);
	return y;
}

static float dot_f32_neon(int64_t n, const float *x, const float *y)
{
	float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
		a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
		a2 = vfmaq_f32(a2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
		a3 = vfmaq_f32(a3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
	}
	for (; i + 4 <= n; i += 4)
		a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
	float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
	for (; i < n; i++)
		s += x[i] * y[i];
	return s;
}

/* Most vectors one pass of dot_f16_block takes: four accumulators each plus
 * the four converted quarters of x make 28 of the 32 q registers. */
#define MULTI_MAX 6

/* out[g * ldo] = dot(x, y + g * ldy) for g < ny <= MULTI_MAX, each x chunk
 * converted once. Inlined with a constant ny, so the accumulators stay in
 * registers; for every g the sums run exactly as for ny = 1 (the plain dot). */
static inline __attribute__((always_inline)) void
dot_f16_block(int64_t n, const rb_f16 *x, const float *y, int64_t ldy, const int ny, float *out,
	      int64_t ldo)
{
	float32x4_t a0[MULTI_MAX], a1[MULTI_MAX], a2[MULTI_MAX], a3[MULTI_MAX];
#pragma GCC unroll 6
	for (int g = 0; g < ny; g++)
		a0[g] = a1[g] = a2[g] = a3[g] = vdupq_n_f32(0);
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		const float32x4_t x0 = load_f16x4(x + i), x1 = load_f16x4(x + i + 4);
		const float32x4_t x2 = load_f16x4(x + i + 8), x3 = load_f16x4(x + i + 12);
#pragma GCC unroll 6
		for (int g = 0; g < ny; g++) {
			const float *yg = y + g * ldy + i;
			a0[g] = vfmaq_f32(a0[g], x0, vld1q_f32(yg));
			a1[g] = vfmaq_f32(a1[g], x1, vld1q_f32(yg + 4));
			a2[g] = vfmaq_f32(a2[g], x2, vld1q_f32(yg + 8));
			a3[g] = vfmaq_f32(a3[g], x3, vld1q_f32(yg + 12));
		}
	}
	for (; i + 4 <= n; i += 4) {
		const float32x4_t x0 = load_f16x4(x + i);
#pragma GCC unroll 6
		for (int g = 0; g < ny; g++)
			a0[g] = vfmaq_f32(a0[g], x0, vld1q_f32(y + g * ldy + i));
	}
	/* the last n - i < 4 values of x, converted once for every vector (the
	 * conversion is exact, so this is what rb_f16_to_f32 gives) */
	float xt[4];
	if (i < n) {
		rb_f16 xh[4] = {0};
		memcpy(xh, x + i, (size_t)(n - i) * sizeof(rb_f16));
		vst1q_f32(xt, load_f16x4(xh));
	}
#pragma GCC unroll 6
	for (int g = 0; g < ny; g++) {
		const float *yg = y + g * ldy;
		float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0[g], a1[g]), vaddq_f32(a2[g], a3[g])));
		for (int64_t k = i; k < n; k++)
			s += xt[k - i] * yg[k];
		out[g * ldo] = s;
	}
}

static float dot_f16_neon(int64_t n, const rb_f16 *x, const float *y)
{
	float s;
	dot_f16_block(n, x, y, 0, 1, &s, 0);
	return s;
}

static void dot_f16_multi_neon(int64_t n, const rb_f16 *x, const float *y, int64_t ldy,
			       int64_t ny, float *out, int64_t ldo)
{
	while (ny > 0) {
		const int b = ny < MULTI_MAX ? (int)ny : MULTI_MAX;
		switch (b) {
		case 1: dot_f16_block(n, x, y, ldy, 1, out, ldo); break;
		case 2: dot_f16_block(n, x, y, ldy, 2, out, ldo); break;
		case 3: dot_f16_block(n, x, y, ldy, 3, out, ldo); break;
		case 4: dot_f16_block(n, x, y, ldy, 4, out, ldo); break;
		case 5: dot_f16_block(n, x, y, ldy, 5, out, ldo); break;
		default: dot_f16_block(n, x, y, ldy, MULTI_MAX, out, ldo); break;
		}
		y += b * ldy;
		out += b * ldo;
		ny -= b;
	}
}

static void mad_f32_neon(int64_t n, float *y, const float *x, float a)
{
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
	for (; i < n; i++)
		y[i] += a * x[i];
}

static void mad_f16_neon(int64_t n, float *y, const rb_f16 *x, float a)
{
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), load_f16x4(x + i), a));
	for (; i < n; i++)
		y[i] += a * rb_f16_to_f32(x[i]);
}

static void scale_f32_neon(int64_t n, float *y, float a)
{
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), a));
	for (; i < n; i++)
		y[i] *= a;
}

static void add_f32_neon(int64_t n, float *y, const float *x)
{
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vld1q_f32(x + i)));
	for (; i < n; i++)
		y[i] += x[i];
}

static void f32_to_f16_neon(int64_t n, rb_f16 *dst, const float *src)
{
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
	for (; i < n; i++)
		dst[i] = rb_f32_to_f16(src[i]);
}

static void f16_to_f32_neon(int64_t n, float *dst, const rb_f16 *src)
{
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		vst1q_f32(dst + i, load_f16x4(src + i));
	for (; i < n; i++)
		dst[i] = rb_f16_to_f32(src[i]);
}

/* vmaxnm ignores a NaN operand, as the scalar version skips NaNs. */
static float max_f32_neon(int64_t n, const float *x)
{
	float32x4_t m = vdupq_n_f32(-INFINITY);
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		m = vmaxnmq_f32(m, vld1q_f32(x + i));
	float r = vmaxnmvq_f32(m);
	for (; i < n; i++)
		r = x[i] > r ? x[i] : r;
	return r;
}

static float exp_sub_sum_f32_neon(int64_t n, float *x, float max)
{
	const float32x4_t vm = vdupq_n_f32(max);
	float32x4_t s = vdupq_n_f32(0);
	int64_t i = 0;
	for (; i + 4 <= n; i += 4) {
		const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vm));
		vst1q_f32(x + i, e);
		s = vaddq_f32(s, e);
	}
	float sum = vaddvq_f32(s);
	for (; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	return sum;
}

static void rmsnorm_f32_neon(int64_t n, float *out, const float *x, const float *w, float eps)
{
	float32x4_t a0 = vdupq_n_f32(0), a1 = a0;
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
		a0 = vfmaq_f32(a0, v0, v0);
		a1 = vfmaq_f32(a1, v1, v1);
	}
	for (; i + 4 <= n; i += 4) {
		const float32x4_t v0 = vld1q_f32(x + i);
		a0 = vfmaq_f32(a0, v0, v0);
	}
	double ss = vaddvq_f32(vaddq_f32(a0, a1));
	for (; i < n; i++)
		ss += (double)x[i] * x[i];
	const float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
	for (i = 0; i + 4 <= n; i += 4)
		vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vld1q_f32(w + i)));
	for (; i < n; i++)
		out[i] = x[i] * scale * w[i];
}

static void swiglu_f32_neon(int64_t n, float *out, const float *gate, const float *up)
{
	int64_t i = 0;
	for (; i + 4 <= n; i += 4) {
		const float32x4_t g = vld1q_f32(gate + i);
		const float32x4_t e = exp4(vnegq_f32(g));
		const float32x4_t s = vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e));
		vst1q_f32(out + i, vmulq_f32(s, vld1q_f32(up + i)));
	}
	for (; i < n; i++) {
		const float g = gate[i];
		out[i] = g / (1.0f + expf(-g)) * up[i];
	}
}

const rb_vec_ops rb_vec_ops_neon = {
	.name = "neon",
	.dot_f32 = dot_f32_neon,
	.dot_f16 = dot_f16_neon,
	.dot_f16_multi = dot_f16_multi_neon,
	.mad_f32 = mad_f32_neon,
	.mad_f16 = mad_f16_neon,
	.scale_f32 = scale_f32_neon,
	.add_f32 = add_f32_neon,
	.f32_to_f16 = f32_to_f16_neon,
	.f16_to_f32 = f16_to_f32_neon,
	.max_f32 = max_f32_neon,
	.exp_sub_sum_f32 = exp_sub_sum_f32_neon,
	.rmsnorm_f32 = rmsnorm_f32_neon,
	.swiglu_f32 = swiglu_f32_neon,
};
