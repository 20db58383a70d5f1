/* SPDX-License-Identifier: MIT */
/* npu_gemm on npu_device contexts: the in-process simulator ("sim", the
 * default) or the real device layer opening /dev/accel/accel0 ("open": run
 * under libnpu-sim-shim.so). Results against the scalar reference; the
 * simulator's counters against the plan; bad arguments and a device fault. */
#include <errno.h>

#include "gemm_internal.h"
#include "gemm_ref.h"
#include "npu/npu_device.h"
#include "npu/npu_gemm.h"
#include "rosenblatt/threadpool.h"
#include "test.h"

static bool use_open;

static unsigned open_devs(unsigned count, npu_device **devs)
{
	const int r = use_open ? npu_device_open_contexts(NULL, count, devs)
			       : npu_device_open_sim_contexts(NULL, count, devs);
	if (r) {
		fprintf(stderr, "opening %u contexts: %s\n", count, npu_device_error(NULL));
		exit(1);
	}
	return count;
}

static void close_devs(unsigned count, npu_device **devs)
{
	for (unsigned i = 0; i < count; i++)
		npu_device_close(devs[i]);
}

/* Sum of the simulator's counters over the contexts (in-process only). */
static void sim_totals(unsigned count, npu_device **devs, npu_sim_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < count; i++) {
		npu_sim_stats s;
		if (npu_device_sim_stats(devs[i], &s))
			continue;
		sum->tasks += s.tasks;
		sum->macs += s.macs;
		sum->dma_read_bytes += s.dma_read_bytes;
		sum->dma_write_bytes += s.dma_write_bytes;
	}
}

static void run_shape(npu_gemm_ctx *ctx, unsigned ndev, npu_device **devs, npu_gemm_type type,
		      uint32_t m, uint32_t k, uint32_t n, uint64_t seed)
{
	const unsigned ib = npu_gemm_in_bytes(type), ob = npu_gemm_out_bytes(type);
	uint8_t *a = malloc((size_t)m * k * ib), *b = malloc((size_t)n * k * ib);
	uint8_t *c = malloc((size_t)m * n * ob);
	REQUIRE(a && b && c);
	gemm_ref_fill(type, (size_t)m * k, a, &seed);
	gemm_ref_fill(type, (size_t)n * k, b, &seed);
	memset(c, 0x5A, (size_t)m * n * ob);
	rb_err err = { 0 };
	npu_gemm_weights *w = NULL;
	CHECKF(npu_gemm_weights_create(ctx, type, n, k, b, k, &w, &err) == 0, "%s", err.msg);
	npu_sim_stats before, after;
	sim_totals(ndev, devs, &before);
	const int ret = w ? npu_gemm_run(ctx, w, m, a, k, c, n, &err) : -1;
	CHECKF(ret == 0, "%s %ux%ux%u: %s", npu_gemm_type_name(type), m, k, n, err.msg);
	if (ret == 0) {
		CHECKF(gemm_ref_check(type, m, k, n, a, b, c) == 0, "%s M=%u K=%u N=%u on %u devices",
		       npu_gemm_type_name(type), m, k, n, ndev);
		npu_gemm_plan_summary s;
		npu_gemm_plan_get_summary(npu_gemm_ctx_last_plan(ctx), &s);
		CHECK_EQ_INT(s.m, m);
		sim_totals(ndev, devs, &after);
		if (!use_open) {
			CHECK_EQ_INT(after.tasks - before.tasks, s.tasks);
			CHECK_EQ_INT(after.macs - before.macs, s.macs);
			CHECK_EQ_INT(after.dma_write_bytes - before.dma_write_bytes, s.out_bytes);
		}
	}
	npu_gemm_weights_destroy(w);
	free(a);
	free(b);
	free(c);
}

