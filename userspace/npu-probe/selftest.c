/* SPDX-License-Identifier: MIT */
/* The NPU self-test: GEMMs through libnpu (npu_gemm.h) on the NPU, the
 * in-process simulator or whatever answers at /dev/accel (e.g. the shim),
 * each compared with a CPU reference computed here in double precision;
 * then a short throughput measurement. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npu/npu_device.h"
#include "probe.h"

#ifdef NPU_PROBE_HAVE_GEMM
#include "npu/npu_gemm.h"
#include "rosenblatt/fp16.h"

struct shape {
	npu_gemm_type type;
	uint32_t m, k, n;
	bool small_ints; /* fp16 inputs that are small integers: the result is exact */
};

/* Odd sizes, M = 1, a Qwen2.5-1.5B K/V projection (K 1536, N 256). */
static const struct shape shapes[] = {
	{ NPU_GEMM_I8_I32, 1, 64, 32, false },
	{ NPU_GEMM_I8_I32, 7, 45, 33, false },
	{ NPU_GEMM_I8_I32, 16, 256, 96, false },
	{ NPU_GEMM_I8_I32, 33, 1536, 256, false },
	{ NPU_GEMM_F16_F32, 5, 96, 40, true },
	{ NPU_GEMM_F16_F32, 8, 1536, 64, false },
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(const struct shape *s, void *buf, size_t count, uint64_t *seed)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t r = rng_next(seed);

		if (s->type == NPU_GEMM_I8_I32)
			((int8_t *)buf)[i] = (int8_t)(r & 0xff); /* full range, -128 included */
		else if (s->small_ints)
			((rb_f16 *)buf)[i] = rb_f32_to_f16((float)((int)(r % 9) - 4));
		else
			((rb_f16 *)buf)[i] = rb_f32_to_f16((float)((double)(r >> 11) / 9007199254740992.0 *
								   2.0 - 1.0));
	}
}

static double elem(const struct shape *s, const void *buf, size_t i)
{
	return s->type == NPU_GEMM_I8_I32 ? (double)((const int8_t *)buf)[i]
					  : (double)rb_f16_to_f32(((const rb_f16 *)buf)[i]);
}

/* Compare C with the reference; int8 must be exact, fp16 within
 * 1e-3 * sum |a b| (fp32 accumulation in another order). */
static void compare(const struct shape *s, const void *a, const void *b, const void *c,
		    probe_selftest_case *r)
{
	r->ok = true;
	r->max_abs_err = 0;
	for (uint32_t i = 0; i < s->m; i++) {
		for (uint32_t j = 0; j < s->n; j++) {
			double ref = 0, mag = 0, got, err, tol;

			for (uint32_t k = 0; k < s->k; k++) {
				double prod = elem(s, a, (size_t)i * s->k + k) * elem(s, b, (size_t)j * s->k + k);

				ref += prod;
				mag += fabs(prod);
			}
			got = s->type == NPU_GEMM_I8_I32 ? (double)((const int32_t *)c)[(size_t)i * s->n + j]
							 : (double)((const float *)c)[(size_t)i * s->n + j];
			err = fabs(got - ref);
			tol = s->type == NPU_GEMM_I8_I32 || s->small_ints ? 0 : 1e-3 * mag + 1e-6;
			if (err > r->max_abs_err)
				r->max_abs_err = err;
			if (err > tol && r->ok) {
				r->ok = false;
				snprintf(r->error, sizeof(r->error),
					 "C[%u][%u] = %.6g, reference %.6g (tolerance %.3g)", i, j, got, ref, tol);
			}
		}
	}
}

static void run_case(npu_gemm_ctx *ctx, const struct shape *s, probe_selftest_case *r,
		     uint64_t *seed)
{
	size_t in = npu_gemm_in_bytes(s->type), out = npu_gemm_out_bytes(s->type);
	void *a = malloc((size_t)s->m * s->k * in), *b = malloc((size_t)s->n * s->k * in);
	void *c = calloc((size_t)s->m * s->n, out);
	npu_gemm_weights *w = NULL;
	rb_err err = { 0 };

	snprintf(r->type, sizeof(r->type), "%s", npu_gemm_type_name(s->type));
	r->m = s->m;
	r->k = s->k;
	r->n = s->n;
	if (!a || !b || !c) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		goto out;
	}
	fill(s, a, (size_t)s->m * s->k, seed);
	fill(s, b, (size_t)s->n * s->k, seed);
	if (npu_gemm_weights_create(ctx, s->type, s->n, s->k, b, s->k, &w, &err) ||
	    npu_gemm_run(ctx, w, s->m, a, s->k, c, s->n, &err)) {
		snprintf(r->error, sizeof(r->error), "%.250s", err.msg);
		goto out;
	}
	compare(s, a, b, c, r);
