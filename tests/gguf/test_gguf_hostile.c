/* SPDX-License-Identifier: MIT */
/* Malformed and hostile GGUF files: each case starts from a file that parses,
 * changes one thing, and asserts the error code and the part of the message
 * that names the reason (so an error for the wrong reason fails). */
#include <stdint.h>

#include "gguf_build.h"
#include "rosenblatt/gguf.h"
#include "test.h"

/* Parse b from an exact-size heap copy (ASan sees any overread) and check
 * code and message. */
static void expect(const char *what, const gb *b, int code, const char *needle)
{
	uint8_t *copy = malloc(b->n ? b->n : 1);
	REQUIRE(copy);
	if (b->n)
		memcpy(copy, b->p, b->n);
	rb_gguf *g = (rb_gguf *)1;
	rb_err err;
	const int rc = rb_gguf_open_memory(copy, b->n, &g, &err);
	if (getenv("RB_TEST_VERBOSE"))
		printf("%-40s %s\n", what, rc ? err.msg : "ok");
	CHECKF(rc == code, "%s: code %d, expected %d (%s)", what, rc, code, err.msg);
	CHECKF(g == NULL || rc == RB_OK, "%s: handle not NULL on error", what);
	if (code != RB_OK) {
		CHECKF(err.code == code, "%s: err.code %d", what, err.code);
		CHECKF(needle && strstr(err.msg, needle), "%s: message \"%s\" lacks \"%s\"", what,
		       err.msg, needle);
	}
	if (rc == RB_OK)
		rb_gguf_close(g);
	free(copy);
}

/* ---- a valid baseline file the cases perturb ---------------------------- */

struct tinfo {
	const char *name;
	size_t name_len; /* 0: strlen(name) */
	uint32_t n_dims;
	uint64_t ne[8];
	uint32_t type;
	uint64_t offset;
};

/* Header + the given kv writer + tensor infos + padding + data_bytes zeros. */
static void file_with(gb *b, uint32_t version, void (*kvs)(gb *), uint64_t n_kv,
		      const struct tinfo *t, uint64_t nt, size_t align, size_t data_bytes)
{
	gb_header(b, version, nt, n_kv);
	if (kvs)
		kvs(b);
	for (uint64_t i = 0; i < nt; i++) {
		gb_strn(b, t[i].name, t[i].name_len ? t[i].name_len : strlen(t[i].name));
		gb_u32(b, t[i].n_dims);
		for (uint32_t d = 0; d < t[i].n_dims; d++)
			gb_u64(b, t[i].ne[d]);
		gb_u32(b, t[i].type);
		gb_u64(b, t[i].offset);
	}
	gb_pad(b, align);
	gb_zeros(b, data_bytes);
}

static void kvs_basic(gb *b)
{
	gb_kv_str(b, "general.architecture", "llama");
	gb_kv_u32(b, "llama.block_count", 5);
}

/* Two f32 tensors of 8 elements (32 bytes) at offsets 0 and 32. */
static const struct tinfo k_two[2] = {
	{"a", 0, 1, {8}, 0, 0},
	{"b", 0, 2, {4, 2}, 0, 32},
};

static void test_baseline_parses(void)
{
	gb b = {0};
	file_with(&b, 3, kvs_basic, 2, k_two, 2, 32, 64);
	expect("baseline v3", &b, RB_OK, NULL);
	gb_free(&b);
	file_with(&b, 2, kvs_basic, 2, k_two, 2, 32, 64);
	expect("baseline v2", &b, RB_OK, NULL);
	gb_free(&b);
}

/* ---- header ------------------------------------------------------------ */

