/* SPDX-License-Identifier: MIT */
/* Scalar CPU reference for GEMM tests: random operands and the check of C.
 * INT8 -> INT32 must be bit-exact; FP16 within the stated tolerance. */
#ifndef NPU_GEMM_REF_H
#define NPU_GEMM_REF_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "npu/npu_gemm.h"
#include "rosenblatt/fp16.h"
#include "test.h"

/* rows x k random operands of the type's input (int8 full range, or fp16 in
 * [-1, 1)). */
static inline void gemm_ref_fill(npu_gemm_type type, size_t count, void *buf, uint64_t *seed)
{
	for (size_t i = 0; i < count; i++) {
		if (type == NPU_GEMM_I8_I32)
			((int8_t *)buf)[i] = (int8_t)rb_test_rand_u64(seed);
		else
			((rb_f16 *)buf)[i] = rb_f32_to_f16(rb_test_rand_f32(seed));
	}
}

/* Stated FP16 tolerance: 1e-5 of sum|a*b| (fp32 accumulation on the NPU and
 * fp32 partial sums on the CPU), plus half an fp16 ulp of the result for
 * fp16 output. Returns the number of wrong elements of C (m x n, ldc = n). */
static inline long gemm_ref_check(npu_gemm_type type, uint32_t m, uint32_t k, uint32_t n,
				  const void *a, const void *b, const void *c)
{
	long bad = 0;
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < n; j++) {
			const size_t o = (size_t)i * n + j;
			if (type == NPU_GEMM_I8_I32) {
				int32_t ref = 0;
				for (uint32_t x = 0; x < k; x++)
					ref += ((const int8_t *)a)[(size_t)i * k + x] *
					       ((const int8_t *)b)[(size_t)j * k + x];
				const int32_t got = ((const int32_t *)c)[o];
				if (got != ref && bad++ < 3)
					fprintf(stderr, "%ux%ux%u C[%u][%u] = %d, expected %d\n", m, k, n, i,
						j, got, ref);
				continue;
			}
			double ref = 0, mag = 0;
			for (uint32_t x = 0; x < k; x++) {
				const double pr = (double)rb_f16_to_f32(((const rb_f16 *)a)[(size_t)i * k + x]) *
						  rb_f16_to_f32(((const rb_f16 *)b)[(size_t)j * k + x]);
				ref += pr;
				mag += fabs(pr);
			}
			const double got = type == NPU_GEMM_F16_F32 ? ((const float *)c)[o]
								   : rb_f16_to_f32(((const rb_f16 *)c)[o]);
			const double tol = 1e-5 * mag + (type == NPU_GEMM_F16_F16 ? fabs(ref) / 2048.0 + 6e-8
										   : 1e-30);
			if (!(fabs(got - ref) <= tol) && bad++ < 3)
				fprintf(stderr, "%ux%ux%u C[%u][%u] = %.8g, expected %.8g\n", m, k, n, i, j,
					got, ref);
		}
	return bad;
}

#endif
