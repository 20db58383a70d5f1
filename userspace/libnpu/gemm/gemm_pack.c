/* SPDX-License-Identifier: MIT */
/* CPU-side data layouts of the GEMM (docs/npu-programming.md#data-layouts;
 * MTX's feature_data() / weight_int8() / weight_fp16() and its output reads):
 *   A tile (rows r of m, channel k):  ((k / C2) * m + r) * C2 + k % C2 elements,
 *                                     C2 = 16 int8 / 8 fp16
 *   B block (kernel n of N, channel k): (n / G) * G * K + (k / 32) * G * 32
 *                                     + (n % G) * 32 + k % 32, G = 32 int8 / 16 fp16
 *   C task cube (row r, column j):    ((j / C2o) * m + r) * C2o + j % C2o,
 *                                     C2o = 4 int32/fp32, 8 fp16
 * Everything beyond the real M, K, N is zero. */
#include "gemm_internal.h"

#include <string.h>

#include "rosenblatt/fp16.h"

/* One (slice, chunk) block: kernels [n0, n0 + n) x channels [k0, k0 + k). */
static void pack_block(const gemm_layout *l, const void *b, size_t ldb, uint32_t n0, uint32_t n,
		       uint32_t k0, uint32_t k, uint8_t *dst)
{
	const uint32_t g = l->group, bpe = l->bpe;
	memset(dst, 0, (size_t)n * k * bpe);
	for (uint32_t j = 0; j < n; j++) {
		const uint32_t row = n0 + j;
		if (row >= l->n)
			break;
		const uint8_t *src = (const uint8_t *)b + (size_t)row * ldb * bpe;
		uint8_t *kernel = dst + ((size_t)(j / g) * g * k + (size_t)(j % g) * 32) * bpe;
		for (uint32_t c = 0; c < k; c += 32) {
			const uint32_t col = k0 + c;
			if (col >= l->k)
				break;
			const uint32_t len = l->k - col < 32 ? l->k - col : 32;
			memcpy(kernel + (size_t)c * g * bpe, src + (size_t)col * bpe, (size_t)len * bpe);
		}
	}
}

void gemm_pack_weights(const gemm_layout *l, uint32_t core, const void *b, size_t ldb, void *dst)
{
	for (uint32_t s = 0; s < l->k_slices; s++)
		for (uint32_t ch = 0; ch < l->core[core].chunks; ch++)
			pack_block(l, b, ldb, l->core[core].n0 + ch * l->core[core].chunk,
				   gemm_chunk_n(l, core, ch), s * l->k_slice, gemm_slice_k(l, s),
				   (uint8_t *)dst + gemm_weight_block_offset(l, core, s, ch));
}

void gemm_pack_a_rows(const npu_gemm_plan *p, const void *a, size_t lda, void *dst,
		      uint32_t row_begin, uint32_t row_end)
{
	const gemm_layout *l = &p->layout;
	const uint32_t bpe = l->bpe, c2 = NPU_ATOM_BYTES / bpe;
	const uint32_t surfaces = l->k_pad / c2;
	for (uint32_t row = row_begin; row < row_end && row < p->m_pad; row++) {
		const uint32_t tile = row / p->m_tile;
		const uint32_t m0 = tile * p->m_tile, r = row - m0;
		const uint32_t rows = tile + 1 < p->m_tiles ? p->m_tile : p->m_pad - m0;
		uint8_t *cube = (uint8_t *)dst + (size_t)m0 * l->k_pad * bpe;
		const uint8_t *src = (const uint8_t *)a + (size_t)row * lda * bpe;
		for (uint32_t s = 0; s < surfaces; s++) {
			uint8_t *atom = cube + ((size_t)s * rows + r) * NPU_ATOM_BYTES;
			const uint32_t k0 = s * c2;
			if (row >= p->m || k0 >= l->k) {
				memset(atom, 0, NPU_ATOM_BYTES);
				continue;
			}
			const uint32_t len = l->k - k0 < c2 ? l->k - k0 : c2;
			memcpy(atom, src + (size_t)k0 * bpe, (size_t)len * bpe);
			if (len < c2)
				memset(atom + (size_t)len * bpe, 0, (size_t)(c2 - len) * bpe);
		}
	}
}

