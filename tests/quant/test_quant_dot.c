/* SPDX-License-Identifier: MIT */
/* Scalar vec_dot of every weight type against its activation type, compared
 * with the double-precision dot of the dequantized operands.
 *
 * Tolerance: the dots sum integers exactly inside a block and do a few float
 * operations per block, so |dot - ref| <= (nblocks + 8) * 2^-22 * sum |x_i y_i|.
 * Q4_1/Q5_1 use the activation's stored s = f16(d * sum q) for the min term,
 * so their allowance also holds sum_b |m_b| |s_b - d_b sum q_b| (the f16
 * rounding of s, exactly as the format intends). */
#include <string.h>

#include "qtest.h"

static const enum rb_type k_weight_types[] = {
	RB_TYPE_F32,  RB_TYPE_F16,  RB_TYPE_BF16, RB_TYPE_Q4_0, RB_TYPE_Q4_1, RB_TYPE_Q5_0,
	RB_TYPE_Q5_1, RB_TYPE_Q8_0, RB_TYPE_Q4_K, RB_TYPE_Q5_K, RB_TYPE_Q6_K,
};
#define NWT ((int)(sizeof(k_weight_types) / sizeof(k_weight_types[0])))

#define MAX_N (256 * 33)
static float g_xf[MAX_N], g_yf[MAX_N], g_xd[MAX_N], g_yd[MAX_N];
static _Alignas(16) uint8_t g_xq[MAX_N * 4], g_yq[MAX_N * 4 + 1024];

/* Extra allowance for the min term of Q4_1/Q5_1 (see top). */
static double min_term_allowance(enum rb_type t, int64_t n)
{
	if (t != RB_TYPE_Q4_1 && t != RB_TYPE_Q5_1)
		return 0;
	double a = 0;
	const rb_block_q8_1 *y = (const rb_block_q8_1 *)g_yq;
	for (int64_t b = 0; b < n / 32; b++) {
		const rb_f16 m = t == RB_TYPE_Q4_1 ? ((const rb_block_q4_1 *)g_xq)[b].m
						   : ((const rb_block_q5_1 *)g_xq)[b].m;
		int sum = 0;
		for (int i = 0; i < 32; i++)
			sum += y[b].qs[i];
		const double exact = (double)rb_f16_to_f32(y[b].d) * sum;
		a += fabs(rb_f16_to_f32(m)) * fabs(rb_f16_to_f32(y[b].s) - exact);
	}
	return a;
}

/* Compare the dot of the operands now in g_xq / g_yq with the reference. */
static int check_dot(enum rb_type t, int64_t n, const char *what)
{
	const rb_type_traits *tr = rb_type_traits_get(t);
	const enum rb_type yt = tr->vec_dot_type;
	REQUIRE(rb_dequantize_row(t, g_xq, g_xd, n) == RB_OK);
	REQUIRE(rb_dequantize_row(yt, g_yq, g_yd, n) == RB_OK);
	double ref = 0, mag = 0;
	for (int64_t i = 0; i < n; i++) {
		ref += (double)g_xd[i] * g_yd[i];
		mag += fabs((double)g_xd[i] * g_yd[i]);
	}
	float got = NAN, got2 = NAN;
	REQUIRE(rb_vec_dot(t, n, &got, g_xq, g_yq) == RB_OK);
	tr->vec_dot(n, &got2, g_xq, g_yq);
	const int64_t nblocks = n / tr->block_size;
	const double tol = (double)(nblocks + 8) * 0x1p-22 * mag + min_term_allowance(t, n);
	const int ok = fabs((double)got - ref) <= tol && memcmp(&got, &got2, sizeof(got)) == 0;
	if (!ok)
		fprintf(stderr, "  %s %s n=%lld: dot %.9g ref %.9g (tol %.3g, mag %.3g)\n",
			tr->name, what, (long long)n, got, ref, tol, mag);
	return ok;
}

/* Quantized operands from float data through the reference quantizers. */
static void make_from_float(enum rb_type t, int64_t n)
{
	const rb_type_traits *tr = rb_type_traits_get(t);
	REQUIRE(rb_quantize_row(t, g_xf, g_xq, n) == RB_OK);
	REQUIRE(rb_quantize_row(tr->vec_dot_type, g_yf, g_yq, n) == RB_OK);
}

static void test_dot_random(void)
{
	uint64_t s = 21;
	const int64_t full[] = {1, 3, 7, 13, 33}, quick[] = {1, 3, 7};
	const int64_t *lens = rb_test_quick() ? quick : full;
	const int nlens = rb_test_quick() ? 3 : 5;
	const float scales[][2] = {{1, 1}, {1e4f, 1e-3f}, {3e-3f, 5e2f}};
	for (int k = 0; k < NWT; k++) {
		const enum rb_type t = k_weight_types[k];
		const int bs = rb_type_traits_get(t)->block_size > 1
				       ? rb_type_traits_get(t)->block_size
				       : 32;
		int bad = 0, runs = 0;
		for (int l = 0; l < nlens; l++) {
			const int64_t n = lens[l] * bs;
			for (int sc = 0; sc < 3; sc++) {
				for (int64_t i = 0; i < n; i++) {
					g_xf[i] = qt_gauss(&s) * scales[sc][0];
					g_yf[i] = qt_gauss(&s) * scales[sc][1];
				}
				make_from_float(t, n);
				bad += !check_dot(t, n, "gaussian");
				runs++;
			}
			/* saturated: every value at +-max magnitude, signs random */
			for (int64_t i = 0; i < n; i++) {
				g_xf[i] = rb_test_rand_u64(&s) & 1 ? 1000.0f : -1000.0f;
				g_yf[i] = rb_test_rand_u64(&s) & 1 ? 50.0f : -50.0f;
			}
			make_from_float(t, n);
			bad += !check_dot(t, n, "saturated");
			runs++;
			/* zeros on one side: exactly 0 */
			memset(g_yf, 0, sizeof(float) * (size_t)n);
			make_from_float(t, n);
			float z = 1;
			rb_vec_dot(t, n, &z, g_xq, g_yq);
			bad += z != 0.0f;
			runs++;
		}
		CHECKF(bad == 0, "%s: %d of %d dots out of tolerance", rb_type_name(t), bad, runs);
	}
}

