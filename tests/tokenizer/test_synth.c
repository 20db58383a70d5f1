/* SPDX-License-Identifier: MIT */
/* Synthetic vocabularies written with the GGUF writer: the heap-based merge
 * loops against naive quadratic reference implementations of BPE (lowest
 * rank, leftmost first) and SentencePiece BPE (highest score, leftmost first),
 * and the error paths of loading. */
#include <stdbool.h>

#include "rosenblatt/gguf.h"
#include "rosenblatt/tokenizer.h"
#include "test.h"

#define MAX_TOK 512
#define MAX_STR 64

struct vocab {
	char text[MAX_TOK][MAX_STR];
	int32_t type[MAX_TOK];
	float score[MAX_TOK];
	int n;
	char merges[MAX_TOK][2 * MAX_STR + 2];
	int n_merges;
};

static int vocab_find(const struct vocab *v, const char *s)
{
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->text[i], s) == 0)
			return i;
	return -1;
}

static int vocab_add(struct vocab *v, const char *s, int32_t type, float score)
{
	REQUIRE(v->n < MAX_TOK && strlen(s) < MAX_STR);
	snprintf(v->text[v->n], MAX_STR, "%s", s);
	v->type[v->n] = type;
	v->score[v->n] = score;
	return v->n++;
}

static rb_tokenizer *build(const struct vocab *v, const char *model, const char *pre, bool merges,
			   int *rc_out, rb_err *err)
{
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	const char *texts[MAX_TOK], *mtexts[MAX_TOK];
	for (int i = 0; i < v->n; i++)
		texts[i] = v->text[i];
	for (int i = 0; i < v->n_merges; i++)
		mtexts[i] = v->merges[i];
	if (model)
		CHECK(rb_gguf_set_str(w, "tokenizer.ggml.model", model) == RB_OK);
	if (pre)
		CHECK(rb_gguf_set_str(w, "tokenizer.ggml.pre", pre) == RB_OK);
	CHECK(rb_gguf_set_arr_str(w, "tokenizer.ggml.tokens", texts, (uint64_t)v->n) == RB_OK);
	CHECK(rb_gguf_set_arr(w, "tokenizer.ggml.token_type", RB_GGUF_INT32, v->type, (uint64_t)v->n) == RB_OK);
	CHECK(rb_gguf_set_arr(w, "tokenizer.ggml.scores", RB_GGUF_FLOAT32, v->score, (uint64_t)v->n) == RB_OK);
	if (merges)
		CHECK(rb_gguf_set_arr_str(w, "tokenizer.ggml.merges", mtexts, (uint64_t)v->n_merges) == RB_OK);
	void *data;
	size_t size;
	REQUIRE(rb_gguf_write_memory(w, &data, &size, NULL, NULL, err) == RB_OK);
	rb_gguf_writer_free(w);
	rb_gguf *g;
	REQUIRE(rb_gguf_open_memory(data, size, &g, err) == RB_OK);
	rb_tokenizer *tok = NULL;
	*rc_out = rb_tokenizer_from_gguf(g, NULL, &tok, err);
	rb_gguf_close(g);
	free(data); /* the tokenizer copies what it needs */
	return tok;
}

/* dst += src for two distinct symbol slots (lengths checked by the callers) */
static void join(char *dst, const char *src)
{
	size_t a = strlen(dst), b = strlen(src);
	REQUIRE(a + b < MAX_STR);
	memcpy(dst + a, src, b + 1);
}

/* ---- BPE ------------------------------------------------------------------- */

static void naive_bpe(const struct vocab *v, const char *text, int32_t *ids, size_t *n_ids)
{
	char sym[256][MAX_STR];
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i++) {
		sym[i][0] = text[i];
		sym[i][1] = '\0';
	}
	for (;;) {
		int best = -1;
		size_t at = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			char pair[2 * MAX_STR + 2];
			size_t la = strlen(sym[i]), lb = strlen(sym[i + 1]);
			memcpy(pair, sym[i], la);
			pair[la] = ' ';
			memcpy(pair + la + 1, sym[i + 1], lb + 1);
			for (int r = 0; r < v->n_merges; r++) {
				if (strcmp(v->merges[r], pair) == 0 && (best < 0 || r < best)) {
					best = r;
					at = i;
				}
			}
		}
		if (best < 0)
			break;
		join(sym[at], sym[at + 1]);
		memmove(sym[at + 1], sym[at + 2], (n - at - 2) * sizeof(sym[0]));
		n--;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = vocab_find(v, sym[i]);
	*n_ids = n;
}