static void test_header(void)
{
	gb b = {0};
	expect("empty", &b, RB_E_FORMAT, "only 0 bytes");

	gb_bytes(&b, "GGML", 4);
	gb_zeros(&b, 20);
	expect("bad magic", &b, RB_E_FORMAT, "not a GGUF file");
	gb_free(&b);

	file_with(&b, 1, NULL, 0, NULL, 0, 1, 0);
	expect("v1", &b, RB_E_FORMAT, "version 1");
	gb_free(&b);

	file_with(&b, 4, NULL, 0, NULL, 0, 1, 0);
	expect("v4", &b, RB_E_FORMAT, "unsupported GGUF version 4");
	gb_free(&b);

	file_with(&b, 0, NULL, 0, NULL, 0, 1, 0);
	expect("v0", &b, RB_E_FORMAT, "unsupported GGUF version 0");
	gb_free(&b);

	/* big endian: version 3 stored as 00 00 00 03 */
	gb_bytes(&b, "GGUF", 4);
	gb_bytes(&b, "\0\0\0\3", 4);
	gb_zeros(&b, 16);
	expect("big-endian", &b, RB_E_FORMAT, "big-endian");
	gb_free(&b);

	gb_bytes(&b, "GGUF\3\0\0\0\0\0", 10);
	expect("truncated header", &b, RB_E_FORMAT, "truncated");
	gb_free(&b);
}

/* ---- truncation anywhere ---------------------------------------------- */

static void kvs_all(gb *b)
{
	kvs_basic(b);
	gb_key(b, "arr.f32", 9);
	gb_u32(b, 6);
	gb_u64(b, 3);
	gb_f32(b, 1.0f);
	gb_f32(b, 2.0f);
	gb_f32(b, 3.0f);
	gb_key(b, "arr.str", 9);
	gb_u32(b, 8);
	gb_u64(b, 2);
	gb_str(b, "x");
	gb_str(b, "yz");
	gb_key(b, "flag", 7);
	gb_u8(b, 1);
}

static void test_truncation_everywhere(void)
{
	gb b = {0};
	file_with(&b, 3, kvs_all, 5, k_two, 2, 32, 64);
	expect("full file", &b, RB_OK, NULL);
	int bad = 0;
	for (size_t len = 0; len < b.n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		REQUIRE(copy);
		memcpy(copy, b.p, len);
		rb_gguf *g;
		rb_err err;
		const int rc = rb_gguf_open_memory(copy, len, &g, &err);
		if (rc != RB_E_FORMAT || g || !err.msg[0]) {
			bad++;
			fprintf(stderr, "prefix %zu: rc %d msg \"%s\"\n", len, rc, err.msg);
		}
		if (!rc)
			rb_gguf_close(g);
		free(copy);
	}
	CHECK_EQ_INT(bad, 0);
	/* cut inside the kv section: names truncation, with the offset */
	gb cut = {0};
	gb_header(&cut, 3, 0, 1);
	gb_key(&cut, "name", 8);
	gb_u64(&cut, 10);
	gb_bytes(&cut, "abc", 3);
	expect("cut in a string", &cut, RB_E_FORMAT,
	       "string value at offset 40 has length 10 but only 3 bytes remain");
	gb_free(&cut);
	/* cut in the tensor data */
	gb_bytes(&cut, b.p, b.n - 1);
	expect("cut in tensor data", &cut, RB_E_FORMAT, "past end of file");
	gb_free(&cut);
	gb_free(&b);
}

/* ---- counts and lengths ------------------------------------------------ */

