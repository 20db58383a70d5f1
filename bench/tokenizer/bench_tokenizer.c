/* SPDX-License-Identifier: MIT */
/* Tokenizer throughput: load time, encode and decode speed on generated
 * mixed text of growing size, and the per-byte cost ratio between sizes
 * (about 1 when encoding is linear; a quadratic merge loop would show ~10x
 * per 10x of input). Also the worst case for merging: one huge pre-token.
 *
 * usage: bench_tokenizer [-m VOCAB.gguf] [-r REPEATS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rosenblatt/tokenizer.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Deterministic text mixing English words, digits, punctuation, newlines,
 * CJK and emoji, roughly like a chat prompt. */
static char *make_text(size_t n, unsigned seed)
{
	static const char *const words[] = {
		"the ", "model ", "runs ", "on ", "NPU ", "cores, ", "and ", "it's ", "2048 ",
		"tokens ", "per ", "second.\n", "\xe4\xbd\xa0\xe5\xa5\xbd ", "\xf0\x9f\xa6\x80 ",
		"Qwen2.5-1.5B ", "(Q4_K_M) ", "fn(x) { return x * 2; }\n", "\n\n", "caf\xc3\xa9 ",
	};
	char *s = malloc(n + 64);
	if (!s)
		return NULL;
	size_t k = 0;
	while (k < n) {
		seed = seed * 1103515245u + 12345u;
		const char *w = words[(seed >> 16) % (sizeof(words) / sizeof(words[0]))];
		size_t l = strlen(w);
		memcpy(s + k, w, l);
		k += l;
	}
	return s; /* only the first n bytes are used */
}

static double time_encode(const rb_tokenizer *tok, const char *text, size_t n, int reps,
			  size_t *n_tok)
{
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		rb_tokens t = { 0 };
		rb_err err = { 0 };
		double t0 = now();
		if (rb_tokenizer_encode(tok, text, n, 0, &t, &err) != RB_OK) {
			fprintf(stderr, "encode: %s\n", err.msg);
			exit(1);
		}
		double dt = now() - t0;
		if (dt < best)
			best = dt;
		*n_tok = t.n;
		rb_tokens_free(&t);
	}
	return best;
}

int main(int argc, char **argv)
{
	const char *path = RB_TEST_DATA_DIR "/tokenizers/qwen2-vocab.gguf";
	int reps = 5;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-m") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [-m VOCAB.gguf] [-r REPEATS]\n", argv[0]);
			return !strcmp(argv[i], "--help") ? 0 : 2;
		}
	}
	if (reps < 1)
		reps = 1;
	rb_tokenizer *tok;
	rb_err err = { 0 };
	double t0 = now();
	if (rb_tokenizer_load(path, NULL, &tok, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		return 1;
	}
	printf("vocab %s: %d tokens, load %.1f ms\n", path, rb_tokenizer_n_vocab(tok),
	       1e3 * (now() - t0));

	size_t sizes[] = { 10000, 100000, 1000000 };
	char *text = make_text(sizes[2], 1);
	if (!text)
		return 1;
	printf("%-22s %10s %10s %10s %10s %12s\n", "input", "bytes", "tokens", "MB/s", "ns/byte",
	       "vs 10 kB");
	double base = 0;
	for (size_t i = 0; i < 3; i++) {
		size_t n_tok;
		double dt = time_encode(tok, text, sizes[i], reps, &n_tok);
		double ns = 1e9 * dt / (double)sizes[i];
		if (i == 0)
			base = ns;
		printf("%-22s %10zu %10zu %10.1f %10.1f %11.2fx\n", "mixed text", sizes[i], n_tok,
		       (double)sizes[i] / dt / 1e6, ns, ns / base);
	}
	/* one pre-token of n identical letters: every merge step is a heap pop */
	for (size_t i = 0; i < 2; i++) {
		memset(text, 'a', sizes[i]);
		size_t n_tok;
		double dt = time_encode(tok, text, sizes[i], reps, &n_tok);
		double ns = 1e9 * dt / (double)sizes[i];
		if (i == 0)
			base = ns;
		printf("%-22s %10zu %10zu %10.1f %10.1f %11.2fx\n", "one 'aaa...' piece", sizes[i],
		       n_tok, (double)sizes[i] / dt / 1e6, ns, ns / base);
	}

	/* decode */
	free(text);
	text = make_text(sizes[2], 2);
	rb_tokens t = { 0 };
	rb_tokenizer_encode(tok, text, sizes[2], 0, &t, &err);
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		char *out;
		size_t len;
		double s = now();
		rb_tokenizer_decode(tok, t.ids, t.n, 0, &out, &len, &err);
		double dt = now() - s;
		best = dt < best ? dt : best;
		free(out);
	}
	printf("decode: %zu tokens in %.2f ms (%.1f Mtok/s)\n", t.n, 1e3 * best,
	       (double)t.n / best / 1e6);
	rb_tokens_free(&t);
	free(text);
	rb_tokenizer_free(tok);
	return 0;
}
