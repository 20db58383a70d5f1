/* SPDX-License-Identifier: MIT */
/* The npu backend on the in-process simulator against independent
 * references, for every weight type the model uses and odd shapes:
 *
 *  1. the int8 recipe written out in the test (per-channel weights,
 *     per-token activations, exact integer dot, one scaling): bit-exact, so
 *     layouts, strides, K slices, N chunks, M tiles and the scaling are right;
 *  2. the "ref" backend (dequantized weights, float activations, double
 *     sums): within the bound the int8 quantization allows, per output
 *        |y - y_ref| <= (max|w_o| sum_k |x_tk| + max|x_t| sum_k |w^_ok|) / 254
 *     (each rounding moves a value by at most half its step d = max / 127),
 *     and the measured RMS error near the uniform-rounding prediction;
 *  3. n_tokens below min_tokens: bit-identical to the fallback ("cpu");
 *  4. fp16 weights: within the fp16 rounding bound of the ref backend;
 *  5. act_residual (two int8 passes over the activations): 1 and 2 with the
 *     residual's step d_r = max|x - d_x a| / 127 in place of d_x. */
#include <float.h>
#include <math.h>

#include "npb_util.h"
#include "npu/npu_sim.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/fp16.h"
#include "rosenblatt/npu_backend.h"

typedef struct fixture {
	rb_threadpool *tp;
	rb_matmul_backend *cpu, *ref, *npu, *npu16, *npu2;
} fixture;

static double rms_ratio_sum_err, rms_ratio_sum_pred; /* over every int8 case (one pass) */

static int64_t ld_pad(int64_t n) { return n + 3; }

/* Run b on w for n tokens of x (stride ldx) into a fresh y (stride ldy,
 * padding filled with a sentinel that must survive). */
static float *run(const rb_matmul_backend *b, npb_weight *nw, int64_t n, const float *x,
		  int64_t ldx, int64_t ldy)
{
	rb_weight w = nw->w;
	rb_err err = {0};
	REQUIRE(b->supports(b->ctx, &w));
	REQUIRE(rb_weight_bind(&w, b, &err) == RB_OK);
	float *y = malloc((size_t)(n > 0 ? n : 1) * (size_t)ldy * sizeof(float));
	REQUIRE(y);
	for (int64_t i = 0; i < n * ldy; i++)
		y[i] = -12345.0f;
	const int rc = rb_matmul(&w, n, x, ldx, y, ldy, &err);
	CHECKF(rc == RB_OK, "%s: %s", b->name, err.msg);
	for (int64_t t = 0; t < n; t++)
		for (int64_t o = w.n_out; o < ldy; o++)
			CHECKF(y[t * ldy + o] == -12345.0f, "%s wrote padding y[%lld][%lld]", b->name,
			       (long long)t, (long long)o);
	rb_weight_unbind(&w);
	return y;
}

/* 1: the recipe, bit for bit. With `residual` (act_residual), the
 * activations' rounding residual r = x - d_x a is quantized the same way and
 * y = acc * (d_x d_w) + acc_r * (d_r d_w). */
