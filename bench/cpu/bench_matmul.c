/* SPDX-License-Identifier: MIT */
/* Matmul micro-benchmark of the CPU backends on the Qwen2.5-1.5B shapes.
 *
 *   bench_matmul [--threads N] [--types q4_K,q6_K,q8_0] [--shapes KxN,...]
 *                [--m 1,64,256] [--min-time S] [--backend cpu|ref] [--json]
 *
 * For each (type, K x N, M) it binds a weight of random blocks (values do not
 * change the speed; scales are kept finite), runs y = W x once to warm up and
 * then repeatedly for at least --min-time seconds, and prints the best and
 * mean time per call, GFLOP/s (2 M N K / t) and, for M = 1, the weight bytes
 * streamed per second (GGUF size of W / t). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rosenblatt/cpu.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/fp16.h"
#include "rosenblatt/types.h"

#define MAX_LIST 16

typedef struct opts {
	int threads;
	enum rb_type types[MAX_LIST];
	int n_types;
	long long shapes[MAX_LIST][2]; /* K, N */
	int n_shapes;
	long long ms[MAX_LIST];
	int n_ms;
	double min_time;
	int json;
	int ref;
	int cpu_time; /* time calls by the process CPU time (for a loaded machine) */
} opts;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_matmul [options]\n"
		"  --threads N       threads incl. the caller (default: performance cores)\n"
		"  --types LIST      weight types, comma separated (default q4_K,q6_K,q8_0)\n"
		"  --shapes LIST     KxN shapes, K = n_in (default: the Qwen2.5-1.5B matmuls\n"
		"                    1536x1536,1536x256,1536x8960,8960x1536,1536x151936)\n"
		"  --m LIST          tokens per call (default 1,64,256)\n"
		"  --min-time S      seconds of timed calls per case (default 0.5)\n"
		"  --backend B       cpu (default) or ref\n"
		"  --cpu-time        time each call by process CPU time instead of wall time\n"
		"                    (robust on a loaded machine with --threads 1; with more\n"
		"                    threads it counts the spinning of idle workers too)\n"
		"  --json            one JSON object per case instead of the table\n");
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static int parse_type(const char *s, enum rb_type *t)
{
	for (int id = 0; id < RB_TYPE_COUNT; id++)
		if (rb_type_is_valid((uint32_t)id) && strcasecmp(rb_type_name((enum rb_type)id), s) == 0) {
			*t = (enum rb_type)id;
			return 0;
		}
	return -1;
}

/* Split a comma list in place; returns the count or -1 when too long. */
static int split(char *s, char **out)
{
	int n = 0;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (n == MAX_LIST)
			return -1;
		out[n++] = tok;
	}
	return n;
}

static int parse_args(int argc, char **argv, opts *o)
{
	char *items[MAX_LIST];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--json")) {
			o->json = 1;
			continue;
		} else if (!strcmp(a, "--cpu-time")) {
			o->cpu_time = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "bench_matmul: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
			o->threads = atoi(v);
			if (o->threads < 1) {
				fprintf(stderr, "bench_matmul: bad --threads '%s'\n", v);
				return -1;
			}
		} else if (!strcmp(a, "--min-time")) {
			o->min_time = atof(v);
		} else if (!strcmp(a, "--backend")) {
			if (strcmp(v, "cpu") && strcmp(v, "ref")) {
				fprintf(stderr, "bench_matmul: --backend is cpu or ref, not '%s'\n", v);
				return -1;
			}
			o->ref = !strcmp(v, "ref");
		} else if (!strcmp(a, "--types")) {
			const int n = split(v, items);
			o->n_types = n < 0 ? 0 : n;
			for (int k = 0; k < o->n_types; k++)
				if (parse_type(items[k], &o->types[k])) {
					fprintf(stderr, "bench_matmul: unknown type '%s'\n", items[k]);
					return -1;
				}
		} else if (!strcmp(a, "--shapes")) {
			const int n = split(v, items);
			o->n_shapes = n < 0 ? 0 : n;
			for (int k = 0; k < o->n_shapes; k++)
				if (sscanf(items[k], "%lldx%lld", &o->shapes[k][0], &o->shapes[k][1]) != 2 ||
				    o->shapes[k][0] <= 0 || o->shapes[k][1] <= 0) {
					fprintf(stderr, "bench_matmul: bad shape '%s' (want KxN)\n", items[k]);
					return -1;
				}
		} else if (!strcmp(a, "--m")) {
			const int n = split(v, items);
			o->n_ms = n < 0 ? 0 : n;
			for (int k = 0; k < o->n_ms; k++)
				if ((o->ms[k] = atoll(items[k])) <= 0) {
					fprintf(stderr, "bench_matmul: bad M '%s'\n", items[k]);
					return -1;
				}
		} else {
			fprintf(stderr, "bench_matmul: unknown option '%s' (see --help)\n", a);
			return -1;
		}
	}
	return 0;
}

