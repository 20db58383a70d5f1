/* SPDX-License-Identifier: MIT */
/* Model loading: hyper-parameters from GGUF metadata, tensor lookup with
 * shape/type checks, weight binding to matmul backends.
 *
 * Key and tensor names are the GGUF conventions of llama.cpp's converters
 * ("<arch>.embedding_length", "blk.N.attn_q.weight", ...; see the GGUF spec,
 * ggml docs/gguf.md, "Standardized key-value pairs" and "Tensor names"). */
#include "model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/quant.h"

#define NAME_MAX_LEN 64
/* Sanity limits: far above any supported model, low enough that products of
 * them cannot overflow int64 or size_t on 64-bit hosts. */
#define MAX_EMBD (1 << 20)
#define MAX_FF (1 << 22)
#define MAX_LAYERS 4096
#define MAX_HEADS 4096
#define MAX_VOCAB (1 << 24)
#define MAX_CTX (1 << 24)

const char *rb_arch_name(enum rb_arch arch)
{
	switch (arch) {
	case RB_ARCH_LLAMA:
		return "llama";
	case RB_ARCH_QWEN2:
		return "qwen2";
	}
	return "?";
}

/* ---- metadata ------------------------------------------------------------ */

struct hp_reader {
	const rb_gguf *g;
	const char *arch;
	rb_err *err;
};

static void arch_key(char *buf, size_t n, const char *arch, const char *suffix)
{
	snprintf(buf, n, "%s.%s", arch, suffix);
}

/* Required positive integer <arch>.<suffix> within [1, max]. */
static int hp_int(struct hp_reader *r, const char *suffix, int64_t max, int64_t *out)
{
	char key[128];
	arch_key(key, sizeof(key), r->arch, suffix);
	uint64_t v;
	int rc = rb_gguf_get_u64(r->g, key, &v, r->err);
	if (rc != RB_OK)
		return rc == RB_E_INVALID ? rb_err_set(r->err, RB_E_FORMAT,
						       "required metadata key '%s' is missing", key)
					  : rc;
	if (v < 1 || v > (uint64_t)max)
		return rb_err_set(r->err, RB_E_UNSUPPORTED, "metadata %s = %llu is out of range [1, %lld]",
				  key, (unsigned long long)v, (long long)max);
	*out = (int64_t)v;
	return RB_OK;
}

/* Optional integer: *out unchanged when absent. */
static int hp_int_opt(struct hp_reader *r, const char *suffix, int64_t max, int64_t *out)
{
	char key[128];
	arch_key(key, sizeof(key), r->arch, suffix);
	if (rb_gguf_find_key(r->g, key) < 0)
		return RB_OK;
	return hp_int(r, suffix, max, out);
}

static int hp_float(struct hp_reader *r, const char *suffix, bool required, float *out)
{
	char key[128];
	arch_key(key, sizeof(key), r->arch, suffix);
	if (rb_gguf_find_key(r->g, key) < 0) {
		if (!required)
			return RB_OK;
		return rb_err_set(r->err, RB_E_FORMAT, "required metadata key '%s' is missing", key);
	}
	float v;
	int rc = rb_gguf_get_f32(r->g, key, &v, r->err);
	if (rc != RB_OK)
		return rc;
	if (!(v > 0.0f) || !isfinite(v))
		return rb_err_set(r->err, RB_E_FORMAT, "metadata %s = %g must be positive and finite",
				  key, (double)v);
	*out = v;
	return RB_OK;
}