static void check_recipe(const npb_weight *nw, int64_t n, const float *x, int64_t ldx,
			 const float *y, int64_t ldy, bool residual, const char *what)
{
	const int64_t K = nw->w.n_in, N = nw->w.n_out;
	int8_t *qw = malloc((size_t)K * (size_t)N), *qx = malloc((size_t)K * (size_t)n);
	int8_t *qr = malloc((size_t)K * (size_t)n);
	float *dw = malloc((size_t)N * sizeof(float)), *dx = malloc((size_t)n * sizeof(float));
	float *dr = malloc((size_t)n * sizeof(float)), *r = malloc((size_t)K * sizeof(float));
	REQUIRE(qw && qx && qr && dw && dx && dr && r);
	for (int64_t o = 0; o < N; o++)
		dw[o] = npb_q8_row(nw->f + o * K, K, qw + o * K);
	for (int64_t t = 0; t < n; t++) {
		dx[t] = npb_q8_row(x + t * ldx, K, qx + t * K);
		for (int64_t i = 0; i < K; i++) {
			const float v = dx[t] * (float)qx[t * K + i];
			r[i] = x[t * ldx + i] - v;
		}
		dr[t] = npb_q8_row(r, K, qr + t * K);
	}
	int64_t bad = 0;
	for (int64_t t = 0; t < n; t++)
		for (int64_t o = 0; o < N; o++) {
			int64_t acc = 0, acc_r = 0;
			for (int64_t i = 0; i < K; i++) {
				acc += (int64_t)qw[o * K + i] * qx[t * K + i];
				acc_r += (int64_t)qw[o * K + i] * qr[t * K + i];
			}
			float want = (float)(int32_t)acc * (dx[t] * dw[o]);
			if (residual) {
				const float b = (float)(int32_t)acc_r * (dr[t] * dw[o]);
				want = want + b;
			}
			if (y[t * ldy + o] != want && bad++ < 3)
				fprintf(stderr, "%s: y[%lld][%lld] = %.9g, recipe %.9g\n", what,
					(long long)t, (long long)o, y[t * ldy + o], want);
		}
	CHECKF(bad == 0, "%s: %lld outputs differ from the int8 recipe", what, (long long)bad);
	free(qw);
	free(qx);
	free(qr);
	free(dw);
	free(dx);
	free(dr);
	free(r);
}

/* 2: the int8 error bound against the ref backend, and the RMS error. */
static void check_bound(const npb_weight *nw, int64_t n, const float *x, int64_t ldx,
			const float *y, const float *yref, int64_t ldy, bool residual,
			const char *what)
{
	const int64_t K = nw->w.n_in, N = nw->w.n_out;
	int8_t *q = malloc((size_t)K), *qa = malloc((size_t)K);
	float *r = malloc((size_t)K * sizeof(float)), *xstep = malloc((size_t)n * sizeof(float));
	REQUIRE(q && qa && r && xstep);
	/* the activations' rounding step: d_x, or with residual passes d_r */
	for (int64_t t = 0; t < n; t++) {
		const float dx = npb_q8_row(x + t * ldx, K, qa);
		xstep[t] = dx;
		if (residual) {
			for (int64_t i = 0; i < K; i++) {
				const float v = dx * (float)qa[i];
				r[i] = x[t * ldx + i] - v;
			}
			xstep[t] = npb_q8_row(r, K, qa);
		}
	}
	int64_t bad = 0;
	double err2 = 0, pred2 = 0, worst = 0;
	for (int64_t o = 0; o < N; o++) {
		const float *w = nw->f + o * K;
		const float dw = npb_q8_row(w, K, q);
		double w_max = 0, what_abs = 0, what2 = 0;
		for (int64_t i = 0; i < K; i++) {
			w_max = fmax(w_max, fabs(w[i]));
			what_abs += fabs((double)q[i] * dw);
			what2 += ((double)q[i] * dw) * ((double)q[i] * dw);
		}
		for (int64_t t = 0; t < n; t++) {
			const float *xt = x + t * ldx;
			double x_max = 0, x_abs = 0, x2 = 0, mag = 0;
			for (int64_t i = 0; i < K; i++) {
				x_max = fmax(x_max, fabs(xt[i]));
				x_abs += fabs(xt[i]);
				x2 += (double)xt[i] * xt[i];
				mag += fabs((double)w[i] * xt[i]);
			}
			/* |w^ - w| <= d_w / 2, |x^ - x| <= step / 2; then the float
			 * rounding of the result and of ref's own result */
			const double bound = (w_max * x_abs / 127.0 + xstep[t] * what_abs) / 2.0 +
					     1e-6 * mag + 1e-30;
			const double e = (double)y[t * ldy + o] - yref[t * ldy + o];
			if (!(fabs(e) <= bound) && bad++ < 3)
				fprintf(stderr, "%s: y[%lld][%lld] = %.9g, ref %.9g, |diff| %.3g > bound %.3g\n",
					what, (long long)t, (long long)o, y[t * ldy + o], yref[t * ldy + o],
					fabs(e), bound);
			worst = fmax(worst, fabs(e) / bound);
			/* uniform rounding: variance step^2 / 12 per rounded value */
			const double dx = xstep[t];
			(void)x_max;
			err2 += e * e;
			pred2 += (x2 * (double)dw * dw + what2 * dx * dx) / 12.0;
		}
	}
	CHECKF(bad == 0, "%s: %lld outputs beyond the int8 bound", what, (long long)bad);
	/* Rounding errors are unbiased and independent: the RMS error must sit
	 * near the prediction (a bias, a wrong scale or a dropped rounding would
	 * move it well above). */
	const double ratio = pred2 > 0 ? sqrt(err2 / pred2) : 0;
	CHECKF(ratio < 1.5, "%s: RMS error %.3g x the uniform-rounding prediction", what, ratio);
	if (!residual) {
		rms_ratio_sum_err += err2;
		rms_ratio_sum_pred += pred2;
	}
	printf("  %-40s worst |diff|/bound %.3f, RMS error / predicted %.3f\n", what, worst, ratio);
	free(q);
	free(qa);
	free(r);
	free(xstep);
}

