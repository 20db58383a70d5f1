/* SPDX-License-Identifier: MIT */
/* Decoding: every token's bytes are computed once at load ("pieces"); decode
 * concatenates them, the streaming decoder holds back an incomplete UTF-8
 * character until its last byte arrives. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "unicode.h"

/* SentencePiece renders an unknown piece as U+2047 DOUBLE QUESTION MARK. */
static const char UNKNOWN_SURFACE[] = "\xe2\x81\x87";

/* Piece bytes of token i written to dst (capacity: 2 * text_len + 4 is
 * enough: no rule makes a piece longer than its text, except UNKNOWN). */
static size_t make_piece(const rb_tokenizer *tok, int32_t i, char *dst)
{
	const char *t = tok->text[i];
	size_t n = tok->text_len[i];
	switch (tok->type[i]) {
	case RB_TOKEN_CONTROL:
	case RB_TOKEN_UNUSED:
		memcpy(dst, t, n);
		return n;
	case RB_TOKEN_UNKNOWN:
		memcpy(dst, UNKNOWN_SURFACE, sizeof(UNKNOWN_SURFACE) - 1);
		return sizeof(UNKNOWN_SURFACE) - 1;
	case RB_TOKEN_BYTE:
		/* <0xNN> */
		if (n == 6 && tok->model == RB_TOK_MODEL_SPM) {
			unsigned v = (unsigned)strtoul(t + 3, NULL, 16);
			dst[0] = (char)v;
			return 1;
		}
		break;
	case RB_TOKEN_USER_DEFINED:
		if (tok->model == RB_TOK_MODEL_BPE) {
			memcpy(dst, t, n); /* added tokens are stored as plain text */
			return n;
		}
		break;
	default:
		break;
	}
	size_t k = 0;
	const uint8_t *p = (const uint8_t *)t;
	for (size_t off = 0; off < n;) {
		uint32_t cp;
		size_t len = rb_utf8_decode(p + off, n - off, &cp);
		int byte = tok->model == RB_TOK_MODEL_BPE ? rb_bpe_cp_to_byte(cp) : -1;
		if (byte >= 0) {
			dst[k++] = (char)byte;
		} else if (tok->model == RB_TOK_MODEL_SPM && cp == 0x2581) {
			dst[k++] = ' ';
		} else {
			memcpy(dst + k, p + off, len);
			k += len;
		}
		off += len;
	}
	return k;
}

int rb_build_pieces(rb_tokenizer *tok, rb_err *err)
{
	size_t total = 0;
	for (int32_t i = 0; i < tok->n_vocab; i++)
		total += tok->text_len[i] + sizeof(UNKNOWN_SURFACE);
	tok->piece = malloc((size_t)tok->n_vocab * sizeof(*tok->piece));
	tok->piece_len = malloc((size_t)tok->n_vocab * sizeof(*tok->piece_len));
	char *arena = malloc(total);
	if (!tok->piece || !tok->piece_len || !arena) {
		free(arena);
		free(tok->piece);
		tok->piece = NULL;
		return rb_err_set(err, RB_E_NOMEM, "out of memory for token pieces");
	}
	for (int32_t i = 0; i < tok->n_vocab; i++) {
		size_t k = make_piece(tok, i, arena);
		tok->piece[i] = arena;
		tok->piece_len[i] = (uint32_t)k;
		arena += k;
	}
	return RB_OK;
}

const char *rb_tokenizer_piece(const rb_tokenizer *tok, int32_t id, size_t *len)
{
	if (id < 0 || id >= tok->n_vocab) {
		*len = 0;
		return NULL;
	}
	*len = tok->piece_len[id];
	return tok->piece[id];
}

/* What decoding shows of a token under the flags (NULL: nothing). */
static const char *shown_piece(const rb_tokenizer *tok, int32_t id, unsigned flags, size_t *len)
{
	uint8_t t = tok->type[id];
	if ((t == RB_TOKEN_CONTROL || t == RB_TOKEN_UNUSED) && !(flags & RB_DECODE_SPECIAL)) {
		*len = 0;
		return NULL;
	}
	*len = tok->piece_len[id];
	return tok->piece[id];
}

