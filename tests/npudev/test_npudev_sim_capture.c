/* SPDX-License-Identifier: MIT */
/* The device layer on the register-level simulator with real NPU register
 * commands: an int8 GEMM task list from libnpu's emitter (the MTX recipe)
 * submitted through npu_device on the in-process simulator with capturing on,
 * checked against a CPU loop; the capture replays bit-identically on a fresh
 * simulated core, and a corrupted expected output element is reported with
 * its exact position. Then every capture kept in tests/npudev/captures/
 * replays identically. Argument 1: a scratch directory. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm_internal.h"
#include "npu/npu_capture.h"
#include "npu/npu_device.h"
#include "npu/npu_sim.h"
#include "test.h"

#define M 7
#define K 96
#define N 40

static int8_t A[M * K], B[N * K];
static int32_t C[M * N];

static int32_t ref(int i, int j)
{
	int32_t s = 0;

	for (int k = 0; k < K; k++)
		s += A[i * K + k] * B[j * K + k];
	return s;
}

/* Run one plan on `dev`; returns the C BO's IOVA (for the corruption test). */
static uint64_t run(npu_device *dev, const char *capture_prefix)
{
	gemm_layout l;
	npu_gemm_plan *p;
	rb_err err = { 0 };
	npu_bo a, w, c, rc;
	npu_task tasks[16];
	uint32_t nt;
	uint64_t c_iova;

	REQUIRE(gemm_layout_init(&l, NPU_GEMM_I8_I32, K, N, 1, 0, &err) == 0);
	REQUIRE(gemm_plan_from_layout(&l, M, NULL, &p, &err) == 0);
	REQUIRE(npu_bo_create(dev, (uint32_t)p->core[0].a_bytes, &a) == 0);
	REQUIRE(npu_bo_create(dev, (uint32_t)l.core[0].w_bytes, &w) == 0);
	REQUIRE(npu_bo_create(dev, (uint32_t)p->core[0].c_bytes, &c) == 0);
	REQUIRE(npu_bo_create(dev, p->core[0].rc_entries * 8, &rc) == 0);
	gemm_pack_a(p, A, K, a.map);
	gemm_pack_weights(&l, 0, B, K, w.map);
	REQUIRE(gemm_emit_core(p, 0, rc.map, (uint32_t)a.iova, (uint32_t)w.iova, (uint32_t)c.iova,
			       &err) == 0);
	nt = p->core[0].count;
	REQUIRE(nt >= 1 && nt <= 16);
	for (uint32_t t = 0; t < nt; t++)
		tasks[t] = (npu_task){ (uint32_t)rc.iova + p->tasks[p->core[0].first + t].rc_first * 8,
				       GEMM_TASK_ENTRIES };
	{
		const npu_bo *ins[3] = { &a, &w, &rc }, *outs[1] = { &c };
		npu_job job = { tasks, nt, ins, 3, outs, 1 };

		CHECK_EQ_INT(npu_device_set_capture(dev, capture_prefix), 0);
		CHECKF(npu_submit(dev, &job, 1) == 0, "%s", npu_device_error(dev));
		CHECK_EQ_INT(npu_device_set_capture(dev, NULL), 0);
	}
	CHECKF(npu_bo_prep(dev, &c, NPU_DEVICE_DEFAULT_TIMEOUT_NS) == 0, "%s",
	       npu_device_error(dev));
	gemm_unpack_c(p, 0, c.map, C, N);
	c_iova = c.iova;
	npu_bo_destroy(dev, &a);
	npu_bo_destroy(dev, &w);
	npu_bo_destroy(dev, &c);
	npu_bo_destroy(dev, &rc);
	npu_gemm_plan_destroy(p);
	return c_iova;
}

static void replay_kept(void)
{
	const char *dir = RB_TEST_DATA_DIR "/../npudev/captures";
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[1024], err[384];
		npu_capture cap;
		npu_replay_result res;
		size_t len = strlen(e->d_name);

		if (len < 8 || strcmp(e->d_name + len - 7, ".npucap"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		REQUIRE(npu_capture_read(path, &cap, err, sizeof(err)) == 0);
		CHECKF(npu_capture_replay(&cap, NULL, &res) == 0, "%s: %u buffers differ (%s)",
		       e->d_name, res.bos_differing, res.message);
		CHECK(res.bos_compared > 0);
		npu_capture_free(&cap);
		n++;
	}
	closedir(d);
	printf("kept captures replayed: %d\n", n);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	char prefix[512], path[600], err[384];
	npu_device *dev;
	npu_capture cap;
	npu_replay_result res;
	uint64_t seed = 11, c_iova;
	npu_capture_bo *out = NULL;

	for (int i = 0; i < M * K; i++)
		A[i] = (int8_t)rb_test_rand_u64(&seed);
	for (int i = 0; i < N * K; i++)
		B[i] = (int8_t)rb_test_rand_u64(&seed);
	REQUIRE(npu_device_open_sim(NULL, &dev) == 0);
	snprintf(prefix, sizeof(prefix), "%s/gemm-%d", dir, (int)getpid());
	c_iova = run(dev, prefix);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
			CHECKF(C[i * N + j] == ref(i, j), "C[%d][%d] = %d, expected %d", i, j,
			       C[i * N + j], ref(i, j));
	npu_device_close(dev);

	snprintf(path, sizeof(path), "%s-0.npucap", prefix);
	REQUIRE(npu_capture_read(path, &cap, err, sizeof(err)) == 0);
	CHECK_EQ_INT(cap.bo_count, 4);
	CHECK(cap.has_result && cap.result == 0);
	CHECK_EQ_INT(npu_capture_replay(&cap, NULL, &res), 0);
	CHECK_EQ_INT(res.status, 0);
	CHECK_EQ_INT(res.bos_compared, 4);
	CHECK_EQ_INT(res.bos_differing, 0);
	CHECK(res.stats.macs > 0);
	for (uint32_t i = 0; i < cap.bo_count; i++)
		if (cap.bos[i].iova == c_iova)
			out = &cap.bos[i];
	REQUIRE(out && (out->flags & NPU_CAPTURE_BO_OUT));
	/* corrupt one int32 of the expected output: exactly that word differs */
	{
		npu_replay_options opt = { .max_diffs = 2 };
		char *text = NULL, want[64];
		size_t text_len = 0;

		out->after[4 * 9 + 1] ^= 0x01;
		opt.report = open_memstream(&text, &text_len);
		REQUIRE(opt.report);
		CHECK_EQ_INT(npu_capture_replay(&cap, &opt, &res), 1);
		fclose(opt.report);
		CHECK_EQ_INT(res.bos_differing, 1);
		CHECK_EQ_INT(res.bytes_differing, 1);
		snprintf(want, sizeof(want), "+0x000024 (int32 #9)");
		CHECKF(strstr(text, want) != NULL, "report lacks %s:\n%s", want, text);
		free(text);
	}
	npu_capture_free(&cap);
	unlink(path);
	replay_kept();
	return rb_test_finish();
}
