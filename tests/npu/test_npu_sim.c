/* SPDX-License-Identifier: MIT */
/* The simulator against silicon-proven register streams (MTX matmul, Mesa
 * conv) and a scalar CPU reference; its error reporting on bad streams. */
#include <errno.h>
#include <math.h>

#include "npu/npu_regcmd.h"
#include "npu/npu_sim.h"
#include "npu_test_mem.h"
#include "npu_vectors.h"
#include "rosenblatt/fp16.h"
#include "test.h"

#define RC_IOVA 0x00010000u

/* MTX data layouts (docs/npu-programming.md#data-layouts). */
static size_t mtx_a_index(uint32_t m_total, uint32_t c2, uint32_t m, uint32_t k)
{
	return ((size_t)(k / c2) * m_total + m) * c2 + k % c2;
}

/* Kernel blocks of `group` kernels x 32 channels; the last kernel group
 * holds only the remaining kernels (WEIGHT_SIZE0 = N * K bytes are fetched,
 * see docs/npu-programming.md on partial kernel groups). */
static size_t mtx_b_index(uint32_t n_total, uint32_t k_total, uint32_t group, uint32_t n,
			  uint32_t k)
{
	const uint32_t g = n / group;
	const uint32_t kg = n_total - g * group < group ? n_total - g * group : group;
	return (size_t)g * group * k_total + (size_t)(k / 32) * kg * 32 + (size_t)(n % group) * 32 +
	       k % 32;
}

static size_t mtx_c_index(uint32_t m_total, uint32_t c2, uint32_t m, uint32_t n)
{
	return ((size_t)(n / c2) * m_total + m) * c2 + n % c2;
}

static void put_regcmd(tmem *t, const uint64_t *e, size_t n)
{
	uint8_t *p = tmem_add(t, RC_IOVA, n * 8 + 8);
	REQUIRE(p);
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 8; b++)
			p[i * 8 + (size_t)b] = (uint8_t)(e[i] >> (8 * b));
}

/* Run an MTX INT8 stream of shape m x k x n on random data; bit-exact check. */
/* IOVAs for generated streams: far enough apart for the largest shapes. */
#define BIG_A 0x01000000u
#define BIG_B 0x02000000u
#define BIG_C 0x04000000u

