/* SPDX-License-Identifier: MIT */
/* CPU-side data layouts of the GEMM, packing A and B (docs/npu-programming.md#data-layouts;
 * MTX's feature_data() / weight_int8() / weight_fp16(); unpacking C: gemm_unpack.c):
 *   A tile (rows r of m, channel k):  ((k / C2) * m + r) * C2 + k % C2 elements,
 *                                     C2 = 16 int8 / 8 fp16
 *   B block (kernel n of N, channel k): (n / G) * G * K + (k / 32) * G * 32
 *                                     + (n % G) * 32 + k % 32, G = 32 int8 / 16 fp16
 *   C task cube (row r, column j):    ((j / C2o) * m + r) * C2o + j % C2o,
 *                                     C2o = 4 int32/fp32, 8 fp16
 * Everything beyond the real M, K, N is zero. */
#include "gemm_internal.h"

#include <string.h>

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

/* pack_block backwards: the real kernels and channels of one block into B. */
static void unpack_block(const gemm_layout *l, const uint8_t *src, uint32_t n0, uint32_t n,
			 uint32_t k0, uint32_t k, void *b, size_t ldb)
{
	const uint32_t g = l->group, bpe = l->bpe;
	for (uint32_t j = 0; j < n && n0 + j < l->n; j++) {
		uint8_t *row = (uint8_t *)b + (size_t)(n0 + j) * ldb * bpe;
		const uint8_t *kernel = src + ((size_t)(j / g) * g * k + (size_t)(j % g) * 32) * bpe;
		for (uint32_t c = 0; c < k && k0 + c < l->k; c += 32) {
			const uint32_t len = l->k - (k0 + c) < 32 ? l->k - (k0 + c) : 32;
			memcpy(row + (size_t)(k0 + c) * bpe, kernel + (size_t)c * g * bpe,
			       (size_t)len * bpe);
		}
	}
}

void gemm_unpack_weights(const gemm_layout *l, uint32_t core, const void *src, void *b, size_t ldb)
{
	for (uint32_t s = 0; s < l->k_slices; s++)
		for (uint32_t ch = 0; ch < l->core[core].chunks; ch++)
			unpack_block(l, (const uint8_t *)src + gemm_weight_block_offset(l, core, s, ch),
				     l->core[core].n0 + ch * l->core[core].chunk,
				     gemm_chunk_n(l, core, ch), s * l->k_slice, gemm_slice_k(l, s), b,
				     ldb);
}

/* Row `row` of A (k elements of bpe bytes at src, or NULL: a padding row)
 * into its atoms, `stride` bytes apart, `atoms` of them: whole atoms as
 * fixed 16-byte copies, the last partial one and the atoms past K zeroed. */
static void pack_a_row(const uint8_t *src, uint32_t k, uint32_t bpe, uint8_t *atom,
		       size_t stride, uint32_t atoms)
{
	const uint32_t c2 = NPU_ATOM_BYTES / bpe;
	const uint32_t full = src ? k / c2 : 0, part = src ? k % c2 : 0;
	uint32_t s = 0;
	for (; s < full; s++, atom += stride, src += NPU_ATOM_BYTES)
		memcpy(atom, src, NPU_ATOM_BYTES);
	if (part && s < atoms) {
		memcpy(atom, src, (size_t)part * bpe);
		memset(atom + (size_t)part * bpe, 0, NPU_ATOM_BYTES - (size_t)part * bpe);
		atom += stride;
		s++;
	}
	for (; s < atoms; s++, atom += stride)
		memset(atom, 0, NPU_ATOM_BYTES);
}

void gemm_a_row(const npu_gemm_plan *p, void *a_buf, uint32_t row, uint8_t **atom, size_t *stride)
{
	const gemm_layout *l = &p->layout;
	const uint32_t tile = row / p->m_tile;
	const uint32_t m0 = tile * p->m_tile;
	const uint32_t rows = tile + 1 < p->m_tiles ? p->m_tile : p->m_pad - m0;
	*atom = (uint8_t *)a_buf + (size_t)m0 * l->k_pad * l->bpe + (size_t)(row - m0) * NPU_ATOM_BYTES;
	*stride = (size_t)rows * NPU_ATOM_BYTES;
}

void gemm_pack_a_row(const npu_gemm_plan *p, void *dst, uint32_t row, const void *src)
{
	const gemm_layout *l = &p->layout;
	uint8_t *atom;
	size_t stride;
	gemm_a_row(p, dst, row, &atom, &stride);
	pack_a_row(src, l->k, l->bpe, atom, stride, l->k_pad * l->bpe / NPU_ATOM_BYTES);
}

void gemm_pack_a_rows(const npu_gemm_plan *p, const void *a, size_t lda, void *dst,
		      uint32_t row_begin, uint32_t row_end)
{
	for (uint32_t row = row_begin; row < row_end && row < p->m_pad; row++)
		gemm_pack_a_row(p, dst, row,
				row < p->m ? (const uint8_t *)a + (size_t)row * lda * p->layout.bpe
					   : NULL);
}

void gemm_pack_a(const npu_gemm_plan *p, const void *a, size_t lda, void *dst)
{
	gemm_pack_a_rows(p, a, lda, dst, 0, p->m_pad);
}
