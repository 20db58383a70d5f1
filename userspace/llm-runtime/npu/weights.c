/* SPDX-License-Identifier: MIT */
/* Load time of the npu backend: which weights it takes, and their int8 (or
 * fp16) copy resident on the NPU next to a fallback-bound copy.
 *
 * int8: every row (output channel) o of the dequantized weight gets its own
 * scale d_w[o] = max_i |w[o][i]| / 127 and q[o][i] = round(w[o][i] / d_w[o])
 * (npu_internal.h has the exact recipe). The error this adds to each weight
 * is at most d_w[o] / 2, i.e. 1/254 of the row's largest magnitude; the
 * result error it causes is bounded in docs/npu-backend.md. */
#include <float.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"
#include "rosenblatt/quant.h"
#include "rosenblatt/vec.h"

/* Largest finite fp16 magnitude. */
#define NPU_F16_MAX 65504.0f

bool npu_backend_supports(void *ctx, const rb_weight *w)
{
	const npu_backend *nb = ctx;
	const rb_type_traits *tr = rb_type_traits_get(w->type);
	if (!tr || !tr->to_float || !w->data || w->n_in <= 0 || w->n_out <= 0 ||
	    rb_row_size(w->type, w->n_in) == 0)
		return false;
	/* The planner's limits (npu_gemm.h). Larger matrices (a 151936-token
	 * vocabulary projection) stay with the next backend in the model's list. */
	if (w->n_in > (int64_t)NPU_GEMM_MAX_K || w->n_out > (int64_t)NPU_GEMM_MAX_N)
		return false;
	const rb_matmul_backend *fb = nb->p.fallback;
	return fb->supports(fb->ctx, w);
}

typedef struct requant_job {
	const npu_act_kernels *k;
	const rb_weight *w;
	const rb_type_traits *tr;
	size_t row_bytes;
	float *rows;     /* nth x n_in floats */
	int8_t *q;       /* int8: n_out x n_in */
	rb_f16 *h;       /* fp16: n_out x n_in */
	float *scale;    /* int8: n_out */
	atomic_llong bad_row;   /* a row that is not finite (or beyond fp16), or -1 */
} requant_job;

static void requant_task(void *arg, int ith, int nth)
{
	requant_job *j = arg;
	const int64_t K = j->w->n_in;
	float *row = j->rows + (size_t)ith * (size_t)K;
	long o0, o1;
	rb_split_range((long)j->w->n_out, ith, nth, &o0, &o1);
	for (long o = o0; o < o1; o++) {
		j->tr->to_float((const uint8_t *)j->w->data + (size_t)o * j->row_bytes, row, K);
		const float amax = j->k->absmax(row, K);
		if (!(amax <= (j->q ? FLT_MAX : NPU_F16_MAX))) {
			atomic_store_explicit(&j->bad_row, o, memory_order_relaxed);
			continue;
		}
		if (j->q) {
			const float d = npu_q_scale(amax);
			j->scale[o] = d;
			j->k->quantize(row, K, npu_q_inv(d), j->q + (size_t)o * (size_t)K, NPU_Q_ATOM);
		} else {
			rb_vec_f32_to_f16(K, j->h + (size_t)o * (size_t)K, row);
		}
	}
}

/* Requantize w and upload it; on failure nw->cpu_only says why (the weight
 * then runs on the fallback only). Only out-of-memory is an error. */
