/* SPDX-License-Identifier: MIT */
/* libnpu-sim-shim.so: LD_PRELOAD this library and /dev/accel/accel0 becomes a
 * simulated RK3588 NPU behind the mainline rocket uAPI, for any program:
 * libnpu's real device layer, raw ioctl users, Mesa's rocket driver.
 *
 * - open/openat (and the _FORTIFY_SOURCE __open_2 variants, 64-bit aliases)
 *   of exactly "/dev/accel/accel0" create a new file of the kernel model
 *   (userspace/libnpu/device/npu_kmodel.h) and return a dup of its memfd.
 *   The memfd is a real fd: dup/fcntl/poll/close work, and mmap(fd, offset)
 *   with the offsets CREATE_BO returns maps the BO without interception.
 * - ioctl with the DRM type ('d') on an fd whose inode is one of those
 *   memfds goes to the model: DRM_IOCTL_VERSION (driver "rocket"),
 *   DRM_IOCTL_GEM_CLOSE and the four rocket ioctls; everything else reaches
 *   the real ioctl.
 * - close of the last fd of such a file (dups included) releases it, as
 *   drm_release does.
 * The model's "dmesg" (job timeouts) goes to stderr as "rocket-sim: ...".
 * See README.md in this directory for what works with other userspace. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npu/rocket_uapi.h"
#include "npu_kmodel.h"
#include "shim.h"

#define SHIM_NODE "/dev/accel/accel0"
#define SHIM_EXPORT __attribute__((visibility("default")))

struct shim_file {
	npu_kfile *kfile;
	dev_t dev;
	ino_t ino;
	unsigned users;   /* ioctls in flight */
	bool closing;     /* released when users drops to 0 */
};

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static npu_kdev *shim_kdev;
static struct shim_file *files[64];
static unsigned file_count;

/* ---- the real libc functions ------------------------------------------ */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*close_fn)(int);
typedef int (*ioctl_fn)(int, unsigned long, ...);

static void *lookup_real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr, "rocket-sim: cannot find the real %s(): %s\n", name, dlerror());
		abort();
	}
	return f;
}

/* real_<name>(): the next definition of <name> (libc's, or a sanitizer's
 * interceptor), looked up once. */
#define DEFINE_REAL(type, name)                                                     \
	static type real_##name(void)                                               \
	{                                                                           \
		static type cached;                                                 \
		type f = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);                \
		if (!f) {                                                           \
			f = (type)lookup_real(#name);                               \
			__atomic_store_n(&cached, f, __ATOMIC_RELEASE);             \
		}                                                                   \
		return f;                                                           \
	}

DEFINE_REAL(open_fn, open)
DEFINE_REAL(open_fn, open64)
DEFINE_REAL(openat_fn, openat)
DEFINE_REAL(openat_fn, openat64)
DEFINE_REAL(open2_fn, __open_2)
DEFINE_REAL(open2_fn, __open64_2)
DEFINE_REAL(openat2_fn, __openat_2)
DEFINE_REAL(openat2_fn, __openat64_2)
DEFINE_REAL(close_fn, close)
DEFINE_REAL(ioctl_fn, ioctl)

/* ---- the simulated device ---------------------------------------------- */

static void shim_log(void *ctx, enum npu_klog_level level, const char *msg)
{
	(void)ctx;
	if ((level == NPU_KLOG_ERR && !getenv("NPU_SIM_QUIET")) || getenv("NPU_SIM_DEBUG"))
		fprintf(stderr, "rocket-sim: %s\n", msg);
}

/* Called with shim_lock held. */
static int ensure_kdev(void)
{
	npu_kdev_config cfg;
	int ret;

	if (shim_kdev)
		return 0;
	npu_kdev_config_default(&cfg);
	cfg.log = shim_log;
	cfg.core_ops = npu_shim_core_ops();
	ret = npu_kdev_create(&cfg, &shim_kdev);
	if (ret == -ENOSYS)
		fprintf(stderr, "rocket-sim: this shim was built without the simulator core\n");
	return ret;
}

static bool is_node(const char *path)
{
	return path && strcmp(path, SHIM_NODE) == 0;
}

