/* SPDX-License-Identifier: MIT */
/* The "cpu" matmul backend: weights repacked into 16-row panels at load,
 * activations quantized once per call into a scratch that only ever grows,
 * groups of rows (or token ranges) spread over the thread pool.
 *
 * Types without a panel (or a CPU without the SIMD kernels) take the generic
 * path: activations quantized to the type's vec_dot_type and one scalar
 * rb_vec_dot per (row, token), still threaded. A backend instance is not
 * reentrant: one matmul at a time (the scratch is shared). */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/quant.h"
#include "rosenblatt/scratch.h"

typedef struct cpu_backend {
	rb_matmul_backend be; /* first: the public table */
	rb_threadpool *tp;
	const rb_kernel_set *ks;
	void *scratch;
	size_t scratch_bytes;
	int is_ref;
} cpu_backend;

static int grow_scratch(cpu_backend *cb, size_t bytes, rb_err *err)
{
	return rb_scratch_grow(&cb->scratch, &cb->scratch_bytes, bytes,
			       cb->is_ref ? "ref backend" : "cpu backend", err);
}

static int check_call(const rb_weight *w, int64_t n_tokens, const float *x, int64_t ldx,
		      const float *y, int64_t ldy, rb_err *err)
{
	if (n_tokens < 0 || (n_tokens > 0 && (!x || !y)) || ldx < w->n_in || ldy < w->n_out)
		return rb_err_set(err, RB_E_INVALID,
				  "%s: bad matmul call (n_tokens %lld, ldx %lld for n_in %lld, "
				  "ldy %lld for n_out %lld)",
				  w->name ? w->name : "weight", (long long)n_tokens, (long long)ldx,
				  (long long)w->n_in, (long long)ldy, (long long)w->n_out);
	return RB_OK;
}

/* Work is cut into chunks claimed dynamically by the pool's threads
 * (rb_threadpool_run_chunks), about this many per thread: enough that a
 * descheduled or slow thread holds up little, few enough that claiming costs
 * nothing next to a chunk. */
#define CHUNKS_PER_THREAD 8

/* Least multiply-adds of a chunk: a few microseconds, the cost of handing
 * work to another core and collecting it. A matmul below two chunks' worth
 * (a tiny model's, 64 x 64 for one token) runs on the caller alone: on the
 * pool it would cost more in hand-offs than it computes. */
#define MIN_CHUNK_MACS 65536
/* Quantizing one activation costs about as much as this many multiply-adds
 * of a GEMM kernel (so activations go to the pool from 32768 values on). */
#define QUANT_MACS 4.0

static long n_chunks_for(const cpu_backend *cb, long n_items, double macs)
{
	long want = (long)rb_threadpool_size(cb->tp) * CHUNKS_PER_THREAD;
	if (macs / MIN_CHUNK_MACS < (double)want)
		want = (long)(macs / MIN_CHUNK_MACS);
	if (want < 1)
		want = 1;
	return n_items < want ? n_items : want;
}

/* ---- generic path ------------------------------------------------------------- */

typedef struct generic_job {
	const rb_weight *w;
	long n_chunks;
	const rb_type_traits *tr;
	const void *act;      /* n_tok rows of act_row bytes, or x itself for F32 */
	size_t act_row;
	int64_t n_tok;
	float *y;
	int64_t ldy;
} generic_job;

static void generic_chunk(void *arg, long c)
{
	const generic_job *j = arg;
	const size_t row_bytes = rb_row_size(j->w->type, j->w->n_in);
	long o0, o1;
	rb_split_range((long)j->w->n_out, (int)c, (int)j->n_chunks, &o0, &o1);
	for (long o = o0; o < o1; o++) {
		const void *wr = (const uint8_t *)j->w->data + (size_t)o * row_bytes;
		for (int64_t t = 0; t < j->n_tok; t++) {
			float s;
			j->tr->vec_dot(j->w->n_in, &s, wr, (const uint8_t *)j->act + (size_t)t * j->act_row);
			j->y[t * j->ldy + o] = s;
		}
	}
}

typedef struct quant_job {
	enum rb_type type;
	const float *x;
	int64_t ldx, n_in, n_tok;
	void *dst;
	size_t dst_row;
	long n_chunks;
} quant_job;

