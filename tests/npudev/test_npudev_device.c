/* SPDX-License-Identifier: MIT */
/* The npu_device API (the same code that drives the real kernel) on the
 * kernel model with the scripted fake core: buffers, job validation, waits,
 * hung jobs, contexts, closing with work and buffers alive, no device. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_priv.h"
#include "fake_core.h"
#include "npu/npu_device.h"
#include "npu/npu_sim.h"
#include "test.h"

#define MS (1000ll * 1000)

static npu_kdev *make_kdev(void)
{
	npu_kdev_config cfg;
	npu_kdev *kdev = NULL;

	npu_kdev_config_default(&cfg);
	cfg.core_ops = &fake_core_ops;
	cfg.job_timeout_ms = 120;
	cfg.mem_limit = 64ull << 20;
	REQUIRE(npu_kdev_create(&cfg, &kdev) == 0);
	return kdev;
}

static bool err_has(const npu_device *dev, const char *needle)
{
	const char *e = npu_device_error(dev);
	bool ok = e && strstr(e, needle);

	if (!ok)
		fprintf(stderr, "  error text \"%s\" lacks \"%s\"\n", e ? e : "(null)", needle);
	return ok;
}

static void test_buffers(npu_device *dev)
{
	npu_bo a, b;

	CHECK_EQ_INT(npu_bo_create(dev, 0, &a), -EINVAL);
	CHECK(err_has(dev, "size 0"));
	CHECK_EQ_INT(npu_bo_create(dev, UINT32_MAX, &a), -ENOMEM);
	CHECK(err_has(dev, "DRM_IOCTL_ROCKET_CREATE_BO"));
	CHECK(err_has(dev, "4294967295 bytes"));
	REQUIRE(npu_bo_create(dev, 1000, &a) == 0);
	CHECK(a.map != NULL && a.size == 1000 && a.iova % 4096 == 0 && a.iova < (1ull << 32));
	memset(a.map, 0xab, 4096); /* the whole page is mapped */
	REQUIRE(npu_bo_create(dev, 5000, &b) == 0);
	CHECK(b.iova >= a.iova + 4096);
	CHECK_EQ_INT(npu_bo_fini(dev, &a), 0);
	CHECK_EQ_INT(npu_bo_prep(dev, &a, 10 * MS), 0);
	npu_bo_destroy(dev, &a);
	CHECK(a.handle == 0 && a.map == NULL);
	npu_bo_destroy(dev, &a); /* zeroed: harmless */
	{
		npu_bo stale = b;

		npu_bo_destroy(dev, &b);
		npu_bo_destroy(dev, &stale); /* destroyed already: refused, no crash */
		CHECK(err_has(dev, "not a live BO"));
		CHECK_EQ_INT(npu_bo_prep(dev, &stale, 0), -EINVAL);
		CHECK_EQ_INT(npu_bo_fini(dev, &stale), -EINVAL);
	}
}

struct fixture {
	npu_bo cmd, out, in;
};

static void fixture_init(npu_device *dev, struct fixture *fx)
{
	REQUIRE(npu_bo_create(dev, 4096, &fx->cmd) == 0);
	REQUIRE(npu_bo_create(dev, 4096, &fx->out) == 0);
	REQUIRE(npu_bo_create(dev, 4096, &fx->in) == 0);
}

static void fixture_fini(npu_device *dev, struct fixture *fx)
{
	npu_bo_destroy(dev, &fx->cmd);
	npu_bo_destroy(dev, &fx->out);
	npu_bo_destroy(dev, &fx->in);
}

static int submit(npu_device *dev, const npu_task *tasks, uint32_t n, const npu_bo *in,
		  const npu_bo *out)
{
	const npu_bo *ins[1] = { in }, *outs[1] = { out };
	npu_job job = { .tasks = tasks, .task_count = n, .in_bos = ins, .in_count = in ? 1 : 0,
			.out_bos = outs, .out_count = out ? 1 : 0 };

	return npu_submit(dev, &job, 1);
}

