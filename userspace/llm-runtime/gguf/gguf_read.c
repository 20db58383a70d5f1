/* SPDX-License-Identifier: MIT */
/* GGUF v2/v3 reader: maps the file and validates every field before anything
 * points into it.
 *
 * Layout (ggml docs/gguf.md, "File Structure"; all little endian):
 *   u32 magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 value type, value },
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset },
 *   zero padding to general.alignment, tensor data (offsets relative to here).
 * A string is { u64 len, len bytes of UTF-8, no NUL }; an array value is
 * { u32 element type, u64 n, n elements }.
 *
 * Hardening rules (docs/gguf.md): every read is bounds-checked against the
 * bytes that remain; counts are checked against the smallest encoding their
 * items could have before anything is sized from them, and arrays grow with
 * what was actually parsed, so allocation stays proportional to the file. */
#include "gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Smallest encodings, used to bound counts read from the file. */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)         /* key len, 1-byte key, type, u8 value */
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 4 + 8) /* name len, 1-byte name, n_dims, type, offset */
#define MIN_STRING_BYTES 8                      /* the length field */

struct cursor {
	const uint8_t *base;
	uint64_t size;
	uint64_t pos;
	rb_err *err;
};

static uint64_t left(const struct cursor *c)
{
	return c->size - c->pos;
}

static int need(struct cursor *c, uint64_t n, const char *what)
{
	if (n <= left(c))
		return RB_OK;
	return rb_err_set(c->err, RB_E_FORMAT,
			  "truncated: %s needs %" PRIu64 " bytes at offset %" PRIu64
			  " but only %" PRIu64 " remain (file is %" PRIu64 " bytes)",
			  what, n, c->pos, left(c), c->size);
}

static int read_u32(struct cursor *c, uint32_t *v, const char *what)
{
	int rc = need(c, 4, what);
	if (rc)
		return rc;
	*v = rb_le32(c->base + c->pos);
	c->pos += 4;
	return RB_OK;
}

static int read_u64(struct cursor *c, uint64_t *v, const char *what)
{
	int rc = need(c, 8, what);
	if (rc)
		return rc;
	*v = rb_le64(c->base + c->pos);
	c->pos += 8;
	return RB_OK;
}

static int read_str(struct cursor *c, rb_gguf_str *s, const char *what)
{
	const uint64_t at = c->pos;
	uint64_t len;
	int rc = read_u64(c, &len, what);
	if (rc)
		return rc;
	if (len > left(c)) {
		c->pos = at;
		return rb_err_set(c->err, RB_E_FORMAT,
				  "%s at offset %" PRIu64 " has length %" PRIu64
				  " but only %" PRIu64 " bytes remain (file is %" PRIu64 " bytes)",
				  what, at, len, left(c) - 8, c->size);
	}
	s->len = len;
	s->data = (const char *)c->base + c->pos;
	c->pos += len;
	return RB_OK;
}

/* Keys and tensor names: non-empty, valid UTF-8, no NUL (they are compared
 * with C strings), keys at most 65535 bytes (spec). */
static int check_name(struct cursor *c, rb_gguf_str s, const char *what, uint64_t max_len)
{
	const uint64_t at = (uint64_t)((const uint8_t *)s.data - c->base);
	if (s.len == 0)
		return rb_err_set(c->err, RB_E_FORMAT, "empty %s at offset %" PRIu64, what, at - 8);
	if (s.len > max_len)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "%s at offset %" PRIu64 " is %" PRIu64 " bytes long (limit %" PRIu64 ")",
				  what, at - 8, s.len, max_len);
	const uint64_t bad = rb_gguf_utf8_check(s.data, s.len);
	if (bad != s.len)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "%s is not valid UTF-8 (byte 0x%02x at offset %" PRIu64 ")", what,
				  (uint8_t)s.data[bad], at + bad);
	const char *nul = memchr(s.data, 0, (size_t)s.len);
	if (nul)
		return rb_err_set(c->err, RB_E_FORMAT, "%s contains a NUL byte at offset %" PRIu64,
				  what, at + (uint64_t)(nul - s.data));
	return RB_OK;
}

