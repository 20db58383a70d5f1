/* SPDX-License-Identifier: MIT */
/* npu-probe: is the RK3588 NPU usable on this machine through the mainline
 * rocket driver, and does it compute correctly? docs/npu-probe.md */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: npu-probe [--fleet FILE] [--json] [--sim] [--device NODE] [--contexts N]\n"
		"                 [--no-selftest] [--quick] [--iterations N] [--root DIR]\n"
		"\n"
		"Audits the NPU stack (kernel, device tree, rocket driver and /dev/accel node,\n"
		"power, IOMMU groups, NPU clock), compares it with a fleet description, then runs\n"
		"GEMM self-tests on the NPU against a CPU reference and measures throughput.\n"
		"\n"
		"  --fleet FILE     compare with fleet/<machine>.yaml\n"
		"  --json           machine-readable report on stdout\n"
		"  --sim            self-test on the in-process simulator (no NPU needed); the\n"
		"                   exit status is then the self-test's (also when the node is\n"
		"                   the simulator shim)\n"
		"  --device NODE    accel node to test (default: the first rocket node, or $NPU_DEVICE)\n"
		"  --contexts N     contexts (fds) the GEMM spreads over, 1..3 (default 3)\n"
		"  --no-selftest    audit only\n"
		"  --quick          self-test without the throughput measurement\n"
		"  --iterations N   timed GEMM calls (default 20 on the NPU, 2 on the simulator)\n"
		"  --root DIR       audit the tree DIR instead of / (a copy of /proc, /sys, /dev,\n"
		"                   /boot); also $NPU_PROBE_ROOT. Nothing is opened there.\n"
		"\n"
		"exit status: 0 NPU usable and self-test passed (or --sim passed), 1 problems\n"
		"(failed check or self-test), 2 usage error or bad fleet file, 3 no NPU here\n");
}

static int exit_status(const probe *p, bool sim)
{
	bool failed = false;

	for (unsigned i = 0; i < p->nchecks; i++)
		failed |= p->checks[i].status == CHECK_FAIL;
	/* on a simulator the audit describes a host without NPU: only the
	 * self-test counts */
	if (sim || p->simulated) {
		if (!p->st.ran)
			return !strcmp(p->st.skipped, "--no-selftest") ? PROBE_EXIT_OK
								     : PROBE_EXIT_PROBLEM;
		return p->st.passed ? PROBE_EXIT_OK : PROBE_EXIT_PROBLEM;
	}
	if (p->state != NPU_PRESENT)
		return PROBE_EXIT_NO_NPU;
	if (failed || (p->st.ran && !p->st.passed) || (p->live && !p->st.ran && !p->st.skipped[0]))
		return PROBE_EXIT_PROBLEM;
	if (p->live && !p->st.ran && strncmp(p->st.skipped, "--no-selftest", 13))
		return PROBE_EXIT_PROBLEM;
	return PROBE_EXIT_OK;
}

static unsigned parse_count(const char *s, unsigned lo, unsigned hi, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || v < lo || v > hi) {
		fprintf(stderr, "npu-probe: %s wants a number from %u to %u\n", what, lo, hi);
		exit(PROBE_EXIT_USAGE);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' }, { "json", no_argument, NULL, 'j' },
		{ "sim", no_argument, NULL, 's' },          { "device", required_argument, NULL, 'd' },
		{ "contexts", required_argument, NULL, 'c' }, { "no-selftest", no_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },        { "iterations", required_argument, NULL, 'i' },
		{ "root", required_argument, NULL, 'r' },   { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static probe p;
	probe_selftest_opts so = { .contexts = 3 };
	bool json = false, selftest = true;
	const char *root = getenv("NPU_PROBE_ROOT");
	int c, status;

	while ((c = getopt_long(argc, argv, "f:jsd:c:nqi:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': p.fleet_path = optarg; break;
		case 'j': json = true; break;
		case 's': so.sim = true; break;
		case 'd': so.device = optarg; break;
		case 'c': so.contexts = parse_count(optarg, 1, 3, "--contexts"); break;
		case 'n': selftest = false; break;
		case 'q': so.quick = true; break;
		case 'i': so.iterations = parse_count(optarg, 1, 100000, "--iterations"); break;
		case 'r': root = optarg; break;
		case 'h': usage(stdout); return PROBE_EXIT_OK;
		default: usage(stderr); return PROBE_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "npu-probe: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return PROBE_EXIT_USAGE;
	}
	p.root = root && *root && strcmp(root, "/") ? root : "";
	p.live = !p.root[0];
	if (p.fleet_path) {
		char err[512];

		if (fleet_load(p.fleet_path, &p.fl, err, sizeof(err))) {
			fprintf(stderr, "npu-probe: fleet file %s\n", err);
			return PROBE_EXIT_USAGE;
		}
		p.have_fleet = true;
	}
	probe_audit(&p);
	probe_check_fleet(&p);
	if (!selftest)
		snprintf(p.st.skipped, sizeof(p.st.skipped), "--no-selftest");
	else if (so.sim || (p.live && p.state == NPU_PRESENT))
		probe_selftest_run(&p, &so);
	else if (!p.live)
		snprintf(p.st.skipped, sizeof(p.st.skipped),
			 "--root audits a tree; the self-test needs a live system or --sim");
	else
		snprintf(p.st.skipped, sizeof(p.st.skipped), "no NPU");
	status = exit_status(&p, so.sim);
	if (json)
		probe_report_json(&p, status);
	else
		probe_report_text(&p, status);
	if (p.have_fleet)
		fleet_free(&p.fl);
	return status;
}
