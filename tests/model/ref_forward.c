/* SPDX-License-Identifier: MIT */
#include "ref_forward.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/quant.h"
#include "test.h"

struct mat {
	int64_t rows, cols;
	double *a; /* rows x cols */
};

static int64_t meta_int(const rb_gguf *g, const char *arch, const char *k, int64_t dflt)
{
	char key[128];
	snprintf(key, sizeof(key), "%s.%s", arch, k);
	uint64_t v;
	rb_err err;
	if (rb_gguf_find_key(g, key) < 0)
		return dflt;
	REQUIRE(rb_gguf_get_u64(g, key, &v, &err) == RB_OK);
	return (int64_t)v;
}

static double meta_f(const rb_gguf *g, const char *arch, const char *k, double dflt)
{
	char key[128];
	snprintf(key, sizeof(key), "%s.%s", arch, k);
	float v;
	rb_err err;
	if (rb_gguf_find_key(g, key) < 0)
		return dflt;
	REQUIRE(rb_gguf_get_f32(g, key, &v, &err) == RB_OK);
	return v;
}

static struct mat load(const rb_gguf *g, const char *name)
{
	const rb_gguf_tensor *t = rb_gguf_find_tensor(g, name);
	if (!t) {
		fprintf(stderr, "ref_forward: no tensor %s\n", name);
		exit(1);
	}
	struct mat m = {t->ne[1], t->ne[0], malloc(sizeof(double) * (size_t)(t->ne[0] * t->ne[1]))};
	float *row = malloc(sizeof(float) * (size_t)t->ne[0]);
	REQUIRE(m.a && row);
	const size_t rs = rb_row_size(t->type, t->ne[0]);
	for (int64_t r = 0; r < m.rows; r++) {
		REQUIRE(rb_dequantize_row(t->type, (const char *)t->data + rs * (size_t)r, row,
					  t->ne[0]) == RB_OK);
		for (int64_t c = 0; c < m.cols; c++)
			m.a[r * m.cols + c] = row[c];
	}
	free(row);
	return m;
}

static struct mat load_l(const rb_gguf *g, const char *fmt, int il)
{
	char name[96];
	snprintf(name, sizeof(name), fmt, il);
	return load(g, name);
}

/* y = M x */
static void matvec(const struct mat *m, const double *x, double *y)
{
	for (int64_t r = 0; r < m->rows; r++) {
		double s = 0;
		for (int64_t c = 0; c < m->cols; c++)
			s += m->a[r * m->cols + c] * x[c];
		y[r] = s;
	}
}

static void rmsnorm(int64_t n, const double *x, const struct mat *w, double eps, double *out)
{
	double ss = 0;
	for (int64_t i = 0; i < n; i++)
		ss += x[i] * x[i];
	const double k = 1.0 / sqrt(ss / (double)n + eps);
	for (int64_t i = 0; i < n; i++)
		out[i] = x[i] * k * w->a[i];
}

/* Rotate the first n_rot dims of one head: NEOX pairs (i, i + n_rot/2),
 * else (2i, 2i + 1); angle pos * base^(-2i/n_rot). */
static void rope(double *v, int64_t n_rot, int64_t pos, double base, bool neox)
{
	for (int64_t i = 0; i < n_rot / 2; i++) {
		const double ang = (double)pos * pow(base, -2.0 * (double)i / (double)n_rot);
		const int64_t a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
		const double x0 = v[a], x1 = v[b];
		v[a] = x0 * cos(ang) - x1 * sin(ang);
		v[b] = x0 * sin(ang) + x1 * cos(ang);
	}
}

