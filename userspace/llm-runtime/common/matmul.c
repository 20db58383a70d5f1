/* SPDX-License-Identifier: MIT */
#include "rosenblatt/matmul.h"

int rb_weight_bind(rb_weight *w, const rb_matmul_backend *b, rb_err *err)
{
	if (!b->supports(b->ctx, w))
		return rb_err_set(err, RB_E_UNSUPPORTED, "%s: backend %s cannot run %s [%lld x %lld]",
				  w->name ? w->name : "weight", b->name, rb_type_name(w->type),
				  (long long)w->n_out, (long long)w->n_in);
	w->packed = NULL;
	if (b->prepare) {
		int rc = b->prepare(b->ctx, w, err);
		if (rc != RB_OK)
			return rc;
	}
	w->backend = b;
	return RB_OK;
}

void rb_weight_unbind(rb_weight *w)
{
	if (w->backend && w->backend->release)
		w->backend->release(w->backend->ctx, w);
	w->backend = NULL;
	w->packed = NULL;
}
