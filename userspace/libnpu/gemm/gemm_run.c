/* SPDX-License-Identifier: MIT */
/* Running GEMM plans on npu_device contexts: resident weights per context,
 * scratch BOs for A, C and the regcmds, one job per context (its tasks run
 * in order on one core; the contexts run concurrently: rocket_job.c and the
 * DRM scheduler, see userspace/libnpu/device/README.md). */
#include "gemm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rosenblatt/threadpool.h"

struct npu_gemm_ctx {
	npu_device *dev[NPU_GEMM_MAX_CORES];
	uint32_t ndev;
	struct {
		npu_bo a, c, rc;
	} scratch[NPU_GEMM_MAX_CORES];
	npu_gemm_plan *last;
	int64_t timeout_ns;
	rb_threadpool *tp; /* optional, not owned */
	npu_gemm_timing timing; /* of the last run */
};

int npu_gemm_ctx_create(npu_device *const *devs, uint32_t ndev, npu_gemm_ctx **out, rb_err *err)
{
	*out = NULL;
	if (!devs || ndev == 0 || ndev > NPU_GEMM_MAX_CORES)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: %u devices given (1..%u)", ndev,
				  NPU_GEMM_MAX_CORES);
	for (uint32_t i = 0; i < ndev; i++)
		if (!devs[i])
			return rb_err_set(err, RB_E_INVALID, "npu_gemm: device %u is NULL", i);
	npu_gemm_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return rb_err_set(err, RB_E_NOMEM, "npu_gemm: out of memory");
	memcpy(ctx->dev, devs, ndev * sizeof(devs[0]));
	ctx->ndev = ndev;
	ctx->timeout_ns = 2000000000ll;
	*out = ctx;
	return 0;
}

void npu_gemm_ctx_destroy(npu_gemm_ctx *ctx)
{
	if (!ctx)
		return;
	for (uint32_t i = 0; i < ctx->ndev; i++) {
		if (ctx->scratch[i].a.size)
			npu_bo_destroy(ctx->dev[i], &ctx->scratch[i].a);
		if (ctx->scratch[i].c.size)
			npu_bo_destroy(ctx->dev[i], &ctx->scratch[i].c);
		if (ctx->scratch[i].rc.size)
			npu_bo_destroy(ctx->dev[i], &ctx->scratch[i].rc);
	}
	npu_gemm_plan_destroy(ctx->last);
	free(ctx);
}

void npu_gemm_ctx_set_timeout(npu_gemm_ctx *ctx, int64_t timeout_ns)
{
	ctx->timeout_ns = timeout_ns > 0 ? timeout_ns : 2000000000ll;
}

const npu_gemm_plan *npu_gemm_ctx_last_plan(const npu_gemm_ctx *ctx) { return ctx->last; }

void npu_gemm_ctx_set_threadpool(npu_gemm_ctx *ctx, struct rb_threadpool *tp) { ctx->tp = tp; }

void npu_gemm_ctx_last_timing(const npu_gemm_ctx *ctx, npu_gemm_timing *out) { *out = ctx->timing; }

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU work of a call, split over the thread pool: packing A into context
 * 0's buffer, copying it to the others, unpacking C. */
typedef struct cpu_job {
	npu_gemm_ctx *ctx;
	const npu_gemm_plan *p;
	const void *a;
	size_t lda;
	void *c;
	size_t ldc;
} cpu_job;

static void pack_worker(void *arg, int ith, int nth)
{
	const cpu_job *j = arg;
	long begin, end;
	rb_split_range(j->p->m_pad, ith, nth, &begin, &end);
	gemm_pack_a_rows(j->p, j->a, j->lda, j->ctx->scratch[0].a.map, (uint32_t)begin, (uint32_t)end);
}

static void copy_worker(void *arg, int ith, int nth)
{
	const cpu_job *j = arg;
	const uint64_t bytes = j->p->core[0].a_bytes;
	long begin, end;
	rb_split_range((long)((bytes + 63) / 64), ith, nth, &begin, &end);
	const uint64_t lo = (uint64_t)begin * 64, hi = (uint64_t)end * 64 < bytes ? (uint64_t)end * 64 : bytes;
	if (lo >= hi)
		return;
	for (uint32_t i = 1; i < j->p->layout.cores; i++)
		memcpy((uint8_t *)j->ctx->scratch[i].a.map + lo, (uint8_t *)j->ctx->scratch[0].a.map + lo,
		       hi - lo);
}

static void unpack_worker(void *arg, int ith, int nth)
{
	const cpu_job *j = arg;
	long total = 0;
	for (uint32_t i = 0; i < j->p->layout.cores; i++)
		total += gemm_unpack_groups(j->p, i);
	long begin, end;
	rb_split_range(total, ith, nth, &begin, &end);
	long g = 0;
	for (uint32_t i = 0; i < j->p->layout.cores; i++)
		for (uint32_t k = 0; k < gemm_unpack_groups(j->p, i); k++, g++)
			if (g >= begin && g < end)
				gemm_unpack_group(j->p, i, k, j->ctx->scratch[i].c.map, j->c, j->ldc);
}