static void test_huge_counts(void)
{
	gb b = {0};
	file_with(&b, 3, kvs_basic, UINT64_MAX, NULL, 0, 1, 0);
	expect("huge n_kv", &b, RB_E_FORMAT, "n_kv = 18446744073709551615");
	gb_free(&b);

	file_with(&b, 3, kvs_basic, 1u << 20, NULL, 0, 1, 0);
	expect("n_kv larger than the file could hold", &b, RB_E_FORMAT, "cannot fit");
	gb_free(&b);

	file_with(&b, 3, kvs_basic, 2, k_two, 0, 32, 64);
	b.p[8] = 0xff; /* n_tensors = 255 */
	expect("n_tensors too large", &b, RB_E_FORMAT, "n_tensors = 255");
	gb_free(&b);

	file_with(&b, 3, kvs_basic, 2, NULL, 0, 1, 0);
	memset(b.p + 8, 0xff, 8);
	expect("n_tensors = 2^64-1", &b, RB_E_FORMAT, "n_tensors = 18446744073709551615");
	gb_free(&b);

	/* array count */
	gb_header(&b, 3, 0, 1);
	gb_key(&b, "a", 9);
	gb_u32(&b, 4);
	gb_u64(&b, UINT64_MAX / 2);
	gb_u32(&b, 0);
	expect("huge array n", &b, RB_E_FORMAT, "claims 9223372036854775807 entries");
	gb_free(&b);

	gb_header(&b, 3, 0, 1);
	gb_key(&b, "a", 9);
	gb_u32(&b, 8);
	gb_u64(&b, 1u << 30);
	gb_str(&b, "x");
	expect("huge string array n", &b, RB_E_FORMAT, "string array at offset");
	gb_free(&b);

	/* string value length */
	gb_header(&b, 3, 0, 1);
	gb_key(&b, "a", 8);
	gb_u64(&b, UINT64_MAX);
	gb_bytes(&b, "abc", 3);
	expect("huge string len", &b, RB_E_FORMAT, "string value at offset 37 has length");
	gb_free(&b);

	/* key length */
	gb_header(&b, 3, 0, 1);
	gb_u64(&b, 1ull << 62);
	gb_bytes(&b, "key", 3);
	gb_zeros(&b, 16);
	expect("huge key len", &b, RB_E_FORMAT, "key at offset 24 has length");
	gb_free(&b);

	/* tensor name length */
	const struct tinfo t = {"a", 0, 1, {8}, 0, 0};
	file_with(&b, 3, NULL, 0, &t, 1, 32, 32);
	memset(b.p + 24, 0xff, 7); /* name length ~2^56 */
	expect("huge tensor name len", &b, RB_E_FORMAT, "tensor name at offset 24 has length");
	gb_free(&b);
}

/* ---- tensor placement ---------------------------------------------------- */

static void test_offsets(void)
{
	gb b = {0};
	struct tinfo t[2] = {k_two[0], k_two[1]};

	t[1].offset = 1ull << 40;
	file_with(&b, 3, kvs_basic, 2, t, 2, 32, 64);
	expect("offset past EOF", &b, RB_E_FORMAT, "tensor 'b': 32 bytes at data offset 1099511627776");
	gb_free(&b);

	t[1].offset = UINT64_MAX - 31; /* aligned, overflows when added */
	file_with(&b, 3, kvs_basic, 2, t, 2, 32, 64);
	expect("offset overflow", &b, RB_E_FORMAT, "past end of file");
	gb_free(&b);

	t[1] = k_two[1];
	file_with(&b, 3, kvs_basic, 2, t, 2, 32, 48); /* b needs bytes 32..64 */
	expect("data past EOF", &b, RB_E_FORMAT, "tensor 'b': 32 bytes at data offset 32");
	gb_free(&b);

	t[1].offset = 0; /* both at 0 */
	file_with(&b, 3, kvs_basic, 2, t, 2, 32, 64);
	expect("same offset", &b, RB_E_FORMAT, "overlap");
	gb_free(&b);

	/* a: [0, 96), b: [64, 96) -- b starts inside a */
	t[0].ne[0] = 24;
	t[1].offset = 64;
	file_with(&b, 3, kvs_basic, 2, t, 2, 32, 128);
	expect("partial overlap", &b, RB_E_FORMAT, "tensors 'a' [0, 96) and 'b' [64, 96) overlap");
	gb_free(&b);

	/* an empty tensor between does not hide an overlap of its neighbours */
	struct tinfo t3[3] = {
		{"big", 0, 1, {32}, 0, 0},   /* [0, 128) */
		{"empty", 0, 1, {0}, 0, 32}, /* nothing */
		{"c", 0, 1, {8}, 0, 64},     /* [64, 96): inside big */
	};
	file_with(&b, 3, NULL, 0, t3, 3, 32, 128);
	expect("overlap across an empty tensor", &b, RB_E_FORMAT, "'big' [0, 128) and 'c'");
	gb_free(&b);
	t3[2].offset = 128;
	file_with(&b, 3, NULL, 0, t3, 3, 32, 160);
	expect("empty tensor inside another is fine", &b, RB_OK, NULL);
	gb_free(&b);

	t[0] = k_two[0];
	t[1] = k_two[1];
	t[1].offset = 36;
	file_with(&b, 3, kvs_basic, 2, t, 2, 32, 96);
	expect("misaligned", &b, RB_E_FORMAT, "data offset 36 is not a multiple of the alignment 32");
	gb_free(&b);
}