static int check_bool(struct cursor *c, uint8_t b, uint64_t at)
{
	if (b <= 1)
		return RB_OK;
	return rb_err_set(c->err, RB_E_FORMAT,
			  "bool value 0x%02x at offset %" PRIu64 " is neither 0 nor 1", b, at);
}

static int read_scalar(struct cursor *c, uint32_t type, rb_gguf_value *v)
{
	const size_t n = rb_gguf_vtype_size(type);
	int rc = need(c, n, rb_gguf_vtype_name((enum rb_gguf_vtype)type));
	if (rc)
		return rc;
	const uint8_t *p = c->base + c->pos;
	switch (type) {
	case RB_GGUF_UINT8: v->v.u8 = p[0]; break;
	case RB_GGUF_INT8: v->v.i8 = (int8_t)p[0]; break;
	case RB_GGUF_UINT16: v->v.u16 = rb_le16(p); break;
	case RB_GGUF_INT16: v->v.i16 = (int16_t)rb_le16(p); break;
	case RB_GGUF_UINT32: v->v.u32 = rb_le32(p); break;
	case RB_GGUF_INT32: v->v.i32 = (int32_t)rb_le32(p); break;
	case RB_GGUF_UINT64: v->v.u64 = rb_le64(p); break;
	case RB_GGUF_INT64: v->v.i64 = (int64_t)rb_le64(p); break;
	case RB_GGUF_FLOAT32: {
		const uint32_t bits = rb_le32(p);
		memcpy(&v->v.f32, &bits, 4);
		break;
	}
	case RB_GGUF_FLOAT64: {
		const uint64_t bits = rb_le64(p);
		memcpy(&v->v.f64, &bits, 8);
		break;
	}
	case RB_GGUF_BOOL:
		rc = check_bool(c, p[0], c->pos);
		if (rc)
			return rc;
		v->v.b = p[0] != 0;
		break;
	default:
		return rb_err_set(c->err, RB_E_FORMAT, "internal: vtype %u is not a scalar", type);
	}
	c->pos += n;
	return RB_OK;
}

/* STRING array: one pass to validate and count the bytes, then allocate
 * exactly what the file really contains. */
static int read_str_array(struct cursor *c, rb_gguf_array *a)
{
	const uint64_t start = c->pos;
	for (uint64_t i = 0; i < a->n; i++) {
		rb_gguf_str s;
		int rc = read_str(c, &s, "array string");
		if (rc)
			return rb_err_wrap(c->err, "element %" PRIu64 " of %" PRIu64, i, a->n);
	}
	if (a->n > SIZE_MAX / sizeof(rb_gguf_str))
		return rb_err_set(c->err, RB_E_NOMEM, "string array of %" PRIu64 " entries", a->n);
	rb_gguf_str *strs = malloc((size_t)a->n * sizeof(*strs));
	if (!strs && a->n)
		return rb_err_set(c->err, RB_E_NOMEM, "string array of %" PRIu64 " entries", a->n);
	c->pos = start;
	for (uint64_t i = 0; i < a->n; i++)
		(void)read_str(c, &strs[i], "array string"); /* validated above */
	a->strs = strs;
	return RB_OK;
}

