/* SPDX-License-Identifier: MIT */
/* AVX2 + FMA + F16C GEMM kernels on the 16-row panels (for x86-64 CPUs
 * without AVX-512 VNNI).
 *
 * A ymm holds half a panel step: 8 rows x 4 k. vpmaddubsw (u8 x s8 -> pairs
 * summed into i16) does the products; since its i16 results are small for 4-
 * and 6-bit weights, several steps are added in i16 before one vpmaddwd
 * widens them to i32 - and that vpmaddwd multiplies by the sub-block scale at
 * the same time (scale pairs (sc, sc) as the second operand). Bounds:
 * Q4_K |pair| <= 2 * 15 * 127 = 3810, 8 steps (a sub-block) < 32767; Q6_K
 * |pair| <= 2 * 63 * 127 = 16002, 2 steps. The signed Q8 panel uses
 * vpmaddubsw(|w|, sign(a, w)) (|pair| <= 2 * 128 * 127) and widens every step.
 *
 * The two 8-row halves of a group are computed one after the other over the
 * whole K (16 ymm registers would not hold both), so each tile's
 * accumulators stay in registers: up to 4 tokens per tile for the integer
 * kernels, 8 for the float ones. */
#include <immintrin.h>
#include <string.h>

#include "cpu_internal.h"

#define AI static inline __attribute__((always_inline))
#define TMAX 8 /* array bound; tiles use at most this many tokens */

AI __m256i bcast4(const void *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return _mm256_set1_epi32(v);
}

/* Store 8 rows (half h of a group), dropping rows >= n_valid of the group. */
AI void store8(float *y, __m256 v, int h, int n_valid)
{
	const int nv = n_valid - 8 * h;
	if (nv >= 8) {
		_mm256_storeu_ps(y + 8 * h, v);
	} else if (nv > 0) {
		float tmp[8];
		_mm256_storeu_ps(tmp, v);
		rb_store_rows(y + 8 * h, tmp, nv);
	}
}

/* (sc, sc) i16 pairs of 8 rows from 8 unsigned bytes */
AI __m256i scale_pairs_u8(const uint8_t *p)
{
	const __m256i s = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
	return _mm256_or_si256(s, _mm256_slli_epi32(s, 16));
}

/* ---- Q4_K --------------------------------------------------------------------- */

AI void q4k_half(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int h,
		 int n_valid, int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK_K;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const int8_t *aq[TMAX];
	__m256 accf[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = _mm256_setzero_ps();
	}
	for (int64_t kb = 0; kb < nb; kb++) {
		const uint8_t *blk = gw + kb * RB_PK_Q4K_BLOCK;
		__m256i sb[TMAX];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			sb[t] = _mm256_setzero_si256();
		for (int j = 0; j < 8; j++) {
			__m256i s16[TMAX];
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
			for (int c = 0; c < 4; c++) {
				const __m256i raw = _mm256_load_si256(
					(const __m256i *)(blk + RB_PK_Q4K_QS + (4 * j + c) * 64 + 32 * h));
				const __m256i lo = _mm256_and_si256(raw, m4);
				const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
				const int64_t ko = kb * RB_QK_K + 32 * j + 8 * c;
#pragma GCC unroll 8
				for (int t = 0; t < T; t++) {
					s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, bcast4(aq[t] + ko)));
					s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(hi, bcast4(aq[t] + ko + 4)));
				}
			}
			const __m256i sc = scale_pairs_u8(blk + RB_PK_Q4K_SC + 16 * j + 8 * h);
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				sb[t] = _mm256_add_epi32(sb[t], _mm256_madd_epi16(s16[t], sc));
		}
		const __m256 dv = _mm256_loadu_ps((const float *)(blk + RB_PK_Q4K_D) + 8 * h);
		const __m256 dmv = _mm256_loadu_ps((const float *)(blk + RB_PK_Q4K_DMIN) + 8 * h);
		__m256i mp[4];
		for (int p = 0; p < 4; p++)
			mp[p] = _mm256_cvtepu8_epi16(
				_mm_load_si128((const __m128i *)(blk + RB_PK_Q4K_M + 32 * p + 16 * h)));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const int16_t *b32 = a->bs32 + (t0 + t) * (K / 32) + kb * 8;
			__m256i mn = _mm256_madd_epi16(mp[0], bcast4(b32));
			mn = _mm256_add_epi32(mn, _mm256_madd_epi16(mp[1], bcast4(b32 + 2)));
			mn = _mm256_add_epi32(mn, _mm256_madd_epi16(mp[2], bcast4(b32 + 4)));
			mn = _mm256_add_epi32(mn, _mm256_madd_epi16(mp[3], bcast4(b32 + 6)));
			const __m256 da = _mm256_set1_ps(a->d[(t0 + t) * nb + kb]);
			accf[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sb[t]), _mm256_mul_ps(dv, da), accf[t]);
			accf[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mn), _mm256_mul_ps(dmv, da), accf[t]);
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store8(A->y + (t0 + t) * A->ldy + row0, accf[t], h, n_valid);
}

