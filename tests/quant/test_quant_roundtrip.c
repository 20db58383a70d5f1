/* SPDX-License-Identifier: MIT */
/* Quantize -> dequantize: error bounds per type on Gaussian and uniform data,
 * exact round trips where the format allows (values on the grid, zeros,
 * constants), huge and tiny magnitudes, NaN/Inf, the activation quantizers'
 * contract, rb_quantize_rows and the generic entry points' errors.
 *
 * Stated bounds (RMSE / data std, Gaussian data; the public ggml reference
 * quantizers measure 0.086 0.078 0.043 0.038 0.0054 0.071 0.036 0.018 for
 * q4_0 q4_1 q5_0 q5_1 q8_0 q4_K q5_K q6_K on such data): */
#include <string.h>

#include "qtest.h"

struct bound {
	enum rb_type type;
	double rmse_gauss; /* RMSE / std, Gaussian */
	double max_gauss;  /* max |error| / std, Gaussian */
	double rmse_unif;  /* RMSE / std, uniform [-1, 1) */
	double rel_const;  /* |error| / |c| for a constant row c */
};

static const struct bound k_bounds[] = {
	{RB_TYPE_F32, 0, 0, 0, 0},
	{RB_TYPE_F16, 3e-4, 3e-3, 3e-4, 0x1p-11},
	{RB_TYPE_BF16, 2.5e-3, 2e-2, 2.5e-3, 0x1p-8},
	{RB_TYPE_Q4_0, 0.084, 0.40, 0.061, 0x1p-11},
	{RB_TYPE_Q4_1, 0.072, 0.35, 0.057, 0x1p-11},
	{RB_TYPE_Q5_0, 0.0415, 0.22, 0.029, 0x1p-11},
	{RB_TYPE_Q5_1, 0.035, 0.18, 0.028, 0x1p-11},
	{RB_TYPE_Q8_0, 0.0056, 0.025, 0.0039, 0x1p-11},
	{RB_TYPE_Q4_K, 0.0725, 0.35, 0.057, 0x1p-10},
	{RB_TYPE_Q5_K, 0.036, 0.18, 0.029, 0x1p-10},
	{RB_TYPE_Q6_K, 0.0173, 0.10, 0.013, 0x1p-10},
	{RB_TYPE_Q8_1, 0.0056, 0.025, 0.0039, 0x1p-11},
	{RB_TYPE_Q8_K, 0.0072, 0.025, 0.0041, 0x1p-22},
};
#define NBOUNDS ((int)(sizeof(k_bounds) / sizeof(k_bounds[0])))

static int64_t g_n; /* elements per test row, multiple of 256 */

/* max(a, |b|) without fmax: gcc 12 for aarch64 crashes (ICE in
 * vect_transform_reduction) vectorizing fmax reductions at -O3. */
static double max_abs(double a, double b)
{
	b = fabs(b);
	return b > a ? b : a;
}
static float *g_x, *g_y;
static uint8_t *g_q, *g_q2;

static void roundtrip(enum rb_type t, const float *x, float *y, int64_t n)
{
	REQUIRE(rb_quantize_row(t, x, g_q, n) == RB_OK);
	REQUIRE(rb_dequantize_row(t, g_q, y, n) == RB_OK);
}

/* RMSE / std and max |err| / std of a round trip of x. */
static void error_stats(enum rb_type t, const float *x, int64_t n, double *rmse, double *emax)
{
	roundtrip(t, x, g_y, n);
	double ss = 0, se = 0, m = 0;
	for (int64_t i = 0; i < n; i++) {
		const double e = (double)g_y[i] - x[i];
		ss += (double)x[i] * x[i];
		se += e * e;
		m = max_abs(m, e);
	}
	const double std = sqrt(ss / (double)n);
	*rmse = sqrt(se / (double)n) / std;
	*emax = m / std;
}

