/* SPDX-License-Identifier: MIT */
/* The "cpu" matmul backend against independent references, for every type it
 * repacks (Q4_K, Q6_K, Q8_0, Q5_0, Q4_0, F16, F32) and some that take the
 * generic path (Q4_1, Q5_1, Q5_K, BF16):
 *
 *  1. exact data: raw blocks with power-of-two scales and activations that
 *     quantize without error (multiples of 2^-7 with a block maximum of
 *     127 * 2^-7). Then every partial sum is exactly representable, so the
 *     kernels' result must equal, bit for bit, the exact dot product computed
 *     here in double from the dequantized rows (and rb_vec_dot of rb_quant);
 *  2. random data quantized by rb_quant: cpu == rb_vec_dot (scalar reference
 *     on the same quantized activations) within float rounding, and cpu ==
 *     the "ref" backend within the activation quantization error bound.
 *
 * Shapes cover M = 1..17 and larger, n_out not a multiple of the 16-row
 * interleave, padded strides (the padding must stay untouched), 1-3 threads.
 * ctest runs this once per kernel variant (RB_CPU_DISABLE); `--variant NAME`
 * checks that the expected variant is the one under test. */
#include <float.h>
#include <stdbool.h>

#include "rosenblatt/cpu.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/quant.h"
#include "test.h"

static uint64_t g_seed = 0x5eed;

static int rnd_int(int lo, int hi) { return lo + (int)(rb_test_rand_u64(&g_seed) % (uint64_t)(hi - lo + 1)); }

/* f16 of 2^e (normal range) */
static rb_f16 f16_pow2(int e) { return (rb_f16)((e + 15) << 10); }

/* ---- exact data -------------------------------------------------------------- */

static void fill_random_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rb_test_rand_u64(&g_seed);
}

/* One row of n_in elements of `type` with exact-friendly scales. */
static void make_exact_row(enum rb_type type, int64_t n_in, void *dst)
{
	const size_t bytes = rb_row_size(type, n_in);
	fill_random_bytes(dst, bytes);
	const int64_t nb = n_in / rb_type_block_size(type);
	switch (type) {
	case RB_TYPE_Q4_K:
		for (int64_t b = 0; b < nb; b++) {
			((rb_block_q4_k *)dst)[b].d = f16_pow2(-4);
			((rb_block_q4_k *)dst)[b].dmin = f16_pow2(-5);
		}
		break;
	case RB_TYPE_Q5_K:
		for (int64_t b = 0; b < nb; b++) {
			((rb_block_q5_k *)dst)[b].d = f16_pow2(-4);
			((rb_block_q5_k *)dst)[b].dmin = f16_pow2(-5);
		}
		break;
	case RB_TYPE_Q6_K:
		for (int64_t b = 0; b < nb; b++)
			((rb_block_q6_k *)dst)[b].d = f16_pow2(-6);
		break;
	case RB_TYPE_Q8_0:
		for (int64_t b = 0; b < nb; b++)
			((rb_block_q8_0 *)dst)[b].d = f16_pow2(-4);
		break;
	case RB_TYPE_Q5_0:
		for (int64_t b = 0; b < nb; b++)
			((rb_block_q5_0 *)dst)[b].d = f16_pow2(-3);
		break;
	case RB_TYPE_Q4_0:
		for (int64_t b = 0; b < nb; b++)
			((rb_block_q4_0 *)dst)[b].d = f16_pow2(-3);
		break;
	case RB_TYPE_Q4_1:
		for (int64_t b = 0; b < nb; b++) {
			((rb_block_q4_1 *)dst)[b].d = f16_pow2(-3);
			((rb_block_q4_1 *)dst)[b].m = f16_pow2(-1);
		}
		break;
	case RB_TYPE_F16:
		for (int64_t i = 0; i < n_in; i++)
			((rb_f16 *)dst)[i] = rb_f32_to_f16((float)rnd_int(-64, 64) * 0.0625f);
		break;
	case RB_TYPE_BF16:
		for (int64_t i = 0; i < n_in; i++)
			((rb_bf16 *)dst)[i] = rb_f32_to_bf16((float)rnd_int(-64, 64) * 0.0625f);
		break;
	case RB_TYPE_F32:
		for (int64_t i = 0; i < n_in; i++)
			((float *)dst)[i] = (float)rnd_int(-64, 64) * 0.0625f;
		break;
	default:
		break;
	}
}

