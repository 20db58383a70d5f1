/* SPDX-License-Identifier: MIT */
/* The forward pass against an independent double-precision reference
 * (ref_forward.c) on small synthetic qwen2 and llama models:
 *  - prefill: every position's logits of one batched eval;
 *  - decode: token by token through the KV cache, logits at each position
 *    equal the prefill's (KV cache consistency) and the reference;
 *  - chunked prefill (n_batch smaller than the prompt) and prefill + decode;
 * for the "ref" and "cpu" matmul backends and F32 / F16 KV caches.
 *
 * Error measure: max |logit - ref| over the vocabulary divided by the RMS of
 * the reference logits at that position. Bounds (why they are what they are):
 *  - ref backend, F32 KV: float vs double arithmetic only: 2e-4;
 *  - F16 KV: keys/values rounded to 11 significant bits: 1e-2;
 *  - cpu backend: activations quantized to 8 bits per block before every
 *    matmul (about 0.4 % per element; measured up to 6e-2 on these models): 1.2e-1.
 * A wrong forward pass (rotation, mask, head mapping, norm) errs by order 1.
 * Reference weights are the dequantized file weights, so the weight type's
 * own quantization error is not part of the comparison. */
#include <stdlib.h>
#include <string.h>

#include "model_builder.h"
#include "ref_forward.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/model.h"
#include "test.h"

enum backend_kind { BK_REF, BK_CPU };

struct fixture {
	void *file;
	size_t size;
	rb_gguf *g;            /* for the reference */
	rb_threadpool *tp;
	rb_matmul_backend *backend;
	rb_model *m;
	int64_t n_vocab;
};

static const char *bk_name(enum backend_kind b) { return b == BK_REF ? "ref" : "cpu"; }

/* threads > 1: a pool shared by the backend and the session. On a loaded
 * machine every hand-off between threads costs a scheduling delay, so only
 * some cases use one. */
static void fixture_open(struct fixture *f, const struct tm_spec *spec, enum backend_kind bk,
			 int threads)
{
	memset(f, 0, sizeof(*f));
	REQUIRE(tm_build(spec, &f->file, &f->size) == 0);
	rb_err err = {0};
	REQUIRE(rb_gguf_open_memory(f->file, f->size, &f->g, &err) == RB_OK);
	if (threads > 1) {
		f->tp = rb_threadpool_create(threads);
		REQUIRE(f->tp);
	}
	f->backend = bk == BK_REF ? rb_ref_backend_create(f->tp, &err)
				  : rb_cpu_backend_create(f->tp, &err);
	REQUIRE(f->backend);
	rb_gguf *g2;
	REQUIRE(rb_gguf_open_memory(f->file, f->size, &g2, &err) == RB_OK);
	const rb_matmul_backend *list[] = {f->backend};
	rb_model_params mp = {.backends = list, .n_backends = 1};
	if (rb_model_load_gguf(g2, &mp, &f->m, &err) != RB_OK) {
		fprintf(stderr, "load: %s\n", err.msg);
		exit(1);
	}
	f->n_vocab = rb_model_get_hparams(f->m)->n_vocab;
}

static void fixture_close(struct fixture *f)
{
	rb_model_free(f->m);
	rb_cpu_backend_destroy(f->backend);
	rb_threadpool_destroy(f->tp);
	rb_gguf_close(f->g);
	free(f->file);
}

static rb_session *new_session(struct fixture *f, enum rb_type kv, int64_t n_batch, bool all)
{
	rb_session_params sp = rb_session_default_params();
	sp.kv_type = kv;
	sp.n_batch = n_batch;
	sp.logits_all = all;
	sp.tp = f->tp;
	rb_session *s;
	rb_err err = {0};
	if (rb_session_create(f->m, &sp, &s, &err) != RB_OK) {
		fprintf(stderr, "session: %s\n", err.msg);
		exit(1);
	}
	return s;
}

/* max |a - ref| / rms(ref) */
static double rel_err(const float *a, const double *ref, int64_t n)
{
	double ss = 0, mx = 0;
	for (int64_t i = 0; i < n; i++) {
		ss += ref[i] * ref[i];
		const double d = fabs((double)a[i] - ref[i]);
		mx = d > mx || d != d ? d : mx;
	}
	return mx / sqrt(ss / (double)n + 1e-30);
}

