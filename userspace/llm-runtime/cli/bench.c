/* SPDX-License-Identifier: MIT */
/* `rosenblatt bench`: prompt processing (ppN: N random tokens in one eval)
 * and token generation (tgN: N single-token evals) speed from an empty
 * context, mean +- standard deviation over repetitions, printed as a
 * llama-bench-style table or JSON. The same tests as llama.cpp's llama-bench
 * (-p/-n/-r mean the same), so the two tables compare line by line. */
#include "cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TESTS 32

struct bench_opts {
	int64_t pp[MAX_TESTS], tg[MAX_TESTS];
	int n_pp, n_tg;
	int64_t reps;
	bool json;
	bool warmup;
};

struct result {
	const char *kind; /* "pp" or "tg" */
	int64_t n;
	double *ts;       /* tokens/s of each repetition */
	double *ns;       /* nanoseconds of each repetition */
	double mean, sd;
};

static void bench_help(void)
{
	printf("Usage: rosenblatt bench -m MODEL [options]\n"
	       "Measure prompt processing (ppN: N tokens in one batched eval) and token\n"
	       "generation (tgN: N tokens one at a time), both from an empty context, as\n"
	       "tokens per second: mean +- standard deviation over the repetitions.\n\n"
	       "  -p, --n-prompt N[,N...] prompt sizes (default 512; 0 = none)\n"
	       "  -n, --n-gen N[,N...]    generation lengths (default 128; 0 = none)\n"
	       "  -r, --repetitions N     repetitions of each test (default 5)\n"
	       "      --json              JSON array instead of the table\n"
	       "      --no-warmup         skip the warm-up run before each test\n");
	cli_print_common_help(stdout, false);
}

/* "64,256" -> list; each in [0, 1 << 20]. */
static bool parse_list(const char *opt, const char *s, int64_t *out, int *n)
{
	*n = 0;
	const char *p = s;
	for (;;) {
		char buf[32];
		const size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(buf) || *n == MAX_TESTS) {
			fprintf(stderr, "rosenblatt: %s: bad list '%s' (up to %d comma-separated "
				"integers)\n", opt, s, MAX_TESTS);
			return false;
		}
		memcpy(buf, p, len);
		buf[len] = 0;
		if (!cli_parse_i64(opt, buf, 0, 1 << 20, &out[*n]))
			return false;
		if (out[*n] > 0)
			(*n)++;
		if (!p[len])
			return true;
		p += len + 1;
	}
}

/* llama.cpp's file type numbers (enum llama_ftype in llama.h) and the names
 * llama-bench prints for them. */
static const char *ftype_name(const rb_gguf *g)
{
	uint32_t ft;
	rb_err err;
	if (rb_gguf_get_u32(g, "general.file_type", &ft, &err) != RB_OK)
		return "?";
	switch (ft) {
	case 0: return "all F32";
	case 1: return "F16";
	case 2: return "Q4_0";
	case 3: return "Q4_1";
	case 7: return "Q8_0";
	case 8: return "Q5_0";
	case 9: return "Q5_1";
	case 10: return "Q2_K - Medium";
	case 11: return "Q3_K - Small";
	case 12: return "Q3_K - Medium";
	case 13: return "Q3_K - Large";
	case 14: return "Q4_K - Small";
	case 15: return "Q4_K - Medium";
	case 16: return "Q5_K - Small";
	case 17: return "Q5_K - Medium";
	case 18: return "Q6_K";
	case 32: return "BF16";
	default: return "?";
	}
}

/* Engineering-style count: 1.54 B, 292.6 K... */
static void fmt_count(char *buf, size_t n, double v, const char *const units[4])
{
	int u = 0;
	while (u < 3 && v >= 1000.0) {
		v /= 1000.0;
		u++;
	}
	snprintf(buf, n, "%.2f %s", v, units[u]);
}

/* "qwen2 1.5B Q4_K - Medium", like llama-bench's model column. */
static void model_label(const rb_model *m, char *buf, size_t n)
{
	const double p = (double)rb_model_n_params(m);
	const char *unit = p >= 1e9 ? "B" : p >= 1e6 ? "M" : "K";
	const double v = p >= 1e9 ? p / 1e9 : p >= 1e6 ? p / 1e6 : p / 1e3;
	const char *ft = ftype_name(rb_model_get_gguf(m));
	snprintf(buf, n, "%s %.1f%s%s%s", rb_arch_name(rb_model_get_hparams(m)->arch), v, unit,
		 strcmp(ft, "?") ? " " : "", strcmp(ft, "?") ? ft : "");
}

