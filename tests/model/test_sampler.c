/* SPDX-License-Identifier: MIT */
/* Sampler stages against brute-force expectations (full sorts, explicit
 * softmax in double), and the draw checked statistically with a fixed seed. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/sampler.h"
#include "test.h"

struct ip {
	int32_t id;
	double logit;
};

static int cmp_desc(const void *pa, const void *pb)
{
	const struct ip *a = pa, *b = pb;
	if (a->logit != b->logit)
		return a->logit > b->logit ? -1 : 1;
	return a->id < b->id ? -1 : 1;
}

/* The specification of rosenblatt/sampler.h, written the slow obvious way:
 * returns the kept ids (sorted best first) and their final probabilities. */
static int64_t brute(const float *logits, int64_t n, const rb_sampler_params *p,
		     const int32_t *hist, int64_t n_hist, int32_t *ids, double *probs)
{
	struct ip *c = malloc(sizeof(*c) * (size_t)n);
	REQUIRE(c);
	for (int64_t i = 0; i < n; i++)
		c[i] = (struct ip){(int32_t)i, logits[i]};
	const int64_t from = n_hist > p->repeat_last_n ? n_hist - p->repeat_last_n : 0;
	for (int64_t i = 0; i < n; i++) {
		bool in = false;
		for (int64_t h = from; h < n_hist; h++)
			in |= hist[h] == i;
		if (in && p->repeat_penalty != 1.0f)
			c[i].logit = c[i].logit > 0 ? (float)(c[i].logit / p->repeat_penalty)
						    : (float)(c[i].logit * p->repeat_penalty);
	}
	qsort(c, (size_t)n, sizeof(*c), cmp_desc);
	int64_t k = n;
	if (p->temp <= 0)
		k = 1;
	if (p->top_k > 0 && p->top_k < k)
		k = p->top_k;
	if (p->temp > 0) {
		double z = 0;
		for (int64_t i = 0; i < k; i++)
			z += exp(c[i].logit - c[0].logit);
		if (p->top_p < 1.0f) {
			double cum = 0;
			int64_t i = 0;
			for (; i < k; i++) {
				cum += exp(c[i].logit - c[0].logit) / z;
				if (cum >= p->top_p)
					break;
			}
			k = i < k ? i + 1 : k;
		}
		if (p->min_p > 0) {
			int64_t i = 1;
			while (i < k && exp(c[i].logit - c[0].logit) >= p->min_p)
				i++;
			k = i;
		}
	}
	double z = 0;
	for (int64_t i = 0; i < k; i++)
		z += p->temp > 0 ? exp((c[i].logit - c[0].logit) / p->temp) : 1.0;
	for (int64_t i = 0; i < k; i++) {
		ids[i] = c[i].id;
		probs[i] = (p->temp > 0 ? exp((c[i].logit - c[0].logit) / p->temp) : 1.0) / z;
	}
	free(c);
	return k;
}

static rb_sampler_params plain(void)
{
	rb_sampler_params p = rb_sampler_default_params();
	p.temp = 1.0f;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0.0f;
	p.repeat_penalty = 1.0f;
	p.seed = 42;
	return p;
}

static void random_logits(float *l, int64_t n, uint64_t *rng, float scale)
{
	for (int64_t i = 0; i < n; i++)
		l[i] = scale * rb_test_rand_f32(rng);
}

/* Candidates of the sampler vs the brute-force set, same order and probabilities. */
static void compare(const char *what, const rb_sampler_params *p, const float *logits,
		    int64_t n, const int32_t *hist, int64_t n_hist)
{
	rb_err err = {0};
	rb_sampler *s = rb_sampler_create(p, n, &err);
	REQUIRE(s);
	for (int64_t i = 0; i < n_hist; i++)
		rb_sampler_accept(s, hist[i]);
	const rb_token_prob *c;
	const int64_t k = rb_sampler_candidates(s, logits, &c);
	int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
	double *probs = malloc(sizeof(double) * (size_t)n);
	REQUIRE(ids && probs);
	const int64_t kb = brute(logits, n, p, hist, n_hist, ids, probs);
	CHECKF(k == kb, "%s: %lld candidates, expected %lld", what, (long long)k, (long long)kb);
	double sum = 0;
	int bad = 0;
	for (int64_t i = 0; i < k && i < kb; i++) {
		sum += c[i].p;
		if (c[i].id != ids[i] || fabs(c[i].p - probs[i]) > 1e-5)
			bad++;
	}
	CHECKF(bad == 0, "%s: %d candidates differ from brute force", what, bad);
	CHECK_NEAR(sum, 1.0, 1e-4);
	free(ids);
	free(probs);
	rb_sampler_free(s);
}

