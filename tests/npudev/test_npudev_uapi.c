/* SPDX-License-Identifier: MIT */
/* rocket uAPI declarations (include/npu/rocket_uapi.h): the header holds
 * compile-time checks; this test recomputes the same facts at run time by a
 * different route (byte offsets measured on instances, ioctl numbers built
 * from the generic _IOC bit layout by hand) against the published values of
 * Linux 6.18's include/uapi/drm/rocket_accel.h (the numbers:
 * docs/npu-mainline-status.md#uapi). */
#include <stdint.h>
#include <string.h>

#include "npu/rocket_uapi.h"
#include "test.h"

#define OFF(var, field) ((long)((const char *)&(var).field - (const char *)&(var)))

/* _IOC: dir in bits 31:30 (1 write, 2 read), size 29:16, type 15:8, nr 7:0 */
static uint32_t ioc(uint32_t dir, uint32_t size, uint32_t nr)
{
	return dir << 30 | size << 16 | (uint32_t)'d' << 8 | nr;
}

int main(void)
{
	struct drm_rocket_create_bo c;
	struct drm_rocket_task t;
	struct drm_rocket_job j;
	struct drm_rocket_submit s;
	struct drm_rocket_prep_bo p;
	struct drm_rocket_fini_bo f;

	CHECK_EQ_INT(sizeof(c), 24);
	CHECK_EQ_INT(OFF(c, handle), 4);
	CHECK_EQ_INT(OFF(c, dma_address), 8);
	CHECK_EQ_INT(OFF(c, offset), 16);
	CHECK_EQ_INT(sizeof(t), 8);
	CHECK_EQ_INT(OFF(t, regcmd_count), 4);
	CHECK_EQ_INT(sizeof(j), 40);
	CHECK_EQ_INT(OFF(j, in_bo_handles), 8);
	CHECK_EQ_INT(OFF(j, out_bo_handles), 16);
	CHECK_EQ_INT(OFF(j, task_count), 24);
	CHECK_EQ_INT(OFF(j, task_struct_size), 28);
	CHECK_EQ_INT(OFF(j, in_bo_handle_count), 32);
	CHECK_EQ_INT(OFF(j, out_bo_handle_count), 36);
	CHECK_EQ_INT(sizeof(s), 24);
	CHECK_EQ_INT(OFF(s, job_count), 8);
	CHECK_EQ_INT(OFF(s, job_struct_size), 12);
	CHECK_EQ_INT(OFF(s, reserved), 16);
	CHECK_EQ_INT(sizeof(p), 16);
	CHECK_EQ_INT(OFF(p, reserved), 4);
	CHECK_EQ_INT(OFF(p, timeout_ns), 8);
	CHECK_EQ_INT(sizeof(f), 8);
	CHECK_EQ_INT(OFF(f, reserved), 4);

	/* 64-bit fields are naturally aligned: no padding anywhere */
	CHECK_EQ_INT(OFF(c, dma_address) % 8, 0);
	CHECK_EQ_INT(OFF(p, timeout_ns) % 8, 0);

	CHECK_EQ_INT(DRM_IOCTL_ROCKET_CREATE_BO, ioc(3, 24, 0x40));
	CHECK_EQ_INT(DRM_IOCTL_ROCKET_SUBMIT, ioc(1, 24, 0x41));
	CHECK_EQ_INT(DRM_IOCTL_ROCKET_PREP_BO, ioc(1, 16, 0x42));
	CHECK_EQ_INT(DRM_IOCTL_ROCKET_FINI_BO, ioc(1, 8, 0x43));
	CHECK_EQ_INT(DRM_IOCTL_ROCKET_CREATE_BO, 0xC0186440u);
	CHECK_EQ_INT(DRM_IOCTL_ROCKET_SUBMIT, 0x40186441u);
	CHECK_EQ_INT(DRM_IOCTL_ROCKET_PREP_BO, 0x40106442u);
	CHECK_EQ_INT(DRM_IOCTL_ROCKET_FINI_BO, 0x40086443u);
	/* the two DRM core ioctls the device layer also uses */
	CHECK_EQ_INT(DRM_IOCTL_GEM_CLOSE, ioc(1, 8, 0x09));
	CHECK_EQ_INT(DRM_IOCTL_VERSION, ioc(3, (uint32_t)sizeof(struct drm_version), 0x00));
	CHECK_STR(ROCKET_DRM_DRIVER_NAME, "rocket");
	return rb_test_finish();
}
