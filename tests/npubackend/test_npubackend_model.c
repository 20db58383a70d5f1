/* SPDX-License-Identifier: MIT */
/* End to end: a small synthetic qwen2 model (tests/model's builder: Q4_K /
 * Q8_0 matrices, GQA, biases, tied embeddings) run with the backend list
 * [npu (simulator), cpu] against the same model on [cpu] alone and against
 * the double-precision reference forward pass of the model tests.
 *
 * Error measure (as tests/model/test_forward.c): max |logit - other| over
 * the vocabulary divided by the RMS of the other's logits, per position.
 * Bounds: the cpu backend alone stays within 1.2e-1 of the reference
 * (test_forward's bound: 8-bit activations per 32-block). The npu backend
 * adds per-channel int8 weights and per-token int8 activations (each value
 * moves by at most 1/254 of its row's or token's largest magnitude): we
 * allow 1.5e-1 against the reference and against the cpu backend (measured
 * 0.08 for both, printed; the cpu backend alone measures 0.04-0.06 against
 * the reference). A wrong layout, scale or routing errs by order 1.
 *
 * With act_residual (activations in two int8 passes, ~16 bits) only the
 * int8 weights remain: 8e-2 against the reference (measured 0.042, below
 * the cpu backend's 0.061).
 *
 * Greedy decoding after an NPU prefill must pick the cpu backend's tokens
 * wherever the cpu's top-2 logit margin exceeds twice the largest logit
 * difference measured in prefill; closer calls are reported, not asserted. */
#include <stdlib.h>
#include <string.h>

#include "model_builder.h"
#include "ref_forward.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/model.h"
#include "rosenblatt/npu_backend.h"
#include "test.h"

#define TOL_REF 1.5e-1
#define TOL_REF_ACT16 8e-2
#define TOL_CPU 1.5e-1

typedef struct run {
	rb_model *m;
	rb_session *s;
} run;

static void open_run(run *r, const void *file, size_t size, const rb_matmul_backend *const *list,
		     int n, rb_threadpool *tp, int64_t n_ctx)
{
	rb_err err = {0};
	rb_gguf *g;
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	rb_model_params mp = {.backends = list, .n_backends = n};
	if (rb_model_load_gguf(g, &mp, &r->m, &err) != RB_OK) {
		fprintf(stderr, "load: %s\n", err.msg);
		exit(1);
	}
	rb_session_params sp = rb_session_default_params();
	sp.n_ctx = n_ctx;
	sp.kv_type = RB_TYPE_F32;
	sp.logits_all = true;
	sp.tp = tp;
	REQUIRE(rb_session_create(r->m, &sp, &r->s, &err) == RB_OK);
}

static void close_run(run *r)
{
	rb_session_free(r->s);
	rb_model_free(r->m);
}

static double rel_err(const float *a, const double *b, int64_t n)
{
	double ss = 0, mx = 0;
	for (int64_t i = 0; i < n; i++) {
		ss += b[i] * b[i];
		const double d = fabs((double)a[i] - b[i]);
		mx = d > mx || d != d ? d : mx;
	}
	return mx / sqrt(ss / (double)n + 1e-30);
}

static int64_t argmax(const float *v, int64_t n, float *margin)
{
	int64_t best = 0, second = -1;
	for (int64_t i = 1; i < n; i++) {
		if (v[i] > v[best]) {
			second = best;
			best = i;
		} else if (second < 0 || v[i] > v[second]) {
			second = i;
		}
	}
	*margin = v[best] - v[second];
	return best;
}

