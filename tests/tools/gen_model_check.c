/* SPDX-License-Identifier: MIT */
/* Checks a model written by rb-gen-model (run by test_gen_model.py):
 *   gen_model_check FILE FTYPE N_LAYER N_EMBD N_FF N_HEAD N_HEAD_KV TIED
 * - metadata: architecture, shapes, file type, tokenizer keys carried over;
 * - every tensor present with its shape and the type the recipe prescribes,
 *   written out here as the expected layer pattern (not computed by the
 *   generator's code), e.g. for 28 layers the Q6_K layers of attn_v and
 *   ffn_down are 0-2, 5, 8, ..., 23 and 24-27;
 * - the model loads and its logits are finite and not degenerate (several
 *   distinct argmax tokens over a few steps, logits spread). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/model.h"
#include "test.h"

static const rb_gguf *g;
static const char *ftype;
static int n_layer;

static int64_t arg(char **argv, int i) { return strtoll(argv[i], NULL, 10); }

/* Layers whose attn_v / ffn_down get more bits in Q4_K_M: the first and last
 * eighth and every third layer in between (llama.cpp use_more_bits). */
static bool more_bits(int il)
{
	const int e = n_layer / 8;
	return il < e || il >= 7 * n_layer / 8 || (il - e) % 3 == 2;
}

static enum rb_type expected(const char *role, int il, bool tied)
{
	const bool vector = strstr(role, "norm") || strstr(role, "bias");
	if (vector || !strcmp(ftype, "f32"))
		return RB_TYPE_F32;
	if (!strcmp(ftype, "f16"))
		return RB_TYPE_F16;
	if (!strcmp(ftype, "q8_0"))
		return RB_TYPE_Q8_0;
	/* q4_k_m (rows here are multiples of 256: no fallbacks) */
	if (!strcmp(role, "output") || (!strcmp(role, "token_embd") && tied))
		return RB_TYPE_Q6_K;
	if ((!strcmp(role, "attn_v") || !strcmp(role, "ffn_down")) && more_bits(il))
		return RB_TYPE_Q6_K;
	return RB_TYPE_Q4_K;
}

static void check_tensor(const char *name, const char *role, int il, bool tied, int64_t ne0,
			 int64_t ne1)
{
	const rb_gguf_tensor *t = rb_gguf_find_tensor(g, name);
	CHECKF(t != NULL, "missing %s", name);
	if (!t)
		return;
	CHECKF(t->ne[0] == ne0 && t->ne[1] == ne1, "%s: shape %lld x %lld, expected %lld x %lld",
	       name, (long long)t->ne[0], (long long)t->ne[1], (long long)ne0, (long long)ne1);
	const enum rb_type want = expected(role, il, tied);
	CHECKF(t->type == want, "%s: type %s, expected %s", name, rb_type_name(t->type),
	       rb_type_name(want));
}