static void test_bpe_vs_naive(void)
{
	uint64_t seed = 99;
	int vocabs = rb_test_quick() ? 6 : 30;
	for (int vi = 0; vi < vocabs; vi++) {
		struct vocab *v = calloc(1, sizeof(*v));
		REQUIRE(v);
		/* the GPT-2 byte alphabet: printable ASCII stands for itself */
		for (int b = '!'; b <= '~'; b++) {
			char s[2] = { (char)b, 0 };
			vocab_add(v, s, RB_TOKEN_NORMAL, 0);
		}
		const char *letters = "abcd";
		int n_merges = 10 + (int)(rb_test_rand_u64(&seed) % 60);
		for (int tries = 0; v->n_merges < n_merges && tries < 1000; tries++) {
			/* pick two existing tokens made of letters */
			int a = (int)(rb_test_rand_u64(&seed) % (size_t)v->n);
			int b = (int)(rb_test_rand_u64(&seed) % (size_t)v->n);
			if (strspn(v->text[a], letters) != strlen(v->text[a]) ||
			    strspn(v->text[b], letters) != strlen(v->text[b]) ||
			    strlen(v->text[a]) + strlen(v->text[b]) >= MAX_STR)
				continue;
			char ta[MAX_STR], tb[MAX_STR], cat[MAX_STR];
			memcpy(ta, v->text[a], MAX_STR);
			memcpy(tb, v->text[b], MAX_STR);
			memcpy(cat, ta, MAX_STR);
			join(cat, tb);
			if (vocab_find(v, cat) >= 0)
				continue;
			vocab_add(v, cat, RB_TOKEN_NORMAL, 0);
			char *m = v->merges[v->n_merges++];
			size_t la = strlen(ta), lb = strlen(tb);
			memcpy(m, ta, la);
			m[la] = ' ';
			memcpy(m + la + 1, tb, lb + 1);
		}
		rb_err err = { 0 };
		int rc;
		rb_tokenizer *tok = build(v, "gpt2", "qwen2", true, &rc, &err);
		CHECKF(rc == RB_OK, "%s", err.msg);
		if (!tok) {
			free(v);
			continue;
		}
		rb_tokens got = { 0 };
		for (int t = 0; t < 50; t++) {
			char text[200];
			size_t len = 1 + rb_test_rand_u64(&seed) % (sizeof(text) - 1);
			for (size_t i = 0; i < len; i++)
				text[i] = letters[rb_test_rand_u64(&seed) % 4];
			text[len] = '\0';
			int32_t want[256];
			size_t n_want;
			naive_bpe(v, text, want, &n_want);
			got.n = 0;
			CHECK(rb_tokenizer_encode(tok, text, len, 0, &got, &err) == RB_OK);
			CHECKF(got.n == n_want && memcmp(got.ids, want, n_want * 4) == 0,
			       "vocab %d: \"%s\": %zu tokens vs %zu", vi, text, got.n, n_want);
		}
		rb_tokens_free(&got);
		rb_tokenizer_free(tok);
		free(v);
	}
}

/* ---- SentencePiece ------------------------------------------------------------ */

#define SP "\xe2\x96\x81"

/* Symbols are UTF-8 characters of the escaped text. */
static void naive_spm(const struct vocab *v, const char *text, int32_t *ids, size_t *n_ids)
{
	char esc[1024] = SP;
	for (const char *p = text; *p; p++)
		strcat(esc, *p == ' ' ? SP : (char[]){ *p, 0 });
	char sym[512][MAX_STR];
	size_t n = 0;
	for (const char *p = esc; *p;) {
		size_t k = ((uint8_t)*p & 0xE0) == 0xE0 ? 3 : 1;
		memcpy(sym[n], p, k);
		sym[n++][k] = '\0';
		p += k;
	}
	for (;;) {
		float best = 0;
		long at = -1;
		for (size_t i = 0; i + 1 < n; i++) {
			char cat[2 * MAX_STR];
			size_t la = strlen(sym[i]), lb = strlen(sym[i + 1]);
			memcpy(cat, sym[i], la);
			memcpy(cat + la, sym[i + 1], lb + 1);
			int id = strlen(cat) < MAX_STR ? vocab_find(v, cat) : -1;
			if (id >= 0 && v->type[id] == RB_TOKEN_NORMAL && (at < 0 || v->score[id] > best)) {
				best = v->score[id];
				at = (long)i;
			}
		}
		if (at < 0)
			break;
		join(sym[at], sym[at + 1]);
		memmove(sym[at + 1], sym[at + 2], (n - (size_t)at - 2) * sizeof(sym[0]));
		n--;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int id = vocab_find(v, sym[i]);
		if (id >= 0) {
			ids[k++] = id;
			continue;
		}
		for (const char *p = sym[i]; *p; p++) {
			char name[8];
			snprintf(name, sizeof(name), "<0x%02X>", (uint8_t)*p);
			ids[k++] = vocab_find(v, name);
		}
	}
	*n_ids = k;
}

