/* SPDX-License-Identifier: MIT */
/* Simulator front end: the core's MMIO window, the PC's regcmd fetch and
 * dispatch, interrupt status, statistics.
 *
 * Kick model (rocket_job.c;
 * docs/npu-programming.md#the-kick-what-the-kernel-writes-per-task): the
 * kernel writes PC_BASE_ADDRESS, PC_REGISTER_AMOUNTS, the interrupt
 * mask/clear, TASK_CON and then PC_OPERATION_ENABLE = 1. The PC fetches
 * 2 * (AMOUNT + 1) 64-bit entries from BASE_ADDRESS & ~0xF and writes each
 * into the addressed block; the 0x0081 entry starts the blocks in its mask;
 * completion raises DPU_0 in INTERRUPT_RAW_STATUS. Everything is executed
 * synchronously inside the MMIO write. */
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void npu_sim_config_default(npu_sim_config *cfg)
{
	cfg->clock_hz = 1e9;
	cfg->dram_bytes_per_s = 12e9;
	cfg->task_overhead_cycles = 20000;
	cfg->strict = true;
	cfg->dma_bytes_per_cycle = 0;
}

int sim_fail(npu_sim_core *c, int code, const char *fmt, ...)
{
	if (c->error[0])
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return code;
}

void sim_warn(npu_sim_core *c, const char *fmt, ...)
{
	const size_t used = strlen(c->warnings);
	if (used + 4 >= sizeof(c->warnings))
		return;
	if (used)
		strcat(c->warnings, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->warnings + strlen(c->warnings), sizeof(c->warnings) - strlen(c->warnings), fmt,
		  ap);
	va_end(ap);
}

uint32_t sim_reg(npu_sim_core *c, enum npu_reg_id r)
{
	if (!c->written[r] && !(npu_reg_table[r].flags & NPU_RF_RESET_KNOWN) && c->unwritten_reg < 0)
		c->unwritten_reg = (int)r;
	return c->regs[r];
}

uint32_t sim_field(npu_sim_core *c, enum npu_field_id f)
{
	return npu_field_get(f, sim_reg(c, (enum npu_reg_id)npu_field_table[f].reg));
}

int64_t sim_field_signed(npu_sim_core *c, enum npu_field_id f)
{
	return npu_field_get_signed(f, sim_reg(c, (enum npu_reg_id)npu_field_table[f].reg));
}

const char *sim_field_name(enum npu_field_id f, char *buf, unsigned len)
{
	char reg[48];
	const npu_field_info *fi = &npu_field_table[f];
	snprintf(buf, len, "%s.%s", npu_reg_fullname((enum npu_reg_id)fi->reg, reg, sizeof(reg)),
		 fi->name);
	return buf;
}

void *sim_scratch(npu_sim_core *c, unsigned slot, size_t bytes)
{
	if (bytes == 0)
		bytes = 1;
	if (c->scratch_size[slot] < bytes) {
		void *p = realloc(c->scratch[slot], bytes);
		if (!p)
			return NULL;
		c->scratch[slot] = p;
		c->scratch_size[slot] = bytes;
	}
	return c->scratch[slot];
}

npu_sim_core *npu_sim_core_create(int core_index, const npu_sim_config *cfg)
{
	npu_sim_core *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->index = core_index;
	if (cfg)
		c->cfg = *cfg;
	else
		npu_sim_config_default(&c->cfg);
	npu_sim_core_reset(c);
	return c;
}

void npu_sim_core_destroy(npu_sim_core *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < sizeof(c->scratch) / sizeof(c->scratch[0]); i++)
		free(c->scratch[i]);
	free(c);
}

void npu_sim_core_reset(npu_sim_core *c)
{
	for (int r = 0; r < NPU_REG_COUNT; r++) {
		const npu_reg_info *ri = &npu_reg_table[r];
		c->regs[r] = (ri->flags & NPU_RF_RESET_KNOWN) ? ri->reset : 0;
		c->written[r] = false;
	}
	c->chain_base = c->chain_amount = 0;
	c->raw_status = 0;
	c->task_count = 0;
	c->unwritten_reg = -1;
	memset(&c->total, 0, sizeof(c->total));
	memset(&c->last, 0, sizeof(c->last));
	c->error[0] = c->warnings[0] = 0;
}

