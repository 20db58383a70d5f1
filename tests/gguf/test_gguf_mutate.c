/* SPDX-License-Identifier: MIT */
/* Deterministic mutation fuzzing of the reader: seeded bit flips, byte and
 * 64-bit field overwrites, truncations, deletions, duplications and splices
 * of real and generated files. Every result must be either a handle that
 * satisfies gguf_check_accepted() or an error with a message; ASan (debug-asan
 * preset) turns any out-of-bounds read into a failure. Each input is parsed
 * from an exact-size heap copy so that reading one byte too far is caught.
 *
 *   test_gguf_mutate [--iterations N] [--seed S] [--write-seeds DIR]
 *
 * --write-seeds writes the generated seed files (a starting corpus for the
 * libFuzzer target, see docs/gguf.md) and exits. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gguf_check.h"
#include "rosenblatt/gguf.h"
#include "test.h"

struct seed {
	const char *name;
	uint8_t *data;
	size_t size;
	size_t meta_end; /* where the tensor data starts: most mutations land before it */
};

#define MAX_SEEDS 16
static struct seed g_seeds[MAX_SEEDS];
static int g_n_seeds;

static void add_seed(const char *name, void *data, size_t size)
{
	REQUIRE(g_n_seeds < MAX_SEEDS);
	rb_gguf *g = NULL;
	rb_err err;
	REQUIRE(rb_gguf_open_memory(data, size, &g, &err) == RB_OK);
	g_seeds[g_n_seeds++] = (struct seed){name, data, size, (size_t)g->data_offset};
	rb_gguf_close(g);
}

static void add_file_seed(const char *path)
{
	FILE *f = fopen(path, "rb");
	REQUIRE(f);
	fseek(f, 0, SEEK_END);
	const long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)n);
	REQUIRE(p && fread(p, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	add_seed(path, p, (size_t)n);
}

/* Small generated files covering what the real ones lack: every value type,
 * every tensor type, v2, other alignments, empty tensors. */
static void add_generated_seeds(void)
{
	static const uint32_t aligns[] = {32, 64, 1, 8};
	for (int variant = 0; variant < 4; variant++) {
		uint64_t rs = 1000 + (uint64_t)variant;
		rb_gguf_writer *w = rb_gguf_writer_create();
		REQUIRE(w);
		rb_gguf_writer_set_version(w, variant == 2 ? 2 : 3);
		if (aligns[variant] != 32)
			REQUIRE(rb_gguf_set_alignment(w, aligns[variant]) == RB_OK);
		rb_gguf_set_str(w, "general.architecture", "llama");
		rb_gguf_set_u8(w, "x.u8", 7);
		rb_gguf_set_i8(w, "x.i8", -7);
		rb_gguf_set_u16(w, "x.u16", 700);
		rb_gguf_set_i16(w, "x.i16", -700);
		rb_gguf_set_u32(w, "x.u32", 70000);
		rb_gguf_set_i32(w, "x.i32", -70000);
		rb_gguf_set_u64(w, "x.u64", 1ull << 40);
		rb_gguf_set_i64(w, "x.i64", -(1ll << 40));
		rb_gguf_set_f32(w, "x.f32", 0.5f);
		rb_gguf_set_f64(w, "x.f64", -0.25);
		rb_gguf_set_bool(w, "x.bool", true);
		const char *toks[5] = {"<s>", "</s>", "a", "\xc4\xa0the", ""};
		rb_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 5);
		const float scores[5] = {0, -1, -2, -3, -4};
		rb_gguf_set_arr(w, "tokenizer.ggml.scores", RB_GGUF_FLOAT32, scores, 5);
		const uint8_t flags[3] = {0, 1, 1};
		rb_gguf_set_arr(w, "x.flags", RB_GGUF_BOOL, flags, 3);
		const int64_t big[2] = {INT64_MIN, INT64_MAX};
		rb_gguf_set_arr(w, "x.i64s", RB_GGUF_INT64, big, 2);
		uint8_t *data[RB_TYPE_COUNT] = {0};
		for (uint32_t id = 0; id < RB_TYPE_COUNT; id++) {
			if (!rb_type_is_valid(id) || (id + (uint32_t)variant) % 2)
				continue;
			const int64_t ne[3] = {rb_type_block_size((enum rb_type)id), 2,
					       id == 0 ? 0 : 1};
			const uint64_t n = rb_row_size((enum rb_type)id, ne[0]) * 2 * (uint64_t)ne[2];
			data[id] = malloc(n + 1);
			REQUIRE(data[id]);
			for (uint64_t i = 0; i < n; i++)
				data[id][i] = (uint8_t)rb_test_rand_u64(&rs);
			char name[32];
			snprintf(name, sizeof(name), "blk.%u.%s", id, rb_type_name((enum rb_type)id));
			REQUIRE(rb_gguf_add_tensor(w, name, (enum rb_type)id, 3, ne, data[id]) ==
				RB_OK);
		}
		void *buf;
		size_t n;
		rb_err err;
		REQUIRE(rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err) == RB_OK);
		rb_gguf_writer_free(w);
		for (int i = 0; i < RB_TYPE_COUNT; i++)
			free(data[i]);
		static const char *const names[] = {"gen-v3-a32", "gen-v3-a64", "gen-v2-a1",
						    "gen-v3-a8"};
		add_seed(names[variant], buf, n);
	}
}

