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

/* ys[i] = W_i x for weights that read the same x (q, k, v; gate, up): one
 * backend call when their backend offers it (rb_matmul_shared), else (or
 * when one of them moved to the fallback, or that call failed) one mm()
 * each. */
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

/* ---- element-wise stages -------------------------------------------------- */

struct norm_task {
	rb_session *s;
	float *x;          /* rows of the residual stream */
	const float *add;  /* added to x first, or NULL */
	float *out;        /* normalized rows */
	const float *w;
	int64_t rows;
};

static void norm_rows(void *arg, int ith, int nth)
{
	const struct norm_task *a = arg;
	const int64_t e = a->s->m->hp.n_embd;
	long r0, r1;
	rb_split_range((long)a->rows, ith, nth, &r0, &r1);
	for (long r = r0; r < r1; r++) {
		float *x = a->x + r * e;
		if (a->add)
			rb_vec_add_f32(e, x, a->add + r * e);
		rb_rmsnorm_f32(e, a->out + r * e, x, a->w, a->s->m->hp.rms_eps);
	}
}

/* Small jobs run on the caller: waking the pool costs more than they do. */
static void run(rb_session *s, rb_task_fn fn, void *arg, int64_t work_items)
{
	if (work_items <= 1)
		fn(arg, 0, 1);
	else
		rb_threadpool_run(s->tp, fn, arg);
}

