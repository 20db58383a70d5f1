/* SPDX-License-Identifier: MIT */
/* `rosenblatt tokenize`: text to token ids with the model's tokenizer (only
 * the vocabulary is read, not the weights). Output like llama.cpp's
 * llama-tokenize: one "id -> 'piece'" line per token, or with --ids the ids
 * space-separated on one line. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void tokenize_help(void)
{
	printf("Usage: rosenblatt tokenize -m MODEL [-p TEXT | -f FILE] [options]\n"
	       "Print the tokens of TEXT (default: read stdin).\n\n"
	       "  -m, --model FILE        GGUF file with a tokenizer (weights are not read)\n"
	       "  -p, --prompt TEXT       text to tokenize\n"
	       "  -f, --file FILE         read the text from FILE\n"
	       "      --ids               print only the ids, space-separated on one line\n"
	       "      --add-special       add BOS/EOS as the model's metadata asks\n"
	       "      --no-parse-special  treat control-token texts (<|im_start|>) as plain text\n");
}

static char *slurp(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				return NULL;
			}
			buf = b;
			cap *= 2;
		}
	}
	if (buf && ferror(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* A piece shown between quotes: printable ASCII and UTF-8 as is, the rest
 * escaped. */
static void print_piece(const char *p, size_t len)
{
	putchar('\'');
	for (size_t i = 0; i < len; i++) {
		const unsigned char c = (unsigned char)p[i];
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\\' || c == '\'')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('\'');
}

int cmd_tokenize(int argc, char **argv)
{
	const char *model = NULL, *text = NULL, *file = NULL;
	bool ids_only = false, add_special = false, parse_special = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			tokenize_help();
			return EXIT_OK;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
			if (!(model = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
			if (!(text = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
			if (!(file = cli_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--ids")) {
			ids_only = true;
		} else if (!strcmp(a, "--add-special")) {
			add_special = true;
		} else if (!strcmp(a, "--no-parse-special")) {
			parse_special = false;
		} else {
			return cli_usage_error("tokenize", "unknown option '%s'", a);
		}
	}
	if (!model)
		return cli_usage_error("tokenize", "no model given (-m FILE)");
	if (text && file)
		return cli_usage_error("tokenize", "give either -p or -f, not both");

	size_t len = 0;
	char *buf = NULL;
	if (!text) {
		FILE *f = file ? fopen(file, "rb") : stdin;
		if (!f) {
			fprintf(stderr, "error: cannot open %s\n", file);
			return EXIT_RUNTIME;
		}
		buf = slurp(f, &len);
		if (file)
			fclose(f);
		if (!buf) {
			fprintf(stderr, "error: cannot read %s\n", file ? file : "stdin");
			return EXIT_RUNTIME;
		}
		text = buf;
	} else {
		len = strlen(text);
	}

	rb_err err = {0};
	rb_tokenizer *tok = NULL;
	rb_tokens ids = {0};
	int status = EXIT_RUNTIME;
	if (rb_tokenizer_load(model, NULL, &tok, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		goto out;
	}
	const unsigned flags = (add_special ? RB_TOK_ADD_SPECIAL : 0u) |
			       (parse_special ? RB_TOK_PARSE_SPECIAL : 0u);
	if (rb_tokenizer_encode(tok, text, len, flags, &ids, &err) != RB_OK) {
		fprintf(stderr, "error: %s\n", err.msg);
		goto out;
	}
	for (size_t i = 0; i < ids.n; i++) {
		if (ids_only) {
			printf(i ? " %d" : "%d", (int)ids.ids[i]);
			continue;
		}
		size_t plen = 0;
		const char *piece = rb_tokenizer_piece(tok, ids.ids[i], &plen);
		printf("%6d -> ", (int)ids.ids[i]);
		print_piece(piece ? piece : "", piece ? plen : 0);
		putchar('\n');
	}
	if (ids_only)
		putchar('\n');
	status = fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
out:
	rb_tokens_free(&ids);
	rb_tokenizer_free(tok);
	free(buf);
	return status;
}
