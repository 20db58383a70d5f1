/* SPDX-License-Identifier: MIT */
/* vec.h primitives (whichever implementation rb_cpu picked: ctest runs this
 * once per variant via RB_CPU_DISABLE) against straightforward double
 * precision formulas written here, for lengths 0..70 and a long one
 * (every SIMD tail path), special values included. */
#include <float.h>
#include <stdbool.h>

#include "rosenblatt/cpu.h"
#include "rosenblatt/vec.h"
#include "test.h"

static uint64_t g_seed = 42;

#define MAXN 4200

static float xs[MAXN], ys[MAXN], ws[MAXN], out[MAXN], out2[MAXN];
static rb_f16 hs[MAXN], hs2[MAXN];

static void fill(float *v, int64_t n, float scale)
{
	for (int64_t i = 0; i < n; i++)
		v[i] = rb_test_rand_f32(&g_seed) * scale;
}

/* relative closeness for a sum whose terms add up to mag in absolute value */
static bool close_sum(double got, double want, double mag)
{
	return fabs(got - want) <= 2e-6 * mag + 1e-30;
}

static void check_len(int64_t n)
{
	fill(xs, n, 2.0f);
	fill(ys, n, 3.0f);
	fill(ws, n, 1.5f);
	for (int64_t i = 0; i < n; i++)
		hs[i] = rb_f32_to_f16(xs[i]);

	/* dot products */
	double want = 0, mag = 0;
	for (int64_t i = 0; i < n; i++)
		want += (double)xs[i] * ys[i], mag += fabs((double)xs[i] * ys[i]);
	CHECKF(close_sum(rb_vec_dot_f32(n, xs, ys), want, mag), "dot_f32 n %lld", (long long)n);
	want = 0, mag = 0;
	for (int64_t i = 0; i < n; i++) {
		const double h = rb_f16_to_f32(hs[i]);
		want += h * ys[i], mag += fabs(h * ys[i]);
	}
	CHECKF(close_sum(rb_vec_dot_f16(n, hs, ys), want, mag), "dot_f16 n %lld", (long long)n);

	/* y += a x (one rounding of the fma or two of mul + add) */
	const float a = 0.75f;
	memcpy(out, ys, sizeof(float) * (size_t)n);
	rb_vec_mad_f32(n, out, xs, a);
	for (int64_t i = 0; i < n; i++)
		CHECK_NEAR(out[i], (double)ys[i] + (double)a * xs[i], 1e-6 * (fabs(ys[i]) + fabs(xs[i])));
	memcpy(out, ys, sizeof(float) * (size_t)n);
	rb_vec_mad_f16(n, out, hs, a);
	for (int64_t i = 0; i < n; i++)
		CHECK_NEAR(out[i], (double)ys[i] + (double)a * rb_f16_to_f32(hs[i]),
			   1e-6 * (fabs(ys[i]) + fabs(xs[i])));

	/* exact ones */
	memcpy(out, xs, sizeof(float) * (size_t)n);
	rb_vec_scale_f32(n, out, -1.25f);
	for (int64_t i = 0; i < n; i++)
		CHECK(out[i] == xs[i] * -1.25f);
	memcpy(out, xs, sizeof(float) * (size_t)n);
	rb_vec_add_f32(n, out, ys);
	for (int64_t i = 0; i < n; i++)
		CHECK(out[i] == xs[i] + ys[i]);
	rb_vec_f32_to_f16(n, hs2, xs);
	for (int64_t i = 0; i < n; i++)
		CHECK_EQ_INT(hs2[i], rb_f32_to_f16(xs[i]));
	rb_vec_f16_to_f32(n, out, hs);
	for (int64_t i = 0; i < n; i++)
		CHECK(rb_f32_bits(out[i]) == rb_f32_bits(rb_f16_to_f32(hs[i])));

	/* max: NaNs are skipped */
	float m = -INFINITY;
	for (int64_t i = 0; i < n; i++)
		m = xs[i] > m ? xs[i] : m;
	CHECK(rb_vec_max_f32(n, xs) == m);

	/* softmax numerator and its sum */
	memcpy(out, xs, sizeof(float) * (size_t)n);
	const float s = rb_vec_exp_sub_sum_f32(n, out, m);
	double ws_ = 0;
	for (int64_t i = 0; i < n; i++) {
		const double e = exp((double)xs[i] - m);
		CHECKF(fabs(out[i] - e) <= 4e-7 * e, "exp %.9g: %.9g vs %.9g", xs[i] - m, out[i], e);
		ws_ += e;
	}
	CHECKF(close_sum(s, ws_, ws_), "exp sum n %lld: %.9g vs %.9g", (long long)n, s, ws_);

	/* rmsnorm, also in place */
	double ss = 0;
	for (int64_t i = 0; i < n; i++)
		ss += (double)xs[i] * xs[i];
	if (n > 0) {
		const double sc = 1.0 / sqrt(ss / (double)n + 1e-6);
		rb_rmsnorm_f32(n, out, xs, ws, 1e-6f);
		memcpy(out2, xs, sizeof(float) * (size_t)n);
		rb_rmsnorm_f32(n, out2, out2, ws, 1e-6f);
		for (int64_t i = 0; i < n; i++) {
			const double e = xs[i] * sc * ws[i];
			CHECK_NEAR(out[i], e, 2e-6 * fabs(e) + 1e-30);
			CHECK(out2[i] == out[i]);
		}
	}

	/* swiglu, also in place */
	rb_vec_swiglu_f32(n, out, xs, ys);
	memcpy(out2, xs, sizeof(float) * (size_t)n);
	rb_vec_swiglu_f32(n, out2, out2, ys);
	for (int64_t i = 0; i < n; i++) {
		const double g = xs[i], e = g / (1.0 + exp(-g)) * ys[i];
		CHECK_NEAR(out[i], e, 1e-6 * fabs(e) + 1e-30);
		CHECK(out2[i] == out[i]);
	}
}

