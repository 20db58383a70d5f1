/* SPDX-License-Identifier: MIT */
/* Common options and model loading for the `rosenblatt` subcommands. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rosenblatt/cpu.h"
#include "rosenblatt/cpu_backend.h"
#include "rosenblatt/npu_backend.h"

void cli_opts_init(struct cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->n_predict = -1;
	o->n_threads = 0;
	o->n_batch = 512;
	o->backend = "cpu";
	o->npu_min_tokens = -1;
	o->kv_type = RB_TYPE_F16;
	o->sampling = rb_sampler_default_params();
	o->display_prompt = true;
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	fprintf(stderr, "rosenblatt %s: ", cmd);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'rosenblatt %s --help'.\n", cmd);
	return EXIT_USAGE;
}

const char *cli_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "rosenblatt: option %s needs a value\n", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

bool cli_parse_i64(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	const long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "rosenblatt: %s: '%s' is not an integer in [%" PRId64 ", %" PRId64 "]\n",
			opt, s, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool parse_float(const char *opt, const char *s, double min, double max, float *out)
{
	char *end;
	errno = 0;
	const double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "rosenblatt: %s: '%s' is not a number in [%g, %g]\n", opt, s, min, max);
		return false;
	}
	*out = (float)v;
	return true;
}

static bool is(const char *a, const char *s1, const char *s2)
{
	return strcmp(a, s1) == 0 || (s2 && strcmp(a, s2) == 0);
}

int cli_parse_common(struct cli_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const char *v;
	int64_t n;
	rb_sampler_params *sp = &o->sampling;
#define VALUE() do { if (!(v = cli_value(argc, argv, i))) return -1; } while (0)
	if (is(a, "-m", "--model")) {
		VALUE();
		o->model = v;
	} else if (is(a, "-t", "--threads")) {
		VALUE();
		if (!cli_parse_i64(a, v, 1, 512, &n))
			return -1;
		o->n_threads = (int)n;
	} else if (is(a, "-c", "--ctx-size")) {
		VALUE();
		if (!cli_parse_i64(a, v, 0, INT32_MAX, &o->n_ctx))
			return -1;
	} else if (is(a, "-b", "--batch-size")) {
		VALUE();
		if (!cli_parse_i64(a, v, 1, 65536, &o->n_batch))
			return -1;
	} else if (is(a, "--backend", NULL)) {
		VALUE();
		if (strcmp(v, "cpu") && strcmp(v, "ref") && strcmp(v, "npu")) {
			fprintf(stderr, "rosenblatt: --backend: '%s' is not one of: cpu, ref, npu\n", v);
			return -1;
		}
		o->backend = v;
	} else if (is(a, "--npu-min-tokens", NULL)) {
		VALUE();
		if (!cli_parse_i64(a, v, 0, INT32_MAX, &o->npu_min_tokens))
			return -1;
	} else if (is(a, "--npu-sim", NULL)) {
		o->npu_sim = true;
		o->backend = "npu";
	} else if (is(a, "--npu-fp16", NULL)) {
		o->npu_fp16 = true;
	} else if (is(a, "--npu-act16", NULL)) {
		o->npu_act16 = true;
	} else if (is(a, "--kv-type", NULL)) {
		VALUE();
		if (strcmp(v, "f16") == 0) {
			o->kv_type = RB_TYPE_F16;
		} else if (strcmp(v, "f32") == 0) {
			o->kv_type = RB_TYPE_F32;
		} else {
			fprintf(stderr, "rosenblatt: --kv-type: '%s' is not one of: f16, f32\n", v);
			return -1;
		}
	} else if (is(a, "--temp", NULL)) {
		VALUE();
		return parse_float(a, v, 0, 1e6, &sp->temp) ? 1 : -1;
	} else if (is(a, "--top-k", NULL)) {
		VALUE();
		if (!cli_parse_i64(a, v, 0, INT32_MAX, &n))
			return -1;
		sp->top_k = (int32_t)n;
	} else if (is(a, "--top-p", NULL)) {
		VALUE();
		return parse_float(a, v, 0, 1, &sp->top_p) ? 1 : -1;
	} else if (is(a, "--min-p", NULL)) {
		VALUE();
		return parse_float(a, v, 0, 1, &sp->min_p) ? 1 : -1;
	} else if (is(a, "--repeat-penalty", NULL)) {
		VALUE();
		return parse_float(a, v, 1e-3, 1e3, &sp->repeat_penalty) ? 1 : -1;
	} else if (is(a, "--repeat-last-n", NULL)) {
		VALUE();
		if (!cli_parse_i64(a, v, 0, 1 << 20, &n))
			return -1;
		sp->repeat_last_n = (int32_t)n;
	} else if (is(a, "-s", "--seed")) {
		VALUE();
		char *end;
		errno = 0;
		const unsigned long long s = strtoull(v, &end, 0);
		if (errno || end == v || *end || v[0] == '-') {
			fprintf(stderr, "rosenblatt: %s: '%s' is not an unsigned integer\n", a, v);
			return -1;
		}
		sp->seed = s;
		o->seed_given = true;
	} else if (is(a, "-v", "--verbose")) {
		o->verbose = true;
	} else {
		return 0;
	}
#undef VALUE
	return 1;
}

void cli_print_common_help(FILE *f, bool sampling)
{
	fprintf(f,
		"  -m, --model FILE        GGUF model (llama or qwen2 architecture)\n"
		"  -t, --threads N         threads (default: the performance cores, %d here)\n"
		"  -c, --ctx-size N        context length cap (default: the model's)\n"
		"  -b, --batch-size N      most tokens per forward step (default 512)\n"
		"      --backend NAME      matmul backend: cpu (SIMD, default), ref (scalar) or npu\n"
		"                          (RK3588 NPU for batches, cpu for the rest; stats at exit)\n"
		"      --npu-min-tokens N  npu: batches of fewer tokens run on the cpu (default 32)\n"
		"      --npu-sim           npu: the in-process NPU simulator (implies --backend npu)\n"
		"      --npu-fp16          npu: fp16 weights and activations instead of int8\n"
		"      --npu-act16         npu: int8 activations in two passes (value, residual):\n"
		"                          ~16-bit activations for twice the NPU work\n"
		"      --kv-type TYPE      KV cache type: f16 (default) or f32\n"
		"  -v, --verbose           print which backend owns each weight\n",
		rb_default_threads());
	if (sampling)
		fprintf(f,
			"Sampling (applied in this order):\n"
			"      --repeat-penalty X  penalty on tokens of the last --repeat-last-n (1 = off)\n"
			"      --repeat-last-n N   window of the penalty (default 64)\n"
			"      --top-k N           keep the N most likely tokens (0 = off, default 40)\n"
			"      --top-p X           keep the smallest set with mass >= X (1 = off, default 0.95)\n"
			"      --min-p X           keep tokens with p >= X * p_max (0 = off, default 0.05)\n"
			"      --temp X            temperature (0 = greedy, default 0.8)\n"
			"  -s, --seed N            random seed (default: from the clock, printed)\n");
}

/* ---- loading --------------------------------------------------------------- */

