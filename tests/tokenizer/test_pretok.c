/* SPDX-License-Identifier: MIT */
/* Pre-tokenizer splits against hand-derived expectations (reasoned from the
 * patterns quoted in pretok.c), and the Unicode class table against known
 * code points. */
#include <stdbool.h>

#include "test.h"
#include "tok_internal.h"
#include "unicode.h"

struct pieces {
	char buf[1024];
	size_t n;
};

static int collect(void *user, const char *piece, size_t len)
{
	struct pieces *p = user;
	if (p->n + len + 2 < sizeof(p->buf)) {
		memcpy(p->buf + p->n, piece, len);
		p->n += len;
		p->buf[p->n++] = '|';
		p->buf[p->n] = '\0';
	}
	return 0;
}

static void check_split(enum rb_tok_pre pre, const char *text, const char *expect)
{
	struct pieces p = { .n = 0 };
	p.buf[0] = '\0';
	rb_err err = { 0 };
	CHECK_EQ_INT(rb_pretokenize(pre, text, strlen(text), collect, &p, &err), RB_OK);
	CHECKF(strcmp(p.buf, expect) == 0, "[%s] \"%s\": got \"%s\" want \"%s\"", rb_tok_pre_name(pre),
	       text, p.buf, expect);
}

static void test_qwen2(void)
{
	enum rb_tok_pre q = RB_TOK_PRE_QWEN2;
	check_split(q, "Hello world", "Hello| world|");
	check_split(q, "1234", "1|2|3|4|");
	check_split(q, " 123", " |1|2|3|");
	check_split(q, "I'M you'Re it's", "I|'M| you|'Re| it|'s|");
	check_split(q, "'sup", "'s|up|");
	/* (?i:...): an upper-case contraction ends before the letters after it */
	check_split(q, "THEY'REALLY 'Sure", "THEY|'RE|ALLY| '|Sure|");
	check_split(q, "a  b", "a| | b|");
	check_split(q, "\n\n\nb", "\n\n\n|b|");
	check_split(q, "a\r\nb", "a|\r\n|b|");
	check_split(q, "trailing  ", "trailing|  |");
	check_split(q, " \n x", " \n| x|");
	check_split(q, "Hi!!!\n\nok", "Hi|!!!\n\n|ok|");
	check_split(q, "(or x", "(or| x|");
	check_split(q, "\tx", "\tx|");
	check_split(q, "\nx", "\n|x|");
	check_split(q, "a ,b", "a| ,|b|");
	check_split(q, "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96", "\xe4\xbd\xa0\xe5\xa5\xbd|\xef\xbc\x8c\xe4\xb8\x96|");
	check_split(q, "a\xff" "b", "a|\xff" "b|");
	check_split(q, "x \xc3", "x| \xc3|");
	check_split(q, "", "");
	check_split(q, "   ", "   |");
	check_split(q, "a \t b", "a| \t| b|");
}

static void test_llama3_gpt2(void)
{
	check_split(RB_TOK_PRE_LLAMA3, "12345 x", "123|45| x|");
	check_split(RB_TOK_PRE_LLAMA3, "I'LL", "I|'LL|");
	check_split(RB_TOK_PRE_LLAMA3, "I'LLAMA", "I|'LL|AMA|");
	check_split(RB_TOK_PRE_DEFAULT, "I'M it's  x", "I|'|M| it|'s| | x|");
	check_split(RB_TOK_PRE_DEFAULT, "12345 x", "12345| x|");
	check_split(RB_TOK_PRE_DEFAULT, "a\n\nb", "a|\n|\n|b|");
	check_split(RB_TOK_PRE_DEFAULT, "(or", "(|or|");
	check_split(RB_TOK_PRE_DEFAULT, "x !? y  ", "x| !?| y|  |");
}

