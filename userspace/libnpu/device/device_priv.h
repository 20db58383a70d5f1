/* SPDX-License-Identifier: MIT */
/* Internals of npu_device (npu_device.h), shared by the device layer's
 * files and the capture writer. */
#ifndef NPU_DEVICE_PRIV_H
#define NPU_DEVICE_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npu/npu_device.h"
#include "npu_kmodel.h"

/* What the device knows about one of its live BOs (indexed by handle). */
struct dev_bo {
	bool live;
	uint32_t size;
	uint64_t iova;
	uint64_t mmap_offset;
	void *map;
	size_t map_size;
};

struct npu_device {
	int fd;                  /* the accel fd, or the simulated file's memfd */
	npu_kfile *kfile;        /* simulator: ioctls go to the kernel model */
	npu_kdev *kdev;
	char path[64];
	char name[192];
	char desc[96];           /* DRM_IOCTL_VERSION desc */
	char err[384];
	struct dev_bo *bos;      /* index = GEM handle */
	uint32_t bo_cap;
	uint32_t live_bos;
	char *capture_prefix;    /* NULL: not capturing */
};

/* A device on an existing kernel model (the shim's or a test's). */
int npu_device_open_kdev(npu_kdev *kdev, npu_device **out);

void dev_set_error(npu_device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The ioctl through the device's transport: >= 0 or -errno; on error the
 * message names `name` and the errno. */
int dev_ioctl(npu_device *dev, unsigned long request, void *arg, const char *name);
const struct dev_bo *dev_bo_lookup(const npu_device *dev, uint32_t handle);
/* Checks that `bo` is a live BO of `dev` (same handle, address and map). */
bool dev_bo_valid(const npu_device *dev, const npu_bo *bo);
/* Submit one validated job through the uAPI. */
int dev_submit_raw(npu_device *dev, const npu_job *jobs, uint32_t job_count);

/* capture (userspace/libnpu/capture/capture_device.c) */
int dev_capture_submit(npu_device *dev, const npu_job *job);
void dev_capture_stop(npu_device *dev);

#endif