static void test_spm_vs_naive(void)
{
	uint64_t seed = 5;
	int vocabs = rb_test_quick() ? 6 : 30;
	const char *alpha[] = { SP, "a", "b", "c", "d" };
	for (int vi = 0; vi < vocabs; vi++) {
		struct vocab *v = calloc(1, sizeof(*v));
		REQUIRE(v);
		vocab_add(v, "<unk>", RB_TOKEN_UNKNOWN, 0);
		vocab_add(v, "<s>", RB_TOKEN_CONTROL, 0);
		vocab_add(v, "</s>", RB_TOKEN_CONTROL, 0);
		for (int b = 0; b < 256; b++) {
			char name[8];
			snprintf(name, sizeof(name), "<0x%02X>", b);
			vocab_add(v, name, RB_TOKEN_BYTE, 0);
		}
		for (int i = 0; i < 5; i++)
			vocab_add(v, alpha[i], RB_TOKEN_NORMAL, -100);
		/* random pieces over the alphabet, scores from a few values (ties) */
		for (int k = 0; k < 60; k++) {
			char s[MAX_STR] = "";
			int len = 2 + (int)(rb_test_rand_u64(&seed) % 4);
			/* odd vocabularies: U+2581 only in a leading run, which lets
			 * the encoder merge word by word; even ones: anywhere */
			bool word_pieces = vi % 2, leading = true;
			for (int i = 0; i < len; i++) {
				size_t pick = rb_test_rand_u64(&seed) % 5;
				if (word_pieces && pick == 0 && !leading)
					pick = 1 + rb_test_rand_u64(&seed) % 4;
				leading = leading && pick == 0;
				strcat(s, alpha[pick]);
			}
			if (vocab_find(v, s) < 0)
				vocab_add(v, s, RB_TOKEN_NORMAL, -(float)(rb_test_rand_u64(&seed) % 8));
		}
		rb_err err = { 0 };
		int rc;
		rb_tokenizer *tok = build(v, "llama", NULL, false, &rc, &err);
		CHECKF(rc == RB_OK, "%s", err.msg);
		if (!tok) {
			free(v);
			continue;
		}
		rb_tokens got = { 0 };
		for (int t = 0; t < 50; t++) {
			char text[120];
			size_t len = 1 + rb_test_rand_u64(&seed) % (sizeof(text) - 1);
			for (size_t i = 0; i < len; i++)
				text[i] = "abcd e"[rb_test_rand_u64(&seed) % 6]; /* 'e' is not a piece */
			text[len] = '\0';
			int32_t want[512];
			size_t n_want;
			naive_spm(v, text, want, &n_want);
			got.n = 0;
			CHECK(rb_tokenizer_encode(tok, text, len, 0, &got, &err) == RB_OK);
			CHECKF(got.n == n_want && memcmp(got.ids, want, n_want * 4) == 0,
			       "vocab %d: \"%s\": %zu tokens vs %zu", vi, text, got.n, n_want);
		}
		rb_tokens_free(&got);
		rb_tokenizer_free(tok);
		free(v);
	}
}

/* ---- loading errors -------------------------------------------------------- */

