/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tokenizer tests: loading the shipped vocabularies and
 * the corpus escape syntax of tests/data/tokenizer-vectors. */
#ifndef RB_TEST_TOKENIZER_VECTORS_H
#define RB_TEST_TOKENIZER_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/tokenizer.h"
#include "test.h"

static inline rb_tokenizer *load_vocab(const char *rel, const char *pre)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", RB_TEST_DATA_DIR, rel);
	rb_tokenizer_options opt = { .pre = pre };
	rb_tokenizer *tok = NULL;
	rb_err err = { 0 };
	int rc = rb_tokenizer_load(path, &opt, &tok, &err);
	if (rc)
		fprintf(stderr, "load %s: %s\n", path, err.msg);
	REQUIRE(rc == RB_OK && tok);
	return tok;
}

/* \n \r \t \\ \xNN \u{HEX}; returns malloc'd bytes, *len set. */
static inline char *unescape(const char *s, size_t *len)
{
	char *out = malloc(strlen(s) * 4 + 1);
	REQUIRE(out);
	size_t k = 0;
	for (const char *p = s; *p;) {
		if (*p != '\\') {
			out[k++] = *p++;
			continue;
		}
		char c = p[1];
		if (c == 'n' || c == 'r' || c == 't' || c == '\\') {
			out[k++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : '\\';
			p += 2;
		} else if (c == 'x') {
			char hex[3] = { p[2], p[3], 0 };
			out[k++] = (char)strtoul(hex, NULL, 16);
			p += 4;
		} else if (c == 'u' && p[2] == '{') {
			char *end;
			unsigned long cp = strtoul(p + 3, &end, 16);
			REQUIRE(*end == '}');
			if (cp < 0x80) {
				out[k++] = (char)cp;
			} else if (cp < 0x800) {
				out[k++] = (char)(0xC0 | (cp >> 6));
				out[k++] = (char)(0x80 | (cp & 0x3F));
			} else if (cp < 0x10000) {
				out[k++] = (char)(0xE0 | (cp >> 12));
				out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				out[k++] = (char)(0x80 | (cp & 0x3F));
			} else {
				out[k++] = (char)(0xF0 | (cp >> 18));
				out[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
				out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				out[k++] = (char)(0x80 | (cp & 0x3F));
			}
			p = end + 1;
		} else {
			REQUIRE(!"bad escape in a test string");
		}
	}
	out[k] = '\0';
	*len = k;
	return out;
}

#endif