/* Random blocks with a finite, small f16 scale wherever the type has one. */
static void fill_weight(enum rb_type type, uint8_t *p, size_t bytes, int64_t n_blocks)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < bytes; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		p[i] = (uint8_t)s;
	}
	const size_t bs = rb_type_size(type);
	const rb_f16 d = rb_f32_to_f16(0.01f);
	for (int64_t b = 0; b < n_blocks; b++) {
		uint8_t *blk = p + (size_t)b * bs;
		switch (type) {
		case RB_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break; /* d is last */
		case RB_TYPE_Q4_K:
		case RB_TYPE_Q5_K: memcpy(blk, &d, 2), memcpy(blk + 2, &d, 2); break;
		case RB_TYPE_Q4_1:
		case RB_TYPE_Q5_1: memcpy(blk, &d, 2), memcpy(blk + 2, &d, 2); break;
		case RB_TYPE_Q4_0:
		case RB_TYPE_Q5_0:
		case RB_TYPE_Q8_0: memcpy(blk, &d, 2); break;
		case RB_TYPE_F16: memcpy(blk, &d, 2); break;
		case RB_TYPE_F32: { const float f = 0.01f; memcpy(blk, &f, 4); } break;
		default: break;
		}
	}
}

static int run_case(const opts *o, rb_matmul_backend *be, enum rb_type type, int64_t K, int64_t N,
		    const long long *ms, int n_ms)
{
	const size_t row = rb_row_size(type, K);
	if (!row) {
		fprintf(stderr, "bench_matmul: K = %lld is not a multiple of the %s block\n",
			(long long)K, rb_type_name(type));
		return -1;
	}
	const size_t wbytes = row * (size_t)N;
	uint8_t *wd = malloc(wbytes);
	long long mmax = 1;
	for (int i = 0; i < n_ms; i++)
		mmax = ms[i] > mmax ? ms[i] : mmax;
	float *x = malloc(sizeof(float) * (size_t)(K * mmax));
	float *y = malloc(sizeof(float) * (size_t)(N * mmax));
	if (!wd || !x || !y) {
		fprintf(stderr, "bench_matmul: out of memory for %s %lldx%lld\n", rb_type_name(type),
			(long long)K, (long long)N);
		free(wd), free(x), free(y);
		return -1;
	}
	fill_weight(type, wd, wbytes, (int64_t)(wbytes / rb_type_size(type)));
	for (int64_t i = 0; i < K * mmax; i++)
		x[i] = (float)((i * 7919) % 2001 - 1000) * 1e-3f;

	rb_weight w = {.name = "bench", .type = type, .n_in = K, .n_out = N, .data = wd};
	rb_err err = {0};
	const double tb = now();
	if (rb_weight_bind(&w, be, &err) != RB_OK) {
		fprintf(stderr, "bench_matmul: %s\n", err.msg);
		free(wd), free(x), free(y);
		return -1;
	}
	const double bind_s = now() - tb;
	for (int mi = 0; mi < n_ms; mi++) {
		const int64_t M = ms[mi];
		if (rb_matmul(&w, M, x, K, y, N, &err) != RB_OK) { /* warm-up */
			fprintf(stderr, "bench_matmul: %s\n", err.msg);
			break;
		}
		double best = 1e30, total = 0;
		int reps = 0;
		const double t_end = now() + o->min_time;
		const clockid_t clk = o->cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
		do {
			const double t0 = clock_s(clk);
			rb_matmul(&w, M, x, K, y, N, &err);
			const double dt = clock_s(clk) - t0;
			best = dt < best ? dt : best;
			total += dt;
			reps++;
		} while (now() < t_end || reps < 3);
		const double flops = 2.0 * (double)M * (double)N * (double)K;
		const double gflops = flops / best * 1e-9, gbs = (double)wbytes / best * 1e-9;
		const char *kern = o->ref ? "ref" : rb_cpu_kernel_name(type);
		if (o->json)
			printf("{\"type\":\"%s\",\"K\":%lld,\"N\":%lld,\"M\":%lld,\"threads\":%d,"
			       "\"kernel\":\"%s\",\"reps\":%d,\"best_us\":%.1f,\"mean_us\":%.1f,"
			       "\"gflops\":%.2f,\"weight_gbs\":%.2f,\"bind_ms\":%.1f}\n",
			       rb_type_name(type), (long long)K, (long long)N, (long long)M, o->threads,
			       kern, reps, best * 1e6, total / reps * 1e6, gflops, gbs, bind_s * 1e3);
		else
			printf("%-5s %6lld x %-6lld M %4lld  %-11s %10.1f %10.1f  %8.2f  %7.2f\n",
			       rb_type_name(type), (long long)K, (long long)N, (long long)M, kern,
			       best * 1e6, total / reps * 1e6, gflops, gbs);
		fflush(stdout);
	}
	rb_weight_unbind(&w);
	free(wd), free(x), free(y);
	return 0;
}