static void test_stages(void)
{
	uint64_t rng = 7;
	const int64_t n = 1000;
	float *l = malloc(sizeof(float) * (size_t)n);
	REQUIRE(l);
	random_logits(l, n, &rng, 4.0f);
	rb_sampler_params p = plain();

	p.temp = 0;
	compare("greedy", &p, l, n, NULL, 0);
	p = plain();
	p.top_k = 40;
	compare("top-k 40", &p, l, n, NULL, 0);
	p = plain();
	p.top_p = 0.5f;
	compare("top-p 0.5", &p, l, n, NULL, 0);
	p.top_p = 0.0f;
	compare("top-p 0 keeps one", &p, l, n, NULL, 0);
	p = plain();
	p.min_p = 0.1f;
	compare("min-p 0.1", &p, l, n, NULL, 0);
	p = plain();
	p.temp = 0.7f;
	p.top_k = 100;
	p.top_p = 0.9f;
	p.min_p = 0.02f;
	compare("k100 p0.9 minp0.02 t0.7", &p, l, n, NULL, 0);
	p.temp = 1.5f;
	compare("k100 p0.9 minp0.02 t1.5", &p, l, n, NULL, 0);
	p = plain(); /* no filter at all: the whole vocabulary, sorted */
	compare("all", &p, l, n, NULL, 0);

	/* repetition penalty: distinct tokens once, only the last N */
	int32_t hist[12];
	for (int i = 0; i < 12; i++)
		hist[i] = (int32_t)(rb_test_rand_u64(&rng) % 50);
	hist[3] = hist[4] = hist[5]; /* repeats are penalized once */
	for (int i = 0; i < 50; i++) /* positive and negative logits among them */
		l[i] = (i % 2 ? 1.0f : -1.0f) * (3.0f + (float)i * 0.01f);
	p = plain();
	p.repeat_penalty = 1.3f;
	p.repeat_last_n = 8;
	p.temp = 0;
	compare("penalty greedy", &p, l, n, hist, 12);
	p.temp = 1.0f;
	p.top_k = 60;
	compare("penalty top-k", &p, l, n, hist, 12);
	free(l);
}

/* The exact set and order for a Qwen-sized vocabulary with no top-k (the
 * sorting shortcut grows its prefix several times here). */
static void test_large_vocab(void)
{
	const int64_t n = rb_test_quick() ? 20000 : 151936;
	float *l = malloc(sizeof(float) * (size_t)n);
	REQUIRE(l);
	uint64_t rng = 99;
	random_logits(l, n, &rng, 3.0f);
	rb_sampler_params p = plain();
	p.top_p = 0.9f;
	compare("large top-p 0.9", &p, l, n, NULL, 0);
	p.top_p = 0.95f;
	p.min_p = 0.05f;
	compare("large top-p 0.95 min-p 0.05", &p, l, n, NULL, 0);
	p.top_p = 1.0f;
	p.min_p = 0.5f;
	compare("large min-p 0.5", &p, l, n, NULL, 0);
	free(l);
}

