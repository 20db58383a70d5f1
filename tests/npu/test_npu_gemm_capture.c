/* SPDX-License-Identifier: MIT */
/* A GEMM job captured on the simulator device: npu-dis reads the capture's
 * regcmd (every task clean, MTX-shaped) and the capture replays
 * identically on a fresh simulated core. */
#include <errno.h>
#include <sys/stat.h>

#include "gemm_ref.h"
#include "npu/npu_capture.h"
#include "npu/npu_device.h"
#include "npu/npu_gemm.h"
#include "npu_dis_cli.h"
#include "test.h"

int main(int argc, char **argv)
{
	REQUIRE(argc == 2);
	mkdir(argv[1], 0755);
	char prefix[512], path[600];
	snprintf(prefix, sizeof(prefix), "%s/gemm", argv[1]);
	snprintf(path, sizeof(path), "%s-0.npucap", prefix);
	remove(path);

	npu_device *dev;
	REQUIRE(npu_device_open_sim(NULL, &dev) == 0);
	REQUIRE(npu_device_set_capture(dev, prefix) == 0);
	npu_gemm_ctx *ctx;
	rb_err err = { 0 };
	REQUIRE(npu_gemm_ctx_create(&dev, 1, &ctx, &err) == 0);
	/* K = 5000: two K slices, so the job has two tasks. */
	enum { M = 8, K = 5000, N = 64 };
	static int8_t a[M * K], b[N * K];
	static int32_t c[M * N];
	uint64_t seed = 5;
	gemm_ref_fill(NPU_GEMM_I8_I32, sizeof(a), a, &seed);
	gemm_ref_fill(NPU_GEMM_I8_I32, sizeof(b), b, &seed);
	npu_gemm_weights *w;
	REQUIRE(npu_gemm_weights_create(ctx, NPU_GEMM_I8_I32, N, K, b, K, &w, &err) == 0);
	CHECKF(npu_gemm_run(ctx, w, M, a, K, c, N, &err) == 0, "%s", err.msg);
	CHECK_EQ_INT(gemm_ref_check(NPU_GEMM_I8_I32, M, K, N, a, b, c), 0);
	npu_gemm_weights_destroy(w);
	npu_gemm_ctx_destroy(ctx);
	npu_device_close(dev);

	/* npu-dis on the capture. */
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	char *args[] = { "npu-dis", "--capture", "--strict", path };
	CHECK_EQ_INT(npu_dis_main(4, args, f, stderr), 0);
	fclose(f);
	CHECKF(out && strstr(out, "# 216 entries, 0 with issues"), "%s", out ? out : "");
	CHECK(out && strstr(out, "# task 1\n"));
	CHECK(out && strstr(out, "CNA_DATA_SIZE1 = 0x09bf09c0 DATAIN_CHANNEL_REAL=2495(+1=2496)"
				 " DATAIN_CHANNEL=2496"));
	free(out);

	/* The capture replays identically on a fresh simulated core. */
	npu_capture cap;
	char msg[256];
	REQUIRE(npu_capture_read(path, &cap, msg, sizeof(msg)) == 0);
	CHECK_EQ_INT(cap.task_count, 2);
	npu_replay_result res;
	const npu_replay_options opt = { 0 };
	CHECKF(npu_capture_replay(&cap, &opt, &res) == 0, "%s", res.message);
	CHECK_EQ_INT(res.bos_differing, 0);
	npu_capture_free(&cap);
	return rb_test_finish();
}