struct progress_state {
	bool tty;
	int last;
	double t0;
};

static void load_progress(void *user, uint64_t done, uint64_t total)
{
	struct progress_state *p = user;
	if (total < (64u << 20) || total == 0)
		return; /* small files load in a blink */
	const int pct = (int)(done * 100 / total);
	if (p->tty) {
		if (pct != p->last)
			fprintf(stderr, "\rloading model: %3d%%", pct);
		if (done >= total)
			fputc('\n', stderr);
	} else if (pct / 25 != p->last / 25 || p->last < 0) {
		fprintf(stderr, "loading model: %d%%\n", pct);
	}
	p->last = pct;
}

int cli_load(const struct cli_opts *o, struct cli_runtime *rt)
{
	memset(rt, 0, sizeof(*rt));
	rb_err err = {0};
	const double t0 = cli_now();
	const int nt = o->n_threads > 0 ? o->n_threads : rb_default_threads();
	rt->tp = rb_threadpool_create(nt);
	if (!rt->tp) {
		fprintf(stderr, "error: cannot start %d threads\n", nt);
		return EXIT_RUNTIME;
	}
	rt->backend = strcmp(o->backend, "ref") == 0 ? rb_ref_backend_create(rt->tp, &err)
						      : rb_cpu_backend_create(rt->tp, &err);
	if (!rt->backend) {
		fprintf(stderr, "error: backend %s: %s\n", o->backend, err.msg);
		cli_unload(rt);
		return EXIT_RUNTIME;
	}
	if (strcmp(o->backend, "npu") == 0) {
		rb_npu_backend_params np = rb_npu_backend_default_params();
		np.fallback = rt->backend;
		np.tp = rt->tp;
		np.sim = o->npu_sim;
		np.format = o->npu_fp16 ? RB_NPU_WEIGHTS_FP16 : RB_NPU_WEIGHTS_INT8;
		np.act_residual = o->npu_act16;
		if (o->npu_min_tokens >= 0)
			np.min_tokens = o->npu_min_tokens;
		if (!(rt->npu = rb_npu_backend_create(&np, &err))) {
			fprintf(stderr, "error: backend npu: %s\n", err.msg);
			cli_unload(rt);
			return EXIT_RUNTIME;
		}
	}
	struct progress_state ps = {.tty = isatty(2), .last = -1, .t0 = t0};
	const rb_matmul_backend *list[] = {rt->npu ? rt->npu : rt->backend, rt->backend};
	rb_model_params mp = {
		.backends = list,
		.n_backends = rt->npu ? 2 : 1,
		.progress = load_progress,
		.progress_user = &ps,
	};
	if (rb_model_load(o->model, &mp, &rt->model, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		cli_unload(rt);
		return EXIT_RUNTIME;
	}
	if (rb_tokenizer_from_gguf(rb_model_get_gguf(rt->model), NULL, &rt->tok, &err) != RB_OK) {
		fprintf(stderr, "error: %s: tokenizer: %s\n", o->model, err.msg);
		cli_unload(rt);
		return EXIT_RUNTIME;
	}
	if (rb_tokenizer_warning(rt->tok))
		fprintf(stderr, "warning: %s\n", rb_tokenizer_warning(rt->tok));
	if (rb_tokenizer_n_vocab(rt->tok) != rb_model_get_hparams(rt->model)->n_vocab)
		fprintf(stderr, "warning: tokenizer has %d tokens, the model %lld\n",
			(int)rb_tokenizer_n_vocab(rt->tok),
			(long long)rb_model_get_hparams(rt->model)->n_vocab);
	rt->load_seconds = cli_now() - t0;
	if (o->verbose) {
		const rb_model_hparams *hp = rb_model_get_hparams(rt->model);
		fprintf(stderr,
			"model: %s, %lld layers, embd %lld, ffn %lld, heads %lld/%lld, vocab %lld, "
			"ctx %lld, rope base %g\ncpu: %s, %d threads\n",
			rb_arch_name(hp->arch), (long long)hp->n_layer, (long long)hp->n_embd,
			(long long)hp->n_ff, (long long)hp->n_head, (long long)hp->n_head_kv,
			(long long)hp->n_vocab, (long long)hp->n_ctx_train, (double)hp->rope_base,
			rb_cpu_describe(), nt);
		for (int64_t i = 0; i < rb_model_n_weights(rt->model); i++) {
			const rb_weight *w = rb_model_weight(rt->model, i);
			fprintf(stderr, "  %-28s %-5s [%6lld x %6lld] -> %s (%s)\n", w->name,
				rb_type_name(w->type), (long long)w->n_out, (long long)w->n_in,
				w->backend->name,
				strcmp(w->backend->name, "ref") ? rb_cpu_kernel_name(w->type)
								: "scalar");
		}
	}
	return EXIT_OK;
}

void cli_unload(struct cli_runtime *rt)
{
	if (rt->npu && rt->model)
		rb_npu_backend_print_stats(rt->npu, stderr);
	rb_tokenizer_free(rt->tok);
	rb_model_free(rt->model); /* releases the weights the backends hold */
	rb_npu_backend_destroy(rt->npu);
	rb_cpu_backend_destroy(rt->backend);
	rb_threadpool_destroy(rt->tp);
	memset(rt, 0, sizeof(*rt));
}

rb_session *cli_new_session(const struct cli_opts *o, struct cli_runtime *rt, int64_t n_ctx,
			    bool logits_all)
{
	rb_session_params sp = rb_session_default_params();
	sp.n_ctx = n_ctx;
	sp.kv_type = o->kv_type;
	sp.n_batch = o->n_batch;
	sp.logits_all = logits_all;
	sp.tp = rt->tp;
	rb_session *s;
	rb_err err = {0};
	if (rb_session_create(rt->model, &sp, &s, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		return NULL;
	}
	return s;
}
