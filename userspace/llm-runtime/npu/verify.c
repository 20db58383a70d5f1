/* SPDX-License-Identifier: MIT */
/* Spot checks of NPU results. The rocket uAPI reports no job errors and the
 * output canaries (libnpu) only catch tasks that wrote nothing; a task that
 * writes wrong data (a layout or register the silicon reads differently
 * than the simulator) would otherwise give a silently wrong answer. So after
 * every NPU call, one output of every task cell (row tile x column chunk,
 * all its K slices) is recomputed on the CPU from the same operands:
 *
 *  - int8: the weight row is dequantized and requantized with its stored
 *    scale (the recipe is deterministic, so this reproduces the resident
 *    int8 row exactly) and dotted with the quantized activation row: the
 *    int32 sum the NPU left (npu_gemm_last_result) must be equal, bit for
 *    bit, and the float the output stage wrote into y must be exactly
 *    (float)sum * (d_x * d_w) (not checked on an accumulating pass, whose
 *    y also holds the first pass);
 *  - fp16: the dot of the same fp16 operands in double; the NPU's fp32
 *    accumulation may differ by at most K * 2^-23 of sum |a * w| (a
 *    sequential fp32 sum's worst case, doubled), with a floor of 1e-3; y
 *    must hold that fp32 result.
 *
 * Cost per call: (cells) x K multiply-adds plus dequantizing as many
 * weight rows, against m x K x N for the call. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"
#include "rosenblatt/fp16.h"
#include "rosenblatt/rng.h"
#include "rosenblatt/scratch.h"

/* Scratch of a check, grown only: a weight row of K floats, the same
 * requantized (K int8) and an activation row read back (K int8 or fp16). */
static int grow_rows(npu_backend *nb, int64_t K, rb_err *err)
{
	const size_t f = ((size_t)K * sizeof(float) + 63) & ~(size_t)63;
	const size_t q = ((size_t)K + 63) & ~(size_t)63;
	const int rc = rb_scratch_grow(&nb->vbuf, &nb->vbuf_bytes, f + q + (size_t)K * sizeof(rb_f16),
				       "npu backend spot checks", err);
	if (rc != RB_OK)
		return rc;
	nb->vrow = nb->vbuf;
	nb->vrow_q = (int8_t *)((uint8_t *)nb->vbuf + f);
	nb->vact = (uint8_t *)nb->vbuf + f + q;
	return RB_OK;
}

/* Where the output stage put (t, o), or NULL when its segment is dropped. */
static float *out_at(const npu_gemm_output *out, int64_t t, int64_t o)
{
	for (uint32_t s = 0; s < out->n_seg; o -= out->seg[s].n, s++)
		if (o < out->seg[s].n)
			return out->seg[s].c ? (float *)out->seg[s].c + t * (int64_t)out->seg[s].ldc + o
					     : NULL;
	return NULL;
}

static int cell_error(rb_err *err, int64_t t, int64_t o, const npu_gemm_task_info *ti,
		      const char *what)
{
	return rb_err_set(err, RB_E_DEVICE, "spot check: output [%lld][%lld] of context %u's task "
			  "(rows %u..%u, columns %u..%u): %s", (long long)t, (long long)o, ti->core,
			  ti->m0, ti->m0 + ti->m - 1, ti->n0, ti->n0 + ti->n - 1, what);
}

/* Output (t, o) of the call: nb->vrow holds the weight row of column o
 * (dequantized), `a` the activation row t the NPU read. */
static int check_int8(npu_backend *nb, const npu_target *tg, int64_t t, int64_t o,
		      const int8_t *a, const npu_gemm_output *out, const npu_gemm_task_info *ti,
		      rb_err *err)
{
	const int64_t K = tg->K;
	nb->k->quantize(nb->vrow, K, npu_q_inv(tg->scale[o]), nb->vrow_q, NPU_Q_ATOM);
	int64_t want = 0;
	for (int64_t i = 0; i < K; i++)
		want += (int32_t)nb->vrow_q[i] * a[i];
	int32_t got;
	if (npu_gemm_last_result(nb->gctx, (uint32_t)t, (uint32_t)o, &got, err) != 0)
		return rb_err_wrap(err, "spot check");
	char what[160];
	if (got != want) {
		snprintf(what, sizeof(what), "the NPU's sum is %d, the CPU computes %lld from the "
			 "same int8 operands", got, (long long)want);
		return cell_error(err, t, o, ti, what);
	}
	const float *y = out_at(out, t, o);
	if (!y || out->accumulate)
		return RB_OK;
	const float expect = (float)got * (out->row_scale[t] * out->col_scale[o]);
	if (!memcmp(y, &expect, sizeof(expect)))
		return RB_OK;
	snprintf(what, sizeof(what), "the output stage wrote %.9g for the sum %d, expected %.9g",
		 (double)*y, got, (double)expect);
	return cell_error(err, t, o, ti, what);
}

