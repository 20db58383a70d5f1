/* SPDX-License-Identifier: MIT */
/* RK3588 NPU register map, generated from the single table npu/npu_regs.def.
 *
 * Three name spaces come out of the table:
 *   NPU_R_<BLOCK>_<REG>          dense register id (index into npu_reg_table)
 *   NPU_F_<BLOCK>_<REG>_<FIELD>  dense field id (index into npu_field_table)
 *   NPU_OFF_<BLOCK>_<REG>        byte offset inside the core window
 * Code composes register values by field name (npu_field_pack or the regcmd
 * builder's NPU_SET), never with shifts written by hand. Facts and their
 * sources: docs/npu-programming.md. */
#ifndef NPU_REGS_H
#define NPU_REGS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of one core window (TRM ch.36, registers.xml). The regcmd header
 * addresses a block by bit (8 + page), page = offset >> 12. */
enum npu_block {
	NPU_BLOCK_PC,
	NPU_BLOCK_CNA,
	NPU_BLOCK_CORE,
	NPU_BLOCK_DPU,
	NPU_BLOCK_DPU_RDMA,
	NPU_BLOCK_PPU,
	NPU_BLOCK_PPU_RDMA,
	NPU_BLOCK_GLOBAL,
	NPU_BLOCK_COUNT
};

/* Register flags. */
enum {
	NPU_RF_RO = 1u << 0,          /* read only */
	NPU_RF_W1C = 1u << 1,         /* write 1 to clear */
	NPU_RF_RESET_KNOWN = 1u << 2, /* the table's reset value is published (TRM) */
	NPU_RF_UNDOC = 1u << 3,       /* undocumented; every known recipe writes 0 */
	NPU_RF_MMIO = 1u << 4,        /* programmed by the kernel over MMIO, not in task bodies */
	NPU_RF_NOREGCMD = 1u << 5,    /* cannot be addressed by a regcmd entry */
};

/* Field flags. */
enum {
	NPU_FF_SIGNED = 1u << 0, /* two's complement of the field's width */
	NPU_FF_MINUS1 = 1u << 1, /* holds (quantity - 1) */
	NPU_FF_ADDR = 1u << 2,   /* an IOVA (diffs can ignore it) */
};

enum npu_reg_id {
#define NPU_REG(blk, name, off, reset, flags, src) NPU_R_##blk##_##name,
#define NPU_FLD(blk, reg, name, hi, lo, flags)
#include "npu/npu_regs.def"
#undef NPU_REG
#undef NPU_FLD
	NPU_REG_COUNT
};

enum npu_field_id {
#define NPU_REG(blk, name, off, reset, flags, src)
#define NPU_FLD(blk, reg, name, hi, lo, flags) NPU_F_##blk##_##reg##_##name,
#include "npu/npu_regs.def"
#undef NPU_REG
#undef NPU_FLD
	NPU_FIELD_COUNT
};

enum npu_reg_offset {
#define NPU_REG(blk, name, off, reset, flags, src) NPU_OFF_##blk##_##name = off,
#define NPU_FLD(blk, reg, name, hi, lo, flags)
#include "npu/npu_regs.def"
#undef NPU_REG
#undef NPU_FLD
};

typedef struct npu_reg_info {
	const char *name;   /* "CONV_CON1" */
	const char *source; /* citation keys */
	uint16_t offset;
	uint8_t block;      /* enum npu_block */
	uint8_t flags;      /* NPU_RF_* */
	uint32_t reset;
	uint16_t first_field; /* fields: npu_reg_field_count() entries from here */
} npu_reg_info;

typedef struct npu_field_info {
	const char *name; /* "GROUP_LINE_OFF" */
	uint16_t reg;     /* enum npu_reg_id */
	uint8_t lo, width;
	uint8_t flags;    /* NPU_FF_* */
} npu_field_info;

extern const npu_reg_info npu_reg_table[NPU_REG_COUNT];
extern const npu_field_info npu_field_table[NPU_FIELD_COUNT];