static void norm(rb_session *s, float *x, const float *add, float *out, const float *w,
		 int64_t rows)
{
	struct norm_task a = {s, x, add, out, w, rows};
	run(s, norm_rows, &a, rows);
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

/* Per token: the cos and sin of pos * freq[i] for the n_rot/2 frequencies.
 * Float math, like the reference implementations the models were trained
 * and exported with. */
static void rope_table(rb_session *s, int64_t n)
{
	const int64_t half = s->m->hp.n_rot / 2;
	for (int64_t t = 0; t < n; t++) {
		const float pos = (float)(s->n_past + t);
		float *cs = s->rope + t * 2 * half;
		for (int64_t i = 0; i < half; i++) {
			const float theta = pos * s->rope_freq[i];
			cs[i] = cosf(theta);
			cs[half + i] = sinf(theta);
		}
	}
}

struct qkv_task {
	rb_session *s;
	const struct rb_layer *ly;
	int64_t il, n;
};

/* Biases, RoPE and the KV-cache append for tokens [t0, t1). */
static void qkv_rows(void *arg, int ith, int nth)
{
	const struct qkv_task *a = arg;
	rb_session *s = a->s;
	const rb_model_hparams *hp = &s->m->hp;
	const int64_t e = hp->n_embd, kv = rb_hp_kv_dim(hp), hd = hp->head_dim;
	long t0, t1;
	rb_split_range((long)a->n, ith, nth, &t0, &t1);
	for (long t = t0; t < t1; t++) {
		float *q = s->q + t * e, *k = s->k + t * kv, *v = s->v + t * kv;
		if (a->ly->bq) {
			rb_vec_add_f32(e, q, a->ly->bq);
			rb_vec_add_f32(kv, k, a->ly->bk);
			rb_vec_add_f32(kv, v, a->ly->bv);
		}
		const float *cs = s->rope + t * hp->n_rot;
		for (int64_t h = 0; h < hp->n_head; h++)
			rope_head(q + h * hd, cs, hp->n_rot, hp->rope_neox);
		for (int64_t h = 0; h < hp->n_head_kv; h++)
			rope_head(k + h * hd, cs, hp->n_rot, hp->rope_neox);

		const int64_t pos = s->n_past + t;
		const size_t layer = (size_t)a->il * s->kv_layer_bytes;
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

struct attn_task {
	rb_session *s;
	int64_t il, n;
};

/* Causal attention of one query head over cache positions 0..pos. */
static void attend(rb_session *s, float *scores, const float *q, float *out, int64_t il,
		   int64_t kv_head, int64_t pos)
{
	const rb_model_hparams *hp = &s->m->hp;
	const int64_t hd = hp->head_dim;
	const float scale = 1.0f / sqrtf((float)hd);
	const bool f16 = s->kv_type == RB_TYPE_F16;
	const char *kbase = (const char *)s->k_cache + (size_t)il * s->kv_layer_bytes +
			    (size_t)(kv_head * hd) * s->kv_elt;
	const char *vbase = (const char *)s->v_cache + (size_t)il * s->kv_layer_bytes +
			    (size_t)(kv_head * hd) * (size_t)s->n_ctx * s->kv_elt;

	for (int64_t j = 0; j <= pos; j++) {
		const void *kr = kbase + (size_t)j * s->kv_row_bytes;
		scores[j] = scale * (f16 ? rb_vec_dot_f16(hd, kr, q) : rb_vec_dot_f32(hd, kr, q));
	}
	const float max = rb_vec_max_f32(pos + 1, scores);
	const float inv_sum = 1.0f / rb_vec_exp_sub_sum_f32(pos + 1, scores, max);
	/* out[d] = sum_j p_j v_j[d]: a dot product along row d of the transposed V */
	for (int64_t d = 0; d < hd; d++) {
		const void *vr = vbase + (size_t)d * (size_t)s->n_ctx * s->kv_elt;
		out[d] = inv_sum * (f16 ? rb_vec_dot_f16(pos + 1, vr, scores)
					: rb_vec_dot_f32(pos + 1, vr, scores));
	}
}

/* Work items are (token, head) pairs, dealt out round-robin: in a prefill
 * later tokens attend to more positions, so contiguous ranges would leave the
 * first threads idle. */
static void attention_rows(void *arg, int ith, int nth)
{
	const struct attn_task *a = arg;
	rb_session *s = a->s;
	const rb_model_hparams *hp = &s->m->hp;
	const int64_t group = hp->n_head / hp->n_head_kv;
	float *scores = s->scores + (size_t)ith * (size_t)s->n_ctx;
	for (int64_t it = ith; it < a->n * hp->n_head; it += nth) {
		const int64_t t = it / hp->n_head, h = it % hp->n_head;
		const int64_t off = t * hp->n_embd + h * hp->head_dim;
		attend(s, scores, s->q + off, s->att + off, a->il, h / group, s->n_past + t);
	}
}

struct swiglu_task {
	rb_session *s;
	int64_t n;
};

static void swiglu_rows(void *arg, int ith, int nth)
{
	const struct swiglu_task *a = arg;
	const int64_t total = a->n * a->s->m->hp.n_ff;
	long i0, i1;
	rb_split_range((long)total, ith, nth, &i0, &i1);
	rb_vec_swiglu_f32(i1 - i0, a->s->hb + i0, a->s->hb + i0, a->s->hb2 + i0);
}

/* ---- the step ---------------------------------------------------------------- */

static void embed(rb_session *s, const int32_t *tokens, int64_t n)
{
	const rb_gguf_tensor *te = s->m->tok_embd;
	const int64_t e = s->m->hp.n_embd;
	const size_t row = rb_row_size(te->type, e);
	for (int64_t t = 0; t < n; t++)
		rb_dequantize_row(te->type, (const char *)te->data + (size_t)tokens[t] * row,
				  s->x + t * e, e);
}

static int layer_forward(rb_session *s, int64_t il, int64_t n, rb_err *err)
{
	const rb_model_hparams *hp = &s->m->hp;
	const struct rb_layer *ly = &s->m->layers[il];
	const int64_t e = hp->n_embd, kv = rb_hp_kv_dim(hp), ff = hp->n_ff;
	int rc;

	/* attention block; the previous layer's FFN output is added here */
	norm(s, s->x, il ? s->xb : NULL, s->xb, ly->attn_norm, n);
	const struct rb_mweight *qkv[3] = {&ly->wq, &ly->wk, &ly->wv};
	float *const qkv_y[3] = {s->q, s->k, s->v};
	const int64_t qkv_ld[3] = {e, kv, kv};
	if ((rc = mm_shared(s, qkv, 3, n, s->xb, e, qkv_y, qkv_ld, err)))
		return rc;
	struct qkv_task qt = {s, ly, il, n};
	run(s, qkv_rows, &qt, n);
	struct attn_task at = {s, il, n};
	run(s, attention_rows, &at, n * hp->n_head);
	if ((rc = mm(s, &ly->wo, n, s->att, e, s->xb, e, err)))
		return rc;

	/* feed-forward block */
	norm(s, s->x, s->xb, s->xb, ly->ffn_norm, n);
	const struct rb_mweight *gate_up[2] = {&ly->w_gate, &ly->w_up};
	float *const gate_up_y[2] = {s->hb, s->hb2};
	const int64_t gate_up_ld[2] = {ff, ff};
	if ((rc = mm_shared(s, gate_up, 2, n, s->xb, e, gate_up_y, gate_up_ld, err)))
		return rc;
	struct swiglu_task st = {s, n};
	run(s, swiglu_rows, &st, n * ff >= 4096 ? 2 : 1);
	return mm(s, &ly->w_down, n, s->hb, ff, s->xb, e, err);
}

int rb_forward_step(rb_session *s, const int32_t *tokens, int64_t n, int64_t want_logits,
		    rb_err *err)
{
	const rb_model *m = s->m;
	const int64_t e = m->hp.n_embd;
	embed(s, tokens, n);
	rope_table(s, n);
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