static void test_error_bounds(void)
{
	uint64_t s = 11;
	for (int b = 0; b < NBOUNDS; b++) {
		const struct bound *bd = &k_bounds[b];
		const char *name = rb_type_name(bd->type);
		double rmse, emax;
		for (int64_t i = 0; i < g_n; i++)
			g_x[i] = qt_gauss(&s);
		error_stats(bd->type, g_x, g_n, &rmse, &emax);
		printf("%-5s gaussian rmse/std %.5f (bound %.5f) max/std %.4f (bound %.3f)", name,
		       rmse, bd->rmse_gauss, emax, bd->max_gauss);
		CHECKF(rmse <= bd->rmse_gauss, "%s gaussian rmse/std %.5f", name, rmse);
		CHECKF(emax <= bd->max_gauss, "%s gaussian max/std %.5f", name, emax);

		/* scale invariance: the same data times 1e4 and 1e-2 keeps the bounds
		 * (f16 scales stay normal numbers there) */
		const float scales[2] = {1e4f, 1e-2f};
		for (int k = 0; k < 2; k++) {
			for (int64_t i = 0; i < g_n; i++)
				g_x[i] *= scales[k];
			error_stats(bd->type, g_x, g_n, &rmse, &emax);
			CHECKF(rmse <= bd->rmse_gauss, "%s x%g rmse/std %.5f", name, scales[k], rmse);
			for (int64_t i = 0; i < g_n; i++)
				g_x[i] /= scales[k];
		}

		for (int64_t i = 0; i < g_n; i++)
			g_x[i] = rb_test_rand_f32(&s);
		error_stats(bd->type, g_x, g_n, &rmse, &emax);
		printf("  uniform rmse/std %.5f (bound %.5f)\n", rmse, bd->rmse_unif);
		CHECKF(rmse <= bd->rmse_unif, "%s uniform rmse/std %.5f", name, rmse);
	}
}

/* ---- values already on the grid round-trip exactly ------------------------ */

/* Random integer in [lo, hi] for each of n slots, with lo and hi_forced
 * (if >= lo) each present at least once at random positions. */
static void rand_levels(uint64_t *s, int *v, int n, int lo, int hi, int lo_forced, int hi_forced)
{
	for (int i = 0; i < n; i++)
		v[i] = qt_rand_int(s, lo, hi);
	const int a = qt_rand_int(s, 0, n - 1);
	int b = qt_rand_int(s, 0, n - 2);
	b += b >= a; /* distinct */
	if (lo_forced >= lo)
		v[a] = lo_forced;
	if (hi_forced >= lo)
		v[b] = hi_forced;
}

static void pack32(uint8_t qs[16], uint8_t *qh, const int *v)
{
	memset(qs, 0, 16);
	if (qh)
		memset(qh, 0, 4);
	for (int e = 0; e < 32; e++) {
		qs[e % 16] |= (uint8_t)((v[e] & 15) << (4 * (e / 16)));
		if (qh)
			qh[e / 8] |= (uint8_t)(((v[e] >> 4) & 1) << (e % 8));
	}
}

/* One block of type t whose values pin its fields down (the extreme levels
 * occur, the largest sub-block scale/min is the largest 6/8-bit integer), so
 * quantizing its values must give back the same values. Returns elements. */
