/* SPDX-License-Identifier: MIT */
/* Dequantization against the format definition on hand-built blocks.
 *
 * Every block is assembled here bit by bit from chosen field values (scales,
 * mins, integer quants), placing each bit where the GGUF layout puts it
 * (docs/quant-formats.md); the expected values come straight from the chosen
 * fields with the format's formula in double precision, never from the
 * library's unpacking code. Random-byte blocks (as a hostile file could hold)
 * must dequantize and dot without crashing or undefined behaviour. */
#include <string.h>

#include "qtest.h"

static int g_iters;

static void set_bit(uint8_t *bytes, int byte, int bit, int value)
{
	if (value)
		bytes[byte] |= (uint8_t)(1u << bit);
}

/* Exact-or-nearly comparison: the library computes in float; expected is
 * exact in double. tol_rel is relative to `scale` (the magnitude of the
 * terms involved). */
static int count_bad(const float *got, const double *want, const double *scale, int n,
		     double tol_rel)
{
	int bad = 0;
	for (int i = 0; i < n; i++) {
		if (fabs((double)got[i] - want[i]) > tol_rel * scale[i] + 1e-30) {
			if (bad < 3)
				fprintf(stderr, "  element %d: got %.9g want %.9g\n", i, got[i],
					want[i]);
			bad++;
		}
	}
	return bad;
}

/* ---- 32-element types ------------------------------------------------------ */

/* Element e of a 32-block: 4 low bits in byte e % 16, nibble e / 16. */
static void put_nibble(uint8_t qs[16], int e, int v)
{
	for (int bit = 0; bit < 4; bit++)
		set_bit(qs, e % 16, 4 * (e / 16) + bit, (v >> bit) & 1);
}

static void test_q4_0_q5_0(void)
{
	uint64_t s = 1;
	int bad4 = 0, bad5 = 0;
	for (int it = 0; it < g_iters; it++) {
		rb_block_q4_0 b4;
		rb_block_q5_0 b5;
		memset(&b4, 0, sizeof(b4));
		memset(&b5, 0, sizeof(b5));
		b4.d = b5.d = qt_rand_f16(&s, -14, 10, 1);
		const double d = qt_f16_value(b4.d);
		double want4[32], want5[32], mag[32];
		for (int e = 0; e < 32; e++) {
			const int v = qt_rand_int(&s, 0, 31);
			put_nibble(b4.qs, e, v & 15);
			put_nibble(b5.qs, e, v & 15);
			set_bit(b5.qh, e / 8, e % 8, v >> 4); /* bit e of a LE u32 */
			want4[e] = ((v & 15) - 8) * d;
			want5[e] = (v - 16) * d;
			mag[e] = fabs(16 * d);
		}
		float got[32];
		rb_dequantize_row_q4_0(&b4, got, 32);
		bad4 += count_bad(got, want4, mag, 32, 0); /* products are exact */
		rb_dequantize_row_q5_0(&b5, got, 32);
		bad5 += count_bad(got, want5, mag, 32, 0);
	}
	CHECK_EQ_INT(bad4, 0);
	CHECK_EQ_INT(bad5, 0);
}

static void test_q4_1_q5_1(void)
{
	uint64_t s = 2;
	int bad4 = 0, bad5 = 0;
	for (int it = 0; it < g_iters; it++) {
		rb_block_q4_1 b4;
		rb_block_q5_1 b5;
		memset(&b4, 0, sizeof(b4));
		memset(&b5, 0, sizeof(b5));
		b4.d = b5.d = qt_rand_f16(&s, -14, 10, 0);
		b4.m = b5.m = qt_rand_f16(&s, -14, 12, 1);
		const double d = qt_f16_value(b4.d), m = qt_f16_value(b4.m);
		double want4[32], want5[32], mag[32];
		for (int e = 0; e < 32; e++) {
			const int v = qt_rand_int(&s, 0, 31);
			put_nibble(b4.qs, e, v & 15);
			put_nibble(b5.qs, e, v & 15);
			set_bit(b5.qh, e / 8, e % 8, v >> 4);
			want4[e] = (v & 15) * d + m;
			want5[e] = v * d + m;
			mag[e] = fabs(31 * d) + fabs(m);
		}
		float got[32];
		/* one float rounding of the sum: half an ulp of the magnitude */
		rb_dequantize_row_q4_1(&b4, got, 32);
		bad4 += count_bad(got, want4, mag, 32, 0x1p-24);
		rb_dequantize_row_q5_1(&b5, got, 32);
		bad5 += count_bad(got, want5, mag, 32, 0x1p-24);
	}
	CHECK_EQ_INT(bad4, 0);
	CHECK_EQ_INT(bad5, 0);
}

