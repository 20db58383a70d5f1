/* SPDX-License-Identifier: MIT */
/* Tokenizers on the real vocabularies: reference ids from an independent
 * tokenizer (tests/data/tokenizer-vectors, made with llama.cpp), known
 * splits, round trips, streaming decode, invalid UTF-8, long inputs. */
#include <stdbool.h>

#include "rosenblatt/tokenizer.h"
#include "test.h"
#include "vectors.h"

static rb_tokenizer *qwen, *spm, *stories;

static void encode_ok(const rb_tokenizer *tok, const char *text, size_t len, unsigned flags,
		      rb_tokens *out)
{
	rb_err err = { 0 };
	out->n = 0;
	int rc = rb_tokenizer_encode(tok, text, len, flags, out, &err);
	CHECKF(rc == RB_OK, "encode: %s", err.msg);
}

static char *decode_ok(const rb_tokenizer *tok, const rb_tokens *t, unsigned flags, size_t *len)
{
	rb_err err = { 0 };
	char *s = NULL;
	int rc = rb_tokenizer_decode(tok, t->ids, t->n, flags, &s, len, &err);
	CHECKF(rc == RB_OK, "decode: %s", err.msg);
	REQUIRE(s);
	return s;
}

/* ---- reference vectors --------------------------------------------------- */

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
	fprintf(stderr, "  %s:", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %d", ids[i]);
	fputc('\n', stderr);
}

static int test_vector_file(const char *name, const rb_tokenizer *tok)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tokenizer-vectors/%s.tsv", RB_TEST_DATA_DIR, name);
	FILE *f = fopen(path, "r");
	REQUIRE(f);
	char line[8192];
	int cases = 0;
	rb_tokens got = { 0 };
	int32_t want[1024];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strrchr(line, '\t') : NULL;
		REQUIRE(tab1 && tab2 && tab2 > tab1);
		*tab1 = *tab2 = '\0';
		unsigned flags = (strchr(line, 'B') ? RB_TOK_ADD_SPECIAL : 0) |
				 (strchr(line, 'S') ? RB_TOK_PARSE_SPECIAL : 0);
		size_t len, n_want = 0;
		char *text = unescape(tab1 + 1, &len);
		for (char *p = tab2 + 1, *end; *p && n_want < 1024; p = end) {
			want[n_want++] = (int32_t)strtol(p, &end, 10);
			if (end == p)
				break;
		}
		encode_ok(tok, text, len, flags, &got);
		bool same = got.n == n_want && memcmp(got.ids, want, n_want * sizeof(int32_t)) == 0;
		CHECKF(same, "%s: [%s] \"%s\"", name, line, tab1 + 1);
		if (!same) {
			print_ids("want", want, n_want);
			print_ids("got ", got.ids, got.n);
		}
		free(text);
		cases++;
	}
	fclose(f);
	rb_tokens_free(&got);
	CHECK(cases > 40);
	return cases;
}

static void test_vectors(void)
{
	test_vector_file("qwen2", qwen);
	test_vector_file("llama-spm", spm);
	test_vector_file("stories260K", stories);
	rb_tokenizer *t = load_vocab("tokenizers/qwen2-vocab.gguf", "llama-bpe");
	CHECK(rb_tokenizer_pre(t) == RB_TOK_PRE_LLAMA3);
	test_vector_file("qwen2-llama-bpe", t);
	rb_tokenizer_free(t);
	t = load_vocab("tokenizers/qwen2-vocab.gguf", "gpt-2");
	CHECK(rb_tokenizer_pre(t) == RB_TOK_PRE_DEFAULT);
	test_vector_file("qwen2-gpt2", t);
	rb_tokenizer_free(t);
}

/* ---- metadata and known tokens ------------------------------------------- */

