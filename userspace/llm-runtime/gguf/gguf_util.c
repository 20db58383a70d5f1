/* SPDX-License-Identifier: MIT */
/* Small pieces shared by the GGUF reader and writer: value type sizes and
 * names, UTF-8 validation, string compare/copy. */
#include "gguf_internal.h"

#include <stdlib.h>
#include <string.h>

/* Element sizes of the scalar value types (ggml docs/gguf.md,
 * gguf_metadata_value_type: all little endian, bool is one byte). */
size_t rb_gguf_vtype_size(uint32_t vtype)
{
	switch (vtype) {
	case RB_GGUF_UINT8: case RB_GGUF_INT8: case RB_GGUF_BOOL: return 1;
	case RB_GGUF_UINT16: case RB_GGUF_INT16: return 2;
	case RB_GGUF_UINT32: case RB_GGUF_INT32: case RB_GGUF_FLOAT32: return 4;
	case RB_GGUF_UINT64: case RB_GGUF_INT64: case RB_GGUF_FLOAT64: return 8;
	default: return 0;
	}
}

const char *rb_gguf_vtype_name(enum rb_gguf_vtype t)
{
	static const char *const names[RB_GGUF_VTYPE_COUNT] = {
		[RB_GGUF_UINT8] = "uint8",     [RB_GGUF_INT8] = "int8",
		[RB_GGUF_UINT16] = "uint16",   [RB_GGUF_INT16] = "int16",
		[RB_GGUF_UINT32] = "uint32",   [RB_GGUF_INT32] = "int32",
		[RB_GGUF_FLOAT32] = "float32", [RB_GGUF_BOOL] = "bool",
		[RB_GGUF_STRING] = "string",   [RB_GGUF_ARRAY] = "array",
		[RB_GGUF_UINT64] = "uint64",   [RB_GGUF_INT64] = "int64",
		[RB_GGUF_FLOAT64] = "float64",
	};
	return (unsigned)t < RB_GGUF_VTYPE_COUNT ? names[t] : "?";
}

/* Length of the UTF-8 sequence starting at s[0..left), or 0 if it is not a
 * valid, shortest-form encoding of a scalar value (RFC 3629, section 4). */
unsigned rb_gguf_utf8_seq_len(const uint8_t *s, uint64_t left)
{
	const uint8_t c = s[0];
	unsigned n;
	uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (unsigned i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

uint64_t rb_gguf_utf8_check(const char *str, uint64_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	uint64_t i = 0;
	while (i < len) {
		const unsigned n = rb_gguf_utf8_seq_len(s + i, len - i);
		if (!n)
			return i;
		i += n;
	}
	return len;
}

int rb_gguf_str_cmp(rb_gguf_str a, rb_gguf_str b)
{
	const uint64_t n = a.len < b.len ? a.len : b.len;
	const int c = n ? memcmp(a.data, b.data, (size_t)n) : 0;
	if (c)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

bool rb_gguf_align_up(uint64_t x, uint64_t align, uint64_t *out)
{
	uint64_t r;
	if (__builtin_add_overflow(x, align - 1, &r))
		return false;
	*out = r & ~(align - 1);
	return true;
}

bool rb_gguf_str_eq(rb_gguf_str s, const char *cstr)
{
	const size_t n = strlen(cstr);
	return s.len == n && (n == 0 || memcmp(s.data, cstr, n) == 0);
}

char *rb_gguf_str_dup(rb_gguf_str s)
{
	if (s.len >= SIZE_MAX)
		return NULL;
	char *p = malloc((size_t)s.len + 1);
	if (!p)
		return NULL;
	if (s.len)
		memcpy(p, s.data, (size_t)s.len);
	p[s.len] = '\0';
	return p;
}
