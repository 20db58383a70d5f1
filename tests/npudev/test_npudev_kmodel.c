/* SPDX-License-Identifier: MIT */
/* The kernel model at the uAPI level (raw ioctls, as any rocket userspace
 * issues them), on the scripted fake core: what the rocket driver does with
 * each ioctl, the kick sequence per task, fences, ordering, hangs and
 * faults. The expectations come from drivers/accel/rocket (6.18), not from
 * the model's code. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fake_core.h"
#include "npu/rocket_uapi.h"
#include "test.h"

#define TIMEOUT_MS 150u /* the model's job timeout in this test (kernel: 500) */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void log_to_stderr(void *ctx, enum npu_klog_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	fprintf(stderr, "  [kmodel] %s\n", msg);
}

static npu_kdev *make_kdev(unsigned cores)
{
	npu_kdev_config cfg;
	npu_kdev *kdev = NULL;

	npu_kdev_config_default(&cfg);
	cfg.core_ops = &fake_core_ops;
	cfg.cores = cores;
	cfg.job_timeout_ms = TIMEOUT_MS;
	cfg.prep_positive = true;
	cfg.log = log_to_stderr;
	REQUIRE(npu_kdev_create(&cfg, &kdev) == 0);
	return kdev;
}

struct bo {
	struct drm_rocket_create_bo c;
	uint8_t *map;
};

static void create_bo(npu_kfile *f, uint32_t size, struct bo *bo)
{
	memset(bo, 0, sizeof(*bo));
	bo->c.size = size;
	REQUIRE(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_CREATE_BO, &bo->c) == 0);
	bo->map = mmap(NULL, (size + 4095) & ~4095u, PROT_READ | PROT_WRITE, MAP_SHARED,
		       npu_kfile_fd(f), (off_t)bo->c.offset);
	REQUIRE(bo->map != MAP_FAILED);
}

static long submit1(npu_kfile *f, const struct drm_rocket_task *tasks, uint32_t ntasks,
		    const uint32_t *in, uint32_t nin, const uint32_t *out, uint32_t nout)
{
	struct drm_rocket_job job = {
		.tasks = (uintptr_t)tasks, .task_count = ntasks,
		.task_struct_size = sizeof(*tasks),
		.in_bo_handles = (uintptr_t)in, .in_bo_handle_count = nin,
		.out_bo_handles = (uintptr_t)out, .out_bo_handle_count = nout,
	};
	struct drm_rocket_submit s = { .jobs = (uintptr_t)&job, .job_count = 1,
				       .job_struct_size = sizeof(job) };

	return npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s);
}

static long prep(npu_kfile *f, uint32_t handle, int64_t timeout_ns)
{
	struct drm_rocket_prep_bo p = { .handle = handle, .timeout_ns = timeout_ns };

	return npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_PREP_BO, &p);
}

static int64_t in_ms(unsigned ms)
{
	return (int64_t)(now_ns() + ms * 1000000ull);
}

static void test_version(npu_kfile *f)
{
	char name[16] = "", date[8] = "", desc[8] = "";
	struct drm_version v = { .name = name, .name_len = sizeof(name) - 1, .date = date,
				 .date_len = sizeof(date) - 1, .desc = desc, .desc_len = 3 };

	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_VERSION, &v), 0);
	CHECK_STR(name, "rocket");
	CHECK_EQ_INT(v.name_len, 6);
	CHECK_STR(date, "0");
	/* desc truncated to the 3 bytes offered, full length reported */
	CHECK(memcmp(desc, "roc", 3) == 0 && desc[3] == 0);
	CHECK_EQ_INT(v.desc_len, strlen(NPU_KMODEL_DRIVER_DESC));
	/* not a DRM ioctl / an ioctl rocket does not have */
	CHECK_EQ_INT(npu_kfile_ioctl(f, 0x5401 /* TCGETS */, &v), -ENOTTY);
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOWR(DRM_COMMAND_BASE + 7, struct drm_rocket_fini_bo),
				     &v), -EINVAL);
	/* bad user pointer: -EFAULT, no crash */
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_CREATE_BO, (void *)8), -EFAULT);
}

