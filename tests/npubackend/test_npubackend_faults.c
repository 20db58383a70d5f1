/* SPDX-License-Identifier: MIT */
/* The npu backend when the NPU misbehaves, on simulated contexts whose
 * cores can be told to fail (the kernel model's core hook, the same one
 * libnpu's device tests use):
 *   - a task that never completes (the kernel resets the core after its
 *     job timeout; only libnpu's output canary shows it),
 *   - a task that completes with wrong data (only the spot check shows it),
 *   - every task hanging: the backend gives up on the NPU after
 *     max_failures,
 *   - the first two for a shared-input group (q | k | v in one call),
 * and with bad input: activations that are not finite, no device, bad
 * parameters, bad calls. Every answer must be the fallback's, bit for bit. */
#include <errno.h>
#include <float.h>
#include <math.h>

#include "device_priv.h"
#include "npb_util.h"
#include "npu/npu_regs.h"
#include "npu_kmodel.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/npu_backend.h"

enum fault { FAULT_NONE, FAULT_HANG, FAULT_CORRUPT };

static struct {
	enum fault kind;
	int remaining;   /* tasks still to fail; -1: all */
	int hits;        /* tasks that failed */
	int kicks;       /* tasks started */
} g;

static void arm(enum fault kind, int count)
{
	g.kind = kind;
	g.remaining = count;
}

static const npu_kcore_ops *sim(void) { return npu_kcore_sim_ops(); }

/* Add 1 to every int32 the task wrote (its output cube is contiguous). */
static void corrupt_output(void *core, const npu_sim_mem *mem)
{
	npu_sim_stats total, last;
	sim()->get_stats(core, &total, &last);
	const uint32_t dst = sim()->mmio_read(core, NPU_OFF_DPU_DST_BASE_ADDR);
	uint8_t *p = mem->translate(mem->ctx, dst, last.dma_write_bytes, true);
	REQUIRE(p && last.dma_write_bytes % 4 == 0);
	for (uint64_t i = 0; i < last.dma_write_bytes; i += 4) {
		uint32_t v;
		memcpy(&v, p + i, 4);
		v++;
		memcpy(p + i, &v, 4);
	}
}

static int faulty_write(void *core, const npu_sim_mem *mem, uint32_t off, uint32_t val)
{
	if (off != NPU_OFF_PC_OPERATION_ENABLE || val != 1)
		return sim()->mmio_write(core, mem, off, val);
	g.kicks++;
	if (g.kind == FAULT_NONE || g.remaining == 0)
		return sim()->mmio_write(core, mem, off, val);
	if (g.remaining > 0)
		g.remaining--;
	g.hits++;
	if (g.kind == FAULT_HANG)
		return 0; /* the task never starts: no DPU interrupt */
	const int r = sim()->mmio_write(core, mem, off, val);
	if (r == 0)
		corrupt_output(core, mem);
	return r;
}

static npu_kcore_ops faulty_ops;

static npu_kdev *make_kdev(void)
{
	REQUIRE(sim() != NULL);
	faulty_ops = *sim();
	faulty_ops.mmio_write = faulty_write;
	npu_kdev_config cfg;
	npu_kdev_config_default(&cfg);
	cfg.core_ops = &faulty_ops;
	cfg.job_timeout_ms = 20;
	npu_kdev *kdev = NULL;
	REQUIRE(npu_kdev_create(&cfg, &kdev) == 0);
	return kdev;
}

typedef struct env {
	rb_threadpool *tp;
	rb_matmul_backend *cpu;
	npu_device *dev[3];
	npb_weight nw;
	int64_t n, K, N;
	float *x, *y, *y_cpu, *y_npu;
} env;

static rb_matmul_backend *make_npu(env *e, bool verify, unsigned max_failures)
{
	rb_npu_backend_params p = rb_npu_backend_default_params();
	p.fallback = e->cpu;
	p.tp = e->tp;
	p.devices = e->dev;
	p.n_devices = 3;
	p.verify = verify;
	p.max_failures = max_failures;
	p.timeout_ms = 2000;
	rb_err err = {0};
	rb_matmul_backend *b = rb_npu_backend_create(&p, &err);
	REQUIRE(b);
	return b;
}

static void matmul(rb_weight *w, const env *e, const float *x, float *y)
{
	rb_err err = {0};
	const int rc = rb_matmul(w, e->n, x, e->K, y, e->N, &err);
	CHECKF(rc == RB_OK, "%s", err.msg);
}

static bool same(const float *a, const float *b, const env *e)
{
	return memcmp(a, b, (size_t)e->n * (size_t)e->N * sizeof(float)) == 0;
}

static rb_npu_backend_stats stats(const rb_matmul_backend *b)
{
	rb_npu_backend_stats s;
	rb_npu_backend_get_stats(b, &s);
	return s;
}