static int grid_block(enum rb_type t, uint64_t *s, void *blk)
{
	int v[256];
	switch (t) {
	case RB_TYPE_Q4_0: {
		rb_block_q4_0 *b = blk;
		b->d = qt_rand_f16(s, -8, 6, 1);
		rand_levels(s, v, 32, 0, 15, 0, -1);
		pack32(b->qs, NULL, v);
		return 32;
	}
	case RB_TYPE_Q5_0: {
		rb_block_q5_0 *b = blk;
		b->d = qt_rand_f16(s, -8, 6, 1);
		rand_levels(s, v, 32, 0, 31, 0, -1);
		pack32(b->qs, b->qh, v);
		return 32;
	}
	case RB_TYPE_Q4_1:
	case RB_TYPE_Q5_1: {
		const int qmax = t == RB_TYPE_Q4_1 ? 15 : 31;
		const rb_f16 d = qt_rand_f16(s, -8, 6, 0);
		/* |m| between d and 16 d: well inside f16 resolution of the fit */
		const float mv = rb_f16_to_f32(d) * (float)qt_rand_int(s, 4, 64) / 4 *
				 (rb_test_rand_u64(s) & 1 ? 1.0f : -1.0f);
		rand_levels(s, v, 32, 0, qmax, 0, qmax);
		if (t == RB_TYPE_Q4_1) {
			rb_block_q4_1 *b = blk;
			b->d = d;
			b->m = rb_f32_to_f16(mv);
			pack32(b->qs, NULL, v);
		} else {
			rb_block_q5_1 *b = blk;
			b->d = d;
			b->m = rb_f32_to_f16(mv);
			pack32(b->qs, b->qh, v);
		}
		return 32;
	}
	case RB_TYPE_Q8_0:
	case RB_TYPE_Q8_1: {
		rb_block_q8_0 *b = blk;
		b->d = qt_rand_f16(s, -8, 6, 0);
		rand_levels(s, v, 32, -127, 127, -1000, rb_test_rand_u64(s) & 1 ? 127 : -127);
		for (int i = 0; i < 32; i++)
			b->qs[i] = (int8_t)v[i];
		if (t == RB_TYPE_Q8_1) { /* same leading layout plus s */
			rb_block_q8_1 *b1 = blk;
			int8_t qs[32];
			memcpy(qs, b->qs, 32);
			const rb_f16 d = b->d;
			b1->d = d;
			memcpy(b1->qs, qs, 32);
			b1->s = 0;
		}
		return 32;
	}
	case RB_TYPE_Q8_K: {
		rb_block_q8_k *b = blk;
		b->d = ldexpf(1.0f, qt_rand_int(s, -20, 10)); /* exact under * 127 / 127 */
		rand_levels(s, v, 256, -127, 127, -1000, 127);
		for (int i = 0; i < 256; i++)
			b->qs[i] = (int8_t)v[i];
		return 256;
	}
	case RB_TYPE_Q4_K:
	case RB_TYPE_Q5_K: {
		const int qmax = t == RB_TYPE_Q4_K ? 15 : 31;
		uint8_t sc[8], mn[8];
		int scs[8], mns[8];
		rand_levels(s, scs, 8, 1, 63, -1, 63);
		rand_levels(s, mns, 8, 0, 63, -1, 63);
		for (int j = 0; j < 8; j++) {
			sc[j] = (uint8_t)scs[j];
			mn[j] = (uint8_t)mns[j];
			rand_levels(s, v + 32 * j, 32, 0, qmax, 0, qmax);
		}
		const rb_f16 d = qt_rand_f16(s, -10, 0, 0), dmin = qt_rand_f16(s, -10, 0, 0);
		uint8_t *qs, *qh = NULL, *scales;
		if (t == RB_TYPE_Q4_K) {
			rb_block_q4_k *b = blk;
			b->d = d;
			b->dmin = dmin;
			qs = b->qs;
			scales = b->scales;
		} else {
			rb_block_q5_k *b = blk;
			b->d = d;
			b->dmin = dmin;
			qs = b->qs;
			qh = b->qh;
			scales = b->scales;
			memset(qh, 0, 32);
		}
		rb_k_pack_scale_min(scales, sc, mn);
		memset(qs, 0, 128);
		for (int e = 0; e < 256; e++) {
			qs[32 * (e / 64) + e % 32] |= (uint8_t)((v[e] & 15) << (4 * ((e / 32) % 2)));
			if (qh)
				qh[e % 32] |= (uint8_t)(((v[e] >> 4) & 1) << (e / 32));
		}
		return 256;
	}
	case RB_TYPE_Q6_K: {
		rb_block_q6_k *b = blk;
		int scs[16];
		rand_levels(s, scs, 16, 1, 127, -1, 127);
		for (int k = 0; k < 16; k++) {
			b->scales[k] = (int8_t)(rb_test_rand_u64(s) & 1 ? scs[k] : -scs[k]);
			rand_levels(s, v + 16 * k, 16, 0, 63, 0, -1); /* level -32 occurs */
		}
		b->d = qt_rand_f16(s, -12, -2, 0);
		memset(b->ql, 0, sizeof(b->ql));
		memset(b->qh, 0, sizeof(b->qh));
		for (int e = 0; e < 256; e++) {
			const int h = e / 128, g = (e % 128) / 32, l = e % 32;
			b->ql[64 * h + 32 * (g % 2) + l] |= (uint8_t)((v[e] & 15) << (4 * (g / 2)));
			b->qh[32 * h + l] |= (uint8_t)((v[e] >> 4) << (2 * g));
		}
		return 256;
	}
	default:
		return 0;
	}
}