/* IOVAs: best fit from 0, page aligned; handles: lowest free from 1; mmap
 * offsets: distinct, above 4 GiB; CPU and NPU views are the same memory. */
static void test_bos(npu_kfile *f)
{
	struct bo a, b, c, d;
	struct drm_gem_close gc = { 0 };
	struct drm_rocket_create_bo z = { .size = 0 };

	create_bo(f, 100, &a);
	create_bo(f, 8192, &b);
	create_bo(f, 4097, &c);
	CHECK_EQ_INT(a.c.handle, 1);
	CHECK_EQ_INT(b.c.handle, 2);
	CHECK_EQ_INT(c.c.handle, 3);
	CHECK_EQ_INT(a.c.dma_address, 0);
	CHECK_EQ_INT(b.c.dma_address, 4096);
	CHECK_EQ_INT(c.c.dma_address, 4096 + 8192);
	CHECK(a.c.offset >= (1ull << 32) && b.c.offset != a.c.offset && c.c.offset != b.c.offset);
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_CREATE_BO, &z), -EINVAL);

	/* free the 8 KiB hole, then a 4 KiB BO goes there (best fit), handle 2 reused */
	gc.handle = b.c.handle;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &gc), 0);
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &gc), -EINVAL);
	munmap(b.map, 8192);
	create_bo(f, 4096, &d);
	CHECK_EQ_INT(d.c.handle, 2);
	CHECK_EQ_INT(d.c.dma_address, 4096);

	/* FINI/PREP argument checks */
	{
		struct drm_rocket_fini_bo fi = { .handle = 1, .reserved = 1 };
		struct drm_rocket_prep_bo pr = { .handle = 1, .reserved = 1 };

		CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_FINI_BO, &fi), -EINVAL);
		fi.reserved = 0;
		CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_FINI_BO, &fi), 0);
		fi.handle = 99;
		CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_FINI_BO, &fi), -ENOENT);
		CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_PREP_BO, &pr), -EINVAL);
		CHECK_EQ_INT(prep(f, 99, 0), -ENOENT);
		/* no fence: signalled; 6.18 returns a positive value */
		CHECK(prep(f, 1, in_ms(100)) > 0);
		CHECK(prep(f, 1, 0) > 0);
	}
	for (uint32_t h = 1; h <= 3; h++) {
		gc.handle = h;
		CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &gc), 0);
	}
	munmap(a.map, 4096);
	munmap(c.map, 8192);
	munmap(d.map, 4096);
}

/* The driver's 10 writes per task (rocket_job_hw_submit) and the IRQ
 * thread's 3, in order, with the values of rocket_job.c. */
static void check_kick(const fake_core *core, unsigned first, uint32_t regcmd, uint32_t count,
		       int core_index)
{
	const uint32_t sp = 0xe | 0x10000000u * (uint32_t)core_index;
	const uint32_t want[13][2] = {
		{ 0x10, 1 }, { 0x1004, sp }, { 0x3004, sp }, { 0x10, regcmd },
		{ 0x14, (count + 1) / 2 - 1 }, { 0x20, 0x300 }, { 0x24, 0x300 }, { 0x30, 0x7001 },
		{ 0x34, 0 }, { 0x08, 1 }, { 0x20, 0 }, { 0x08, 0 }, { 0x24, 0x1ffff },
	};

	REQUIRE(core->write_count >= first + 13);
	for (unsigned i = 0; i < 13; i++) {
		CHECKF(core->writes[first + i][0] == want[i][0] &&
			       core->writes[first + i][1] == want[i][1],
		       "write %u: 0x%04x = 0x%x, expected 0x%04x = 0x%x", i,
		       core->writes[first + i][0], core->writes[first + i][1], want[i][0], want[i][1]);
	}
}