/* ---- mutations ------------------------------------------------------------ */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void buf_reserve(struct buf *b, size_t n)
{
	if (n <= b->cap)
		return;
	b->p = realloc(b->p, n);
	REQUIRE(b->p);
	b->cap = n;
}

static size_t pick_pos(uint64_t *rs, size_t n, size_t meta_end)
{
	if (!n)
		return 0;
	const size_t hot = meta_end && meta_end < n ? meta_end : n;
	if (rb_test_rand_u64(rs) % 4 != 0)
		return (size_t)(rb_test_rand_u64(rs) % hot);
	return (size_t)(rb_test_rand_u64(rs) % n);
}

static uint64_t interesting_u64(uint64_t *rs, size_t size)
{
	static const uint64_t k[] = {0, 1, 2, 3, 4, 5, 8, 9, 13, 31, 32, 33, 255, 256, 4096, 65535,
				     65536, 0x7fffffff, 0x80000000u, 0xffffffffu, 1ull << 32,
				     1ull << 62, INT64_MAX, 1ull << 63, UINT64_MAX,
				     UINT64_MAX - 31};
	const uint64_t r = rb_test_rand_u64(rs);
	switch (r % 4) {
	case 0: return size + (r >> 8) % 64 - 32;
	case 1: return (r >> 8) % 512;
	default: return k[(r >> 8) % (sizeof(k) / sizeof(k[0]))];
	}
}

static void mutate_once(struct buf *b, uint64_t *rs, const struct seed *s)
{
	const unsigned op = (unsigned)(rb_test_rand_u64(rs) % 8);
	const size_t pos = pick_pos(rs, b->n, s->meta_end);
	switch (op) {
	case 0: /* flip a bit */
		if (b->n)
			b->p[pos] ^= (uint8_t)(1u << (rb_test_rand_u64(rs) % 8));
		break;
	case 1: { /* set a byte */
		static const uint8_t v[] = {0, 1, 2, 7, 8, 9, 12, 13, 0x7f, 0x80, 0xc0, 0xed, 0xff};
		if (b->n)
			b->p[pos] = v[rb_test_rand_u64(rs) % sizeof(v)];
		break;
	}
	case 2:
	case 3: { /* overwrite a 64-bit (or 32-bit) field, aligned to the field grid */
		const size_t w = op == 2 ? 8 : 4;
		const uint64_t v = interesting_u64(rs, b->n);
		for (size_t i = 0; i < w && pos + i < b->n; i++)
			b->p[pos + i] = (uint8_t)(v >> (8 * i));
		break;
	}
	case 4: /* truncate */
		b->n = pos;
		break;
	case 5: { /* delete a range */
		const size_t len = (size_t)(rb_test_rand_u64(rs) % 64);
		if (pos + len <= b->n) {
			memmove(b->p + pos, b->p + pos + len, b->n - pos - len);
			b->n -= len;
		}
		break;
	}
	case 6: { /* duplicate a range of itself at pos */
		const size_t len = (size_t)(rb_test_rand_u64(rs) % 128);
		const size_t from = pick_pos(rs, b->n, s->meta_end);
		if (from + len > b->n)
			break;
		uint8_t chunk[128];
		memcpy(chunk, b->p + from, len);
		buf_reserve(b, b->n + len);
		memmove(b->p + pos + len, b->p + pos, b->n - pos);
		memcpy(b->p + pos, chunk, len);
		b->n += len;
		break;
	}
	case 7: { /* splice: bytes from another seed's metadata */
		const struct seed *o = &g_seeds[rb_test_rand_u64(rs) % (uint64_t)g_n_seeds];
		const size_t len = 1 + (size_t)(rb_test_rand_u64(rs) % 256);
		const size_t from = pick_pos(rs, o->size, o->meta_end);
		if (from + len > o->size || pos + len > b->n)
			break;
		memcpy(b->p + pos, o->data + from, len);
		break;
	}
	}
}

