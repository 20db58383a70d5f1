/* SPDX-License-Identifier: MIT */
/* libnpu-capture.so preloaded in front of the (fake-core) simulator shim,
 * with NPU_CAPTURE set: a program that knows nothing of captures submits two
 * dependent jobs in one SUBMIT with raw ioctls; each job must come out as
 * its own capture with the right buffers, before and after, and replay
 * identically. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_core.h"
#include "npu/npu_capture.h"
#include "npu/rocket_uapi.h"
#include "test.h"

struct bo {
	struct drm_rocket_create_bo c;
	uint8_t *map;
};

static void create(int fd, uint32_t size, struct bo *b)
{
	b->c = (struct drm_rocket_create_bo){ .size = size };
	REQUIRE(ioctl(fd, DRM_IOCTL_ROCKET_CREATE_BO, &b->c) == 0);
	b->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)b->c.offset);
	REQUIRE(b->map != MAP_FAILED);
}

int main(void)
{
	const char *prefix = getenv("NPU_CAPTURE");
	char dir[512], path[600], err[256];
	int fd;
	struct bo cmd, in, mid, out, other;
	uint64_t *e;
	struct drm_rocket_task t1, t2;
	uint32_t h_cmd, h_in, h_mid, h_out;
	struct drm_rocket_job jobs[2];
	struct drm_rocket_submit s;
	npu_capture cap;
	npu_replay_result res;

	REQUIRE(prefix);
	snprintf(dir, sizeof(dir), "%s", prefix);
	mkdir(dirname(dir), 0755);
	fd = open("/dev/accel/accel0", O_RDWR | O_CLOEXEC);
	REQUIRE(fd >= 0);
	create(fd, 4096, &cmd);
	create(fd, 4096, &in);
	create(fd, 4096, &mid);
	create(fd, 4096, &out);
	create(fd, 4096, &other);
	for (int i = 0; i < 32; i++)
		in.map[i] = (uint8_t)(i + 1);
	e = (uint64_t *)cmd.map;
	/* job 1: in -> mid, +1 on the first word; job 2: mid -> out */
	e[0] = fake_copy((uint32_t)in.c.dma_address, 2);
	e[1] = fake_copy_dst((uint32_t)mid.c.dma_address);
	e[2] = fake_inc32((uint32_t)mid.c.dma_address, 1);
	e[16] = fake_copy((uint32_t)mid.c.dma_address, 2);
	e[17] = fake_copy_dst((uint32_t)out.c.dma_address);
	t1 = (struct drm_rocket_task){ (uint32_t)cmd.c.dma_address, 4 };
	t2 = (struct drm_rocket_task){ (uint32_t)cmd.c.dma_address + 128, 2 };
	h_cmd = cmd.c.handle;
	h_in = in.c.handle;
	h_mid = mid.c.handle;
	h_out = out.c.handle;
	jobs[0] = (struct drm_rocket_job){ .tasks = (uintptr_t)&t1, .task_count = 1,
					   .task_struct_size = 8, .in_bo_handles = (uintptr_t)&h_in,
					   .in_bo_handle_count = 1, .out_bo_handles = (uintptr_t)&h_mid,
					   .out_bo_handle_count = 1 };
	jobs[1] = (struct drm_rocket_job){ .tasks = (uintptr_t)&t2, .task_count = 1,
					   .task_struct_size = 8, .in_bo_handles = (uintptr_t)&h_cmd,
					   .in_bo_handle_count = 1, .out_bo_handles = (uintptr_t)&h_out,
					   .out_bo_handle_count = 1 };
	s = (struct drm_rocket_submit){ .jobs = (uintptr_t)jobs, .job_count = 2,
					.job_struct_size = sizeof(jobs[0]) };
	CHECK_EQ_INT(ioctl(fd, DRM_IOCTL_ROCKET_SUBMIT, &s), 0);
	CHECK_EQ_INT(out.map[0], 2); /* captured = waited for */
	CHECK_EQ_INT(out.map[31], 32);

	snprintf(path, sizeof(path), "%s-%d-0.npucap", prefix, (int)getpid());
	REQUIRE(npu_capture_read(path, &cap, err, sizeof(err)) == 0);
	CHECK_EQ_INT(cap.task_count, 1);
	CHECK_EQ_INT(cap.tasks[0].regcmd_count, 4);
	CHECK_EQ_INT(cap.bo_count, 3); /* cmd, in, mid: not out, not other */
	for (uint32_t i = 0; i < cap.bo_count; i++) {
		if (cap.bos[i].iova == mid.c.dma_address) {
			CHECK_EQ_INT(cap.bos[i].flags, NPU_CAPTURE_BO_OUT | NPU_CAPTURE_BO_REF);
			CHECK_EQ_INT(cap.bos[i].before[0], 0);
			CHECK_EQ_INT(cap.bos[i].after[0], 2);
		}
		CHECK(cap.bos[i].iova != other.c.dma_address);
	}
	CHECK_EQ_INT(npu_capture_replay_with(&cap, NULL, &fake_core_ops, &res), 0);
	CHECK_EQ_INT(res.bos_compared, 3);
	npu_capture_free(&cap);

	/* job 2 saw job 1's result in its "before" */
	snprintf(path, sizeof(path), "%s-%d-1.npucap", prefix, (int)getpid());
	REQUIRE(npu_capture_read(path, &cap, err, sizeof(err)) == 0);
	for (uint32_t i = 0; i < cap.bo_count; i++)
		if (cap.bos[i].iova == mid.c.dma_address)
			CHECK_EQ_INT(cap.bos[i].before[0], 2);
	CHECK_EQ_INT(npu_capture_replay_with(&cap, NULL, &fake_core_ops, &res), 0);
	npu_capture_free(&cap);
	close(fd);
	return rb_test_finish();
}
