/* SPDX-License-Identifier: MIT */
/* Capture and replay: a job captured by the device layer (NPU_CAPTURE-style
 * prefix) is read back field by field, replays bit-identically, a corrupted
 * capture is detected with a readable diff, malformed files are refused with
 * a message naming the problem, and random mutations never crash the
 * parser. Argument 1: a directory to leave sample captures in for the
 * npu-sim CLI tests. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device_priv.h"
#include "fake_core.h"
#include "npu/npu_capture.h"
#include "test.h"

static char dir[512];

static npu_kdev *make_kdev(void)
{
	npu_kdev_config cfg;
	npu_kdev *kdev = NULL;

	npu_kdev_config_default(&cfg);
	cfg.core_ops = &fake_core_ops;
	cfg.job_timeout_ms = 50;
	REQUIRE(npu_kdev_create(&cfg, &kdev) == 0);
	return kdev;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d;
	long n;

	REQUIRE(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	d = malloc((size_t)n);
	REQUIRE(d && fread(d, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return d;
}

static void spit(const char *path, const uint8_t *d, size_t len)
{
	FILE *f = fopen(path, "wb");

	REQUIRE(f && fwrite(d, 1, len, f) == len);
	fclose(f);
}

static const npu_capture_bo *bo_at(const npu_capture *cap, uint64_t iova)
{
	for (uint32_t i = 0; i < cap->bo_count; i++)
		if (cap->bos[i].iova == iova)
			return &cap->bos[i];
	return NULL;
}

/* Capture one good job and one that hangs; returns the two file names. */
static void capture_jobs(npu_kdev *kdev, char *good, char *hung, size_t len)
{
	npu_device *dev;
	npu_bo cmd, in, out, unrelated;
	npu_task t = { 0, 4 };
	const npu_bo *ins[2], *outs[1];
	npu_job job = { .tasks = &t, .task_count = 1, .in_bos = ins, .in_count = 1,
			.out_bos = outs, .out_count = 1 };
	char prefix[600];
	uint64_t *e;

	REQUIRE(npu_device_open_kdev(kdev, &dev) == 0);
	snprintf(prefix, sizeof(prefix), "%s/job", dir);
	CHECK_EQ_INT(npu_device_set_capture(dev, prefix), 0);
	REQUIRE(npu_bo_create(dev, 4096, &cmd) == 0);
	REQUIRE(npu_bo_create(dev, 8192, &in) == 0);
	REQUIRE(npu_bo_create(dev, 4096, &out) == 0);
	REQUIRE(npu_bo_create(dev, 4096, &unrelated) == 0);
	for (int i = 0; i < 64; i++)
		((uint8_t *)in.map)[i] = (uint8_t)(3 * i + 1);
	memset(out.map, 0xee, 4096);
	e = cmd.map;
	e[0] = fake_copy((uint32_t)in.iova, 4);
	e[1] = fake_copy_dst((uint32_t)out.iova);
	e[2] = fake_inc32((uint32_t)out.iova + 16, 1);
	t.regcmd_iova = (uint32_t)cmd.iova;
	ins[0] = &in;
	outs[0] = &out;
	CHECK_EQ_INT(npu_submit(dev, &job, 1), 0);
	/* capture waited already: the result is there without prep */
	CHECK_EQ_INT(((uint8_t *)out.map)[0], 1);
	CHECK_EQ_INT(npu_bo_prep(dev, &out, 1000000000), 0);
	snprintf(good, len, "%s-0.npucap", prefix);

	e[0] = fake_hang();
	CHECK_EQ_INT(npu_submit(dev, &job, 1), 0);
	CHECK_EQ_INT(npu_bo_prep(dev, &out, 1000000000), -EIO);
	snprintf(hung, len, "%s-1.npucap", prefix);
	npu_device_close(dev);
}