const char *npu_sim_error(const npu_sim_core *c) { return c->error; }
const char *npu_sim_warnings(const npu_sim_core *c) { return c->warnings; }

void npu_sim_get_stats(const npu_sim_core *c, npu_sim_stats *total, npu_sim_stats *last_task)
{
	if (total)
		*total = c->total;
	if (last_task)
		*last_task = c->last;
}

/* ---------------------------------------------------------- regcmd list */

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* A write from a regcmd entry (header and offset already agree). */
static int apply_write(npu_sim_core *c, const npu_rc_entry *e, uint32_t index)
{
	char name[64];
	const npu_reg_info *ri = &npu_reg_table[e->reg];
	npu_reg_fullname((enum npu_reg_id)e->reg, name, sizeof(name));
	if (ri->block == NPU_BLOCK_PC) {
		/* Only the tail's chain pointer (vendor chaining,
		 * docs/npu-programming.md#register-commands-regcmd) is meaningful here;
		 * with TASK_NUMBER = 1 the PC does not follow it. */
		if (e->reg == NPU_R_PC_BASE_ADDRESS)
			c->chain_base = e->value;
		else if (e->reg == NPU_R_PC_REGISTER_AMOUNTS)
			c->chain_amount = e->value;
		else
			return sim_fail(c, -EINVAL, "regcmd entry %u writes %s: PC registers other than "
				       "the tail's BASE_ADDRESS/REGISTER_AMOUNTS are not modelled",
				       index, name);
		return 0;
	}
	if (e->offset == npu_block_base((enum npu_block)ri->block) + 8u)
		return sim_fail(c, -EINVAL,
				"regcmd entry %u writes %s directly: blocks are started by the 0x0081 "
				"op-enable entry, direct writes are not modelled", index, name);
	c->regs[e->reg] = e->value;
	c->written[e->reg] = true;
	return 0;
}

static void account_task(npu_sim_core *c)
{
	c->total.tasks += c->last.tasks;
	c->total.macs += c->last.macs;
	c->total.dma_read_bytes += c->last.dma_read_bytes;
	c->total.dma_write_bytes += c->last.dma_write_bytes;
	c->total.cycles += c->last.cycles;
}

static int run_entries(npu_sim_core *c, const npu_sim_mem *mem, const uint8_t *p, uint32_t count)
{
	bool marker = false, done = false;
	char issues[160];
	for (uint32_t i = 0; i < count; i++) {
		npu_rc_entry e;
		npu_rc_decode(load_le64(p + (size_t)i * 8), &e);
		if (done) {
			if (e.kind == NPU_RC_NOP)
				continue;
			return sim_fail(c, -EINVAL,
					"regcmd entry %u (0x%016llx) follows the op-enable entry of the "
					"task: more entries in one kick (vendor chaining) are not modelled",
					i, (unsigned long long)e.raw);
		}
		const unsigned fatal = c->cfg.strict ? e.issues
						     : e.issues & ~(unsigned)(NPU_RC_ISSUE_RESERVED_BITS |
									NPU_RC_ISSUE_UNDOC_NONZERO);
		if (e.issues & ~fatal) {
			char line[256];
			npu_rc_format(&e, NPU_DIS_NO_FIELDS, line, sizeof(line));
			sim_warn(c, "entry %u: %s", i, line);
		}
		if (fatal) {
			char line[256];
			npu_rc_format(&e, NPU_DIS_NO_FIELDS, line, sizeof(line));
			return sim_fail(c, -EINVAL, "regcmd entry %u: %s (%s)", i, line,
					npu_rc_issue_str(fatal, issues, sizeof(issues)));
		}
		switch (e.kind) {
		case NPU_RC_NOP:
			break;
		case NPU_RC_MARKER:
			marker = true;
			break;
		case NPU_RC_OP_ENABLE: {
			if (!marker) {
				if (c->cfg.strict)
					return sim_fail(c, -EINVAL,
							"regcmd entry %u: op-enable 0x%02x without the 0x0041 "
							"entry the TRM requires before it", i, e.value);
				sim_warn(c, "op-enable without the 0x0041 marker");
			}
			const int ret = sim_conv_run(c, mem, e.value);
			if (ret)
				return ret;
			done = true;
			break;
		}
		case NPU_RC_WRITE: {
			const int ret = apply_write(c, &e, i);
			if (ret)
				return ret;
			break;
		}
		case NPU_RC_INVALID:
			return sim_fail(c, -EINVAL, "regcmd entry %u: invalid entry 0x%016llx", i,
					(unsigned long long)e.raw);
		}
	}
	if (!done)
		return sim_fail(c, -ETIMEDOUT,
				"the %u fetched regcmd entries contain no op-enable (0x0081) entry: the "
				"task would never complete", count);
	return 0;
}