/* ---- Q6_K --------------------------------------------------------------------- */

AI __m256i q6_high(__m256i qh, const int s)
{
	const __m256i m30 = _mm256_set1_epi8(0x30);
	switch (s) {
	case 0: return _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30);
	case 1: return _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30);
	case 2: return _mm256_and_si256(qh, m30);
	default: return _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30);
	}
}

AI void q6k_half(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int h,
		 int n_valid, int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK_K;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	/* pshufb patterns: (sc_even, sc_even) / (sc_odd, sc_odd) of each i16 pair */
	const __m256i dup_even = _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13,
						  0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13);
	const __m256i dup_odd = _mm256_add_epi8(dup_even, _mm256_set1_epi8(2));
	const int8_t *aq[TMAX];
	__m256 accf[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = _mm256_setzero_ps();
	}
	for (int64_t kb = 0; kb < nb; kb++) {
		const uint8_t *blk = gw + kb * RB_PK_Q6K_BLOCK;
		__m256i sb[TMAX];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			sb[t] = _mm256_setzero_si256();
		for (int hb = 0; hb < 16; hb++) {
			const __m256i qh = _mm256_load_si256(
				(const __m256i *)(blk + RB_PK_Q6K_QH(hb) + 32 * h));
			const __m256i pr = _mm256_cvtepi8_epi16(_mm_load_si128(
				(const __m128i *)(blk + RB_PK_Q6K_SC + 32 * (hb / 2) + 16 * h)));
			const __m256i sc = _mm256_shuffle_epi8(pr, hb % 2 ? dup_odd : dup_even);
#pragma GCC unroll 2
			for (int cc = 0; cc < 2; cc++) {
				const __m256i raw = _mm256_load_si256(
					(const __m256i *)(blk + RB_PK_Q6K_QL(hb, cc) + 32 * h));
				const __m256i lo = _mm256_or_si256(_mm256_and_si256(raw, m4),
								   q6_high(qh, 2 * cc));
				const __m256i hi = _mm256_or_si256(
					_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4),
					q6_high(qh, 2 * cc + 1));
				const int64_t ko = kb * RB_QK_K + 16 * hb + 8 * cc;
#pragma GCC unroll 8
				for (int t = 0; t < T; t++) {
					const __m256i p = _mm256_add_epi16(
						_mm256_maddubs_epi16(lo, bcast4(aq[t] + ko)),
						_mm256_maddubs_epi16(hi, bcast4(aq[t] + ko + 4)));
					sb[t] = _mm256_add_epi32(sb[t], _mm256_madd_epi16(p, sc));
				}
			}
		}
		/* minus 32 * sum_j sc_j * bsum16_j */
		__m256i sp[8];
		for (int p = 0; p < 8; p++)
			sp[p] = _mm256_cvtepi8_epi16(_mm_load_si128(
				(const __m128i *)(blk + RB_PK_Q6K_SC + 32 * p + 16 * h)));
		const __m256 dv = _mm256_loadu_ps((const float *)(blk + RB_PK_Q6K_D) + 8 * h);
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const int16_t *b16 = a->bs16 + (t0 + t) * (K / 16) + kb * 16;
			__m256i cr = _mm256_madd_epi16(sp[0], bcast4(b16));
			for (int p = 1; p < 8; p++)
				cr = _mm256_add_epi32(cr, _mm256_madd_epi16(sp[p], bcast4(b16 + 2 * p)));
			const __m256i s = _mm256_sub_epi32(sb[t], _mm256_slli_epi32(cr, 5));
			const __m256 da = _mm256_set1_ps(a->d[(t0 + t) * nb + kb]);
			accf[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dv, da), accf[t]);
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store8(A->y + (t0 + t) * A->ldy + row0, accf[t], h, n_valid);
}

/* ---- Q8 (Q8_0 / Q5_0 / Q4_0) ------------------------------------------------ */

