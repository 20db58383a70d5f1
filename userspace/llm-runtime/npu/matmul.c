/* SPDX-License-Identifier: MIT */
/* Run time of the npu backend: route a call by its token count, run it on
 * the NPU, or hand it to the fallback when the NPU cannot answer it.
 *
 * An NPU call (int8), for m tokens of K inputs and N outputs:
 *   1. per token t: d_x[t] = max_k |x[t][k]| / 127, a[t][k] = round(x / d_x),
 *      written straight into the NPU's input buffer (npu_gemm_begin,
 *      npu_gemm_a_row_at: no row-major copy of the activations)
 *   2. npu_gemm_finish: acc[t][o] = sum_k a[t][k] q[o][k], exact int32 on
 *      the NPU, and libnpu's output stage writes y once while unpacking:
 *      y[t][o] = (float)acc[t][o] * (d_x[t] * d_w[o])
 *   3. spot checks (verify.c) of acc as the NPU left it and of y
 * act_residual adds a second pass: per token, the residual r = x - d_x a
 * quantized the same way (d_r, a_r) into the input buffer, and an output
 * stage that adds (float)acc_r * (d_r d_w) to y.
 * fp16 replaces 1 by a conversion to fp16 (through a row per thread) and
 * the output stage writes the f32 results as they are.
 *
 * Weights given to share_input together (q, k, v) are one resident weight
 * (npu_group): matmul_shared runs them as one such call whose output stage
 * writes each member's columns into its own y. */
#include <float.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"
#include "rosenblatt/scratch.h"
#include "rosenblatt/vec.h"

/* Largest finite fp16 magnitude. */
#define NPU_F16_MAX 65504.0f

enum npu_outcome {
	NPU_DONE,
	NPU_FAIL_RANGE,   /* activations the operand format cannot hold: not the device's fault */
	NPU_FAIL_DEVICE,  /* libnpu / device error, or out of memory for scratch */
	NPU_FAIL_VERIFY,  /* a spot check disagreed */
};

/* Bytes of one thread's row scratch: K floats (a residual or fp16 row),
 * then K int8 (a quantized row), 64-byte aligned. */
static size_t row_scratch_bytes(int64_t K)
{
	return ((size_t)K * (sizeof(float) + 1) + 63) & ~(size_t)63;
}

/* Scratch for m tokens: the per-token scales of every pass, and (fp16,
 * act_residual) a row per thread. */
static int grow_scratch(npu_backend *nb, int64_t m, int64_t K, int passes, rb_err *err)
{
	int rc = rb_scratch_grow((void **)&nb->act_scale, &nb->act_scale_bytes,
				 (size_t)passes * (size_t)m * sizeof(float), "npu backend", err);
	if (rc == RB_OK && (passes > 1 || nb->p.format != RB_NPU_WEIGHTS_INT8)) {
		const int nth = rb_threadpool_size(nb->p.tp) > 0 ? rb_threadpool_size(nb->p.tp) : 1;
		rc = rb_scratch_grow((void **)&nb->rows, &nb->rows_bytes,
				     (size_t)nth * row_scratch_bytes(K), "npu backend", err);
	}
	return rc;
}

/* Quantizing (or converting) activations straight into the NPU's input
 * buffer (npu_gemm_a_row_at), one token per row; rows are independent. */
typedef struct quant_job {
	const npu_act_kernels *k;
	const npu_gemm_ctx *gctx;
	const float *x;
	int64_t ldx, K, m;
	int pass;         /* int8: 0 the values, 1 the residuals (act_residual); -1 fp16 */
	float *scale;     /* int8: m value scales, then m residual scales */
	uint8_t *rows;    /* fp16, residuals: row_scratch_bytes(K) per thread */
	atomic_int bad;   /* some row not representable */
} quant_job;