static int read_array(struct cursor *c, rb_gguf_array *a)
{
	const uint64_t at = c->pos;
	uint32_t et;
	uint64_t n;
	int rc = read_u32(c, &et, "array element type");
	if (!rc)
		rc = read_u64(c, &n, "array length");
	if (rc)
		return rc;
	if (et == RB_GGUF_ARRAY)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "nested array at offset %" PRIu64 " (arrays of arrays are not supported)",
				  at);
	if (et >= RB_GGUF_VTYPE_COUNT)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "bad array element type %u at offset %" PRIu64, et, at);
	a->type = (enum rb_gguf_vtype)et;
	a->n = n;
	a->data = c->base + c->pos;
	a->strs = NULL;
	if (et == RB_GGUF_STRING) {
		if (n > left(c) / MIN_STRING_BYTES)
			return rb_err_set(c->err, RB_E_FORMAT,
					  "string array at offset %" PRIu64 " claims %" PRIu64
					  " entries but only %" PRIu64 " bytes remain",
					  at, n, left(c));
		return read_str_array(c, a);
	}
	const uint64_t esz = rb_gguf_vtype_size(et);
	if (n > left(c) / esz)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "%s array at offset %" PRIu64 " claims %" PRIu64
				  " entries but only %" PRIu64 " bytes remain",
				  rb_gguf_vtype_name(a->type), at, n, left(c));
	if (et == RB_GGUF_BOOL) {
		const uint8_t *p = c->base + c->pos;
		for (uint64_t i = 0; i < n; i++) {
			rc = check_bool(c, p[i], c->pos + i);
			if (rc)
				return rb_err_wrap(c->err, "element %" PRIu64 " of bool array", i);
		}
	}
	c->pos += n * esz;
	return RB_OK;
}

static int read_value(struct cursor *c, rb_gguf_value *v)
{
	const uint64_t at = c->pos;
	uint32_t type;
	int rc = read_u32(c, &type, "value type");
	if (rc)
		return rc;
	if (type >= RB_GGUF_VTYPE_COUNT)
		return rb_err_set(c->err, RB_E_FORMAT, "bad value type %u at offset %" PRIu64, type,
				  at);
	v->type = (enum rb_gguf_vtype)type;
	if (type == RB_GGUF_STRING)
		return read_str(c, &v->v.str, "string value");
	if (type == RB_GGUF_ARRAY)
		return read_array(c, &v->v.arr);
	return read_scalar(c, type, v);
}

/* Grow *arr (elements of esz bytes) to hold at least n_used + 1 entries, never
 * beyond max entries. */
static int grow(void **arr, uint64_t *cap, uint64_t n_used, uint64_t max, size_t esz)
{
	if (n_used < *cap)
		return RB_OK;
	uint64_t ncap = *cap ? *cap * 2 : 16;
	if (ncap > max)
		ncap = max;
	if (ncap > SIZE_MAX / esz)
		return RB_E_NOMEM;
	void *p = realloc(*arr, (size_t)ncap * esz);
	if (!p)
		return RB_E_NOMEM;
	*arr = p;
	*cap = ncap;
	return RB_OK;
}

static int read_kvs(struct cursor *c, rb_gguf *g)
{
	uint64_t cap = 0;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		void *arr = g->kv;
		if (grow(&arr, &cap, i, g->n_kv, sizeof(rb_gguf_kv)))
			return rb_err_set(c->err, RB_E_NOMEM, "metadata table of %" PRIu64 " pairs",
					  g->n_kv);
		g->kv = arr;
		rb_gguf_kv *kv = &g->kv[i];
		memset(kv, 0, sizeof(*kv));
		kv->file_offset = c->pos;
		g->n_kv_parsed_ = i + 1;
		int rc = read_str(c, &kv->key, "key");
		if (!rc)
			rc = check_name(c, kv->key, "key", RB_GGUF_MAX_KEY_LEN);
		if (rc)
			return rb_err_wrap(c->err, "metadata pair %" PRIu64 " at offset %" PRIu64, i,
					   kv->file_offset);
		rc = read_value(c, &kv->value);
		if (rc)
			return rb_err_wrap(c->err, "key '%.*s' (pair %" PRIu64 " at offset %" PRIu64 ")",
					   (int)(kv->key.len > 200 ? 200 : kv->key.len),
					   kv->key.data, i, kv->file_offset);
	}
	return RB_OK;
}

static int cmp_kv_ptr(const void *a, const void *b)
{
	const rb_gguf_kv *x = *(const rb_gguf_kv *const *)a, *y = *(const rb_gguf_kv *const *)b;
	const int r = rb_gguf_str_cmp(x->key, y->key);
	return r ? r : (x > y) - (x < y);
}

