/* SPDX-License-Identifier: MIT */
/* Model loading: hyper-parameters read right, unsupported or broken models
 * refused with a message naming the problem, weights bound per weight to the
 * first backend that accepts them, and a backend failing at run time replaced
 * by the fallback (the last backend of the list) with unchanged results. */
#include <stdlib.h>
#include <string.h>

#include "model_builder.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/model.h"
#include "test.h"

static rb_matmul_backend *g_ref;

/* Load spec with the ref backend, expecting failure with `code` and a
 * message containing `needle`. */
static void expect_refusal(const char *what, const struct tm_spec *spec, int code,
			   const char *needle)
{
	void *file;
	size_t size;
	REQUIRE(tm_build(spec, &file, &size) == 0);
	rb_gguf *g;
	rb_model *m = NULL;
	rb_err err = {0};
	int rc = rb_gguf_open_memory(file, size, &g, &err);
	if (rc == RB_OK) {
		const rb_matmul_backend *list[] = {g_ref};
		rb_model_params mp = {.backends = list, .n_backends = 1};
		rc = rb_model_load_gguf(g, &mp, &m, &err);
	}
	CHECKF(rc == code, "%s: status %d (%s), expected %d", what, rc, err.msg, code);
	CHECKF(m == NULL, "%s: model returned on failure", what);
	CHECKF(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg,
	       needle);
	rb_model_free(m);
	free(file);
}

static void test_hparams(void)
{
	struct tm_spec spec = tm_default();
	spec.n_rot = 32;
	spec.rope_base = 1e6f;
	rb_model *m;
	rb_err err = {0};
	void *file;
	size_t size;
	REQUIRE(tm_build(&spec, &file, &size) == 0);
	rb_gguf *g;
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	const rb_matmul_backend *list[] = {g_ref};
	rb_model_params mp = {.backends = list, .n_backends = 1};
	REQUIRE(rb_model_load_gguf(g, &mp, &m, &err) == RB_OK);
	const rb_model_hparams *hp = rb_model_get_hparams(m);
	CHECK_EQ_INT(hp->arch, RB_ARCH_QWEN2);
	CHECK_EQ_INT(hp->n_vocab, 300);
	CHECK_EQ_INT(hp->n_embd, 256);
	CHECK_EQ_INT(hp->n_layer, 2);
	CHECK_EQ_INT(hp->n_ff, 512);
	CHECK_EQ_INT(hp->n_head, 4);
	CHECK_EQ_INT(hp->n_head_kv, 2);
	CHECK_EQ_INT(hp->head_dim, 64);
	CHECK_EQ_INT(hp->n_rot, 32);
	CHECK_EQ_INT(hp->n_ctx_train, 64);
	CHECK_NEAR(hp->rope_base, 1e6, 1);
	CHECK_NEAR(hp->rms_eps, 1e-6, 1e-12);
	CHECK(hp->qkv_bias && hp->rope_neox && hp->tied_embeddings);
	CHECK_STR(rb_arch_name(hp->arch), "qwen2");
	CHECK_EQ_INT(rb_model_n_weights(m), 2 * 7 + 1);
	const rb_weight *out = rb_model_weight(m, rb_model_n_weights(m) - 1);
	CHECK_STR(out->name, "token_embd.weight"); /* tied */
	CHECK_EQ_INT(out->n_out, 300);
	CHECK(rb_model_weight(m, rb_model_n_weights(m)) == NULL);
	/* params: embd 300*256 + 2 norms... just the total of the tensors */
	const uint64_t per_layer = 256 * 256 * 2 + 128 * 256 * 2 + 512 * 256 * 3 + 256 * 2 + 256 +
				   128 * 2;
	CHECK_EQ_INT(rb_model_n_params(m), 300 * 256 + 256 + 2 * per_layer);
	rb_model_free(m);
	free(file);

	spec = tm_default();
	spec.arch = "llama";
	spec.tied = false;
	REQUIRE(tm_build(&spec, &file, &size) == 0);
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	REQUIRE(rb_model_load_gguf(g, &mp, &m, &err) == RB_OK);
	hp = rb_model_get_hparams(m);
	CHECK(hp->arch == RB_ARCH_LLAMA && !hp->qkv_bias && !hp->rope_neox && !hp->tied_embeddings);
	CHECK_EQ_INT(hp->n_rot, 64);
	CHECK_STR(rb_model_weight(m, rb_model_n_weights(m) - 1)->name, "output.weight");
	rb_model_free(m);
	free(file);
}

