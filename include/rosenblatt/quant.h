/* SPDX-License-Identifier: MIT */
/* Scalar reference (de)quantization and dot products for the GGUF tensor types.
 *
 * These are the definitions every SIMD kernel is tested against. Block layouts
 * and value formulas: include/rosenblatt/types.h and docs/quant-formats.md.
 *
 * Conventions
 * - n (elements) must be a multiple of the type's block size; the per-type
 *   functions process n / block_size whole blocks and never touch more.
 * - Quantizers are thread safe (no global state) and deterministic.
 * - Activation quantizers (Q8_0, Q8_1, Q8_K) are symmetric: q in [-127, 127]
 *   (never -128, so SIMD kernels may negate or take |q| freely);
 *   q = round-half-even(x * (1 / d)) with d the *stored* scale (for Q8_0/Q8_1
 *   the f16-rounded value, for Q8_K the float), d = amax / 127. This matches
 *   cvtps2dq / fcvtns based SIMD code bit for bit.
 * - Non-finite input never crashes: NaN quantizes as 0 and +-Inf as the
 *   largest finite float (so scales saturate at the format's maximum). Only
 *   the affected block changes.
 * - Weight quantizers search per-(sub-)block scales (and mins) minimizing a
 *   weighted squared error, weights 1 + x^2 / (4 mean(x^2)) over the block. */
#ifndef ROSENBLATT_QUANT_H
#define ROSENBLATT_QUANT_H

#include <stdint.h>

#include "rosenblatt/error.h"
#include "rosenblatt/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- generic entry points (dispatch on the type) ---------------------- */

/* Quantize n floats of src into dst (rb_row_size(type, n) bytes). F32, F16,
 * BF16 and every quantized type incl. Q8_0/Q8_1/Q8_K. Returns RB_OK,
 * RB_E_INVALID (n not a multiple of the block size, n < 0) or RB_E_UNSUPPORTED. */
int rb_quantize_row(enum rb_type type, const float *src, void *dst, int64_t n);

/* dst[0..n) = values of src. Same return codes as rb_quantize_row. */
int rb_dequantize_row(enum rb_type type, const void *src, float *dst, int64_t n);

/* Quantize a matrix of nrows rows of n_per_row floats, rows stored back to
 * back in both src and dst (dst row stride = rb_row_size(type, n_per_row)).
 * Rows are spread over n_threads threads (<= 0: rb_default_threads());
 * small jobs run on the caller. Returns RB_OK or an error described in err. */
int rb_quantize_rows(enum rb_type type, const float *src, void *dst, int64_t nrows,
		     int64_t n_per_row, int n_threads, rb_err *err);

/* *s = dot(x, y) over n elements, x of `type`, y of its activation type
 * (rb_type_traits_get(type)->vec_dot_type). Same return codes. */
int rb_vec_dot(enum rb_type type, int64_t n, float *s, const void *x, const void *y);

/* ---- activation quantizers ------------------------------------------- */

void rb_quantize_row_q8_0(const float *x, rb_block_q8_0 *y, int64_t n);
void rb_quantize_row_q8_1(const float *x, rb_block_q8_1 *y, int64_t n);
void rb_quantize_row_q8_K(const float *x, rb_block_q8_k *y, int64_t n);

/* ---- weight quantizers (reference quality, slow-ish) ----------------- */

void rb_quantize_row_f32(const float *x, float *y, int64_t n);
void rb_quantize_row_f16(const float *x, rb_f16 *y, int64_t n);
void rb_quantize_row_bf16(const float *x, rb_bf16 *y, int64_t n);
void rb_quantize_row_q4_0(const float *x, rb_block_q4_0 *y, int64_t n);
void rb_quantize_row_q4_1(const float *x, rb_block_q4_1 *y, int64_t n);
void rb_quantize_row_q5_0(const float *x, rb_block_q5_0 *y, int64_t n);
void rb_quantize_row_q5_1(const float *x, rb_block_q5_1 *y, int64_t n);
void rb_quantize_row_q4_K(const float *x, rb_block_q4_k *y, int64_t n);
void rb_quantize_row_q5_K(const float *x, rb_block_q5_k *y, int64_t n);
void rb_quantize_row_q6_K(const float *x, rb_block_q6_k *y, int64_t n);

