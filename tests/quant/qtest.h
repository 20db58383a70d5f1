/* SPDX-License-Identifier: MIT */
/* Helpers shared by the quant tests: test data, exact f16 values, the list
 * of types. */
#ifndef RB_QTEST_H
#define RB_QTEST_H

#include <math.h>
#include <stdint.h>

#include "rosenblatt/quant.h"
#include "test.h"

/* Every type with a quantizer, weights first. */
static const enum rb_type qt_all_types[] = {
	RB_TYPE_F32,  RB_TYPE_F16,  RB_TYPE_BF16, RB_TYPE_Q4_0, RB_TYPE_Q4_1,
	RB_TYPE_Q5_0, RB_TYPE_Q5_1, RB_TYPE_Q8_0, RB_TYPE_Q4_K, RB_TYPE_Q5_K,
	RB_TYPE_Q6_K, RB_TYPE_Q8_1, RB_TYPE_Q8_K,
};
#define QT_NTYPES ((int)(sizeof(qt_all_types) / sizeof(qt_all_types[0])))

/* Standard normal (Box-Muller on the test PRNG). */
static inline float qt_gauss(uint64_t *s)
{
	const double u1 = ((double)(rb_test_rand_u64(s) >> 11) + 1.0) / 9007199254740993.0;
	const double u2 = (double)(rb_test_rand_u64(s) >> 11) / 9007199254740992.0;
	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static inline int qt_rand_int(uint64_t *s, int lo, int hi) /* inclusive */
{
	return lo + (int)(rb_test_rand_u64(s) % (uint64_t)(hi - lo + 1));
}

/* A random f16 bit pattern of a normal number with |value| in
 * [2^emin, 2^(emax+1)), sign random if signed_ok. */
static inline uint16_t qt_rand_f16(uint64_t *s, int emin, int emax, int signed_ok)
{
	const int e = qt_rand_int(s, emin, emax) + 15;
	const uint16_t mant = (uint16_t)(rb_test_rand_u64(s) & 0x3ff);
	const uint16_t sign = signed_ok && (rb_test_rand_u64(s) & 1) ? 0x8000 : 0;
	return (uint16_t)(sign | e << 10 | mant);
}

/* Value of a normal or zero f16 pattern by ldexp (independent of fp16.h). */
static inline double qt_f16_value(uint16_t h)
{
	const int e = (h >> 10) & 31, m = h & 1023;
	const double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
	return h & 0x8000 ? -v : v;
}

static inline size_t qt_row_bytes(enum rb_type t, int64_t n)
{
	return rb_row_size(t, n);
}

#endif
