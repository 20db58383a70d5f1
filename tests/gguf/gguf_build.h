/* SPDX-License-Identifier: MIT */
/* A tiny, independent GGUF byte encoder for the tests: builds files field by
 * field (straight from the spec, not through the library's writer) so that
 * tests can craft exact layouts, including broken ones. */
#ifndef RB_TEST_GGUF_BUILD_H
#define RB_TEST_GGUF_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gb {
	uint8_t *p;
	size_t n, cap;
} gb;

static inline void gb_bytes(gb *b, const void *s, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q)
			abort();
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
}

static inline void gb_u8(gb *b, uint8_t v)
{
	gb_bytes(b, &v, 1);
}

static inline void gb_le(gb *b, uint64_t v, int nbytes)
{
	for (int i = 0; i < nbytes; i++)
		gb_u8(b, (uint8_t)(v >> (8 * i)));
}

static inline void gb_u16(gb *b, uint16_t v) { gb_le(b, v, 2); }
static inline void gb_u32(gb *b, uint32_t v) { gb_le(b, v, 4); }
static inline void gb_u64(gb *b, uint64_t v) { gb_le(b, v, 8); }

static inline void gb_f32(gb *b, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	gb_u32(b, u);
}

static inline void gb_f64(gb *b, double f)
{
	uint64_t u;
	memcpy(&u, &f, 8);
	gb_u64(b, u);
}

/* GGUF string: u64 length + bytes. */
static inline void gb_strn(gb *b, const char *s, size_t n)
{
	gb_u64(b, n);
	gb_bytes(b, s, n);
}
static inline void gb_str(gb *b, const char *s)
{
	gb_strn(b, s, strlen(s));
}

/* Header: magic "GGUF", version, n_tensors, n_kv. */
static inline void gb_header(gb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	gb_bytes(b, "GGUF", 4);
	gb_u32(b, version);
	gb_u64(b, n_tensors);
	gb_u64(b, n_kv);
}

/* Key + value type (the value follows, written by the caller). */
static inline void gb_key(gb *b, const char *key, uint32_t vtype)
{
	gb_str(b, key);
	gb_u32(b, vtype);
}

static inline void gb_kv_u32(gb *b, const char *key, uint32_t v)
{
	gb_key(b, key, 4);
	gb_u32(b, v);
}

static inline void gb_kv_str(gb *b, const char *key, const char *v)
{
	gb_key(b, key, 8);
	gb_str(b, v);
}

/* Tensor info: name, n_dims, ne[], type, offset. */
static inline void gb_tensor(gb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
			     uint32_t type, uint64_t offset)
{
	gb_str(b, name);
	gb_u32(b, n_dims);
	for (uint32_t i = 0; i < n_dims; i++)
		gb_u64(b, ne[i]);
	gb_u32(b, type);
	gb_u64(b, offset);
}

/* Zero bytes up to a multiple of align. */
static inline void gb_pad(gb *b, size_t align)
{
	while (b->n % align)
		gb_u8(b, 0);
}

static inline void gb_zeros(gb *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		gb_u8(b, 0);
}

static inline void gb_free(gb *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

#endif
