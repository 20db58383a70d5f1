/* SPDX-License-Identifier: MIT */
#include "rosenblatt/threadpool.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long an idle worker polls for the next job before sleeping. A decode
 * step issues a few hundred jobs of tens of microseconds each; sleeping
 * between them would cost a wake-up latency every time. */
#define SPIN_ITERS 20000

/* Two kinds of job share one generation counter:
 *  - per-thread jobs (rb_threadpool_run): fn(arg, ith, nth) on every thread;
 *    the caller waits until each worker has run it once (pending);
 *  - chunk jobs (rb_threadpool_run_chunks): threads claim chunk numbers from
 *    a ticket; the caller waits until every chunk is done, not for workers.
 * A job is described in jobs[gen & 1]. Workers read it seqlock-style (fields,
 * then gen again) because a chunk job can end, and the next two jobs start,
 * while a descheduled worker is still reading; a per-thread job cannot pass
 * without every worker, and the slot of job g is rewritten only by job g + 2.
 * The ticket holds (generation << 32 | next chunk): a claim is a CAS on it,
 * so a worker that woke late for an old chunk job cannot claim anything. */
enum job_kind { JOB_PER_THREAD, JOB_CHUNKS };

struct job {
	_Atomic int kind;
	_Atomic(rb_task_fn) fn;
	_Atomic(rb_chunk_fn) cfn;
	_Atomic(void *) arg;
	_Atomic long n_chunks;
};

struct rb_threadpool {
	int n;
	pthread_t *threads;
	struct job jobs[2];
	_Atomic unsigned gen;      /* bumped once per job */
	_Atomic int pending;       /* workers still running the current per-thread job */
	_Atomic uint64_t ticket;   /* chunk jobs: gen << 32 | next chunk */
	_Atomic long chunks_done;  /* chunk jobs: chunks finished */
	_Atomic int n_sleeping;
	_Atomic int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

struct worker_arg {
	rb_threadpool *tp;
	int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Claim and run chunks of chunk job g until none is left. */
static void chunk_work(rb_threadpool *tp, unsigned g, rb_chunk_fn fn, void *arg, long n)
{
	uint64_t t = atomic_load_explicit(&tp->ticket, memory_order_acquire);
	for (;;) {
		if ((unsigned)(t >> 32) != g || (long)(t & 0xffffffffu) >= n)
			return;
		if (!atomic_compare_exchange_weak_explicit(&tp->ticket, &t, t + 1,
							   memory_order_acq_rel, memory_order_acquire))
			continue; /* t reloaded */
		fn(arg, (long)(t & 0xffffffffu));
		atomic_fetch_add_explicit(&tp->chunks_done, 1, memory_order_release);
		t = atomic_load_explicit(&tp->ticket, memory_order_acquire);
	}
}

static void *worker_main(void *p)
{
	struct worker_arg wa = *(struct worker_arg *)p;
	free(p);
	rb_threadpool *tp = wa.tp;
	unsigned seen = 0; /* no job can start before create returns */
	for (;;) {
		unsigned g;
		int spins = 0;
		while ((g = atomic_load_explicit(&tp->gen, memory_order_acquire)) == seen) {
			if (++spins < SPIN_ITERS) {
				cpu_relax();
				continue;
			}
			atomic_fetch_add(&tp->n_sleeping, 1);
			pthread_mutex_lock(&tp->mu);
			while (atomic_load(&tp->gen) == seen)
				pthread_cond_wait(&tp->cv, &tp->mu);
			pthread_mutex_unlock(&tp->mu);
			atomic_fetch_sub(&tp->n_sleeping, 1);
			spins = 0;
		}
		if (atomic_load(&tp->stop))
			return NULL;
		struct job *jb = &tp->jobs[g & 1];
		const int kind = atomic_load_explicit(&jb->kind, memory_order_relaxed);
		const rb_task_fn fn = atomic_load_explicit(&jb->fn, memory_order_relaxed);
		const rb_chunk_fn cfn = atomic_load_explicit(&jb->cfn, memory_order_relaxed);
		void *arg = atomic_load_explicit(&jb->arg, memory_order_relaxed);
		const long n_chunks = atomic_load_explicit(&jb->n_chunks, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&tp->gen, memory_order_relaxed) != g)
			continue; /* the slot may have been rewritten meanwhile: take the newest job */
		seen = g;
		if (kind == JOB_PER_THREAD) {
			fn(arg, wa.ith, tp->n);
			atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_release);
		} else {
			chunk_work(tp, g, cfn, arg, n_chunks);
		}
	}
}

static void bump_and_wake(rb_threadpool *tp, unsigned g)
{
	atomic_store_explicit(&tp->gen, g, memory_order_seq_cst);
	if (atomic_load(&tp->n_sleeping) > 0) {
		pthread_mutex_lock(&tp->mu);
		pthread_cond_broadcast(&tp->cv);
		pthread_mutex_unlock(&tp->mu);
	}
}