/* Elements [n, atoms * 16) of an int8 row in the input layout are zero. */
static void zero_row_tail(const npu_gemm_a_row *row, int64_t n)
{
	uint8_t *atom = (uint8_t *)row->atom + (size_t)(n / NPU_Q_ATOM) * row->stride;
	uint32_t i = (uint32_t)(n / NPU_Q_ATOM);
	if (n % NPU_Q_ATOM) {
		memset(atom + n % NPU_Q_ATOM, 0, NPU_Q_ATOM - (size_t)(n % NPU_Q_ATOM));
		atom += row->stride;
		i++;
	}
	for (; i < row->atoms; i++, atom += row->stride)
		memset(atom, 0, NPU_Q_ATOM);
}

static void quant_task(void *arg, int ith, int nth)
{
	quant_job *j = arg;
	const int64_t K = j->K;
	float *rowf = (float *)(j->rows + (size_t)ith * row_scratch_bytes(K));
	int8_t *rowq = (int8_t *)(rowf + K);
	long t0, t1;
	rb_split_range((long)j->m, ith, nth, &t0, &t1);
	for (long t = t0; t < t1; t++) {
		const float *xt = j->x + t * j->ldx;
		const float amax = j->k->absmax(xt, K);
		if (!(amax <= (j->pass >= 0 ? FLT_MAX : NPU_F16_MAX))) {
			atomic_store_explicit(&j->bad, 1, memory_order_relaxed);
			return;
		}
		if (j->pass < 0) {
			rb_vec_f32_to_f16(K, (rb_f16 *)rowf, xt);
			npu_gemm_put_a_row(j->gctx, (uint32_t)t, rowf);
			continue;
		}
		npu_gemm_a_row row;
		npu_gemm_a_row_at(j->gctx, (uint32_t)t, &row);
		const float d = npu_q_scale(amax);
		if (j->pass == 0) {
			j->scale[t] = d;
			j->k->quantize(xt, K, npu_q_inv(d), row.atom, row.stride);
		} else {
			/* the first pass's values again (the same recipe, the same
			 * bits), what rounding them left over, that quantized */
			j->k->quantize(xt, K, npu_q_inv(d), rowq, NPU_Q_ATOM);
			j->k->residual(xt, K, d, rowq, rowf);
			const float dr = npu_q_scale(j->k->absmax(rowf, K));
			j->scale[j->m + t] = dr;
			j->k->quantize(rowf, K, npu_q_inv(dr), row.atom, row.stride);
		}
		zero_row_tail(&row, K);
	}
}

/* Small pieces of work: the caller alone beats waking the pool. */
static rb_threadpool *pool_for(const npu_backend *nb, int64_t elements)
{
	return elements >= 32768 ? nb->p.tp : NULL;
}

/* One pass: begin the call, quantize (or convert) the activations into the
 * NPU's input buffer, finish the call through the output stage `out`,
 * spot-check it. Timed by phase. */
static enum npu_outcome npu_pass(npu_backend *nb, const npu_target *tg, int64_t m,
				 const float *x, int64_t ldx, int pass, const npu_gemm_output *out,
				 rb_err *err)
{
	const int64_t K = tg->K, N = tg->N;
	double t = npu_now();
	if (npu_gemm_begin(nb->gctx, tg->gw, (uint32_t)m, err) != 0) {
		nb->st.t_gemm += npu_now() - t;
		return NPU_FAIL_DEVICE;
	}
	const double t_begun = npu_now();
	quant_job q = {.k = nb->k, .gctx = nb->gctx, .x = x, .ldx = ldx, .K = K, .m = m,
		       .pass = pass, .scale = nb->act_scale, .rows = nb->rows};
	atomic_init(&q.bad, 0);
	rb_threadpool_run(pool_for(nb, m * K * (pass > 0 ? 3 : 1)), quant_task, &q);
	const double t_quantized = npu_now();
	nb->st.t_quantize += t_quantized - t_begun;
	if (atomic_load(&q.bad)) {
		nb->st.t_gemm += t_begun - t;
		rb_err_set(err, RB_E_UNSUPPORTED, "activations are %s",
			   pass >= 0 ? "not finite" : "not finite or beyond fp16");
		return NPU_FAIL_RANGE;
	}
	/* libnpu's CPU side (copy A per context, unpack C) is m (K + N)
	 * elements: below the threshold, waking the pool costs more than it saves. */
	npu_gemm_ctx_set_threadpool(nb->gctx, pool_for(nb, m * (K + N)));
	int rc = npu_gemm_finish(nb->gctx, out, err);
	nb->st.t_gemm += (t_begun - t) + (npu_now() - t_quantized);
	npu_gemm_timing tm;
	npu_gemm_ctx_last_timing(nb->gctx, &tm);
	nb->st.t_pack += tm.pack;
	nb->st.t_submit += tm.submit;
	nb->st.t_wait += tm.wait;
	nb->st.t_unpack += tm.unpack;
	nb->st.npu_jobs++;
	if (rc != 0)
		return NPU_FAIL_DEVICE;
	npu_gemm_plan_summary ps;
	npu_gemm_plan_get_summary(npu_gemm_ctx_last_plan(nb->gctx), &ps);
	nb->st.plan_cycles += ps.cycles;
	nb->st.plan_clock_hz = ps.clock_hz;
	if (nb->p.verify) {
		t = npu_now();
		rc = npu_verify(nb, tg, m, out, err);
		nb->st.t_verify += npu_now() - t;
		if (rc != RB_OK)
			return NPU_FAIL_VERIFY;
	}
	return NPU_DONE;
}

