/* SPDX-License-Identifier: MIT */
/* Kernel model, part 2: SUBMIT, the per-file job queue, the cores, fences
 * and PREP_BO (rocket_job.c, rocket_gem.c, drm_sched as used by rocket). */
#include "kmodel_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu/rocket_uapi.h"

/* ---- SUBMIT ------------------------------------------------------------ */

static void job_free(npu_kfile *f, struct kjob *job)
{
	for (uint32_t i = 0; i < job->in_count + job->out_count; i++)
		if (job->bos[i])
			kmodel_bo_put(f, job->bos[i]);
	kmodel_fence_put(job->fence);
	free(job->bos);
	free(job->tasks);
	free(job);
}

/* rocket_copy_tasks: stride task_struct_size, every regcmd_count > 0. */
static int copy_tasks(const struct drm_rocket_job *uj, struct kjob *job, char *why, size_t why_len)
{
	if (uj->task_struct_size < sizeof(struct drm_rocket_task)) {
		snprintf(why, why_len, "task_struct_size %u < %zu", uj->task_struct_size,
			 sizeof(struct drm_rocket_task));
		return -EINVAL;
	}
	job->tasks = calloc(uj->task_count, sizeof(*job->tasks));
	if (!job->tasks)
		return -ENOMEM;
	job->task_count = uj->task_count;
	for (uint32_t i = 0; i < uj->task_count; i++) {
		const uint8_t *src = (const uint8_t *)(uintptr_t)uj->tasks +
				     (uint64_t)i * uj->task_struct_size;

		if (kmodel_copy_from_user(&job->tasks[i], src, sizeof(job->tasks[i]))) {
			snprintf(why, why_len, "task %u: bad tasks pointer", i);
			return -EFAULT;
		}
		if (job->tasks[i].regcmd_count == 0) {
			snprintf(why, why_len, "task %u: regcmd_count 0", i);
			return -EINVAL;
		}
	}
	return 0;
}

/* drm_gem_objects_lookup: copy the handle array, every handle must exist. */
static int lookup_bos(npu_kfile *f, uint64_t uptr, uint32_t count, struct kbo **dst,
		      const char *what, char *why, size_t why_len)
{
	for (uint32_t i = 0; i < count; i++) {
		uint32_t h;

		if (kmodel_copy_from_user(&h, (const uint8_t *)(uintptr_t)uptr + 4ull * i, 4)) {
			snprintf(why, why_len, "bad %s pointer", what);
			return -EFAULT;
		}
		dst[i] = kmodel_lookup(f, h);
		if (!dst[i]) {
			snprintf(why, why_len, "%s[%u]: unknown handle %u", what, i, h);
			return -ENOENT;
		}
		dst[i]->refs++;
	}
	return 0;
}

/* rocket_ioctl_submit_job + rocket_job_push. The job's fence becomes the
 * write fence of each out BO; in BOs get nothing. */