/* Refuse what this runtime does not implement, naming the key. */
static int hp_refuse_unsupported(struct hp_reader *r)
{
	char key[128];
	arch_key(key, sizeof(key), r->arch, "rope.scaling.type");
	if (rb_gguf_find_key(r->g, key) >= 0) {
		rb_gguf_str st;
		int rc = rb_gguf_get_str(r->g, key, &st, r->err);
		if (rc != RB_OK)
			return rc;
		if (!rb_gguf_str_eq(st, "none"))
			return rb_err_set(r->err, RB_E_UNSUPPORTED,
					  "RoPE scaling '%.*s' (%s) is not supported", (int)st.len,
					  st.data, key);
	}
	arch_key(key, sizeof(key), r->arch, "rope.scaling.factor");
	if (rb_gguf_find_key(r->g, key) >= 0) {
		float f;
		int rc = rb_gguf_get_f32(r->g, key, &f, r->err);
		if (rc != RB_OK)
			return rc;
		if (f != 0.0f && f != 1.0f)
			return rb_err_set(r->err, RB_E_UNSUPPORTED,
					  "RoPE scaling factor %g (%s) is not supported", (double)f, key);
	}
	arch_key(key, sizeof(key), r->arch, "expert_count");
	if (rb_gguf_find_key(r->g, key) >= 0) {
		uint64_t n;
		int rc = rb_gguf_get_u64(r->g, key, &n, r->err);
		if (rc != RB_OK)
			return rc;
		if (n > 0)
			return rb_err_set(r->err, RB_E_UNSUPPORTED,
					  "mixture of experts (%s = %llu) is not supported", key,
					  (unsigned long long)n);
	}
	return RB_OK;
}

static int read_arch(const rb_gguf *g, rb_model_hparams *hp, rb_err *err)
{
	rb_gguf_str a;
	int rc = rb_gguf_get_str(g, "general.architecture", &a, err);
	if (rc != RB_OK)
		return rc == RB_E_INVALID ? rb_err_set(err, RB_E_FORMAT,
						       "not a model: metadata key 'general.architecture' is missing")
					  : rc;
	if (rb_gguf_str_eq(a, "llama")) {
		hp->arch = RB_ARCH_LLAMA;
	} else if (rb_gguf_str_eq(a, "qwen2")) {
		hp->arch = RB_ARCH_QWEN2;
		hp->qkv_bias = true;
		hp->rope_neox = true;
	} else {
		return rb_err_set(err, RB_E_UNSUPPORTED,
				  "architecture '%.*s' (general.architecture) is not supported; "
				  "supported: llama, qwen2", (int)(a.len > 64 ? 64 : a.len), a.data);
	}
	return RB_OK;
}

static int read_hparams(const rb_gguf *g, rb_model_hparams *hp, rb_err *err)
{
	memset(hp, 0, sizeof(*hp));
	int rc = read_arch(g, hp, err);
	if (rc != RB_OK)
		return rc;
	struct hp_reader r = {g, rb_arch_name(hp->arch), err};
	if ((rc = hp_int(&r, "context_length", MAX_CTX, &hp->n_ctx_train)) ||
	    (rc = hp_int(&r, "embedding_length", MAX_EMBD, &hp->n_embd)) ||
	    (rc = hp_int(&r, "block_count", MAX_LAYERS, &hp->n_layer)) ||
	    (rc = hp_int(&r, "feed_forward_length", MAX_FF, &hp->n_ff)) ||
	    (rc = hp_int(&r, "attention.head_count", MAX_HEADS, &hp->n_head)))
		return rc;
	hp->n_head_kv = hp->n_head;
	if ((rc = hp_int_opt(&r, "attention.head_count_kv", MAX_HEADS, &hp->n_head_kv)))
		return rc;
	if (hp->n_embd % hp->n_head)
		return rb_err_set(err, RB_E_UNSUPPORTED,
				  "%s.embedding_length %lld is not a multiple of head_count %lld", r.arch,
				  (long long)hp->n_embd, (long long)hp->n_head);
	if (hp->n_head % hp->n_head_kv)
		return rb_err_set(err, RB_E_UNSUPPORTED,
				  "%s.attention.head_count %lld is not a multiple of head_count_kv %lld",
				  r.arch, (long long)hp->n_head, (long long)hp->n_head_kv);
	hp->head_dim = hp->n_embd / hp->n_head;
	int64_t kl = hp->head_dim, vl = hp->head_dim;
	if ((rc = hp_int_opt(&r, "attention.key_length", MAX_EMBD, &kl)) ||
	    (rc = hp_int_opt(&r, "attention.value_length", MAX_EMBD, &vl)))
		return rc;
	if (kl != hp->head_dim || vl != hp->head_dim)
		return rb_err_set(err, RB_E_UNSUPPORTED,
				  "%s.attention.key_length/value_length %lld/%lld differ from the head "
				  "size %lld (embedding_length / head_count)", r.arch, (long long)kl,
				  (long long)vl, (long long)hp->head_dim);
	hp->n_rot = hp->head_dim;
	if ((rc = hp_int_opt(&r, "rope.dimension_count", MAX_EMBD, &hp->n_rot)))
		return rc;
	if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
		return rb_err_set(err, RB_E_UNSUPPORTED,
				  "%s.rope.dimension_count %lld must be even and <= head size %lld",
				  r.arch, (long long)hp->n_rot, (long long)hp->head_dim);
	hp->rope_base = 10000.0f;
	if ((rc = hp_float(&r, "rope.freq_base", false, &hp->rope_base)) ||
	    (rc = hp_float(&r, "attention.layer_norm_rms_epsilon", true, &hp->rms_eps)))
		return rc;
	return hp_refuse_unsupported(&r);
}

