/* SPDX-License-Identifier: MIT */
/* npu-probe output: a human report and the same content as JSON
 * (docs/npu-probe.md lists the JSON fields). */
#include <stdio.h>
#include <string.h>

#include "probe.h"

#define BOOT_CLOCK_HZ 200e6

static bool clock_is_boot_rate(const probe *p)
{
	return p->clock_hz > 0 && p->clock_hz <= BOOT_CLOCK_HZ * 1.05;
}

static void count(const probe *p, const char *section, unsigned *fails, unsigned *warns)
{
	*fails = *warns = 0;
	for (unsigned i = 0; i < p->nchecks; i++) {
		if (section && strcmp(p->checks[i].section, section))
			continue;
		*fails += p->checks[i].status == CHECK_FAIL;
		*warns += p->checks[i].status == CHECK_WARN;
	}
}

static const char *state_text(enum npu_state s)
{
	switch (s) {
	case NPU_ABSENT: return "NO NPU";
	case NPU_DISABLED: return "NO NPU (disabled in the device tree)";
	case NPU_NO_DRIVER: return "NO NPU (rocket driver not loaded)";
	case NPU_NO_NODE: return "NO NPU (no usable /dev/accel node)";
	default: return "present";
	}
}

static void text_selftest(const probe *p)
{
	const probe_selftest *st = &p->st;

	if (!st->ran) {
		printf("\nself-test: not run%s%s\n", st->skipped[0] ? ": " : "", st->skipped);
		return;
	}
	printf("\nself-test on %s: %s\n", st->device, st->passed ? "PASSED" : "FAILED");
	for (unsigned i = 0; i < st->ncases; i++) {
		const probe_selftest_case *c = &st->cases[i];

		printf("  %-7s %5u x %5u x %5u  %-4s max |error| %.3g%s%s\n", c->type, c->m, c->k, c->n,
		       c->ok ? "ok" : "FAIL", c->max_abs_err, c->error[0] ? "  " : "", c->error);
	}
	if (st->timed) {
		bool sim = strstr(st->device, "sim") != NULL;

		printf("throughput, int8 %u x %u x %u: %.4f s per call, %.2f GOPS%s\n", st->tm, st->tk,
		       st->tn, st->seconds, st->gops_wall,
		       sim ? " (simulator wall time: the speed of the simulator, not of an NPU)" : "");
		printf("  plan + cycle model: %.1f GOPS at 1 GHz, %.1f GOPS at %.0f MHz\n",
		       st->gops_model_1ghz, st->gops_model_clock, st->model_clock_hz / 1e6);
	}
}

void probe_report_text(const probe *p, int exit_status)
{
	unsigned fails, warns;
	const char *section = "";

	printf("npu-probe: RK3588 NPU audit of %s%s\n", p->live ? "this system" : "the tree ",
	       p->live ? "" : p->root);
	printf("NPU: %s%s%s\n", state_text(p->state), p->state_reason[0] ? " - " : "",
	       p->state_reason);
	for (unsigned i = 0; i < p->nchecks; i++) {
		const probe_check *c = &p->checks[i];

		if (strcmp(section, c->section)) {
			section = c->section;
			printf("\n[%s]\n", section);
		}
		printf("  %-24s %-4s %s", c->key, probe_status_name(c->status), c->value);
		if (c->expected[0] && c->status != CHECK_OK)
			printf("  (expected %s)", c->expected);
		if (c->note[0])
			printf("  - %s", c->note);
		putchar('\n');
	}
	if (clock_is_boot_rate(p))
		printf("\n!!! The NPU clock is %.0f MHz, mainline's boot rate: every NPU number on this\n"
		       "!!! machine is capped at %.0f%% of what the same NPU does at 1 GHz.\n",
		       p->clock_hz / 1e6, p->clock_hz / 1e9 * 100);
	else if (!p->clock_hz && p->state != NPU_ABSENT)
		printf("\nNote: the NPU clock is not readable here; mainline boots it at 200 MHz,\n"
		       "a fifth of the 1 GHz peak (docs/npu-mainline-status.md).\n");
	text_selftest(p);
	count(p, NULL, &fails, &warns);
	printf("\nresult: %s, %u failed checks, %u warnings (exit %d)\n",
	       exit_status == PROBE_EXIT_OK ? "OK" :
	       exit_status == PROBE_EXIT_NO_NPU ? "NO NPU" : "PROBLEMS", fails, warns, exit_status);
}

