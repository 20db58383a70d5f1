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

/* The backend all n weights are bound to, or NULL. */
static const rb_matmul_backend *common_backend(const rb_weight *const *ws, int n)
{
	const rb_matmul_backend *b = n > 0 ? ws[0]->backend : NULL;
	for (int i = 1; i < n && b; i++)
		if (ws[i]->backend != b || ws[i]->n_in != ws[0]->n_in)
			b = NULL;
	return b;
}

int rb_weights_share_input(rb_weight *const *ws, int n, rb_err *err)
{
	if (n < 1 || n > RB_SHARED_MAX)
		return rb_err_set(err, RB_E_INVALID, "rb_weights_share_input: %d weights (1..%d)", n,
				  RB_SHARED_MAX);
	const rb_matmul_backend *b = common_backend((const rb_weight *const *)ws, n);
	if (n < 2 || !b || !b->share_input)
		return RB_OK;
	return b->share_input(b->ctx, ws, n, err);
}

int rb_matmul_shared(const rb_weight *const *ws, int n, int64_t n_tokens, const float *x,
		     int64_t ldx, float *const *ys, const int64_t *ldys, rb_err *err)
{
	const rb_matmul_backend *b = n >= 1 && n <= RB_SHARED_MAX ? common_backend(ws, n) : NULL;
	if (!b || !b->matmul_shared)
		return rb_err_set(err, RB_E_UNSUPPORTED, "rb_matmul_shared: the %d weights share no "
				  "backend that runs them as one call", n);
	return b->matmul_shared(b->ctx, ws, n, n_tokens, x, ldx, ys, ldys, err);
}
