/* SPDX-License-Identifier: MIT */
/* GGUF reader/writer throughput: parse time of the Qwen2 vocabulary (the
 * largest metadata we load: 303k strings), and writing + reading back a
 * synthetic model of a given size through the fill callback.
 *
 *   bench_gguf [--size-mb N] [--dir DIR] [--repeat R] [--vocab FILE]
 *
 * Prints medians of R runs; compare numbers within one run only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rosenblatt/gguf.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int fill(void *user, size_t tensor_index, void *dst, uint64_t nbytes)
{
	(void)user;
	memset(dst, (int)(tensor_index * 37 + 1), (size_t)nbytes);
	return 0;
}

static void usage(const char *argv0)
{
	printf("usage: %s [--size-mb N] [--dir DIR] [--repeat R] [--vocab FILE]\n"
	       "  --size-mb N   synthetic model size for the write/read test (default 256)\n"
	       "  --dir DIR     where to write it (default /tmp)\n"
	       "  --repeat R    runs per measurement, median reported (default 5)\n"
	       "  --vocab FILE  GGUF to parse (default: the shipped qwen2-vocab.gguf)\n",
	       argv0);
}

int main(int argc, char **argv)
{
	uint64_t size_mb = 256;
	int repeat = 5;
	const char *dir = "/tmp";
	const char *vocab = RB_TEST_DATA_DIR "/tokenizers/qwen2-vocab.gguf";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size-mb") && i + 1 < argc)
			size_mb = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--vocab") && i + 1 < argc)
			vocab = argv[++i];
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(argv[0]);
			return 0;
		} else {
			fprintf(stderr, "bench_gguf: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (repeat < 1 || repeat > 1000 || size_mb < 1) {
		fprintf(stderr, "bench_gguf: --repeat 1..1000, --size-mb >= 1\n");
		return 2;
	}
	double *t = calloc((size_t)repeat, sizeof(double));
	if (!t)
		return 1;
	rb_err err;

	/* 1. parse */
	uint64_t vocab_size = 0, n_kv = 0;
	for (int r = 0; r < repeat; r++) {
		rb_gguf *g;
		const double t0 = now_s();
		if (rb_gguf_open(vocab, &g, &err)) {
			fprintf(stderr, "bench_gguf: %s\n", err.msg);
			return 1;
		}
		t[r] = now_s() - t0;
		vocab_size = g->size;
		n_kv = g->n_kv;
		rb_gguf_close(g);
	}
	const double tp = median(t, repeat);
	printf("open+parse %-40s %8.2f ms  (%" PRIu64 " bytes, %" PRIu64 " keys, %.0f MB/s)\n",
	       strrchr(vocab, '/') ? strrchr(vocab, '/') + 1 : vocab, tp * 1e3, vocab_size, n_kv,
	       (double)vocab_size / tp / 1e6);

	/* 2. write a synthetic model through the fill callback, read it back */
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench-gguf-%d.gguf", dir, (int)getpid());
	const int n_tensors = 64;
	const int64_t row = 4096;
	const int64_t rows = (int64_t)((size_mb << 20) / (uint64_t)n_tensors / (uint64_t)row);
	double tw[1000], tm[1000], to[1000], tf[1000];
	uint64_t total = 0;
	for (int r = 0; r < repeat; r++) {
		rb_gguf_writer *w = rb_gguf_writer_create();
		if (!w)
			return 1;
		rb_gguf_set_str(w, "general.architecture", "bench");
		for (int i = 0; i < n_tensors; i++) {
			char name[32];
			snprintf(name, sizeof(name), "blk.%d.weight", i);
			const int64_t ne[2] = {row, rows < 1 ? 1 : rows};
			rb_gguf_add_tensor(w, name, RB_TYPE_I8, 2, ne, NULL);
		}
		double t0 = now_s();
		if (rb_gguf_write_file(w, path, fill, NULL, &err)) {
			fprintf(stderr, "bench_gguf: %s\n", err.msg);
			rb_gguf_writer_free(w);
			return 1;
		}
		tw[r] = now_s() - t0;
		void *mem;
		size_t mem_n;
		t0 = now_s();
		if (rb_gguf_write_memory(w, &mem, &mem_n, fill, NULL, &err)) {
			fprintf(stderr, "bench_gguf: %s\n", err.msg);
			rb_gguf_writer_free(w);
			return 1;
		}
		tm[r] = now_s() - t0;
		free(mem);
		rb_gguf_writer_free(w);
		rb_gguf *g;
		t0 = now_s();
		if (rb_gguf_open(path, &g, &err)) {
			fprintf(stderr, "bench_gguf: %s\n", err.msg);
			return 1;
		}
		to[r] = now_s() - t0;
		t0 = now_s();
		rb_gguf_prefault(g, NULL, NULL);
		tf[r] = now_s() - t0;
		total = g->size;
		rb_gguf_close(g);
		unlink(path);
	}
	const double mb = (double)total / 1e6;
	const double w_s = median(tw, repeat), m_s = median(tm, repeat);
	const double o_s = median(to, repeat), f_s = median(tf, repeat);
	printf("write_file   %6.0f MB (fill, fsync)       %8.1f ms  %7.0f MB/s\n", mb, w_s * 1e3,
	       mb / w_s);
	printf("write_memory %6.0f MB (fill)              %8.1f ms  %7.0f MB/s  (file/memory %.2fx)\n",
	       mb, m_s * 1e3, mb / m_s, w_s / m_s);
	printf("open         %6.0f MB, %d tensors         %8.3f ms\n", mb, n_tensors, o_s * 1e3);
	printf("prefault     %6.0f MB (page cache)        %8.1f ms  %7.0f MB/s\n", mb, f_s * 1e3,
	       mb / f_s);
	free(t);
	return 0;
}
