/* SPDX-License-Identifier: MIT */
/* Writer -> reader round trips: every value type, arrays, every tensor type,
 * v2/v3, alignments, fill callbacks, atomic file writes; the writer's bytes
 * against an independent field-by-field encoding; getters and the writer's
 * argument checks. */
#include <math.h>
#include <stdint.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_build.h"
#include "rosenblatt/gguf.h"
#include "test.h"

static rb_gguf *parse_mem(const void *p, size_t n)
{
	rb_gguf *g = NULL;
	rb_err err;
	const int rc = rb_gguf_open_memory(p, n, &g, &err);
	CHECKF(rc == RB_OK, "parse: %s", err.msg);
	return g;
}

/* ---- every value type ---------------------------------------------------- */

static const char *const k_strs[] = {"", "plain", "caf\xc3\xa9 \xe2\x9c\x93", "quote\"back\\slash",
				     "tab\tnewline\n"};
#define N_STRS (sizeof(k_strs) / sizeof(k_strs[0]))

static void fill_random(void *p, size_t n, uint64_t *seed)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rb_test_rand_u64(seed);
}

static void set_all_values(rb_gguf_writer *w, uint64_t *seed, uint8_t *arrays[13],
			   uint64_t arr_n[13])
{
	CHECK_EQ_INT(rb_gguf_set_u8(w, "v.u8", 250), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_i8(w, "v.i8", -128), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_u16(w, "v.u16", 65535), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_i16(w, "v.i16", -32768), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_u32(w, "v.u32", 4000000000u), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_i32(w, "v.i32", INT32_MIN), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_u64(w, "v.u64", UINT64_MAX), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_i64(w, "v.i64", INT64_MIN), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_f32(w, "v.f32", -1.5e-7f), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_f64(w, "v.f64", 3.141592653589793), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_bool(w, "v.bool.t", true), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_bool(w, "v.bool.f", false), RB_OK);
	for (size_t i = 0; i < N_STRS; i++) {
		char key[32];
		snprintf(key, sizeof(key), "v.str.%zu", i);
		CHECK_EQ_INT(rb_gguf_set_str(w, key, k_strs[i]), RB_OK);
	}
	/* numeric arrays of every element type, lengths 0..~300 */
	for (int t = 0; t < 13; t++) {
		arrays[t] = NULL;
		arr_n[t] = 0;
		if (t == RB_GGUF_STRING || t == RB_GGUF_ARRAY)
			continue;
		const size_t esz = t == RB_GGUF_UINT8 || t == RB_GGUF_INT8 || t == RB_GGUF_BOOL ? 1
				   : t == RB_GGUF_UINT16 || t == RB_GGUF_INT16		     ? 2
				   : t == RB_GGUF_UINT32 || t == RB_GGUF_INT32 ||
						   t == RB_GGUF_FLOAT32
					   ? 4
					   : 8;
		arr_n[t] = 1 + rb_test_rand_u64(seed) % 300;
		arrays[t] = malloc(arr_n[t] * esz + 1);
		REQUIRE(arrays[t]);
		fill_random(arrays[t], arr_n[t] * esz, seed);
		if (t == RB_GGUF_BOOL)
			for (uint64_t i = 0; i < arr_n[t]; i++)
				arrays[t][i] &= 1;
		char key[32];
		snprintf(key, sizeof(key), "a.%s", rb_gguf_vtype_name((enum rb_gguf_vtype)t));
		CHECK_EQ_INT(rb_gguf_set_arr(w, key, (enum rb_gguf_vtype)t, arrays[t], arr_n[t]),
			     RB_OK);
	}
	CHECK_EQ_INT(rb_gguf_set_arr_str(w, "a.string", k_strs, N_STRS), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_arr_str(w, "a.string.empty", NULL, 0), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_arr(w, "a.u32.empty", RB_GGUF_UINT32, NULL, 0), RB_OK);
}

