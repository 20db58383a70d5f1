/* SPDX-License-Identifier: MIT */
/* IEEE-754 binary16 and bfloat16 <-> binary32, scalar and bit exact
 * (round to nearest even, NaN preserved as quiet NaN). */
#ifndef ROSENBLATT_FP16_H
#define ROSENBLATT_FP16_H

#include <stdint.h>
#include <string.h>

typedef uint16_t rb_f16;  /* binary16 bit pattern */
typedef uint16_t rb_bf16; /* bfloat16 bit pattern */

static inline uint32_t rb_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float rb_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float rb_f16_to_f32(rb_f16 h)
{
	const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	const uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;
	if (exp == 0x1f) /* inf / nan */
		return rb_bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
	if (exp != 0)
		return rb_bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
	if (mant == 0)
		return rb_bits_f32(sign);
	/* subnormal: value = mant * 2^-24 */
	float v = (float)mant * 5.9604644775390625e-8f;
	return sign ? -v : v;
}

static inline rb_f16 rb_f32_to_f16(float f)
{
	const uint32_t u = rb_f32_bits(f);
	const uint32_t sign = (u >> 16) & 0x8000u;
	const uint32_t a = u & 0x7fffffffu;
	if (a > 0x7f800000u) /* nan: keep it quiet */
		return (rb_f16)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
	if (a >= 0x477ff000u) /* rounds to >= 65520 -> inf */
		return (rb_f16)(sign | 0x7c00u);
	if (a < 0x38800000u) { /* result subnormal or zero */
		if (a < 0x33000000u) /* < 2^-25: rounds to zero */
			return (rb_f16)sign;
		const uint32_t e = a >> 23;
		const uint32_t m = (a & 0x7fffffu) | 0x800000u;
		const uint32_t shift = 126u - e; /* 14..25 */
		uint32_t r = m >> shift;
		const uint32_t rem = m & ((1u << shift) - 1u);
		const uint32_t half = 1u << (shift - 1u);
		if (rem > half || (rem == half && (r & 1u)))
			r++;
		return (rb_f16)(sign | r);
	}
	/* normal: rebias exponent, round mantissa to 10 bits (carry may bump exponent) */
	uint32_t r = ((a >> 13) - (112u << 10));
	const uint32_t rem = a & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (r & 1u)))
		r++;
	return (rb_f16)(sign | r);
}

static inline float rb_bf16_to_f32(rb_bf16 h) { return rb_bits_f32((uint32_t)h << 16); }

static inline rb_bf16 rb_f32_to_bf16(float f)
{
	uint32_t u = rb_f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (rb_bf16)((u >> 16) | 0x40u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (rb_bf16)(u >> 16);
}

#endif