static void test_q8(void)
{
	uint64_t s = 3;
	int bad = 0;
	for (int it = 0; it < g_iters; it++) {
		rb_block_q8_0 b0;
		rb_block_q8_1 b1;
		rb_block_q8_k bk;
		b0.d = b1.d = qt_rand_f16(&s, -14, 15, 1);
		b1.s = 0x3c00; /* not used by dequantization */
		const double mant = 1.0 + (double)(rb_test_rand_u64(&s) % 1000) / 1000;
		bk.d = (float)ldexp(mant, qt_rand_int(&s, -60, 60));
		double w0[256], wk[256], mag[256];
		for (int e = 0; e < 256; e++) {
			const int v = qt_rand_int(&s, -128, 127);
			if (e < 32) {
				b0.qs[e] = b1.qs[e] = (int8_t)v;
				w0[e] = v * qt_f16_value(b0.d);
			}
			bk.qs[e] = (int8_t)v;
			wk[e] = v * (double)bk.d;
			mag[e] = fabs(wk[e]);
		}
		float got[256];
		rb_dequantize_row_q8_0(&b0, got, 32);
		bad += count_bad(got, w0, mag, 32, 0);
		rb_dequantize_row_q8_1(&b1, got, 32);
		bad += count_bad(got, w0, mag, 32, 0);
		rb_dequantize_row_q8_K(&bk, got, 256);
		bad += count_bad(got, wk, mag, 256, 0x1p-24);
	}
	CHECK_EQ_INT(bad, 0);
}

/* A literal block worked out by hand: Q4_0 with d = 0.5 (0x3800), element 0
 * = nibble 0 -> -4.0, element 16 = nibble 15 -> 3.5, element 1 = 9 -> 0.5. */
static void test_q4_0_literal(void)
{
	rb_block_q4_0 b;
	memset(&b, 0x88, sizeof(b)); /* every nibble 8 -> 0.0 */
	b.d = 0x3800;
	b.qs[0] = 0xf0; /* element 0: low nibble 0, element 16: high nibble 15 */
	b.qs[1] = 0x89; /* element 1: 9 */
	float y[32];
	rb_dequantize_row_q4_0(&b, y, 32);
	CHECK(y[0] == -4.0f);
	CHECK(y[16] == 3.5f);
	CHECK(y[1] == 0.5f);
	CHECK(y[17] == 0.0f && y[31] == 0.0f);
}

/* ---- K-quants --------------------------------------------------------------- */

/* Bit `bit` (0..5) of the 6-bit scale (is_min = 0) or min (1) of sub-block j
 * in the 12-byte field: sub-blocks 0-3 keep all 6 bits in bytes 0-3 (scales)
 * / 4-7 (mins); sub-blocks 4-7 keep their low 4 bits in the low (scales) /
 * high (mins) nibble of bytes 8-11, and their top 2 bits in bits 6-7 of
 * bytes 0-3 (scales) / 4-7 (mins). */
static void k_scale_bit_location(int j, int is_min, int bit, int *byte, int *pos)
{
	if (j < 4) {
		*byte = j + 4 * is_min;
		*pos = bit;
	} else if (bit < 4) {
		*byte = 8 + (j - 4);
		*pos = bit + 4 * is_min;
	} else {
		*byte = (j - 4) + 4 * is_min;
		*pos = 6 + (bit - 4);
	}
}

