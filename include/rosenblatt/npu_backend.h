/* SPDX-License-Identifier: MIT */
/* The "npu" matmul backend: weight matmuls of large batches (prefill) on the
 * RK3588 NPU through libnpu (npu/npu_gemm.h), everything else on a CPU
 * fallback backend. docs/npu-backend.md describes the numerics and routing.
 *
 *  - prepare(): each weight is dequantized (any type with a to_float) and
 *    requantized to int8 per output channel (symmetric, scale = max|w| / 127)
 *    or converted to fp16, packed into resident NPU buffers split over the
 *    contexts; the original weight is also bound to the fallback backend.
 *  - matmul(): calls with fewer than min_tokens tokens go to the fallback
 *    (decode is bandwidth bound, docs/architecture.md). Larger ones quantize
 *    activations to int8 per token, run the int8 GEMM (exact int32 sums) and
 *    scale back to f32. Any NPU error, a failed spot check or activations the
 *    format cannot represent: that call runs on the fallback, counted in the
 *    stats, with a rate-limited warning. After max_failures consecutive NPU
 *    failures the backend stops using the NPU.
 *
 * One matmul at a time per backend (calls are serialized by a lock). The
 * backend borrows the fallback, the thread pool and any given devices; they
 * must outlive it. */
#ifndef ROSENBLATT_NPU_BACKEND_H
#define ROSENBLATT_NPU_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rosenblatt/matmul.h"
#include "rosenblatt/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

struct npu_device;
struct npu_sim_config;

enum rb_npu_weight_format {
	RB_NPU_WEIGHTS_INT8 = 0, /* int8 per output channel, int8 per-token activations */
	RB_NPU_WEIGHTS_FP16 = 1, /* fp16 weights and activations, fp32 sums (2x memory) */
};

typedef struct rb_npu_backend_params {
	/* Required: runs small batches, and every call the NPU cannot answer.
	 * Each weight is bound to it too (a second, CPU-side copy). */
	const rb_matmul_backend *fallback;
	rb_threadpool *tp;        /* CPU side of NPU calls (may be NULL: one thread) */
	/* Device: NULL = the first rocket node (env NPU_DEVICE overrides, and
	 * NPU_DEVICE=sim selects the simulator), "sim", or a node path. */
	const char *device;
	bool sim;                 /* the in-process simulator, whatever `device` says */
	const struct npu_sim_config *sim_config; /* simulator cost model (NULL: defaults) */
	unsigned contexts;        /* device contexts (one per NPU core), 1..3; 0 = 3 */
	/* Already open contexts (borrowed) instead of opening any: tests and
	 * programs that share the device. */
	struct npu_device *const *devices;
	unsigned n_devices;
	int64_t min_tokens;       /* calls with fewer tokens go to the fallback (default 32) */
	enum rb_npu_weight_format format;
	/* int8: activations as two int8 passes, the values and what rounding
	 * them left over (its own per-token scale): ~16-bit activations for
	 * twice the NPU work (--npu-act16). */
	bool act_residual;
	int64_t timeout_ms;       /* completion wait per call; 0 = libnpu's default (2 s) */
	/* Spot check every NPU call: one output of every task (row tile x column
	 * chunk) recomputed on the CPU from the same quantized operands, exact
	 * for int8. Catches tasks that wrote wrong data (default on). */
	bool verify;
	unsigned max_failures;    /* consecutive NPU failures before giving up on it (0 = never) */
	bool quiet;               /* no warnings on stderr */
} rb_npu_backend_params;

/* Defaults: min_tokens 32, int8, verify on, max_failures 3. */
rb_npu_backend_params rb_npu_backend_default_params(void);

/* The backend ("npu"), or NULL with err set: RB_E_DEVICE naming what was
 * looked for when there is no NPU, RB_E_INVALID for bad params. */
rb_matmul_backend *rb_npu_backend_create(const rb_npu_backend_params *p, rb_err *err);
void rb_npu_backend_destroy(rb_matmul_backend *b);

/* True when b was made by rb_npu_backend_create. */
bool rb_is_npu_backend(const rb_matmul_backend *b);
/* "sim" or "rocket /dev/accel/accel0 (...)" of the first context. */
const char *rb_npu_backend_device_name(const rb_matmul_backend *b);

typedef struct rb_npu_backend_stats {
	uint64_t calls, tokens;           /* every matmul call */
	uint64_t npu_calls, npu_tokens;   /* answered by the NPU */
	uint64_t small_calls;             /* below min_tokens: fallback by design */
	uint64_t fallback_calls;          /* NPU tried or refused, answered by the fallback */
	uint64_t npu_errors;              /* device errors (a fallback each) */
	uint64_t verify_failures;         /* spot checks that disagreed (a fallback each) */
	uint64_t range_fallbacks;         /* activations not finite / beyond fp16 (a fallback each) */
	uint64_t verified_outputs;        /* outputs spot-checked */
	uint64_t npu_macs;                /* useful multiply-adds on the NPU (M * K * N) */
	uint64_t weights_npu;             /* weights resident on the NPU */
	uint64_t weights_cpu_only;        /* weights the NPU could not take (fallback only) */
	uint64_t weights_shared;          /* of weights_npu: resident in shared-input groups */
	uint64_t shared_groups;           /* those groups (share_input: e.g. q | k | v) */
	uint64_t npu_jobs;                /* NPU calls made (a group's call serves its members) */
	uint64_t npu_weight_bytes;        /* int8/fp16 bytes resident on the NPU */
	/* Wall time in seconds. NPU calls: quantizing activations, npu_gemm_run
	 * (libnpu packs A, runs the job and unpacks C, scaling the int8 sums to
	 * f32 on the way; on the simulator this includes simulating the NPU),
	 * spot checks. */
	double t_quantize, t_gemm, t_verify;
	/* npu_gemm_run's share (npu_gemm_timing): packing A, submitting, waiting
	 * for the device (on the simulator: simulating it), unpacking C. */
	double t_pack, t_submit, t_wait, t_unpack;
	double t_fallback;                /* in the fallback backend (small and failed calls) */
	double t_prepare;                 /* requantizing and packing weights at load */
	/* The cycle model's estimate of the NPU plans run (busiest context per
	 * call, summed), and the clock it assumes; on hardware too. */
	uint64_t plan_cycles;
	double plan_clock_hz;
	/* Simulator only (sim = true): what the simulated cores executed. */
	bool sim;
	uint64_t sim_tasks, sim_macs, sim_cycles; /* sim_cycles: sum over all contexts */
	bool npu_disabled;                /* gave up after max_failures */
} rb_npu_backend_stats;

void rb_npu_backend_get_stats(const rb_matmul_backend *b, rb_npu_backend_stats *out);
void rb_npu_backend_reset_stats(rb_matmul_backend *b);
/* A few human-readable lines (the CLI prints them to stderr). */
void rb_npu_backend_print_stats(const rb_matmul_backend *b, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
