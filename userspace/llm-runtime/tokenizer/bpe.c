/* SPDX-License-Identifier: MIT */
/* Byte-level BPE (tokenizer.ggml.model = "gpt2").
 *
 * Text bytes are first written in GPT-2's byte->unicode alphabet (OpenAI
 * gpt-2 encoder.py, bytes_to_unicode: the printable bytes 0x21-0x7E,
 * 0xA1-0xAC and 0xAE-0xFF stand for themselves, the other 68 bytes map in
 * order to U+0100, U+0101, ...); the vocabulary and the merges are written in
 * that alphabet. Each pre-tokenizer piece starts as one symbol per byte; the
 * adjacent pair with the lowest merge rank is merged (leftmost first among
 * equal ranks) until no pair has a rank. A heap of candidate pairs over a
 * linked list of symbols keeps that O(n log n) for long pieces; stale heap
 * entries are recognised and skipped when popped. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "unicode.h"

static bool byte_is_printable(unsigned b)
{
	return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

/* The 68 other bytes, in order: 0x00-0x20 (33), 0x7F-0xA0 (34), 0xAD (1). */
uint32_t rb_bpe_byte_to_cp(uint8_t b)
{
	if (byte_is_printable(b))
		return b;
	if (b <= 0x20)
		return 256u + b;
	if (b >= 0x7F && b <= 0xA0)
		return 256u + 33u + (b - 0x7Fu);
	return 256u + 67u; /* 0xAD */
}

int rb_bpe_cp_to_byte(uint32_t cp)
{
	if (cp < 256)
		return byte_is_printable(cp) ? (int)cp : -1;
	if (cp < 256 + 33)
		return (int)(cp - 256);
	if (cp < 256 + 67)
		return (int)(cp - 256 - 33 + 0x7F);
	return cp == 256 + 67 ? 0xAD : -1;
}

/* ---- merge table ------------------------------------------------------- */

static uint32_t pair_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (uint32_t)key;
}

static uint64_t pair_key(int32_t left, int32_t right)
{
	return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

static const struct rb_merge *merge_find(const struct rb_pairmap *m, int32_t left, int32_t right)
{
	uint64_t key = pair_key(left, right);
	for (uint32_t i = pair_hash(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key)
			return &m->slots[i];
		if (m->slots[i].key == UINT64_MAX)
			return NULL;
	}
}

static void merge_insert(struct rb_pairmap *m, int32_t left, int32_t right, int32_t rank,
			 int32_t result)
{
	uint64_t key = pair_key(left, right);
	for (uint32_t i = pair_hash(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key)
			return; /* a repeated merge keeps its first (best) rank */
		if (m->slots[i].key == UINT64_MAX) {
			m->slots[i] = (struct rb_merge){ key, rank, result };
			return;
		}
	}
}

/* "A B" -> ids of A, B and AB; false if the line is malformed or any of the
 * three is not in the vocabulary (such a merge can never apply). */
static bool parse_merge(const rb_tokenizer *tok, rb_gguf_str line, char **buf, size_t *cap,
			int32_t ids[3])
{
	if (line.len < 3)
		return false;
	const char *sp = memchr(line.data + 1, ' ', line.len - 1);
	if (!sp)
		return false;
	size_t la = (size_t)(sp - line.data), lb = line.len - la - 1;
	if (la + lb > *cap) {
		char *nb = realloc(*buf, la + lb);
		if (!nb)
			return false;
		*buf = nb;
		*cap = la + lb;
	}
	memcpy(*buf, line.data, la);
	memcpy(*buf + la, sp + 1, lb);
	ids[0] = rb_strmap_find(&tok->vocab, tok, *buf, la);
	ids[1] = rb_strmap_find(&tok->vocab, tok, sp + 1, lb);
	ids[2] = rb_strmap_find(&tok->vocab, tok, *buf, la + lb);
	return ids[0] >= 0 && ids[1] >= 0 && ids[2] >= 0;
}

int rb_bpe_build(rb_tokenizer *tok, const rb_gguf_array *merges, rb_err *err)
{
	if (merges->type != RB_GGUF_STRING || merges->n > INT32_MAX / 4)
		return rb_err_set(err, RB_E_FORMAT, "tokenizer.ggml.merges: expected strings, got %llu of type %s",
				  (unsigned long long)merges->n, rb_gguf_vtype_name(merges->type));
	uint32_t cap = 16;
	while (cap < 2 * (uint32_t)merges->n)
		cap <<= 1;
	tok->merges.slots = malloc((size_t)cap * sizeof(*tok->merges.slots));
	if (!tok->merges.slots)
		return rb_err_set(err, RB_E_NOMEM, "out of memory for %llu merges",
				  (unsigned long long)merges->n);
	for (uint32_t i = 0; i < cap; i++)
		tok->merges.slots[i].key = UINT64_MAX;
	tok->merges.mask = cap - 1;

	char *buf = NULL;
	size_t buf_cap = 0;
	for (uint64_t i = 0; i < merges->n; i++) {
		int32_t ids[3];
		if (parse_merge(tok, merges->strs[i], &buf, &buf_cap, ids))
			merge_insert(&tok->merges, ids[0], ids[1], (int32_t)i, ids[2]);
	}
	free(buf);

	for (unsigned b = 0; b < 256; b++) {
		char u[4];
		size_t k = rb_utf8_encode(rb_bpe_byte_to_cp((uint8_t)b), u);
		tok->byte_token[b] = rb_strmap_find(&tok->vocab, tok, u, k);
	}
	return RB_OK;
}

/* ---- encoding ---------------------------------------------------------- */

struct bpe_work {
	const rb_tokenizer *tok;
	rb_tokens *out;
	rb_err *err;
	size_t cap;         /* symbols the arrays below hold */
	int32_t *id;        /* -1 once merged into its left neighbour */
	int32_t *prev, *next;
	struct rb_merge_queue queue; /* at most 2 live candidates per merge + initial ones */
	char *mapped;       /* piece in the byte->unicode alphabet (ignore_merges) */
};

static int work_reserve(struct bpe_work *w, size_t n)
{
	if (n <= w->cap)
		return RB_OK;
	size_t cap = n < 64 ? 64 : n;
	int32_t *id = realloc(w->id, cap * sizeof(*id));
	if (id)
		w->id = id;
	int32_t *prev = realloc(w->prev, cap * sizeof(*prev));
	if (prev)
		w->prev = prev;
	int32_t *next = realloc(w->next, cap * sizeof(*next));
	if (next)
		w->next = next;
	/* each merge pushes at most 2 candidates, plus n - 1 initial ones */
	struct rb_merge_cand *heap = realloc(w->queue.heap, 3 * cap * sizeof(*heap));
	if (heap)
		w->queue.heap = heap;
	char *mapped = realloc(w->mapped, 2 * cap);
	if (mapped)
		w->mapped = mapped;
	if (!id || !prev || !next || !heap || !mapped)
		return rb_err_set(w->err, RB_E_NOMEM, "out of memory for a %zu-byte word", n);
	w->cap = cap;
	return RB_OK;
}

static void try_pair(struct bpe_work *w, int32_t left, int32_t right)
{
	if (left < 0 || right < 0 || w->id[left] < 0 || w->id[right] < 0)
		return;
	const struct rb_merge *m = merge_find(&w->tok->merges, w->id[left], w->id[right]);
	if (m)
		rb_merge_queue_push(&w->queue,
				    (struct rb_merge_cand){ m->rank, (uint32_t)left, (uint32_t)right,
							    (uint32_t)w->id[left],
							    (uint32_t)w->id[right] });
}

static int emit_byte(struct bpe_work *w, uint8_t b)
{
	int32_t id = w->tok->byte_token[b];
	if (id < 0)
		id = w->tok->unk;
	if (id < 0)
		return rb_err_set(w->err, RB_E_UNSUPPORTED,
				  "byte 0x%02x has no token and the vocabulary has no unknown token", b);
	return rb_tokens_push(w->out, id) ? rb_err_set(w->err, RB_E_NOMEM, "out of memory") : RB_OK;
}

/* Whole piece already a token (ignore_merges, llama-3). */
static int32_t whole_piece(struct bpe_work *w, const uint8_t *p, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len; i++)
		k += rb_utf8_encode(rb_bpe_byte_to_cp(p[i]), w->mapped + k);
	return rb_strmap_find(&w->tok->vocab, w->tok, w->mapped, k);
}