static void run_mtx_int8(const uint64_t *stream, size_t count, uint32_t m, uint32_t k, uint32_t n,
			 bool via_kick, uint64_t seed, const uint32_t iova[3])
{
	tmem t;
	tmem_init(&t);
	put_regcmd(&t, stream, count);
	int8_t *a = tmem_add(&t, iova[0], (size_t)m * k);
	int8_t *b = tmem_add(&t, iova[1], (size_t)n * k);
	int32_t *c = tmem_add(&t, iova[2], (size_t)m * n * 4);
	int8_t *ra = malloc((size_t)m * k), *rb = malloc((size_t)n * k);
	REQUIRE(a && b && c && ra && rb);
	for (size_t i = 0; i < (size_t)m * k; i++)
		ra[i] = (int8_t)(rb_test_rand_u64(&seed) & 0xff);
	for (size_t i = 0; i < (size_t)n * k; i++)
		rb[i] = (int8_t)(rb_test_rand_u64(&seed) & 0xff);
	ra[0] = -128; /* full range, including the corners */
	rb[0] = -128;
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < k; j++)
			a[mtx_a_index(m, 16, i, j)] = ra[(size_t)i * k + j];
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < k; j++)
			b[mtx_b_index(n, k, 32, i, j)] = rb[(size_t)i * k + j];

	npu_sim_core *core = npu_sim_core_create(0, NULL);
	REQUIRE(core);
	const int ret = via_kick ? tmem_kick(core, &t, RC_IOVA, (uint32_t)count)
				 : npu_sim_run_regcmd(core, &t.mem, RC_IOVA, (uint32_t)count);
	CHECKF(ret == 0, "MTX int8 %ux%ux%u: %s", m, k, n, npu_sim_error(core));
	CHECK(npu_sim_mmio_read(core, 0x002C) & 0x100); /* RAW_STATUS.DPU_0 */
	if (via_kick)
		CHECK(npu_sim_mmio_read(core, 0x0028) & 0x100); /* masked status (mask 0x300) */
	long bad = 0;
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < n; j++) {
			int32_t ref = 0;
			for (uint32_t l = 0; l < k; l++)
				ref += ra[(size_t)i * k + l] * rb[(size_t)j * k + l];
			if (c[mtx_c_index(m, 4, i, j)] != ref && bad++ < 5)
				fprintf(stderr, "C[%u][%u] = %d, expected %d\n", i, j,
					c[mtx_c_index(m, 4, i, j)], ref);
		}
	CHECKF(bad == 0, "%ld mismatches in MTX int8 %ux%ux%u", bad, m, k, n);

	npu_sim_stats last;
	npu_sim_get_stats(core, NULL, &last);
	CHECK_EQ_INT(last.tasks, 1);
	CHECK_EQ_INT(last.macs, (uint64_t)m * k * n);
	CHECK_EQ_INT(last.dma_write_bytes, (uint64_t)m * n * 4);
	CHECK_EQ_INT(last.dma_read_bytes, (uint64_t)m * k + (uint64_t)n * k + ((count + 1) & ~1u) * 8);
	npu_sim_config cfg;
	npu_sim_config_default(&cfg);
	const npu_sim_task_shape shape = { NPU_PREC_INT8, m, k, n, 1,
					   last.dma_read_bytes + last.dma_write_bytes };
	CHECK_EQ_INT(last.cycles, npu_sim_estimate_cycles(&cfg, &shape));
	npu_sim_core_destroy(core);
	free(ra);
	free(rb);
	tmem_free(&t);
}

static void test_mtx_int8_literal(void)
{
	uint64_t gen[VEC_MTX_ENTRIES];
	CHECK_EQ_INT(vec_mtx_stream(gen, VEC_MTX_I8_I32, 64, 256, 128, VEC_MTX_A, VEC_MTX_B,
				    VEC_MTX_C), VEC_MTX_ENTRIES);
	/* The formula re-expression reproduces the documented 108 entries. */
	CHECK(memcmp(gen, vec_mtx_int8_64x256x128, sizeof(gen)) == 0);
	for (int i = 0; i < VEC_MTX_ENTRIES; i++)
		if (gen[i] != vec_mtx_int8_64x256x128[i])
			fprintf(stderr, "entry %d: %016llx vs %016llx\n", i,
				(unsigned long long)gen[i],
				(unsigned long long)vec_mtx_int8_64x256x128[i]);
	static const uint32_t iova[3] = { VEC_MTX_A, VEC_MTX_B, VEC_MTX_C };
	run_mtx_int8(vec_mtx_int8_64x256x128, VEC_MTX_ENTRIES, 64, 256, 128, false, 1, iova);
	run_mtx_int8(vec_mtx_int8_64x256x128, VEC_MTX_ENTRIES, 64, 256, 128, true, 2, iova);
}

static void test_mtx_int8_shapes(void)
{
	/* MTX's constraints: M % 4 == 0 or M == 1, K % 32 == 0, N % 16 == 0;
	 * M = 1 exercises the negative surface stride (-3). */
	static const uint32_t shapes[][3] = {
		{ 1, 4096, 256 }, { 4, 32, 16 }, { 8, 96, 48 }, { 544, 544, 64 }, { 1, 1024, 4096 },
	};
	const int count = rb_test_quick() ? 3 : 5;
	for (int i = 0; i < count; i++) {
		uint64_t s[VEC_MTX_ENTRIES];
		static const uint32_t iova[3] = { BIG_A, BIG_B, BIG_C };
		const size_t n = vec_mtx_stream(s, VEC_MTX_I8_I32, shapes[i][0], shapes[i][1],
						 shapes[i][2], BIG_A, BIG_B, BIG_C);
		run_mtx_int8(s, n, shapes[i][0], shapes[i][1], shapes[i][2], i & 1, 10 + (uint64_t)i,
			     iova);
	}
}