static int run_list(npu_sim_core *c, const npu_sim_mem *mem, uint64_t iova, uint32_t count,
		    const char *via)
{
	memset(&c->last, 0, sizeof(c->last));
	c->error[0] = c->warnings[0] = 0;
	c->unwritten_reg = -1;
	const uint64_t bytes = (uint64_t)count * 8;
	const uint8_t *p = mem->translate(mem->ctx, iova, bytes, false);
	if (!p) {
		c->raw_status |= SIM_IRQ_DMA_READ_ERROR;
		return sim_fail(c, -EFAULT,
				"DMA read fault fetching %u regcmd entries (%llu bytes) at IOVA 0x%llx "
				"(%s): not inside one mapped buffer", count, (unsigned long long)bytes,
				(unsigned long long)iova, via);
	}
	c->last.dma_read_bytes = bytes;
	const int ret = run_entries(c, mem, p, count);
	if (ret) {
		account_task(c);
		return ret;
	}
	c->raw_status |= SIM_IRQ_DPU_0;
	c->task_count++;
	c->last.tasks = 1;
	account_task(c);
	return 0;
}

int npu_sim_run_regcmd(npu_sim_core *c, const npu_sim_mem *mem, uint64_t regcmd_iova,
		       uint32_t regcmd_count)
{
	c->error[0] = 0;
	if (regcmd_count == 0)
		return sim_fail(c, -EINVAL, "regcmd_count is 0");
	if (regcmd_iova & 0xf)
		return sim_fail(c, -EINVAL,
				"regcmd IOVA 0x%llx is not 16-byte aligned (PC_BASE_ADDRESS keeps "
				"bits [31:4] only)", (unsigned long long)regcmd_iova);
	if (regcmd_iova > 0xffffffffull)
		return sim_fail(c, -EINVAL, "regcmd IOVA 0x%llx does not fit the 32-bit "
				"PC_BASE_ADDRESS", (unsigned long long)regcmd_iova);
	/* The PC fetches whole 128-bit lines (rocket_job.c's amount formula;
	 * docs/npu-programming.md#register-commands-regcmd). */
	const uint32_t fetched = (regcmd_count + 1) & ~1u;
	return run_list(c, mem, regcmd_iova, fetched, "npu_sim_run_regcmd");
}

/* -------------------------------------------------------------------- MMIO */

static int kick(npu_sim_core *c, const npu_sim_mem *mem)
{
	c->error[0] = 0;
	const uint32_t base = c->regs[NPU_R_PC_BASE_ADDRESS];
	if (npu_field_get(NPU_F_PC_BASE_ADDRESS_PC_SEL, base))
		return sim_fail(c, -EINVAL, "PC_OPERATION_ENABLE with PC_BASE_ADDRESS.PC_SEL = 1 "
				"(register slave mode): not modelled");
	const uint32_t tasks = npu_field_get(NPU_F_PC_TASK_CON_TASK_NUMBER, c->regs[NPU_R_PC_TASK_CON]);
	if (tasks == 0)
		return sim_fail(c, -ETIMEDOUT, "PC_TASK_CON.TASK_NUMBER = 0: no task to run");
	if (tasks != 1)
		return sim_fail(c, -EINVAL, "PC_TASK_CON.TASK_NUMBER = %u: multi-task kicks (vendor "
				"chaining) are not modelled; rocket kicks one task at a time", tasks);
	if (c->regs[NPU_R_PC_TASK_DMA_BASE_ADDR])
		return sim_fail(c, -EINVAL, "PC_TASK_DMA_BASE_ADDR = 0x%08x: address relocation is "
				"not modelled (the kernel writes 0)", c->regs[NPU_R_PC_TASK_DMA_BASE_ADDR]);
	const uint32_t amount = npu_field_get(NPU_F_PC_REGISTER_AMOUNTS_PC_DATA_AMOUNT,
					      c->regs[NPU_R_PC_REGISTER_AMOUNTS]);
	const uint64_t iova = npu_field_get(NPU_F_PC_BASE_ADDRESS_PC_SOURCE_ADDR, base) << 4;
	return run_list(c, mem, iova, 2 * (amount + 1), "PC_BASE_ADDRESS");
}