/* ---- tensors ------------------------------------------------------------- */

/* Find a tensor and check it is [ne0] (ne1 == 0) or [ne0, ne1]. */
static int find_tensor(const rb_gguf *g, const char *name, int64_t ne0, int64_t ne1,
		       bool required, const rb_gguf_tensor **out, rb_err *err)
{
	*out = NULL;
	const rb_gguf_tensor *t = rb_gguf_find_tensor(g, name);
	if (!t) {
		if (!required)
			return RB_OK;
		return rb_err_set(err, RB_E_FORMAT, "required tensor '%s' is missing", name);
	}
	const int64_t want1 = ne1 ? ne1 : 1;
	if (t->ne[0] != ne0 || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1) {
		if (ne1)
			return rb_err_set(err, RB_E_FORMAT,
					  "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected "
					  "[%lld, %lld]", name, (long long)t->ne[0], (long long)t->ne[1],
					  (long long)t->ne[2], (long long)t->ne[3], (long long)ne0,
					  (long long)ne1);
		return rb_err_set(err, RB_E_FORMAT,
				  "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld]",
				  name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
				  (long long)t->ne[3], (long long)ne0);
	}
	*out = t;
	return RB_OK;
}

static bool type_has_to_float(enum rb_type type)
{
	const rb_type_traits *tr = rb_type_traits_get(type);
	return tr && tr->to_float;
}

/* A vector tensor (norm weight, bias) converted to owned floats at dst. */
static int load_vector(const rb_gguf *g, const char *name, int64_t n, bool required,
		       float *dst, bool *found, rb_err *err)
{
	const rb_gguf_tensor *t;
	int rc = find_tensor(g, name, n, 0, required, &t, err);
	if (found)
		*found = t != NULL;
	if (rc != RB_OK || !t)
		return rc;
	if (!type_has_to_float(t->type))
		return rb_err_set(err, RB_E_UNSUPPORTED, "tensor '%s' has unsupported type %s",
				  name, rb_type_name(t->type));
	return rb_dequantize_row(t->type, t->data, dst, n) == RB_OK
		       ? RB_OK
		       : rb_err_set(err, RB_E_UNSUPPORTED, "tensor '%s': cannot convert %s to f32",
				    name, rb_type_name(t->type));
}

static void init_weight(struct rb_mweight *mw, char *name, const rb_gguf_tensor *t)
{
	memset(mw, 0, sizeof(*mw));
	atomic_init(&mw->fb_bound, false);
	mw->w.name = name;
	mw->w.type = t->type;
	mw->w.n_in = t->ne[0];
	mw->w.n_out = t->ne[1];
	mw->w.data = t->data;
}

/* ---- the model ----------------------------------------------------------- */

struct loader {
	rb_model *m;
	const rb_model_params *p;
	char *name_next;   /* next free slot in m->names */
	float *vec_next;   /* next free slot in m->vecs */
	uint64_t progress_base, progress_total, progress_done;
	rb_err *err;
};

static char *alloc_name(struct loader *L, const char *fmt, int layer)
{
	char *s = L->name_next;
	snprintf(s, NAME_MAX_LEN, fmt, layer);
	L->name_next += NAME_MAX_LEN;
	return s;
}