void gemm_pack_a(const npu_gemm_plan *p, const void *a, size_t lda, void *dst)
{
	gemm_pack_a_rows(p, a, lda, dst, 0, p->m_pad);
}

static float load_out_f(const npu_gemm_plan *p, const uint8_t *cube, size_t idx)
{
	if (p->out_prec == NPU_PREC_FP16) {
		rb_f16 h;
		memcpy(&h, cube + idx * 2, 2);
		return rb_f16_to_f32(h);
	}
	float f;
	memcpy(&f, cube + idx * 4, 4);
	return f;
}

uint32_t gemm_unpack_groups(const npu_gemm_plan *p, uint32_t core)
{
	return p->core[core].count / p->layout.k_slices;
}

/* Group g of a core = the k_slices consecutive tasks sharing (tile, chunk);
 * the loops walk each task cube in memory order (surface, row): the reads
 * are sequential, and the rows' destination lines (one per row) stay in
 * cache while consecutive surfaces fill them (about 2x faster, as a ratio on
 * the build host, than 8-row blocks, whose surface-strided reads alias in
 * the cache). Groups write disjoint parts of C. */
void gemm_unpack_group(const npu_gemm_plan *p, uint32_t core, uint32_t g, const void *src, void *c,
		       size_t ldc)
{
	const gemm_layout *l = &p->layout;
	const uint32_t ks = l->k_slices;
	const uint32_t c2 = NPU_ATOM_BYTES / p->out_bpe;
	const uint8_t *base = src;
	const gemm_task *t = &p->tasks[p->core[core].first + g * ks];
	const uint32_t rows = t->m0 + t->m <= p->m ? t->m : p->m - t->m0;
	const uint32_t cols = t->n0 + t->n <= l->n ? t->n : l->n - t->n0;
	for (uint32_t s0 = 0; s0 < cols; s0 += c2) {
		const uint32_t jn = cols - s0 < c2 ? cols - s0 : c2;
		for (uint32_t r = 0; r < rows; r++) {
			const size_t idx = ((size_t)(s0 / c2) * t->m + r) * c2;
			const size_t out = (size_t)(t->m0 + r) * ldc + t->n0 + s0;
			if (l->type == NPU_GEMM_I8_I32) {
				/* int32 partials: exact modulo 2^32 */
				uint32_t acc[4] = { 0, 0, 0, 0 };
				for (uint32_t sl = 0; sl < ks; sl++) {
					uint32_t v[4];
					memcpy(v, base + t[sl].c_off + idx * 4, sizeof(v));
					for (uint32_t j = 0; j < 4; j++)
						acc[j] += v[j];
				}
				memcpy((uint8_t *)c + out * sizeof(int32_t), acc, jn * sizeof(int32_t));
			} else {
				float acc[8] = { 0 }; /* fp32 partials summed in slice order */
				for (uint32_t sl = 0; sl < ks; sl++)
					for (uint32_t j = 0; j < jn; j++)
						acc[j] += load_out_f(p, base + t[sl].c_off, idx + j);
				if (l->type == NPU_GEMM_F16_F16) {
					/* C may be unaligned: byte copies, like A and B */
					rb_f16 h[8];
					for (uint32_t j = 0; j < jn; j++)
						h[j] = rb_f32_to_f16(acc[j]);
					memcpy((uint8_t *)c + out * sizeof(rb_f16), h, jn * sizeof(rb_f16));
				} else {
					memcpy((uint8_t *)c + out * sizeof(float), acc, jn * sizeof(float));
				}
			}
		}
	}
}

void gemm_unpack_c(const npu_gemm_plan *p, uint32_t core, const void *src, void *c, size_t ldc)
{
	for (uint32_t g = 0; g < gemm_unpack_groups(p, core); g++)
		gemm_unpack_group(p, core, g, src, c, ldc);
}
