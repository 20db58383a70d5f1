/* SPDX-License-Identifier: MIT */
/* Scalar CPU kernels of the npu backend (the definition the SIMD variants
 * are tested against) and the run-time choice of variant. */
#include <math.h>
#include <string.h>

#include "npu_internal.h"
#include "rosenblatt/cpu.h"
#include "rosenblatt/fp16.h"

/* On the bit patterns: |x| orders like its bits with the sign cleared, and
 * inf (0x7f800000) and NaN (above) come out on top, so the result is
 * non-finite exactly when some element is. */
static float absmax_scalar(const float *x, int64_t n)
{
	uint32_t m = 0;
	for (int64_t i = 0; i < n; i++) {
		const uint32_t b = rb_f32_bits(x[i]) & 0x7fffffffu;
		m = b > m ? b : m;
	}
	return rb_bits_f32(m);
}

static void quantize_scalar(const float *x, int64_t n, float inv, int8_t *q, size_t stride)
{
	for (int64_t i = 0; i < n; i++) {
		float v = x[i] * inv;
		v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
		/* default rounding mode: half to even */
		q[(size_t)(i / NPU_Q_ATOM) * stride + i % NPU_Q_ATOM] = (int8_t)lrintf(v);
	}
}

static void residual_scalar(const float *x, int64_t n, float d, const int8_t *q, float *r)
{
	for (int64_t i = 0; i < n; i++) {
		const float v = d * (float)q[i]; /* a product, then a difference: no fma (-std=c11) */
		r[i] = x[i] - v;
	}
}

const npu_act_kernels npu_act_scalar = {
	.name = "scalar",
	.absmax = absmax_scalar,
	.quantize = quantize_scalar,
	.residual = residual_scalar,
};

const npu_act_kernels *npu_act_best(void)
{
	const rb_cpu_features *f = rb_cpu();
	(void)f;
#if defined(__x86_64__) && defined(RB_NPU_HAVE_AVX2)
	if (f->avx2)
		return &npu_act_avx2;
#endif
#if defined(__aarch64__) && defined(RB_NPU_HAVE_NEON)
	if (f->neon)
		return &npu_act_neon;
#endif
	return &npu_act_scalar;
}