static int make_npu_copy(npu_backend *nb, const rb_weight *w, npu_weight *nw, rb_err *err)
{
	const bool int8 = nb->p.format == RB_NPU_WEIGHTS_INT8;
	const size_t n = (size_t)w->n_out * (size_t)w->n_in;
	const int nth = rb_threadpool_size(nb->p.tp) > 0 ? rb_threadpool_size(nb->p.tp) : 1;
	requant_job j = {
		.k = nb->k,
		.w = w,
		.tr = rb_type_traits_get(w->type),
		.row_bytes = rb_row_size(w->type, w->n_in),
		.rows = malloc((size_t)nth * (size_t)w->n_in * sizeof(float)),
	};
	void *buf = malloc(n * (int8 ? 1 : sizeof(rb_f16)));
	float *scale = int8 ? malloc((size_t)w->n_out * sizeof(float)) : NULL;
	int rc = RB_OK;
	if (!j.rows || !buf || (int8 && !scale)) {
		rc = rb_err_set(err, RB_E_NOMEM, "%s: npu: out of memory requantizing [%lld x %lld]",
				w->name ? w->name : "weight", (long long)w->n_out, (long long)w->n_in);
		goto out;
	}
	if (int8) {
		j.q = buf;
		j.scale = scale;
	} else {
		j.h = buf;
	}
	atomic_init(&j.bad_row, -1);
	rb_threadpool_run(w->n_out >= 64 ? nb->p.tp : NULL, requant_task, &j);
	const long long bad = atomic_load(&j.bad_row);
	if (bad >= 0) {
		nw->cpu_only = int8 ? "it has non-finite values" : "it has values beyond fp16";
		npu_warn(nb, "%s: row %lld: %s; this weight runs on %s only",
			 w->name ? w->name : "weight", bad, nw->cpu_only, nb->p.fallback->name);
		goto out;
	}
	rb_err e = {0};
	const npu_gemm_type type = int8 ? NPU_GEMM_I8_I32 : NPU_GEMM_F16_F32;
	if (npu_gemm_weights_create(nb->gctx, type, (uint32_t)w->n_out, (uint32_t)w->n_in, buf,
				    (size_t)w->n_in, &nw->gw, &e) != 0) {
		nw->gw = NULL;
		nw->cpu_only = "the NPU could not take it";
		npu_warn(nb, "%s [%lld x %lld]: %s; this weight runs on %s only",
			 w->name ? w->name : "weight", (long long)w->n_out, (long long)w->n_in, e.msg,
			 nb->p.fallback->name);
		goto out;
	}
	nw->scale = scale;
	scale = NULL;
	nb->st.weights_npu++;
	nb->st.npu_weight_bytes += n * (int8 ? 1 : sizeof(rb_f16));
out:
	free(j.rows);
	free(buf);
	free(scale);
	return rc;
}

int npu_backend_prepare(void *ctx, rb_weight *w, rb_err *err)
{
	npu_backend *nb = ctx;
	const double t0 = npu_now();
	npu_weight *nw = calloc(1, sizeof(*nw));
	if (!nw)
		return rb_err_set(err, RB_E_NOMEM, "%s: npu: out of memory", w->name ? w->name : "weight");
	/* The fallback copy first: decode and every failed call depend on it. */
	nw->fb = *w;
	nw->fb.backend = NULL;
	nw->fb.packed = NULL;
	int rc = rb_weight_bind(&nw->fb, nb->p.fallback, err);
	if (rc != RB_OK) {
		free(nw);
		return rb_err_wrap(err, "npu backend: binding the fallback copy");
	}
	pthread_mutex_lock(&nb->lock);
	rc = make_npu_copy(nb, w, nw, err);
	if (rc == RB_OK && !nw->gw)
		nb->st.weights_cpu_only++;
	nb->st.t_prepare += npu_now() - t0;
	pthread_mutex_unlock(&nb->lock);
	if (rc != RB_OK) {
		rb_weight_unbind(&nw->fb);
		free(nw);
		return rc;
	}
	w->packed = nw;
	return RB_OK;
}

/* Drop nw's part in its group; the last member frees it (true). */
static bool leave_group(npu_weight *nw)
{
	npu_group *g = nw->group;
	nw->group = NULL;
	for (int i = 0; i < g->n; i++)
		if (g->member[i] == nw)
			g->member[i] = NULL; /* the others still compute its columns */
	if (--g->refs > 0)
		return false;
	npu_gemm_weights_destroy(g->gw);
	free(g->scale);
	free(g);
	return true;
}

