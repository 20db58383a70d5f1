/* SPDX-License-Identifier: MIT */
/* Kernel model, part 1: the device, open files, GEM BOs and the ioctl
 * dispatcher. Behaviour follows drivers/accel/rocket (Linux 6.18) and the
 * DRM core; each rule cites where it comes from. */
#include "kmodel_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "npu/npu_capture.h"
#include "npu/rocket_uapi.h"

/* DRM fake mmap offsets start above 4 GiB (DRM_FILE_PAGE_OFFSET_START):
 * starting there too catches callers that truncate the offset. */
#define KMODEL_OFFSET_BASE (1ull << 32)
/* The rockchip IOMMU's paging domain aperture is [0, 2^32)
 * (rockchip-iommu.c rk_iommu_domain_alloc_paging), the drm_mm spans it. */
#define KMODEL_APERTURE_END (1ull << 32)

uint64_t kmodel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kmodel_sleep_until(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void kmodel_log(npu_kdev *kdev, enum npu_klog_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!kdev->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kdev->cfg.log(kdev->cfg.log_ctx, level, msg);
}

/* copy_from_user / copy_to_user: a bad user pointer must give -EFAULT, not
 * a crash in the model. process_vm_readv/writev on our own pid checks the
 * range for us; where it is unavailable (qemu-user) mincore() at least
 * checks that every page of the range is mapped. */
static bool range_mapped(const void *p, size_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
	uintptr_t end = (uintptr_t)p + n;
	unsigned char vec[64];

	if (end < (uintptr_t)p)
		return false;
	for (uintptr_t a = start; a < end; a += (uintptr_t)page * 64) {
		size_t len = end - a < (uintptr_t)page * 64 ? end - a : (size_t)page * 64;

		if (mincore((void *)a, len, vec) != 0)
			return false;
	}
	return true;
}

static int copy_user(void *dst, const void *src, size_t n, bool to_user)
{
	struct iovec local = { .iov_base = to_user ? (void *)src : dst, .iov_len = n };
	struct iovec remote = { .iov_base = to_user ? dst : (void *)src, .iov_len = n };
	ssize_t r;

	if (n == 0)
		return 0;
	if (!dst || !src)
		return -EFAULT;
	r = to_user ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
		    : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (r == (ssize_t)n)
		return 0;
	if (r < 0 && (errno == ENOSYS || errno == EPERM) &&
	    range_mapped(to_user ? dst : src, n)) {
		memcpy(dst, src, n);
		return 0;
	}
	return -EFAULT;
}

int kmodel_copy_from_user(void *dst, const void *user_src, size_t n)
{
	return copy_user(dst, user_src, n, false);
}

int kmodel_copy_to_user(void *user_dst, const void *src, size_t n)
{
	return copy_user(user_dst, src, n, true);
}

/* ---- configuration ---------------------------------------------------- */

static bool env_u64(const char *name, uint64_t *out)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

void npu_kdev_config_default(npu_kdev_config *cfg)
{
	uint64_t v;

	memset(cfg, 0, sizeof(*cfg));
	npu_capture_sim_config_default(&cfg->sim);
	cfg->cores = NPU_KMODEL_MAX_CORES;
	cfg->job_timeout_ms = NPU_KMODEL_JOB_TIMEOUT_MS;
	cfg->prep_positive = true;
	cfg->mem_limit = 3ull << 30;
	if (env_u64("NPU_SIM_CORES", &v) && v >= 1 && v <= NPU_KMODEL_MAX_CORES)
		cfg->cores = (unsigned)v;
	if (env_u64("NPU_SIM_JOB_TIMEOUT_MS", &v) && v >= 1 && v <= 600000)
		cfg->job_timeout_ms = (uint32_t)v;
	if (env_u64("NPU_SIM_MEM_LIMIT_MB", &v) && v >= 1 && v <= (1ull << 30))
		cfg->mem_limit = v << 20;
	if (env_u64("NPU_SIM_CLOCK_HZ", &v) && v >= 1000000)
		cfg->sim.clock_hz = (double)v;
	if (env_u64("NPU_SIM_STRICT", &v))
		cfg->sim.strict = v != 0;
	if (env_u64("NPU_SIM_PREP_POSITIVE", &v))
		cfg->prep_positive = v != 0;
}

/* ---- device ----------------------------------------------------------- */

int npu_kdev_create(const npu_kdev_config *cfg, npu_kdev **out)
{
	npu_kdev *kdev;
	npu_kdev_config def;

	*out = NULL;
	if (!cfg) {
		npu_kdev_config_default(&def);
		cfg = &def;
	}
	kdev = calloc(1, sizeof(*kdev));
	if (!kdev)
		return -ENOMEM;
	kdev->cfg = *cfg;
	if (!kdev->cfg.core_ops)
		kdev->cfg.core_ops = npu_kcore_sim_ops();
	if (!kdev->cfg.core_ops) {
		free(kdev);
		return -ENOSYS;
	}
	if (kdev->cfg.cores < 1 || kdev->cfg.cores > NPU_KMODEL_MAX_CORES)
		kdev->cfg.cores = NPU_KMODEL_MAX_CORES;
	if (!kdev->cfg.job_timeout_ms)
		kdev->cfg.job_timeout_ms = NPU_KMODEL_JOB_TIMEOUT_MS;
	pthread_mutex_init(&kdev->lock, NULL);
	pthread_cond_init(&kdev->core_freed, NULL);
	kdev->refs = 1;
	for (unsigned i = 0; i < kdev->cfg.cores; i++) {
		kdev->cores[i].sim = kdev->cfg.core_ops->create((int)i, &kdev->cfg.sim);
		if (!kdev->cores[i].sim) {
			kdev->core_count = i;
			kdev->refs = 0;
			npu_kdev_put(kdev);
			return -ENOMEM;
		}
		kdev->core_count = i + 1;
	}
	*out = kdev;
	return 0;
}

static void kdev_destroy(npu_kdev *kdev)
{
	for (unsigned i = 0; i < kdev->core_count; i++)
		kdev->cfg.core_ops->destroy(kdev->cores[i].sim);
	pthread_cond_destroy(&kdev->core_freed);
	pthread_mutex_destroy(&kdev->lock);
	free(kdev);
}

static void kdev_unref(npu_kdev *kdev)
{
	bool last;

	pthread_mutex_lock(&kdev->lock);
	last = kdev->refs == 0 || --kdev->refs == 0;
	pthread_mutex_unlock(&kdev->lock);
	if (last)
		kdev_destroy(kdev);
}

void npu_kdev_put(npu_kdev *kdev)
{
	if (kdev)
		kdev_unref(kdev);
}

unsigned npu_kdev_core_count(const npu_kdev *kdev)
{
	return kdev->core_count;
}

/* ---- files ------------------------------------------------------------ */

/* The IOMMU: a DMA access is allowed when it stays inside one BO's mapped
 * (page-aligned) range of this file's domain. Called with f->lock held. */
static void *kfile_translate(void *ctx, uint64_t iova, uint64_t len, bool write)
{
	npu_kfile *f = ctx;
	const npu_iova_range *r = npu_iova_find(&f->iova, iova);
	struct kbo *bo;

	(void)write;
	if (!r || len > r->size - (iova - r->start))
		return NULL;
	bo = r->owner;
	return bo->map + (iova - bo->iova);
}

int npu_kfile_open(npu_kdev *kdev, npu_kfile **out)
{
	npu_kfile *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->memfd = memfd_create("rocket-sim-accel", MFD_CLOEXEC);
	if (f->memfd < 0) {
		int err = -errno;

		free(f);
		return err;
	}
	pthread_mutex_init(&f->lock, NULL);
	npu_iova_init(&f->iova, 0, KMODEL_APERTURE_END);
	f->next_offset = KMODEL_OFFSET_BASE;
	f->kdev = kdev;
	f->mem.ctx = f;
	f->mem.translate = kfile_translate;
	pthread_mutex_lock(&kdev->lock);
	kdev->refs++;
	pthread_mutex_unlock(&kdev->lock);
	*out = f;
	return 0;
}

int npu_kfile_fd(const npu_kfile *f)
{
	return f->memfd;
}

void kmodel_fence_put(struct kfence *fence)
{
	if (fence && --fence->refs == 0)
		free(fence);
}

/* Give the pages of freed BOs back. In the kernel a CPU mapping keeps its
 * pages after GEM_CLOSE; the model keeps them too until 256 MiB of freed BOs
 * accumulate in a file, then stale mappings read zeros. Offsets are never
 * reused, so a stale mapping can never alias a newer BO. */
#define KMODEL_FREED_RECLAIM (256ull << 20)

static void reclaim_freed(npu_kfile *f)
{
	for (size_t i = 0; i < f->freed_count; i++)
		fallocate(f->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)f->freed[i].start, (off_t)f->freed[i].size);
	f->freed_count = 0;
	f->freed_bytes = 0;
}