static int device_fail(rb_err *err, npu_device *dev, uint32_t core, const char *what, int ret)
{
	return rb_err_set(err, RB_E_DEVICE, "npu_gemm: device %u (%s): %s: %s (%d)", core,
			  npu_device_name(dev), what, npu_device_error(dev), ret);
}

void npu_gemm_weights_destroy(npu_gemm_weights *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->layout.cores; i++)
		if (w->w[i].size)
			npu_bo_destroy(w->ctx->dev[i], &w->w[i]);
	free(w);
}

int npu_gemm_weights_create(npu_gemm_ctx *ctx, npu_gemm_type type, uint32_t n, uint32_t k,
			    const void *b, size_t ldb, npu_gemm_weights **out, rb_err *err)
{
	*out = NULL;
	if (!ctx || !b)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm_weights_create: NULL %s",
				  ctx ? "weights" : "context");
	if (ldb < k)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm_weights_create: row stride %zu < K %u",
				  ldb, k);
	npu_gemm_weights *w = calloc(1, sizeof(*w));
	if (!w)
		return rb_err_set(err, RB_E_NOMEM, "npu_gemm: out of memory");
	w->ctx = ctx;
	int ret = gemm_layout_init(&w->layout, type, k, n, ctx->ndev, 0, err);
	if (ret) {
		free(w);
		return ret;
	}
	for (uint32_t c = 0; c < w->layout.cores; c++) {
		npu_device *dev = ctx->dev[c];
		int r = npu_bo_create(dev, (uint32_t)w->layout.core[c].w_bytes, &w->w[c]);
		if (r) {
			ret = device_fail(err, dev, c, "allocating the weights", r);
			break;
		}
		gemm_pack_weights(&w->layout, c, b, ldb, w->w[c].map);
		r = npu_bo_fini(dev, &w->w[c]);
		if (r) {
			ret = device_fail(err, dev, c, "flushing the weights", r);
			break;
		}
	}
	if (ret) {
		npu_gemm_weights_destroy(w);
		return ret;
	}
	*out = w;
	return 0;
}

/* Make `bo` at least `need` bytes (contents not kept). */
static int ensure_bo(npu_device *dev, npu_bo *bo, uint64_t need)
{
	if (bo->size >= need)
		return 0;
	if (need > 0xffffffffull)
		return -EFBIG;
	if (bo->size)
		npu_bo_destroy(dev, bo);
	const uint64_t rounded = (need + 65535) & ~(uint64_t)65535;
	return npu_bo_create(dev, (uint32_t)(rounded > 0xffffffffull ? need : rounded), bo);
}

static int prepare_core(npu_gemm_ctx *ctx, const npu_gemm_plan *p, uint32_t c, rb_err *err)
{
	npu_device *dev = ctx->dev[c];
	int r = ensure_bo(dev, &ctx->scratch[c].a, p->core[c].a_bytes);
	if (!r)
		r = ensure_bo(dev, &ctx->scratch[c].c, p->core[c].c_bytes);
	if (!r)
		r = ensure_bo(dev, &ctx->scratch[c].rc, (uint64_t)p->core[c].rc_entries * 8);
	if (r)
		return device_fail(err, dev, c, "allocating scratch buffers", r);
	return 0;
}

/* The rocket uAPI does not report failed jobs (a hung or faulting task
 * gets its core reset and the fence signalled: rocket_job.c, see
 * docs/npu-programming.md#the-kick-what-the-kernel-writes-per-task), so every
 * task's last output atom is primed with a canary and must have been
 * overwritten when the job is done. A real result equal to the 16-byte
 * canary has probability ~2^-128. */
static const uint8_t canary[NPU_ATOM_BYTES] = {
	0xde, 0xc0, 0xad, 0x0b, 0x5e, 0xb1, 0xa7, 0x7f, 0xca, 0xfe, 0xf0, 0x0d, 0x4e, 0x50, 0x55, 0x21,
};

static uint64_t last_atom(const gemm_task *t) { return t->c_off + t->out_bytes - NPU_ATOM_BYTES; }

static void prime_canaries(const npu_gemm_plan *p, uint32_t c, uint8_t *out)
{
	for (uint32_t i = 0; i < p->core[c].count; i++)
		memcpy(out + last_atom(&p->tasks[p->core[c].first + i]), canary, sizeof(canary));
}

static int check_canaries(const npu_gemm_plan *p, uint32_t c, const uint8_t *out,
			  npu_device *dev, rb_err *err)
{
	for (uint32_t i = 0; i < p->core[c].count; i++)
		if (!memcmp(out + last_atom(&p->tasks[p->core[c].first + i]), canary, sizeof(canary)))
			return rb_err_set(err, RB_E_DEVICE, "npu_gemm: device %u (%s): task %u of %u did "
					  "not write its output: the job failed or was reset after a "
					  "timeout (the rocket uAPI does not report job errors)", c,
					  npu_device_name(dev), i + 1, p->core[c].count);
	return 0;
}

