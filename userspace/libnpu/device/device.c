/* SPDX-License-Identifier: MIT */
/* libnpu device layer: one npu_device = one open file of the rocket driver.
 * The same code drives the real kernel (ioctls through libdrm on an accel
 * fd) and the in-process simulator (the same ioctls handed to the kernel
 * model); only the transport differs, see dev_ioctl(). */
#include "device_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>

#include "npu/npu_sim.h"
#include "npu/rocket_uapi.h"

/* npu_task is passed to the kernel as struct drm_rocket_task. */
_Static_assert(sizeof(npu_task) == sizeof(struct drm_rocket_task), "npu_task layout");
_Static_assert(offsetof(npu_task, regcmd_iova) == offsetof(struct drm_rocket_task, regcmd),
	       "npu_task.regcmd_iova");
_Static_assert(offsetof(npu_task, regcmd_count) ==
		       offsetof(struct drm_rocket_task, regcmd_count),
	       "npu_task.regcmd_count");

/* PC_REGISTER_AMOUNTS.PC_DATA_AMOUNT is 16 bits of 128-bit lines minus one
 * (registers.xml; rocket_job.c masks larger counts silently, see README.md):
 * at most 65536 lines = 131072 entries per task. */
#define NPU_MAX_REGCMD_COUNT 131072u
#define NPU_MAX_ACCEL_MINOR 63

static _Thread_local char open_error[384];

/* ---- errors and transport --------------------------------------------- */

void dev_set_error(npu_device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev ? dev->err : open_error, dev ? sizeof(dev->err) : sizeof(open_error), fmt,
		  ap);
	va_end(ap);
}

const char *npu_device_error(const npu_device *dev)
{
	return dev ? dev->err : open_error;
}

int dev_ioctl(npu_device *dev, unsigned long request, void *arg, const char *name)
{
	int ret;

	if (dev->kfile) {
		ret = (int)npu_kfile_ioctl(dev->kfile, request, arg);
	} else {
		ret = drmIoctl(dev->fd, request, arg);
		if (ret < 0)
			ret = errno ? -errno : -EIO;
	}
	if (ret < 0)
		dev_set_error(dev, "%s: %s (errno %d)", name, strerror(-ret), -ret);
	return ret;
}

/* ---- open / close ------------------------------------------------------ */

static npu_device *dev_alloc(void)
{
	npu_device *dev = calloc(1, sizeof(*dev));

	if (dev)
		dev->fd = -1;
	return dev;
}

static void dev_init_capture_from_env(npu_device *dev)
{
	const char *prefix = getenv("NPU_CAPTURE");

	if (prefix && *prefix)
		npu_device_set_capture(dev, prefix);
}

/* drmGetVersion on an open node: 1 when its driver is rocket, 0 when it is
 * another driver (named in `found`), negative errno when the query failed. */
static int node_is_rocket(int fd, char *found, size_t found_len, char *desc, size_t desc_len)
{
	drmVersionPtr v = drmGetVersion(fd);
	int ret;

	if (!v)
		return errno ? -errno : -EIO;
	snprintf(found, found_len, "%.*s", v->name_len, v->name ? v->name : "");
	snprintf(desc, desc_len, "%.*s", v->desc_len, v->desc ? v->desc : "");
	ret = strcmp(found, ROCKET_DRM_DRIVER_NAME) == 0;
	drmFreeVersion(v);
	return ret;
}

/* Open `path` and check its driver. 0 and *fd, or negative errno with the
 * reason appended to `why`. */
static int open_node(const char *path, int *fd_out, char *desc, size_t desc_len, char *why,
		     size_t why_len)
{
	char driver[64] = "";
	size_t used = strlen(why);
	int fd = open(path, O_RDWR | O_CLOEXEC), ret;

	if (fd < 0) {
		ret = -errno;
		snprintf(why + used, why_len - used, "%s%s: %s%s", used ? "; " : "", path,
			 strerror(-ret),
			 ret == -EACCES ? " (add the user to the group owning the node, "
					  "usually 'render')" : "");
		return ret;
	}
	ret = node_is_rocket(fd, driver, sizeof(driver), desc, desc_len);
	if (ret == 1) {
		*fd_out = fd;
		return 0;
	}
	if (ret == 0)
		snprintf(why + used, why_len - used, "%s%s: driver '%s', not rocket",
			 used ? "; " : "", path, driver);
	else
		snprintf(why + used, why_len - used, "%s%s: DRM_IOCTL_VERSION failed: %s",
			 used ? "; " : "", path, strerror(-ret));
	close(fd);
	return -ENODEV;
}

