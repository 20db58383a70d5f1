/* SPDX-License-Identifier: MIT */
/* How much the npu backend changes a model's answers: runs one prompt
 * through the model with the backend lists [cpu], [npu, cpu] and optionally
 * [ref] (scalar, exact float weights: slow), then compares
 *   - the logits of every prompt position (max and RMS difference relative to
 *     the RMS of the other's logits, top-1 agreement, mean KL divergence of
 *     the softmax distributions, in nats),
 *   - greedy continuations (where they first differ).
 * For the board: run it on the real Qwen2.5 weights with real prompts.
 *
 * Usage: bench_npu_accuracy -m MODEL [-p TEXT | -f FILE] [-n N] [--ref] [--sim]
 *                           [--npu-fp16 | --npu-act16] [--min-tokens N] [-t THREADS] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/model.h"
#include "rosenblatt/npu_backend.h"
#include "rosenblatt/tokenizer.h"

typedef struct result {
	const char *name;
	float *logits;   /* T x V */
	int32_t *gen;    /* n greedy tokens */
} result;

typedef struct opts {
	const char *model, *text;
	int n_gen, threads;
	int64_t min_tokens;
	int ref, sim, fp16, act16;
} opts;

static const char default_text[] =
	"The history of astronomy is long. Ancient peoples watched the sky to keep time, to "
	"plant crops and to navigate the seas. Later, telescopes showed that the planets are "
	"worlds of their own, and that the Milky Way is made of countless stars. Today";

