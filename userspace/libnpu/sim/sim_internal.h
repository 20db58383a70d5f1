/* SPDX-License-Identifier: MIT */
/* Simulator internals shared by the PC front end (sim_core.c) and the
 * convolution pipeline (sim_conv.c). */
#ifndef NPU_SIM_INTERNAL_H
#define NPU_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "npu/npu_regcmd.h"
#include "npu/npu_regs.h"
#include "npu/npu_sim.h"

/* PC_INTERRUPT_RAW_STATUS bits (registers.xml). */
enum {
	SIM_IRQ_DPU_0 = 1u << 8,
	SIM_IRQ_DMA_READ_ERROR = 1u << 12,
	SIM_IRQ_DMA_WRITE_ERROR = 1u << 13,
};

struct npu_sim_core {
	int index;
	npu_sim_config cfg;

	/* One register file per core; ping-pong groups are not modelled (every
	 * known recipe rewrites all registers per task: MTX, Mesa rkt_regcmd.c;
	 * docs/npu-programming.md#the-simulator). */
	uint32_t regs[NPU_REG_COUNT];
	bool written[NPU_REG_COUNT]; /* since reset */

	/* PC registers written from inside a regcmd tail (chain pointer of the
	 * vendor's multi-task kicks); kept apart from the MMIO copies. */
	uint32_t chain_base, chain_amount;

	uint32_t raw_status;  /* PC_INTERRUPT_RAW_STATUS */
	uint32_t task_count;  /* PC_TASK_STATUS */

	/* First register the current task read without any write since reset
	 * (its reset value is unpublished). */
	int unwritten_reg;

	npu_sim_stats total, last;
	char error[512];
	char warnings[512];

	/* Scratch of the convolution pipeline, grown on demand. */
	void *scratch[4];
	size_t scratch_size[4];
};

/* Record an error (the first of a task wins) and return `code`. */
int sim_fail(npu_sim_core *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sim_warn(npu_sim_core *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Register / field value as the task sees it; notes a read of a register
 * that was never written (and has no published reset value). */
uint32_t sim_reg(npu_sim_core *c, enum npu_reg_id r);
uint32_t sim_field(npu_sim_core *c, enum npu_field_id f);
int64_t sim_field_signed(npu_sim_core *c, enum npu_field_id f);
const char *sim_field_name(enum npu_field_id f, char *buf, unsigned len);

void *sim_scratch(npu_sim_core *c, unsigned slot, size_t bytes);

/* Run the CNA -> CORE -> DPU pipeline programmed in the register file for an
 * op-enable of `mask`. 0, or a negative errno with the error recorded. */
int sim_conv_run(npu_sim_core *c, const npu_sim_mem *mem, uint32_t mask);

#endif
