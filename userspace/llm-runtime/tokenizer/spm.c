/* SPDX-License-Identifier: MIT */
/* SentencePiece-style BPE (tokenizer.ggml.model = "llama").
 *
 * As SentencePiece's BPE model encodes (sentencepiece bpe_model.cc): spaces
 * become U+2581 ("▁"), a "▁" is put in front as the dummy prefix, the text
 * starts as one symbol per UTF-8 character, and the adjacent pair whose
 * concatenation is the vocabulary piece with the highest score is merged
 * (leftmost first among equal scores) until no pair forms a piece. Symbols
 * left that are not pieces fall back to their bytes as <0xNN> tokens, or to
 * the unknown token if the vocabulary has no byte tokens. Same heap + linked
 * list scheme as bpe.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "unicode.h"

static const char SPACE_MARK[] = "\xe2\x96\x81"; /* U+2581 LOWER ONE EIGHTH BLOCK */
#define SPACE_MARK_LEN 3

/* True if a mergeable piece has U+2581 somewhere after its leading run of
 * U+2581: then a piece could span "x|▁" and the text cannot be cut there. */
static bool piece_spans_words(const char *t, size_t n)
{
	size_t i = 0;
	while (i + SPACE_MARK_LEN <= n && memcmp(t + i, SPACE_MARK, SPACE_MARK_LEN) == 0)
		i += SPACE_MARK_LEN;
	for (; i + SPACE_MARK_LEN <= n; i++)
		if (memcmp(t + i, SPACE_MARK, SPACE_MARK_LEN) == 0)
			return true;
	return false;
}

int rb_spm_build(rb_tokenizer *tok, rb_err *err)
{
	(void)err;
	tok->spm_word_split = true;
	for (int32_t i = 0; i < tok->n_vocab; i++) {
		uint8_t t = tok->type[i];
		if ((t == RB_TOKEN_NORMAL || t == RB_TOKEN_USER_DEFINED) &&
		    piece_spans_words(tok->text[i], tok->text_len[i]))
			tok->spm_word_split = false;
	}
	for (unsigned b = 0; b < 256; b++) {
		char name[8];
		snprintf(name, sizeof(name), "<0x%02X>", b);
		int32_t id = rb_tokenizer_find(tok, name);
		tok->byte_token[b] = id >= 0 && tok->type[id] == RB_TOKEN_BYTE ? id : -1;
	}
	return RB_OK;
}

struct spm_work {
	const rb_tokenizer *tok;
	const char *s;       /* escaped text */
	uint32_t *start, *len;
	int32_t *prev, *next;
	struct rb_merge_queue queue;
};

/* Pieces that merges may produce: normal and user-defined ones. */
static int32_t mergeable(const rb_tokenizer *tok, const char *s, size_t len)
{
	int32_t id = rb_strmap_find(&tok->vocab, tok, s, len);
	if (id < 0)
		return -1;
	return tok->type[id] == RB_TOKEN_NORMAL || tok->type[id] == RB_TOKEN_USER_DEFINED ? id : -1;
}

static void try_pair(struct spm_work *w, int32_t left, int32_t right)
{
	if (left < 0 || right < 0)
		return;
	int32_t id = mergeable(w->tok, w->s + w->start[left], w->len[left] + w->len[right]);
	if (id >= 0)
		/* highest score first: the queue pops the lowest key */
		rb_merge_queue_push(&w->queue,
				    (struct rb_merge_cand){ -(double)w->tok->score[id], (uint32_t)left,
							    (uint32_t)right, w->len[left],
							    w->len[right] });
}

static int emit_symbol(const struct spm_work *w, int32_t i, rb_tokens *out, rb_err *err)
{
	const rb_tokenizer *tok = w->tok;
	const uint8_t *p = (const uint8_t *)w->s + w->start[i];
	int32_t id = rb_strmap_find(&tok->vocab, tok, (const char *)p, w->len[i]);
	if (id >= 0)
		return rb_tokens_push(out, id) ? rb_err_set(err, RB_E_NOMEM, "out of memory") : RB_OK;
	for (uint32_t k = 0; k < w->len[i]; k++) {
		id = tok->byte_token[p[k]];
		if (id < 0)
			id = tok->unk;
		if (id < 0)
			return rb_err_set(err, RB_E_UNSUPPORTED,
					  "byte 0x%02x has no token and the vocabulary has no unknown token", p[k]);
		/* SentencePiece emits one unknown token for a run of unknown bytes */
		if (id == tok->unk && k > 0 && out->n && out->ids[out->n - 1] == id)
			continue;
		if (rb_tokens_push(out, id))
			return rb_err_set(err, RB_E_NOMEM, "out of memory");
	}
	return RB_OK;
}

