/* SPDX-License-Identifier: MIT */
/* A scripted stand-in for the NPU core behind the kernel model, so that the
 * model's semantics (kick sequence, fences, ordering, hangs, DMA faults) can
 * be tested exactly, independently of the register-level simulator.
 *
 * It honours the kernel's kick (PC_BASE_ADDRESS, PC_REGISTER_AMOUNTS,
 * PC_OPERATION_ENABLE, interrupt registers) and fetches 2 x (amount + 1)
 * 64-bit entries through the IOMMU like the PC does, but the entries are a
 * private test language (bits 63:56 = op), not NPU registers:
 *   0x00 nop
 *   0x01 FILL  byte = bits 55:48, dst = bits 47:16, 16-byte units = bits 15:0
 *   0x02 COPY  src = bits 47:16, units = bits 15:0; next entry: dst = bits 47:16
 *   0x03 INC32 dst = bits 47:16, units = bits 15:0: every u32 += 1
 *   0x7f HANG  never raises the DPU interrupt
 * Completion sets PC_INTERRUPT_RAW_STATUS.DPU_0; a DMA fault sets
 * DMA_READ/WRITE_ERROR and does not complete. */
#ifndef FAKE_CORE_H
#define FAKE_CORE_H

#include <stdint.h>

#include "npu_kmodel.h"

#define FAKE_MAX_WRITES 4096

typedef struct fake_core {
	int index;
	uint32_t regs[0x10000 / 4];
	uint32_t raw_status;
	uint32_t writes[FAKE_MAX_WRITES][2]; /* offset, value */
	unsigned write_count;
	unsigned resets;
	unsigned tasks_run;
	char err[160];
	npu_sim_stats total, last;
} fake_core;

extern const npu_kcore_ops fake_core_ops;
/* The cores created last (by index), for inspection. */
extern fake_core *fake_cores[NPU_KMODEL_MAX_CORES];

static inline uint64_t fake_fill(uint8_t byte, uint32_t dst, uint16_t units)
{
	return 1ull << 56 | (uint64_t)byte << 48 | (uint64_t)dst << 16 | units;
}
static inline uint64_t fake_copy(uint32_t src, uint16_t units)
{
	return 2ull << 56 | (uint64_t)src << 16 | units;
}
static inline uint64_t fake_copy_dst(uint32_t dst)
{
	return (uint64_t)dst << 16;
}
static inline uint64_t fake_inc32(uint32_t dst, uint16_t units)
{
	return 3ull << 56 | (uint64_t)dst << 16 | units;
}
static inline uint64_t fake_hang(void)
{
	return 0x7full << 56;
}

#endif
