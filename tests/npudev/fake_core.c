/* SPDX-License-Identifier: MIT */
#include "fake_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fake_core *fake_cores[NPU_KMODEL_MAX_CORES];

static void *fc_create(int index, const npu_sim_config *cfg)
{
	fake_core *c = calloc(1, sizeof(*c));

	(void)cfg;
	if (c) {
		c->index = index;
		if (index >= 0 && index < NPU_KMODEL_MAX_CORES)
			fake_cores[index] = c;
	}
	return c;
}

static void fc_destroy(void *core)
{
	fake_core *c = core;

	if (c->index >= 0 && c->index < NPU_KMODEL_MAX_CORES && fake_cores[c->index] == c)
		fake_cores[c->index] = NULL;
	free(c);
}

static void fc_reset(void *core)
{
	fake_core *c = core;

	memset(c->regs, 0, sizeof(c->regs));
	c->raw_status = 0;
	c->resets++;
}

static int fault(fake_core *c, bool write, uint64_t iova, uint64_t len)
{
	c->raw_status |= write ? 1u << 13 : 1u << 12;
	snprintf(c->err, sizeof(c->err), "DMA %s fault at 0x%llx+%llu", write ? "write" : "read",
		 (unsigned long long)iova, (unsigned long long)len);
	return -EFAULT;
}

static int run(fake_core *c, const npu_sim_mem *mem)
{
	uint32_t base = c->regs[0x10 / 4], n = 2 * ((c->regs[0x14 / 4] & 0xffff) + 1);
	const uint64_t *e;
	uint64_t bytes = 0;

	c->err[0] = 0;
	if (base & 1) {
		snprintf(c->err, sizeof(c->err), "PC_SEL=1: no regcmd fetch");
		return -EINVAL;
	}
	e = mem->translate(mem->ctx, base & ~0xfu, 8ull * n, false);
	if (!e)
		return fault(c, false, base & ~0xfu, 8ull * n);
	for (uint32_t i = 0; i < n; i++) {
		unsigned op = (unsigned)(e[i] >> 56);
		uint32_t a = (uint32_t)(e[i] >> 16), len = (uint32_t)(e[i] & 0xffff) * 16;
		uint8_t *d, *s;

		switch (op) {
		case 0x00:
			break;
		case 0x01:
			if (!(d = mem->translate(mem->ctx, a, len, true)))
				return fault(c, true, a, len);
			memset(d, (int)((e[i] >> 48) & 0xff), len);
			bytes += len;
			break;
		case 0x02:
			if (i + 1 >= n) {
				snprintf(c->err, sizeof(c->err), "COPY without destination entry");
				return -EINVAL;
			}
			if (!(s = mem->translate(mem->ctx, a, len, false)))
				return fault(c, false, a, len);
			a = (uint32_t)(e[++i] >> 16);
			if (!(d = mem->translate(mem->ctx, a, len, true)))
				return fault(c, true, a, len);
			memmove(d, s, len);
			bytes += 2ull * len;
			break;
		case 0x03:
			if (!(d = mem->translate(mem->ctx, a, len, true)))
				return fault(c, true, a, len);
			for (uint32_t k = 0; k < len; k += 4) {
				uint32_t v;

				memcpy(&v, d + k, 4);
				v++;
				memcpy(d + k, &v, 4);
			}
			bytes += 2ull * len;
			break;
		case 0x7f:
			snprintf(c->err, sizeof(c->err), "HANG entry %u", i);
			return -ETIMEDOUT;
		default:
			snprintf(c->err, sizeof(c->err), "unknown fake op 0x%02x in entry %u", op, i);
			return -EINVAL;
		}
	}
	c->raw_status |= 1u << 8; /* DPU_0 */
	c->tasks_run++;
	c->last = (npu_sim_stats){ .tasks = 1, .dma_read_bytes = bytes + 8ull * n,
				   .dma_write_bytes = bytes, .cycles = 1000 };
	c->total.tasks++;
	c->total.dma_read_bytes += c->last.dma_read_bytes;
	c->total.dma_write_bytes += c->last.dma_write_bytes;
	c->total.cycles += 1000;
	return 0;
}

static int fc_write(void *core, const npu_sim_mem *mem, uint32_t off, uint32_t val)
{
	fake_core *c = core;

	if (c->write_count < FAKE_MAX_WRITES) {
		c->writes[c->write_count][0] = off;
		c->writes[c->write_count][1] = val;
		c->write_count++;
	}
	if (off >= sizeof(c->regs))
		return -EINVAL;
	c->regs[off / 4] = val;
	if (off == 0x24)
		c->raw_status &= ~val;
	if (off == 0x08 && val == 1)
		return run(c, mem);
	return 0;
}

static uint32_t fc_read(const void *core, uint32_t off)
{
	const fake_core *c = core;

	if (off == 0x2c)
		return c->raw_status;
	return off < sizeof(c->regs) ? c->regs[off / 4] : 0;
}

static const char *fc_error(const void *core)
{
	return ((const fake_core *)core)->err;
}

static void fc_stats(const void *core, npu_sim_stats *total, npu_sim_stats *last)
{
	const fake_core *c = core;

	*total = c->total;
	*last = c->last;
}

const npu_kcore_ops fake_core_ops = {
	.create = fc_create,
	.destroy = fc_destroy,
	.reset = fc_reset,
	.mmio_write = fc_write,
	.mmio_read = fc_read,
	.error = fc_error,
	.get_stats = fc_stats,
};
