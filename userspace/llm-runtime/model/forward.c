/* SPDX-License-Identifier: MIT */
/* The forward pass of a llama/qwen2 decoder, batched over tokens.
 *
 * One step, for n tokens at positions p0 = n_past .. p0 + n - 1:
 *
 *   x = token_embd[tokens]                                 (dequantized rows)
 *   for each layer:
 *     xb = rmsnorm(x) * attn_norm
 *     q, k, v = Wq xb (+ bq), Wk xb (+ bk), Wv xb (+ bv)    (qwen2: biases)
 *     rotate q, k by position (RoPE), append k, v to the KV cache
 *     att = softmax(q K^T / sqrt(head_dim), causal) V      (GQA: heads share kv)
 *     x += Wo att
 *     xb = rmsnorm(x) * ffn_norm
 *     x += Wdown (silu(Wgate xb) * Wup xb)
 *   logits = Woutput (rmsnorm(x) * output_norm)            (only rows asked for)
 *
 * Every weight matmul goes through its backend (rb_matmul) for the whole batch
 * at once; the rest runs here with rosenblatt/vec.h primitives, spread over
 * the session's thread pool. Nothing is allocated. */
#include "session_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rosenblatt/quant.h"
#include "rosenblatt/vec.h"

/* ---- matmul with run-time fallback ---------------------------------------- */

/* Bind the fallback copy of a weight after its backend failed. The model is
 * shared by sessions as const; this lazily made copy is its only mutable
 * part, guarded by fb_lock. */
static int bind_fallback(const rb_model *cm, struct rb_mweight *mw, const rb_err *cause,
			 rb_err *err)
{
	rb_model *m = (rb_model *)cm;
	int rc = RB_OK;
	pthread_mutex_lock(&m->fb_lock);
	if (!atomic_load_explicit(&mw->fb_bound, memory_order_relaxed)) {
		if (m->n_fallbacks++ == 0) /* once: a failing device fails every weight */
			fprintf(stderr, "warning: %s: backend %s failed (%s); weights fall back "
				"to %s as their backend fails\n", mw->w.name, mw->w.backend->name,
				cause->msg, m->fallback->name);
		mw->fb = mw->w;
		mw->fb.backend = NULL;
		mw->fb.packed = NULL;
		rc = rb_weight_bind(&mw->fb, m->fallback, err);
		atomic_store_explicit(&mw->fb_bound, rc == RB_OK, memory_order_release);
	}
	pthread_mutex_unlock(&m->fb_lock);
	return rc;
}

/* y[t] = W x[t] for t < n. Strides are in floats. */
static int mm(rb_session *s, const struct rb_mweight *cmw, int64_t n, const float *x,
	      int64_t ldx, float *y, int64_t ldy, rb_err *err)
{
	struct rb_mweight *mw = (struct rb_mweight *)cmw;
	if (atomic_load_explicit(&mw->fb_bound, memory_order_acquire))
		return rb_matmul(&mw->fb, n, x, ldx, y, ldy, err);
	int rc = rb_matmul(&mw->w, n, x, ldx, y, ldy, err);
	if (rc == RB_OK || mw->w.backend == s->m->fallback)
		return rc;
	rb_err cause = *err;
	if ((rc = bind_fallback(s->m, mw, &cause, err)) != RB_OK)
		return rb_err_wrap(err, "%s: fallback after '%s'", mw->w.name, cause.msg);
	return rb_matmul(&mw->fb, n, x, ldx, y, ldy, err);
}

/* ys[i] = W_i x for weights that read the same x (q, k, v): one backend
 * call when their backend offers it (rb_matmul_shared), else (or when one
 * of them moved to the fallback, or that call failed) one mm() each. */
static int mm_shared(rb_session *s, const struct rb_mweight *const *mws, int n_w, int64_t n,
		     const float *x, int64_t ldx, float *const *ys, const int64_t *ldys,
		     rb_err *err)
{
	const rb_weight *ws[RB_SHARED_MAX];
	bool moved = false;
	for (int i = 0; i < n_w; i++) {
		ws[i] = &mws[i]->w;
		moved |= atomic_load_explicit(&mws[i]->fb_bound, memory_order_acquire);
	}
	if (!moved && rb_matmul_shared(ws, n_w, n, x, ldx, ys, ldys, err) == RB_OK)
		return RB_OK;
	for (int i = 0; i < n_w; i++) {
		const int rc = mm(s, mws[i], n, x, ldx, ys[i], ldys[i], err);
		if (rc != RB_OK)
			return rc;
	}
	return RB_OK;
}