/* Tokens [t0, t0 + m) of a call: one pass, or two with act_residual. */
static enum npu_outcome npu_rows(npu_backend *nb, const npu_target *tg, int64_t t0, int64_t m,
				 const float *x, int64_t ldx, rb_err *err)
{
	const bool int8 = nb->p.format == RB_NPU_WEIGHTS_INT8;
	const int passes = int8 && nb->p.act_residual ? 2 : 1;
	if (grow_scratch(nb, m, tg->K, passes, err) != RB_OK)
		return NPU_FAIL_DEVICE;
	/* each member's columns into its rows t0.. (int8: scaled by the output
	 * stage; fp16: floats as they are) */
	npu_gemm_segment seg[RB_SHARED_MAX];
	for (int i = 0; i < tg->n; i++)
		seg[i] = (npu_gemm_segment){
			.n = (uint32_t)tg->cols[i],
			.c = tg->y[i] ? tg->y[i] + t0 * tg->ldy[i] : NULL,
			.ldc = tg->y[i] ? (size_t)tg->ldy[i] : 0,
		};
	npu_gemm_output out = {.seg = seg, .n_seg = (uint32_t)tg->n};
	if (int8) {
		out.row_scale = nb->act_scale;
		out.col_scale = tg->scale;
	}
	x += t0 * ldx;
	enum npu_outcome o = npu_pass(nb, tg, m, x, ldx, int8 ? 0 : -1, &out, err);
	if (o == NPU_DONE && passes > 1) {
		out.row_scale = nb->act_scale + m;
		out.accumulate = true;
		o = npu_pass(nb, tg, m, x, ldx, 1, &out, err);
	}
	return o;
}

static enum npu_outcome npu_call(npu_backend *nb, const npu_target *tg, int64_t n,
				 const float *x, int64_t ldx, rb_err *err)
{
	for (int64_t t0 = 0; t0 < n; t0 += NPU_GEMM_MAX_M) {
		const int64_t m = n - t0 < NPU_GEMM_MAX_M ? n - t0 : NPU_GEMM_MAX_M;
		const enum npu_outcome o = npu_rows(nb, tg, t0, m, x, ldx, err);
		if (o != NPU_DONE)
			return o;
	}
	for (int i = 0; i < tg->n; i++)
		if (tg->y[i]) {
			const rb_weight *w = &tg->member[i]->fb;
			nb->st.npu_calls++;
			nb->st.npu_tokens += (uint64_t)n;
			nb->st.npu_macs += (uint64_t)n * (uint64_t)w->n_in * (uint64_t)w->n_out;
		}
	return NPU_DONE;
}

static int run_fallback(npu_backend *nb, const npu_weight *nw, int64_t n, const float *x,
			int64_t ldx, float *y, int64_t ldy, rb_err *err)
{
	const double t = npu_now();
	const int rc = rb_matmul(&nw->fb, n, x, ldx, y, ldy, err);
	nb->st.t_fallback += npu_now() - t;
	return rc;
}