AI void q8_half(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int h,
		int n_valid, int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK8_0;
	const __m256i ones = _mm256_set1_epi16(1);
	const int8_t *aq[TMAX];
	__m256 accf[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = gw + b * RB_PK_Q8_BLOCK;
		__m256i s[TMAX];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			s[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
		for (int st = 0; st < 8; st++) {
			const __m256i w = _mm256_load_si256((const __m256i *)(blk + 64 * st + 32 * h));
			const __m256i aw = _mm256_abs_epi8(w);
#pragma GCC unroll 8
			for (int t = 0; t < T; t++) {
				const __m256i sa = _mm256_sign_epi8(bcast4(aq[t] + b * 32 + 4 * st), w);
				s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sa), ones));
			}
		}
		const __m256 dv = _mm256_loadu_ps((const float *)(blk + RB_PK_Q8_D) + 8 * h);
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const __m256 da = _mm256_set1_ps(a->d[(t0 + t) * nb + b]);
			accf[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dv, da), accf[t]);
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store8(A->y + (t0 + t) * A->ldy + row0, accf[t], h, n_valid);
}

/* ---- F16 / F32 ------------------------------------------------------------------ */

AI void f16_half(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int h,
		 int n_valid, int64_t row0)
{
	const int64_t K = A->w->n_in;
	const float *xt[TMAX];
	__m256 acc[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		xt[t] = A->x + (t0 + t) * A->ldx;
		acc[t] = _mm256_setzero_ps();
	}
	for (int64_t k = 0; k < K; k++) {
		const __m256 w = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(gw + 32 * k + 16 * h)));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			acc[t] = _mm256_fmadd_ps(w, _mm256_broadcast_ss(xt[t] + k), acc[t]);
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store8(A->y + (t0 + t) * A->ldy + row0, acc[t], h, n_valid);
}

AI void f32_half(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int h,
		 int n_valid, int64_t row0)
{
	const int64_t K = A->w->n_in;
	const float *xt[TMAX];
	__m256 acc[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		xt[t] = A->x + (t0 + t) * A->ldx;
		acc[t] = _mm256_setzero_ps();
	}
	for (int64_t k = 0; k < K; k++) {
		const __m256 w = _mm256_load_ps((const float *)(gw + 64 * k + 32 * h));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			acc[t] = _mm256_fmadd_ps(w, _mm256_broadcast_ss(xt[t] + k), acc[t]);
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store8(A->y + (t0 + t) * A->ldy + row0, acc[t], h, n_valid);
}

/* ---- drivers ---------------------------------------------------------------------- */

/* A tile of T tokens: both halves (the second only if it has valid rows). */
#define HALVES(HALF, A, gw, t0, T, nv, row0)                                   \
	do {                                                                   \
		HALF(A, gw, t0, T, 0, nv, row0);                               \
		if ((nv) > 8)                                                  \
			HALF(A, gw, t0, T, 1, nv, row0);                       \
	} while (0)

#define DEFINE_DRIVER(NAME, HALF, TILE)                                                       \
	static void NAME(const rb_gemm_args *A, int64_t g0, int64_t g1)                       \
	{                                                                                     \
		for (int64_t g = g0; g < g1; g++) {                                           \
			const uint8_t *gw = rb_pack_group(A->w, g);                           \
			const int64_t row0 = g * RB_PK_ROWS;                                  \
			const int64_t left = A->w->n_out - row0;                              \
			const int nv = left < RB_PK_ROWS ? (int)left : RB_PK_ROWS;            \
			int64_t t0 = 0;                                                       \
			for (; t0 + TILE <= A->n_tok; t0 += TILE)                             \
				HALVES(HALF, A, gw, t0, TILE, nv, row0);                      \
			switch (A->n_tok - t0) {                                              \
			case 1: HALVES(HALF, A, gw, t0, 1, nv, row0); break;                  \
			case 2: HALVES(HALF, A, gw, t0, 2, nv, row0); break;                  \
			case 3: HALVES(HALF, A, gw, t0, 3, nv, row0); break;                  \
			case 4: if (TILE > 4) HALVES(HALF, A, gw, t0, 4, nv, row0); break;    \
			case 5: if (TILE > 5) HALVES(HALF, A, gw, t0, 5, nv, row0); break;    \
			case 6: if (TILE > 6) HALVES(HALF, A, gw, t0, 6, nv, row0); break;    \
			case 7: if (TILE > 7) HALVES(HALF, A, gw, t0, 7, nv, row0); break;    \
			default: break;                                                       \
			}                                                                     \
		}                                                                             \
	}

DEFINE_DRIVER(gemm_q4k, q4k_half, 4)
DEFINE_DRIVER(gemm_q6k, q6k_half, 4)
DEFINE_DRIVER(gemm_q8, q8_half, 4)
DEFINE_DRIVER(gemm_f16, f16_half, 8)
DEFINE_DRIVER(gemm_f32, f32_half, 8)

const rb_kernel_set rb_kernels_avx2 = {
	.name = "avx2",
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