static void test_shapes(void)
{
	npu_device *devs[3];
	const unsigned ndev = open_devs(3, devs);
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(devs, ndev, &ctx, &err) == 0);
	/* The CPU side split over 3 threads here (test_one_context: serial). */
	rb_threadpool *tp = rb_threadpool_create(3);
	REQUIRE(tp);
	npu_gemm_ctx_set_threadpool(ctx, tp);
	const bool quick = rb_test_quick();
	/* Qwen2.5-1.5B shapes at M = 1 (decode) and a prefill chunk. */
	static const uint32_t qwen[][2] = { { 1536, 1536 }, { 1536, 256 }, { 1536, 8960 }, { 8960, 1536 } };
	for (unsigned i = 0; i < 4; i++) {
		run_shape(ctx, ndev, devs, NPU_GEMM_I8_I32, 1, qwen[i][0], qwen[i][1], 10 + i);
		if (!quick)
			run_shape(ctx, ndev, devs, NPU_GEMM_F16_F16, 5, qwen[i][0], qwen[i][1], 20 + i);
	}
	run_shape(ctx, ndev, devs, NPU_GEMM_I8_I32, quick ? 9 : 128, 1536, 256, 30);
	/* Odd sizes; the scratch BOs grow and shrink between calls. */
	run_shape(ctx, ndev, devs, NPU_GEMM_F16_F32, 13, 77, 50, 31);
	run_shape(ctx, ndev, devs, NPU_GEMM_I8_I32, 1, 3, 1, 32);
	run_shape(ctx, ndev, devs, NPU_GEMM_F16_F16, 66, 260, 130, 33);
	npu_gemm_ctx_destroy(ctx);
	rb_threadpool_destroy(tp);
	close_devs(ndev, devs);
}

static void test_one_context(void)
{
	npu_device *dev;
	open_devs(1, &dev);
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(&dev, 1, &ctx, &err) == 0);
	run_shape(ctx, 1, &dev, NPU_GEMM_I8_I32, 33, 600, 96, 40);
	run_shape(ctx, 1, &dev, NPU_GEMM_F16_F32, 4, 4100, 40, 41); /* two K slices */
	npu_gemm_ctx_destroy(ctx);
	npu_device_close(dev);
}

/* A, B and C at odd addresses (e.g. inside a packed caller struct): the
 * library copies them bytewise, so results are exact and UBSan is quiet. */
static void test_unaligned(void)
{
	npu_device *dev;
	open_devs(1, &dev);
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(&dev, 1, &ctx, &err) == 0);
	const uint32_t m = 5, k = 70, n = 40;
	for (int t = 0; t < 3; t++) {
		const npu_gemm_type type = (npu_gemm_type)t;
		const unsigned ib = npu_gemm_in_bytes(type), ob = npu_gemm_out_bytes(type);
		uint8_t *a = malloc((size_t)m * k * ib), *b = malloc((size_t)n * k * ib);
		uint8_t *c = malloc((size_t)m * n * ob);
		uint8_t *ua = malloc((size_t)m * k * ib + 1), *ub = malloc((size_t)n * k * ib + 1);
		uint8_t *uc = malloc((size_t)m * n * ob + 1);
		REQUIRE(a && b && c && ua && ub && uc);
		uint64_t seed = 50 + (uint64_t)t;
		gemm_ref_fill(type, (size_t)m * k, a, &seed);
		gemm_ref_fill(type, (size_t)n * k, b, &seed);
		memcpy(ua + 1, a, (size_t)m * k * ib);
		memcpy(ub + 1, b, (size_t)n * k * ib);
		npu_gemm_weights *w = NULL;
		CHECKF(npu_gemm_weights_create(ctx, type, n, k, ub + 1, k, &w, &err) == 0, "%s", err.msg);
		const int ret = w ? npu_gemm_run(ctx, w, m, ua + 1, k, uc + 1, n, &err) : -1;
		CHECKF(ret == 0, "%s unaligned: %s", npu_gemm_type_name(type), err.msg);
		if (ret == 0) {
			memcpy(c, uc + 1, (size_t)m * n * ob);
			CHECKF(gemm_ref_check(type, m, k, n, a, b, c) == 0, "%s with unaligned buffers",
			       npu_gemm_type_name(type));
		}
		npu_gemm_weights_destroy(w);
		free(a);
		free(b);
		free(c);
		free(ua);
		free(ub);
		free(uc);
	}
	npu_gemm_ctx_destroy(ctx);
	npu_device_close(dev);
}