/* FP16 variants: integer-valued data must come out exact (MTX's own test
 * data), fractional data within the stated tolerance. */
static void run_mtx_fp16(enum vec_mtx_variant v, uint32_t m, uint32_t k, uint32_t n, bool integers,
			 uint64_t seed)
{
	uint64_t s[VEC_MTX_ENTRIES];
	const size_t count = vec_mtx_stream(s, v, m, k, n, BIG_A, BIG_B, BIG_C);
	tmem t;
	tmem_init(&t);
	put_regcmd(&t, s, count);
	rb_f16 *a = tmem_add(&t, BIG_A, (size_t)m * k * 2);
	rb_f16 *b = tmem_add(&t, BIG_B, (size_t)n * k * 2);
	const unsigned obpe = v == VEC_MTX_F16_F16 ? 2 : 4;
	uint8_t *c = tmem_add(&t, BIG_C, (size_t)m * n * obpe);
	float *ra = malloc((size_t)m * k * 4), *rb = malloc((size_t)n * k * 4);
	REQUIRE(a && b && c && ra && rb);
	for (size_t i = 0; i < (size_t)m * k; i++)
		ra[i] = rb_f16_to_f32(rb_f32_to_f16(integers ? (float)(int)(rb_test_rand_u64(&seed) % 9) - 4
							    : rb_test_rand_f32(&seed)));
	for (size_t i = 0; i < (size_t)n * k; i++)
		rb[i] = rb_f16_to_f32(rb_f32_to_f16(integers ? (float)(int)(rb_test_rand_u64(&seed) % 9) - 4
							    : rb_test_rand_f32(&seed)));
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < k; j++)
			a[mtx_a_index(m, 8, i, j)] = rb_f32_to_f16(ra[(size_t)i * k + j]);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < k; j++)
			b[mtx_b_index(n, k, 16, i, j)] = rb_f32_to_f16(rb[(size_t)i * k + j]);
	npu_sim_core *core = npu_sim_core_create(0, NULL);
	REQUIRE(core);
	const int ret = npu_sim_run_regcmd(core, &t.mem, RC_IOVA, (uint32_t)count);
	CHECKF(ret == 0, "MTX fp16 variant %d %ux%ux%u: %s", (int)v, m, k, n, npu_sim_error(core));
	long bad = 0;
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < n; j++) {
			double ref = 0, mag = 0;
			for (uint32_t l = 0; l < k; l++) {
				ref += (double)ra[(size_t)i * k + l] * rb[(size_t)j * k + l];
				mag += fabs((double)ra[(size_t)i * k + l] * rb[(size_t)j * k + l]);
			}
			float got;
			if (obpe == 4)
				memcpy(&got, c + mtx_c_index(m, 4, i, j) * 4, 4);
			else {
				rb_f16 hv;
				memcpy(&hv, c + mtx_c_index(m, 8, i, j) * 2, 2);
				got = rb_f16_to_f32(hv);
			}
			/* Stated tolerance: exact for integer data (|sum| < 2^11 for fp16
			 * output); otherwise 1e-6 relative to sum|a*b| for fp32 output,
			 * half an fp16 ulp plus that for fp16 output. */
			const double tol = integers ? 0.0
					 : 1e-6 * mag + (obpe == 2 ? fabs(ref) / 2048.0 + 6e-8 : 1e-30);
			if (fabs(got - ref) > tol && bad++ < 5)
				fprintf(stderr, "fp16 C[%u][%u] = %.9g, expected %.9g (tol %.3g)\n", i, j,
					got, ref, tol);
		}
	CHECKF(bad == 0, "%ld mismatches in MTX fp16 variant %d %ux%ux%u", bad, (int)v, m, k, n);
	npu_sim_core_destroy(core);
	free(ra);
	free(rb);
	tmem_free(&t);
}

