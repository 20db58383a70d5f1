/* SPDX-License-Identifier: MIT */
/* The register table: internal consistency and spot checks of the facts it
 * encodes (offsets, field positions, header bits). */
#include "npu/npu_regs.h"
#include "npu_vectors.h"
#include "npu/npu_regcmd.h"
#include "test.h"

static void test_table_consistency(void)
{
	for (int r = 0; r < NPU_REG_COUNT; r++) {
		const npu_reg_info *ri = &npu_reg_table[r];
		CHECKF(r == 0 || ri->offset > npu_reg_table[r - 1].offset, "%s offset 0x%04x not increasing",
		       ri->name, ri->offset);
		CHECKF(ri->offset % 4 == 0, "%s offset 0x%04x unaligned", ri->name, ri->offset);
		CHECKF(npu_block_of_offset(ri->offset) == ri->block, "%s at 0x%04x is not in block %s",
		       ri->name, ri->offset, npu_block_name((enum npu_block)ri->block));
		CHECK_EQ_INT(npu_reg_by_offset(ri->offset), r);
		char full[64];
		CHECK_EQ_INT(npu_reg_by_name(npu_reg_fullname((enum npu_reg_id)r, full, sizeof(full))), r);
		CHECKF(npu_reg_field_count((enum npu_reg_id)r) > 0, "%s has no field", ri->name);
		uint32_t seen = 0;
		for (unsigned i = 0; i < npu_reg_field_count((enum npu_reg_id)r); i++) {
			const enum npu_field_id f = (enum npu_field_id)(ri->first_field + i);
			const npu_field_info *fi = &npu_field_table[f];
			CHECK_EQ_INT(fi->reg, r);
			CHECKF(fi->width >= 1 && fi->lo + fi->width <= 32, "%s.%s bits", ri->name, fi->name);
			CHECKF((seen & npu_field_mask(f)) == 0, "%s.%s overlaps another field", ri->name,
			       fi->name);
			seen |= npu_field_mask(f);
		}
		CHECK_EQ_INT(seen, npu_reg_defined_mask((enum npu_reg_id)r));
		if (!(ri->flags & NPU_RF_RESET_KNOWN))
			CHECK_EQ_INT(ri->reset, 0);
	}
	CHECK_EQ_INT(npu_reg_by_offset(0x0018), -1);
	CHECK_EQ_INT(npu_reg_by_offset(0x101C), -1);
	CHECK_EQ_INT(npu_reg_by_name("cna_conv_con1"), NPU_R_CNA_CONV_CON1);
	CHECK_EQ_INT(npu_reg_by_name("0x100c"), NPU_R_CNA_CONV_CON1);
	CHECK_EQ_INT(npu_reg_by_name("CNA_NOPE"), -1);
	CHECK_EQ_INT(npu_reg_by_name("0x10zz"), -1);
}