/* Scan /dev/accel/accel0..63 by opening them (no directory listing, so an
 * LD_PRELOAD simulator can present a node that is not in the filesystem).
 * This is also how Mesa's pipe-loader finds accel devices. */
static int discover(char *path, size_t path_len, int *fd, char *desc, size_t desc_len)
{
	char why[320] = "", p[64];

	for (int minor = 0; minor <= NPU_MAX_ACCEL_MINOR; minor++) {
		size_t used = strlen(why);

		int ret;

		snprintf(p, sizeof(p), "/dev/accel/accel%d", minor);
		ret = open_node(p, fd, desc, desc_len, why, sizeof(why));
		if (ret == 0) {
			snprintf(path, path_len, "%s", p);
			return 0;
		}
		if (ret == -ENOENT)
			why[used] = 0; /* missing minors are not worth listing */
	}
	dev_set_error(NULL,
		      "no rocket NPU device%s%s%s. Check that the rocket module is loaded "
		      "(CONFIG_DRM_ACCEL_ROCKET), that the NPU nodes are enabled in the device "
		      "tree, and run npu-probe; NPU_DEVICE=<node> selects a node",
		      why[0] ? " (" : ": /dev/accel/accel0..63 do not exist", why,
		      why[0] ? ")" : "");
	return -ENODEV;
}

int npu_device_open(const char *path, npu_device **out)
{
	npu_device *dev;
	char why[320] = "";
	int ret;

	*out = NULL;
	if (!path)
		path = getenv("NPU_DEVICE");
	if (path && !strcmp(path, "sim"))
		return npu_device_open_sim(NULL, out);
	dev = dev_alloc();
	if (!dev) {
		dev_set_error(NULL, "npu_device_open: out of memory");
		return -ENOMEM;
	}
	if (path && *path) {
		snprintf(dev->path, sizeof(dev->path), "%s", path);
		ret = open_node(path, &dev->fd, dev->desc, sizeof(dev->desc), why, sizeof(why));
		if (ret) {
			dev_set_error(NULL, "npu_device_open: %s", why);
			free(dev);
			return ret == -ENOENT ? -ENODEV : ret;
		}
	} else {
		ret = discover(dev->path, sizeof(dev->path), &dev->fd, dev->desc, sizeof(dev->desc));
		if (ret) {
			free(dev);
			return ret;
		}
	}
	snprintf(dev->name, sizeof(dev->name), "rocket %s (%s)", dev->path, dev->desc);
	dev_init_capture_from_env(dev);
	*out = dev;
	return 0;
}

/* In-process the model's "dmesg" stays quiet (its errors come back through
 * the API); NPU_SIM_LOG=1 prints errors, NPU_SIM_DEBUG=1 everything. */
static void sim_log(void *ctx, enum npu_klog_level level, const char *msg)
{
	(void)ctx;
	if (getenv("NPU_SIM_DEBUG") || (level == NPU_KLOG_ERR && getenv("NPU_SIM_LOG")))
		fprintf(stderr, "[npu-sim] %s\n", msg);
}

static int open_file_on(npu_kdev *kdev, npu_device **out)
{
	npu_device *dev = dev_alloc();
	int ret = dev ? npu_kfile_open(kdev, &dev->kfile) : -ENOMEM;

	*out = NULL;
	if (ret) {
		free(dev);
		dev_set_error(NULL, "npu_device_open_sim: %s", strerror(-ret));
		return ret;
	}
	dev->kdev = kdev;
	dev->fd = npu_kfile_fd(dev->kfile);
	snprintf(dev->path, sizeof(dev->path), "sim");
	snprintf(dev->name, sizeof(dev->name), "sim");
	snprintf(dev->desc, sizeof(dev->desc), "%s", NPU_KMODEL_DRIVER_DESC);
	dev_init_capture_from_env(dev);
	*out = dev;
	return 0;
}

int npu_device_open_kdev(npu_kdev *kdev, npu_device **out)
{
	return open_file_on(kdev, out);
}

