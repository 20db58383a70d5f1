/* SPDX-License-Identifier: MIT */
/* The register table (npu/npu_regs.def) expanded into lookup tables. */
#include "npu/npu_regs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Position of every register and field in the .def file's order. A
 * register's first field id is its sequence number minus its register id
 * (the number of registers before it). */
enum npu_seq {
#define NPU_REG(blk, name, off, reset, flags, src) NPU_SEQ_R_##blk##_##name,
#define NPU_FLD(blk, reg, name, hi, lo, flags) NPU_SEQ_F_##blk##_##reg##_##name,
#include "npu/npu_regs.def"
#undef NPU_REG
#undef NPU_FLD
	NPU_SEQ_COUNT
};

const npu_reg_info npu_reg_table[NPU_REG_COUNT] = {
#define NPU_REG(blk, nm, off, rst, flg, src)                                           \
	[NPU_R_##blk##_##nm] = {                                                       \
		.name = #nm,                                                           \
		.source = src,                                                         \
		.offset = off,                                                         \
		.block = NPU_BLOCK_##blk,                                              \
		.flags = (flg),                                                        \
		.reset = rst,                                                          \
		.first_field = (uint16_t)(NPU_SEQ_R_##blk##_##nm - NPU_R_##blk##_##nm), \
	},
#define NPU_FLD(blk, reg, name, hi, lo, flags)
#include "npu/npu_regs.def"
#undef NPU_REG
#undef NPU_FLD
};

const npu_field_info npu_field_table[NPU_FIELD_COUNT] = {
#define NPU_REG(blk, name, off, reset, flags, src)
#define NPU_FLD(blk, r, nm, hi, lo_, flg)                                              \
	[NPU_F_##blk##_##r##_##nm] = {                                                 \
		.name = #nm,                                                           \
		.reg = NPU_R_##blk##_##r,                                              \
		.lo = (lo_),                                                           \
		.width = (hi) - (lo_) + 1,                                             \
		.flags = (flg),                                                        \
	},
#include "npu/npu_regs.def"
#undef NPU_REG
#undef NPU_FLD
};

static const struct {
	const char *name;
	uint16_t base;
	uint16_t header_bit; /* regcmd target bit, 0 = not addressable */
} blocks[NPU_BLOCK_COUNT] = {
	/* Header bits: TRM ch.36 regcmd description, registers.xml "target"
	 * enum, MTX npu_hw.h; GLOBAL's 0x40000 does not fit 16 bits. */
	[NPU_BLOCK_PC] = { "PC", 0x0000, 0x0100 },
	[NPU_BLOCK_CNA] = { "CNA", 0x1000, 0x0200 },
	[NPU_BLOCK_CORE] = { "CORE", 0x3000, 0x0800 },
	[NPU_BLOCK_DPU] = { "DPU", 0x4000, 0x1000 },
	[NPU_BLOCK_DPU_RDMA] = { "DPU_RDMA", 0x5000, 0x2000 },
	[NPU_BLOCK_PPU] = { "PPU", 0x6000, 0x4000 },
	[NPU_BLOCK_PPU_RDMA] = { "PPU_RDMA", 0x7000, 0x8000 },
	[NPU_BLOCK_GLOBAL] = { "GLOBAL", 0xF000, 0 },
};

const char *npu_block_name(enum npu_block b)
{
	return (unsigned)b < NPU_BLOCK_COUNT ? blocks[b].name : "?";
}

uint16_t npu_block_base(enum npu_block b)
{
	return (unsigned)b < NPU_BLOCK_COUNT ? blocks[b].base : 0;
}

uint16_t npu_block_header_bit(enum npu_block b)
{
	return (unsigned)b < NPU_BLOCK_COUNT ? blocks[b].header_bit : 0;
}

int npu_block_from_header(uint16_t header)
{
	const uint16_t bits = header & 0xff00u;
	for (int b = 0; b < NPU_BLOCK_COUNT; b++)
		if (blocks[b].header_bit && bits == blocks[b].header_bit)
			return b;
	return -1;
}

int npu_block_of_offset(uint16_t offset)
{
	const uint16_t page = offset & 0xf000u;
	for (int b = 0; b < NPU_BLOCK_COUNT; b++)
		if (blocks[b].base == page)
			return b;
	return -1;
}

unsigned npu_reg_field_count(enum npu_reg_id r)
{
	const unsigned next = (unsigned)r + 1 < NPU_REG_COUNT ? npu_reg_table[r + 1].first_field
							       : NPU_FIELD_COUNT;
	return next - npu_reg_table[r].first_field;
}

uint32_t npu_reg_defined_mask(enum npu_reg_id r)
{
	uint32_t m = 0;
	const unsigned first = npu_reg_table[r].first_field;
	for (unsigned i = 0; i < npu_reg_field_count(r); i++)
		m |= npu_field_mask((enum npu_field_id)(first + i));
	return m;
}

int npu_reg_by_offset(uint32_t offset)
{
	int lo = 0, hi = NPU_REG_COUNT - 1;
	while (lo <= hi) { /* the table is sorted by offset (checked by a test) */
		const int mid = (lo + hi) / 2;
		const uint32_t o = npu_reg_table[mid].offset;
		if (o == offset)
			return mid;
		if (o < offset)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

const char *npu_reg_fullname(enum npu_reg_id r, char *buf, unsigned len)
{
	if ((unsigned)r >= NPU_REG_COUNT) {
		snprintf(buf, len, "?");
		return buf;
	}
	snprintf(buf, len, "%s_%s", npu_block_name(npu_reg_table[r].block), npu_reg_table[r].name);
	return buf;
}

int npu_reg_by_name(const char *name)
{
	if (!name || !*name)
		return -1;
	if (name[0] == '0' && (name[1] == 'x' || name[1] == 'X')) {
		char *end;
		const unsigned long v = strtoul(name, &end, 16);
		return *end ? -1 : npu_reg_by_offset((uint32_t)v);
	}
	char full[64];
	for (int r = 0; r < NPU_REG_COUNT; r++) {
		npu_reg_fullname((enum npu_reg_id)r, full, sizeof(full));
		if (strcasecmp(full, name) == 0)
			return r;
	}
	return -1;
}

int64_t npu_field_get_signed(enum npu_field_id f, uint32_t reg_value)
{
	const npu_field_info *fi = &npu_field_table[f];
	const uint32_t v = npu_field_get(f, reg_value);
	if (!(fi->flags & NPU_FF_SIGNED) || fi->width >= 32)
		return (fi->flags & NPU_FF_SIGNED) ? (int64_t)(int32_t)v : (int64_t)v;
	const uint32_t sign = 1u << (fi->width - 1);
	return (v & sign) ? (int64_t)v - ((int64_t)1 << fi->width) : (int64_t)v;
}

bool npu_field_pack(enum npu_field_id f, int64_t value, uint32_t *packed)
{
	const npu_field_info *fi = &npu_field_table[f];
	const int64_t umax = fi->width >= 32 ? (int64_t)0xffffffff : ((int64_t)1 << fi->width) - 1;
	const int64_t smin = (fi->flags & NPU_FF_SIGNED) ? -((int64_t)1 << (fi->width - 1)) : 0;
	const bool ok = value >= smin && value <= umax;
	*packed = ((uint32_t)((uint64_t)value & (uint64_t)umax)) << fi->lo;
	return ok;
}