double *ref_forward(const rb_gguf *g, const int32_t *tokens, int64_t T, int64_t *n_vocab)
{
	rb_gguf_str as;
	rb_err err;
	REQUIRE(rb_gguf_get_str(g, "general.architecture", &as, &err) == RB_OK);
	const bool qwen = rb_gguf_str_eq(as, "qwen2");
	const char *arch = qwen ? "qwen2" : "llama";
	const int64_t E = meta_int(g, arch, "embedding_length", 0);
	const int64_t L = meta_int(g, arch, "block_count", 0);
	const int64_t H = meta_int(g, arch, "attention.head_count", 0);
	const int64_t HKV = meta_int(g, arch, "attention.head_count_kv", H);
	const int64_t D = E / H, KV = HKV * D;
	const int64_t R = meta_int(g, arch, "rope.dimension_count", D);
	const double base = meta_f(g, arch, "rope.freq_base", 10000.0);
	const double eps = meta_f(g, arch, "attention.layer_norm_rms_epsilon", 0);

	struct mat tok = load(g, "token_embd.weight");
	struct mat onorm = load(g, "output_norm.weight");
	struct mat out = rb_gguf_find_tensor(g, "output.weight") ? load(g, "output.weight") : tok;
	const int64_t V = tok.rows, F = meta_int(g, arch, "feed_forward_length", 0);
	*n_vocab = V;

	double *x = calloc((size_t)(T * E), sizeof(double));
	double *xn = calloc((size_t)E, sizeof(double));
	double *q = calloc((size_t)(T * E), sizeof(double));
	double *k = calloc((size_t)(T * KV), sizeof(double));
	double *v = calloc((size_t)(T * KV), sizeof(double));
	double *att = calloc((size_t)E, sizeof(double));
	double *tmp = calloc((size_t)(E > F ? E : F), sizeof(double));
	double *g1 = calloc((size_t)F, sizeof(double));
	double *u1 = calloc((size_t)F, sizeof(double));
	double *p = calloc((size_t)T, sizeof(double));
	double *logits = calloc((size_t)(T * V), sizeof(double));
	REQUIRE(x && xn && q && k && v && att && tmp && g1 && u1 && p && logits);

	for (int64_t t = 0; t < T; t++)
		memcpy(x + t * E, tok.a + (int64_t)tokens[t] * E, sizeof(double) * (size_t)E);

	for (int il = 0; il < L; il++) {
		struct mat an = load_l(g, "blk.%d.attn_norm.weight", il);
		struct mat fn = load_l(g, "blk.%d.ffn_norm.weight", il);
		struct mat wq = load_l(g, "blk.%d.attn_q.weight", il);
		struct mat wk = load_l(g, "blk.%d.attn_k.weight", il);
		struct mat wv = load_l(g, "blk.%d.attn_v.weight", il);
		struct mat wo = load_l(g, "blk.%d.attn_output.weight", il);
		struct mat wg = load_l(g, "blk.%d.ffn_gate.weight", il);
		struct mat wu = load_l(g, "blk.%d.ffn_up.weight", il);
		struct mat wd = load_l(g, "blk.%d.ffn_down.weight", il);
		struct mat bq = {0}, bk = {0}, bv = {0};
		if (qwen) {
			bq = load_l(g, "blk.%d.attn_q.bias", il);
			bk = load_l(g, "blk.%d.attn_k.bias", il);
			bv = load_l(g, "blk.%d.attn_v.bias", il);
		}
		for (int64_t t = 0; t < T; t++) {
			rmsnorm(E, x + t * E, &an, eps, xn);
			matvec(&wq, xn, q + t * E);
			matvec(&wk, xn, k + t * KV);
			matvec(&wv, xn, v + t * KV);
			for (int64_t i = 0; qwen && i < E; i++)
				q[t * E + i] += bq.a[i];
			for (int64_t i = 0; qwen && i < KV; i++) {
				k[t * KV + i] += bk.a[i];
				v[t * KV + i] += bv.a[i];
			}
			for (int64_t h = 0; h < H; h++)
				rope(q + t * E + h * D, R, t, base, qwen);
			for (int64_t h = 0; h < HKV; h++)
				rope(k + t * KV + h * D, R, t, base, qwen);
		}
		for (int64_t t = 0; t < T; t++) {
			for (int64_t h = 0; h < H; h++) {
				const int64_t kvh = h / (H / HKV);
				double mx = -INFINITY, sum = 0;
				for (int64_t j = 0; j <= t; j++) {
					double s = 0;
					for (int64_t d = 0; d < D; d++)
						s += q[t * E + h * D + d] * k[j * KV + kvh * D + d];
					p[j] = s / sqrt((double)D);
					mx = p[j] > mx ? p[j] : mx;
				}
				for (int64_t j = 0; j <= t; j++)
					sum += (p[j] = exp(p[j] - mx));
				for (int64_t d = 0; d < D; d++) {
					double s = 0;
					for (int64_t j = 0; j <= t; j++)
						s += p[j] / sum * v[j * KV + kvh * D + d];
					att[h * D + d] = s;
				}
			}
			matvec(&wo, att, tmp);
			for (int64_t i = 0; i < E; i++)
				x[t * E + i] += tmp[i];
			rmsnorm(E, x + t * E, &fn, eps, xn);
			matvec(&wg, xn, g1);
			matvec(&wu, xn, u1);
			for (int64_t i = 0; i < F; i++)
				g1[i] = g1[i] / (1.0 + exp(-g1[i])) * u1[i];
			matvec(&wd, g1, tmp);
			for (int64_t i = 0; i < E; i++)
				x[t * E + i] += tmp[i];
		}
		struct mat all[] = {an, fn, wq, wk, wv, wo, wg, wu, wd, bq, bk, bv};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			free(all[i].a);
	}
	for (int64_t t = 0; t < T; t++) {
		rmsnorm(E, x + t * E, &onorm, eps, xn);
		matvec(&out, xn, logits + t * V);
	}
	if (out.a != tok.a)
		free(out.a);
	free(tok.a);
	free(onorm.a);
	free(x);
	free(xn);
	free(q);
	free(k);
	free(v);
	free(att);
	free(tmp);
	free(g1);
	free(u1);
	free(p);
	return logits;
}