int npu_device_open_sim_contexts(const struct npu_sim_config *cfg, unsigned count,
				 npu_device **out)
{
	npu_kdev_config kcfg;
	npu_kdev *kdev;
	unsigned i;
	int ret;

	if (count < 1 || count > NPU_DEVICE_MAX_CONTEXTS) {
		dev_set_error(NULL, "npu_device_open_sim: %u contexts (1..%d)", count,
			      NPU_DEVICE_MAX_CONTEXTS);
		return -EINVAL;
	}
	npu_kdev_config_default(&kcfg);
	if (cfg)
		kcfg.sim = *cfg;
	kcfg.log = sim_log;
	ret = npu_kdev_create(&kcfg, &kdev);
	if (ret) {
		dev_set_error(NULL, "npu_device_open_sim: %s",
			      ret == -ENOSYS ? "libnpu was built without the simulator core"
					     : strerror(-ret));
		return ret;
	}
	for (i = 0; i < count; i++) {
		ret = open_file_on(kdev, &out[i]);
		if (ret) {
			while (i--)
				npu_device_close(out[i]);
			npu_kdev_put(kdev);
			return ret;
		}
	}
	npu_kdev_put(kdev); /* the files keep the device */
	return 0;
}

int npu_device_open_sim(const struct npu_sim_config *cfg, npu_device **out)
{
	*out = NULL;
	return npu_device_open_sim_contexts(cfg, 1, out);
}

int npu_device_open_contexts(const char *path, unsigned count, npu_device **out)
{
	int ret;

	if (count < 1 || count > NPU_DEVICE_MAX_CONTEXTS) {
		dev_set_error(NULL, "npu_device_open_contexts: %u contexts (1..%d)", count,
			      NPU_DEVICE_MAX_CONTEXTS);
		return -EINVAL;
	}
	if (!path)
		path = getenv("NPU_DEVICE");
	if (path && !strcmp(path, "sim"))
		return npu_device_open_sim_contexts(NULL, count, out);
	ret = npu_device_open(path, &out[0]);
	if (ret)
		return ret;
	for (unsigned i = 1; i < count; i++) {
		ret = npu_device_open(out[0]->path, &out[i]);
		if (ret) {
			while (i--)
				npu_device_close(out[i]);
			return ret;
		}
	}
	return 0;
}

void npu_device_close(npu_device *dev)
{
	if (!dev)
		return;
	dev_capture_stop(dev);
	for (uint32_t h = 1; h < dev->bo_cap; h++) {
		if (dev->bos[h].live) {
			struct drm_gem_close arg = { .handle = h };

			munmap(dev->bos[h].map, dev->bos[h].map_size);
			dev_ioctl(dev, DRM_IOCTL_GEM_CLOSE, &arg, "DRM_IOCTL_GEM_CLOSE");
		}
	}
	free(dev->bos);
	if (dev->kfile)
		npu_kfile_release(dev->kfile, false);
	else if (dev->fd >= 0)
		close(dev->fd);
	free(dev);
}

const char *npu_device_name(const npu_device *dev)
{
	return dev->name;
}

int npu_device_is_sim(const npu_device *dev)
{
	return dev->kfile != NULL;
}

/* Mainline names the NPU core platform devices after their PC window, e.g.
 * fdab0000.npu (rk3588-base.dtsi); bound ones appear in the driver's sysfs
 * directory. */
static unsigned sysfs_core_count(void)
{
	static const char *const cores[] = { "fdab0000.npu", "fdac0000.npu", "fdad0000.npu" };
	unsigned n = 0;

	for (unsigned i = 0; i < 3; i++) {
		char p[96];

		snprintf(p, sizeof(p), "/sys/bus/platform/drivers/rocket/%s", cores[i]);
		n += access(p, F_OK) == 0;
	}
	return n ? n : 3;
}

unsigned npu_device_core_count(const npu_device *dev)
{
	return dev->kdev ? npu_kdev_core_count(dev->kdev) : sysfs_core_count();
}

int npu_device_sim_stats(const npu_device *dev, struct npu_sim_stats *out)
{
	if (!dev->kfile) {
		memset(out, 0, sizeof(*out));
		return -ENODEV;
	}
	npu_kfile_stats(dev->kfile, out);
	return 0;
}

/* ---- buffers ------------------------------------------------------------ */

