/* SPDX-License-Identifier: MIT */
/* Key and tensor lookups (binary search in the sorted indexes built by the
 * reader) and typed metadata getters. */
#include "gguf_internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static rb_gguf_str cstr(const char *s)
{
	return (rb_gguf_str){.len = strlen(s), .data = s};
}

int64_t rb_gguf_find_key(const rb_gguf *g, const char *key)
{
	if (!g || !key || !g->kv_index_)
		return -1;
	const rb_gguf_str k = cstr(key);
	uint64_t lo = 0, hi = g->n_kv;
	while (lo < hi) {
		const uint64_t mid = lo + (hi - lo) / 2;
		const rb_gguf_kv *kv = g->kv_index_[mid];
		const int c = rb_gguf_str_cmp(kv->key, k);
		if (c == 0)
			return kv - g->kv;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const rb_gguf_kv *rb_gguf_get_kv(const rb_gguf *g, const char *key)
{
	const int64_t i = rb_gguf_find_key(g, key);
	return i < 0 ? NULL : &g->kv[i];
}

const rb_gguf_tensor *rb_gguf_find_tensor(const rb_gguf *g, const char *name)
{
	if (!g || !name || !g->tensor_index_)
		return NULL;
	const rb_gguf_str k = cstr(name);
	uint64_t lo = 0, hi = g->n_tensors;
	while (lo < hi) {
		const uint64_t mid = lo + (hi - lo) / 2;
		const rb_gguf_tensor *t = g->tensor_index_[mid];
		const int c = rb_gguf_str_cmp(t->name, k);
		if (c == 0)
			return t;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- typed getters ---------------------------------------------------- */

static int lookup(const rb_gguf *g, const char *key, const rb_gguf_kv **kv, rb_err *err)
{
	*kv = rb_gguf_get_kv(g, key);
	if (!*kv)
		return rb_err_set(err, RB_E_INVALID, "metadata key '%s' not found", key);
	return RB_OK;
}

static int wrong_type(const rb_gguf_kv *kv, const char *key, const char *want, rb_err *err)
{
	return rb_err_set(err, RB_E_FORMAT, "metadata key '%s' (offset %" PRIu64 ") has type %s, "
			  "expected %s", key, kv->file_offset, rb_gguf_vtype_name(kv->value.type),
			  want);
}

/* Integer value as sign + magnitude so that every integer vtype converts
 * without loss. */
static bool int_value(const rb_gguf_value *v, bool *neg, uint64_t *mag)
{
	int64_t s;
	switch (v->type) {
	case RB_GGUF_UINT8: *neg = false; *mag = v->v.u8; return true;
	case RB_GGUF_UINT16: *neg = false; *mag = v->v.u16; return true;
	case RB_GGUF_UINT32: *neg = false; *mag = v->v.u32; return true;
	case RB_GGUF_UINT64: *neg = false; *mag = v->v.u64; return true;
	case RB_GGUF_INT8: s = v->v.i8; break;
	case RB_GGUF_INT16: s = v->v.i16; break;
	case RB_GGUF_INT32: s = v->v.i32; break;
	case RB_GGUF_INT64: s = v->v.i64; break;
	default: return false;
	}
	*neg = s < 0;
	*mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
	return true;
}

static int get_int(const rb_gguf *g, const char *key, bool *neg, uint64_t *mag,
		   const rb_gguf_kv **kv, rb_err *err)
{
	int rc = lookup(g, key, kv, err);
	if (rc)
		return rc;
	if (!int_value(&(*kv)->value, neg, mag))
		return wrong_type(*kv, key, "an integer", err);
	return RB_OK;
}

static int out_of_range(const rb_gguf_kv *kv, const char *key, bool neg, uint64_t mag,
			const char *want, rb_err *err)
{
	return rb_err_set(err, RB_E_FORMAT, "metadata key '%s' (offset %" PRIu64 ") = %s%" PRIu64
			  " does not fit in %s", key, kv->file_offset, neg ? "-" : "", mag, want);
}

int rb_gguf_get_u32(const rb_gguf *g, const char *key, uint32_t *out, rb_err *err)
{
	const rb_gguf_kv *kv;
	bool neg = false;
	uint64_t mag = 0;
	int rc = get_int(g, key, &neg, &mag, &kv, err);
	if (rc)
		return rc;
	if (neg || mag > UINT32_MAX)
		return out_of_range(kv, key, neg, mag, "uint32", err);
	*out = (uint32_t)mag;
	return RB_OK;
}

int rb_gguf_get_u64(const rb_gguf *g, const char *key, uint64_t *out, rb_err *err)
{
	const rb_gguf_kv *kv;
	bool neg = false;
	uint64_t mag = 0;
	int rc = get_int(g, key, &neg, &mag, &kv, err);
	if (rc)
		return rc;
	if (neg && mag)
		return out_of_range(kv, key, neg, mag, "uint64", err);
	*out = mag;
	return RB_OK;
}

int rb_gguf_get_i64(const rb_gguf *g, const char *key, int64_t *out, rb_err *err)
{
	const rb_gguf_kv *kv;
	bool neg = false;
	uint64_t mag = 0;
	int rc = get_int(g, key, &neg, &mag, &kv, err);
	if (rc)
		return rc;
	if (!neg && mag > INT64_MAX)
		return out_of_range(kv, key, neg, mag, "int64", err);
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return RB_OK;
}

int rb_gguf_get_f32(const rb_gguf *g, const char *key, float *out, rb_err *err)
{
	const rb_gguf_kv *kv;
	int rc = lookup(g, key, &kv, err);
	if (rc)
		return rc;
	bool neg = false;
	uint64_t mag = 0;
	if (kv->value.type == RB_GGUF_FLOAT32)
		*out = kv->value.v.f32;
	else if (kv->value.type == RB_GGUF_FLOAT64)
		*out = (float)kv->value.v.f64;
	else if (int_value(&kv->value, &neg, &mag))
		*out = neg ? -(float)mag : (float)mag;
	else
		return wrong_type(kv, key, "a number", err);
	return RB_OK;
}

int rb_gguf_get_bool(const rb_gguf *g, const char *key, bool *out, rb_err *err)
{
	const rb_gguf_kv *kv;
	int rc = lookup(g, key, &kv, err);
	if (rc)
		return rc;
	if (kv->value.type != RB_GGUF_BOOL)
		return wrong_type(kv, key, "bool", err);
	*out = kv->value.v.b;
	return RB_OK;
}

int rb_gguf_get_str(const rb_gguf *g, const char *key, rb_gguf_str *out, rb_err *err)
{
	const rb_gguf_kv *kv;
	int rc = lookup(g, key, &kv, err);
	if (rc)
		return rc;
	if (kv->value.type != RB_GGUF_STRING)
		return wrong_type(kv, key, "string", err);
	*out = kv->value.v.str;
	return RB_OK;
}

int rb_gguf_get_arr(const rb_gguf *g, const char *key, const rb_gguf_array **out, rb_err *err)
{
	const rb_gguf_kv *kv;
	int rc = lookup(g, key, &kv, err);
	if (rc)
		return rc;
	if (kv->value.type != RB_GGUF_ARRAY)
		return wrong_type(kv, key, "array", err);
	*out = &kv->value.v.arr;
	return RB_OK;
}

/* ---- array elements --------------------------------------------------- */

/* Element i of a scalar array as a value (little endian, possibly unaligned). */
static rb_gguf_value arr_elem(const rb_gguf_array *arr, uint64_t i)
{
	rb_gguf_value v = {.type = arr->type};
	const size_t esz = rb_gguf_vtype_size(arr->type);
	if (!esz) {
		v.type = RB_GGUF_STRING; /* no numeric value */
		return v;
	}
	const uint8_t *p = (const uint8_t *)arr->data + i * esz;
	switch (arr->type) {
	case RB_GGUF_UINT8: v.v.u8 = p[0]; break;
	case RB_GGUF_INT8: v.v.i8 = (int8_t)p[0]; break;
	case RB_GGUF_BOOL: v.v.b = p[0] != 0; break;
	case RB_GGUF_UINT16: v.v.u16 = rb_le16(p); break;
	case RB_GGUF_INT16: v.v.i16 = (int16_t)rb_le16(p); break;
	case RB_GGUF_UINT32: v.v.u32 = rb_le32(p); break;
	case RB_GGUF_INT32: v.v.i32 = (int32_t)rb_le32(p); break;
	case RB_GGUF_UINT64: v.v.u64 = rb_le64(p); break;
	case RB_GGUF_INT64: v.v.i64 = (int64_t)rb_le64(p); break;
	case RB_GGUF_FLOAT32: {
		const uint32_t b = rb_le32(p);
		memcpy(&v.v.f32, &b, 4);
		break;
	}
	case RB_GGUF_FLOAT64: {
		const uint64_t b = rb_le64(p);
		memcpy(&v.v.f64, &b, 8);
		break;
	}
	default: break;
	}
	return v;
}

double rb_gguf_arr_f64(const rb_gguf_array *arr, uint64_t i)
{
	const rb_gguf_value v = arr_elem(arr, i);
	bool neg = false;
	uint64_t mag = 0;
	if (v.type == RB_GGUF_FLOAT32)
		return v.v.f32;
	if (v.type == RB_GGUF_FLOAT64)
		return v.v.f64;
	if (v.type == RB_GGUF_BOOL)
		return v.v.b;
	if (int_value(&v, &neg, &mag))
		return neg ? -(double)mag : (double)mag;
	return NAN;
}

int64_t rb_gguf_arr_i64(const rb_gguf_array *arr, uint64_t i)
{
	const rb_gguf_value v = arr_elem(arr, i);
	bool neg = false;
	uint64_t mag = 0;
	if (v.type == RB_GGUF_BOOL)
		return v.v.b;
	if (v.type == RB_GGUF_FLOAT32 || v.type == RB_GGUF_FLOAT64) {
		/* truncation toward zero, saturating (NaN gives 0) */
		const double d = v.type == RB_GGUF_FLOAT32 ? v.v.f32 : v.v.f64;
		if (!(d == d))
			return 0;
		if (d >= 9223372036854775807.0)
			return INT64_MAX;
		if (d <= -9223372036854775808.0)
			return INT64_MIN;
		return (int64_t)d;
	}
	if (!int_value(&v, &neg, &mag))
		return 0;
	if (!neg)
		return mag > INT64_MAX ? INT64_MAX : (int64_t)mag;
	return (int64_t)(0 - mag);
}
