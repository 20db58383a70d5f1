/* SPDX-License-Identifier: MIT */
/* GEMM on the RK3588 NPU through the rocket uAPI:
 *
 *     C[M x N] = A[M x K] . B[N x K]^T        (row-major A, B, C)
 *
 * B (the weights) is packed once into the NPU's kernel-block layout and stays
 * resident in BOs, split by output columns across the devices (one device =
 * one fd = one core at a time, docs/npu-programming.md#the-npu-in-one-page;
 * each holds only its N-slice). A is
 * packed per call, C unpacked per call. Every task is the silicon-proven
 * mtx512 matmul recipe (docs/npu-programming.md "The recipe we emit"); the
 * planner tiles M to the CBUF, slices K when a kernel group would not fit its
 * banks (partial sums added on the CPU) and chunks N.
 *
 * Types:
 *   NPU_GEMM_I8_I32   A, B int8_t;  C int32_t, exact (bit-exact vs a CPU loop)
 *   NPU_GEMM_F16_F32  A, B rb_f16;  C float (fp32 accumulation, see docs)
 *   NPU_GEMM_F16_F16  A, B rb_f16;  C rb_f16 (fp32 partials when K is sliced)
 *
 * Errors come back as rb_status codes with a message naming the shape,
 * device operation or register involved; the caller may fall back to the
 * CPU on RB_E_DEVICE. */
#ifndef NPU_GEMM_H
#define NPU_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "npu/npu_device.h"
#include "npu/npu_sim.h"
#include "rosenblatt/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum npu_gemm_type {
	NPU_GEMM_I8_I32 = 0,
	NPU_GEMM_F16_F32 = 1,
	NPU_GEMM_F16_F16 = 2,
} npu_gemm_type;

#define NPU_GEMM_MAX_CORES 3
/* Largest accepted dimensions (the planner tiles below the per-task field
 * limits; these bound buffer sizes to 32-bit BOs). */
#define NPU_GEMM_MAX_M 65536u
#define NPU_GEMM_MAX_K 65536u
#define NPU_GEMM_MAX_N 65536u

const char *npu_gemm_type_name(npu_gemm_type t); /* "i8i32", "f16f32", "f16f16" */
/* Bytes per element of A/B and of C. */
unsigned npu_gemm_in_bytes(npu_gemm_type t);
unsigned npu_gemm_out_bytes(npu_gemm_type t);

/* ------------------------------------------------------------- planning */

typedef struct npu_gemm_plan_opts {
	uint32_t cores;            /* devices to spread N over, 1..3 (0 = 3) */
	uint32_t max_k_per_task;   /* 0 = default (4096, the silicon-tested range) */
	const npu_sim_config *cost;/* cycle model (NULL = npu_sim_config_default) */
} npu_gemm_plan_opts;

/* One hardware task of a plan. Sizes are the padded sizes the task runs. */
typedef struct npu_gemm_task_info {
	uint32_t core;              /* device index */
	uint32_t m0, m;             /* rows of A/C */
	uint32_t n0, n;             /* columns of C (kernels) */
	uint32_t k0, k;             /* reduction slice */
	uint32_t k_slice;           /* index of the partial sum it contributes to */
	uint32_t data_banks, weight_banks;
	uint64_t in_bytes, weight_bytes, out_bytes, regcmd_bytes; /* DMA traffic */
	uint64_t macs;              /* MACs the array executes (padded) */
	uint64_t cycles;            /* npu_sim_estimate_cycles() of this task */
	uint64_t compute_cycles, dma_cycles; /* its terms (npu_sim_estimate_cycle_parts) */
} npu_gemm_task_info;

