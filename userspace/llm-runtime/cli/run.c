/* SPDX-License-Identifier: MIT */
/* `rosenblatt run` (complete a prompt) and `rosenblatt chat` (interactive,
 * multi-turn, the KV cache kept between turns). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rosenblatt/chat.h"

/* ---- generation ----------------------------------------------------------- */

struct gen {
	rb_session *s;
	rb_sampler *smp;
	rb_detokenizer *dt;
	const rb_tokenizer *tok;
	const int32_t *stop; /* extra stop ids (chat end-of-turn) */
	size_t n_stop;
	char *reply;         /* the generated text, NUL-terminated */
	size_t reply_len, reply_cap;
	bool feed_last;      /* evaluate the last token of a reply cut by n_predict (chat:
			      * the next turn continues from the KV cache) */
	int64_t n_gen;       /* tokens generated (all calls) */
	double t_gen;        /* seconds spent generating (all calls) */
	bool ctx_full;
};

static bool is_stop(const struct gen *g, int32_t id)
{
	if (rb_tokenizer_is_eog(g->tok, id))
		return true;
	for (size_t i = 0; i < g->n_stop; i++)
		if (g->stop[i] == id)
			return true;
	return false;
}

static int emit(struct gen *g, const char *text, size_t len)
{
	if (!len)
		return RB_OK;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	if (g->reply_len + len + 1 > g->reply_cap) {
		size_t cap = g->reply_cap ? g->reply_cap : 256;
		while (cap < g->reply_len + len + 1)
			cap *= 2;
		char *r = realloc(g->reply, cap);
		if (!r)
			return RB_E_NOMEM;
		g->reply = r;
		g->reply_cap = cap;
	}
	memcpy(g->reply + g->reply_len, text, len);
	g->reply_len += len;
	g->reply[g->reply_len] = 0;
	return RB_OK;
}

/* Sample and stream up to n_predict tokens (-1: no limit) following the
 * session's last eval. Stops at an end-of-generation token (not fed to the
 * model) or when the context is full (g->ctx_full). */
static int generate(struct gen *g, int64_t n_predict, rb_err *err)
{
	g->reply_len = 0;
	if (g->reply)
		g->reply[0] = 0;
	rb_detokenizer_reset(g->dt);
	const double t0 = cli_now();
	int rc = RB_OK;
	for (int64_t i = 0; n_predict < 0 || i < n_predict; i++) {
		const int32_t id = rb_sampler_sample(g->smp, rb_session_logits(g->s, -1));
		rb_sampler_accept(g->smp, id);
		g->n_gen++;
		if (is_stop(g, id))
			break;
		const char *text;
		size_t len;
		if ((rc = rb_detokenizer_push(g->dt, id, &text, &len, err)) != RB_OK ||
		    (rc = emit(g, text, len)) != RB_OK)
			break;
		if (n_predict >= 0 && i + 1 == n_predict && !g->feed_last)
			break; /* no need to evaluate a token nobody will follow */
		rc = rb_session_eval(g->s, &id, 1, err);
		if (rc == RB_E_FULL) {
			g->ctx_full = true;
			rc = RB_OK;
			break;
		}
		if (rc != RB_OK || (n_predict >= 0 && i + 1 == n_predict))
			break;
	}
	const char *text;
	size_t len;
	rb_detokenizer_flush(g->dt, &text, &len);
	if (rc == RB_OK)
		rc = emit(g, text, len);
	g->t_gen += cli_now() - t0;
	if (rc == RB_E_NOMEM)
		rb_err_set(err, rc, "out of memory");
	return rc;
}

static uint64_t pick_seed(struct cli_opts *o)
{
	if (!o->seed_given) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		o->sampling.seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^
				   (uint64_t)getpid() << 20;
	}
	return o->sampling.seed;
}

static void print_rate(const char *what, int64_t n, double secs)
{
	fprintf(stderr, "%s: %lld tokens in %.2f s, %.2f tok/s\n", what, (long long)n, secs,
		secs > 0 ? (double)n / secs : 0.0);
}

static void context_full_message(const rb_session *s)
{
	fprintf(stderr, "\n[context full: %lld of %lld positions used; stopping. Use -c to "
		"raise the cap (up to the model's context)]\n",
		(long long)rb_session_n_past(s), (long long)rb_session_n_ctx(s));
}

/* ---- run ------------------------------------------------------------------ */

static void run_help(void)
{
	printf("Usage: rosenblatt run -m MODEL [-p PROMPT | -f FILE] [options]\n"
	       "Complete a prompt; the tokens stream to stdout as they are generated,\n"
	       "timings go to stderr.\n\n"
	       "  -p, --prompt TEXT       prompt (special tokens like <|im_start|> are parsed)\n"
	       "  -f, --file FILE         read the prompt from FILE\n"
	       "  -n, --n-predict N       tokens to generate (-1 = until end of text or a full\n"
	       "                          context; default -1)\n"
	       "      --no-display-prompt do not echo the prompt\n");
	cli_print_common_help(stdout, true);
}

