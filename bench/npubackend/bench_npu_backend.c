/* SPDX-License-Identifier: MIT */
/* Numbers behind docs/npu-backend.md (prints, asserts nothing):
 *
 *  1. error: how far the int8 per-channel copy of a GGUF weight is from the
 *     GGUF weight, next to the GGUF format's own error, as relative RMS
 *     over rows of Gaussian weights (and with 1 % outliers at 8x);
 *  2. the backend's own CPU work in an NPU call for the Qwen2.5-1.5B
 *     shapes: quantizing activations (m x K) with this CPU's kernels into
 *     the NPU's input layout (the plan's A buffer), next
 *     to the cpu backend doing the whole matmul (Q4_K) and the cycle
 *     model's NPU time for the plan at 1 GHz and 200 MHz. libnpu's CPU side
 *     (packing A, unpacking C and scaling it to f32) is measured by
 *     `bench_npu_gemm --cpu`.
 *
 * Usage: bench_npu_backend [-t THREADS] [-r REPS] [-m M]... [--quick] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm_internal.h"
#include "npu/npu_gemm.h"
#include "npu_internal.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/quant.h"
#include "rosenblatt/rng.h"

static uint64_t rng = 12345;

static double uniform(void)
{
	return ((double)(rb_splitmix64(&rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static float gaussian(void)
{
	return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- 1. error ---------------------------------------------------------------- */

static void error_table(int quick)
{
	const enum rb_type types[] = {RB_TYPE_Q4_K, RB_TYPE_Q5_0, RB_TYPE_Q6_K, RB_TYPE_Q8_0,
				      RB_TYPE_F16};
	const int64_t K = 1536, rows = quick ? 32 : 256;
	float *w = malloc(K * sizeof(float)), *g = malloc(K * sizeof(float));
	int8_t *q = malloc(K);
	void *blk = malloc(rb_row_size(RB_TYPE_F32, K));
	const npu_act_kernels *k = npu_act_best();
	printf("1. weight error, relative RMS over %lld rows of %lld (Gaussian; outliers: 1 %% at 8x)\n",
	       (long long)rows, (long long)K);
	printf("%-6s %-9s %12s %14s %12s\n", "type", "rows", "GGUF vs f32", "int8 vs GGUF",
	       "int8 vs f32");
	for (int outl = 0; outl < 2; outl++)
		for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
			double e_g = 0, e_i = 0, e_t = 0, ss = 0;
			for (int64_t r = 0; r < rows; r++) {
				for (int64_t i = 0; i < K; i++)
					w[i] = gaussian() * (outl && uniform() < 0.01 ? 8.0f : 1.0f);
				rb_quantize_row(types[ti], w, blk, K);
				rb_dequantize_row(types[ti], blk, g, K);
				const float d = npu_q_scale(k->absmax(g, K));
				k->quantize(g, K, npu_q_inv(d), q, NPU_Q_ATOM);
				for (int64_t i = 0; i < K; i++) {
					const double v = (double)q[i] * d;
					e_g += ((double)g[i] - w[i]) * ((double)g[i] - w[i]);
					e_i += (v - g[i]) * (v - g[i]);
					e_t += (v - w[i]) * (v - w[i]);
					ss += (double)w[i] * w[i];
				}
			}
			printf("%-6s %-9s %11.3f%% %13.3f%% %11.3f%%\n", rb_type_name(types[ti]),
			       outl ? "outliers" : "gaussian", 100 * sqrt(e_g / ss), 100 * sqrt(e_i / ss),
			       100 * sqrt(e_t / ss));
		}
	free(w);
	free(g);
	free(q);
	free(blk);
}

/* ---- 2. CPU side ---------------------------------------------------------------- */

typedef struct side_job {
	const npu_act_kernels *k;
	const npu_gemm_plan *p; /* the call's plan: where each row of A goes */
	const float *x;
	void *a;                /* A buffer of the plan's context 0 */
	float *sx;
	int64_t m, K;
} side_job;

static void side_task(void *arg, int ith, int nth)
{
	const side_job *j = arg;
	long t0, t1;
	rb_split_range((long)j->m, ith, nth, &t0, &t1);
	for (long t = t0; t < t1; t++) {
		const float d = npu_q_scale(j->k->absmax(j->x + t * j->K, j->K));
		j->sx[t] = d;
		/* into the NPU's input layout, as the backend does */
		uint8_t *atom;
		size_t stride;
		gemm_a_row(j->p, j->a, (uint32_t)t, &atom, &stride);
		j->k->quantize(j->x + t * j->K, j->K, npu_q_inv(d), (int8_t *)atom, stride);
	}
}

static double best_of(int reps, rb_threadpool *tp, side_job *j)
{
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		const double t = now();
		rb_threadpool_run(tp, side_task, j);
		best = fmin(best, now() - t);
	}
	return best;
}