/* Activations that every 8-bit quantizer represents exactly: q * 2^-7 with
 * |q| <= 31 and one +-127 per 32 elements (so each block's scale is 2^-7). */
static void make_exact_x(int64_t n, float *x)
{
	for (int64_t i = 0; i < n; i++)
		x[i] = (float)rnd_int(-31, 31) / 128.0f;
	for (int64_t b = 0; b < n / 32; b++)
		x[32 * b + rnd_int(0, 31)] = (rnd_int(0, 1) ? 127.0f : -127.0f) / 128.0f;
}

/* ---- helpers ------------------------------------------------------------------- */

typedef struct mat {
	enum rb_type type;
	int64_t n_in, n_out;
	void *data;
	float *deq; /* n_out x n_in dequantized by rb_quant */
} mat;

static void mat_init(mat *m, enum rb_type type, int64_t n_in, int64_t n_out, bool exact)
{
	m->type = type;
	m->n_in = n_in;
	m->n_out = n_out;
	const size_t row = rb_row_size(type, n_in);
	m->data = malloc(row * (size_t)n_out);
	m->deq = malloc(sizeof(float) * (size_t)(n_in * n_out));
	REQUIRE(m->data && m->deq);
	float *tmp = malloc(sizeof(float) * (size_t)n_in);
	REQUIRE(tmp);
	for (int64_t o = 0; o < n_out; o++) {
		void *dst = (uint8_t *)m->data + (size_t)o * row;
		if (exact) {
			make_exact_row(type, n_in, dst);
		} else {
			for (int64_t i = 0; i < n_in; i++)
				tmp[i] = rb_test_rand_f32(&g_seed) * (1.0f + (float)(o % 3));
			REQUIRE(rb_quantize_row(type, tmp, dst, n_in) == RB_OK);
		}
		REQUIRE(rb_dequantize_row(type, dst, m->deq + o * n_in, n_in) == RB_OK);
	}
	free(tmp);
}

static void mat_free(mat *m)
{
	free(m->data);
	free(m->deq);
}

static const float PAD = -12345.0f;

/* y = cpu backend (threads nth), x with stride ldx, y with stride ldy */
static int run_backend(rb_matmul_backend *be, const mat *m, int64_t n_tok, const float *x,
		       int64_t ldx, float *y, int64_t ldy)
{
	rb_weight w = {.name = "test", .type = m->type, .n_in = m->n_in, .n_out = m->n_out,
		       .data = m->data};
	rb_err err = {0};
	int rc = rb_weight_bind(&w, be, &err);
	if (rc != RB_OK) {
		fprintf(stderr, "bind: %s\n", err.msg);
		return rc;
	}
	rc = rb_matmul(&w, n_tok, x, ldx, y, ldy, &err);
	if (rc != RB_OK)
		fprintf(stderr, "matmul: %s\n", err.msg);
	/* a second call on the same weight must give the same answer (scratch reuse) */
	if (rc == RB_OK && n_tok > 1) {
		float *y2 = malloc(sizeof(float) * (size_t)(n_tok * ldy));
		REQUIRE(y2);
		for (int64_t i = 0; i < n_tok * ldy; i++)
			y2[i] = PAD;
		rc = rb_matmul(&w, n_tok - 1, x + ldx, ldx, y2, ldy, &err);
		for (int64_t t = 0; rc == RB_OK && t < n_tok - 1; t++)
			for (int64_t o = 0; o < m->n_out; o++)
				CHECKF(rb_f32_bits(y2[t * ldy + o]) == rb_f32_bits(y[(t + 1) * ldy + o]),
				       "repeat call differs at t %lld o %lld", (long long)t, (long long)o);
		free(y2);
	}
	rb_weight_unbind(&w);
	return rc;
}

/* Exact dot in double of the dequantized row and x (exact for exact data). */
static double exact_dot(const float *w, const float *x, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)w[i] * x[i];
	return s;
}

