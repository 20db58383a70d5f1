/* SPDX-License-Identifier: MIT */
/* The npu backend's CPU kernels: every SIMD variant this CPU runs against
 * the scalar definition, bit for bit, and the scalar definition against the
 * recipe written out in the test (npb_q8_row), on random rows of every
 * length 0..300 (the SIMD bodies and tails), rounding ties, the clamp, and
 * non-finite rows. */
#include <float.h>
#include <math.h>

#include "npb_util.h"
#include "npu_internal.h"
#include "rosenblatt/cpu.h"

static void check_variant(const npu_act_kernels *k, uint64_t *seed)
{
	const npu_act_kernels *s = &npu_act_scalar;
	float x[320];
	int8_t q1[320], q2[320], qr[320];
	for (int n = 0; n <= 300; n++) {
		for (int i = 0; i < n; i++) {
			/* ties: multiples of 0.5 times the step, and large magnitudes */
			const uint64_t r = rb_test_rand_u64(seed);
			x[i] = r % 4 == 0 ? (float)((int)(r >> 8) % 255 - 127) * 0.5f
					  : rb_test_rand_f32(seed) * (r % 7 == 0 ? 1e4f : 3.0f);
		}
		const float a1 = k->absmax(x, n), a2 = s->absmax(x, n);
		CHECKF(a1 == a2, "%s: absmax n=%d: %g vs %g", k->name, n, a1, a2);
		float want = 0;
		for (int i = 0; i < n; i++)
			want = fabsf(x[i]) > want ? fabsf(x[i]) : want;
		CHECKF(a2 == want, "scalar absmax n=%d: %g vs %g", n, a2, want);

		const float d = npu_q_scale(a2);
		k->quantize(x, n, npu_q_inv(d), q1, NPU_Q_ATOM);
		s->quantize(x, n, npu_q_inv(d), q2, NPU_Q_ATOM);
		CHECKF(memcmp(q1, q2, (size_t)n) == 0, "%s: quantize n=%d differs", k->name, n);
		/* into atoms 48 bytes apart (the NPU's input layout of a 3-row
		 * tile): the same values, every byte between them untouched */
		int8_t qa[20 * 48];
		memset(qa, 0x5a, sizeof(qa));
		k->quantize(x, n, npu_q_inv(d), qa, 48);
		long bad = 0;
		for (int i = 0; i < (int)sizeof(qa); i++) {
			const int atom = i / 48, lane = i % 48, e = atom * NPU_Q_ATOM + lane;
			const int8_t expect = lane < NPU_Q_ATOM && e < n ? q2[e] : 0x5a;
			bad += qa[i] != expect;
		}
		CHECKF(bad == 0, "%s: quantize n=%d into atoms: %ld bytes wrong", k->name, n, bad);
		const float dr = npb_q8_row(x, n, qr);
		CHECK(dr == d);
		CHECKF(memcmp(q2, qr, (size_t)n) == 0, "scalar quantize n=%d differs from the recipe", n);
		/* a scale that clamps: half the step */
		k->quantize(x, n, 2.0f * npu_q_inv(d), q1, NPU_Q_ATOM);
		s->quantize(x, n, 2.0f * npu_q_inv(d), q2, NPU_Q_ATOM);
		CHECKF(memcmp(q1, q2, (size_t)n) == 0, "%s: clamped quantize n=%d differs", k->name, n);
		for (int i = 0; i < n; i++)
			CHECK(q2[i] >= -127 && q2[i] <= 127);

		/* residual of that quantization */
		k->quantize(x, n, npu_q_inv(d), q1, NPU_Q_ATOM);
		float r1[320], r2[320];
		k->residual(x, n, d, q1, r1);
		s->residual(x, n, d, q1, r2);
		CHECKF(memcmp(r1, r2, sizeof(float) * (size_t)n) == 0, "%s: residual n=%d differs",
		       k->name, n);
		for (int i = 0; i < n; i++) {
			const float v = d * (float)q1[i];
			CHECK(r2[i] == x[i] - v);
			CHECK(fabsf(r2[i]) <= d * 0.5f * (1 + 1e-6f) || fabsf(x[i]) > 127 * d);
		}
	}
	/* Non-finite rows are recognized by every variant (NaN and inf anywhere). */
	for (int n = 1; n <= 40; n++)
		for (int pos = 0; pos < n; pos += 7) {
			for (int i = 0; i < n; i++)
				x[i] = (float)i;
			x[pos] = NAN;
			CHECKF(!(k->absmax(x, n) <= FLT_MAX), "%s: NaN at %d of %d missed", k->name, pos, n);
			x[pos] = -INFINITY;
			CHECKF(!(k->absmax(x, n) <= FLT_MAX), "%s: -inf at %d of %d missed", k->name, pos, n);
		}
}

int main(void)
{
	uint64_t seed = 42;
	check_variant(&npu_act_scalar, &seed);
#if defined(__x86_64__) && defined(RB_NPU_HAVE_AVX2)
	if (rb_cpu()->avx2)
		check_variant(&npu_act_avx2, &seed);
	else
		printf("no AVX2 here: the avx2 variant is not checked\n");
#endif
#if defined(__aarch64__) && defined(RB_NPU_HAVE_NEON)
	check_variant(&npu_act_neon, &seed);
#endif
	printf("best variant here: %s\n", npu_act_best()->name);
	return rb_test_finish();
}
