/* SPDX-License-Identifier: MIT */
/* Run time of the npu backend: route a call by its token count, run it on
 * the NPU, or hand it to the fallback when the NPU cannot answer it.
 *
 * An NPU call (int8), for m tokens of K inputs and N outputs:
 *   1. per token t: d_x[t] = max_k |x[t][k]| / 127, a[t][k] = round(x / d_x)
 *   2. npu_gemm_run_out: acc[t][o] = sum_k a[t][k] q[o][k], exact int32 on
 *      the NPU, and libnpu's output stage writes y once while unpacking:
 *      y[t][o] = (float)acc[t][o] * (d_x[t] * d_w[o])
 *   3. spot checks (verify.c) of acc as the NPU left it and of y
 * act_residual adds, per token, the residual r = x - d_x a quantized the
 * same way (d_r, a_r) and a second pass whose output stage adds
 * (float)acc_r * (d_r d_w) to y.
 * fp16 replaces 1 by a conversion to fp16 and npu_gemm_run writes the f32
 * results. */
#include <float.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"
#include "rosenblatt/vec.h"

/* Largest finite fp16 magnitude. */
#define NPU_F16_MAX 65504.0f

enum npu_outcome {
	NPU_DONE,
	NPU_FAIL_RANGE,   /* activations the operand format cannot hold: not the device's fault */
	NPU_FAIL_DEVICE,  /* libnpu / device error, or out of memory for scratch */
	NPU_FAIL_VERIFY,  /* a spot check disagreed */
};

static int grow(void **buf, size_t *have, size_t need, rb_err *err)
{
	if (need <= *have)
		return RB_OK;
	need = (need + 4095) & ~(size_t)4095;
	void *p = aligned_alloc(64, need);
	if (!p)
		return rb_err_set(err, RB_E_NOMEM, "npu backend: cannot allocate %zu bytes of scratch",
				  need);
	free(*buf);
	*buf = p;
	*have = need;
	return RB_OK;
}

/* Scratch for m tokens: activations (and scales) of every pass, and with
 * act_residual a residual row per thread. */
static int grow_scratch(npu_backend *nb, int64_t m, int64_t K, int passes, rb_err *err)
{
	const size_t bpe = nb->p.format == RB_NPU_WEIGHTS_INT8 ? 1 : sizeof(rb_f16);
	const size_t mk = (size_t)m * (size_t)K;
	int rc = grow(&nb->act, &nb->act_bytes, (size_t)passes * mk * bpe, err);
	if (rc == RB_OK)
		rc = grow((void **)&nb->act_scale, &nb->act_scale_bytes,
			  (size_t)passes * (size_t)m * sizeof(float), err);
	if (rc == RB_OK && passes > 1) {
		const int nth = rb_threadpool_size(nb->p.tp) > 0 ? rb_threadpool_size(nb->p.tp) : 1;
		rc = grow((void **)&nb->res_rows, &nb->res_rows_bytes,
			  (size_t)nth * (size_t)K * sizeof(float), err);
	}
	return rc;
}

typedef struct quant_job {
	const npu_act_kernels *k;
	const float *x;
	int64_t ldx, K, m;
	int8_t *q;        /* int8: m x K values */
	int8_t *q2;       /* act_residual: m x K residuals, or NULL */
	float *scale;     /* int8: m value scales, then m residual scales */
	float *rows;      /* act_residual: a K-float row per thread */
	rb_f16 *h;        /* fp16: m x K */
	atomic_int bad;   /* some row not representable */
} quant_job;

static void quant_task(void *arg, int ith, int nth)
{
	quant_job *j = arg;
	const int64_t K = j->K;
	long t0, t1;
	rb_split_range((long)j->m, ith, nth, &t0, &t1);
	for (long t = t0; t < t1; t++) {
		const float *xt = j->x + t * j->ldx;
		const float amax = j->k->absmax(xt, K);
		if (!(amax <= (j->q ? FLT_MAX : NPU_F16_MAX))) {
			atomic_store_explicit(&j->bad, 1, memory_order_relaxed);
			return;
		}
		if (!j->q) {
			rb_vec_f32_to_f16(K, j->h + t * K, xt);
			continue;
		}
		const float d = npu_q_scale(amax);
		j->scale[t] = d;
		j->k->quantize(xt, K, npu_q_inv(d), j->q + t * K);
		if (j->q2) {
			float *r = j->rows + (size_t)ith * (size_t)K;
			j->k->residual(xt, K, d, j->q + t * K, r);
			const float dr = npu_q_scale(j->k->absmax(r, K));
			j->scale[j->m + t] = dr;
			j->k->quantize(r, K, npu_q_inv(dr), j->q2 + t * K);
		}
	}
}

