/* SPDX-License-Identifier: MIT */
/* CPU matmul backends (implementations of rb_matmul_backend).
 *
 *  - "cpu": the fast one. Repacks weights at load for the SIMD kernels picked
 *    at run time (AVX2 / AVX-512 VNNI on x86-64, NEON dotprod on aarch64,
 *    scalar otherwise), quantizes activations once per call, runs batched
 *    prefill as a real GEMM (many tokens per weight pass), threads over the
 *    given pool. No allocation on the hot path after the first call of a
 *    given size.
 *  - "ref": scalar reference (dequantize a row, float dot). Slow, obviously
 *    correct; used by tests as the independent reference. */
#ifndef ROSENBLATT_CPU_BACKEND_H
#define ROSENBLATT_CPU_BACKEND_H

#include "rosenblatt/matmul.h"
#include "rosenblatt/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pool is borrowed (may be NULL: single thread) and must outlive the backend. */
rb_matmul_backend *rb_cpu_backend_create(rb_threadpool *tp, rb_err *err);
rb_matmul_backend *rb_ref_backend_create(rb_threadpool *tp, rb_err *err);
void rb_cpu_backend_destroy(rb_matmul_backend *b); /* either kind */

/* Name of the kernel variant the "cpu" backend uses for a type, e.g.
 * "avx512vnni", "avx2", "neon-dotprod", "scalar". */
const char *rb_cpu_kernel_name(enum rb_type type);

#ifdef __cplusplus
}
#endif
#endif
