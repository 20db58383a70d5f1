/* SPDX-License-Identifier: MIT */
/* Kernel model, part 3: what the rocket driver writes to a core's MMIO
 * window to run one task, and how it decides the task is done.
 * Source: rocket_job.c (rocket_job_hw_submit, rocket_job_irq_handler,
 * rocket_job_handle_irq), Linux 6.18; the table in
 * docs/npu-programming.md#the-kick-what-the-kernel-writes-per-task. */
#include "kmodel_priv.h"
#include "npu/npu_capture.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The PC/CNA/CORE registers the kernel touches (offsets in the core window,
 * registers.xml / rocket_registers.h, Linux 6.18). */
enum kick_reg {
	PC_OPERATION_ENABLE = 0x0008,
	PC_BASE_ADDRESS = 0x0010,
	PC_REGISTER_AMOUNTS = 0x0014,
	PC_INTERRUPT_MASK = 0x0020,
	PC_INTERRUPT_CLEAR = 0x0024,
	PC_INTERRUPT_RAW_STATUS = 0x002C,
	PC_TASK_CON = 0x0030,
	PC_TASK_DMA_BASE_ADDR = 0x0034,
	CNA_S_POINTER = 0x1004,
	CORE_S_POINTER = 0x3004,
};

/* Field values, named as in registers.xml. */
#define PC_BASE_ADDRESS_PC_SEL          (1u << 0)
#define PC_REGISTER_AMOUNTS_DATA_AMOUNT 0xffffu
#define PC_INT_DPU_0                    (1u << 8)
#define PC_INT_DPU_1                    (1u << 9)
#define PC_INT_DMA_READ_ERROR           (1u << 12)
#define PC_INT_DMA_WRITE_ERROR          (1u << 13)
#define PC_INT_ALL                      0x1ffffu
#define PC_TASK_CON_TASK_NUMBER(n)      ((n) & 0xfffu)
#define PC_TASK_CON_TASK_PP_EN          (1u << 12)
#define PC_TASK_CON_TASK_COUNT_CLEAR    (1u << 13)
#define PC_TASK_CON_RESERVED_0          (1u << 14)
#define S_POINTER_POINTER_PP_EN         (1u << 1)
#define S_POINTER_EXECUTER_PP_EN        (1u << 2)
#define S_POINTER_POINTER_PP_MODE       (1u << 3)
/* "From rknpu, in the TRM this bit is marked as reserved" (rocket_job.c). */
#define S_POINTER_KERNEL_EXTRA(core)    (0x10000000u * (uint32_t)(core))

static void keep_first_error(const npu_kcore_ops *ops, void *core, char *msg, unsigned len,
			     int ret, const char *what)
{
	const char *e;

	if (!ret || !len || msg[0])
		return;
	e = ops->error ? ops->error(core) : "";
	snprintf(msg, len, "%s: %s", what, e && *e ? e : strerror(-ret));
}

