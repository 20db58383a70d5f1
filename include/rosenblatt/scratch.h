/* SPDX-License-Identifier: MIT */
/* Grow-only scratch buffers: the hot paths (matmul backends) keep one per
 * use and allocate only when a call needs more than any call before. */
#ifndef ROSENBLATT_SCRATCH_H
#define ROSENBLATT_SCRATCH_H

#include <stddef.h>

#include "rosenblatt/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Make *buf (of *have bytes, or NULL and 0) at least `need` bytes, 64-byte
 * aligned (rounded up to 4 KiB). The contents are not kept. RB_OK, or
 * RB_E_NOMEM naming `owner` (the old buffer stays). Free with free(). */
int rb_scratch_grow(void **buf, size_t *have, size_t need, const char *owner, rb_err *err);

#ifdef __cplusplus
}
#endif
#endif
