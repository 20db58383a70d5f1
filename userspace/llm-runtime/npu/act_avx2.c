/* SPDX-License-Identifier: MIT */
/* AVX2 kernels of the npu backend, bit-identical to act.c: the same float
 * multiply and clamp, cvtps2dq rounds half to even (the default MXCSR mode,
 * as lrintf), cvtdq2ps rounds like the (float) cast. */
#include <immintrin.h>
#include <string.h>

#include "npu_internal.h"
#include "rosenblatt/fp16.h"

static float absmax_avx2(const float *x, int64_t n)
{
	const __m256i mask = _mm256_set1_epi32(0x7fffffff);
	__m256i m = _mm256_setzero_si256();
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
		m = _mm256_max_epu32(m, _mm256_and_si256(v, mask));
	}
	uint32_t lanes[8];
	_mm256_storeu_si256((__m256i *)lanes, m);
	uint32_t r = 0;
	for (int l = 0; l < 8; l++)
		r = lanes[l] > r ? lanes[l] : r;
	for (; i < n; i++) {
		const uint32_t b = rb_f32_bits(x[i]) & 0x7fffffffu;
		r = b > r ? b : r;
	}
	return rb_bits_f32(r);
}

static inline __m256i quant8(const float *x, __m256 inv, __m256 lo, __m256 hi)
{
	__m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), inv);
	v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
	return _mm256_cvtps_epi32(v);
}

static void quantize_avx2(const float *x, int64_t n, float inv, int8_t *q, size_t stride)
{
	const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f),
		     hi = _mm256_set1_ps(127.0f);
	/* packs work per 128-bit lane: restore element order at the end */
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		const __m256i a = quant8(x + i, vinv, lo, hi), b = quant8(x + i + 8, vinv, lo, hi);
		const __m256i c = quant8(x + i + 16, vinv, lo, hi), d = quant8(x + i + 24, vinv, lo, hi);
		const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
		const __m256i all = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), order);
		/* two atoms */
		int8_t *atom = q + (size_t)(i / NPU_Q_ATOM) * stride;
		_mm_storeu_si128((__m128i *)atom, _mm256_castsi256_si128(all));
		_mm_storeu_si128((__m128i *)(atom + stride), _mm256_extracti128_si256(all, 1));
	}
	for (; i < n; i++) {
		float v = x[i] * inv;
		v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
		q[(size_t)(i / NPU_Q_ATOM) * stride + i % NPU_Q_ATOM] =
			(int8_t)_mm_cvtss_si32(_mm_set_ss(v));
	}
}

static void residual_avx2(const float *x, int64_t n, float d, const int8_t *q, float *r)
{
	const __m256 vd = _mm256_set1_ps(d);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const __m256i q32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + i)));
		const __m256 v = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(q32));
		_mm256_storeu_ps(r + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), v));
	}
	for (; i < n; i++) {
		const float v = d * (float)q[i];
		r[i] = x[i] - v;
	}
}

const npu_act_kernels npu_act_avx2 = {
	.name = "avx2",
	.absmax = absmax_avx2,
	.quantize = quantize_avx2,
	.residual = residual_avx2,
};
