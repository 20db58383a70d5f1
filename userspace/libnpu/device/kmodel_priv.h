/* SPDX-License-Identifier: MIT */
/* Private state of the kernel model (npu_kmodel.h), shared by its files:
 * kmodel.c (device, files, BOs, ioctl dispatch), kmodel_job.c (SUBMIT,
 * scheduling, fences, PREP_BO), kmodel_kick.c (per-task MMIO sequence). */
#ifndef NPU_KMODEL_PRIV_H
#define NPU_KMODEL_PRIV_H

#include <pthread.h>
#include <stdarg.h>

#include "iova.h"
#include "npu/rocket_uapi.h"
#include "npu_kmodel.h"

/* dma_fence of one job. signal_ns is when it signals (now for a job that
 * completed, start + job timeout for one that hung). */
struct kfence {
	unsigned refs;
	bool ran;          /* the job left the queue (ran or hung) */
	int error;         /* 0, or the error a hung job's fence carries */
	uint64_t signal_ns;
	char msg[384];     /* why it failed */
};

struct kbo {
	uint32_t handle;          /* 0 once GEM_CLOSE released the handle */
	unsigned refs;            /* the handle + every queued job using it */
	uint32_t user_size;
	uint64_t size;            /* page aligned: what the IOMMU maps */
	uint64_t iova;
	uint64_t offset;          /* mmap offset = memfd file offset */
	uint8_t *map;             /* the model's own view (DMA) */
	struct kfence *write_fence; /* last job that writes it */
};

struct kjob {
	struct kjob *next;
	uint32_t task_count;
	struct drm_rocket_task *tasks;
	struct kbo **bos;         /* in BOs then out BOs, each holds a ref */
	uint32_t in_count, out_count;
	struct kfence *fence;
};

struct kcore {
	void *sim;
	bool busy;                /* a job is executing on it right now */
	uint64_t free_ns;         /* after a hang: when the reset is over */
};

struct npu_kdev {
	npu_kdev_config cfg;
	pthread_mutex_t lock;     /* cores, files, mem_used, refs */
	pthread_cond_t core_freed;
	unsigned refs;            /* the creator + every open file */
	struct kcore cores[NPU_KMODEL_MAX_CORES];
	unsigned core_count;
	uint64_t mem_used;
};

struct npu_kfile {
	npu_kdev *kdev;
	pthread_mutex_t lock;
	int memfd;
	uint64_t memfd_size;
	uint64_t next_offset;
	npu_iova_space iova;      /* owner of each range: its struct kbo */
	struct kbo **handles;     /* index = GEM handle; [0] unused */
	uint32_t handle_cap;
	struct kjob *queue_head, *queue_tail;
	uint64_t last_signal_ns;  /* the entity runs its jobs one after the other */
	npu_iova_range *freed;    /* memfd ranges of freed BOs not yet given back */
	size_t freed_count, freed_cap;
	uint64_t freed_bytes;
	npu_sim_stats stats;
	npu_sim_mem mem;
};

/* kmodel.c */
void kmodel_log(npu_kdev *kdev, enum npu_klog_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
uint64_t kmodel_now_ns(void);
/* 0 or -EFAULT (the user range is not readable / writable). */
int kmodel_copy_from_user(void *dst, const void *user_src, size_t n);
int kmodel_copy_to_user(void *user_dst, const void *src, size_t n);
void kmodel_sleep_until(uint64_t ns);
struct kbo *kmodel_lookup(npu_kfile *f, uint32_t handle);
void kmodel_bo_put(npu_kfile *f, struct kbo *bo);
void kmodel_fence_put(struct kfence *fence);

/* kmodel_job.c */
long kmodel_submit(npu_kfile *f, struct drm_rocket_submit *args);
long kmodel_prep_bo(npu_kfile *f, uint32_t handle, int64_t timeout_ns);
/* Run queued jobs in order up to and including `until` (NULL: all). Called
 * with f->lock held; may drop and retake it while it waits for a core. */
void kmodel_run_queue(npu_kfile *f, const struct kjob *until);

#endif
