/* SPDX-License-Identifier: MIT */
/* NEON + dotprod (ARMv8.2-A: Cortex-A76/A55 of the RK3588) GEMM kernels on
 * the 16-row panels.
 *
 * A q register holds a quarter of a panel step: 4 rows x 4 k, the first
 * operand of sdot; the second is a 16-byte load of a token's activations and
 * the by-lane form (sdot v.4s, w.16b, a.4b[i]) picks the 4 k of step i. sdot
 * is signed x signed, so the weights are made signed while unpacking: Q4_K
 * nibbles are 0..15 already, Q6_K subtracts 32 on the weights (no correction
 * term), the Q8 panel is signed. Sub-block scales are applied with one
 * integer multiply-accumulate per sub-block (mla by vector).
 *
 * Each quarter of a group (4 rows) is computed over the whole K before the
 * next; a tile is 4 rows x up to 6 tokens, whose integer and float
 * accumulators stay in the 32 q registers. */
#include <arm_neon.h>
#include <string.h>

#include "cpu_internal.h"

#define AI static inline __attribute__((always_inline))
#define TMAX 6

AI int32x4_t load_u8x4_s32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8(v)))));
}

/* Store 4 rows (quarter q of a group), dropping rows >= n_valid of the group. */
AI void store4(float *y, float32x4_t v, int q, int n_valid)
{
	const int nv = n_valid - 4 * q;
	if (nv >= 4) {
		vst1q_f32(y + 4 * q, v);
	} else if (nv > 0) {
		float tmp[4];
		vst1q_f32(tmp, v);
		rb_store_rows(y + 4 * q, tmp, nv);
	}
}

/* ---- Q4_K --------------------------------------------------------------------- */

AI void q4k_quarter(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int q,
		    int n_valid, int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK_K;
	const uint8x16_t m4 = vdupq_n_u8(0x0f);
	const int8_t *aq[TMAX];
	float32x4_t accf[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = vdupq_n_f32(0);
	}
	for (int64_t kb = 0; kb < nb; kb++) {
		const uint8_t *blk = gw + kb * RB_PK_Q4K_BLOCK;
		int32x4_t sb[TMAX];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			sb[t] = vdupq_n_s32(0);
		for (int j = 0; j < 8; j++) {
			int32x4_t sub[TMAX];
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				sub[t] = vdupq_n_s32(0);
#pragma GCC unroll 2
			for (int cc = 0; cc < 2; cc++) {
				const uint8_t *c0 = blk + RB_PK_Q4K_QS + (4 * j + 2 * cc) * 64 + 16 * q;
				const uint8x16_t v0 = vld1q_u8(c0), v1 = vld1q_u8(c0 + 64);
				const int8x16_t w0 = vreinterpretq_s8_u8(vandq_u8(v0, m4));
				const int8x16_t w1 = vreinterpretq_s8_u8(vshrq_n_u8(v0, 4));
				const int8x16_t w2 = vreinterpretq_s8_u8(vandq_u8(v1, m4));
				const int8x16_t w3 = vreinterpretq_s8_u8(vshrq_n_u8(v1, 4));
				const int64_t ko = kb * RB_QK_K + 32 * j + 16 * cc;
#pragma GCC unroll 8
				for (int t = 0; t < T; t++) {
					const int8x16_t av = vld1q_s8(aq[t] + ko);
					sub[t] = vdotq_laneq_s32(sub[t], w0, av, 0);
					sub[t] = vdotq_laneq_s32(sub[t], w1, av, 1);
					sub[t] = vdotq_laneq_s32(sub[t], w2, av, 2);
					sub[t] = vdotq_laneq_s32(sub[t], w3, av, 3);
				}
			}
			const int32x4_t sc = load_u8x4_s32(blk + RB_PK_Q4K_SC + 16 * j + 4 * q);
#pragma GCC unroll 8
			for (int t = 0; t < T; t++)
				sb[t] = vmlaq_s32(sb[t], sub[t], sc);
		}
		/* mins: rows 4q..4q+3 x sub-block pairs, against the 32-sums */
		int16x8_t mp[4];
		for (int p = 0; p < 4; p++)
			mp[p] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(blk + RB_PK_Q4K_M + 32 * p + 8 * q)));
		const float32x4_t dv = vld1q_f32((const float *)(blk + RB_PK_Q4K_D) + 4 * q);
		const float32x4_t dmv = vld1q_f32((const float *)(blk + RB_PK_Q4K_DMIN) + 4 * q);
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const int16_t *b32 = a->bs32 + (t0 + t) * (K / 32) + kb * 8;
			int32x4_t lo = vdupq_n_s32(0), hi = vdupq_n_s32(0);
			for (int p = 0; p < 4; p++) {
				int32_t pair;
				memcpy(&pair, b32 + 2 * p, 4);
				const int16x8_t bv = vreinterpretq_s16_s32(vdupq_n_s32(pair));
				lo = vmlal_s16(lo, vget_low_s16(mp[p]), vget_low_s16(bv));
				hi = vmlal_high_s16(hi, mp[p], bv);
			}
			const int32x4_t mn = vpaddq_s32(lo, hi);
			const float32x4_t da = vdupq_n_f32(a->d[(t0 + t) * nb + kb]);
			accf[t] = vfmaq_f32(accf[t], vcvtq_f32_s32(sb[t]), vmulq_f32(dv, da));
			accf[t] = vfmsq_f32(accf[t], vcvtq_f32_s32(mn), vmulq_f32(dmv, da));
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store4(A->y + (t0 + t) * A->ldy + row0, accf[t], q, n_valid);
}