static int usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: bench_npu_accuracy -m MODEL [options]\n"
		"Compares the logits and greedy continuations of a prompt with the npu backend\n"
		"against the cpu backend (and the scalar ref backend with --ref).\n"
		"  -p TEXT          prompt (default: an English paragraph)\n"
		"  -f FILE          prompt from a file\n"
		"  -n N             greedy tokens after the prompt (default 16)\n"
		"  --ref            also the scalar reference backend (slow)\n"
		"  --sim            the NPU simulator (also NPU_DEVICE=sim)\n"
		"  --npu-fp16       fp16 weights on the NPU instead of int8\n"
		"  --npu-act16      int8 activations in two passes (value + residual)\n"
		"  --min-tokens N   npu backend threshold (default 32)\n"
		"  -t N             threads (default: performance cores)\n");
	return status;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int c;
	while ((c = fgetc(f)) != EOF) {
		if (n + 2 > cap) {
			cap = cap ? 2 * cap : 4096;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		buf[n++] = (char)c;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	return buf;
}

static int run(const opts *o, const rb_matmul_backend *const *list, int n_list,
	       rb_threadpool *tp, const rb_tokens *prompt, int64_t V, result *r)
{
	rb_err err = {0};
	rb_model *m = NULL;
	rb_session *s = NULL;
	rb_model_params mp = {.backends = list, .n_backends = n_list};
	if (rb_model_load(o->model, &mp, &m, &err) != RB_OK) {
		fprintf(stderr, "error: %s: %s\n", r->name, err.msg);
		return 1;
	}
	rb_session_params sp = rb_session_default_params();
	sp.n_ctx = (int64_t)prompt->n + o->n_gen + 1;
	sp.n_batch = (int64_t)prompt->n;
	sp.logits_all = true;
	sp.tp = tp;
	int status = 1;
	if (rb_session_create(m, &sp, &s, &err) != RB_OK ||
	    rb_session_eval(s, prompt->ids, (int64_t)prompt->n, &err) != RB_OK) {
		fprintf(stderr, "error: %s: %s\n", r->name, err.msg);
		goto out;
	}
	r->logits = malloc(prompt->n * (size_t)V * sizeof(float));
	r->gen = calloc((size_t)o->n_gen + 1, sizeof(int32_t));
	if (!r->logits || !r->gen)
		goto out;
	for (size_t t = 0; t < prompt->n; t++)
		memcpy(r->logits + t * (size_t)V, rb_session_logits(s, (int64_t)t), (size_t)V * sizeof(float));
	for (int i = 0; i < o->n_gen; i++) {
		const float *l = rb_session_logits(s, -1);
		int32_t best = 0;
		for (int64_t v = 1; v < V; v++)
			best = l[v] > l[best] ? (int32_t)v : best;
		r->gen[i] = best;
		if (rb_session_eval(s, &best, 1, &err) != RB_OK) {
			fprintf(stderr, "error: %s: %s\n", r->name, err.msg);
			goto out;
		}
	}
	status = 0;
out:
	rb_session_free(s);
	rb_model_free(m);
	return status;
}

/* log-softmax normalizer of a row */
static double log_sum_exp(const float *l, int64_t V)
{
	double mx = l[0], s = 0;
	for (int64_t v = 1; v < V; v++)
		mx = l[v] > mx ? l[v] : mx;
	for (int64_t v = 0; v < V; v++)
		s += exp((double)l[v] - mx);
	return mx + log(s);
}

static void compare(const result *a, const result *b, size_t T, int64_t V, int n_gen)
{
	double worst_max = 0, sum_rms = 0, sum_kl = 0;
	size_t top1 = 0;
	for (size_t t = 0; t < T; t++) {
		const float *x = a->logits + t * (size_t)V, *y = b->logits + t * (size_t)V;
		double ss = 0, se = 0, mx = 0;
		int64_t ax = 0, ay = 0;
		for (int64_t v = 0; v < V; v++) {
			const double d = (double)x[v] - y[v];
			ss += (double)y[v] * y[v];
			se += d * d;
			mx = fabs(d) > mx ? fabs(d) : mx;
			ax = x[v] > x[ax] ? v : ax;
			ay = y[v] > y[ay] ? v : ay;
		}
		const double rms = sqrt(ss / (double)V) + 1e-30;
		worst_max = fmax(worst_max, mx / rms);
		sum_rms += sqrt(se / (double)V) / rms;
		top1 += ax == ay;
		/* KL(p_b || p_a) */
		const double zx = log_sum_exp(x, V), zy = log_sum_exp(y, V);
		double kl = 0;
		for (int64_t v = 0; v < V; v++) {
			const double ly = (double)y[v] - zy, lx = (double)x[v] - zx;
			kl += exp(ly) * (ly - lx);
		}
		sum_kl += kl;
	}
	int same = 0;
	while (same < n_gen && a->gen[same] == b->gen[same])
		same++;
	printf("%-4s vs %-4s  %8.4f %12.4f %9.1f%% %12.6f %9d/%d\n", a->name, b->name, worst_max,
	       sum_rms / (double)T, 100.0 * (double)top1 / (double)T, sum_kl / (double)T, same,
	       n_gen);
}

static void print_gen(const result *r, const rb_tokenizer *tok, int n)
{
	printf("%-4s:", r->name);
	for (int i = 0; i < n; i++) {
		size_t len;
		const char *p = rb_tokenizer_piece(tok, r->gen[i], &len);
		printf(" %d'%.*s'", r->gen[i], (int)len, p ? p : "");
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	opts o = {.text = default_text, .n_gen = 16, .min_tokens = 32};
	char *file_text = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const int more = i + 1 < argc;
		if (!strcmp(a, "-m") && more) {
			o.model = argv[++i];
		} else if (!strcmp(a, "-p") && more) {
			o.text = argv[++i];
		} else if (!strcmp(a, "-f") && more) {
			if (!(file_text = read_file(argv[++i]))) {
				fprintf(stderr, "error: cannot read %s\n", argv[i]);
				return 2;
			}
			o.text = file_text;
		} else if (!strcmp(a, "-n") && more) {
			o.n_gen = atoi(argv[++i]);
		} else if (!strcmp(a, "-t") && more) {
			o.threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--min-tokens") && more) {
			o.min_tokens = atoll(argv[++i]);
		} else if (!strcmp(a, "--ref")) {
			o.ref = 1;
		} else if (!strcmp(a, "--sim")) {
			o.sim = 1;
		} else if (!strcmp(a, "--npu-fp16")) {
			o.fp16 = 1;
		} else if (!strcmp(a, "--npu-act16")) {
			o.act16 = 1;
		} else {
			return usage(strcmp(a, "-h") && strcmp(a, "--help") ? 2 : 0);
		}
	}
	if (!o.model || o.n_gen < 0 || o.min_tokens < 0)
		return usage(2);

	rb_err err = {0};
	rb_tokenizer *tok = NULL;
	if (rb_tokenizer_load(o.model, NULL, &tok, &err) != RB_OK) {
		fprintf(stderr, "error: %s: %s\n", o.model, err.msg);
		return 1;
	}
	rb_tokens prompt = {0};
	if (rb_tokenizer_encode(tok, o.text, strlen(o.text), RB_TOK_ADD_SPECIAL, &prompt, &err) ||
	    prompt.n == 0) {
		fprintf(stderr, "error: prompt: %s\n", prompt.n ? err.msg : "no tokens");
		return 1;
	}
	const int64_t V = rb_tokenizer_n_vocab(tok);
	rb_threadpool *tp = rb_threadpool_create(o.threads);
	rb_matmul_backend *cpu = rb_cpu_backend_create(tp, &err);
	rb_npu_backend_params np = rb_npu_backend_default_params();
	np.fallback = cpu;
	np.tp = tp;
	np.sim = o.sim;
	np.min_tokens = o.min_tokens;
	np.format = o.fp16 ? RB_NPU_WEIGHTS_FP16 : RB_NPU_WEIGHTS_INT8;
	np.act_residual = o.act16;
	rb_matmul_backend *npu = rb_npu_backend_create(&np, &err);
	if (!tp || !cpu || !npu) {
		fprintf(stderr, "error: %s\n", err.msg);
		return 1;
	}
	printf("model %s, %zu prompt tokens, %d greedy, npu: %s (%s)\n", o.model, prompt.n, o.n_gen,
	       rb_npu_backend_device_name(npu),
	       o.fp16 ? "fp16" : o.act16 ? "int8, activations in two passes" : "int8");
	result res[3] = {{.name = "cpu"}, {.name = "npu"}, {.name = "ref"}};
	const rb_matmul_backend *l_cpu[] = {cpu}, *l_npu[] = {npu, cpu};
	int status = run(&o, l_cpu, 1, tp, &prompt, V, &res[0]) ||
		     run(&o, l_npu, 2, tp, &prompt, V, &res[1]);
	rb_matmul_backend *ref = NULL;
	if (!status && o.ref) {
		ref = rb_ref_backend_create(tp, &err);
		const rb_matmul_backend *l_ref[] = {ref};
		status = run(&o, l_ref, 1, tp, &prompt, V, &res[2]);
	}
	if (!status) {
		rb_npu_backend_print_stats(npu, stdout);
		printf("\n%-12s  %8s %12s %10s %12s %12s\n", "logits", "max/rms", "mean rms/rms",
		       "top-1", "mean KL", "greedy same");
		compare(&res[1], &res[0], prompt.n, V, o.n_gen);
		if (o.ref) {
			compare(&res[1], &res[2], prompt.n, V, o.n_gen);
			compare(&res[0], &res[2], prompt.n, V, o.n_gen);
		}
		printf("\n");
		for (int i = 0; i < (o.ref ? 3 : 2); i++)
			print_gen(&res[i], tok, o.n_gen);
	}
	for (int i = 0; i < 3; i++) {
		free(res[i].logits);
		free(res[i].gen);
	}
	rb_npu_backend_destroy(npu);
	rb_cpu_backend_destroy(ref);
	rb_cpu_backend_destroy(cpu);
	rb_threadpool_destroy(tp);
	rb_tokens_free(&prompt);
	rb_tokenizer_free(tok);
	free(file_text);
	return status;
}
