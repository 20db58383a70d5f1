/* SPDX-License-Identifier: MIT */
/* The convolution pipeline of one task: CNA (feature + weight fetch) ->
 * CORE (MAC array, CLIP_TRUNCATE) -> DPU (BS / OW / BN / EW / OUT_CVT) -> WDMA.
 *
 * Modelled (everything else is refused with an error naming the field):
 *   - direct 1x1 convolution, stride 1, no padding (matmul = W 1 x H M x C K);
 *   - int8 x int8 -> exact int32 accumulation; fp16 x fp16 -> exact products
 *     summed in binary64 and rounded once to binary32 (stands in for the
 *     wide accumulator NVDLA documents, as quoted in Mesa's rkt_coefs.c);
 *   - feature fetch in both GROUP_LINE_OFF address models;
 *   - weights in 32x32 (int8) / 16x32 (fp16) kernel blocks (MTX, Mesa
 *     rkt_coefs.c), with Mesa's compacted last kernel group and 16-wide last
 *     int8 channel group;
 *   - DPU: all-bypass; BS ALU add of an int32 bias read through DPU_RDMA;
 *     the OW offset-weight term; OUT_CVT scale/shift/offset with saturation
 *     (values as Mesa's rkt_regcmd.c writes them; order and rounding are an
 *     assumption);
 *   - output write with DST_SURF_STRIDE and NOTCH_ADDR_0.
 * Layouts: docs/npu-programming.md#data-layouts; what is assumed where:
 * docs/npu-programming.md#the-simulator. */
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/fp16.h"

struct conv {
	/* CNA */
	int prec;            /* NPU_PREC_INT8 or NPU_PREC_FP16 */
	unsigned bpe, c2;    /* bytes per element, channels per 16-byte atom */
	uint32_t in_w, in_h, in_c, kernels;
	uint32_t data_banks, weight_banks;
	uint32_t feat_addr, line_stride;
	int64_t surf_stride;
	bool group_line_off;
	uint32_t weight_addr, weight_bytes, kernel_bytes;
	/* CORE */
	uint32_t core_channels;
	unsigned clip;
	/* DPU */
	int out_prec;
	unsigned out_bpe;
	uint32_t dst_addr, dst_surf_atoms, notch;
	uint32_t channels, orig_channels;
	uint32_t offset_pend;
	bool bias, ow;
	uint32_t bias_addr;
	int32_t ow_op;
	int64_t cvt_offset;
	uint32_t cvt_scale, cvt_shift;
};

/* " (never written since reset)" when the field's register holds no value
 * the task (or an earlier one) wrote. */
static const char *unwritten_note(const npu_sim_core *c, enum npu_field_id f)
{
	return c->written[npu_field_table[f].reg] ? "" : " (never written since reset)";
}

static int require_field(npu_sim_core *c, enum npu_field_id f, uint32_t want, const char *why)
{
	const uint32_t v = sim_field(c, f);
	if (v == want)
		return 0;
	char n[96];
	return sim_fail(c, -EINVAL, "%s = %u%s: only %u is modelled (%s)",
			sim_field_name(f, n, sizeof(n)), v, unwritten_note(c, f), want, why);
}