const char *npu_block_name(enum npu_block b);
/* Base offset of a block inside the core window (PC 0x0000 ... GLOBAL 0xF000). */
uint16_t npu_block_base(enum npu_block b);
/* Block of a regcmd header's target bit (0x0100 -> PC ...); -1 when the
 * header names no block or several. The low byte of the header is ignored. */
int npu_block_from_header(uint16_t header);
/* Target bit for a block (PC 0x0100, CNA 0x0200, CORE 0x0800 ...), 0 for
 * blocks a regcmd cannot address. */
uint16_t npu_block_header_bit(enum npu_block b);
/* Block whose page contains `offset`, -1 for pages without a known block. */
int npu_block_of_offset(uint16_t offset);

/* Number of fields of a register (they follow first_field in the table). */
unsigned npu_reg_field_count(enum npu_reg_id r);
/* Union of the bits of all fields; other bits are reserved. */
uint32_t npu_reg_defined_mask(enum npu_reg_id r);

/* Register id at a byte offset, -1 when the offset is not in the table. */
int npu_reg_by_offset(uint32_t offset);
/* "CNA_CONV_CON1" (block + register), for messages. */
const char *npu_reg_fullname(enum npu_reg_id r, char *buf, unsigned len);
/* Lookup by "CNA_CONV_CON1" (case-insensitive) or "0x100c"; -1 when unknown. */
int npu_reg_by_name(const char *name);

static inline uint32_t npu_field_mask(enum npu_field_id f)
{
	const npu_field_info *fi = &npu_field_table[f];
	return (fi->width >= 32 ? 0xffffffffu : ((1u << fi->width) - 1u)) << fi->lo;
}

/* Field value of `reg_value` (zero-extended). */
static inline uint32_t npu_field_get(enum npu_field_id f, uint32_t reg_value)
{
	return (reg_value & npu_field_mask(f)) >> npu_field_table[f].lo;
}

/* Sign-extended value of a signed field (or plain value of an unsigned one). */
int64_t npu_field_get_signed(enum npu_field_id f, uint32_t reg_value);

/* `value` placed in the field. Returns false (and packs the truncated value)
 * when it does not fit: unsigned fields take 0..2^w-1, NPU_FF_SIGNED fields
 * -2^(w-1)..2^w-1 (negative values are stored as two's complement). */
bool npu_field_pack(enum npu_field_id f, int64_t value, uint32_t *packed);

/* Largest value a field holds (2^w - 1). */
static inline uint32_t npu_field_max(enum npu_field_id f)
{
	const npu_field_info *fi = &npu_field_table[f];
	return fi->width >= 32 ? 0xffffffffu : (1u << fi->width) - 1u;
}

/* Op-enable mask of the 0x0081 regcmd entry (= GLOBAL OPERATION_ENABLE bit
 * layout, TRM / registers.xml). */
enum {
	NPU_OPEN_CNA = 1u << 0,
	NPU_OPEN_CORE = 1u << 2,
	NPU_OPEN_DPU = 1u << 3,
	NPU_OPEN_DPU_RDMA = 1u << 4,
	NPU_OPEN_PPU = 1u << 5,
	NPU_OPEN_PPU_RDMA = 1u << 6,
};

/* Precision codes shared by CNA CONV_CON1, CORE MISC_CFG, DPU DATA_FORMAT
 * (TRM, registers.xml; int32/fp32 output codes from MTX). */
enum npu_precision {
	NPU_PREC_INT8 = 0,
	NPU_PREC_INT16 = 1,
	NPU_PREC_FP16 = 2,
	NPU_PREC_BF16 = 3,
	NPU_PREC_INT32 = 4, /* DPU output only */
	NPU_PREC_FP32 = 5,  /* DPU output only */
	NPU_PREC_INT4 = 6,
	NPU_PREC_TF32 = 7,
};

/* CBUF geometry per core (TRM 384 KB; 12 x 32 KiB in MTX and Mesa). */
#define NPU_CBUF_BANKS 12u
#define NPU_CBUF_BANK_BYTES 32768u
/* Feature/output atom: 16 bytes (Mesa FEATURE_ATOMIC_SIZE, MTX C2 values). */
#define NPU_ATOM_BYTES 16u

#ifdef __cplusplus
}
#endif
#endif