static int submit_job(npu_kfile *f, const struct drm_rocket_job *uj, char *why, size_t why_len)
{
	struct kjob *job;
	int ret;

	if (uj->task_count == 0) {
		snprintf(why, why_len, "task_count 0");
		return -EINVAL;
	}
	if ((uint64_t)uj->in_bo_handle_count + uj->out_bo_handle_count > UINT32_MAX) {
		snprintf(why, why_len, "BO count overflow");
		return -EINVAL;
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->bos = calloc((size_t)uj->in_bo_handle_count + uj->out_bo_handle_count + 1,
			  sizeof(*job->bos));
	job->fence = calloc(1, sizeof(*job->fence));
	if (!job->bos || !job->fence) {
		ret = -ENOMEM;
		goto err;
	}
	job->fence->refs = 1;
	ret = copy_tasks(uj, job, why, why_len);
	if (ret)
		goto err;
	ret = lookup_bos(f, uj->in_bo_handles, uj->in_bo_handle_count, job->bos, "in_bo_handles",
			 why, why_len);
	if (ret)
		goto err;
	job->in_count = uj->in_bo_handle_count;
	ret = lookup_bos(f, uj->out_bo_handles, uj->out_bo_handle_count, job->bos + job->in_count,
			 "out_bo_handles", why, why_len);
	if (ret)
		goto err;
	job->out_count = uj->out_bo_handle_count;
	for (uint32_t i = 0; i < job->out_count; i++) {
		struct kbo *bo = job->bos[job->in_count + i];

		kmodel_fence_put(bo->write_fence);
		bo->write_fence = job->fence;
		job->fence->refs++;
	}
	if (f->queue_tail)
		f->queue_tail->next = job;
	else
		f->queue_head = job;
	f->queue_tail = job;
	return 0;

err:
	/* Only the references taken so far are dropped (they are contiguous,
	 * the array is NULL terminated). */
	for (uint32_t i = 0; job->bos && job->bos[i]; i++)
		kmodel_bo_put(f, job->bos[i]);
	job->in_count = job->out_count = 0;
	job_free(f, job);
	return ret;
}

/* rocket_ioctl_submit: only the outer struct can fail the ioctl; jobs are
 * pushed in order and a failing job is dropped without telling the caller
 * (the return value of rocket_ioctl_submit_job is ignored). */
long kmodel_submit(npu_kfile *f, struct drm_rocket_submit *args)
{
	if (args->job_count == 0)
		return 0;
	if (args->job_struct_size < sizeof(struct drm_rocket_job) || args->reserved)
		return -EINVAL;
	for (uint32_t i = 0; i < args->job_count; i++) {
		struct drm_rocket_job uj;
		char why[160] = "";
		const uint8_t *src = (const uint8_t *)(uintptr_t)args->jobs +
				     (uint64_t)i * args->job_struct_size;

		if (kmodel_copy_from_user(&uj, src, sizeof(uj)))
			return -EFAULT;
		if (submit_job(f, &uj, why, sizeof(why)))
			kmodel_log(f->kdev, NPU_KLOG_DEBUG,
				   "rocket: SUBMIT job %u dropped (%s); the ioctl still returns 0",
				   i, why);
	}
	return 0;
}

/* ---- cores ------------------------------------------------------------- */

/* Claim the idle core that is free soonest (lowest index on ties), like the
 * scheduler picking the least loaded run queue. Returns its index. */
static unsigned claim_core(npu_kdev *kdev)
{
	unsigned best;

	pthread_mutex_lock(&kdev->lock);
	for (;;) {
		best = kdev->core_count;
		for (unsigned i = 0; i < kdev->core_count; i++)
			if (!kdev->cores[i].busy &&
			    (best == kdev->core_count ||
			     kdev->cores[i].free_ns < kdev->cores[best].free_ns))
				best = i;
		if (best < kdev->core_count)
			break;
		pthread_cond_wait(&kdev->core_freed, &kdev->lock);
	}
	kdev->cores[best].busy = true;
	pthread_mutex_unlock(&kdev->lock);
	return best;
}

static void release_core(npu_kdev *kdev, unsigned idx, uint64_t free_ns)
{
	pthread_mutex_lock(&kdev->lock);
	kdev->cores[idx].busy = false;
	kdev->cores[idx].free_ns = free_ns;
	pthread_cond_broadcast(&kdev->core_freed);
	pthread_mutex_unlock(&kdev->lock);
}

static void add_stats(npu_sim_stats *acc, const npu_sim_stats *s)
{
	acc->tasks += s->tasks;
	acc->macs += s->macs;
	acc->dma_read_bytes += s->dma_read_bytes;
	acc->dma_write_bytes += s->dma_write_bytes;
	acc->cycles += s->cycles;
}

/* rocket_job_run + the IRQ thread: the tasks one after the other; a task
 * without DPU completion hangs the job until the timeout handler resets the
 * core (rocket_job_timedout -> rocket_reset). */
static void run_job(npu_kfile *f, struct kjob *job)
{
	npu_kdev *kdev = f->kdev;
	const npu_kcore_ops *ops = kdev->cfg.core_ops;
	unsigned idx = claim_core(kdev);
	struct kcore *core = &kdev->cores[idx];
	uint64_t start = kmodel_now_ns(), free_ns;
	char msg[200] = "";

	if (core->free_ns > start || f->last_signal_ns > start) {
		start = core->free_ns > f->last_signal_ns ? core->free_ns : f->last_signal_ns;
		kmodel_sleep_until(start);
	}
	for (uint32_t t = 0; t < job->task_count; t++) {
		npu_sim_stats total, last;
		int ret = npu_kmodel_run_task(ops, core->sim, (int)idx, &f->mem, job->tasks[t].regcmd,
					      job->tasks[t].regcmd_count, msg, sizeof(msg));

		if (ops->get_stats) {
			ops->get_stats(core->sim, &total, &last);
			if (ret == 0)
				add_stats(&f->stats, &last);
		}
		if (ret) {
			job->fence->error = -ECANCELED; /* drm_sched_start: job done, -ECANCELED [I] */
			snprintf(job->fence->msg, sizeof(job->fence->msg),
				 "core %u: task %u/%u (regcmd 0x%08x, %u entries) did not complete: %s",
				 idx, t + 1, job->task_count, job->tasks[t].regcmd,
				 job->tasks[t].regcmd_count, msg[0] ? msg : "no DPU interrupt");
			kmodel_log(kdev, NPU_KLOG_ERR, "rocket: NPU job timed out after %u ms; %s",
				   kdev->cfg.job_timeout_ms, job->fence->msg);
			ops->reset(core->sim);
			break;
		}
	}
	free_ns = job->fence->error ? start + (uint64_t)kdev->cfg.job_timeout_ms * 1000000ull
				    : kmodel_now_ns();
	job->fence->signal_ns = free_ns;
	job->fence->ran = true;
	f->last_signal_ns = free_ns;
	release_core(kdev, idx, job->fence->error ? free_ns : 0);
}

void kmodel_run_queue(npu_kfile *f, const struct kjob *until)
{
	while (f->queue_head) {
		struct kjob *job = f->queue_head;
		bool last = job == until;

		f->queue_head = job->next;
		if (!f->queue_head)
			f->queue_tail = NULL;
		run_job(f, job);
		job_free(f, job);
		if (last)
			break;
	}
}

/* ---- PREP_BO ----------------------------------------------------------- */

static const struct kjob *queued_job_of(const npu_kfile *f, const struct kfence *fence)
{
	for (const struct kjob *j = f->queue_head; j; j = j->next)
		if (j->fence == fence)
			return j;
	return NULL;
}

/* When the file's next queued job could start: after its previous job and
 * once some core is out of a timeout reset. */
static uint64_t earliest_start(npu_kfile *f)
{
	npu_kdev *kdev = f->kdev;
	uint64_t core_free = UINT64_MAX;

	pthread_mutex_lock(&kdev->lock);
	for (unsigned i = 0; i < kdev->core_count; i++)
		if (kdev->cores[i].free_ns < core_free)
			core_free = kdev->cores[i].free_ns;
	pthread_mutex_unlock(&kdev->lock);
	return core_free > f->last_signal_ns ? core_free : f->last_signal_ns;
}

/* Kernel jiffies at HZ = 250 (arm64 defconfig). */
static long remaining_jiffies(uint64_t now, uint64_t deadline)
{
	long j = deadline > now ? (long)((deadline - now) / 4000000ull) : 0;

	return j > 0 ? j : 1;
}

/* rocket_ioctl_prep_bo: dma_resv_wait_timeout(WRITE usage, interruptible,
 * drm_timeout_abs_to_jiffies(timeout_ns)). A deadline of 0 or in the past
 * polls: not signalled -> -EBUSY; a later deadline that passes ->
 * -ETIMEDOUT. Signalled -> 6.18 returns the remaining jiffies (> 0), later
 * kernels 0. The fence's error is not looked at. Called with f->lock held. */
long kmodel_prep_bo(npu_kfile *f, uint32_t handle, int64_t timeout_ns)
{
	struct kbo *bo = kmodel_lookup(f, handle);
	struct kfence *fence;
	uint64_t now = kmodel_now_ns(), deadline;
	bool poll;
	const struct kjob *job;

	if (!bo)
		return -ENOENT;
	poll = timeout_ns <= 0 || (uint64_t)timeout_ns <= now;
	deadline = poll ? now : (uint64_t)timeout_ns;
	fence = bo->write_fence;
	if (!fence)
		return f->kdev->cfg.prep_positive ? remaining_jiffies(now, deadline) : 0;
	job = queued_job_of(f, fence);
	if (job && earliest_start(f) > deadline) {
		/* still behind a hung job when the deadline passes */
		if (poll)
			return -EBUSY;
		pthread_mutex_unlock(&f->lock);
		kmodel_sleep_until(deadline);
		pthread_mutex_lock(&f->lock);
		return -ETIMEDOUT;
	}
	if (job)
		kmodel_run_queue(f, job);
	now = kmodel_now_ns();
	if (fence->signal_ns > now) {
		if (poll)
			return -EBUSY;
		fence->refs++;
		pthread_mutex_unlock(&f->lock);
		kmodel_sleep_until(fence->signal_ns < deadline ? fence->signal_ns : deadline);
		pthread_mutex_lock(&f->lock);
		now = kmodel_now_ns();
		if (fence->signal_ns > now) {
			kmodel_fence_put(fence);
			return -ETIMEDOUT;
		}
		kmodel_fence_put(fence);
	}
	return f->kdev->cfg.prep_positive ? remaining_jiffies(now, deadline) : 0;
}

/* ---- simulator-only queries ------------------------------------------- */

int npu_kfile_bo_status(npu_kfile *f, uint32_t handle, char *msg, unsigned msg_len)
{
	struct kbo *bo;
	int ret = 0;

	if (msg_len)
		msg[0] = 0;
	pthread_mutex_lock(&f->lock);
	bo = kmodel_lookup(f, handle);
	if (!bo) {
		ret = -ENOENT;
	} else if (bo->write_fence && bo->write_fence->error) {
		ret = -ETIMEDOUT;
		if (msg_len)
			snprintf(msg, msg_len, "%s", bo->write_fence->msg);
	} else if (bo->write_fence && !bo->write_fence->ran) {
		ret = -EINPROGRESS;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

void npu_kfile_stats(npu_kfile *f, npu_sim_stats *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->stats;
	pthread_mutex_unlock(&f->lock);
}
