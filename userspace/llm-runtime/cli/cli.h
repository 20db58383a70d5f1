/* SPDX-License-Identifier: MIT */
/* Shared pieces of the `rosenblatt` subcommands: options common to the
 * commands that load a model, and the loaded runtime (pool, backends, model,
 * tokenizer). */
#ifndef RB_CLI_H
#define RB_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rosenblatt/model.h"
#include "rosenblatt/sampler.h"
#include "rosenblatt/tokenizer.h"

/* Exit codes. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* the work failed (model refused, device error...) */
	EXIT_USAGE = 2,   /* bad command line */
};

struct cli_opts {
	const char *model;
	const char *prompt;
	const char *prompt_file;
	const char *system;
	const char *chat_format; /* NULL: from the model's chat template */
	int64_t n_predict;   /* -1: until end of text or context full */
	int n_threads;       /* <= 0: performance cores */
	int64_t n_ctx;       /* 0: the model's */
	int64_t n_batch;
	const char *backend; /* "cpu", "ref" or "npu" */
	int64_t npu_min_tokens; /* --backend npu: fewer tokens run on the CPU; -1: default */
	bool npu_sim;        /* --backend npu on the in-process simulator */
	bool npu_fp16;       /* --backend npu with fp16 weights instead of int8 */
	bool npu_act16;      /* --backend npu with activations in two int8 passes */
	enum rb_type kv_type;
	rb_sampler_params sampling;
	bool seed_given;
	bool display_prompt;
	bool verbose;
};

void cli_opts_init(struct cli_opts *o);

/* Parse option argv[*i] (and its value) if it is one of the common ones:
 * 1 = consumed, 0 = not a common option, -1 = bad value (message printed). */
int cli_parse_common(struct cli_opts *o, int argc, char **argv, int *i);

/* The "unknown option" / "missing value" message, exit code EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse helpers for command-specific options: the value of argv[*i]
 * (advancing *i), or NULL with a message. */
const char *cli_value(int argc, char **argv, int *i);
bool cli_parse_i64(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out);

/* Help text of the common options (for the commands' --help). */
void cli_print_common_help(FILE *f, bool sampling);

struct cli_runtime {
	rb_threadpool *tp;
	rb_matmul_backend *backend;
	rb_matmul_backend *npu; /* --backend npu: first choice, `backend` its fallback */
	rb_model *model;
	rb_tokenizer *tok;
	double load_seconds;
};

/* Pool, backend, model and tokenizer from the options; messages on failure. */
int cli_load(const struct cli_opts *o, struct cli_runtime *rt);
void cli_unload(struct cli_runtime *rt);
rb_session *cli_new_session(const struct cli_opts *o, struct cli_runtime *rt, int64_t n_ctx,
			    bool logits_all);

double cli_now(void); /* monotonic seconds */

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

#endif