static void check_all_values(const rb_gguf *g, uint8_t *arrays[13], const uint64_t arr_n[13])
{
	const rb_gguf_kv *kv;
#define SCALAR(key, vt, field, want)                                                   \
	kv = rb_gguf_get_kv(g, key);                                                   \
	CHECKF(kv && kv->value.type == vt && kv->value.v.field == (want), "%s", key);
	SCALAR("v.u8", RB_GGUF_UINT8, u8, 250);
	SCALAR("v.i8", RB_GGUF_INT8, i8, -128);
	SCALAR("v.u16", RB_GGUF_UINT16, u16, 65535);
	SCALAR("v.i16", RB_GGUF_INT16, i16, -32768);
	SCALAR("v.u32", RB_GGUF_UINT32, u32, 4000000000u);
	SCALAR("v.i32", RB_GGUF_INT32, i32, INT32_MIN);
	SCALAR("v.u64", RB_GGUF_UINT64, u64, UINT64_MAX);
	SCALAR("v.i64", RB_GGUF_INT64, i64, INT64_MIN);
	SCALAR("v.f32", RB_GGUF_FLOAT32, f32, -1.5e-7f);
	SCALAR("v.f64", RB_GGUF_FLOAT64, f64, 3.141592653589793);
	SCALAR("v.bool.t", RB_GGUF_BOOL, b, true);
	SCALAR("v.bool.f", RB_GGUF_BOOL, b, false);
#undef SCALAR
	for (size_t i = 0; i < N_STRS; i++) {
		char key[32];
		snprintf(key, sizeof(key), "v.str.%zu", i);
		rb_gguf_str s = {0};
		CHECK_EQ_INT(rb_gguf_get_str(g, key, &s, NULL), RB_OK);
		CHECKF(rb_gguf_str_eq(s, k_strs[i]), "%s", key);
	}
	for (int t = 0; t < 13; t++) {
		if (!arrays[t])
			continue;
		char key[32];
		snprintf(key, sizeof(key), "a.%s", rb_gguf_vtype_name((enum rb_gguf_vtype)t));
		const rb_gguf_array *a = NULL;
		CHECK_EQ_INT(rb_gguf_get_arr(g, key, &a, NULL), RB_OK);
		if (!a)
			continue;
		CHECKF((int)a->type == t && a->n == arr_n[t], "%s", key);
		if (a->n == arr_n[t] && a->n) {
			/* element-wise through the converting accessor, independently decoded */
			int bad = 0;
			for (uint64_t i = 0; i < a->n; i++) {
				const uint8_t *p = arrays[t];
				int64_t want_i = 0;
				double want_f = 0;
				switch (t) {
				case RB_GGUF_UINT8: want_i = p[i]; break;
				case RB_GGUF_BOOL: want_i = p[i]; break;
				case RB_GGUF_INT8: want_i = (int8_t)p[i]; break;
				case RB_GGUF_UINT16: want_i = p[2 * i] | p[2 * i + 1] << 8; break;
				case RB_GGUF_INT16:
					want_i = (int16_t)(uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
					break;
				case RB_GGUF_UINT32: {
					uint32_t u;
					memcpy(&u, p + 4 * i, 4);
					want_i = u;
					break;
				}
				case RB_GGUF_INT32: {
					int32_t v;
					memcpy(&v, p + 4 * i, 4);
					want_i = v;
					break;
				}
				case RB_GGUF_INT64: memcpy(&want_i, p + 8 * i, 8); break;
				case RB_GGUF_UINT64: {
					uint64_t u;
					memcpy(&u, p + 8 * i, 8);
					want_i = u > INT64_MAX ? INT64_MAX : (int64_t)u;
					break;
				}
				case RB_GGUF_FLOAT32: {
					float f;
					memcpy(&f, p + 4 * i, 4);
					want_f = f;
					break;
				}
				case RB_GGUF_FLOAT64: memcpy(&want_f, p + 8 * i, 8); break;
				}
				if (t == RB_GGUF_FLOAT32 || t == RB_GGUF_FLOAT64) {
					const double got = rb_gguf_arr_f64(a, i);
					bad += !(got == want_f || (isnan(got) && isnan(want_f)));
				} else {
					bad += rb_gguf_arr_i64(a, i) != want_i;
				}
			}
			CHECKF(bad == 0, "%s: %d elements differ", key, bad);
		}
	}
	const rb_gguf_array *sa = NULL;
	CHECK_EQ_INT(rb_gguf_get_arr(g, "a.string", &sa, NULL), RB_OK);
	if (sa) {
		CHECK(sa->type == RB_GGUF_STRING && sa->n == N_STRS && sa->strs);
		for (uint64_t i = 0; sa->strs && i < sa->n && i < N_STRS; i++)
			CHECKF(rb_gguf_str_eq(sa->strs[i], k_strs[i]), "a.string[%u]", (unsigned)i);
	}
	CHECK_EQ_INT(rb_gguf_get_arr(g, "a.string.empty", &sa, NULL), RB_OK);
	CHECK(sa && sa->n == 0 && sa->type == RB_GGUF_STRING);
	CHECK_EQ_INT(rb_gguf_get_arr(g, "a.u32.empty", &sa, NULL), RB_OK);
	CHECK(sa && sa->n == 0 && sa->type == RB_GGUF_UINT32);
	/* string elements have no numeric value */
	CHECK_EQ_INT(rb_gguf_get_arr(g, "a.string", &sa, NULL), RB_OK);
	CHECK(sa && isnan(rb_gguf_arr_f64(sa, 1)) && rb_gguf_arr_i64(sa, 1) == 0);
}

static void test_all_values(void)
{
	for (uint32_t version = 2; version <= 3; version++) {
		uint64_t seed = version;
		uint8_t *arrays[13];
		uint64_t arr_n[13];
		rb_gguf_writer *w = rb_gguf_writer_create();
		REQUIRE(w);
		CHECK_EQ_INT(rb_gguf_writer_set_version(w, version), RB_OK);
		set_all_values(w, &seed, arrays, arr_n);
		void *buf;
		size_t n;
		rb_err err;
		CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err), RB_OK);
		rb_gguf *g = parse_mem(buf, n);
		if (g) {
			CHECK_EQ_INT(g->version, version);
			CHECK_EQ_INT(g->n_tensors, 0);
			CHECK_EQ_INT(g->n_kv, 12 + N_STRS + 11 + 3);
			check_all_values(g, arrays, arr_n);
			/* the bytes re-written from the parsed file are identical */
			rb_gguf_writer *w2 = rb_gguf_writer_create();
			REQUIRE(w2);
			CHECK_EQ_INT(rb_gguf_writer_set_version(w2, version), RB_OK);
			for (uint64_t i = 0; i < g->n_kv; i++)
				CHECK_EQ_INT(rb_gguf_set_kv(w2, &g->kv[i]), RB_OK);
			void *buf2;
			size_t n2;
			CHECK_EQ_INT(rb_gguf_write_memory(w2, &buf2, &n2, NULL, NULL, &err), RB_OK);
			CHECK(n2 == n && memcmp(buf, buf2, n) == 0);
			free(buf2);
			rb_gguf_writer_free(w2);
			rb_gguf_close(g);
		}
		free(buf);
		rb_gguf_writer_free(w);
		for (int t = 0; t < 13; t++)
			free(arrays[t]);
	}
}