static float *alloc_vec(struct loader *L, int64_t n)
{
	float *v = L->vec_next;
	L->vec_next += n;
	return v;
}

static int load_matrix(struct loader *L, struct rb_mweight *mw, const char *fmt, int layer,
		       int64_t n_in, int64_t n_out)
{
	char *name = alloc_name(L, fmt, layer);
	const rb_gguf_tensor *t;
	int rc = find_tensor(L->m->g, name, n_in, n_out, true, &t, L->err);
	if (rc != RB_OK)
		return rc;
	init_weight(mw, name, t);
	L->m->weights[L->m->n_weights++] = mw;
	return RB_OK;
}

static int load_layer(struct loader *L, int il)
{
	const rb_model_hparams *hp = &L->m->hp;
	struct rb_layer *ly = &L->m->layers[il];
	const int64_t e = hp->n_embd, kv = rb_hp_kv_dim(hp), ff = hp->n_ff;
	const rb_gguf *g = L->m->g;
	int rc;
	ly->attn_norm = alloc_vec(L, e);
	ly->ffn_norm = alloc_vec(L, e);
	if ((rc = load_vector(g, alloc_name(L, "blk.%d.attn_norm.weight", il), e, true,
			      ly->attn_norm, NULL, L->err)) ||
	    (rc = load_vector(g, alloc_name(L, "blk.%d.ffn_norm.weight", il), e, true,
			      ly->ffn_norm, NULL, L->err)))
		return rc;
	if (hp->qkv_bias) {
		ly->bq = alloc_vec(L, e);
		ly->bk = alloc_vec(L, kv);
		ly->bv = alloc_vec(L, kv);
		if ((rc = load_vector(g, alloc_name(L, "blk.%d.attn_q.bias", il), e, true, ly->bq,
				      NULL, L->err)) ||
		    (rc = load_vector(g, alloc_name(L, "blk.%d.attn_k.bias", il), kv, true, ly->bk,
				      NULL, L->err)) ||
		    (rc = load_vector(g, alloc_name(L, "blk.%d.attn_v.bias", il), kv, true, ly->bv,
				      NULL, L->err)))
			return rc;
	}
	if ((rc = load_matrix(L, &ly->wq, "blk.%d.attn_q.weight", il, e, e)) ||
	    (rc = load_matrix(L, &ly->wk, "blk.%d.attn_k.weight", il, e, kv)) ||
	    (rc = load_matrix(L, &ly->wv, "blk.%d.attn_v.weight", il, e, kv)) ||
	    (rc = load_matrix(L, &ly->wo, "blk.%d.attn_output.weight", il, e, e)) ||
	    (rc = load_matrix(L, &ly->w_gate, "blk.%d.ffn_gate.weight", il, e, ff)) ||
	    (rc = load_matrix(L, &ly->w_up, "blk.%d.ffn_up.weight", il, e, ff)) ||
	    (rc = load_matrix(L, &ly->w_down, "blk.%d.ffn_down.weight", il, ff, e)))
		return rc;
	return RB_OK;
}

static int load_globals(struct loader *L)
{
	rb_model *m = L->m;
	rb_model_hparams *hp = &m->hp;
	const rb_gguf_tensor *te = rb_gguf_find_tensor(m->g, "token_embd.weight");
	if (!te)
		return rb_err_set(L->err, RB_E_FORMAT, "required tensor 'token_embd.weight' is missing");
	if (te->ne[1] < 1 || te->ne[1] > MAX_VOCAB)
		return rb_err_set(L->err, RB_E_UNSUPPORTED,
				  "token_embd.weight: vocabulary size %lld out of range",
				  (long long)te->ne[1]);
	hp->n_vocab = te->ne[1];
	int rc = find_tensor(m->g, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &te, L->err);
	if (rc != RB_OK)
		return rc;
	if (!type_has_to_float(te->type))
		return rb_err_set(L->err, RB_E_UNSUPPORTED,
				  "token_embd.weight has type %s, which cannot be dequantized",
				  rb_type_name(te->type));
	m->tok_embd = te;
	m->output_norm = alloc_vec(L, hp->n_embd);
	rc = load_vector(m->g, alloc_name(L, "output_norm.weight", 0), hp->n_embd, true,
			 m->output_norm, NULL, L->err);
	if (rc != RB_OK)
		return rc;
	const rb_gguf_tensor *out;
	char *name = alloc_name(L, "output.weight", 0);
	rc = find_tensor(m->g, name, hp->n_embd, hp->n_vocab, false, &out, L->err);
	if (rc != RB_OK)
		return rc;
	hp->tied_embeddings = out == NULL;
	if (!out)
		name = alloc_name(L, "token_embd.weight", 0);
	init_weight(&m->output, name, out ? out : te);
	return RB_OK;
}

