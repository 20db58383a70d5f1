/* SPDX-License-Identifier: MIT */
/* Weights that share their input (share_input, matmul_shared: a layer's
 * q | k | v as one resident weight and one NPU call) against the same
 * weights run one by one on the same backend. Per-channel weight scales
 * and per-token activation scales do not depend on what else is in the
 * call, so the answers must be identical, bit for bit, for every format
 * (int8, two int8 passes, fp16); also for a member called alone (the
 * other members' columns are computed and dropped), a subset in another
 * order, calls below min_tokens (the fallback's answers), and weights that
 * cannot share (left alone). */
#include "npb_util.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/npu_backend.h"

#define N_W 3

typedef struct setup {
	rb_matmul_backend *cpu, *npu;
	npb_weight w[N_W];
	int64_t K, ld[N_W];
} setup;

static void run_one(rb_weight *w, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy)
{
	rb_err err = {0};
	CHECKF(rb_matmul(w, n, x, ldx, y, ldy, &err) == RB_OK, "%s", err.msg);
}

static rb_npu_backend_stats stats(const rb_matmul_backend *b)
{
	rb_npu_backend_stats s;
	rb_npu_backend_get_stats(b, &s);
	return s;
}

static void check_format(setup *su, const char *what, int64_t n, unsigned passes)
{
	const int64_t K = su->K, ldx = K + 5;
	float *x = npb_acts(n, K, ldx, 99);
	float *sep[N_W], *got[N_W];
	rb_weight bound[N_W];
	rb_err err = {0};
	for (int i = 0; i < N_W; i++) {
		const size_t bytes = (size_t)n * (size_t)su->ld[i] * sizeof(float);
		sep[i] = malloc(bytes);
		got[i] = malloc(bytes);
		REQUIRE(sep[i] && got[i]);
		bound[i] = su->w[i].w;
		REQUIRE(rb_weight_bind(&bound[i], su->npu, &err) == RB_OK);
		run_one(&bound[i], n, x, ldx, sep[i], su->ld[i]);
	}
	rb_weight *ws[N_W] = {&bound[0], &bound[1], &bound[2]};
	const rb_npu_backend_stats s0 = stats(su->npu);
	CHECK_EQ_INT(rb_weights_share_input(ws, N_W, &err), RB_OK);
	const rb_npu_backend_stats s1 = stats(su->npu);
	CHECK_EQ_INT(s1.shared_groups - s0.shared_groups, 1);
	CHECK_EQ_INT(s1.weights_shared - s0.weights_shared, N_W);
	CHECK_EQ_INT(s1.weights_npu, s0.weights_npu);
	CHECK_EQ_INT(s1.npu_weight_bytes, s0.npu_weight_bytes);

	/* all three in one call */
	for (int i = 0; i < N_W; i++)
		for (int64_t j = 0; j < n * su->ld[i]; j++)
			got[i][j] = -777.0f; /* the padding columns must survive */
	const rb_weight *cws[N_W] = {&bound[0], &bound[1], &bound[2]};
	int rc = rb_matmul_shared(cws, N_W, n, x, ldx, got, su->ld, &err);
	CHECKF(rc == RB_OK, "%s: %s", what, err.msg);
	const rb_npu_backend_stats s2 = stats(su->npu);
	CHECK_EQ_INT(s2.npu_jobs - s1.npu_jobs, passes);
	CHECK_EQ_INT(s2.npu_calls - s1.npu_calls, N_W);
	CHECK_EQ_INT(s2.calls - s1.calls, N_W);
	CHECK_EQ_INT(s2.fallback_calls - s1.fallback_calls, 0);
	CHECK(s2.verified_outputs > s1.verified_outputs);
	for (int i = 0; i < N_W; i++) {
		long bad = 0, pad = 0;
		for (int64_t t = 0; t < n; t++)
			for (int64_t o = 0; o < su->ld[i]; o++) {
				const float a = got[i][t * su->ld[i] + o];
				if (o >= bound[i].n_out)
					pad += a != -777.0f;
				else
					bad += memcmp(&a, &sep[i][t * su->ld[i] + o], sizeof(a)) != 0;
			}
		CHECKF(bad == 0 && pad == 0, "%s: weight %d shared: %ld outputs differ from the "
		       "separate call, %ld padding values written", what, i, bad, pad);
	}
	/* a member alone, and two members in another order */
	float *one = got[1];
	run_one(&bound[1], n, x, ldx, one, su->ld[1]);
	CHECKF(!memcmp(one, sep[1], (size_t)n * (size_t)su->ld[1] * sizeof(float)) ||
	       (bound[1].n_out < su->ld[1]), "%s: member alone", what);
	long bad = 0;
	for (int64_t t = 0; t < n; t++)
		bad += memcmp(one + t * su->ld[1], sep[1] + t * su->ld[1],
			      (size_t)bound[1].n_out * sizeof(float)) != 0;
	CHECKF(bad == 0, "%s: the member called alone differs in %ld rows", what, bad);
	const rb_weight *pair[2] = {&bound[2], &bound[0]};
	float *pair_y[2] = {got[2], got[0]};
	const int64_t pair_ld[2] = {su->ld[2], su->ld[0]};
	const rb_npu_backend_stats s3 = stats(su->npu);
	CHECK_EQ_INT(rb_matmul_shared(pair, 2, n, x, ldx, pair_y, pair_ld, &err), RB_OK);
	CHECK_EQ_INT(stats(su->npu).npu_jobs - s3.npu_jobs, passes);
	for (int i = 0; i < N_W; i += 2) {
		bad = 0;
		for (int64_t t = 0; t < n; t++)
			bad += memcmp(got[i] + t * su->ld[i], sep[i] + t * su->ld[i],
				      (size_t)bound[i].n_out * sizeof(float)) != 0;
		CHECKF(bad == 0, "%s: weight %d in a reordered subset differs in %ld rows", what, i,
		       bad);
	}
	/* below min_tokens: each weight's fallback */
	const int64_t few = 3;
	CHECK_EQ_INT(rb_matmul_shared(cws, N_W, few, x, ldx, got, su->ld, &err), RB_OK);
	for (int i = 0; i < N_W; i++) {
		rb_weight wc = su->w[i].w;
		REQUIRE(rb_weight_bind(&wc, su->cpu, &err) == RB_OK);
		run_one(&wc, few, x, ldx, sep[i], su->ld[i]);
		rb_weight_unbind(&wc);
		bad = 0;
		for (int64_t t = 0; t < few; t++)
			bad += memcmp(got[i] + t * su->ld[i], sep[i] + t * su->ld[i],
				      (size_t)bound[i].n_out * sizeof(float)) != 0;
		CHECKF(bad == 0, "%s: small shared call, weight %d is not the fallback's", what, i);
	}
	/* released in any order: the group goes with its last member */
	rb_weight_unbind(&bound[1]);
	run_one(&bound[0], n, x, ldx, got[0], su->ld[0]); /* still on the NPU */
	rb_weight_unbind(&bound[0]);
	rb_weight_unbind(&bound[2]);
	const rb_npu_backend_stats s4 = stats(su->npu);
	CHECK_EQ_INT(s4.weights_npu, 0);
	CHECK_EQ_INT(s4.weights_shared, 0);
	CHECK_EQ_INT(s4.shared_groups, 0);
	CHECK_EQ_INT(s4.npu_weight_bytes, 0);
	for (int i = 0; i < N_W; i++) {
		free(sep[i]);
		free(got[i]);
	}
	free(x);
}