/* open(SHIM_NODE): a new file; the caller gets its own dup of the memfd. */
static int open_node(int flags)
{
	struct shim_file *sf;
	struct stat st;
	int ret, fd;

	pthread_mutex_lock(&shim_lock);
	ret = ensure_kdev();
	if (!ret && file_count == sizeof(files) / sizeof(files[0]))
		ret = -EMFILE;
	sf = ret ? NULL : calloc(1, sizeof(*sf));
	if (!ret && !sf)
		ret = -ENOMEM;
	if (!ret)
		ret = npu_kfile_open(shim_kdev, &sf->kfile);
	if (ret) {
		pthread_mutex_unlock(&shim_lock);
		free(sf);
		errno = -ret == ENOSYS ? ENODEV : -ret;
		return -1;
	}
	fd = fcntl(npu_kfile_fd(sf->kfile), (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			real_close()(fd);
		npu_kfile_release(sf->kfile, false);
		free(sf);
		pthread_mutex_unlock(&shim_lock);
		errno = err;
		return -1;
	}
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	files[file_count++] = sf;
	pthread_mutex_unlock(&shim_lock);
	return fd;
}

/* The file behind fd (with a user reference), or NULL. */
static struct shim_file *get_file(int fd)
{
	struct shim_file *found = NULL;
	struct stat st;

	if (!__atomic_load_n(&file_count, __ATOMIC_ACQUIRE) || fstat(fd, &st) < 0)
		return NULL;
	pthread_mutex_lock(&shim_lock);
	for (unsigned i = 0; i < file_count; i++) {
		if (files[i]->dev == st.st_dev && files[i]->ino == st.st_ino && !files[i]->closing) {
			found = files[i];
			found->users++;
			break;
		}
	}
	pthread_mutex_unlock(&shim_lock);
	return found;
}

static void put_file(struct shim_file *sf)
{
	bool release;

	pthread_mutex_lock(&shim_lock);
	release = --sf->users == 0 && sf->closing;
	pthread_mutex_unlock(&shim_lock);
	if (release) {
		npu_kfile_release(sf->kfile, false);
		free(sf);
	}
}

/* Does any fd of this process other than the model's own refer to sf? */
static bool still_open(const struct shim_file *sf)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	bool open = false;
	int own = npu_kfile_fd(sf->kfile);

	if (!d)
		return true; /* cannot tell: keep the file */
	while (!open && (e = readdir(d))) {
		struct stat st;
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == own || fd == dirfd(d))
			continue;
		open = fstat(fd, &st) == 0 && st.st_dev == sf->dev && st.st_ino == sf->ino;
	}
	closedir(d);
	return open;
}

/* ---- interposed functions ------------------------------------------------ */

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_node(path))
		return open_node(flags);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return real_open()(path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_node(path))
		return open_node(flags);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return real_open64()(path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_node(path))
		return open_node(flags);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return real_openat()(dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_node(path))
		return open_node(flags);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return real_openat64()(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE turns open(path, flags) without a mode into these (glibc
 * declares them only in fortified builds). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

SHIM_EXPORT int __open_2(const char *path, int flags)
{
	return is_node(path) ? open_node(flags) : real___open_2()(path, flags);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	return is_node(path) ? open_node(flags) : real___open64_2()(path, flags);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return is_node(path) ? open_node(flags)
			     : real___openat_2()(dirfd, path, flags);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return is_node(path) ? open_node(flags)
			     : real___openat64_2()(dirfd, path, flags);
}

SHIM_EXPORT int close(int fd)
{
	struct shim_file *sf = get_file(fd);
	int ret = real_close()(fd), err = errno;

	if (sf) {
		pthread_mutex_lock(&shim_lock);
		if (!sf->closing && !still_open(sf)) {
			sf->closing = true;
			for (unsigned i = 0; i < file_count; i++) {
				if (files[i] == sf) {
					files[i] = files[--file_count];
					break;
				}
			}
		}
		pthread_mutex_unlock(&shim_lock);
		put_file(sf);
	}
	errno = err;
	return ret;
}

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	struct shim_file *sf;
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (_IOC_TYPE(request) != DRM_IOCTL_BASE || !(sf = get_file(fd)))
		return real_ioctl()(fd, request, arg);
	ret = npu_kfile_ioctl(sf->kfile, request, arg);
	put_file(sf);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (int)ret;
}