/* ---- jobs outside the matmuls -----------------------------------------------
 *
 * Every job below is cut into chunks that the pool's threads claim as they
 * come (rb_threadpool_run_chunks), like the matmuls: a worker descheduled on a
 * loaded machine holds a step up by at most the one chunk it took, never by a
 * scheduler slice spent waiting for it to check in. A chunk is whole rows,
 * tokens, (token, head) pairs or SIMD-aligned ranges, and its scratch belongs
 * to the chunk, so neither the thread that runs a chunk nor the number of
 * chunks changes any result: the output is the same for every thread count.
 * A job worth less than two chunks runs on the caller: handing it over would
 * cost more than it saves. */

/* Least work of a chunk, in units of about 0.1 ns of one Zen 4 core (AVX2
 * kernels; the weights per element below were measured there: add + RMS norm
 * 0.18 ns, SwiGLU 0.64 ns, one K plus one V multiply-add of f16 attention
 * 0.1 ns, a cosf + sinf pair 7 ns). A chunk of ~1.6 us dwarfs the cost of
 * claiming it; a job under two chunks stays on the caller, which on a loaded
 * machine also spares it any wait for a descheduled worker. See
 * docs/cpu-kernels.md ("Threading under load"). */
#define MIN_CHUNK_WORK 16384

static long n_chunks_for(const rb_session *s, int64_t n_items, int64_t work)
{
	int64_t c = work / MIN_CHUNK_WORK;
	if (c > s->max_chunks)
		c = s->max_chunks;
	if (c > n_items)
		c = n_items;
	return c > 1 ? (long)c : 1;
}

/* Run fn over chunks [0, n_chunks): on the pool, or (one chunk) right here. */
static void run_chunks(rb_session *s, rb_chunk_fn fn, void *arg, long n_chunks)
{
	rb_threadpool_run_chunks(n_chunks > 1 ? s->tp : NULL, fn, arg, n_chunks);
}

struct norm_job {
	rb_session *s;
	float *x;          /* rows of the residual stream */
	const float *add;  /* added to x first, or NULL */
	float *out;        /* normalized rows */
	const float *w;
	int64_t rows;
	long n_chunks;
};

static void norm_chunk(void *arg, long c)
{
	const struct norm_job *j = arg;
	const int64_t e = j->s->m->hp.n_embd;
	long r0, r1;
	rb_split_range((long)j->rows, (int)c, (int)j->n_chunks, &r0, &r1);
	for (long r = r0; r < r1; r++) {
		float *x = j->x + r * e;
		if (j->add)
			rb_vec_add_f32(e, x, j->add + r * e);
		rb_rmsnorm_f32(e, j->out + r * e, x, j->w, j->s->m->hp.rms_eps);
	}
}

static void norm(rb_session *s, float *x, const float *add, float *out, const float *w,
		 int64_t rows)
{
	struct norm_job j = {s, x, add, out, w, rows, 1};
	j.n_chunks = n_chunks_for(s, rows, rows * s->m->hp.n_embd * 2);
	run_chunks(s, norm_chunk, &j, j.n_chunks);
}

/* Rotate pairs of v by the angles whose cos/sin are in cs (n_rot/2 of each):
 * NEOX pairs (i, i + n_rot/2), otherwise adjacent pairs (2i, 2i + 1).
 * Dimensions past n_rot are left alone. */
static void rope_head(float *v, const float *cs, int64_t n_rot, bool neox)
{
	const int64_t half = n_rot / 2;
	const float *cos_t = cs, *sin_t = cs + half;
	for (int64_t i = 0; i < half; i++) {
		const int64_t i0 = neox ? i : 2 * i;
		const int64_t i1 = neox ? i + half : 2 * i + 1;
		const float x0 = v[i0], x1 = v[i1];
		v[i0] = x0 * cos_t[i] - x1 * sin_t[i];
		v[i1] = x0 * sin_t[i] + x1 * cos_t[i];
	}
}

/* Tokens [t0, t1) of a step: their embeddings (dequantized rows) and the cos
 * and sin of pos * freq[i] for the n_rot/2 frequencies. Float math for the
 * angles, like the reference implementations the models were trained and
 * exported with. */