const struct dev_bo *dev_bo_lookup(const npu_device *dev, uint32_t handle)
{
	if (handle == 0 || handle >= dev->bo_cap || !dev->bos[handle].live)
		return NULL;
	return &dev->bos[handle];
}

bool dev_bo_valid(const npu_device *dev, const npu_bo *bo)
{
	const struct dev_bo *r = bo ? dev_bo_lookup(dev, bo->handle) : NULL;

	return r && r->iova == bo->iova && r->map == bo->map;
}

static int track_bo(npu_device *dev, const npu_bo *bo, size_t map_size)
{
	if (bo->handle >= dev->bo_cap) {
		uint32_t cap = dev->bo_cap ? dev->bo_cap : 64;
		struct dev_bo *n;

		while (cap <= bo->handle)
			cap *= 2;
		n = realloc(dev->bos, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + dev->bo_cap, 0, (cap - dev->bo_cap) * sizeof(*n));
		dev->bos = n;
		dev->bo_cap = cap;
	}
	dev->bos[bo->handle] = (struct dev_bo){ .live = true, .size = bo->size, .iova = bo->iova,
						.mmap_offset = bo->mmap_offset, .map = bo->map,
						.map_size = map_size };
	dev->live_bos++;
	return 0;
}

int npu_bo_create(npu_device *dev, uint32_t size, npu_bo *bo)
{
	struct drm_rocket_create_bo arg = { .size = size };
	struct drm_gem_close close_arg = { 0 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE), map_size;
	int ret;

	memset(bo, 0, sizeof(*bo));
	if (size == 0) {
		dev_set_error(dev, "npu_bo_create: size 0");
		return -EINVAL;
	}
	ret = dev_ioctl(dev, DRM_IOCTL_ROCKET_CREATE_BO, &arg, "DRM_IOCTL_ROCKET_CREATE_BO");
	if (ret < 0) {
		size_t n = strlen(dev->err);

		snprintf(dev->err + n, sizeof(dev->err) - n, " creating a BO of %" PRIu32 " bytes",
			 size);
		return ret;
	}
	close_arg.handle = arg.handle;
	if (arg.dma_address + size > (1ull << 32) || (arg.dma_address & 0xfff)) {
		dev_ioctl(dev, DRM_IOCTL_GEM_CLOSE, &close_arg, "DRM_IOCTL_GEM_CLOSE");
		dev_set_error(dev, "DRM_IOCTL_ROCKET_CREATE_BO: NPU address 0x%" PRIx64
				   " is not a page-aligned 32-bit address", (uint64_t)arg.dma_address);
		return -ERANGE;
	}
	map_size = ((size_t)size + page - 1) & ~(page - 1);
	bo->map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd,
		       (off_t)arg.offset);
	if (bo->map == MAP_FAILED) {
		ret = -errno;
		bo->map = NULL;
		dev_ioctl(dev, DRM_IOCTL_GEM_CLOSE, &close_arg, "DRM_IOCTL_GEM_CLOSE");
		dev_set_error(dev, "mmap of BO %u (%" PRIu32 " bytes at offset 0x%" PRIx64 "): %s",
			      arg.handle, size, (uint64_t)arg.offset, strerror(-ret));
		return ret;
	}
	bo->handle = arg.handle;
	bo->size = size;
	bo->iova = arg.dma_address;
	bo->mmap_offset = arg.offset;
	ret = track_bo(dev, bo, map_size);
	if (ret) {
		munmap(bo->map, map_size);
		dev_ioctl(dev, DRM_IOCTL_GEM_CLOSE, &close_arg, "DRM_IOCTL_GEM_CLOSE");
		memset(bo, 0, sizeof(*bo));
		dev_set_error(dev, "npu_bo_create: out of memory");
	}
	return ret;
}

void npu_bo_destroy(npu_device *dev, npu_bo *bo)
{
	struct drm_gem_close arg = { 0 };
	struct dev_bo *r;

	if (!bo || !bo->handle)
		return;
	if (!dev_bo_valid(dev, bo)) {
		dev_set_error(dev, "npu_bo_destroy: handle %u is not a live BO of %s", bo->handle,
			      dev->name);
		return;
	}
	r = &dev->bos[bo->handle];
	munmap(r->map, r->map_size);
	arg.handle = bo->handle;
	dev_ioctl(dev, DRM_IOCTL_GEM_CLOSE, &arg, "DRM_IOCTL_GEM_CLOSE");
	memset(r, 0, sizeof(*r));
	dev->live_bos--;
	memset(bo, 0, sizeof(*bo));
}