static void check_good(const char *path)
{
	npu_capture cap;
	char err[512], v[128];
	const npu_capture_bo *cmd, *in, *out;

	REQUIRE(npu_capture_read(path, &cap, err, sizeof(err)) == 0);
	CHECK_EQ_INT(cap.task_count, 1);
	CHECK_EQ_INT(cap.tasks[0].regcmd_count, 4);
	CHECK_EQ_INT(cap.bo_count, 3); /* not the unrelated BO */
	cmd = bo_at(&cap, cap.tasks[0].regcmd);
	REQUIRE(cmd && cap.bo_count == 3);
	in = bo_at(&cap, cmd->iova + 4096);
	out = bo_at(&cap, cmd->iova + 4096 + 8192);
	REQUIRE(in && out);
	/* the regcmd BO sits at IOVA 0 and entry 3 (a no-op) has value 0, so it
	 * also counts as referenced: the flags are a superset by design */
	CHECK_EQ_INT(cmd->flags, NPU_CAPTURE_BO_REGCMD | NPU_CAPTURE_BO_REF);
	CHECK_EQ_INT(in->flags, NPU_CAPTURE_BO_IN | NPU_CAPTURE_BO_REF);
	CHECK_EQ_INT(out->flags, NPU_CAPTURE_BO_OUT | NPU_CAPTURE_BO_REF);
	CHECK_EQ_INT(in->size, 8192);
	CHECK(in->before && in->after && out->before && out->after);
	CHECK_EQ_INT(in->before[5], 16);
	CHECK_EQ_INT(out->before[0], 0xee);
	CHECK_EQ_INT(out->after[0], 1);
	CHECK_EQ_INT(out->after[16], 3 * 16 + 1 + 1);
	CHECK_EQ_INT(out->after[64], 0xee);
	CHECK(cap.has_result && cap.result == 0);
	CHECK_EQ_INT(npu_capture_info_get(&cap, "device", v, sizeof(v)), 0);
	CHECK_STR(v, "sim");
	CHECK_EQ_INT(npu_capture_info_get(&cap, "job", v, sizeof(v)), 0);
	CHECK_STR(v, "0");
	CHECK_EQ_INT(npu_capture_info_get(&cap, "nope", v, sizeof(v)), -ENOENT);

	/* replays bit-identically */
	{
		npu_replay_result res;

		CHECK_EQ_INT(npu_capture_replay_with(&cap, NULL, &fake_core_ops, &res), 0);
		CHECK_EQ_INT(res.bos_compared, 3);
		CHECK_EQ_INT(res.bos_differing, 0);
		CHECK_EQ_INT(res.status, 0);
	}
	/* a corrupted expectation is found and reported readably */
	{
		npu_replay_result res;
		npu_replay_options opt = { .max_diffs = 4 };
		char *text = NULL;
		size_t text_len = 0;

		((npu_capture_bo *)out)->after[21] ^= 0x40;
		opt.report = open_memstream(&text, &text_len);
		REQUIRE(opt.report);
		CHECK_EQ_INT(npu_capture_replay_with(&cap, &opt, &fake_core_ops, &res), 1);
		fclose(opt.report);
		CHECK_EQ_INT(res.bos_differing, 1);
		CHECK_EQ_INT(res.bytes_differing, 1);
		CHECK(strstr(text, "1 bytes differ, first at +0x15") != NULL);
		CHECK(strstr(text, "+0x000014 (int32 #5)") != NULL);
		CHECK(strstr(text, "DIFFERENT") != NULL);
		free(text);
	}
	npu_capture_free(&cap);
}

static void check_hung(const char *path)
{
	npu_capture cap;
	npu_replay_result res;
	char err[512];

	REQUIRE(npu_capture_read(path, &cap, err, sizeof(err)) == 0);
	CHECK(cap.has_result && cap.result == -EIO);
	CHECK(cap.result_msg && strstr(cap.result_msg, "hung"));
	/* the replay hangs too: consistent outcome, same buffers */
	CHECK_EQ_INT(npu_capture_replay_with(&cap, NULL, &fake_core_ops, &res), 0);
	CHECK_EQ_INT(res.status, -ETIMEDOUT);
	CHECK(strstr(res.message, "HANG") != NULL);
	/* claiming the capture completed makes the outcome differ */
	cap.result = 0;
	CHECK_EQ_INT(npu_capture_replay_with(&cap, NULL, &fake_core_ops, &res), 1);
	npu_capture_free(&cap);
}

