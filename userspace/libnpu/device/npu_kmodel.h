/* SPDX-License-Identifier: MIT */
/* Model of the mainline rocket kernel driver on top of the register-level
 * simulator: what the in-process simulator device and the LD_PRELOAD shim
 * present behind the real uAPI. Internal to libnpu (not a public header).
 *
 * Modelled (sources: Linux 6.18 drivers/accel/rocket/rocket_{drv,gem,job}.c,
 * drivers/gpu/drm/drm_ioctl.c, the DRM scheduler; behaviour by behaviour in
 * userspace/libnpu/device/README.md):
 *   - npu_kdev = the DRM device: N simulated cores (RK3588: 3), each an
 *     npu_sim_core driven only through MMIO, one job at a time per core;
 *   - npu_kfile = one open file: its own 32-bit IOMMU aperture with a
 *     best-fit page-aligned allocator (drm_mm), GEM handles from 1 (idr),
 *     shmem-like BOs in a memfd whose file offsets are the mmap offsets,
 *     a FIFO of jobs (one scheduler entity: in order, one at a time);
 *   - ioctls dispatched by number as drm_ioctl does (nr decides; the struct
 *     is copied in/out with the kernel's size, zero-extended);
 *   - SUBMIT validation and its habit of silently dropping bad jobs;
 *   - per task the driver's 10-step kick (rocket_job_hw_submit), completion
 *     through RAW_STATUS DPU_0/DPU_1, the IRQ thread's register writes;
 *   - a task without DPU completion hangs the core until the job timeout
 *     (500 ms), then the core is reset and the job's fence signals with an
 *     error that PREP_BO does not report (dma_resv_wait_timeout only waits);
 *   - PREP_BO: absolute deadline, 0 or past = poll (-EBUSY), -ETIMEDOUT,
 *     and 6.18's positive return on success.
 *
 * Execution is deferred: SUBMIT only queues; a job runs when something needs
 * its result (PREP_BO on a BO it writes, a later job of the same file that is
 * needed, closing the file). Results are the same as on asynchronous
 * hardware for programs that wait correctly, and deterministic for programs
 * that do not (they read stale data, as they may on the board). */
#ifndef NPU_KMODEL_H
#define NPU_KMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "npu/npu_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NPU_KMODEL_MAX_CORES 3
#define NPU_KMODEL_PAGE_SIZE 4096u
/* rocket_job.c JOB_TIMEOUT_MS */
#define NPU_KMODEL_JOB_TIMEOUT_MS 500u

/* The core behind the model. Default: the register-level simulator
 * (npu_sim.h); tests may install a scripted core. `core` is what create
 * returned. */
typedef struct npu_kcore_ops {
	void *(*create)(int index, const npu_sim_config *cfg);
	void (*destroy)(void *core);
	void (*reset)(void *core);
	int (*mmio_write)(void *core, const npu_sim_mem *mem, uint32_t offset, uint32_t value);
	uint32_t (*mmio_read)(const void *core, uint32_t offset);
	const char *(*error)(const void *core);
	void (*get_stats)(const void *core, npu_sim_stats *total, npu_sim_stats *last_task);
} npu_kcore_ops;

/* NULL when libnpu was built without the simulator core. */
const npu_kcore_ops *npu_kcore_sim_ops(void);

enum npu_klog_level { NPU_KLOG_DEBUG, NPU_KLOG_INFO, NPU_KLOG_ERR };

typedef struct npu_kdev_config {
	npu_sim_config sim;
	unsigned cores;            /* 1..NPU_KMODEL_MAX_CORES, default 3 */
	uint32_t job_timeout_ms;   /* default 500 */
	bool prep_positive;        /* 6.18: PREP_BO returns remaining jiffies (> 0) on success */
	uint64_t mem_limit;        /* bytes of BO memory over all files, default 3 GiB */
	const npu_kcore_ops *core_ops; /* NULL: the simulator */
	/* "dmesg": the driver's messages (job timeouts at ERR, dropped jobs at
	 * DEBUG). NULL: nothing is printed. */
	void (*log)(void *ctx, enum npu_klog_level level, const char *msg);
	void *log_ctx;
} npu_kdev_config;

/* Defaults, then the environment: NPU_SIM_CORES, NPU_SIM_JOB_TIMEOUT_MS,
 * NPU_SIM_MEM_LIMIT_MB, NPU_SIM_CLOCK_HZ, NPU_SIM_STRICT=0|1,
 * NPU_SIM_PREP_POSITIVE=0|1. */
void npu_kdev_config_default(npu_kdev_config *cfg);

typedef struct npu_kdev npu_kdev;
typedef struct npu_kfile npu_kfile;

/* 0, -ENOSYS (no simulator core built in and no core_ops), -ENOMEM. */
int npu_kdev_create(const npu_kdev_config *cfg, npu_kdev **out);
/* The device lives until its last file is released and it is put. */
void npu_kdev_put(npu_kdev *kdev);
unsigned npu_kdev_core_count(const npu_kdev *kdev);

/* drm_open: a new file with its own address space; its fd is a memfd that
 * backs the BOs (mmap(fd, create_bo.offset) maps a BO). */
int npu_kfile_open(npu_kdev *kdev, npu_kfile **out);
int npu_kfile_fd(const npu_kfile *f);
/* drm_release: runs the queued jobs (entity flush), frees every BO, closes
 * the memfd unless `fd_closed` (the shim: the application closed it). */
void npu_kfile_release(npu_kfile *f, bool fd_closed);

/* drm_ioctl: >= 0 or -errno. Handles DRM_IOCTL_VERSION, DRM_IOCTL_GEM_CLOSE
 * and the four rocket ioctls; anything else: -EINVAL (DRM type) / -ENOTTY. */
long npu_kfile_ioctl(npu_kfile *f, unsigned long request, void *arg);

/* Simulator-only insight the uAPI does not give: 0 when the last job that
 * wrote `handle` succeeded or none did, -ETIMEDOUT when it hung (msg gets the
 * reason), -EINPROGRESS while it has not finished, -ENOENT unknown handle. */
int npu_kfile_bo_status(npu_kfile *f, uint32_t handle, char *msg, unsigned msg_len);
/* Totals of the tasks this file ran. */
void npu_kfile_stats(npu_kfile *f, npu_sim_stats *out);

/* Run one task on a bare core the way rocket_job_hw_submit + the IRQ
 * handler do. Returns 0 when the DPU interrupt came, -ETIMEDOUT when it did
 * not (the kernel would wait for the job timeout); msg gets the core's error
 * text. Used by the model and by capture replay. */
int npu_kmodel_run_task(const npu_kcore_ops *ops, void *core, int core_index,
			const npu_sim_mem *mem, uint32_t regcmd, uint32_t regcmd_count,
			char *msg, unsigned msg_len);

/* npu_capture_replay() on a given core implementation (tests). */
struct npu_capture;
struct npu_replay_options;
struct npu_replay_result;
int npu_capture_replay_with(const struct npu_capture *cap, const struct npu_replay_options *opt,
			    const npu_kcore_ops *ops, struct npu_replay_result *res);

/* DRM_IOCTL_VERSION answers of the model. */
#define NPU_KMODEL_DRIVER_DESC "rocket DRM (rosenblatt simulator)"

#ifdef __cplusplus
}
#endif
#endif