static void quant_chunk(void *arg, long c)
{
	const quant_job *j = arg;
	long t0, t1;
	rb_split_range((long)j->n_tok, (int)c, (int)j->n_chunks, &t0, &t1);
	for (long t = t0; t < t1; t++)
		rb_quantize_row(j->type, j->x + t * j->ldx, (uint8_t *)j->dst + (size_t)t * j->dst_row,
				j->n_in);
}

static int matmul_generic(cpu_backend *cb, const rb_weight *w, int64_t n_tok, const float *x,
			  int64_t ldx, float *y, int64_t ldy, rb_err *err)
{
	const rb_type_traits *tr = rb_type_traits_get(w->type);
	generic_job job = {.w = w, .tr = tr, .n_tok = n_tok, .y = y, .ldy = ldy};
	if (tr->vec_dot_type == RB_TYPE_F32) {
		job.act = x;
		job.act_row = (size_t)ldx * sizeof(float);
	} else {
		const size_t row = rb_row_size(tr->vec_dot_type, w->n_in);
		if (row == 0)
			return rb_err_set(err, RB_E_UNSUPPORTED, "%s: cannot quantize activations to %s",
					  w->name ? w->name : "weight", rb_type_name(tr->vec_dot_type));
		int rc = grow_scratch(cb, row * (size_t)n_tok, err);
		if (rc != RB_OK)
			return rc;
		quant_job q = {.type = tr->vec_dot_type, .x = x, .ldx = ldx, .n_in = w->n_in,
			       .n_tok = n_tok, .dst = cb->scratch, .dst_row = row};
		q.n_chunks = n_chunks_for(cb, (long)n_tok, QUANT_MACS * (double)n_tok * (double)w->n_in);
		rb_threadpool_run_chunks(cb->tp, quant_chunk, &q, q.n_chunks);
		job.act = cb->scratch;
		job.act_row = row;
	}
	/* a scalar vec_dot multiply-add costs several of a GEMM kernel's */
	job.n_chunks = n_chunks_for(cb, (long)w->n_out,
				    8.0 * (double)n_tok * (double)w->n_in * (double)w->n_out);
	rb_threadpool_run_chunks(cb->tp, generic_chunk, &job, job.n_chunks);
	return RB_OK;
}

/* ---- packed path ---------------------------------------------------------------- */

typedef struct gemm_job {
	rb_gemm_fn fn;
	rb_gemm_args args;
	int split_tokens;
	long n_chunks;
} gemm_job;

/* Chunks are ranges of row groups, or (few groups, many tokens) ranges of
 * tokens in multiples of 8, the kernels' widest token tile. */
static void gemm_chunk(void *arg, long chunk)
{
	const gemm_job *j = arg;
	if (!j->split_tokens) {
		long g0, g1;
		rb_split_range((long)j->args.w->n_groups, (int)chunk, (int)j->n_chunks, &g0, &g1);
		if (g1 > g0)
			j->fn(&j->args, g0, g1);
		return;
	}
	long c0, c1;
	rb_split_range((long)((j->args.n_tok + 7) / 8), (int)chunk, (int)j->n_chunks, &c0, &c1);
	const int64_t t0 = c0 * 8, t1 = c1 * 8 < j->args.n_tok ? c1 * 8 : j->args.n_tok;
	if (t1 <= t0)
		return;
	rb_gemm_args a = j->args;
	rb_act act;
	if (a.a) {
		act = *a.a;
		const int64_t k = act.k;
		act.qs += t0 * k;
		if (act.type == RB_TYPE_Q8_K) {
			act.d += t0 * (k / RB_QK_K);
			act.bs16 += t0 * (k / 16);
			act.bs32 += t0 * (k / 32);
		} else {
			act.d += t0 * (k / RB_QK8_0);
			act.sum += t0 * (k / RB_QK8_0);
		}
		act.n_tok = t1 - t0;
		a.a = &act;
	}
	if (a.x)
		a.x += t0 * a.ldx;
	a.y += t0 * a.ldy;
	a.n_tok = t1 - t0;
	j->fn(&a, 0, a.w->n_groups);
}

typedef struct act_job {
	rb_act *a;
	const float *x;
	int64_t ldx;
	long n_chunks;
} act_job;

static void act_chunk(void *arg, long c)
{
	const act_job *j = arg;
	long t0, t1;
	rb_split_range((long)j->a->n_tok, (int)c, (int)j->n_chunks, &t0, &t1);
	rb_act_quantize(j->a, j->x, j->ldx, t0, t1);
}