static void test_ties_and_nan(void)
{
	float l[6] = {1.0f, 3.0f, NAN, 3.0f, -INFINITY, 2.0f};
	rb_sampler_params p = plain();
	p.temp = 0;
	rb_err err;
	rb_sampler *s = rb_sampler_create(&p, 6, &err);
	REQUIRE(s);
	CHECK_EQ_INT(rb_sampler_sample(s, l), 1); /* lowest id of the tie, NaN ignored */
	rb_sampler_free(s);
	p = plain();
	s = rb_sampler_create(&p, 6, &err);
	const rb_token_prob *c;
	const int64_t k = rb_sampler_candidates(s, l, &c);
	CHECK_EQ_INT(k, 6);
	CHECK_EQ_INT(c[0].id, 1);
	CHECK_EQ_INT(c[1].id, 3);
	CHECK(c[4].p == 0.0f && c[5].p == 0.0f); /* -inf and NaN get no mass */
	for (int i = 0; i < 50; i++) {
		const int32_t t = rb_sampler_sample(s, l);
		CHECK(t != 2 && t != 4);
	}
	rb_sampler_free(s);
	/* bad parameters */
	p.repeat_penalty = 0.0f;
	CHECK(rb_sampler_create(&p, 6, &err) == NULL);
	CHECK(err.code == RB_E_INVALID);
	p = plain();
	CHECK(rb_sampler_create(&p, 0, &err) == NULL);
}

/* Draws follow the candidate probabilities: counts within 5 standard
 * deviations of n * p for every token; the same seed repeats the sequence. */
static void test_statistics(void)
{
	const float l[5] = {0.0f, 1.0f, 2.0f, 0.5f, -1.0f};
	rb_sampler_params p = plain();
	p.temp = 0.8f;
	p.seed = 1234;
	rb_err err;
	rb_sampler *s = rb_sampler_create(&p, 5, &err);
	REQUIRE(s);
	const rb_token_prob *c;
	const int64_t k = rb_sampler_candidates(s, l, &c);
	REQUIRE(k == 5);
	double expect[5];
	double z = 0;
	for (int i = 0; i < 5; i++)
		z += exp(l[i] / 0.8);
	for (int i = 0; i < 5; i++)
		expect[i] = exp(l[i] / 0.8) / z;
	const int N = rb_test_quick() ? 20000 : 100000;
	int count[5] = {0};
	int32_t first[32];
	for (int i = 0; i < N; i++) {
		const int32_t t = rb_sampler_sample(s, l);
		REQUIRE(t >= 0 && t < 5);
		count[t]++;
		if (i < 32)
			first[i] = t;
	}
	for (int i = 0; i < 5; i++) {
		const double mean = N * expect[i], sd = sqrt(N * expect[i] * (1 - expect[i]));
		CHECKF(fabs(count[i] - mean) <= 5 * sd, "token %d: %d draws, expected %.0f +- %.0f", i,
		       count[i], mean, sd);
	}
	/* determinism: reset with the same seed replays the draws */
	rb_sampler_reset(s, 1234);
	int same = 0;
	for (int i = 0; i < 32; i++)
		same += rb_sampler_sample(s, l) == first[i];
	CHECK_EQ_INT(same, 32);
	/* another seed gives another sequence */
	rb_sampler_reset(s, 1235);
	same = 0;
	for (int i = 0; i < 32; i++)
		same += rb_sampler_sample(s, l) == first[i];
	CHECK(same < 32);
	rb_sampler_free(s);

	/* top-k 2 draws only the two best, in proportion */
	p.top_k = 2;
	p.temp = 1.0f;
	s = rb_sampler_create(&p, 5, &err);
	int c2 = 0, c1 = 0;
	for (int i = 0; i < 20000; i++) {
		const int32_t t = rb_sampler_sample(s, l);
		CHECK(t == 1 || t == 2);
		c2 += t == 2;
		c1 += t == 1;
	}
	const double p2 = exp(2.0) / (exp(2.0) + exp(1.0));
	CHECKF(fabs(c2 - 20000 * p2) <= 5 * sqrt(20000 * p2 * (1 - p2)), "top-2: %d of 20000", c2);
	rb_sampler_free(s);
}

int main(void)
{
	test_stages();
	test_large_vocab();
	test_ties_and_nan();
	test_statistics();
	return rb_test_finish();
}