static void test_job_flow(npu_kfile *f)
{
	struct bo cmd, src, dst;
	uint64_t *e;
	struct drm_rocket_task tasks[2];
	unsigned w0;

	create_bo(f, 4096, &cmd);
	create_bo(f, 4096, &src);
	create_bo(f, 4096, &dst);
	e = (uint64_t *)cmd.map;
	/* task 1 (entries 0..3): fill src with 0x11; task 2 (16..19): copy src -> dst, inc */
	e[0] = fake_fill(0x11, (uint32_t)src.c.dma_address, 4);
	e[16] = fake_copy((uint32_t)src.c.dma_address, 4);
	e[17] = fake_copy_dst((uint32_t)dst.c.dma_address);
	e[18] = fake_inc32((uint32_t)dst.c.dma_address, 1);
	tasks[0] = (struct drm_rocket_task){ (uint32_t)cmd.c.dma_address, 3 };
	tasks[1] = (struct drm_rocket_task){ (uint32_t)cmd.c.dma_address + 128, 4 };
	w0 = fake_cores[0]->write_count;
	CHECK_EQ_INT(submit1(f, tasks, 2, NULL, 0, (uint32_t[]){ dst.c.handle }, 1), 0);
	/* deferred: nothing ran yet */
	CHECK_EQ_INT(fake_cores[0]->write_count, w0);
	CHECK_EQ_INT(dst.map[0], 0);
	CHECK(prep(f, dst.c.handle, in_ms(1000)) > 0);
	check_kick(fake_cores[0], w0, (uint32_t)cmd.c.dma_address, 3, 0);
	check_kick(fake_cores[0], w0 + 13, (uint32_t)cmd.c.dma_address + 128, 4, 0);
	CHECK_EQ_INT(dst.map[0], 0x12);  /* 0x11111111 + 1 in the first 16 bytes */
	CHECK_EQ_INT(dst.map[12], 0x12);
	CHECK_EQ_INT(dst.map[16], 0x11); /* copied, not incremented */
	CHECK_EQ_INT(dst.map[63], 0x11);
	CHECK_EQ_INT(dst.map[64], 0);

	/* Jobs of one file run in order: job B copies what job A wrote. A's
	 * output is not listed as out BO, so PREP on it does not wait. */
	memset(cmd.map, 0, 4096);
	e[0] = fake_fill(0x5a, (uint32_t)src.c.dma_address, 1);
	e[16] = fake_copy((uint32_t)src.c.dma_address, 1);
	e[17] = fake_copy_dst((uint32_t)dst.c.dma_address + 256);
	tasks[0].regcmd_count = 2;
	tasks[1].regcmd_count = 2;
	CHECK_EQ_INT(submit1(f, &tasks[0], 1, NULL, 0, (uint32_t[]){ cmd.c.handle }, 1), 0);
	CHECK_EQ_INT(submit1(f, &tasks[1], 1, (uint32_t[]){ src.c.handle }, 1,
			     (uint32_t[]){ dst.c.handle }, 1), 0);
	CHECK(prep(f, src.c.handle, 0) > 0); /* src is nobody's out BO: no wait */
	CHECK_EQ_INT(src.map[0], 0x11);       /* ... and so still the old data */
	CHECK(prep(f, dst.c.handle, in_ms(1000)) > 0);
	CHECK_EQ_INT(dst.map[256], 0x5a);
	CHECK_EQ_INT(src.map[0], 0x5a);
	for (uint32_t h = cmd.c.handle; h <= dst.c.handle; h++)
		npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = h });
	munmap(cmd.map, 4096);
	munmap(src.map, 4096);
	munmap(dst.map, 4096);
}

