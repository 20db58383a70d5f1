/* SPDX-License-Identifier: MIT */
/* Weighted least-squares fits of a small block of floats onto an integer grid:
 * the core of the weight quantizers.
 *
 * Both searches work the same way (our own scheme, see docs/quant-formats.md):
 *  1. a handful of candidate grids spaced around the block's range (the
 *     largest value landing a little inside or outside the end of the grid;
 *     for the offset fit grids anchored at the minimum, the centre and the
 *     maximum of the block);
 *  2. for each candidate: round every value to the grid, then solve the
 *     weighted least-squares problem for the scale (and offset) with those
 *     integers fixed; keep the candidate with the smallest error;
 *  3. a few Lloyd iterations on the winner (re-round with the fitted scale,
 *     re-fit), each of which can only lower the error.
 * Sums are accumulated in double so that blocks of huge or tiny magnitude
 * fit as well as ordinary ones. */
#include "quant_impl.h"

#include <string.h>

#define FIT_MAX_N 256
#define LLOYD_ITERS 4

float rb_q_prepare(int n, const float *src, float *dst, float *w)
{
	double sum_sq = 0;
	float amax = 0;
	for (int i = 0; i < n; i++) {
		const float v = rb_q_finite(src[i]);
		dst[i] = v;
		sum_sq += (double)v * v;
		if (fabsf(v) > amax)
			amax = fabsf(v);
	}
	/* why this weighting: quant_impl.h */
	const double inv_4mean = sum_sq > 0 ? n / (4.0 * sum_sq) : 0;
	for (int i = 0; i < n; i++)
		w[i] = (float)(1.0 + (double)dst[i] * dst[i] * inv_4mean);
	return amax;
}

/* ---- x ~ s * q ---------------------------------------------------------- */

/* Round x / s (given as x * inv) to the grid; return sum w x q and sum w q^2. */
static void sym_assign(int n, const float *x, const float *w, float inv, int qmin, int qmax,
		       int8_t *q, double *sxq, double *sqq)
{
	double a = 0, b = 0;
	for (int i = 0; i < n; i++) {
		const int qi = rb_q_round(x[i] * inv, qmin, qmax);
		q[i] = (int8_t)qi;
		a += (double)w[i] * x[i] * qi;
		b += (double)w[i] * qi * qi;
	}
	*sxq = a;
	*sqq = b;
}

/* With q fixed the best scale is sxq / sqq and the error drops by
 * sxq^2 / sqq below sum w x^2: that gain is what we maximize. */
static double sym_gain(double sxq, double sqq)
{
	return sqq > 0 ? sxq * sxq / sqq : -1.0;
}

float rb_fit_symmetric(int n, const float *x, const float *w, int qmin, int qmax, int8_t *q)
{
	int8_t tmp[FIT_MAX_N];
	float amax = 0, vmax = 0;
	for (int i = 0; i < n; i++) {
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			vmax = x[i];
		}
	}
	if (amax == 0) {
		if (q)
			memset(q, 0, (size_t)n);
		return 0;
	}

	double best_gain = -1, best_s = 0;
	const int ends[2] = {qmin, qmax};
	for (int e = 0; e < 2; e++) {
		const float level = fabsf((float)ends[e]);
		/* the largest value lands 2.5 levels inside to 1 outside this end */
		for (int k = -5; k <= 2; k++) {
			const float r = level + 0.5f * (float)k;
			if (r < 0.5f)
				continue;
			const float inv = copysignf(r, (float)ends[e]) / vmax;
			double sxq, sqq;
			sym_assign(n, x, w, inv, qmin, qmax, tmp, &sxq, &sqq);
			const double g = sym_gain(sxq, sqq);
			if (g > best_gain) {
				best_gain = g;
				best_s = sxq / sqq;
			}
		}
	}
	for (int it = 0; it < LLOYD_ITERS && best_s != 0; it++) {
		double sxq, sqq;
		sym_assign(n, x, w, (float)(1.0 / best_s), qmin, qmax, tmp, &sxq, &sqq);
		const double g = sym_gain(sxq, sqq);
		if (!(g > best_gain * (1 + 1e-12)))
			break;
		best_gain = g;
		best_s = sxq / sqq;
	}
	if (q) {
		double sxq, sqq;
		sym_assign(n, x, w, best_s != 0 ? (float)(1.0 / best_s) : 0.0f, qmin, qmax, q,
			   &sxq, &sqq);
	}
	return (float)best_s;
}

/* ---- x ~ s * q + b -------------------------------------------------------- */

