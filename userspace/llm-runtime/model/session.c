/* SPDX-License-Identifier: MIT */
/* Sessions: KV cache + scratch sized once, evaluation in steps of n_batch. */
#include "session_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BATCH 512

rb_session_params rb_session_default_params(void)
{
	return (rb_session_params){
		.n_ctx = 0,
		.kv_type = RB_TYPE_F16,
		.n_batch = DEFAULT_BATCH,
		.logits_all = false,
		.tp = NULL,
	};
}

/* calloc of a * b floats (or bytes), NULL on overflow. */
static void *calloc_n(int64_t a, int64_t b, size_t elt)
{
	if (a <= 0 || b <= 0 || (uint64_t)a > SIZE_MAX / (uint64_t)b ||
	    (size_t)a * (size_t)b > SIZE_MAX / elt)
		return NULL;
	return calloc((size_t)a * (size_t)b, elt);
}

static void init_rope_freq(rb_session *s)
{
	const rb_model_hparams *hp = &s->m->hp;
	/* theta_i = base^(-2i / n_rot), i < n_rot / 2 (RoFormer, Su et al. 2021) */
	for (int64_t i = 0; i < hp->n_rot / 2; i++)
		s->rope_freq[i] = 1.0f / powf(hp->rope_base, (float)(2 * i) / (float)hp->n_rot);
}

int rb_session_create(const rb_model *m, const rb_session_params *p, rb_session **out,
		      rb_err *err)
{
	*out = NULL;
	const rb_model_hparams *hp = &m->hp;
	if (p->kv_type != RB_TYPE_F16 && p->kv_type != RB_TYPE_F32)
		return rb_err_set(err, RB_E_INVALID, "KV cache type %s is not supported (f16, f32)",
				  rb_type_name(p->kv_type));
	if (p->n_ctx < 0 || p->n_batch < 0)
		return rb_err_set(err, RB_E_INVALID, "negative context (%lld) or batch (%lld) size",
				  (long long)p->n_ctx, (long long)p->n_batch);
	rb_session *s = calloc(1, sizeof(*s));
	if (!s)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	s->m = m;
	s->tp = p->tp;
	s->n_threads = rb_threadpool_size(p->tp);
	s->max_chunks = s->n_threads > 1 ? (long)s->n_threads * RB_FWD_CHUNKS_PER_THREAD : 1;
	s->n_ctx = p->n_ctx > 0 && p->n_ctx < hp->n_ctx_train ? p->n_ctx : hp->n_ctx_train;
	s->n_batch = p->n_batch > 0 ? p->n_batch : DEFAULT_BATCH;
	if (s->n_batch > s->n_ctx)
		s->n_batch = s->n_ctx;
	s->logits_all = p->logits_all;
	s->kv_type = p->kv_type;

	const int64_t e = hp->n_embd, kv = rb_hp_kv_dim(hp), B = s->n_batch;
	s->kv_elt = s->kv_type == RB_TYPE_F16 ? sizeof(rb_f16) : sizeof(float);
	s->kv_row_bytes = (size_t)kv * s->kv_elt;
	s->kv_layer_bytes = (size_t)s->n_ctx * s->kv_row_bytes;
	/* Zero pages are mapped lazily: a long context costs memory only as it fills. */
	s->k_cache = calloc_n(hp->n_layer, (int64_t)s->kv_layer_bytes, 1);
	s->v_cache = calloc_n(hp->n_layer, (int64_t)s->kv_layer_bytes, 1);
	s->x = calloc_n(B, e, sizeof(float));
	s->xb = calloc_n(B, e, sizeof(float));
	s->q = calloc_n(B, e, sizeof(float));
	s->att = calloc_n(B, e, sizeof(float));
	s->k = calloc_n(B, kv, sizeof(float));
	s->v = calloc_n(B, kv, sizeof(float));
	s->hb = calloc_n(B, hp->n_ff, sizeof(float));
	s->hb2 = calloc_n(B, hp->n_ff, sizeof(float));
	s->rope = calloc_n(B, hp->n_rot > 0 ? hp->n_rot : 1, sizeof(float));
	s->rope_freq = calloc_n(hp->n_rot > 1 ? hp->n_rot / 2 : 1, 1, sizeof(float));
	s->scores = calloc_n(s->max_chunks * RB_ATTN_QBLOCK, s->n_ctx, sizeof(float));
	s->logits = calloc_n(s->logits_all ? B : 1, hp->n_vocab, sizeof(float));
	if (!s->k_cache || !s->v_cache || !s->x || !s->xb || !s->q || !s->att || !s->k || !s->v ||
	    !s->hb || !s->hb2 || !s->rope || !s->rope_freq || !s->scores || !s->logits) {
		rb_session_free(s);
		return rb_err_set(err, RB_E_NOMEM,
				  "out of memory for a session of %lld positions (KV cache %s) and "
				  "batch %lld", (long long)s->n_ctx, rb_type_name(p->kv_type),
				  (long long)B);
	}
	init_rope_freq(s);
	*out = s;
	return RB_OK;
}

