/* SPDX-License-Identifier: MIT */
/* Address-range allocator for one file's NPU address space, modelled on what
 * the rocket driver asks of drm_mm: drm_mm_insert_node_generic(size,
 * PAGE_SIZE alignment, mode DRM_MM_INSERT_BEST) over the IOMMU domain's
 * aperture (rocket_gem.c, rocket_drv.c rocket_open). Best fit: the smallest
 * free hole that holds the request, placed at the hole's first aligned
 * address. */
#ifndef NPU_IOVA_H
#define NPU_IOVA_H

#include <stddef.h>
#include <stdint.h>

typedef struct npu_iova_range {
	uint64_t start;
	uint64_t size;
	void *owner;
} npu_iova_range;

typedef struct npu_iova_space {
	uint64_t start, end;   /* aperture [start, end) */
	npu_iova_range *used;  /* sorted by start, non-overlapping */
	size_t count, cap;
} npu_iova_space;

void npu_iova_init(npu_iova_space *s, uint64_t start, uint64_t end);
void npu_iova_fini(npu_iova_space *s);
/* 0 and *addr, or -ENOSPC (no hole) / -EINVAL (size 0, align not a power of
 * two) / -ENOMEM. */
int npu_iova_alloc(npu_iova_space *s, uint64_t size, uint64_t align, void *owner,
		   uint64_t *addr);
/* The range that contains addr, or NULL. */
const npu_iova_range *npu_iova_find(const npu_iova_space *s, uint64_t addr);
/* Release the range that starts at addr: 0 or -ENOENT. */
int npu_iova_free(npu_iova_space *s, uint64_t addr);

#endif