#define REQUIRE(c, FIELD, want, why)                                                         \
	do {                                                                                 \
		const int r_ = require_field((c), NPU_F_##FIELD, (want), (why));             \
		if (r_)                                                                      \
			return r_;                                                           \
	} while (0)

#define F(c, FIELD) sim_field((c), NPU_F_##FIELD)

static int mismatch(npu_sim_core *c, enum npu_field_id f, uint64_t have, uint64_t want,
		    const char *what)
{
	char n[96];
	return sim_fail(c, -EINVAL, "%s = %llu%s disagrees with %s (%llu): not modelled",
			sim_field_name(f, n, sizeof(n)), (unsigned long long)have,
			unwritten_note(c, f), what, (unsigned long long)want);
}

#define EXPECT(c, FIELD, have, want, what)                                                   \
	do {                                                                                 \
		if ((uint64_t)(have) != (uint64_t)(want))                                    \
			return mismatch((c), NPU_F_##FIELD, (have), (want), (what));         \
	} while (0)

/* A field whose effect the model does not compute but which every known
 * recipe sets in one way: another value is refused in strict mode (it might
 * change what silicon does) and only noted otherwise. */
static int recipe_field(npu_sim_core *c, enum npu_field_id f, uint64_t have, uint64_t want,
			const char *what)
{
	char n[96];
	if (have == want)
		return 0;
	if (!c->cfg.strict) {
		sim_warn(c, "%s = %llu, not %llu (%s)", sim_field_name(f, n, sizeof(n)),
			 (unsigned long long)have, (unsigned long long)want, what);
		return 0;
	}
	return sim_fail(c, -EINVAL, "%s = %llu%s: every known recipe writes %llu here (%s); other "
			"values are not modelled", sim_field_name(f, n, sizeof(n)),
			(unsigned long long)have, unwritten_note(c, f), (unsigned long long)want, what);
}

#define RECIPE(c, FIELD, have, want, what)                                                   \
	do {                                                                                 \
		const int r_ = recipe_field((c), NPU_F_##FIELD, (have), (want), (what));     \
		if (r_)                                                                      \
			return r_;                                                           \
	} while (0)

/* DPU_BS_OW_CFG.SIZE_E_0/1/2 and DPU_SURFACE_ADD (per DST_SURF_STRIDE atom)
 * by output precision, as every known recipe writes them (MTX npu_matmul.c,
 * Mesa rkt_regcmd.c, HM, AB; docs/npu-programming.md#the-simulator):
 * MTX int32 7 / 8 * M, fp32 3 / 4 * M, fp16 1 / 2 * M with DST_SURF_STRIDE M;
 * Mesa int8 1 / 2 * W * H with DST_SURF_STRIDE W * H; the row-major recipes
 * int32 8 (HM) and fp32 4 (AB) with DST_SURF_STRIDE 1. Their meaning is not
 * documented; the model does not use them. */
static int out_recipe(int out_prec, uint32_t *size_e, uint32_t *surf_add_per_atom)
{
	switch (out_prec) {
	case NPU_PREC_INT8: *size_e = 1; *surf_add_per_atom = 2; return 0;
	case NPU_PREC_FP16: *size_e = 1; *surf_add_per_atom = 2; return 0;
	case NPU_PREC_FP32: *size_e = 3; *surf_add_per_atom = 4; return 0;
	case NPU_PREC_INT32: *size_e = 7; *surf_add_per_atom = 8; return 0;
	default: return -1;
	}
}

static int decode_cna(npu_sim_core *c, struct conv *v)
{
	REQUIRE(c, CNA_CONV_CON1_CONV_MODE, 0, "direct convolution only");
	REQUIRE(c, CNA_CONV_CON1_DECONV, 0, "no deconvolution");
	REQUIRE(c, CNA_CONV_CON1_ARGB_IN, 0, "no image input mode");
	REQUIRE(c, CNA_CONV_CON1_NONALIGN_DMA, 0, "aligned channel DMA only");
	v->prec = (int)F(c, CNA_CONV_CON1_PROC_PRECISION);
	if (v->prec != NPU_PREC_INT8 && v->prec != NPU_PREC_FP16)
		return sim_fail(c, -EINVAL, "CNA_CONV_CON1.PROC_PRECISION = %d: only int8 (0) and "
				"fp16 (2) are modelled", v->prec);
	REQUIRE(c, CNA_CONV_CON1_IN_PRECISION, (uint32_t)v->prec, "input = processing precision");
	v->group_line_off = F(c, CNA_CONV_CON1_GROUP_LINE_OFF) != 0;
	v->bpe = v->prec == NPU_PREC_INT8 ? 1 : 2;
	v->c2 = NPU_ATOM_BYTES / v->bpe;

	/* KERNEL_GROUP: every known recipe writes 0, although the TRM describes
	 * kernel groups (docs/npu-programming.md#the-simulator). */
	REQUIRE(c, CNA_CONV_CON2_KERNEL_GROUP, 0, "all known recipes write 0");
	REQUIRE(c, CNA_CONV_CON2_CSC_WO_EN, 0, "all known recipes write 0");
	REQUIRE(c, CNA_CONV_CON2_CSC_DO_EN, 0, "all known recipes write 0");
	REQUIRE(c, CNA_CONV_CON2_CMD_FIFO_SRST, 0, "all known recipes write 0");
	REQUIRE(c, CNA_CONV_CON3_NN_MODE, 0, "single-core array");
	REQUIRE(c, CNA_CONV_CON3_ATROUS_X_DILATION, 0, "no dilation");
	REQUIRE(c, CNA_CONV_CON3_ATROUS_Y_DILATION, 0, "no dilation");
	REQUIRE(c, CNA_CONV_CON3_DECONV_X_STRIDE, 0, "no deconvolution");
	REQUIRE(c, CNA_CONV_CON3_DECONV_Y_STRIDE, 0, "no deconvolution");
	REQUIRE(c, CNA_CONV_CON3_CONV_X_STRIDE, 1, "stride 1 only");
	REQUIRE(c, CNA_CONV_CON3_CONV_Y_STRIDE, 1, "stride 1 only");

	v->in_w = F(c, CNA_DATA_SIZE0_DATAIN_WIDTH);
	v->in_h = F(c, CNA_DATA_SIZE0_DATAIN_HEIGHT);
	v->in_c = F(c, CNA_DATA_SIZE1_DATAIN_CHANNEL);
	const uint32_t real = F(c, CNA_DATA_SIZE1_DATAIN_CHANNEL_REAL) + 1;
	if (!v->in_w || !v->in_h || !v->in_c)
		return sim_fail(c, -EINVAL, "CNA_DATA_SIZE0/1: empty input cube %ux%ux%u", v->in_w,
				v->in_h, v->in_c);
	if (real > v->in_c)
		return mismatch(c, NPU_F_CNA_DATA_SIZE1_DATAIN_CHANNEL_REAL, real, v->in_c,
				"DATAIN_CHANNEL (real channels exceed the aligned count)");
	/* Channel alignment of every known recipe: int8 16 (Mesa) / 32 (MTX),
	 * fp16 32 (MTX, AB). */
	const uint32_t align = v->prec == NPU_PREC_INT8 ? 16 : 32;
	if (v->in_c % align)
		return sim_fail(c, -EINVAL, "CNA_DATA_SIZE1.DATAIN_CHANNEL = %u is not a multiple of "
				"%u: not modelled", v->in_c, align);
	/* 1x1, stride 1, no padding: the output cube is the input cube. */
	EXPECT(c, CNA_DATA_SIZE2_DATAOUT_WIDTH, F(c, CNA_DATA_SIZE2_DATAOUT_WIDTH), v->in_w,
	       "DATAIN_WIDTH for a 1x1 stride-1 convolution");
	REQUIRE(c, CNA_DATA_SIZE3_SURF_MODE, 0, "all known recipes write 0");
	EXPECT(c, CNA_DATA_SIZE3_DATAOUT_ATOMICS, F(c, CNA_DATA_SIZE3_DATAOUT_ATOMICS),
	       (uint64_t)v->in_w * v->in_h, "output pixels");
	REQUIRE(c, CNA_WEIGHT_SIZE2_WEIGHT_WIDTH, 1, "1x1 kernels only");
	REQUIRE(c, CNA_WEIGHT_SIZE2_WEIGHT_HEIGHT, 1, "1x1 kernels only");
	v->kernels = F(c, CNA_WEIGHT_SIZE2_WEIGHT_KERNELS);
	if (!v->kernels)
		return sim_fail(c, -EINVAL, "CNA_WEIGHT_SIZE2.WEIGHT_KERNELS = 0");
	v->kernel_bytes = F(c, CNA_WEIGHT_SIZE1_WEIGHT_BYTES_PER_KERNEL);
	EXPECT(c, CNA_WEIGHT_SIZE1_WEIGHT_BYTES_PER_KERNEL, v->kernel_bytes,
	       (uint64_t)v->in_c * v->bpe, "DATAIN_CHANNEL x bytes per element");
	v->weight_bytes = F(c, CNA_WEIGHT_SIZE0_WEIGHT_BYTES);
	EXPECT(c, CNA_WEIGHT_SIZE0_WEIGHT_BYTES, v->weight_bytes,
	       (uint64_t)v->kernel_bytes * v->kernels, "bytes per kernel x kernels");

	REQUIRE(c, CNA_CBUF_CON0_WEIGHT_REUSE, 0, "CBUF reuse between tasks is not modelled");
	REQUIRE(c, CNA_CBUF_CON0_DATA_REUSE, 0, "CBUF reuse between tasks is not modelled");
	REQUIRE(c, CNA_CBUF_CON0_FC_DATA_BANK, 0, "all known recipes write 0");
	v->data_banks = F(c, CNA_CBUF_CON0_DATA_BANK);
	v->weight_banks = F(c, CNA_CBUF_CON0_WEIGHT_BANK);
	/* CBUF = 12 banks x 32 KiB (TRM, MTX, Mesa); data + weight = 12 in
	 * every RK3588 recipe, the sim accepts <= 12
	 * (docs/npu-programming.md#limits-and-the-planner). */
	if (!v->data_banks || !v->weight_banks || v->data_banks + v->weight_banks > NPU_CBUF_BANKS)
		return sim_fail(c, -EINVAL, "CNA_CBUF_CON0: DATA_BANK %u + WEIGHT_BANK %u: each must "
				"be >= 1 and the sum <= %u", v->data_banks, v->weight_banks,
				NPU_CBUF_BANKS);
	const uint64_t data_bytes = (uint64_t)v->in_w * v->in_h * (v->in_c / v->c2) * NPU_ATOM_BYTES;
	if (data_bytes > (uint64_t)v->data_banks * NPU_CBUF_BANK_BYTES)
		return sim_fail(c, -EINVAL, "CBUF over-subscription: the %ux%ux%u input cube needs %llu "
				"bytes, CNA_CBUF_CON0.DATA_BANK = %u holds %u", v->in_w, v->in_h,
				v->in_c, (unsigned long long)data_bytes, v->data_banks,
				v->data_banks * NPU_CBUF_BANK_BYTES);
	/* Weights stream through the weight banks; one kernel must fit a bank
	 * (MTX's rule, silicon-tested up to 16 KiB kernels). */
	if (v->kernel_bytes > NPU_CBUF_BANK_BYTES)
		return sim_fail(c, -EINVAL, "CBUF over-subscription: CNA_WEIGHT_SIZE1 = %u bytes per "
				"kernel exceeds one %u-byte bank", v->kernel_bytes, NPU_CBUF_BANK_BYTES);
	/* DATA_ENTRIES: 64-byte units per input row in every working recipe
	 * (MTX, Mesa rkt_task.c; docs/npu-programming.md#limits-and-the-planner). */
	const uint64_t entries = ((uint64_t)v->in_w * v->in_c * v->bpe + 63) / 64;
	EXPECT(c, CNA_CBUF_CON1_DATA_ENTRIES, F(c, CNA_CBUF_CON1_DATA_ENTRIES), entries,
	       "ceil(width x channels x bpe / 64) of every known recipe");

	REQUIRE(c, CNA_CVT_CON0_CVT_BYPASS, 1, "the input converter is not modelled");
	REQUIRE(c, CNA_CVT_CON5_PER_CHANNEL_CVT_EN, 0, "the input converter is not modelled");
	REQUIRE(c, CNA_FC_CON0_FC_SKIP_EN, 0, "no FC skipping");
	REQUIRE(c, CNA_FC_CON1_DATA_OFFSET, 0, "all known recipes write 0");
	REQUIRE(c, CNA_FC_CON2_WEIGHT_OFFSET, 0, "all known recipes write 0");
	REQUIRE(c, CNA_PAD_CON0_PAD_LEFT, 0, "no padding");
	REQUIRE(c, CNA_PAD_CON0_PAD_TOP, 0, "no padding");
	EXPECT(c, CNA_FC_DATA_SIZE0_DMA_WIDTH, F(c, CNA_FC_DATA_SIZE0_DMA_WIDTH), v->in_w,
	       "DATAIN_WIDTH");
	EXPECT(c, CNA_FC_DATA_SIZE0_DMA_HEIGHT, F(c, CNA_FC_DATA_SIZE0_DMA_HEIGHT), v->in_h,
	       "DATAIN_HEIGHT");
	EXPECT(c, CNA_FC_DATA_SIZE1_DMA_CHANNEL, F(c, CNA_FC_DATA_SIZE1_DMA_CHANNEL), v->in_c,
	       "DATAIN_CHANNEL");
	REQUIRE(c, CNA_DCOMP_CTRL_DECOMP_CONTROL, 0, "weight decompression is not modelled");
	REQUIRE(c, CNA_DCOMP_CTRL_WT_DEC_BYPASS, 0, "all known recipes write 0");
	REQUIRE(c, CNA_DCOMP_REGNUM_DCOMP_REGNUM, 0, "weight decompression is not modelled");

	v->feat_addr = F(c, CNA_FEATURE_DATA_ADDR_FEATURE_BASE_ADDR);
	v->weight_addr = F(c, CNA_DCOMP_ADDR0_DECOMPRESS_ADDR0);
	v->line_stride = F(c, CNA_DMA_CON1_LINE_STRIDE);
	v->surf_stride = sim_field_signed(c, NPU_F_CNA_DMA_CON2_SURF_STRIDE);
	if ((v->feat_addr | v->weight_addr) & 15)
		return sim_fail(c, -EINVAL, "CNA_FEATURE_DATA_ADDR 0x%08x / CNA_DCOMP_ADDR0 0x%08x not "
				"16-byte aligned: not modelled", v->feat_addr, v->weight_addr);
	(void)F(c, CNA_CONV_CON2_FEATURE_GRAINS);
	return 0;
}

static int decode_core(npu_sim_core *c, struct conv *v)
{
	REQUIRE(c, CORE_MISC_CFG_PROC_PRECISION, (uint32_t)v->prec, "same as CNA");
	REQUIRE(c, CORE_MISC_CFG_DW_EN, 0, "no depthwise");
	RECIPE(c, CORE_MISC_CFG_SOFT_GATING, F(c, CORE_MISC_CFG_SOFT_GATING), 0,
	       "MTX, Mesa and the row-major recipes");
	EXPECT(c, CORE_DATAOUT_SIZE_0_DATAOUT_WIDTH, F(c, CORE_DATAOUT_SIZE_0_DATAOUT_WIDTH) + 1,
	       v->in_w, "the CNA output width");
	EXPECT(c, CORE_DATAOUT_SIZE_0_DATAOUT_HEIGHT, F(c, CORE_DATAOUT_SIZE_0_DATAOUT_HEIGHT) + 1,
	       v->in_h, "the CNA output height");
	v->core_channels = F(c, CORE_DATAOUT_SIZE_1_DATAOUT_CHANNEL) + 1;
	if (v->core_channels < v->kernels)
		return mismatch(c, NPU_F_CORE_DATAOUT_SIZE_1_DATAOUT_CHANNEL, v->core_channels,
				v->kernels, "CNA_WEIGHT_SIZE2.WEIGHT_KERNELS (fewer outputs than kernels)");
	v->clip = F(c, CORE_CLIP_TRUNCATE_CLIP_TRUNCATE);
	REQUIRE(c, CORE_CLIP_TRUNCATE_ROUND_TYPE, 0, "one rounding mode is modelled");
	if (v->prec == NPU_PREC_FP16 && v->clip)
		return sim_fail(c, -EINVAL, "CORE_CLIP_TRUNCATE.CLIP_TRUNCATE = %u with fp16: not "
				"modelled", v->clip);
	return 0;
}

static unsigned out_bytes(int out_prec)
{
	switch (out_prec) {
	case NPU_PREC_INT8: return 1;
	case NPU_PREC_FP16: return 2;
	case NPU_PREC_INT32:
	case NPU_PREC_FP32: return 4;
	default: return 0;
	}
}

static int decode_dpu_bs(npu_sim_core *c, struct conv *v, uint32_t mask)
{
	if (F(c, DPU_BS_CFG_BS_BYPASS))
		return 0;
	REQUIRE(c, DPU_BS_CFG_BS_MUL_BYPASS, 1, "the BS multiplier is not modelled");
	REQUIRE(c, DPU_BS_CFG_BS_RELU_BYPASS, 1, "ReLU is not modelled");
	REQUIRE(c, DPU_BS_CFG_BS_RELUX_EN, 0, "ReLU-X is not modelled");
	REQUIRE(c, DPU_BS_CFG_BS_MUL_PRELU, 0, "PReLU is not modelled");
	if (F(c, DPU_BS_CFG_BS_ALU_BYPASS))
		return 0;
	/* Mesa's bias: ALU add (algo 2) of an operand read from memory. */
	REQUIRE(c, DPU_BS_CFG_BS_ALU_ALGO, 2, "only the ALU add of Mesa's bias is modelled");
	REQUIRE(c, DPU_BS_CFG_BS_ALU_SRC, 1, "the operand comes from DPU_RDMA memory");
	if (v->prec != NPU_PREC_INT8)
		return sim_fail(c, -EINVAL, "DPU_BS_CFG: bias add with fp16 data is not modelled");
	if (!(mask & NPU_OPEN_DPU_RDMA))
		return sim_fail(c, -ETIMEDOUT, "DPU_BS_CFG.BS_ALU_SRC = 1 reads the bias through "
				"DPU_RDMA, but op-enable 0x%02x does not start DPU_RDMA: the DPU "
				"would wait for it forever", mask);
	v->bias = true;
	return 0;
}

static int decode_dpu(npu_sim_core *c, struct conv *v, uint32_t mask)
{
	REQUIRE(c, DPU_FEATURE_MODE_CFG_COMB_USE, 0, "all known recipes write 0");
	REQUIRE(c, DPU_FEATURE_MODE_CFG_TP_EN, 0, "no transpose");
	REQUIRE(c, DPU_FEATURE_MODE_CFG_RGP_TYPE, 0, "all known recipes write 0");
	REQUIRE(c, DPU_FEATURE_MODE_CFG_NONALIGN, 0, "aligned output only");
	REQUIRE(c, DPU_FEATURE_MODE_CFG_CONV_MODE, 0, "direct convolution only");
	REQUIRE(c, DPU_FEATURE_MODE_CFG_OUTPUT_MODE, 2, "output to memory");
	REQUIRE(c, DPU_FEATURE_MODE_CFG_FLYING_MODE, 0, "input from CORE");
	REQUIRE(c, DPU_DATA_FORMAT_PROC_PRECISION, (uint32_t)v->prec, "same as CNA");
	REQUIRE(c, DPU_DATA_FORMAT_IN_PRECISION, (uint32_t)v->prec, "same as CNA");
	REQUIRE(c, DPU_DATA_FORMAT_MC_SURF_OUT, 0, "all known recipes write 0");
	v->out_prec = (int)F(c, DPU_DATA_FORMAT_OUT_PRECISION);
	const bool int_ok = v->out_prec == NPU_PREC_INT8 || v->out_prec == NPU_PREC_INT32;
	const bool fp_ok = v->out_prec == NPU_PREC_FP16 || v->out_prec == NPU_PREC_FP32;
	if (v->prec == NPU_PREC_INT8 ? !int_ok : !fp_ok)
		return sim_fail(c, -EINVAL, "DPU_DATA_FORMAT.OUT_PRECISION = %d with %s data: not "
				"modelled", v->out_prec, v->prec == NPU_PREC_INT8 ? "int8" : "fp16");
	v->out_bpe = out_bytes(v->out_prec);

	v->dst_addr = F(c, DPU_DST_BASE_ADDR_DST_BASE_ADDR);
	v->dst_surf_atoms = F(c, DPU_DST_SURF_STRIDE_DST_SURF_STRIDE);
	if (v->dst_addr & 15)
		return sim_fail(c, -EINVAL, "DPU_DST_BASE_ADDR = 0x%08x not 16-byte aligned: not "
				"modelled", v->dst_addr);
	EXPECT(c, DPU_DATA_CUBE_WIDTH_WIDTH, F(c, DPU_DATA_CUBE_WIDTH_WIDTH) + 1, v->in_w,
	       "the CORE output width");
	EXPECT(c, DPU_DATA_CUBE_HEIGHT_HEIGHT, F(c, DPU_DATA_CUBE_HEIGHT_HEIGHT) + 1, v->in_h,
	       "the CORE output height");
	REQUIRE(c, DPU_DATA_CUBE_HEIGHT_MINMAX_CTL, 0, "all known recipes write 0");
	v->notch = F(c, DPU_DATA_CUBE_NOTCH_ADDR_NOTCH_ADDR_0);
	v->channels = F(c, DPU_DATA_CUBE_CHANNEL_CHANNEL) + 1;
	v->orig_channels = F(c, DPU_DATA_CUBE_CHANNEL_ORIG_CHANNEL) + 1;
	EXPECT(c, DPU_DATA_CUBE_CHANNEL_CHANNEL, v->channels, v->core_channels,
	       "CORE_DATAOUT_SIZE_1 channels");
	if (v->orig_channels > v->channels)
		return mismatch(c, NPU_F_DPU_DATA_CUBE_CHANNEL_ORIG_CHANNEL, v->orig_channels,
				v->channels, "CHANNEL (more real than written channels)");
	const uint32_t out_c2 = NPU_ATOM_BYTES / v->out_bpe;
	if (v->channels % out_c2)
		return sim_fail(c, -EINVAL, "DPU_DATA_CUBE_CHANNEL: %u channels is not a whole number of "
				"%u-channel output atoms: not modelled", v->channels, out_c2);
	v->offset_pend = F(c, DPU_OFFSET_PEND_OFFSET_PEND);
	if (v->orig_channels < v->channels && v->offset_pend)
		return sim_fail(c, -EINVAL, "DPU_OFFSET_PEND = 0x%x for padded channels: only 0 is "
				"modelled", v->offset_pend);
	EXPECT(c, DPU_WDMA_SIZE_0_CHANNEL_WDMA, F(c, DPU_WDMA_SIZE_0_CHANNEL_WDMA) + 1, v->channels,
	       "DPU_DATA_CUBE_CHANNEL");
	REQUIRE(c, DPU_WDMA_SIZE_0_TP_PRECISION, 0, "no transpose");
	REQUIRE(c, DPU_WDMA_SIZE_0_SIZE_C_WDMA, 0, "all known recipes write 0");
	EXPECT(c, DPU_WDMA_SIZE_1_WIDTH_WDMA, F(c, DPU_WDMA_SIZE_1_WIDTH_WDMA) + 1, v->in_w,
	       "the output width");
	EXPECT(c, DPU_WDMA_SIZE_1_HEIGHT_WDMA, F(c, DPU_WDMA_SIZE_1_HEIGHT_WDMA) + 1, v->in_h,
	       "the output height");
	/* Fields the model does not compute with, held to the known recipes. */
	uint32_t size_e = 0, per_atom = 0;
	out_recipe(v->out_prec, &size_e, &per_atom); /* out_prec validated above */
	RECIPE(c, DPU_BS_OW_CFG_SIZE_E_0, F(c, DPU_BS_OW_CFG_SIZE_E_0), size_e,
	       "by output precision: int32 7, fp32 3, fp16 and int8 1");
	RECIPE(c, DPU_BS_OW_CFG_SIZE_E_1, F(c, DPU_BS_OW_CFG_SIZE_E_1), size_e,
	       "by output precision: int32 7, fp32 3, fp16 and int8 1");
	RECIPE(c, DPU_BS_OW_CFG_SIZE_E_2, F(c, DPU_BS_OW_CFG_SIZE_E_2), size_e,
	       "by output precision: int32 7, fp32 3, fp16 and int8 1");
	RECIPE(c, DPU_SURFACE_ADD_SURF_ADD, F(c, DPU_SURFACE_ADD_SURF_ADD),
	       (uint64_t)v->dst_surf_atoms * per_atom,
	       "DPU_DST_SURF_STRIDE times 8 for int32, 4 for fp32, 2 for fp16 and int8 output");
	RECIPE(c, DPU_DATA_CUBE_NOTCH_ADDR_NOTCH_ADDR_1, F(c, DPU_DATA_CUBE_NOTCH_ADDR_NOTCH_ADDR_1),
	       v->notch, "NOTCH_ADDR_0; the role of NOTCH_ADDR_1 is unknown");
	RECIPE(c, DPU_FEATURE_MODE_CFG_SURF_LEN, F(c, DPU_FEATURE_MODE_CFG_SURF_LEN), 0,
	       "MTX, Mesa and the row-major recipes");

	int ret = decode_dpu_bs(c, v, mask);
	if (ret)
		return ret;
	if (!F(c, DPU_BS_OW_CFG_OD_BYPASS)) {
		/* Mesa's offset-weight term (rkt_regcmd.c, rkt_coefs.c; inferred
		 * algebra, docs/npu-programming.md#the-simulator). */
		REQUIRE(c, DPU_BS_OW_CFG_OW_SRC, 0, "register operand only");
		REQUIRE(c, DPU_BS_OW_CFG_TP_ORG_EN, 0, "no transpose");
		REQUIRE(c, DPU_BS_OW_CFG_RGP_CNTER, 0, "all known recipes write 0");
		if (v->prec != NPU_PREC_INT8 || v->clip)
			return sim_fail(c, -EINVAL, "DPU_BS_OW_CFG.OD_BYPASS = 0 with %s: only int8 without "
					"CLIP_TRUNCATE is modelled", v->clip ? "CLIP_TRUNCATE" : "fp16");
		v->ow = true;
		v->ow_op = (int32_t)sim_field_signed(c, NPU_F_DPU_BS_OW_OP_OW_OP);
	}
	REQUIRE(c, DPU_BN_CFG_BN_BYPASS, 1, "the BN stage is not modelled");
	REQUIRE(c, DPU_EW_CFG_EW_BYPASS, 1, "the element-wise stage is not modelled");

	v->cvt_offset = sim_field_signed(c, NPU_F_DPU_OUT_CVT_OFFSET_OUT_CVT_OFFSET);
	v->cvt_scale = F(c, DPU_OUT_CVT_SCALE_OUT_CVT_SCALE);
	v->cvt_shift = F(c, DPU_OUT_CVT_SHIFT_OUT_CVT_SHIFT);
	/* The TRM describes two rounding modes; every recipe writes 0. */
	REQUIRE(c, DPU_OUT_CVT_SHIFT_CVT_TYPE, 0, "one rounding mode is modelled");
	REQUIRE(c, DPU_OUT_CVT_SHIFT_CVT_ROUND, 0, "one rounding mode is modelled");
	REQUIRE(c, DPU_OUT_CVT_SHIFT_MINUS_EXP, 0, "all known recipes write 0");
	REQUIRE(c, DPU_OUT_CVT_SCALE_FP32TOFP16_EN, v->out_prec == NPU_PREC_FP16,
		"set exactly for fp16 output (MTX)");
	if (v->prec == NPU_PREC_FP16) {
		REQUIRE(c, DPU_OUT_CVT_SCALE_OUT_CVT_SCALE, 1, "float output: identity conversion");
		REQUIRE(c, DPU_OUT_CVT_SHIFT_OUT_CVT_SHIFT, 0, "float output: identity conversion");
		REQUIRE(c, DPU_OUT_CVT_OFFSET_OUT_CVT_OFFSET, 0, "float output: identity conversion");
	} else if (v->cvt_shift > 62) {
		return sim_fail(c, -EINVAL, "DPU_OUT_CVT_SHIFT.OUT_CVT_SHIFT = %u: not modelled",
				v->cvt_shift);
	}
	return 0;
}

static int decode_rdma(npu_sim_core *c, struct conv *v)
{
	EXPECT(c, DPU_RDMA_DATA_CUBE_WIDTH_WIDTH, F(c, DPU_RDMA_DATA_CUBE_WIDTH_WIDTH) + 1, v->in_w,
	       "the DPU cube width");
	EXPECT(c, DPU_RDMA_DATA_CUBE_HEIGHT_HEIGHT, F(c, DPU_RDMA_DATA_CUBE_HEIGHT_HEIGHT) + 1,
	       v->in_h, "the DPU cube height");
	EXPECT(c, DPU_RDMA_DATA_CUBE_CHANNEL_CHANNEL, F(c, DPU_RDMA_DATA_CUBE_CHANNEL_CHANNEL) + 1,
	       v->channels, "the DPU cube channels");
	REQUIRE(c, DPU_RDMA_BRDMA_CFG_BRDMA_DATA_USE, v->bias ? 1u : 0u,
		"ALU operand exactly when BS adds a bias");
	REQUIRE(c, DPU_RDMA_NRDMA_CFG_NRDMA_DATA_USE, 0, "the BN stage is not modelled");
	REQUIRE(c, DPU_RDMA_ERDMA_CFG_ERDMA_DISABLE, 1, "the element-wise stage is not modelled");
	REQUIRE(c, DPU_RDMA_FEATURE_MODE_CFG_MRDMA_DISABLE, 1, "the DPU input is the CORE");
	v->bias_addr = F(c, DPU_RDMA_BS_BASE_ADDR_BS_BASE_ADDR);
	return 0;
}

/* ---------------------------------------------------------------- DMA */

/* Host pointers of every line of a cube (W atoms each) at
 * base + line_atom[i] * 16; NULL on a fault, which is recorded. */
static int map_lines(npu_sim_core *c, const npu_sim_mem *mem, uint64_t base, const int64_t *atoms,
		     size_t lines, uint32_t width, bool write, uint8_t **ptr, const char *reg)
{
	int64_t lo = atoms[0], hi = atoms[0];
	for (size_t i = 1; i < lines; i++) {
		lo = atoms[i] < lo ? atoms[i] : lo;
		hi = atoms[i] > hi ? atoms[i] : hi;
	}
	const int64_t first = (int64_t)base + lo * (int64_t)NPU_ATOM_BYTES;
	const int64_t end = (int64_t)base + (hi + width) * (int64_t)NPU_ATOM_BYTES;
	uint8_t *whole = NULL;
	if (first >= 0 && end <= (int64_t)1 << 32)
		whole = mem->translate(mem->ctx, (uint64_t)first, (uint64_t)(end - first), write);
	for (size_t i = 0; i < lines; i++) {
		const int64_t at = (int64_t)base + atoms[i] * (int64_t)NPU_ATOM_BYTES;
		if (whole) {
			ptr[i] = whole + (at - first);
			continue;
		}
		ptr[i] = at >= 0 && at + (int64_t)width * NPU_ATOM_BYTES <= (int64_t)1 << 32
				 ? mem->translate(mem->ctx, (uint64_t)at, (uint64_t)width * NPU_ATOM_BYTES, write)
				 : NULL;
		if (!ptr[i]) {
			c->raw_status |= write ? SIM_IRQ_DMA_WRITE_ERROR : SIM_IRQ_DMA_READ_ERROR;
			return sim_fail(c, -EFAULT, "DMA %s fault: %s = 0x%08llx + %lld bytes (line %zu, "
					"%u bytes) is not inside one mapped buffer",
					write ? "write" : "read", reg, (unsigned long long)base,
					(long long)(at - (int64_t)base), i,
					width * NPU_ATOM_BYTES);
		}
	}
	return 0;
}

static const uint8_t *map_range(npu_sim_core *c, const npu_sim_mem *mem, uint64_t iova,
				uint64_t bytes, const char *reg)
{
	const uint8_t *p = mem->translate(mem->ctx, iova, bytes, false);
	if (!p) {
		c->raw_status |= SIM_IRQ_DMA_READ_ERROR;
		sim_fail(c, -EFAULT, "DMA read fault: %s = 0x%08llx, %llu bytes, is not inside one "
			 "mapped buffer", reg, (unsigned long long)iova, (unsigned long long)bytes);
	}
	return p;
}

/* Line start (in atoms from FEATURE_DATA_ADDR) of line h of surface s
 * (docs/npu-programming.md#data-layouts). */
static int64_t feature_line_atom(const struct conv *v, uint32_t s, uint32_t h)
{
	if (v->group_line_off) {
		const int64_t surf = (int64_t)v->in_w + v->surf_stride;
		return (int64_t)s * surf + (int64_t)h * v->line_stride;
	}
	const int64_t surf = (int64_t)v->line_stride + v->surf_stride;
	return (int64_t)s * surf + (int64_t)(h / 4) * v->line_stride + (int64_t)(h % 4) * v->in_w;
}

/* Byte offset of weight (n, c) from DCOMP_ADDR0 (MTX weight_int8/fp16;
 * Mesa rkt_coefs.c's compacted last kernel group and 16-wide last int8
 * channel group; docs/npu-programming.md#data-layouts). */
static size_t weight_offset(const struct conv *v, uint32_t n, uint32_t ch)
{
	const uint32_t group = v->prec == NPU_PREC_INT8 ? 32 : 16;
	const uint32_t g = n / group;
	const uint32_t kg = v->kernels - g * group < group ? v->kernels - g * group : group;
	const uint32_t j = ch / 32;
	const bool last_narrow = v->prec == NPU_PREC_INT8 && v->in_c % 32 == 16 && j == v->in_c / 32;
	const uint32_t cw = last_narrow ? 16 : 32;
	const size_t elems = (size_t)g * group * v->in_c + (size_t)kg * 32 * j +
			     (size_t)(n % group) * cw + ch % 32;
	return elems * v->bpe;
}

/* ------------------------------------------------------------ compute */

static int64_t sat(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Integer DPU path of one accumulator (order CORE truncate -> BS bias -> OW
 * -> OUT_CVT and rounding half up are assumptions,
 * docs/npu-programming.md#the-simulator). */
static int64_t dpu_int(const struct conv *v, int64_t x, int32_t bias, int64_t in_sum)
{
	if (v->clip)
		x = (x + ((int64_t)1 << (v->clip - 1))) >> v->clip;
	x = sat(x, INT32_MIN, INT32_MAX); /* 32-bit path into the DPU (NVDLA CACC) */
	if (v->bias)
		x += bias;
	if (v->ow)
		x += (int64_t)v->ow_op * in_sum;
	int64_t y = x * (int64_t)v->cvt_scale;
	if (v->cvt_shift)
		y = (y + ((int64_t)1 << (v->cvt_shift - 1))) >> v->cvt_shift;
	y += v->cvt_offset;
	return v->out_prec == NPU_PREC_INT8 ? sat(y, -128, 127) : sat(y, INT32_MIN, INT32_MAX);
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, uint32_t n)
{
	int32_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += (int16_t)a[i] * (int16_t)b[i];
	return s;
}

static double dot_f32(const float *a, const float *b, uint32_t n)
{
	double s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += (double)(a[i] * b[i]); /* fp16 x fp16 products are exact in fp32 */
	return s;
}

static void store_out(const struct conv *v, uint8_t *dst, uint32_t ch, int64_t iv, float fv)
{
	if (ch >= v->orig_channels) { /* padded channel: OFFSET_PEND (validated 0) */
		memset(dst, 0, v->out_bpe);
		return;
	}
	switch (v->out_prec) {
	case NPU_PREC_INT8:
		*(int8_t *)dst = (int8_t)iv;
		break;
	case NPU_PREC_INT32: {
		const int32_t x = (int32_t)iv;
		memcpy(dst, &x, 4);
		break;
	}
	case NPU_PREC_FP32:
		memcpy(dst, &fv, 4);
		break;
	case NPU_PREC_FP16: {
		const rb_f16 h = rb_f32_to_f16(fv);
		memcpy(dst, &h, 2);
		break;
	}
	}
}

/* Map every input line first, then allocate the dense copy: a hostile
 * stream cannot make the simulator allocate more than the memory it maps. */
static int fetch_input(npu_sim_core *c, const npu_sim_mem *mem, const struct conv *v, void **out)
{
	const uint32_t surfaces = v->in_c / v->c2;
	const size_t lines = (size_t)surfaces * v->in_h;
	int64_t *atoms = sim_scratch(c, 2, lines * sizeof(int64_t) + lines * sizeof(uint8_t *));
	if (!atoms)
		return sim_fail(c, -ENOMEM, "out of memory");
	uint8_t **ptr = (uint8_t **)(atoms + lines);
	for (uint32_t s = 0; s < surfaces; s++)
		for (uint32_t h = 0; h < v->in_h; h++)
			atoms[(size_t)s * v->in_h + h] = feature_line_atom(v, s, h);
	int ret = map_lines(c, mem, v->feat_addr, atoms, lines, v->in_w, false, ptr,
			    "CNA_FEATURE_DATA_ADDR");
	if (ret)
		return ret;
	const size_t esz = v->prec == NPU_PREC_INT8 ? 1 : sizeof(float);
	void *dense = *out = sim_scratch(c, 0, (size_t)v->in_w * v->in_h * v->in_c * esz);
	if (!dense)
		return sim_fail(c, -ENOMEM, "out of memory for a %ux%ux%u input cube", v->in_w, v->in_h,
				v->in_c);
	for (uint32_t s = 0; s < surfaces; s++)
		for (uint32_t h = 0; h < v->in_h; h++)
			for (uint32_t w = 0; w < v->in_w; w++) {
				const uint8_t *src = ptr[(size_t)s * v->in_h + h] + (size_t)w * NPU_ATOM_BYTES;
				const size_t px = (size_t)h * v->in_w + w;
				if (v->prec == NPU_PREC_INT8) {
					memcpy((int8_t *)dense + px * v->in_c + (size_t)s * v->c2, src, v->c2);
				} else {
					float *d = (float *)dense + px * v->in_c + (size_t)s * v->c2;
					for (uint32_t k = 0; k < v->c2; k++) {
						rb_f16 hv;
						memcpy(&hv, src + 2 * k, 2);
						d[k] = rb_f16_to_f32(hv);
					}
				}
			}
	return 0;
}

static int fetch_weights(npu_sim_core *c, const npu_sim_mem *mem, const struct conv *v, void **out)
{
	const uint8_t *src = map_range(c, mem, v->weight_addr, v->weight_bytes, "CNA_DCOMP_ADDR0");
	if (!src)
		return -EFAULT;
	const size_t esz = v->prec == NPU_PREC_INT8 ? 1 : sizeof(float);
	void *dense = *out = sim_scratch(c, 1, (size_t)v->kernels * v->in_c * esz);
	if (!dense)
		return sim_fail(c, -ENOMEM, "out of memory for %u x %u weights", v->kernels, v->in_c);
	for (uint32_t n = 0; n < v->kernels; n++)
		for (uint32_t ch = 0; ch < v->in_c; ch++) {
			const size_t off = weight_offset(v, n, ch);
			if (v->prec == NPU_PREC_INT8) {
				((int8_t *)dense)[(size_t)n * v->in_c + ch] = (int8_t)src[off];
			} else {
				rb_f16 hv;
				memcpy(&hv, src + off, 2);
				((float *)dense)[(size_t)n * v->in_c + ch] = rb_f16_to_f32(hv);
			}
		}
	return 0;
}

static int execute(npu_sim_core *c, const npu_sim_mem *mem, const struct conv *v)
{
	const size_t pixels = (size_t)v->in_w * v->in_h;
	void *in = NULL, *wt = NULL;
	int ret = fetch_input(c, mem, v, &in);
	if (!ret)
		ret = fetch_weights(c, mem, v, &wt);
	if (ret)
		return ret;
	const int32_t *bias = NULL;
	if (v->bias) {
		bias = (const int32_t *)map_range(c, mem, v->bias_addr, (uint64_t)v->channels * 4,
						  "DPU_RDMA_BS_BASE_ADDR");
		if (!bias)
			return -EFAULT;
	}
	/* Output lines: surface s, row h -> atom s*SURF + h*(W + NOTCH)
	 * (docs/npu-programming.md#data-layouts). */
	const uint32_t out_c2 = NPU_ATOM_BYTES / v->out_bpe;
	const uint32_t surfaces = v->channels / out_c2;
	const size_t lines = (size_t)surfaces * v->in_h;
	int64_t *atoms = sim_scratch(c, 3, lines * (sizeof(int64_t) + sizeof(uint8_t *)));
	if (!atoms)
		return sim_fail(c, -ENOMEM, "out of memory");
	uint8_t **ptr = (uint8_t **)(atoms + lines);
	for (uint32_t s = 0; s < surfaces; s++)
		for (uint32_t h = 0; h < v->in_h; h++)
			atoms[(size_t)s * v->in_h + h] = (int64_t)s * v->dst_surf_atoms +
							 (int64_t)h * (v->in_w + v->notch);
	ret = map_lines(c, mem, v->dst_addr, atoms, lines, v->in_w, true, ptr, "DPU_DST_BASE_ADDR");
	if (ret)
		return ret;

	for (uint32_t h = 0; h < v->in_h; h++)
		for (uint32_t w = 0; w < v->in_w; w++) {
			const size_t px = (size_t)h * v->in_w + w;
			int64_t in_sum = 0;
			if (v->ow)
				for (uint32_t ch = 0; ch < v->in_c; ch++)
					in_sum += ((const int8_t *)in)[px * v->in_c + ch];
			for (uint32_t n = 0; n < v->channels; n++) {
				uint8_t *dst = ptr[(size_t)(n / out_c2) * v->in_h + h] +
					       (size_t)w * NPU_ATOM_BYTES + (n % out_c2) * v->out_bpe;
				if (v->prec == NPU_PREC_INT8) {
					const int64_t acc = n < v->kernels
						? dot_i8((const int8_t *)in + px * v->in_c,
							 (const int8_t *)wt + (size_t)n * v->in_c, v->in_c)
						: 0;
					store_out(v, dst, n, dpu_int(v, acc, bias ? bias[n] : 0, in_sum), 0);
				} else {
					const double acc = n < v->kernels
						? dot_f32((const float *)in + px * v->in_c,
							  (const float *)wt + (size_t)n * v->in_c, v->in_c)
						: 0.0;
					store_out(v, dst, n, 0, (float)acc);
				}
			}
		}

	npu_sim_stats *st = &c->last;
	const uint64_t in_bytes = (uint64_t)pixels * (v->in_c / v->c2) * NPU_ATOM_BYTES;
	const uint64_t out_total = (uint64_t)lines * v->in_w * NPU_ATOM_BYTES;
	st->macs = (uint64_t)pixels * v->in_c * v->kernels;
	st->dma_read_bytes += in_bytes + v->weight_bytes + (v->bias ? (uint64_t)v->channels * 4 : 0);
	st->dma_write_bytes += out_total;
	const npu_sim_task_shape shape = {
		.precision = v->prec,
		.pixels = pixels,
		.channels = v->in_c,
		.kernels = v->kernels,
		.kernel_area = 1,
		.dma_bytes = st->dma_read_bytes + st->dma_write_bytes,
	};
	st->cycles = npu_sim_estimate_cycles(&c->cfg, &shape);
	return 0;
}

int sim_conv_run(npu_sim_core *c, const npu_sim_mem *mem, uint32_t mask)
{
	if (!(mask & NPU_OPEN_DPU))
		return sim_fail(c, -ETIMEDOUT, "op-enable 0x%02x does not start the DPU: the DPU "
				"completion interrupt the kernel waits for never comes", mask);
	if (mask & (NPU_OPEN_PPU | NPU_OPEN_PPU_RDMA))
		return sim_fail(c, -EINVAL, "op-enable 0x%02x starts PPU blocks: pooling is not "
				"modelled", mask);
	if ((mask & (NPU_OPEN_CNA | NPU_OPEN_CORE)) != (NPU_OPEN_CNA | NPU_OPEN_CORE))
		return sim_fail(c, -EINVAL, "op-enable 0x%02x: only convolutions (CNA + CORE + DPU "
				"[+ DPU_RDMA]) are modelled", mask);
	struct conv v;
	memset(&v, 0, sizeof(v));
	int ret = decode_cna(c, &v);
	if (!ret)
		ret = decode_core(c, &v);
	if (!ret)
		ret = decode_dpu(c, &v, mask);
	if (!ret && (mask & NPU_OPEN_DPU_RDMA))
		ret = decode_rdma(c, &v);
	if (ret)
		return ret;
	if (c->unwritten_reg >= 0) {
		char name[64];
		npu_reg_fullname((enum npu_reg_id)c->unwritten_reg, name, sizeof(name));
		if (c->cfg.strict)
			return sim_fail(c, -EINVAL, "the task uses %s, which nothing wrote since reset "
					"(its reset value is unpublished)", name);
		sim_warn(c, "%s used without a write since reset (assumed 0)", name);
	}
	return execute(c, mem, &v);
}