static rb_matmul_backend *make_npu(rb_matmul_backend *cpu, rb_threadpool *tp,
				   enum rb_npu_weight_format format, bool act16)
{
	rb_npu_backend_params p = rb_npu_backend_default_params();
	p.fallback = cpu;
	p.tp = tp;
	p.sim = true;
	p.format = format;
	p.act_residual = act16;
	rb_err err = {0};
	rb_matmul_backend *b = rb_npu_backend_create(&p, &err);
	REQUIRE(b);
	return b;
}

int main(void)
{
	const bool quick = rb_test_quick();
	rb_err err = {0};
	rb_threadpool *tp = rb_threadpool_create(2);
	REQUIRE(tp);
	rb_matmul_backend *cpu = rb_cpu_backend_create(tp, &err);
	REQUIRE(cpu);
	setup su = {.cpu = cpu, .K = quick ? 256 : 1536};
	/* q | k | v of a Qwen2.5-shaped layer (k, v smaller), mixed GGUF types;
	 * odd row counts so that member edges cut kernel groups and atoms */
	const int64_t n_out[N_W] = {quick ? 97 : 1536, 33, quick ? 50 : 256};
	const enum rb_type types[N_W] = {RB_TYPE_Q4_K, RB_TYPE_Q8_0, RB_TYPE_Q6_K};
	for (int i = 0; i < N_W; i++) {
		npb_weight_make(&su.w[i], types[i], su.K, n_out[i], 40 + (uint64_t)i);
		su.ld[i] = n_out[i] + 2;
	}
	const int64_t n = quick ? 35 : 64;
	su.npu = make_npu(cpu, tp, RB_NPU_WEIGHTS_INT8, false);
	check_format(&su, "int8", n, 1);
	rb_npu_backend_print_stats(su.npu, stdout);
	rb_npu_backend_destroy(su.npu);
	su.npu = make_npu(cpu, tp, RB_NPU_WEIGHTS_INT8, true);
	check_format(&su, "int8 act16", n, 2);
	rb_npu_backend_destroy(su.npu);
	su.npu = make_npu(cpu, tp, RB_NPU_WEIGHTS_FP16, false);
	check_format(&su, "fp16", n, 1);
	rb_npu_backend_destroy(su.npu);

	/* Weights that cannot share: other n_in, another backend, one weight. */
	su.npu = make_npu(cpu, tp, RB_NPU_WEIGHTS_INT8, false);
	npb_weight other;
	npb_weight_make(&other, RB_TYPE_Q8_0, su.K + 32, 40, 50);
	rb_weight a = su.w[0].w, b = other.w, c = su.w[1].w;
	REQUIRE(rb_weight_bind(&a, su.npu, &err) == RB_OK);
	REQUIRE(rb_weight_bind(&b, su.npu, &err) == RB_OK);
	REQUIRE(rb_weight_bind(&c, cpu, &err) == RB_OK);
	rb_weight *ab[2] = {&a, &b}, *ac[2] = {&a, &c}, *aa[2] = {&a, &a};
	CHECK_EQ_INT(rb_weights_share_input(ab, 2, &err), RB_OK);
	CHECK_EQ_INT(rb_weights_share_input(ac, 2, &err), RB_OK);
	CHECK_EQ_INT(rb_weights_share_input(aa, 2, &err), RB_OK);
	CHECK_EQ_INT(rb_weights_share_input(ab, 1, &err), RB_OK);
	CHECK_EQ_INT(rb_weights_share_input(ab, 5, &err), RB_E_INVALID);
	CHECK_EQ_INT(stats(su.npu).shared_groups, 0);
	float *x = npb_acts(n, su.K + 32, su.K + 32, 5), *y[2];
	y[0] = malloc((size_t)n * (size_t)n_out[0] * sizeof(float));
	y[1] = malloc((size_t)n * 40 * sizeof(float));
	REQUIRE(y[0] && y[1]);
	const rb_weight *cab[2] = {&a, &c};
	const int64_t lds[2] = {n_out[0], 40};
	/* mixed backends: not one call, the caller runs them one by one */
	CHECK_EQ_INT(rb_matmul_shared(cab, 2, n, x, su.K, y, lds, &err), RB_E_UNSUPPORTED);
	rb_weight_unbind(&a);
	rb_weight_unbind(&b);
	rb_weight_unbind(&c);
	free(x);
	free(y[0]);
	free(y[1]);
	npb_weight_free(&other);
	rb_npu_backend_destroy(su.npu);

	for (int i = 0; i < N_W; i++)
		npb_weight_free(&su.w[i]);
	rb_cpu_backend_destroy(cpu);
	rb_threadpool_destroy(tp);
	return rb_test_finish();
}