static void test_grid_exact(void)
{
	uint64_t s = 12;
	const int iters = rb_test_quick() ? 100 : 1000;
	const enum rb_type types[] = {RB_TYPE_Q4_0, RB_TYPE_Q5_0, RB_TYPE_Q4_1, RB_TYPE_Q5_1,
				      RB_TYPE_Q8_0, RB_TYPE_Q8_1, RB_TYPE_Q8_K, RB_TYPE_Q4_K,
				      RB_TYPE_Q5_K, RB_TYPE_Q6_K};
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		int bad = 0;
		for (int it = 0; it < iters; it++) {
			_Alignas(16) uint8_t blk[512], blk2[512];
			float v[256], v2[256];
			const int n = grid_block(types[k], &s, blk);
			rb_dequantize_row(types[k], blk, v, n); /* a row on the grid */
			rb_quantize_row(types[k], v, blk2, n);
			rb_dequantize_row(types[k], blk2, v2, n);
			if (memcmp(v, v2, sizeof(float) * (size_t)n) != 0 && bad++ < 2) {
				for (int i = 0; i < n; i++)
					if (v[i] != v2[i]) {
						fprintf(stderr, "  %s it %d elem %d: %.9g -> %.9g\n",
							rb_type_name(types[k]), it, i, v[i], v2[i]);
						break;
					}
			}
		}
		CHECKF(bad == 0, "%s: %d of %d grid rows changed", rb_type_name(types[k]), bad,
		       iters);
	}
}

/* ---- special rows ----------------------------------------------------------- */

static const struct bound *bound_of(enum rb_type t)
{
	for (int b = 0; b < NBOUNDS; b++)
		if (k_bounds[b].type == t)
			return &k_bounds[b];
	return NULL;
}

/* All-zero rows give exact zeros; constant rows come back within the format's
 * scale precision (exactly for the types that store an offset, when c is an
 * f16 value). */
static void test_zero_and_constant(void)
{
	const int64_t n = 512;
	/* magnitudes where every type's scales are normal f16 numbers (tiny
	 * values: test_huge_and_tiny) */
	const float consts[] = {1.0f, -1.0f, 3.14159f, -0.75f, 1000.5f, -77.0f, 0.5f};
	for (int t = 0; t < QT_NTYPES; t++) {
		const enum rb_type type = qt_all_types[t];
		const char *name = rb_type_name(type);
		for (int64_t i = 0; i < n; i++)
			g_x[i] = 0.0f;
		roundtrip(type, g_x, g_y, n);
		int nonzero = 0;
		for (int64_t i = 0; i < n; i++)
			nonzero += g_y[i] != 0.0f;
		CHECKF(nonzero == 0, "%s: zero row gives %d non-zeros", name, nonzero);

		for (size_t c = 0; c < sizeof(consts) / sizeof(consts[0]); c++) {
			for (int64_t i = 0; i < n; i++)
				g_x[i] = consts[c];
			roundtrip(type, g_x, g_y, n);
			double emax = 0;
			for (int64_t i = 0; i < n; i++)
				emax = max_abs(emax, (double)g_y[i] - consts[c]);
			CHECKF(emax <= bound_of(type)->rel_const * fabsf(consts[c]),
			       "%s: constant %g off by %g", name, consts[c], emax);
			const int exact = type == RB_TYPE_Q4_1 || type == RB_TYPE_Q5_1;
			if (exact && rb_f16_to_f32(rb_f32_to_f16(consts[c])) == consts[c])
				CHECKF(emax == 0, "%s: f16 constant %g not exact", name, consts[c]);
		}
	}
}