/* Reference through rb_quant: quantize x to the type's vec_dot_type, scalar dot. */
static float quant_dot(const mat *m, int64_t o, const float *x, void *qbuf)
{
	const rb_type_traits *tr = rb_type_traits_get(m->type);
	const void *act = x;
	if (tr->vec_dot_type != RB_TYPE_F32) {
		REQUIRE(rb_quantize_row(tr->vec_dot_type, x, qbuf, m->n_in) == RB_OK);
		act = qbuf;
	}
	float s;
	tr->vec_dot(m->n_in, &s, (const uint8_t *)m->data + (size_t)o * rb_row_size(m->type, m->n_in),
		    act);
	return s;
}

/* ---- the two checks ------------------------------------------------------------ */

static int g_threads[3] = {1, 2, 3};

static void check_exact(rb_matmul_backend *const *bes, int n_be, enum rb_type type, int64_t n_in,
			int64_t n_out, int64_t n_tok)
{
	mat m;
	mat_init(&m, type, n_in, n_out, true);
	const int64_t ldx = n_in + 3, ldy = n_out + 5;
	float *x = malloc(sizeof(float) * (size_t)(n_tok * ldx));
	float *y = malloc(sizeof(float) * (size_t)(n_tok * ldy));
	REQUIRE(x && y);
	for (int64_t t = 0; t < n_tok; t++)
		make_exact_x(n_in, x + t * ldx);
	void *qbuf = malloc(rb_row_size(RB_TYPE_Q8_K, ((n_in + 255) / 256) * 256) + 64 * 1024);
	REQUIRE(qbuf);
	for (int b = 0; b < n_be; b++) {
		for (int64_t i = 0; i < n_tok * ldy; i++)
			y[i] = PAD;
		REQUIRE(run_backend(bes[b], &m, n_tok, x, ldx, y, ldy) == RB_OK);
		int bad = 0;
		for (int64_t t = 0; t < n_tok && bad < 5; t++) {
			for (int64_t o = 0; o < n_out && bad < 5; o++) {
				const double e = exact_dot(m.deq + o * n_in, x + t * ldx, n_in);
				const float got = y[t * ldy + o];
				if ((double)(float)e != e)
					continue; /* not representable: not an exactness case */
				if (got != (float)e) {
					bad++;
					CHECKF(0, "%s exact: type %s [%lld x %lld] M %lld thread cfg %d: "
						  "t %lld o %lld: got %.9g want %.9g (quant %.9g)",
					       rb_cpu_kernel_name(type), rb_type_name(type),
					       (long long)n_out, (long long)n_in, (long long)n_tok, b,
					       (long long)t, (long long)o, got, e,
					       quant_dot(&m, o, x + t * ldx, qbuf));
				}
			}
			for (int64_t o = n_out; o < ldy; o++)
				CHECKF(y[t * ldy + o] == PAD, "padding of y overwritten");
		}
		rb_test_checks++;
	}
	/* the scalar reference must agree as well (sanity of the exact setup) */
	const float q0 = quant_dot(&m, n_out - 1, x, qbuf);
	CHECKF(q0 == (float)exact_dot(m.deq + (n_out - 1) * n_in, x, n_in),
	       "rb_vec_dot %s exact case: %.9g", rb_type_name(type), q0);
	free(qbuf);
	free(x);
	free(y);
	mat_free(&m);
}

/* Bound of |W x - W q(x)| from the activation quantization error: per 8-bit
 * block |x - x^| <= d / 2 with d = amax / 127 (blocks of 32 or 256). */
static double act_err_bound(const float *w, const float *x, int64_t n, int blk)
{
	double bound = 0;
	for (int64_t b = 0; b < n / blk; b++) {
		float amax = 0;
		double wsum = 0;
		for (int i = 0; i < blk; i++) {
			amax = fmaxf(amax, fabsf(x[b * blk + i]));
			wsum += fabs(w[b * blk + i]);
		}
		/* (1 + 2^-10): the f16 rounding of the Q8_0 scale */
		bound += wsum * (amax / 127.0 * 0.5 * (1.0 + 1.0 / 1024));
	}
	return bound;
}