static double rel_err_f(const float *a, const float *b, int64_t n)
{
	double ss = 0, mx = 0;
	for (int64_t i = 0; i < n; i++) {
		ss += (double)b[i] * b[i];
		const double d = fabs((double)a[i] - b[i]);
		mx = d > mx || d != d ? d : mx;
	}
	return mx / sqrt(ss / (double)n + 1e-30);
}

static double tolerance(enum backend_kind bk, enum rb_type kv)
{
	if (bk == BK_CPU)
		return 1.2e-1;
	return kv == RB_TYPE_F16 ? 1e-2 : 2e-4;
}

static void run_case(const char *label, const struct tm_spec *spec, enum backend_kind bk,
		     enum rb_type kv, int threads)
{
	struct fixture f;
	fixture_open(&f, spec, bk, threads);
	const int64_t T = rb_test_quick() ? 12 : 24;
	int32_t tokens[64];
	uint64_t rng = spec->seed * 7 + 3;
	for (int64_t t = 0; t < T; t++)
		tokens[t] = (int32_t)(rb_test_rand_u64(&rng) % (uint64_t)spec->n_vocab);
	int64_t V;
	double *ref = ref_forward(f.g, tokens, T, &V);
	REQUIRE(V == f.n_vocab);
	const double tol = tolerance(bk, kv);
	rb_err err = {0};

	/* 1. one batched prefill, logits of every position */
	rb_session *s = new_session(&f, kv, 32, true);
	CHECKF(rb_session_eval(s, tokens, T, &err) == RB_OK, "%s", err.msg);
	float *pre = malloc(sizeof(float) * (size_t)(T * V));
	REQUIRE(pre);
	double worst = 0;
	for (int64_t t = 0; t < T; t++) {
		const float *lg = rb_session_logits(s, t);
		REQUIRE(lg);
		memcpy(pre + t * V, lg, sizeof(float) * (size_t)V);
		const double e = rel_err(lg, ref + t * V, V);
		worst = e > worst ? e : worst;
	}
	CHECKF(worst <= tol, "%s %s kv=%s prefill: error %.3g > %.3g", label, bk_name(bk),
	       rb_type_name(kv), worst, tol);
	CHECK_EQ_INT(rb_session_n_past(s), T);

	/* 2. start over, decode token by token */
	rb_session_truncate(s, 0);
	double worst_ref = 0, worst_kv = 0;
	for (int64_t t = 0; t < T; t++) {
		CHECKF(rb_session_eval(s, &tokens[t], 1, &err) == RB_OK, "%s", err.msg);
		const float *lg = rb_session_logits(s, -1);
		REQUIRE(lg);
		double e = rel_err(lg, ref + t * V, V);
		worst_ref = e > worst_ref ? e : worst_ref;
		e = rel_err_f(lg, pre + t * V, V);
		worst_kv = e > worst_kv ? e : worst_kv;
	}
	CHECKF(worst_ref <= tol, "%s %s kv=%s decode: error %.3g > %.3g", label, bk_name(bk),
	       rb_type_name(kv), worst_ref, tol);
	/* same arithmetic on both paths except batching inside the matmul */
	CHECKF(worst_kv <= tol, "%s %s kv=%s decode vs prefill: %.3g > %.3g", label, bk_name(bk),
	       rb_type_name(kv), worst_kv, tol);
	rb_session_free(s);

	/* 3. prefill in steps of 5 (last logits), then decode the rest */
	s = new_session(&f, kv, 5, false);
	const int64_t split = T / 2 + 1;
	CHECKF(rb_session_eval(s, tokens, split, &err) == RB_OK, "%s", err.msg);
	CHECK(rb_session_logits(s, 0) == NULL || split == 1);
	const float *lg = rb_session_logits(s, -1);
	REQUIRE(lg);
	double e3 = rel_err(lg, ref + (split - 1) * V, V);
	CHECKF(e3 <= tol, "%s %s kv=%s chunked prefill: %.3g > %.3g", label, bk_name(bk),
	       rb_type_name(kv), e3, tol);
	CHECK(rb_session_logits(s, split - 1) == lg);
	for (int64_t t = split; t < T; t++) {
		CHECKF(rb_session_eval(s, &tokens[t], 1, &err) == RB_OK, "%s", err.msg);
		lg = rb_session_logits(s, -1);
		e3 = rel_err(lg, ref + t * V, V);
		CHECKF(e3 <= tol, "%s %s kv=%s decode after chunked prefill t=%lld: %.3g > %.3g",
		       label, bk_name(bk), rb_type_name(kv), (long long)t, e3, tol);
	}
	rb_session_free(s);