static int cmp_tensor_name_ptr(const void *a, const void *b)
{
	const rb_gguf_tensor *x = *(const rb_gguf_tensor *const *)a;
	const rb_gguf_tensor *y = *(const rb_gguf_tensor *const *)b;
	const int r = rb_gguf_str_cmp(x->name, y->name);
	return r ? r : (x > y) - (x < y);
}

static int cmp_tensor_offset_ptr(const void *a, const void *b)
{
	const rb_gguf_tensor *x = *(const rb_gguf_tensor *const *)a;
	const rb_gguf_tensor *y = *(const rb_gguf_tensor *const *)b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (x > y) - (x < y);
}

/* Sorted key index (lookups by binary search) + duplicate check. Sorting
 * keeps this O(n log n) whatever a hostile file puts in its keys. */
static int index_kvs(struct cursor *c, rb_gguf *g)
{
	if (!g->n_kv)
		return RB_OK;
	const rb_gguf_kv **idx = malloc((size_t)g->n_kv * sizeof(*idx));
	if (!idx)
		return rb_err_set(c->err, RB_E_NOMEM, "key index of %" PRIu64 " entries", g->n_kv);
	for (uint64_t i = 0; i < g->n_kv; i++)
		idx[i] = &g->kv[i];
	qsort(idx, (size_t)g->n_kv, sizeof(*idx), cmp_kv_ptr);
	g->kv_index_ = idx;
	for (uint64_t i = 1; i < g->n_kv; i++) {
		const rb_gguf_kv *a = idx[i - 1], *b = idx[i];
		if (rb_gguf_str_cmp(a->key, b->key) == 0)
			return rb_err_set(c->err, RB_E_FORMAT,
					  "duplicate key '%.*s' (pairs %td at offset %" PRIu64
					  " and %td at offset %" PRIu64 ")",
					  (int)(a->key.len > 200 ? 200 : a->key.len), a->key.data,
					  a - g->kv, a->file_offset, b - g->kv, b->file_offset);
	}
	return RB_OK;
}

static int read_alignment(struct cursor *c, rb_gguf *g)
{
	g->alignment = RB_GGUF_DEFAULT_ALIGNMENT;
	const rb_gguf_kv *kv = rb_gguf_get_kv(g, "general.alignment");
	if (!kv)
		return RB_OK;
	/* The spec types general.alignment as uint32. */
	if (kv->value.type != RB_GGUF_UINT32)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "general.alignment (offset %" PRIu64 ") has type %s, expected uint32",
				  kv->file_offset, rb_gguf_vtype_name(kv->value.type));
	const uint32_t a = kv->value.v.u32;
	if (!rb_gguf_is_pow2(a))
		return rb_err_set(c->err, RB_E_FORMAT,
				  "general.alignment = %u (offset %" PRIu64 ") is not a power of two", a,
				  kv->file_offset);
	g->alignment = a;
	return RB_OK;
}

/* Type ids the format defines but this runtime has no layout for, and ids the
 * format retired (ggml docs/gguf.md, ggml_type; ggml.h history). */
static const char *unsupported_type_name(uint32_t id)
{
	switch (id) {
	case 16: return "iq2_xxs";
	case 17: return "iq2_xs";
	case 18: return "iq3_xxs";
	case 19: return "iq1_s";
	case 20: return "iq4_nl";
	case 21: return "iq3_s";
	case 22: return "iq2_s";
	case 23: return "iq4_xs";
	case 29: return "iq1_m";
	case 34: return "tq1_0";
	case 35: return "tq2_0";
	case 39: return "mxfp4";
	default: return NULL;
	}
}

static const char *retired_type_name(uint32_t id)
{
	switch (id) {
	case 4: return "q4_2";
	case 5: return "q4_3";
	case 31: return "q4_0_4_4";
	case 32: return "q4_0_4_8";
	case 33: return "q4_0_8_8";
	case 36: return "iq4_nl_4_4";
	case 37: return "iq4_nl_4_8";
	case 38: return "iq4_nl_8_8";
	default: return NULL;
	}
}

