/* SPDX-License-Identifier: MIT */
/* Chat formats rendered by hand. The strings are those the models' own
 * chat templates produce (Qwen2 tokenizer_config.json chat_template; Meta's
 * llama-2 chat prompt format with [INST]/<<SYS>>; Meta's llama-3 prompt
 * format with header ids), see docs/tokenizers.md. */
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/chat.h"

struct msg {
	enum { ROLE_USER, ROLE_ASSISTANT } role;
	char *text;
};

struct rb_chat {
	enum rb_chat_format format;
	char *system; /* NULL: none */
	struct msg *msgs;
	size_t n_msgs, cap_msgs;
};

/* A growable string. */
struct sbuf {
	char *s;
	size_t n, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t len = strlen(s);
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->n + len + 1) * 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, len + 1);
	b->n += len;
}

static int sb_finish(struct sbuf *b, char **out, rb_err *err)
{
	if (!b->oom && !b->s)
		sb_add(b, "");
	if (b->oom) {
		free(b->s);
		*out = NULL;
		return rb_err_set(err, RB_E_NOMEM, "out of memory rendering the chat");
	}
	*out = b->s;
	return RB_OK;
}

/* ---- formats ----------------------------------------------------------- */

static const struct {
	const char *name;
	enum rb_chat_format format;
} format_names[] = {
	{ "chatml", RB_CHAT_CHATML }, { "qwen", RB_CHAT_CHATML }, { "qwen2", RB_CHAT_CHATML },
	{ "llama2", RB_CHAT_LLAMA2 }, { "llama3", RB_CHAT_LLAMA3 },
};

const char *rb_chat_format_name(enum rb_chat_format f)
{
	switch (f) {
	case RB_CHAT_CHATML: return "chatml";
	case RB_CHAT_LLAMA2: return "llama2";
	case RB_CHAT_LLAMA3: return "llama3";
	}
	return "?";
}

int rb_chat_format_from_name(const char *name, enum rb_chat_format *out, rb_err *err)
{
	for (size_t i = 0; name && i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(name, format_names[i].name) == 0) {
			*out = format_names[i].format;
			return RB_OK;
		}
	}
	return rb_err_set(err, RB_E_INVALID, "unknown chat format '%s' (known: chatml, llama2, llama3)",
			  name ? name : "(null)");
}

int rb_chat_format_detect(const char *tmpl, enum rb_chat_format *out, rb_err *err)
{
	if (!tmpl)
		return rb_err_set(err, RB_E_UNSUPPORTED, "the model has no tokenizer.chat_template: "
				  "name a chat format (chatml, llama2, llama3)");
	if (strstr(tmpl, "<|im_start|>"))
		*out = RB_CHAT_CHATML;
	else if (strstr(tmpl, "<|start_header_id|>"))
		*out = RB_CHAT_LLAMA3;
	else if (strstr(tmpl, "[INST]"))
		*out = RB_CHAT_LLAMA2;
	else
		return rb_err_set(err, RB_E_UNSUPPORTED, "tokenizer.chat_template is none of the known "
				  "formats (chatml, llama2, llama3): name one explicitly");
	return RB_OK;
}

/* A literal up to `end`, without quotes, braces or escapes (so it is plain text). */
static char *literal_until(const char *p, const char *end)
{
	const char *q = strstr(p, end);
	if (!q || q == p)
		return NULL;
	for (const char *c = p; c < q; c++)
		if (strchr("'\"{}\\+", *c))
			return NULL;
	return strndup(p, (size_t)(q - p));
}

