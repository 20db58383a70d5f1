/* SPDX-License-Identifier: MIT */
#include "model_builder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/quant.h"
#include "test.h"

struct tm_spec tm_default(void)
{
	return (struct tm_spec){
		.arch = "qwen2",
		.n_vocab = 300,
		.n_embd = 256,
		.n_layer = 2,
		.n_ff = 512,
		.n_head = 4,
		.n_head_kv = 2,
		.n_ctx = 64,
		.rope_base = 10000.0f,
		.eps = 1e-6f,
		.tied = true,
		.wtype = RB_TYPE_F32,
		.embd_type = RB_TYPE_F32,
		.seed = 1,
	};
}

/* Every tensor's data stays alive until the file is written. */
struct blobs {
	void *p[512];
	int n;
};

static void *keep(struct blobs *b, void *p)
{
	REQUIRE(b->n < 512);
	b->p[b->n++] = p;
	return p;
}

/* Random values with scale `amp` around `center`, quantized to `type`. */
static void add(rb_gguf_writer *w, struct blobs *b, const struct tm_spec *s, const char *name,
		enum rb_type type, int64_t ne0, int64_t ne1, float center, float amp, uint64_t *rng)
{
	if (s->omit && strcmp(s->omit, name) == 0)
		return;
	if (s->bad_shape && strcmp(s->bad_shape, name) == 0)
		ne1 += 1;
	const int64_t n = ne0 * ne1;
	float *f = malloc((size_t)n * sizeof(float));
	REQUIRE(f);
	for (int64_t i = 0; i < n; i++)
		f[i] = center + amp * rb_test_rand_f32(rng);
	const size_t row = rb_row_size(type, ne0);
	REQUIRE(row > 0);
	void *q = keep(b, malloc(row * (size_t)ne1));
	REQUIRE(q);
	rb_err err = {0};
	REQUIRE(rb_quantize_rows(type, f, q, ne1, ne0, 1, &err) == RB_OK);
	free(f);
	const int64_t ne[2] = {ne0, ne1};
	REQUIRE(rb_gguf_add_tensor(w, name, type, ne1 > 1 ? 2 : 1, ne, q) == RB_OK);
}

static void set_u32(rb_gguf_writer *w, const char *arch, const char *k, int64_t v)
{
	char key[128];
	snprintf(key, sizeof(key), "%s.%s", arch, k);
	REQUIRE(rb_gguf_set_u32(w, key, (uint32_t)v) == RB_OK);
}

int tm_build(const struct tm_spec *s, void **data, size_t *size)
{
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	struct blobs b = {.n = 0};
	uint64_t rng = s->seed;
	const char *a = s->arch;
	REQUIRE(rb_gguf_set_str(w, "general.architecture", a) == RB_OK);
	set_u32(w, a, "context_length", s->n_ctx);
	set_u32(w, a, "embedding_length", s->n_embd);
	set_u32(w, a, "block_count", s->n_layer);
	set_u32(w, a, "feed_forward_length", s->n_ff);
	set_u32(w, a, "attention.head_count", s->n_head);
	set_u32(w, a, "attention.head_count_kv", s->n_head_kv);
	if (s->n_rot)
		set_u32(w, a, "rope.dimension_count", s->n_rot);
	char key[128];
	snprintf(key, sizeof(key), "%s.rope.freq_base", a);
	REQUIRE(rb_gguf_set_f32(w, key, s->rope_base) == RB_OK);
	snprintf(key, sizeof(key), "%s.attention.layer_norm_rms_epsilon", a);
	REQUIRE(rb_gguf_set_f32(w, key, s->eps) == RB_OK);
	if (s->extra_key)
		REQUIRE(rb_gguf_set_str(w, s->extra_key, s->extra_str) == RB_OK);

	const int64_t e = s->n_embd, kv = s->n_embd / s->n_head * s->n_head_kv, ff = s->n_ff;
	const bool bias = strcmp(a, "qwen2") == 0;
	const float ae = 1.0f / sqrtf((float)e), af = 1.0f / sqrtf((float)ff);
	add(w, &b, s, "token_embd.weight", s->embd_type, e, s->n_vocab, 0.0f, 1.0f, &rng);
	add(w, &b, s, "output_norm.weight", RB_TYPE_F32, e, 1, 1.0f, 0.2f, &rng);
	if (!s->tied)
		add(w, &b, s, "output.weight", s->wtype, e, s->n_vocab, 0.0f, 2.0f * ae, &rng);
	for (int il = 0; il < s->n_layer; il++) {
		char n[64];
#define NAME(fmt) (snprintf(n, sizeof(n), fmt, il), n)
		add(w, &b, s, NAME("blk.%d.attn_norm.weight"), RB_TYPE_F32, e, 1, 1.0f, 0.2f, &rng);
		add(w, &b, s, NAME("blk.%d.ffn_norm.weight"), RB_TYPE_F32, e, 1, 1.0f, 0.2f, &rng);
		/* q/k large enough that attention is not uniform */
		add(w, &b, s, NAME("blk.%d.attn_q.weight"), s->wtype, e, e, 0.0f, 3.0f * ae, &rng);
		add(w, &b, s, NAME("blk.%d.attn_k.weight"), s->wtype, e, kv, 0.0f, 3.0f * ae, &rng);
		add(w, &b, s, NAME("blk.%d.attn_v.weight"), s->wtype, e, kv, 0.0f, 1.5f * ae, &rng);
		add(w, &b, s, NAME("blk.%d.attn_output.weight"), s->wtype, e, e, 0.0f, ae, &rng);
		add(w, &b, s, NAME("blk.%d.ffn_gate.weight"), s->wtype, e, ff, 0.0f, 1.5f * ae, &rng);
		add(w, &b, s, NAME("blk.%d.ffn_up.weight"), s->wtype, e, ff, 0.0f, 1.5f * ae, &rng);
		add(w, &b, s, NAME("blk.%d.ffn_down.weight"), s->wtype, ff, e, 0.0f, af, &rng);
		if (bias) {
			add(w, &b, s, NAME("blk.%d.attn_q.bias"), RB_TYPE_F32, e, 1, 0.0f, 0.5f, &rng);
			add(w, &b, s, NAME("blk.%d.attn_k.bias"), RB_TYPE_F32, kv, 1, 0.0f, 0.5f, &rng);
			add(w, &b, s, NAME("blk.%d.attn_v.bias"), RB_TYPE_F32, kv, 1, 0.0f, 0.2f, &rng);
		}
#undef NAME
	}
	rb_err err = {0};
	int rc = rb_gguf_write_memory(w, data, size, NULL, NULL, &err);
	if (rc != RB_OK)
		fprintf(stderr, "tm_build: %s\n", err.msg);
	rb_gguf_writer_free(w);
	for (int i = 0; i < b.n; i++)
		free(b.p[i]);
	return rc;
}