static void test_mtx_fp16(void)
{
	run_mtx_fp16(VEC_MTX_F16_F32, 64, 256, 128, true, 3);
	run_mtx_fp16(VEC_MTX_F16_F16, 64, 256, 128, true, 4);
	run_mtx_fp16(VEC_MTX_F16_F32, 4, 64, 32, false, 5);
	run_mtx_fp16(VEC_MTX_F16_F16, 1, 512, 48, false, 6);
	run_mtx_fp16(VEC_MTX_F16_F32, 1, rb_test_quick() ? 1024 : 8192, 64, false, 7);
}

/* Mesa quantized 1x1 convolution with bias, offset-weight and requantization. */
static void run_mesa_conv(const vec_mesa_conv *p, uint64_t seed)
{
	uint64_t s[VEC_MESA_MAX_ENTRIES];
	const size_t count = vec_mesa_conv_stream(s, p);
	tmem t;
	tmem_init(&t);
	put_regcmd(&t, s, count);
	int8_t *in = tmem_add(&t, p->input_iova, vec_mesa_input_bytes(p));
	int8_t *wt = tmem_add(&t, p->weight_iova, vec_mesa_weight_bytes(p));
	/* Page-sized like a real BO: the DPU reads CHANNEL+1 biases. */
	int32_t *bias_npu = tmem_add(&t, p->bias_iova, 4096);
	int8_t *out = tmem_add(&t, p->output_iova, vec_mesa_output_bytes(p));
	const uint32_t hw = p->width * p->height, c = p->in_channels, oc = p->out_channels;
	uint8_t *x = malloc((size_t)hw * c), *w = malloc((size_t)oc * c), *y = malloc((size_t)hw * oc);
	int32_t *bias = malloc(oc * sizeof(int32_t));
	REQUIRE(in && wt && bias_npu && out && x && w && y && bias);
	for (size_t i = 0; i < (size_t)hw * c; i++)
		x[i] = (uint8_t)rb_test_rand_u64(&seed);
	for (size_t i = 0; i < (size_t)oc * c; i++)
		w[i] = (uint8_t)rb_test_rand_u64(&seed);
	for (uint32_t i = 0; i < oc; i++)
		bias[i] = (int32_t)(rb_test_rand_u64(&seed) % 20001) - 10000;
	vec_mesa_fill(p, x, w, bias, in, wt, bias_npu);

	npu_sim_core *core = npu_sim_core_create(0, NULL);
	REQUIRE(core);
	const int ret = tmem_kick(core, &t, RC_IOVA, (uint32_t)count);
	CHECKF(ret == 0, "Mesa conv: %s", npu_sim_error(core));
	vec_mesa_read_output(p, out, y);
	/* TFLite reference in double; the NPU's 15-bit multiplier may round to
	 * a neighbour, so +-1 is accepted, and most values must be exact. */
	const double scale = (double)p->in_scale * p->w_scale / p->out_scale;
	long off_by_one = 0, bad = 0;
	for (uint32_t px = 0; px < hw; px++)
		for (uint32_t o = 0; o < oc; o++) {
			int64_t acc = bias[o];
			for (uint32_t i = 0; i < c; i++)
				acc += ((int64_t)x[px * c + i] - p->in_zp) * ((int64_t)w[o * c + i] - p->w_zp);
			double r = round((double)acc * scale) + p->out_zp;
			r = r < 0 ? 0 : r > 255 ? 255 : r;
			const int diff = (int)y[px * oc + o] - (int)r;
			if (diff)
				off_by_one++;
			if (abs(diff) > 1 && bad++ < 5)
				fprintf(stderr, "conv out[%u][%u] = %u, expected %.0f\n", px, o,
					y[px * oc + o], r);
		}
	printf("Mesa conv %ux%ux%u->%u: %ld of %u outputs off by one\n", p->width, p->height, c, oc,
	       off_by_one, hw * oc);
	CHECKF(bad == 0, "%ld Mesa conv outputs off by more than 1", bad);
	CHECKF(off_by_one * 10 <= (long)hw * oc, "%ld of %u outputs off by one", off_by_one, hw * oc);
	npu_sim_core_destroy(core);
	free(x);
	free(w);
	free(y);
	free(bias);
	tmem_free(&t);
}