/* ---- writer bytes against an independent encoding ----------------------- */

static void test_writer_matches_spec(void)
{
	float a[3] = {1.0f, -2.0f, 0.5f};
	uint16_t b[64];
	for (int i = 0; i < 64; i++)
		b[i] = (uint16_t)(0x3c00 + i);
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	CHECK_EQ_INT(rb_gguf_set_str(w, "general.architecture", "llama"), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_alignment(w, 64), RB_OK);
	const int32_t ids[2] = {7, -1};
	CHECK_EQ_INT(rb_gguf_set_arr(w, "ids", RB_GGUF_INT32, ids, 2), RB_OK);
	const int64_t ne_a[1] = {3}, ne_b[2] = {16, 4};
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "a", RB_TYPE_F32, 1, ne_a, a), RB_OK);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "bb", RB_TYPE_F16, 2, ne_b, b), RB_OK);
	void *buf;
	size_t n;
	rb_err err;
	CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err), RB_OK);

	gb e = {0};
	gb_header(&e, 3, 2, 3);
	gb_kv_str(&e, "general.architecture", "llama");
	gb_kv_u32(&e, "general.alignment", 64);
	gb_key(&e, "ids", 9);
	gb_u32(&e, 5);
	gb_u64(&e, 2);
	gb_u32(&e, 7);
	gb_u32(&e, 0xffffffffu);
	const uint64_t ea[1] = {3}, eb[2] = {16, 4};
	gb_tensor(&e, "a", 1, ea, 0, 0);
	gb_tensor(&e, "bb", 2, eb, 1, 64); /* 12 bytes of a, padded to 64 */
	gb_pad(&e, 64);
	for (int i = 0; i < 3; i++)
		gb_f32(&e, a[i]);
	gb_pad(&e, 64);
	for (int i = 0; i < 64; i++)
		gb_u16(&e, b[i]);
	gb_pad(&e, 64);
	CHECKF(n == e.n, "size %zu, expected %zu", n, e.n);
	CHECK(n == e.n && memcmp(buf, e.p, n) == 0);
	gb_free(&e);
	free(buf);
	rb_gguf_writer_free(w);
}

