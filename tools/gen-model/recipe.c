/* SPDX-License-Identifier: MIT */
/* Per-tensor types. Facts from llama.cpp's quantizer (src/llama-quant.cpp,
 * llama_tensor_get_type_impl and tensor_type_fallback; file type numbers from
 * enum llama_ftype in include/llama.h):
 *  - Q4_K_M (ftype 15): Q4_K by default; attn_v and ffn_down get Q6_K in the
 *    "more bits" layers: i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2; the
 *    output matrix (token_embd too when it is tied to the output) Q6_K, or
 *    Q8_0 when its rows are not a multiple of 256; a separate token_embd
 *    keeps the default Q4_K.
 *  - Q8_0 (ftype 7) and F16 (ftype 1): every matrix of that type.
 *  - rows that a type's block does not divide fall back: Q4_K -> Q5_0,
 *    Q6_K -> Q8_0, and to F16 when even a 32-block does not fit.
 *  - one-dimensional tensors (norms, biases) stay F32. */
#include "recipe.h"

#include <string.h>

bool gen_ftype_parse(const char *s, enum gen_ftype *out)
{
	static const char *const names[] = {"f32", "f16", "q8_0", "q4_k_m"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum gen_ftype)i;
			return true;
		}
	}
	if (strcmp(s, "q4_K_M") == 0 || strcmp(s, "Q4_K_M") == 0) {
		*out = GEN_Q4_K_M;
		return true;
	}
	return false;
}

const char *gen_ftype_name(enum gen_ftype f)
{
	switch (f) {
	case GEN_F32: return "f32";
	case GEN_F16: return "f16";
	case GEN_Q8_0: return "q8_0";
	case GEN_Q4_K_M: return "q4_k_m";
	}
	return "?";
}

uint32_t gen_ftype_id(enum gen_ftype f)
{
	switch (f) {
	case GEN_F32: return 0;
	case GEN_F16: return 1;
	case GEN_Q8_0: return 7;
	case GEN_Q4_K_M: return 15;
	}
	return 0;
}

static bool use_more_bits(int i, int n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* A type whose block size divides n_in. */
static enum rb_type fallback(enum rb_type t, int64_t n_in)
{
	if (n_in % rb_type_block_size(t) == 0)
		return t;
	if (t == RB_TYPE_Q4_K)
		t = RB_TYPE_Q5_0;
	else if (t == RB_TYPE_Q6_K)
		t = RB_TYPE_Q8_0;
	return n_in % rb_type_block_size(t) == 0 ? t : RB_TYPE_F16;
}

enum rb_type gen_tensor_type(enum gen_ftype f, enum gen_role role, int il, int n_layer,
			     int64_t n_in, bool tied)
{
	if (role == ROLE_VECTOR || f == GEN_F32)
		return RB_TYPE_F32;
	if (f == GEN_F16)
		return RB_TYPE_F16;
	if (f == GEN_Q8_0)
		return fallback(RB_TYPE_Q8_0, n_in);
	/* Q4_K_M */
	if (role == ROLE_OUTPUT || (role == ROLE_TOKEN_EMBD && tied))
		return n_in % RB_QK_K ? fallback(RB_TYPE_Q8_0, n_in) : RB_TYPE_Q6_K;
	if ((role == ROLE_ATTN_V || role == ROLE_FFN_DOWN) && use_more_bits(il, n_layer))
		return fallback(RB_TYPE_Q6_K, n_in);
	return fallback(RB_TYPE_Q4_K, n_in);
}