static void test_bad_input(void)
{
	npu_device *devs[2];
	const unsigned ndev = open_devs(2, devs);
	npu_gemm_ctx *ctx = NULL, *other = NULL;
	rb_err err = { 0 };
	CHECK_EQ_INT(npu_gemm_ctx_create(devs, 0, &ctx, &err), RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_ctx_create(devs, 4, &ctx, &err), RB_E_INVALID);
	npu_device *null_dev[1] = { NULL };
	CHECK_EQ_INT(npu_gemm_ctx_create(null_dev, 1, &ctx, &err), RB_E_INVALID);
	REQUIRE(npu_gemm_ctx_create(devs, ndev, &ctx, &err) == 0);
	REQUIRE(npu_gemm_ctx_create(devs, 1, &other, &err) == 0);
	int8_t b[64 * 32] = { 0 }, a[4 * 64] = { 0 };
	int32_t c[4 * 32];
	npu_gemm_weights *w = NULL;
	CHECK_EQ_INT(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 32, 64, NULL, 64, &w, &err),
		     RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 32, 64, b, 63, &w, &err),
		     RB_E_INVALID);
	CHECK(strstr(err.msg, "stride") != NULL);
	CHECK_EQ_INT(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 0, 64, b, 64, &w, &err),
		     RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 32, 70000, b, 70000, &w, &err),
		     RB_E_INVALID);
	CHECK(w == NULL);
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 32, 64, b, 64, &w, &err) == 0);
	CHECK_EQ_INT(npu_gemm_run(ctx, w, 0, a, 64, c, 32, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "M=0") != NULL);
	CHECK_EQ_INT(npu_gemm_run(ctx, w, 4, a, 63, c, 32, &err), RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_run(ctx, w, 4, a, 64, c, 31, &err), RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_run(ctx, w, 4, NULL, 64, c, 32, &err), RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_run(other, w, 4, a, 64, c, 32, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "another context") != NULL);
	CHECK_EQ_INT(npu_gemm_run(ctx, w, 4, a, 64, c, 32, &err), 0);
	for (int i = 0; i < 4 * 32; i++)
		CHECK_EQ_INT(c[i], 0);

	/* An NPU fault: the layout claims 4096 kernels in a 2 KiB weights BO,
	 * so the task's weight fetch runs past the BO (the job itself is valid
	 * and queued); the simulated core faults, the job fails, the wait
	 * reports it. */
	CHECK_EQ_INT(w->layout.cores, 1);
	const gemm_layout saved = w->layout;
	w->layout.core[0].n = w->layout.core[0].chunk = 4096;
	int r = npu_gemm_run(ctx, w, 4, a, 64, c, 32, &err);
	w->layout = saved;
	CHECK_EQ_INT(r, RB_E_DEVICE);
	/* In-process the kernel model reports the hang; through the real uAPI
	 * (the shim) only the output canary shows it. */
	CHECKF(strstr(err.msg, "device 0") != NULL &&
	       strstr(err.msg, use_open ? "did not write its output" : "waiting") != NULL, "%s",
	       err.msg);
	fprintf(stderr, "expected device error: %s\n", err.msg);
	CHECK_EQ_INT(npu_gemm_run(ctx, w, 4, a, 64, c, 32, &err), 0);

	/* A device fault: the weights BO (N = 32 is one kernel group: context 0
	 * only) disappears behind the library's back, so the job reads unmapped
	 * memory. The call reports a device error naming the context; the caller
	 * can fall back to the CPU. */
	npu_bo_destroy(devs[0], &w->w[0]);
	r = npu_gemm_run(ctx, w, 4, a, 64, c, 32, &err);
	CHECK_EQ_INT(r, RB_E_DEVICE);
	CHECKF(strstr(err.msg, "device 0") != NULL, "%s", err.msg);
	fprintf(stderr, "expected device error: %s\n", err.msg);
	/* The context stays usable. */
	npu_gemm_weights *w2 = NULL;
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 32, 64, b, 64, &w2, &err) == 0);
	CHECK_EQ_INT(npu_gemm_run(ctx, w2, 4, a, 64, c, 32, &err), 0);
	npu_gemm_weights_destroy(w2);
	npu_gemm_weights_destroy(w);
	npu_gemm_ctx_destroy(other);
	npu_gemm_ctx_destroy(ctx);
	close_devs(ndev, devs);
}