static void test_errors(void)
{
	struct vocab *v = calloc(1, sizeof(*v));
	REQUIRE(v);
	vocab_add(v, "a", RB_TOKEN_NORMAL, 0);
	vocab_add(v, "b", RB_TOKEN_NORMAL, 0);
	vocab_add(v, "ab", RB_TOKEN_NORMAL, 0);
	snprintf(v->merges[v->n_merges++], sizeof(v->merges[0]), "a b");
	rb_err err = { 0 };
	int rc;
	rb_tokenizer *tok = build(v, NULL, NULL, true, &rc, &err);
	CHECK(!tok && rc == RB_E_INVALID && strstr(err.msg, "tokenizer.ggml.model"));

	tok = build(v, "wordpiece", NULL, true, &rc, &err);
	CHECK(!tok && rc == RB_E_UNSUPPORTED && strstr(err.msg, "wordpiece"));

	tok = build(v, "gpt2", "klingon", true, &rc, &err);
	CHECKF(!tok && rc == RB_E_UNSUPPORTED && strstr(err.msg, "klingon") && strstr(err.msg, "qwen2"),
	       "%s", err.msg);

	tok = build(v, "gpt2", NULL, false, &rc, &err);
	CHECK(!tok && rc == RB_E_INVALID && strstr(err.msg, "merges"));

	/* no pre-tokenizer: default split with a warning */
	tok = build(v, "gpt2", NULL, true, &rc, &err);
	CHECK(tok && rc == RB_OK && rb_tokenizer_pre(tok) == RB_TOK_PRE_DEFAULT);
	CHECK(tok && rb_tokenizer_warning(tok) && strstr(rb_tokenizer_warning(tok), "default"));
	if (tok) {
		rb_tokens t = { 0 };
		/* "ab" merges; no BOS in this vocabulary */
		CHECK(rb_tokenizer_encode(tok, "ab", 2, 0, &t, &err) == RB_OK && t.n == 1 && t.ids[0] == 2);
		CHECK(rb_tokenizer_encode(tok, "ab", 2, RB_TOK_ADD_BOS, &t, &err) == RB_E_INVALID);
		CHECK(t.n == 1); /* unchanged on error */
		/* bytes the vocabulary lacks and no unknown token: a clear error */
		CHECK(rb_tokenizer_encode(tok, "z", 1, 0, &t, &err) == RB_E_UNSUPPORTED &&
		      strstr(err.msg, "0x7a"));
		int32_t bad[2] = { 0, 7 };
		char *s;
		size_t n;
		CHECK(rb_tokenizer_decode(tok, bad, 2, 0, &s, &n, &err) == RB_E_INVALID &&
		      strstr(err.msg, "position 1"));
		rb_tokens_free(&t);
		rb_tokenizer_free(tok);
	}

	/* token_type array of the wrong length */
	v->n_merges = 0;
	v->n = 2;
	rb_gguf_writer *w = rb_gguf_writer_create();
	const char *texts[2] = { "a", "b" };
	int32_t types[3] = { 1, 1, 1 };
	rb_gguf_set_str(w, "tokenizer.ggml.model", "llama");
	rb_gguf_set_arr_str(w, "tokenizer.ggml.tokens", texts, 2);
	rb_gguf_set_arr(w, "tokenizer.ggml.token_type", RB_GGUF_INT32, types, 3);
	void *data;
	size_t size;
	REQUIRE(rb_gguf_write_memory(w, &data, &size, NULL, NULL, &err) == RB_OK);
	rb_gguf *g;
	REQUIRE(rb_gguf_open_memory(data, size, &g, &err) == RB_OK);
	CHECK(rb_tokenizer_from_gguf(g, NULL, &tok, &err) == RB_E_FORMAT && !tok &&
	      strstr(err.msg, "token_type"));
	/* tokens that are not strings */
	rb_gguf_close(g);
	free(data);
	rb_gguf_set_arr(w, "tokenizer.ggml.tokens", RB_GGUF_INT32, types, 2);
	REQUIRE(rb_gguf_write_memory(w, &data, &size, NULL, NULL, &err) == RB_OK);
	REQUIRE(rb_gguf_open_memory(data, size, &g, &err) == RB_OK);
	CHECK(rb_tokenizer_from_gguf(g, NULL, &tok, &err) == RB_E_FORMAT && !tok &&
	      strstr(err.msg, "tokenizer.ggml.tokens"));
	rb_gguf_close(g);
	free(data);
	rb_gguf_writer_free(w);

	char path[1024];
	snprintf(path, sizeof(path), "%s/no-such-file.gguf", RB_TEST_DATA_DIR);
	CHECK(rb_tokenizer_load(path, NULL, &tok, &err) == RB_E_IO && !tok);
	free(v);
}

/* ---- mutation fuzzing of the metadata a tokenizer is built from -------- */

