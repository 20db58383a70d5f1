/* SPDX-License-Identifier: MIT */
/* AVX2 + FMA + F16C vector primitives (8 floats per ymm, two accumulators for
 * the reductions so the FMA latency is hidden). Tails use the scalar
 * formulas on the remaining elements. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "cpu_internal.h"

static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline __m256 load_f16x8(const rb_f16 *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* exp(x): x = n ln2 + r (Cody-Waite split of ln2), exp(r) by its Taylor
 * series to r^7 (|r| <= ln2 / 2, truncation < 1e-8 relative), times 2^n put
 * straight into the exponent field (safe for n in [-126, 128] given the
 * clamps). Below -87.3 the result is 0, above 88.72 +inf, NaN stays NaN. */
static inline __m256 exp8(__m256 x)
{
	const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.72f);
	const __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x)); /* NaN passes through */
	const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)),
					 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.0f / 5040);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
	__m256 y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
	y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
	y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
	return y;
}

static float dot_f32_avx2(int64_t n, const float *x, const float *y)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
		a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
	}
	for (; i + 8 <= n; i += 8)
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
	float s = hsum8(_mm256_add_ps(a0, a1));
	for (; i < n; i++)
		s += x[i] * y[i];
	return s;
}

/* Most vectors one pass of dot_f16_block takes: two accumulators each plus
 * the two converted halves of x make 14 of the 16 ymm registers. */
#define MULTI_MAX 6

/* out[g * ldo] = dot(x, y + g * ldy) for g < ny <= MULTI_MAX, each x chunk
 * converted once. Inlined with a constant ny, so the accumulators stay in
 * registers; for every g the sums run exactly as for ny = 1 (the plain dot). */
static inline __attribute__((always_inline)) void
dot_f16_block(int64_t n, const rb_f16 *x, const float *y, int64_t ldy, const int ny, float *out,
	      int64_t ldo)
{
	__m256 a0[MULTI_MAX], a1[MULTI_MAX];
#pragma GCC unroll 6
	for (int g = 0; g < ny; g++)
		a0[g] = a1[g] = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		const __m256 x0 = load_f16x8(x + i), x1 = load_f16x8(x + i + 8);
#pragma GCC unroll 6
		for (int g = 0; g < ny; g++) {
			a0[g] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(y + g * ldy + i), a0[g]);
			a1[g] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(y + g * ldy + i + 8), a1[g]);
		}
	}
	if (i + 8 <= n) {
		const __m256 x0 = load_f16x8(x + i);
#pragma GCC unroll 6
		for (int g = 0; g < ny; g++)
			a0[g] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(y + g * ldy + i), a0[g]);
		i += 8;
	}
	/* the last n - i < 8 values of x, converted once for every vector (the
	 * conversion is exact, so this is what rb_f16_to_f32 gives) */
	float xt[8];
	if (i < n) {
		rb_f16 xh[8] = {0};
		memcpy(xh, x + i, (size_t)(n - i) * sizeof(rb_f16));
		_mm256_storeu_ps(xt, load_f16x8(xh));
	}
#pragma GCC unroll 6
	for (int g = 0; g < ny; g++) {
		const float *yg = y + g * ldy;
		float s = hsum8(_mm256_add_ps(a0[g], a1[g]));
		for (int64_t k = i; k < n; k++)
			s += xt[k - i] * yg[k];
		out[g * ldo] = s;
	}
}

static float dot_f16_avx2(int64_t n, const rb_f16 *x, const float *y)
{
	float s;
	dot_f16_block(n, x, y, 0, 1, &s, 0);
	return s;
}

static void dot_f16_multi_avx2(int64_t n, const rb_f16 *x, const float *y, int64_t ldy,
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

static void mad_f32_avx2(int64_t n, float *y, const float *x, float a)
{
	const __m256 va = _mm256_set1_ps(a);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

static void mad_f16_avx2(int64_t n, float *y, const rb_f16 *x, float a)
{
	const __m256 va = _mm256_set1_ps(a);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * rb_f16_to_f32(x[i]);
}

static void scale_f32_avx2(int64_t n, float *y, float a)
{
	const __m256 va = _mm256_set1_ps(a);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), va));
	for (; i < n; i++)
		y[i] *= a;
}

static void add_f32_avx2(int64_t n, float *y, const float *x)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
	for (; i < n; i++)
		y[i] += x[i];
}

static void f32_to_f16_avx2(int64_t n, rb_f16 *dst, const float *src)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(dst + i),
				 _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
						 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	for (; i < n; i++)
		dst[i] = rb_f32_to_f16(src[i]);
}

static void f16_to_f32_avx2(int64_t n, float *dst, const rb_f16 *src)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, load_f16x8(src + i));
	for (; i < n; i++)
		dst[i] = rb_f16_to_f32(src[i]);
}

/* NaN elements are skipped, as in the scalar version (max_ps returns its
 * second operand when one is NaN). */
static float max_f32_avx2(int64_t n, const float *x)
{
	__m256 m = _mm256_set1_ps(-INFINITY);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
	float lanes[8], r = -INFINITY;
	_mm256_storeu_ps(lanes, m);
	for (int l = 0; l < 8; l++)
		r = lanes[l] > r ? lanes[l] : r;
	for (; i < n; i++)
		r = x[i] > r ? x[i] : r;
	return r;
}

static float exp_sub_sum_f32_avx2(int64_t n, float *x, float max)
{
	const __m256 vm = _mm256_set1_ps(max);
	__m256 s = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
		_mm256_storeu_ps(x + i, e);
		s = _mm256_add_ps(s, e);
	}
	float sum = hsum8(s);
	for (; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	return sum;
}

static void rmsnorm_f32_avx2(int64_t n, float *out, const float *x, const float *w, float eps)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
		a0 = _mm256_fmadd_ps(v0, v0, a0);
		a1 = _mm256_fmadd_ps(v1, v1, a1);
	}
	for (; i + 8 <= n; i += 8) {
		const __m256 v0 = _mm256_loadu_ps(x + i);
		a0 = _mm256_fmadd_ps(v0, v0, a0);
	}
	double ss = hsum8(_mm256_add_ps(a0, a1));
	for (; i < n; i++)
		ss += (double)x[i] * x[i];
	const float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
	const __m256 vs = _mm256_set1_ps(scale);
	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs),
							_mm256_loadu_ps(w + i)));
	for (; i < n; i++)
		out[i] = x[i] * scale * w[i];
}

static void swiglu_f32_avx2(int64_t n, float *out, const float *gate, const float *up)
{
	const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const __m256 g = _mm256_loadu_ps(gate + i);
		const __m256 e = exp8(_mm256_xor_ps(g, sign));
		const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
		_mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
	}
	for (; i < n; i++) {
		const float g = gate[i];
		out[i] = g / (1.0f + expf(-g)) * up[i];
	}
}

const rb_vec_ops rb_vec_ops_avx2 = {
	.name = "avx2",
	.dot_f32 = dot_f32_avx2,
	.dot_f16 = dot_f16_avx2,
	.dot_f16_multi = dot_f16_multi_avx2,
	.mad_f32 = mad_f32_avx2,
	.mad_f16 = mad_f16_avx2,
	.scale_f32 = scale_f32_avx2,
	.add_f32 = add_f32_avx2,
	.f32_to_f16 = f32_to_f16_avx2,
	.f16_to_f32 = f16_to_f32_avx2,
	.max_f32 = max_f32_avx2,
	.exp_sub_sum_f32 = exp_sub_sum_f32_avx2,
	.rmsnorm_f32 = rmsnorm_f32_avx2,
	.swiglu_f32 = swiglu_f32_avx2,
};
