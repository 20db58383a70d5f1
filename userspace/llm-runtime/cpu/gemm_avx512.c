/* SPDX-License-Identifier: MIT */
/* AVX-512 (F/BW/VL/DQ) + VNNI GEMM kernels on the 16-row panels.
 *
 * One zmm holds one panel step: 16 rows x 4 k as bytes, exactly the operand
 * of vpdpbusd (u8 x s8 -> 4 products summed into each i32 lane). The
 * activation operand is the token's 4 bytes broadcast to all 16 lanes. A tile
 * is 16 rows x up to TILE_T tokens: weights are unpacked once per tile and
 * used by every token of it, integer sums stay in registers for a whole
 * super-block, and floats are touched once per (super-)block.
 *
 * vpdpbusd needs unsigned weights: Q4_K nibbles (0..15) and Q6_K values
 * (0..63) already are; Q6_K's -32 offset is subtracted afterwards as
 * 32 * sum_j sc_j * bsum16_j. The signed Q8 panel is biased by 128 (xor 0x80)
 * and 128 * sum(q) of the activation block is subtracted. Everything below the
 * final float scaling is exact integer arithmetic. */
#include <immintrin.h>
#include <string.h>

#include "cpu_internal.h"

#define TILE_T 8
#define AI static inline __attribute__((always_inline))

AI __m512i bcast4(const void *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return _mm512_set1_epi32(v);
}

AI void store16(float *y, __m512 v, int n_valid)
{
	if (n_valid >= RB_PK_ROWS)
		_mm512_storeu_ps(y, v);
	else
		_mm512_mask_storeu_ps(y, (__mmask16)((1u << n_valid) - 1), v);
}

/* ---- Q4_K --------------------------------------------------------------------- */

AI void q4k_tile(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int n_valid,
		 int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK_K;
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	const int8_t *aq[TILE_T];
	__m512 accf[TILE_T];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = _mm512_setzero_ps();
	}
	for (int64_t kb = 0; kb < nb; kb++) {
		const uint8_t *blk = gw + kb * RB_PK_Q4K_BLOCK;
		__m512i sb[TILE_T];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			sb[t] = _mm512_setzero_si512();
		for (int j = 0; j < 8; j++) {
			__m512i sub[TILE_T];
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				sub[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
			for (int c = 0; c < 4; c++) {
				const __m512i raw =
					_mm512_load_si512(blk + RB_PK_Q4K_QS + (4 * j + c) * 64);
				const __m512i lo = _mm512_and_si512(raw, m4);
				const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
				const int64_t ko = kb * RB_QK_K + 32 * j + 8 * c;
#pragma GCC unroll 8
				for (int t = 0; t < T; t++) {
					sub[t] = _mm512_dpbusd_epi32(sub[t], lo, bcast4(aq[t] + ko));
					sub[t] = _mm512_dpbusd_epi32(sub[t], hi, bcast4(aq[t] + ko + 4));
				}
			}
			const __m512i sc = _mm512_cvtepu8_epi32(
				_mm_load_si128((const __m128i *)(blk + RB_PK_Q4K_SC + 16 * j)));
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				sb[t] = _mm512_add_epi32(sb[t], _mm512_mullo_epi32(sub[t], sc));
		}
		const __m512 dv = _mm512_load_ps((const float *)(blk + RB_PK_Q4K_D));
		const __m512 dmv = _mm512_load_ps((const float *)(blk + RB_PK_Q4K_DMIN));
		__m512i mp[4];
		for (int p = 0; p < 4; p++)
			mp[p] = _mm512_cvtepu8_epi16(
				_mm256_load_si256((const __m256i *)(blk + RB_PK_Q4K_M + 32 * p)));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const int16_t *b32 = a->bs32 + (t0 + t) * (K / 32) + kb * 8;
			__m512i mn = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mp[0], bcast4(b32));
			mn = _mm512_dpwssd_epi32(mn, mp[1], bcast4(b32 + 2));
			mn = _mm512_dpwssd_epi32(mn, mp[2], bcast4(b32 + 4));
			mn = _mm512_dpwssd_epi32(mn, mp[3], bcast4(b32 + 6));
			const __m512 da = _mm512_set1_ps(a->d[(t0 + t) * nb + kb]);
			accf[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sb[t]), _mm512_mul_ps(dv, da), accf[t]);
			accf[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mn), _mm512_mul_ps(dmv, da), accf[t]);
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store16(A->y + (t0 + t) * A->ldy + row0, accf[t], n_valid);
}