static int bpe_piece(void *user, const char *piece, size_t len)
{
	struct bpe_work *w = user;
	const uint8_t *p = (const uint8_t *)piece;
	int rc = work_reserve(w, len);
	if (rc)
		return rc;
	if (w->tok->ignore_merges) {
		int32_t id = whole_piece(w, p, len);
		if (id >= 0)
			return rb_tokens_push(w->out, id) ? rb_err_set(w->err, RB_E_NOMEM, "out of memory") : RB_OK;
	}
	for (size_t i = 0; i < len; i++) {
		w->id[i] = w->tok->byte_token[p[i]];
		w->prev[i] = (int32_t)i - 1;
		w->next[i] = i + 1 < len ? (int32_t)i + 1 : -1;
	}
	w->queue.n = 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (w->id[i] >= 0 && w->id[i + 1] >= 0)
			try_pair(w, (int32_t)i, (int32_t)i + 1);
	while (w->queue.n) {
		struct rb_merge_cand c = rb_merge_queue_pop(&w->queue);
		int32_t left_id = (int32_t)c.left_was, right_id = (int32_t)c.right_was;
		if (w->id[c.left] != left_id || w->id[c.right] != right_id ||
		    w->next[c.left] != (int32_t)c.right)
			continue; /* stale: one side has changed since */
		w->id[c.left] = merge_find(&w->tok->merges, left_id, right_id)->result;
		w->id[c.right] = -1;
		int32_t after = w->next[c.right];
		w->next[c.left] = after;
		if (after >= 0)
			w->prev[after] = (int32_t)c.left;
		try_pair(w, w->prev[c.left], (int32_t)c.left);
		try_pair(w, (int32_t)c.left, after);
	}
	for (int32_t i = 0; i >= 0; i = w->next[i]) {
		if (w->id[i] >= 0)
			rc = rb_tokens_push(w->out, w->id[i]) ? rb_err_set(w->err, RB_E_NOMEM, "out of memory") : RB_OK;
		else
			rc = emit_byte(w, p[i]); /* a byte missing from the vocabulary */
		if (rc)
			return rc;
	}
	return RB_OK;
}

int rb_bpe_encode(const rb_tokenizer *tok, const char *text, size_t len, rb_tokens *out,
		  rb_err *err)
{
	struct bpe_work w = { .tok = tok, .out = out, .err = err };
	int rc = rb_pretokenize(tok->pre, text, len, bpe_piece, &w, err);
	free(w.id);
	free(w.prev);
	free(w.next);
	free(w.queue.heap);
	free(w.mapped);
	return rc;
}