/* ---- driver --------------------------------------------------------------- */

struct stats {
	int ok, format, unsupported, other;
};

static void run_one(const uint8_t *data, size_t n, FILE *sink, int rewrite, struct stats *st,
		    uint64_t iter)
{
	uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches overreads */
	REQUIRE(copy);
	if (n)
		memcpy(copy, data, n);
	rb_gguf *g = (rb_gguf *)1;
	rb_err err = {.code = 99, .msg = ""};
	const int rc = rb_gguf_open_memory(copy, n, &g, &err);
	if (rc == RB_OK) {
		st->ok++;
		CHECKF(g != NULL, "iteration %llu: OK without a handle", (unsigned long long)iter);
		if (g) {
			const int bad = gguf_check_accepted(g, sink, rewrite);
			CHECKF(bad == 0, "iteration %llu: %d invariants violated",
			       (unsigned long long)iter, bad);
			rb_gguf_close(g);
		}
	} else {
		if (rc == RB_E_FORMAT)
			st->format++;
		else if (rc == RB_E_UNSUPPORTED)
			st->unsupported++;
		else
			st->other++;
		CHECKF(rc == RB_E_FORMAT || rc == RB_E_UNSUPPORTED,
		       "iteration %llu: unexpected code %d (%s)", (unsigned long long)iter, rc,
		       err.msg);
		CHECKF(g == NULL && err.code == rc && err.msg[0] != '\0',
		       "iteration %llu: error %d without a proper message", (unsigned long long)iter,
		       rc);
	}
	free(copy);
}

static int write_seeds(const char *dir)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < g_n_seeds; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s.gguf", dir, g_seeds[i].name);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(g_seeds[i].data, 1, g_seeds[i].size, f) != g_seeds[i].size) {
			fprintf(stderr, "cannot write %s\n", path);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
		printf("%s (%zu bytes)\n", path, g_seeds[i].size);
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t iterations = rb_test_quick() ? 5000 : 20000;
	uint64_t rs = 0x6775676675ull;
	const char *seed_dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			iterations = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			rs = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--write-seeds") && i + 1 < argc)
			seed_dir = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--iterations N] [--seed S] [--write-seeds DIR]\n",
				argv[0]);
			return 2;
		}
	}
	add_generated_seeds();
	if (seed_dir)
		return write_seeds(seed_dir);
	add_file_seed(RB_TEST_DATA_DIR "/stories260K/stories260K-Q4_K_M.gguf");
	add_file_seed(RB_TEST_DATA_DIR "/stories260K/stories260K-Q8_0.gguf");
	add_file_seed(RB_TEST_DATA_DIR "/tokenizers/llama-spm-vocab.gguf");

	FILE *sink = fopen("/dev/null", "w");
	REQUIRE(sink);
	/* every seed as is */
	struct stats st = {0};
	for (int s = 0; s < g_n_seeds; s++)
		run_one(g_seeds[s].data, g_seeds[s].size, sink, 1, &st, 0);
	CHECK_EQ_INT(st.ok, g_n_seeds);

	struct buf b = {0};
	for (uint64_t it = 1; it <= iterations; it++) {
		const struct seed *s = &g_seeds[rb_test_rand_u64(&rs) % (uint64_t)g_n_seeds];
		buf_reserve(&b, s->size + 4096);
		memcpy(b.p, s->data, s->size);
		b.n = s->size;
		const int n_mut = 1 + (int)(rb_test_rand_u64(&rs) % 4);
		for (int m = 0; m < n_mut; m++)
			mutate_once(&b, &rs, s);
		/* the write -> read round trip is the slow part: every 4th accepted input */
		run_one(b.p, b.n, sink, it % 4 == 0, &st, it);
	}
	printf("%llu mutated inputs: %d accepted, %d RB_E_FORMAT, %d RB_E_UNSUPPORTED, %d other\n",
	       (unsigned long long)iterations, st.ok - g_n_seeds, st.format, st.unsupported,
	       st.other);
	/* the mutations must reach both outcomes, or the test proves nothing */
	CHECK(st.ok - g_n_seeds > (int)(iterations / 20));
	CHECK(st.format > (int)(iterations / 5));
	free(b.p);
	fclose(sink);
	for (int s = 0; s < g_n_seeds; s++)
		free(g_seeds[s].data);
	return rb_test_finish();
}
