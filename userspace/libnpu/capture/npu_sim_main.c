/* SPDX-License-Identifier: MIT */
/* npu-sim: the RK3588 NPU simulator on the command line.
 *   npu-sim replay [options] FILE...   re-run captured jobs, diff the outputs
 *   npu-sim info FILE...               what a capture holds */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu/npu_capture.h"
#include "npu/npu_sim.h"

enum exit_code {
	EXIT_SAME = 0,       /* every replay matched its capture */
	EXIT_DIFFERENT = 1,  /* a buffer or the outcome differs */
	EXIT_BAD_INPUT = 2,  /* usage error, unreadable or malformed capture */
	EXIT_NO_SIM = 3,     /* built without the simulator core */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: npu-sim replay [--max-diffs N] [--quiet] [--no-strict] [--clock-hz HZ] FILE...\n"
		"       npu-sim info FILE...\n"
		"\n"
		"replay  re-executes each captured NPU job on the register-level simulator, with\n"
		"        every buffer at its captured NPU address and captured contents, and\n"
		"        compares the buffers afterwards with the captured results.\n"
		"info    prints what a capture holds (device, tasks, buffers).\n"
		"\n"
		"  --max-diffs N  differing 32-bit words printed per buffer (default 8)\n"
		"  --quiet        only the verdict line per file\n"
		"  --no-strict    let the simulator run programmings it does not model exactly\n"
		"  --clock-hz HZ  clock for the cycle estimate (default 1e9)\n"
		"\n"
		"exit status: 0 all identical, 1 something differs, 2 bad usage or capture,\n"
		"             3 no simulator core in this build\n"
		"format: docs/npu-capture-format.md\n");
}

static int cmd_info(int argc, char **argv)
{
	int status = EXIT_SAME;

	for (int i = 0; i < argc; i++) {
		npu_capture cap;
		char err[512];

		if (npu_capture_read(argv[i], &cap, err, sizeof(err))) {
			fprintf(stderr, "npu-sim: %s\n", err);
			status = EXIT_BAD_INPUT;
			continue;
		}
		printf("%s:\n%s", argv[i], cap.info ? cap.info : "(no INFO)\n");
		for (uint32_t t = 0; t < cap.task_count; t++)
			printf("task %u: regcmd 0x%08x, %u entries\n", t + 1, cap.tasks[t].regcmd,
			       cap.tasks[t].regcmd_count);
		for (uint32_t b = 0; b < cap.bo_count; b++)
			printf("buffer 0x%08" PRIx64 " %" PRIu64 " bytes, handle %u, flags 0x%x%s%s\n",
			       cap.bos[b].iova, cap.bos[b].size, cap.bos[b].handle, cap.bos[b].flags,
			       cap.bos[b].before ? ", before" : "", cap.bos[b].after ? ", after" : "");
		if (cap.has_result)
			printf("result: %d%s%s\n", cap.result, cap.result_msg && *cap.result_msg ? ": " : "",
			       cap.result_msg ? cap.result_msg : "");
		npu_capture_free(&cap);
	}
	return status;
}

static int replay_one(const char *path, const npu_replay_options *opt, bool quiet)
{
	npu_capture cap;
	npu_replay_result res;
	char err[512];
	int ret;

	if (npu_capture_read(path, &cap, err, sizeof(err))) {
		fprintf(stderr, "npu-sim: %s\n", err);
		return EXIT_BAD_INPUT;
	}
	if (!quiet)
		printf("== %s\n", path);
	ret = npu_capture_replay(&cap, opt, &res);
	npu_capture_free(&cap);
	if (ret < 0) {
		fprintf(stderr, "npu-sim: %s: %s\n", path,
			ret == -ENOSYS ? "this build has no simulator core" : strerror(-ret));
		return ret == -ENOSYS ? EXIT_NO_SIM : EXIT_BAD_INPUT;
	}
	if (quiet)
		printf("%s: %s (%u of %u buffers differ)\n", path, ret ? "DIFFERENT" : "identical",
		       res.bos_differing, res.bos_compared);
	else if (res.stats.tasks)
		printf("simulator: %" PRIu64 " tasks, %" PRIu64 " MACs, %" PRIu64 " cycles\n",
		       res.stats.tasks, res.stats.macs, res.stats.cycles);
	return ret ? EXIT_DIFFERENT : EXIT_SAME;
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-diffs", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-strict", no_argument, NULL, 's' },
		{ "clock-hz", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	npu_sim_config sim;
	npu_replay_options opt = { .sim = &sim, .report = stdout };
	bool quiet = false;
	int c, status = EXIT_SAME;

	npu_capture_sim_config_default(&sim);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:qh", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'm':
			opt.max_diffs = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !opt.max_diffs) {
				fprintf(stderr, "npu-sim: --max-diffs wants a positive number\n");
				return EXIT_BAD_INPUT;
			}
			break;
		case 'q': quiet = true; opt.report = NULL; break;
		case 's': sim.strict = false; break;
		case 'c':
			sim.clock_hz = strtod(optarg, &end);
			if (*end || sim.clock_hz < 1e6) {
				fprintf(stderr, "npu-sim: --clock-hz wants a frequency >= 1e6\n");
				return EXIT_BAD_INPUT;
			}
			break;
		case 'h': usage(stdout); return EXIT_SAME;
		default: usage(stderr); return EXIT_BAD_INPUT;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "npu-sim replay: no capture file given\n");
		usage(stderr);
		return EXIT_BAD_INPUT;
	}
	for (int i = optind; i < argc; i++) {
		int s = replay_one(argv[i], &opt, quiet);

		if (s > status)
			status = s;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_BAD_INPUT : EXIT_SAME;
	}
	if (!strcmp(argv[1], "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info")) {
		if (argc < 3) {
			fprintf(stderr, "npu-sim info: no capture file given\n");
			return EXIT_BAD_INPUT;
		}
		return cmd_info(argc - 2, argv + 2);
	}
	fprintf(stderr, "npu-sim: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_BAD_INPUT;
}
