/* SPDX-License-Identifier: MIT */
/* Reference register streams (see npu_vectors.h). Register offsets and
 * headers are written as plain numbers here on purpose: this file must not
 * depend on the library's register table it is used to check. */
#include "npu_vectors.h"

#include <string.h>

/* MTX matmul, INT8 -> INT32, M=64 K=256 N=128: the values of mtx512's
 * gen_matmul_task / gen_matmul_int8 (src/npu_matmul.c @4723947) for this
 * shape, in its order (docs/npu-programming.md#the-recipe-we-emit). */
const uint64_t vec_mtx_int8_64x256x128[VEC_MTX_ENTRIES] = {
	0x10010000000E4004, 0x020100000000100C, 0x0201000004101010, 0x0201000000091014,
	0x0201000100401020, 0x020100FF01001024, 0x0201000000011028, 0x020100000040102C,
	0x0201000080001030, 0x0201000001001034, 0x0201010100801038, 0x0201000000B11040,
	0x0201000000041044, 0x02010000000B104C, 0x0201000100001050, 0x0201000100001054,
	0x0201000100001058, 0x020100010000105C, 0x0201000000001060, 0x0201000000001064,
	0x0201000000001068, 0x0201001000001070, 0x0201000000001074, 0x0201000F000F1078,
	0x020100000004107C, 0x02010000003C1080, 0x0201000100401084, 0x0201000001001088,
	0x0201000000001100, 0x0201000000001104, 0x0201002000001110, 0x0201000000001140,
	0x0201000000001144, 0x0201000000001148, 0x020100000000114C, 0x0201000000001150,
	0x0201000000001154, 0x0201000000001158, 0x020100000000115C, 0x0201000000001160,
	0x0201000000001164, 0x0201000000001168, 0x020100000000116C, 0x0201000000001170,
	0x0201000000001174, 0x0201000000001178, 0x020100000000117C, 0x0201000000001180,
	0x0201000000001184, 0x0801000000003010, 0x0801003F00003014, 0x08010000007F3018,
	0x080100000000301C, 0x0801000000003030, 0x1001000001E4400C, 0x1001800000004010,
	0x1001000000004014, 0x1001003000004020, 0x1001000004004024, 0x1001000000004030,
	0x10010000003F4034, 0x1001000000004038, 0x1001007F007F403C, 0x1001000000534040,
	0x1001000000004044, 0x1001000000004048, 0x100100000000404C, 0x1001000007FE4050,
	0x1001000000004054, 0x10010000007F4058, 0x1001003F0000405C, 0x1001000000534060,
	0x1001000000004064, 0x1001000000004068, 0x100100000000406C, 0x1001000003834070,
	0x1001000000004074, 0x1001000000014078, 0x100100000000407C, 0x1001000000004080,
	0x1001000000014084, 0x1001000000004088, 0x1001000000004090, 0x1001000000004094,
	0x1001000000004098, 0x100100000000409C, 0x10010000000040A0, 0x10010000000040A4,
	0x10010000000040A8, 0x10010000000040AC, 0x10010000200040C0, 0x10010000000040C4,
	0x1001000000004100, 0x1001000000004104, 0x1001000000004108, 0x100100000000410C,
	0x1001000000004110, 0x1001000000004114, 0x1001000000004118, 0x100100000000411C,
	0x1001000000004120, 0x1001000000004124, 0x1001000000004128, 0x100100000000412C,
	0x0000000000000000, 0x0101000000000014, 0x0041000000000000, 0x00810000000D0008,
};

enum { PC = 0x0101, CNA = 0x0201, CORE = 0x0801, DPU = 0x1001, RDMA = 0x2001 };

static uint64_t ent(uint16_t hdr, uint16_t reg, uint32_t val)
{
	return ((uint64_t)hdr << 48) | ((uint64_t)val << 16) | reg;
}

#define E(hdr, reg, val) (out[n++] = ent((hdr), (reg), (val)))

static uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }
static uint32_t align_up(uint32_t a, uint32_t b) { return div_up(a, b) * b; }