static void test_mesa_conv(void)
{
	/* C = 48: last input-channel group 16 wide; OC = 20: compacted last
	 * kernel group (20 kernels), 32 channels written, 12 of them padding. */
	vec_mesa_conv p = {
		.width = 4, .height = 4, .in_channels = 48, .out_channels = 20,
		.in_zp = 121, .w_zp = 140, .out_zp = 97,
		.in_scale = 0.0235f, .w_scale = 0.00412f, .out_scale = 0.0871f,
		.input_iova = 0x00100000, .weight_iova = 0x00200000,
		.bias_iova = 0x00300000, .output_iova = 0x00400000,
	};
	run_mesa_conv(&p, 21);
	/* Two output surfaces, H = 8 (two line groups), full kernel groups. */
	vec_mesa_conv q = p;
	q.width = 3;
	q.height = 8;
	q.in_channels = 64;
	q.out_channels = 64;
	q.w_zp = 128;
	q.in_zp = 0;
	q.out_scale = 0.31f;
	run_mesa_conv(&q, 22);
}

/* ------------------------------------------------------------ errors */

/* A valid MTX stream with entry `idx` replaced; expects `err` and a message
 * containing `needle`. */
static void expect_error(const uint64_t *base, size_t n, int idx, uint64_t entry, int err,
			 const char *needle, bool map_data)
{
	uint64_t s[VEC_MTX_ENTRIES + 4];
	memcpy(s, base, n * 8);
	if (idx >= 0)
		s[idx] = entry;
	tmem t;
	tmem_init(&t);
	put_regcmd(&t, s, n);
	if (map_data) {
		tmem_add(&t, VEC_MTX_A, 64 * 256);
		tmem_add(&t, VEC_MTX_B, 128 * 256);
		tmem_add(&t, VEC_MTX_C, 64 * 128 * 4);
	}
	npu_sim_core *core = npu_sim_core_create(0, NULL);
	REQUIRE(core);
	const int ret = npu_sim_run_regcmd(core, &t.mem, RC_IOVA, (uint32_t)n);
	CHECKF(ret == err, "entry %d = %016llx: got %d, want %d (%s)", idx,
	       (unsigned long long)entry, ret, err, npu_sim_error(core));
	CHECKF(strstr(npu_sim_error(core), needle) != NULL, "error \"%s\" lacks \"%s\"",
	       npu_sim_error(core), needle);
	CHECK((npu_sim_mmio_read(core, 0x002C) & 0x100) == 0); /* no completion */
	npu_sim_core_destroy(core);
	tmem_free(&t);
}

