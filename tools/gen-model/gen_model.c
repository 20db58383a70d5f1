/* SPDX-License-Identifier: MIT */
/* rb-gen-model: synthetic Qwen2-architecture GGUF models with seeded random
 * weights and the real Qwen2 vocabulary, for tests and benchmarks where no
 * real weights can be downloaded.
 *
 * Weights are uniform random with scales chosen so a forward pass stays sane
 * through any depth: pre-norm blocks with unit-gain projections; logits of
 * standard deviation about 3 (embedding rows of norm 3); residual branches
 * of gain 10 / sqrt(2 * n_layer), so the residual stream ends with an RMS
 * near 10 whatever the depth. That last choice matters with tied
 * embeddings: the current token's own embedding stays in the residual and
 * adds |e|^2 / rms(x) = 9 / rms(x) to its own logit; at rms 1 every token
 * would predict itself. The text is gibberish but never NaN, constant,
 * one-hot or a loop of one token. Every tensor is generated row by row from its own seed, so the
 * output does not depend on the thread count. Quantization uses rb_quant. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recipe.h"
#include "rosenblatt/gguf.h"
#include "rosenblatt/quant.h"
#include "rosenblatt/threadpool.h"

#define MAX_TENSORS 4096
#define CHUNK_ROWS 1024

struct shape {
	int64_t n_embd, n_layer, n_ff, n_head, n_head_kv, n_ctx;
	float rope_base, eps;
	bool tied;
};

struct preset {
	const char *name;
	const char *what;
	struct shape s;
};

/* Qwen2.5 shapes from the published config.json of the Qwen2.5 models
 * (hidden_size, num_hidden_layers, intermediate_size, num_attention_heads,
 * num_key_value_heads, max_position_embeddings, rope_theta, rms_norm_eps,
 * tie_word_embeddings). */
static const struct preset k_presets[] = {
	{"qwen2.5-1.5b", "Qwen2.5-1.5B shapes", {1536, 28, 8960, 12, 2, 32768, 1e6f, 1e-6f, true}},
	{"qwen2.5-0.5b", "Qwen2.5-0.5B shapes", {896, 24, 4864, 14, 2, 32768, 1e6f, 1e-6f, true}},
	{"small", "test model: 4 layers, embd 512", {512, 4, 1536, 8, 2, 1024, 1e6f, 1e-6f, true}},
	{"tiny", "test model: 2 layers, embd 256", {256, 2, 512, 4, 2, 256, 1e6f, 1e-6f, true}},
};

struct tensor {
	char name[64];
	enum rb_type type;
	int64_t ne0, ne1; /* ne1 = 1: vector */
	float center, amp;
	uint64_t seed;
};