void rb_session_free(rb_session *s)
{
	if (!s)
		return;
	free(s->k_cache);
	free(s->v_cache);
	free(s->x);
	free(s->xb);
	free(s->q);
	free(s->att);
	free(s->k);
	free(s->v);
	free(s->hb);
	free(s->hb2);
	free(s->rope);
	free(s->rope_freq);
	free(s->scores);
	free(s->logits);
	free(s);
}

int rb_session_eval(rb_session *s, const int32_t *tokens, int64_t n, rb_err *err)
{
	if (n <= 0)
		return rb_err_set(err, RB_E_INVALID, "eval: no tokens");
	if (n > s->n_ctx - s->n_past)
		return rb_err_set(err, RB_E_FULL,
				  "context full: %lld positions used of %lld, %lld more do not fit",
				  (long long)s->n_past, (long long)s->n_ctx, (long long)n);
	if (s->logits_all && n > s->n_batch)
		return rb_err_set(err, RB_E_INVALID,
				  "eval: %lld tokens with logits of every token exceed the batch "
				  "size %lld", (long long)n, (long long)s->n_batch);
	for (int64_t i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= s->m->hp.n_vocab)
			return rb_err_set(err, RB_E_INVALID,
					  "eval: token %lld has id %d outside the vocabulary [0, %lld)",
					  (long long)i, (int)tokens[i], (long long)s->m->hp.n_vocab);
	const int64_t n_past0 = s->n_past;
	for (int64_t done = 0; done < n;) {
		const int64_t step = n - done < s->n_batch ? n - done : s->n_batch;
		const bool last = done + step == n;
		const int64_t want = !last ? 0 : s->logits_all ? step : 1;
		int rc = rb_forward_step(s, tokens + done, step, want, err);
		if (rc != RB_OK) {
			s->n_past = n_past0;
			s->n_logits = 0;
			return rc;
		}
		s->n_past += step;
		done += step;
	}
	s->n_eval = n;
	s->logits_first = n - s->n_logits;
	return RB_OK;
}

const float *rb_session_logits(const rb_session *s, int64_t i)
{
	if (s->n_logits == 0)
		return NULL;
	if (i < 0)
		i += s->n_eval;
	const int64_t row = i - s->logits_first;
	if (row < 0 || row >= s->n_logits)
		return NULL;
	return s->logits + row * s->m->hp.n_vocab;
}

int64_t rb_session_n_past(const rb_session *s) { return s->n_past; }
int64_t rb_session_n_ctx(const rb_session *s) { return s->n_ctx; }

void rb_session_truncate(rb_session *s, int64_t n_past)
{
	if (n_past < 0)
		n_past = 0;
	if (n_past < s->n_past)
		s->n_past = n_past;
	s->n_logits = 0;
}