/* Weighted sums the least-squares problem for (s, b) needs. */
struct affine_sums {
	double sw, sq, sqq, sx, sxq;
};

/* Round (x - b) / s to [0, qmax] and accumulate the sums for those q. */
static void affine_assign(int n, const float *x, const float *w, float s, float b, int qmax,
			  uint8_t *q, struct affine_sums *a)
{
	const float inv = s > 0 ? 1.0f / s : 0.0f;
	struct affine_sums t = {0, 0, 0, 0, 0};
	for (int i = 0; i < n; i++) {
		const int qi = rb_q_round((x[i] - b) * inv, 0, qmax);
		const double wi = w[i], wq = wi * qi;
		q[i] = (uint8_t)qi;
		t.sw += wi;
		t.sq += wq;
		t.sqq += wq * qi;
		t.sx += wi * x[i];
		t.sxq += wq * x[i];
	}
	*a = t;
}

/* Least-squares (s, b) for the q behind the sums (the 2x2 normal equations),
 * and its error sum w (x - s q - b)^2 = sxx - s sxq - b sx (the residual is
 * orthogonal to q and 1 at the optimum). False when q is constant (no unique
 * s) or the fitted s is not positive. */
static bool affine_solve(const struct affine_sums *a, double sxx, bool b_nonpos, double *s,
			 double *b, double *err)
{
	const double det = a->sqq * a->sw - a->sq * a->sq;
	if (!(det > 1e-9 * a->sqq * a->sw))
		return false;
	*s = (a->sw * a->sxq - a->sq * a->sx) / det;
	*b = (a->sqq * a->sx - a->sq * a->sxq) / det;
	if (b_nonpos && *b > 0) {
		*b = 0;
		*s = a->sxq / a->sqq;
	}
	*err = sxx - *s * a->sxq - *b * a->sx;
	return *s > 0;
}

float rb_fit_affine(int n, const float *x, const float *w, int qmax, bool b_nonpos, float *b,
		    uint8_t *q)
{
	uint8_t tmp[FIT_MAX_N];
	float lo = x[0], hi = x[0];
	double sxx = 0;
	for (int i = 0; i < n; i++) {
		lo = rb_q_min(lo, x[i]);
		hi = rb_q_max(hi, x[i]);
		sxx += (double)w[i] * x[i] * x[i];
	}
	if (b_nonpos && lo > 0)
		lo = 0;
	if (!(hi > lo)) { /* constant block (and <= 0 when b_nonpos): offset only */
		*b = lo;
		if (q)
			memset(q, 0, (size_t)n);
		return 0;
	}

	double best_err = INFINITY, best_s = 0, best_b = lo;
	struct affine_sums a;
	/* Grids of qmax - 1 ... qmax + 1 steps over the range [lo, hi], anchored
	 * at lo, centred, and anchored at hi. Several starts matter: the Lloyd
	 * refinement only finds the local optimum near its start. */
	const double span = (double)hi - lo; /* may exceed FLT_MAX for +-Inf input */
	for (int anchor = 0; anchor < 3; anchor++) {
		for (int k = -2; k <= 2; k++) {
			const double s0 = span / (qmax + 0.5 * k);
			double b0 = anchor == 0 ? lo
				  : anchor == 1 ? 0.5 * ((double)lo + hi) - 0.5 * qmax * s0
						: hi - qmax * s0;
			if (b_nonpos && b0 > 0)
				b0 = 0;
			affine_assign(n, x, w, (float)s0, (float)b0, qmax, tmp, &a);
			double s, bb, err;
			if (affine_solve(&a, sxx, b_nonpos, &s, &bb, &err) && err < best_err) {
				best_err = err;
				best_s = s;
				best_b = bb;
			}
		}
	}
	if (best_s == 0) { /* no candidate could be fitted: plain min/max grid */
		best_s = ((double)hi - lo) / qmax;
		best_b = lo;
	}
	for (int it = 0; it < LLOYD_ITERS; it++) {
		double s, bb, err;
		affine_assign(n, x, w, (float)best_s, (float)best_b, qmax, tmp, &a);
		if (!affine_solve(&a, sxx, b_nonpos, &s, &bb, &err) ||
		    !(err < best_err - 1e-12 * sxx))
			break;
		best_err = err;
		best_s = s;
		best_b = bb;
	}
	*b = (float)best_b;
	if (q)
		affine_assign(n, x, w, (float)best_s, (float)best_b, qmax, q, &a);
	return (float)best_s;
}
