/* SPDX-License-Identifier: MIT */
/* bench_quant: quality and speed of the reference quantizers.
 *
 * For every type: RMSE / std and max |error| / std of quantize -> dequantize
 * on Gaussian data, and throughput (M elements / s) of quantization (one
 * thread and rb_quantize_rows with -t threads), dequantization and the scalar
 * vec_dot. Numbers, not pass/fail: compare ratios within one run. The last
 * column is a hash of the quantized bytes: equal on two machines means the
 * quantizers made bit-identical files there (e.g. x86-64 vs aarch64). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rosenblatt/quant.h"
#include "rosenblatt/threadpool.h"

static const enum rb_type k_types[] = {
	RB_TYPE_F16,  RB_TYPE_BF16, RB_TYPE_Q4_0, RB_TYPE_Q4_1, RB_TYPE_Q5_0, RB_TYPE_Q5_1,
	RB_TYPE_Q8_0, RB_TYPE_Q4_K, RB_TYPE_Q5_K, RB_TYPE_Q6_K, RB_TYPE_Q8_1, RB_TYPE_Q8_K,
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Standard normal by Box-Muller. */
static float gauss(uint64_t *s)
{
	const double u1 = ((double)(rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
	const double u2 = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* FNV-1a, 32 bit. */
static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_quant [-n ELEMENTS] [-t THREADS] [-r ROW] [--help]\n"
		   "  -n  elements of Gaussian test data (default 786432, a multiple of -r)\n"
		   "  -r  row length for rb_quantize_rows (default 1536)\n"
		   "  -t  threads for rb_quantize_rows (default: performance cores)\n");
}

int main(int argc, char **argv)
{
	int64_t n = 1536 * 512, row = 1536;
	int threads = rb_default_threads();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			n = strtoll(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			threads = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			row = strtoll(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "bench_quant: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (n <= 0 || n % RB_QK_K || row <= 0 || row % RB_QK_K || n % row) {
		fprintf(stderr, "bench_quant: -n must be a positive multiple of 256 and of -r "
				"(itself a multiple of 256)\n");
		return 2;
	}

	float *x = malloc((size_t)n * sizeof(float));
	float *y = malloc((size_t)n * sizeof(float));
	float *act = malloc((size_t)n * sizeof(float));
	void *q = malloc((size_t)n * 4 + 4096);
	void *qa = malloc((size_t)n * 4 + 4096);
	if (!x || !y || !act || !q || !qa) {
		fprintf(stderr, "bench_quant: out of memory for %" PRId64 " elements\n", n);
		return 1;
	}
	uint64_t seed = 42;
	double sum_sq = 0;
	for (int64_t i = 0; i < n; i++) {
		x[i] = gauss(&seed);
		act[i] = gauss(&seed);
		sum_sq += (double)x[i] * x[i];
	}
	const double std = sqrt(sum_sq / (double)n);

	printf("Gaussian data, %" PRId64 " elements, std %.4f; rows of %" PRId64
	       ", %d threads for rows\n",
	       n, std, row, threads);
	printf("%-6s %6s %10s %10s %12s %12s %12s %12s %9s\n", "type", "bits", "rmse/std",
	       "max/std", "quant 1t", "quant rows", "dequant", "vec_dot", "hash");
	printf("%-6s %6s %10s %10s %12s %12s %12s %12s\n", "", "", "", "", "Melem/s", "Melem/s",
	       "Melem/s", "Melem/s");
	for (size_t k = 0; k < sizeof(k_types) / sizeof(k_types[0]); k++) {
		const enum rb_type type = k_types[k];
		const rb_type_traits *t = rb_type_traits_get(type);
		double t0 = now_s();
		rb_quantize_row(type, x, q, n);
		const double t_q = now_s() - t0;

		rb_err err = {0};
		t0 = now_s();
		if (rb_quantize_rows(type, x, q, n / row, row, threads, &err) != RB_OK) {
			fprintf(stderr, "bench_quant: %s\n", err.msg);
			return 1;
		}
		const double t_rows = now_s() - t0;

		t0 = now_s();
		rb_dequantize_row(type, q, y, n);
		const double t_dq = now_s() - t0;

		double se = 0, emax = 0;
		for (int64_t i = 0; i < n; i++) {
			const double e = fabs((double)y[i] - x[i]);
			se += e * e;
			emax = fmax(emax, e);
		}

		double t_dot = NAN;
		if (t->vec_dot) {
			rb_quantize_row(t->vec_dot_type, act, qa, n);
			float s = 0;
			t0 = now_s();
			rb_vec_dot(type, n, &s, q, qa);
			t_dot = now_s() - t0;
			if (!isfinite(s))
				fprintf(stderr, "bench_quant: %s dot not finite\n", t->name);
		}
		const double bits = 8.0 * (double)t->type_size / t->block_size;
		printf("%-6s %6.3f %10.5f %10.4f %12.1f %12.1f %12.1f %12.1f  %08x\n", t->name, bits,
		       sqrt(se / (double)n) / std, emax / std, 1e-6 * (double)n / t_q,
		       1e-6 * (double)n / t_rows, 1e-6 * (double)n / t_dq,
		       1e-6 * (double)n / t_dot, hash_bytes(q, rb_row_size(type, n)));
	}
	free(x);
	free(y);
	free(act);
	free(q);
	free(qa);
	return 0;
}
