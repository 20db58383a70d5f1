/* SPDX-License-Identifier: MIT */
#include "rosenblatt/threadpool.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long an idle worker polls for the next job before sleeping. A decode
 * step issues a few hundred jobs of tens of microseconds each; sleeping
 * between them would cost a wake-up latency every time. */
#define SPIN_ITERS 20000

struct rb_threadpool {
	int n;
	pthread_t *threads;
	rb_task_fn fn;
	void *arg;
	_Atomic unsigned gen;     /* bumped once per job */
	_Atomic int pending;      /* workers still running the current job */
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
		seen = g;
		if (atomic_load(&tp->stop))
			return NULL;
		tp->fn(tp->arg, wa.ith, tp->n);
		atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_release);
	}
}

static void bump_and_wake(rb_threadpool *tp)
{
	atomic_fetch_add_explicit(&tp->gen, 1, memory_order_seq_cst);
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
	bump_and_wake(tp);
	for (int i = 1; i < tp->n; i++)
		pthread_join(tp->threads[i], NULL);
	pthread_mutex_destroy(&tp->mu);
	pthread_cond_destroy(&tp->cv);
	free(tp->threads);
	free(tp);
}

int rb_threadpool_size(const rb_threadpool *tp) { return tp ? tp->n : 1; }

void rb_threadpool_run(rb_threadpool *tp, rb_task_fn fn, void *arg)
{
	if (!tp || tp->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	tp->fn = fn;
	tp->arg = arg;
	atomic_store_explicit(&tp->pending, tp->n - 1, memory_order_relaxed);
	bump_and_wake(tp);
	fn(arg, 0, tp->n);
	int spins = 0;
	while (atomic_load_explicit(&tp->pending, memory_order_acquire) > 0) {
		if (++spins < SPIN_ITERS)
			cpu_relax();
		else
			sched_yield();
	}
}

/* cpu_capacity (arm64 big.LITTLE) of each online CPU; the largest ones are
 * the performance cores. Falls back to the online CPU count. */
int rb_default_threads(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (online < 1)
		online = 1;
	int best = 0, n_best = 0;
	for (long cpu = 0; cpu < online && cpu < 1024; cpu++) {
		char path[96];
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%ld/cpu_capacity", cpu);
		FILE *f = fopen(path, "r");
		if (!f)
			return (int)online;
		int cap = 0;
		const int ok = fscanf(f, "%d", &cap) == 1;
		fclose(f);
		if (!ok)
			return (int)online;
		if (cap > best) {
			best = cap;
			n_best = 1;
		} else if (cap == best) {
			n_best++;
		}
	}
	return n_best > 0 ? n_best : (int)online;
}
