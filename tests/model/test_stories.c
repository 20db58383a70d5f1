/* SPDX-License-Identifier: MIT */
/* stories260K (a real trained llama model): the greedy continuation of
 * "Once upon a time" from BOS on the f32 weights reproduces the text llama2.c
 * produced, byte for byte (256 forward positions from BOS, prompt included).
 * The F16 / Q8_0 / Q4_K_M files must run and give plausible text (no
 * exactness expected after quantization): printable, mostly words. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/model.h"
#include "rosenblatt/sampler.h"
#include "rosenblatt/tokenizer.h"
#include "test.h"

#define DIR RB_TEST_DATA_DIR "/stories260K/"
#define STEPS 256

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	REQUIRE(f);
	fseek(f, 0, SEEK_END);
	const long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	REQUIRE(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Greedy generation as llama2.c's run.c does it: the prompt is fed from BOS
 * one position at a time, then argmax tokens, until STEPS positions have been
 * evaluated or BOS comes up. Returns the decoded text of every token after
 * BOS (the leading space of the first piece stripped). Prefill here is one
 * batched eval: the logits of its last position are those run.c samples. */
static char *generate(const char *file, const char *backend_name, enum rb_type kv, int threads)
{
	rb_err err = {0};
	rb_threadpool *tp = threads > 1 ? rb_threadpool_create(threads) : NULL;
	rb_matmul_backend *be = strcmp(backend_name, "ref") == 0 ? rb_ref_backend_create(tp, &err)
								   : rb_cpu_backend_create(tp, &err);
	REQUIRE(be);
	const rb_matmul_backend *list[] = {be};
	rb_model_params mp = {.backends = list, .n_backends = 1};
	rb_model *m;
	if (rb_model_load(file, &mp, &m, &err) != RB_OK) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	rb_tokenizer *tok;
	REQUIRE(rb_tokenizer_from_gguf(rb_model_get_gguf(m), NULL, &tok, &err) == RB_OK);
	rb_tokens ids = {0};
	const char *prompt = "Once upon a time";
	REQUIRE(rb_tokenizer_encode(tok, prompt, strlen(prompt), RB_TOK_ADD_BOS, &ids, &err) ==
		RB_OK);
	rb_session_params sp = rb_session_default_params();
	sp.kv_type = kv;
	sp.tp = tp;
	rb_session *s;
	REQUIRE(rb_session_create(m, &sp, &s, &err) == RB_OK);
	rb_sampler_params samp = rb_sampler_default_params();
	samp.temp = 0;
	rb_sampler *smp = rb_sampler_create(&samp, rb_model_get_hparams(m)->n_vocab, &err);
	REQUIRE(smp);

	CHECKF(rb_session_eval(s, ids.ids, (int64_t)ids.n, &err) == RB_OK, "%s", err.msg);
	while (rb_session_n_past(s) < STEPS) {
		const int32_t next = rb_sampler_sample(smp, rb_session_logits(s, -1));
		REQUIRE(rb_tokens_push(&ids, next) == RB_OK);
		if (next == rb_tokenizer_bos(tok))
			break;
		CHECKF(rb_session_eval(s, &next, 1, &err) == RB_OK, "%s", err.msg);
	}
	if (rb_session_n_past(s) == STEPS) /* the last evaluated position's choice */
		REQUIRE(rb_tokens_push(&ids, rb_sampler_sample(smp, rb_session_logits(s, -1))) ==
			RB_OK);
	char *text;
	size_t len;
	REQUIRE(rb_tokenizer_decode(tok, ids.ids + 1, ids.n - 1, RB_DECODE_STRIP_SPACE, &text, &len,
				    &err) == RB_OK);
	rb_tokens_free(&ids);
	rb_sampler_free(smp);
	rb_session_free(s);
	rb_tokenizer_free(tok);
	rb_model_free(m);
	rb_cpu_backend_destroy(be);
	rb_threadpool_destroy(tp);
	return text;
}

static void check_exact(const char *backend, enum rb_type kv, int threads)
{
	size_t len;
	char *want = read_file(DIR "greedy-f32-once-upon-a-time.txt", &len);
	char *got = generate(DIR "stories260K-f32.gguf", backend, kv, threads);
	size_t i = 0;
	while (want[i] && want[i] == got[i])
		i++;
	CHECKF(strcmp(got, want) == 0,
	       "f32 %s kv=%s: greedy text differs at byte %zu:\n got: ...%.60s\nwant: ...%.60s",
	       backend, rb_type_name(kv), i, got + (i > 20 ? i - 20 : 0),
	       want + (i > 20 ? i - 20 : 0));
	free(want);
	free(got);
}

/* Plausible English: printable ASCII, spaces between words, mostly letters. */
static void check_plausible(const char *file)
{
	char *got = generate(file, "cpu", RB_TYPE_F16, 1);
	size_t n = strlen(got), letters = 0, spaces = 0, bad = 0;
	for (size_t i = 0; i < n; i++) {
		const unsigned char c = (unsigned char)got[i];
		letters += isalpha(c) != 0;
		spaces += c == ' ';
		bad += !(isprint(c) || c == '\n');
	}
	CHECKF(n > 400 && bad == 0 && letters > n / 2 && spaces > n / 10,
	       "%s: implausible text (%zu bytes, %zu letters, %zu bad): %.120s", file, n, letters,
	       bad, got);
	CHECK(strncmp(got, "Once upon a time", 16) == 0);
	printf("%s: %.70s...\n", strrchr(file, '/') + 1, got);
	free(got);
}

int main(void)
{
	/* Tiny matrices: threads only add hand-off cost, one run covers them. */
	check_exact("ref", RB_TYPE_F32, 1);
	check_exact("cpu", RB_TYPE_F32, 2);
	if (!rb_test_quick())
		check_exact("cpu", RB_TYPE_F16, 1);
	check_plausible(DIR "stories260K-F16.gguf");
	check_plausible(DIR "stories260K-Q8_0.gguf");
	check_plausible(DIR "stories260K-Q4_K_M.gguf");
	return rb_test_finish();
}