rb_threadpool *rb_threadpool_create(int n_threads)
{
	if (n_threads <= 0)
		n_threads = rb_default_threads();
	rb_threadpool *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->n = n_threads;
	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	tp->threads = calloc((size_t)n_threads, sizeof(pthread_t));
	if (!tp->threads) {
		free(tp);
		return NULL;
	}
	for (int i = 1; i < n_threads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		if (wa) {
			wa->tp = tp;
			wa->ith = i;
		}
		if (!wa || pthread_create(&tp->threads[i], NULL, worker_main, wa) != 0) {
			free(wa);
			tp->n = i; /* destroy joins the ones that started */
			rb_threadpool_destroy(tp);
			return NULL;
		}
	}
	return tp;
}

void rb_threadpool_destroy(rb_threadpool *tp)
{
	if (!tp)
		return;
	atomic_store(&tp->stop, 1);
	bump_and_wake(tp, atomic_load(&tp->gen) + 1);
	for (int i = 1; i < tp->n; i++)
		pthread_join(tp->threads[i], NULL);
	pthread_mutex_destroy(&tp->mu);
	pthread_cond_destroy(&tp->cv);
	free(tp->threads);
	free(tp);
}

int rb_threadpool_size(const rb_threadpool *tp) { return tp ? tp->n : 1; }

/* Fill the slot of the next job; returns its generation. Only the (single)
 * caller writes gen, so reading it relaxed is exact. */
static unsigned publish(rb_threadpool *tp, int kind, rb_task_fn fn, rb_chunk_fn cfn, void *arg,
			long n_chunks)
{
	const unsigned g = atomic_load_explicit(&tp->gen, memory_order_relaxed) + 1;
	struct job *jb = &tp->jobs[g & 1];
	/* seqlock writer side: a reader that sees any field below also sees the
	 * bump of gen that ended the job which last used this slot */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&jb->kind, kind, memory_order_relaxed);
	atomic_store_explicit(&jb->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&jb->cfn, cfn, memory_order_relaxed);
	atomic_store_explicit(&jb->arg, arg, memory_order_relaxed);
	atomic_store_explicit(&jb->n_chunks, n_chunks, memory_order_relaxed);
	return g;
}

/* Wait for *counter to reach want: spin, then yield the CPU. */
static void wait_for(_Atomic long *counter, long want)
{
	int spins = 0;
	while (atomic_load_explicit(counter, memory_order_acquire) < want) {
		if (++spins < SPIN_ITERS)
			cpu_relax();
		else
			sched_yield();
	}
}

void rb_threadpool_run(rb_threadpool *tp, rb_task_fn fn, void *arg)
{
	if (!tp || tp->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	const unsigned g = publish(tp, JOB_PER_THREAD, fn, NULL, arg, 0);
	atomic_store_explicit(&tp->pending, tp->n - 1, memory_order_relaxed);
	bump_and_wake(tp, g);
	fn(arg, 0, tp->n);
	int spins = 0;
	while (atomic_load_explicit(&tp->pending, memory_order_acquire) > 0) {
		if (++spins < SPIN_ITERS)
			cpu_relax();
		else
			sched_yield();
	}
}

void rb_threadpool_run_chunks(rb_threadpool *tp, rb_chunk_fn fn, void *arg, long n_chunks)
{
	if (n_chunks <= 0)
		return;
	if (!tp || tp->n == 1 || n_chunks == 1 || n_chunks > 0xffffffffL) {
		for (long c = 0; c < n_chunks; c++)
			fn(arg, c);
		return;
	}
	const unsigned g = publish(tp, JOB_CHUNKS, NULL, fn, arg, n_chunks);
	/* no claimed chunk of an earlier job is still running: its caller waited */
	atomic_store_explicit(&tp->chunks_done, 0, memory_order_relaxed);
	atomic_store_explicit(&tp->ticket, (uint64_t)g << 32, memory_order_release);
	bump_and_wake(tp, g);
	chunk_work(tp, g, fn, arg, n_chunks);
	wait_for(&tp->chunks_done, n_chunks);
}

/* cpu_capacity of a CPU (arm64 big.LITTLE, from the device tree), -1 if the
 * kernel does not expose it. */
static int cpu_capacity(int cpu)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpu_capacity", cpu);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int cap = -1;
	if (fscanf(f, "%d", &cap) != 1)
		cap = -1;
	fclose(f);
	return cap;
}

/* The CPUs this process may run on (taskset, cgroup cpusets), the largest
 * cpu_capacity among them counted as the performance cores. Without
 * capacities: every allowed CPU. */
int rb_default_threads(void)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		const long online = sysconf(_SC_NPROCESSORS_ONLN);
		return online >= 1 ? (int)online : 1;
	}
	int n_allowed = 0, best = -1, n_best = 0;
	bool have_caps = true;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		n_allowed++;
		const int cap = have_caps ? cpu_capacity(cpu) : -1;
		if (cap < 0) {
			have_caps = false;
		} else if (cap > best) {
			best = cap;
			n_best = 1;
		} else if (cap == best) {
			n_best++;
		}
	}
	if (n_allowed == 0)
		return 1;
	return have_caps ? n_best : n_allowed;
}