static void test_hang_and_corrupt(env *e)
{
	rb_matmul_backend *npu = make_npu(e, true, 3);
	rb_weight w = e->nw.w;
	rb_err err = {0};
	REQUIRE(rb_weight_bind(&w, npu, &err) == RB_OK);

	matmul(&w, e, e->x, e->y_npu);
	CHECK(!same(e->y_npu, e->y_cpu, e)); /* int8 is not the CPU's arithmetic */
	CHECK_EQ_INT(stats(npu).npu_calls, 1);

	/* One task of one context hangs: the call falls back. */
	arm(FAULT_HANG, 1);
	matmul(&w, e, e->x, e->y);
	CHECK_EQ_INT(g.hits, 1);
	CHECK(same(e->y, e->y_cpu, e));
	rb_npu_backend_stats s = stats(npu);
	CHECK_EQ_INT(s.npu_errors, 1);
	CHECK_EQ_INT(s.fallback_calls, 1);
	CHECK_EQ_INT(s.npu_calls, 1);
	/* The device recovered (the kernel reset the core): next call on the NPU. */
	matmul(&w, e, e->x, e->y);
	CHECK(same(e->y, e->y_npu, e));
	CHECK_EQ_INT(stats(npu).npu_calls, 2);

	/* A task writes wrong data: the spot check catches it. */
	arm(FAULT_CORRUPT, 1);
	const int hits = g.hits;
	matmul(&w, e, e->x, e->y);
	CHECK_EQ_INT(g.hits, hits + 1);
	CHECK(same(e->y, e->y_cpu, e));
	s = stats(npu);
	CHECK_EQ_INT(s.verify_failures, 1);
	CHECK_EQ_INT(s.fallback_calls, 2);
	CHECK(!s.npu_disabled); /* failures were not consecutive */

	/* Activations int8 cannot scale: inf and NaN go to the fallback, which
	 * gives the IEEE answer; not counted as NPU failures. */
	float *xbad = malloc((size_t)e->n * (size_t)e->K * sizeof(float));
	REQUIRE(xbad);
	memcpy(xbad, e->x, (size_t)e->n * (size_t)e->K * sizeof(float));
	xbad[5 * e->K + 7] = INFINITY;
	xbad[9 * e->K + 1] = NAN;
	float *ybad_cpu = malloc((size_t)e->n * (size_t)e->N * sizeof(float));
	REQUIRE(ybad_cpu);
	rb_weight wc = e->nw.w;
	REQUIRE(rb_weight_bind(&wc, e->cpu, &err) == RB_OK);
	matmul(&wc, e, xbad, ybad_cpu);
	rb_weight_unbind(&wc);
	const int kicks = g.kicks;
	matmul(&w, e, xbad, e->y);
	CHECK(same(e->y, ybad_cpu, e));
	CHECK_EQ_INT(g.kicks, kicks); /* never reached the device */
	s = stats(npu);
	CHECK_EQ_INT(s.range_fallbacks, 1);
	CHECK_EQ_INT(s.npu_errors, 1);
	free(xbad);
	free(ybad_cpu);

	rb_npu_backend_print_stats(npu, stdout);
	rb_weight_unbind(&w);
	rb_npu_backend_destroy(npu);
}

/* Without the spot check a corrupting device gives a wrong answer: that is
 * what the check is for (and proves the fault above was real). */
static void test_corrupt_unverified(env *e)
{
	rb_matmul_backend *npu = make_npu(e, false, 3);
	rb_weight w = e->nw.w;
	rb_err err = {0};
	REQUIRE(rb_weight_bind(&w, npu, &err) == RB_OK);
	arm(FAULT_CORRUPT, 1);
	matmul(&w, e, e->x, e->y);
	CHECK(!same(e->y, e->y_npu, e));
	CHECK(!same(e->y, e->y_cpu, e));
	CHECK_EQ_INT(stats(npu).fallback_calls, 0);
	arm(FAULT_NONE, 0);
	matmul(&w, e, e->x, e->y);
	CHECK(same(e->y, e->y_npu, e));
	rb_weight_unbind(&w);
	rb_npu_backend_destroy(npu);
}

/* A dead NPU: every task hangs. After max_failures calls the backend stops
 * trying; every answer is the fallback's. */
