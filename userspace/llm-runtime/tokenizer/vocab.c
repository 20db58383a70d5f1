/* SPDX-License-Identifier: MIT */
/* Building a tokenizer from GGUF metadata. Key names and token type values
 * follow the GGUF specification (ggml docs/gguf.md, "tokenizer" section). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_PRE "tokenizer.ggml.pre"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_MERGES "tokenizer.ggml.merges"

static const struct {
	const char *name;
	enum rb_tok_pre pre;
} pre_names[] = {
	{ "default", RB_TOK_PRE_DEFAULT }, { "gpt-2", RB_TOK_PRE_DEFAULT },
	{ "gpt2", RB_TOK_PRE_DEFAULT },    { "llama-bpe", RB_TOK_PRE_LLAMA3 },
	{ "llama3", RB_TOK_PRE_LLAMA3 },   { "llama-v3", RB_TOK_PRE_LLAMA3 },
	{ "qwen2", RB_TOK_PRE_QWEN2 },
};

const char *rb_tok_pre_name(enum rb_tok_pre pre)
{
	switch (pre) {
	case RB_TOK_PRE_NONE: return "none";
	case RB_TOK_PRE_DEFAULT: return "default";
	case RB_TOK_PRE_LLAMA3: return "llama-bpe";
	case RB_TOK_PRE_QWEN2: return "qwen2";
	}
	return "?";
}

static int pre_from_name(const char *name, enum rb_tok_pre *out, rb_err *err)
{
	for (size_t i = 0; i < sizeof(pre_names) / sizeof(pre_names[0]); i++) {
		if (strcmp(name, pre_names[i].name) == 0) {
			*out = pre_names[i].pre;
			return RB_OK;
		}
	}
	return rb_err_set(err, RB_E_UNSUPPORTED,
			  "%s: pre-tokenizer '%s' is not supported (supported: qwen2, "
			  "llama-bpe/llama3/llama-v3, default/gpt-2)", KEY_PRE, name);
}

/* An optional token id key; absent, or out of range (GGUF writers use
 * 0xFFFFFFFF for "none"), gives -1. */
static int32_t opt_id(const rb_gguf *g, const char *key, int32_t n_vocab)
{
	uint64_t v;
	if (rb_gguf_find_key(g, key) < 0 || rb_gguf_get_u64(g, key, &v, NULL) != RB_OK)
		return -1;
	return v < (uint64_t)n_vocab ? (int32_t)v : -1;
}

static bool opt_bool(const rb_gguf *g, const char *key, bool dflt)
{
	bool v;
	if (rb_gguf_find_key(g, key) < 0 || rb_gguf_get_bool(g, key, &v, NULL) != RB_OK)
		return dflt;
	return v;
}

/* A per-token array: absent is fine (NULL), present must be numeric and n long. */
static int per_token_array(const rb_gguf *g, const char *key, int32_t n,
			   const rb_gguf_array **out, rb_err *err)
{
	*out = NULL;
	if (rb_gguf_find_key(g, key) < 0)
		return RB_OK;
	int rc = rb_gguf_get_arr(g, key, out, err);
	if (rc)
		return rc;
	if ((*out)->type == RB_GGUF_STRING || (*out)->n != (uint64_t)n)
		return rb_err_set(err, RB_E_FORMAT, "%s: expected %d numbers, got %llu of type %s",
				  key, n, (unsigned long long)(*out)->n,
				  rb_gguf_vtype_name((*out)->type));
	return RB_OK;
}

static int copy_texts(rb_tokenizer *tok, const rb_gguf_array *arr, rb_err *err)
{
	size_t total = 0;
	for (uint64_t i = 0; i < arr->n; i++) {
		if (arr->strs[i].len > UINT32_MAX / 2)
			return rb_err_set(err, RB_E_FORMAT, "%s[%llu]: token of %llu bytes",
					  KEY_TOKENS, (unsigned long long)i,
					  (unsigned long long)arr->strs[i].len);
		total += arr->strs[i].len + 1;
	}
	char *arena = malloc(total ? total : 1);
	tok->text = malloc((size_t)arr->n * sizeof(*tok->text));
	tok->text_len = malloc((size_t)arr->n * sizeof(*tok->text_len));
	if (!arena || !tok->text || !tok->text_len) {
		free(arena);
		free(tok->text);
		free(tok->text_len);
		tok->text = NULL;
		tok->text_len = NULL;
		return rb_err_set(err, RB_E_NOMEM, "out of memory for %llu tokens",
				  (unsigned long long)arr->n);
	}
	for (uint64_t i = 0; i < arr->n; i++) {
		size_t len = arr->strs[i].len;
		if (len)
			memcpy(arena, arr->strs[i].data, len);
		arena[len] = '\0';
		tok->text[i] = arena;
		tok->text_len[i] = (uint32_t)len;
		arena += len + 1;
	}
	return RB_OK;
}

