/* SPDX-License-Identifier: MIT */
/* Reading regcmd dumps: raw little-endian u64 files and hex text. */
#include "npu/npu_regcmd.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static long parse_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static long parse_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

bool npu_rc_looks_like_text(const void *data, size_t len)
{
	/* Raw regcmd words are full of zero bytes; text (UTF-8 comments
	 * included) has no NUL and no control characters but whitespace. */
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 && !isspace(p[i]))
			return false;
	return len > 0;
}

static int push(uint64_t **v, size_t *n, size_t *cap, uint64_t e)
{
	if (*n == *cap) {
		const size_t nc = *cap ? *cap * 2 : 256;
		uint64_t *p = realloc(*v, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = e;
	return 0;
}

/* A token of exactly 16 hex digits (optionally "0x"-prefixed) is an entry;
 * shorter hex tokens (table columns such as "0x1001") are ignored, longer
 * ones are an error: they cannot be a 64-bit word. */
static long parse_text(const char *s, size_t len, uint64_t **out, char *err, size_t errlen)
{
	uint64_t *v = NULL;
	size_t n = 0, cap = 0, i = 0;
	unsigned line = 1;
	while (i < len) {
		const char c = s[i];
		if (c == '\n') {
			line++;
			i++;
			continue;
		}
		if (c == '#' || (c == '/' && i + 1 < len && s[i + 1] == '/')) {
			while (i < len && s[i] != '\n')
				i++;
			continue;
		}
		if (!isalnum((unsigned char)c)) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_'))
			j++;
		const char *tok = s + i;
		size_t tl = j - i;
		const bool prefixed = tl > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X');
		if (prefixed) {
			tok += 2;
			tl -= 2;
		}
		bool hex = tl > 0;
		for (size_t k = 0; k < tl && hex; k++)
			hex = isxdigit((unsigned char)tok[k]) != 0;
		if (hex && tl == 16) {
			char buf[17];
			memcpy(buf, tok, 16);
			buf[16] = 0;
			if (push(&v, &n, &cap, strtoull(buf, NULL, 16))) {
				free(v);
				return parse_fail(err, errlen, -ENOMEM, "out of memory");
			}
		} else if (hex && tl > 16) {
			free(v);
			return parse_fail(err, errlen, -EINVAL,
					  "line %u: hex token of %zu digits is not a 64-bit entry", line,
					  tl);
		}
		i = j;
	}
	if (n == 0) {
		free(v);
		return parse_fail(err, errlen, -EINVAL,
				  "no 64-bit entries (16 hex digits) found in the text");
	}
	*out = v;
	return (long)n;
}

long npu_rc_parse(const void *data, size_t len, int is_text, uint64_t **entries, char *err,
		  size_t errlen)
{
	const unsigned char *p = data;
	*entries = NULL;
	if (len == 0)
		return parse_fail(err, errlen, -EINVAL, "empty input");
	if (is_text < 0)
		is_text = npu_rc_looks_like_text(p, len);
	if (is_text)
		return parse_text(data, len, entries, err, errlen);
	if (len % 8)
		return parse_fail(err, errlen, -EINVAL,
				  "raw dump of %zu bytes is not a whole number of 8-byte entries",
				  len);
	uint64_t *v = malloc(len);
	if (!v)
		return parse_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t e = 0;
		for (int b = 7; b >= 0; b--) /* little endian regardless of the host */
			e = (e << 8) | p[i * 8 + (size_t)b];
		v[i] = e;
	}
	*entries = v;
	return (long)(len / 8);
}