/* The int8 output stage against the int32 result scaled afterwards, bit
 * for bit: C written as float once (and added to, with accumulate), split
 * over segments whose edges cut 16-byte atoms, one of them dropped; K
 * sliced (the partial sums are added in int32 before the scaling). Then the
 * raw results npu_gemm_last_result reads back. */
static void check_output_stage(npu_gemm_ctx *ctx, uint32_t m, uint32_t k, uint32_t n,
			       const uint32_t *seg_n, uint32_t n_seg, uint64_t seed)
{
	int8_t *a = malloc((size_t)m * k), *b = malloc((size_t)n * k);
	int32_t *acc = malloc((size_t)m * n * sizeof(int32_t));
	float *y = malloc((size_t)m * n * sizeof(float)), *rs = malloc(m * sizeof(float));
	float *rs2 = malloc(m * sizeof(float)), *cs = malloc(n * sizeof(float));
	REQUIRE(a && b && acc && y && rs && rs2 && cs);
	gemm_ref_fill(NPU_GEMM_I8_I32, (size_t)m * k, a, &seed);
	gemm_ref_fill(NPU_GEMM_I8_I32, (size_t)n * k, b, &seed);
	for (uint32_t i = 0; i < m; i++) {
		rs[i] = rb_test_rand_f32(&seed) * 1e-3f;
		rs2[i] = rb_test_rand_f32(&seed) * 1e-5f;
	}
	for (uint32_t j = 0; j < n; j++)
		cs[j] = rb_test_rand_f32(&seed) * 0.01f;
	rb_err err = { 0 };
	npu_gemm_weights *w = NULL;
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, n, k, b, k, &w, &err) == 0);
	int ret = npu_gemm_run(ctx, w, m, a, k, acc, n, &err);
	CHECKF(ret == 0, "%s", err.msg);
	CHECK(gemm_ref_check(NPU_GEMM_I8_I32, m, k, n, a, b, acc) == 0);

	/* Segment s: its own matrix with 3 spare columns per row (ldc = n_s + 3);
	 * the dropped one (NULL) is the second when there are three or more. */
	npu_gemm_segment seg[8];
	float *part[8] = { 0 };
	REQUIRE(n_seg <= 8);
	for (uint32_t s = 0; s < n_seg; s++) {
		const bool drop = n_seg >= 3 && s == 1;
		part[s] = drop ? NULL : malloc((size_t)m * (seg_n[s] + 3) * sizeof(float));
		REQUIRE(drop || part[s]);
		seg[s] = (npu_gemm_segment){ .n = seg_n[s], .c = part[s], .ldc = seg_n[s] + 3 };
	}
	npu_gemm_output out = { .seg = seg, .n_seg = n_seg, .row_scale = rs, .col_scale = cs };
	for (int pass = 0; pass < 2; pass++) {
		out.accumulate = pass == 1;
		out.row_scale = pass ? rs2 : rs;
		ret = npu_gemm_run_out(ctx, w, m, a, k, &out, &err);
		CHECKF(ret == 0, "pass %d: %s", pass, err.msg);
		long bad = 0;
		for (uint32_t i = 0; i < m; i++) {
			uint32_t j = 0;
			for (uint32_t s = 0; s < n_seg; j += seg_n[s], s++) {
				if (!part[s])
					continue;
				for (uint32_t x = 0; x < seg_n[s]; x++) {
					const size_t o = (size_t)i * n + j + x;
					const float first = (float)acc[o] * (rs[i] * cs[j + x]);
					const float want = pass ? first + (float)acc[o] * (rs2[i] * cs[j + x])
								: first;
					const float got = part[s][(size_t)i * seg[s].ldc + x];
					if (memcmp(&got, &want, sizeof(got)) && bad++ < 3)
						fprintf(stderr, "%ux%ux%u pass %d C[%u][%u] = %.9g, expected "
							"%.9g\n", m, k, n, pass, i, j + x, got, want);
				}
			}
		}
		CHECKF(bad == 0, "output stage M=%u K=%u N=%u pass %d: %ld wrong", m, k, n, pass, bad);
	}
	/* The raw sums behind the scaled output, read back. */
	long bad = 0;
	for (uint32_t i = 0; i < m; i += 3)
		for (uint32_t j = 0; j < n; j += 5) {
			int32_t got = 0;
			CHECK(npu_gemm_last_result(ctx, i, j, &got, &err) == 0);
			bad += got != acc[(size_t)i * n + j];
		}
	CHECKF(bad == 0, "npu_gemm_last_result M=%u K=%u N=%u: %ld wrong", m, k, n, bad);
	int32_t v;
	CHECK_EQ_INT(npu_gemm_last_result(ctx, m, 0, &v, &err), RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_last_result(ctx, 0, n, &v, &err), RB_E_INVALID);
	for (uint32_t s = 0; s < n_seg; s++)
		free(part[s]);
	npu_gemm_weights_destroy(w);
	free(a);
	free(b);
	free(acc);
	free(y);
	free(rs);
	free(rs2);
	free(cs);
}