struct embed_job {
	rb_session *s;
	const int32_t *tokens;
	int64_t n;
	long n_chunks;
};

static void embed_chunk(void *arg, long c)
{
	const struct embed_job *j = arg;
	rb_session *s = j->s;
	const rb_gguf_tensor *te = s->m->tok_embd;
	const int64_t e = s->m->hp.n_embd, half = s->m->hp.n_rot / 2;
	const size_t row = rb_row_size(te->type, e);
	long t0, t1;
	rb_split_range((long)j->n, (int)c, (int)j->n_chunks, &t0, &t1);
	for (long t = t0; t < t1; t++) {
		rb_dequantize_row(te->type, (const char *)te->data + (size_t)j->tokens[t] * row,
				  s->x + t * e, e);
		const float pos = (float)(s->n_past + t);
		float *cs = s->rope + t * 2 * half;
		for (int64_t i = 0; i < half; i++) {
			const float theta = pos * s->rope_freq[i];
			cs[i] = cosf(theta);
			cs[half + i] = sinf(theta);
		}
	}
}

static void embed(rb_session *s, const int32_t *tokens, int64_t n)
{
	const rb_model_hparams *hp = &s->m->hp;
	struct embed_job j = {s, tokens, n, 1};
	j.n_chunks = n_chunks_for(s, n, n * (2 * hp->n_embd + 35 * hp->n_rot));
	run_chunks(s, embed_chunk, &j, j.n_chunks);
}

struct qkv_job {
	rb_session *s;
	const struct rb_layer *ly;
	int64_t il, n;
	long n_chunks;
};

/* Biases, RoPE and the KV-cache append for the tokens of chunk c. */
static void qkv_chunk(void *arg, long c)
{
	const struct qkv_job *j = arg;
	rb_session *s = j->s;
	const rb_model_hparams *hp = &s->m->hp;
	const int64_t e = hp->n_embd, kv = rb_hp_kv_dim(hp), hd = hp->head_dim;
	long t0, t1;
	rb_split_range((long)j->n, (int)c, (int)j->n_chunks, &t0, &t1);
	for (long t = t0; t < t1; t++) {
		float *q = s->q + t * e, *k = s->k + t * kv, *v = s->v + t * kv;
		if (j->ly->bq) {
			rb_vec_add_f32(e, q, j->ly->bq);
			rb_vec_add_f32(kv, k, j->ly->bk);
			rb_vec_add_f32(kv, v, j->ly->bv);
		}
		const float *cs = s->rope + t * hp->n_rot;
		for (int64_t h = 0; h < hp->n_head; h++)
			rope_head(q + h * hd, cs, hp->n_rot, hp->rope_neox);
		for (int64_t h = 0; h < hp->n_head_kv; h++)
			rope_head(k + h * hd, cs, hp->n_rot, hp->rope_neox);

		const int64_t pos = s->n_past + t;
		const size_t layer = (size_t)j->il * s->kv_layer_bytes;
		void *kd = (char *)s->k_cache + layer + (size_t)pos * s->kv_row_bytes;
		char *vt = (char *)s->v_cache + layer;
		if (s->kv_type == RB_TYPE_F16) {
			rb_vec_f32_to_f16(kv, kd, k);
			for (int64_t d = 0; d < kv; d++) /* V transposed: one row per dimension */
				((rb_f16 *)vt)[d * s->n_ctx + pos] = rb_f32_to_f16(v[d]);
		} else {
			memcpy(kd, k, (size_t)kv * sizeof(float));
			for (int64_t d = 0; d < kv; d++)
				((float *)vt)[d * s->n_ctx + pos] = v[d];
		}
	}
}

static void qkv(rb_session *s, const struct rb_layer *ly, int64_t il, int64_t n)
{
	const rb_model_hparams *hp = &s->m->hp;
	/* RoPE and the V stores scattered over n_ctx-long rows: ~4 units a value */
	struct qkv_job j = {s, ly, il, n, 1};
	j.n_chunks = n_chunks_for(s, n, n * 4 * (hp->n_embd + 2 * rb_hp_kv_dim(hp)));
	run_chunks(s, qkv_chunk, &j, j.n_chunks);
}

struct attn_job {
	rb_session *s;
	int64_t il, n;
	long n_chunks;
};

