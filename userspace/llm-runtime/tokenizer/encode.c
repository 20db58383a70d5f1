/* SPDX-License-Identifier: MIT */
/* Encoding: split the input at special tokens, encode the text between them
 * with the vocabulary's model, add BOS/EOS. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

int rb_tokens_push(rb_tokens *t, int32_t id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		int32_t *ids = realloc(t->ids, cap * sizeof(*ids));
		if (!ids)
			return RB_E_NOMEM;
		t->ids = ids;
		t->cap = cap;
	}
	t->ids[t->n++] = id;
	return RB_OK;
}

void rb_tokens_free(rb_tokens *t)
{
	free(t->ids);
	t->ids = NULL;
	t->n = t->cap = 0;
}

/* The longest special token starting at text (leftmost-longest scan). */
static const struct rb_special *match_special(const rb_tokenizer *tok, const char *text,
					      size_t len, bool parse_special)
{
	uint8_t b = (uint8_t)text[0];
	for (uint32_t k = tok->special_first[b]; k < tok->special_first[b + 1]; k++) {
		const struct rb_special *sp = &tok->specials[k];
		if (sp->control && !parse_special)
			continue;
		if (sp->len <= len && memcmp(tok->text[sp->id], text, sp->len) == 0)
			return sp;
	}
	return NULL;
}

static int encode_fragment(const rb_tokenizer *tok, const char *text, size_t len,
			   bool after_special, rb_tokens *out, rb_err *err)
{
	if (tok->model == RB_TOK_MODEL_SPM)
		/* The dummy prefix goes in front of the text and of every text
		 * fragment that follows a special token (llama.cpp's rule). */
		return rb_spm_encode(tok, text, len, tok->add_space_prefix && after_special, out, err);
	return rb_bpe_encode(tok, text, len, out, err);
}

static int push_special(const rb_tokenizer *tok, int32_t id, const char *what, rb_tokens *out,
			rb_err *err)
{
	if (id < 0)
		return rb_err_set(err, RB_E_INVALID, "a %s token was asked for but the vocabulary has none",
				  what);
	(void)tok;
	return rb_tokens_push(out, id) ? rb_err_set(err, RB_E_NOMEM, "out of memory") : RB_OK;
}

static int encode_text(const rb_tokenizer *tok, const char *text, size_t len, bool parse,
		       rb_tokens *out, rb_err *err)
{
	bool after_special = true;
	size_t frag = 0;
	int rc = RB_OK;
	for (size_t i = 0; i < len && !rc;) {
		const struct rb_special *sp = match_special(tok, text + i, len - i, parse);
		if (!sp) {
			i++;
			continue;
		}
		if (i > frag)
			rc = encode_fragment(tok, text + frag, i - frag, after_special, out, err);
		if (!rc && rb_tokens_push(out, sp->id))
			rc = rb_err_set(err, RB_E_NOMEM, "out of memory");
		after_special = true;
		i += sp->len;
		frag = i;
	}
	if (!rc && len > frag)
		rc = encode_fragment(tok, text + frag, len - frag, after_special, out, err);
	return rc;
}

int rb_tokenizer_encode(const rb_tokenizer *tok, const char *text, size_t len, unsigned flags,
			rb_tokens *out, rb_err *err)
{
	size_t n0 = out->n;
	bool add_bos = (flags & RB_TOK_ADD_BOS) || ((flags & RB_TOK_ADD_SPECIAL) && tok->add_bos);
	bool add_eos = (flags & RB_TOK_ADD_EOS) || ((flags & RB_TOK_ADD_SPECIAL) && tok->add_eos);
	int rc = RB_OK;
	if (!text && len)
		return rb_err_set(err, RB_E_INVALID, "encode: NULL text of %zu bytes", len);
	if (add_bos)
		rc = push_special(tok, tok->bos, "BOS", out, err);
	if (!rc)
		rc = encode_text(tok, text, len, flags & RB_TOK_PARSE_SPECIAL, out, err);
	if (!rc && add_eos)
		rc = push_special(tok, tok->eos, "EOS", out, err);
	if (rc)
		out->n = n0;
	return rc;
}