static char *read_text_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	const bool bad = ferror(f);
	fclose(f);
	if (!buf || bad) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static int run_generation(struct cli_opts *o, struct cli_runtime *rt, const char *prompt)
{
	rb_err err = {0};
	rb_tokens toks = {0};
	int rc = rb_tokenizer_encode(rt->tok, prompt, strlen(prompt),
				     RB_TOK_ADD_SPECIAL | RB_TOK_PARSE_SPECIAL, &toks, &err);
	if (rc != RB_OK) {
		fprintf(stderr, "error: prompt: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	if (toks.n == 0) {
		fprintf(stderr, "error: the prompt is empty and the model adds no BOS token; "
			"give a prompt with -p\n");
		rb_tokens_free(&toks);
		return EXIT_USAGE;
	}
	int status = EXIT_RUNTIME;
	struct gen g = {.tok = rt->tok};
	g.s = cli_new_session(o, rt, o->n_ctx, false);
	if (!g.s)
		goto out;
	if ((int64_t)toks.n > rb_session_n_ctx(g.s)) {
		fprintf(stderr, "error: the prompt has %zu tokens, more than the context of %lld "
			"(-c)\n", toks.n, (long long)rb_session_n_ctx(g.s));
		goto out;
	}
	fprintf(stderr, "seed: %llu\n", (unsigned long long)pick_seed(o));
	g.smp = rb_sampler_create(&o->sampling, rb_model_get_hparams(rt->model)->n_vocab, &err);
	if (!g.smp || rb_detokenizer_create(rt->tok, 0, &g.dt, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		goto out;
	}
	for (size_t i = 0; i < toks.n; i++)
		rb_sampler_accept(g.smp, toks.ids[i]);
	if (o->display_prompt) {
		fputs(prompt, stdout);
		fflush(stdout);
	}
	const double t0 = cli_now();
	if (rb_session_eval(g.s, toks.ids, (int64_t)toks.n, &err) != RB_OK) {
		fprintf(stderr, "error: prompt: %s\n", err.msg);
		goto out;
	}
	const double t_prompt = cli_now() - t0;
	if (generate(&g, o->n_predict, &err) != RB_OK) {
		fprintf(stderr, "\nerror: %s\n", err.msg);
		goto out;
	}
	fputc('\n', stdout);
	fflush(stdout);
	if (g.ctx_full)
		context_full_message(g.s);
	fprintf(stderr, "load: %.2f s\n", rt->load_seconds);
	print_rate("prompt", (int64_t)toks.n, t_prompt);
	print_rate("generation", g.n_gen, g.t_gen);
	status = EXIT_OK;
out:
	free(g.reply);
	rb_detokenizer_free(g.dt);
	rb_sampler_free(g.smp);
	rb_session_free(g.s);
	rb_tokens_free(&toks);
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct cli_opts o;
	cli_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = cli_parse_common(&o, argc, argv, &i);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		int64_t n;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			run_help();
			return EXIT_OK;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
			if (!(o.prompt = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
			if (!(o.prompt_file = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
			const char *v = cli_value(argc, argv, &i);
			if (!v || !cli_parse_i64(a, v, -1, INT32_MAX, &n))
				return EXIT_USAGE;
			o.n_predict = n;
		} else if (!strcmp(a, "--no-display-prompt")) {
			o.display_prompt = false;
		} else {
			return cli_usage_error("run", "unknown option '%s'", a);
		}
	}
	if (!o.model)
		return cli_usage_error("run", "no model given (-m FILE)");
	if (o.prompt && o.prompt_file)
		return cli_usage_error("run", "give either -p or -f, not both");
	char *file_text = NULL;
	if (o.prompt_file) {
		file_text = read_text_file(o.prompt_file);
		if (!file_text) {
			fprintf(stderr, "error: cannot read prompt file %s\n", o.prompt_file);
			return EXIT_RUNTIME;
		}
	}
	struct cli_runtime rt;
	int status = cli_load(&o, &rt);
	if (status == EXIT_OK)
		status = run_generation(&o, &rt, file_text ? file_text : o.prompt ? o.prompt : "");
	cli_unload(&rt);
	free(file_text);
	return status;
}

/* ---- chat ----------------------------------------------------------------- */

static void chat_help(void)
{
	printf("Usage: rosenblatt chat -m MODEL [--system TEXT] [options]\n"
	       "Interactive chat: one user message per line on stdin, the reply streams to\n"
	       "stdout. The conversation stays in the KV cache between turns. End with EOF\n"
	       "(Ctrl-D). The chat format comes from the model's tokenizer.chat_template.\n\n"
	       "      --system TEXT       system prompt (default: the template's, if any)\n"
	       "      --chat-format NAME  chatml, llama2 or llama3 instead of detecting it from\n"
	       "                          the model's tokenizer.chat_template\n"
	       "  -n, --n-predict N       most tokens per reply (-1 = no limit, default)\n");
	cli_print_common_help(stdout, true);
}

/* Feed text (special tokens parsed) to the session. */
static int feed(struct gen *g, const char *text, rb_err *err)
{
	rb_tokens t = {0};
	int rc = rb_tokenizer_encode(g->tok, text, strlen(text), RB_TOK_PARSE_SPECIAL, &t, err);
	if (rc == RB_OK && t.n > 0)
		rc = rb_session_eval(g->s, t.ids, (int64_t)t.n, err);
	for (size_t i = 0; rc == RB_OK && i < t.n; i++)
		rb_sampler_accept(g->smp, t.ids[i]);
	rb_tokens_free(&t);
	return rc;
}

static int chat_loop(struct cli_opts *o, struct cli_runtime *rt)
{
	rb_err err = {0};
	rb_chat *chat = NULL;
	rb_chat_options co = {.system = o->system, .format = o->chat_format};
	struct gen g = {.tok = rt->tok, .feed_last = true};
	int status = EXIT_RUNTIME;
	char *line = NULL, *delta = NULL;
	size_t line_cap = 0;
	int32_t stop[8];
	if (rb_chat_create_for(rt->tok, &co, &chat, &err) != RB_OK) {
		fprintf(stderr, "error: chat: %s\n", err.msg);
		goto out;
	}
	g.stop = stop;
	g.n_stop = rb_chat_stop_tokens(chat, rt->tok, stop, 8);
	g.s = cli_new_session(o, rt, o->n_ctx, false);
	if (!g.s)
		goto out;
	pick_seed(o);
	g.smp = rb_sampler_create(&o->sampling, rb_model_get_hparams(rt->model)->n_vocab, &err);
	if (!g.smp || rb_detokenizer_create(rt->tok, 0, &g.dt, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		goto out;
	}
	const bool tty = isatty(0);
	fprintf(stderr, "chat (%s format, %lld positions, seed %llu); end with Ctrl-D\n",
		rb_chat_format_name(rb_chat_get_format(chat)), (long long)rb_session_n_ctx(g.s),
		(unsigned long long)o->sampling.seed);
	for (;;) {
		if (tty) {
			fputs("> ", stdout);
			fflush(stdout);
		}
		const ssize_t n = getline(&line, &line_cap, stdin);
		if (n < 0)
			break;
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		free(delta);
		delta = NULL;
		if (rb_chat_user(chat, line, &delta, &err) != RB_OK) {
			fprintf(stderr, "error: chat: %s\n", err.msg);
			goto out;
		}
		int rc = feed(&g, delta, &err);
		if (rc == RB_E_FULL) { /* this turn does not fit: say how much is missing */
			fprintf(stderr, "\n[%s; stopping. Use -c to raise the cap (up to the "
				"model's context)]\n", err.msg);
			status = EXIT_OK;
			goto out;
		}
		if (rc == RB_OK)
			rc = generate(&g, o->n_predict, &err);
		if (rc != RB_OK) {
			fprintf(stderr, "\nerror: %s\n", err.msg);
			goto out;
		}
		fputc('\n', stdout);
		fflush(stdout);
		if (rb_chat_assistant(chat, g.reply ? g.reply : "", &err) != RB_OK) {
			fprintf(stderr, "error: chat: %s\n", err.msg);
			goto out;
		}
		if (g.ctx_full) {
			context_full_message(g.s);
			break;
		}
	}
	fprintf(stderr, "load: %.2f s\n", rt->load_seconds);
	print_rate("generation", g.n_gen, g.t_gen);
	status = EXIT_OK;
out:
	free(line);
	free(delta);
	free(g.reply);
	rb_detokenizer_free(g.dt);
	rb_sampler_free(g.smp);
	rb_session_free(g.s);
	rb_chat_free(chat);
	return status;
}

int cmd_chat(int argc, char **argv)
{
	struct cli_opts o;
	cli_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = cli_parse_common(&o, argc, argv, &i);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		int64_t n;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			chat_help();
			return EXIT_OK;
		} else if (!strcmp(a, "--system")) {
			if (!(o.system = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--chat-format")) {
			if (!(o.chat_format = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
			const char *v = cli_value(argc, argv, &i);
			if (!v || !cli_parse_i64(a, v, -1, INT32_MAX, &n))
				return EXIT_USAGE;
			o.n_predict = n;
		} else {
			return cli_usage_error("chat", "unknown option '%s'", a);
		}
	}
	if (!o.model)
		return cli_usage_error("chat", "no model given (-m FILE)");
	struct cli_runtime rt;
	int status = cli_load(&o, &rt);
	if (status == EXIT_OK)
		status = chat_loop(&o, &rt);
	cli_unload(&rt);
	return status;
}