/* SUBMIT: only the outer struct fails the ioctl; bad jobs vanish. */
static void test_submit_rules(npu_kfile *f)
{
	struct bo cmd, out;
	struct drm_rocket_task t;
	struct drm_rocket_job job;
	struct drm_rocket_submit s;
	uint32_t oh;

	create_bo(f, 4096, &cmd);
	create_bo(f, 4096, &out);
	oh = out.c.handle;
	((uint64_t *)cmd.map)[0] = fake_fill(0x77, (uint32_t)out.c.dma_address, 1);
	t = (struct drm_rocket_task){ (uint32_t)cmd.c.dma_address, 2 };
	job = (struct drm_rocket_job){ .tasks = (uintptr_t)&t, .task_count = 1,
				       .task_struct_size = 8, .out_bo_handles = (uintptr_t)&oh,
				       .out_bo_handle_count = 1 };
	s = (struct drm_rocket_submit){ .jobs = (uintptr_t)&job, .job_count = 0,
					.job_struct_size = 40 };
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), 0); /* job_count 0 */
	s.job_count = 1;
	s.job_struct_size = 39;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), -EINVAL);
	s.job_struct_size = 40;
	s.reserved = 1;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), -EINVAL);
	s.reserved = 0;
	s.jobs = 16;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), -EFAULT);
	s.jobs = (uintptr_t)&job;

	/* each of these jobs is dropped: SUBMIT returns 0, nothing runs */
	job.task_count = 0;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), 0);
	job.task_count = 1;
	t.regcmd_count = 0;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), 0);
	t.regcmd_count = 2;
	job.task_struct_size = 4;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), 0);
	job.task_struct_size = 8;
	oh = 1234;
	CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), 0);
	oh = out.c.handle;
	CHECK(prep(f, oh, in_ms(100)) > 0);
	CHECK_EQ_INT(out.map[0], 0);

	/* a larger stride (a future uAPI's bigger structs) is accepted */
	{
		struct { struct drm_rocket_task t; uint32_t extra[2]; } big = { t, { 9, 9 } };
		struct { struct drm_rocket_job j; uint64_t extra; } bigjob = { job, 7 };

		bigjob.j.tasks = (uintptr_t)&big;
		bigjob.j.task_struct_size = sizeof(big);
		s.jobs = (uintptr_t)&bigjob;
		s.job_struct_size = sizeof(bigjob);
		CHECK_EQ_INT(npu_kfile_ioctl(f, DRM_IOCTL_ROCKET_SUBMIT, &s), 0);
		CHECK(prep(f, oh, in_ms(1000)) > 0);
		CHECK_EQ_INT(out.map[0], 0x77);
	}
	npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = cmd.c.handle });
	npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = oh });
	munmap(cmd.map, 4096);
	munmap(out.map, 4096);
}

/* A task that never completes: the job sits until the timeout, then the core
 * is reset and the fence signals (PREP_BO does not see the error); the next
 * job of the file runs after that and works. */
static void test_hang(npu_kfile *f)
{
	struct bo cmd, out;
	struct drm_rocket_task t;
	uint32_t oh;
	uint64_t t0;
	long r;
	char msg[256];
	unsigned resets = fake_cores[0]->resets;

	create_bo(f, 4096, &cmd);
	create_bo(f, 4096, &out);
	oh = out.c.handle;
	((uint64_t *)cmd.map)[0] = fake_hang();
	((uint64_t *)cmd.map)[16] = fake_fill(0x42, (uint32_t)out.c.dma_address, 1);
	t = (struct drm_rocket_task){ (uint32_t)cmd.c.dma_address, 2 };
	CHECK_EQ_INT(submit1(f, &t, 1, NULL, 0, &oh, 1), 0);
	t0 = now_ns();
	CHECK_EQ_INT(prep(f, oh, 0), -EBUSY);                 /* poll */
	CHECK_EQ_INT(prep(f, oh, (int64_t)t0 - 1000), -EBUSY); /* deadline in the past = poll */
	CHECK_EQ_INT(prep(f, oh, in_ms(30)), -ETIMEDOUT);
	CHECK(now_ns() - t0 >= 30000000ull);
	CHECK_EQ_INT(npu_kfile_bo_status(f, oh, msg, sizeof(msg)), -ETIMEDOUT);
	CHECK(strstr(msg, "HANG entry 0") != NULL);
	CHECK_EQ_INT(fake_cores[0]->resets, resets + 1);
	/* a later job queues behind the hung one: a short wait times out on
	 * time, a long one sees it run after the reset */
	t.regcmd = (uint32_t)cmd.c.dma_address + 128;
	CHECK_EQ_INT(submit1(f, &t, 1, NULL, 0, &oh, 1), 0);
	{
		uint64_t t1 = now_ns();

		CHECK_EQ_INT(prep(f, oh, 0), -EBUSY);
		CHECK_EQ_INT(prep(f, oh, in_ms(10)), -ETIMEDOUT);
		CHECK(now_ns() - t1 < (TIMEOUT_MS - 40) * 1000000ull);
	}
	r = prep(f, oh, in_ms(5000));
	CHECK(r > 0);
	CHECK(now_ns() - t0 >= TIMEOUT_MS * 1000000ull);
	CHECK_EQ_INT(out.map[0], 0x42);
	CHECK_EQ_INT(npu_kfile_bo_status(f, oh, msg, sizeof(msg)), 0);

	/* a DMA fault also ends in the timeout (no DPU interrupt) */
	((uint64_t *)cmd.map)[0] = fake_fill(1, 0x7fff0000u, 1);
	t.regcmd = (uint32_t)cmd.c.dma_address;
	CHECK_EQ_INT(submit1(f, &t, 1, NULL, 0, &oh, 1), 0);
	CHECK(prep(f, oh, in_ms(5000)) > 0); /* PREP only waits: the error is invisible */
	CHECK_EQ_INT(npu_kfile_bo_status(f, oh, msg, sizeof(msg)), -ETIMEDOUT);
	CHECK(strstr(msg, "DMA write fault") != NULL);
	/* regcmd outside any BO: the fetch faults */
	t.regcmd = 0x40000000u;
	CHECK_EQ_INT(submit1(f, &t, 1, NULL, 0, &oh, 1), 0);
	CHECK(prep(f, oh, in_ms(5000)) > 0);
	CHECK_EQ_INT(npu_kfile_bo_status(f, oh, msg, sizeof(msg)), -ETIMEDOUT);
	CHECK(strstr(msg, "DMA read fault") != NULL);
	npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = cmd.c.handle });
	npu_kfile_ioctl(f, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = oh });
	munmap(cmd.map, 4096);
	munmap(out.map, 4096);
}