static int cpu_matmul(void *ctx, const rb_weight *w, int64_t n_tok, const float *x, int64_t ldx,
		      float *y, int64_t ldy, rb_err *err)
{
	cpu_backend *cb = ctx;
	int rc = check_call(w, n_tok, x, ldx, y, ldy, err);
	if (rc != RB_OK || n_tok == 0)
		return rc;
	const rb_pack *p = w->packed;
	if (!p || p->kind == RB_PK_GENERIC)
		return matmul_generic(cb, w, n_tok, x, ldx, y, ldy, err);

	gemm_job job = {.fn = cb->ks->gemm[p->kind]};
	job.args = (rb_gemm_args){.w = p, .y = y, .ldy = ldy, .n_tok = n_tok};
	rb_act act;
	if (p->act_type == RB_TYPE_F32) {
		job.args.x = x;
		job.args.ldx = ldx;
	} else {
		rc = grow_scratch(cb, rb_act_bytes(p->act_type, n_tok, w->n_in), err);
		if (rc != RB_OK)
			return rc;
		rb_act_layout(&act, p->act_type, n_tok, w->n_in, cb->scratch);
		act_job aj = {.a = &act, .x = x, .ldx = ldx,
			      .n_chunks = n_chunks_for(cb, (long)n_tok, QUANT_MACS * (double)n_tok *
								     (double)w->n_in)};
		rb_threadpool_run_chunks(cb->tp, act_chunk, &aj, aj.n_chunks);
		job.args.a = &act;
	}
	const int nth = rb_threadpool_size(cb->tp);
	job.split_tokens = nth > 1 && p->n_groups < 4 * nth && n_tok >= 16;
	job.n_chunks = n_chunks_for(cb, job.split_tokens ? (long)((n_tok + 7) / 8) : (long)p->n_groups,
				    (double)n_tok * (double)w->n_in * (double)w->n_out);
	rb_threadpool_run_chunks(cb->tp, gemm_chunk, &job, job.n_chunks);
	return RB_OK;
}

/* ---- load time -------------------------------------------------------------------- */

static bool cpu_supports(void *ctx, const rb_weight *w)
{
	(void)ctx;
	const rb_type_traits *tr = rb_type_traits_get(w->type);
	return tr && tr->vec_dot && w->data && w->n_in > 0 && w->n_out > 0 &&
	       rb_row_size(w->type, w->n_in) > 0;
}

typedef struct pack_job {
	rb_pack *p;
	const rb_weight *w;
} pack_job;

static void pack_task(void *arg, int ith, int nth)
{
	const pack_job *j = arg;
	long g0, g1;
	rb_split_range((long)j->p->n_groups, ith, nth, &g0, &g1);
	rb_pack_groups(j->p, j->w->type, j->w->data, g0, g1);
}

static int cpu_prepare(void *ctx, rb_weight *w, rb_err *err)
{
	cpu_backend *cb = ctx;
	rb_pack *p = calloc(1, sizeof(*p));
	if (!p)
		return rb_err_set(err, RB_E_NOMEM, "%s: out of memory", w->name ? w->name : "weight");
	enum rb_pk_kind kind = cb->ks ? rb_pack_kind_for(w->type) : RB_PK_GENERIC;
	if (kind != RB_PK_GENERIC && !cb->ks->gemm[kind])
		kind = RB_PK_GENERIC;
	if (kind == RB_PK_GENERIC) {
		p->kind = RB_PK_GENERIC;
		p->n_in = w->n_in;
		p->n_out = w->n_out;
		w->packed = p;
		return RB_OK;
	}
	int rc = rb_pack_alloc(p, kind, w->n_in, w->n_out);
	if (rc != RB_OK) {
		free(p);
		return rb_err_set(err, rc, "%s: cannot repack %s [%lld x %lld]: %s",
				  w->name ? w->name : "weight", rb_type_name(w->type),
				  (long long)w->n_out, (long long)w->n_in, rb_status_str(rc));
	}
	pack_job pj = {.p = p, .w = w};
	rb_threadpool_run(p->n_groups >= 64 ? cb->tp : NULL, pack_task, &pj);
	w->packed = p;
	return RB_OK;
}