static void report_progress(struct loader *L, uint64_t done)
{
	if (L->p->progress)
		L->p->progress(L->p->progress_user, L->progress_base + done, L->progress_total);
}

static void prefault_progress(void *user, uint64_t done, uint64_t total)
{
	(void)total;
	report_progress(user, done);
}

static int bind_weights(struct loader *L)
{
	rb_model *m = L->m;
	for (int64_t i = 0; i < m->n_weights; i++) {
		rb_weight *w = &m->weights[i]->w;
		const rb_matmul_backend *owner = NULL;
		for (int b = 0; b < L->p->n_backends && !owner; b++)
			if (L->p->backends[b]->supports(L->p->backends[b]->ctx, w))
				owner = L->p->backends[b];
		if (!owner) {
			char names[128] = "";
			for (int b = 0; b < L->p->n_backends; b++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 b ? ", " : "", L->p->backends[b]->name);
			return rb_err_set(L->err, RB_E_UNSUPPORTED,
					  "%s: no matmul backend supports type %s [%lld x %lld] "
					  "(tried: %s)", w->name, rb_type_name(w->type),
					  (long long)w->n_out, (long long)w->n_in, names);
		}
		int rc = rb_weight_bind(w, owner, L->err);
		if (rc != RB_OK)
			return rb_err_wrap(L->err, "binding weights");
		L->progress_done += rb_row_size(w->type, w->n_in) * (uint64_t)w->n_out;
		report_progress(L, L->progress_done);
	}
	return RB_OK;
}

/* Weights that always read the same activations (each layer's q, k, v):
 * their backend may run them as one call (rb_matmul_shared). gate and up
 * share theirs too, but as one NPU call they take as many tasks as apart,
 * and combining them costs seconds of load (docs/npu-backend.md). */
static int share_inputs(rb_model *m, rb_err *err)
{
	for (int64_t il = 0; il < m->hp.n_layer; il++) {
		struct rb_layer *ly = &m->layers[il];
		rb_weight *qkv[3] = {&ly->wq.w, &ly->wk.w, &ly->wv.w};
		const int rc = rb_weights_share_input(qkv, 3, err);
		if (rc != RB_OK)
			return rb_err_wrap(err, "layer %lld", (long long)il);
	}
	return RB_OK;
}

static void count_tensors(rb_model *m)
{
	for (uint64_t i = 0; i < m->g->n_tensors; i++) {
		const rb_gguf_tensor *t = &m->g->tensors[i];
		m->size_bytes += t->nbytes;
		m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
	}
}

static int alloc_model(rb_model *m, rb_err *err)
{
	const rb_model_hparams *hp = &m->hp;
	const int64_t n_w = hp->n_layer * 7 + 1;
	const int64_t n_names = hp->n_layer * 12 + 4;
	const int64_t n_vecs = hp->n_layer * (2 * hp->n_embd + hp->n_embd + 2 * rb_hp_kv_dim(hp)) +
			       hp->n_embd;
	m->layers = calloc((size_t)hp->n_layer, sizeof(*m->layers));
	m->weights = calloc((size_t)n_w, sizeof(*m->weights));
	m->names = calloc((size_t)n_names, NAME_MAX_LEN);
	m->vecs = calloc((size_t)n_vecs, sizeof(float));
	if (!m->layers || !m->weights || !m->names || !m->vecs)
		return rb_err_set(err, RB_E_NOMEM, "out of memory for the model structures");
	return RB_OK;
}