/* ---- Q6_K --------------------------------------------------------------------- */

AI void q6k_quarter(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int q,
		    int n_valid, int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK_K;
	const uint8x16_t m4 = vdupq_n_u8(0x0f), m30 = vdupq_n_u8(0x30);
	const int8x16_t off = vdupq_n_s8(32);
	const int8_t *aq[TMAX];
	float32x4_t accf[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = vdupq_n_f32(0);
	}
	for (int64_t kb = 0; kb < nb; kb++) {
		const uint8_t *blk = gw + kb * RB_PK_Q6K_BLOCK;
		int32x4_t sb[TMAX];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			sb[t] = vdupq_n_s32(0);
		for (int h = 0; h < 16; h++) {
			const uint8x16_t qh = vld1q_u8(blk + RB_PK_Q6K_QH(h) + 16 * q);
			const uint8_t *c0 = blk + RB_PK_Q6K_QL(h, 0) + 16 * q;
			const uint8x16_t v0 = vld1q_u8(c0), v1 = vld1q_u8(c0 + 64);
			const uint8x16_t u0 = vorrq_u8(vandq_u8(v0, m4), vandq_u8(vshlq_n_u8(qh, 4), m30));
			const uint8x16_t u1 = vorrq_u8(vshrq_n_u8(v0, 4), vandq_u8(vshlq_n_u8(qh, 2), m30));
			const uint8x16_t u2 = vorrq_u8(vandq_u8(v1, m4), vandq_u8(qh, m30));
			const uint8x16_t u3 = vorrq_u8(vshrq_n_u8(v1, 4), vandq_u8(vshrq_n_u8(qh, 2), m30));
			const int8x16_t w0 = vsubq_s8(vreinterpretq_s8_u8(u0), off);
			const int8x16_t w1 = vsubq_s8(vreinterpretq_s8_u8(u1), off);
			const int8x16_t w2 = vsubq_s8(vreinterpretq_s8_u8(u2), off);
			const int8x16_t w3 = vsubq_s8(vreinterpretq_s8_u8(u3), off);
			/* the scale of sub-block h for rows 4q..4q+3, from the pair layout */
			const int16x8_t pr = vmovl_s8(vld1_s8(
				(const int8_t *)(blk + RB_PK_Q6K_SC + 32 * (h / 2) + 8 * q)));
			const int16x8_t sel = h % 2 ? vuzp2q_s16(pr, pr) : vuzp1q_s16(pr, pr);
			const int32x4_t sc = vmovl_s16(vget_low_s16(sel));
			const int64_t ko = kb * RB_QK_K + 16 * h;
#pragma GCC unroll 8
			for (int t = 0; t < T; t++) {
				const int8x16_t av = vld1q_s8(aq[t] + ko);
				int32x4_t s = vdotq_laneq_s32(vdupq_n_s32(0), w0, av, 0);
				s = vdotq_laneq_s32(s, w1, av, 1);
				s = vdotq_laneq_s32(s, w2, av, 2);
				s = vdotq_laneq_s32(s, w3, av, 3);
				sb[t] = vmlaq_s32(sb[t], s, sc);
			}
		}
		const float32x4_t dv = vld1q_f32((const float *)(blk + RB_PK_Q6K_D) + 4 * q);
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const float32x4_t da = vdupq_n_f32(a->d[(t0 + t) * nb + kb]);
			accf[t] = vfmaq_f32(accf[t], vcvtq_f32_s32(sb[t]), vmulq_f32(dv, da));
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store4(A->y + (t0 + t) * A->ldy + row0, accf[t], q, n_valid);
}

/* ---- Q8 (Q8_0 / Q5_0 / Q4_0) ------------------------------------------------ */

AI void q8_quarter(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int q,
		   int n_valid, int64_t row0)
{
	const rb_act *a = A->a;
	const int64_t K = A->w->n_in, nb = K / RB_QK8_0;
	const int8_t *aq[TMAX];
	float32x4_t accf[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		aq[t] = a->qs + (t0 + t) * K;
		accf[t] = vdupq_n_f32(0);
	}
	for (int64_t b = 0; b < nb; b++) {
		const int8_t *blk = (const int8_t *)(gw + b * RB_PK_Q8_BLOCK) + 16 * q;
		int32x4_t s[TMAX];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			s[t] = vdupq_n_s32(0);
#pragma GCC unroll 2
		for (int half = 0; half < 2; half++) {
			const int8x16_t w0 = vld1q_s8(blk + 64 * (4 * half + 0));
			const int8x16_t w1 = vld1q_s8(blk + 64 * (4 * half + 1));
			const int8x16_t w2 = vld1q_s8(blk + 64 * (4 * half + 2));
			const int8x16_t w3 = vld1q_s8(blk + 64 * (4 * half + 3));
#pragma GCC unroll 8
			for (int t = 0; t < T; t++) {
				const int8x16_t av = vld1q_s8(aq[t] + b * 32 + 16 * half);
				s[t] = vdotq_laneq_s32(s[t], w0, av, 0);
				s[t] = vdotq_laneq_s32(s[t], w1, av, 1);
				s[t] = vdotq_laneq_s32(s[t], w2, av, 2);
				s[t] = vdotq_laneq_s32(s[t], w3, av, 3);
			}
		}
		const float32x4_t dv =
			vld1q_f32((const float *)(gw + b * RB_PK_Q8_BLOCK + RB_PK_Q8_D) + 4 * q);
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const float32x4_t da = vdupq_n_f32(a->d[(t0 + t) * nb + b]);
			accf[t] = vfmaq_f32(accf[t], vcvtq_f32_s32(s[t]), vmulq_f32(dv, da));
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store4(A->y + (t0 + t) * A->ldy + row0, accf[t], q, n_valid);
}

/* ---- F16 / F32 ------------------------------------------------------------------ */

AI float32x4_t load_w(const uint8_t *gw, int64_t k, int q, const int f16)
{
	if (f16)
		return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(gw + 32 * k) + 4 * q)));
	return vld1q_f32((const float *)(gw + 64 * k) + 4 * q);
}

