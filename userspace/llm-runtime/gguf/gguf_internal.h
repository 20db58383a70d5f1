/* SPDX-License-Identifier: MIT */
/* Helpers shared by the GGUF reader, writer and printer (not a public API). */
#ifndef RB_GGUF_INTERNAL_H
#define RB_GGUF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rosenblatt/gguf.h"

/* The spec limits keys to 2^16 - 1 bytes (ggml docs/gguf.md, gguf_metadata_kv_t). */
#define RB_GGUF_MAX_KEY_LEN 65535u

/* Bytes of one element of a scalar value type; 0 for STRING, ARRAY and
 * unknown ids (they have no fixed size). */
size_t rb_gguf_vtype_size(uint32_t vtype);

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
 * Returns the byte index of the first bad sequence, or len if all is valid. */
uint64_t rb_gguf_utf8_check(const char *s, uint64_t len);
/* Length of the valid UTF-8 sequence at s (left > 0 bytes available), 0 if
 * the bytes there are not one. */
unsigned rb_gguf_utf8_seq_len(const uint8_t *s, uint64_t left);

/* Total order on GGUF strings used for the sorted lookup indexes:
 * bytewise, a proper prefix sorts first. */
int rb_gguf_str_cmp(rb_gguf_str a, rb_gguf_str b);

/* Round x up to a multiple of the power of two `align`; false on overflow. */
bool rb_gguf_align_up(uint64_t x, uint64_t align, uint64_t *out);

static inline bool rb_gguf_is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* Little-endian loads/stores from possibly unaligned memory. */
static inline uint16_t rb_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t rb_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t rb_le64(const uint8_t *p)
{
	return (uint64_t)rb_le32(p) | ((uint64_t)rb_le32(p + 4) << 32);
}
static inline void rb_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void rb_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
