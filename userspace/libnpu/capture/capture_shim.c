/* SPDX-License-Identifier: MIT */
/* libnpu-capture.so: LD_PRELOAD it in front of any rocket userspace (Mesa's
 * Teflon, a Python script, libnpu) on a board, and every job submitted
 * through DRM_IOCTL_ROCKET_SUBMIT is written to a capture file
 * (docs/npu-capture-format.md) while the kernel runs it as usual:
 *
 *   NPU_CAPTURE=/tmp/cap/teflon LD_PRELOAD=libnpu-capture.so ./app
 *
 * It interposes ioctl() and close() only. Per fd it records the BOs that
 * CREATE_BO returned; on SUBMIT it submits the jobs one at a time, and for
 * each: waits for earlier work (PREP_BO on every known BO), snapshots the
 * job's buffers (the listed ones, the regcmd buffers, and every buffer a
 * register value points into), submits, waits for the out BOs, snapshots
 * again and writes "<prefix>-<pid>-<n>.npucap". Submission becomes
 * synchronous: a debugging tool, not for production runs. Without
 * NPU_CAPTURE it only passes calls through. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "npu/npu_capture.h"
#include "npu/rocket_uapi.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define WAIT_NS (60ll * 1000 * 1000 * 1000)
#define MAX_FDS 1024

typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*close_fn)(int);

struct cbo {
	uint32_t handle;
	uint32_t size;      /* page aligned */
	uint64_t iova, offset;
	uint8_t *map;       /* mapped on first snapshot */
};

struct cfile {
	struct cbo *bos;
	unsigned count, cap;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cfile *files[MAX_FDS];
static unsigned counter;

static void *next_sym(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr, "npu-capture: no next %s(): %s\n", name, dlerror());
		abort();
	}
	return f;
}

static int real_ioctl(int fd, unsigned long req, void *arg)
{
	static ioctl_fn f;

	if (!f)
		f = (ioctl_fn)next_sym("ioctl");
	return f(fd, req, arg);
}

static int real_close(int fd)
{
	static close_fn f;

	if (!f)
		f = (close_fn)next_sym("close");
	return f(fd);
}

static const char *prefix(void)
{
	const char *p = getenv("NPU_CAPTURE");

	return p && *p ? p : NULL;
}

/* ---- BO bookkeeping (called with lock held) ------------------------------ */

static struct cfile *file_of(int fd, bool create)
{
	if (fd < 0 || fd >= MAX_FDS)
		return NULL;
	if (!files[fd] && create)
		files[fd] = calloc(1, sizeof(struct cfile));
	return files[fd];
}

static void forget_file(int fd)
{
	struct cfile *f = file_of(fd, false);

	if (!f)
		return;
	for (unsigned i = 0; i < f->count; i++)
		if (f->bos[i].map)
			munmap(f->bos[i].map, f->bos[i].size);
	free(f->bos);
	free(f);
	files[fd] = NULL;
}

static void add_bo(int fd, const struct drm_rocket_create_bo *c)
{
	struct cfile *f = file_of(fd, true);
	long page = sysconf(_SC_PAGESIZE);

	if (!f)
		return;
	if (f->count == f->cap) {
		unsigned cap = f->cap ? f->cap * 2 : 64;
		struct cbo *n = realloc(f->bos, cap * sizeof(*n));

		if (!n)
			return;
		f->bos = n;
		f->cap = cap;
	}
	f->bos[f->count++] = (struct cbo){
		.handle = c->handle,
		.size = (uint32_t)(((uint64_t)c->size + (uint64_t)page - 1) & ~(uint64_t)(page - 1)),
		.iova = c->dma_address, .offset = c->offset,
	};
}

static void remove_bo(int fd, uint32_t handle)
{
	struct cfile *f = file_of(fd, false);

	for (unsigned i = 0; f && i < f->count; i++) {
		if (f->bos[i].handle == handle) {
			if (f->bos[i].map)
				munmap(f->bos[i].map, f->bos[i].size);
			f->bos[i] = f->bos[--f->count];
			return;
		}
	}
}

static struct cbo *bo_by_handle(struct cfile *f, uint32_t handle)
{
	for (unsigned i = 0; i < f->count; i++)
		if (f->bos[i].handle == handle)
			return &f->bos[i];
	return NULL;
}