/* Hyper-parameters, tensors, vectors: everything but the weight binding. */
static int load_structure(rb_model *m, struct loader *L, rb_err *err)
{
	int rc;
	if ((rc = read_hparams(m->g, &m->hp, err)) || (rc = alloc_model(m, err)))
		return rc;
	L->m = m;
	L->name_next = m->names;
	L->vec_next = m->vecs;
	L->err = err;
	if ((rc = load_globals(L)))
		return rc;
	for (int il = 0; il < m->hp.n_layer; il++)
		if ((rc = load_layer(L, il)))
			return rc;
	m->weights[m->n_weights++] = &m->output;
	count_tensors(m);
	return RB_OK;
}

static rb_model *model_new(rb_gguf *g)
{
	rb_model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->g = g;
	pthread_mutex_init(&m->fb_lock, NULL);
	return m;
}

int rb_model_validate(const rb_gguf *g, rb_model_hparams *hp, rb_err *err)
{
	rb_model *m = model_new((rb_gguf *)g);
	if (!m)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	const rb_model_params p = {0};
	struct loader L = {.p = &p};
	int rc = load_structure(m, &L, err);
	if (hp)
		*hp = m->hp;
	m->g = NULL; /* borrowed */
	rb_model_free(m);
	return rc;
}

int rb_model_load_gguf(rb_gguf *g, const rb_model_params *p, rb_model **out, rb_err *err)
{
	*out = NULL;
	rb_model *m = model_new(g);
	if (!m) {
		rb_gguf_close(g);
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	}
	int rc;
	struct loader L = {.p = p};
	if (p->n_backends < 1) {
		rc = rb_err_set(err, RB_E_INVALID, "model: no matmul backend given");
		goto fail;
	}
	m->fallback = p->backends[p->n_backends - 1];
	if ((rc = load_structure(m, &L, err)))
		goto fail;

	uint64_t weight_bytes = 0;
	for (int64_t i = 0; i < m->n_weights; i++)
		weight_bytes += rb_row_size(m->weights[i]->w.type, m->weights[i]->w.n_in) *
				(uint64_t)m->weights[i]->w.n_out;
	L.progress_total = weight_bytes + (p->prefault ? g->size : 0);
	if (p->prefault) {
		rb_gguf_prefault(g, prefault_progress, &L);
		L.progress_base = g->size;
	}
	if ((rc = bind_weights(&L)) || (rc = share_inputs(m, err)))
		goto fail;
	*out = m;
	return RB_OK;
fail:
	rb_model_free(m);
	return rc;
}

int rb_model_load(const char *path, const rb_model_params *p, rb_model **out, rb_err *err)
{
	*out = NULL;
	rb_gguf *g;
	int rc = rb_gguf_open(path, &g, err);
	if (rc != RB_OK)
		return rc;
	rc = rb_model_load_gguf(g, p, out, err);
	if (rc != RB_OK)
		rb_err_wrap(err, "%s", path);
	return rc;
}

void rb_model_free(rb_model *m)
{
	if (!m)
		return;
	for (int64_t i = 0; m->weights && i < m->n_weights; i++) {
		rb_weight_unbind(&m->weights[i]->w);
		if (atomic_load(&m->weights[i]->fb_bound))
			rb_weight_unbind(&m->weights[i]->fb);
	}
	pthread_mutex_destroy(&m->fb_lock);
	free(m->layers);
	free(m->weights);
	free(m->names);
	free(m->vecs);
	rb_gguf_close(m->g);
	free(m);
}

const rb_model_hparams *rb_model_get_hparams(const rb_model *m) { return &m->hp; }
const rb_gguf *rb_model_get_gguf(const rb_model *m) { return m->g; }
int64_t rb_model_n_weights(const rb_model *m) { return m->n_weights; }
uint64_t rb_model_size_bytes(const rb_model *m) { return m->size_bytes; }
uint64_t rb_model_n_params(const rb_model *m) { return m->n_params; }

const rb_weight *rb_model_weight(const rb_model *m, int64_t i)
{
	return i >= 0 && i < m->n_weights ? &m->weights[i]->w : NULL;
}