/* Every job the kernel would drop silently is refused with a message. */
static void test_validation(npu_device *dev, npu_device *other)
{
	struct fixture fx;
	npu_bo foreign;
	npu_task t;

	fixture_init(dev, &fx);
	REQUIRE(npu_bo_create(other, 4096, &foreign) == 0);
	t = (npu_task){ (uint32_t)fx.cmd.iova, 4 };
	CHECK_EQ_INT(npu_submit(dev, NULL, 0), 0);
	CHECK_EQ_INT(npu_submit(dev, NULL, 1), -EINVAL);
	CHECK_EQ_INT(submit(dev, &t, 0, NULL, &fx.out), -EINVAL);
	CHECK(err_has(dev, "no tasks"));
	CHECK_EQ_INT(submit(dev, &t, 1, NULL, NULL), -EINVAL);
	CHECK(err_has(dev, "no out BOs"));
	t.regcmd_count = 0;
	CHECK_EQ_INT(submit(dev, &t, 1, NULL, &fx.out), -EINVAL);
	CHECK(err_has(dev, "regcmd_count 0"));
	t.regcmd_count = 131073;
	CHECK_EQ_INT(submit(dev, &t, 1, NULL, &fx.out), -EINVAL);
	CHECK(err_has(dev, "16 bits"));
	t = (npu_task){ (uint32_t)fx.cmd.iova + 8, 4 };
	CHECK_EQ_INT(submit(dev, &t, 1, NULL, &fx.out), -EINVAL);
	CHECK(err_has(dev, "not 16-byte aligned"));
	t = (npu_task){ (uint32_t)fx.cmd.iova + 4096 - 16, 4 };
	CHECK_EQ_INT(submit(dev, &t, 1, NULL, &fx.out), -EINVAL);
	CHECK(err_has(dev, "not inside one BO"));
	t = (npu_task){ 0x7ff00000u, 2 };
	CHECK_EQ_INT(submit(dev, &t, 1, NULL, &fx.out), -EINVAL);
	t = (npu_task){ (uint32_t)fx.cmd.iova, 2 };
	CHECK_EQ_INT(submit(dev, &t, 1, &foreign, &fx.out), -EINVAL);
	CHECK(err_has(dev, "in_bos[0]"));
	CHECK(err_has(dev, "another context"));
	CHECK_EQ_INT(submit(dev, &t, 1, NULL, &foreign), -EINVAL);
	CHECK(err_has(dev, "out_bos[0]"));
	{
		const npu_bo *null_bo = NULL;
		npu_job job = { .tasks = &t, .task_count = 1, .out_bos = &null_bo, .out_count = 1 };

		CHECK_EQ_INT(npu_submit(dev, &job, 1), -EINVAL);
		job.out_bos = NULL;
		CHECK_EQ_INT(npu_submit(dev, &job, 1), -EINVAL);
	}
	npu_bo_destroy(other, &foreign);
	fixture_fini(dev, &fx);
}

static void test_jobs(npu_device *dev)
{
	struct fixture fx;
	npu_task t[2];
	uint64_t *e;
	npu_sim_stats st0, st1;

	fixture_init(dev, &fx);
	e = fx.cmd.map;
	memset(fx.in.map, 0x21, 64);
	e[0] = fake_copy((uint32_t)fx.in.iova, 4);
	e[1] = fake_copy_dst((uint32_t)fx.out.iova);
	e[2] = fake_inc32((uint32_t)fx.out.iova, 1);
	e[16] = fake_inc32((uint32_t)fx.out.iova, 1);
	t[0] = (npu_task){ (uint32_t)fx.cmd.iova, 4 };
	t[1] = (npu_task){ (uint32_t)fx.cmd.iova + 128, 1 };
	CHECK_EQ_INT(npu_bo_fini(dev, &fx.cmd), 0);
	CHECK_EQ_INT(npu_bo_fini(dev, &fx.in), 0);
	CHECK_EQ_INT(npu_device_sim_stats(dev, &st0), 0);
	CHECK_EQ_INT(submit(dev, t, 2, &fx.in, &fx.out), 0);
	CHECK_EQ_INT(npu_bo_prep(dev, &fx.out, NPU_DEVICE_DEFAULT_TIMEOUT_NS), 0);
	{
		const uint32_t *w = fx.out.map;

		CHECK_EQ_INT(w[0], 0x21212123u);  /* copied, +1 by each task */
		CHECK_EQ_INT(w[3], 0x21212123u);
		CHECK_EQ_INT(w[4], 0x21212121u);
		CHECK_EQ_INT(w[15], 0x21212121u);
		CHECK_EQ_INT(w[16], 0);
	}
	CHECK_EQ_INT(npu_device_sim_stats(dev, &st1), 0);
	CHECK_EQ_INT(st1.tasks - st0.tasks, 2);

	/* a hung job: short wait -> -ETIMEDOUT; a long wait -> -EIO (only the
	 * simulator can tell); the next job runs after the core reset */
	e[0] = fake_hang();
	t[0].regcmd_count = 2;
	CHECK_EQ_INT(submit(dev, t, 1, NULL, &fx.out), 0);
	CHECK_EQ_INT(npu_bo_prep(dev, &fx.out, 0), -EBUSY);
	CHECK_EQ_INT(npu_bo_prep(dev, &fx.out, 20 * MS), -ETIMEDOUT);
	CHECK(err_has(dev, "-ETIMEDOUT"));
	CHECK_EQ_INT(npu_bo_prep(dev, &fx.out, NPU_DEVICE_DEFAULT_TIMEOUT_NS), -EIO);
	CHECK(err_has(dev, "hung"));
	CHECK(err_has(dev, "task 1/1"));
	e[0] = fake_fill(0x5c, (uint32_t)fx.out.iova, 1);
	CHECK_EQ_INT(submit(dev, t, 1, NULL, &fx.out), 0);
	CHECK_EQ_INT(npu_bo_prep(dev, &fx.out, NPU_DEVICE_DEFAULT_TIMEOUT_NS), 0);
	CHECK_EQ_INT(((uint8_t *)fx.out.map)[15], 0x5c);
	fixture_fini(dev, &fx);
}

/* Closing a context with buffers alive and a job queued: the job runs, the
 * buffers are released, nothing leaks (ASan), nothing crashes. */