static void cpu_release(void *ctx, rb_weight *w)
{
	(void)ctx;
	rb_pack *p = w->packed;
	if (p) {
		rb_pack_free(p);
		free(p);
	}
	w->packed = NULL;
}

/* ---- "ref": dequantize a row, float dot in double --------------------------------- */

typedef struct ref_job {
	const rb_weight *w;
	const float *x;
	int64_t ldx, n_tok;
	float *y;
	int64_t ldy;
	float *rows; /* nth * n_in floats */
} ref_job;

static void ref_task(void *arg, int ith, int nth)
{
	const ref_job *j = arg;
	const int64_t n = j->w->n_in;
	const size_t row_bytes = rb_row_size(j->w->type, n);
	float *row = j->rows + (size_t)ith * (size_t)n;
	long o0, o1;
	rb_split_range((long)j->w->n_out, ith, nth, &o0, &o1);
	for (long o = o0; o < o1; o++) {
		rb_dequantize_row(j->w->type, (const uint8_t *)j->w->data + (size_t)o * row_bytes, row, n);
		for (int64_t t = 0; t < j->n_tok; t++) {
			const float *xt = j->x + t * j->ldx;
			double s = 0;
			for (int64_t i = 0; i < n; i++)
				s += (double)row[i] * xt[i];
			j->y[t * j->ldy + o] = (float)s;
		}
	}
}

static bool ref_supports(void *ctx, const rb_weight *w)
{
	(void)ctx;
	const rb_type_traits *tr = rb_type_traits_get(w->type);
	return tr && tr->to_float && w->data && w->n_in > 0 && w->n_out > 0 &&
	       rb_row_size(w->type, w->n_in) > 0;
}

static int ref_matmul(void *ctx, const rb_weight *w, int64_t n_tok, const float *x, int64_t ldx,
		      float *y, int64_t ldy, rb_err *err)
{
	cpu_backend *cb = ctx;
	int rc = check_call(w, n_tok, x, ldx, y, ldy, err);
	if (rc != RB_OK || n_tok == 0)
		return rc;
	const int nth = rb_threadpool_size(cb->tp);
	rc = grow_scratch(cb, (size_t)nth * (size_t)w->n_in * sizeof(float), err);
	if (rc != RB_OK)
		return rc;
	ref_job j = {.w = w, .x = x, .ldx = ldx, .n_tok = n_tok, .y = y, .ldy = ldy,
		     .rows = cb->scratch};
	rb_threadpool_run(cb->tp, ref_task, &j);
	return RB_OK;
}

/* ---- construction ------------------------------------------------------------------- */

static rb_matmul_backend *create(rb_threadpool *tp, int is_ref, rb_err *err)
{
	cpu_backend *cb = calloc(1, sizeof(*cb));
	if (!cb) {
		rb_err_set(err, RB_E_NOMEM, "cannot allocate the %s backend", is_ref ? "ref" : "cpu");
		return NULL;
	}
	cb->tp = tp;
	cb->is_ref = is_ref;
	cb->ks = is_ref ? NULL : rb_kernels_best();
	cb->be.ctx = cb;
	if (is_ref) {
		cb->be.name = "ref";
		cb->be.supports = ref_supports;
		cb->be.matmul = ref_matmul;
	} else {
		cb->be.name = "cpu";
		cb->be.supports = cpu_supports;
		cb->be.prepare = cpu_prepare;
		cb->be.release = cpu_release;
		cb->be.matmul = cpu_matmul;
	}
	return &cb->be;
}

rb_matmul_backend *rb_cpu_backend_create(rb_threadpool *tp, rb_err *err)
{
	return create(tp, 0, err);
}

rb_matmul_backend *rb_ref_backend_create(rb_threadpool *tp, rb_err *err)
{
	return create(tp, 1, err);
}

void rb_cpu_backend_destroy(rb_matmul_backend *b)
{
	if (!b)
		return;
	cpu_backend *cb = b->ctx;
	free(cb->scratch);
	free(cb);
}

const char *rb_cpu_kernel_name(enum rb_type type)
{
	const rb_kernel_set *ks = rb_kernels_best();
	const enum rb_pk_kind kind = rb_pack_kind_for(type);
	if (ks && kind != RB_PK_GENERIC && ks->gemm[kind])
		return ks->name;
	return "scalar";
}
