/* SPDX-License-Identifier: MIT */
/* Tensor types of the synthetic models per file type, following the recipes
 * llama.cpp's quantizer applies (see recipe.c for the facts and where they
 * come from). */
#ifndef RB_GEN_MODEL_RECIPE_H
#define RB_GEN_MODEL_RECIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "rosenblatt/types.h"

enum gen_ftype {
	GEN_F32,
	GEN_F16,
	GEN_Q8_0,
	GEN_Q4_K_M,
};

enum gen_role {
	ROLE_TOKEN_EMBD,
	ROLE_OUTPUT,
	ROLE_ATTN_Q,
	ROLE_ATTN_K,
	ROLE_ATTN_V,
	ROLE_ATTN_OUTPUT,
	ROLE_FFN_GATE,
	ROLE_FFN_UP,
	ROLE_FFN_DOWN,
	ROLE_VECTOR, /* norms and biases: always F32 */
};

/* "f32", "f16", "q8_0", "q4_k_m"; false if unknown. */
bool gen_ftype_parse(const char *s, enum gen_ftype *out);
const char *gen_ftype_name(enum gen_ftype f);
/* general.file_type value (llama.cpp's enum llama_ftype). */
uint32_t gen_ftype_id(enum gen_ftype f);

/* The type of a tensor of role `role` in layer il of n_layer, whose rows
 * have n_in elements; tied: token_embd doubles as the output matrix. */
enum rb_type gen_tensor_type(enum gen_ftype f, enum gen_role role, int il, int n_layer,
			     int64_t n_in, bool tied);

#endif
