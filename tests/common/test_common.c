/* SPDX-License-Identifier: MIT */
/* fp16/bf16 conversions against the exact definition, type sizes, thread pool. */
#include <sched.h>
#include <stdatomic.h>

#include "rosenblatt/cpu.h"
#include "rosenblatt/fp16.h"
#include "rosenblatt/threadpool.h"
#include "rosenblatt/types.h"
#include "rosenblatt/rng.h"
#include "rosenblatt/scratch.h"
#include "test.h"

/* Exact binary16 value of a bit pattern, computed with ldexp (independent of
 * the bit tricks in fp16.h). */
static double f16_value(uint16_t h)
{
	const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
	double v;
	if (e == 31)
		v = m ? NAN : INFINITY;
	else if (e == 0)
		v = ldexp(m, -24);
	else
		v = ldexp(1024 + m, e - 25);
	return s ? -v : v;
}

static void test_f16_all_patterns(void)
{
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		const double want = f16_value((uint16_t)h);
		const float got = rb_f16_to_f32((uint16_t)h);
		if (isnan(want)) {
			bad += !isnan(got);
			continue;
		}
		bad += (double)got != want;
		/* round trip of every non-NaN pattern is exact */
		bad += rb_f32_to_f16(got) != (uint16_t)h;
	}
	CHECK_EQ_INT(bad, 0);
}

/* f32 -> f16 rounding: compare with nearest-even chosen by brute force over
 * the neighbouring f16 values. */
static void test_f16_rounding(void)
{
	uint64_t seed = 1;
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		const uint32_t bits = (uint32_t)rb_test_rand_u64(&seed);
		float f = rb_bits_f32(bits & 0x8fffffffu); /* magnitudes up to ~2^17 */
		if (i % 3 == 0)
			f = rb_bits_f32(0x33000000u + (bits % 0x05800000u)); /* subnormal range */
		if (isnan(f))
			continue;
		const uint16_t h = rb_f32_to_f16(f);
		const double got = f16_value(h);
		/* best candidate: scan patterns of the same sign near the result */
		const double fd = (double)f;
		double best_err = INFINITY;
		for (int d = -2; d <= 2; d++) {
			const int cand = (int)(h & 0x7fff) + d;
			if (cand < 0 || cand > 0x7c00)
				continue;
			const double v = f16_value((uint16_t)((h & 0x8000) | cand));
			const double err = fabs(v - fd);
			if (err < best_err)
				best_err = err;
		}
		const double err = fabs(got - fd);
		if (err > best_err)
			bad++;
		if (err == best_err && isfinite(got)) {
			/* ties must go to even */
			const int other = (int)(h & 0x7fff) + ((got > fd) == (fd > 0) ? -1 : 1);
			if (other >= 0 && other <= 0x7bff) {
				const double ov = f16_value((uint16_t)((h & 0x8000) | other));
				if (fabs(ov - fd) == err && (h & 1))
					bad++;
			}
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(rb_f32_to_f16(65520.0f), 0x7c00);   /* rounds to inf */
	CHECK_EQ_INT(rb_f32_to_f16(65519.0f), 0x7bff);   /* max finite */
	CHECK_EQ_INT(rb_f32_to_f16(-0.0f), 0x8000);
	CHECK(isnan(rb_f16_to_f32(rb_f32_to_f16(NAN))));
}

static void test_bf16(void)
{
	CHECK_EQ_INT(rb_f32_to_bf16(1.0f), 0x3f80);
	CHECK_EQ_INT(rb_f32_to_bf16(rb_bits_f32(0x3f808000u)), 0x3f80); /* tie -> even */
	CHECK_EQ_INT(rb_f32_to_bf16(rb_bits_f32(0x3f818000u)), 0x3f82); /* tie -> even (up) */
	CHECK_EQ_INT(rb_f32_to_bf16(rb_bits_f32(0x3f808001u)), 0x3f81);
	CHECK(rb_bf16_to_f32(0xc000) == -2.0f);
}

static void test_type_sizes(void)
{
	CHECK_EQ_INT(rb_row_size(RB_TYPE_Q4_K, 1536), 6 * 144);
	CHECK_EQ_INT(rb_row_size(RB_TYPE_Q6_K, 8960), 35 * 210);
	CHECK_EQ_INT(rb_row_size(RB_TYPE_Q8_0, 64), 2 * 34);
	CHECK_EQ_INT(rb_row_size(RB_TYPE_F16, 7), 14);
	CHECK_EQ_INT(rb_row_size(RB_TYPE_Q4_0, 33), 0); /* not a multiple of the block */
	CHECK_EQ_INT(rb_row_size((enum rb_type)4, 32), 0); /* retired id */
	CHECK(!rb_type_is_valid(4) && !rb_type_is_valid(5) && !rb_type_is_valid(1000));
	CHECK_STR(rb_type_name(RB_TYPE_Q4_K), "q4_K");
	CHECK_STR(rb_type_name(RB_TYPE_BF16), "bf16");
}

struct sum_job {
	const int *v;
	long n;
	_Atomic long long total;
	_Atomic int calls;
};

static void sum_part(void *arg, int ith, int nth)
{
	struct sum_job *j = arg;
	long b, e;
	rb_split_range(j->n, ith, nth, &b, &e);
	long long s = 0;
	for (long i = b; i < e; i++)
		s += j->v[i];
	atomic_fetch_add(&j->total, s);
	atomic_fetch_add(&j->calls, 1);
}

/* The default thread count stays within the CPUs the process may use. */
static void test_default_threads(void)
{
	cpu_set_t all, one;
	REQUIRE(sched_getaffinity(0, sizeof(all), &all) == 0);
	const int n = rb_default_threads();
	CHECKF(n >= 1 && n <= CPU_COUNT(&all), "default threads %d, allowed CPUs %d", n,
	       CPU_COUNT(&all));
	int first = 0;
	while (!CPU_ISSET(first, &all))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == 0) { /* as under taskset -c */
		CHECK_EQ_INT(rb_default_threads(), 1);
		REQUIRE(sched_setaffinity(0, sizeof(all), &all) == 0);
	}
}