/* ---- tensor types and shapes -------------------------------------------- */

static void one_tensor(gb *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, size_t data)
{
	struct tinfo t = {"w", 0, n_dims, {0}, type, 0};
	for (uint32_t d = 0; d < n_dims && d < 8; d++)
		t.ne[d] = ne[d];
	file_with(b, 3, NULL, 0, &t, 1, 32, data);
}

static void test_types_shapes(void)
{
	gb b = {0};
	const uint64_t ne64[2] = {64, 2};

	one_tensor(&b, 2, ne64, 2 /* q4_0 */, 36 * 2);
	expect("q4_0 64x2 is fine", &b, RB_OK, NULL);
	gb_free(&b);

	one_tensor(&b, 2, ne64, 99, 1024);
	expect("unknown type", &b, RB_E_FORMAT, "unknown tensor type id 99");
	gb_free(&b);
	one_tensor(&b, 2, ne64, 0xffffffffu, 1024);
	expect("type 2^32-1", &b, RB_E_FORMAT, "unknown tensor type id 4294967295");
	gb_free(&b);
	one_tensor(&b, 2, ne64, 4, 1024);
	expect("retired id 4", &b, RB_E_FORMAT, "tensor type id 4 (q4_2");
	gb_free(&b);
	one_tensor(&b, 2, ne64, 5, 1024);
	expect("retired id 5", &b, RB_E_FORMAT, "retired");
	gb_free(&b);
	one_tensor(&b, 2, ne64, 16, 1024);
	expect("iq2_xxs unsupported", &b, RB_E_UNSUPPORTED, "iq2_xxs (id 16");
	gb_free(&b);

	const uint64_t ne48[1] = {48};
	one_tensor(&b, 1, ne48, 2, 1024);
	expect("ne[0] not a block multiple", &b, RB_E_FORMAT,
	       "ne[0] = 48 is not a multiple of the q4_0 block size 32");
	gb_free(&b);
	const uint64_t ne300[1] = {300};
	one_tensor(&b, 1, ne300, 12, 1024);
	expect("q4_K ne[0]", &b, RB_E_FORMAT, "q4_K block size 256");
	gb_free(&b);

	const uint64_t ne5[5] = {1, 1, 1, 1, 1};
	one_tensor(&b, 5, ne5, 0, 32);
	expect("5 dims", &b, RB_E_FORMAT, "5 dimensions");
	gb_free(&b);
	/* hostile n_dims cannot make us read far */
	one_tensor(&b, 0, ne5, 0, 32);
	b.p[24 + 8 + 1] = 0xff;
	b.p[24 + 8 + 4] = 0x7f;
	expect("n_dims 2^31", &b, RB_E_FORMAT, "dimensions at offset 33");
	gb_free(&b);

	const uint64_t neg[2] = {8, (uint64_t)-1};
	one_tensor(&b, 2, neg, 0, 32);
	expect("negative dim", &b, RB_E_FORMAT, "negative dimension ne[1] = -1");
	gb_free(&b);

	const uint64_t zero_wrap[2] = {1ull << 32, 1ull << 32}; /* product wraps to 0 */
	one_tensor(&b, 2, zero_wrap, 0, 32);
	expect("element count overflow", &b, RB_E_FORMAT, "element count overflows");
	gb_free(&b);
	const uint64_t four[4] = {1ull << 16, 1ull << 16, 1ull << 16, 1ull << 16};
	one_tensor(&b, 4, four, 0, 32);
	expect("4-dim overflow", &b, RB_E_FORMAT, "element count overflows");
	gb_free(&b);
	const uint64_t bytes_wrap[2] = {1ull << 61, 2}; /* 2^62 elements, 2^64 bytes */
	one_tensor(&b, 2, bytes_wrap, 0, 32);
	expect("byte size overflow", &b, RB_E_FORMAT, "byte size overflows");
	gb_free(&b);
	const uint64_t big[2] = {1ull << 40, 1ull << 10}; /* fits in int64, not in the file */
	one_tensor(&b, 2, big, 0, 32);
	expect("huge tensor", &b, RB_E_FORMAT, "past end of file");
	gb_free(&b);

	one_tensor(&b, 0, NULL, 0, 32);
	expect("0 dims: a scalar", &b, RB_OK, NULL);
	gb_free(&b);

	/* zero-sized dims are valid (empty tensor) */
	const uint64_t zero[2] = {0, 7};
	one_tensor(&b, 2, zero, 0, 0);
	expect("empty tensor", &b, RB_OK, NULL);
	gb_free(&b);
}