int npu_kmodel_run_task(const npu_kcore_ops *ops, void *core, int core_index,
			const npu_sim_mem *mem, uint32_t regcmd, uint32_t regcmd_count,
			char *msg, unsigned msg_len)
{
	const uint32_t s_pointer = S_POINTER_POINTER_PP_EN | S_POINTER_EXECUTER_PP_EN |
				   S_POINTER_POINTER_PP_MODE | S_POINTER_KERNEL_EXTRA(core_index);
	const struct { uint32_t reg, val; const char *what; } kick[] = {
		{ PC_BASE_ADDRESS, PC_BASE_ADDRESS_PC_SEL, "PC_BASE_ADDRESS" },
		{ CNA_S_POINTER, s_pointer, "CNA_S_POINTER" },
		{ CORE_S_POINTER, s_pointer, "CORE_S_POINTER" },
		{ PC_BASE_ADDRESS, regcmd, "PC_BASE_ADDRESS" },
		{ PC_REGISTER_AMOUNTS,
		  ((regcmd_count + 1) / 2 - 1) & PC_REGISTER_AMOUNTS_DATA_AMOUNT,
		  "PC_REGISTER_AMOUNTS" },
		{ PC_INTERRUPT_MASK, PC_INT_DPU_0 | PC_INT_DPU_1, "PC_INTERRUPT_MASK" },
		{ PC_INTERRUPT_CLEAR, PC_INT_DPU_0 | PC_INT_DPU_1, "PC_INTERRUPT_CLEAR" },
		{ PC_TASK_CON, PC_TASK_CON_RESERVED_0 | PC_TASK_CON_TASK_COUNT_CLEAR |
			       PC_TASK_CON_TASK_PP_EN | PC_TASK_CON_TASK_NUMBER(1), "PC_TASK_CON" },
		{ PC_TASK_DMA_BASE_ADDR, 0, "PC_TASK_DMA_BASE_ADDR" },
		{ PC_OPERATION_ENABLE, 1, "PC_OPERATION_ENABLE" },
	};
	uint32_t raw;

	if (msg_len)
		msg[0] = 0;
	for (size_t i = 0; i < sizeof(kick) / sizeof(kick[0]); i++) {
		int ret = ops->mmio_write(core, mem, kick[i].reg, kick[i].val);

		keep_first_error(ops, core, msg, msg_len, ret, kick[i].what);
	}
	/* Hard IRQ: only RAW_STATUS is read; DMA errors are a WARN. */
	raw = ops->mmio_read(core, PC_INTERRUPT_RAW_STATUS);
	if ((raw & (PC_INT_DMA_READ_ERROR | PC_INT_DMA_WRITE_ERROR)) && msg_len && !msg[0])
		snprintf(msg, msg_len, "DMA %s error in PC_INTERRUPT_RAW_STATUS (0x%x)",
			 raw & PC_INT_DMA_READ_ERROR ? "read" : "write", raw);
	if (!(raw & (PC_INT_DPU_0 | PC_INT_DPU_1)))
		return -ETIMEDOUT;
	/* IRQ_WAKE_THREAD after masking; the thread stops the PC and clears. */
	ops->mmio_write(core, mem, PC_INTERRUPT_MASK, 0);
	ops->mmio_write(core, mem, PC_OPERATION_ENABLE, 0);
	ops->mmio_write(core, mem, PC_INTERRUPT_CLEAR, PC_INT_ALL);
	return 0;
}

/* ---- the simulator as the model's core ---------------------------------- */

#ifdef NPU_HAVE_SIM
static void *sim_create(int index, const npu_sim_config *cfg)
{
	return npu_sim_core_create(index, cfg);
}

static void sim_destroy(void *core)
{
	npu_sim_core_destroy(core);
}

static void sim_reset(void *core)
{
	npu_sim_core_reset(core);
}

static int sim_write(void *core, const npu_sim_mem *mem, uint32_t off, uint32_t val)
{
	return npu_sim_mmio_write(core, mem, off, val);
}

static uint32_t sim_read(const void *core, uint32_t off)
{
	return npu_sim_mmio_read(core, off);
}

static const char *sim_error(const void *core)
{
	return npu_sim_error(core);
}

static void sim_stats(const void *core, npu_sim_stats *total, npu_sim_stats *last)
{
	npu_sim_get_stats(core, total, last);
}

static const npu_kcore_ops sim_ops = {
	.create = sim_create,
	.destroy = sim_destroy,
	.reset = sim_reset,
	.mmio_write = sim_write,
	.mmio_read = sim_read,
	.error = sim_error,
	.get_stats = sim_stats,
};

const npu_kcore_ops *npu_kcore_sim_ops(void)
{
	return &sim_ops;
}

void npu_capture_sim_config_default(npu_sim_config *cfg)
{
	npu_sim_config_default(cfg);
}
#else
const npu_kcore_ops *npu_kcore_sim_ops(void)
{
	return NULL;
}

/* The defaults npu_sim.h documents. */
void npu_capture_sim_config_default(npu_sim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->clock_hz = 1e9;
	cfg->dram_bytes_per_s = 12e9;
	cfg->task_overhead_cycles = 20000;
	cfg->strict = true;
}
#endif
