/* SPDX-License-Identifier: MIT */
/* Pre-tokenizer splits, written out by hand from the patterns (no regex
 * library). Each pattern is an ordered alternation applied left to right,
 * every match becoming one piece; the functions below return, for a start
 * position, the end of the match the first successful alternative makes,
 * with the greedy quantifiers and backtracking of a Perl-style engine.
 *
 * qwen2 (Qwen2 tokenizer.json, pre_tokenizer Split pattern):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * llama-bpe (Llama 3 tokenizer.json): the same with \p{N}{1,3}.
 * default (GPT-2 encoder.py):
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * (?i:...) is applied to ASCII letters only: Unicode case folding would also
 * let 's match U+017F (long s); llama.cpp makes the same choice. */
#include <stdlib.h>

#include "tok_internal.h"
#include "unicode.h"

struct cp_info {
	uint32_t cp;
	uint32_t off; /* byte offset of the character */
	uint8_t flags;
};

struct cps {
	struct cp_info *c;
	size_t n;
};

static bool is_l(const struct cps *s, size_t i) { return s->c[i].flags & RB_UC_LETTER; }
static bool is_n(const struct cps *s, size_t i) { return s->c[i].flags & RB_UC_NUMBER; }
static bool is_ws(const struct cps *s, size_t i) { return s->c[i].flags & RB_UC_SPACE; }
static bool is_crlf(const struct cps *s, size_t i) { return s->c[i].cp == '\r' || s->c[i].cp == '\n'; }
/* [^\s\p{L}\p{N}] */
static bool is_other(const struct cps *s, size_t i) { return s->c[i].flags == 0; }

static uint32_t ascii_lower(uint32_t cp)
{
	return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/* 's 't 're 've 'm 'll 'd at i: the match length or 0. */
static size_t contraction(const struct cps *s, size_t i, bool fold_case)
{
	if (s->c[i].cp != '\'' || i + 1 >= s->n)
		return 0;
	uint32_t a = s->c[i + 1].cp, b = i + 2 < s->n ? s->c[i + 2].cp : 0;
	if (fold_case) {
		a = ascii_lower(a);
		b = ascii_lower(b);
	}
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

static size_t run(const struct cps *s, size_t i, bool (*pred)(const struct cps *, size_t))
{
	while (i < s->n && pred(s, i))
		i++;
	return i;
}

/* \s*[\r\n]+ | \s+(?!\S) | \s+ at a whitespace character i. */
static size_t whitespace_tail(const struct cps *s, size_t i, bool newline_alt)
{
	size_t end = run(s, i, is_ws);
	if (newline_alt) {
		/* \s* backs off to the last \r or \n of the run. */
		for (size_t k = end; k > i; k--)
			if (is_crlf(s, k - 1))
				return k;
	}
	if (end == s->n || end - i >= 2)
		return end == s->n ? end : end - 1; /* leave one space for the next word */
	return end;
}

static size_t match_llama3_like(const struct cps *s, size_t i, size_t max_digits)
{
	size_t k = contraction(s, i, true);
	if (k)
		return i + k;
	if (is_l(s, i))
		return run(s, i, is_l);
	if (!is_n(s, i) && !is_crlf(s, i) && i + 1 < s->n && is_l(s, i + 1))
		return run(s, i + 1, is_l);
	if (is_n(s, i)) {
		size_t j = i;
		while (j < s->n && j - i < max_digits && is_n(s, j))
			j++;
		return j;
	}
	size_t j = i;
	if (s->c[j].cp == ' ' && j + 1 < s->n && is_other(s, j + 1))
		j++;
	if (is_other(s, j))
		return run(s, run(s, j, is_other), is_crlf);
	return whitespace_tail(s, i, true);
}

static size_t match_gpt2(const struct cps *s, size_t i)
{
	size_t k = contraction(s, i, false);
	if (k)
		return i + k;
	size_t j = i;
	if (s->c[i].cp == ' ' && i + 1 < s->n && !is_ws(s, i + 1))
		j++; /* " ?" before a letter, digit or other run */
	if (is_l(s, j))
		return run(s, j, is_l);
	if (is_n(s, j))
		return run(s, j, is_n);
	if (is_other(s, j))
		return run(s, j, is_other);
	return whitespace_tail(s, i, false);
}

static int decode_all(const char *text, size_t len, struct cps *s, rb_err *err)
{
	s->c = malloc((len + 1) * sizeof(*s->c));
	if (!s->c)
		return rb_err_set(err, RB_E_NOMEM, "out of memory for %zu bytes of text", len);
	const uint8_t *p = (const uint8_t *)text;
	size_t n = 0;
	for (size_t off = 0; off < len;) {
		uint32_t cp;
		size_t k = rb_utf8_decode(p + off, len - off, &cp);
		s->c[n].cp = cp;
		s->c[n].off = (uint32_t)off;
		s->c[n].flags = cp < RB_CP_INVALID_BASE ? (uint8_t)rb_unicode_flags(cp) : 0;
		n++;
		off += k;
	}
	s->c[n].off = (uint32_t)len; /* sentinel: end offset */
	s->n = n;
	return RB_OK;
}

int rb_pretokenize(enum rb_tok_pre pre, const char *text, size_t len, rb_piece_fn emit,
		   void *user, rb_err *err)
{
	if (len > UINT32_MAX - 1)
		return rb_err_set(err, RB_E_INVALID, "text of %zu bytes is too long", len);
	struct cps s = { 0 };
	int rc = decode_all(text, len, &s, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < s.n && !rc;) {
		size_t end;
		switch (pre) {
		case RB_TOK_PRE_QWEN2: end = match_llama3_like(&s, i, 1); break;
		case RB_TOK_PRE_LLAMA3: end = match_llama3_like(&s, i, 3); break;
		default: end = match_gpt2(&s, i); break;
		}
		rc = emit(user, text + s.c[i].off, s.c[end].off - s.c[i].off);
		i = end;
	}
	free(s.c);
	return rc;
}