/* ---- metadata values ---------------------------------------------------- */

static void test_values(void)
{
	gb b = {0};

	gb_header(&b, 3, 0, 1);
	gb_key(&b, "nested", 9);
	gb_u32(&b, 9);
	gb_u64(&b, 1);
	gb_u32(&b, 4);
	gb_u64(&b, 1);
	gb_u32(&b, 7);
	expect("nested array", &b, RB_E_FORMAT, "nested array");
	gb_free(&b);

	gb_header(&b, 3, 0, 1);
	gb_key(&b, "flag", 7);
	gb_u8(&b, 2);
	expect("bool 2", &b, RB_E_FORMAT, "bool value 0x02 at offset 40 is neither 0 nor 1");
	gb_free(&b);

	gb_header(&b, 3, 0, 1);
	gb_key(&b, "flags", 9);
	gb_u32(&b, 7);
	gb_u64(&b, 3);
	gb_u8(&b, 0);
	gb_u8(&b, 1);
	gb_u8(&b, 0xff);
	expect("bool array", &b, RB_E_FORMAT, "element 2 of bool array");
	gb_free(&b);

	gb_header(&b, 3, 0, 1);
	gb_key(&b, "x", 13);
	gb_u32(&b, 0);
	expect("bad value type", &b, RB_E_FORMAT, "bad value type 13");
	gb_free(&b);

	gb_header(&b, 3, 0, 1);
	gb_key(&b, "x", 0xffffffffu);
	gb_u32(&b, 0);
	expect("value type 2^32-1", &b, RB_E_FORMAT, "bad value type 4294967295");
	gb_free(&b);

	gb_header(&b, 3, 0, 1);
	gb_key(&b, "x", 9);
	gb_u32(&b, 13);
	gb_u64(&b, 0);
	expect("bad array element type", &b, RB_E_FORMAT, "bad array element type 13");
	gb_free(&b);
}

static void kvs_dup(gb *b)
{
	gb_kv_u32(b, "a.b", 1);
	gb_kv_str(b, "c", "x");
	gb_kv_u32(b, "a.b", 2);
}

static void test_duplicates(void)
{
	gb b = {0};
	file_with(&b, 3, kvs_dup, 3, NULL, 0, 1, 0);
	expect("duplicate key", &b, RB_E_FORMAT, "duplicate key 'a.b' (pairs 0 at offset 24 and 2");
	gb_free(&b);

	struct tinfo t[2] = {k_two[0], k_two[1]};
	t[1].name = "a";
	file_with(&b, 3, kvs_basic, 2, t, 2, 32, 64);
	expect("duplicate tensor", &b, RB_E_FORMAT, "duplicate tensor name 'a'");
	gb_free(&b);
}

static void key_only(gb *b, const char *key, size_t n)
{
	gb_header(b, 3, 0, 1);
	gb_strn(b, key, n);
	gb_u32(b, 4);
	gb_u32(b, 1);
}