static void test_give_up(env *e)
{
	rb_matmul_backend *npu = make_npu(e, true, 2);
	rb_weight w = e->nw.w;
	rb_err err = {0};
	REQUIRE(rb_weight_bind(&w, npu, &err) == RB_OK);
	arm(FAULT_HANG, -1);
	for (int i = 0; i < 2; i++) {
		matmul(&w, e, e->x, e->y);
		CHECK(same(e->y, e->y_cpu, e));
	}
	rb_npu_backend_stats s = stats(npu);
	CHECK(s.npu_disabled);
	CHECK_EQ_INT(s.npu_errors, 2);
	const int kicks = g.kicks;
	for (int i = 0; i < 3; i++) {
		matmul(&w, e, e->x, e->y);
		CHECK(same(e->y, e->y_cpu, e));
	}
	CHECK_EQ_INT(g.kicks, kicks);
	s = stats(npu);
	CHECK_EQ_INT(s.fallback_calls, 5);
	CHECK_EQ_INT(s.npu_errors, 2);
	arm(FAULT_NONE, 0);
	rb_weight_unbind(&w);
	rb_npu_backend_destroy(npu);
}

/* A shared-input group (q | k | v as one NPU call) on a misbehaving NPU:
 * every member's answer is its fallback's, and the group keeps working
 * once the device does. */
static void test_group(env *e)
{
	rb_matmul_backend *npu = make_npu(e, true, 3);
	npb_weight k, v;
	npb_weight_make(&k, RB_TYPE_Q6_K, e->K, 33, 21);
	npb_weight_make(&v, RB_TYPE_Q8_0, e->K, 40, 22);
	rb_weight w[3] = {e->nw.w, k.w, v.w};
	rb_weight *ws[3] = {&w[0], &w[1], &w[2]};
	const int64_t n_out[3] = {e->N, 33, 40};
	float *cpu[3], *got[3];
	rb_err err = {0};
	for (int i = 0; i < 3; i++) {
		cpu[i] = malloc((size_t)e->n * (size_t)n_out[i] * sizeof(float));
		got[i] = malloc((size_t)e->n * (size_t)n_out[i] * sizeof(float));
		REQUIRE(cpu[i] && got[i]);
		rb_weight wc = *ws[i];
		REQUIRE(rb_weight_bind(&wc, e->cpu, &err) == RB_OK);
		CHECK_EQ_INT(rb_matmul(&wc, e->n, e->x, e->K, cpu[i], n_out[i], &err), RB_OK);
		rb_weight_unbind(&wc);
		REQUIRE(rb_weight_bind(ws[i], npu, &err) == RB_OK);
	}
	REQUIRE(rb_weights_share_input(ws, 3, &err) == RB_OK);
	CHECK_EQ_INT(stats(npu).shared_groups, 1);
	const rb_weight *cws[3] = {&w[0], &w[1], &w[2]};
	const enum fault faults[2] = {FAULT_HANG, FAULT_CORRUPT};
	for (int f = 0; f < 2; f++) {
		arm(faults[f], 1);
		const int hits = g.hits;
		CHECK_EQ_INT(rb_matmul_shared(cws, 3, e->n, e->x, e->K, got, n_out, &err), RB_OK);
		CHECK_EQ_INT(g.hits, hits + 1);
		for (int i = 0; i < 3; i++)
			CHECKF(!memcmp(got[i], cpu[i], (size_t)e->n * (size_t)n_out[i] * sizeof(float)),
			       "fault %d: member %d is not the fallback's answer", f, i);
	}
	rb_npu_backend_stats s = stats(npu);
	CHECK_EQ_INT(s.npu_errors, 1);
	CHECK_EQ_INT(s.verify_failures, 1);
	CHECK_EQ_INT(s.fallback_calls, 6);
	arm(FAULT_NONE, 0);
	CHECK_EQ_INT(rb_matmul_shared(cws, 3, e->n, e->x, e->K, got, n_out, &err), RB_OK);
	s = stats(npu);
	CHECK_EQ_INT(s.fallback_calls, 6);
	CHECK_EQ_INT(s.npu_calls, 3);
	CHECK(!memcmp(got[0], e->y_npu, (size_t)e->n * (size_t)e->N * sizeof(float)));
	for (int i = 0; i < 3; i++) {
		rb_weight_unbind(ws[i]);
		free(cpu[i]);
		free(got[i]);
	}
	npb_weight_free(&k);
	npb_weight_free(&v);
	rb_npu_backend_destroy(npu);
}

