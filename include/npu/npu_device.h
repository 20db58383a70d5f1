/* SPDX-License-Identifier: MIT */
/* libnpu device layer: one `npu_device` is one open context of the mainline
 * rocket DRM-accel driver (one fd), or the in-process simulator behind the
 * same interface. Buffers (BOs) and their NPU addresses (IOVAs) belong to one
 * device: the kernel gives every fd its own IOMMU domain.
 *
 * uAPI facts: include/uapi/drm/rocket_accel.h (Linux 6.18), see
 * docs/npu-programming.md §uAPI. All functions return 0 or a negative errno
 * value; npu_device_error() then names the operation (ioctl) and errno. */
#ifndef NPU_DEVICE_H
#define NPU_DEVICE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npu_device npu_device;
struct npu_sim_config;

typedef struct npu_bo {
	uint32_t handle;      /* GEM handle */
	uint32_t size;        /* bytes (as requested) */
	uint64_t iova;        /* NPU-side address, private to this device */
	uint64_t mmap_offset; /* fake offset for mmap on the device fd */
	void *map;            /* CPU mapping (mmapped at create) */
} npu_bo;

/* One hardware kick: PC fetches regcmd_count 64-bit entries from regcmd_iova
 * (16-byte aligned, < 4 GiB). */
typedef struct npu_task {
	uint32_t regcmd_iova;
	uint32_t regcmd_count;
} npu_task;

/* Tasks of one job run in order on one core. Every BO the job writes must be
 * in out_bos (the kernel attaches the job's fence only to those). */
typedef struct npu_job {
	const npu_task *tasks;
	uint32_t task_count;
	const npu_bo *const *in_bos;
	uint32_t in_count;
	const npu_bo *const *out_bos;
	uint32_t out_count;
} npu_job;

/* Open the rocket accel node at `path`, or (path == NULL) the first
 * /dev/accel/accel* whose DRM driver name is "rocket" (env NPU_DEVICE
 * overrides). -ENODEV when there is none. */
int npu_device_open(const char *path, npu_device **out);
/* In-process simulator with the kernel driver's semantics (cfg may be NULL
 * for defaults). */
int npu_device_open_sim(const struct npu_sim_config *cfg, npu_device **out);
void npu_device_close(npu_device *dev);

/* Last error, e.g. "DRM_IOCTL_ROCKET_SUBMIT: Invalid argument (errno 22)". */
const char *npu_device_error(const npu_device *dev);
/* "rocket" + node path, or "sim". */
const char *npu_device_name(const npu_device *dev);
int npu_device_is_sim(const npu_device *dev);

int npu_bo_create(npu_device *dev, uint32_t size, npu_bo *bo);
void npu_bo_destroy(npu_device *dev, npu_bo *bo);
/* Wait until no job writes bo any more (absolute deadline = now + timeout_ns)
 * and make it coherent for the CPU: -ETIMEDOUT on timeout. */
int npu_bo_prep(npu_device *dev, const npu_bo *bo, int64_t timeout_ns);
/* CPU writes done: make them visible to the device. */
int npu_bo_fini(npu_device *dev, const npu_bo *bo);

/* Queue jobs (returns when queued; completion is observed with npu_bo_prep
 * on an out BO). */
int npu_submit(npu_device *dev, const npu_job *jobs, uint32_t job_count);

/* Capture every submitted job to files "<prefix>-<n>.npucap" (regcmd, tasks,
 * BO contents before and after). prefix NULL stops capturing. Env
 * NPU_CAPTURE=<prefix> turns it on at open. Format: docs/npu-capture-format.md */
int npu_device_set_capture(npu_device *dev, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