static void stats(struct result *r, int64_t reps)
{
	double s = 0, ss = 0;
	for (int64_t i = 0; i < reps; i++)
		s += r->ts[i];
	r->mean = s / (double)reps;
	for (int64_t i = 0; i < reps; i++)
		ss += (r->ts[i] - r->mean) * (r->ts[i] - r->mean);
	r->sd = reps > 1 ? sqrt(ss / (double)(reps - 1)) : 0.0;
}

/* One repetition: seconds, or < 0 on error (message printed). */
static double run_test(rb_session *s, const int32_t *toks, const struct result *r)
{
	rb_err err = {0};
	rb_session_truncate(s, 0);
	const double t0 = cli_now();
	int rc = RB_OK;
	if (r->kind[0] == 'p') {
		rc = rb_session_eval(s, toks, r->n, &err);
	} else {
		for (int64_t i = 0; i < r->n && rc == RB_OK; i++)
			rc = rb_session_eval(s, &toks[i], 1, &err);
	}
	if (rc != RB_OK) {
		fprintf(stderr, "error: %s%lld: %s\n", r->kind, (long long)r->n, err.msg);
		return -1;
	}
	return cli_now() - t0;
}

static void print_table_header(void)
{
	printf("| %-30s | %10s | %10s | %-7s | %7s | %-5s | %8s | %20s |\n", "model", "size",
	       "params", "backend", "threads", "kv", "test", "t/s");
	/* delimiter row: dashes as wide as the cells, ':' marks right alignment */
	printf("| %.30s | %.9s: | %.9s: | %.7s | %.6s: | %.5s | %.7s: | %.19s: |\n",
	       "------------------------------", "---------", "---------", "-------", "------",
	       "-----", "-------", "-------------------");
}

