/* SPDX-License-Identifier: MIT */
/* rosenblatt: run llama/qwen2 GGUF models (CPU now, the RK3588 NPU next). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define ROSENBLATT_VERSION "0.1.0"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
} k_commands[] = {
	{"run", cmd_run, "complete a prompt, streaming the tokens"},
	{"chat", cmd_chat, "interactive multi-turn chat on stdin/stdout"},
	{"info", cmd_info, "show a GGUF file's metadata, tensors and model summary"},
	{"bench", cmd_bench, "measure prompt and generation speed (like llama-bench)"},
	{"tokenize", cmd_tokenize, "print the tokens of a text"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: rosenblatt COMMAND [options]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(k_commands) / sizeof(k_commands[0]); i++)
		fprintf(f, "  %-10s %s\n", k_commands[i].name, k_commands[i].what);
	fprintf(f, "\n'rosenblatt COMMAND --help' describes a command's options.\n"
		   "Example: rosenblatt run -m model.gguf -p \"Once upon a time\" -n 64\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("rosenblatt %s\n", ROSENBLATT_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(k_commands) / sizeof(k_commands[0]); i++)
		if (!strcmp(cmd, k_commands[i].name))
			return k_commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "rosenblatt: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