/* ---- Q6_K --------------------------------------------------------------------- */

/* High 2 bits of step s (0..3) of a qh vector, moved to bits 4..5 of each byte
 * (16-bit shifts are safe: the 0x30 mask drops what crossed a byte). */
AI __m512i q6_high(__m512i qh, const int s)
{
	const __m512i m30 = _mm512_set1_epi8(0x30);
	switch (s) {
	case 0: return _mm512_and_si512(_mm512_slli_epi16(qh, 4), m30);
	case 1: return _mm512_and_si512(_mm512_slli_epi16(qh, 2), m30);
	case 2: return _mm512_and_si512(qh, m30);
	default: return _mm512_and_si512(_mm512_srli_epi16(qh, 2), m30);
	}
}

AI void q6k_tile(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int n_valid,
		 int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK_K;
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	const int8_t *aq[TILE_T];
	__m512 accf[TILE_T];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = _mm512_setzero_ps();
	}
	for (int64_t kb = 0; kb < nb; kb++) {
		const uint8_t *blk = gw + kb * RB_PK_Q6K_BLOCK;
		__m512i sb[TILE_T];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			sb[t] = _mm512_setzero_si512();
		for (int h = 0; h < 16; h++) {
			__m512i sub[TILE_T];
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				sub[t] = _mm512_setzero_si512();
			const __m512i qh = _mm512_load_si512(blk + RB_PK_Q6K_QH(h));
#pragma GCC unroll 2
			for (int cc = 0; cc < 2; cc++) {
				const __m512i raw =
					_mm512_load_si512(blk + RB_PK_Q6K_QL(h, cc));
				const __m512i lo = _mm512_or_si512(_mm512_and_si512(raw, m4),
								   q6_high(qh, 2 * cc));
				const __m512i hi = _mm512_or_si512(
					_mm512_and_si512(_mm512_srli_epi16(raw, 4), m4),
					q6_high(qh, 2 * cc + 1));
				const int64_t ko = kb * RB_QK_K + 16 * h + 8 * cc;
#pragma GCC unroll 8
				for (int t = 0; t < T; t++) {
					sub[t] = _mm512_dpbusd_epi32(sub[t], lo, bcast4(aq[t] + ko));
					sub[t] = _mm512_dpbusd_epi32(sub[t], hi, bcast4(aq[t] + ko + 4));
				}
			}
			/* scale of sub-block h for the 16 rows, from the pair layout */
			const __m512i pr = _mm512_cvtepi8_epi16(_mm256_load_si256(
				(const __m256i *)(blk + RB_PK_Q6K_SC + 32 * (h / 2))));
			const __m512i sc = h % 2 ? _mm512_srai_epi32(pr, 16)
						 : _mm512_srai_epi32(_mm512_slli_epi32(pr, 16), 16);
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				sb[t] = _mm512_add_epi32(sb[t], _mm512_mullo_epi32(sub[t], sc));
		}
		/* minus 32 * sum_j sc_j * bsum16_j (the -32 offset of the values) */
		__m512i sp[8];
		for (int p = 0; p < 8; p++)
			sp[p] = _mm512_cvtepi8_epi16(
				_mm256_load_si256((const __m256i *)(blk + RB_PK_Q6K_SC + 32 * p)));
		const __m512 dv = _mm512_load_ps((const float *)(blk + RB_PK_Q6K_D));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const int16_t *b16 = a->bs16 + (t0 + t) * (K / 16) + kb * 16;
			__m512i cr = _mm512_setzero_si512();
			for (int p = 0; p < 8; p++)
				cr = _mm512_dpwssd_epi32(cr, sp[p], bcast4(b16 + 2 * p));
			const __m512i s = _mm512_sub_epi32(sb[t], _mm512_slli_epi32(cr, 5));
			const __m512 da = _mm512_set1_ps(a->d[(t0 + t) * nb + kb]);
			accf[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dv, da), accf[t]);
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store16(A->y + (t0 + t) * A->ldy + row0, accf[t], n_valid);
}

/* ---- Q8 (Q8_0 / Q5_0 / Q4_0) ------------------------------------------------ */

AI void q8_tile(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int n_valid,
		int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK8_0;
	const __m512i bias = _mm512_set1_epi8((char)0x80);
	const int8_t *aq[TILE_T];
	__m512 accf[TILE_T];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = _mm512_setzero_ps();
	}
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = gw + b * RB_PK_Q8_BLOCK;
		__m512i s[TILE_T];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			s[t] = _mm512_set1_epi32(-128 * a->sum[(t0 + t) * nb + b]);
