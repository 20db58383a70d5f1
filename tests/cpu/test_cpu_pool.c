/* SPDX-License-Identifier: MIT */
/* rb_threadpool_run_chunks (used by the cpu backend) interleaved with
 * rb_threadpool_run: every chunk runs exactly once, every per-thread job once
 * on every thread, also with more threads than cores (workers descheduled in
 * the middle of a job, woken late for jobs that are already over). */
#include <stdatomic.h>

#include "rosenblatt/threadpool.h"
#include "test.h"

#define MAX_CHUNKS 97

struct chunk_job {
	_Atomic int hits[MAX_CHUNKS];
	long n;
};

static void chunk_fn(void *arg, long c)
{
	struct chunk_job *j = arg;
	atomic_fetch_add(&j->hits[c], 1);
	if (c % 7 == 0) /* uneven chunk lengths */
		for (volatile int i = 0; i < 2000; i++)
			;
}

struct thread_job {
	_Atomic int hits[16];
	int nth_seen;
};

static void thread_fn(void *arg, int ith, int nth)
{
	struct thread_job *j = arg;
	atomic_fetch_add(&j->hits[ith], 1);
	j->nth_seen = nth;
}

static void stress(int n_threads, int n_jobs)
{
	rb_threadpool *tp = rb_threadpool_create(n_threads);
	REQUIRE(tp);
	int bad = 0;
	uint64_t seed = (uint64_t)n_threads;
	for (int it = 0; it < n_jobs && bad < 5; it++) {
		const int kind = (int)(rb_test_rand_u64(&seed) % 3);
		if (kind == 0) {
			struct thread_job j = {0};
			rb_threadpool_run(tp, thread_fn, &j);
			for (int i = 0; i < n_threads; i++)
				if (atomic_load(&j.hits[i]) != 1)
					bad++;
			if (j.nth_seen != n_threads)
				bad++;
		} else {
			struct chunk_job j = {0};
			j.n = 1 + (long)(rb_test_rand_u64(&seed) % MAX_CHUNKS);
			rb_threadpool_run_chunks(tp, chunk_fn, &j, j.n);
			for (long c = 0; c < MAX_CHUNKS; c++)
				if (atomic_load(&j.hits[c]) != (c < j.n ? 1 : 0))
					bad++;
		}
		/* now and then let the workers fall asleep between jobs */
		if (it % 500 == 499)
			for (volatile long i = 0; i < 3000000; i++)
				;
	}
	CHECKF(bad == 0, "%d threads: %d wrong counts", n_threads, bad);
	rb_threadpool_destroy(tp);
}

int main(void)
{
	const int jobs = rb_test_quick() ? 1000 : 4000;
	stress(2, jobs);
	stress(3, jobs);
	stress(5, jobs / 4);
	/* NULL pool and a single chunk run on the caller, in order */
	struct chunk_job j = {0};
	rb_threadpool_run_chunks(NULL, chunk_fn, &j, 5);
	for (long c = 0; c < 5; c++)
		CHECK_EQ_INT(atomic_load(&j.hits[c]), 1);
	rb_threadpool_run_chunks(NULL, chunk_fn, &j, 0);
	CHECK_EQ_INT(atomic_load(&j.hits[0]), 1);
	return rb_test_finish();
}
