/* SPDX-License-Identifier: MIT */
/* GEMM internals: the M-independent weight layout, the per-call plan, the
 * regcmd emitter and the CPU-side packers. Tests use these directly to run
 * plans on the simulator without a device. */
#ifndef NPU_GEMM_INTERNAL_H
#define NPU_GEMM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "npu/npu_gemm.h"
#include "npu/npu_regcmd.h"

/* Entries of one task's regcmd segment: MTX's 104-entry body + 4-entry tail. */
#define GEMM_TASK_ENTRIES 108u
/* Silicon-tested limits we stay inside (MTX tests/matmul_*.c;
 * docs/npu-programming.md#limits-and-the-planner). */
#define GEMM_DEFAULT_MAX_K 4096u
#define GEMM_MAX_N_PER_TASK 4096u
/* FEATURE_GRAINS = rows + 1 must fit 10 bits; DATAIN_HEIGHT 11 bits. */
#define GEMM_MAX_ROWS_PER_TASK 1020u

/* How B is cut and packed; depends on (type, K, N, cores) only, so the
 * resident weights serve every M. */
typedef struct gemm_layout {
	npu_gemm_type type;
	uint32_t k, n;          /* problem */
	unsigned bpe, group;    /* 1 B / 32 kernels (int8), 2 B / 16 kernels (fp16) */
	uint32_t k_pad;         /* K rounded up to 32 */
	uint32_t k_slices, k_slice; /* channels per slice (last: k_pad - (k_slices - 1) * k_slice) */
	uint32_t cores;
	struct {
		uint32_t n0, n;      /* columns of C this core computes (n padded to the group) */
		uint32_t chunks, chunk; /* kernels per task (last chunk may be smaller) */
		uint64_t w_bytes;    /* packed weights of this core */
	} core[NPU_GEMM_MAX_CORES];
} gemm_layout;

typedef struct gemm_task {
	uint32_t core, tile, chunk, slice;
	uint32_t m0, m;        /* padded rows */
	uint32_t n0, n;        /* global first column, kernels (padded) */
	uint32_t k0, k;        /* padded channels */
	uint32_t data_banks, weight_banks;
	uint64_t a_off, w_off, c_off; /* byte offsets in the core's A / W / C buffers */
	uint32_t rc_first;     /* first entry in the core's regcmd buffer */
	uint64_t in_bytes, weight_bytes, out_bytes, macs, cycles;
	uint64_t compute_cycles, dma_cycles;
} gemm_task;

struct npu_gemm_plan {
	gemm_layout layout;
	uint32_t m, m_pad, m_tiles, m_tile;
	int out_prec;          /* precision the tasks write (enum npu_precision) */
	unsigned out_bpe;
	uint32_t ntasks;
	gemm_task *tasks;      /* by core, then tile, chunk, slice */
	struct {
		uint32_t first, count; /* tasks of this core */
		uint64_t a_bytes, c_bytes;
		uint32_t rc_entries;
		uint64_t cycles;
	} core[NPU_GEMM_MAX_CORES];
	npu_sim_config cost;
};

/* Resident weights (gemm_run.c): one BO per context with its N-slice. */
struct npu_gemm_weights {
	struct npu_gemm_ctx *ctx;
	gemm_layout layout;
	npu_bo w[NPU_GEMM_MAX_CORES];
};

int gemm_layout_init(gemm_layout *l, npu_gemm_type type, uint32_t k, uint32_t n, uint32_t cores,
		     uint32_t max_k, rb_err *err);
/* Plan m rows over a layout. */
int gemm_plan_from_layout(const gemm_layout *l, uint32_t m, const npu_sim_config *cost,
			  npu_gemm_plan **out, rb_err *err);

uint32_t gemm_slice_k(const gemm_layout *l, uint32_t slice);
uint32_t gemm_chunk_n(const gemm_layout *l, uint32_t core, uint32_t chunk);
/* Offset of the (slice, chunk) weight block inside a core's weight buffer. */
uint64_t gemm_weight_block_offset(const gemm_layout *l, uint32_t core, uint32_t slice,
				  uint32_t chunk);

/* Emit one task (the MTX recipe) with the core's buffer IOVAs. */
void gemm_emit_task(npu_rc_builder *b, const npu_gemm_plan *p, const gemm_task *t, uint32_t a_iova,
		    uint32_t w_iova, uint32_t c_iova);
/* All tasks of a core into `entries` (plan.core[c].rc_entries of them). */
int gemm_emit_core(const npu_gemm_plan *p, uint32_t core, uint64_t *entries, uint32_t a_iova,
		   uint32_t w_iova, uint32_t c_iova, rb_err *err);

/* Pack the core's N-slice of B (row-major n x k, stride ldb) into `dst`
 * (layout.core[core].w_bytes, zero padding included). */
void gemm_pack_weights(const gemm_layout *l, uint32_t core, const void *b, size_t ldb, void *dst);
/* Pack A (m x k, stride lda) into the per-core A buffer (plan.core[].a_bytes);
 * the _rows variant packs padded rows [row_begin, row_end) only. */
void gemm_pack_a(const npu_gemm_plan *p, const void *a, size_t lda, void *dst);
void gemm_pack_a_rows(const npu_gemm_plan *p, const void *a, size_t lda, void *dst,
		      uint32_t row_begin, uint32_t row_end);
/* Read a core's task outputs from `src` (its C buffer) into C (m x n, ldc),
 * adding the K-slice partial sums. */
void gemm_unpack_c(const npu_gemm_plan *p, uint32_t core, const void *src, void *c, size_t ldc);
/* The same in independent pieces (disjoint parts of C) for threads. */
uint32_t gemm_unpack_groups(const npu_gemm_plan *p, uint32_t core);
void gemm_unpack_group(const npu_gemm_plan *p, uint32_t core, uint32_t group, const void *src,
		       void *c, size_t ldc);

#endif