static void test_threadpool(void)
{
	enum { N = 100003 };
	static int v[N];
	long long want = 0;
	for (int i = 0; i < N; i++) {
		v[i] = (i * 7919) % 1000 - 500;
		want += v[i];
	}
	for (int nt = 1; nt <= 4; nt++) {
		rb_threadpool *tp = rb_threadpool_create(nt);
		REQUIRE(tp != NULL);
		CHECK_EQ_INT(rb_threadpool_size(tp), nt);
		for (int rep = 0; rep < 300; rep++) {
			struct sum_job j = {.v = v, .n = N};
			rb_threadpool_run(tp, sum_part, &j);
			CHECK_EQ_INT(j.total, want);
			CHECK_EQ_INT(j.calls, nt);
		}
		rb_threadpool_destroy(tp);
	}
	/* ranges tile [0, n) exactly */
	for (int nth = 1; nth <= 9; nth++) {
		long next = 0;
		for (int i = 0; i < nth; i++) {
			long b, e;
			rb_split_range(17, i, nth, &b, &e);
			CHECK_EQ_INT(b, next);
			next = e;
		}
		CHECK_EQ_INT(next, 17);
	}
	test_default_threads();
}

/* Grow-only scratch: aligned, grows only when asked for more, keeps the
 * buffer otherwise; splitmix64 against its published first outputs. */
static void test_scratch_and_rng(void)
{
	void *buf = NULL;
	size_t have = 0;
	rb_err err = {0};
	CHECK_EQ_INT(rb_scratch_grow(&buf, &have, 100, "test", &err), RB_OK);
	REQUIRE(buf);
	CHECK(have >= 100 && ((uintptr_t)buf & 63) == 0);
	void *first = buf;
	memset(buf, 1, have);
	CHECK_EQ_INT(rb_scratch_grow(&buf, &have, 50, "test", &err), RB_OK);
	CHECK(buf == first);
	const size_t h = have;
	CHECK_EQ_INT(rb_scratch_grow(&buf, &have, h + 1, "test", &err), RB_OK);
	CHECK(have > h && ((uintptr_t)buf & 63) == 0);
	memset(buf, 2, have);
	CHECK_EQ_INT(rb_scratch_grow(&buf, &have, (size_t)-4096, "the test", &err), RB_E_NOMEM);
	CHECK(strstr(err.msg, "the test") != NULL);
	CHECK(buf != NULL && have > h); /* the old buffer stays */
	free(buf);
	/* seed 0: the reference implementation's first outputs */
	uint64_t s = 0;
	CHECK(rb_splitmix64(&s) == 0xe220a8397b1dcdafull);
	CHECK(rb_splitmix64(&s) == 0x6e789e6aa1b965f4ull);
	CHECK(rb_splitmix64(&s) == 0x06c45d188009454full);
}

int main(void)
{
	test_f16_all_patterns();
	test_f16_rounding();
	test_bf16();
	test_type_sizes();
	test_threadpool();
	test_scratch_and_rng();
	printf("cpu: %s\n", rb_cpu_describe());
	return rb_test_finish();
}