static void put_k_scales(uint8_t scales[12], const int sc[8], const int mn[8])
{
	memset(scales, 0, 12);
	for (int j = 0; j < 8; j++) {
		for (int bit = 0; bit < 6; bit++) {
			int byte, pos;
			k_scale_bit_location(j, 0, bit, &byte, &pos);
			set_bit(scales, byte, pos, (sc[j] >> bit) & 1);
			k_scale_bit_location(j, 1, bit, &byte, &pos);
			set_bit(scales, byte, pos, (mn[j] >> bit) & 1);
		}
	}
}

/* Q4_K/Q5_K element e: 4 low bits in byte (e / 64) * 32 + e % 32 of qs, in
 * the high nibble when e % 64 >= 32; Q5_K's fifth bit is bit e / 32 of
 * qh[e % 32]. */
static void put_k4(uint8_t qs[128], int e, int v)
{
	const int byte = (e / 64) * 32 + e % 32, shift = (e % 64) >= 32 ? 4 : 0;
	for (int bit = 0; bit < 4; bit++)
		set_bit(qs, byte, shift + bit, (v >> bit) & 1);
}

static void test_q4_K_q5_K(void)
{
	uint64_t s = 4;
	int bad4 = 0, bad5 = 0, bad_unpack = 0;
	for (int it = 0; it < g_iters; it++) {
		rb_block_q4_k b4;
		rb_block_q5_k b5;
		memset(&b4, 0, sizeof(b4));
		memset(&b5, 0, sizeof(b5));
		b4.d = b5.d = qt_rand_f16(&s, -14, 8, 0);
		b4.dmin = b5.dmin = qt_rand_f16(&s, -14, 8, 0);
		int sc[8], mn[8];
		for (int j = 0; j < 8; j++) {
			sc[j] = qt_rand_int(&s, 0, 63);
			mn[j] = qt_rand_int(&s, 0, 63);
		}
		put_k_scales(b4.scales, sc, mn);
		memcpy(b5.scales, b4.scales, 12);
		for (int j = 0; j < 8; j++) { /* the library's unpacker agrees */
			uint8_t a, b;
			rb_k_get_scale_min(b4.scales, j, &a, &b);
			bad_unpack += a != sc[j] || b != mn[j];
		}
		const double d = qt_f16_value(b4.d), dmin = qt_f16_value(b4.dmin);
		double want4[256], want5[256], mag[256];
		for (int e = 0; e < 256; e++) {
			const int v = qt_rand_int(&s, 0, 31), j = e / 32;
			put_k4(b4.qs, e, v & 15);
			put_k4(b5.qs, e, v & 15);
			set_bit(b5.qh, e % 32, e / 32, v >> 4);
			want4[e] = d * sc[j] * (v & 15) - dmin * mn[j];
			want5[e] = d * sc[j] * v - dmin * mn[j];
			mag[e] = d * sc[j] * 31 + dmin * mn[j];
		}
		float got[256];
		/* float: d*sc exact, *q exact, one rounding in the subtraction */
		rb_dequantize_row_q4_K(&b4, got, 256);
		bad4 += count_bad(got, want4, mag, 256, 0x1p-23);
		rb_dequantize_row_q5_K(&b5, got, 256);
		bad5 += count_bad(got, want5, mag, 256, 0x1p-23);
	}
	CHECK_EQ_INT(bad4, 0);
	CHECK_EQ_INT(bad5, 0);
	CHECK_EQ_INT(bad_unpack, 0);
}

/* rb_k_pack_scale_min is the exact inverse of the layout above. */
static void test_k_pack(void)
{
	uint64_t s = 5;
	int bad = 0;
	for (int it = 0; it < g_iters; it++) {
		int sc[8], mn[8];
		uint8_t sc8[8], mn8[8], want[12], got[12];
		for (int j = 0; j < 8; j++) {
			sc8[j] = (uint8_t)(sc[j] = qt_rand_int(&s, 0, 63));
			mn8[j] = (uint8_t)(mn[j] = qt_rand_int(&s, 0, 63));
		}
		put_k_scales(want, sc, mn);
		rb_k_pack_scale_min(got, sc8, mn8);
		bad += memcmp(want, got, 12) != 0;
	}
	CHECK_EQ_INT(bad, 0);
}

/* Q6_K element e, h = e / 128, g = (e % 128) / 32, l = e % 32: low 4 bits in
 * ql[64h + 32(g % 2) + l] (high nibble for g >= 2), top 2 bits at bit 2g of
 * qh[32h + l], scale scales[e / 16]; value d * scale * (q - 32). */