static struct cbo *bo_at(struct cfile *f, uint64_t iova)
{
	for (unsigned i = 0; i < f->count; i++)
		if (iova >= f->bos[i].iova && iova - f->bos[i].iova < f->bos[i].size)
			return &f->bos[i];
	return NULL;
}

static uint8_t *bo_map(int fd, struct cbo *b)
{
	if (!b->map) {
		void *m = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)b->offset);

		b->map = m == MAP_FAILED ? NULL : m;
	}
	return b->map;
}

static int64_t deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec + WAIT_NS;
}

static int prep(int fd, uint32_t handle)
{
	struct drm_rocket_prep_bo p = { .handle = handle, .timeout_ns = deadline() };
	int r;

	do
		r = real_ioctl(fd, DRM_IOCTL_ROCKET_PREP_BO, &p);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void fini(int fd, uint32_t handle)
{
	struct drm_rocket_fini_bo f = { .handle = handle };

	real_ioctl(fd, DRM_IOCTL_ROCKET_FINI_BO, &f);
}

/* ---- capture of one job -------------------------------------------------- */

static void mark(struct cfile *f, uint32_t *flags, uint64_t iova, uint32_t flag)
{
	struct cbo *b = bo_at(f, iova);

	if (b)
		flags[b - f->bos] |= flag;
}

static int collect(int fd, struct cfile *f, const struct drm_rocket_job *job, npu_capture *cap)
{
	uint32_t *flags = calloc(f->count ? f->count : 1, sizeof(*flags));
	const uint32_t *in = (const uint32_t *)(uintptr_t)job->in_bo_handles;
	const uint32_t *out = (const uint32_t *)(uintptr_t)job->out_bo_handles;

	cap->tasks = calloc(job->task_count ? job->task_count : 1, sizeof(*cap->tasks));
	cap->bos = calloc(f->count ? f->count : 1, sizeof(*cap->bos));
	if (!flags || !cap->tasks || !cap->bos) {
		free(flags);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < job->in_bo_handle_count; i++) {
		struct cbo *b = bo_by_handle(f, in[i]);

		if (b)
			flags[b - f->bos] |= NPU_CAPTURE_BO_IN;
	}
	for (uint32_t i = 0; i < job->out_bo_handle_count; i++) {
		struct cbo *b = bo_by_handle(f, out[i]);

		if (b)
			flags[b - f->bos] |= NPU_CAPTURE_BO_OUT;
	}
	cap->task_count = job->task_count;
	for (uint32_t t = 0; t < job->task_count; t++) {
		const struct drm_rocket_task *task = (const void *)((uintptr_t)job->tasks +
								     (uint64_t)t * job->task_struct_size);
		struct cbo *b = bo_at(f, task->regcmd);
		const uint8_t *m = b ? bo_map(fd, b) : NULL;

		cap->tasks[t] = (npu_capture_task){ task->regcmd, task->regcmd_count };
		if (!m)
			continue;
		flags[b - f->bos] |= NPU_CAPTURE_BO_REGCMD;
		for (uint64_t e = 0; e < task->regcmd_count &&
				     task->regcmd - b->iova + 8 * (e + 1) <= b->size; e++) {
			uint64_t entry;

			memcpy(&entry, m + (task->regcmd - b->iova) + 8 * e, 8);
			mark(f, flags, (entry >> 16) & 0xffffffffu, NPU_CAPTURE_BO_REF);
		}
	}
	for (unsigned i = 0; i < f->count; i++)
		if (flags[i])
			cap->bos[cap->bo_count++] = (npu_capture_bo){ .handle = f->bos[i].handle,
								      .flags = flags[i],
								      .iova = f->bos[i].iova,
								      .size = f->bos[i].size };
	free(flags);
	return 0;
}

static void snapshot(int fd, struct cfile *f, npu_capture *cap, bool after)
{
	for (uint32_t i = 0; i < cap->bo_count; i++) {
		struct cbo *b = bo_by_handle(f, cap->bos[i].handle);
		const uint8_t *m = b ? bo_map(fd, b) : NULL;
		uint8_t *copy = m ? malloc(b->size) : NULL;

		if (copy) {
			prep(fd, b->handle); /* coherent for the CPU */
			memcpy(copy, m, b->size);
			fini(fd, b->handle);
		}
		if (after)
			cap->bos[i].after = copy;
		else
			cap->bos[i].before = copy;
	}
}

static char *info_text(unsigned n)
{
	char *s = malloc(512);
	struct utsname u;

	if (!s)
		return NULL;
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	snprintf(s, 512, "producer=rosenblatt libnpu-capture.so\ndevice=rocket\nkernel=%s\n"
		 "machine=%s\npid=%d\njob=%u\n", u.release, u.machine, (int)getpid(), n);
	return s;
}

/* Submit one job and capture it. Returns the SUBMIT ioctl's result. */
static int capture_job(int fd, struct cfile *f, const struct drm_rocket_submit *outer,
		       const struct drm_rocket_job *job, const void *job_ptr)
{
	struct drm_rocket_submit one = *outer;
	npu_capture cap = { 0 };
	char path[4096], err[256];
	unsigned n;
	int ret;

	for (unsigned i = 0; i < f->count; i++) /* earlier work done */
		prep(fd, f->bos[i].handle);
	if (collect(fd, f, job, &cap) == 0)
		snapshot(fd, f, &cap, false);
	one.jobs = (uintptr_t)job_ptr;
	one.job_count = 1;
	ret = real_ioctl(fd, DRM_IOCTL_ROCKET_SUBMIT, &one);
	if (ret < 0) {
		npu_capture_free(&cap);
		return ret;
	}
	cap.has_result = 1;
	for (uint32_t i = 0; i < job->out_bo_handle_count; i++) {
		int r = prep(fd, ((const uint32_t *)(uintptr_t)job->out_bo_handles)[i]);

		if (r && !cap.result)
			cap.result = r;
	}
	snapshot(fd, f, &cap, true);
	n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	cap.info = info_text(n);
	snprintf(path, sizeof(path), "%s-%d-%u.npucap", prefix(), (int)getpid(), n);
	if (npu_capture_write(path, &cap, err, sizeof(err)))
		fprintf(stderr, "npu-capture: %s\n", err);
	npu_capture_free(&cap);
	return ret;
}

static int capture_submit(int fd, struct drm_rocket_submit *s)
{
	struct cfile *f = file_of(fd, true);
	int ret = 0;

	if (!f || s->job_count == 0 || s->job_struct_size < sizeof(struct drm_rocket_job) ||
	    s->reserved)
		return real_ioctl(fd, DRM_IOCTL_ROCKET_SUBMIT, s);
	for (uint32_t j = 0; j < s->job_count && ret >= 0; j++) {
		const void *ptr = (const uint8_t *)(uintptr_t)s->jobs + (uint64_t)j * s->job_struct_size;
		struct drm_rocket_job job;

		memcpy(&job, ptr, sizeof(job));
		ret = capture_job(fd, f, s, &job, ptr);
	}
	return ret;
}

/* ---- interposed functions ------------------------------------------------ */

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (_IOC_TYPE(request) != DRM_IOCTL_BASE || !prefix())
		return real_ioctl(fd, request, arg);
	switch (_IOC_NR(request)) {
	case DRM_COMMAND_BASE + DRM_ROCKET_SUBMIT:
		pthread_mutex_lock(&lock);
		ret = capture_submit(fd, arg);
		pthread_mutex_unlock(&lock);
		return ret;
	case DRM_COMMAND_BASE + DRM_ROCKET_CREATE_BO:
		ret = real_ioctl(fd, request, arg);
		if (ret == 0) {
			pthread_mutex_lock(&lock);
			add_bo(fd, arg);
			pthread_mutex_unlock(&lock);
		}
		return ret;
	case 0x09: /* DRM_IOCTL_GEM_CLOSE */
		ret = real_ioctl(fd, request, arg);
		if (ret == 0) {
			pthread_mutex_lock(&lock);
			remove_bo(fd, ((const struct drm_gem_close *)arg)->handle);
			pthread_mutex_unlock(&lock);
		}
		return ret;
	default:
		return real_ioctl(fd, request, arg);
	}
}

SHIM_EXPORT int close(int fd)
{
	if (fd >= 0 && fd < MAX_FDS && __atomic_load_n(&files[fd], __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&lock);
		forget_file(fd);
		pthread_mutex_unlock(&lock);
	}
	return real_close(fd);
}
