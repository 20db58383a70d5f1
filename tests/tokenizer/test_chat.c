/* SPDX-License-Identifier: MIT */
/* Chat formats: exact strings for a system prompt + two user turns in each
 * format, incremental rendering == full rendering, detection, errors. */
#include "rosenblatt/chat.h"
#include "test.h"
#include "vectors.h"

static const char *U1 = "Hello", *A1 = "Hi! How can I help?", *U2 = "Tell me a joke.";

static const char *EXPECT_CHATML =
	"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
	"<|im_start|>user\nHello<|im_end|>\n"
	"<|im_start|>assistant\nHi! How can I help?<|im_end|>\n"
	"<|im_start|>user\nTell me a joke.<|im_end|>\n"
	"<|im_start|>assistant\n";

static const char *EXPECT_LLAMA2 =
	"<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello [/INST] Hi! How can I help? </s>"
	"<s>[INST] Tell me a joke. [/INST]";

static const char *EXPECT_LLAMA3 =
	"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
	"<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
	"<|start_header_id|>assistant<|end_header_id|>\n\nHi! How can I help?<|eot_id|>"
	"<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>"
	"<|start_header_id|>assistant<|end_header_id|>\n\n";

/* Two turns incrementally; the concatenation of deltas and replies must equal
 * both the full rendering and the expected string. */
static void check_conversation(rb_chat *c, const char *reply_as_generated, const char *expect)
{
	rb_err err = { 0 };
	char *d1, *d2, *full;
	CHECK(rb_chat_user(c, U1, &d1, &err) == RB_OK);
	CHECK(rb_chat_assistant(c, A1, &err) == RB_OK);
	CHECK(rb_chat_user(c, U2, &d2, &err) == RB_OK);
	CHECK(rb_chat_render(c, &full, &err) == RB_OK);
	size_t n = strlen(d1) + strlen(reply_as_generated) + strlen(d2) + 1;
	char *inc = malloc(n);
	REQUIRE(inc);
	snprintf(inc, n, "%s%s%s", d1, reply_as_generated, d2);
	CHECK_STR(full, expect);
	CHECK_STR(inc, full);
	free(d1);
	free(d2);
	free(full);
	free(inc);
}

