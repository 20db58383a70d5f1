/* SPDX-License-Identifier: MIT */
/* Token sampling from logits.
 *
 * Pipeline, in this order (the order llama.cpp's default sampler chain uses,
 * so that the same flags mean the same thing):
 *   1. repetition penalty over the last repeat_last_n accepted tokens
 *      (each distinct token once: logit > 0 ? logit / penalty : logit * penalty);
 *   2. temp <= 0: greedy (argmax, lowest id on ties), stop here;
 *   3. top-k: keep the k largest logits (k <= 0: all);
 *   4. softmax over what is left (temperature 1);
 *   5. top-p: keep the smallest highest-probability set whose mass reaches p;
 *   6. min-p: keep tokens with p >= min_p * p_max;
 *   7. temperature: p ~ exp(logit / temp) over what is left;
 *   8. draw with the sampler's own PRNG (deterministic for a given seed).
 * No allocation after creation. */
#ifndef ROSENBLATT_SAMPLER_H
#define ROSENBLATT_SAMPLER_H

#include <stdint.h>

#include "rosenblatt/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rb_sampler_params {
	float temp;             /* <= 0: greedy */
	int32_t top_k;          /* <= 0: off */
	float top_p;            /* >= 1: off */
	float min_p;            /* <= 0: off */
	float repeat_penalty;   /* 1: off */
	int32_t repeat_last_n;  /* tokens of history the penalty looks at (0: off) */
	uint64_t seed;
} rb_sampler_params;

/* temp 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat-penalty 1.0 over 64, seed 0. */
rb_sampler_params rb_sampler_default_params(void);

typedef struct rb_sampler rb_sampler;

/* A candidate token: its (penalized) logit and its final probability. */
typedef struct rb_token_prob {
	int32_t id;
	float logit;
	float p;
} rb_token_prob;

rb_sampler *rb_sampler_create(const rb_sampler_params *p, int64_t n_vocab, rb_err *err);
void rb_sampler_free(rb_sampler *s);

/* Pick the next token from n_vocab logits (not modified). Does not record it:
 * call rb_sampler_accept for every token that enters the context. */
int32_t rb_sampler_sample(rb_sampler *s, const float *logits);

/* Steps 1-7 only: the surviving candidates, sorted by probability (then id),
 * probabilities summing to 1. Valid until the next call on s. Returns the
 * count (>= 1). Greedy gives the single argmax with p = 1. */
int64_t rb_sampler_candidates(rb_sampler *s, const float *logits, const rb_token_prob **out);

/* Record a token of the context (prompt or generated) for the penalty. */
void rb_sampler_accept(rb_sampler *s, int32_t token);
/* Forget the history and reseed. */
void rb_sampler_reset(rb_sampler *s, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