/* One f16 row against ny vectors (ny past the SIMD versions' block of 6),
 * rows of y at a stride past n, results at a stride: each against the double
 * formula, and bit for bit the single dot of the same implementation (the
 * forward pass relies on that for results that do not depend on grouping). */
#define MULTI_NY 9
#define MULTI_LD 37

static float ym[MULTI_NY * (MAXN + MULTI_LD)], outm[MULTI_NY * 3];

static void check_multi(int64_t n)
{
	const int64_t ldy = n + MULTI_LD;
	fill(xs, n, 2.0f);
	for (int64_t i = 0; i < n; i++)
		hs[i] = rb_f32_to_f16(xs[i]);
	fill(ym, MULTI_NY * ldy, 3.0f);
	for (int64_t ny = 0; ny <= MULTI_NY; ny++) {
		for (int64_t i = 0; i < MULTI_NY * 3; i++)
			outm[i] = -1234.5f; /* sentinels: nothing past ny, nothing between */
		rb_vec_dot_f16_multi(n, hs, ym, ldy, ny, outm, 3);
		for (int64_t g = 0; g < MULTI_NY; g++) {
			if (g >= ny) {
				CHECKF(outm[g * 3] == -1234.5f, "dot_f16_multi wrote past ny %lld",
				       (long long)ny);
				continue;
			}
			const float *y = ym + g * ldy;
			double want = 0, mag = 0;
			for (int64_t i = 0; i < n; i++) {
				const double h = rb_f16_to_f32(hs[i]);
				want += h * y[i], mag += fabs(h * y[i]);
			}
			CHECKF(close_sum(outm[g * 3], want, mag), "dot_f16_multi n %lld ny %lld g %lld",
			       (long long)n, (long long)ny, (long long)g);
			CHECKF(rb_f32_bits(outm[g * 3]) == rb_f32_bits(rb_vec_dot_f16(n, hs, y)),
			       "dot_f16_multi n %lld ny %lld g %lld: not the single dot", (long long)n,
			       (long long)ny, (long long)g);
			CHECK(outm[g * 3 + 1] == -1234.5f && outm[g * 3 + 2] == -1234.5f);
		}
	}
}