/* Book-keeping of a call the NPU could not answer; the caller then runs it
 * on the fallback. */
static void note_failure(npu_backend *nb, const npu_target *tg, int64_t n, enum npu_outcome o,
			 const rb_err *why)
{
	char name[160];
	int len = 0;
	for (int i = 0; i < tg->n && len < (int)sizeof(name); i++) {
		const char *w = !tg->member[i] ? "(released)"
				: tg->member[i]->fb.name ? tg->member[i]->fb.name : "weight";
		len += snprintf(name + len, sizeof(name) - (size_t)len, "%s%s", i ? " | " : "", w);
	}
	if (o == NPU_FAIL_RANGE) {
		nb->st.range_fallbacks++;
		npu_warn(nb, "%s, %lld tokens: %s; this call runs on %s", name, (long long)n,
			 why->msg, nb->p.fallback->name);
		return;
	}
	if (o == NPU_FAIL_VERIFY)
		nb->st.verify_failures++;
	else
		nb->st.npu_errors++;
	npu_warn(nb, "%s [%lld x %lld], %lld tokens: %s; this call runs on %s", name,
		 (long long)tg->N, (long long)tg->K, (long long)n, why->msg, nb->p.fallback->name);
	nb->consecutive_failures++;
	if (nb->p.max_failures && nb->consecutive_failures >= nb->p.max_failures && !nb->disabled) {
		nb->disabled = true;
		nb->warned_once = false; /* never rate-limit this one */
		npu_warn(nb, "%u NPU failures in a row: the NPU is not used any more; every "
			 "matmul runs on %s", nb->consecutive_failures, nb->p.fallback->name);
	}
}

/* The NPU call for nw alone: its own weight, or its group with the other
 * members' columns dropped. False when it is not on the NPU. */
static bool target_of(const npu_weight *nw, float *y, int64_t ldy, npu_target *tg)
{
	memset(tg, 0, sizeof(*tg));
	tg->K = nw->fb.n_in;
	if (nw->gw) {
		tg->gw = nw->gw;
		tg->scale = nw->scale;
		tg->N = nw->fb.n_out;
		tg->n = 1;
		tg->member[0] = nw;
		tg->cols[0] = nw->fb.n_out;
		tg->y[0] = y;
		tg->ldy[0] = ldy;
		return true;
	}
	const npu_group *g = nw->group;
	if (!g)
		return false;
	tg->gw = g->gw;
	tg->scale = g->scale;
	tg->N = g->n_out;
	tg->n = g->n;
	for (int i = 0; i < g->n; i++) {
		tg->member[i] = g->member[i];
		tg->cols[i] = g->rows[i];
		if (g->member[i] == nw) {
			tg->y[i] = y;
			tg->ldy[i] = ldy;
		}
	}
	return true;
}

/* Run tg on the NPU (fallback for every member asked when it cannot). */
static int run_target(npu_backend *nb, const npu_target *tg, int64_t n, const float *x,
		      int64_t ldx, rb_err *err)
{
	rb_err why = {0};
	const enum npu_outcome o = nb->disabled ? NPU_FAIL_DEVICE : npu_call(nb, tg, n, x, ldx, &why);
	if (o == NPU_DONE) {
		nb->consecutive_failures = 0;
		return RB_OK;
	}
	if (!nb->disabled)
		note_failure(nb, tg, n, o, &why);
	for (int i = 0; i < tg->n; i++) {
		if (!tg->y[i])
			continue;
		nb->st.fallback_calls++;
		const int rc = run_fallback(nb, tg->member[i], n, x, ldx, tg->y[i], tg->ldy[i], err);
		if (rc != RB_OK)
			return why.msg[0] ? rb_err_wrap(err, "%s: the fallback failed too after '%s'",
							tg->member[i]->fb.name ? tg->member[i]->fb.name
									       : "weight", why.msg)
					  : rc;
	}
	return RB_OK;
}

