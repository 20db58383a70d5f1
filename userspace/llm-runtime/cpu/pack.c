/* SPDX-License-Identifier: MIT */
/* Repacking of GGUF weight rows into the 16-row panels of cpu_internal.h.
 *
 * GGUF block layouts (format facts, see include/rosenblatt/types.h and
 * docs/quant-formats.md):
 *  - Q4_K: qs[32 * c + l] holds element 64c + l in its low nibble and element
 *    64c + 32 + l in its high nibble; the 6-bit scale/min of sub-block j are
 *    unpacked by rb_k_get_scale_min (rb_quant).
 *  - Q6_K: element e = 128h + 32g + l has its low 4 bits in
 *    ql[64h + 32(g % 2) + l] >> 4(g / 2) and its high 2 bits in
 *    qh[32h + l] >> 2g; value d * scales[e / 16] * (q - 32).
 *  - Q4_0 / Q5_0: element j < 16 in the low nibble of qs[j], element j + 16 in
 *    the high nibble; Q5_0 adds bit 4 of element j from bit j of qh (LE u32).
 * Packing is a one-time, load-time cost: plain scalar code. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "rosenblatt/quant.h"

enum rb_pk_kind rb_pack_kind_for(enum rb_type type)
{
	switch (type) {
	case RB_TYPE_Q4_K: return RB_PK_Q4K;
	case RB_TYPE_Q6_K: return RB_PK_Q6K;
	case RB_TYPE_Q8_0:
	case RB_TYPE_Q5_0:
	case RB_TYPE_Q4_0: return RB_PK_Q8;
	case RB_TYPE_F16: return RB_PK_F16;
	case RB_TYPE_F32: return RB_PK_F32;
	default: return RB_PK_GENERIC;
	}
}

int rb_pack_alloc(rb_pack *p, enum rb_pk_kind kind, int64_t n_in, int64_t n_out)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->n_in = n_in;
	p->n_out = n_out;
	p->n_groups = (n_out + RB_PK_ROWS - 1) / RB_PK_ROWS;
	switch (kind) {
	case RB_PK_Q4K:
		p->block_k = RB_QK_K, p->block_bytes = RB_PK_Q4K_BLOCK, p->act_type = RB_TYPE_Q8_K;
		break;
	case RB_PK_Q6K:
		p->block_k = RB_QK_K, p->block_bytes = RB_PK_Q6K_BLOCK, p->act_type = RB_TYPE_Q8_K;
		break;
	case RB_PK_Q8:
		p->block_k = RB_QK8_0, p->block_bytes = RB_PK_Q8_BLOCK, p->act_type = RB_TYPE_Q8_0;
		break;
	case RB_PK_F16:
		p->block_k = 1, p->block_bytes = RB_PK_ROWS * 2, p->act_type = RB_TYPE_F32;
		break;
	case RB_PK_F32:
		p->block_k = 1, p->block_bytes = RB_PK_ROWS * 4, p->act_type = RB_TYPE_F32;
		break;
	default:
		return RB_E_UNSUPPORTED;
	}
	if (n_in <= 0 || n_out <= 0 || n_in % p->block_k)
		return RB_E_INVALID;
	p->group_bytes = (size_t)(n_in / p->block_k) * p->block_bytes;
	/* round to whole cache lines so every group starts 64-byte aligned */
	p->group_bytes = (p->group_bytes + 63) & ~(size_t)63;
	if ((uint64_t)p->n_groups > SIZE_MAX / p->group_bytes)
		return RB_E_NOMEM;
	const size_t total = (size_t)p->n_groups * p->group_bytes;
	p->data = aligned_alloc(64, total);
	if (!p->data)
		return RB_E_NOMEM;
	return RB_OK;
}

void rb_pack_free(rb_pack *p)
{
	free(p->data);
	p->data = NULL;
}

/* ---- one GGUF block -> integer values + scales -------------------------- */

static void unpack_q4_k(const rb_block_q4_k *b, uint8_t q[RB_QK_K], uint8_t sc[8], uint8_t m[8],
			float *d, float *dmin)
{
	for (int c = 0; c < 4; c++)
		for (int l = 0; l < 32; l++) {
			q[64 * c + l] = b->qs[32 * c + l] & 0x0f;
			q[64 * c + 32 + l] = b->qs[32 * c + l] >> 4;
		}
	for (int j = 0; j < 8; j++)
		rb_k_get_scale_min(b->scales, j, &sc[j], &m[j]);
	*d = rb_f16_to_f32(b->d);
	*dmin = rb_f16_to_f32(b->dmin);
}