static void test_names(void)
{
	gb b = {0};
	key_only(&b, "ok.key", 6);
	expect("plain key", &b, RB_OK, NULL);
	gb_free(&b);
	key_only(&b, "caf\xc3\xa9", 5);
	expect("UTF-8 key", &b, RB_OK, NULL);
	gb_free(&b);

	key_only(&b, "ab\xff", 3);
	expect("0xff in key", &b, RB_E_FORMAT, "key is not valid UTF-8 (byte 0xff at offset 34)");
	gb_free(&b);
	key_only(&b, "\xc0\xaf", 2);
	expect("overlong", &b, RB_E_FORMAT, "not valid UTF-8");
	gb_free(&b);
	key_only(&b, "\xed\xa0\x80", 3);
	expect("surrogate", &b, RB_E_FORMAT, "not valid UTF-8");
	gb_free(&b);
	key_only(&b, "x\xe2\x82", 3);
	expect("cut sequence", &b, RB_E_FORMAT, "not valid UTF-8");
	gb_free(&b);
	key_only(&b, "\xf4\x90\x80\x80", 4);
	expect("above U+10FFFF", &b, RB_E_FORMAT, "not valid UTF-8");
	gb_free(&b);
	key_only(&b, "a\0b", 3);
	expect("NUL in key", &b, RB_E_FORMAT, "NUL byte at offset 33");
	gb_free(&b);
	key_only(&b, "", 0);
	expect("empty key", &b, RB_E_FORMAT, "empty key");
	gb_free(&b);

	char *longkey = malloc(65536);
	REQUIRE(longkey);
	memset(longkey, 'k', 65536);
	key_only(&b, longkey, 65535);
	expect("65535-byte key", &b, RB_OK, NULL);
	gb_free(&b);
	key_only(&b, longkey, 65536);
	expect("65536-byte key", &b, RB_E_FORMAT, "limit 65535");
	gb_free(&b);
	free(longkey);

	struct tinfo t = {"w\x80", 2, 1, {8}, 0, 0};
	file_with(&b, 3, NULL, 0, &t, 1, 32, 32);
	expect("non-UTF-8 tensor name", &b, RB_E_FORMAT, "tensor name is not valid UTF-8");
	gb_free(&b);
	t.name = "";
	t.name_len = 0;
	file_with(&b, 3, NULL, 0, &t, 1, 32, 32);
	expect("empty tensor name", &b, RB_E_FORMAT, "empty tensor name");
	gb_free(&b);
}

/* ---- alignment ------------------------------------------------------------ */

static uint32_t g_align_type;
static uint64_t g_align_value;

static void kvs_align(gb *b)
{
	gb_key(b, "general.alignment", g_align_type);
	if (g_align_type == 4)
		gb_u32(b, (uint32_t)g_align_value);
	else if (g_align_type == 10)
		gb_u64(b, g_align_value);
	else
		gb_str(b, "64");
}

static void align_case(const char *what, uint32_t type, uint64_t value, size_t pad,
		       const struct tinfo *t, int code, const char *needle)
{
	gb b = {0};
	g_align_type = type;
	g_align_value = value;
	file_with(&b, 3, kvs_align, 1, t, t ? 2 : 0, pad, t ? 256 : 0);
	expect(what, &b, code, needle);
	gb_free(&b);
}

static void test_alignment(void)
{
	struct tinfo t[2] = {k_two[0], k_two[1]};
	t[1].offset = 64;
	align_case("alignment 64", 4, 64, 64, t, RB_OK, NULL);
	align_case("alignment 64, offset 32", 4, 64, 64, k_two, RB_E_FORMAT,
		   "not a multiple of the alignment 64");
	align_case("alignment 1", 4, 1, 1, k_two, RB_OK, NULL);
	align_case("alignment 0", 4, 0, 32, k_two, RB_E_FORMAT,
		   "general.alignment = 0 (offset 24) is not a power of two");
	align_case("alignment 48", 4, 48, 48, k_two, RB_E_FORMAT,
		   "general.alignment = 48 (offset 24) is not a power of two");
	align_case("alignment u64", 10, 64, 64, t, RB_E_FORMAT,
		   "general.alignment (offset 24) has type uint64, expected uint32");
	align_case("alignment string", 8, 0, 64, t, RB_E_FORMAT, "has type string, expected uint32");
	align_case("alignment 2^31", 4, 1u << 31, 1, k_two, RB_E_FORMAT,
		   "tensor data section (tensor infos end at offset");

	/* data section padding is checked: the unpadded file is too short */
	gb b = {0};
	file_with(&b, 3, kvs_basic, 2, k_two, 2, 1, 64);
	expect("unpadded data section", &b, RB_E_FORMAT, "past end of file");
	gb_free(&b);
}

int main(void)
{
	test_baseline_parses();
	test_header();
	test_truncation_everywhere();
	test_huge_counts();
	test_offsets();
	test_types_shapes();
	test_values();
	test_duplicates();
	test_names();
	test_alignment();
	return rb_test_finish();
}