size_t vec_mtx_stream(uint64_t out[VEC_MTX_ENTRIES], enum vec_mtx_variant v, uint32_t m,
		      uint32_t k, uint32_t nk, uint32_t a, uint32_t b, uint32_t c)
{
	const uint32_t p = v == VEC_MTX_I8_I32 ? 0 : 2; /* precision code int8 / fp16 */
	const uint32_t bpe = v == VEC_MTX_I8_I32 ? 1 : 2;
	const uint32_t data_banks = div_up(m * k * bpe, 32768);
	int32_t surf = 4 * ((int32_t)m / 4 - 1); /* MTX: line 4W, surface 4W*(H/4-1), +1 if < 0 */
	if (surf < 0)
		surf += 1;
	static const uint32_t fmt[] = { 0x80000000, 0xA8000002, 0x48000002 };
	static const uint32_t ow_cfg[] = { 0x7FE, 0x36E, 0x126 };
	static const uint32_t surf_add[] = { 8, 4, 2 };
	size_t n = 0;
	E(DPU, 0x4004, 0xE);
	E(CNA, 0x100C, (p << 7) | (p << 4));
	E(CNA, 0x1010, (m + 1) << 4);
	E(CNA, 0x1014, 0x9);
	E(CNA, 0x1020, (1u << 16) | m);
	E(CNA, 0x1024, ((k - 1) << 16) | k);
	E(CNA, 0x1028, 1);
	E(CNA, 0x102C, m);
	E(CNA, 0x1030, k * nk * bpe);
	E(CNA, 0x1034, k * bpe);
	E(CNA, 0x1038, 0x01010000 | nk);
	E(CNA, 0x1040, ((12 - data_banks) << 4) | data_banks);
	E(CNA, 0x1044, div_up(k * bpe, 64));
	E(CNA, 0x104C, 0xB);
	for (uint16_t r = 0x1050; r <= 0x105C; r += 4)
		E(CNA, r, 0x10000);
	E(CNA, 0x1060, 0);
	E(CNA, 0x1064, 0);
	E(CNA, 0x1068, 0);
	E(CNA, 0x1070, a);
	E(CNA, 0x1074, 0);
	E(CNA, 0x1078, 0x000F000F);
	E(CNA, 0x107C, 4);
	E(CNA, 0x1080, (uint32_t)surf & 0x0FFFFFFF);
	E(CNA, 0x1084, (1u << 16) | m);
	E(CNA, 0x1088, k);
	E(CNA, 0x1100, 0);
	E(CNA, 0x1104, 0);
	E(CNA, 0x1110, b);
	for (uint16_t r = 0x1140; r <= 0x117C; r += 4)
		E(CNA, r, 0);
	E(CNA, 0x1180, 0);
	E(CNA, 0x1184, 0);
	E(CORE, 0x3010, (p << 8) | (v == VEC_MTX_I8_I32 ? 0 : 1));
	E(CORE, 0x3014, (m - 1) << 16);
	E(CORE, 0x3018, nk - 1);
	E(CORE, 0x301C, 0);
	E(CORE, 0x3030, 0);
	E(DPU, 0x400C, 0x1E4);
	E(DPU, 0x4010, fmt[v]);
	E(DPU, 0x4014, 0);
	E(DPU, 0x4020, c);
	E(DPU, 0x4024, m << 4);
	E(DPU, 0x4030, 0);
	E(DPU, 0x4034, m - 1);
	E(DPU, 0x4038, 0);
	E(DPU, 0x403C, ((nk - 1) << 16) | (nk - 1));
	E(DPU, 0x4040, 0x53);
	E(DPU, 0x4044, 0);
	E(DPU, 0x4048, 0);
	E(DPU, 0x404C, 0);
	E(DPU, 0x4050, ow_cfg[v]);
	E(DPU, 0x4054, 0);
	E(DPU, 0x4058, nk - 1);
	E(DPU, 0x405C, (m - 1) << 16);
	E(DPU, 0x4060, 0x53);
	E(DPU, 0x4064, 0);
	E(DPU, 0x4068, 0);
	E(DPU, 0x406C, 0);
	E(DPU, 0x4070, 0x383);
	E(DPU, 0x4074, 0);
	E(DPU, 0x4078, 1);
	E(DPU, 0x407C, 0);
	E(DPU, 0x4080, 0);
	E(DPU, 0x4084, v == VEC_MTX_F16_F16 ? 0x10001 : 1);
	E(DPU, 0x4088, 0);
	for (uint16_t r = 0x4090; r <= 0x40AC; r += 4)
		E(DPU, r, 0);
	E(DPU, 0x40C0, (m * surf_add[v]) << 4);
	E(DPU, 0x40C4, 0);
	for (uint16_t r = 0x4100; r <= 0x412C; r += 4)
		E(DPU, r, 0);
	out[n++] = 0;
	E(PC, 0x0014, 0);
	out[n++] = 0x0041000000000000ull;
	out[n++] = ent(0x0081, 0x0008, 0x0D);
	return n;
}

