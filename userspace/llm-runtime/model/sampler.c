/* SPDX-License-Identifier: MIT */
/* Token sampling: penalties, greedy, top-k, top-p, min-p, temperature, draw.
 * The order of the stages is documented in rosenblatt/sampler.h. */
#include "rosenblatt/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct rb_sampler {
	rb_sampler_params p;
	int64_t n_vocab;
	float *work;          /* penalized logits, n_vocab */
	rb_token_prob *cand;  /* candidates, n_vocab */
	uint32_t *stamp;      /* per token: last penalty pass that touched it */
	uint32_t stamp_gen;
	int32_t *hist;        /* ring of the last repeat_last_n accepted tokens */
	int64_t hist_len, hist_head;
	uint64_t rng[4];      /* xoshiro256** state */
};

rb_sampler_params rb_sampler_default_params(void)
{
	return (rb_sampler_params){
		.temp = 0.8f,
		.top_k = 40,
		.top_p = 0.95f,
		.min_p = 0.05f,
		.repeat_penalty = 1.0f,
		.repeat_last_n = 64,
		.seed = 0,
	};
}

/* ---- PRNG: xoshiro256** (Blackman & Vigna), seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4])
{
	const uint64_t result = rotl64(s[1] * 5, 7) * 9;
	const uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

static void rng_seed(uint64_t s[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		s[i] = splitmix64(&seed);
}

/* ---- life cycle ---------------------------------------------------------- */

rb_sampler *rb_sampler_create(const rb_sampler_params *p, int64_t n_vocab, rb_err *err)
{
	if (n_vocab <= 0 || n_vocab > INT32_MAX) {
		rb_err_set(err, RB_E_INVALID, "sampler: bad vocabulary size %lld", (long long)n_vocab);
		return NULL;
	}
	if (p->repeat_last_n < 0 || !(p->repeat_penalty > 0.0f) || isnan(p->temp) ||
	    isnan(p->top_p) || isnan(p->min_p)) {
		rb_err_set(err, RB_E_INVALID,
			   "sampler: bad parameters (repeat-penalty %g must be > 0, "
			   "repeat-last-n %d must be >= 0)", (double)p->repeat_penalty,
			   (int)p->repeat_last_n);
		return NULL;
	}
	rb_sampler *s = calloc(1, sizeof(*s));
	if (!s)
		goto oom;
	s->p = *p;
	s->n_vocab = n_vocab;
	s->work = malloc((size_t)n_vocab * sizeof(*s->work));
	s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
	s->stamp = calloc((size_t)n_vocab, sizeof(*s->stamp));
	s->hist = malloc(((size_t)p->repeat_last_n + 1) * sizeof(*s->hist));
	if (!s->work || !s->cand || !s->stamp || !s->hist)
		goto oom;
	rng_seed(s->rng, p->seed);
	return s;
oom:
	rb_sampler_free(s);
	rb_err_set(err, RB_E_NOMEM, "sampler: out of memory for %lld tokens", (long long)n_vocab);
	return NULL;
}

void rb_sampler_free(rb_sampler *s)
{
	if (!s)
		return;
	free(s->work);
	free(s->cand);
	free(s->stamp);
	free(s->hist);
	free(s);
}

void rb_sampler_accept(rb_sampler *s, int32_t token)
{
	const int64_t cap = s->p.repeat_last_n;
	if (cap == 0 || token < 0 || token >= s->n_vocab)
		return;
	s->hist[s->hist_head] = token;
	s->hist_head = (s->hist_head + 1) % cap;
	if (s->hist_len < cap)
		s->hist_len++;
}

void rb_sampler_reset(rb_sampler *s, uint64_t seed)
{
	s->hist_len = 0;
	s->hist_head = 0;
	rng_seed(s->rng, seed);
}

/* ---- stages -------------------------------------------------------------- */

/* work = logits (NaN read as -inf), then the repetition penalty applied once
 * to every distinct token of the history. */