out:
	npu_gemm_weights_destroy(w);
	free(a);
	free(b);
	free(c);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double plan_gops(uint32_t m, uint32_t k, uint32_t n, uint32_t cores, double clock_hz)
{
	npu_sim_config cfg;
	npu_gemm_plan_opts opts = { .cores = cores, .cost = &cfg };
	npu_gemm_plan *plan;
	npu_gemm_plan_summary sum;
	rb_err err;

	npu_sim_config_default(&cfg);
	/* The kick/IRQ round trip is CPU and kernel time, fixed in seconds
	 * (20 us, as bench_npu_gemm and docs/npu-programming.md "Cycle model"). */
	cfg.task_overhead_cycles = (uint32_t)(cfg.task_overhead_cycles / cfg.clock_hz * clock_hz);
	cfg.clock_hz = clock_hz;
	if (npu_gemm_plan_create(NPU_GEMM_I8_I32, m, k, n, &opts, &plan, &err))
		return 0;
	npu_gemm_plan_get_summary(plan, &sum);
	npu_gemm_plan_destroy(plan);
	return sum.gops;
}

/* One Qwen2.5-1.5B projection (K = N = 1536) at M = 64, int8. */
static void measure(npu_gemm_ctx *ctx, probe *p, const probe_selftest_opts *o, unsigned ndev)
{
	probe_selftest *st = &p->st;
	const uint32_t m = 64, k = 1536, n = 1536;
	int8_t *a = malloc((size_t)m * k), *b = malloc((size_t)n * k);
	int32_t *c = malloc((size_t)m * n * 4);
	npu_gemm_weights *w = NULL;
	rb_err err;
	uint64_t seed = 99;
	double t0;
	unsigned iters = o->iterations ? o->iterations : (o->sim ? 2 : 20);

	if (!a || !b || !c)
		goto out;
	for (size_t i = 0; i < (size_t)m * k; i++)
		a[i] = (int8_t)rng_next(&seed);
	for (size_t i = 0; i < (size_t)n * k; i++)
		b[i] = (int8_t)rng_next(&seed);
	if (npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, n, k, b, k, &w, &err) ||
	    npu_gemm_run(ctx, w, m, a, k, c, n, &err)) /* warm-up */
		goto out;
	t0 = now_s();
	for (unsigned i = 0; i < iters; i++)
		if (npu_gemm_run(ctx, w, m, a, k, c, n, &err))
			goto out;
	st->timed = true;
	st->tm = m;
	st->tk = k;
	st->tn = n;
	st->iterations = iters;
	st->seconds = (now_s() - t0) / iters;
	st->gops_wall = 2.0 * m * k * n / st->seconds / 1e9;
	st->model_clock_hz = p->clock_hz > 0 ? p->clock_hz : 200e6;
	st->gops_model_1ghz = plan_gops(m, k, n, ndev, 1e9);
	st->gops_model_clock = plan_gops(m, k, n, ndev, st->model_clock_hz);
out:
	npu_gemm_weights_destroy(w);
	free(a);
	free(b);
	free(c);
}

void probe_selftest_run(probe *p, const probe_selftest_opts *o)
{
	probe_selftest *st = &p->st;
	npu_device *devs[NPU_DEVICE_MAX_CONTEXTS] = { 0 };
	unsigned ndev = o->contexts ? o->contexts : NPU_DEVICE_MAX_CONTEXTS;
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	uint64_t seed = 2026;
	int ret;

	if (ndev > NPU_DEVICE_MAX_CONTEXTS)
		ndev = NPU_DEVICE_MAX_CONTEXTS;
	ret = o->sim ? npu_device_open_sim_contexts(NULL, ndev, devs)
		     : npu_device_open_contexts(o->device, ndev, devs);
	if (ret) {
		snprintf(st->skipped, sizeof(st->skipped), "cannot open the device: %s",
			 npu_device_error(NULL));
		return;
	}
	snprintf(st->device, sizeof(st->device), "%s, %u contexts", npu_device_name(devs[0]), ndev);
	if (npu_gemm_ctx_create(devs, ndev, &ctx, &err)) {
		snprintf(st->skipped, sizeof(st->skipped), "GEMM context: %.200s", err.msg);
		goto out;
	}
	st->ran = true;
	st->passed = true;
	for (unsigned i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		probe_selftest_case *r = &st->cases[st->ncases++];

		run_case(ctx, &shapes[i], r, &seed);
		st->passed &= r->ok;
	}
	if (!o->quick && st->passed)
		measure(ctx, p, o, ndev);
out:
	npu_gemm_ctx_destroy(ctx);
	for (unsigned i = 0; i < ndev; i++)
		npu_device_close(devs[i]);
}
#else
void probe_selftest_run(probe *p, const probe_selftest_opts *o)
{
	(void)o;
	snprintf(p->st.skipped, sizeof(p->st.skipped),
		 "this build of libnpu has no GEMM (userspace/libnpu/gemm): nothing to test with");
}
#endif