static int compare_specials(const void *pa, const void *pb, void *ctx)
{
	const struct rb_special *a = pa, *b = pb;
	const rb_tokenizer *tok = ctx;
	uint8_t fa = (uint8_t)tok->text[a->id][0], fb = (uint8_t)tok->text[b->id][0];
	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1; /* longest first */
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Tokens matched whole in the input: CONTROL, USER_DEFINED and UNKNOWN ones. */
static int collect_specials(rb_tokenizer *tok, rb_err *err)
{
	uint32_t n = 0;
	for (int32_t i = 0; i < tok->n_vocab; i++) {
		uint8_t t = tok->type[i];
		if (tok->text_len[i] && (t == RB_TOKEN_CONTROL || t == RB_TOKEN_USER_DEFINED ||
					 t == RB_TOKEN_UNKNOWN))
			n++;
	}
	tok->specials = calloc(n ? n : 1, sizeof(*tok->specials));
	if (!tok->specials)
		return rb_err_set(err, RB_E_NOMEM, "out of memory for %u special tokens", n);
	n = 0;
	for (int32_t i = 0; i < tok->n_vocab; i++) {
		uint8_t t = tok->type[i];
		if (tok->text_len[i] && (t == RB_TOKEN_CONTROL || t == RB_TOKEN_USER_DEFINED ||
					 t == RB_TOKEN_UNKNOWN)) {
			tok->specials[n].id = i;
			tok->specials[n].len = tok->text_len[i];
			tok->specials[n].control = t != RB_TOKEN_USER_DEFINED;
			n++;
		}
	}
	tok->n_specials = n;
	qsort_r(tok->specials, n, sizeof(*tok->specials), compare_specials, tok);
	uint32_t k = 0;
	for (unsigned b = 0; b <= 256; b++) {
		while (k < n && (uint8_t)tok->text[tok->specials[k].id][0] < b)
			k++;
		tok->special_first[b] = k;
	}
	return RB_OK;
}

static void add_eog(rb_tokenizer *tok, int32_t id)
{
	if (id < 0 || tok->n_eog >= (int)(sizeof(tok->eog) / sizeof(tok->eog[0])))
		return;
	for (int i = 0; i < tok->n_eog; i++)
		if (tok->eog[i] == id)
			return;
	tok->eog[tok->n_eog++] = id;
}

static void collect_eog(rb_tokenizer *tok)
{
	/* End-of-turn markers of the chat formats in chat.h. */
	static const char *const names[] = { "<|im_end|>", "<|eot_id|>", "<|endoftext|>",
					     "<|end_of_text|>" };
	add_eog(tok, tok->eos);
	add_eog(tok, tok->eot);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int32_t id = rb_tokenizer_find(tok, names[i]);
		if (id >= 0 && tok->type[id] == RB_TOKEN_CONTROL)
			add_eog(tok, id);
	}
}

static int read_model(rb_tokenizer *tok, const rb_gguf *g, const rb_tokenizer_options *opt,
		      rb_err *err)
{
	rb_gguf_str s;
	int rc = rb_gguf_get_str(g, KEY_MODEL, &s, err);
	if (rc)
		return rc;
	if (rb_gguf_str_eq(s, "gpt2")) {
		tok->model = RB_TOK_MODEL_BPE;
	} else if (rb_gguf_str_eq(s, "llama")) {
		tok->model = RB_TOK_MODEL_SPM;
	} else {
		return rb_err_set(err, RB_E_UNSUPPORTED,
				  "%s = '%.*s' is not supported (supported: gpt2, llama)", KEY_MODEL,
				  (int)(s.len > 64 ? 64 : s.len), s.data);
	}
	tok->pre = RB_TOK_PRE_NONE;
	if (tok->model != RB_TOK_MODEL_BPE)
		return RB_OK;

	char *name = NULL;
	if (opt && opt->pre) {
		name = strdup(opt->pre);
	} else if (rb_gguf_find_key(g, KEY_PRE) >= 0) {
		if ((rc = rb_gguf_get_str(g, KEY_PRE, &s, err)))
			return rc;
		name = rb_gguf_str_dup(s);
	} else {
		tok->pre = RB_TOK_PRE_DEFAULT;
		snprintf(tok->warning, sizeof(tok->warning),
			 "%s missing: using the 'default' (GPT-2) split; tokens may differ from "
			 "the model's training", KEY_PRE);
		return RB_OK;
	}
	if (!name)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	rc = pre_from_name(name, &tok->pre, err);
	free(name);
	/* llama-3's tokenizer.json sets "ignore_merges": words already in the
	 * vocabulary are not merged again. */
	tok->ignore_merges = tok->pre == RB_TOK_PRE_LLAMA3;
	return rc;
}

