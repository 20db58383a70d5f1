/* SPDX-License-Identifier: MIT */
#include "iova.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void npu_iova_init(npu_iova_space *s, uint64_t start, uint64_t end)
{
	memset(s, 0, sizeof(*s));
	s->start = start;
	s->end = end;
}

void npu_iova_fini(npu_iova_space *s)
{
	free(s->used);
	memset(s, 0, sizeof(*s));
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/* Hole i lies before used[i] (i == count: after the last range). */
static void hole_bounds(const npu_iova_space *s, size_t i, uint64_t *lo, uint64_t *hi)
{
	*lo = i == 0 ? s->start : s->used[i - 1].start + s->used[i - 1].size;
	*hi = i == s->count ? s->end : s->used[i].start;
}

int npu_iova_alloc(npu_iova_space *s, uint64_t size, uint64_t align, void *owner,
		   uint64_t *addr)
{
	size_t best = SIZE_MAX;
	uint64_t best_len = UINT64_MAX, best_addr = 0;

	if (size == 0 || align == 0 || (align & (align - 1)))
		return -EINVAL;
	for (size_t i = 0; i <= s->count; i++) {
		uint64_t lo, hi, a;

		hole_bounds(s, i, &lo, &hi);
		a = align_up(lo, align);
		if (a < lo || a >= hi || hi - a < size)
			continue;
		if (hi - lo < best_len) {
			best = i;
			best_len = hi - lo;
			best_addr = a;
		}
	}
	if (best == SIZE_MAX)
		return -ENOSPC;
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		npu_iova_range *r = realloc(s->used, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->used = r;
		s->cap = cap;
	}
	memmove(&s->used[best + 1], &s->used[best], (s->count - best) * sizeof(*s->used));
	s->used[best] = (npu_iova_range){ .start = best_addr, .size = size, .owner = owner };
	s->count++;
	*addr = best_addr;
	return 0;
}

/* Index of the first range whose start is >= addr. */
static size_t lower_bound(const npu_iova_space *s, uint64_t addr)
{
	size_t lo = 0, hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->used[mid].start < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const npu_iova_range *npu_iova_find(const npu_iova_space *s, uint64_t addr)
{
	size_t i = lower_bound(s, addr);

	if (i < s->count && s->used[i].start == addr)
		return &s->used[i];
	if (i == 0)
		return NULL;
	i--;
	return addr - s->used[i].start < s->used[i].size ? &s->used[i] : NULL;
}

int npu_iova_free(npu_iova_space *s, uint64_t addr)
{
	size_t lo = lower_bound(s, addr);

	if (lo == s->count || s->used[lo].start != addr)
		return -ENOENT;
	memmove(&s->used[lo], &s->used[lo + 1], (s->count - lo - 1) * sizeof(*s->used));
	s->count--;
	return 0;
}