static void test_output_stage(void)
{
	npu_device *devs[3];
	const unsigned ndev = open_devs(3, devs);
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(devs, ndev, &ctx, &err) == 0);
	rb_threadpool *tp = rb_threadpool_create(2);
	REQUIRE(tp);
	npu_gemm_ctx_set_threadpool(ctx, tp);
	const bool quick = rb_test_quick();
	/* Odd edges: every segment boundary inside an atom; two K slices. */
	static const uint32_t odd[] = { 5, 33, 2, 30 };
	check_output_stage(ctx, 37, 4100, 70, odd, 4, 60);
	static const uint32_t one[] = { 97 };
	check_output_stage(ctx, 9, 300, 97, one, 1, 61);
	/* q | k | v of Qwen2.5-1.5B as one weight (v dropped: see above). */
	static const uint32_t qkv[] = { 1536, 256, 256 };
	check_output_stage(ctx, quick ? 8 : 64, 1536, 2048, qkv, 3, 62);
	if (!quick) {
		static const uint32_t down[] = { 1000, 536 };
		check_output_stage(ctx, 130, 8960, 1536, down, 2, 63); /* 3 K slices, 2 M tiles */
	}

	/* Inconsistent output stages. */
	int8_t b[64 * 32] = { 0 }, a[4 * 64] = { 0 };
	float c[4 * 32], scale[32] = { 0 };
	npu_gemm_weights *w = NULL;
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 32, 64, b, 64, &w, &err) == 0);
	npu_gemm_segment seg[2] = { { .n = 16, .c = c, .ldc = 32 }, { .n = 15, .c = c + 16, .ldc = 32 } };
	npu_gemm_output out = { .seg = seg, .n_seg = 2, .row_scale = scale, .col_scale = scale };
	CHECK_EQ_INT(npu_gemm_run_out(ctx, w, 4, a, 64, &out, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "31 columns") != NULL);
	seg[1].n = 16;
	seg[1].ldc = 15;
	CHECK_EQ_INT(npu_gemm_run_out(ctx, w, 4, a, 64, &out, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "stride") != NULL);
	seg[1].ldc = 32;
	out.col_scale = NULL;
	CHECK_EQ_INT(npu_gemm_run_out(ctx, w, 4, a, 64, &out, &err), RB_E_INVALID);
	out.row_scale = NULL;
	out.accumulate = true;
	CHECK_EQ_INT(npu_gemm_run_out(ctx, w, 4, a, 64, &out, &err), RB_E_INVALID);
	out.n_seg = 0;
	CHECK_EQ_INT(npu_gemm_run_out(ctx, w, 4, a, 64, &out, &err), RB_E_INVALID);
	out = (npu_gemm_output){ .seg = seg, .n_seg = 2, .row_scale = scale, .col_scale = scale };
	CHECK_EQ_INT(npu_gemm_run_out(ctx, w, 4, a, 64, &out, &err), 0);
	npu_gemm_weights_destroy(w);
	rb_f16 hb[64 * 16] = { 0 }, ha[4 * 64] = { 0 };
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_F16_F32, 16, 64, hb, 64, &w, &err) == 0);
	seg[0].n = 16;
	out.n_seg = 1;
	CHECK_EQ_INT(npu_gemm_run_out(ctx, w, 4, ha, 64, &out, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "i8i32") != NULL);
	npu_gemm_weights_destroy(w);
	npu_gemm_ctx_destroy(ctx);
	rb_threadpool_destroy(tp);
	close_devs(ndev, devs);
}