/* ---- JSON ------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch == '\n')
			printf("\\n");
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void json_kv(const char *key, const char *value, bool comma)
{
	printf("\"%s\": ", key);
	json_str(value);
	if (comma)
		putchar(',');
}

static void json_selftest(const probe *p)
{
	const probe_selftest *st = &p->st;

	printf("\"selftest\": {\"ran\": %s, \"passed\": %s, ", st->ran ? "true" : "false",
	       st->ran && st->passed ? "true" : "false");
	json_kv("device", st->device, true);
	json_kv("skipped", st->skipped, true);
	printf("\"cases\": [");
	for (unsigned i = 0; i < st->ncases; i++) {
		const probe_selftest_case *c = &st->cases[i];

		printf("%s{\"type\": \"%s\", \"m\": %u, \"k\": %u, \"n\": %u, \"ok\": %s, "
		       "\"max_abs_err\": %.9g, ", i ? ", " : "", c->type, c->m, c->k, c->n,
		       c->ok ? "true" : "false", c->max_abs_err);
		json_kv("error", c->error, false);
		putchar('}');
	}
	printf("], \"throughput\": ");
	if (st->timed)
		printf("{\"type\": \"i8i32\", \"m\": %u, \"k\": %u, \"n\": %u, \"iterations\": %u, "
		       "\"seconds_per_call\": %.9g, \"gops_wall\": %.6g, \"gops_model_1ghz\": %.6g, "
		       "\"gops_model_at_clock\": %.6g, \"model_clock_hz\": %.0f}",
		       st->tm, st->tk, st->tn, st->iterations, st->seconds, st->gops_wall,
		       st->gops_model_1ghz, st->gops_model_clock, st->model_clock_hz);
	else
		printf("null");
	putchar('}');
}

void probe_report_json(const probe *p, int exit_status)
{
	unsigned fails, warns, ffails, fwarns;

	count(p, NULL, &fails, &warns);
	count(p, "fleet", &ffails, &fwarns);
	printf("{\"tool\": \"npu-probe\", \"format\": 1, \"exit_status\": %d, ", exit_status);
	json_kv("root", p->root, true);
	printf(" \"live\": %s, \"kernel\": ", p->live ? "true" : "false");
	json_str(p->kernel);
	printf(",\n \"npu\": {\"state\": \"%s\", ", probe_state_name(p->state));
	json_kv("reason", p->state_reason, true);
	json_kv("accel_node", p->accel_node, true);
	printf("\"cores_okay\": %u},\n", p->cores_okay);
	printf(" \"clock\": {\"hz\": %.0f, ", p->clock_hz);
	json_kv("source", p->clock_source, true);
	printf("\"mainline_boot_rate\": %s, \"fraction_of_peak\": %.3f},\n",
	       clock_is_boot_rate(p) ? "true" : "false", p->clock_hz / 1e9);
	printf(" \"checks\": [");
	for (unsigned i = 0; i < p->nchecks; i++) {
		const probe_check *c = &p->checks[i];

		printf("%s\n  {", i ? "," : "");
		json_kv("section", c->section, true);
		json_kv("key", c->key, true);
		json_kv("status", probe_status_name(c->status), true);
		json_kv("value", c->value, true);
		json_kv("expected", c->expected, true);
		json_kv("note", c->note, false);
		putchar('}');
	}
	printf("],\n \"summary\": {\"failed\": %u, \"warnings\": %u},\n", fails, warns);
	printf(" \"fleet\": ");
	if (p->have_fleet) {
		printf("{");
		json_kv("file", p->fleet_path, true);
		json_kv("machine", p->machine, true);
		printf("\"failed\": %u, \"warnings\": %u}", ffails, fwarns);
	} else {
		printf("null");
	}
	printf(",\n ");
	json_selftest(p);
	printf("}\n");
}