static void test_classes(void)
{
	struct { uint32_t cp; unsigned flags; } known[] = {
		{ 'A', RB_UC_LETTER }, { 'z', RB_UC_LETTER }, { '5', RB_UC_NUMBER }, { '_', 0 },
		{ ' ', RB_UC_SPACE }, { '\n', RB_UC_SPACE }, { 0x0B, RB_UC_SPACE }, { 0x1C, 0 },
		{ 0xA0, RB_UC_SPACE }, { 0x85, RB_UC_SPACE }, { 0xAA, RB_UC_LETTER },
		{ 0xB2, RB_UC_NUMBER }, { 0xBD, RB_UC_NUMBER }, { 0xE9, RB_UC_LETTER },
		{ 0x301, 0 }, { 0x3C9, RB_UC_LETTER }, { 0x663, RB_UC_NUMBER }, { 0x1680, RB_UC_SPACE },
		{ 0x2009, RB_UC_SPACE }, { 0x200B, 0 }, { 0x2028, RB_UC_SPACE }, { 0x2163, RB_UC_NUMBER },
		{ 0x2581, 0 }, { 0x3000, RB_UC_SPACE }, { 0x3007, RB_UC_NUMBER }, { 0x4E2D, RB_UC_LETTER },
		{ 0xAC00, RB_UC_LETTER }, { 0xFF10, RB_UC_NUMBER }, { 0xFEFF, 0 }, { 0x1F600, 0 },
		{ 0x1D400, RB_UC_LETTER }, { 0x10348, RB_UC_LETTER }, { 0x20000, RB_UC_LETTER },
		{ 0x10FFFF, 0 }, { 0xD800, 0 },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		CHECKF(rb_unicode_flags(known[i].cp) == known[i].flags, "U+%04X: %u want %u",
		       known[i].cp, rb_unicode_flags(known[i].cp), known[i].flags);
	/* the table is sorted and disjoint; ASCII fast path agrees with it */
	for (unsigned i = 1; i < rb_unicode_n_ranges; i++)
		CHECK(rb_unicode_ranges[i].first > rb_unicode_ranges[i - 1].last);
	for (uint32_t cp = 0; cp < 0x80; cp++) {
		unsigned table = 0;
		for (unsigned i = 0; i < rb_unicode_n_ranges; i++)
			if (cp >= rb_unicode_ranges[i].first && cp <= rb_unicode_ranges[i].last)
				table = rb_unicode_ranges[i].flags;
		CHECKF(rb_unicode_flags(cp) == table, "ASCII %u", cp);
	}
}

/* Straightforward reference decoder: reject by the definition (value ranges)
 * rather than by the lead-byte table the library uses. */
static size_t ref_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t need = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
	if (need == 0 || need > n || s[0] > 0xF7)
		goto bad;
	uint32_t v = need == 1 ? s[0] : s[0] & (0xFF >> (need + 1));
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3F);
	}
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (v < min[need] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto bad;
	*cp = v;
	return need;
bad:
	*cp = RB_CP_INVALID_BASE + s[0];
	return 1;
}

static void test_utf8(void)
{
	uint64_t seed = 7;
	int iters = rb_test_quick() ? 20000 : 200000;
	for (int it = 0; it < iters; it++) {
		uint8_t b[4];
		uint64_t r = rb_test_rand_u64(&seed);
		for (int i = 0; i < 4; i++) {
			b[i] = (uint8_t)(r >> (8 * i));
			if ((r >> (32 + i)) & 1) /* bias toward plausible sequences */
				b[i] = (uint8_t)(0x80 | (b[i] & 0x3F));
		}
		size_t n = 1 + (size_t)((r >> 40) % 4);
		uint32_t c1, c2;
		size_t l1 = rb_utf8_decode(b, n, &c1), l2 = ref_decode(b, n, &c2);
		CHECKF(l1 == l2 && c1 == c2, "%02x %02x %02x %02x (n %zu): %zu/%x vs %zu/%x", b[0], b[1],
		       b[2], b[3], n, l1, c1, l2, c2);
	}
	for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x3000 ? 1 : 97)) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		char buf[4];
		uint32_t back;
		size_t k = rb_utf8_encode(cp, buf);
		CHECK(rb_utf8_decode((const uint8_t *)buf, k, &back) == k && back == cp);
		for (size_t cut = 1; cut < k; cut++)
			CHECKF(rb_utf8_incomplete_tail((const uint8_t *)buf, cut) == cut, "U+%X cut %zu", cp, cut);
		CHECK(rb_utf8_incomplete_tail((const uint8_t *)buf, k) == 0);
	}
	CHECK(rb_utf8_incomplete_tail((const uint8_t *)"\xed\xa0", 2) == 0); /* surrogate */
	CHECK(rb_utf8_incomplete_tail((const uint8_t *)"\xe0\x80", 2) == 0); /* overlong */
	CHECK(rb_utf8_incomplete_tail((const uint8_t *)"\x80\x80\x80", 3) == 0);
}

int main(void)
{
	test_qwen2();
	test_llama3_gpt2();
	test_classes();
	test_utf8();
	return rb_test_finish();
}