	printf("%-24s %-3s kv=%-3s threads=%d prefill %.2e decode %.2e (vs prefill %.2e)\n",
	       label, bk_name(bk), rb_type_name(kv), threads, worst, worst_ref, worst_kv);
	free(pre);
	free(ref);
	fixture_close(&f);
}

/* Logits of a batched prefill (every position) and of decode steps after it,
 * copied into out (T + n_dec rows of V). */
static void logits_run(const struct tm_spec *spec, int threads, const int32_t *tokens, int64_t T,
		       int64_t n_dec, float *out)
{
	struct fixture f;
	fixture_open(&f, spec, BK_CPU, threads);
	const int64_t V = f.n_vocab;
	rb_session *s = new_session(&f, RB_TYPE_F16, T, true);
	rb_err err = {0};
	CHECKF(rb_session_eval(s, tokens, T, &err) == RB_OK, "%s", err.msg);
	for (int64_t t = 0; t < T; t++)
		memcpy(out + t * V, rb_session_logits(s, t), sizeof(float) * (size_t)V);
	for (int64_t t = 0; t < n_dec; t++) {
		CHECKF(rb_session_eval(s, &tokens[t], 1, &err) == RB_OK, "%s", err.msg);
		memcpy(out + (T + t) * V, rb_session_logits(s, -1), sizeof(float) * (size_t)V);
	}
	rb_session_free(s);
	fixture_close(&f);
}

/* The thread count changes who computes what, never the arithmetic: logits
 * are bit-identical for 1, 2 and 3 threads (3: chunk and work splits that do
 * not divide evenly). The sizes give every job of a 40-token prefill several
 * chunks (at least three times forward.c's MIN_CHUNK_WORK); n_ff 1040 makes
 * even splits of n_tok * n_ff fall off the SIMD width, 12 heads over 4 KV
 * heads give uneven head splits. */
static void test_thread_independence(void)
{
	struct tm_spec spec = tm_default();
	spec.n_ff = 1040;
	spec.n_head = 12;
	spec.n_head_kv = 4;
	spec.n_embd = 768; /* head dim 64 */
	spec.seed = 9;
	const int64_t T = 40, n_dec = 4, V = spec.n_vocab;
	int32_t tokens[40];
	uint64_t rng = 77;
	for (int64_t t = 0; t < T; t++)
		tokens[t] = (int32_t)(rb_test_rand_u64(&rng) % (uint64_t)V);
	const size_t bytes = sizeof(float) * (size_t)((T + n_dec) * V);
	float *one = malloc(bytes), *many = malloc(bytes);
	REQUIRE(one && many);
	logits_run(&spec, 1, tokens, T, n_dec, one);
	for (int threads = 2; threads <= 3; threads++) {
		logits_run(&spec, threads, tokens, T, n_dec, many);
		int64_t first = -1;
		for (int64_t i = 0; i < (T + n_dec) * V && first < 0; i++)
			if (memcmp(&one[i], &many[i], sizeof(float)) != 0)
				first = i;
		CHECKF(first < 0, "threads=%d: logits differ from threads=1 at row %lld, id %lld: "
		       "%.9g vs %.9g", threads, (long long)(first / V), (long long)(first % V),
		       first < 0 ? 0.0 : (double)many[first], first < 0 ? 0.0 : (double)one[first]);
	}
	free(one);
	free(many);
}