/* Outside any f16 scale's range: scales saturate, nothing becomes NaN/Inf
 * (bf16/f16 themselves overflow to Inf by definition: skipped). Far below
 * it: no blow-up, the error stays below the values' own size. */
static void test_huge_and_tiny(void)
{
	uint64_t s = 13;
	const int64_t n = 1024;
	for (int t = 0; t < QT_NTYPES; t++) {
		const enum rb_type type = qt_all_types[t];
		if (type == RB_TYPE_F32 || type == RB_TYPE_F16 || type == RB_TYPE_BF16)
			continue;
		const char *name = rb_type_name(type);
		for (int64_t i = 0; i < n; i++)
			g_x[i] = qt_gauss(&s) * 1e30f;
		roundtrip(type, g_x, g_y, n);
		int bad = 0;
		for (int64_t i = 0; i < n; i++)
			bad += !isfinite(g_y[i]);
		CHECKF(bad == 0, "%s: 1e30 data gives %d non-finite values", name, bad);

		const float tiny[] = {1e-6f, 1e-20f, 1e-40f /* subnormal */};
		for (int k = 0; k < 3; k++) {
			double amax = 0, emax = 0;
			for (int64_t i = 0; i < n; i++) {
				g_x[i] = qt_gauss(&s) * tiny[k];
				amax = max_abs(amax, g_x[i]);
			}
			roundtrip(type, g_x, g_y, n);
			for (int64_t i = 0; i < n; i++)
				emax = max_abs(emax, (double)g_y[i] - g_x[i]);
			CHECKF(isfinite(emax) && emax <= amax, "%s: tiny %g: error %g amax %g", name,
			       tiny[k], emax, amax);
		}
	}
}

/* NaN and +-Inf in one block: no crash, no NaN out of the quantized types,
 * and the other blocks of the row are quantized exactly as without them. */
static void test_non_finite(void)
{
	uint64_t s = 14;
	const int64_t n = 1024;
	for (int t = 0; t < QT_NTYPES; t++) {
		const enum rb_type type = qt_all_types[t];
		const rb_type_traits *tr = rb_type_traits_get(type);
		const char *name = tr->name;
		for (int64_t i = 0; i < n; i++)
			g_x[i] = qt_gauss(&s);
		const size_t rs = rb_row_size(type, n);
		rb_quantize_row(type, g_x, g_q2, n); /* clean reference */
		const int64_t bs = tr->block_size > 1 ? tr->block_size : 32;
		g_x[bs + 1] = NAN;
		g_x[bs + 2] = INFINITY;
		g_x[bs + 3] = -INFINITY;
		rb_quantize_row(type, g_x, g_q, n);
		/* every byte outside the poisoned block is unchanged */
		const size_t b0 = rb_row_size(type, bs), b1 = rb_row_size(type, 2 * bs);
		CHECKF(memcmp(g_q, g_q2, b0) == 0 && memcmp(g_q + b1, g_q2 + b1, rs - b1) == 0,
		       "%s: a NaN/Inf changed other blocks", name);
		if (!tr->is_quantized)
			continue;
		rb_dequantize_row(type, g_q, g_y, n);
		int nan = 0;
		for (int64_t i = 0; i < n; i++)
			nan += isnan(g_y[i]);
		CHECKF(nan == 0, "%s: %d NaN after quantizing NaN/Inf", name, nan);
		CHECKF(g_y[bs + 2] > 0 && g_y[bs + 3] < 0, "%s: +-Inf lost its sign (%g %g)", name,
		       g_y[bs + 2], g_y[bs + 3]);
	}
}