/* A call in steps: A written in place, half the rows through the atom
 * view (as a caller quantizing into it would, zeros past K included), half
 * through npu_gemm_put_a_row; the result is the reference's, and the rows
 * read back are what was written. The steps refuse to run out of order. */
static void check_steps(npu_gemm_ctx *ctx, npu_gemm_type type, uint32_t m, uint32_t k,
			uint32_t n, uint64_t seed)
{
	const unsigned ib = npu_gemm_in_bytes(type), ob = npu_gemm_out_bytes(type);
	uint8_t *a = malloc((size_t)m * k * ib), *b = malloc((size_t)n * k * ib);
	uint8_t *c = malloc((size_t)m * n * ob), *row = malloc((size_t)k * ib);
	REQUIRE(a && b && c && row);
	gemm_ref_fill(type, (size_t)m * k, a, &seed);
	gemm_ref_fill(type, (size_t)n * k, b, &seed);
	rb_err err = { 0 };
	npu_gemm_weights *w = NULL;
	REQUIRE(npu_gemm_weights_create(ctx, type, n, k, b, k, &w, &err) == 0);
	for (int rep = 0; rep < 2; rep++) { /* the second time over the first's buffers */
		CHECKF(npu_gemm_begin(ctx, w, m, &err) == 0, "%s", err.msg);
		for (uint32_t r = 0; r < m; r++) {
			const uint8_t *src = a + (size_t)r * k * ib;
			if (r % 2) {
				CHECK(npu_gemm_put_a_row(ctx, r, src) == 0);
				continue;
			}
			npu_gemm_a_row v;
			REQUIRE(npu_gemm_a_row_at(ctx, r, &v) == 0);
			CHECK_EQ_INT(v.atoms, (k + 31) / 32 * 32 * ib / 16);
			for (uint32_t i = 0; i < v.atoms; i++) {
				uint8_t *atom = (uint8_t *)v.atom + i * v.stride;
				const size_t first = (size_t)i * 16;      /* byte of the row */
				const size_t have = (size_t)k * ib;
				memset(atom, 0, 16);
				if (first < have)
					memcpy(atom, src + first, have - first < 16 ? have - first : 16);
			}
		}
		const npu_gemm_segment seg = { .n = n, .c = c, .ldc = n };
		const npu_gemm_output out = { .seg = &seg, .n_seg = 1 };
		memset(c, 0x5a, (size_t)m * n * ob);
		const int ret = npu_gemm_finish(ctx, &out, &err);
		CHECKF(ret == 0, "%s", err.msg);
		CHECKF(ret || gemm_ref_check(type, m, k, n, a, b, c) == 0, "%s M=%u K=%u N=%u in steps",
		       npu_gemm_type_name(type), m, k, n);
		long bad = 0;
		for (uint32_t r = 0; r < m; r++) {
			CHECK(npu_gemm_get_a_row(ctx, r, row) == 0);
			bad += memcmp(row, a + (size_t)r * k * ib, (size_t)k * ib) != 0;
		}
		CHECKF(bad == 0, "%ld rows of A read back differ", bad);
	}
	/* Out of order: nothing begun any more. */
	npu_gemm_a_row v;
	CHECK_EQ_INT(npu_gemm_a_row_at(ctx, 0, &v), RB_E_INVALID);
	CHECK(v.atom == NULL);
	CHECK_EQ_INT(npu_gemm_put_a_row(ctx, 0, a), RB_E_INVALID);
	const npu_gemm_segment seg = { .n = n, .c = c, .ldc = n };
	const npu_gemm_output out = { .seg = &seg, .n_seg = 1 };
	CHECK_EQ_INT(npu_gemm_finish(ctx, &out, &err), RB_E_INVALID);
	REQUIRE(npu_gemm_begin(ctx, w, m, &err) == 0);
	CHECK_EQ_INT(npu_gemm_a_row_at(ctx, m, &v), RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_get_a_row(ctx, m, row), RB_E_INVALID);
	npu_gemm_weights_destroy(w);
	free(a);
	free(b);
	free(c);
	free(row);
}