static void load_penalized(rb_sampler *s, const float *logits)
{
	for (int64_t i = 0; i < s->n_vocab; i++)
		s->work[i] = isnan(logits[i]) ? -INFINITY : logits[i];
	const float pen = s->p.repeat_penalty;
	if (pen == 1.0f || s->hist_len == 0)
		return;
	if (++s->stamp_gen == 0) { /* wrapped: clear the marks */
		memset(s->stamp, 0, (size_t)s->n_vocab * sizeof(*s->stamp));
		s->stamp_gen = 1;
	}
	for (int64_t i = 0; i < s->hist_len; i++) {
		const int32_t t = s->hist[i];
		if (s->stamp[t] == s->stamp_gen)
			continue;
		s->stamp[t] = s->stamp_gen;
		s->work[t] = s->work[t] > 0.0f ? s->work[t] / pen : s->work[t] * pen;
	}
}

/* Strict order: higher logit first, then lower id. */
static inline bool better(const rb_token_prob *a, const rb_token_prob *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Min-heap on `better` (root = worst of the kept ones). */
static void heap_sift_down(rb_token_prob *h, int64_t n, int64_t i)
{
	for (;;) {
		int64_t w = i;
		const int64_t l = 2 * i + 1, r = l + 1;
		if (l < n && better(&h[w], &h[l]))
			w = l;
		if (r < n && better(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		const rb_token_prob t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* h[0..n) is a heap (root = worst): sort it best first, in place. Heap sort
 * rather than qsort, which may malloc a merge buffer (glibc does above 1 KiB):
 * the decode loop allocates nothing. */
static void heap_sort_best_first(rb_token_prob *h, int64_t n)
{
	for (int64_t last = n - 1; last > 0; last--) {
		const rb_token_prob t = h[0];
		h[0] = h[last];
		h[last] = t;
		heap_sift_down(h, last, 0);
	}
}

static void heap_build(rb_token_prob *h, int64_t n)
{
	for (int64_t i = n / 2 - 1; i >= 0; i--)
		heap_sift_down(h, n, i);
}

/* Move the m best of c[0..n) to c[0..m), sorted best first. */
static void partial_sort(rb_token_prob *c, int64_t n, int64_t m)
{
	if (m > n)
		m = n;
	heap_build(c, m);
	for (int64_t i = m; i < n; i++) {
		if (better(&c[i], &c[0])) {
			const rb_token_prob t = c[0];
			c[0] = c[i];
			c[i] = t;
			heap_sift_down(c, m, 0);
		}
	}
	heap_sort_best_first(c, m);
}

/* The k best tokens of work[] into cand[0..k), sorted, without writing all
 * n_vocab candidates first (k is small in practice). */
static int64_t top_k_from_work(rb_sampler *s, int64_t k)
{
	rb_token_prob *h = s->cand;
	for (int64_t i = 0; i < k; i++)
		h[i] = (rb_token_prob){.id = (int32_t)i, .logit = s->work[i]};
	heap_build(h, k);
	for (int64_t i = k; i < s->n_vocab; i++) {
		const rb_token_prob t = {.id = (int32_t)i, .logit = s->work[i]};
		if (better(&t, &h[0])) {
			h[0] = t;
			heap_sift_down(h, k, 0);
		}
	}
	heap_sort_best_first(h, k);
	return k;
}

static int64_t greedy(rb_sampler *s)
{
	int64_t best = 0;
	for (int64_t i = 1; i < s->n_vocab; i++)
		if (s->work[i] > s->work[best])
			best = i;
	s->cand[0] = (rb_token_prob){.id = (int32_t)best, .logit = s->work[best], .p = 1.0f};
	return 1;
}

/* Steps 3-7 on work[]: returns the number of candidates left in cand[],
 * sorted, with final probabilities. */
static int64_t filter(rb_sampler *s)
{
	const rb_sampler_params *p = &s->p;
	int64_t n; /* candidates in cand[] */
	int64_t sorted; /* cand[0..sorted) are the best, in order */
	if (p->top_k > 0 && p->top_k < s->n_vocab) {
		n = sorted = top_k_from_work(s, p->top_k);
	} else {
		n = s->n_vocab;
		for (int64_t i = 0; i < n; i++)
			s->cand[i] = (rb_token_prob){.id = (int32_t)i, .logit = s->work[i]};
		sorted = 0;
	}
	float max = -INFINITY;
	for (int64_t i = 0; i < n; i++)
		max = s->cand[i].logit > max ? s->cand[i].logit : max;
	if (max == -INFINITY) { /* everything masked: nothing to prefer */
		s->cand[0] = (rb_token_prob){.id = 0, .logit = max, .p = 1.0f};
		return 1;
	}
	/* Softmax normalizer at temperature 1 over the top-k set (step 4). */
	double z = 0;
	for (int64_t i = 0; i < n; i++)
		z += exp((double)s->cand[i].logit - max);

	/* min-p (step 6) is a threshold on the logit: p >= min_p * p_max <=>
	 * logit >= max + ln(min_p). Dropping those tokens early is exact as
	 * long as z stays the top-k normalizer, and it keeps the sort short. */
	if (p->min_p > 0.0f && sorted < n) {
		const double thr = (double)max + log((double)p->min_p);
		int64_t kept = 0;
		for (int64_t i = 0; i < n; i++)
			if ((double)s->cand[i].logit >= thr)
				s->cand[kept++] = s->cand[i];
		n = kept;
	}

	/* top-p (step 5): the shortest sorted prefix whose mass reaches top_p;
	 * sort only as much as needed, growing the sorted prefix 8x a time. */
	int64_t keep = n;
	if (p->top_p < 1.0f) {
		const double target = (double)p->top_p * z;
		double cum = 0;
		int64_t i = 0;
		int64_t want = 64;
		keep = -1;
		while (keep < 0) {
			if (sorted < n) {
				if (want > n)
					want = n;
				partial_sort(s->cand, n, want);
				sorted = want;
				want *= 8;
			}
			for (; i < sorted; i++) {
				cum += exp((double)s->cand[i].logit - max);
				if (cum >= target) {
					keep = i + 1;
					break;
				}
			}
			if (keep < 0 && sorted == n)
				keep = n; /* rounding: the whole set */
		}
	}
	if (sorted < keep) {
		partial_sort(s->cand, n, keep);
		sorted = keep;
	}
	n = keep;

	if (p->min_p > 0.0f) { /* already filtered above unless the set came sorted */
		const double thr = (double)max + log((double)p->min_p);
		int64_t kept = 1; /* the best token always survives */
		while (kept < n && (double)s->cand[kept].logit >= thr)
			kept++;
		n = kept;
	}

	/* Temperature (step 7) and final normalization. */
	const double inv_t = 1.0 / (double)p->temp;
	double sum = 0;
	for (int64_t i = 0; i < n; i++) {
		const double e = exp(((double)s->cand[i].logit - max) * inv_t);
		s->cand[i].p = (float)e;
		sum += e;
	}
	for (int64_t i = 0; i < n; i++)
		s->cand[i].p = (float)((double)s->cand[i].p / sum);
	return n;
}

int64_t rb_sampler_candidates(rb_sampler *s, const float *logits, const rb_token_prob **out)
{
	load_penalized(s, logits);
	const int64_t n = s->p.temp <= 0.0f ? greedy(s) : filter(s);
	*out = s->cand;
	return n;
}

int32_t rb_sampler_sample(rb_sampler *s, const float *logits)
{
	const rb_token_prob *c;
	const int64_t n = rb_sampler_candidates(s, logits, &c);
	if (n == 1)
		return c[0].id;
	const double u = rng_uniform(s->rng);
	double cum = 0;
	for (int64_t i = 0; i < n; i++) {
		cum += c[i].p;
		if (u < cum)
			return c[i].id;
	}
	return c[n - 1].id; /* u beyond the rounded total */
}