/* ---- every tensor type, alignments, fill callbacks ----------------------- */

struct fill_ctx {
	uint64_t seed;
	int calls;
	int fail_at; /* tensor index whose fill fails, -1 for none */
};

static uint8_t pattern_byte(uint64_t seed, size_t tensor, uint64_t i)
{
	uint64_t s = seed ^ (tensor * 0x9e3779b97f4a7c15ull) ^ (i / 8);
	return (uint8_t)(rb_test_rand_u64(&s) >> (8 * (i % 8)));
}

static int fill_pattern(void *user, size_t tensor_index, void *dst, uint64_t nbytes)
{
	struct fill_ctx *c = user;
	c->calls++;
	if ((int)tensor_index == c->fail_at)
		return RB_E_IO;
	uint8_t *p = dst;
	for (uint64_t i = 0; i < nbytes; i++)
		p[i] = pattern_byte(c->seed, tensor_index, i);
	return 0;
}

static void test_tensor_types(void)
{
	static const uint32_t aligns[] = {1, 8, 32, 64, 4096};
	for (size_t ai = 0; ai < sizeof(aligns) / sizeof(aligns[0]); ai++) {
		rb_gguf_writer *w = rb_gguf_writer_create();
		REQUIRE(w);
		if (aligns[ai] != 32)
			CHECK_EQ_INT(rb_gguf_set_alignment(w, aligns[ai]), RB_OK);
		uint8_t *owned[RB_TYPE_COUNT] = {0};
		uint64_t seed = 100 + ai;
		size_t nt = 0;
		int64_t shapes[RB_TYPE_COUNT][4];
		uint32_t ids[RB_TYPE_COUNT];
		for (uint32_t id = 0; id < RB_TYPE_COUNT; id++) {
			if (!rb_type_is_valid(id))
				continue;
			const int64_t bs = rb_type_block_size((enum rb_type)id);
			int64_t *ne = shapes[nt];
			ne[0] = bs * (1 + (int64_t)(rb_test_rand_u64(&seed) % 3));
			ne[1] = 1 + (int64_t)(rb_test_rand_u64(&seed) % 3);
			ne[2] = 2;
			ne[3] = 1;
			const uint32_t n_dims = 1 + id % 4;
			char name[32];
			snprintf(name, sizeof(name), "t.%s", rb_type_name((enum rb_type)id));
			const uint64_t bytes = rb_row_size((enum rb_type)id, ne[0]) * (uint64_t)ne[1] *
					       (n_dims >= 3 ? 2 : 1);
			if (n_dims < 3)
				ne[2] = 1;
			/* every other tensor comes from the fill callback */
			if (nt % 2 == 0) {
				owned[nt] = malloc(bytes);
				REQUIRE(owned[nt]);
				for (uint64_t i = 0; i < bytes; i++)
					owned[nt][i] = pattern_byte(7, nt, i);
			}
			CHECK_EQ_INT(rb_gguf_add_tensor(w, name, (enum rb_type)id, n_dims, ne,
							owned[nt]),
				     RB_OK);
			ids[nt] = id;
			nt++;
		}
		struct fill_ctx fc = {.seed = 7, .fail_at = -1};
		void *buf;
		size_t n;
		rb_err err;
		CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, fill_pattern, &fc, &err), RB_OK);
		CHECK_EQ_INT(fc.calls, (int)(nt / 2));
		rb_gguf *g = parse_mem(buf, n);
		if (g) {
			CHECK_EQ_INT(g->alignment, aligns[ai]);
			CHECK_EQ_INT(g->n_tensors, nt);
			CHECK_EQ_INT(g->data_offset % aligns[ai], 0);
			for (size_t i = 0; i < nt && i < g->n_tensors; i++) {
				const rb_gguf_tensor *t = &g->tensors[i];
				char name[32];
				snprintf(name, sizeof(name), "t.%s", rb_type_name((enum rb_type)ids[i]));
				CHECKF(rb_gguf_find_tensor(g, name) == t, "%s", name);
				CHECK_EQ_INT(t->type, ids[i]);
				CHECK_EQ_INT(t->n_dims, 1 + ids[i] % 4);
				CHECK_EQ_INT(t->offset % aligns[ai], 0);
				int same_shape = 1;
				for (int d = 0; d < 4; d++)
					same_shape &= t->ne[d] == shapes[i][d] ||
						      ((uint32_t)d >= t->n_dims && t->ne[d] == 1);
				CHECK(same_shape);
				int bad = 0;
				const uint8_t *p = t->data;
				for (uint64_t j = 0; j < t->nbytes; j++)
					bad += p[j] != pattern_byte(7, i, j);
				CHECKF(bad == 0, "tensor %zu (%s): %d bytes differ", i,
				       rb_type_name(t->type), bad);
			}
			rb_gguf_close(g);
		}
		free(buf);
		rb_gguf_writer_free(w);
		for (size_t i = 0; i < nt; i++)
			free(owned[i]);
	}
}

