/* SPDX-License-Identifier: MIT */
/* Unpacking C: every task writes its own output cube, row r and column j
 * of the task at element ((j / C2o) * m + r) * C2o + j % C2o (C2o = 4
 * int32/fp32, 8 fp16 per 16-byte atom; docs/npu-programming.md#data-layouts,
 * MTX's output reads). The CPU adds the partial sums of a group's K slices
 * and writes row-major C, optionally through the int8 output stage that
 * turns the int32 sums into scaled floats on the way (npu_gemm_output).
 *
 * The walk is row by row: one destination row is written front to back in
 * 16-byte pieces while the reads step through the cube's surfaces (a
 * stride of m atoms; consecutive rows read the neighbouring atoms of the
 * same cache lines). Walking the cube in memory order instead (surface by
 * surface, every 16-byte write landing in another row) measured about 2x
 * slower on the build host for the Qwen2.5-1.5B shapes (bench_npu_gemm --cpu).
 *
 * The int8 atoms go through GNU C vector types of 4 lanes (16 bytes), which
 * GCC compiles to SSE2 on x86-64 and NEON on aarch64, both baseline: the
 * work is a 16-byte load per K slice, integer adds, one conversion and two
 * multiplies per atom, and is bound by memory, so wider vectors (AVX2:
 * two atoms from two surfaces) would not pay for a dispatch. The vector ops
 * are the scalar ops lane by lane (integer adds wrap, cvtdq2ps / scvtf round
 * like the (float) cast, IEEE multiplies, no contraction under -std=c11), so
 * the partial atoms at the ends of a row, done one element at a time, give
 * the same bits. */
#include "gemm_internal.h"

#include <string.h>

#include "rosenblatt/fp16.h"

typedef uint32_t v4u __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef float v4f __attribute__((vector_size(16)));

