/* SPDX-License-Identifier: MIT */
/* Tensor element types and quantization block layouts as stored in GGUF files.
 *
 * The numeric type ids and the block layouts are the GGUF/ggml file format
 * (public facts, see docs/quant-formats.md); the code around them is our own. Every
 * block struct is checked against its on-disk size below. */
#ifndef ROSENBLATT_TYPES_H
#define ROSENBLATT_TYPES_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "rosenblatt/fp16.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Type ids as written in GGUF tensor infos. Gaps are ids retired by the format. */
enum rb_type {
	RB_TYPE_F32 = 0,
	RB_TYPE_F16 = 1,
	RB_TYPE_Q4_0 = 2,
	RB_TYPE_Q4_1 = 3,
	RB_TYPE_Q5_0 = 6,
	RB_TYPE_Q5_1 = 7,
	RB_TYPE_Q8_0 = 8,
	RB_TYPE_Q8_1 = 9,
	RB_TYPE_Q2_K = 10,
	RB_TYPE_Q3_K = 11,
	RB_TYPE_Q4_K = 12,
	RB_TYPE_Q5_K = 13,
	RB_TYPE_Q6_K = 14,
	RB_TYPE_Q8_K = 15,
	RB_TYPE_I8 = 24,
	RB_TYPE_I16 = 25,
	RB_TYPE_I32 = 26,
	RB_TYPE_I64 = 27,
	RB_TYPE_F64 = 28,
	RB_TYPE_BF16 = 30,
	RB_TYPE_COUNT = 40, /* upper bound of ids known to the format */
};

#define RB_QK4_0 32
#define RB_QK4_1 32
#define RB_QK5_0 32
#define RB_QK5_1 32
#define RB_QK8_0 32
#define RB_QK8_1 32
#define RB_QK_K 256          /* super-block size of the K-quants */
#define RB_K_SCALE_SIZE 12   /* packed 6-bit scales/mins of Q4_K/Q5_K */

/* 4-bit, scale only: x = (q - 8) * d. qs[j] holds element j (low nibble) and
 * element j + 16 (high nibble). */
typedef struct { rb_f16 d; uint8_t qs[RB_QK4_0 / 2]; } rb_block_q4_0;
/* 4-bit, scale + min: x = q * d + m. Nibble order as Q4_0. */
typedef struct { rb_f16 d; rb_f16 m; uint8_t qs[RB_QK4_1 / 2]; } rb_block_q4_1;
/* 5-bit: low nibbles as Q4_0, bit 4 of element j in bit j of qh (LE u32);
 * x = (q - 16) * d. */
typedef struct { rb_f16 d; uint8_t qh[4]; uint8_t qs[RB_QK5_0 / 2]; } rb_block_q5_0;
/* 5-bit with min: x = q * d + m. */
typedef struct { rb_f16 d; rb_f16 m; uint8_t qh[4]; uint8_t qs[RB_QK5_1 / 2]; } rb_block_q5_1;
/* 8-bit: x = q * d. */
typedef struct { rb_f16 d; int8_t qs[RB_QK8_0]; } rb_block_q8_0;
/* 8-bit activations with s = d * sum(qs) (used against Q4_1/Q5_1). */
typedef struct { rb_f16 d; rb_f16 s; int8_t qs[RB_QK8_1]; } rb_block_q8_1;

/* Q4_K: 256 values in 8 sub-blocks of 32; 6-bit scale and min per sub-block
 * packed in scales[12]; x = d * sc * q - dmin * m. */
typedef struct {
	rb_f16 d;
	rb_f16 dmin;
	uint8_t scales[RB_K_SCALE_SIZE];
	uint8_t qs[RB_QK_K / 2];
} rb_block_q4_k;

/* Q5_K: as Q4_K plus the fifth bit of every value in qh. */
typedef struct {
	rb_f16 d;
	rb_f16 dmin;
	uint8_t scales[RB_K_SCALE_SIZE];
	uint8_t qh[RB_QK_K / 8];
	uint8_t qs[RB_QK_K / 2];
} rb_block_q5_k;

/* Q6_K: 256 values in 16 sub-blocks of 16; low 4 bits in ql, high 2 bits in
 * qh, signed 8-bit scale per sub-block; x = d * scale * (q - 32). */
typedef struct {
	uint8_t ql[RB_QK_K / 2];
	uint8_t qh[RB_QK_K / 4];
	int8_t scales[RB_QK_K / 16];
	rb_f16 d;
} rb_block_q6_k;

/* Q8_K: activation format for dot products with the K-quants; bsums[i] is the
 * sum of qs[16*i .. 16*i+15]. */
typedef struct {
	float d;
	int8_t qs[RB_QK_K];
	int16_t bsums[RB_QK_K / 16];
} rb_block_q8_k;

static_assert(sizeof(rb_block_q4_0) == 18, "q4_0 block size");
static_assert(sizeof(rb_block_q4_1) == 20, "q4_1 block size");
static_assert(sizeof(rb_block_q5_0) == 22, "q5_0 block size");
static_assert(sizeof(rb_block_q5_1) == 24, "q5_1 block size");
static_assert(sizeof(rb_block_q8_0) == 34, "q8_0 block size");
static_assert(sizeof(rb_block_q8_1) == 36, "q8_1 block size");
static_assert(sizeof(rb_block_q4_k) == 144, "q4_K block size");
static_assert(sizeof(rb_block_q5_k) == 176, "q5_K block size");
static_assert(sizeof(rb_block_q6_k) == 210, "q6_K block size");
static_assert(sizeof(rb_block_q8_k) == 292, "q8_K block size");

/* Static description of a type. Functions are the scalar reference
 * implementations (userspace/llm-runtime/quant); NULL where a type has none. */
typedef struct rb_type_traits {
	const char *name;       /* "q4_K", "f16", ... as in GGUF tooling */
	int block_size;         /* elements per block (1 for plain types) */
	size_t type_size;       /* bytes per block */
	int is_quantized;
	/* dst[0..n) = value of src; n must be a multiple of block_size. */
	void (*to_float)(const void *src, float *dst, int64_t n);
	/* Quantize n floats (multiple of block_size) into dst; reference quality. */
	void (*from_float)(const float *src, void *dst, int64_t n);
	/* Activation type this weight type is dotted against (Q8_0, Q8_1, Q8_K, F32). */
	enum rb_type vec_dot_type;
	/* *s = dot(x (this type), y (vec_dot_type)), n elements. Scalar reference. */
	void (*vec_dot)(int64_t n, float *s, const void *x, const void *y);
} rb_type_traits;

/* NULL for ids that are not (or no longer) types, or that have no kernels
 * (userspace/llm-runtime/quant). */
const rb_type_traits *rb_type_traits_get(enum rb_type type);
/* Name/size queries (userspace/llm-runtime/common/types.c). */
const char *rb_type_name(enum rb_type type); /* "?" when unknown */
int rb_type_is_valid(uint32_t id);           /* known id with a known size */
int rb_type_block_size(enum rb_type type);   /* 0 when unknown */
size_t rb_type_size(enum rb_type type);      /* bytes per block, 0 when unknown */

/* Bytes of a row of n elements; 0 if n is not a multiple of the block size
 * or the type is unknown. */
size_t rb_row_size(enum rb_type type, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