/* 4: fp16 operands: each rounded to 11 significant bits (2^-25 absolute in
 * the subnormal range), fp32 accumulation (at most K * 2^-24 of sum |a w|). */
static void check_fp16(const npb_weight *nw, int64_t n, const float *x, int64_t ldx,
		       const float *y, const float *yref, int64_t ldy, const char *what)
{
	const int64_t K = nw->w.n_in, N = nw->w.n_out;
	int64_t bad = 0;
	for (int64_t t = 0; t < n; t++)
		for (int64_t o = 0; o < N; o++) {
			double bound = 0, mag = 0;
			for (int64_t i = 0; i < K; i++) {
				const double w = fabs(nw->f[o * K + i]), a = fabs(x[t * ldx + i]);
				const double ew = fmax(w * 0x1p-11, 0x1p-25), ea = fmax(a * 0x1p-11, 0x1p-25);
				bound += ew * (a + ea) + w * ea;
				mag += (w + ew) * (a + ea);
			}
			bound += (double)K * 0x1p-24 * mag + 0x1p-24 * fabs(yref[t * ldy + o]) + 1e-30;
			const double e = fabs((double)y[t * ldy + o] - yref[t * ldy + o]);
			if (!(e <= bound) && bad++ < 3)
				fprintf(stderr, "%s: y[%lld][%lld] = %.9g, ref %.9g (bound %.3g)\n", what,
					(long long)t, (long long)o, y[t * ldy + o], yref[t * ldy + o], bound);
		}
	CHECKF(bad == 0, "%s: %lld outputs beyond the fp16 bound", what, (long long)bad);
}