static void check_specials(void)
{
	/* f32 -> f16 on the awkward values: ties, subnormals, overflow, inf, NaN */
	const float sp[] = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e10f, -1e10f, INFINITY,
			    -INFINITY, NAN, -NAN, 5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-8f, 6.1e-5f,
			    6.09e-5f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 1e-45f, FLT_MIN,
			    -3.0e-5f, 0.33333334f, 2049.0f, 2051.0f, 4097.0f};
	const int64_t n = sizeof(sp) / sizeof(sp[0]);
	for (int rep = 0; rep < 2; rep++) {
		/* the same values at every lane position */
		for (int64_t i = 0; i < 64; i++)
			xs[i] = sp[(i + rep * 5) % n];
		rb_vec_f32_to_f16(64, hs2, xs);
		for (int64_t i = 0; i < 64; i++)
			CHECKF(hs2[i] == rb_f32_to_f16(xs[i]), "f16 of %.9g: %04x vs %04x", xs[i],
			       hs2[i], rb_f32_to_f16(xs[i]));
	}
	/* every f16 bit pattern to f32 */
	for (int64_t base = 0; base < 65536; base += MAXN) {
		const int64_t cnt = 65536 - base < MAXN ? 65536 - base : MAXN;
		for (int64_t i = 0; i < cnt; i++)
			hs[i] = (rb_f16)(base + i);
		rb_vec_f16_to_f32(cnt, out, hs);
		int bad = 0;
		for (int64_t i = 0; i < cnt; i++) {
			const float e = rb_f16_to_f32(hs[i]);
			bad += e == e ? rb_f32_bits(out[i]) != rb_f32_bits(e) : out[i] == out[i];
		}
		CHECK_EQ_INT(bad, 0);
	}
	/* random f32 bit patterns -> f16 */
	for (int64_t i = 0; i < MAXN; i++)
		xs[i] = rb_bits_f32((uint32_t)rb_test_rand_u64(&g_seed));
	rb_vec_f32_to_f16(MAXN, hs2, xs);
	int bad = 0;
	for (int64_t i = 0; i < MAXN; i++)
		bad += hs2[i] != rb_f32_to_f16(xs[i]);
	CHECK_EQ_INT(bad, 0);

	/* max skips NaN, handles -inf-only input */
	for (int64_t i = 0; i < 40; i++)
		xs[i] = (i % 3) ? NAN : (float)i;
	CHECK(rb_vec_max_f32(40, xs) == 39.0f);
	for (int64_t i = 0; i < 20; i++)
		xs[i] = -INFINITY;
	CHECK(rb_vec_max_f32(20, xs) == -INFINITY);
	CHECK(rb_vec_max_f32(0, xs) == -INFINITY);

	/* exp at the range ends: underflow to 0, large values, -inf */
	const float ex[] = {-200.0f, -88.0f, -87.0f, -50.0f, -1e-7f, 0.0f, -INFINITY, -30.5f};
	for (int64_t i = 0; i < 32; i++)
		xs[i] = ex[i % 8];
	const float s = rb_vec_exp_sub_sum_f32(32, xs, 0.0f);
	double want = 0;
	for (int64_t i = 0; i < 32; i++) {
		const double e = exp((double)ex[i % 8]);
		want += e;
		CHECKF(fabs(xs[i] - e) <= 4e-7 * e + 2e-38, "exp(%g) = %g", ex[i % 8], xs[i]);
	}
	CHECK_NEAR(s, want, 1e-6 * want);

	/* swiglu saturates cleanly: silu(-200) = -0, silu(200) = 200 */
	const float gs[] = {-200.0f, 200.0f, -90.0f, 90.0f, 0.0f, -0.0f, 1e-30f, -20.0f};
	for (int64_t i = 0; i < 16; i++)
		xs[i] = gs[i % 8], ys[i] = 1.0f;
	rb_vec_swiglu_f32(16, out, xs, ys);
	for (int64_t i = 0; i < 16; i++) {
		const double g = gs[i % 8], e = g / (1.0 + exp(-g));
		CHECKF(fabs(out[i] - e) <= 1e-6 * fabs(e) + 1e-37, "silu(%g) = %g", g, out[i]);
	}
}

int main(int argc, char **argv)
{
	const char *variant = NULL;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--variant") == 0)
			variant = argv[i + 1];
	printf("cpu: %s, vec: %s\n", rb_cpu_describe(), rb_vec_impl_name());
	if (variant && strcmp(variant, "scalar") == 0)
		CHECK_STR(rb_vec_impl_name(), "scalar");
	for (int64_t n = 0; n <= 70; n++) {
		check_len(n);
		check_multi(n);
	}
	check_len(1536);
	check_multi(1536);
	check_len(rb_test_quick() ? 1000 : MAXN);
	check_multi(rb_test_quick() ? 1000 : MAXN);
	check_specials();
	return rb_test_finish();
}
