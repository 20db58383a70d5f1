/* SPDX-License-Identifier: MIT */
/* UTF-8 decoding and the Unicode classes the pre-tokenizers need. */
#ifndef RB_TOKENIZER_UNICODE_H
#define RB_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum rb_unicode_class {
	RB_UC_LETTER = 1u << 0, /* general category L* (\p{L}) */
	RB_UC_NUMBER = 1u << 1, /* general category N* (\p{N}) */
	RB_UC_SPACE = 1u << 2,  /* White_Space property (\s) */
};

struct rb_unicode_range {
	uint32_t first, last;
	uint8_t flags;
};

/* Generated table (unicode_tables.c). */
extern const struct rb_unicode_range rb_unicode_ranges[];
extern const unsigned rb_unicode_n_ranges;
extern const char rb_unicode_version[];

/* A byte that does not start a valid UTF-8 sequence decodes to
 * RB_CP_INVALID_BASE + byte: a "code point" with no class, kept so that the
 * byte itself can still be encoded. */
#define RB_CP_INVALID_BASE 0x110000u

/* Class flags of a code point (0 for invalid-byte code points). */
unsigned rb_unicode_flags(uint32_t cp);

/* Decode one character from s[0..n), n >= 1. Strict UTF-8 (no overlongs,
 * surrogates or values above U+10FFFF): on an invalid or truncated sequence
 * *cp = RB_CP_INVALID_BASE + s[0] and 1 is returned. Returns bytes used. */
size_t rb_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Encode a valid code point; returns bytes written (1..4). */
size_t rb_utf8_encode(uint32_t cp, char out[4]);

/* Length of the longest tail of s[0..n) that is the valid beginning of a
 * UTF-8 character still missing bytes (0..3). */
size_t rb_utf8_incomplete_tail(const uint8_t *s, size_t n);

#endif