/* ---- files: atomic replace, failures leave the old file ----------------- */

static int read_whole(const char *path, uint8_t **data, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	const long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	*data = malloc(len > 0 ? (size_t)len : 1);
	*n = fread(*data, 1, (size_t)len, f);
	fclose(f);
	return *n == (size_t)len ? 0 : -1;
}

static void test_write_file(void)
{
	char dir[] = "/tmp/rb-gguf-test-XXXXXX";
	REQUIRE(mkdtemp(dir));
	char path[256], tmp[300];
	snprintf(path, sizeof(path), "%s/model.gguf", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	CHECK_EQ_INT(rb_gguf_set_str(w, "general.name", "first"), RB_OK);
	const int64_t ne[2] = {32, 3};
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "q", RB_TYPE_Q8_0, 2, ne, NULL), RB_OK);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "e", RB_TYPE_F32, 2, (const int64_t[]){0, 5}, NULL),
		     RB_OK);
	struct fill_ctx fc = {.seed = 3, .fail_at = -1};
	rb_err err;
	CHECK_EQ_INT(rb_gguf_write_file(w, path, fill_pattern, &fc, &err), RB_OK);
	CHECK_EQ_INT(fc.calls, 1); /* the empty tensor needs no data */
	CHECK(access(tmp, F_OK) != 0);
	void *mem;
	size_t mem_n;
	fc.calls = 0;
	CHECK_EQ_INT(rb_gguf_write_memory(w, &mem, &mem_n, fill_pattern, &fc, &err), RB_OK);
	uint8_t *disk;
	size_t disk_n;
	CHECK(read_whole(path, &disk, &disk_n) == 0);
	CHECK(disk_n == mem_n && memcmp(disk, mem, mem_n) == 0);
	free(disk);

	rb_gguf *g = NULL;
	CHECK_EQ_INT(rb_gguf_open(path, &g, &err), RB_OK);
	if (g) {
		const rb_gguf_tensor *q = rb_gguf_find_tensor(g, "q");
		CHECK(q && q->nbytes == 3 * 34);
		CHECK(rb_gguf_find_tensor(g, "e") && rb_gguf_find_tensor(g, "e")->nbytes == 0);
		CHECK(rb_gguf_find_tensor(g, "x") == NULL);
		rb_gguf_close(g);
	}

	/* a failing fill leaves the existing file untouched and no temp file */
	CHECK_EQ_INT(rb_gguf_set_str(w, "general.name", "second"), RB_OK);
	fc.fail_at = 0;
	CHECK_EQ_INT(rb_gguf_write_file(w, path, fill_pattern, &fc, &err), RB_E_IO);
	CHECKF(strstr(err.msg, "fill callback failed for tensor 'q'"), "%s", err.msg);
	CHECK(access(tmp, F_OK) != 0);
	CHECK(read_whole(path, &disk, &disk_n) == 0);
	CHECK(disk_n == mem_n && memcmp(disk, mem, mem_n) == 0);
	free(disk);
	free(mem);

	/* no fill callback for a tensor without data */
	CHECK_EQ_INT(rb_gguf_write_file(w, path, NULL, NULL, &err), RB_E_INVALID);
	CHECKF(strstr(err.msg, "tensor 'q' has no data"), "%s", err.msg);

	/* replacing works; the name changed */
	fc.fail_at = -1;
	CHECK_EQ_INT(rb_gguf_write_file(w, path, fill_pattern, &fc, &err), RB_OK);
	CHECK_EQ_INT(rb_gguf_open(path, &g, &err), RB_OK);
	if (g) {
		rb_gguf_str s = {0};
		CHECK_EQ_INT(rb_gguf_get_str(g, "general.name", &s, &err), RB_OK);
		CHECK(rb_gguf_str_eq(s, "second"));
		CHECK_EQ_INT(g->n_kv, 1);
		rb_gguf_close(g);
	}

	/* a file size limit (as a full disk) is an error, not SIGBUS, and leaves
	 * the old file in place */
	struct rlimit old_lim;
	REQUIRE(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
	void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
	rb_gguf_writer *big = rb_gguf_writer_create();
	REQUIRE(big);
	const int64_t ne_big[1] = {1 << 20};
	CHECK_EQ_INT(rb_gguf_add_tensor(big, "big", RB_TYPE_I8, 1, ne_big, NULL), RB_OK);
	struct rlimit lim = old_lim;
	lim.rlim_cur = 64 * 1024;
	REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	fc.calls = 0;
	const int big_rc = rb_gguf_write_file(big, path, fill_pattern, &fc, &err);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &old_lim) == 0);
	signal(SIGXFSZ, old_sig);
	CHECK_EQ_INT(big_rc, RB_E_IO);
	CHECKF(strstr(err.msg, "model.gguf.tmp: cannot allocate"), "%s", err.msg);
	CHECK_EQ_INT(fc.calls, 0);
	CHECK(access(tmp, F_OK) != 0);
	CHECK_EQ_INT(rb_gguf_open(path, &g, &err), RB_OK);
	if (g) {
		CHECK(rb_gguf_find_tensor(g, "q") != NULL);
		rb_gguf_close(g);
	}
	rb_gguf_writer_free(big);

	/* unwritable destination */
	char bad[300];
	snprintf(bad, sizeof(bad), "%s/no/such/dir/m.gguf", dir);
	CHECK_EQ_INT(rb_gguf_write_file(w, bad, fill_pattern, &fc, &err), RB_E_IO);
	CHECKF(strstr(err.msg, "no/such/dir/m.gguf.tmp: cannot create"), "%s", err.msg);
	rb_gguf_writer_free(w);

	/* reader errors on files */
	CHECK_EQ_INT(rb_gguf_open(bad, &g, &err), RB_E_IO);
	CHECKF(strstr(err.msg, "m.gguf: cannot open"), "%s", err.msg);
	CHECK_EQ_INT(rb_gguf_open(dir, &g, &err), RB_E_IO);
	CHECKF(strstr(err.msg, "not a regular file"), "%s", err.msg);
	FILE *f = fopen(tmp, "wb");
	REQUIRE(f);
	fclose(f);
	CHECK_EQ_INT(rb_gguf_open(tmp, &g, &err), RB_E_FORMAT);
	CHECKF(strstr(err.msg, "empty file"), "%s", err.msg);
	f = fopen(tmp, "wb");
	REQUIRE(f);
	fputs("GGUF\x03", f);
	fclose(f);
	CHECK_EQ_INT(rb_gguf_open(tmp, &g, &err), RB_E_FORMAT);
	CHECKF(strstr(err.msg, "model.gguf.tmp: truncated: version"), "%s", err.msg);
	CHECK(g == NULL);
	unlink(tmp);
	unlink(path);
	rmdir(dir);
}