/* One K row or one transposed V row (f16 or f32 cache) against nq f32 vectors
 * at stride ldy: out[g * ldo] = dot(row, y + g * ldy). The f16 row is loaded
 * and converted once for all of them. */
static void dot_rows(bool f16, int64_t n, const void *row, const float *y, int64_t ldy,
		     int64_t nq, float *out, int64_t ldo)
{
	if (f16) {
		rb_vec_dot_f16_multi(n, row, y, ldy, nq, out, ldo);
		return;
	}
	for (int64_t g = 0; g < nq; g++)
		out[g * ldo] = rb_vec_dot_f32(n, row, y + g * ldy);
}

/* Causal attention over cache positions 0..pos of nq <= RB_ATTN_QBLOCK query
 * heads that share KV head kv_head: q and out hold their head_dim-long rows
 * back to back, scores one n_ctx-long row each. Every K and V row is read
 * once for the nq heads (GQA), and each head's sums are the ones it would
 * get alone. */
static void attend(rb_session *s, float *scores, const float *q, float *out, int64_t nq,
		   int64_t il, int64_t kv_head, int64_t pos)
{
	const rb_model_hparams *hp = &s->m->hp;
	const int64_t hd = hp->head_dim, n = pos + 1, lds = s->n_ctx;
	const float scale = 1.0f / sqrtf((float)hd);
	const bool f16 = s->kv_type == RB_TYPE_F16;
	const char *kbase = (const char *)s->k_cache + (size_t)il * s->kv_layer_bytes +
			    (size_t)(kv_head * hd) * s->kv_elt;
	const char *vbase = (const char *)s->v_cache + (size_t)il * s->kv_layer_bytes +
			    (size_t)(kv_head * hd) * (size_t)s->n_ctx * s->kv_elt;
	float inv_sum[RB_ATTN_QBLOCK];

	for (int64_t j = 0; j < n; j++)
		dot_rows(f16, hd, kbase + (size_t)j * s->kv_row_bytes, q, hd, nq, scores + j, lds);
	for (int64_t g = 0; g < nq; g++) {
		float *sg = scores + g * lds;
		rb_vec_scale_f32(n, sg, scale);
		inv_sum[g] = 1.0f / rb_vec_exp_sub_sum_f32(n, sg, rb_vec_max_f32(n, sg));
	}
	/* out[d] = sum_j p_j v_j[d]: a dot product along row d of the transposed V */
	for (int64_t d = 0; d < hd; d++)
		dot_rows(f16, n, vbase + (size_t)d * (size_t)s->n_ctx * s->kv_elt, scores, lds, nq,
			 out + d, hd);
	for (int64_t g = 0; g < nq; g++)
		rb_vec_scale_f32(hd, out + g * hd, inv_sum[g]);
}

/* Work items are (token, KV head) pairs in order; each item attends with all
 * the query heads of its KV head, RB_ATTN_QBLOCK at a time. In a prefill
 * later tokens attend to more positions: chunk 0, claimed first, is the last
 * range of items, so the longest chunks start first and the short ones fill
 * the gaps at the end. */
static void attention_chunk(void *arg, long c)
{
	const struct attn_job *j = arg;
	rb_session *s = j->s;
	const rb_model_hparams *hp = &s->m->hp;
	const int64_t group = hp->n_head / hp->n_head_kv;
	float *scores = s->scores + (size_t)c * RB_ATTN_QBLOCK * (size_t)s->n_ctx;
	long i0, i1;
	rb_split_range((long)(j->n * hp->n_head_kv), (int)(j->n_chunks - 1 - c), (int)j->n_chunks,
		       &i0, &i1);
	for (long it = i0; it < i1; it++) {
		const int64_t t = it / hp->n_head_kv, kvh = it % hp->n_head_kv;
		for (int64_t h0 = kvh * group; h0 < (kvh + 1) * group; h0 += RB_ATTN_QBLOCK) {
			const int64_t nq = (kvh + 1) * group - h0 < RB_ATTN_QBLOCK
						   ? (kvh + 1) * group - h0 : RB_ATTN_QBLOCK;
			const int64_t off = t * hp->n_embd + h0 * hp->head_dim;
			attend(s, scores, s->q + off, s->att + off, nq, j->il, kvh, s->n_past + t);
		}
	}
}

