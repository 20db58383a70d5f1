/* SPDX-License-Identifier: MIT */
/* A small pthread pool for data-parallel kernels: the caller and n-1 workers
 * run fn(arg, ith, nth) together; rb_threadpool_run returns when all are done.
 * Workers spin briefly between jobs (decode issues hundreds of short jobs per
 * token), then sleep. */
#ifndef ROSENBLATT_THREADPOOL_H
#define ROSENBLATT_THREADPOOL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rb_threadpool rb_threadpool;
typedef void (*rb_task_fn)(void *arg, int ith, int nth);

/* n_threads counts the calling thread; n_threads <= 0 means rb_default_threads().
 * Returns NULL on failure. */
rb_threadpool *rb_threadpool_create(int n_threads);
void rb_threadpool_destroy(rb_threadpool *tp);
int rb_threadpool_size(const rb_threadpool *tp);

/* Run fn on every thread (ith = 0 is the caller). Not reentrant: fn must not
 * call rb_threadpool_run on the same pool. tp == NULL runs fn(arg, 0, 1). */
void rb_threadpool_run(rb_threadpool *tp, rb_task_fn fn, void *arg);

/* Run fn(arg, chunk) once for every chunk in [0, n_chunks), the chunks
 * claimed dynamically by whichever threads are running (the caller too), so
 * a worker that is descheduled (a loaded machine) or slow (a little core)
 * delays nobody: the call returns as soon as every chunk is done, whether or
 * not every worker took part. fn must not depend on which thread runs it. Not
 * reentrant, like rb_threadpool_run. tp == NULL runs the chunks in order. */
typedef void (*rb_chunk_fn)(void *arg, long chunk);
void rb_threadpool_run_chunks(rb_threadpool *tp, rb_chunk_fn fn, void *arg, long n_chunks);

/* Split [0, n) into nth nearly equal contiguous ranges; range of thread ith. */
static inline void rb_split_range(long n, int ith, int nth, long *begin, long *end)
{
	const long chunk = n / nth, rem = n % nth;
	*begin = ith * chunk + (ith < rem ? ith : rem);
	*end = *begin + chunk + (ith < rem ? 1 : 0);
}

/* Number of "performance" cores: on big.LITTLE (RK3588: 4x A76 + 4x A55)
 * the cores with the highest cpu_capacity; otherwise the online CPUs. */
int rb_default_threads(void);

#ifdef __cplusplus
}
#endif
#endif