static void test_errors(void)
{
	const uint64_t *m = vec_mtx_int8_64x256x128;
	const size_t n = VEC_MTX_ENTRIES;
	/* DMA faults name the register whose address is outside the buffers. */
	expect_error(m, n, -1, 0, -EFAULT, "CNA_FEATURE_DATA_ADDR", false);
	expect_error(m, n, 21, 0x0201001000101070ull, -EFAULT, "CNA_FEATURE_DATA_ADDR", true);
	expect_error(m, n, 30, 0x0201002000101110ull, -EFAULT, "CNA_DCOMP_ADDR0", true);
	expect_error(m, n, 57, 0x1001003000104020ull, -EFAULT, "DPU_DST_BASE_ADDR", true);
	/* Header naming CORE for a CNA offset. */
	expect_error(m, n, 4, 0x0801000100401020ull, -EINVAL, "CNA_DATA_SIZE0", true);
	/* Unknown register in the CNA page. */
	expect_error(m, n, 20, 0x020100000000101Cull, -EINVAL, "unknown register", true);
	/* CBUF: 64 x 256 int8 rows need 16 KiB, zero data banks given. */
	expect_error(m, n, 11, 0x0201000000C01040ull, -EINVAL, "DATA_BANK", true);
	/* 64 x 1536 input = 96 KiB in 1 data bank. */
	{
		uint64_t s[VEC_MTX_ENTRIES];
		vec_mtx_stream(s, VEC_MTX_I8_I32, 64, 1536, 32, VEC_MTX_A, VEC_MTX_B, VEC_MTX_C);
		s[11] = 0x0201000000B11040ull;
		expect_error(s, n, -1, 0, -EINVAL, "CBUF over-subscription", true);
	}
	/* No op-enable: the task never completes. */
	expect_error(m, n, 107, 0, -ETIMEDOUT, "op-enable", true);
	/* Op-enable without the DPU. */
	expect_error(m, n, 107, 0x0081000000050008ull, -ETIMEDOUT, "DPU", true);
	/* Missing 0x0041 marker (strict mode). */
	expect_error(m, n, 106, 0, -EINVAL, "0x0041", true);
	/* Unmodelled DPU stage: ReLU enabled in BS. */
	expect_error(m, n, 63, 0x1001000000124040ull, -EINVAL, "DPU_BS_CFG", true);
	/* Depthwise convolution mode. */
	expect_error(m, n, 1, 0x0201000000031000ull | 0x0c, -EINVAL, "CNA_CONV_CON1.CONV_MODE", true);
	/* Fields the model does not compute with must be as in the known
	 * recipes: SIZE_E of fp32 output with int32 output, SURFACE_ADD of
	 * fp32 output (4 M), NOTCH_ADDR_1 != NOTCH_ADDR_0, SURF_LEN,
	 * SOFT_GATING. */
	expect_error(m, n, 67, 0x10010000036E4050ull, -EINVAL, "DPU_BS_OW_CFG.SIZE_E_0", true);
	expect_error(m, n, 90, 0x10010000100040C0ull, -EINVAL, "DPU_SURFACE_ADD.SURF_ADD = 256", true);
	expect_error(m, n, 61, 0x1001000100004038ull, -EINVAL, "NOTCH_ADDR_1", true);
	expect_error(m, n, 54, 0x1001000003E4400Cull, -EINVAL, "SURF_LEN", true);
	expect_error(m, n, 49, 0x0801000040003010ull, -EINVAL, "CORE_MISC_CFG.SOFT_GATING", true);
	/* Undocumented register written non-zero. */
	expect_error(m, n, 53, 0x0801000000013030ull, -EINVAL, "undocumented", true);
	/* Entries after the op-enable in the same kick. */
	{
		uint64_t s[VEC_MTX_ENTRIES + 2];
		memcpy(s, m, n * 8);
		s[n] = m[1];
		s[n + 1] = 0;
		expect_error(s, n + 2, -1, 0, -EINVAL, "follows the op-enable", true);
	}

	/* Unaligned regcmd IOVA and count 0. */
	npu_sim_core *core = npu_sim_core_create(0, NULL);
	REQUIRE(core);
	tmem t;
	tmem_init(&t);
	put_regcmd(&t, m, n);
	CHECK_EQ_INT(npu_sim_run_regcmd(core, &t.mem, RC_IOVA + 8, 4), -EINVAL);
	CHECK(strstr(npu_sim_error(core), "aligned") != NULL);
	CHECK_EQ_INT(npu_sim_run_regcmd(core, &t.mem, RC_IOVA, 0), -EINVAL);
	/* The regcmd itself outside any buffer: DMA read error bit. */
	CHECK_EQ_INT(npu_sim_run_regcmd(core, &t.mem, 0x00f00000, 108), -EFAULT);
	CHECK(npu_sim_mmio_read(core, 0x002C) & (1u << 12));
	/* The kernel's clear resets the raw status. */
	CHECK_EQ_INT(npu_sim_mmio_write(core, &t.mem, 0x0024, 0x1ffff), 0);
	CHECK_EQ_INT(npu_sim_mmio_read(core, 0x002C), 0);
	/* MMIO to a hole, to a read-only register. */
	CHECK_EQ_INT(npu_sim_mmio_write(core, &t.mem, 0x0018, 1), -EINVAL);
	CHECK_EQ_INT(npu_sim_mmio_write(core, &t.mem, 0x002C, 1), -EINVAL);
	/* Multi-task kicks are refused. */
	npu_sim_mmio_write(core, &t.mem, 0x0010, RC_IOVA);
	npu_sim_mmio_write(core, &t.mem, 0x0014, 53);
	npu_sim_mmio_write(core, &t.mem, 0x0030, 0x3002);
	CHECK_EQ_INT(npu_sim_mmio_write(core, &t.mem, 0x0008, 1), -EINVAL);
	CHECK(strstr(npu_sim_error(core), "TASK_NUMBER") != NULL);
	/* Reset values: INTERRUPT_MASK 0x1ffff (TRM), MAC_GATING 0x07800800. */
	npu_sim_core_reset(core);
	CHECK_EQ_INT(npu_sim_mmio_read(core, 0x0020), 0x1ffff);
	CHECK_EQ_INT(npu_sim_mmio_read(core, 0x300C), 0x07800800);
	npu_sim_core_destroy(core);
	tmem_free(&t);
}

