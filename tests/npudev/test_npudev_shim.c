/* SPDX-License-Identifier: MIT */
/* Runs with the shim preloaded (built on the fake core): the fake
 * /dev/accel/accel0 seen through plain libc and libdrm calls the way other
 * rocket userspace (Mesa) uses it, then libnpu's real device layer,
 * unmodified, on top of it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>

#include "fake_core.h"
#include "npu/npu_capture.h"
#include "npu/npu_device.h"
#include "npu/rocket_uapi.h"
#include "test.h"

#define MS (1000ll * 1000)

extern int __open_2(const char *path, int flags);

static int64_t deadline_in(int64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec + ns;
}

/* What Mesa's pipe-loader and rocket winsys do: open O_RDWR|O_CLOEXEC,
 * drmGetVersion for the driver name, dup with F_DUPFD_CLOEXEC, close the
 * original, work on the dup, mmap BOs through it. */
static void test_raw(void)
{
	int fd = open("/dev/accel/accel0", O_RDWR | O_CLOEXEC), dup_fd, fd2;
	drmVersionPtr v;
	struct drm_rocket_create_bo c = { .size = 4096 };
	struct drm_rocket_prep_bo p = { 0 };
	uint8_t *map;

	REQUIRE(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	v = drmGetVersion(fd);
	REQUIRE(v);
	CHECK_STR(v->name, "rocket");
	CHECK(strstr(v->desc, "simulator") != NULL);
	drmFreeVersion(v);
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	REQUIRE(dup_fd >= 0);
	CHECK_EQ_INT(drmIoctl(dup_fd, DRM_IOCTL_ROCKET_CREATE_BO, &c), 0);
	CHECK_EQ_INT(c.handle, 1);
	CHECK_EQ_INT(c.dma_address, 0);
	CHECK_EQ_INT(close(fd), 0);
	/* the dup keeps the file: same handle still valid */
	p.handle = c.handle;
	p.timeout_ns = deadline_in(10 * MS);
	CHECK(ioctl(dup_fd, DRM_IOCTL_ROCKET_PREP_BO, &p) > 0); /* 6.18: positive */
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dup_fd, (off_t)c.offset);
	REQUIRE(map != MAP_FAILED);
	map[0] = 7;
	/* errors come back as -1/errno like a kernel's */
	p.handle = 77;
	CHECK_EQ_INT(ioctl(dup_fd, DRM_IOCTL_ROCKET_PREP_BO, &p), -1);
	CHECK_EQ_INT(errno, ENOENT);
	/* a second open is a second file: its own handles and addresses */
	fd2 = __open_2("/dev/accel/accel0", O_RDWR);
	REQUIRE(fd2 >= 0);
	CHECK(!(fcntl(fd2, F_GETFD) & FD_CLOEXEC));
	c = (struct drm_rocket_create_bo){ .size = 100 };
	CHECK_EQ_INT(ioctl(fd2, DRM_IOCTL_ROCKET_CREATE_BO, &c), 0);
	CHECK_EQ_INT(c.handle, 1);
	CHECK_EQ_INT(c.dma_address, 0);
	CHECK_EQ_INT(close(fd2), 0);
	CHECK_EQ_INT(close(dup_fd), 0); /* last fd: the file is released */
	/* (qemu-user answers ioctls it cannot translate with ENOSYS itself) */
	CHECK_EQ_INT(ioctl(dup_fd, DRM_IOCTL_ROCKET_PREP_BO, &p), -1);
	CHECK(errno == EBADF || errno == ENOSYS);
	CHECK_EQ_INT(map[0], 7); /* the mapping outlives the file, as in the kernel */
	munmap(map, 4096);
	/* other files are untouched */
	fd = openat(AT_FDCWD, "/dev/null", O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ_INT(ioctl(fd, DRM_IOCTL_ROCKET_PREP_BO, &p), -1);
	CHECK(errno == ENOTTY || errno == EINVAL || errno == ENOSYS);
	close(fd);
}

static int run_fill(npu_device *dev, npu_bo *cmd, npu_bo *out, uint8_t byte, bool hang)
{
	npu_task t = { (uint32_t)cmd->iova, 2 };
	const npu_bo *ins[1] = { cmd }, *outs[1] = { out };
	npu_job job = { .tasks = &t, .task_count = 1, .in_bos = ins, .in_count = 1,
			.out_bos = outs, .out_count = 1 };
	uint64_t *e = cmd->map;

	e[0] = hang ? fake_hang() : fake_fill(byte, (uint32_t)out->iova, 2);
	e[1] = 0;
	npu_bo_fini(dev, cmd);
	return npu_submit(dev, &job, 1);
}

/* libnpu's real device layer, unmodified, through the shim. */
static void test_device_layer(void)
{
	npu_device *devs[3];
	npu_bo cmd, out, other;

	unsetenv("NPU_DEVICE");
	REQUIRE(npu_device_open_contexts(NULL, 3, devs) == 0);
	CHECK(!npu_device_is_sim(devs[0]));
	CHECK(strstr(npu_device_name(devs[0]), "rocket /dev/accel/accel0") != NULL);
	REQUIRE(npu_bo_create(devs[0], 4096, &cmd) == 0);
	REQUIRE(npu_bo_create(devs[0], 4096, &out) == 0);
	REQUIRE(npu_bo_create(devs[1], 4096, &other) == 0);
	CHECK_EQ_INT(other.iova, cmd.iova); /* separate address spaces */

	CHECK_EQ_INT(run_fill(devs[0], &cmd, &out, 0x3c, false), 0);
	CHECK_EQ_INT(npu_bo_prep(devs[0], &out, NPU_DEVICE_DEFAULT_TIMEOUT_NS), 0);
	CHECK_EQ_INT(((uint8_t *)out.map)[31], 0x3c);
	CHECK_EQ_INT(((uint8_t *)out.map)[32], 0);

	/* A hung job, seen through the real uAPI: a short wait times out; a
	 * wait past the kernel's reset succeeds without telling (silicon
	 * behaves the same), the data is simply not there. */
	memset(out.map, 0, 64);
	CHECK_EQ_INT(run_fill(devs[0], &cmd, &out, 0, true), 0);
	CHECK_EQ_INT(npu_bo_prep(devs[0], &out, 10 * MS), -ETIMEDOUT);
	CHECK_EQ_INT(npu_bo_prep(devs[0], &out, NPU_DEVICE_DEFAULT_TIMEOUT_NS), 0);
	CHECK_EQ_INT(((uint8_t *)out.map)[0], 0);
	/* and the next job works */
	CHECK_EQ_INT(run_fill(devs[0], &cmd, &out, 0x4d, false), 0);
	CHECK_EQ_INT(npu_bo_prep(devs[0], &out, NPU_DEVICE_DEFAULT_TIMEOUT_NS), 0);
	CHECK_EQ_INT(((uint8_t *)out.map)[0], 0x4d);

	/* capture works on the "hardware" path and names the device */
	{
		char prefix[64], path[96], v[96], err[256];
		npu_capture cap;

		snprintf(prefix, sizeof(prefix), "/tmp/npudev-shim-%d", (int)getpid());
		snprintf(path, sizeof(path), "%s-0.npucap", prefix);
		CHECK_EQ_INT(npu_device_set_capture(devs[0], prefix), 0);
		CHECK_EQ_INT(run_fill(devs[0], &cmd, &out, 0x5e, false), 0);
		CHECK_EQ_INT(npu_device_set_capture(devs[0], NULL), 0);
		REQUIRE(npu_capture_read(path, &cap, err, sizeof(err)) == 0);
		CHECK_EQ_INT(npu_capture_info_get(&cap, "device", v, sizeof(v)), 0);
		CHECK_STR(v, "rocket");
		CHECK_EQ_INT(npu_capture_info_get(&cap, "driver_desc", v, sizeof(v)), 0);
		CHECK(strstr(v, "simulator") != NULL);
		CHECK_EQ_INT(cap.bo_count, 2);
		npu_capture_free(&cap);
		unlink(path);
	}
	/* close with BOs alive */
	for (int i = 0; i < 3; i++)
		npu_device_close(devs[i]);
}

int main(void)
{
	test_raw();
	test_device_layer();
	return rb_test_finish();
}