static void attention(rb_session *s, int64_t il, int64_t n)
{
	const rb_model_hparams *hp = &s->m->hp;
	/* per (token, head): a K and a V multiply-add per position and dimension */
	const int64_t positions = s->n_past + (n + 1) / 2;
	struct attn_job j = {s, il, n, 1};
	j.n_chunks = n_chunks_for(s, n * hp->n_head_kv,
				  n * hp->n_head * positions * hp->head_dim);
	run_chunks(s, attention_chunk, &j, j.n_chunks);
}

/* hb = silu(hb) * hb2 over n * n_ff elements, in chunks of whole SWIGLU_BLOCKs:
 * the SIMD kernels (8 or 4 lanes) then cover the same elements whatever the
 * number of chunks, and only the last few go through the scalar tail. */
#define SWIGLU_BLOCK 64

struct swiglu_job {
	rb_session *s;
	int64_t total;
	long n_chunks;
};

static void swiglu_chunk(void *arg, long c)
{
	const struct swiglu_job *j = arg;
	long b0, b1;
	rb_split_range((long)((j->total + SWIGLU_BLOCK - 1) / SWIGLU_BLOCK), (int)c, (int)j->n_chunks,
		       &b0, &b1);
	const int64_t i0 = b0 * SWIGLU_BLOCK;
	const int64_t i1 = b1 * SWIGLU_BLOCK < j->total ? b1 * SWIGLU_BLOCK : j->total;
	if (i1 > i0)
		rb_vec_swiglu_f32(i1 - i0, j->s->hb + i0, j->s->hb + i0, j->s->hb2 + i0);
}

static void swiglu(rb_session *s, int64_t n)
{
	const int64_t total = n * s->m->hp.n_ff;
	struct swiglu_job j = {s, total, 1};
	j.n_chunks = n_chunks_for(s, (total + SWIGLU_BLOCK - 1) / SWIGLU_BLOCK, total * 6);
	run_chunks(s, swiglu_chunk, &j, j.n_chunks);
}

/* ---- the step ---------------------------------------------------------------- */

static int layer_forward(rb_session *s, int64_t il, int64_t n, rb_err *err)
{
	const rb_model_hparams *hp = &s->m->hp;
	const struct rb_layer *ly = &s->m->layers[il];
	const int64_t e = hp->n_embd, kv = rb_hp_kv_dim(hp), ff = hp->n_ff;
	int rc;

	/* attention block; the previous layer's FFN output is added here */
	norm(s, s->x, il ? s->xb : NULL, s->xb, ly->attn_norm, n);
	const struct rb_mweight *qkv_w[3] = {&ly->wq, &ly->wk, &ly->wv};
	float *const qkv_y[3] = {s->q, s->k, s->v};
	const int64_t qkv_ld[3] = {e, kv, kv};
	if ((rc = mm_shared(s, qkv_w, 3, n, s->xb, e, qkv_y, qkv_ld, err)))
		return rc;
	qkv(s, ly, il, n);
	attention(s, il, n);
	if ((rc = mm(s, &ly->wo, n, s->att, e, s->xb, e, err)))
		return rc;

	/* feed-forward block */
	norm(s, s->x, s->xb, s->xb, ly->ffn_norm, n);
	if ((rc = mm(s, &ly->w_gate, n, s->xb, e, s->hb, ff, err)) ||
	    (rc = mm(s, &ly->w_up, n, s->xb, e, s->hb2, ff, err)))
		return rc;
	swiglu(s, n);
	return mm(s, &ly->w_down, n, s->hb, ff, s->xb, e, err);
}

int rb_forward_step(rb_session *s, const int32_t *tokens, int64_t n, int64_t want_logits,
		    rb_err *err)
{
	const rb_model *m = s->m;
	const int64_t e = m->hp.n_embd;
	embed(s, tokens, n);
	for (int64_t il = 0; il < m->hp.n_layer; il++) {
		int rc = layer_forward(s, il, n, err);
		if (rc != RB_OK)
			return rb_err_wrap(err, "layer %lld", (long long)il);
	}
	s->n_logits = want_logits;
	if (want_logits == 0)
		return RB_OK;
	/* final residual add + norm, only for the rows that need logits */
	const int64_t r0 = n - want_logits;
	norm(s, s->x + r0 * e, s->xb + r0 * e, s->xb + r0 * e, m->output_norm, want_logits);
	return mm(s, &m->output, want_logits, s->xb + r0 * e, e, s->logits, m->hp.n_vocab, err);
}