static void expect_bad(const uint8_t *d, size_t len, const char *needle)
{
	npu_capture cap;
	char err[512] = "";

	CHECK_EQ_INT(npu_capture_parse(d, len, &cap, err, sizeof(err)), -EINVAL);
	CHECKF(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
	CHECK(cap.bos == NULL && cap.tasks == NULL);
}

static void check_malformed(const char *path)
{
	size_t len;
	uint8_t *d = slurp(path, &len), *m = malloc(len);
	npu_capture cap;
	char err[512];

	REQUIRE(m);
	expect_bad(d, 10, "not an NPU capture");
	memcpy(m, d, len);
	m[8] = 2;
	expect_bad(m, len, "version 2");
	expect_bad(d, len - 16, "no END chunk"); /* END chunk cut off */
	expect_bad(d, len / 2, "claims");        /* cut inside a buffer */
	memcpy(m, d, len);
	m[16 + 8 + 7] = 0x7f;                    /* first chunk length huge */
	expect_bad(m, len, "claims");
	CHECK_EQ_INT(npu_capture_read("/nonexistent.npucap", &cap, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent.npucap") != NULL);

	/* random mutations: never a crash, leak or out-of-bounds read (ASan) */
	{
		uint64_t seed = 1234;
		int rounds = rb_test_quick() ? 400 : 3000, parsed = 0;

		for (int r = 0; r < rounds; r++) {
			size_t n = len;

			memcpy(m, d, len);
			for (int k = 0; k < 1 + (int)(rb_test_rand_u64(&seed) % 4); k++) {
				size_t at = (size_t)(rb_test_rand_u64(&seed) % len);

				m[at] = (uint8_t)rb_test_rand_u64(&seed);
			}
			if (rb_test_rand_u64(&seed) % 4 == 0)
				n = (size_t)(rb_test_rand_u64(&seed) % len);
			if (npu_capture_parse(m, n, &cap, err, sizeof(err)) == 0) {
				parsed++;
				CHECK(cap.task_count > 0);
				npu_capture_free(&cap);
			} else {
				CHECK(err[0] != 0);
			}
		}
		CHECK(parsed > 0); /* mutations inside buffer contents still parse */
	}
	free(m);
	free(d);
}

/* Overlapping buffers and bad sizes are refused on reading. */
static void check_writer_rules(void)
{
	uint8_t a[64] = { 1 }, b[64] = { 2 };
	npu_capture_task t = { 0x1000, 2 };
	npu_capture_bo bos[2] = {
		{ .handle = 1, .iova = 0x1000, .size = 64, .before = a },
		{ .handle = 2, .iova = 0x1020, .size = 64, .before = b },
	};
	npu_capture cap = { .task_count = 1, .tasks = &t, .bo_count = 2, .bos = bos };
	npu_capture back;
	char path[600], err[512];

	snprintf(path, sizeof(path), "%s/overlap.npucap", dir);
	CHECK_EQ_INT(npu_capture_write(path, &cap, err, sizeof(err)), 0);
	CHECK_EQ_INT(npu_capture_read(path, &back, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "overlaps") != NULL);
	bos[1].iova = 0xfffffff0ull;
	bos[1].size = 64;
	CHECK_EQ_INT(npu_capture_write(path, &cap, err, sizeof(err)), 0);
	CHECK_EQ_INT(npu_capture_read(path, &back, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "32-bit") != NULL);
	/* a well-formed hand-made capture round-trips */
	bos[1].iova = 0x2000;
	bos[1].after = a;
	cap.info = "device=other-tool\n";
	cap.has_result = 1;
	cap.result = 0;
	CHECK_EQ_INT(npu_capture_write(path, &cap, err, sizeof(err)), 0);
	REQUIRE(npu_capture_read(path, &back, err, sizeof(err)) == 0);
	CHECK_EQ_INT(back.bo_count, 2);
	CHECK(back.bos[1].after && back.bos[1].after[0] == 1 && back.bos[0].after == NULL);
	CHECK_STR(back.info, "device=other-tool\n");
	npu_capture_free(&back);
	unlink(path);
}

int main(int argc, char **argv)
{
	npu_kdev *kdev = make_kdev();
	char good[700], hung[700];

	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else
		snprintf(dir, sizeof(dir), "/tmp/npudev-capture-%d", (int)getpid());
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
		REQUIRE(system(cmd) == 0);
	}
	capture_jobs(kdev, good, hung, sizeof(good));
	npu_kdev_put(kdev);
	check_good(good);
	check_hung(hung);
	check_malformed(good);
	check_writer_rules();
	{
		/* leave a corrupted copy for the CLI tests */
		size_t len;
		uint8_t *d = slurp(good, &len);
		char path[700];

		snprintf(path, sizeof(path), "%s/truncated.npucap", dir);
		spit(path, d, len - 20);
		free(d);
	}
	return rb_test_finish();
}
