/* SPDX-License-Identifier: MIT */
/* The SIMD activation quantizers of rb_cpu (white box: cpu_internal.h)
 * against rb_quant's rb_quantize_row_q8_K / _q8_0, bit for bit: values,
 * scales and block sums, on random data, rounding ties, zeros, huge and tiny
 * blocks, NaN and infinities. */
#include <float.h>

#include "cpu_internal.h"
#include "rosenblatt/cpu.h"
#include "rosenblatt/quant.h"
#include "test.h"

#define N 1024 /* 4 Q8_K blocks, 32 Q8_0 blocks */

static uint64_t g_seed = 7;

typedef void (*q8k_fn)(const float *, int64_t, int8_t *, float *, int16_t *, int16_t *);
typedef void (*q80_fn)(const float *, int64_t, int8_t *, float *, int32_t *);

static void check_q8k(q8k_fn fn, const char *name, const float *x)
{
	int8_t qs[N];
	float d[N / 256];
	int16_t b16[N / 16], b32[N / 32];
	fn(x, N, qs, d, b16, b32);
	for (int b = 0; b < N / 256; b++) {
		rb_block_q8_k ref;
		rb_quantize_row_q8_K(x + 256 * b, &ref, 256);
		CHECKF(rb_f32_bits(d[b]) == rb_f32_bits(ref.d), "%s q8_K d: %.9g vs %.9g", name, d[b],
		       ref.d);
		int bad = 0;
		for (int i = 0; i < 256; i++)
			bad += qs[256 * b + i] != ref.qs[i];
		CHECKF(bad == 0, "%s q8_K block %d: %d values differ", name, b, bad);
		for (int g = 0; g < 16; g++)
			CHECK_EQ_INT(b16[16 * b + g], ref.bsums[g]);
		for (int g = 0; g < 8; g++)
			CHECK_EQ_INT(b32[8 * b + g], ref.bsums[2 * g] + ref.bsums[2 * g + 1]);
	}
}

static void check_q80(q80_fn fn, const char *name, const float *x)
{
	int8_t qs[N];
	float d[N / 32];
	int32_t sum[N / 32];
	fn(x, N, qs, d, sum);
	for (int b = 0; b < N / 32; b++) {
		rb_block_q8_0 ref;
		rb_quantize_row_q8_0(x + 32 * b, &ref, 32);
		CHECKF(rb_f32_bits(d[b]) == rb_f32_bits(rb_f16_to_f32(ref.d)), "%s q8_0 d", name);
		int bad = 0, s = 0;
		for (int i = 0; i < 32; i++) {
			bad += qs[32 * b + i] != ref.qs[i];
			s += ref.qs[i];
		}
		CHECKF(bad == 0, "%s q8_0 block %d: %d values differ", name, b, bad);
		CHECK_EQ_INT(sum[b], s);
	}
}

static void make_cases(int c, float *x)
{
	for (int i = 0; i < N; i++)
		x[i] = rb_test_rand_f32(&g_seed);
	switch (c) {
	case 0: break;
	case 1: /* exact rounding ties: amax 127 -> d = 1, x = k + 0.5 */
		for (int i = 0; i < N; i++)
			x[i] = (float)((i % 200) - 100) + 0.5f;
		for (int b = 0; b < N / 32; b++)
			x[32 * b] = 127.0f;
		break;
	case 2: /* zero blocks and blocks with one nonzero value */
		for (int i = 0; i < N; i++)
			x[i] = 0.0f;
		x[300] = -3.0f;
		x[700] = 1e-30f;
		break;
	case 3: /* huge and tiny magnitudes (f16 scale saturation, subnormal x) */
		for (int i = 0; i < N; i++)
			x[i] *= i < N / 2 ? 3e38f : 1e-40f;
		break;
	case 4: /* non-finite values in some blocks */
		x[5] = NAN;
		x[300] = INFINITY;
		x[301] = -INFINITY;
		x[777] = -NAN;
		x[1000] = INFINITY;
		break;
	default: /* wide dynamic range inside blocks */
		for (int i = 0; i < N; i++)
			x[i] *= (float)(1 << (i % 20)) * 1e-3f;
		break;
	}
}

int main(void)
{
	static float x[N];
	const rb_cpu_features *f = rb_cpu();
	int tested = 0;
	(void)f;
	for (int c = 0; c < 6 * 4; c++) {
		make_cases(c % 6, x);
		check_q8k(rb_act_q8k_row_scalar, "scalar", x);
		check_q80(rb_act_q80_row_scalar, "scalar", x);
#if defined(RB_HAVE_X86_KERNELS)
		if (f->avx2) {
			check_q8k(rb_act_q8k_row_avx2, "avx2", x);
			check_q80(rb_act_q80_row_avx2, "avx2", x);
			tested = 1;
		}
#elif defined(RB_HAVE_NEON_KERNELS)
		if (f->neon) {
			check_q8k(rb_act_q8k_row_neon, "neon", x);
			check_q80(rb_act_q80_row_neon, "neon", x);
			tested = 1;
		}
#endif
	}
	printf("SIMD activation quantizers %s\n", tested ? "tested" : "not available here");
	return rb_test_finish();
}