static void test_close_with_bos(npu_kdev *kdev)
{
	npu_device *dev;
	struct fixture fx;
	npu_task t;

	REQUIRE(npu_device_open_kdev(kdev, &dev) == 0);
	fixture_init(dev, &fx);
	((uint64_t *)fx.cmd.map)[0] = fake_fill(0x99, (uint32_t)fx.out.iova, 1);
	t = (npu_task){ (uint32_t)fx.cmd.iova, 2 };
	CHECK_EQ_INT(submit(dev, &t, 1, &fx.cmd, &fx.out), 0);
	npu_device_close(dev); /* no destroy of fx: the device does it */
}

/* Three contexts driven from three threads at once (the way a GEMM spreads
 * over cores): every job's result is right, nothing races (ASan). */
struct worker {
	npu_device *dev;
	int id, errors;
};

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct fixture fx;
	npu_task t;
	const int rounds = rb_test_quick() ? 20 : 100;

	fixture_init(wk->dev, &fx);
	for (int r = 0; r < rounds; r++) {
		uint8_t byte = (uint8_t)(wk->id * 64 + r);

		((uint64_t *)fx.cmd.map)[0] = fake_fill(byte, (uint32_t)fx.out.iova, 8);
		t = (npu_task){ (uint32_t)fx.cmd.iova, 2 };
		if (submit(wk->dev, &t, 1, &fx.cmd, &fx.out) ||
		    npu_bo_prep(wk->dev, &fx.out, NPU_DEVICE_DEFAULT_TIMEOUT_NS) ||
		    ((uint8_t *)fx.out.map)[127] != byte)
			wk->errors++;
	}
	fixture_fini(wk->dev, &fx);
	return NULL;
}

static void test_threads(npu_kdev *kdev)
{
	struct worker wk[3];
	pthread_t th[3];

	for (int i = 0; i < 3; i++) {
		wk[i] = (struct worker){ .id = i };
		REQUIRE(npu_device_open_kdev(kdev, &wk[i].dev) == 0);
		REQUIRE(pthread_create(&th[i], NULL, worker_main, &wk[i]) == 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(wk[i].errors, 0);
		npu_device_close(wk[i].dev);
	}
}

static void test_no_device(void)
{
	npu_device *dev = (npu_device *)1;
	npu_device *devs[4];

	setenv("NPU_DEVICE", "/nonexistent/accel9", 1);
	CHECK_EQ_INT(npu_device_open(NULL, &dev), -ENODEV);
	CHECK(dev == NULL);
	CHECK(strstr(npu_device_error(NULL), "/nonexistent/accel9") != NULL);
	unsetenv("NPU_DEVICE");
	/* a node that is not a DRM device */
	CHECK_EQ_INT(npu_device_open("/dev/null", &dev), -ENODEV);
	CHECK(strstr(npu_device_error(NULL), "DRM_IOCTL_VERSION") != NULL);
	CHECK_EQ_INT(npu_device_open_contexts("/dev/null", 4, devs), -EINVAL);
	CHECK_EQ_INT(npu_device_open_contexts("/dev/null", 2, devs), -ENODEV);
	CHECK_EQ_INT(npu_device_open_sim_contexts(NULL, 0, devs), -EINVAL);
	/* the in-process simulator needs the simulator core */
	if (!npu_kcore_sim_ops()) {
		CHECK_EQ_INT(npu_device_open_sim(NULL, &dev), -ENOSYS);
		CHECK(strstr(npu_device_error(NULL), "without the simulator") != NULL);
	} else {
		CHECK_EQ_INT(npu_device_open_sim_contexts(NULL, 3, devs), 0);
		CHECK(npu_device_is_sim(devs[0]) && npu_device_core_count(devs[0]) == 3);
		for (int i = 0; i < 3; i++)
			npu_device_close(devs[i]);
		/* NPU_DEVICE=sim: any program on the simulator */
		setenv("NPU_DEVICE", "sim", 1);
		CHECK_EQ_INT(npu_device_open(NULL, &dev), 0);
		CHECK(dev && npu_device_is_sim(dev));
		npu_device_close(dev);
		CHECK_EQ_INT(npu_device_open_contexts(NULL, 2, devs), 0);
		CHECK(npu_device_is_sim(devs[1]));
		npu_device_close(devs[0]);
		npu_device_close(devs[1]);
		unsetenv("NPU_DEVICE");
	}
}

int main(void)
{
	npu_kdev *kdev = make_kdev();
	npu_device *dev, *other;

	REQUIRE(npu_device_open_kdev(kdev, &dev) == 0);
	REQUIRE(npu_device_open_kdev(kdev, &other) == 0);
	CHECK(npu_device_is_sim(dev));
	CHECK_STR(npu_device_name(dev), "sim");
	CHECK_EQ_INT(npu_device_core_count(dev), 3);
	test_buffers(dev);
	test_validation(dev, other);
	test_jobs(dev);
	npu_device_close(other);
	npu_device_close(dev);
	test_close_with_bos(kdev);
	test_threads(kdev);
	npu_kdev_put(kdev);
	test_no_device();
	return rb_test_finish();
}
