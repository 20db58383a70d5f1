/* SPDX-License-Identifier: MIT */
/* The real GGUF files shipped in tests/data (written by other tools) parse,
 * with spot checks of known values, cross-file checks of tensor data, the
 * byte-identical re-write, print_info and prefault. */
#include <stdint.h>

#include "rosenblatt/fp16.h"
#include "rosenblatt/gguf.h"
#include "test.h"

#define STORIES RB_TEST_DATA_DIR "/stories260K/stories260K-"
#define TOKENIZERS RB_TEST_DATA_DIR "/tokenizers/"

static rb_gguf *open_or_die(const char *path)
{
	rb_gguf *g = NULL;
	rb_err err;
	const int rc = rb_gguf_open(path, &g, &err);
	if (rc)
		fprintf(stderr, "%s: %s\n", path, err.msg);
	REQUIRE(rc == RB_OK && g);
	return g;
}

static uint32_t get_u32(const rb_gguf *g, const char *key)
{
	uint32_t v = 0xdeadbeef;
	rb_err err;
	CHECKF(rb_gguf_get_u32(g, key, &v, &err) == RB_OK, "%s", err.msg);
	return v;
}

static bool str_is(const rb_gguf *g, const char *key, const char *want)
{
	rb_gguf_str s = {0};
	return rb_gguf_get_str(g, key, &s, NULL) == RB_OK && rb_gguf_str_eq(s, want);
}

struct stories_expect {
	const char *file;
	enum rb_type embd_type, down_type, norm_type;
};

static void check_stories(const struct stories_expect *e)
{
	char path[512];
	snprintf(path, sizeof(path), "%s%s.gguf", STORIES, e->file);
	rb_gguf *g = open_or_die(path);
	CHECK_EQ_INT(g->version, 3);
	CHECK(str_is(g, "general.architecture", "llama"));
	CHECK(str_is(g, "tokenizer.ggml.model", "llama"));
	CHECK_EQ_INT(get_u32(g, "llama.embedding_length"), 64);
	CHECK_EQ_INT(get_u32(g, "llama.block_count"), 5);
	CHECK_EQ_INT(get_u32(g, "llama.feed_forward_length"), 172);
	CHECK_EQ_INT(get_u32(g, "llama.attention.head_count"), 8);
	CHECK_EQ_INT(get_u32(g, "llama.attention.head_count_kv"), 4);
	CHECK_EQ_INT(get_u32(g, "llama.context_length"), 512);
	float eps = 0;
	CHECK_EQ_INT(rb_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps, NULL), RB_OK);
	CHECK_NEAR(eps, 1e-5, 1e-10);
	const rb_gguf_array *tok = NULL, *scores = NULL;
	CHECK_EQ_INT(rb_gguf_get_arr(g, "tokenizer.ggml.tokens", &tok, NULL), RB_OK);
	CHECK_EQ_INT(rb_gguf_get_arr(g, "tokenizer.ggml.scores", &scores, NULL), RB_OK);
	if (tok && scores) {
		CHECK(tok->type == RB_GGUF_STRING && tok->n == 512);
		CHECK(rb_gguf_str_eq(tok->strs[0], "<unk>") && rb_gguf_str_eq(tok->strs[1], "<s>") &&
		      rb_gguf_str_eq(tok->strs[2], "</s>") && rb_gguf_str_eq(tok->strs[3], "<0x00>"));
		CHECK(scores->type == RB_GGUF_FLOAT32 && scores->n == 512);
	}
	CHECK_EQ_INT(g->n_tensors, 48); /* 5 x 9 + output, output_norm, token_embd */
	const rb_gguf_tensor *embd = rb_gguf_find_tensor(g, "token_embd.weight");
	const rb_gguf_tensor *down = rb_gguf_find_tensor(g, "blk.4.ffn_down.weight");
	const rb_gguf_tensor *norm = rb_gguf_find_tensor(g, "blk.0.attn_norm.weight");
	REQUIRE(embd && down && norm);
	CHECK(embd->type == e->embd_type && embd->n_dims == 2 && embd->ne[0] == 64 &&
	      embd->ne[1] == 512);
	CHECK(down->type == e->down_type && down->ne[0] == 172 && down->ne[1] == 64);
	CHECK(norm->type == e->norm_type && norm->n_dims == 1 && norm->ne[0] == 64);
	CHECK(embd->nbytes == rb_row_size(embd->type, 64) * 512);
	uint64_t sum = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++)
		sum += g->tensors[i].nbytes;
	CHECK(sum <= g->size - g->data_offset);
	rb_gguf_close(g);
}

