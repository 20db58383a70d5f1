/* SPDX-License-Identifier: MIT */
/* A tiny IOVA space for driving the simulator directly in tests: buffers at
 * fixed IOVAs, DMA translation that faults outside them. */
#ifndef NPU_TEST_MEM_H
#define NPU_TEST_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npu/npu_sim.h"

#define TMEM_MAX 16

typedef struct tmem {
	struct {
		uint64_t iova, size;
		uint8_t *data;
	} buf[TMEM_MAX];
	int count;
	npu_sim_mem mem;
} tmem;

static void *tmem_translate(void *ctx, uint64_t iova, uint64_t len, bool write)
{
	(void)write;
	tmem *t = ctx;
	for (int i = 0; i < t->count; i++)
		if (iova >= t->buf[i].iova && len <= t->buf[i].size &&
		    iova - t->buf[i].iova <= t->buf[i].size - len)
			return t->buf[i].data + (iova - t->buf[i].iova);
	return NULL;
}

static inline void tmem_init(tmem *t)
{
	memset(t, 0, sizeof(*t));
	t->mem.ctx = t;
	t->mem.translate = tmem_translate;
}

/* Map a zeroed buffer of `size` bytes at `iova`; returns its host pointer. */
static inline void *tmem_add(tmem *t, uint64_t iova, uint64_t size)
{
	if (t->count == TMEM_MAX)
		return NULL;
	for (int i = 0; i < t->count; i++) /* IOVA ranges must not overlap */
		if (iova < t->buf[i].iova + t->buf[i].size && t->buf[i].iova < iova + size)
			return NULL;
	uint8_t *p = calloc(1, size ? size : 1);
	if (!p)
		return NULL;
	t->buf[t->count].iova = iova;
	t->buf[t->count].size = size;
	t->buf[t->count].data = p;
	t->count++;
	return p;
}

static inline void tmem_free(tmem *t)
{
	for (int i = 0; i < t->count; i++)
		free(t->buf[i].data);
	t->count = 0;
}

/* The kernel's ten-step kick of one task (rocket_job.c,
 * docs/npu-programming.md#the-kick-what-the-kernel-writes-per-task). */
static inline int tmem_kick(npu_sim_core *core, tmem *t, uint32_t regcmd_iova, uint32_t count)
{
	static const uint32_t pc_base = 0x0010, amounts = 0x0014, mask = 0x0020, clear = 0x0024,
			      task_con = 0x0030, dma_base = 0x0034, op_en = 0x0008;
	int r = 0;
	r |= npu_sim_mmio_write(core, &t->mem, pc_base, 1);
	r |= npu_sim_mmio_write(core, &t->mem, 0x1004, 0xe);
	r |= npu_sim_mmio_write(core, &t->mem, 0x3004, 0xe);
	r |= npu_sim_mmio_write(core, &t->mem, pc_base, regcmd_iova);
	r |= npu_sim_mmio_write(core, &t->mem, amounts, (count + 1) / 2 - 1);
	r |= npu_sim_mmio_write(core, &t->mem, mask, 0x300);
	r |= npu_sim_mmio_write(core, &t->mem, clear, 0x300);
	r |= npu_sim_mmio_write(core, &t->mem, task_con, 0x7001);
	r |= npu_sim_mmio_write(core, &t->mem, dma_base, 0);
	if (r)
		return r;
	return npu_sim_mmio_write(core, &t->mem, op_en, 1);
}

#endif