static void test_bad_input(env *e)
{
	rb_err err = {0};
	rb_npu_backend_params p = rb_npu_backend_default_params();
	CHECK(rb_npu_backend_create(&p, &err) == NULL);
	CHECK_EQ_INT(err.code, RB_E_INVALID);
	CHECK(strstr(err.msg, "fallback") != NULL);
	CHECK(rb_npu_backend_create(NULL, &err) == NULL);

	p.fallback = e->cpu;
	p.device = "/nonexistent/accel7";
	CHECK(rb_npu_backend_create(&p, &err) == NULL);
	CHECK_EQ_INT(err.code, RB_E_DEVICE);
	CHECKF(strstr(err.msg, "no NPU") && strstr(err.msg, "/nonexistent/accel7") &&
	       strstr(err.msg, "--npu-sim"), "%s", err.msg);
	printf("expected error: %s\n", err.msg);

	p.device = NULL;
	p.sim = true;
	p.contexts = 4;
	CHECK(rb_npu_backend_create(&p, &err) == NULL);
	CHECK_EQ_INT(err.code, RB_E_INVALID);
	p.contexts = 1;
	p.min_tokens = -1;
	CHECK(rb_npu_backend_create(&p, &err) == NULL);
	CHECK_EQ_INT(err.code, RB_E_INVALID);
	p.min_tokens = 32;
	p.devices = e->dev;
	p.n_devices = 0;
	CHECK(rb_npu_backend_create(&p, &err) == NULL);
	CHECK_EQ_INT(err.code, RB_E_INVALID);

	/* Bad calls are refused with the shape named, and nothing is written. */
	p.devices = NULL;
	rb_matmul_backend *npu = rb_npu_backend_create(&p, &err);
	REQUIRE(npu);
	rb_weight w = e->nw.w;
	REQUIRE(rb_weight_bind(&w, npu, &err) == RB_OK);
	CHECK_EQ_INT(rb_matmul(&w, e->n, e->x, e->K - 1, e->y, e->N, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "ldx") != NULL);
	CHECK_EQ_INT(rb_matmul(&w, e->n, e->x, e->K, e->y, e->N - 1, &err), RB_E_INVALID);
	CHECK_EQ_INT(rb_matmul(&w, -1, e->x, e->K, e->y, e->N, &err), RB_E_INVALID);
	CHECK_EQ_INT(rb_matmul(&w, 0, NULL, e->K, NULL, e->N, &err), RB_OK);
	rb_weight_unbind(&w);
	/* A weight with a non-finite value stays on the fallback, with a warning. */
	npb_weight bad;
	npb_weight_make(&bad, RB_TYPE_F32, 64, 40, 7);
	((float *)bad.data)[3 * 64 + 5] = NAN;
	rb_weight wb = bad.w;
	REQUIRE(rb_weight_bind(&wb, npu, &err) == RB_OK);
	rb_npu_backend_stats s;
	rb_npu_backend_get_stats(npu, &s);
	CHECK_EQ_INT(s.weights_cpu_only, 1);
	CHECK_EQ_INT(s.weights_npu, 0);
	float *xb = npb_acts(40, 64, 64, 3);
	float *yb = malloc(40 * 40 * sizeof(float));
	REQUIRE(yb);
	CHECK_EQ_INT(rb_matmul(&wb, 40, xb, 64, yb, 40, &err), RB_OK);
	CHECK(isnan(yb[0 * 40 + 3]) && !isnan(yb[0 * 40 + 4]));
	rb_npu_backend_get_stats(npu, &s);
	CHECK_EQ_INT(s.npu_calls, 0);
	CHECK_EQ_INT(s.fallback_calls, 1);
	rb_weight_unbind(&wb);
	npb_weight_free(&bad);
	free(xb);
	free(yb);
	rb_npu_backend_destroy(npu);
}

int main(void)
{
	env e = {.n = 40, .K = 512, .N = 70};
	rb_err err = {0};
	e.tp = rb_threadpool_create(2);
	e.cpu = rb_cpu_backend_create(e.tp, &err);
	REQUIRE(e.tp && e.cpu);
	npu_kdev *kdev = make_kdev();
	for (int i = 0; i < 3; i++)
		REQUIRE(npu_device_open_kdev(kdev, &e.dev[i]) == 0);
	npb_weight_make(&e.nw, RB_TYPE_Q4_K, e.K, e.N, 11);
	e.x = npb_acts(e.n, e.K, e.K, 12);
	const size_t ybytes = (size_t)e.n * (size_t)e.N * sizeof(float);
	e.y = malloc(ybytes);
	e.y_cpu = malloc(ybytes);
	e.y_npu = malloc(ybytes);
	REQUIRE(e.y && e.y_cpu && e.y_npu);
	rb_weight wc = e.nw.w;
	REQUIRE(rb_weight_bind(&wc, e.cpu, &err) == RB_OK);
	matmul(&wc, &e, e.x, e.y_cpu);
	rb_weight_unbind(&wc);

	test_hang_and_corrupt(&e);
	test_corrupt_unverified(&e);
	test_give_up(&e);
	test_group(&e);
	test_bad_input(&e);

	for (int i = 0; i < 3; i++)
		npu_device_close(e.dev[i]);
	npu_kdev_put(kdev);
	npb_weight_free(&e.nw);
	free(e.x);
	free(e.y);
	free(e.y_cpu);
	free(e.y_npu);
	rb_cpu_backend_destroy(e.cpu);
	rb_threadpool_destroy(e.tp);
	return rb_test_finish();
}