typedef struct npu_gemm_plan_summary {
	npu_gemm_type type;
	uint32_t m, k, n;           /* the problem */
	uint32_t cores;             /* devices used */
	uint32_t tasks;
	uint32_t m_tiles, m_tile;   /* row tiles and rows per tile (last may be fewer) */
	uint32_t k_slices, k_slice; /* reduction slices and channels per slice */
	uint32_t core_tasks[NPU_GEMM_MAX_CORES];
	uint32_t core_n0[NPU_GEMM_MAX_CORES], core_n[NPU_GEMM_MAX_CORES]; /* N-slice per core */
	uint64_t core_cycles[NPU_GEMM_MAX_CORES];
	uint64_t in_bytes, weight_bytes, out_bytes, regcmd_bytes; /* sums over tasks */
	uint64_t weight_resident_bytes; /* packed B, all cores together */
	uint64_t macs;              /* sum over tasks (padded) */
	uint64_t compute_cycles, dma_cycles, overhead_cycles; /* cost terms summed over tasks */
	uint64_t cycles;            /* critical path: the busiest core */
	double clock_hz;
	double seconds;             /* cycles / clock_hz */
	double gops;                /* 2 M K N / seconds / 1e9 (useful work) */
} npu_gemm_plan_summary;

typedef struct npu_gemm_plan npu_gemm_plan;

/* Pure planning: no device involved (for benches, probes, tests). */
int npu_gemm_plan_create(npu_gemm_type type, uint32_t m, uint32_t k, uint32_t n,
			 const npu_gemm_plan_opts *opts, npu_gemm_plan **out, rb_err *err);
void npu_gemm_plan_destroy(npu_gemm_plan *p);
void npu_gemm_plan_get_summary(const npu_gemm_plan *p, npu_gemm_plan_summary *s);
uint32_t npu_gemm_plan_task_count(const npu_gemm_plan *p);
void npu_gemm_plan_get_task(const npu_gemm_plan *p, uint32_t i, npu_gemm_task_info *t);

/* ------------------------------------------------------------ execution */

typedef struct npu_gemm_ctx npu_gemm_ctx;
typedef struct npu_gemm_weights npu_gemm_weights;

/* A context over 1..3 open devices (not owned; they must outlive the
 * context). It owns per-device scratch BOs for A, C and the regcmds. */
int npu_gemm_ctx_create(npu_device *const *devs, uint32_t ndev, npu_gemm_ctx **out, rb_err *err);
void npu_gemm_ctx_destroy(npu_gemm_ctx *ctx);
/* Completion wait per call (default 2 s; the kernel's own job timeout is
 * 500 ms per task). */
void npu_gemm_ctx_set_timeout(npu_gemm_ctx *ctx, int64_t timeout_ns);

/* Pack B (n rows of k elements, row stride ldb elements: int8_t for
 * NPU_GEMM_I8_I32, rb_f16 otherwise) into resident BOs. */
int npu_gemm_weights_create(npu_gemm_ctx *ctx, npu_gemm_type type, uint32_t n, uint32_t k,
			    const void *b, size_t ldb, npu_gemm_weights **out, rb_err *err);
void npu_gemm_weights_destroy(npu_gemm_weights *w);

/* C = A . B^T for m rows: A m x k (row stride lda elements), C m x n (row
 * stride ldc elements of the output type). Blocks until done. A, B and C
 * need no particular alignment (they are accessed bytewise). */
int npu_gemm_run(npu_gemm_ctx *ctx, const npu_gemm_weights *w, uint32_t m, const void *a,
		 size_t lda, void *c, size_t ldc, rb_err *err);

/* Spread the CPU side of every call (packing A, copying it to the other
 * contexts, unpacking and summing C) over `tp` (not owned; NULL = the
 * calling thread only). */
struct rb_threadpool;
void npu_gemm_ctx_set_threadpool(npu_gemm_ctx *ctx, struct rb_threadpool *tp);

/* The plan of the most recent npu_gemm_run (NULL before the first). */
const npu_gemm_plan *npu_gemm_ctx_last_plan(const npu_gemm_ctx *ctx);

/* Wall time of the phases of the most recent npu_gemm_run, in seconds (all
 * zero before the first). On the simulator `wait` is the host simulating
 * the jobs, not an NPU time. */
typedef struct npu_gemm_timing {
	double pack;   /* packing A, copying it to the other contexts */
	double submit; /* emitting the regcmds, flushing, queueing the jobs */
	double wait;   /* waiting for the jobs, checking the canaries */
	double unpack; /* unpacking C, adding K-slice partial sums */
} npu_gemm_timing;
void npu_gemm_ctx_last_timing(const npu_gemm_ctx *ctx, npu_gemm_timing *out);

#ifdef __cplusplus
}
#endif
#endif