static void test_metadata(void)
{
	CHECK(rb_tokenizer_model(qwen) == RB_TOK_MODEL_BPE);
	CHECK(rb_tokenizer_pre(qwen) == RB_TOK_PRE_QWEN2);
	CHECK_EQ_INT(rb_tokenizer_n_vocab(qwen), 151936);
	CHECK_EQ_INT(rb_tokenizer_find(qwen, "<|im_start|>"), 151644);
	CHECK_EQ_INT(rb_tokenizer_find(qwen, "<|im_end|>"), 151645);
	CHECK_EQ_INT(rb_tokenizer_eos(qwen), 151645);
	CHECK_EQ_INT(rb_tokenizer_bos(qwen), 151643);
	CHECK(!rb_tokenizer_add_bos(qwen));
	CHECK(rb_tokenizer_is_eog(qwen, 151645) && rb_tokenizer_is_eog(qwen, 151643));
	CHECK(!rb_tokenizer_is_eog(qwen, 151644) && !rb_tokenizer_is_eog(qwen, 9707));
	CHECK(rb_tokenizer_token_type(qwen, 151644) == RB_TOKEN_CONTROL);
	CHECK(rb_tokenizer_token_type(qwen, 151700) == RB_TOKEN_UNUSED);
	CHECK(rb_tokenizer_token_type(qwen, -1) == RB_TOKEN_UNDEFINED);
	CHECK(rb_tokenizer_token_text(qwen, 151936) == NULL);
	CHECK(rb_tokenizer_chat_template(qwen) && strstr(rb_tokenizer_chat_template(qwen), "im_start"));
	CHECK(rb_tokenizer_warning(qwen) == NULL);
	size_t len;
	const char *p = rb_tokenizer_piece(qwen, rb_tokenizer_find(qwen, "\xc4\xa0world"), &len);
	CHECK(p && len == 6 && memcmp(p, " world", 6) == 0); /* "Ġworld" */

	CHECK(rb_tokenizer_model(spm) == RB_TOK_MODEL_SPM);
	CHECK_EQ_INT(rb_tokenizer_n_vocab(spm), 32000);
	CHECK_EQ_INT(rb_tokenizer_bos(spm), 1);
	CHECK_EQ_INT(rb_tokenizer_eos(spm), 2);
	CHECK_EQ_INT(rb_tokenizer_unk(spm), 0);
	CHECK(rb_tokenizer_add_bos(spm) && !rb_tokenizer_add_eos(spm));
	p = rb_tokenizer_piece(spm, rb_tokenizer_find(spm, "<0x0A>"), &len);
	CHECK(p && len == 1 && p[0] == '\n');
	CHECK_EQ_INT(rb_tokenizer_n_vocab(stories), 512);
}

/* Token pieces of an encoding joined with '|'. */
static void check_tokens(const rb_tokenizer *tok, const char *text, unsigned flags,
			 const char *expect)
{
	rb_tokens t = { 0 };
	encode_ok(tok, text, strlen(text), flags, &t);
	char buf[2048];
	size_t k = 0;
	for (size_t i = 0; i < t.n; i++) {
		size_t len;
		const char *p = rb_tokenizer_piece(tok, t.ids[i], &len);
		if (k + len + 2 >= sizeof(buf))
			break;
		memcpy(buf + k, p, len);
		k += len;
		buf[k++] = '|';
	}
	buf[k] = '\0';
	CHECKF(strcmp(buf, expect) == 0, "\"%s\": got \"%s\" want \"%s\"", text, buf, expect);
	rb_tokens_free(&t);
}

static void test_known_splits(void)
{
	check_tokens(qwen, "1234567890", 0, "1|2|3|4|5|6|7|8|9|0|");
	check_tokens(qwen, "Hello world", 0, "Hello| world|");
	check_tokens(qwen, "it's IT'S", 0, "it|'s| IT|'S|");
	check_tokens(qwen, "a\n\n\nb", 0, "a|\n\n\n|b|");
	check_tokens(qwen, "<|im_start|>x", RB_TOK_PARSE_SPECIAL, "<|im_start|>|x|");
	/* without special parsing the marker is plain text, split like any other */
	rb_tokens t = { 0 };
	encode_ok(qwen, "<|im_start|>", 12, 0, &t);
	CHECK(t.n > 1);
	for (size_t i = 0; i < t.n; i++)
		CHECK(t.ids[i] != 151644);
	encode_ok(qwen, "hi", 2, RB_TOK_ADD_BOS | RB_TOK_ADD_EOS, &t);
	CHECK(t.n == 3 && t.ids[0] == 151643 && t.ids[2] == 151645);
	encode_ok(qwen, "", 0, RB_TOK_ADD_SPECIAL, &t);
	CHECK_EQ_INT(t.n, 0);
	encode_ok(spm, "", 0, RB_TOK_ADD_SPECIAL, &t);
	CHECK(t.n == 1 && t.ids[0] == 1);
	encode_ok(spm, "", 0, 0, &t);
	CHECK_EQ_INT(t.n, 0);
	/* appends to what is there */
	encode_ok(spm, "Hello", 5, 0, &t);
	size_t n1 = t.n;
	rb_err err = { 0 };
	CHECK(rb_tokenizer_encode(spm, " world", 6, 0, &t, &err) == RB_OK && t.n > n1);
	rb_tokens_free(&t);
	check_tokens(spm, "Hello world", 0, " Hello| world|");

	/* Qwen2's "</s>", "<s>", "<unk>" are NORMAL tokens or none at all: special
	 * parsing leaves them as text (llama.cpp differs for "</s>", see
	 * tokenizer-vectors/README.md; the text-only ids are in the vectors). */
	const char *texts[] = { "a<unk>b</s>c", "<s>[INST] hi [/INST] ok </s>" };
	for (size_t i = 0; i < 2; i++) {
		rb_tokens plain = { 0 }, special = { 0 };
		encode_ok(qwen, texts[i], strlen(texts[i]), 0, &plain);
		encode_ok(qwen, texts[i], strlen(texts[i]), RB_TOK_PARSE_SPECIAL, &special);
		CHECK(plain.n == special.n && plain.n &&
		      memcmp(plain.ids, special.ids, plain.n * sizeof(int32_t)) == 0);
		rb_tokens_free(&plain);
		rb_tokens_free(&special);
	}
}