static int check_type(struct cursor *c, uint32_t id, uint64_t at)
{
	if (rb_type_is_valid(id))
		return RB_OK;
	const char *name = unsupported_type_name(id);
	if (name)
		return rb_err_set(c->err, RB_E_UNSUPPORTED,
				  "tensor type %s (id %u, offset %" PRIu64 ") is not supported", name, id,
				  at);
	name = retired_type_name(id);
	if (name)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "tensor type id %u (%s, offset %" PRIu64 ") was retired from the format",
				  id, name, at);
	return rb_err_set(c->err, RB_E_FORMAT, "unknown tensor type id %u at offset %" PRIu64, id,
			  at);
}

/* Shape checks and byte size: ne[0] whole blocks, element count and byte size
 * representable (ggml sizes are int64). */
static int tensor_size(struct cursor *c, rb_gguf_tensor *t)
{
	const int64_t bs = rb_type_block_size(t->type);
	if (t->ne[0] % bs)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "ne[0] = %" PRId64 " is not a multiple of the %s block size %" PRId64,
				  t->ne[0], rb_type_name(t->type), bs);
	int64_t nel = 1;
	for (int d = 0; d < RB_GGUF_MAX_DIMS; d++)
		if (__builtin_mul_overflow(nel, t->ne[d], &nel))
			return rb_err_set(c->err, RB_E_FORMAT,
					  "element count overflows (shape %" PRId64 " x %" PRId64
					  " x %" PRId64 " x %" PRId64 ")",
					  t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
	uint64_t bytes = rb_row_size(t->type, t->ne[0]);
	for (int d = 1; d < RB_GGUF_MAX_DIMS; d++)
		if (__builtin_mul_overflow(bytes, (uint64_t)t->ne[d], &bytes) || bytes > INT64_MAX)
			return rb_err_set(c->err, RB_E_FORMAT, "byte size overflows");
	t->nbytes = bytes;
	return RB_OK;
}

static int read_tensor_info(struct cursor *c, rb_gguf_tensor *t)
{
	int rc = read_str(c, &t->name, "tensor name");
	if (!rc)
		rc = check_name(c, t->name, "tensor name", UINT64_MAX);
	if (!rc)
		rc = read_u32(c, &t->n_dims, "n_dims");
	if (rc)
		return rc;
	if (t->n_dims > RB_GGUF_MAX_DIMS)
		return rb_err_set(c->err, RB_E_FORMAT, "%u dimensions at offset %" PRIu64
				  " (at most %d)", t->n_dims, c->pos - 4, RB_GGUF_MAX_DIMS);
	for (int d = 0; d < RB_GGUF_MAX_DIMS; d++)
		t->ne[d] = 1;
	for (uint32_t d = 0; d < t->n_dims; d++) {
		uint64_t ne;
		rc = read_u64(c, &ne, "dimension");
		if (rc)
			return rc;
		if (ne > INT64_MAX)
			return rb_err_set(c->err, RB_E_FORMAT,
					  "negative dimension ne[%u] = %" PRId64 " at offset %" PRIu64, d,
					  (int64_t)ne, c->pos - 8);
		t->ne[d] = (int64_t)ne;
	}
	uint32_t type;
	rc = read_u32(c, &type, "tensor type");
	if (!rc)
		rc = check_type(c, type, c->pos - 4);
	if (rc)
		return rc;
	t->type = (enum rb_type)type;
	rc = read_u64(c, &t->offset, "tensor data offset");
	if (!rc)
		rc = tensor_size(c, t);
	return rc;
}

/* Only names that passed check_name() go into messages. */
static bool name_is_valid(rb_gguf_str s)
{
	return s.data && s.len && s.len <= RB_GGUF_MAX_KEY_LEN &&
	       rb_gguf_utf8_check(s.data, s.len) == s.len && !memchr(s.data, 0, (size_t)s.len);
}