static void test_q6_K(void)
{
	uint64_t s = 6;
	int bad = 0;
	for (int it = 0; it < g_iters; it++) {
		rb_block_q6_k b;
		memset(&b, 0, sizeof(b));
		b.d = qt_rand_f16(&s, -14, 8, 1);
		for (int k = 0; k < 16; k++)
			b.scales[k] = (int8_t)qt_rand_int(&s, -128, 127);
		const double d = qt_f16_value(b.d);
		double want[256], mag[256];
		for (int e = 0; e < 256; e++) {
			const int v = qt_rand_int(&s, 0, 63);
			const int h = e / 128, g = (e % 128) / 32, l = e % 32;
			for (int bit = 0; bit < 4; bit++)
				set_bit(b.ql, 64 * h + 32 * (g % 2) + l, 4 * (g / 2) + bit,
					(v >> bit) & 1);
			set_bit(b.qh, 32 * h + l, 2 * g, (v >> 4) & 1);
			set_bit(b.qh, 32 * h + l, 2 * g + 1, (v >> 5) & 1);
			want[e] = d * b.scales[e / 16] * (v - 32);
			mag[e] = fabs(want[e]);
		}
		float got[256];
		rb_dequantize_row_q6_K(&b, got, 256);
		bad += count_bad(got, want, mag, 256, 0); /* 11 + 8 + 6 bits: exact */
	}
	CHECK_EQ_INT(bad, 0);
}

/* Multi-block rows: block b of the output comes from block b of the input. */
static void test_rows_of_blocks(void)
{
	rb_block_q4_k b[3];
	memset(b, 0, sizeof(b));
	for (int i = 0; i < 3; i++) {
		b[i].d = rb_f32_to_f16((float)(i + 1));
		b[i].dmin = 0;
		const int sc[8] = {1, 1, 1, 1, 1, 1, 1, 1}, mn[8] = {0};
		put_k_scales(b[i].scales, sc, mn);
		memset(b[i].qs, 0x11, sizeof(b[i].qs)); /* every q = 1 */
	}
	float y[768];
	CHECK_EQ_INT(rb_dequantize_row(RB_TYPE_Q4_K, b, y, 768), RB_OK);
	CHECK(y[0] == 1.0f && y[255] == 1.0f && y[256] == 2.0f && y[767] == 3.0f);
}

/* Bytes straight from a hostile file: no crash, no UB (ASan/UBSan builds). */
static void test_random_bytes(void)
{
	uint64_t s = 7;
	enum { NB = 4 };
	static uint8_t x[NB * 292], y[NB * 292 + 4096];
	float out[NB * 256];
	int ran = 0;
	for (int it = 0; it < g_iters; it++) {
		for (size_t i = 0; i < sizeof(x); i++)
			x[i] = (uint8_t)rb_test_rand_u64(&s);
		for (size_t i = 0; i < sizeof(y); i++)
			y[i] = (uint8_t)rb_test_rand_u64(&s);
		for (int t = 0; t < QT_NTYPES; t++) {
			const enum rb_type type = qt_all_types[t];
			const rb_type_traits *tr = rb_type_traits_get(type);
			const int64_t n = (int64_t)tr->block_size * NB;
			if (type == RB_TYPE_F32 || type == RB_TYPE_F16 || type == RB_TYPE_BF16)
				continue; /* plain types: covered by tests/common */
			rb_dequantize_row(type, x, out, n);
			float dot;
			if (tr->vec_dot && tr->vec_dot_type != RB_TYPE_F32)
				ran += rb_vec_dot(type, n, &dot, x, y) == RB_OK;
		}
	}
	CHECK(ran > 0);
}

int main(void)
{
	g_iters = rb_test_quick() ? 200 : 2000;
	test_q4_0_literal();
	test_q4_0_q5_0();
	test_q4_1_q5_1();
	test_q8();
	test_k_pack();
	test_q4_K_q5_K();
	test_q6_K();
	test_rows_of_blocks();
	test_random_bytes();
	return rb_test_finish();
}