/* ---- getters ------------------------------------------------------------- */

static void test_getters(void)
{
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	rb_gguf_set_u8(w, "u8", 200);
	rb_gguf_set_i8(w, "i8.neg", -3);
	rb_gguf_set_i64(w, "i64.big", 5000000000ll);
	rb_gguf_set_u64(w, "u64.max", UINT64_MAX);
	rb_gguf_set_i32(w, "i32", 12);
	rb_gguf_set_f64(w, "f64", 0.25);
	rb_gguf_set_bool(w, "flag", true);
	rb_gguf_set_str(w, "s", "text");
	void *buf;
	size_t n;
	rb_err err;
	CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err), RB_OK);
	rb_gguf_writer_free(w);
	rb_gguf *g = parse_mem(buf, n);
	REQUIRE(g);
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	int64_t i64 = 0;
	float f = 0;
	bool b = false;
	rb_gguf_str s;
	const rb_gguf_array *a;
	CHECK_EQ_INT(rb_gguf_get_u32(g, "u8", &u32, &err), RB_OK);
	CHECK_EQ_INT(u32, 200);
	CHECK_EQ_INT(rb_gguf_get_u32(g, "i32", &u32, &err), RB_OK);
	CHECK_EQ_INT(u32, 12);
	CHECK_EQ_INT(rb_gguf_get_u32(g, "i8.neg", &u32, &err), RB_E_FORMAT);
	CHECKF(strstr(err.msg, "'i8.neg'") && strstr(err.msg, "= -3 does not fit in uint32"), "%s",
	       err.msg);
	CHECK_EQ_INT(rb_gguf_get_u32(g, "i64.big", &u32, &err), RB_E_FORMAT);
	CHECK_EQ_INT(rb_gguf_get_u64(g, "i64.big", &u64, &err), RB_OK);
	CHECK(u64 == 5000000000ull);
	CHECK_EQ_INT(rb_gguf_get_u64(g, "i8.neg", &u64, &err), RB_E_FORMAT);
	CHECK_EQ_INT(rb_gguf_get_i64(g, "i8.neg", &i64, &err), RB_OK);
	CHECK_EQ_INT(i64, -3);
	CHECK_EQ_INT(rb_gguf_get_i64(g, "u64.max", &i64, &err), RB_E_FORMAT);
	CHECK_EQ_INT(rb_gguf_get_u64(g, "u64.max", &u64, &err), RB_OK);
	CHECK(u64 == UINT64_MAX);
	CHECK_EQ_INT(rb_gguf_get_f32(g, "f64", &f, &err), RB_OK);
	CHECK(f == 0.25f);
	CHECK_EQ_INT(rb_gguf_get_f32(g, "i8.neg", &f, &err), RB_OK);
	CHECK(f == -3.0f);
	CHECK_EQ_INT(rb_gguf_get_f32(g, "s", &f, &err), RB_E_FORMAT);
	CHECKF(strstr(err.msg, "'s'") && strstr(err.msg, "has type string, expected a number"),
	       "%s", err.msg);
	CHECK_EQ_INT(rb_gguf_get_bool(g, "flag", &b, &err), RB_OK);
	CHECK(b);
	CHECK_EQ_INT(rb_gguf_get_bool(g, "u8", &b, &err), RB_E_FORMAT);
	CHECK_EQ_INT(rb_gguf_get_u32(g, "flag", &u32, &err), RB_E_FORMAT);
	CHECK_EQ_INT(rb_gguf_get_str(g, "s", &s, &err), RB_OK);
	CHECK(rb_gguf_str_eq(s, "text") && !rb_gguf_str_eq(s, "tex") && !rb_gguf_str_eq(s, "texts"));
	char *dup = rb_gguf_str_dup(s);
	CHECK(dup && strcmp(dup, "text") == 0);
	free(dup);
	CHECK_EQ_INT(rb_gguf_get_arr(g, "s", &a, &err), RB_E_FORMAT);
	CHECK_EQ_INT(rb_gguf_get_u32(g, "missing.key", &u32, &err), RB_E_INVALID);
	CHECKF(strstr(err.msg, "'missing.key' not found"), "%s", err.msg);
	CHECK_EQ_INT(rb_gguf_find_key(g, "missing.key"), -1);
	CHECK(rb_gguf_find_key(g, "s") >= 0 && rb_gguf_str_eq(g->kv[rb_gguf_find_key(g, "s")].key, "s"));
	/* every key is found at its own index */
	int bad = 0;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		char *k = rb_gguf_str_dup(g->kv[i].key);
		bad += rb_gguf_find_key(g, k) != (int64_t)i;
		free(k);
	}
	CHECK_EQ_INT(bad, 0);
	rb_gguf_close(g);
	free(buf);
}

