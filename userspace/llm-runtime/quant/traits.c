/* SPDX-License-Identifier: MIT */
/* rb_type_traits_get(): the table of scalar reference functions per type, and
 * the generic entry points of rosenblatt/quant.h that dispatch through it. */
#include "rosenblatt/quant.h"

/* The table stores type-erased pointers; these adapters give each typed
 * reference function the uniform signature without casting function
 * pointers (calling through a mismatched function type is undefined). */
#define ADAPT_ROW(tname, btype)                                                      \
	static void to_float_##tname(const void *src, float *dst, int64_t n)         \
	{                                                                             \
		rb_dequantize_row_##tname((const btype *)src, dst, n);               \
	}                                                                             \
	static void from_float_##tname(const float *src, void *dst, int64_t n)       \
	{                                                                             \
		rb_quantize_row_##tname(src, (btype *)dst, n);                       \
	}

#define ADAPT_DOT(tname, xtype, ytype)                                               \
	static void vec_dot_##tname(int64_t n, float *s, const void *x, const void *y) \
	{                                                                             \
		*s = rb_ref_dot_##tname(n, (const xtype *)x, (const ytype *)y);      \
	}

ADAPT_ROW(f32, float)
ADAPT_ROW(f16, rb_f16)
ADAPT_ROW(bf16, rb_bf16)
ADAPT_ROW(q4_0, rb_block_q4_0)
ADAPT_ROW(q4_1, rb_block_q4_1)
ADAPT_ROW(q5_0, rb_block_q5_0)
ADAPT_ROW(q5_1, rb_block_q5_1)
ADAPT_ROW(q8_0, rb_block_q8_0)
ADAPT_ROW(q8_1, rb_block_q8_1)
ADAPT_ROW(q4_K, rb_block_q4_k)
ADAPT_ROW(q5_K, rb_block_q5_k)
ADAPT_ROW(q6_K, rb_block_q6_k)
ADAPT_ROW(q8_K, rb_block_q8_k)

ADAPT_DOT(f32_f32, float, float)
ADAPT_DOT(f16_f32, rb_f16, float)
ADAPT_DOT(bf16_f32, rb_bf16, float)
ADAPT_DOT(q4_0_q8_0, rb_block_q4_0, rb_block_q8_0)
ADAPT_DOT(q4_1_q8_1, rb_block_q4_1, rb_block_q8_1)
ADAPT_DOT(q5_0_q8_0, rb_block_q5_0, rb_block_q8_0)
ADAPT_DOT(q5_1_q8_1, rb_block_q5_1, rb_block_q8_1)
ADAPT_DOT(q8_0_q8_0, rb_block_q8_0, rb_block_q8_0)
ADAPT_DOT(q4_K_q8_K, rb_block_q4_k, rb_block_q8_k)
ADAPT_DOT(q5_K_q8_K, rb_block_q5_k, rb_block_q8_k)
ADAPT_DOT(q6_K_q8_K, rb_block_q6_k, rb_block_q8_k)

#define ENTRY(id, tname, bs, btype, quantized, dot_type, dot)                        \
	[id] = {                                                                      \
		.name = #tname,                                                       \
		.block_size = bs,                                                     \
		.type_size = sizeof(btype),                                           \
		.is_quantized = quantized,                                            \
		.to_float = to_float_##tname,                                         \
		.from_float = from_float_##tname,                                     \
		.vec_dot_type = dot_type,                                             \
		.vec_dot = dot,                                                       \
	}

static const rb_type_traits k_traits[RB_TYPE_COUNT] = {
	ENTRY(RB_TYPE_F32, f32, 1, float, 0, RB_TYPE_F32, vec_dot_f32_f32),
	ENTRY(RB_TYPE_F16, f16, 1, rb_f16, 0, RB_TYPE_F32, vec_dot_f16_f32),
	ENTRY(RB_TYPE_BF16, bf16, 1, rb_bf16, 0, RB_TYPE_F32, vec_dot_bf16_f32),
	ENTRY(RB_TYPE_Q4_0, q4_0, RB_QK4_0, rb_block_q4_0, 1, RB_TYPE_Q8_0, vec_dot_q4_0_q8_0),
	ENTRY(RB_TYPE_Q4_1, q4_1, RB_QK4_1, rb_block_q4_1, 1, RB_TYPE_Q8_1, vec_dot_q4_1_q8_1),
	ENTRY(RB_TYPE_Q5_0, q5_0, RB_QK5_0, rb_block_q5_0, 1, RB_TYPE_Q8_0, vec_dot_q5_0_q8_0),
	ENTRY(RB_TYPE_Q5_1, q5_1, RB_QK5_1, rb_block_q5_1, 1, RB_TYPE_Q8_1, vec_dot_q5_1_q8_1),
	ENTRY(RB_TYPE_Q8_0, q8_0, RB_QK8_0, rb_block_q8_0, 1, RB_TYPE_Q8_0, vec_dot_q8_0_q8_0),
	/* activation-only types: no dot product of their own */
	ENTRY(RB_TYPE_Q8_1, q8_1, RB_QK8_1, rb_block_q8_1, 1, RB_TYPE_Q8_1, NULL),
	ENTRY(RB_TYPE_Q4_K, q4_K, RB_QK_K, rb_block_q4_k, 1, RB_TYPE_Q8_K, vec_dot_q4_K_q8_K),
	ENTRY(RB_TYPE_Q5_K, q5_K, RB_QK_K, rb_block_q5_k, 1, RB_TYPE_Q8_K, vec_dot_q5_K_q8_K),
	ENTRY(RB_TYPE_Q6_K, q6_K, RB_QK_K, rb_block_q6_k, 1, RB_TYPE_Q8_K, vec_dot_q6_K_q8_K),
	ENTRY(RB_TYPE_Q8_K, q8_K, RB_QK_K, rb_block_q8_k, 1, RB_TYPE_Q8_K, NULL),
};

const rb_type_traits *rb_type_traits_get(enum rb_type type)
{
	if ((unsigned)type >= RB_TYPE_COUNT || k_traits[type].name == NULL)
		return NULL;
	return &k_traits[type];
}

/* Traits of type when n elements form whole blocks, else the error code. */
static int check_row(enum rb_type type, int64_t n, const rb_type_traits **out)
{
	const rb_type_traits *t = rb_type_traits_get(type);
	if (!t)
		return RB_E_UNSUPPORTED;
	if (n < 0 || n % t->block_size)
		return RB_E_INVALID;
	*out = t;
	return RB_OK;
}

int rb_quantize_row(enum rb_type type, const float *src, void *dst, int64_t n)
{
	const rb_type_traits *t;
	const int rc = check_row(type, n, &t);
	if (rc == RB_OK)
		t->from_float(src, dst, n);
	return rc;
}

int rb_dequantize_row(enum rb_type type, const void *src, float *dst, int64_t n)
{
	const rb_type_traits *t;
	const int rc = check_row(type, n, &t);
	if (rc == RB_OK)
		t->to_float(src, dst, n);
	return rc;
}

int rb_vec_dot(enum rb_type type, int64_t n, float *s, const void *x, const void *y)
{
	const rb_type_traits *t;
	const int rc = check_row(type, n, &t);
	if (rc != RB_OK)
		return rc;
	if (!t->vec_dot)
		return RB_E_UNSUPPORTED;
	t->vec_dot(n, s, x, y);
	return RB_OK;
}