static int read_tensor_infos(struct cursor *c, rb_gguf *g)
{
	if (g->n_tensors > left(c) / MIN_TENSOR_INFO_BYTES)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "n_tensors = %" PRIu64 " (offset 8) cannot fit: tensor infos start at "
				  "offset %" PRIu64 " and only %" PRIu64 " bytes remain",
				  g->n_tensors, c->pos, left(c));
	uint64_t cap = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		void *arr = g->tensors;
		if (grow(&arr, &cap, i, g->n_tensors, sizeof(rb_gguf_tensor)))
			return rb_err_set(c->err, RB_E_NOMEM, "tensor table of %" PRIu64 " entries",
					  g->n_tensors);
		g->tensors = arr;
		rb_gguf_tensor *t = &g->tensors[i];
		memset(t, 0, sizeof(*t));
		const uint64_t at = c->pos;
		int rc = read_tensor_info(c, t);
		if (rc && name_is_valid(t->name))
			return rb_err_wrap(c->err, "tensor %" PRIu64 " '%.*s' (info at offset %" PRIu64
					   ")", i, (int)(t->name.len > 200 ? 200 : t->name.len),
					   t->name.data, at);
		if (rc)
			return rb_err_wrap(c->err, "tensor %" PRIu64 " (info at offset %" PRIu64 ")", i,
					   at);
	}
	return RB_OK;
}

static int index_tensors(struct cursor *c, rb_gguf *g)
{
	if (!g->n_tensors)
		return RB_OK;
	const size_t n = (size_t)g->n_tensors;
	const rb_gguf_tensor **idx = malloc(n * sizeof(*idx));
	if (!idx)
		return rb_err_set(c->err, RB_E_NOMEM, "tensor index of %zu entries", n);
	for (size_t i = 0; i < n; i++)
		idx[i] = &g->tensors[i];
	qsort(idx, n, sizeof(*idx), cmp_tensor_name_ptr);
	g->tensor_index_ = idx;
	for (size_t i = 1; i < n; i++) {
		const rb_gguf_tensor *a = idx[i - 1], *b = idx[i];
		if (rb_gguf_str_cmp(a->name, b->name) == 0)
			return rb_err_set(c->err, RB_E_FORMAT,
					  "duplicate tensor name '%.*s' (tensors %td and %td)",
					  (int)(a->name.len > 200 ? 200 : a->name.len), a->name.data,
					  a - g->tensors, b - g->tensors);
	}
	return RB_OK;
}

/* Data placement: aligned offsets, inside the file, no two tensors sharing a
 * byte. Empty tensors occupy nothing and may sit anywhere in the section. */