static int read_vocab(rb_tokenizer *tok, const rb_gguf *g, rb_err *err)
{
	const rb_gguf_array *tokens, *types, *scores;
	int rc = rb_gguf_get_arr(g, KEY_TOKENS, &tokens, err);
	if (rc)
		return rc;
	if (tokens->type != RB_GGUF_STRING || tokens->n == 0 || tokens->n > INT32_MAX / 2)
		return rb_err_set(err, RB_E_FORMAT, "%s: expected 1..%d strings, got %llu of type %s",
				  KEY_TOKENS, INT32_MAX / 2, (unsigned long long)tokens->n,
				  rb_gguf_vtype_name(tokens->type));
	tok->n_vocab = (int32_t)tokens->n;
	if ((rc = per_token_array(g, KEY_TYPES, tok->n_vocab, &types, err)) ||
	    (rc = per_token_array(g, KEY_SCORES, tok->n_vocab, &scores, err)) ||
	    (rc = copy_texts(tok, tokens, err)))
		return rc;

	tok->type = malloc((size_t)tok->n_vocab);
	tok->score = malloc((size_t)tok->n_vocab * sizeof(float));
	if (!tok->type || !tok->score)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	for (int32_t i = 0; i < tok->n_vocab; i++) {
		int64_t t = types ? rb_gguf_arr_i64(types, (uint64_t)i) : RB_TOKEN_NORMAL;
		if (t < RB_TOKEN_UNDEFINED || t > RB_TOKEN_BYTE)
			return rb_err_set(err, RB_E_FORMAT, "%s[%d] = %lld is not a token type",
					  KEY_TYPES, i, (long long)t);
		tok->type[i] = (uint8_t)(t == RB_TOKEN_UNDEFINED ? RB_TOKEN_NORMAL : t);
		tok->score[i] = scores ? (float)rb_gguf_arr_f64(scores, (uint64_t)i) : 0.0f;
	}
	if ((rc = rb_strmap_init(&tok->vocab, (uint32_t)tok->n_vocab)))
		return rb_err_set(err, rc, "out of memory");
	for (int32_t i = 0; i < tok->n_vocab; i++)
		rb_strmap_insert(&tok->vocab, tok, i);
	return RB_OK;
}

static void read_specials(rb_tokenizer *tok, const rb_gguf *g)
{
	int32_t n = tok->n_vocab;
	bool spm = tok->model == RB_TOK_MODEL_SPM;
	tok->bos = opt_id(g, "tokenizer.ggml.bos_token_id", n);
	tok->eos = opt_id(g, "tokenizer.ggml.eos_token_id", n);
	tok->unk = opt_id(g, "tokenizer.ggml.unknown_token_id", n);
	tok->pad = opt_id(g, "tokenizer.ggml.padding_token_id", n);
	tok->eot = opt_id(g, "tokenizer.ggml.eot_token_id", n);
	/* Without the key: SPM vocabularies want a BOS, byte-level BPE ones do
	 * not, except llama-3's (llama.cpp makes the same defaults). */
	tok->add_bos = opt_bool(g, "tokenizer.ggml.add_bos_token",
				spm || tok->pre == RB_TOK_PRE_LLAMA3);
	tok->add_eos = opt_bool(g, "tokenizer.ggml.add_eos_token", false);
	tok->add_space_prefix = spm && opt_bool(g, "tokenizer.ggml.add_space_prefix", true);
}