static void remember_freed(npu_kfile *f, uint64_t offset, uint64_t size)
{
	if (f->freed_count == f->freed_cap) {
		size_t cap = f->freed_cap ? f->freed_cap * 2 : 32;
		npu_iova_range *n = realloc(f->freed, cap * sizeof(*n));

		if (!n) {
			fallocate(f->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
				  (off_t)size);
			return;
		}
		f->freed = n;
		f->freed_cap = cap;
	}
	f->freed[f->freed_count++] = (npu_iova_range){ .start = offset, .size = size };
	f->freed_bytes += size;
	if (f->freed_bytes >= KMODEL_FREED_RECLAIM)
		reclaim_freed(f);
}

/* Last reference gone: unmap from the IOMMU, free the drm_mm node and the
 * shmem pages (rocket_gem_bo_free). */
void kmodel_bo_put(npu_kfile *f, struct kbo *bo)
{
	if (--bo->refs)
		return;
	npu_iova_free(&f->iova, bo->iova);
	munmap(bo->map, bo->size);
	remember_freed(f, bo->offset, bo->size);
	pthread_mutex_lock(&f->kdev->lock);
	f->kdev->mem_used -= bo->size;
	pthread_mutex_unlock(&f->kdev->lock);
	kmodel_fence_put(bo->write_fence);
	free(bo);
}

