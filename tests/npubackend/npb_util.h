/* SPDX-License-Identifier: MIT */
/* Helpers of the npu backend tests: random GGUF-typed weights, and the
 * references the backend is checked against. Everything here is written
 * independently of userspace/llm-runtime/npu (plain loops, double sums). */
#ifndef NPB_UTIL_H
#define NPB_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/matmul.h"
#include "rosenblatt/quant.h"
#include "rosenblatt/types.h"
#include "test.h"

/* A weight of `type`, n_out x n_in, from random floats whose rows differ
 * in magnitude (0.02 .. 2: per-channel scales matter) with a few outlier
 * entries (|w| up to 8x the row's typical size). */
typedef struct npb_weight {
	rb_weight w;
	void *data;
	float *f; /* the dequantized values (what the weight means) */
} npb_weight;

static inline void npb_weight_make(npb_weight *nw, enum rb_type type, int64_t n_in,
				   int64_t n_out, uint64_t seed)
{
	const size_t row = rb_row_size(type, n_in);
	REQUIRE(row > 0);
	float *src = malloc((size_t)n_in * sizeof(float));
	nw->data = malloc(row * (size_t)n_out);
	nw->f = malloc((size_t)n_in * (size_t)n_out * sizeof(float));
	REQUIRE(src && nw->data && nw->f);
	uint64_t s = seed;
	for (int64_t o = 0; o < n_out; o++) {
		const float mag = 0.02f + 1.98f * (float)(rb_test_rand_u64(&s) % 1000) / 1000.0f;
		for (int64_t i = 0; i < n_in; i++) {
			float v = rb_test_rand_f32(&s) * mag;
			if (rb_test_rand_u64(&s) % 97 == 0)
				v *= 8.0f;
			src[i] = v;
		}
		REQUIRE(rb_quantize_row(type, src, (uint8_t *)nw->data + (size_t)o * row, n_in) == RB_OK);
		REQUIRE(rb_dequantize_row(type, (uint8_t *)nw->data + (size_t)o * row,
					  nw->f + (size_t)o * (size_t)n_in, n_in) == RB_OK);
	}
	free(src);
	memset(&nw->w, 0, sizeof(nw->w));
	nw->w.name = "test.weight";
	nw->w.type = type;
	nw->w.n_in = n_in;
	nw->w.n_out = n_out;
	nw->w.data = nw->data;
}

static inline void npb_weight_free(npb_weight *nw)
{
	free(nw->data);
	free(nw->f);
}

/* Activations: n rows of n_in floats (stride ld), typical magnitude 1 with
 * a few larger entries, as hidden states have. */
static inline float *npb_acts(int64_t n, int64_t n_in, int64_t ld, uint64_t seed)
{
	float *x = malloc((size_t)(n > 0 ? n : 1) * (size_t)ld * sizeof(float));
	REQUIRE(x);
	uint64_t s = seed;
	for (int64_t t = 0; t < n; t++)
		for (int64_t i = 0; i < ld; i++) {
			float v = rb_test_rand_f32(&s);
			if (rb_test_rand_u64(&s) % 61 == 0)
				v *= 20.0f;
			x[t * ld + i] = i < n_in ? v : NAN; /* padding must never be read */
		}
	return x;
}

/* The documented int8 recipe (docs/npu-backend.md), written out plainly:
 * d = amax / 127, q = round half to even of clamp(v / d ...) as v * (1 / d). */
static inline float npb_q8_row(const float *v, int64_t n, int8_t *q)
{
	float amax = 0;
	for (int64_t i = 0; i < n; i++)
		amax = fabsf(v[i]) > amax ? fabsf(v[i]) : amax;
	const float d = amax / 127.0f;
	const float inv = d > 0 ? 1.0f / d : 0.0f;
	for (int64_t i = 0; i < n; i++) {
		float s = v[i] * inv;
		s = s > 127.0f ? 127.0f : s < -127.0f ? -127.0f : s;
		q[i] = (int8_t)rintf(s);
	}
	return d;
}

#endif