/* ---- writer argument checks ----------------------------------------------- */

static void test_writer_rejects(void)
{
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	CHECK_EQ_INT(rb_gguf_set_u32(w, "", 1), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_u32(w, "bad\xff", 1), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_u32(w, NULL, 1), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_str(w, "s", NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_alignment(w, 48), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_alignment(w, 0), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_u64(w, "general.alignment", 64), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_u32(w, "general.alignment", 12), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_writer_set_version(w, 1), RB_E_INVALID);
	const uint8_t bools[2] = {1, 2};
	CHECK_EQ_INT(rb_gguf_set_arr(w, "b", RB_GGUF_BOOL, bools, 2), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_arr(w, "b", RB_GGUF_STRING, bools, 2), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_set_arr(w, "b", RB_GGUF_ARRAY, bools, 2), RB_E_INVALID);
	const char *strs[2] = {"a", NULL};
	CHECK_EQ_INT(rb_gguf_set_arr_str(w, "s", strs, 2), RB_E_INVALID);
	const int64_t ok[2] = {32, 2}, odd[2] = {33, 2}, neg[2] = {32, -1};
	const int64_t huge[4] = {INT64_MAX / 2, 4, 1, 1};
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "t", RB_TYPE_Q4_0, 2, ok, NULL), RB_OK);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "t", RB_TYPE_Q4_0, 2, ok, NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "u", RB_TYPE_Q4_0, 2, odd, NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "u", RB_TYPE_F32, 2, neg, NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "u", RB_TYPE_F32, 4, huge, NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "u", RB_TYPE_F32, 5, huge, NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "u", (enum rb_type)4, 2, ok, NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "u\xc0", RB_TYPE_F32, 2, ok, NULL), RB_E_INVALID);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "", RB_TYPE_F32, 2, ok, NULL), RB_E_INVALID);
	/* setting a key twice replaces it in place */
	CHECK_EQ_INT(rb_gguf_set_u32(w, "k", 1), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_str(w, "k", "two"), RB_OK);
	void *buf;
	size_t n;
	rb_err err;
	uint8_t zeros[36 * 2] = {0};
	rb_gguf_writer_free(w);
	w = rb_gguf_writer_create();
	CHECK_EQ_INT(rb_gguf_set_u32(w, "k", 1), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_u32(w, "j", 2), RB_OK);
	CHECK_EQ_INT(rb_gguf_set_str(w, "k", "two"), RB_OK);
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "t", RB_TYPE_Q4_0, 2, ok, zeros), RB_OK);
	CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err), RB_OK);
	rb_gguf *g = parse_mem(buf, n);
	if (g) {
		CHECK_EQ_INT(g->n_kv, 2);
		CHECK(rb_gguf_str_eq(g->kv[0].key, "k") && g->kv[0].value.type == RB_GGUF_STRING);
		rb_gguf_close(g);
	}
	free(buf);
	rb_gguf_writer_free(w);
}