static void run_model(const char *label, enum rb_type wtype, rb_threadpool *tp,
		      const rb_matmul_backend *cpu, rb_matmul_backend *npu, int64_t T, int steps,
		      double tol_ref)
{
	struct tm_spec spec = tm_default();
	spec.wtype = wtype;
	spec.n_ctx = 128;
	spec.seed = 5;
	void *file;
	size_t size;
	REQUIRE(tm_build(&spec, &file, &size) == 0);

	const rb_matmul_backend *l_cpu[] = {cpu};
	const rb_matmul_backend *l_npu[] = {npu, cpu};
	run rc, rn;
	open_run(&rc, file, size, l_cpu, 1, tp, spec.n_ctx);
	open_run(&rn, file, size, l_npu, 2, tp, spec.n_ctx);
	for (int64_t i = 0; i < rb_model_n_weights(rn.m); i++)
		CHECKF(strcmp(rb_model_weight(rn.m, i)->backend->name, "npu") == 0, "%s on %s",
		       rb_model_weight(rn.m, i)->name, rb_model_weight(rn.m, i)->backend->name);

	int32_t tokens[128];
	uint64_t rng = 99;
	for (int64_t t = 0; t < T; t++)
		tokens[t] = (int32_t)(rb_test_rand_u64(&rng) % (uint64_t)spec.n_vocab);
	rb_err err = {0};
	rb_npu_backend_reset_stats(npu);
	REQUIRE(rb_session_eval(rc.s, tokens, T, &err) == RB_OK);
	REQUIRE(rb_session_eval(rn.s, tokens, T, &err) == RB_OK);
	rb_npu_backend_stats st;
	rb_npu_backend_get_stats(npu, &st);
	CHECK_EQ_INT(st.npu_calls, rb_model_n_weights(rn.m)); /* the whole prefill on the NPU */
	CHECK_EQ_INT(st.fallback_calls, 0);
	/* each layer's q | k | v run as one NPU call: 7 weights in 5 jobs
	 * (the vocabulary projection is one more) */
	const int64_t layers = (rb_model_n_weights(rn.m) - 1) / 7;
	CHECK_EQ_INT(st.shared_groups, layers);
	CHECK_EQ_INT(st.weights_shared, 3 * layers);
	const int64_t passes = strstr(label, "act16") ? 2 : 1;
	CHECK_EQ_INT(st.npu_jobs * (7 * layers + 1), passes * st.npu_calls * (5 * layers + 1));

	rb_gguf *g;
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	int64_t V;
	double *ref = ref_forward(g, tokens, T, &V);
	double *cpu_d = malloc((size_t)V * sizeof(double));
	REQUIRE(ref && cpu_d);
	double worst_ref = 0, worst_cpu = 0, worst_cpu_ref = 0, max_abs = 0;
	for (int64_t t = 0; t < T; t++) {
		const float *ln = rb_session_logits(rn.s, t), *lc = rb_session_logits(rc.s, t);
		REQUIRE(ln && lc);
		for (int64_t v = 0; v < V; v++)
			cpu_d[v] = lc[v];
		/* (a plain loop: gcc 12's aarch64 vectorizer crashes on an fmax
		 * reduction of float differences here) */
		for (int64_t v = 0; v < V; v++) {
			const double d = fabs((double)ln[v] - cpu_d[v]);
			if (d > max_abs)
				max_abs = d;
		}
		const double e_ref = rel_err(ln, ref + t * V, V), e_cpu = rel_err(ln, cpu_d, V);
		worst_ref = fmax(worst_ref, e_ref);
		worst_cpu = fmax(worst_cpu, e_cpu);
		worst_cpu_ref = fmax(worst_cpu_ref, rel_err(lc, ref + t * V, V));
		CHECKF(e_ref <= tol_ref, "%s: position %lld: npu vs reference %.3g", label, (long long)t,
		       e_ref);
		CHECKF(e_cpu <= TOL_CPU, "%s: position %lld: npu vs cpu %.3g", label, (long long)t,
		       e_cpu);
	}
	printf("%s: %lld prompt tokens: max rel. logit error npu vs reference %.3g, npu vs cpu "
	       "%.3g (cpu vs reference %.3g); max |diff| npu vs cpu %.3g\n", label, (long long)T,
	       worst_ref, worst_cpu, worst_cpu_ref, max_abs);

	/* Greedy continuation: decode steps run on the fallback in both. */
	int agreed = 0, close = 0;
	for (int i = 0; i < steps; i++) {
		float mc, mn;
		const int32_t tc = (int32_t)argmax(rb_session_logits(rc.s, -1), V, &mc);
		const int32_t tn = (int32_t)argmax(rb_session_logits(rn.s, -1), V, &mn);
		if (tc != tn) {
			CHECKF(mc <= 2 * max_abs, "%s: step %d: npu picks %d, cpu %d with margin %.3g",
			       label, i, tn, tc, mc);
			close++;
			break; /* the histories differ from here on */
		}
		agreed++;
		REQUIRE(rb_session_eval(rc.s, &tc, 1, &err) == RB_OK);
		REQUIRE(rb_session_eval(rn.s, &tn, 1, &err) == RB_OK);
	}
	printf("%s: greedy: %d of %d tokens agree%s\n", label, agreed, steps,
	       close ? " (then a near tie)" : "");
	rb_npu_backend_get_stats(npu, &st);
	CHECK(st.small_calls > 0); /* decode went to the fallback */

	free(ref);
	free(cpu_d);
	rb_gguf_close(g);
	close_run(&rn);
	close_run(&rc);
	free(file);
}

int main(void)
{
	const int quick = rb_test_quick();
	rb_err err = {0};
	rb_threadpool *tp = rb_threadpool_create(2);
	REQUIRE(tp);
	rb_matmul_backend *cpu = rb_cpu_backend_create(tp, &err);
	REQUIRE(cpu);
	rb_npu_backend_params p = rb_npu_backend_default_params();
	p.fallback = cpu;
	p.tp = tp;
	p.sim = true;
	p.min_tokens = 8;
	rb_matmul_backend *npu = rb_npu_backend_create(&p, &err);
	REQUIRE(npu);

	p.act_residual = true;
	rb_matmul_backend *npu2 = rb_npu_backend_create(&p, &err);
	REQUIRE(npu2);

	run_model("q4_K", RB_TYPE_Q4_K, tp, cpu, npu, quick ? 12 : 40, quick ? 4 : 8, TOL_REF);
	run_model("q4_K act16", RB_TYPE_Q4_K, tp, cpu, npu2, quick ? 12 : 40, quick ? 4 : 8,
		  TOL_REF_ACT16);
	if (!quick)
		run_model("q8_0", RB_TYPE_Q8_0, tp, cpu, npu, 33, 8, TOL_REF);
	rb_npu_backend_print_stats(npu, stdout);

	rb_npu_backend_destroy(npu2);
	rb_npu_backend_destroy(npu);
	rb_cpu_backend_destroy(cpu);
	rb_threadpool_destroy(tp);
	return rb_test_finish();
}