AI void float_quarter(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int q,
		      int n_valid, int64_t row0, const int f16)
{
	const int64_t K = A->w->n_in;
	const float *xt[TMAX];
	float32x4_t acc[TMAX];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) {
		xt[t] = A->x + (t0 + t) * A->ldx;
		acc[t] = vdupq_n_f32(0);
	}
	int64_t k = 0;
	for (; k + 4 <= K; k += 4) {
		const float32x4_t w0 = load_w(gw, k, q, f16), w1 = load_w(gw, k + 1, q, f16);
		const float32x4_t w2 = load_w(gw, k + 2, q, f16), w3 = load_w(gw, k + 3, q, f16);
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const float32x4_t xv = vld1q_f32(xt[t] + k);
			acc[t] = vfmaq_laneq_f32(acc[t], w0, xv, 0);
			acc[t] = vfmaq_laneq_f32(acc[t], w1, xv, 1);
			acc[t] = vfmaq_laneq_f32(acc[t], w2, xv, 2);
			acc[t] = vfmaq_laneq_f32(acc[t], w3, xv, 3);
		}
	}
	for (; k < K; k++) {
		const float32x4_t w = load_w(gw, k, q, f16);
#pragma GCC unroll 8
		for (int t = 0; t < T; t++)
			acc[t] = vfmaq_n_f32(acc[t], w, xt[t][k]);
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++)
		store4(A->y + (t0 + t) * A->ldy + row0, acc[t], q, n_valid);
}