/* Unaligned 16-byte loads and stores (C and the cubes are byte-addressed). */
static inline v4u load_v4u(const uint8_t *p)
{
	v4u v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline v4f load_v4f(const void *p)
{
	v4f v;
	memcpy(&v, p, sizeof(v));
	return v;
}

enum unpack_mode {
	UNPACK_RAW, /* the output type: int32 sums, floats, fp16 */
	UNPACK_SET, /* int8: C = (float)acc * (row_scale * col_scale) */
	UNPACK_ADD, /* int8: C += the same */
};

/* One group's cubes and what goes out of them. */
typedef struct group_view {
	const uint8_t *base;   /* the core's C buffer */
	const gemm_task *t;    /* the group's k_slices tasks */
	uint32_t ks;
	size_t surface;        /* bytes between surfaces of a cube: m atoms */
} group_view;

/* int32 sum over the K slices of the element at byte `off` of each cube
 * (exact modulo 2^32, which the accepted sizes never reach). */
static inline uint32_t sum_i32(const group_view *g, size_t off)
{
	uint32_t acc = 0;
	for (uint32_t sl = 0; sl < g->ks; sl++) {
		uint32_t v;
		memcpy(&v, g->base + g->t[sl].c_off + off, sizeof(v));
		acc += v;
	}
	return acc;
}

static inline v4u sum_v4u(const group_view *g, size_t off)
{
	v4u acc = load_v4u(g->base + g->t[0].c_off + off);
	for (uint32_t sl = 1; sl < g->ks; sl++)
		acc += load_v4u(g->base + g->t[sl].c_off + off);
	return acc;
}

/* One int8 element at byte `off` of the cubes; cs: its column's scale
 * (scaled modes only). */
static inline void put_i32(const group_view *g, enum unpack_mode mode, size_t off, uint8_t *dst,
			   float rs, const float *cs)
{
	const uint32_t acc = sum_i32(g, off);
	if (mode == UNPACK_RAW) {
		memcpy(dst, &acc, sizeof(acc));
		return;
	}
	float y = (float)(int32_t)acc * (rs * *cs);
	if (mode == UNPACK_ADD) {
		float old;
		memcpy(&old, dst, sizeof(old));
		y = old + y;
	}
	memcpy(dst, &y, sizeof(y));
}

/* Row r, task columns [c0, c1) of an int8 group into dst (the element of
 * column c0); cs: the column scales from c0 on (scaled modes only). Whole
 * atoms in the middle, single elements at the ends. Inlined per mode (a
 * constant) so the loop carries no mode test. */
static inline __attribute__((always_inline)) void
row_i32(const group_view *g, enum unpack_mode mode, uint32_t r, uint32_t c0, uint32_t c1,
	uint8_t *dst, float rs, const float *cs)
{
	const size_t row = (size_t)r * NPU_ATOM_BYTES;
	const v4f vrs = { rs, rs, rs, rs };
	uint32_t c = c0;
	for (; c < c1 && c % 4; c++)
		put_i32(g, mode, (c / 4) * g->surface + row + (c % 4) * 4, dst + (c - c0) * 4, rs,
			cs ? cs + (c - c0) : NULL);
	for (; c + 4 <= c1; c += 4) {
		const v4u acc = sum_v4u(g, (c / 4) * g->surface + row);
		uint8_t *d = dst + (c - c0) * 4;
		if (mode == UNPACK_RAW) {
			memcpy(d, &acc, sizeof(acc));
			continue;
		}
		v4f y = __builtin_convertvector((v4i)acc, v4f) * (vrs * load_v4f(cs + (c - c0)));
		if (mode == UNPACK_ADD)
			y = load_v4f(d) + y;
		memcpy(d, &y, sizeof(y));
	}
	for (; c < c1; c++)
		put_i32(g, mode, (c / 4) * g->surface + row + (c % 4) * 4, dst + (c - c0) * 4, rs,
			cs ? cs + (c - c0) : NULL);
}

/* fp16 types: element c of row r summed over the slices in fp32, in slice
 * order (fp32 or fp16 partials). */
static float sum_f32(const group_view *g, int out_prec, uint32_t r, uint32_t c)
{
	const uint32_t c2 = out_prec == NPU_PREC_FP16 ? 8 : 4, bpe = NPU_ATOM_BYTES / c2;
	const size_t off = (c / c2) * g->surface + (size_t)r * NPU_ATOM_BYTES + (c % c2) * bpe;
	float acc = 0;
	for (uint32_t sl = 0; sl < g->ks; sl++) {
		const uint8_t *src = g->base + g->t[sl].c_off + off;
		if (out_prec == NPU_PREC_FP16) {
			rb_f16 h;
			memcpy(&h, src, sizeof(h));
			acc += rb_f16_to_f32(h);
		} else {
			float f;
			memcpy(&f, src, sizeof(f));
			acc += f;
		}
	}
	return acc;
}

static void row_f16_types(const group_view *g, const npu_gemm_plan *p, uint32_t r, uint32_t c0,
			  uint32_t c1, uint8_t *dst)
{
	for (uint32_t c = c0; c < c1; c++) {
		const float acc = sum_f32(g, p->out_prec, r, c);
		if (p->layout.type == NPU_GEMM_F16_F16) {
			const rb_f16 h = rb_f32_to_f16(acc);
			memcpy(dst, &h, sizeof(h));
			dst += sizeof(h);
		} else {
			memcpy(dst, &acc, sizeof(acc));
			dst += sizeof(acc);
		}
	}
}

uint32_t gemm_unpack_groups(const npu_gemm_plan *p, uint32_t core)
{
	return p->core[core].count / p->layout.k_slices;
}

static const gemm_task *group_tasks(const npu_gemm_plan *p, uint32_t core, uint32_t group)
{
	return &p->tasks[p->core[core].first + group * p->layout.k_slices];
}

uint32_t gemm_unpack_group_rows(const npu_gemm_plan *p, uint32_t core, uint32_t group)
{
	const gemm_task *t = group_tasks(p, core, group);
	return t->m0 + t->m <= p->m ? t->m : p->m - t->m0;
}

void gemm_unpack_rows(const npu_gemm_plan *p, uint32_t core, uint32_t group, uint32_t r0,
		      uint32_t r1, const void *src, const npu_gemm_output *out)
{
	const gemm_layout *l = &p->layout;
	const gemm_task *t = group_tasks(p, core, group);
	const uint32_t rows = gemm_unpack_group_rows(p, core, group);
	const uint32_t j_end = t->n0 + t->n <= l->n ? t->n0 + t->n : l->n; /* real columns */
	const bool scaled = out->row_scale != NULL;
	const size_t esize = scaled ? sizeof(float) : npu_gemm_out_bytes(l->type);
	const group_view g = {
		.base = src,
		.t = t,
		.ks = l->k_slices,
		.surface = (size_t)t->m * NPU_ATOM_BYTES,
	};
	const enum unpack_mode mode = !scaled ? UNPACK_RAW
				      : out->accumulate ? UNPACK_ADD : UNPACK_SET;
	if (r1 > rows)
		r1 = rows;
	for (uint32_t r = r0; r < r1; r++) {
		const uint32_t row = t->m0 + r;
		uint32_t s0 = 0; /* first column of segment s */
		for (uint32_t s = 0; s < out->n_seg && s0 < j_end; s0 += out->seg[s].n, s++) {
			const npu_gemm_segment *seg = &out->seg[s];
			const uint32_t j0 = s0 > t->n0 ? s0 : t->n0;
			const uint32_t j1 = s0 + seg->n < j_end ? s0 + seg->n : j_end;
			if (j0 >= j1 || !seg->c)
				continue;
			uint8_t *dst = (uint8_t *)seg->c + ((size_t)row * seg->ldc + (j0 - s0)) * esize;
			const uint32_t c0 = j0 - t->n0, c1 = j1 - t->n0;
			if (l->type != NPU_GEMM_I8_I32)
				row_f16_types(&g, p, r, c0, c1, dst);
			else if (mode == UNPACK_RAW)
				row_i32(&g, UNPACK_RAW, r, c0, c1, dst, 0.0f, NULL);
			else if (mode == UNPACK_SET)
				row_i32(&g, UNPACK_SET, r, c0, c1, dst, out->row_scale[row],
					out->col_scale + j0);
			else
				row_i32(&g, UNPACK_ADD, r, c0, c1, dst, out->row_scale[row],
					out->col_scale + j0);
		}
	}
}

void gemm_unpack_c(const npu_gemm_plan *p, uint32_t core, const void *src, void *c, size_t ldc)
{
	const npu_gemm_segment seg = { .n = p->layout.n, .c = c, .ldc = ldc };
	const npu_gemm_output out = { .seg = &seg, .n_seg = 1 };
	for (uint32_t g = 0; g < gemm_unpack_groups(p, core); g++)
		gemm_unpack_rows(p, core, g, 0, p->m_pad, src, &out);
}

void gemm_result_at(const npu_gemm_plan *p, const void *const *core_src, uint32_t row,
		    uint32_t col, void *out)
{
	const gemm_layout *l = &p->layout;
	uint32_t core = 0;
	while (core + 1 < l->cores && col >= l->core[core + 1].n0)
		core++;
	const uint32_t chunk = (col - l->core[core].n0) / l->core[core].chunk;
	const gemm_task *t = group_tasks(p, core, row / p->m_tile * l->core[core].chunks + chunk);
	const group_view g = {
		.base = core_src[core],
		.t = t,
		.ks = l->k_slices,
		.surface = (size_t)t->m * NPU_ATOM_BYTES,
	};
	const uint32_t r = row - t->m0, c = col - t->n0;
	if (l->type == NPU_GEMM_I8_I32)
		put_i32(&g, UNPACK_RAW, (c / 4) * g.surface + (size_t)r * NPU_ATOM_BYTES + (c % 4) * 4, out, 0.0f,
			NULL);
	else
		row_f16_types(&g, p, r, c, c + 1, out);
}

int gemm_output_check(const npu_gemm_plan *p, const npu_gemm_output *out, rb_err *err)
{
	const gemm_layout *l = &p->layout;
	if (!out || !out->seg || out->n_seg == 0)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: no output segments");
	uint64_t n = 0;
	for (uint32_t s = 0; s < out->n_seg; s++) {
		const npu_gemm_segment *seg = &out->seg[s];
		if (seg->c && seg->ldc < seg->n)
			return rb_err_set(err, RB_E_INVALID, "npu_gemm: output segment %u: row stride "
					  "%zu < its %u columns", s, seg->ldc, seg->n);
		n += seg->n;
	}
	if (n != l->n)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: output segments cover %llu columns, "
				  "N is %u", (unsigned long long)n, l->n);
	if (!out->row_scale != !out->col_scale)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: output stage needs both row and "
				  "column scales or neither");
	if (out->row_scale && l->type != NPU_GEMM_I8_I32)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: scaled output needs i8i32, not %s",
				  npu_gemm_type_name(l->type));
	if (out->accumulate && !out->row_scale)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: accumulate needs the scales");
	return RB_OK;
}