/* The F16 file's matrices are the f32 file's rounded to f16: a check that
 * both files' tensors are located where the reader says. */
static void test_cross_file_data(void)
{
	rb_gguf *f32 = open_or_die(STORIES "f32.gguf");
	rb_gguf *f16 = open_or_die(STORIES "F16.gguf");
	int checked = 0, bad = 0;
	for (uint64_t i = 0; i < f32->n_tensors; i++) {
		const rb_gguf_tensor *a = &f32->tensors[i];
		char *name = rb_gguf_str_dup(a->name);
		const rb_gguf_tensor *b = rb_gguf_find_tensor(f16, name);
		free(name);
		CHECK(b != NULL);
		if (!b || a->type != RB_TYPE_F32)
			continue;
		const uint64_t n = a->nbytes / 4;
		for (uint64_t j = 0; j < n; j++) {
			float x, y;
			memcpy(&x, (const uint8_t *)a->data + 4 * j, 4);
			if (b->type == RB_TYPE_F16) {
				uint16_t h;
				memcpy(&h, (const uint8_t *)b->data + 2 * j, 2);
				y = rb_f16_to_f32(h);
				bad += rb_f32_to_f16(x) != h;
			} else {
				memcpy(&y, (const uint8_t *)b->data + 4 * j, 4);
				bad += x != y;
			}
			checked++;
		}
	}
	CHECK(checked > 200000);
	CHECK_EQ_INT(bad, 0);
	rb_gguf_close(f32);
	rb_gguf_close(f16);
}

static void test_vocab_files(void)
{
	rb_gguf *g = open_or_die(TOKENIZERS "qwen2-vocab.gguf");
	CHECK(str_is(g, "tokenizer.ggml.model", "gpt2"));
	CHECK(str_is(g, "tokenizer.ggml.pre", "qwen2"));
	CHECK(str_is(g, "general.architecture", "qwen2"));
	CHECK_EQ_INT(g->n_tensors, 0);
	const rb_gguf_array *tok = NULL, *merges = NULL, *types = NULL;
	CHECK_EQ_INT(rb_gguf_get_arr(g, "tokenizer.ggml.tokens", &tok, NULL), RB_OK);
	CHECK_EQ_INT(rb_gguf_get_arr(g, "tokenizer.ggml.merges", &merges, NULL), RB_OK);
	CHECK_EQ_INT(rb_gguf_get_arr(g, "tokenizer.ggml.token_type", &types, NULL), RB_OK);
	if (tok && merges && types) {
		CHECK_EQ_INT(tok->n, 151936);
		CHECK_EQ_INT(merges->n, 151387);
		CHECK_EQ_INT(types->n, 151936);
		CHECK(rb_gguf_str_eq(tok->strs[151643], "<|endoftext|>"));
		CHECK(rb_gguf_str_eq(tok->strs[151644], "<|im_start|>"));
		CHECK(rb_gguf_str_eq(tok->strs[151645], "<|im_end|>"));
		CHECK(rb_gguf_str_eq(tok->strs[0], "!"));
		CHECK(rb_gguf_str_eq(merges->strs[0], "\xc4\xa0 \xc4\xa0")); /* "Ġ Ġ" */
	}
	CHECK_EQ_INT(get_u32(g, "tokenizer.ggml.bos_token_id"), 151643);
	CHECK_EQ_INT(get_u32(g, "tokenizer.ggml.eos_token_id"), 151645);
	CHECK_EQ_INT(get_u32(g, "qwen2.embedding_length"), 1536);
	CHECK_EQ_INT(get_u32(g, "qwen2.block_count"), 28);
	rb_gguf_str tmpl = {0};
	CHECK_EQ_INT(rb_gguf_get_str(g, "tokenizer.chat_template", &tmpl, NULL), RB_OK);
	CHECK(tmpl.len > 100 && memmem(tmpl.data, tmpl.len, "<|im_start|>", 12));
	rb_gguf_close(g);

	g = open_or_die(TOKENIZERS "llama-spm-vocab.gguf");
	CHECK_EQ_INT(rb_gguf_get_arr(g, "tokenizer.ggml.tokens", &tok, NULL), RB_OK);
	CHECK(tok && tok->n == 32000);
	bool add_bos = false;
	CHECK_EQ_INT(rb_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, NULL), RB_OK);
	CHECK(add_bos);
	rb_gguf_close(g);
}