static void run_case(fixture *fx, enum rb_type type, int64_t K, int64_t N, int64_t n,
		     uint64_t seed)
{
	char what[96];
	snprintf(what, sizeof(what), "%s K=%lld N=%lld tokens=%lld", rb_type_name(type),
		 (long long)K, (long long)N, (long long)n);
	npb_weight nw;
	npb_weight_make(&nw, type, K, N, seed);
	const int64_t ldx = ld_pad(K), ldy = ld_pad(N);
	float *x = npb_acts(n, K, ldx, seed ^ 0x5555);

	rb_npu_backend_stats s0, s1;
	rb_npu_backend_get_stats(fx->npu, &s0);
	float *y = run(fx->npu, &nw, n, x, ldx, ldy);
	rb_npu_backend_get_stats(fx->npu, &s1);
	float *yref = run(fx->ref, &nw, n, x, ldx, ldy);

	if (n < 32) {
		/* 3: the fallback, untouched */
		float *ycpu = run(fx->cpu, &nw, n, x, ldx, ldy);
		CHECKF(memcmp(y, ycpu, (size_t)n * (size_t)ldy * sizeof(float)) == 0,
		       "%s: the small call is not the fallback's answer", what);
		CHECK_EQ_INT(s1.small_calls - s0.small_calls, 1);
		CHECK_EQ_INT(s1.npu_calls - s0.npu_calls, 0);
		free(ycpu);
	} else {
		CHECK_EQ_INT(s1.npu_calls - s0.npu_calls, 1);
		CHECK_EQ_INT(s1.fallback_calls - s0.fallback_calls, 0);
		CHECK_EQ_INT(s1.npu_macs - s0.npu_macs, n * K * N);
		CHECK(s1.verified_outputs > s0.verified_outputs);
		CHECK(s1.sim_tasks > s0.sim_tasks);
		check_recipe(&nw, n, x, ldx, y, ldy, false, what);
		check_bound(&nw, n, x, ldx, y, yref, ldy, false, what);
		if (fx->npu2) {
			float *y2 = run(fx->npu2, &nw, n, x, ldx, ldy);
			char w2[112];
			snprintf(w2, sizeof(w2), "%s act16", what);
			check_recipe(&nw, n, x, ldx, y2, ldy, true, w2);
			check_bound(&nw, n, x, ldx, y2, yref, ldy, true, w2);
			free(y2);
		}
		if (fx->npu16) {
			float *y16 = run(fx->npu16, &nw, n, x, ldx, ldy);
			char w16[112];
			snprintf(w16, sizeof(w16), "%s fp16", what);
			check_fp16(&nw, n, x, ldx, y16, yref, ldy, w16);
			free(y16);
		}
	}
	free(y);
	free(yref);
	free(x);
	npb_weight_free(&nw);
}

