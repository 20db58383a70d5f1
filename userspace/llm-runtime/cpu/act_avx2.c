/* SPDX-License-Identifier: MIT */
/* AVX2 activation quantizers, bit-identical to rb_quantize_row_q8_K/_q8_0:
 * d = amax / 127 (Q8_0: rounded to f16 first, saturating), q = x * (1 / d)
 * clamped to [-127, 127] in float, then rounded half to even (cvtps2dq under
 * the default MXCSR). A block with a NaN or infinity takes the scalar path,
 * which defines how those are handled. */
#include <float.h>
#include <immintrin.h>
#include <string.h>

#include "cpu_internal.h"

/* max |x| over n (multiple of 8) floats; *bad set if any is NaN or inf. */
static inline float amax_avx2(const float *x, int n, int *bad)
{
	const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(FLT_MAX);
	__m256 m = _mm256_setzero_ps(), nf = _mm256_setzero_ps();
	for (int i = 0; i < n; i += 8) {
		const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
		nf = _mm256_or_ps(nf, _mm256_cmp_ps(a, big, _CMP_NLE_UQ));
		m = _mm256_max_ps(m, a);
	}
	*bad = _mm256_movemask_ps(nf) != 0;
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	h = _mm_max_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

/* q[0..32) = round(clamp(x * inv)) as int8. */
static inline void quant32_avx2(const float *x, __m256 inv, int8_t *q)
{
	const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
	__m256i v[4];
	for (int i = 0; i < 4; i++) {
		__m256 f = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), inv);
		f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
		v[i] = _mm256_cvtps_epi32(f);
	}
	/* packs work per 128-bit lane: (0,1) -> a0 b0 a1 b1, then fix the order */
	const __m256i w01 = _mm256_packs_epi32(v[0], v[1]);
	const __m256i w23 = _mm256_packs_epi32(v[2], v[3]);
	__m256i b = _mm256_packs_epi16(w01, w23);
	b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
	_mm256_storeu_si256((__m256i *)q, b);
}

/* Sum of 16 int8 (via sad on the biased bytes). */
static inline int sum16_s8(const int8_t *q)
{
	const __m128i u = _mm_xor_si128(_mm_loadu_si128((const __m128i *)q), _mm_set1_epi8((char)0x80));
	const __m128i s = _mm_sad_epu8(u, _mm_setzero_si128());
	return _mm_cvtsi128_si32(s) + _mm_extract_epi16(s, 4) - 16 * 128;
}

void rb_act_q8k_row_avx2(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bs16,
			 int16_t *bs32)
{
	for (int64_t b = 0; b < n / RB_QK_K; b++) {
		const float *xb = x + b * RB_QK_K;
		int8_t *q = qs + b * RB_QK_K;
		int bad;
		const float amax = amax_avx2(xb, RB_QK_K, &bad);
		if (bad) {
			rb_act_q8k_row_scalar(xb, RB_QK_K, q, d + b, bs16 + 16 * b, bs32 + 8 * b);
			continue;
		}
		const float db = amax / 127.0f;
		d[b] = db;
		const __m256 inv = _mm256_set1_ps(db > 0 ? 1.0f / db : 0.0f);
		for (int i = 0; i < RB_QK_K; i += 32)
			quant32_avx2(xb + i, inv, q + i);
		for (int g = 0; g < 16; g++)
			bs16[16 * b + g] = (int16_t)sum16_s8(q + 16 * g);
		for (int g = 0; g < 8; g++)
			bs32[8 * b + g] = (int16_t)(bs16[16 * b + 2 * g] + bs16[16 * b + 2 * g + 1]);
	}
}

void rb_act_q80_row_avx2(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum)
{
	for (int64_t b = 0; b < n / RB_QK8_0; b++) {
		const float *xb = x + b * RB_QK8_0;
		int8_t *q = qs + b * RB_QK8_0;
		int bad;
		const float amax = amax_avx2(xb, RB_QK8_0, &bad);
		if (bad) {
			rb_act_q80_row_scalar(xb, RB_QK8_0, q, d + b, sum + b);
			continue;
		}
		const float s = amax / 127.0f;
		const float db = rb_f16_to_f32(rb_f32_to_f16(s < 65504.0f ? s : 65504.0f));
		d[b] = db;
		quant32_avx2(xb, _mm256_set1_ps(db > 0 ? 1.0f / db : 0.0f), q);
		sum[b] = sum16_s8(q) + sum16_s8(q + 16);
	}
}