static bool is_text_token(const rb_tokenizer *tok, int32_t id)
{
	uint8_t t = tok->type[id];
	return t != RB_TOKEN_CONTROL && t != RB_TOKEN_UNUSED;
}

/* Strip one leading space of the first text token (SPM dummy prefix). */
static const char *strip_prefix(const rb_tokenizer *tok, const char *p, size_t *len)
{
	if (tok->model == RB_TOK_MODEL_SPM && tok->add_space_prefix && *len && p[0] == ' ') {
		(*len)--;
		return p + 1;
	}
	return p;
}

int rb_tokenizer_decode(const rb_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
			char **out, size_t *out_len, rb_err *err)
{
	*out = NULL;
	*out_len = 0;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || ids[i] >= tok->n_vocab)
			return rb_err_set(err, RB_E_INVALID, "decode: id %d at position %zu is not in "
					  "the vocabulary (0..%d)", ids[i], i, tok->n_vocab - 1);
		total += tok->piece_len[ids[i]];
	}
	char *s = malloc(total + 1);
	if (!s)
		return rb_err_set(err, RB_E_NOMEM, "out of memory for %zu bytes", total);
	size_t k = 0;
	bool seen_text = false;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *p = shown_piece(tok, ids[i], flags, &len);
		if (!seen_text && is_text_token(tok, ids[i])) {
			seen_text = true;
			if (flags & RB_DECODE_STRIP_SPACE)
				p = strip_prefix(tok, p, &len);
		}
		if (len)
			memcpy(s + k, p, len);
		k += len;
	}
	s[k] = '\0';
	*out = s;
	*out_len = k;
	return RB_OK;
}

/* ---- streaming --------------------------------------------------------- */

struct rb_detokenizer {
	const rb_tokenizer *tok;
	unsigned flags;
	bool seen_text;
	uint8_t pending[4]; /* start of a character still missing bytes */
	size_t n_pending;
	char *buf;
	size_t cap;
};

int rb_detokenizer_create(const rb_tokenizer *tok, unsigned flags, rb_detokenizer **out,
			  rb_err *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	(*out)->tok = tok;
	(*out)->flags = flags;
	return RB_OK;
}

void rb_detokenizer_free(rb_detokenizer *d)
{
	if (d)
		free(d->buf);
	free(d);
}

void rb_detokenizer_reset(rb_detokenizer *d)
{
	d->seen_text = false;
	d->n_pending = 0;
}

int rb_detokenizer_push(rb_detokenizer *d, int32_t id, const char **text, size_t *len,
			rb_err *err)
{
	const rb_tokenizer *tok = d->tok;
	*text = "";
	*len = 0;
	if (id < 0 || id >= tok->n_vocab)
		return rb_err_set(err, RB_E_INVALID, "decode: id %d is not in the vocabulary (0..%d)",
				  id, tok->n_vocab - 1);
	size_t n;
	const char *p = shown_piece(tok, id, d->flags, &n);
	if (!d->seen_text && is_text_token(tok, id)) {
		d->seen_text = true;
		if (d->flags & RB_DECODE_STRIP_SPACE)
			p = strip_prefix(tok, p, &n);
	}
	size_t need = d->n_pending + n;
	if (need > d->cap) {
		char *b = realloc(d->buf, need);
		if (!b)
			return rb_err_set(err, RB_E_NOMEM, "out of memory");
		d->buf = b;
		d->cap = need;
	}
	if (d->n_pending)
		memcpy(d->buf, d->pending, d->n_pending);
	if (n)
		memcpy(d->buf + d->n_pending, p, n);
	size_t hold = rb_utf8_incomplete_tail((const uint8_t *)d->buf, need);
	if (hold)
		memcpy(d->pending, d->buf + need - hold, hold);
	d->n_pending = hold;
	*text = d->buf ? d->buf : "";
	*len = need - hold;
	return RB_OK;
}

void rb_detokenizer_flush(rb_detokenizer *d, const char **text, size_t *len)
{
	/* valid until the next push overwrites pending */
	*text = (const char *)d->pending;
	*len = d->n_pending;
	d->n_pending = 0;
}