/* Small pieces of work: the caller alone beats waking the pool. */
static rb_threadpool *pool_for(const npu_backend *nb, int64_t elements)
{
	return elements >= 32768 ? nb->p.tp : NULL;
}

/* One npu_gemm_run_out of activations `act` with output stage `out`, timed,
 * then its spot checks. */
static enum npu_outcome gemm_pass(npu_backend *nb, const rb_weight *w, const npu_weight *nw,
				  int64_t m, const void *act, const npu_gemm_output *out,
				  rb_err *err)
{
	const int64_t K = w->n_in, N = w->n_out;
	double t = npu_now();
	/* libnpu's CPU side (pack A, copy it per context, unpack C) is m (K + N)
	 * elements: below the threshold, waking the pool costs more than it saves. */
	npu_gemm_ctx_set_threadpool(nb->gctx, pool_for(nb, m * (K + N)));
	int rc = npu_gemm_run_out(nb->gctx, nw->gw, (uint32_t)m, act, (size_t)K, out, err);
	nb->st.t_gemm += npu_now() - t;
	npu_gemm_timing tm;
	npu_gemm_ctx_last_timing(nb->gctx, &tm);
	nb->st.t_pack += tm.pack;
	nb->st.t_submit += tm.submit;
	nb->st.t_wait += tm.wait;
	nb->st.t_unpack += tm.unpack;
	if (rc != 0)
		return NPU_FAIL_DEVICE;
	npu_gemm_plan_summary ps;
	npu_gemm_plan_get_summary(npu_gemm_ctx_last_plan(nb->gctx), &ps);
	nb->st.plan_cycles += ps.cycles;
	nb->st.plan_clock_hz = ps.clock_hz;
	if (nb->p.verify) {
		t = npu_now();
		rc = npu_verify(nb, w, nw, m, act, out, err);
		nb->st.t_verify += npu_now() - t;
		if (rc != RB_OK)
			return NPU_FAIL_VERIFY;
	}
	return NPU_DONE;
}

static enum npu_outcome npu_rows(npu_backend *nb, const rb_weight *w, const npu_weight *nw,
				 int64_t m, const float *x, int64_t ldx, float *y, int64_t ldy,
				 rb_err *err)
{
	const bool int8 = nb->p.format == RB_NPU_WEIGHTS_INT8;
	const int passes = int8 && nb->p.act_residual ? 2 : 1;
	const int64_t K = w->n_in, N = w->n_out;
	if (grow_scratch(nb, m, K, passes, err) != RB_OK)
		return NPU_FAIL_DEVICE;

	double t = npu_now();
	quant_job q = {.k = nb->k, .x = x, .ldx = ldx, .K = K, .m = m};
	if (int8) {
		q.q = nb->act;
		q.scale = nb->act_scale;
		if (passes > 1) {
			q.q2 = (int8_t *)nb->act + m * K;
			q.rows = nb->res_rows;
		}
	} else {
		q.h = nb->act;
	}
	atomic_init(&q.bad, 0);
	rb_threadpool_run(pool_for(nb, m * K * passes), quant_task, &q);
	nb->st.t_quantize += npu_now() - t;
	if (atomic_load(&q.bad)) {
		rb_err_set(err, RB_E_UNSUPPORTED, "activations are %s",
			   int8 ? "not finite" : "not finite or beyond fp16");
		return NPU_FAIL_RANGE;
	}

	/* int8: the output stage scales the sums into y (fp16: floats as they are) */
	const npu_gemm_segment seg = {.n = (uint32_t)N, .c = y, .ldc = (size_t)ldy};
	npu_gemm_output out = {.seg = &seg, .n_seg = 1};
	if (int8) {
		out.row_scale = nb->act_scale;
		out.col_scale = nw->scale;
	}
	enum npu_outcome o = gemm_pass(nb, w, nw, m, nb->act, &out, err);
	if (o == NPU_DONE && passes > 1) {
		out.row_scale = nb->act_scale + m;
		out.accumulate = true;
		o = gemm_pass(nb, w, nw, m, q.q2, &out, err);
	}
	return o;
}