static void *vocab_file(const struct vocab *v, const char *model, bool merges, size_t *size)
{
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	const char *texts[MAX_TOK], *mtexts[MAX_TOK];
	for (int i = 0; i < v->n; i++)
		texts[i] = v->text[i];
	for (int i = 0; i < v->n_merges; i++)
		mtexts[i] = v->merges[i];
	rb_gguf_set_str(w, "tokenizer.ggml.model", model);
	rb_gguf_set_str(w, "tokenizer.ggml.pre", "qwen2");
	rb_gguf_set_arr_str(w, "tokenizer.ggml.tokens", texts, (uint64_t)v->n);
	rb_gguf_set_arr(w, "tokenizer.ggml.token_type", RB_GGUF_INT32, v->type, (uint64_t)v->n);
	rb_gguf_set_arr(w, "tokenizer.ggml.scores", RB_GGUF_FLOAT32, v->score, (uint64_t)v->n);
	rb_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
	rb_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
	rb_gguf_set_str(w, "tokenizer.chat_template", "<|im_start|>");
	if (merges)
		rb_gguf_set_arr_str(w, "tokenizer.ggml.merges", mtexts, (uint64_t)v->n_merges);
	void *data;
	rb_err err = { 0 };
	REQUIRE(rb_gguf_write_memory(w, &data, size, NULL, NULL, &err) == RB_OK);
	rb_gguf_writer_free(w);
	return data;
}

static void fuzz_one(const uint8_t *orig, size_t size, uint64_t *seed, int *built)
{
	uint8_t *buf = malloc(size);
	REQUIRE(buf);
	memcpy(buf, orig, size);
	int flips = 1 + (int)(rb_test_rand_u64(seed) % 4);
	for (int i = 0; i < flips; i++) {
		uint64_t r = rb_test_rand_u64(seed);
		/* mostly small changes (types, lengths, ids), sometimes any byte */
		buf[r % size] = (r >> 40) & 1 ? (uint8_t)(r >> 48) : (uint8_t)(buf[r % size] ^ (1u << ((r >> 32) % 8)));
	}
	rb_gguf *g;
	rb_err err = { 0 };
	if (rb_gguf_open_memory(buf, size, &g, &err) == RB_OK) {
		rb_tokenizer *tok = NULL;
		int rc = rb_tokenizer_from_gguf(g, NULL, &tok, &err);
		CHECK((rc == RB_OK) == (tok != NULL));
		CHECK(rc == RB_OK || err.msg[0]);
		rb_gguf_close(g);
		if (tok) {
			(*built)++;
			char text[64];
			for (size_t k = 0; k < sizeof(text); k++)
				text[k] = "ab cd\n<|>\xe2\x96\x81\xff"[rb_test_rand_u64(seed) % 13];
			rb_tokens t = { 0 };
			if (rb_tokenizer_encode(tok, text, sizeof(text), RB_TOK_PARSE_SPECIAL | RB_TOK_ADD_SPECIAL, &t, &err) == RB_OK) {
				char *out;
				size_t len;
				CHECK(rb_tokenizer_decode(tok, t.ids, t.n, RB_DECODE_SPECIAL, &out, &len, &err) == RB_OK);
				free(out);
			}
			rb_tokens_free(&t);
			rb_tokenizer_free(tok);
		}
	}
	free(buf);
}

static void test_fuzz_metadata(void)
{
	struct vocab *v = calloc(1, sizeof(*v));
	REQUIRE(v);
	vocab_add(v, "<unk>", RB_TOKEN_UNKNOWN, 0);
	vocab_add(v, "<s>", RB_TOKEN_CONTROL, 0);
	vocab_add(v, "</s>", RB_TOKEN_CONTROL, 0);
	const char *pieces[] = { "a", "b", "c", "d", "ab", "cd", "abcd", SP, SP "a", "<0x61>", "<|x|>" };
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
		vocab_add(v, pieces[i], i == 9 ? RB_TOKEN_BYTE : i == 10 ? RB_TOKEN_USER_DEFINED : RB_TOKEN_NORMAL,
			  -(float)i);
	const char *merges[] = { "a b", "c d", "ab cd", SP " a" };
	for (size_t i = 0; i < 4; i++)
		snprintf(v->merges[v->n_merges++], sizeof(v->merges[0]), "%s", merges[i]);
	uint64_t seed = 77;
	int iters = rb_test_quick() ? 400 : 4000, built = 0;
	for (int m = 0; m < 2; m++) {
		size_t size;
		uint8_t *file = vocab_file(v, m ? "llama" : "gpt2", m == 0, &size);
		for (int i = 0; i < iters; i++)
			fuzz_one(file, size, &seed, &built);
		free(file);
	}
	CHECK(built > iters / 20); /* enough mutated files still load to reach encode */
	printf("metadata fuzz: %d of %d mutated files built a tokenizer\n", built, 2 * iters);
	free(v);
}

int main(void)
{
	test_fuzz_metadata();
	test_bpe_vs_naive();
	test_spm_vs_naive();
	test_errors();
	return rb_test_finish();
}