static int place_tensors(struct cursor *c, rb_gguf *g)
{
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		rb_gguf_tensor *t = &g->tensors[i];
		const int nl = (int)(t->name.len > 200 ? 200 : t->name.len);
		uint64_t start, end;
		if (t->offset % g->alignment)
			return rb_err_set(c->err, RB_E_FORMAT,
					  "tensor '%.*s': data offset %" PRIu64
					  " is not a multiple of the alignment %" PRIu64,
					  nl, t->name.data, t->offset, g->alignment);
		if (__builtin_add_overflow(g->data_offset, t->offset, &start) ||
		    __builtin_add_overflow(start, t->nbytes, &end) || end > g->size)
			return rb_err_set(c->err, RB_E_FORMAT,
					  "tensor '%.*s': %" PRIu64 " bytes at data offset %" PRIu64
					  " (data section at file offset %" PRIu64
					  ") extend past end of file (%" PRIu64 " bytes)",
					  nl, t->name.data, t->nbytes, t->offset, g->data_offset,
					  g->size);
		t->data = g->base + start;
	}
	if (g->n_tensors < 2)
		return RB_OK;
	const size_t n = (size_t)g->n_tensors;
	const rb_gguf_tensor **by_off = malloc(n * sizeof(*by_off));
	if (!by_off)
		return rb_err_set(c->err, RB_E_NOMEM, "tensor offset table of %zu entries", n);
	for (size_t i = 0; i < n; i++)
		by_off[i] = &g->tensors[i];
	qsort(by_off, n, sizeof(*by_off), cmp_tensor_offset_ptr);
	const rb_gguf_tensor *prev = NULL; /* the non-empty tensor reaching furthest so far */
	int rc = RB_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		const rb_gguf_tensor *t = by_off[i];
		if (!t->nbytes)
			continue;
		if (prev && t->offset < prev->offset + prev->nbytes)
			rc = rb_err_set(c->err, RB_E_FORMAT,
					"tensors '%.*s' [%" PRIu64 ", %" PRIu64 ") and '%.*s' [%" PRIu64
					", %" PRIu64 ") overlap (data offsets; data section at file offset %" PRIu64 ")",
					(int)(prev->name.len > 200 ? 200 : prev->name.len), prev->name.data,
					prev->offset, prev->offset + prev->nbytes,
					(int)(t->name.len > 200 ? 200 : t->name.len), t->name.data,
					t->offset, t->offset + t->nbytes, g->data_offset);
		if (!prev || t->offset + t->nbytes > prev->offset + prev->nbytes)
			prev = t;
	}
	free(by_off);
	return rc;
}

static int read_header(struct cursor *c, rb_gguf *g)
{
	if (c->size < 4)
		return rb_err_set(c->err, RB_E_FORMAT, "not a GGUF file: only %" PRIu64 " bytes",
				  c->size);
	uint32_t magic, version;
	(void)read_u32(c, &magic, "magic");
	if (magic != RB_GGUF_MAGIC)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "not a GGUF file: magic at offset 0 is %02x %02x %02x %02x, expected "
				  "\"GGUF\"",
				  c->base[0], c->base[1], c->base[2], c->base[3]);
	int rc = read_u32(c, &version, "version");
	if (rc)
		return rc;
	/* A big-endian file (allowed by v3) stores its version byte-swapped. */
	if (version != 0 && (version & 0xffffu) == 0 && __builtin_bswap32(version) <= 3)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "big-endian GGUF file (version field at offset 4 reads 0x%08x): only "
				  "little-endian files are supported",
				  version);
	if (version == 1)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "GGUF version 1 (32-bit counts) is not supported: only versions 2 and 3");
	if (version != 2 && version != 3)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "unsupported GGUF version %u at offset 4: only versions 2 and 3",
				  version);
	g->version = version;
	rc = read_u64(c, &g->n_tensors, "tensor count");
	if (!rc)
		rc = read_u64(c, &g->n_kv, "metadata pair count");
	if (rc)
		return rc;
	if (g->n_kv > left(c) / MIN_KV_BYTES)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "n_kv = %" PRIu64 " (offset 16) cannot fit in the %" PRIu64
				  " bytes after the header",
				  g->n_kv, left(c));
	if (g->n_tensors > left(c) / MIN_TENSOR_INFO_BYTES)
		return rb_err_set(c->err, RB_E_FORMAT,
				  "n_tensors = %" PRIu64 " (offset 8) cannot fit in the %" PRIu64
				  " bytes after the header",
				  g->n_tensors, left(c));
	return RB_OK;
}

static int parse(rb_gguf *g, rb_err *err)
{
	struct cursor c = {.base = g->base, .size = g->size, .pos = 0, .err = err};
	int rc = read_header(&c, g);
	if (!rc)
		rc = read_kvs(&c, g);
	if (!rc)
		rc = index_kvs(&c, g);
	if (!rc)
		rc = read_alignment(&c, g);
	if (!rc)
		rc = read_tensor_infos(&c, g);
	if (!rc)
		rc = index_tensors(&c, g);
	if (rc)
		return rc;
	uint64_t data_offset;
	if (!rb_gguf_align_up(c.pos, g->alignment, &data_offset) ||
	    (data_offset > g->size && g->n_tensors))
		return rb_err_set(err, RB_E_FORMAT,
				  "tensor data section (tensor infos end at offset %" PRIu64
				  ", alignment %" PRIu64 ") starts past end of file (%" PRIu64 " bytes)",
				  c.pos, g->alignment, g->size);
	/* With no tensors the file may end right after the infos, unpadded. */
	g->data_offset = data_offset > g->size ? g->size : data_offset;
	return place_tensors(&c, g);
}

