/* SPDX-License-Identifier: MIT */
/* Priority queue of merge candidates, shared by the BPE (bpe.c) and the
 * SentencePiece (spm.c) encoders: a binary min-heap on (key, left). The caller
 * owns the array and sizes it for every push it will make. */
#include "tok_internal.h"

static bool cand_before(const struct rb_merge_cand *a, const struct rb_merge_cand *b)
{
	return a->key != b->key ? a->key < b->key : a->left < b->left;
}

void rb_merge_queue_push(struct rb_merge_queue *q, struct rb_merge_cand c)
{
	size_t i = q->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!cand_before(&c, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = c;
}

struct rb_merge_cand rb_merge_queue_pop(struct rb_merge_queue *q)
{
	struct rb_merge_cand top = q->heap[0], last = q->heap[--q->n];
	size_t i = 0, n = q->n;
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n && cand_before(&q->heap[child + 1], &q->heap[child]))
			child++;
		if (!cand_before(&q->heap[child], &last))
			break;
		q->heap[i] = q->heap[child];
		i = child;
	}
	if (n)
		q->heap[i] = last;
	return top;
}