/* Two files: separate address spaces (same IOVA, different memory); a BO
 * closed while a queued job uses it lives until the job ran; closing a file
 * with work queued runs it first. */
static void test_files(npu_kdev *kdev)
{
	npu_kfile *f1, *f2;
	struct bo a1, a2, cmd;
	struct drm_rocket_task t;
	uint32_t oh;

	REQUIRE(npu_kfile_open(kdev, &f1) == 0);
	REQUIRE(npu_kfile_open(kdev, &f2) == 0);
	create_bo(f1, 4096, &a1);
	create_bo(f2, 4096, &a2);
	CHECK_EQ_INT(a1.c.dma_address, a2.c.dma_address);
	a1.map[0] = 1;
	a2.map[0] = 2;
	CHECK(a1.map[0] == 1 && a2.map[0] == 2);

	create_bo(f1, 4096, &cmd);
	((uint64_t *)cmd.map)[0] = fake_fill(0x33, (uint32_t)a1.c.dma_address, 2);
	t = (struct drm_rocket_task){ (uint32_t)cmd.c.dma_address, 2 };
	oh = a1.c.handle;
	/* the regcmd BO is listed as input so that the job holds it too (an
	 * unlisted regcmd BO closed before the job runs is unmapped: the
	 * fetch faults, see test_hang) */
	CHECK_EQ_INT(submit1(f1, &t, 1, (uint32_t[]){ cmd.c.handle }, 1, &oh, 1), 0);
	/* close both handles; the job keeps the BOs */
	npu_kfile_ioctl(f1, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = cmd.c.handle });
	npu_kfile_ioctl(f1, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = oh });
	CHECK_EQ_INT(prep(f1, oh, 0), -ENOENT);
	npu_kfile_release(f1, false); /* runs the job, then frees */
	/* as in the kernel, the CPU mapping outlives handle and file */
	CHECK_EQ_INT(a1.map[31], 0x33);
	CHECK_EQ_INT(a1.map[32], 0);
	npu_kfile_release(f2, false);
	munmap(a1.map, 4096);
	munmap(a2.map, 4096);
	munmap(cmd.map, 4096);
}

int main(void)
{
	npu_kdev *kdev = make_kdev(3);
	npu_kfile *f;

	REQUIRE(npu_kfile_open(kdev, &f) == 0);
	test_version(f);
	test_bos(f);
	test_job_flow(f);
	test_submit_rules(f);
	test_hang(f);
	npu_kfile_release(f, false);
	test_files(kdev);
	npu_kdev_put(kdev);
	return rb_test_finish();
}
