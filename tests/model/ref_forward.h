/* SPDX-License-Identifier: MIT */
/* An independent, deliberately plain forward pass for the model tests: weights
 * dequantized to double, every position recomputed from scratch (no KV cache),
 * RoPE angles and softmax in double. Reads the GGUF on its own. */
#ifndef RB_TEST_REF_FORWARD_H
#define RB_TEST_REF_FORWARD_H

#include <stdint.h>

#include "rosenblatt/gguf.h"

/* logits[t * n_vocab + v] for every position t < n of tokens (from position
 * 0). Returns a malloc'd array; *n_vocab receives the vocabulary size. */
double *ref_forward(const rb_gguf *g, const int32_t *tokens, int64_t n, int64_t *n_vocab);

#endif