/* Copy every kv and tensor into a writer and compare the bytes. Our writer
 * pads the end of the metadata even without tensors; some tools do not, so
 * there the original must be a prefix followed by zero padding only. */
static void check_rewrite(const char *path)
{
	rb_gguf *g = open_or_die(path);
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	CHECK_EQ_INT(rb_gguf_writer_set_version(w, g->version), RB_OK);
	for (uint64_t i = 0; i < g->n_kv; i++)
		CHECK_EQ_INT(rb_gguf_set_kv(w, &g->kv[i]), RB_OK);
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const rb_gguf_tensor *t = &g->tensors[i];
		char *name = rb_gguf_str_dup(t->name);
		CHECK_EQ_INT(rb_gguf_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data), RB_OK);
		free(name);
	}
	void *buf;
	size_t n;
	rb_err err;
	CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err), RB_OK);
	if (n == g->size) {
		CHECKF(memcmp(buf, g->base, n) == 0, "%s: re-written bytes differ", path);
	} else {
		CHECKF(g->n_tensors == 0 && n > g->size && n - g->size < g->alignment,
		       "%s: size %zu vs %llu", path, n, (unsigned long long)g->size);
		int nonzero = 0;
		for (size_t i = (size_t)g->size; i < n; i++)
			nonzero += ((uint8_t *)buf)[i] != 0;
		CHECK(memcmp(buf, g->base, (size_t)g->size) == 0 && nonzero == 0);
	}
	free(buf);
	rb_gguf_writer_free(w);
	rb_gguf_close(g);
}

/* Carry a vocabulary into a new file by prefix, as the model generator does. */
static void test_copy_kvs(void)
{
	rb_gguf *g = open_or_die(TOKENIZERS "qwen2-vocab.gguf");
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	CHECK_EQ_INT(rb_gguf_set_str(w, "general.architecture", "qwen2"), RB_OK);
	CHECK_EQ_INT(rb_gguf_copy_kvs(w, g, "tokenizer."), RB_OK);
	void *buf;
	size_t n;
	rb_err err;
	CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err), RB_OK);
	rb_gguf_writer_free(w);
	rb_gguf *c = NULL;
	CHECK_EQ_INT(rb_gguf_open_memory(buf, n, &c, &err), RB_OK);
	if (c) {
		uint64_t want = 1;
		for (uint64_t i = 0; i < g->n_kv; i++)
			want += g->kv[i].key.len >= 10 && !memcmp(g->kv[i].key.data, "tokenizer.", 10);
		CHECK_EQ_INT(c->n_kv, want);
		CHECK(want == 10);
		CHECK(rb_gguf_find_key(c, "qwen2.block_count") < 0);
		const rb_gguf_array *a = NULL, *b = NULL;
		CHECK_EQ_INT(rb_gguf_get_arr(g, "tokenizer.ggml.merges", &a, NULL), RB_OK);
		CHECK_EQ_INT(rb_gguf_get_arr(c, "tokenizer.ggml.merges", &b, NULL), RB_OK);
		int bad = !a || !b || a->n != b->n;
		for (uint64_t i = 0; !bad && i < a->n; i++)
			bad += a->strs[i].len != b->strs[i].len ||
			       memcmp(a->strs[i].data, b->strs[i].data, (size_t)a->strs[i].len);
		CHECK_EQ_INT(bad, 0);
		rb_gguf_close(c);
	}
	free(buf);
	rb_gguf_close(g);
}