static void test_facts(void)
{
	/* Offsets and block bases: registers.xml, TRM ch. 36; header bits: MTX
	 * npu_hw.h, Mesa rkt_regcmd.c (docs/npu-programming.md#register-commands-regcmd). */
	CHECK_EQ_INT(NPU_OFF_PC_BASE_ADDRESS, 0x0010);
	CHECK_EQ_INT(NPU_OFF_PC_INTERRUPT_RAW_STATUS, 0x002C);
	CHECK_EQ_INT(NPU_OFF_CNA_CONV_CON1, 0x100C);
	CHECK_EQ_INT(NPU_OFF_CNA_CBUF_CON0, 0x1040);
	CHECK_EQ_INT(NPU_OFF_CNA_DCOMP_ADDR0, 0x1110);
	CHECK_EQ_INT(NPU_OFF_CORE_CLIP_TRUNCATE, 0x301C);
	CHECK_EQ_INT(NPU_OFF_CORE_UNKNOWN_3030, 0x3030);
	CHECK_EQ_INT(NPU_OFF_DPU_BS_OW_CFG, 0x4050);
	CHECK_EQ_INT(NPU_OFF_DPU_UNKNOWN_40C4, 0x40C4);
	CHECK_EQ_INT(NPU_OFF_DPU_RDMA_BS_BASE_ADDR, 0x5020);
	CHECK_EQ_INT(npu_block_header_bit(NPU_BLOCK_PC), 0x0100);
	CHECK_EQ_INT(npu_block_header_bit(NPU_BLOCK_CNA), 0x0200);
	CHECK_EQ_INT(npu_block_header_bit(NPU_BLOCK_CORE), 0x0800);
	CHECK_EQ_INT(npu_block_header_bit(NPU_BLOCK_DPU), 0x1000);
	CHECK_EQ_INT(npu_block_header_bit(NPU_BLOCK_DPU_RDMA), 0x2000);
	CHECK_EQ_INT(npu_block_header_bit(NPU_BLOCK_PPU_RDMA), 0x8000);
	CHECK_EQ_INT(npu_block_header_bit(NPU_BLOCK_GLOBAL), 0);
	CHECK_EQ_INT(npu_block_from_header(0x0201), NPU_BLOCK_CNA);
	CHECK_EQ_INT(npu_block_from_header(0x0A01), -1); /* two blocks */
	CHECK_EQ_INT(npu_block_from_header(0x0401), -1); /* page 2: no block on RK3588 */
	CHECK_EQ_INT(npu_field_mask(NPU_F_CNA_CONV_CON1_GROUP_LINE_OFF), 1u << 29);
	CHECK_EQ_INT(npu_field_mask(NPU_F_CNA_CONV_CON2_FEATURE_GRAINS), 0x3ffu << 4);
	CHECK_EQ_INT(npu_field_mask(NPU_F_DPU_DATA_FORMAT_OUT_PRECISION), 7u << 29);
	CHECK_EQ_INT(npu_field_mask(NPU_F_PC_BASE_ADDRESS_PC_SOURCE_ADDR), 0xfffffff0u);
	CHECK_EQ_INT(npu_reg_table[NPU_R_PC_INTERRUPT_MASK].reset, 0x1ffff);
	CHECK_EQ_INT(npu_reg_table[NPU_R_CORE_MAC_GATING].reset, 0x07800800);
	CHECK(npu_reg_table[NPU_R_CORE_UNKNOWN_3030].flags & NPU_RF_UNDOC);
	CHECK(npu_reg_table[NPU_R_GLOBAL_OPERATION_ENABLE].flags & NPU_RF_NOREGCMD);
}

static void test_fields(void)
{
	uint32_t v;
	/* MTX M = 1: surface stride -3 as 28-bit two's complement. */
	CHECK(npu_field_pack(NPU_F_CNA_DMA_CON2_SURF_STRIDE, -3, &v));
	CHECK_EQ_INT(v, 0x0FFFFFFD);
	CHECK_EQ_INT(npu_field_get_signed(NPU_F_CNA_DMA_CON2_SURF_STRIDE, 0x0FFFFFFD), -3);
	CHECK_EQ_INT(npu_field_get_signed(NPU_F_CNA_DMA_CON2_SURF_STRIDE, 60), 60);
	CHECK(npu_field_pack(NPU_F_CNA_DMA_CON2_SURF_STRIDE, -(1 << 27), &v));
	CHECK(!npu_field_pack(NPU_F_CNA_DMA_CON2_SURF_STRIDE, -(1 << 27) - 1, &v));
	CHECK(!npu_field_pack(NPU_F_CNA_DATA_SIZE0_DATAIN_HEIGHT, 2048, &v));
	CHECK(npu_field_pack(NPU_F_CNA_DATA_SIZE0_DATAIN_HEIGHT, 2047, &v));
	CHECK(!npu_field_pack(NPU_F_CNA_DATA_SIZE0_DATAIN_HEIGHT, -1, &v));
	CHECK(npu_field_pack(NPU_F_CNA_WEIGHT_SIZE0_WEIGHT_BYTES, 0xffffffffll, &v));
	CHECK_EQ_INT(v, 0xffffffffu);
	CHECK(!npu_field_pack(NPU_F_CNA_WEIGHT_SIZE0_WEIGHT_BYTES, 0x100000000ll, &v));
	CHECK(npu_field_pack(NPU_F_DPU_BS_OW_OP_OW_OP, -12, &v)); /* Mesa: 0x80 - 140 */
	CHECK_EQ_INT(v, 0xfff4);
	CHECK_EQ_INT(npu_field_max(NPU_F_CNA_CONV_CON2_FEATURE_GRAINS), 1023);
}

/* Every entry of the documented MTX stream decodes to a known register
 * without issues. */
static void test_vector_decodes(void)
{
	for (int i = 0; i < VEC_MTX_ENTRIES; i++) {
		npu_rc_entry e;
		npu_rc_decode(vec_mtx_int8_64x256x128[i], &e);
		CHECKF(e.issues == 0, "entry %d has issues 0x%x", i, e.issues);
		if (e.kind == NPU_RC_WRITE)
			CHECK(e.reg >= 0);
	}
}

int main(void)
{
	test_table_consistency();
	test_facts();
	test_fields();
	test_vector_decodes();
	return rb_test_finish();
}