static void check_logits(const char *path)
{
	rb_err err = {0};
	rb_matmul_backend *be = rb_cpu_backend_create(NULL, &err);
	REQUIRE(be);
	const rb_matmul_backend *list[] = {be};
	rb_model_params mp = {.backends = list, .n_backends = 1};
	rb_model *m;
	REQUIRE(rb_model_load(path, &mp, &m, &err) == RB_OK);
	rb_session_params sp = rb_session_default_params();
	sp.n_ctx = 32;
	rb_session *s;
	REQUIRE(rb_session_create(m, &sp, &s, &err) == RB_OK);
	const int64_t V = rb_model_get_hparams(m)->n_vocab;
	int32_t tok = 1;
	int32_t seen[8];
	int distinct = 0;
	for (int step = 0; step < 8; step++) {
		REQUIRE(rb_session_eval(s, &tok, 1, &err) == RB_OK);
		const float *l = rb_session_logits(s, -1);
		double sum = 0, ss = 0;
		int64_t best = 0, finite = 0;
		for (int64_t i = 0; i < V; i++) {
			finite += isfinite(l[i]) != 0;
			sum += l[i];
			ss += (double)l[i] * l[i];
			best = l[i] > l[best] ? i : best;
		}
		const double sd = sqrt(ss / (double)V - (sum / (double)V) * (sum / (double)V));
		CHECKF(finite == V, "step %d: %lld non-finite logits", step, (long long)(V - finite));
		CHECKF(sd > 0.5 && sd < 20, "step %d: logit spread %.3g", step, sd);
		bool is_new = true;
		for (int k = 0; k < distinct; k++)
			is_new &= seen[k] != (int32_t)best;
		if (is_new)
			seen[distinct++] = (int32_t)best;
		tok = (int32_t)best;
	}
	CHECKF(distinct >= 3, "greedy text loops: %d distinct tokens in 8", distinct);
	rb_session_free(s);
	rb_model_free(m);
	rb_cpu_backend_destroy(be);
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: %s FILE FTYPE N_LAYER N_EMBD N_FF N_HEAD N_HEAD_KV TIED\n",
			argv[0]);
		return 2;
	}
	rb_gguf *gg;
	rb_err err = {0};
	REQUIRE(rb_gguf_open(argv[1], &gg, &err) == RB_OK);
	g = gg;
	ftype = argv[2];
	n_layer = (int)arg(argv, 3);
	const int64_t e = arg(argv, 4), ff = arg(argv, 5), nh = arg(argv, 6), nkv = arg(argv, 7);
	const bool tied = arg(argv, 8) != 0;
	const int64_t kv = e / nh * nkv;
	if (n_layer == 28) { /* Qwen2.5-1.5B depth: the rule spelled out */
		static const int q6k[] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
		int mask = 0;
		for (size_t i = 0; i < sizeof(q6k) / sizeof(q6k[0]); i++)
			mask |= 1 << q6k[i];
		for (int il = 0; il < 28; il++)
			CHECKF(more_bits(il) == ((mask >> il) & 1), "layer %d", il);
	}

	rb_model_hparams hp;
	CHECKF(rb_model_validate(g, &hp, &err) == RB_OK, "%s", err.msg);
	CHECK_EQ_INT(hp.arch, RB_ARCH_QWEN2);
	CHECK_EQ_INT(hp.n_layer, n_layer);
	CHECK_EQ_INT(hp.n_embd, e);
	CHECK_EQ_INT(hp.n_ff, ff);
	CHECK_EQ_INT(hp.n_head, nh);
	CHECK_EQ_INT(hp.n_head_kv, nkv);
	CHECK(hp.tied_embeddings == tied);
	CHECK(rb_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0);
	CHECK(rb_gguf_find_key(g, "tokenizer.ggml.model") >= 0);
	uint32_t ft;
	CHECK(rb_gguf_get_u32(g, "general.file_type", &ft, &err) == RB_OK);
	const uint32_t want_ft = !strcmp(ftype, "f32") ? 0 : !strcmp(ftype, "f16") ? 1
				 : !strcmp(ftype, "q8_0") ? 7 : 15;
	CHECK_EQ_INT(ft, want_ft);

	const int64_t V = hp.n_vocab;
	check_tensor("token_embd.weight", "token_embd", 0, tied, e, V);
	check_tensor("output_norm.weight", "norm", 0, tied, e, 1);
	if (!tied)
		check_tensor("output.weight", "output", 0, tied, e, V);
	else
		CHECK(rb_gguf_find_tensor(g, "output.weight") == NULL);
	char n[64];
	for (int il = 0; il < n_layer; il++) {
#define T(suffix, role, ne0, ne1)                                              \
	snprintf(n, sizeof(n), "blk.%d.%s", il, suffix);                       \
	check_tensor(n, role, il, tied, ne0, ne1)
		T("attn_norm.weight", "norm", e, 1);
		T("ffn_norm.weight", "norm", e, 1);
		T("attn_q.bias", "bias", e, 1);
		T("attn_k.bias", "bias", kv, 1);
		T("attn_v.bias", "bias", kv, 1);
		T("attn_q.weight", "attn_q", e, e);
		T("attn_k.weight", "attn_k", e, kv);
		T("attn_v.weight", "attn_v", e, kv);
		T("attn_output.weight", "attn_output", e, e);
		T("ffn_gate.weight", "ffn_gate", e, ff);
		T("ffn_up.weight", "ffn_up", e, ff);
		T("ffn_down.weight", "ffn_down", ff, e);
#undef T
	}
	CHECK_EQ_INT(gg->n_tensors, 2 + (tied ? 0 : 1) + 12 * n_layer);
	rb_gguf_close(gg);
	check_logits(argv[1]);
	return rb_test_finish();
}