/* Registers persist across tasks on one core; a register nothing wrote
 * since reset is an error in strict mode and a warning otherwise. */
static void test_persistence(void)
{
	uint64_t s[VEC_MTX_ENTRIES];
	memcpy(s, vec_mtx_int8_64x256x128, sizeof(s));
	tmem t;
	tmem_init(&t);
	put_regcmd(&t, s, VEC_MTX_ENTRIES);
	tmem_add(&t, VEC_MTX_A, 64 * 256);
	tmem_add(&t, VEC_MTX_B, 128 * 256);
	tmem_add(&t, VEC_MTX_C, 64 * 128 * 4);
	/* A second stream that omits CNA_FC_CON0 (entry 18). */
	uint64_t short_s[VEC_MTX_ENTRIES];
	memcpy(short_s, s, sizeof(s));
	short_s[18] = 0;
	uint8_t *rc2 = tmem_add(&t, 0x00020000, sizeof(short_s));
	REQUIRE(rc2);
	memcpy(rc2, short_s, sizeof(short_s)); /* little-endian host in CI */

	npu_sim_core *core = npu_sim_core_create(0, NULL);
	REQUIRE(core);
	CHECK_EQ_INT(npu_sim_run_regcmd(core, &t.mem, 0x00020000, VEC_MTX_ENTRIES), -EINVAL);
	CHECKF(strstr(npu_sim_error(core), "CNA_FC_CON0") != NULL, "%s", npu_sim_error(core));
	/* After a full task wrote it, the short stream runs. */
	CHECK_EQ_INT(npu_sim_run_regcmd(core, &t.mem, RC_IOVA, VEC_MTX_ENTRIES), 0);
	CHECK_EQ_INT(npu_sim_run_regcmd(core, &t.mem, 0x00020000, VEC_MTX_ENTRIES), 0);
	npu_sim_stats total;
	npu_sim_get_stats(core, &total, NULL);
	CHECK_EQ_INT(total.tasks, 2);
	/* Non-strict: accepted with a warning. */
	npu_sim_config cfg;
	npu_sim_config_default(&cfg);
	cfg.strict = false;
	npu_sim_core *lax = npu_sim_core_create(1, &cfg);
	REQUIRE(lax);
	CHECK_EQ_INT(npu_sim_run_regcmd(lax, &t.mem, 0x00020000, VEC_MTX_ENTRIES), 0);
	CHECKF(strstr(npu_sim_warnings(lax), "CNA_FC_CON0") != NULL, "%s", npu_sim_warnings(lax));
	/* ...but a field the model needs still has to hold a modelled value. */
	short_s[13] = 0; /* CNA_CVT_CON0 */
	memcpy(rc2, short_s, sizeof(short_s));
	npu_sim_core_reset(lax);
	CHECK_EQ_INT(npu_sim_run_regcmd(lax, &t.mem, 0x00020000, VEC_MTX_ENTRIES), -EINVAL);
	CHECKF(strstr(npu_sim_error(lax), "CNA_CVT_CON0.CVT_BYPASS = 0 (never written since reset)")
	       != NULL, "%s", npu_sim_error(lax));
	npu_sim_core_destroy(lax);
	npu_sim_core_destroy(core);
	tmem_free(&t);
}