#pragma GCC unroll 8
		for (int st = 0; st < 8; st++) {
			const __m512i w = _mm512_xor_si512(_mm512_load_si512(blk + 64 * st), bias);
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				s[t] = _mm512_dpbusd_epi32(s[t], w, bcast4(aq[t] + b * 32 + 4 * st));
		}
		const __m512 dv = _mm512_load_ps((const float *)(blk + RB_PK_Q8_D));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const __m512 da = _mm512_set1_ps(a->d[(t0 + t) * nb + b]);
			accf[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dv, da), accf[t]);
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store16(A->y + (t0 + t) * A->ldy + row0, accf[t], n_valid);
}

/* ---- F16 / F32: rank-1 updates, 16 rows x T tokens of fp32 accumulators ------ */

AI void f16_tile(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int n_valid,
		 int64_t row0)
{
	const int64_t K = A->w->n_in;
	const float *xt[TILE_T];
	__m512 acc[TILE_T];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		xt[t] = A->x + (t0 + t) * A->ldx;
		acc[t] = _mm512_setzero_ps();
	}
	for (int64_t k = 0; k < K; k++) {
		const __m512 w = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(gw + 32 * k)));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			acc[t] = _mm512_fmadd_ps(w, _mm512_set1_ps(xt[t][k]), acc[t]);
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store16(A->y + (t0 + t) * A->ldy + row0, acc[t], n_valid);
}

AI void f32_tile(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int n_valid,
		 int64_t row0)
{
	const int64_t K = A->w->n_in;
	const float *xt[TILE_T];
	__m512 acc[TILE_T];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		xt[t] = A->x + (t0 + t) * A->ldx;
		acc[t] = _mm512_setzero_ps();
	}
	for (int64_t k = 0; k < K; k++) {
		const __m512 w = _mm512_load_ps((const float *)(gw + 64 * k));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			acc[t] = _mm512_fmadd_ps(w, _mm512_set1_ps(xt[t][k]), acc[t]);
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store16(A->y + (t0 + t) * A->ldy + row0, acc[t], n_valid);
}

/* ---- drivers: groups outer (weights stay in cache), token tiles inner ------ */

#define DEFINE_DRIVER(NAME, TILE)                                                          \
	static void NAME(const rb_gemm_args *A, int64_t g0, int64_t g1)                    \
	{                                                                                  \
		for (int64_t g = g0; g < g1; g++) {                                        \
			const uint8_t *gw = rb_pack_group(A->w, g);                        \
			const int64_t row0 = g * RB_PK_ROWS;                               \
			const int64_t left = A->w->n_out - row0;                           \
			const int nv = left < RB_PK_ROWS ? (int)left : RB_PK_ROWS;         \
			int64_t t0 = 0;                                                    \
			for (; t0 + TILE_T <= A->n_tok; t0 += TILE_T)                      \
				TILE(A, gw, t0, TILE_T, nv, row0);                         \
			switch (A->n_tok - t0) {                                           \
			case 1: TILE(A, gw, t0, 1, nv, row0); break;                       \
			case 2: TILE(A, gw, t0, 2, nv, row0); break;                       \
			case 3: TILE(A, gw, t0, 3, nv, row0); break;                       \
			case 4: TILE(A, gw, t0, 4, nv, row0); break;                       \
			case 5: TILE(A, gw, t0, 5, nv, row0); break;                       \
			case 6: TILE(A, gw, t0, 6, nv, row0); break;                       \
			case 7: TILE(A, gw, t0, 7, nv, row0); break;                       \
			default: break;                                                    \
			}                                                                  \
		}                                                                          \
	}

DEFINE_DRIVER(gemm_q4k, q4k_tile)
DEFINE_DRIVER(gemm_q6k, q6k_tile)
DEFINE_DRIVER(gemm_q8, q8_tile)
DEFINE_DRIVER(gemm_f16, f16_tile)
DEFINE_DRIVER(gemm_f32, f32_tile)

const rb_kernel_set rb_kernels_avx512vnni = {
	.name = "avx512vnni",
	.gemm = {
		[RB_PK_Q4K] = gemm_q4k,
		[RB_PK_Q6K] = gemm_q6k,
		[RB_PK_Q8] = gemm_q8,
		[RB_PK_F16] = gemm_f16,
		[RB_PK_F32] = gemm_f32,
	},
	.act_q8k = rb_act_q8k_row_avx2,
	.act_q80 = rb_act_q80_row_avx2,
};