static enum npu_outcome npu_call(npu_backend *nb, const rb_weight *w, const npu_weight *nw,
				 int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy,
				 rb_err *err)
{
	for (int64_t t0 = 0; t0 < n; t0 += NPU_GEMM_MAX_M) {
		const int64_t m = n - t0 < NPU_GEMM_MAX_M ? n - t0 : NPU_GEMM_MAX_M;
		const enum npu_outcome o = npu_rows(nb, w, nw, m, x + t0 * ldx, ldx, y + t0 * ldy,
						    ldy, err);
		if (o != NPU_DONE)
			return o;
	}
	nb->st.npu_calls++;
	nb->st.npu_tokens += (uint64_t)n;
	nb->st.npu_macs += (uint64_t)n * (uint64_t)w->n_in * (uint64_t)w->n_out;
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
static void note_failure(npu_backend *nb, const rb_weight *w, int64_t n, enum npu_outcome o,
			 const rb_err *why)
{
	const char *name = w->name ? w->name : "weight";
	nb->st.fallback_calls++;
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
		 (long long)w->n_out, (long long)w->n_in, (long long)n, why->msg,
		 nb->p.fallback->name);
	nb->consecutive_failures++;
	if (nb->p.max_failures && nb->consecutive_failures >= nb->p.max_failures && !nb->disabled) {
		nb->disabled = true;
		nb->warned_once = false; /* never rate-limit this one */
		npu_warn(nb, "%u NPU failures in a row: the NPU is not used any more; every "
			 "matmul runs on %s", nb->consecutive_failures, nb->p.fallback->name);
	}
}

int npu_backend_matmul(void *ctx, const rb_weight *w, int64_t n, const float *x, int64_t ldx,
		       float *y, int64_t ldy, rb_err *err)
{
	npu_backend *nb = ctx;
	const npu_weight *nw = w->packed;
	if (!nw || n < 0 || (n > 0 && (!x || !y)) || ldx < w->n_in || ldy < w->n_out)
		return rb_err_set(err, RB_E_INVALID,
				  "%s: bad npu matmul call (%s, n_tokens %lld, ldx %lld for n_in "
				  "%lld, ldy %lld for n_out %lld)", w->name ? w->name : "weight",
				  nw ? "bound" : "not bound", (long long)n, (long long)ldx,
				  (long long)w->n_in, (long long)ldy, (long long)w->n_out);
	if (n == 0)
		return RB_OK;
	pthread_mutex_lock(&nb->lock);
	nb->st.calls++;
	nb->st.tokens += (uint64_t)n;
	int rc;
	if (n < nb->p.min_tokens) {
		nb->st.small_calls++;
		rc = run_fallback(nb, nw, n, x, ldx, y, ldy, err);
	} else if (!nw->gw || nb->disabled) {
		nb->st.fallback_calls++;
		rc = run_fallback(nb, nw, n, x, ldx, y, ldy, err);
	} else {
		rb_err why = {0};
		const enum npu_outcome o = npu_call(nb, w, nw, n, x, ldx, y, ldy, &why);
		if (o == NPU_DONE) {
			nb->consecutive_failures = 0;
			rc = RB_OK;
		} else {
			note_failure(nb, w, n, o, &why);
			rc = run_fallback(nb, nw, n, x, ldx, y, ldy, err);
			if (rc != RB_OK)
				rb_err_wrap(err, "%s: the fallback failed too after '%s'",
					    w->name ? w->name : "weight", why.msg);
		}
	}
	pthread_mutex_unlock(&nb->lock);
	return rc;
}