/* One weight, the lock held. */
static int matmul_one(npu_backend *nb, const npu_weight *nw, int64_t n, const float *x,
		      int64_t ldx, float *y, int64_t ldy, rb_err *err)
{
	nb->st.calls++;
	nb->st.tokens += (uint64_t)n;
	npu_target tg;
	if (n < nb->p.min_tokens) {
		nb->st.small_calls++;
		return run_fallback(nb, nw, n, x, ldx, y, ldy, err);
	}
	if (!target_of(nw, y, ldy, &tg)) {
		nb->st.fallback_calls++;
		return run_fallback(nb, nw, n, x, ldx, y, ldy, err);
	}
	return run_target(nb, &tg, n, x, ldx, err);
}

static int bad_call(const rb_weight *w, int64_t n, const float *x, int64_t ldx, const float *y,
		    int64_t ldy, rb_err *err)
{
	const npu_weight *nw = w->packed;
	if (!nw || n < 0 || (n > 0 && (!x || !y)) || ldx < w->n_in || ldy < w->n_out)
		return rb_err_set(err, RB_E_INVALID,
				  "%s: bad npu matmul call (%s, n_tokens %lld, ldx %lld for n_in "
				  "%lld, ldy %lld for n_out %lld)", w->name ? w->name : "weight",
				  nw ? "bound" : "not bound", (long long)n, (long long)ldx,
				  (long long)w->n_in, (long long)ldy, (long long)w->n_out);
	return RB_OK;
}

int npu_backend_matmul(void *ctx, const rb_weight *w, int64_t n, const float *x, int64_t ldx,
		       float *y, int64_t ldy, rb_err *err)
{
	npu_backend *nb = ctx;
	const int rc = bad_call(w, n, x, ldx, y, ldy, err);
	if (rc != RB_OK || n == 0)
		return rc;
	pthread_mutex_lock(&nb->lock);
	const int ret = matmul_one(nb, w->packed, n, x, ldx, y, ldy, err);
	pthread_mutex_unlock(&nb->lock);
	return ret;
}

int npu_backend_matmul_shared(void *ctx, const rb_weight *const *ws, int nws, int64_t n,
			      const float *x, int64_t ldx, float *const *ys, const int64_t *ldys,
			      rb_err *err)
{
	npu_backend *nb = ctx;
	if (nws < 1 || nws > RB_SHARED_MAX)
		return rb_err_set(err, RB_E_INVALID, "npu matmul_shared: %d weights (1..%d)", nws,
				  RB_SHARED_MAX);
	for (int i = 0; i < nws; i++) {
		const int rc = bad_call(ws[i], n, x, ldx, ys[i], ldys[i], err);
		if (rc != RB_OK)
			return rc;
		if (ws[i]->n_in != ws[0]->n_in)
			return rb_err_set(err, RB_E_INVALID, "npu matmul_shared: %s takes %lld inputs, "
					  "%s %lld", ws[i]->name ? ws[i]->name : "weight",
					  (long long)ws[i]->n_in, ws[0]->name ? ws[0]->name : "weight",
					  (long long)ws[0]->n_in);
	}
	if (n == 0)
		return RB_OK;
	/* One NPU call when every weight asked is a member of the same group
	 * (the members not asked are computed and dropped). */
	const npu_group *g = ((const npu_weight *)ws[0]->packed)->group;
	npu_target tg;
	bool one = g && n >= nb->p.min_tokens && target_of(ws[0]->packed, ys[0], ldys[0], &tg);
	for (int i = 1; i < nws && one; i++) {
		const npu_weight *nw = ws[i]->packed;
		one = nw->group == g;
		for (int j = 0; j < g->n && one; j++)
			if (g->member[j] == nw) {
				one = tg.y[j] == NULL; /* each member once */
				tg.y[j] = ys[i];
				tg.ldy[j] = ldys[i];
			}
	}
	pthread_mutex_lock(&nb->lock);
	int rc = RB_OK;
	if (one) {
		nb->st.calls += (uint64_t)nws;
		nb->st.tokens += (uint64_t)nws * (uint64_t)n;
		rc = run_target(nb, &tg, n, x, ldx, err);
	} else {
		for (int i = 0; i < nws && rc == RB_OK; i++)
			rc = matmul_one(nb, ws[i]->packed, n, x, ldx, ys[i], ldys[i], err);
	}
	pthread_mutex_unlock(&nb->lock);
	return rc;
}