int main(int argc, char **argv)
{
	opts o = {.threads = rb_default_threads(), .min_time = 0.5};
	o.types[0] = RB_TYPE_Q4_K, o.types[1] = RB_TYPE_Q6_K, o.types[2] = RB_TYPE_Q8_0;
	o.n_types = 3;
	const long long shapes[5][2] = {{1536, 1536}, {1536, 256}, {1536, 8960}, {8960, 1536},
					{1536, 151936}};
	memcpy(o.shapes, shapes, sizeof(shapes));
	o.n_shapes = 5;
	o.ms[0] = 1, o.ms[1] = 64, o.ms[2] = 256;
	o.n_ms = 3;
	if (parse_args(argc, argv, &o))
		return 2;

	rb_threadpool *tp = o.threads > 1 ? rb_threadpool_create(o.threads) : NULL;
	if (o.threads > 1 && !tp) {
		fprintf(stderr, "bench_matmul: cannot start %d threads\n", o.threads);
		return 1;
	}
	rb_err err = {0};
	rb_matmul_backend *be = o.ref ? rb_ref_backend_create(tp, &err) : rb_cpu_backend_create(tp, &err);
	if (!be) {
		fprintf(stderr, "bench_matmul: %s\n", err.msg);
		return 1;
	}
	if (!o.json)
		printf("# %s, %d thread(s), backend %s, %s time\n"
		       "# type      K x N      M     kernel        best_us    mean_us   GFLOP/s"
		       "  weight_GB/s\n",
		       rb_cpu_describe(), o.threads, be->name, o.cpu_time ? "cpu" : "wall");
	int rc = 0;
	for (int ti = 0; ti < o.n_types; ti++)
		for (int si = 0; si < o.n_shapes; si++)
			if (run_case(&o, be, o.types[ti], o.shapes[si][0], o.shapes[si][1], o.ms, o.n_ms))
				rc = 1;
	rb_cpu_backend_destroy(be);
	rb_threadpool_destroy(tp);
	return rc;
}