static void test_refusals(void)
{
	struct tm_spec s = tm_default();
	s.arch = "phi3";
	expect_refusal("arch", &s, RB_E_UNSUPPORTED, "phi3");

	s = tm_default();
	s.extra_key = "qwen2.rope.scaling.type";
	s.extra_str = "yarn";
	expect_refusal("rope scaling", &s, RB_E_UNSUPPORTED, "yarn");

	s = tm_default();
	s.omit = "blk.1.ffn_up.weight";
	expect_refusal("missing tensor", &s, RB_E_FORMAT, "blk.1.ffn_up.weight");

	s = tm_default();
	s.omit = "blk.0.attn_k.bias";
	expect_refusal("missing bias", &s, RB_E_FORMAT, "blk.0.attn_k.bias");

	s = tm_default();
	s.omit = "output_norm.weight";
	expect_refusal("missing norm", &s, RB_E_FORMAT, "output_norm.weight");

	s = tm_default();
	s.bad_shape = "blk.0.attn_v.weight";
	expect_refusal("wrong shape", &s, RB_E_FORMAT, "blk.0.attn_v.weight");

	s = tm_default();
	s.bad_shape = "blk.1.ffn_norm.weight";
	expect_refusal("wrong vector shape", &s, RB_E_FORMAT, "blk.1.ffn_norm.weight");

	s = tm_default();
	s.n_head_kv = 3;
	expect_refusal("gqa ratio", &s, RB_E_UNSUPPORTED, "head_count_kv");

	s = tm_default();
	s.n_rot = 80; /* more than the head size 64 */
	expect_refusal("n_rot", &s, RB_E_UNSUPPORTED, "rope.dimension_count");

	/* a truncated file fails in the reader, with a clean error */
	void *file;
	size_t size;
	s = tm_default();
	REQUIRE(tm_build(&s, &file, &size) == 0);
	rb_gguf *g;
	rb_err err = {0};
	CHECK(rb_gguf_open_memory(file, size - 100, &g, &err) != RB_OK);
	CHECK(err.msg[0] != 0);
	free(file);

	/* no backend at all */
	REQUIRE(tm_build(&s, &file, &size) == 0);
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	rb_model_params mp = {.backends = NULL, .n_backends = 0};
	rb_model *m;
	CHECK_EQ_INT(rb_model_load_gguf(g, &mp, &m, &err), RB_E_INVALID);
	free(file);

	rb_model_load("/nonexistent/model.gguf", &mp, &m, &err);
	CHECK(m == NULL && strstr(err.msg, "/nonexistent/model.gguf") != NULL);
}

/* A backend that takes only F16 weights and counts its calls, delegating the
 * arithmetic to the ref backend; optionally failing every call like a device
 * that timed out. */
struct picky {
	rb_matmul_backend be;
	int calls;
	bool fail;
	bool only_f16;
};

static bool picky_supports(void *ctx, const rb_weight *w)
{
	const struct picky *p = ctx;
	return !p->only_f16 || w->type == RB_TYPE_F16;
}

static int picky_matmul(void *ctx, const rb_weight *w, int64_t n, const float *x, int64_t ldx,
			float *y, int64_t ldy, rb_err *err)
{
	struct picky *p = ctx;
	p->calls++;
	if (p->fail)
		return rb_err_set(err, RB_E_DEVICE, "picky: simulated device timeout");
	rb_weight tmp = *w; /* the ref backend keeps no packed data for it */
	REQUIRE(rb_weight_bind(&tmp, g_ref, err) == RB_OK);
	const int rc = rb_matmul(&tmp, n, x, ldx, y, ldy, err);
	rb_weight_unbind(&tmp);
	return rc;
}

static void picky_init(struct picky *p, bool only_f16, bool fail)
{
	memset(p, 0, sizeof(*p));
	p->be = (rb_matmul_backend){
		.name = "picky", .ctx = p, .supports = picky_supports, .matmul = picky_matmul};
	p->only_f16 = only_f16;
	p->fail = fail;
}