static void print_row(const char *label, const rb_model *m, const struct cli_opts *o, int nt,
		      const struct result *r)
{
	static const char *const params_units[4] = {"", "K", "M", "B"};
	char test[24], ts[40], size[24], params[24];
	snprintf(test, sizeof(test), "%s%lld", r->kind, (long long)r->n);
	snprintf(ts, sizeof(ts), "%.2f ± %.2f", r->mean, r->sd);
	const double bytes = (double)rb_model_size_bytes(m);
	if (bytes >= 1024.0 * 1024.0 * 1024.0)
		snprintf(size, sizeof(size), "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
	else
		snprintf(size, sizeof(size), "%.2f MiB", bytes / (1024.0 * 1024.0));
	fmt_count(params, sizeof(params), (double)rb_model_n_params(m), params_units);
	/* "±" is two bytes in UTF-8: one more byte of width keeps the column */
	printf("| %-30s | %10s | %10s | %-7s | %7d | %-5s | %8s | %21s |\n", label, size, params,
	       o->backend, nt, rb_type_name(o->kv_type), test, ts);
	fflush(stdout);
}

static void print_json_escaped(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		const unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const char *label, const struct cli_opts *o, const rb_model *m, int nt,
		       const struct result *res, int n_res, int64_t reps)
{
	printf("[\n");
	for (int i = 0; i < n_res; i++) {
		const struct result *r = &res[i];
		printf("  {\"model_filename\": ");
		print_json_escaped(o->model);
		printf(", \"model_type\": ");
		print_json_escaped(label);
		printf(", \"model_size\": %" PRIu64 ", \"model_n_params\": %" PRIu64
		       ", \"backend\": \"%s\", \"n_threads\": %d, \"n_batch\": %lld, "
		       "\"type_kv\": \"%s\", \"n_prompt\": %lld, \"n_gen\": %lld, \"test\": \"%s%lld\", "
		       "\"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"samples_ts\": [",
		       rb_model_size_bytes(m), rb_model_n_params(m), o->backend, nt,
		       (long long)o->n_batch, rb_type_name(o->kv_type),
		       (long long)(r->kind[0] == 'p' ? r->n : 0),
		       (long long)(r->kind[0] == 't' ? r->n : 0), r->kind, (long long)r->n, r->mean,
		       r->sd);
		for (int64_t k = 0; k < reps; k++)
			printf(k ? ", %.6f" : "%.6f", r->ts[k]);
		printf("], \"samples_ns\": [");
		for (int64_t k = 0; k < reps; k++)
			printf(k ? ", %.0f" : "%.0f", r->ns[k]);
		printf("]}%s\n", i + 1 < n_res ? "," : "");
	}
	printf("]\n");
	fflush(stdout);
}

static int bench(const struct cli_opts *o, const struct bench_opts *b, struct cli_runtime *rt)
{
	const int n_res = b->n_pp + b->n_tg;
	struct result res[2 * MAX_TESTS];
	int64_t max_n = 1;
	for (int i = 0; i < n_res; i++) {
		res[i].kind = i < b->n_pp ? "pp" : "tg";
		res[i].n = i < b->n_pp ? b->pp[i] : b->tg[i - b->n_pp];
		max_n = res[i].n > max_n ? res[i].n : max_n;
	}
	const rb_model_hparams *hp = rb_model_get_hparams(rt->model);
	if (max_n > hp->n_ctx_train) {
		fprintf(stderr, "error: a test of %lld tokens exceeds the model's context of %lld\n",
			(long long)max_n, (long long)hp->n_ctx_train);
		return EXIT_USAGE;
	}
	rb_session *s = cli_new_session(o, rt, max_n, false);
	int32_t *toks = malloc(sizeof(int32_t) * (size_t)max_n);
	double *samples = calloc((size_t)(2 * n_res * b->reps), sizeof(double));
	int status = EXIT_RUNTIME;
	if (!s || !toks || !samples) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	uint64_t rng = 0x5eed;
	for (int64_t i = 0; i < max_n; i++) { /* random ids, like llama-bench */
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		toks[i] = (int32_t)((rng >> 33) % (uint64_t)hp->n_vocab);
	}
	const int nt = rb_threadpool_size(rt->tp);
	char label[96];
	model_label(rt->model, label, sizeof(label));
	if (!b->json)
		print_table_header();
	const bool tty = isatty(2);
	for (int i = 0; i < n_res; i++) {
		struct result *r = &res[i];
		r->ts = samples + (size_t)(2 * i) * (size_t)b->reps;
		r->ns = r->ts + b->reps;
		if (b->warmup) { /* a short run: page in weights, settle the clocks */
			struct result w = *r;
			w.n = r->kind[0] == 'p' ? (r->n < o->n_batch ? r->n : o->n_batch) : 1;
			if (run_test(s, toks, &w) < 0)
				goto out;
		}
		for (int64_t k = 0; k < b->reps; k++) {
			if (tty)
				fprintf(stderr, "\r%s%lld: repetition %lld/%lld ", r->kind,
					(long long)r->n, (long long)k + 1, (long long)b->reps);
			const double t = run_test(s, toks, r);
			if (t < 0)
				goto out;
			r->ts[k] = (double)r->n / t;
			r->ns[k] = t * 1e9;
		}
		if (tty)
			fprintf(stderr, "\r%40s\r", "");
		stats(r, b->reps);
		if (!b->json)
			print_row(label, rt->model, o, nt, r);
	}
	if (b->json)
		print_json(label, o, rt->model, nt, res, n_res, b->reps);
	status = EXIT_OK;
out:
	free(samples);
	free(toks);
	rb_session_free(s);
	return status;
}

int cmd_bench(int argc, char **argv)
{
	struct cli_opts o;
	cli_opts_init(&o);
	struct bench_opts b = {.pp = {512}, .tg = {128}, .n_pp = 1, .n_tg = 1, .reps = 5,
			       .warmup = true};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = cli_parse_common(&o, argc, argv, &i);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		const char *v;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			bench_help();
			return EXIT_OK;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
			if (!(v = cli_value(argc, argv, &i)) || !parse_list(a, v, b.pp, &b.n_pp))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
			if (!(v = cli_value(argc, argv, &i)) || !parse_list(a, v, b.tg, &b.n_tg))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
			if (!(v = cli_value(argc, argv, &i)) || !cli_parse_i64(a, v, 1, 1000, &b.reps))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--json")) {
			b.json = true;
		} else if (!strcmp(a, "--no-warmup")) {
			b.warmup = false;
		} else {
			return cli_usage_error("bench", "unknown option '%s'", a);
		}
	}
	if (!o.model)
		return cli_usage_error("bench", "no model given (-m FILE)");
	if (b.n_pp + b.n_tg == 0)
		return cli_usage_error("bench", "nothing to measure (-p 0 -n 0)");
	struct cli_runtime rt;
	int status = cli_load(&o, &rt);
	if (status == EXIT_OK)
		status = bench(&o, &b, &rt);
	cli_unload(&rt);
	return status;
}