/* Mutations of a valid stream: whatever the simulator makes of them, it
 * must return a defined status with a matching message, and never crash,
 * hang or touch memory outside the mapped buffers (ASan). */
static void test_fuzz(void)
{
	tmem t;
	tmem_init(&t);
	uint8_t *rc = tmem_add(&t, RC_IOVA, VEC_MTX_ENTRIES * 8 + 64);
	REQUIRE(rc);
	tmem_add(&t, VEC_MTX_A, 64 * 256);
	tmem_add(&t, VEC_MTX_B, 128 * 256);
	tmem_add(&t, VEC_MTX_C, 64 * 128 * 4);
	npu_sim_core *core = npu_sim_core_create(0, NULL);
	REQUIRE(core);
	uint64_t seed = 7;
	const int iterations = rb_test_quick() ? 400 : 4000;
	int ok = 0, per_code[4] = { 0 };
	for (int it = 0; it < iterations; it++) {
		uint64_t s[VEC_MTX_ENTRIES];
		memcpy(s, vec_mtx_int8_64x256x128, sizeof(s));
		const int mutations = 1 + (int)(rb_test_rand_u64(&seed) % 4);
		for (int k = 0; k < mutations; k++) {
			const size_t i = rb_test_rand_u64(&seed) % VEC_MTX_ENTRIES;
			const uint64_t r = rb_test_rand_u64(&seed);
			switch (r % 5) {
			case 0: s[i] ^= 1ull << (r >> 8) % 64; break;            /* one bit */
			case 1: s[i] = (s[i] & ~0xffffffff0000ull) | ((r >> 3) & 0xffffffff0000ull); break;
			case 2: s[i] = s[(r >> 8) % VEC_MTX_ENTRIES]; break;      /* duplicate */
			case 3: s[i] = 0; break;                                  /* drop */
			default: s[i] ^= 1ull << (16 + (r >> 8) % 32); break;    /* value bit */
			}
		}
		memcpy(rc, s, sizeof(s));
		if (it % 97 == 0)
			npu_sim_core_reset(core);
		const int ret = npu_sim_run_regcmd(core, &t.mem, RC_IOVA, VEC_MTX_ENTRIES);
		const bool known = ret == 0 || ret == -EINVAL || ret == -EFAULT || ret == -ETIMEDOUT;
		CHECKF(known, "iteration %d: status %d", it, ret);
		CHECKF((ret == 0) == (npu_sim_error(core)[0] == 0), "iteration %d: status %d, error \"%s\"",
		       it, ret, npu_sim_error(core));
		ok += ret == 0;
		per_code[ret == 0 ? 0 : ret == -EINVAL ? 1 : ret == -EFAULT ? 2 : 3]++;
	}
	printf("fuzz: %d runs: %d completed, %d refused, %d DMA faults, %d never completing\n",
	       iterations, per_code[0], per_code[1], per_code[2], per_code[3]);
	CHECK(ok > 0 && per_code[1] > 0);
	npu_sim_core_destroy(core);
	tmem_free(&t);
}

int main(void)
{
	test_mtx_int8_literal();
	test_mtx_int8_shapes();
	test_mtx_fp16();
	test_mesa_conv();
	test_errors();
	test_persistence();
	test_fuzz();
	return rb_test_finish();
}