struct kbo *kmodel_lookup(npu_kfile *f, uint32_t handle)
{
	if (handle == 0 || handle >= f->handle_cap)
		return NULL;
	return f->handles[handle];
}

static void release_handle(npu_kfile *f, uint32_t handle)
{
	struct kbo *bo = f->handles[handle];

	f->handles[handle] = NULL;
	bo->handle = 0;
	kmodel_bo_put(f, bo);
}

void npu_kfile_release(npu_kfile *f, bool fd_closed)
{
	npu_kdev *kdev;

	if (!f)
		return;
	kdev = f->kdev;
	pthread_mutex_lock(&f->lock);
	/* drm_sched_entity_flush: queued jobs still run after close. */
	kmodel_run_queue(f, NULL);
	for (uint32_t h = 1; h < f->handle_cap; h++)
		if (f->handles[h])
			release_handle(f, h);
	pthread_mutex_unlock(&f->lock);
	free(f->handles);
	free(f->freed);
	npu_iova_fini(&f->iova);
	if (!fd_closed)
		close(f->memfd);
	pthread_mutex_destroy(&f->lock);
	free(f);
	kdev_unref(kdev);
}

/* ---- GEM ioctls ------------------------------------------------------- */

/* idr_alloc(object_idr, obj, 1, 0): the lowest free handle >= 1. */
static int alloc_handle(npu_kfile *f, struct kbo *bo)
{
	uint32_t h;

	for (h = 1; h < f->handle_cap; h++)
		if (!f->handles[h])
			break;
	if (h >= f->handle_cap) {
		uint32_t cap = f->handle_cap ? f->handle_cap * 2 : 64;
		struct kbo **n = realloc(f->handles, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		memset(n + f->handle_cap, 0, (cap - f->handle_cap) * sizeof(*n));
		f->handles = n;
		f->handle_cap = cap;
	}
	f->handles[h] = bo;
	bo->handle = h;
	return 0;
}

static int reserve_memory(npu_kdev *kdev, uint64_t size)
{
	int ret = 0;

	pthread_mutex_lock(&kdev->lock);
	if (size > kdev->cfg.mem_limit - kdev->mem_used)
		ret = -ENOMEM;
	else
		kdev->mem_used += size;
	pthread_mutex_unlock(&kdev->lock);
	return ret;
}

static void unreserve_memory(npu_kdev *kdev, uint64_t size)
{
	pthread_mutex_lock(&kdev->lock);
	kdev->mem_used -= size;
	pthread_mutex_unlock(&kdev->lock);
}

/* Backing pages at a fresh memfd offset; the model maps them for DMA. */
static int back_bo(npu_kfile *f, struct kbo *bo)
{
	uint64_t end = f->next_offset + bo->size;

	if (end > f->memfd_size) {
		if (ftruncate(f->memfd, (off_t)end) < 0)
			return -ENOMEM;
		f->memfd_size = end;
	}
	bo->map = mmap(NULL, bo->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd,
		       (off_t)f->next_offset);
	if (bo->map == MAP_FAILED) {
		bo->map = NULL;
		return -ENOMEM;
	}
	bo->offset = f->next_offset;
	f->next_offset = end;
	return 0;
}

/* rocket_ioctl_create_bo. A size of 0 is refused here ([I]: shmem with no
 * pages cannot be mapped by iommu_map_sgtable); larger sizes are rounded up
 * to whole pages, which is the size the IOMMU maps. */
static long ioctl_create_bo(npu_kfile *f, struct drm_rocket_create_bo *args)
{
	struct kbo *bo;
	uint64_t size = ((uint64_t)args->size + NPU_KMODEL_PAGE_SIZE - 1) &
			~(uint64_t)(NPU_KMODEL_PAGE_SIZE - 1);
	int ret;

	if (args->size == 0)
		return -EINVAL;
	ret = reserve_memory(f->kdev, size);
	if (ret)
		return ret;
	bo = calloc(1, sizeof(*bo));
	if (!bo) {
		unreserve_memory(f->kdev, size);
		return -ENOMEM;
	}
	bo->size = size;
	bo->user_size = args->size;
	bo->refs = 1;
	ret = npu_iova_alloc(&f->iova, size, NPU_KMODEL_PAGE_SIZE, bo, &bo->iova);
	if (ret)
		goto err_free;
	ret = back_bo(f, bo);
	if (ret)
		goto err_iova;
	ret = alloc_handle(f, bo);
	if (ret)
		goto err_unmap;
	args->handle = bo->handle;
	args->dma_address = bo->iova;
	args->offset = bo->offset;
	return 0;

err_unmap:
	munmap(bo->map, bo->size);
err_iova:
	npu_iova_free(&f->iova, bo->iova);
err_free:
	free(bo);
	unreserve_memory(f->kdev, size);
	return ret;
}

/* drm_gem_close_ioctl -> drm_gem_handle_delete: unknown handle -EINVAL. */
static long ioctl_gem_close(npu_kfile *f, struct drm_gem_close *args)
{
	if (!kmodel_lookup(f, args->handle))
		return -EINVAL;
	release_handle(f, args->handle);
	return 0;
}

/* rocket_ioctl_fini_bo: reserved first, then the lookup; the cache sync is
 * a no-op on the model (coherent memory). */
static long ioctl_fini_bo(npu_kfile *f, struct drm_rocket_fini_bo *args)
{
	if (args->reserved)
		return -EINVAL;
	return kmodel_lookup(f, args->handle) ? 0 : -ENOENT;
}

/* drm_copy_field: copy what fits, always report the full length. */
static int copy_field(char *dst, __kernel_size_t *len, const char *src)
{
	size_t n = strlen(src), c = *len < n ? *len : n;

	*len = n;
	if (c && kmodel_copy_to_user(dst, src, c))
		return -EFAULT;
	return 0;
}

/* DRM_IOCTL_VERSION: rocket_drm_driver sets no version numbers; since 6.14
 * the DRM core reports the date as "0". */
static long ioctl_version(struct drm_version *v)
{
	v->version_major = 0;
	v->version_minor = 0;
	v->version_patchlevel = 0;
	if (copy_field(v->name, &v->name_len, ROCKET_DRM_DRIVER_NAME) ||
	    copy_field(v->date, &v->date_len, "0") ||
	    copy_field(v->desc, &v->desc_len, NPU_KMODEL_DRIVER_DESC))
		return -EFAULT;
	return 0;
}

/* ---- dispatcher -------------------------------------------------------- */

enum { KIOC_VERSION = 0x00, KIOC_GEM_CLOSE = 0x09 };

/* drm_ioctl: the number (nr) selects the handler whatever size the caller
 * encoded; the argument is copied in with the caller's size into a zeroed
 * buffer of max(caller, kernel) bytes and copied back when both the caller
 * and the kernel declare the ioctl as writing (IOC_OUT). */
long npu_kfile_ioctl(npu_kfile *f, unsigned long request, void *arg)
{
	union {
		struct drm_version version;
		struct drm_gem_close gem_close;
		struct drm_rocket_create_bo create;
		struct drm_rocket_submit submit;
		struct drm_rocket_prep_bo prep;
		struct drm_rocket_fini_bo fini;
		uint8_t bytes[256];
	} k;
	unsigned nr = _IOC_NR(request), usize = _IOC_SIZE(request);
	unsigned kdir, udir = _IOC_DIR(request);
	long ret;

	if (_IOC_TYPE(request) != DRM_IOCTL_BASE)
		return -ENOTTY;
	switch (nr) {
	case KIOC_VERSION: kdir = _IOC_READ | _IOC_WRITE; break;
	case KIOC_GEM_CLOSE: kdir = _IOC_WRITE; break;
	case DRM_COMMAND_BASE + DRM_ROCKET_CREATE_BO: kdir = _IOC_READ | _IOC_WRITE; break;
	case DRM_COMMAND_BASE + DRM_ROCKET_SUBMIT:
	case DRM_COMMAND_BASE + DRM_ROCKET_PREP_BO:
	case DRM_COMMAND_BASE + DRM_ROCKET_FINI_BO: kdir = _IOC_WRITE; break;
	default:
		kmodel_log(f->kdev, NPU_KLOG_DEBUG, "rocket: DRM ioctl nr 0x%02x not modelled", nr);
		return -EINVAL;
	}
	if (usize > sizeof(k.bytes))
		return -EINVAL;
	memset(&k, 0, sizeof(k));
	if ((udir & kdir & _IOC_WRITE) && usize && kmodel_copy_from_user(k.bytes, arg, usize))
		return -EFAULT;
	pthread_mutex_lock(&f->lock);
	switch (nr) {
	case KIOC_VERSION: ret = ioctl_version(&k.version); break;
	case KIOC_GEM_CLOSE: ret = ioctl_gem_close(f, &k.gem_close); break;
	case DRM_COMMAND_BASE + DRM_ROCKET_CREATE_BO: ret = ioctl_create_bo(f, &k.create); break;
	case DRM_COMMAND_BASE + DRM_ROCKET_SUBMIT: ret = kmodel_submit(f, &k.submit); break;
	case DRM_COMMAND_BASE + DRM_ROCKET_PREP_BO:
		ret = k.prep.reserved ? -EINVAL : kmodel_prep_bo(f, k.prep.handle, k.prep.timeout_ns);
		break;
	default: ret = ioctl_fini_bo(f, &k.fini); break;
	}
	pthread_mutex_unlock(&f->lock);
	if (ret >= 0 && (udir & kdir & _IOC_READ) && usize && kmodel_copy_to_user(arg, k.bytes, usize))
		return -EFAULT;
	return ret;
}