char *rb_chat_template_default_system(const char *tmpl)
{
	if (!tmpl)
		return NULL;
	/* Qwen2.5: '<|im_start|>system\nYou are Qwen, ...<|im_end|>\n' written out;
	 * the newline may be a real one or a Jinja "\n" escape. */
	static const char *const heads[] = { "<|im_start|>system\n", "<|im_start|>system\\n" };
	for (size_t i = 0; i < 2; i++) {
		for (const char *p = strstr(tmpl, heads[i]); p; p = strstr(p + 1, heads[i])) {
			char *s = literal_until(p + strlen(heads[i]), "<|im_end|>");
			if (s)
				return s;
		}
	}
	/* Qwen2: {% set system_message = 'You are a helpful assistant.' %} */
	const char *p = strstr(tmpl, "system_message = '");
	return p ? literal_until(p + strlen("system_message = '"), "'") : NULL;
}

/* Opening of the conversation (before the first user turn). */
static void render_open(const rb_chat *c, struct sbuf *b)
{
	switch (c->format) {
	case RB_CHAT_CHATML:
		if (c->system) {
			sb_add(b, "<|im_start|>system\n");
			sb_add(b, c->system);
			sb_add(b, "<|im_end|>\n");
		}
		break;
	case RB_CHAT_LLAMA2:
		break; /* each turn starts with its own <s> */
	case RB_CHAT_LLAMA3:
		sb_add(b, "<|begin_of_text|>");
		if (c->system) {
			sb_add(b, "<|start_header_id|>system<|end_header_id|>\n\n");
			sb_add(b, c->system);
			sb_add(b, "<|eot_id|>");
		}
		break;
	}
}

/* A user turn and the assistant prefix after it. */
static void render_user(const rb_chat *c, const char *text, bool first, struct sbuf *b)
{
	switch (c->format) {
	case RB_CHAT_CHATML:
		sb_add(b, "<|im_start|>user\n");
		sb_add(b, text);
		sb_add(b, "<|im_end|>\n<|im_start|>assistant\n");
		break;
	case RB_CHAT_LLAMA2:
		sb_add(b, "<s>[INST] ");
		if (first && c->system) {
			sb_add(b, "<<SYS>>\n");
			sb_add(b, c->system);
			sb_add(b, "\n<</SYS>>\n\n");
		}
		sb_add(b, text);
		sb_add(b, " [/INST]");
		break;
	case RB_CHAT_LLAMA3:
		sb_add(b, "<|start_header_id|>user<|end_header_id|>\n\n");
		sb_add(b, text);
		sb_add(b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
		break;
	}
}

/* The assistant's text as the model produces it after the prefix. */
static void render_reply(const rb_chat *c, const char *text, struct sbuf *b)
{
	if (c->format == RB_CHAT_LLAMA2 && text[0] != ' ')
		sb_add(b, " ");
	sb_add(b, text);
}

/* What closes an assistant turn (the model stops before it). */
static void render_close(const rb_chat *c, struct sbuf *b)
{
	switch (c->format) {
	case RB_CHAT_CHATML: sb_add(b, "<|im_end|>\n"); break;
	case RB_CHAT_LLAMA2: sb_add(b, " </s>"); break;
	case RB_CHAT_LLAMA3: sb_add(b, "<|eot_id|>"); break;
	}
}

/* ---- conversation ------------------------------------------------------ */

int rb_chat_create(const char *tmpl, const rb_chat_options *opt, rb_chat **out, rb_err *err)
{
	*out = NULL;
	enum rb_chat_format f;
	int rc = opt && opt->format ? rb_chat_format_from_name(opt->format, &f, err)
				    : rb_chat_format_detect(tmpl, &f, err);
	if (rc)
		return rc;
	rb_chat *c = calloc(1, sizeof(*c));
	if (!c)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	c->format = f;
	if (opt && opt->system)
		c->system = opt->system[0] ? strdup(opt->system) : NULL;
	else
		c->system = rb_chat_template_default_system(tmpl);
	if (opt && opt->system && opt->system[0] && !c->system) {
		free(c);
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	}
	*out = c;
	return RB_OK;
}

int rb_chat_create_for(const rb_tokenizer *tok, const rb_chat_options *opt, rb_chat **out,
		       rb_err *err)
{
	return rb_chat_create(rb_tokenizer_chat_template(tok), opt, out, err);
}

void rb_chat_free(rb_chat *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_msgs; i++)
		free(c->msgs[i].text);
	free(c->msgs);
	free(c->system);
	free(c);
}