AI void f16_quarter(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int q,
		    int n_valid, int64_t row0)
{
	float_quarter(A, gw, t0, T, q, n_valid, row0, 1);
}

AI void f32_quarter(const rb_gemm_args *A, const uint8_t *gw, int64_t t0, const int T, int q,
		    int n_valid, int64_t row0)
{
	float_quarter(A, gw, t0, T, q, n_valid, row0, 0);
}

/* ---- drivers ---------------------------------------------------------------------- */

/* A tile of T tokens: every quarter that has valid rows. */
#define QUARTERS(QUARTER, A, gw, t0, T, nv, row0)                               \
	do {                                                                    \
		for (int q_ = 0; q_ < 4 && 4 * q_ < (nv); q_++)                 \
			QUARTER(A, gw, t0, T, q_, nv, row0);                    \
	} while (0)

#define DEFINE_DRIVER(NAME, QUARTER)                                                          \
	static void NAME(const rb_gemm_args *A, int64_t g0, int64_t g1)                       \
	{                                                                                     \
		for (int64_t g = g0; g < g1; g++) {                                           \
			const uint8_t *gw = rb_pack_group(A->w, g);                           \
			const int64_t row0 = g * RB_PK_ROWS;                                  \
			const int64_t left = A->w->n_out - row0;                              \
			const int nv = left < RB_PK_ROWS ? (int)left : RB_PK_ROWS;            \
			int64_t t0 = 0;                                                       \
			for (; t0 + TMAX <= A->n_tok; t0 += TMAX)                             \
				QUARTERS(QUARTER, A, gw, t0, TMAX, nv, row0);                 \
			switch (A->n_tok - t0) {                                              \
			case 1: QUARTERS(QUARTER, A, gw, t0, 1, nv, row0); break;             \
			case 2: QUARTERS(QUARTER, A, gw, t0, 2, nv, row0); break;             \
			case 3: QUARTERS(QUARTER, A, gw, t0, 3, nv, row0); break;             \
			case 4: QUARTERS(QUARTER, A, gw, t0, 4, nv, row0); break;             \
			case 5: QUARTERS(QUARTER, A, gw, t0, 5, nv, row0); break;             \
			default: break;                                                       \
			}                                                                     \
		}                                                                             \
	}

DEFINE_DRIVER(gemm_q4k, q4k_quarter)
DEFINE_DRIVER(gemm_q6k, q6k_quarter)
DEFINE_DRIVER(gemm_q8, q8_quarter)
DEFINE_DRIVER(gemm_f16, f16_quarter)
DEFINE_DRIVER(gemm_f32, f32_quarter)

const rb_kernel_set rb_kernels_neon_dot = {
	.name = "neon-dotprod",
	.gemm = {
		[RB_PK_Q4K] = gemm_q4k,
		[RB_PK_Q6K] = gemm_q6k,
		[RB_PK_Q8] = gemm_q8,
		[RB_PK_F16] = gemm_f16,
		[RB_PK_F32] = gemm_f32,
	},
	.act_q8k = rb_act_q8k_row_neon,
	.act_q80 = rb_act_q80_row_neon,
};