static void test_print_info(void)
{
	rb_gguf *g = open_or_die(STORIES "Q8_0.gguf");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	REQUIRE(f);
	CHECK_EQ_INT(rb_gguf_print_info(g, f, 3), RB_OK);
	fclose(f);
	static const char *const needles[] = {
		"GGUF v3, 379168 bytes, alignment 32",
		"llama.embedding_length",
		"string[512]",
		"[\"<unk>\", \"<s>\", \"</s>\", ... 509 more]",
		"tensors: 48",
		"token_embd.weight",
		"64 x 512",
		"total: 48 tensors",
	};
	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
		CHECKF(text && strstr(text, needles[i]), "print_info lacks \"%s\"", needles[i]);
	/* one line per tensor with its byte size */
	const rb_gguf_tensor *t = rb_gguf_find_tensor(g, "blk.3.ffn_down.weight");
	REQUIRE(t);
	const char *at = text ? strstr(text, "blk.3.ffn_down.weight ") : NULL;
	REQUIRE(at);
	char line[256], want[64];
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(at, "\n"), at);
	snprintf(want, sizeof(want), " %s ", rb_type_name(t->type));
	CHECKF(strstr(line, want), "\"%s\" lacks \"%s\"", line, want);
	snprintf(want, sizeof(want), " %llu", (unsigned long long)t->nbytes);
	CHECKF(strlen(line) > strlen(want) && !strcmp(line + strlen(line) - strlen(want), want),
	       "\"%s\" does not end with \"%s\"", line, want);
	free(text);
	rb_gguf_close(g);
}

struct progress {
	int calls;
	uint64_t last, total;
	int monotonic;
};

static void on_progress(void *user, uint64_t done, uint64_t total)
{
	struct progress *p = user;
	p->monotonic &= done >= p->last && done <= total;
	p->calls++;
	p->last = done;
	p->total = total;
}

static void test_prefault(void)
{
	rb_gguf *g = open_or_die(STORIES "f32.gguf");
	struct progress p = {.monotonic = 1};
	rb_gguf_prefault(g, on_progress, &p);
	CHECK(p.calls >= 2 && p.monotonic);
	CHECK(p.total == g->size - g->data_offset && p.last == p.total);
	rb_gguf_prefault(g, NULL, NULL);
	rb_gguf_close(g);
}

int main(void)
{
	static const struct stories_expect stories[] = {
		{"f32", RB_TYPE_F32, RB_TYPE_F32, RB_TYPE_F32},
		{"F16", RB_TYPE_F16, RB_TYPE_F16, RB_TYPE_F32},
		{"Q8_0", RB_TYPE_Q8_0, RB_TYPE_F16, RB_TYPE_F32},
		{"Q4_K_M", RB_TYPE_Q5_0, RB_TYPE_F16, RB_TYPE_F32},
	};
	for (size_t i = 0; i < sizeof(stories) / sizeof(stories[0]); i++)
		check_stories(&stories[i]);
	test_cross_file_data();
	test_vocab_files();
	check_rewrite(STORIES "f32.gguf");
	check_rewrite(STORIES "F16.gguf");
	check_rewrite(STORIES "Q8_0.gguf");
	check_rewrite(STORIES "Q4_K_M.gguf");
	check_rewrite(TOKENIZERS "qwen2-vocab.gguf");
	check_rewrite(TOKENIZERS "llama-spm-vocab.gguf");
	test_copy_kvs();
	test_print_info();
	test_prefault();
	return rb_test_finish();
}