static void unpack_q6_k(const rb_block_q6_k *b, uint8_t q[RB_QK_K])
{
	for (int h = 0; h < 2; h++)
		for (int g = 0; g < 4; g++) {
			const uint8_t *ql = b->ql + 64 * h + 32 * (g % 2), *qh = b->qh + 32 * h;
			const int lo_shift = 4 * (g / 2), hi_shift = 2 * g;
			uint8_t *dst = q + 128 * h + 32 * g;
			for (int l = 0; l < 32; l++)
				dst[l] = (uint8_t)(((ql[l] >> lo_shift) & 0x0f) | ((qh[l] >> hi_shift) & 3) << 4);
		}
}

static float unpack_q8_like(enum rb_type type, const void *row, int64_t b, int8_t q[32])
{
	switch (type) {
	case RB_TYPE_Q8_0: {
		const rb_block_q8_0 *x = (const rb_block_q8_0 *)row + b;
		memcpy(q, x->qs, 32);
		return rb_f16_to_f32(x->d);
	}
	case RB_TYPE_Q5_0: {
		const rb_block_q5_0 *x = (const rb_block_q5_0 *)row + b;
		const uint32_t qh = (uint32_t)x->qh[0] | (uint32_t)x->qh[1] << 8 |
				    (uint32_t)x->qh[2] << 16 | (uint32_t)x->qh[3] << 24;
		for (int j = 0; j < 16; j++) {
			q[j] = (int8_t)(((x->qs[j] & 0x0f) | ((qh >> j) & 1) << 4) - 16);
			q[j + 16] = (int8_t)(((x->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
		}
		return rb_f16_to_f32(x->d);
	}
	case RB_TYPE_Q4_0: {
		const rb_block_q4_0 *x = (const rb_block_q4_0 *)row + b;
		for (int j = 0; j < 16; j++) {
			q[j] = (int8_t)((x->qs[j] & 0x0f) - 8);
			q[j + 16] = (int8_t)((x->qs[j] >> 4) - 8);
		}
		return rb_f16_to_f32(x->d);
	}
	default:
		memset(q, 0, 32);
		return 0;
	}
}

/* ---- panels ------------------------------------------------------------------ */

/* Every byte of a group is written exactly once, except for the rows past
 * n_out of the last group, which are zeroed first. */
static uint8_t *group_start(const rb_pack *p, int64_t g)
{
	uint8_t *out = p->data + (size_t)g * p->group_bytes;
	if ((g + 1) * RB_PK_ROWS > p->n_out)
		memset(out, 0, p->group_bytes);
	return out;
}

static int group_rows(const rb_pack *p, int64_t g)
{
	const int64_t left = p->n_out - g * RB_PK_ROWS;
	return left < RB_PK_ROWS ? (int)left : RB_PK_ROWS;
}

/* Nibble chunk c of row r: step 2c (k = 8c + i) low, step 2c + 1 high. */
static void put_nibble_chunks(uint8_t *dst, int r, const uint8_t *q, int n_chunks)
{
	for (int c = 0; c < n_chunks; c++)
		for (int i = 0; i < 4; i++)
			dst[64 * c + 4 * r + i] = (uint8_t)((q[8 * c + i] & 0x0f) | (q[8 * c + 4 + i] & 0x0f) << 4);
}

static void pack_group_q4k(const rb_pack *p, const void *src, size_t row_bytes, int64_t g)
{
	uint8_t *out = group_start(p, g);
	const int64_t nb = p->n_in / RB_QK_K;
	const int nr = group_rows(p, g);
	for (int r = 0; r < nr; r++) {
		const rb_block_q4_k *blocks =
			(const rb_block_q4_k *)((const uint8_t *)src + (size_t)(g * RB_PK_ROWS + r) * row_bytes);
		for (int64_t b = 0; b < nb; b++) {
			uint8_t *blk = out + (size_t)b * RB_PK_Q4K_BLOCK;
			uint8_t q[RB_QK_K], sc[8], m[8];
			float d, dmin;
			unpack_q4_k(&blocks[b], q, sc, m, &d, &dmin);
			put_nibble_chunks(blk + RB_PK_Q4K_QS, r, q, 32);
			for (int j = 0; j < 8; j++) {
				blk[RB_PK_Q4K_SC + 16 * j + r] = sc[j];
				blk[RB_PK_Q4K_M + 32 * (j / 2) + 2 * r + j % 2] = m[j];
			}
			memcpy(blk + RB_PK_Q4K_D + 4 * r, &d, 4);
			memcpy(blk + RB_PK_Q4K_DMIN + 4 * r, &dmin, 4);
		}
	}
}

static void pack_group_q6k(const rb_pack *p, const void *src, size_t row_bytes, int64_t g)
{
	uint8_t *out = group_start(p, g);
	const int64_t nb = p->n_in / RB_QK_K;
	const int nr = group_rows(p, g);
	for (int r = 0; r < nr; r++) {
		const rb_block_q6_k *blocks =
			(const rb_block_q6_k *)((const uint8_t *)src + (size_t)(g * RB_PK_ROWS + r) * row_bytes);
		for (int64_t b = 0; b < nb; b++) {
			uint8_t *blk = out + (size_t)b * RB_PK_Q6K_BLOCK;
			uint8_t q[RB_QK_K];
			unpack_q6_k(&blocks[b], q);
			for (int h = 0; h < 16; h++) {
				const uint8_t *qs = q + 16 * h;
				put_nibble_chunks(blk + RB_PK_Q6K_QL(h, 0), r, qs, 2);
				for (int i = 0; i < 4; i++)
					blk[RB_PK_Q6K_QH(h) + 4 * r + i] =
						(uint8_t)((qs[i] >> 4) | (qs[4 + i] >> 4) << 2 |
							  (qs[8 + i] >> 4) << 4 | (qs[12 + i] >> 4) << 6);
			}
			for (int j = 0; j < 16; j++)
				blk[RB_PK_Q6K_SC + 32 * (j / 2) + 2 * r + j % 2] = (uint8_t)blocks[b].scales[j];
			const float d = rb_f16_to_f32(blocks[b].d);
			memcpy(blk + RB_PK_Q6K_D + 4 * r, &d, 4);
		}
	}
}

static void pack_group_q8(const rb_pack *p, enum rb_type type, const void *src, size_t row_bytes,
			  int64_t g)
{
	uint8_t *out = group_start(p, g);
	const int64_t nb = p->n_in / RB_QK8_0;
	const int nr = group_rows(p, g);
	for (int r = 0; r < nr; r++) {
		const void *rp = (const uint8_t *)src + (size_t)(g * RB_PK_ROWS + r) * row_bytes;
		for (int64_t b = 0; b < nb; b++) {
			uint8_t *blk = out + (size_t)b * RB_PK_Q8_BLOCK;
			int8_t q[32];
			const float d = unpack_q8_like(type, rp, b, q);
			for (int k = 0; k < 32; k++)
				blk[RB_PK_Q8_QS + (size_t)(k / 4) * 64 + 4 * r + k % 4] = (uint8_t)q[k];
			memcpy(blk + RB_PK_Q8_D + 4 * r, &d, 4);
		}
	}
}

static void pack_group_float(const rb_pack *p, enum rb_type type, const void *src,
			     size_t row_bytes, int64_t g)
{
	uint8_t *out = group_start(p, g);
	const size_t es = type == RB_TYPE_F16 ? 2 : 4;
	const int nr = group_rows(p, g);
	for (int r = 0; r < nr; r++) {
		const uint8_t *rp = (const uint8_t *)src + (size_t)(g * RB_PK_ROWS + r) * row_bytes;
		for (int64_t k = 0; k < p->n_in; k++)
			memcpy(out + ((size_t)k * RB_PK_ROWS + (size_t)r) * es, rp + (size_t)k * es, es);
	}
}

void rb_pack_groups(const rb_pack *p, enum rb_type type, const void *src, int64_t g0, int64_t g1)
{
	const size_t row_bytes = rb_row_size(type, p->n_in);
	for (int64_t g = g0; g < g1; g++) {
		switch (p->kind) {
		case RB_PK_Q4K: pack_group_q4k(p, src, row_bytes, g); break;
		case RB_PK_Q6K: pack_group_q6k(p, src, row_bytes, g); break;
		case RB_PK_Q8: pack_group_q8(p, type, src, row_bytes, g); break;
		case RB_PK_F16:
		case RB_PK_F32: pack_group_float(p, type, src, row_bytes, g); break;
		default: break;
		}
	}
}
