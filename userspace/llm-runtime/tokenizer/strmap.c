/* SPDX-License-Identifier: MIT */
/* Hash map token text -> id (open addressing, linear probing). The map holds
 * only ids; keys are compared against the tokenizer's own copies of the texts. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

uint32_t rb_hash_bytes(const void *data, size_t len)
{
	/* FNV-1a, 64-bit, folded: simple and good enough for token strings. */
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

int rb_strmap_init(struct rb_strmap *m, uint32_t n_items)
{
	uint32_t cap = 16;
	while (cap < 2u * n_items)
		cap <<= 1;
	m->slots = malloc((size_t)cap * sizeof(*m->slots));
	if (!m->slots)
		return RB_E_NOMEM;
	memset(m->slots, 0xff, (size_t)cap * sizeof(*m->slots)); /* all -1 */
	m->mask = cap - 1;
	return RB_OK;
}

void rb_strmap_free(struct rb_strmap *m)
{
	free(m->slots);
	m->slots = NULL;
}

void rb_strmap_insert(struct rb_strmap *m, const rb_tokenizer *tok, int32_t id)
{
	const char *s = tok->text[id];
	size_t len = tok->text_len[id];
	uint32_t i = rb_hash_bytes(s, len) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		int32_t cur = m->slots[i];
		if (cur < 0) {
			m->slots[i] = id;
			return;
		}
		/* a duplicate text keeps its first (lowest) id */
		if (tok->text_len[cur] == len && memcmp(tok->text[cur], s, len) == 0)
			return;
	}
}

int32_t rb_strmap_find(const struct rb_strmap *m, const rb_tokenizer *tok, const char *s,
		       size_t len)
{
	if (!m->slots)
		return -1;
	uint32_t i = rb_hash_bytes(s, len) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		int32_t cur = m->slots[i];
		if (cur < 0)
			return -1;
		if (tok->text_len[cur] == len && memcmp(tok->text[cur], s, len) == 0)
			return cur;
	}
}