static void free_values(rb_gguf *g)
{
	for (uint64_t i = 0; i < g->n_kv_parsed_; i++)
		if (g->kv[i].value.type == RB_GGUF_ARRAY)
			free((void *)g->kv[i].value.v.arr.strs);
}

void rb_gguf_close(rb_gguf *g)
{
	if (!g)
		return;
	if (g->kv)
		free_values(g);
	free(g->kv);
	free(g->tensors);
	free(g->kv_index_);
	free(g->tensor_index_);
	if (g->owns_map_ && g->map_)
		munmap(g->map_, g->map_size_);
	free(g);
}

int rb_gguf_open_memory(const void *data, size_t size, rb_gguf **out, rb_err *err)
{
	*out = NULL;
	rb_err_clear(err);
	if (!data && size)
		return rb_err_set(err, RB_E_INVALID, "rb_gguf_open_memory: NULL buffer");
	rb_gguf *g = calloc(1, sizeof(*g));
	if (!g)
		return rb_err_set(err, RB_E_NOMEM, "GGUF handle");
	g->base = data;
	g->size = size;
	int rc = parse(g, err);
	if (rc) {
		rb_gguf_close(g);
		return rc;
	}
	*out = g;
	return RB_OK;
}

int rb_gguf_open(const char *path, rb_gguf **out, rb_err *err)
{
	*out = NULL;
	rb_err_clear(err);
	const int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rb_err_set(err, RB_E_IO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		const int e = errno;
		close(fd);
		return rb_err_set(err, RB_E_IO, "%s: cannot stat: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return rb_err_set(err, RB_E_IO, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return rb_err_set(err, RB_E_FORMAT, "%s: empty file, not a GGUF file", path);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return rb_err_set(err, RB_E_IO, "%s: too large to map", path);
	}
	const size_t size = (size_t)st.st_size;
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	const int map_errno = errno;
	close(fd);
	if (map == MAP_FAILED)
		return rb_err_set(err, RB_E_IO, "%s: mmap of %zu bytes failed: %s", path, size,
				  strerror(map_errno));
	rb_gguf *g = calloc(1, sizeof(*g));
	if (!g) {
		munmap(map, size);
		return rb_err_set(err, RB_E_NOMEM, "%s: GGUF handle", path);
	}
	g->map_ = map;
	g->map_size_ = size;
	g->owns_map_ = 1;
	g->base = map;
	g->size = size;
	int rc = parse(g, err);
	if (rc) {
		rb_gguf_close(g);
		return rb_err_wrap(err, "%s", path);
	}
	*out = g;
	return RB_OK;
}

void rb_gguf_prefault(const rb_gguf *g, rb_progress_fn progress, void *user)
{
	if (!g || g->data_offset >= g->size)
		return;
	const uint64_t total = g->size - g->data_offset;
	if (g->owns_map_)
		(void)madvise(g->map_, g->map_size_, MADV_WILLNEED);
	long ps = sysconf(_SC_PAGESIZE);
	const uint64_t page = ps > 0 ? (uint64_t)ps : 4096;
	const uint64_t report_every = 32ull << 20;
	const volatile uint8_t *p = g->base + g->data_offset;
	uint8_t sink = 0;
	uint64_t next_report = report_every;
	if (progress)
		progress(user, 0, total);
	for (uint64_t off = 0; off < total; off += page) {
		sink ^= p[off];
		if (progress && off >= next_report) {
			progress(user, off, total);
			next_report += report_every;
		}
	}
	(void)sink;
	if (progress)
		progress(user, total, total);
}