struct gen {
	struct tensor t[MAX_TENSORS];
	size_t n;
	int n_threads;
	rb_threadpool *tp;
	float *buf; /* CHUNK_ROWS rows of floats */
	int64_t buf_cols;
	uint64_t bytes_total, bytes_done;
	double t0;
	bool tty;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- tensor list ------------------------------------------------------------ */

static void add(struct gen *g, const char *name, enum rb_type type, int64_t ne0, int64_t ne1,
		float center, float amp)
{
	struct tensor *t = &g->t[g->n];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = type;
	t->ne0 = ne0;
	t->ne1 = ne1;
	t->center = center;
	t->amp = amp;
	t->seed = g->n;
	g->n++;
}

/* Uniform in [-a, a] has standard deviation a / sqrt(3). */
static float amp_for_std(double std) { return (float)(std * sqrt(3.0)); }

static void plan(struct gen *g, const struct shape *s, enum gen_ftype ft, int64_t n_vocab,
		 uint64_t seed)
{
	const int64_t e = s->n_embd, ff = s->n_ff, kv = e / s->n_head * s->n_head_kv;
	const int L = (int)s->n_layer;
	const double resid = 10.0 / sqrt(2.0 * (double)L);
	char n[64];
	g->n = 0;
	/* Embeddings: logits = E . normalized(x) have std ~ 3 with row std 3/sqrt(e). */
	add(g, "token_embd.weight", gen_tensor_type(ft, ROLE_TOKEN_EMBD, 0, L, e, s->tied), e,
	    n_vocab, 0.0f, amp_for_std(3.0 / sqrt((double)e)));
	for (int il = 0; il < L; il++) {
#define T(role, fmt, ne0, ne1, std)                                                         \
	(snprintf(n, sizeof(n), fmt, il),                                                   \
	 add(g, n, gen_tensor_type(ft, role, il, L, ne0, s->tied), ne0, ne1, 0.0f,           \
	     amp_for_std(std)))
		snprintf(n, sizeof(n), "blk.%d.attn_norm.weight", il);
		add(g, n, RB_TYPE_F32, e, 1, 1.0f, 0.1f);
		T(ROLE_ATTN_Q, "blk.%d.attn_q.weight", e, e, 1.0 / sqrt((double)e));
		T(ROLE_VECTOR, "blk.%d.attn_q.bias", e, 1, 0.1);
		T(ROLE_ATTN_K, "blk.%d.attn_k.weight", e, kv, 1.0 / sqrt((double)e));
		T(ROLE_VECTOR, "blk.%d.attn_k.bias", kv, 1, 0.1);
		T(ROLE_ATTN_V, "blk.%d.attn_v.weight", e, kv, 1.0 / sqrt((double)e));
		T(ROLE_VECTOR, "blk.%d.attn_v.bias", kv, 1, 0.1);
		T(ROLE_ATTN_OUTPUT, "blk.%d.attn_output.weight", e, e, resid / sqrt((double)e));
		snprintf(n, sizeof(n), "blk.%d.ffn_norm.weight", il);
		add(g, n, RB_TYPE_F32, e, 1, 1.0f, 0.1f);
		T(ROLE_FFN_GATE, "blk.%d.ffn_gate.weight", e, ff, 1.0 / sqrt((double)e));
		T(ROLE_FFN_UP, "blk.%d.ffn_up.weight", e, ff, 1.0 / sqrt((double)e));
		/* silu(gate) * up has std ~ 0.5: scale down by 2 less */
		T(ROLE_FFN_DOWN, "blk.%d.ffn_down.weight", ff, e, 2.0 * resid / sqrt((double)ff));
#undef T
	}
	add(g, "output_norm.weight", RB_TYPE_F32, e, 1, 1.0f, 0.1f);
	if (!s->tied)
		add(g, "output.weight", gen_tensor_type(ft, ROLE_OUTPUT, 0, L, e, false), e, n_vocab,
		    0.0f, amp_for_std(3.0 / sqrt((double)e)));
	for (size_t i = 0; i < g->n; i++) /* per-tensor seeds from the model seed */
		g->t[i].seed = seed * 0x100000001b3ull ^ (0xcbf29ce484222325ull + g->t[i].seed);
}

/* ---- data ------------------------------------------------------------------ */

struct fill_task {
	struct gen *g;
	const struct tensor *t;
	int64_t r0, rows;
};

static void gen_rows(void *arg, int ith, int nth)
{
	const struct fill_task *a = arg;
	long b, e;
	rb_split_range((long)a->rows, ith, nth, &b, &e);
	for (long r = b; r < e; r++) {
		uint64_t st = a->t->seed ^ (uint64_t)(a->r0 + r) * 0x9e3779b97f4a7c15ull;
		float *row = a->g->buf + (size_t)r * (size_t)a->t->ne0;
		for (int64_t i = 0; i < a->t->ne0; i++) {
			const double u = (double)(splitmix64(&st) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
			row[i] = a->t->center + a->t->amp * (float)u;
		}
	}
}

static void progress(struct gen *g, size_t idx)
{
	const double pct = 100.0 * (double)g->bytes_done / (double)g->bytes_total;
	if (g->tty)
		fprintf(stderr, "\r[%4zu/%zu] %5.1f%% %-28s", idx + 1, g->n, pct, g->t[idx].name);
	else if (idx + 1 == g->n || (idx % 50) == 0)
		fprintf(stderr, "[%4zu/%zu] %5.1f%% %s\n", idx + 1, g->n, pct, g->t[idx].name);
}

static int fill(void *user, size_t idx, void *dst, uint64_t nbytes)
{
	struct gen *g = user;
	const struct tensor *t = &g->t[idx];
	const size_t row = rb_row_size(t->type, t->ne0);
	if (row * (uint64_t)t->ne1 != nbytes)
		return RB_E_INVALID;
	rb_err err = {0};
	for (int64_t r0 = 0; r0 < t->ne1; r0 += CHUNK_ROWS) {
		const int64_t rows = t->ne1 - r0 < CHUNK_ROWS ? t->ne1 - r0 : CHUNK_ROWS;
		struct fill_task a = {g, t, r0, rows};
		rb_threadpool_run(g->tp, gen_rows, &a);
		if (rb_quantize_rows(t->type, g->buf, (char *)dst + (size_t)r0 * row, rows, t->ne0,
				     g->n_threads, &err) != RB_OK) {
			fprintf(stderr, "\nerror: %s: %s\n", t->name, err.msg);
			return RB_E_INVALID;
		}
		g->bytes_done += row * (uint64_t)rows;
	}
	progress(g, idx);
	return 0;
}

/* ---- command line ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: rb-gen-model -o OUT.gguf [options]\n"
		"Write a synthetic Qwen2-architecture model: seeded random weights, the real\n"
		"Qwen2 vocabulary, quantized with Rosenblatt's own quantizers.\n\n"
		"  -o, --output FILE      output file (written atomically)\n"
		"      --preset NAME      shapes (default tiny):\n");
	for (size_t i = 0; i < sizeof(k_presets) / sizeof(k_presets[0]); i++)
		fprintf(f, "                           %-13s %s\n", k_presets[i].name, k_presets[i].what);
	fprintf(f,
		"      --type TYPE        f32, f16, q8_0 or q4_k_m (default q4_k_m; llama.cpp's\n"
		"                         Q4_K_M mix: Q4_K, Q6_K for attn_v/ffn_down in some\n"
		"                         layers and for the tied embeddings, norms/biases f32)\n"
		"      --seed N           weight seed (default 1)\n"
		"      --vocab FILE       GGUF with the tokenizer.* keys to copy\n"
		"                         (default %s)\n"
		"  -t, --threads N        threads (default: all cores)\n"
		"Shape overrides: --embd N --layers N --ff N --heads N --kv-heads N --ctx N\n"
		"                 --rope-base X --eps X --untied (separate output.weight)\n",
		RB_DEFAULT_VOCAB);
}

static bool num(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	const double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "rb-gen-model: %s: '%s' is not a number in [%g, %g]\n", opt, s, min,
			max);
		return false;
	}
	*out = v;
	return true;
}

struct args {
	const char *out, *vocab;
	struct shape s;
	enum gen_ftype ft;
	uint64_t seed;
	int n_threads;
};

static int parse(int argc, char **argv, struct args *a)
{
	a->out = NULL;
	a->vocab = RB_DEFAULT_VOCAB;
	a->s = k_presets[3].s;
	a->ft = GEN_Q4_K_M;
	a->seed = 1;
	a->n_threads = 0;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(o, "--untied")) {
			a->s.tied = false;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "rb-gen-model: unknown option or missing value: %s\n", o);
			return 2;
		}
		const char *v = argv[++i];
		double d;
		if (!strcmp(o, "-o") || !strcmp(o, "--output")) {
			a->out = v;
		} else if (!strcmp(o, "--vocab")) {
			a->vocab = v;
		} else if (!strcmp(o, "--preset")) {
			size_t k = 0;
			while (k < sizeof(k_presets) / sizeof(k_presets[0]) && strcmp(k_presets[k].name, v))
				k++;
			if (k == sizeof(k_presets) / sizeof(k_presets[0])) {
				fprintf(stderr, "rb-gen-model: unknown preset '%s'\n", v);
				return 2;
			}
			a->s = k_presets[k].s;
		} else if (!strcmp(o, "--type")) {
			if (!gen_ftype_parse(v, &a->ft)) {
				fprintf(stderr, "rb-gen-model: --type: '%s' is not f32, f16, q8_0, q4_k_m\n",
					v);
				return 2;
			}
		} else if (!strcmp(o, "--seed")) {
			if (!num(o, v, 0, 1e18, &d))
				return 2;
			a->seed = (uint64_t)d;
		} else if (!strcmp(o, "-t") || !strcmp(o, "--threads")) {
			if (!num(o, v, 1, 256, &d))
				return 2;
			a->n_threads = (int)d;
		} else if (!strcmp(o, "--embd")) {
			if (!num(o, v, 1, 65536, &d))
				return 2;
			a->s.n_embd = (int64_t)d;
		} else if (!strcmp(o, "--layers")) {
			if (!num(o, v, 1, 1024, &d))
				return 2;
			a->s.n_layer = (int64_t)d;
		} else if (!strcmp(o, "--ff")) {
			if (!num(o, v, 1, 1 << 20, &d))
				return 2;
			a->s.n_ff = (int64_t)d;
		} else if (!strcmp(o, "--heads")) {
			if (!num(o, v, 1, 1024, &d))
				return 2;
			a->s.n_head = (int64_t)d;
		} else if (!strcmp(o, "--kv-heads")) {
			if (!num(o, v, 1, 1024, &d))
				return 2;
			a->s.n_head_kv = (int64_t)d;
		} else if (!strcmp(o, "--ctx")) {
			if (!num(o, v, 1, 1 << 24, &d))
				return 2;
			a->s.n_ctx = (int64_t)d;
		} else if (!strcmp(o, "--rope-base")) {
			if (!num(o, v, 1, 1e12, &d))
				return 2;
			a->s.rope_base = (float)d;
		} else if (!strcmp(o, "--eps")) {
			if (!num(o, v, 1e-12, 1, &d))
				return 2;
			a->s.eps = (float)d;
		} else {
			fprintf(stderr, "rb-gen-model: unknown option '%s'\n", o);
			return 2;
		}
	}
	if (!a->out) {
		fprintf(stderr, "rb-gen-model: no output file (-o FILE); see --help\n");
		return 2;
	}
	const struct shape *s = &a->s;
	if (s->n_embd % s->n_head || s->n_head % s->n_head_kv || (s->n_embd / s->n_head) % 2) {
		fprintf(stderr, "rb-gen-model: heads %lld / kv heads %lld do not fit embedding %lld "
			"(need embd %% heads == 0, heads %% kv-heads == 0, even head size)\n",
			(long long)s->n_head, (long long)s->n_head_kv, (long long)s->n_embd);
		return 2;
	}
	if (s->n_embd % 32 || s->n_ff % 32) {
		fprintf(stderr, "rb-gen-model: --embd and --ff must be multiples of 32\n");
		return 2;
	}
	return 0;
}

static int set_meta(rb_gguf_writer *w, const struct args *a, const rb_gguf *vocab)
{
	const struct shape *s = &a->s;
	char name[128];
	snprintf(name, sizeof(name), "synthetic qwen2 e%lld l%lld (rb-gen-model, seed %llu)",
		 (long long)s->n_embd, (long long)s->n_layer, (unsigned long long)a->seed);
	int rc = 0;
	rc |= rb_gguf_set_str(w, "general.architecture", "qwen2");
	rc |= rb_gguf_set_str(w, "general.name", name);
	rc |= rb_gguf_set_u32(w, "general.file_type", gen_ftype_id(a->ft));
	rc |= rb_gguf_set_u32(w, "general.quantization_version", 2);
	rc |= rb_gguf_set_u32(w, "qwen2.context_length", (uint32_t)s->n_ctx);
	rc |= rb_gguf_set_u32(w, "qwen2.embedding_length", (uint32_t)s->n_embd);
	rc |= rb_gguf_set_u32(w, "qwen2.block_count", (uint32_t)s->n_layer);
	rc |= rb_gguf_set_u32(w, "qwen2.feed_forward_length", (uint32_t)s->n_ff);
	rc |= rb_gguf_set_u32(w, "qwen2.attention.head_count", (uint32_t)s->n_head);
	rc |= rb_gguf_set_u32(w, "qwen2.attention.head_count_kv", (uint32_t)s->n_head_kv);
	rc |= rb_gguf_set_f32(w, "qwen2.rope.freq_base", s->rope_base);
	rc |= rb_gguf_set_f32(w, "qwen2.attention.layer_norm_rms_epsilon", s->eps);
	if (rc)
		return RB_E_NOMEM;
	return rb_gguf_copy_kvs(w, vocab, "tokenizer.");
}

int main(int argc, char **argv)
{
	struct args a;
	int rc = parse(argc, argv, &a);
	if (rc)
		return rc;
	rb_err err = {0};
	rb_gguf *vocab;
	if (rb_gguf_open(a.vocab, &vocab, &err) != RB_OK) {
		fprintf(stderr, "error: vocabulary: %s\n", err.msg);
		return 1;
	}
	const rb_gguf_array *tokens;
	if (rb_gguf_get_arr(vocab, "tokenizer.ggml.tokens", &tokens, &err) != RB_OK ||
	    tokens->n == 0 || tokens->n > (1u << 24)) {
		fprintf(stderr, "error: %s: no usable tokenizer.ggml.tokens (%s)\n", a.vocab,
			err.msg);
		rb_gguf_close(vocab);
		return 1;
	}
	const int64_t n_vocab = (int64_t)tokens->n;

	static struct gen g; /* large tensor table: not on the stack */
	g.n_threads = a.n_threads > 0 ? a.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	g.tp = rb_threadpool_create(g.n_threads);
	g.tty = isatty(2);
	plan(&g, &a.s, a.ft, n_vocab, a.seed);
	int64_t max_cols = 0;
	for (size_t i = 0; i < g.n; i++) {
		max_cols = g.t[i].ne0 > max_cols ? g.t[i].ne0 : max_cols;
		g.bytes_total += rb_row_size(g.t[i].type, g.t[i].ne0) * (uint64_t)g.t[i].ne1;
	}
	g.buf = malloc(sizeof(float) * (size_t)max_cols * CHUNK_ROWS);
	rb_gguf_writer *w = rb_gguf_writer_create();
	int status = 1;
	if (!g.tp || !g.buf || !w) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	if (set_meta(w, &a, vocab) != RB_OK) {
		fprintf(stderr, "error: cannot write the metadata\n");
		goto out;
	}
	for (size_t i = 0; i < g.n; i++) {
		const int64_t ne[2] = {g.t[i].ne0, g.t[i].ne1};
		if (rb_gguf_add_tensor(w, g.t[i].name, g.t[i].type, g.t[i].ne1 > 1 ? 2 : 1, ne,
				       NULL) != RB_OK) {
			fprintf(stderr, "error: tensor %s (%s, %lld x %lld) refused by the writer\n",
				g.t[i].name, rb_type_name(g.t[i].type), (long long)g.t[i].ne1,
				(long long)g.t[i].ne0);
			goto out;
		}
	}
	fprintf(stderr, "rb-gen-model: %s, %s, %zu tensors, %.1f MiB, vocab %lld, %d threads\n",
		a.out, gen_ftype_name(a.ft), g.n, (double)g.bytes_total / 1048576.0,
		(long long)n_vocab, g.n_threads);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rb_gguf_write_file(w, a.out, fill, &g, &err) != RB_OK) {
		fprintf(stderr, "\nerror: %s\n", err.msg);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "%sdone in %.1f s\n", g.tty ? "\n" : "",
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	status = 0;
out:
	rb_gguf_writer_free(w);
	free(g.buf);
	rb_threadpool_destroy(g.tp);
	rb_gguf_close(vocab);
	return status;
}