static int submit_core(npu_gemm_ctx *ctx, const npu_gemm_weights *w, const npu_gemm_plan *p,
		       uint32_t c, npu_task *tasks, rb_err *err)
{
	npu_device *dev = ctx->dev[c];
	npu_bo *rc = &ctx->scratch[c].rc, *a = &ctx->scratch[c].a, *out = &ctx->scratch[c].c;
	int r = gemm_emit_core(p, c, rc->map, (uint32_t)a->iova, (uint32_t)w->w[c].iova,
			       (uint32_t)out->iova, err);
	if (r)
		return r;
	prime_canaries(p, c, out->map);
	r = npu_bo_fini(dev, rc);
	if (!r)
		r = npu_bo_fini(dev, a);
	if (!r)
		r = npu_bo_fini(dev, out);
	if (r)
		return device_fail(err, dev, c, "flushing the regcmd/input", r);
	for (uint32_t i = 0; i < p->core[c].count; i++) {
		const gemm_task *t = &p->tasks[p->core[c].first + i];
		tasks[i].regcmd_iova = (uint32_t)rc->iova + t->rc_first * 8;
		tasks[i].regcmd_count = GEMM_TASK_ENTRIES;
	}
	const npu_bo *in[3] = { rc, a, &w->w[c] };
	const npu_bo *outs[1] = { out };
	const npu_job job = {
		.tasks = tasks,
		.task_count = p->core[c].count,
		.in_bos = in,
		.in_count = 3,
		.out_bos = outs,
		.out_count = 1,
	};
	r = npu_submit(dev, &job, 1);
	if (r)
		return device_fail(err, dev, c, "submitting the job", r);
	return 0;
}

static int check_args(const npu_gemm_ctx *ctx, const npu_gemm_weights *w, const void *a,
		      size_t lda, const void *c, size_t ldc, rb_err *err)
{
	if (!ctx || !w || !a || !c)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm_run: NULL argument");
	if (w->ctx != ctx)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm_run: weights belong to another context");
	if (lda < w->layout.k || ldc < w->layout.n)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm_run: strides lda %zu < K %u or ldc %zu "
				  "< N %u", lda, w->layout.k, ldc, w->layout.n);
	return 0;
}

int npu_gemm_run(npu_gemm_ctx *ctx, const npu_gemm_weights *w, uint32_t m, const void *a,
		 size_t lda, void *c, size_t ldc, rb_err *err)
{
	int ret = check_args(ctx, w, a, lda, c, ldc, err);
	if (ret)
		return ret;
	npu_gemm_plan *p = NULL;
	ret = gemm_plan_from_layout(&w->layout, m, NULL, &p, err);
	if (ret)
		return ret;
	const uint32_t cores = w->layout.cores;
	uint32_t most = 0;
	for (uint32_t i = 0; i < cores; i++) {
		most = p->core[i].count > most ? p->core[i].count : most;
		if (!ret)
			ret = prepare_core(ctx, p, i, err);
	}
	npu_task *tasks = ret ? NULL : malloc((size_t)most * cores * sizeof(*tasks));
	if (!ret && !tasks)
		ret = rb_err_set(err, RB_E_NOMEM, "npu_gemm: out of memory");
	uint32_t submitted = 0;
	cpu_job job = { ctx, p, a, lda, c, ldc };
	npu_gemm_timing *tm = &ctx->timing;
	double t = seconds_now(), t1;
	memset(tm, 0, sizeof(*tm));
	if (!ret) {
		/* Pack A once, copy it to the other contexts (separate IOVA spaces). */
		rb_threadpool_run(ctx->tp, pack_worker, &job);
		if (cores > 1)
			rb_threadpool_run(ctx->tp, copy_worker, &job);
		t1 = seconds_now();
		tm->pack = t1 - t;
		t = t1;
		for (; submitted < cores && !ret; submitted++)
			ret = submit_core(ctx, w, p, submitted, tasks + (size_t)submitted * most, err);
		if (ret)
			submitted--; /* the failing one was not queued */
		t1 = seconds_now();
		tm->submit = t1 - t;
		t = t1;
	}
	/* Wait for every queued job, even after a failure: their BOs are ours. */
	for (uint32_t i = 0; i < submitted; i++) {
		const int r = npu_bo_prep(ctx->dev[i], &ctx->scratch[i].c, ctx->timeout_ns);
		if (r < 0 && !ret)
			ret = device_fail(err, ctx->dev[i], i, "waiting for the result", r);
		if (!ret)
			ret = check_canaries(p, i, ctx->scratch[i].c.map, ctx->dev[i], err);
	}
	t1 = seconds_now();
	tm->wait = t1 - t;
	t = t1;
	if (!ret) {
		rb_threadpool_run(ctx->tp, unpack_worker, &job);
		tm->unpack = seconds_now() - t;
	}
	free(tasks);
	npu_gemm_plan_destroy(ctx->last);
	ctx->last = p;
	return ret;
}
