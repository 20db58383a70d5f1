/* SPDX-License-Identifier: MIT */
/* Names and sizes of the GGUF tensor types (file-format facts). The scalar
 * conversion/dot functions live in ../quant (rb_type_traits_get). */
#include "rosenblatt/types.h"

#include <stdint.h>

struct type_info {
	const char *name;
	int block_size;
	size_t type_size;
};

static const struct type_info k_types[RB_TYPE_COUNT] = {
	[RB_TYPE_F32] = {"f32", 1, 4},
	[RB_TYPE_F16] = {"f16", 1, 2},
	[RB_TYPE_Q4_0] = {"q4_0", RB_QK4_0, sizeof(rb_block_q4_0)},
	[RB_TYPE_Q4_1] = {"q4_1", RB_QK4_1, sizeof(rb_block_q4_1)},
	[RB_TYPE_Q5_0] = {"q5_0", RB_QK5_0, sizeof(rb_block_q5_0)},
	[RB_TYPE_Q5_1] = {"q5_1", RB_QK5_1, sizeof(rb_block_q5_1)},
	[RB_TYPE_Q8_0] = {"q8_0", RB_QK8_0, sizeof(rb_block_q8_0)},
	[RB_TYPE_Q8_1] = {"q8_1", RB_QK8_1, sizeof(rb_block_q8_1)},
	[RB_TYPE_Q2_K] = {"q2_K", RB_QK_K, 84},  /* size known, no kernels */
	[RB_TYPE_Q3_K] = {"q3_K", RB_QK_K, 110}, /* size known, no kernels */
	[RB_TYPE_Q4_K] = {"q4_K", RB_QK_K, sizeof(rb_block_q4_k)},
	[RB_TYPE_Q5_K] = {"q5_K", RB_QK_K, sizeof(rb_block_q5_k)},
	[RB_TYPE_Q6_K] = {"q6_K", RB_QK_K, sizeof(rb_block_q6_k)},
	[RB_TYPE_Q8_K] = {"q8_K", RB_QK_K, sizeof(rb_block_q8_k)},
	[RB_TYPE_I8] = {"i8", 1, 1},
	[RB_TYPE_I16] = {"i16", 1, 2},
	[RB_TYPE_I32] = {"i32", 1, 4},
	[RB_TYPE_I64] = {"i64", 1, 8},
	[RB_TYPE_F64] = {"f64", 1, 8},
	[RB_TYPE_BF16] = {"bf16", 1, 2},
};

int rb_type_is_valid(uint32_t id)
{
	return id < RB_TYPE_COUNT && k_types[id].name != NULL;
}

const char *rb_type_name(enum rb_type type)
{
	return rb_type_is_valid((uint32_t)type) ? k_types[type].name : "?";
}

size_t rb_row_size(enum rb_type type, int64_t n)
{
	if (!rb_type_is_valid((uint32_t)type) || n < 0)
		return 0;
	const struct type_info *t = &k_types[type];
	if (n % t->block_size)
		return 0;
	const uint64_t blocks = (uint64_t)n / (uint64_t)t->block_size;
	if (blocks > SIZE_MAX / t->type_size)
		return 0;
	return (size_t)blocks * t->type_size;
}

int rb_type_block_size(enum rb_type type)
{
	return rb_type_is_valid((uint32_t)type) ? k_types[type].block_size : 0;
}

size_t rb_type_size(enum rb_type type)
{
	return rb_type_is_valid((uint32_t)type) ? k_types[type].type_size : 0;
}
