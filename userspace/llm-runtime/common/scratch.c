/* SPDX-License-Identifier: MIT */
#include "rosenblatt/scratch.h"

#include <stdint.h>
#include <stdlib.h>

int rb_scratch_grow(void **buf, size_t *have, size_t need, const char *owner, rb_err *err)
{
	if (need <= *have)
		return RB_OK;
	/* Sizes beyond any object are refused before the allocator sees them
	 * (they would also overflow the rounding). */
	const size_t rounded = (need + 4095) & ~(size_t)4095;
	void *p = need <= (size_t)PTRDIFF_MAX - 4095 ? aligned_alloc(64, rounded) : NULL;
	if (!p)
		return rb_err_set(err, RB_E_NOMEM, "%s: cannot allocate %zu bytes of scratch", owner,
				  need);
	free(*buf);
	*buf = p;
	*have = rounded;
	return RB_OK;
}