/* ---- dequantization ----------------------------------------------------- */

void rb_dequantize_row_f32(const float *x, float *y, int64_t n);
void rb_dequantize_row_f16(const rb_f16 *x, float *y, int64_t n);
void rb_dequantize_row_bf16(const rb_bf16 *x, float *y, int64_t n);
void rb_dequantize_row_q4_0(const rb_block_q4_0 *x, float *y, int64_t n);
void rb_dequantize_row_q4_1(const rb_block_q4_1 *x, float *y, int64_t n);
void rb_dequantize_row_q5_0(const rb_block_q5_0 *x, float *y, int64_t n);
void rb_dequantize_row_q5_1(const rb_block_q5_1 *x, float *y, int64_t n);
void rb_dequantize_row_q8_0(const rb_block_q8_0 *x, float *y, int64_t n);
void rb_dequantize_row_q8_1(const rb_block_q8_1 *x, float *y, int64_t n);
void rb_dequantize_row_q4_K(const rb_block_q4_k *x, float *y, int64_t n);
void rb_dequantize_row_q5_K(const rb_block_q5_k *x, float *y, int64_t n);
void rb_dequantize_row_q6_K(const rb_block_q6_k *x, float *y, int64_t n);
void rb_dequantize_row_q8_K(const rb_block_q8_k *x, float *y, int64_t n);

/* ---- scalar reference dot products -------------------------------------
 * Integer sums inside each block, as the formats intend; one float
 * multiply-add per block (per super-block for the K-quants) accumulated in
 * float in element order. F32/F16/BF16 x F32 accumulate in double.
 * rb_ref_*: slow definitions that kernels are tested against (the scalar
 * vec.h table uses the F32/F16 ones); hot paths call rosenblatt/vec.h or a
 * matmul backend. */

float rb_ref_dot_f32_f32(int64_t n, const float *x, const float *y);
float rb_ref_dot_f16_f32(int64_t n, const rb_f16 *x, const float *y);
float rb_ref_dot_bf16_f32(int64_t n, const rb_bf16 *x, const float *y);
float rb_ref_dot_q4_0_q8_0(int64_t n, const rb_block_q4_0 *x, const rb_block_q8_0 *y);
float rb_ref_dot_q4_1_q8_1(int64_t n, const rb_block_q4_1 *x, const rb_block_q8_1 *y);
float rb_ref_dot_q5_0_q8_0(int64_t n, const rb_block_q5_0 *x, const rb_block_q8_0 *y);
float rb_ref_dot_q5_1_q8_1(int64_t n, const rb_block_q5_1 *x, const rb_block_q8_1 *y);
float rb_ref_dot_q8_0_q8_0(int64_t n, const rb_block_q8_0 *x, const rb_block_q8_0 *y);
float rb_ref_dot_q4_K_q8_K(int64_t n, const rb_block_q4_k *x, const rb_block_q8_k *y);
float rb_ref_dot_q5_K_q8_K(int64_t n, const rb_block_q5_k *x, const rb_block_q8_k *y);
float rb_ref_dot_q6_K_q8_K(int64_t n, const rb_block_q6_k *x, const rb_block_q8_k *y);

/* ---- block field helpers for kernel writers --------------------------- */

/* 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block. */
void rb_k_get_scale_min(const uint8_t scales[RB_K_SCALE_SIZE], int j, uint8_t *sc, uint8_t *m);
/* Inverse of rb_k_get_scale_min for all 8 sub-blocks (values must be < 64). */
void rb_k_pack_scale_min(uint8_t scales[RB_K_SCALE_SIZE], const uint8_t sc[8], const uint8_t m[8]);

#ifdef __cplusplus
}
#endif
#endif