static int read_chat_template(rb_tokenizer *tok, const rb_gguf *g, rb_err *err)
{
	rb_gguf_str s;
	if (rb_gguf_find_key(g, "tokenizer.chat_template") < 0)
		return RB_OK;
	int rc = rb_gguf_get_str(g, "tokenizer.chat_template", &s, err);
	if (rc)
		return rc;
	if (!(tok->chat_template = rb_gguf_str_dup(s)))
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	return RB_OK;
}

int rb_tokenizer_from_gguf(const rb_gguf *g, const rb_tokenizer_options *opt,
			   rb_tokenizer **out, rb_err *err)
{
	*out = NULL;
	rb_tokenizer *tok = calloc(1, sizeof(*tok));
	if (!tok)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	int rc = read_model(tok, g, opt, err);
	if (!rc)
		rc = read_vocab(tok, g, err);
	if (!rc) {
		read_specials(tok, g);
		rc = read_chat_template(tok, g, err);
	}
	if (!rc)
		rc = collect_specials(tok, err);
	if (!rc && tok->model == RB_TOK_MODEL_BPE) {
		const rb_gguf_array *merges = NULL;
		rc = rb_gguf_get_arr(g, KEY_MERGES, &merges, err);
		if (!rc)
			rc = rb_bpe_build(tok, merges, err);
	} else if (!rc) {
		rc = rb_spm_build(tok, err);
	}
	if (!rc)
		rc = rb_build_pieces(tok, err);
	if (rc) {
		rb_tokenizer_free(tok);
		return rc;
	}
	collect_eog(tok);
	*out = tok;
	return RB_OK;
}

int rb_tokenizer_load(const char *path, const rb_tokenizer_options *opt, rb_tokenizer **out,
		      rb_err *err)
{
	rb_gguf *g;
	*out = NULL;
	int rc = rb_gguf_open(path, &g, err);
	if (rc)
		return rc;
	rc = rb_tokenizer_from_gguf(g, opt, out, err);
	if (rc)
		rb_err_wrap(err, "%s", path);
	rb_gguf_close(g);
	return rc;
}

void rb_tokenizer_free(rb_tokenizer *tok)
{
	if (!tok)
		return;
	if (tok->text)
		free(tok->text[0]); /* the arena */
	free(tok->text);
	free(tok->text_len);
	free(tok->type);
	free(tok->score);
	if (tok->piece)
		free(tok->piece[0]);
	free(tok->piece);
	free(tok->piece_len);
	rb_strmap_free(&tok->vocab);
	free(tok->merges.slots);
	free(tok->specials);
	free(tok->chat_template);
	free(tok);
}

const char *rb_tokenizer_warning(const rb_tokenizer *tok)
{
	return tok->warning[0] ? tok->warning : NULL;
}

int32_t rb_tokenizer_n_vocab(const rb_tokenizer *tok) { return tok->n_vocab; }
enum rb_tok_model rb_tokenizer_model(const rb_tokenizer *tok) { return tok->model; }
enum rb_tok_pre rb_tokenizer_pre(const rb_tokenizer *tok) { return tok->pre; }
int32_t rb_tokenizer_bos(const rb_tokenizer *tok) { return tok->bos; }
int32_t rb_tokenizer_eos(const rb_tokenizer *tok) { return tok->eos; }
int32_t rb_tokenizer_unk(const rb_tokenizer *tok) { return tok->unk; }
int32_t rb_tokenizer_pad(const rb_tokenizer *tok) { return tok->pad; }
bool rb_tokenizer_add_bos(const rb_tokenizer *tok) { return tok->add_bos; }
bool rb_tokenizer_add_eos(const rb_tokenizer *tok) { return tok->add_eos; }
const char *rb_tokenizer_chat_template(const rb_tokenizer *tok) { return tok->chat_template; }

bool rb_tokenizer_is_eog(const rb_tokenizer *tok, int32_t id)
{
	for (int i = 0; i < tok->n_eog; i++)
		if (tok->eog[i] == id)
			return true;
	return false;
}

const char *rb_tokenizer_token_text(const rb_tokenizer *tok, int32_t id)
{
	return id >= 0 && id < tok->n_vocab ? tok->text[id] : NULL;
}

enum rb_token_type rb_tokenizer_token_type(const rb_tokenizer *tok, int32_t id)
{
	return id >= 0 && id < tok->n_vocab ? (enum rb_token_type)tok->type[id] : RB_TOKEN_UNDEFINED;
}

int32_t rb_tokenizer_find(const rb_tokenizer *tok, const char *text)
{
	return rb_strmap_find(&tok->vocab, tok, text, strlen(text));
}
