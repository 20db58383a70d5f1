/* SPDX-License-Identifier: MIT */
/* Regcmd emission: every GEMM task is mtx512/rk3588-npu's matmul task
 * (src/npu_matmul.c gen_matmul_task / gen_matmul_int8 / gen_matmul_fp16 at
 * 4723947; docs/npu-programming.md#the-recipe-we-emit), register for register
 * and in the same order, with the task's sizes and addresses. Deviations:
 * none in register values; the planner only chooses shapes MTX's own
 * constraints allow (M % 4 == 0 or M == 1, K % 32 == 0, N % 16 == 0, data
 * banks <= 11, kernel <= one bank).
 * tests/npu/test_npu_gemm.c diffs this against the reference stream. */
#include "gemm_internal.h"

#include <string.h>

/* Entries are stored in host order; the NPU reads little-endian words. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "regcmd buffers assume a little-endian host");

static uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

void gemm_emit_task(npu_rc_builder *b, const npu_gemm_plan *p, const gemm_task *t, uint32_t a_iova,
		    uint32_t w_iova, uint32_t c_iova)
{
	const gemm_layout *l = &p->layout;
	const bool fp16 = l->type != NPU_GEMM_I8_I32;
	const uint32_t prec = fp16 ? NPU_PREC_FP16 : NPU_PREC_INT8;
	const uint32_t out = (uint32_t)p->out_prec;
	const uint32_t m = t->m, k = t->k, n = t->n, bpe = l->bpe;
	/* Feature cube W=1 x H=m x C=k: line stride 4 atoms, surface stride
	 * 4 * (m/4 - 1), i.e. m - 4, or -3 for m = 1 (MTX; the address model:
	 * docs/npu-programming.md#data-layouts). */
	const int64_t surf = m == 1 ? -3 : (int64_t)m - 4;
	/* BS_OW_CFG SIZE_E and SURFACE_ADD per output type (MTX: 7 / 8 for
	 * int32, 3 / 4 for fp32, 1 / 2 for fp16). */
	const uint32_t size_e = out == NPU_PREC_INT32 ? 7 : out == NPU_PREC_FP32 ? 3 : 1;
	const uint32_t surf_add = out == NPU_PREC_INT32 ? 8 : out == NPU_PREC_FP32 ? 4 : 2;

	npu_rc_write(b, NPU_R_DPU_S_POINTER, NPU_SET(b, DPU_S_POINTER_POINTER_PP_EN, 1) |
				      NPU_SET(b, DPU_S_POINTER_EXECUTER_PP_EN, 1) |
				      NPU_SET(b, DPU_S_POINTER_POINTER_PP_MODE, 1));
	npu_rc_write(b, NPU_R_CNA_CONV_CON1, NPU_SET(b, CNA_CONV_CON1_PROC_PRECISION, prec) |
				      NPU_SET(b, CNA_CONV_CON1_IN_PRECISION, prec) |
				      NPU_SET(b, CNA_CONV_CON1_CONV_MODE, 0));
	npu_rc_write(b, NPU_R_CNA_CONV_CON2, NPU_SET(b, CNA_CONV_CON2_KERNEL_GROUP, 0) |
				      NPU_SET(b, CNA_CONV_CON2_FEATURE_GRAINS, m + 1));
	npu_rc_write(b, NPU_R_CNA_CONV_CON3, NPU_SET(b, CNA_CONV_CON3_CONV_Y_STRIDE, 1) |
				      NPU_SET(b, CNA_CONV_CON3_CONV_X_STRIDE, 1));
	npu_rc_write(b, NPU_R_CNA_DATA_SIZE0, NPU_SET(b, CNA_DATA_SIZE0_DATAIN_WIDTH, 1) |
				       NPU_SET(b, CNA_DATA_SIZE0_DATAIN_HEIGHT, m));
	npu_rc_write(b, NPU_R_CNA_DATA_SIZE1, NPU_SET(b, CNA_DATA_SIZE1_DATAIN_CHANNEL_REAL, k - 1) |
				       NPU_SET(b, CNA_DATA_SIZE1_DATAIN_CHANNEL, k));
	npu_rc_write(b, NPU_R_CNA_DATA_SIZE2, NPU_SET(b, CNA_DATA_SIZE2_DATAOUT_WIDTH, 1));
	npu_rc_write(b, NPU_R_CNA_DATA_SIZE3, NPU_SET(b, CNA_DATA_SIZE3_DATAOUT_ATOMICS, m));
	npu_rc_write(b, NPU_R_CNA_WEIGHT_SIZE0, NPU_SET(b, CNA_WEIGHT_SIZE0_WEIGHT_BYTES, (uint64_t)k * n * bpe));
	npu_rc_write(b, NPU_R_CNA_WEIGHT_SIZE1,
		     NPU_SET(b, CNA_WEIGHT_SIZE1_WEIGHT_BYTES_PER_KERNEL, k * bpe));
	npu_rc_write(b, NPU_R_CNA_WEIGHT_SIZE2, NPU_SET(b, CNA_WEIGHT_SIZE2_WEIGHT_WIDTH, 1) |
				       NPU_SET(b, CNA_WEIGHT_SIZE2_WEIGHT_HEIGHT, 1) |
				       NPU_SET(b, CNA_WEIGHT_SIZE2_WEIGHT_KERNELS, n));
	npu_rc_write(b, NPU_R_CNA_CBUF_CON0, NPU_SET(b, CNA_CBUF_CON0_WEIGHT_BANK, t->weight_banks) |
				      NPU_SET(b, CNA_CBUF_CON0_DATA_BANK, t->data_banks));
	npu_rc_write(b, NPU_R_CNA_CBUF_CON1, NPU_SET(b, CNA_CBUF_CON1_DATA_ENTRIES, div_up(k * bpe, 64)));
	npu_rc_write(b, NPU_R_CNA_CVT_CON0, NPU_SET(b, CNA_CVT_CON0_DATA_SIGN, 1) |
				     NPU_SET(b, CNA_CVT_CON0_CVT_TYPE, 1) |
				     NPU_SET(b, CNA_CVT_CON0_CVT_BYPASS, 1));
	npu_rc_write(b, NPU_R_CNA_CVT_CON1, NPU_SET(b, CNA_CVT_CON1_CVT_SCALE0, 1));
	npu_rc_write(b, NPU_R_CNA_CVT_CON2, NPU_SET(b, CNA_CVT_CON2_CVT_SCALE1, 1));
	npu_rc_write(b, NPU_R_CNA_CVT_CON3, NPU_SET(b, CNA_CVT_CON3_CVT_SCALE2, 1));
	npu_rc_write(b, NPU_R_CNA_CVT_CON4, NPU_SET(b, CNA_CVT_CON4_CVT_SCALE3, 1));
	npu_rc_write(b, NPU_R_CNA_FC_CON0, 0);
	npu_rc_write(b, NPU_R_CNA_FC_CON1, 0);
	npu_rc_write(b, NPU_R_CNA_PAD_CON0, 0);
	npu_rc_write(b, NPU_R_CNA_FEATURE_DATA_ADDR,
		     NPU_SET(b, CNA_FEATURE_DATA_ADDR_FEATURE_BASE_ADDR, (uint64_t)a_iova + t->a_off));
	npu_rc_write(b, NPU_R_CNA_FC_CON2, 0);
	npu_rc_write(b, NPU_R_CNA_DMA_CON0, NPU_SET(b, CNA_DMA_CON0_WEIGHT_BURST_LEN, 15) |
				     NPU_SET(b, CNA_DMA_CON0_DATA_BURST_LEN, 15));
	npu_rc_write(b, NPU_R_CNA_DMA_CON1, NPU_SET(b, CNA_DMA_CON1_LINE_STRIDE, 4));
	npu_rc_write(b, NPU_R_CNA_DMA_CON2, NPU_SET(b, CNA_DMA_CON2_SURF_STRIDE, surf));
	npu_rc_write(b, NPU_R_CNA_FC_DATA_SIZE0, NPU_SET(b, CNA_FC_DATA_SIZE0_DMA_WIDTH, 1) |
					  NPU_SET(b, CNA_FC_DATA_SIZE0_DMA_HEIGHT, m));
	npu_rc_write(b, NPU_R_CNA_FC_DATA_SIZE1, NPU_SET(b, CNA_FC_DATA_SIZE1_DMA_CHANNEL, k));
	npu_rc_write(b, NPU_R_CNA_DCOMP_CTRL, 0);
	npu_rc_write(b, NPU_R_CNA_DCOMP_REGNUM, 0);
	npu_rc_write(b, NPU_R_CNA_DCOMP_ADDR0,
		     NPU_SET(b, CNA_DCOMP_ADDR0_DECOMPRESS_ADDR0, (uint64_t)w_iova + t->w_off));
	for (int i = 0; i < 16; i++)
		npu_rc_write(b, (enum npu_reg_id)(NPU_R_CNA_DCOMP_AMOUNT0 + i), 0);
	npu_rc_write(b, NPU_R_CNA_CVT_CON5, 0);
	npu_rc_write(b, NPU_R_CNA_PAD_CON1, 0);

	npu_rc_write(b, NPU_R_CORE_MISC_CFG, NPU_SET(b, CORE_MISC_CFG_PROC_PRECISION, prec) |
				      NPU_SET(b, CORE_MISC_CFG_QD_EN, fp16)); /* MTX: 0 int8, 1 fp16 */
	npu_rc_write(b, NPU_R_CORE_DATAOUT_SIZE_0, NPU_SET(b, CORE_DATAOUT_SIZE_0_DATAOUT_HEIGHT, m - 1) |
					    NPU_SET(b, CORE_DATAOUT_SIZE_0_DATAOUT_WIDTH, 0));
	npu_rc_write(b, NPU_R_CORE_DATAOUT_SIZE_1, NPU_SET(b, CORE_DATAOUT_SIZE_1_DATAOUT_CHANNEL, n - 1));
	npu_rc_write(b, NPU_R_CORE_CLIP_TRUNCATE, 0);
	npu_rc_write(b, NPU_R_CORE_UNKNOWN_3030, 0);

	npu_rc_write(b, NPU_R_DPU_FEATURE_MODE_CFG, NPU_SET(b, DPU_FEATURE_MODE_CFG_BURST_LEN, 15) |
					     NPU_SET(b, DPU_FEATURE_MODE_CFG_OUTPUT_MODE, 2));
	npu_rc_write(b, NPU_R_DPU_DATA_FORMAT, NPU_SET(b, DPU_DATA_FORMAT_OUT_PRECISION, out) |
					NPU_SET(b, DPU_DATA_FORMAT_IN_PRECISION, prec) |
					NPU_SET(b, DPU_DATA_FORMAT_PROC_PRECISION, prec));
	npu_rc_write(b, NPU_R_DPU_OFFSET_PEND, 0);
	npu_rc_write(b, NPU_R_DPU_DST_BASE_ADDR,
		     NPU_SET(b, DPU_DST_BASE_ADDR_DST_BASE_ADDR, (uint64_t)c_iova + t->c_off));
	npu_rc_write(b, NPU_R_DPU_DST_SURF_STRIDE, NPU_SET(b, DPU_DST_SURF_STRIDE_DST_SURF_STRIDE, m));
	npu_rc_write(b, NPU_R_DPU_DATA_CUBE_WIDTH, NPU_SET(b, DPU_DATA_CUBE_WIDTH_WIDTH, 0));
	npu_rc_write(b, NPU_R_DPU_DATA_CUBE_HEIGHT, NPU_SET(b, DPU_DATA_CUBE_HEIGHT_HEIGHT, m - 1));
	npu_rc_write(b, NPU_R_DPU_DATA_CUBE_NOTCH_ADDR, 0);
	npu_rc_write(b, NPU_R_DPU_DATA_CUBE_CHANNEL, NPU_SET(b, DPU_DATA_CUBE_CHANNEL_ORIG_CHANNEL, n - 1) |
					      NPU_SET(b, DPU_DATA_CUBE_CHANNEL_CHANNEL, n - 1));
	const uint32_t bypass_all = NPU_SET(b, DPU_BS_CFG_BS_RELU_BYPASS, 1) |
				    NPU_SET(b, DPU_BS_CFG_BS_MUL_BYPASS, 1) |
				    NPU_SET(b, DPU_BS_CFG_BS_ALU_BYPASS, 1) | NPU_SET(b, DPU_BS_CFG_BS_BYPASS, 1);
	npu_rc_write(b, NPU_R_DPU_BS_CFG, bypass_all);
	npu_rc_write(b, NPU_R_DPU_BS_ALU_CFG, 0);
	npu_rc_write(b, NPU_R_DPU_BS_MUL_CFG, 0);
	npu_rc_write(b, NPU_R_DPU_BS_RELUX_CMP_VALUE, 0);
	npu_rc_write(b, NPU_R_DPU_BS_OW_CFG, NPU_SET(b, DPU_BS_OW_CFG_SIZE_E_2, size_e) |
				      NPU_SET(b, DPU_BS_OW_CFG_SIZE_E_1, size_e) |
				      NPU_SET(b, DPU_BS_OW_CFG_SIZE_E_0, size_e) |
				      NPU_SET(b, DPU_BS_OW_CFG_OD_BYPASS, 1));
	npu_rc_write(b, NPU_R_DPU_BS_OW_OP, 0);
	npu_rc_write(b, NPU_R_DPU_WDMA_SIZE_0, NPU_SET(b, DPU_WDMA_SIZE_0_CHANNEL_WDMA, n - 1));
	npu_rc_write(b, NPU_R_DPU_WDMA_SIZE_1, NPU_SET(b, DPU_WDMA_SIZE_1_HEIGHT_WDMA, m - 1) |
					NPU_SET(b, DPU_WDMA_SIZE_1_WIDTH_WDMA, 0));
	/* BN_CFG has the BS_CFG layout (registers.xml). */
	npu_rc_write(b, NPU_R_DPU_BN_CFG, NPU_SET(b, DPU_BN_CFG_BN_RELU_BYPASS, 1) |
				   NPU_SET(b, DPU_BN_CFG_BN_MUL_BYPASS, 1) |
				   NPU_SET(b, DPU_BN_CFG_BN_ALU_BYPASS, 1) | NPU_SET(b, DPU_BN_CFG_BN_BYPASS, 1));
	npu_rc_write(b, NPU_R_DPU_BN_ALU_CFG, 0);
	npu_rc_write(b, NPU_R_DPU_BN_MUL_CFG, 0);
	npu_rc_write(b, NPU_R_DPU_BN_RELUX_CMP_VALUE, 0);
	npu_rc_write(b, NPU_R_DPU_EW_CFG, NPU_SET(b, DPU_EW_CFG_EW_RELU_BYPASS, 1) |
				   NPU_SET(b, DPU_EW_CFG_EW_OP_CVT_BYPASS, 1) |
				   NPU_SET(b, DPU_EW_CFG_EW_LUT_BYPASS, 1) |
				   NPU_SET(b, DPU_EW_CFG_EW_OP_BYPASS, 1) | NPU_SET(b, DPU_EW_CFG_EW_BYPASS, 1));
	npu_rc_write(b, NPU_R_DPU_EW_CVT_OFFSET_VALUE, 0);
	npu_rc_write(b, NPU_R_DPU_EW_CVT_SCALE_VALUE, NPU_SET(b, DPU_EW_CVT_SCALE_VALUE_EW_OP_CVT_SCALE, 1));
	npu_rc_write(b, NPU_R_DPU_EW_RELUX_CMP_VALUE, 0);
	npu_rc_write(b, NPU_R_DPU_OUT_CVT_OFFSET, 0);
	npu_rc_write(b, NPU_R_DPU_OUT_CVT_SCALE,
		     NPU_SET(b, DPU_OUT_CVT_SCALE_FP32TOFP16_EN, out == NPU_PREC_FP16) |
			     NPU_SET(b, DPU_OUT_CVT_SCALE_OUT_CVT_SCALE, 1));
	npu_rc_write(b, NPU_R_DPU_OUT_CVT_SHIFT, 0);
	for (int i = 0; i < 8; i++)
		npu_rc_write(b, (enum npu_reg_id)(NPU_R_DPU_EW_OP_VALUE_0 + i), 0);
	npu_rc_write(b, NPU_R_DPU_SURFACE_ADD, NPU_SET(b, DPU_SURFACE_ADD_SURF_ADD, (uint64_t)m * surf_add));
	npu_rc_write(b, NPU_R_DPU_UNKNOWN_40C4, 0);
	for (enum npu_reg_id r = NPU_R_DPU_LUT_ACCESS_CFG; r <= NPU_R_DPU_LUT_LO_SLOPE_SHIFT; r++)
		npu_rc_write(b, r, 0);
	npu_rc_tail(b, NPU_OPEN_CNA | NPU_OPEN_CORE | NPU_OPEN_DPU);
}

int gemm_emit_core(const npu_gemm_plan *p, uint32_t core, uint64_t *entries, uint32_t a_iova,
		   uint32_t w_iova, uint32_t c_iova, rb_err *err)
{
	npu_rc_builder b;
	npu_rc_init(&b, entries, p->core[core].rc_entries);
	for (uint32_t i = 0; i < p->core[core].count; i++) {
		const gemm_task *t = &p->tasks[p->core[core].first + i];
		gemm_emit_task(&b, p, t, a_iova, w_iova, c_iova);
		if (!b.error && b.count != (i + 1) * GEMM_TASK_ENTRIES)
			return rb_err_set(err, RB_E_INVALID, "npu_gemm: task %u emitted %u entries, "
					  "expected %u", i, b.count - i * GEMM_TASK_ENTRIES,
					  GEMM_TASK_ENTRIES);
	}
	if (b.error)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: regcmd for core %u: %s", core, b.msg);
	return 0;
}