static void test_formats(const rb_tokenizer *qwen)
{
	rb_err err = { 0 };
	rb_chat *c;
	/* ChatML, system prompt from the Qwen2 template's default */
	CHECK(rb_chat_create_for(qwen, NULL, &c, &err) == RB_OK);
	CHECK(rb_chat_get_format(c) == RB_CHAT_CHATML);
	CHECK(rb_chat_system(c) && strcmp(rb_chat_system(c), "You are a helpful assistant.") == 0);
	check_conversation(c, A1, EXPECT_CHATML);
	rb_chat_free(c);

	rb_chat_options o2 = { .format = "llama2", .system = "Be brief." };
	CHECK(rb_chat_create(NULL, &o2, &c, &err) == RB_OK);
	/* the model generates the space after [/INST] itself */
	check_conversation(c, " Hi! How can I help?", EXPECT_LLAMA2);
	rb_chat_free(c);

	rb_chat_options o3 = { .format = "llama3", .system = "Be brief." };
	CHECK(rb_chat_create(NULL, &o3, &c, &err) == RB_OK);
	check_conversation(c, A1, EXPECT_LLAMA3);
	rb_chat_free(c);

	/* no system prompt */
	rb_chat_options none = { .format = "chatml", .system = "" };
	char *d;
	CHECK(rb_chat_create(NULL, &none, &c, &err) == RB_OK && rb_chat_system(c) == NULL);
	CHECK(rb_chat_user(c, "x", &d, &err) == RB_OK);
	CHECK_STR(d, "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
	free(d);
	rb_chat_free(c);
	rb_chat_options l2 = { .format = "llama2" };
	CHECK(rb_chat_create(NULL, &l2, &c, &err) == RB_OK);
	CHECK(rb_chat_user(c, "x", &d, &err) == RB_OK);
	CHECK_STR(d, "<s>[INST] x [/INST]");
	free(d);
	rb_chat_free(c);
}

static void test_detect(void)
{
	rb_err err = { 0 };
	enum rb_chat_format f;
	CHECK(rb_chat_format_detect("{% for m in messages %}<|start_header_id|>{{ m.role }}", &f, &err) == RB_OK &&
	      f == RB_CHAT_LLAMA3);
	CHECK(rb_chat_format_detect("{{ bos_token + '[INST] ' + content + ' [/INST]' }}", &f, &err) == RB_OK &&
	      f == RB_CHAT_LLAMA2);
	CHECK(rb_chat_format_detect("{{'<|im_start|>' + role}}", &f, &err) == RB_OK && f == RB_CHAT_CHATML);
	CHECK(rb_chat_format_detect("{{ '<start_of_turn>' }}", &f, &err) == RB_E_UNSUPPORTED &&
	      strstr(err.msg, "chatml"));
	CHECK(rb_chat_format_detect(NULL, &f, &err) == RB_E_UNSUPPORTED);
	CHECK(rb_chat_format_from_name("qwen", &f, &err) == RB_OK && f == RB_CHAT_CHATML);
	CHECK(rb_chat_format_from_name("vicuna", &f, &err) == RB_E_INVALID && strstr(err.msg, "vicuna"));
	rb_chat *c = NULL;
	CHECK(rb_chat_create("plain", NULL, &c, &err) == RB_E_UNSUPPORTED && !c);

	/* Qwen2.5 writes its default system prompt inline, with a Jinja "\n" escape */
	char *s = rb_chat_template_default_system(
		"{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
		"helpful assistant.<|im_end|>\\n' }}{%- endif %}");
	CHECK(s && strcmp(s, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.") == 0);
	free(s);
	/* a system prompt that comes from a variable is not a default */
	CHECK(rb_chat_template_default_system("{{ '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>' }}") == NULL);
	CHECK(rb_chat_template_default_system(NULL) == NULL);
}

static void test_errors_and_stops(const rb_tokenizer *qwen, const rb_tokenizer *spm)
{
	rb_err err = { 0 };
	rb_chat *c;
	char *d;
	CHECK(rb_chat_create_for(qwen, NULL, &c, &err) == RB_OK);
	CHECK(rb_chat_assistant(c, "first?", &err) == RB_E_INVALID);
	CHECK(rb_chat_user(c, "one", &d, &err) == RB_OK);
	/* the delta tokenizes with the chat markers as single tokens */
	rb_tokens t = { 0 };
	CHECK(rb_tokenizer_encode(qwen, d, strlen(d), RB_TOK_PARSE_SPECIAL, &t, &err) == RB_OK);
	CHECK(t.n > 4 && t.ids[0] == 151644);
	size_t n_end = 0;
	for (size_t i = 0; i < t.n; i++)
		n_end += t.ids[i] == 151645;
	CHECK_EQ_INT(n_end, 2); /* after the system prompt and after the user turn */
	rb_tokens_free(&t);
	free(d);
	CHECK(rb_chat_user(c, "two", &d, &err) == RB_E_INVALID && d == NULL);
	int32_t stops[4];
	CHECK_EQ_INT(rb_chat_stop_tokens(c, qwen, stops, 4), 1); /* EOS is <|im_end|> here */
	CHECK_EQ_INT(stops[0], 151645);
	CHECK_STR(rb_chat_end_of_turn(c), "<|im_end|>");
	rb_chat_free(c);

	rb_chat_options o = { .format = "llama2" };
	CHECK(rb_chat_create_for(spm, &o, &c, &err) == RB_OK);
	CHECK_EQ_INT(rb_chat_stop_tokens(c, spm, stops, 4), 1);
	CHECK_EQ_INT(stops[0], 2);
	/* llama-2 rendering through the SPM tokenizer: <s> is BOS, [INST] text */
	CHECK(rb_chat_user(c, "hi", &d, &err) == RB_OK);
	CHECK(rb_tokenizer_encode(spm, d, strlen(d), RB_TOK_PARSE_SPECIAL, &t, &err) == RB_OK);
	CHECK(t.n > 3 && t.ids[0] == 1 && t.ids[1] != 1);
	rb_tokens_free(&t);
	free(d);
	rb_chat_free(c);
}

int main(void)
{
	rb_tokenizer *qwen = load_vocab("tokenizers/qwen2-vocab.gguf", NULL);
	rb_tokenizer *spm = load_vocab("tokenizers/llama-spm-vocab.gguf", NULL);
	test_formats(qwen);
	test_detect();
	test_errors_and_stops(qwen, spm);
	rb_tokenizer_free(qwen);
	rb_tokenizer_free(spm);
	return rb_test_finish();
}
