/* SPDX-License-Identifier: MIT */
/* `rosenblatt info`: the file's metadata and tensor table, then what the
 * runtime makes of it (architecture, hyper-parameters, supported or why not).
 * Reads no tensor data. */
#include "cli.h"

#include <string.h>

static void info_help(void)
{
	printf("Usage: rosenblatt info [options] MODEL\n"
	       "Print a GGUF file's metadata, its tensor table and the model summary.\n\n"
	       "      --max-array N       array elements shown per key (default 8)\n");
}

int cmd_info(int argc, char **argv)
{
	const char *path = NULL;
	int64_t max_items = 8;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			info_help();
			return EXIT_OK;
		} else if (!strcmp(a, "--max-array")) {
			const char *v = cli_value(argc, argv, &i);
			if (!v || !cli_parse_i64(a, v, 0, 1 << 20, &max_items))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
			if (!(path = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (a[0] == '-' && a[1]) {
			return cli_usage_error("info", "unknown option '%s'", a);
		} else if (path) {
			return cli_usage_error("info", "more than one file given");
		} else {
			path = a;
		}
	}
	if (!path)
		return cli_usage_error("info", "no model file given");
	rb_err err = {0};
	rb_gguf *g;
	if (rb_gguf_open(path, &g, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	int status = EXIT_OK;
	printf("file: %s\n", path);
	if (rb_gguf_print_info(g, stdout, (unsigned)max_items) != RB_OK)
		status = EXIT_RUNTIME;
	rb_model_hparams hp;
	if (rb_model_validate(g, &hp, &err) == RB_OK) {
		printf("\nmodel: %s, %lld layers, embedding %lld, feed-forward %lld, heads %lld "
		       "(kv %lld, size %lld, rotary %lld), vocab %lld, context %lld, rope base %g, "
		       "rms eps %g%s%s\n",
		       rb_arch_name(hp.arch), (long long)hp.n_layer, (long long)hp.n_embd,
		       (long long)hp.n_ff, (long long)hp.n_head, (long long)hp.n_head_kv,
		       (long long)hp.head_dim, (long long)hp.n_rot, (long long)hp.n_vocab,
		       (long long)hp.n_ctx_train, (double)hp.rope_base, (double)hp.rms_eps,
		       hp.qkv_bias ? ", qkv bias" : "", hp.tied_embeddings ? ", tied embeddings" : "");
	} else if (rb_gguf_find_tensor(g, "token_embd.weight") || g->n_tensors > 0) {
		printf("\nmodel: not runnable: %s\n", err.msg);
	} else {
		printf("\nmodel: none (no tensors: a vocabulary-only file?)\n");
	}
	rb_gguf_close(g);
	if (fflush(stdout) != 0)
		status = EXIT_RUNTIME;
	return status;
}