/* Random bytes for the quants (every bit pattern, incl. the extremes and
 * q8 = -128), scales forced finite, activation sums made consistent. */
static void test_dot_random_bits(void)
{
	uint64_t s = 22;
	const int iters = rb_test_quick() ? 30 : 300;
	for (int k = 0; k < NWT; k++) {
		const enum rb_type t = k_weight_types[k];
		const rb_type_traits *tr = rb_type_traits_get(t);
		if (!tr->is_quantized)
			continue;
		const int64_t n = 3 * (int64_t)tr->block_size;
		int bad = 0;
		for (int it = 0; it < iters; it++) {
			for (size_t i = 0; i < sizeof(g_xq); i++)
				g_xq[i] = (uint8_t)rb_test_rand_u64(&s);
			for (size_t i = 0; i < sizeof(g_yq); i++)
				g_yq[i] = (uint8_t)rb_test_rand_u64(&s);
			/* finite f16 scales: clear the top exponent bit of every f16 field */
			for (int64_t b = 0; b < n / tr->block_size; b++) {
				uint8_t *blk = g_xq + b * tr->type_size;
				switch (t) {
				case RB_TYPE_Q4_1:
				case RB_TYPE_Q5_1:
					blk[3] &= 0xbf; /* m */
					/* fall through */
				case RB_TYPE_Q4_0:
				case RB_TYPE_Q5_0:
				case RB_TYPE_Q8_0:
					blk[1] &= 0xbf; /* d */
					break;
				case RB_TYPE_Q4_K:
				case RB_TYPE_Q5_K:
					blk[1] &= 0xbf;
					blk[3] &= 0xbf;
					break;
				case RB_TYPE_Q6_K:
					blk[209] &= 0xbf;
					break;
				default:
					break;
				}
			}
			const enum rb_type yt = tr->vec_dot_type;
			for (int64_t b = 0; b < n / rb_type_block_size(yt); b++) {
				if (yt == RB_TYPE_Q8_K) {
					rb_block_q8_k *y = (rb_block_q8_k *)g_yq + b;
					const float mant =
						1.0f + (float)(rb_test_rand_u64(&s) % 100) / 100;
					y->d = ldexpf(mant, qt_rand_int(&s, -30, 30));
					for (int g = 0; g < 16; g++) {
						int sum = 0;
						for (int i = 0; i < 16; i++)
							sum += y->qs[16 * g + i];
						y->bsums[g] = (int16_t)sum;
					}
				} else {
					rb_block_q8_1 *y1 = (rb_block_q8_1 *)g_yq + b;
					rb_block_q8_0 *y0 = (rb_block_q8_0 *)g_yq + b;
					if (yt == RB_TYPE_Q8_1) {
						y1->d &= 0xbfff;
						int sum = 0;
						for (int i = 0; i < 32; i++)
							sum += y1->qs[i];
						const float dv = rb_f16_to_f32(y1->d);
						y1->s = rb_f32_to_f16(dv * (float)sum);
					} else {
						y0->d &= 0xbfff;
					}
				}
			}
			bad += !check_dot(t, n, "random bits");
		}
		CHECKF(bad == 0, "%s: %d of %d random-bit dots out of tolerance", tr->name, bad,
		       iters);
	}
}

/* One hand-computed case: Q4_0 x Q8_0, one block, d = 1, every nibble 15
 * (value 7) against activation d = 0.5, q = 2 everywhere: 32 * 7 * 1 = 224. */
static void test_dot_literal(void)
{
	rb_block_q4_0 x;
	rb_block_q8_0 y;
	x.d = 0x3c00; /* 1.0 */
	memset(x.qs, 0xff, sizeof(x.qs));
	y.d = 0x3800; /* 0.5 */
	memset(y.qs, 2, sizeof(y.qs));
	CHECK(rb_ref_dot_q4_0_q8_0(32, &x, &y) == 224.0f);

	/* Q4_K: sub-block j has scale j + 1 and min 1, d = dmin = 1, all q = 1;
	 * activations Q8_K d = 1, all q = 1 (bsums 16):
	 * sum_j 32 ((j + 1) * 1 - 1) = 32 * (36 - 8) = 896 */
	rb_block_q4_k xk;
	rb_block_q8_k yk;
	xk.d = xk.dmin = 0x3c00;
	const uint8_t sc[8] = {1, 2, 3, 4, 5, 6, 7, 8}, mn[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	rb_k_pack_scale_min(xk.scales, sc, mn);
	memset(xk.qs, 0x11, sizeof(xk.qs));
	yk.d = 1.0f;
	memset(yk.qs, 1, sizeof(yk.qs));
	for (int g = 0; g < 16; g++)
		yk.bsums[g] = 16;
	CHECK(rb_ref_dot_q4_K_q8_K(256, &xk, &yk) == 896.0f);
}

int main(void)
{
	test_dot_literal();
	test_dot_random();
	test_dot_random_bits();
	return rb_test_finish();
}
