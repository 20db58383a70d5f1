/* SPDX-License-Identifier: MIT */
/* The device layer's capture hook: with capturing on, each job is submitted
 * alone and waited for, and written to "<prefix>-<n>.npucap" with every
 * buffer it can touch before and after it ran (docs/npu-capture-format.md).
 * Capturing makes submission synchronous; it is a debugging tool. */
#include "device_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "npu/npu_capture.h"

#define CAPTURE_WAIT_NS (60ll * 1000 * 1000 * 1000)

/* Numbers are unique per process so that several contexts can share a
 * prefix. */
static atomic_uint capture_counter;

int npu_device_set_capture(npu_device *dev, const char *prefix)
{
	char *copy = NULL;

	if (prefix) {
		copy = strdup(prefix);
		if (!copy) {
			dev_set_error(dev, "npu_device_set_capture: out of memory");
			return -ENOMEM;
		}
	}
	free(dev->capture_prefix);
	dev->capture_prefix = copy;
	return 0;
}

void dev_capture_stop(npu_device *dev)
{
	free(dev->capture_prefix);
	dev->capture_prefix = NULL;
}

/* Wait for everything queued so far: the "before" snapshot must show what
 * this job will read. */
static void wait_all(npu_device *dev)
{
	for (uint32_t h = 1; h < dev->bo_cap; h++) {
		npu_bo bo;
		const struct dev_bo *r = dev_bo_lookup(dev, h);

		if (!r)
			continue;
		bo = (npu_bo){ .handle = h, .size = r->size, .iova = r->iova, .map = r->map };
		npu_bo_prep(dev, &bo, CAPTURE_WAIT_NS);
	}
}

static uint32_t handle_at(const npu_device *dev, uint64_t iova)
{
	for (uint32_t h = 1; h < dev->bo_cap; h++) {
		const struct dev_bo *r = dev_bo_lookup(dev, h);

		if (r && iova >= r->iova && iova - r->iova < r->map_size)
			return h;
	}
	return 0;
}

/* Which buffers the job can touch: the listed ones, the regcmd buffers and
 * every buffer that a register value in the regcmd points into (a superset
 * of the address registers, without needing to know them). */
static void mark_bos(const npu_device *dev, const npu_job *job, uint32_t *flags)
{
	for (uint32_t i = 0; i < job->in_count; i++)
		flags[job->in_bos[i]->handle] |= NPU_CAPTURE_BO_IN;
	for (uint32_t i = 0; i < job->out_count; i++)
		flags[job->out_bos[i]->handle] |= NPU_CAPTURE_BO_OUT;
	for (uint32_t t = 0; t < job->task_count; t++) {
		uint32_t h = handle_at(dev, job->tasks[t].regcmd_iova);
		const struct dev_bo *r = dev_bo_lookup(dev, h);
		const uint8_t *base;

		if (!r)
			continue;
		flags[h] |= NPU_CAPTURE_BO_REGCMD;
		base = (const uint8_t *)r->map + (job->tasks[t].regcmd_iova - r->iova);
		for (uint32_t e = 0; e < job->tasks[t].regcmd_count; e++) {
			uint64_t entry;
			uint32_t ref;

			memcpy(&entry, base + 8ull * e, 8);
			ref = handle_at(dev, (entry >> 16) & 0xffffffffu);
			if (ref)
				flags[ref] |= NPU_CAPTURE_BO_REF;
		}
	}
}

static char *make_info(const npu_device *dev, unsigned n)
{
	struct utsname u;
	char when[32] = "";
	time_t now = time(NULL);
	struct tm tm;
	char *info = malloc(1024);

	if (!info)
		return NULL;
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(info, 1024,
		 "producer=rosenblatt libnpu\n"
		 "device=%s\ndevice_name=%s\ndriver_desc=%s\n"
		 "kernel=%s\nmachine=%s\ntime=%s\njob=%u\n",
		 dev->kfile ? "sim" : "rocket", dev->name, dev->desc, u.release, u.machine, when,
		 n);
	return info;
}

static void snapshot(const npu_device *dev, npu_capture *cap, bool after)
{
	for (uint32_t i = 0; i < cap->bo_count; i++) {
		npu_capture_bo *b = &cap->bos[i];
		const struct dev_bo *r = dev_bo_lookup(dev, b->handle);
		uint8_t *copy = r ? malloc(b->size) : NULL;

		if (copy)
			memcpy(copy, r->map, b->size);
		if (after)
			b->after = copy;
		else
			b->before = copy;
	}
}

/* The job's outcome as the device layer sees it: the first failing wait. */
static void wait_outputs(npu_device *dev, const npu_job *job, npu_capture *cap)
{
	cap->has_result = 1;
	for (uint32_t i = 0; i < job->out_count; i++) {
		int ret = npu_bo_prep(dev, job->out_bos[i], CAPTURE_WAIT_NS);

		if (ret && !cap->result) {
			cap->result = ret;
			cap->result_msg = strdup(dev->err);
		}
	}
}

static int build(npu_device *dev, const npu_job *job, npu_capture *cap)
{
	uint32_t *flags = calloc(dev->bo_cap, sizeof(*flags)), n = 0;

	cap->tasks = calloc(job->task_count, sizeof(*cap->tasks));
	cap->bos = calloc(dev->live_bos ? dev->live_bos : 1, sizeof(*cap->bos));
	if (!flags || !cap->tasks || !cap->bos) {
		free(flags);
		return -ENOMEM;
	}
	cap->task_count = job->task_count;
	for (uint32_t t = 0; t < job->task_count; t++)
		cap->tasks[t] = (npu_capture_task){ job->tasks[t].regcmd_iova,
						    job->tasks[t].regcmd_count };
	mark_bos(dev, job, flags);
	for (uint32_t h = 1; h < dev->bo_cap; h++) {
		const struct dev_bo *r = dev_bo_lookup(dev, h);

		if (r && flags[h])
			cap->bos[n++] = (npu_capture_bo){ .handle = h, .flags = flags[h],
							  .iova = r->iova, .size = r->map_size };
	}
	cap->bo_count = n;
	free(flags);
	return 0;
}

int dev_capture_submit(npu_device *dev, const npu_job *job)
{
	npu_capture cap = { 0 };
	unsigned n = atomic_fetch_add(&capture_counter, 1);
	char path[4096], err[384];
	int ret;

	wait_all(dev);
	ret = build(dev, job, &cap);
	if (ret) {
		npu_capture_free(&cap);
		dev_set_error(dev, "capture: out of memory");
		return ret;
	}
	snapshot(dev, &cap, false);
	ret = dev_submit_raw(dev, job, 1);
	if (ret) {
		npu_capture_free(&cap);
		return ret;
	}
	wait_outputs(dev, job, &cap);
	snapshot(dev, &cap, true);
	cap.info = make_info(dev, n);
	snprintf(path, sizeof(path), "%s-%u.npucap", dev->capture_prefix, n);
	ret = npu_capture_write(path, &cap, err, sizeof(err));
	npu_capture_free(&cap);
	if (ret) {
		dev_set_error(dev, "capture: %s", err);
		return ret;
	}
	return 0;
}
