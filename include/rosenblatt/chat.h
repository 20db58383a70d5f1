/* SPDX-License-Identifier: MIT */
/* Chat formats: ChatML (Qwen), llama-2 ([INST], <<SYS>>) and llama-3
 * (<|start_header_id|>). No Jinja interpreter: the format is recognised from
 * distinctive substrings of tokenizer.chat_template (or named explicitly) and
 * rendered by hand; docs/tokenizers.md shows the exact strings.
 *
 * Multi-turn use that keeps the KV cache between turns:
 *
 *     rb_chat_user(chat, "Hi", &delta)    -> feed delta (encode with
 *                                            RB_TOK_PARSE_SPECIAL, no ADD_SPECIAL)
 *     generate until a stop token (rb_chat_stop_tokens), the stop token itself
 *     is not fed
 *     rb_chat_assistant(chat, reply)      -> reply = the generated text
 *     rb_chat_user(chat, "More", &delta)  -> delta starts by closing the
 *                                            assistant turn, then the new turn
 *
 * Invariant (tested): delta_1 + reply_1 + delta_2 + reply_2 + ... + delta_n
 * equals rb_chat_render() of the whole conversation, where reply_i is the
 * text given to rb_chat_assistant (llama-2 only: with one leading space added
 * if it has none, as the model generates it after "[/INST]"). */
#ifndef ROSENBLATT_CHAT_H
#define ROSENBLATT_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "rosenblatt/error.h"
#include "rosenblatt/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rb_chat_format {
	RB_CHAT_CHATML = 1, /* "chatml": <|im_start|>role\n...<|im_end|>\n */
	RB_CHAT_LLAMA2 = 2, /* "llama2": <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] */
	RB_CHAT_LLAMA3 = 3, /* "llama3": <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
};

const char *rb_chat_format_name(enum rb_chat_format f);
/* "chatml" (also "qwen", "qwen2"), "llama2", "llama3"; RB_E_INVALID otherwise. */
int rb_chat_format_from_name(const char *name, enum rb_chat_format *out, rb_err *err);
/* Recognise a Jinja chat template; RB_E_UNSUPPORTED (naming the formats we
 * know) if none matches or tmpl is NULL. */
int rb_chat_format_detect(const char *tmpl, enum rb_chat_format *out, rb_err *err);
/* The literal default system prompt a template carries (Qwen's "You are a
 * helpful assistant."), malloc'd; NULL if it has none. */
char *rb_chat_template_default_system(const char *tmpl);

typedef struct rb_chat rb_chat;

typedef struct rb_chat_options {
	const char *format; /* format name, overrides detection; NULL: detect from the template */
	const char *system; /* system prompt; NULL: the template's default if any; "": none */
} rb_chat_options;

/* tmpl: the chat template (may be NULL when opt->format is given). opt may be NULL. */
int rb_chat_create(const char *tmpl, const rb_chat_options *opt, rb_chat **out, rb_err *err);
/* Same, with the template from the tokenizer's GGUF metadata. */
int rb_chat_create_for(const rb_tokenizer *tok, const rb_chat_options *opt, rb_chat **out,
		       rb_err *err);
void rb_chat_free(rb_chat *c);

enum rb_chat_format rb_chat_get_format(const rb_chat *c);
const char *rb_chat_system(const rb_chat *c); /* NULL when there is none */

/* Add a user message. *delta (malloc'd, NUL-terminated) is the text that
 * follows everything fed so far: the conversation's opening on the first
 * call (BOS text for the llama formats, the system prompt), the closing of
 * the previous assistant turn, the user turn and the assistant prefix.
 * RB_E_INVALID if the previous message was also the user's. */
int rb_chat_user(rb_chat *c, const char *text, char **delta, rb_err *err);
/* Record the assistant's reply (the generated text without the stop token).
 * RB_E_INVALID unless the previous message was the user's. */
int rb_chat_assistant(rb_chat *c, const char *text, rb_err *err);
/* The whole conversation as the template renders it, ending with the
 * assistant prefix when the last message is the user's. *out is malloc'd. */
int rb_chat_render(const rb_chat *c, char **out, rb_err *err);

/* The end-of-turn marker text ("<|im_end|>", "</s>", "<|eot_id|>"). */
const char *rb_chat_end_of_turn(const rb_chat *c);
/* Ids the generator stops at: the end-of-turn token and EOS (those the
 * vocabulary has, no duplicates). Returns how many; writes at most cap. */
size_t rb_chat_stop_tokens(const rb_chat *c, const rb_tokenizer *tok, int32_t *ids, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