static const float *eval_logits(rb_model *m, rb_session **s)
{
	rb_err err = {0};
	rb_session_params sp = rb_session_default_params();
	REQUIRE(rb_session_create(m, &sp, s, &err) == RB_OK);
	const int32_t toks[5] = {3, 1, 4, 1, 5};
	CHECKF(rb_session_eval(*s, toks, 5, &err) == RB_OK, "%s", err.msg);
	return rb_session_logits(*s, -1);
}

static void test_backend_choice(void)
{
	/* mixed file: f16 q/k/v/o/ffn, f32 token_embd (tied output) */
	struct tm_spec s = tm_default();
	s.wtype = RB_TYPE_F16;
	void *file;
	size_t size;
	REQUIRE(tm_build(&s, &file, &size) == 0);
	rb_err err = {0};
	rb_gguf *g;

	/* reference logits: ref backend only */
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	const rb_matmul_backend *only_ref[] = {g_ref};
	rb_model_params mp = {.backends = only_ref, .n_backends = 1};
	rb_model *m0;
	REQUIRE(rb_model_load_gguf(g, &mp, &m0, &err) == RB_OK);
	rb_session *s0;
	const float *want = eval_logits(m0, &s0);

	/* picky first: it owns every f16 weight, ref the f32 output */
	struct picky pk;
	picky_init(&pk, true, false);
	const rb_matmul_backend *list[] = {&pk.be, g_ref};
	mp = (rb_model_params){.backends = list, .n_backends = 2};
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	rb_model *m;
	REQUIRE(rb_model_load_gguf(g, &mp, &m, &err) == RB_OK);
	int n_picky = 0;
	for (int64_t i = 0; i < rb_model_n_weights(m); i++) {
		const rb_weight *w = rb_model_weight(m, i);
		n_picky += w->backend == &pk.be;
		CHECK(w->backend == (w->type == RB_TYPE_F16 ? &pk.be : g_ref));
	}
	CHECK_EQ_INT(n_picky, 14);
	rb_session *s1;
	const float *got = eval_logits(m, &s1);
	CHECK_EQ_INT(pk.calls, 14);
	int diff = 0;
	for (int i = 0; i < 300; i++)
		diff += got[i] != want[i];
	CHECK_EQ_INT(diff, 0);
	rb_session_free(s1);
	rb_model_free(m);

	/* a failing device backend: every weight falls back to ref, same logits */
	picky_init(&pk, false, true);
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	REQUIRE(rb_model_load_gguf(g, &mp, &m, &err) == RB_OK);
	CHECK(rb_model_weight(m, 0)->backend == &pk.be);
	got = eval_logits(m, &s1);
	REQUIRE(got);
	CHECK_EQ_INT(pk.calls, 15); /* one failed call per weight, then never again */
	diff = 0;
	for (int i = 0; i < 300; i++)
		diff += got[i] != want[i];
	CHECK_EQ_INT(diff, 0);
	const int32_t t = 7;
	CHECK_EQ_INT(rb_session_eval(s1, &t, 1, &err), RB_OK);
	CHECK_EQ_INT(pk.calls, 15);
	rb_session_free(s1);
	rb_model_free(m);

	/* nobody supports the weights: refused, naming weight, type and backends */
	struct picky none;
	picky_init(&none, true, false);
	s.wtype = RB_TYPE_F32;
	rb_session_free(s0);
	rb_model_free(m0);
	free(file);
	REQUIRE(tm_build(&s, &file, &size) == 0);
	REQUIRE(rb_gguf_open_memory(file, size, &g, &err) == RB_OK);
	const rb_matmul_backend *list2[] = {&none.be};
	mp = (rb_model_params){.backends = list2, .n_backends = 1};
	CHECK_EQ_INT(rb_model_load_gguf(g, &mp, &m, &err), RB_E_UNSUPPORTED);
	CHECKF(strstr(err.msg, "blk.0.attn_q.weight") && strstr(err.msg, "f32") &&
		       strstr(err.msg, "picky"),
	       "message: %s", err.msg);
	free(file);
}

int main(void)
{
	rb_err err = {0};
	g_ref = rb_ref_backend_create(NULL, &err);
	REQUIRE(g_ref);
	test_hparams();
	test_refusals();
	test_backend_choice();
	rb_cpu_backend_destroy(g_ref);
	return rb_test_finish();
}