/* Context full: a clear RB_E_FULL, nothing evaluated, the session still usable. */
static void test_context_full(void)
{
	struct tm_spec spec = tm_default();
	spec.n_ctx = 8;
	struct fixture f;
	fixture_open(&f, &spec, BK_REF, 1);
	rb_session *s = new_session(&f, RB_TYPE_F16, 0, false);
	CHECK_EQ_INT(rb_session_n_ctx(s), 8);
	int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	rb_err err = {0};
	CHECK_EQ_INT(rb_session_eval(s, toks, 9, &err), RB_E_FULL);
	CHECK(strstr(err.msg, "context full") != NULL);
	CHECK_EQ_INT(rb_session_n_past(s), 0);
	CHECK_EQ_INT(rb_session_eval(s, toks, 8, &err), RB_OK);
	CHECK_EQ_INT(rb_session_eval(s, toks, 1, &err), RB_E_FULL);
	CHECK_EQ_INT(rb_session_n_past(s), 8);
	/* bad token ids are refused, not read out of bounds */
	rb_session_truncate(s, 0);
	int32_t bad[2] = {1, 300};
	CHECK_EQ_INT(rb_session_eval(s, bad, 2, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "300") != NULL);
	bad[1] = -1;
	CHECK_EQ_INT(rb_session_eval(s, bad, 2, &err), RB_E_INVALID);
	CHECK_EQ_INT(rb_session_n_past(s), 0);
	rb_session_free(s);

	/* a context cap larger than the model's is clamped */
	rb_session_params sp = rb_session_default_params();
	sp.n_ctx = 1000;
	CHECK_EQ_INT(rb_session_create(f.m, &sp, &s, &err), RB_OK);
	CHECK_EQ_INT(rb_session_n_ctx(s), 8);
	rb_session_free(s);
	sp.kv_type = RB_TYPE_Q8_0;
	CHECK_EQ_INT(rb_session_create(f.m, &sp, &s, &err), RB_E_INVALID);
	CHECK(s == NULL);
	fixture_close(&f);
}

int main(void)
{
	const bool quick = rb_test_quick();
	struct tm_spec qwen = tm_default();

	struct tm_spec llama = tm_default();
	llama.arch = "llama";
	llama.tied = false;
	llama.n_head = 8; /* head dim 32 */
	llama.n_head_kv = 4;
	llama.seed = 2;

	struct tm_spec qwen_q4k = qwen; /* the Q4_K_M mix: Q4_K matrices, Q6_K embeddings */
	qwen_q4k.wtype = RB_TYPE_Q4_K;
	qwen_q4k.embd_type = RB_TYPE_Q6_K;
	qwen_q4k.seed = 3;

	struct tm_spec qwen_q8 = qwen;
	qwen_q8.wtype = RB_TYPE_Q8_0;
	qwen_q8.embd_type = RB_TYPE_Q8_0;
	qwen_q8.tied = false;
	qwen_q8.seed = 4;

	struct tm_spec qwen_partial = qwen; /* rotary on part of the head, f16 weights */
	qwen_partial.n_rot = 32;
	qwen_partial.wtype = RB_TYPE_F16;
	qwen_partial.embd_type = RB_TYPE_F16;
	qwen_partial.rope_base = 1e6f;
	qwen_partial.seed = 5;

	struct {
		const char *label;
		const struct tm_spec *spec;
		bool in_quick;
	} cases[] = {
		{"qwen2 f32", &qwen, true},
		{"llama f32", &llama, true},
		{"qwen2 q4_K/q6_K", &qwen_q4k, true},
		{"qwen2 q8_0 untied", &qwen_q8, false},
		{"qwen2 f16 partial-rope", &qwen_partial, false},
	};
	const enum rb_type kvs[] = {RB_TYPE_F32, RB_TYPE_F16};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		if (quick && !cases[c].in_quick)
			continue;
		for (int bk = BK_REF; bk <= BK_CPU; bk++)
			for (size_t k = 0; k < 2; k++) {
				/* quick (asan, qemu): the slow scalar backend once */
				if (quick && bk == BK_REF && (c > 0 || k > 0))
					continue;
				/* threads: the first case of each backend and cache type */
				run_case(cases[c].label, cases[c].spec, bk, kvs[k], c == 0 ? 2 : 1);
			}
	}
	test_thread_independence();
	test_context_full();
	return rb_test_finish();
}
