/* SPDX-License-Identifier: MIT */
/* Minimal test helpers: CHECK* record a failure (file:line + message) and go
 * on; the test's main returns rb_test_finish(). */
#ifndef RB_TEST_H
#define RB_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rb_test_failures;
static int rb_test_checks;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		rb_test_checks++;                                                     \
		if (!(cond)) {                                                        \
			rb_test_failures++;                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

#define CHECKF(cond, ...)                                                             \
	do {                                                                          \
		rb_test_checks++;                                                     \
		if (!(cond)) {                                                        \
			rb_test_failures++;                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
		}                                                                     \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                            \
	CHECKF((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a), (long long)(b))

#define CHECK_NEAR(a, b, tol)                                                         \
	CHECKF(fabs((double)(a) - (double)(b)) <= (double)(tol), "%.9g vs %.9g (tol %.3g)", \
	       (double)(a), (double)(b), (double)(tol))

#define CHECK_STR(a, b)                                                               \
	CHECKF(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))

/* Fatal: stop the test now (e.g. a file that must exist is missing). */
#define REQUIRE(cond)                                                                 \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                      \
		}                                                                     \
	} while (0)

static inline int rb_test_quick(void)
{
	const char *q = getenv("RB_TEST_QUICK");
	return q && *q && strcmp(q, "0") != 0;
}

static inline int rb_test_finish(void)
{
	if (rb_test_failures) {
		fprintf(stderr, "FAILED: %d of %d checks\n", rb_test_failures, rb_test_checks);
		return 1;
	}
	printf("ok: %d checks\n", rb_test_checks);
	return 0;
}

/* Deterministic PRNG for test data (splitmix64). */
static inline uint64_t rb_test_rand_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
/* Uniform in [-1, 1). */
static inline float rb_test_rand_f32(uint64_t *s)
{
	return (float)((double)(rb_test_rand_u64(s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

#endif
