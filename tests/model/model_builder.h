/* SPDX-License-Identifier: MIT */
/* Tiny llama/qwen2 GGUF models built in memory for the model tests, with knobs
 * to break them (missing tensor, wrong shape, foreign metadata). Independent
 * of tools/gen-model on purpose: a generator bug must not hide a runtime bug. */
#ifndef RB_TEST_MODEL_BUILDER_H
#define RB_TEST_MODEL_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rosenblatt/gguf.h"
#include "rosenblatt/types.h"

struct tm_spec {
	const char *arch;     /* "qwen2" or "llama" (or anything, to test refusals) */
	int64_t n_vocab, n_embd, n_layer, n_ff, n_head, n_head_kv, n_ctx;
	int64_t n_rot;        /* 0: do not write rope.dimension_count */
	float rope_base, eps;
	bool tied;            /* no output.weight */
	enum rb_type wtype;   /* matrices */
	enum rb_type embd_type;
	uint64_t seed;
	const char *omit;     /* tensor name left out, or NULL */
	const char *bad_shape; /* tensor written with ne[1] + 1 rows, or NULL */
	/* extra metadata, e.g. {"qwen2.rope.scaling.type", "linear"} */
	const char *extra_key, *extra_str;
};

/* Defaults: a 2-layer qwen2 with n_embd 256, 4 heads / 2 KV heads (GQA),
 * n_ff 512, vocab 300, context 64, f32. */
struct tm_spec tm_default(void);

/* Build the GGUF into a malloc'd buffer. Returns 0 on success. */
int tm_build(const struct tm_spec *s, void **data, size_t *size);

#endif