static void side_table(rb_threadpool *tp, const int64_t *ms, int nm, int reps)
{
	static const struct { const char *name; int64_t K, N; } shapes[] = {
		{"attn q/o", 1536, 1536}, {"attn k/v", 1536, 256},
		{"ffn gate/up", 1536, 8960}, {"ffn down", 8960, 1536},
	};
	rb_err err = {0};
	rb_matmul_backend *cpu = rb_cpu_backend_create(tp, &err);
	const npu_act_kernels *k = npu_act_best();
	printf("\n2. CPU side of an NPU call (%s kernels, %d threads, best of %d), us\n", k->name,
	       rb_threadpool_size(tp), reps);
	printf("%-12s %5s %5s %4s %10s %12s %12s %12s\n", "shape", "K", "N", "M", "quantize",
	       "cpu matmul", "npu @1GHz", "npu @200MHz");
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		const int64_t K = shapes[s].K, N = shapes[s].N;
		/* a Q4_K weight for the cpu backend */
		const size_t row = rb_row_size(RB_TYPE_Q4_K, K);
		void *wd = malloc(row * (size_t)N);
		float *tmp = malloc((size_t)K * sizeof(float));
		for (int64_t o = 0; o < N; o++) {
			for (int64_t i = 0; i < K; i++)
				tmp[i] = gaussian() * 0.02f;
			rb_quantize_row(RB_TYPE_Q4_K, tmp, (uint8_t *)wd + (size_t)o * row, K);
		}
		rb_weight w = {.name = shapes[s].name, .type = RB_TYPE_Q4_K, .n_in = K, .n_out = N,
			       .data = wd};
		if (rb_weight_bind(&w, cpu, &err) != RB_OK) {
			fprintf(stderr, "bind: %s\n", err.msg);
			exit(1);
		}
		for (int mi = 0; mi < nm; mi++) {
			const int64_t m = ms[mi];
			float *x = malloc((size_t)(m * K) * sizeof(float));
			float *y = malloc((size_t)(m * N) * sizeof(float));
			npu_gemm_plan *plan;
			if (npu_gemm_plan_create(NPU_GEMM_I8_I32, (uint32_t)m, (uint32_t)K, (uint32_t)N,
						 NULL, &plan, &err)) {
				fprintf(stderr, "plan: %s\n", err.msg);
				exit(1);
			}
			void *a = calloc(1, plan->core[0].a_bytes);
			float *sx = malloc((size_t)m * sizeof(float));
			for (int64_t i = 0; i < m * K; i++)
				x[i] = gaussian();
			side_job j = {.k = k, .p = plan, .x = x, .a = a, .sx = sx, .m = m, .K = K};
			const double tq = best_of(reps, tp, &j);
			npu_gemm_plan_destroy(plan);
			double tc = 1e30;
			for (int r = 0; r < reps; r++) {
				const double t = now();
				rb_matmul(&w, m, x, K, y, N, &err);
				tc = fmin(tc, now() - t);
			}
			double npu[2];
			const double clocks[2] = {1e9, 200e6};
			for (int c = 0; c < 2; c++) {
				npu_sim_config cfg;
				npu_sim_config_default(&cfg);
				cfg.clock_hz = clocks[c];
				cfg.task_overhead_cycles = (uint32_t)(20e-6 * clocks[c]); /* 20 us */
				npu_gemm_plan_opts po = {.cores = 3, .cost = &cfg};
				npu_gemm_plan *p;
				npu_gemm_plan_summary su;
				npu_gemm_plan_create(NPU_GEMM_I8_I32, (uint32_t)m, (uint32_t)K, (uint32_t)N,
						     &po, &p, &err);
				npu_gemm_plan_get_summary(p, &su);
				npu[c] = su.seconds;
				npu_gemm_plan_destroy(p);
			}
			printf("%-12s %5lld %5lld %4lld %10.1f %12.1f %12.1f %12.1f\n",
			       shapes[s].name, (long long)K, (long long)N, (long long)m, tq * 1e6,
			       tc * 1e6, npu[0] * 1e6, npu[1] * 1e6);
			free(x);
			free(y);
			free(a);
			free(sx);
		}
		rb_weight_unbind(&w);
		free(wd);
		free(tmp);
	}
	rb_cpu_backend_destroy(cpu);
}

int main(int argc, char **argv)
{
	int threads = 0, reps = 5, quick = 0, nm = 0;
	int64_t ms[8];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			threads = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-m") && i + 1 < argc && nm < 8) {
			ms[nm++] = atoll(argv[++i]);
		} else if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else {
			printf("usage: bench_npu_backend [-t THREADS] [-r REPS] [-m M]... [--quick]\n"
			       "Prints the int8 copy's weight error next to the GGUF types' own, and\n"
			       "the backend's CPU work in NPU calls (quantize) for the Qwen2.5-1.5B\n"
			       "shapes next to the cpu backend's matmul and the NPU cycle model\n"
			       "(libnpu's pack and unpack: bench_npu_gemm --cpu).\n");
			return strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (nm == 0) {
		ms[nm++] = 64;
		ms[nm++] = 512;
	}
	error_table(quick);
	rb_threadpool *tp = rb_threadpool_create(threads);
	side_table(tp, ms, nm, reps < 1 ? 1 : reps);
	rb_threadpool_destroy(tp);
	return 0;
}