void npu_backend_release(void *ctx, rb_weight *w)
{
	npu_backend *nb = ctx;
	npu_weight *nw = w->packed;
	if (!nw)
		return;
	pthread_mutex_lock(&nb->lock);
	if (nw->gw || nw->group) {
		const size_t bpe = nb->p.format == RB_NPU_WEIGHTS_INT8 ? 1 : sizeof(rb_f16);
		nb->st.weights_npu--;
		nb->st.npu_weight_bytes -= (size_t)w->n_out * (size_t)w->n_in * bpe;
		if (nw->group) {
			nb->st.weights_shared--;
			if (leave_group(nw))
				nb->st.shared_groups--;
		}
	} else {
		nb->st.weights_cpu_only--;
	}
	pthread_mutex_unlock(&nb->lock);
	npu_gemm_weights_destroy(nw->gw);
	rb_weight_unbind(&nw->fb);
	free(nw->scale);
	free(nw);
	w->packed = NULL;
}

/* share_input: q | k | v (any weights of this backend with one input) as
 * one resident weight, made from their resident copies (libnpu reads the
 * packed rows back; nothing is requantized). Weights that are not all on
 * the NPU on their own stay as they are. */
int npu_backend_share_input(void *ctx, rb_weight *const *ws, int n, rb_err *err)
{
	npu_backend *nb = ctx;
	if (n < 2 || n > RB_SHARED_MAX)
		return RB_OK;
	npu_weight *nw[RB_SHARED_MAX];
	const npu_gemm_weights *parts[RB_SHARED_MAX];
	int64_t n_out = 0;
	for (int i = 0; i < n; i++) {
		if (ws[i]->backend != &nb->be || !ws[i]->packed)
			return RB_OK;
		nw[i] = ws[i]->packed;
		if (!nw[i]->gw || nw[i]->group || ws[i]->n_in != ws[0]->n_in)
			return RB_OK;
		for (int j = 0; j < i; j++)
			if (nw[j] == nw[i])
				return RB_OK;
		parts[i] = nw[i]->gw;
		n_out += ws[i]->n_out;
	}
	if (n_out > (int64_t)NPU_GEMM_MAX_N)
		return RB_OK;
	npu_group *g = calloc(1, sizeof(*g));
	const bool int8 = nb->p.format == RB_NPU_WEIGHTS_INT8;
	float *scale = int8 ? malloc((size_t)n_out * sizeof(float)) : NULL;
	if (!g || (int8 && !scale)) {
		free(g);
		free(scale);
		return rb_err_set(err, RB_E_NOMEM, "npu: out of memory sharing %s's input",
				  ws[0]->name ? ws[0]->name : "a weight");
	}
	pthread_mutex_lock(&nb->lock);
	const double t0 = npu_now();
	rb_err e = {0};
	if (npu_gemm_weights_concat(nb->gctx, parts, (uint32_t)n, &g->gw, &e) != 0) {
		/* not an error: the weights keep running one by one */
		npu_warn(nb, "%s and %d more: %s; they run as separate NPU calls",
			 ws[0]->name ? ws[0]->name : "weight", n - 1, e.msg);
		nb->st.t_prepare += npu_now() - t0;
		pthread_mutex_unlock(&nb->lock);
		free(g);
		free(scale);
		return RB_OK;
	}
	g->scale = scale;
	g->n_out = n_out;
	g->n = n;
	g->refs = n;
	int64_t o = 0;
	for (int i = 0; i < n; i++) {
		if (int8)
			memcpy(scale + o, nw[i]->scale, (size_t)ws[i]->n_out * sizeof(float));
		o += ws[i]->n_out;
		g->member[i] = nw[i];
		g->rows[i] = ws[i]->n_out;
		npu_gemm_weights_destroy(nw[i]->gw);
		nw[i]->gw = NULL;
		nw[i]->group = g;
	}
	nb->st.weights_shared += (uint64_t)n;
	nb->st.shared_groups++;
	nb->st.t_prepare += npu_now() - t0;
	pthread_mutex_unlock(&nb->lock);
	return RB_OK;
}