static void check_random(rb_matmul_backend *const *bes, int n_be, rb_matmul_backend *ref,
			 enum rb_type type, int64_t n_in, int64_t n_out, int64_t n_tok)
{
	mat m;
	mat_init(&m, type, n_in, n_out, false);
	const rb_type_traits *tr = rb_type_traits_get(type);
	const int64_t ldx = n_in, ldy = n_out;
	float *x = malloc(sizeof(float) * (size_t)(n_tok * ldx));
	float *y = malloc(sizeof(float) * (size_t)(n_tok * ldy));
	float *yr = malloc(sizeof(float) * (size_t)(n_tok * ldy));
	REQUIRE(x && y && yr);
	for (int64_t i = 0; i < n_tok * ldx; i++)
		x[i] = rb_test_rand_f32(&g_seed) * (i % 7 == 0 ? 4.0f : 1.0f);
	void *qbuf = malloc(rb_row_size(RB_TYPE_Q8_K, ((n_in + 255) / 256) * 256) + 64 * 1024);
	REQUIRE(qbuf);
	REQUIRE(run_backend(ref, &m, n_tok, x, ldx, yr, ldy) == RB_OK);
	/* ref backend == plain double dot of rb_dequantize_row rows */
	for (int64_t t = 0; t < n_tok; t += 1 + n_tok / 4) {
		const double e = exact_dot(m.deq, x + t * ldx, n_in);
		CHECK_NEAR(yr[t * ldy], e, 1e-6 * fabs(e) + 1e-6);
	}
	const int blk = tr->vec_dot_type == RB_TYPE_Q8_K ? 256 : 32;
	for (int b = 0; b < n_be; b++) {
		REQUIRE(run_backend(bes[b], &m, n_tok, x, ldx, y, ldy) == RB_OK);
		int bad = 0;
		for (int64_t t = 0; t < n_tok && bad < 5; t++) {
			const float *xt = x + t * ldx;
			for (int64_t o = 0; o < n_out && bad < 5; o++) {
				const float *wr = m.deq + o * n_in;
				double mag = 0;
				for (int64_t i = 0; i < n_in; i++)
					mag += fabs((double)wr[i] * xt[i]);
				const float got = y[t * ldy + o];
				/* vs the scalar reference on the same quantized activations:
				 * only float rounding (block sums in another order) */
				const float q = quant_dot(&m, o, xt, qbuf);
				const double tol_q = 1e-5 * mag + 1e-6;
				/* vs float math: plus the activation quantization error */
				const double tol_r = tr->vec_dot_type == RB_TYPE_F32
							     ? tol_q
							     : act_err_bound(wr, xt, n_in, blk) * 1.01 + tol_q;
				if (fabs(got - q) > tol_q || fabs(got - yr[t * ldy + o]) > tol_r) {
					bad++;
					CHECKF(0, "%s random: %s [%lld x %lld] M %lld cfg %d t %lld o %lld: "
						  "got %.9g quant %.9g (tol %.3g) ref %.9g (tol %.3g)",
					       rb_cpu_kernel_name(type), rb_type_name(type),
					       (long long)n_out, (long long)n_in, (long long)n_tok, b,
					       (long long)t, (long long)o, got, q, tol_q,
					       yr[t * ldy + o], tol_r);
				}
			}
		}
		rb_test_checks++;
	}
	free(qbuf);
	free(x);
	free(y);
	free(yr);
	mat_free(&m);
}

/* ---- bad calls ------------------------------------------------------------------- */

static void check_errors(rb_matmul_backend *be)
{
	mat m;
	mat_init(&m, RB_TYPE_Q4_K, 256, 20, true);
	rb_weight w = {.name = "blk.0.bad", .type = m.type, .n_in = m.n_in, .n_out = m.n_out,
		       .data = m.data};
	rb_err err = {0};
	REQUIRE(rb_weight_bind(&w, be, &err) == RB_OK);
	float x[256 * 2] = {0}, y[20 * 2];
	CHECK_EQ_INT(rb_matmul(&w, 1, x, 100, y, 20, &err), RB_E_INVALID); /* ldx < n_in */
	CHECK(strstr(err.msg, "blk.0.bad") != NULL);
	CHECK_EQ_INT(rb_matmul(&w, 1, x, 256, y, 19, &err), RB_E_INVALID); /* ldy < n_out */
	CHECK_EQ_INT(rb_matmul(&w, -1, x, 256, y, 20, &err), RB_E_INVALID);
	CHECK_EQ_INT(rb_matmul(&w, 0, x, 256, y, 20, &err), RB_OK);
	rb_weight_unbind(&w);
	/* a row size that is not a whole number of blocks is refused at bind */
	rb_weight bad = {.name = "odd", .type = RB_TYPE_Q4_K, .n_in = 100, .n_out = 4, .data = m.data};
	CHECK(rb_weight_bind(&bad, be, &err) != RB_OK);
	mat_free(&m);
}

