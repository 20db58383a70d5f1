/* SPDX-License-Identifier: MIT */
/* rb_quantize_rows(): quantize a whole matrix, rows spread over a thread pool
 * (the model generator quantizes billions of weights with it). */
#include "rosenblatt/quant.h"

#include <inttypes.h>

#include "rosenblatt/threadpool.h"

/* Below this many elements a pool costs more than it saves. */
#define PARALLEL_MIN_ELEMS (1 << 16)

struct rows_job {
	const rb_type_traits *t;
	const float *src;
	uint8_t *dst;
	int64_t nrows, n_per_row;
	size_t row_size;
};

static void rows_task(void *arg, int ith, int nth)
{
	const struct rows_job *j = arg;
	long begin, end;
	rb_split_range((long)j->nrows, ith, nth, &begin, &end);
	for (long r = begin; r < end; r++)
		j->t->from_float(j->src + r * j->n_per_row, j->dst + (size_t)r * j->row_size,
				 j->n_per_row);
}

int rb_quantize_rows(enum rb_type type, const float *src, void *dst, int64_t nrows,
		     int64_t n_per_row, int n_threads, rb_err *err)
{
	const rb_type_traits *t = rb_type_traits_get(type);
	if (!t)
		return rb_err_set(err, RB_E_UNSUPPORTED, "quantize: type %s (%d) has no quantizer",
				  rb_type_name(type), (int)type);
	if (nrows < 0 || n_per_row < 0 || n_per_row % t->block_size)
		return rb_err_set(err, RB_E_INVALID,
				  "quantize %s: %" PRId64 " x %" PRId64
				  ": rows must hold whole blocks of %d elements",
				  t->name, nrows, n_per_row, t->block_size);
	struct rows_job job = {
		.t = t,
		.src = src,
		.dst = dst,
		.nrows = nrows,
		.n_per_row = n_per_row,
		.row_size = rb_row_size(type, n_per_row),
	};
	if (nrows == 0 || n_per_row == 0)
		return RB_OK;
	if (n_threads <= 0)
		n_threads = rb_default_threads();
	if (n_threads > nrows)
		n_threads = (int)nrows;
	rb_threadpool *tp = NULL;
	if (n_threads > 1 && nrows * n_per_row >= PARALLEL_MIN_ELEMS)
		tp = rb_threadpool_create(n_threads); /* NULL (no threads): run alone */
	rb_threadpool_run(tp, rows_task, &job);
	rb_threadpool_destroy(tp);
	return RB_OK;
}
