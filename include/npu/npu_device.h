/* SPDX-License-Identifier: MIT */
/* libnpu device layer: one `npu_device` is one open context of the mainline
 * rocket DRM-accel driver (one fd), or the in-process simulator behind the
 * same interface. Buffers (BOs) and their NPU addresses (IOVAs) belong to one
 * device: the kernel gives every fd its own IOMMU domain.
 *
 * uAPI facts: include/uapi/drm/rocket_accel.h (Linux 6.18), see
 * docs/npu-mainline-status.md#uapi and userspace/libnpu/device/README.md (what
 * the kernel does with each call). All functions return 0 or a negative errno
 * value; npu_device_error() then names the operation (ioctl) and errno. */
#ifndef NPU_DEVICE_H
#define NPU_DEVICE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npu_device npu_device;
struct npu_sim_config;
struct npu_sim_stats;

/* The RK3588 has 3 NPU cores; one fd (context) runs one job at a time on one
 * of them (rocket_job.c and the DRM scheduler, see the device README), so up
 * to 3 contexts keep all cores busy. */
#define NPU_DEVICE_MAX_CONTEXTS 3
/* A generous deadline for npu_bo_prep callers: the kernel kills a job after
 * 500 ms, so this only matters for queues of many jobs. */
#define NPU_DEVICE_DEFAULT_TIMEOUT_NS (10ll * 1000 * 1000 * 1000)

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
 * overrides). The path "sim" opens the in-process simulator instead, so
 * NPU_DEVICE=sim runs any libnpu program without an NPU. -ENODEV when there
 * is none; npu_device_error(NULL) then says what was found and what to
 * check. */
int npu_device_open(const char *path, npu_device **out);
/* In-process simulator with the kernel driver's semantics (cfg may be NULL
 * for defaults). -ENOSYS when libnpu was built without the simulator. */
int npu_device_open_sim(const struct npu_sim_config *cfg, npu_device **out);
/* `count` (1..NPU_DEVICE_MAX_CONTEXTS) contexts of the same device: separate
 * fds, so separate NPU address spaces (a BO belongs to one context) and
 * separate job queues that the kernel can run on different cores at once.
 * 0 and out[0..count-1], or a negative errno with nothing left open. The sim
 * variant puts all contexts on one simulated device with 3 cores. */
int npu_device_open_contexts(const char *path, unsigned count, npu_device **out);
int npu_device_open_sim_contexts(const struct npu_sim_config *cfg, unsigned count,
				 npu_device **out);
/* Frees every BO still alive (unmaps, GEM_CLOSE) and closes the fd. Jobs
 * still queued run to completion first (the kernel flushes the queue). */
void npu_device_close(npu_device *dev);

/* Last error, e.g. "DRM_IOCTL_ROCKET_SUBMIT: Invalid argument (errno 22)".
 * dev == NULL: the last failed open on this thread. */
const char *npu_device_error(const npu_device *dev);
/* "rocket /dev/accel/accel0 (<DRM desc>)", or "sim". */
const char *npu_device_name(const npu_device *dev);
int npu_device_is_sim(const npu_device *dev);
/* NPU cores the kernel can spread contexts over: the simulator's count; on
 * hardware the cores bound to the rocket driver in sysfs (3 if unreadable). */
unsigned npu_device_core_count(const npu_device *dev);
/* Simulator only: totals (tasks, MACs, bytes, cycle estimate) of the tasks
 * this context ran. -ENODEV on hardware. */
int npu_device_sim_stats(const npu_device *dev, struct npu_sim_stats *out);

/* size > 0; the NPU address is page aligned and below 4 GiB. The BO is
 * mapped for the CPU (bo->map, read+write, whole pages). */
int npu_bo_create(npu_device *dev, uint32_t size, npu_bo *bo);
/* Unmap and release; bo is zeroed. A BO still used by a queued job lives on
 * in the kernel until that job is done. */
void npu_bo_destroy(npu_device *dev, npu_bo *bo);
/* Wait until no job writes bo any more (absolute deadline = now + timeout_ns)
 * and make it coherent for the CPU: -ETIMEDOUT on timeout, -EBUSY when
 * timeout_ns == 0 (poll) and a job is still writing. On the simulator a job
 * that hung (the kernel resets the core after 500 ms and signals the fence
 * without telling userspace) gives -EIO naming the task; on silicon the
 * uAPI cannot report that (see docs/npu-programming.md). */
int npu_bo_prep(npu_device *dev, const npu_bo *bo, int64_t timeout_ns);
/* CPU writes done: make them visible to the device. */
int npu_bo_fini(npu_device *dev, const npu_bo *bo);

/* Queue jobs (returns when queued; completion is observed with npu_bo_prep
 * on an out BO). Everything the kernel would silently drop is refused here
 * with -EINVAL and a message: no tasks, regcmd_count 0 or > 131072 (the PC's
 * 16-bit amount), a regcmd not 16-byte aligned or not inside one BO of this
 * device, a BO of another device or already destroyed, no out BO. */
int npu_submit(npu_device *dev, const npu_job *jobs, uint32_t job_count);

/* Capture every submitted job to files "<prefix>-<n>.npucap" (regcmd, tasks,
 * BO contents before and after). prefix NULL stops capturing. Env
 * NPU_CAPTURE=<prefix> turns it on at open. Format: docs/npu-capture-format.md */
int npu_device_set_capture(npu_device *dev, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