enum rb_chat_format rb_chat_get_format(const rb_chat *c) { return c->format; }
const char *rb_chat_system(const rb_chat *c) { return c->system; }

static int add_msg(rb_chat *c, int role, const char *text, rb_err *err)
{
	if (c->n_msgs == c->cap_msgs) {
		size_t cap = c->cap_msgs ? 2 * c->cap_msgs : 8;
		struct msg *m = realloc(c->msgs, cap * sizeof(*m));
		if (!m)
			return rb_err_set(err, RB_E_NOMEM, "out of memory");
		c->msgs = m;
		c->cap_msgs = cap;
	}
	char *copy = strdup(text);
	if (!copy)
		return rb_err_set(err, RB_E_NOMEM, "out of memory");
	c->msgs[c->n_msgs].role = role;
	c->msgs[c->n_msgs].text = copy;
	c->n_msgs++;
	return RB_OK;
}

int rb_chat_user(rb_chat *c, const char *text, char **delta, rb_err *err)
{
	*delta = NULL;
	if (!text)
		return rb_err_set(err, RB_E_INVALID, "chat: NULL user message");
	if (c->n_msgs && c->msgs[c->n_msgs - 1].role == ROLE_USER)
		return rb_err_set(err, RB_E_INVALID, "chat: two user messages in a row (the "
				  "assistant's reply to the first one is missing)");
	struct sbuf b = { 0 };
	if (c->n_msgs == 0)
		render_open(c, &b);
	else
		render_close(c, &b);
	render_user(c, text, c->n_msgs == 0, &b);
	int rc = sb_finish(&b, delta, err);
	if (!rc && (rc = add_msg(c, ROLE_USER, text, err))) {
		free(*delta);
		*delta = NULL;
	}
	return rc;
}

int rb_chat_assistant(rb_chat *c, const char *text, rb_err *err)
{
	if (!text)
		return rb_err_set(err, RB_E_INVALID, "chat: NULL assistant message");
	if (!c->n_msgs || c->msgs[c->n_msgs - 1].role != ROLE_USER)
		return rb_err_set(err, RB_E_INVALID, "chat: an assistant reply must follow a user message");
	return add_msg(c, ROLE_ASSISTANT, text, err);
}

int rb_chat_render(const rb_chat *c, char **out, rb_err *err)
{
	struct sbuf b = { 0 };
	render_open(c, &b);
	for (size_t i = 0; i < c->n_msgs; i++) {
		if (c->msgs[i].role == ROLE_USER) {
			render_user(c, c->msgs[i].text, i == 0, &b);
		} else {
			render_reply(c, c->msgs[i].text, &b);
			render_close(c, &b);
		}
	}
	return sb_finish(&b, out, err);
}

const char *rb_chat_end_of_turn(const rb_chat *c)
{
	switch (c->format) {
	case RB_CHAT_CHATML: return "<|im_end|>";
	case RB_CHAT_LLAMA2: return "</s>";
	case RB_CHAT_LLAMA3: return "<|eot_id|>";
	}
	return "";
}

size_t rb_chat_stop_tokens(const rb_chat *c, const rb_tokenizer *tok, int32_t *ids, size_t cap)
{
	int32_t cand[2] = { rb_tokenizer_find(tok, rb_chat_end_of_turn(c)), rb_tokenizer_eos(tok) };
	size_t n = 0;
	for (size_t i = 0; i < 2; i++) {
		if (cand[i] < 0 || (i == 1 && cand[1] == cand[0]))
			continue;
		if (n < cap)
			ids[n] = cand[i];
		n++;
	}
	return n;
}
