/* SPDX-License-Identifier: MIT */
/* Register-level functional simulator of one RK3588 NPU core.
 *
 * The simulator sees what the kernel driver sees: an MMIO window (PC, CNA,
 * CORE blocks written by the driver's kick sequence) and DMA through a
 * translation callback (the IOMMU). Writing PC_OPERATION_ENABLE = 1 fetches
 * the regcmd list and executes the task synchronously (CNA -> CORE -> DPU),
 * then raises the DPU interrupt status bit. Anything it does not model is an
 * error naming the register, never a silent result. */
#ifndef NPU_SIM_H
#define NPU_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npu_sim_config {
	double clock_hz;             /* default 1e9 (peak); mainline boots at 200e6 */
	double dram_bytes_per_s;     /* default 12e9 (per core share of LPDDR) */
	uint32_t task_overhead_cycles; /* kick + regcmd fetch + IRQ round trip, default 20000 (20 us at 1 GHz) */
	bool strict;                 /* refuse unmodelled field values (default true) */
	/* DMA limit per NPU clock cycle (0 = none, the default): if the NPU's AXI
	 * master moves e.g. 16 bytes per cycle of its own clock, DMA slows with
	 * the clock. Its width and clock are unpublished (docs "Cycle model"). */
	double dma_bytes_per_cycle;
} npu_sim_config;

void npu_sim_config_default(npu_sim_config *cfg);

/* DMA translation (the IOMMU): host pointer for [iova, iova + len) when the
 * whole range lies in one mapped buffer, NULL otherwise (DMA fault). */
typedef struct npu_sim_mem {
	void *ctx;
	void *(*translate)(void *ctx, uint64_t iova, uint64_t len, bool write);
} npu_sim_mem;

typedef struct npu_sim_stats {
	uint64_t tasks;
	uint64_t macs;            /* multiply-accumulates executed */
	uint64_t dma_read_bytes;  /* feature + weight + bias + regcmd */
	uint64_t dma_write_bytes;
	uint64_t cycles;          /* estimate, docs/npu-programming.md#cycle-model */
} npu_sim_stats;

typedef struct npu_sim_core npu_sim_core;

npu_sim_core *npu_sim_core_create(int core_index, const npu_sim_config *cfg);
void npu_sim_core_destroy(npu_sim_core *core);
/* Hardware reset (srst_a/srst_h): all registers to reset values. */
void npu_sim_core_reset(npu_sim_core *core);

/* MMIO access at a byte offset within the core window (PC at 0x0000).
 * A write of 1 to PC_OPERATION_ENABLE runs the task through `mem`. Returns 0,
 * or a negative errno (-EFAULT DMA fault, -EINVAL bad/unmodelled programming,
 * -ETIMEDOUT a task that would never complete); then npu_sim_error() says
 * what and where, and the interrupt status shows no DPU completion. */
int npu_sim_mmio_write(npu_sim_core *core, const npu_sim_mem *mem, uint32_t offset, uint32_t value);
uint32_t npu_sim_mmio_read(const npu_sim_core *core, uint32_t offset);

const char *npu_sim_error(const npu_sim_core *core); /* "" when none */
/* Non-fatal findings of the last task (non-strict mode accepts registers the
 * task never wrote and entries the TRM forbids, and lists them here); "". */
const char *npu_sim_warnings(const npu_sim_core *core);
/* Cumulative since create/reset; last_task receives the most recent task. */
void npu_sim_get_stats(const npu_sim_core *core, npu_sim_stats *total, npu_sim_stats *last_task);

/* Execute a regcmd list directly (no kernel kick sequence): the same path the
 * PC takes after PC_OPERATION_ENABLE. For tests and replay. */
int npu_sim_run_regcmd(npu_sim_core *core, const npu_sim_mem *mem, uint64_t regcmd_iova,
		       uint32_t regcmd_count);

/* Cycle model (docs/npu-programming.md "Cycle model"): one task costs
 *   compute = output pixels * ceil(channels / 32) * ceil(kernels / G) * kernel area
 *             (G = 32 for int8, 16 for fp16: one MAC-array step is 32 input
 *             channels x G kernels = 1024 int8 / 512 fp16 MACs: TRM ch. 36 rates,
 *             the weight layouts of docs/npu-programming.md#data-layouts)
 *   dma     = dma_bytes * clock_hz / rate, rate = dram_bytes_per_s, or
 *             dma_bytes_per_cycle * clock_hz when that is set and lower
 *   cycles  = max(compute, dma) + task_overhead_cycles
 * i.e. DMA and MACs overlap perfectly and the kick/IRQ round trip does not.
 * The simulator uses it for every task it executes; the GEMM planner calls it
 * with the same numbers to estimate plans without executing them. */
typedef struct npu_sim_task_shape {
	int precision;        /* enum npu_precision of the MAC array (INT8 or FP16) */
	uint64_t pixels;      /* output pixels (width * height) */
	uint32_t channels;    /* input channels as programmed (aligned) */
	uint32_t kernels;     /* output channels computed */
	uint32_t kernel_area; /* kernel width * height */
	uint64_t dma_bytes;   /* everything the task reads and writes, regcmd included */
} npu_sim_task_shape;

uint64_t npu_sim_estimate_cycles(const npu_sim_config *cfg, const npu_sim_task_shape *t);

/* The terms of the same estimate (total = max(compute, dma) + overhead). */
typedef struct npu_sim_cycle_parts {
	uint64_t compute, dma, overhead, total;
} npu_sim_cycle_parts;
void npu_sim_estimate_cycle_parts(const npu_sim_config *cfg, const npu_sim_task_shape *t,
				  npu_sim_cycle_parts *parts);

#ifdef __cplusplus
}
#endif
#endif
