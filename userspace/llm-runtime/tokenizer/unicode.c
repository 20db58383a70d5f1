/* SPDX-License-Identifier: MIT */
/* UTF-8 per RFC 3629 / Unicode Table 3-7 ("well-formed UTF-8 byte sequences"):
 * the allowed range of the second byte depends on the lead byte, which is what
 * excludes overlongs, surrogates and code points above U+10FFFF. */
#include "unicode.h"

unsigned rb_unicode_flags(uint32_t cp)
{
	if (cp < 0x80) {
		/* ASCII fast path; same answer as the table. */
		if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D))
			return RB_UC_SPACE;
		if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
			return RB_UC_LETTER;
		if (cp >= '0' && cp <= '9')
			return RB_UC_NUMBER;
		return 0;
	}
	unsigned lo = 0, hi = rb_unicode_n_ranges;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct rb_unicode_range *r = &rb_unicode_ranges[mid];
		if (cp < r->first)
			hi = mid;
		else if (cp > r->last)
			lo = mid + 1;
		else
			return r->flags;
	}
	return 0;
}

/* Expected total length for a lead byte (0 = not a lead byte) and the range
 * the second byte must fall in. */
static size_t utf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF)
		return 2;
	if (b >= 0xE0 && b <= 0xEF) {
		if (b == 0xE0)
			*lo = 0xA0; /* no overlongs */
		else if (b == 0xED)
			*hi = 0x9F; /* no surrogates */
		return 3;
	}
	if (b >= 0xF0 && b <= 0xF4) {
		if (b == 0xF0)
			*lo = 0x90; /* no overlongs */
		else if (b == 0xF4)
			*hi = 0x8F; /* nothing above U+10FFFF */
		return 4;
	}
	return 0;
}

/* How many bytes of s[0..n) (at most the sequence length) are a valid prefix
 * of the sequence that s[0] starts. */
static size_t utf8_valid_prefix(const uint8_t *s, size_t n, size_t need, uint8_t lo, uint8_t hi)
{
	size_t i = 1;
	if (i < n && i < need) {
		if (s[1] < lo || s[1] > hi)
			return 1;
		i++;
	}
	while (i < n && i < need) {
		if ((s[i] & 0xC0) != 0x80)
			return i;
		i++;
	}
	return i;
}

size_t rb_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t lo, hi;
	size_t need = utf8_lead(s[0], &lo, &hi);
	if (need == 1) {
		*cp = s[0];
		return 1;
	}
	if (need == 0 || n < need || utf8_valid_prefix(s, n, need, lo, hi) != need) {
		*cp = RB_CP_INVALID_BASE + s[0];
		return 1;
	}
	uint32_t v = s[0] & (0x7Fu >> need);
	for (size_t i = 1; i < need; i++)
		v = (v << 6) | (s[i] & 0x3Fu);
	*cp = v;
	return need;
}

size_t rb_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t rb_utf8_incomplete_tail(const uint8_t *s, size_t n)
{
	/* A lead byte among the last 3 bytes whose sequence runs past the end
	 * and is valid so far. */
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		const uint8_t *p = s + n - back;
		uint8_t lo, hi;
		size_t need = utf8_lead(p[0], &lo, &hi);
		if (need == 0 && (p[0] & 0xC0) == 0x80)
			continue; /* a continuation byte: look further back */
		if (need <= back)
			return 0; /* ASCII, an invalid byte, or a sequence that fits */
		return utf8_valid_prefix(p, back, need, lo, hi) == back ? back : 0;
	}
	return 0;
}