static int check_fp16(npu_backend *nb, const npu_target *tg, int64_t t, int64_t o,
		      const rb_f16 *a, const npu_gemm_output *out, const npu_gemm_task_info *ti,
		      rb_err *err)
{
	const int64_t K = tg->K;
	double want = 0, mag = 0;
	for (int64_t i = 0; i < K; i++) {
		const double p = (double)rb_f16_to_f32(a[i]) *
				 (double)rb_f16_to_f32(rb_f32_to_f16(nb->vrow[i]));
		want += p;
		mag += fabs(p);
	}
	float got;
	if (npu_gemm_last_result(nb->gctx, (uint32_t)t, (uint32_t)o, &got, err) != 0)
		return rb_err_wrap(err, "spot check");
	const double rel = fmax(1e-3, (double)K * 0x1p-23);
	char what[160];
	if (!(fabs(got - want) <= rel * mag)) {
		snprintf(what, sizeof(what), "the NPU's sum is %g, the CPU computes %g from the same "
			 "fp16 operands (allowed difference %g)", got, want, rel * mag);
		return cell_error(err, t, o, ti, what);
	}
	const float *y = out_at(out, t, o);
	if (!y || !memcmp(y, &got, sizeof(got)))
		return RB_OK;
	snprintf(what, sizeof(what), "the unpacked result is %.9g, the NPU's sum %.9g", (double)*y,
		 (double)got);
	return cell_error(err, t, o, ti, what);
}

int npu_verify(npu_backend *nb, const npu_target *tg, int64_t m, const npu_gemm_output *out,
	       rb_err *err)
{
	const int64_t K = tg->K, N = tg->N;
	int rc = grow_rows(nb, K, err);
	if (rc != RB_OK)
		return rc;
	const npu_gemm_plan *p = npu_gemm_ctx_last_plan(nb->gctx);
	const uint32_t tasks = npu_gemm_plan_task_count(p);
	for (uint32_t i = 0; i < tasks; i++) {
		npu_gemm_task_info ti;
		npu_gemm_plan_get_task(p, i, &ti);
		if (ti.k_slice != 0) /* a cell's result sums all its slices: check it once */
			continue;
		const int64_t rows = (int64_t)ti.m0 + ti.m < m ? ti.m : m - ti.m0;
		const int64_t cols = (int64_t)ti.n0 + ti.n < N ? ti.n : N - ti.n0;
		if (rows <= 0 || cols <= 0) /* padding only */
			continue;
		const int64_t t = ti.m0 + (int64_t)(rb_splitmix64(&nb->rng) % (uint64_t)rows);
		const int64_t o = ti.n0 + (int64_t)(rb_splitmix64(&nb->rng) % (uint64_t)cols);
		/* the member weight that column o belongs to, and its row */
		int64_t row = o;
		int j = 0;
		while (j + 1 < tg->n && row >= tg->cols[j])
			row -= tg->cols[j++];
		if (!tg->member[j]) /* released: its weights may be gone, its columns unused */
			continue;
		const rb_weight *w = &tg->member[j]->fb;
		rb_type_traits_get(w->type)->to_float(
			(const uint8_t *)w->data + (size_t)row * rb_row_size(w->type, K), nb->vrow, K);
		npu_gemm_get_a_row(nb->gctx, (uint32_t)t, nb->vact);
		rc = nb->p.format == RB_NPU_WEIGHTS_INT8
			     ? check_int8(nb, tg, t, o, nb->vact, out, &ti, err)
			     : check_fp16(nb, tg, t, o, nb->vact, out, &ti, err);
		if (rc != RB_OK)
			return rc;
		nb->st.verified_outputs++;
	}
	return RB_OK;
}
