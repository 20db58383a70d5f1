/* SPDX-License-Identifier: MIT */
/* npu-probe internals: the audit result as a list of checks, the facts the
 * audit gathered, the self-test results, and the file access that honours
 * --root (a directory standing in for /, to audit a fake tree). */
#ifndef NPU_PROBE_H
#define NPU_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"

/* Exit status of npu-probe (docs/npu-probe.md). */
enum probe_exit {
	PROBE_EXIT_OK = 0,       /* NPU usable (or --sim), self-test passed, no mismatch */
	PROBE_EXIT_PROBLEM = 1,  /* NPU there, but a check or the self-test failed */
	PROBE_EXIT_USAGE = 2,    /* bad arguments or an unreadable fleet file */
	PROBE_EXIT_NO_NPU = 3,   /* no usable NPU on this machine */
};

enum check_status { CHECK_OK, CHECK_INFO, CHECK_WARN, CHECK_FAIL, CHECK_SKIP };

typedef struct probe_check {
	char section[16];   /* kernel, dt, driver, power, clock, iommu, cpu, memory, fleet, selftest */
	char key[48];
	enum check_status status;
	char value[192];    /* what the system shows */
	char expected[192]; /* what the fleet file / the facts expect ("" if nothing) */
	char note[320];
} probe_check;

/* Where the NPU stands, from "not there" to "answering ioctls". */
enum npu_state {
	NPU_ABSENT,          /* no RK3588 NPU in the device tree (not an RK3588?) */
	NPU_DISABLED,        /* NPU nodes there but status != okay */
	NPU_NO_DRIVER,       /* enabled, but the rocket driver is not bound */
	NPU_NO_NODE,         /* driver bound, no /dev/accel node */
	NPU_PRESENT,         /* node there (and, live, answering as rocket) */
};

#define PROBE_MAX_CHECKS 96

typedef struct probe_selftest_case {
	char type[8];        /* i8i32, f16f32 */
	uint32_t m, k, n;
	bool ok;
	double max_abs_err;
	char error[256];
} probe_selftest_case;

typedef struct probe_selftest {
	bool ran;
	bool passed;
	char device[192];
	char skipped[256];   /* why it did not run */
	probe_selftest_case cases[8];
	unsigned ncases;
	/* throughput */
	bool timed;
	uint32_t tm, tk, tn, iterations;
	double seconds;      /* wall time per call */
	double gops_wall;
	double gops_model_1ghz, gops_model_clock; /* simulator cycle model / plan */
	double model_clock_hz;
} probe_selftest;

typedef struct probe {
	const char *root;            /* "" = the live system */
	bool live;
	bool simulated;              /* the rocket node is the simulator shim */
	const char *fleet_path;
	char machine[64];            /* fleet "machine" */
	fleet fl;
	bool have_fleet;
	probe_check checks[PROBE_MAX_CHECKS];
	unsigned nchecks;
	/* facts */
	char kernel[96];
	enum npu_state state;
	char state_reason[320];
	unsigned cores_okay;
	double clock_hz;             /* 0 = not readable */
	double dt_clock_hz;          /* assigned-clock-rates of the first core, 0 = none */
	char clock_source[160];
	char accel_node[96];
	probe_selftest st;
} probe;

/* ---- audit.c: the system, section by section --------------------------- */
void probe_audit(probe *p);
/* ---- fleetcheck.c: compare the fleet keys with the facts --------------- */
void probe_check_fleet(probe *p);
/* ---- selftest.c ------------------------------------------------------------ */
typedef struct probe_selftest_opts {
	bool sim;
	const char *device;   /* NULL: discovery */
	unsigned contexts;    /* 1..3 */
	bool quick;           /* skip the throughput measurement */
	unsigned iterations;
} probe_selftest_opts;
void probe_selftest_run(probe *p, const probe_selftest_opts *o);
/* ---- report.c ---------------------------------------------------------- */
void probe_report_text(const probe *p, int exit_status);
void probe_report_json(const probe *p, int exit_status);

/* ---- util.c --------------------------------------------------------------- */
probe_check *probe_add(probe *p, const char *section, const char *key, enum check_status st,
		       const char *value, const char *expected, const char *note_fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* root-relative path */
void probe_path(const probe *p, char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Read a small text file (trailing newline removed); NUL bytes (device-tree
 * string lists) become '\n'. 0 or -errno. */
int probe_read(const probe *p, const char *path, char *buf, size_t len);
bool probe_exists(const probe *p, const char *path);
/* fn(line, ctx) for each line (without '\n') of a root-relative file; stops
 * when fn returns false. 0 or -errno. */
int probe_lines(const probe *p, const char *path, bool (*fn)(const char *line, void *ctx),
		void *ctx);
/* "6.18.8-foo" >= "6.18"? Compares the leading numeric components. */
int probe_version_cmp(const char *a, const char *b);
const char *probe_status_name(enum check_status s);
const char *probe_state_name(enum npu_state s);

#endif
