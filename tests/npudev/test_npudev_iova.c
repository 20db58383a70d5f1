/* SPDX-License-Identifier: MIT */
/* The per-file NPU address allocator against a brute-force reference: a
 * page bitmap of the aperture, where best fit is found by listing every
 * maximal free run. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "iova.h"
#include "test.h"

#define PAGES 256u
#define PAGE 4096u

struct ref {
	int owner[PAGES]; /* 0 free, else allocation id */
};

/* Smallest free run that holds `need` pages (first of equal size); -1 if none. */
static int ref_best_fit(const struct ref *r, unsigned need)
{
	int best = -1;
	unsigned best_len = PAGES + 1;

	for (unsigned p = 0; p < PAGES;) {
		unsigned q = p;

		if (r->owner[p]) {
			p++;
			continue;
		}
		while (q < PAGES && !r->owner[q])
			q++;
		if (q - p >= need && q - p < best_len) {
			best = (int)p;
			best_len = q - p;
		}
		p = q;
	}
	return best;
}

int main(void)
{
	npu_iova_space s;
	struct ref r;
	uint64_t seed = 7, addr[512];
	unsigned pages[512], live = 0;
	int ids[512];
	const int iters = rb_test_quick() ? 3000 : 20000;

	memset(&r, 0, sizeof(r));
	npu_iova_init(&s, 0, (uint64_t)PAGES * PAGE);
	CHECK_EQ_INT(npu_iova_alloc(&s, 0, PAGE, NULL, &addr[0]), -EINVAL);
	CHECK_EQ_INT(npu_iova_alloc(&s, PAGE, 3, NULL, &addr[0]), -EINVAL);
	CHECK_EQ_INT(npu_iova_free(&s, 0), -ENOENT);
	CHECK(npu_iova_find(&s, 0) == NULL);

	for (int it = 0, next_id = 1; it < iters; it++) {
		bool do_alloc = live == 0 || (live < 512 && rb_test_rand_u64(&seed) % 3 != 0);

		if (do_alloc) {
			unsigned need = 1 + (unsigned)(rb_test_rand_u64(&seed) % 12);
			uint64_t size = (uint64_t)need * PAGE - rb_test_rand_u64(&seed) % 100;
			int want = ref_best_fit(&r, need);
			uint64_t a;
			int ret = npu_iova_alloc(&s, (uint64_t)need * PAGE, PAGE, &ids[live], &a);

			(void)size;
			if (want < 0) {
				CHECK_EQ_INT(ret, -ENOSPC);
				continue;
			}
			CHECK_EQ_INT(ret, 0);
			CHECK_EQ_INT(a, (uint64_t)want * PAGE);
			for (unsigned p = 0; p < need; p++) {
				CHECK_EQ_INT(r.owner[want + p], 0);
				r.owner[want + p] = next_id;
			}
			ids[live] = next_id++;
			addr[live] = a;
			pages[live] = need;
			live++;
		} else {
			unsigned k = (unsigned)(rb_test_rand_u64(&seed) % live);
			const npu_iova_range *f = npu_iova_find(&s, addr[k] + PAGE * pages[k] - 1);

			CHECK(f && f->start == addr[k]);
			CHECK_EQ_INT(npu_iova_free(&s, addr[k]), 0);
			CHECK(npu_iova_find(&s, addr[k]) == NULL ||
			      npu_iova_find(&s, addr[k])->start != addr[k]);
			for (unsigned p = 0; p < pages[k]; p++)
				r.owner[addr[k] / PAGE + p] = 0;
			live--;
			addr[k] = addr[live];
			pages[k] = pages[live];
			ids[k] = ids[live];
		}
	}
	/* fill the rest page by page, then one more fails */
	while (ref_best_fit(&r, 1) >= 0) {
		uint64_t a;
		int want = ref_best_fit(&r, 1);

		CHECK_EQ_INT(npu_iova_alloc(&s, PAGE, PAGE, NULL, &a), 0);
		CHECK_EQ_INT(a, (uint64_t)want * PAGE);
		r.owner[want] = -1;
	}
	{
		uint64_t a;

		CHECK_EQ_INT(npu_iova_alloc(&s, PAGE, PAGE, NULL, &a), -ENOSPC);
	}
	npu_iova_fini(&s);

	/* the real aperture: 4 GiB, a request of exactly 4 GiB fits an empty space */
	npu_iova_init(&s, 0, 1ull << 32);
	{
		uint64_t a;

		CHECK_EQ_INT(npu_iova_alloc(&s, 1ull << 32, PAGE, NULL, &a), 0);
		CHECK_EQ_INT(a, 0);
		CHECK_EQ_INT(npu_iova_alloc(&s, PAGE, PAGE, NULL, &a), -ENOSPC);
	}
	npu_iova_fini(&s);
	return rb_test_finish();
}