/* ---- the activation quantizers' contract -------------------------------------- */

static void test_activation_contract(void)
{
	uint64_t s = 15;
	const int64_t n = 2048;
	int bad_range = 0, bad_round = 0, bad_bsum = 0, bad_s = 0;
	rb_block_q8_0 *a0 = (rb_block_q8_0 *)g_q;
	for (int rep = 0; rep < 20; rep++) {
		const float scale = ldexpf(1.0f, qt_rand_int(&s, -6, 12));
		for (int64_t i = 0; i < n; i++)
			g_x[i] = qt_gauss(&s) * scale;

		rb_quantize_row_q8_0(g_x, a0, n);
		for (int64_t b = 0; b < n / 32; b++) {
			const float d = rb_f16_to_f32(a0[b].d), inv = d ? 1.0f / d : 0.0f;
			for (int i = 0; i < 32; i++) {
				const int q = a0[b].qs[i];
				bad_range += q < -127;
				/* round-half-even of x * (1/d), clamped */
				float want = nearbyintf(g_x[32 * b + i] * inv);
				want = want > 127 ? 127 : want < -127 ? -127 : want;
				bad_round += (float)q != want;
			}
		}

		rb_block_q8_1 *a1 = (rb_block_q8_1 *)g_q;
		rb_quantize_row_q8_1(g_x, a1, n);
		for (int64_t b = 0; b < n / 32; b++) {
			int sum = 0;
			for (int i = 0; i < 32; i++) {
				sum += a1[b].qs[i];
				bad_range += a1[b].qs[i] < -127;
			}
			const double want = (double)rb_f16_to_f32(a1[b].d) * sum;
			bad_s += fabs(rb_f16_to_f32(a1[b].s) - want) > fabs(want) * 0x1p-11;
		}

		rb_block_q8_k *ak = (rb_block_q8_k *)g_q;
		rb_quantize_row_q8_K(g_x, ak, n);
		for (int64_t b = 0; b < n / 256; b++) {
			const float inv = ak[b].d ? 1.0f / ak[b].d : 0.0f;
			for (int g = 0; g < 16; g++) {
				int sum = 0;
				for (int i = 0; i < 16; i++) {
					const int q = ak[b].qs[16 * g + i];
					sum += q;
					bad_range += q < -127;
					float want = nearbyintf(g_x[256 * b + 16 * g + i] * inv);
					want = want > 127 ? 127 : want < -127 ? -127 : want;
					bad_round += (float)q != want;
				}
				bad_bsum += sum != ak[b].bsums[g];
			}
		}
	}
	CHECK_EQ_INT(bad_range, 0);
	CHECK_EQ_INT(bad_round, 0);
	CHECK_EQ_INT(bad_bsum, 0);
	CHECK_EQ_INT(bad_s, 0);
}

/* ---- entry points ----------------------------------------------------------------- */