/* ---- round trips ----------------------------------------------------------- */

/* Random valid UTF-8 from a mix of scripts, spaces and newlines. */
static size_t random_text(uint64_t *seed, char *buf, size_t max_chars, bool allow_space_mark)
{
	static const uint32_t pool[][2] = {
		{ 'a', 'z' }, { 'A', 'Z' }, { '0', '9' }, { ' ', ' ' }, { ' ', ' ' }, { '\n', '\n' },
		{ '\r', '\r' }, { '\t', '\t' }, { '!', '/' }, { 0xC0, 0x24F }, { 0x370, 0x3FF },
		{ 0x400, 0x4FF }, { 0x600, 0x6FF }, { 0x900, 0x97F }, { 0x3040, 0x30FF },
		{ 0x4E00, 0x9FFF }, { 0xAC00, 0xD7A3 }, { 0x2000, 0x206F }, { 0x1F300, 0x1FAFF },
		{ 0x300, 0x36F }, { 0xFF00, 0xFFEF }, { 0x10000, 0x1FFFF }, { 0x2500, 0x25FF },
	};
	size_t n_pool = sizeof(pool) / sizeof(pool[0]);
	size_t chars = rb_test_rand_u64(seed) % (max_chars + 1), k = 0;
	for (size_t i = 0; i < chars; i++) {
		const uint32_t *r = pool[rb_test_rand_u64(seed) % n_pool];
		uint32_t cp = r[0] + (uint32_t)(rb_test_rand_u64(seed) % (r[1] - r[0] + 1));
		if (!allow_space_mark && cp == 0x2581)
			cp = 'x';
		if (cp < 0x80) {
			buf[k++] = (char)cp;
		} else if (cp < 0x800) {
			buf[k++] = (char)(0xC0 | (cp >> 6));
			buf[k++] = (char)(0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			buf[k++] = (char)(0xE0 | (cp >> 12));
			buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			buf[k++] = (char)(0x80 | (cp & 0x3F));
		} else {
			buf[k++] = (char)(0xF0 | (cp >> 18));
			buf[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
			buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			buf[k++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	return k;
}

/* Strict UTF-8 check written out from the definition (Unicode Table 3-7). */
static bool valid_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t b = s[i];
		size_t need;
		uint8_t lo = 0x80, hi = 0xBF;
		if (b < 0x80) { i++; continue; }
		else if (b >= 0xC2 && b <= 0xDF) need = 2;
		else if (b >= 0xE0 && b <= 0xEF) { need = 3; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
		else if (b >= 0xF0 && b <= 0xF4) { need = 4; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
		else return false;
		if (i + need > n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += need;
	}
	return true;
}

/* Streaming decode equals one-shot decode; chunks are whole characters when
 * the whole text is valid UTF-8. */
static void check_stream(const rb_tokenizer *tok, const rb_tokens *t, unsigned flags,
			 const char *oneshot, size_t oneshot_len)
{
	rb_detokenizer *d;
	rb_err err = { 0 };
	REQUIRE(rb_detokenizer_create(tok, flags, &d, &err) == RB_OK);
	char *acc = malloc(oneshot_len + 64);
	size_t k = 0;
	bool ok = true, text_valid = valid_utf8((const uint8_t *)oneshot, oneshot_len);
	for (size_t i = 0; i < t->n && ok; i++) {
		const char *p;
		size_t len;
		CHECK(rb_detokenizer_push(d, t->ids[i], &p, &len, &err) == RB_OK);
		if (text_valid && !valid_utf8((const uint8_t *)p, len))
			ok = false;
		if (k + len > oneshot_len + 64) {
			ok = false;
			break;
		}
		memcpy(acc + k, p, len);
		k += len;
	}
	const char *p;
	size_t len;
	rb_detokenizer_flush(d, &p, &len);
	if (k + len <= oneshot_len + 64) {
		memcpy(acc + k, p, len);
		k += len;
	}
	CHECKF(ok && k == oneshot_len && memcmp(acc, oneshot, k) == 0, "stream != one-shot (%zu vs %zu bytes)",
	       k, oneshot_len);
	free(acc);
	rb_detokenizer_free(d);
}

static void check_round_trip(const rb_tokenizer *tok, const char *text, size_t len, const char *what)
{
	unsigned dflags = rb_tokenizer_model(tok) == RB_TOK_MODEL_SPM ? RB_DECODE_STRIP_SPACE : 0;
	rb_tokens t = { 0 };
	encode_ok(tok, text, len, 0, &t);
	size_t dlen;
	char *d = decode_ok(tok, &t, dflags, &dlen);
	CHECKF(dlen == len && memcmp(d, text, len) == 0, "%s: round trip of %zu bytes gave %zu", what,
	       len, dlen);
	check_stream(tok, &t, dflags, d, dlen);
	free(d);
	rb_tokens_free(&t);
}

static void test_round_trips(void)
{
	uint64_t seed = 42;
	int iters = rb_test_quick() ? 150 : 1500;
	char buf[4 * 200 + 4];
	for (int i = 0; i < iters; i++) {
		size_t len = random_text(&seed, buf, 200, false);
		check_round_trip(qwen, buf, len, "qwen2");
		check_round_trip(spm, buf, len, "llama-spm");
		if (i % 4 == 0)
			check_round_trip(stories, buf, len, "stories260K");
	}
	check_round_trip(spm, "  two leading spaces", 20, "spm leading");
	check_round_trip(qwen, "  two leading spaces", 20, "qwen leading");
}

/* A character split across tokens comes out once whole. */
static void test_stream_split(void)
{
	/* stories260K's 512-token vocab has no CJK pieces: byte fallback */
	rb_tokens t = { 0 };
	encode_ok(stories, "\xe4\xbd\xa0", 3, 0, &t); /* U+4F60 */
	int32_t b0 = rb_tokenizer_find(stories, "<0xE4>"), b1 = rb_tokenizer_find(stories, "<0xBD>"),
		b2 = rb_tokenizer_find(stories, "<0xA0>");
	CHECK(b0 >= 0 && b1 >= 0 && b2 >= 0);
	CHECK(t.n == 4 && t.ids[1] == b0 && t.ids[2] == b1 && t.ids[3] == b2); /* "▁" first */
	rb_detokenizer *d;
	rb_err err = { 0 };
	REQUIRE(rb_detokenizer_create(stories, 0, &d, &err) == RB_OK);
	const char *p;
	size_t len;
	CHECK(rb_detokenizer_push(d, t.ids[0], &p, &len, &err) == RB_OK && len == 1 && p[0] == ' ');
	CHECK(rb_detokenizer_push(d, b0, &p, &len, &err) == RB_OK && len == 0);
	CHECK(rb_detokenizer_push(d, b1, &p, &len, &err) == RB_OK && len == 0);
	CHECK(rb_detokenizer_push(d, b2, &p, &len, &err) == RB_OK && len == 3 &&
	      memcmp(p, "\xe4\xbd\xa0", 3) == 0);
	/* an incomplete character at the end comes out raw on flush */
	CHECK(rb_detokenizer_push(d, b0, &p, &len, &err) == RB_OK && len == 0);
	rb_detokenizer_flush(d, &p, &len);
	CHECK(len == 1 && (uint8_t)p[0] == 0xE4);
	/* a byte that cannot continue is passed through at once */
	CHECK(rb_detokenizer_push(d, b1, &p, &len, &err) == RB_OK && len == 1);
	CHECK(rb_detokenizer_push(d, -5, &p, &len, &err) == RB_E_INVALID);
	rb_detokenizer_free(d);

	/* byte-level BPE: an emoji spread over several tokens */
	const char *emoji = "\xf0\x9f\xa6\x80\xf0\x9f\xa6\x80 x";
	encode_ok(qwen, emoji, strlen(emoji), 0, &t);
	size_t dl;
	char *dec = decode_ok(qwen, &t, 0, &dl);
	check_stream(qwen, &t, 0, dec, dl);
	free(dec);
	rb_tokens_free(&t);
}

/* Encoding must not depend on where a long text would be cut: every prefix
 * of a string round-trips, streaming agrees at every split point. */
static void test_prefixes(void)
{
	const char *s = "Hi \xe4\xbd\xa0\xe5\xa5\xbd, \xf0\x9f\xa6\x80 caf\xc3\xa9 12'S\r\n\n  x";
	size_t n = strlen(s);
	for (size_t cut = 0; cut <= n; cut++) {
		check_round_trip(qwen, s, cut, "qwen2 prefix");
		check_round_trip(spm, s, cut, "spm prefix");
		check_round_trip(stories, s, cut, "stories prefix");
	}
}

/* ---- invalid input --------------------------------------------------------- */

static void test_invalid_utf8(void)
{
	/* Defined behaviour: invalid bytes are kept (byte-level BPE encodes each
	 * through the byte alphabet, SPM through <0xNN>), so decode gives them back. */
	const char *bad[] = { "\xff", "a\xc3", "\xc3(", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf",
			      "x\xf4\x90\x80\x80y", "\x80\x80 \xbf", "ok\xf0\x9f\xa6" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_round_trip(qwen, bad[i], strlen(bad[i]), "qwen2 invalid");
		check_round_trip(spm, bad[i], strlen(bad[i]), "spm invalid");
		check_round_trip(stories, bad[i], strlen(bad[i]), "stories invalid");
	}
	/* embedded NUL */
	check_round_trip(qwen, "a\0b", 3, "qwen2 NUL");
	check_round_trip(spm, "a\0b", 3, "spm NUL");
}

static void test_fuzz(void)
{
	uint64_t seed = 1234;
	int iters = rb_test_quick() ? 300 : 3000;
	char buf[128];
	rb_tokens t = { 0 };
	for (int i = 0; i < iters; i++) {
		size_t len = rb_test_rand_u64(&seed) % sizeof(buf);
		uint64_t mode = rb_test_rand_u64(&seed) % 3;
		for (size_t k = 0; k < len; k++) {
			uint64_t r = rb_test_rand_u64(&seed);
			/* mode 1: mostly ASCII, mode 2: mostly high bytes and '<|' pieces */
			static const uint8_t alt[] = { '<', '|', '>', 0x80, 0xc3, 0xe4, 0xf0, ' ' };
			uint64_t v = mode == 0 ? r : mode == 1 ? 0x20 + r % 95 : alt[r % sizeof(alt)];
			buf[k] = (char)(uint8_t)v;
		}
		/* any bytes round-trip (U+2581 aside, which SPM decodes as a space) */
		check_round_trip(qwen, buf, len, "fuzz qwen2");
		if (!memmem(buf, len, "\xe2\x96\x81", 3)) {
			check_round_trip(spm, buf, len, "fuzz spm");
			check_round_trip(stories, buf, len, "fuzz stories");
		}
		/* special parsing on: no crash, ids in range, decode with specials gives the bytes back */
		encode_ok(qwen, buf, len, RB_TOK_PARSE_SPECIAL | RB_TOK_ADD_SPECIAL, &t);
		for (size_t k = 0; k < t.n; k++)
			CHECK(t.ids[k] >= 0 && t.ids[k] < rb_tokenizer_n_vocab(qwen));
		size_t dl;
		char *d = decode_ok(qwen, &t, RB_DECODE_SPECIAL, &dl);
		CHECK(dl == len && memcmp(d, buf, len) == 0);
		free(d);
	}
	rb_tokens_free(&t);
}

/* ---- long inputs: merge work must stay near-linear ---------------------- */

static void test_long(void)
{
	size_t n = rb_test_quick() ? 20000 : 100000;
	char *s = malloc(n + 1);
	REQUIRE(s);
	/* one giant pre-token: the worst case for a naive merge loop */
	memset(s, 'a', n);
	check_round_trip(qwen, s, n, "qwen2 long run");
	check_round_trip(spm, s, n, "spm long run");
	for (size_t i = 0; i < n; i++)
		s[i] = "ab\xe4\xbd\xa0xyz0123 \n"[i % 14];
	check_round_trip(qwen, s, n, "qwen2 long mixed");
	check_round_trip(spm, s, n, "spm long mixed");
	free(s);
}

int main(void)
{
	qwen = load_vocab("tokenizers/qwen2-vocab.gguf", NULL);
	spm = load_vocab("tokenizers/llama-spm-vocab.gguf", NULL);
	stories = load_vocab("stories260K/stories260K-f32.gguf", NULL);
	test_metadata();
	test_vectors();
	test_known_splits();
	test_round_trips();
	test_stream_split();
	test_prefixes();
	test_invalid_utf8();
	test_fuzz();
	test_long();
	rb_tokenizer_free(qwen);
	rb_tokenizer_free(spm);
	rb_tokenizer_free(stories);
	return rb_test_finish();
}
