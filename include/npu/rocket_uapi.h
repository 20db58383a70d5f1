/* SPDX-License-Identifier: MIT */
/* The mainline Linux "rocket" DRM-accel uAPI (RK3588 NPU), declared from the
 * published layout of include/uapi/drm/rocket_accel.h as merged for Linux 6.18
 * (torvalds/linux f088104d837a, the 4-ioctl revision; the older 2-ioctl draft
 * 0810d5ad88a1 had CREATE_BO and SUBMIT only). Field meanings and the kernel's
 * handling of each field: docs/npu-mainline-status.md#uapi,
 * userspace/libnpu/device/README.md and the comments below.
 *
 * If the system's <drm/rocket_accel.h> was included first, its definitions are
 * used and only the layout checks at the end of this file apply to them. */
#ifndef NPU_ROCKET_UAPI_H
#define NPU_ROCKET_UAPI_H

#include <stddef.h>
#include <drm.h> /* libdrm's copy of the DRM core uAPI: DRM_IOWR, DRM_COMMAND_BASE, __u32 */

#ifdef __cplusplus
extern "C" {
#endif

#ifndef __DRM_UAPI_ROCKET_ACCEL_H__
#define __DRM_UAPI_ROCKET_ACCEL_H__

#define DRM_ROCKET_CREATE_BO 0x00
#define DRM_ROCKET_SUBMIT    0x01
#define DRM_ROCKET_PREP_BO   0x02
#define DRM_ROCKET_FINI_BO   0x03

/* Allocate a shmem BO and map it read+write into the file's own IOMMU domain
 * at a PAGE_SIZE-aligned address (rocket_gem.c). */
struct drm_rocket_create_bo {
	__u32 size;        /* in: bytes (the kernel maps whole pages) */
	__u32 handle;      /* out: GEM handle, private to the fd */
	__u64 dma_address; /* out: NPU-side IOVA (32-bit aperture), private to the fd */
	__u64 offset;      /* out: fake offset for mmap() on the accel fd */
};

/* One hardware kick: the PC fetches regcmd_count 64-bit entries. */
struct drm_rocket_task {
	__u32 regcmd;       /* in: IOVA of the first entry; PC_BASE_ADDRESS keeps bits 31:4 */
	__u32 regcmd_count; /* in: entries, > 0 (the kernel drops the job otherwise) */
};

/* Tasks run in order on one core. The job's fence is attached (as a WRITE
 * fence) to the out BOs only: PREP_BO waits for a job only through them. */
struct drm_rocket_job {
	__u64 tasks;               /* in: user pointer, array of drm_rocket_task */
	__u64 in_bo_handles;       /* in: user pointer, __u32 handles the job reads */
	__u64 out_bo_handles;      /* in: user pointer, __u32 handles the job writes */
	__u32 task_count;          /* in: > 0 */
	__u32 task_struct_size;    /* in: stride of tasks[], >= sizeof(struct drm_rocket_task) */
	__u32 in_bo_handle_count;  /* in */
	__u32 out_bo_handle_count; /* in */
};

/* Queue jobs. The ioctl fails only for the outer struct (stride, reserved,
 * copy-in); a bad individual job is dropped silently (rocket_job.c). */
struct drm_rocket_submit {
	__u64 jobs;            /* in: user pointer, array of drm_rocket_job */
	__u32 job_count;       /* in: 0 -> returns 0 at once */
	__u32 job_struct_size; /* in: stride of jobs[], >= sizeof(struct drm_rocket_job) */
	__u64 reserved;        /* in: must be 0 */
};

/* Begin CPU access: wait for the BO's WRITE fences, then sync for the CPU. */
struct drm_rocket_prep_bo {
	__u32 handle;     /* in */
	__u32 reserved;   /* in: must be 0 */
	__s64 timeout_ns; /* in: ABSOLUTE CLOCK_MONOTONIC deadline; 0 = poll */
};

/* End CPU access: sync for the device. */
struct drm_rocket_fini_bo {
	__u32 handle;   /* in */
	__u32 reserved; /* in: must be 0 */
};

#define DRM_IOCTL_ROCKET_CREATE_BO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_ROCKET_CREATE_BO, struct drm_rocket_create_bo)
#define DRM_IOCTL_ROCKET_SUBMIT \
	DRM_IOW(DRM_COMMAND_BASE + DRM_ROCKET_SUBMIT, struct drm_rocket_submit)
#define DRM_IOCTL_ROCKET_PREP_BO \
	DRM_IOW(DRM_COMMAND_BASE + DRM_ROCKET_PREP_BO, struct drm_rocket_prep_bo)
#define DRM_IOCTL_ROCKET_FINI_BO \
	DRM_IOW(DRM_COMMAND_BASE + DRM_ROCKET_FINI_BO, struct drm_rocket_fini_bo)

#endif /* __DRM_UAPI_ROCKET_ACCEL_H__ */

/* DRM driver name of the accel node (rocket_drv.c: drm_driver.name). */
#define ROCKET_DRM_DRIVER_NAME "rocket"

/* Layout checks: every size and offset of the 6.18 uAPI (rocket_accel.h). */
#define ROCKET_UAPI_CHECK_OFF(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), #type "." #field " offset")

_Static_assert(sizeof(struct drm_rocket_create_bo) == 24, "drm_rocket_create_bo size");
ROCKET_UAPI_CHECK_OFF(drm_rocket_create_bo, size, 0);
ROCKET_UAPI_CHECK_OFF(drm_rocket_create_bo, handle, 4);
ROCKET_UAPI_CHECK_OFF(drm_rocket_create_bo, dma_address, 8);
ROCKET_UAPI_CHECK_OFF(drm_rocket_create_bo, offset, 16);

_Static_assert(sizeof(struct drm_rocket_task) == 8, "drm_rocket_task size");
ROCKET_UAPI_CHECK_OFF(drm_rocket_task, regcmd, 0);
ROCKET_UAPI_CHECK_OFF(drm_rocket_task, regcmd_count, 4);

_Static_assert(sizeof(struct drm_rocket_job) == 40, "drm_rocket_job size");
ROCKET_UAPI_CHECK_OFF(drm_rocket_job, tasks, 0);
ROCKET_UAPI_CHECK_OFF(drm_rocket_job, in_bo_handles, 8);
ROCKET_UAPI_CHECK_OFF(drm_rocket_job, out_bo_handles, 16);
ROCKET_UAPI_CHECK_OFF(drm_rocket_job, task_count, 24);
ROCKET_UAPI_CHECK_OFF(drm_rocket_job, task_struct_size, 28);
ROCKET_UAPI_CHECK_OFF(drm_rocket_job, in_bo_handle_count, 32);
ROCKET_UAPI_CHECK_OFF(drm_rocket_job, out_bo_handle_count, 36);

_Static_assert(sizeof(struct drm_rocket_submit) == 24, "drm_rocket_submit size");
ROCKET_UAPI_CHECK_OFF(drm_rocket_submit, jobs, 0);
ROCKET_UAPI_CHECK_OFF(drm_rocket_submit, job_count, 8);
ROCKET_UAPI_CHECK_OFF(drm_rocket_submit, job_struct_size, 12);
ROCKET_UAPI_CHECK_OFF(drm_rocket_submit, reserved, 16);

_Static_assert(sizeof(struct drm_rocket_prep_bo) == 16, "drm_rocket_prep_bo size");
ROCKET_UAPI_CHECK_OFF(drm_rocket_prep_bo, handle, 0);
ROCKET_UAPI_CHECK_OFF(drm_rocket_prep_bo, reserved, 4);
ROCKET_UAPI_CHECK_OFF(drm_rocket_prep_bo, timeout_ns, 8);

_Static_assert(sizeof(struct drm_rocket_fini_bo) == 8, "drm_rocket_fini_bo size");
ROCKET_UAPI_CHECK_OFF(drm_rocket_fini_bo, handle, 0);
ROCKET_UAPI_CHECK_OFF(drm_rocket_fini_bo, reserved, 4);

/* ioctl numbers: 'd' type, DRM_COMMAND_BASE 0x40, generic _IOC encoding
 * (x86-64 and arm64 share it); the numbers: docs/npu-mainline-status.md#uapi. */
_Static_assert(DRM_COMMAND_BASE == 0x40, "DRM_COMMAND_BASE");
_Static_assert(DRM_IOCTL_ROCKET_CREATE_BO == 0xC0186440u, "DRM_IOCTL_ROCKET_CREATE_BO");
_Static_assert(DRM_IOCTL_ROCKET_SUBMIT == 0x40186441u, "DRM_IOCTL_ROCKET_SUBMIT");
_Static_assert(DRM_IOCTL_ROCKET_PREP_BO == 0x40106442u, "DRM_IOCTL_ROCKET_PREP_BO");
_Static_assert(DRM_IOCTL_ROCKET_FINI_BO == 0x40086443u, "DRM_IOCTL_ROCKET_FINI_BO");

#undef ROCKET_UAPI_CHECK_OFF

#ifdef __cplusplus
}
#endif
#endif