int npu_sim_mmio_write(npu_sim_core *c, const npu_sim_mem *mem, uint32_t offset, uint32_t value)
{
	const int r = (offset & 3) ? -1 : npu_reg_by_offset(offset);
	if (r < 0)
		return sim_fail(c, -EINVAL, "MMIO write of 0x%08x to offset 0x%04x: no such register",
				value, offset);
	char name[64];
	const npu_reg_info *ri = &npu_reg_table[r];
	if (ri->flags & NPU_RF_RO)
		return sim_fail(c, -EINVAL, "MMIO write of 0x%08x to read-only %s", value,
				npu_reg_fullname((enum npu_reg_id)r, name, sizeof(name)));
	switch (r) {
	case NPU_R_PC_INTERRUPT_CLEAR:
		c->raw_status &= ~value;
		return 0;
	case NPU_R_PC_TASK_CON:
		if (npu_field_get(NPU_F_PC_TASK_CON_TASK_COUNT_CLEAR, value))
			c->task_count = 0;
		c->regs[r] = value & ~npu_field_mask(NPU_F_PC_TASK_CON_TASK_COUNT_CLEAR);
		c->written[r] = true;
		return 0;
	case NPU_R_PC_OPERATION_ENABLE:
		c->regs[r] = value;
		c->written[r] = true;
		if (!npu_field_get(NPU_F_PC_OPERATION_ENABLE_OP_EN, value))
			return 0;
		if (!mem || !mem->translate)
			return sim_fail(c, -EINVAL, "PC_OPERATION_ENABLE = 1 without a DMA translator");
		return kick(c, mem);
	default:
		c->regs[r] = value;
		c->written[r] = true;
		return 0;
	}
}

uint32_t npu_sim_mmio_read(const npu_sim_core *c, uint32_t offset)
{
	const int r = (offset & 3) ? -1 : npu_reg_by_offset(offset);
	switch (r) {
	case -1:
		return 0;
	case NPU_R_PC_INTERRUPT_RAW_STATUS:
		return c->raw_status;
	case NPU_R_PC_INTERRUPT_STATUS:
		return c->raw_status & c->regs[NPU_R_PC_INTERRUPT_MASK];
	case NPU_R_PC_TASK_STATUS:
		return c->task_count;
	case NPU_R_PC_INTERRUPT_CLEAR:
		return 0;
	default:
		return c->regs[r];
	}
}

void npu_sim_estimate_cycle_parts(const npu_sim_config *cfg, const npu_sim_task_shape *t,
				  npu_sim_cycle_parts *parts)
{
	/* One MAC-array step: 32 input channels x 32 kernels (int8) or x 16
	 * kernels (fp16); TRM 1024 int8 / 512 fp16 MACs per cycle. */
	const uint64_t group = t->precision == NPU_PREC_INT8 ? 32 : 16;
	const uint64_t area = t->kernel_area ? t->kernel_area : 1;
	parts->compute = t->pixels * ((t->channels + 31) / 32) * ((t->kernels + group - 1) / group) * area;
	double rate = cfg->dram_bytes_per_s;
	if (cfg->dma_bytes_per_cycle > 0 && cfg->dma_bytes_per_cycle * cfg->clock_hz < rate)
		rate = cfg->dma_bytes_per_cycle * cfg->clock_hz;
	const double dma = rate > 0 ? (double)t->dma_bytes * cfg->clock_hz / rate : 0.0;
	parts->dma = (uint64_t)ceil(dma);
	parts->overhead = cfg->task_overhead_cycles;
	parts->total = (parts->compute > parts->dma ? parts->compute : parts->dma) + parts->overhead;
}

uint64_t npu_sim_estimate_cycles(const npu_sim_config *cfg, const npu_sim_task_shape *t)
{
	npu_sim_cycle_parts parts;
	npu_sim_estimate_cycle_parts(cfg, t, &parts);
	return parts.total;
}