/* Text with spaces written as U+2581, and the dummy prefix if asked for. */
static char *escape(const char *text, size_t len, bool add_prefix, size_t *out_len)
{
	size_t n = add_prefix ? SPACE_MARK_LEN : 0;
	for (size_t i = 0; i < len; i++)
		n += text[i] == ' ' ? SPACE_MARK_LEN : 1;
	char *s = malloc(n ? n : 1);
	if (!s)
		return NULL;
	size_t k = 0;
	if (add_prefix) {
		memcpy(s, SPACE_MARK, SPACE_MARK_LEN);
		k = SPACE_MARK_LEN;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ') {
			memcpy(s + k, SPACE_MARK, SPACE_MARK_LEN);
			k += SPACE_MARK_LEN;
		} else {
			s[k++] = text[i];
		}
	}
	*out_len = n;
	return s;
}

/* Merge symbols [first, first + n_sym) as one sequence and emit them. */
static int spm_merge_all(struct spm_work *w, size_t first, size_t n_sym, rb_tokens *out,
			 rb_err *err)
{
	for (size_t i = 0; i < n_sym; i++) {
		w->prev[first + i] = i ? (int32_t)(first + i) - 1 : -1;
		w->next[first + i] = i + 1 < n_sym ? (int32_t)(first + i) + 1 : -1;
	}
	w->queue.n = 0;
	for (size_t i = first; i + 1 < first + n_sym; i++)
		try_pair(w, (int32_t)i, (int32_t)i + 1);
	while (w->queue.n) {
		struct rb_merge_cand c = rb_merge_queue_pop(&w->queue);
		if (w->len[c.left] != c.left_was || w->len[c.right] != c.right_was ||
		    w->next[c.left] != (int32_t)c.right)
			continue; /* stale */
		w->len[c.left] += w->len[c.right];
		w->len[c.right] = 0; /* dead */
		int32_t after = w->next[c.right];
		w->next[c.left] = after;
		if (after >= 0)
			w->prev[after] = (int32_t)c.left;
		try_pair(w, w->prev[c.left], (int32_t)c.left);
		try_pair(w, (int32_t)c.left, after);
	}
	for (int32_t i = n_sym ? (int32_t)first : -1; i >= 0; i = w->next[i]) {
		int rc = emit_symbol(w, i, out, err);
		if (rc)
			return rc;
	}
	return RB_OK;
}

int rb_spm_encode(const rb_tokenizer *tok, const char *text, size_t len, bool add_prefix,
		  rb_tokens *out, rb_err *err)
{
	size_t n;
	char *s = escape(text, len, add_prefix, &n);
	if (!s || n > UINT32_MAX / 2) {
		free(s);
		return rb_err_set(err, RB_E_NOMEM, "out of memory for %zu bytes of text", len);
	}
	struct spm_work w = { .tok = tok, .s = s };
	w.start = malloc((n + 1) * sizeof(*w.start));
	w.len = malloc((n + 1) * sizeof(*w.len));
	w.prev = malloc((n + 1) * sizeof(*w.prev));
	w.next = malloc((n + 1) * sizeof(*w.next));
	w.queue.heap = malloc((3 * n + 1) * sizeof(*w.queue.heap));
	int rc = RB_OK;
	if (!w.start || !w.len || !w.prev || !w.next || !w.queue.heap) {
		rc = rb_err_set(err, RB_E_NOMEM, "out of memory for %zu bytes of text", len);
	} else {
		/* Merging word by word gives the same result when no piece can
		 * span a "x|▁" boundary, and keeps the heap small and in cache. */
		size_t n_sym = 0, word = 0;
		bool prev_mark = true;
		for (size_t off = 0; off < n && !rc; n_sym++) {
			uint32_t cp;
			size_t k = rb_utf8_decode((const uint8_t *)s + off, n - off, &cp);
			bool mark = cp == 0x2581;
			if (tok->spm_word_split && mark && !prev_mark && n_sym > word) {
				rc = spm_merge_all(&w, word, n_sym - word, out, err);
				word = n_sym;
			}
			prev_mark = mark;
			w.start[n_sym] = (uint32_t)off;
			w.len[n_sym] = (uint32_t)k;
			off += k;
		}
		if (!rc)
			rc = spm_merge_all(&w, word, n_sym - word, out, err);
	}
	free(w.start);
	free(w.len);
	free(w.prev);
	free(w.next);
	free(w.queue.heap);
	free(s);
	return rc;
}