/* ------------------------------------------------------------- Mesa */

struct mesa_task {
	uint32_t in_c, in_c_real, out_c, out_c_real, kernels;
	uint32_t input_banks, weight_banks, entries;
	uint32_t line_stride, surf_stride, out_surf_stride, surfaces_per_row;
};

/* rkt_task.c fill_task() + the single-task branch of rkt_split_tasks(). */
static void mesa_task(const vec_mesa_conv *p, struct mesa_task *t)
{
	t->in_c_real = p->in_channels;
	t->in_c = align_up(p->in_channels > 16 ? p->in_channels : 16, 16);
	t->out_c_real = p->out_channels;
	t->out_c = align_up(p->out_channels > 32 ? p->out_channels : 32, 32);
	t->kernels = align_up(p->out_channels, 2);
	/* CBUF in 128-byte entries of 8 atoms, 256 entries per bank. */
	const uint32_t c_atoms = div_up(p->in_channels, 16);
	const uint32_t last = c_atoms % 8;
	const uint32_t per_slice = (c_atoms / 8) * p->width +
				   (last == 3 ? p->width : div_up(last * p->width, 8));
	t->input_banks = div_up(per_slice * p->height, 256);
	t->weight_banks = 12 - t->input_banks;
	t->entries = div_up(p->width * 2 * div_up(p->in_channels, 16), 8);
	t->line_stride = p->width * 16 / 4;
	t->surf_stride = t->line_stride * (p->height / 4 - 1); /* height % 4 == 0 here */
	t->out_surf_stride = p->width * 16 * p->height / 16;
	t->surfaces_per_row = p->width * p->height * 2;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

size_t vec_mesa_conv_stream(uint64_t out[VEC_MESA_MAX_ENTRIES], const vec_mesa_conv *p)
{
	struct mesa_task t;
	mesa_task(p, &t);
	const uint32_t con0 = (t.weight_banks << 4) | t.input_banks;
	const uint32_t w = p->width, h = p->height;
	/* Requantization multiplier, encoded as Mesa's rkt_regcmd.c does. */
	const uint32_t bits = f32_bits(p->in_scale * p->w_scale / p->out_scale);
	const uint32_t shift = 127 + 31 - 32 - (bits >> 23) + 16;
	uint32_t scale = ((bits >> 9) & 0x7fff) + 1;
	if (scale < (1u << 14))
		scale |= 1u << 14;
	size_t n = 0;
	E(CNA, 0x1040, con0);
	E(CNA, 0x1104, 0);
	E(CNA, 0x1100, 0);
	E(CNA, 0x100C, 0);
	E(DPU, 0x4004, 0xE);
	E(RDMA, 0x5004, 0xE);
	E(CNA, 0x100C, 0);
	E(CNA, 0x1010, (50 + 1 + 1) << 4); /* "magic" grains: 50 + stride_y + 1 */
	E(CNA, 0x1014, (1 << 3) | 1);
	E(CNA, 0x1020, (w << 16) | h);
	E(CNA, 0x1024, ((t.in_c_real - 1) << 16) | t.in_c);
	E(CNA, 0x1028, w);
	E(CNA, 0x102C, w * h);
	E(CNA, 0x1030, t.in_c * t.kernels);
	E(CNA, 0x1034, t.in_c);
	E(CNA, 0x1038, (1u << 24) | (1u << 16) | t.kernels);
	E(CNA, 0x1040, con0);
	E(CNA, 0x1044, t.entries);
	E(CNA, 0x104C, 0xB);
	for (uint16_t r = 0x1050; r <= 0x105C; r += 4)
		E(CNA, r, 1u << 16);
	E(CNA, 0x1060, 0);
	E(CNA, 0x1064, 0);
	E(CNA, 0x1068, 0);
	E(CNA, 0x1070, p->input_iova);
	E(CNA, 0x1074, 0);
	E(CNA, 0x1078, 0x000F000F);
	E(CNA, 0x107C, t.line_stride);
	E(CNA, 0x1080, t.surf_stride);
	E(CNA, 0x1084, (w << 16) | h);
	E(CNA, 0x1088, t.in_c);
	E(CNA, 0x1100, 0);
	E(CNA, 0x1104, 0);
	E(CNA, 0x1110, p->weight_iova);
	for (uint16_t r = 0x1140; r <= 0x117C; r += 4)
		E(CNA, r, 0);
	E(CNA, 0x1180, 0);
	E(CNA, 0x1184, (uint32_t)((int32_t)p->in_zp - 0x80));
	E(CORE, 0x3010, 1); /* QD_EN */
	E(CORE, 0x3014, ((h - 1) << 16) | (w - 1));
	E(CORE, 0x3018, t.out_c - 1);
	E(CORE, 0x301C, 0);
	E(CORE, 0x3030, 0);
	E(DPU, 0x400C, (15 << 5) | (2 << 1));
	E(DPU, 0x4010, 0);
	E(DPU, 0x4014, 0);
	E(DPU, 0x4020, p->output_iova);
	E(DPU, 0x4024, t.out_surf_stride << 4);
	E(DPU, 0x4030, w - 1);
	E(DPU, 0x4034, h - 1);
	E(DPU, 0x4038, 0);
	E(DPU, 0x403C, ((t.out_c_real - 1) << 16) | (t.out_c - 1));
	E(DPU, 0x4040, (2u << 16) | (1u << 8) | (1u << 6) | (1u << 4)); /* ALU add from memory */
	E(DPU, 0x4044, 0);
	E(DPU, 0x4048, 0);
	E(DPU, 0x404C, 0);
	E(DPU, 0x4050, (1u << 8) | (1u << 5) | (1u << 2));
	E(DPU, 0x4054, (uint32_t)(0x80 - (int32_t)p->w_zp) & 0xffff);
	E(DPU, 0x4058, t.out_c - 1);
	E(DPU, 0x405C, ((h - 1) << 16) | (w - 1));
	E(DPU, 0x4060, 0x53);
	E(DPU, 0x4064, 0);
	E(DPU, 0x4068, 0);
	E(DPU, 0x406C, 0);
	E(DPU, 0x4070, 0x383);
	E(DPU, 0x4074, 0);
	E(DPU, 0x4078, 1);
	E(DPU, 0x407C, 0);
	E(DPU, 0x4080, (uint32_t)((int32_t)p->out_zp - 0x80));
	E(DPU, 0x4084, scale);
	E(DPU, 0x4088, shift - 1);
	for (uint16_t r = 0x4090; r <= 0x40AC; r += 4)
		E(DPU, r, 0);
	E(DPU, 0x40C0, t.surfaces_per_row << 4);
	E(DPU, 0x40C4, 0);
	for (uint16_t r = 0x4100; r <= 0x412C; r += 4)
		E(DPU, r, 0);
	E(RDMA, 0x500C, w - 1);
	E(RDMA, 0x5010, h - 1);
	E(RDMA, 0x5014, t.out_c - 1);
	E(RDMA, 0x5018, 0);
	E(RDMA, 0x501C, 1u << 1); /* BRDMA_DATA_USE = 1 */
	E(RDMA, 0x5020, p->bias_iova);
	E(RDMA, 0x5028, 0);
	E(RDMA, 0x502C, 0);
	E(RDMA, 0x5034, 1); /* ERDMA_DISABLE */
	E(RDMA, 0x5038, 0);
	E(RDMA, 0x5040, 0);
	E(RDMA, 0x5044, (15u << 11) | (1u << 4));
	E(RDMA, 0x5048, 0);
	E(RDMA, 0x504C, 0);
	E(RDMA, 0x5064, 0);
	E(RDMA, 0x5068, 0x01010101);
	E(RDMA, 0x506C, 0);
	out[n++] = 0; /* single task */
	E(PC, 0x0014, 0);
	out[n++] = 0x0041000000000000ull;
	out[n++] = ent(0x0081, 0x0008, (14u << 1) | 1); /* = 0x1D */
	return n;
}

size_t vec_mesa_input_bytes(const vec_mesa_conv *p)
{
	return (size_t)align_up(p->in_channels > 16 ? p->in_channels : 16, 16) * p->width * p->height;
}

size_t vec_mesa_weight_bytes(const vec_mesa_conv *p)
{
	return (size_t)align_up(p->out_channels, 2) * align_up(p->in_channels, 32) * 2;
}

size_t vec_mesa_output_bytes(const vec_mesa_conv *p)
{
	return (size_t)align_up(p->out_channels > 32 ? p->out_channels : 32, 32) * p->width *
	       p->height;
}

void vec_mesa_fill(const vec_mesa_conv *p, const uint8_t *input, const uint8_t *weights,
		   const int32_t *bias, int8_t *npu_input, int8_t *npu_weights, int32_t *npu_bias)
{
	const uint32_t c = p->in_channels, oc = p->out_channels;
	const uint32_t c_al = align_up(c > 16 ? c : 16, 16);
	const uint32_t hw = p->width * p->height;
	/* Input NC1HWC2 (C2 = 16), uint8 - 0x80, padding = zero point. */
	for (uint32_t px = 0; px < hw; px++)
		for (uint32_t ch = 0; ch < c_al; ch++)
			npu_input[(ch / 16) * hw * 16 + px * 16 + ch % 16] =
				(int8_t)((ch < c ? input[px * c + ch] : p->in_zp) - 0x80);
	/* Weights: [oc/32][ic/32][oc%32][ic%32], last oc group compacted to
	 * align2(oc), last ic group 16 wide when <= 16 channels remain. */
	const uint32_t kernels = align_up(oc, 2);
	const uint32_t cin = c > 16 ? c : 16;
	size_t n = 0;
	for (uint32_t o1 = 0; o1 < div_up(kernels, 32); o1++)
		for (uint32_t i1 = 0; i1 < div_up(cin, 32); i1++)
			for (uint32_t o2 = 0; o2 < (kernels < 32 ? kernels : 32); o2++)
				for (uint32_t i2 = 0; i2 < (cin < 32 ? cin : 32); i2++) {
					const uint32_t o = o1 * 32 + o2, i = i1 * 32 + i2;
					if (oc > 2 && o >= kernels)
						continue;
					if (o >= oc)
						npu_weights[n++] = 0;
					else if (i >= c) {
						if (i2 < 16 || c % 32 > 16)
							npu_weights[n++] = (int8_t)(p->w_zp - 0x80);
					} else
						npu_weights[n++] = (int8_t)(weights[o * c + i] - 0x80);
				}
	/* Bias with the input zero point folded in. */
	for (uint32_t o = 0; o < oc; o++) {
		int32_t corr = 0;
		for (uint32_t i = 0; i < c; i++)
			corr += ((int32_t)weights[o * c + i] - p->w_zp) * ((int32_t)p->in_zp - 0x80);
		npu_bias[o] = bias[o] - corr;
	}
}

void vec_mesa_read_output(const vec_mesa_conv *p, const int8_t *npu_output, uint8_t *out)
{
	const uint32_t hw = p->width * p->height;
	for (uint32_t px = 0; px < hw; px++)
		for (uint32_t o = 0; o < p->out_channels; o++)
			out[px * p->out_channels + o] =
				(uint8_t)(npu_output[(o / 16) * hw * 16 + px * 16 + o % 16] + 0x80);
}