static void test_quantize_rows(void)
{
	uint64_t s = 16;
	const int64_t rows = rb_test_quick() ? 24 : 96, cols = 512;
	for (int64_t i = 0; i < rows * cols; i++)
		g_x[i] = qt_gauss(&s);
	const enum rb_type types[] = {RB_TYPE_Q4_K, RB_TYPE_Q6_K, RB_TYPE_Q8_0, RB_TYPE_F16};
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		const size_t rs = rb_row_size(types[k], cols);
		for (int64_t r = 0; r < rows; r++)
			rb_quantize_row(types[k], g_x + r * cols, g_q2 + (size_t)r * rs, cols);
		for (int threads = 1; threads <= 3; threads++) {
			rb_err err = {0};
			memset(g_q, 0xa5, rs * (size_t)rows);
			CHECK_EQ_INT(rb_quantize_rows(types[k], g_x, g_q, rows, cols, threads, &err),
				     RB_OK);
			CHECKF(memcmp(g_q, g_q2, rs * (size_t)rows) == 0,
			       "%s: rows with %d threads differ from row by row",
			       rb_type_name(types[k]), threads);
		}
	}
	rb_err err = {0};
	CHECK_EQ_INT(rb_quantize_rows(RB_TYPE_Q4_K, g_x, g_q, 2, 100, 1, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "q4_K") && strstr(err.msg, "256"));
	CHECK_EQ_INT(rb_quantize_rows(RB_TYPE_Q2_K, g_x, g_q, 2, 256, 1, &err), RB_E_UNSUPPORTED);
	CHECK(strstr(err.msg, "q2_K") != NULL);
	CHECK_EQ_INT(rb_quantize_rows(RB_TYPE_Q8_0, g_x, g_q, 0, 64, 0, &err), RB_OK);
}

static void test_entry_points(void)
{
	float f = 0;
	CHECK_EQ_INT(rb_quantize_row(RB_TYPE_Q4_0, g_x, g_q, 33), RB_E_INVALID);
	CHECK_EQ_INT(rb_quantize_row(RB_TYPE_Q4_0, g_x, g_q, -32), RB_E_INVALID);
	CHECK_EQ_INT(rb_dequantize_row(RB_TYPE_Q6_K, g_q, g_y, 128), RB_E_INVALID);
	CHECK_EQ_INT(rb_quantize_row(RB_TYPE_I8, g_x, g_q, 32), RB_E_UNSUPPORTED);
	CHECK_EQ_INT(rb_dequantize_row((enum rb_type)999, g_q, g_y, 32), RB_E_UNSUPPORTED);
	CHECK_EQ_INT(rb_vec_dot(RB_TYPE_Q8_K, 256, &f, g_q, g_q), RB_E_UNSUPPORTED);
	CHECK_EQ_INT(rb_vec_dot(RB_TYPE_Q3_K, 256, &f, g_q, g_q), RB_E_UNSUPPORTED);
	CHECK(rb_type_traits_get(RB_TYPE_Q2_K) == NULL);
	CHECK(rb_type_traits_get((enum rb_type)-1) == NULL);
	CHECK(rb_type_traits_get(RB_TYPE_COUNT) == NULL);
	/* the traits agree with the size table of rb_common */
	for (int t = 0; t < QT_NTYPES; t++) {
		const rb_type_traits *tr = rb_type_traits_get(qt_all_types[t]);
		REQUIRE(tr != NULL);
		CHECK_STR(tr->name, rb_type_name(qt_all_types[t]));
		CHECK_EQ_INT(tr->block_size, rb_type_block_size(qt_all_types[t]));
		CHECK_EQ_INT(tr->type_size, rb_type_size(qt_all_types[t]));
		CHECK(tr->to_float && tr->from_float);
	}
}

int main(void)
{
	g_n = rb_test_quick() ? 256 * 64 : 256 * 1024;
	g_x = malloc(sizeof(float) * (size_t)g_n);
	g_y = malloc(sizeof(float) * (size_t)g_n);
	g_q = malloc(sizeof(float) * (size_t)g_n + 4096);
	g_q2 = malloc(sizeof(float) * (size_t)g_n + 4096);
	REQUIRE(g_x && g_y && g_q && g_q2);
	test_error_bounds();
	test_grid_exact();
	test_zero_and_constant();
	test_huge_and_tiny();
	test_non_finite();
	test_activation_contract();
	test_quantize_rows();
	test_entry_points();
	free(g_x);
	free(g_y);
	free(g_q);
	free(g_q2);
	return rb_test_finish();
}