int main(int argc, char **argv)
{
	const bool quick = rb_test_quick();
	const char *variant = NULL;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--variant") == 0)
			variant = argv[i + 1];
	printf("cpu: %s, Q4_K kernels: %s\n", rb_cpu_describe(), rb_cpu_kernel_name(RB_TYPE_Q4_K));
	if (variant) {
		const rb_cpu_features *f = rb_cpu();
		const bool avail = strcmp(variant, "scalar") == 0 ||
				   (strcmp(variant, "avx512vnni") == 0 && f->avx512vnni) ||
				   (strcmp(variant, "avx2") == 0 && f->avx2) ||
				   (strcmp(variant, "neon-dotprod") == 0 && f->dotprod);
		if (avail)
			CHECK_STR(rb_cpu_kernel_name(RB_TYPE_Q4_K), variant);
		else
			printf("variant %s not available on this CPU: testing %s\n", variant,
			       rb_cpu_kernel_name(RB_TYPE_Q4_K));
	}

	rb_err err = {0};
	rb_threadpool *tp[3];
	rb_matmul_backend *bes[3];
	for (int i = 0; i < 3; i++) {
		tp[i] = g_threads[i] > 1 ? rb_threadpool_create(g_threads[i]) : NULL;
		REQUIRE(g_threads[i] == 1 || tp[i]);
		bes[i] = rb_cpu_backend_create(tp[i], &err);
		REQUIRE(bes[i]);
	}
	rb_matmul_backend *ref = rb_ref_backend_create(tp[1], &err);
	REQUIRE(ref);

	const enum rb_type packed[] = {RB_TYPE_Q4_K, RB_TYPE_Q6_K, RB_TYPE_Q8_0, RB_TYPE_Q5_0,
				       RB_TYPE_Q4_0, RB_TYPE_F16, RB_TYPE_F32};
	/* Q4_1 is not in the exact set: Q8_1 stores s = d * sum(q) as f16 */
	const enum rb_type generic[] = {RB_TYPE_Q5_K, RB_TYPE_BF16, RB_TYPE_Q4_1};
	const int64_t toks_full[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 64};
	const int64_t toks_quick[] = {1, 3, 8, 9, 17};
	const int64_t *toks = quick ? toks_quick : toks_full;
	const int n_toks = quick ? 5 : 15;

	for (size_t ti = 0; ti < sizeof(packed) / sizeof(packed[0]); ti++) {
		const enum rb_type type = packed[ti];
		const int64_t kq = rb_type_block_size(type) >= 256 ? 256 : 32;
		for (int i = 0; i < n_toks; i++) {
			const int64_t n_out = (int64_t[]){1, 15, 17, 33, 40}[i % 5];
			const int64_t n_in = kq * (1 + i % 3) * (kq == 32 ? 3 : 1);
			check_exact(bes, 3, type, n_in, n_out, toks[i]);
		}
		/* float panels take any K: odd ones exercise the SIMD tails */
		if (rb_type_block_size(type) == 1) {
			check_exact(bes, 3, type, 37, 19, 3);
			check_exact(bes, 3, type, 101, 16, 9);
		}
		/* a larger shape, once per type */
		check_exact(bes, 3, type, quick ? 512 : 1536, quick ? 37 : 100, quick ? 20 : 70);
		for (int i = 0; i < (quick ? 2 : 4); i++) {
			const int64_t n_tok = (int64_t[]){1, 7, 16, 33}[i];
			check_random(bes, 3, ref, type, kq * (kq == 32 ? 24 : 3), 19 + 16 * i, n_tok);
		}
	}
	for (size_t ti = 0; ti < sizeof(generic) / sizeof(generic[0]); ti++) {
		if (generic[ti] != RB_TYPE_Q4_1)
			check_exact(bes, 3, generic[ti], 512, 9, 5);
		check_random(bes, 3, ref, generic[ti], 512, 9, 5);
	}
	check_errors(bes[0]);

	rb_cpu_backend_destroy(ref);
	for (int i = 0; i < 3; i++) {
		rb_cpu_backend_destroy(bes[i]);
		rb_threadpool_destroy(tp[i]);
	}
	return rb_test_finish();
}