/* print_info escapes what a hostile file could use against a terminal. */
static void test_print_escapes(void)
{
	rb_gguf_writer *w = rb_gguf_writer_create();
	REQUIRE(w);
	CHECK_EQ_INT(rb_gguf_set_str(w, "evil\x1b[2J.key", "line\nbreak \x1b]0;title\x07 \xff\xfe end"),
		     RB_OK);
	char long_value[300];
	memset(long_value, 'v', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	CHECK_EQ_INT(rb_gguf_set_str(w, "long", long_value), RB_OK);
	const int64_t ne[1] = {4};
	const float zero[4] = {0};
	CHECK_EQ_INT(rb_gguf_add_tensor(w, "t\x1b[31m", RB_TYPE_F32, 1, ne, zero), RB_OK);
	void *buf;
	size_t n;
	rb_err err;
	CHECK_EQ_INT(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err), RB_OK);
	rb_gguf_writer_free(w);
	rb_gguf *g = parse_mem(buf, n);
	REQUIRE(g);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	REQUIRE(f);
	CHECK_EQ_INT(rb_gguf_print_info(g, f, 4), RB_OK);
	fclose(f);
	CHECK(memchr(text, 0x1b, len) == NULL && memchr(text, 0x07, len) == NULL &&
	      memchr(text, 0xff, len) == NULL);
	CHECK(strstr(text, "evil\\x1b[2J.key") != NULL);
	CHECK(strstr(text, "\"line\\nbreak \\x1b]0;title\\x07 \\xff\\xfe end\"") != NULL);
	CHECK(strstr(text, "t\\x1b[31m") != NULL);
	CHECK(strstr(text, "vvv\"... (299 bytes)") != NULL);
	free(text);
	rb_gguf_close(g);
	free(buf);
}

int main(void)
{
	test_all_values();
	test_writer_matches_spec();
	test_tensor_types();
	test_write_file();
	test_getters();
	test_writer_rejects();
	test_print_escapes();
	return rb_test_finish();
}