static void test_steps(void)
{
	npu_device *devs[3];
	const unsigned ndev = open_devs(3, devs);
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(devs, ndev, &ctx, &err) == 0);
	check_steps(ctx, NPU_GEMM_I8_I32, 37, 4100, 70, 70); /* two K slices, partial atoms */
	check_steps(ctx, NPU_GEMM_I8_I32, 1, 48, 32, 71);
	check_steps(ctx, NPU_GEMM_F16_F32, 13, 77, 50, 72);
	if (!rb_test_quick())
		check_steps(ctx, NPU_GEMM_I8_I32, 300, 1536, 256, 73); /* several M tiles */
	npu_gemm_ctx_destroy(ctx);
	close_devs(ndev, devs);
}

/* npu_gemm_weights_concat: parts of odd sizes (kernel groups split
 * between parts and contexts), K sliced, each type; the concatenation runs
 * like a weight made from the concatenated rows, and the parts still run. */
static void check_concat(npu_gemm_ctx *ctx, npu_gemm_type type, uint32_t m, uint32_t k,
			 const uint32_t *part_n, uint32_t n_parts, uint64_t seed)
{
	const unsigned ib = npu_gemm_in_bytes(type), ob = npu_gemm_out_bytes(type);
	uint32_t n = 0;
	for (uint32_t i = 0; i < n_parts; i++)
		n += part_n[i];
	uint8_t *a = malloc((size_t)m * k * ib), *b = malloc((size_t)n * k * ib);
	uint8_t *c = malloc((size_t)m * n * ob);
	REQUIRE(a && b && c);
	gemm_ref_fill(type, (size_t)m * k, a, &seed);
	gemm_ref_fill(type, (size_t)n * k, b, &seed);
	rb_err err = { 0 };
	npu_gemm_weights *parts[4] = { 0 }, *all = NULL;
	REQUIRE(n_parts <= 4);
	uint32_t row = 0;
	for (uint32_t i = 0; i < n_parts; row += part_n[i], i++)
		REQUIRE(npu_gemm_weights_create(ctx, type, part_n[i], k, b + (size_t)row * k * ib, k,
						&parts[i], &err) == 0);
	CHECKF(npu_gemm_weights_concat(ctx, (const npu_gemm_weights *const *)parts, n_parts, &all,
				       &err) == 0, "%s", err.msg);
	memset(c, 0x5a, (size_t)m * n * ob);
	int ret = all ? npu_gemm_run(ctx, all, m, a, k, c, n, &err) : -1;
	CHECKF(ret == 0, "%s", err.msg);
	CHECKF(ret || gemm_ref_check(type, m, k, n, a, b, c) == 0, "%s concat of %u parts, K=%u",
	       npu_gemm_type_name(type), n_parts, k);
	/* the last part alone, still resident */
	row = n - part_n[n_parts - 1];
	ret = npu_gemm_run(ctx, parts[n_parts - 1], m, a, k, c, part_n[n_parts - 1], &err);
	CHECKF(ret == 0 && gemm_ref_check(type, m, k, part_n[n_parts - 1], a,
					  b + (size_t)row * k * ib, c) == 0, "last part after concat");
	npu_gemm_weights_destroy(all);
	for (uint32_t i = 0; i < n_parts; i++)
		npu_gemm_weights_destroy(parts[i]);
	free(a);
	free(b);
	free(c);
}

static void test_concat(void)
{
	npu_device *devs[3];
	const unsigned ndev = open_devs(3, devs);
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(devs, ndev, &ctx, &err) == 0);
	static const uint32_t odd[] = { 100, 37, 70 }, qkv[] = { 1536, 256, 256 };
	check_concat(ctx, NPU_GEMM_I8_I32, 9, 300, odd, 3, 80);
	check_concat(ctx, NPU_GEMM_I8_I32, 5, 4100, odd, 2, 81); /* two K slices */
	check_concat(ctx, NPU_GEMM_F16_F32, 7, 90, odd, 3, 82);
	check_concat(ctx, NPU_GEMM_I8_I32, rb_test_quick() ? 4 : 64, 1536, qkv, 3, 83);
	/* parts that do not fit together */
	int8_t b8[64 * 64] = { 0 };
	rb_f16 b16[64 * 64] = { 0 };
	npu_gemm_weights *w[3] = { 0 }, *all = NULL;
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 64, 64, b8, 64, &w[0], &err) == 0);
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, 64, 32, b8, 32, &w[1], &err) == 0);
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_F16_F32, 64, 64, b16, 64, &w[2], &err) == 0);
	const npu_gemm_weights *pair[2] = { w[0], w[1] };
	CHECK_EQ_INT(npu_gemm_weights_concat(ctx, pair, 2, &all, &err), RB_E_INVALID);
	CHECK(strstr(err.msg, "part 1") != NULL);
	pair[1] = w[2];
	CHECK_EQ_INT(npu_gemm_weights_concat(ctx, pair, 2, &all, &err), RB_E_INVALID);
	CHECK_EQ_INT(npu_gemm_weights_concat(ctx, pair, 0, &all, &err), RB_E_INVALID);
	CHECK(all == NULL);
	for (int i = 0; i < 3; i++)
		npu_gemm_weights_destroy(w[i]);
	npu_gemm_ctx_destroy(ctx);
	close_devs(ndev, devs);
}