int main(void)
{
	const int quick = rb_test_quick();
	rb_err err = {0};
	fixture fx = {0};
	fx.tp = rb_threadpool_create(2);
	REQUIRE(fx.tp);
	fx.cpu = rb_cpu_backend_create(fx.tp, &err);
	fx.ref = rb_ref_backend_create(fx.tp, &err);
	REQUIRE(fx.cpu && fx.ref);

	rb_npu_backend_params p = rb_npu_backend_default_params();
	p.fallback = fx.cpu;
	p.tp = fx.tp;
	p.sim = true;
	fx.npu = rb_npu_backend_create(&p, &err);
	REQUIRE(fx.npu);
	CHECK(rb_is_npu_backend(fx.npu));
	CHECK(!rb_is_npu_backend(fx.cpu));
	CHECK_STR(fx.npu->name, "npu");
	CHECK_STR(rb_npu_backend_device_name(fx.npu), "sim");
	p.act_residual = true;
	fx.npu2 = rb_npu_backend_create(&p, &err);
	REQUIRE(fx.npu2);
	p.act_residual = false;
	p.format = RB_NPU_WEIGHTS_FP16;
	fx.npu16 = rb_npu_backend_create(&p, &err);
	REQUIRE(fx.npu16);

	/* Types the model uses, then others through to_float. n_in must be a
	 * multiple of the type's block (256 for K-quants, 32 for the legacy). */
	const enum rb_type types[] = {RB_TYPE_Q4_K, RB_TYPE_Q6_K, RB_TYPE_Q8_0, RB_TYPE_Q5_0,
				      RB_TYPE_F16,  RB_TYPE_F32,  RB_TYPE_Q4_0, RB_TYPE_BF16,
				      RB_TYPE_Q5_K};
	uint64_t seed = 1;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const enum rb_type t = types[i];
		const int64_t blk = rb_type_block_size(t);
		const int64_t K = blk >= 256 ? 512 : blk == 32 ? 96 : 77;
		run_case(&fx, t, K, 45, 1, seed++);   /* decode: the fallback */
		run_case(&fx, t, K, 45, 32, seed++);  /* the threshold itself: the NPU */
		if (!quick || t == RB_TYPE_Q4_K || t == RB_TYPE_F32)
			run_case(&fx, t, K, 33, 37, seed++);
	}
	/* Shapes that exercise the planner: K slices (K > 4096), several M tiles,
	 * all three contexts, N not a multiple of 32, K not of 32 (f32). */
	run_case(&fx, RB_TYPE_Q4_K, 4352, 40, 33, seed++);
	run_case(&fx, RB_TYPE_F32, 1, 7, 40, seed++);
	run_case(&fx, RB_TYPE_F16, 33, 1, 32, seed++);
	if (!quick) {
		run_case(&fx, RB_TYPE_Q4_K, 4352, 70, 130, seed++);  /* 2 slices x 2 tiles */
		run_case(&fx, RB_TYPE_Q6_K, 1536, 256, 64, seed++);  /* Qwen2.5 K/V shape */
		run_case(&fx, RB_TYPE_Q8_0, 64, 12352, 33, seed++);  /* N chunks of 4096 per core */
		run_case(&fx, RB_TYPE_Q4_K, 256, 97, 300, seed++);
	}
	printf("int8 RMS error over all cases: %.3f x the uniform-rounding prediction\n",
	       sqrt(rms_ratio_sum_err / rms_ratio_sum_pred));

	/* supports(): the planner's limits and the types without to_float. */
	rb_weight big = {.name = "output.weight", .type = RB_TYPE_Q8_0, .n_in = 1536,
			 .n_out = 151936, .data = &big};
	CHECK(!fx.npu->supports(fx.npu->ctx, &big));
	big.n_out = 1536;
	CHECK(fx.npu->supports(fx.npu->ctx, &big));
	big.type = RB_TYPE_Q8_K; /* an activation type: no to_float weights */
	CHECK(!fx.npu->supports(fx.npu->ctx, &big) || rb_type_traits_get(RB_TYPE_Q8_K)->to_float);
	big.type = RB_TYPE_Q4_K;
	big.n_in = 100; /* not a whole number of blocks */
	CHECK(!fx.npu->supports(fx.npu->ctx, &big));

	rb_npu_backend_stats s;
	rb_npu_backend_get_stats(fx.npu, &s);
	CHECK(s.sim);
	CHECK_EQ_INT(s.weights_npu, 0); /* every weight was released */
	CHECK_EQ_INT(s.npu_weight_bytes, 0);
	CHECK_EQ_INT(s.fallback_calls, 0);
	CHECK(s.plan_cycles > 0 && s.plan_clock_hz > 0);
	/* libnpu's phases are parts of the npu_gemm_run time */
	const double parts = s.t_pack + s.t_submit + s.t_wait + s.t_unpack;
	CHECKF(s.t_wait > 0 && s.t_pack > 0 && parts <= s.t_gemm * 1.0001 + 1e-6,
	       "phases %.6f of npu_gemm_run %.6f", parts, s.t_gemm);
	rb_npu_backend_print_stats(fx.npu, stdout);
	rb_npu_backend_reset_stats(fx.npu);
	rb_npu_backend_get_stats(fx.npu, &s);
	CHECK_EQ_INT(s.calls, 0);
	CHECK_EQ_INT(s.sim_tasks, 0);

	rb_npu_backend_destroy(fx.npu16);
	rb_npu_backend_destroy(fx.npu2);
	rb_npu_backend_destroy(fx.npu);
	rb_cpu_backend_destroy(fx.ref);
	rb_cpu_backend_destroy(fx.cpu);
	rb_threadpool_destroy(fx.tp);
	return rb_test_finish();
}