static int64_t abs_deadline(int64_t timeout_ns)
{
	struct timespec ts;
	int64_t now;

	if (timeout_ns == 0)
		return 0; /* poll */
	if (timeout_ns < 0)
		return INT64_MAX;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
	return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

int npu_bo_prep(npu_device *dev, const npu_bo *bo, int64_t timeout_ns)
{
	struct drm_rocket_prep_bo arg = { 0 };
	char msg[256];
	int ret;

	if (!dev_bo_valid(dev, bo)) {
		dev_set_error(dev, "npu_bo_prep: handle %u is not a live BO of %s",
			      bo ? bo->handle : 0, dev->name);
		return -EINVAL;
	}
	arg.handle = bo->handle;
	arg.timeout_ns = abs_deadline(timeout_ns);
	/* 6.18 returns the remaining jiffies (> 0) on success: only < 0 fails. */
	ret = dev_ioctl(dev, DRM_IOCTL_ROCKET_PREP_BO, &arg, "DRM_IOCTL_ROCKET_PREP_BO");
	if (ret == -ETIMEDOUT || ret == -EBUSY) {
		dev_set_error(dev, "DRM_IOCTL_ROCKET_PREP_BO: BO %u is still being written by a job "
				   "after %.3f s (%s)", bo->handle, (double)timeout_ns * 1e-9,
			      ret == -EBUSY ? "-EBUSY, poll" : "-ETIMEDOUT");
		return ret;
	}
	if (ret < 0)
		return ret;
	if (dev->kfile && npu_kfile_bo_status(dev->kfile, bo->handle, msg, sizeof(msg)) ==
				  -ETIMEDOUT) {
		dev_set_error(dev, "the job writing BO %u hung and the kernel reset the core after "
				   "its timeout (the uAPI does not report this; the simulator does): %s",
			      bo->handle, msg);
		return -EIO;
	}
	return 0;
}

int npu_bo_fini(npu_device *dev, const npu_bo *bo)
{
	struct drm_rocket_fini_bo arg = { 0 };
	int ret;

	if (!dev_bo_valid(dev, bo)) {
		dev_set_error(dev, "npu_bo_fini: handle %u is not a live BO of %s",
			      bo ? bo->handle : 0, dev->name);
		return -EINVAL;
	}
	arg.handle = bo->handle;
	ret = dev_ioctl(dev, DRM_IOCTL_ROCKET_FINI_BO, &arg, "DRM_IOCTL_ROCKET_FINI_BO");
	return ret < 0 ? ret : 0;
}

/* ---- submit ------------------------------------------------------------- */

static int check_bo_list(npu_device *dev, uint32_t j, const char *what,
			 const npu_bo *const *bos, uint32_t count)
{
	if (count && !bos) {
		dev_set_error(dev, "npu_submit: job %u: %s is NULL with count %u", j, what, count);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < count; i++) {
		if (!dev_bo_valid(dev, bos[i])) {
			dev_set_error(dev, "npu_submit: job %u: %s[%u] (handle %u) is not a live BO of "
					   "%s (destroyed, or from another context?)", j, what, i,
				      bos[i] ? bos[i]->handle : 0, dev->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* The BO that holds [iova, iova + len), or NULL. */
static const struct dev_bo *bo_containing(const npu_device *dev, uint64_t iova, uint64_t len)
{
	for (uint32_t h = 1; h < dev->bo_cap; h++) {
		const struct dev_bo *r = &dev->bos[h];

		if (r->live && iova >= r->iova && iova - r->iova < r->map_size &&
		    len <= r->map_size - (iova - r->iova))
			return r;
	}
	return NULL;
}

static int check_task(npu_device *dev, uint32_t j, uint32_t t, const npu_task *task)
{
	if (task->regcmd_count == 0 || task->regcmd_count > NPU_MAX_REGCMD_COUNT) {
		dev_set_error(dev, "npu_submit: job %u task %u: regcmd_count %u (must be 1..%u; "
				   "the kernel would %s)", j, t, task->regcmd_count,
			      NPU_MAX_REGCMD_COUNT,
			      task->regcmd_count ? "truncate it to 16 bits" : "drop the job silently");
		return -EINVAL;
	}
	if (task->regcmd_iova & 0xf) {
		dev_set_error(dev, "npu_submit: job %u task %u: regcmd address 0x%08x is not 16-byte "
				   "aligned (PC_BASE_ADDRESS keeps bits 31:4)", j, t, task->regcmd_iova);
		return -EINVAL;
	}
	if (!bo_containing(dev, task->regcmd_iova, (uint64_t)task->regcmd_count * 8)) {
		dev_set_error(dev, "npu_submit: job %u task %u: regcmd 0x%08x + %u entries is not "
				   "inside one BO of %s", j, t, task->regcmd_iova, task->regcmd_count,
			      dev->name);
		return -EINVAL;
	}
	return 0;
}

static int check_job(npu_device *dev, uint32_t j, const npu_job *job)
{
	int ret;

	if (job->task_count == 0 || !job->tasks) {
		dev_set_error(dev, "npu_submit: job %u has no tasks (the kernel would drop it "
				   "silently)", j);
		return -EINVAL;
	}
	if (job->out_count == 0) {
		dev_set_error(dev, "npu_submit: job %u has no out BOs: nothing could wait for it "
				   "(PREP_BO waits only on out BOs)", j);
		return -EINVAL;
	}
	for (uint32_t t = 0; t < job->task_count; t++) {
		ret = check_task(dev, j, t, &job->tasks[t]);
		if (ret)
			return ret;
	}
	ret = check_bo_list(dev, j, "in_bos", job->in_bos, job->in_count);
	return ret ? ret : check_bo_list(dev, j, "out_bos", job->out_bos, job->out_count);
}

int dev_submit_raw(npu_device *dev, const npu_job *jobs, uint32_t job_count)
{
	struct drm_rocket_job *uj = calloc(job_count, sizeof(*uj));
	size_t handles = 0, k = 0;
	uint32_t *h;
	int ret;

	for (uint32_t j = 0; j < job_count; j++)
		handles += (size_t)jobs[j].in_count + jobs[j].out_count;
	h = calloc(handles ? handles : 1, sizeof(*h));
	if (!uj || !h) {
		free(uj);
		free(h);
		dev_set_error(dev, "npu_submit: out of memory");
		return -ENOMEM;
	}
	for (uint32_t j = 0; j < job_count; j++) {
		const npu_job *job = &jobs[j];

		uj[j].tasks = (uintptr_t)job->tasks;
		uj[j].task_count = job->task_count;
		uj[j].task_struct_size = sizeof(npu_task);
		uj[j].in_bo_handles = (uintptr_t)&h[k];
		uj[j].in_bo_handle_count = job->in_count;
		for (uint32_t i = 0; i < job->in_count; i++)
			h[k++] = job->in_bos[i]->handle;
		uj[j].out_bo_handles = (uintptr_t)&h[k];
		uj[j].out_bo_handle_count = job->out_count;
		for (uint32_t i = 0; i < job->out_count; i++)
			h[k++] = job->out_bos[i]->handle;
	}
	{
		struct drm_rocket_submit arg = { .jobs = (uintptr_t)uj, .job_count = job_count,
						 .job_struct_size = sizeof(*uj) };

		ret = dev_ioctl(dev, DRM_IOCTL_ROCKET_SUBMIT, &arg, "DRM_IOCTL_ROCKET_SUBMIT");
	}
	free(uj);
	free(h);
	return ret < 0 ? ret : 0;
}

int npu_submit(npu_device *dev, const npu_job *jobs, uint32_t job_count)
{
	int ret;

	if (job_count == 0)
		return 0;
	if (!jobs) {
		dev_set_error(dev, "npu_submit: jobs is NULL");
		return -EINVAL;
	}
	for (uint32_t j = 0; j < job_count; j++) {
		ret = check_job(dev, j, &jobs[j]);
		if (ret)
			return ret;
	}
	if (!dev->capture_prefix)
		return dev_submit_raw(dev, jobs, job_count);
	for (uint32_t j = 0; j < job_count; j++) {
		ret = dev_capture_submit(dev, &jobs[j]);
		if (ret)
			return ret;
	}
	return 0;
}