/* Plans are cached per context by (layout, M): a repeated shape reuses
 * its plan, other shapes and more shapes than the cache holds still give
 * the reference's results. */
static void test_plan_cache(void)
{
	npu_device *devs[2];
	const unsigned ndev = open_devs(2, devs);
	npu_gemm_ctx *ctx = NULL;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(devs, ndev, &ctx, &err) == 0);
	const uint32_t k = 96, n1 = 64, n2 = 40, mmax = 20;
	uint64_t seed = 90;
	int8_t *a = malloc(mmax * k), *b = malloc((size_t)n1 * k);
	int32_t *c = malloc(mmax * n1 * sizeof(int32_t));
	REQUIRE(a && b && c);
	gemm_ref_fill(NPU_GEMM_I8_I32, mmax * k, a, &seed);
	gemm_ref_fill(NPU_GEMM_I8_I32, (size_t)n1 * k, b, &seed);
	npu_gemm_weights *w1 = NULL, *w2 = NULL, *w1b = NULL;
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, n1, k, b, k, &w1, &err) == 0);
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, n2, k, b, k, &w2, &err) == 0);
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, n1, k, b, k, &w1b, &err) == 0);
	REQUIRE(npu_gemm_run(ctx, w1, 5, a, k, c, n1, &err) == 0);
	const npu_gemm_plan *p1 = npu_gemm_ctx_last_plan(ctx);
	REQUIRE(npu_gemm_run(ctx, w2, 5, a, k, c, n2, &err) == 0);
	CHECK(npu_gemm_ctx_last_plan(ctx) != p1);
	CHECK(gemm_ref_check(NPU_GEMM_I8_I32, 5, k, n2, a, b, c) == 0);
	/* the same shape, even through other weights of that shape: one plan */
	REQUIRE(npu_gemm_run(ctx, w1b, 5, a, k, c, n1, &err) == 0);
	CHECK(npu_gemm_ctx_last_plan(ctx) == p1);
	CHECK(gemm_ref_check(NPU_GEMM_I8_I32, 5, k, n1, a, b, c) == 0);
	/* twice the cache's size in shapes, twice over */
	long bad = 0;
	for (int rep = 0; rep < 2; rep++)
		for (uint32_t m = 1; m <= 2 * GEMM_PLAN_CACHE; m++) {
			npu_gemm_weights *w = m % 2 ? w1 : w2;
			const uint32_t n = m % 2 ? n1 : n2;
			REQUIRE(npu_gemm_run(ctx, w, m, a, k, c, n, &err) == 0);
			CHECK_EQ_INT(npu_gemm_ctx_last_plan(ctx)->m, m);
			bad += gemm_ref_check(NPU_GEMM_I8_I32, m, k, n, a, b, c);
		}
	CHECKF(bad == 0, "%ld wrong results across evicted plans", bad);
	npu_gemm_weights_destroy(w1);
	npu_gemm_weights_destroy(w2);
	npu_gemm_weights_destroy(w1b);
	free(a);
	free(b);
	free(c);
	npu_gemm_ctx_destroy(ctx);
	close_devs(ndev, devs);
}

int main(int argc, char **argv)
{
	use_open = argc > 1 && strcmp(argv[1], "open") == 0;
	test_shapes();
	test_one_context();
	test_unaligned();
	test_output_stage();
	test_steps();
	test_concat();
	test_plan_cache();
	test_bad_input();
	return rb_test_finish();
}
