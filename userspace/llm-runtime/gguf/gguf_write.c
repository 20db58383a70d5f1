/* SPDX-License-Identifier: MIT */
/* GGUF writer: metadata and tensor declarations are collected first, then the
 * whole layout is computed and emitted in one pass into a buffer or into a
 * pre-allocated, memory-mapped temporary file that is renamed into place.
 * Tensor data comes either from caller memory or from a fill callback that
 * writes straight into the destination, so a 1 GB model never needs a second
 * copy in memory.
 *
 * Layout written (ggml docs/gguf.md): header, key/value pairs in insertion
 * order, tensor infos in insertion order, zero padding to the alignment,
 * each tensor at the next aligned offset, zero padding after every tensor. */
#include "gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF writer copies array payloads as-is and needs a little-endian host"
#endif

struct wkv {
	char *key;           /* owned, NUL-terminated */
	rb_gguf_value value; /* strings and arrays point into owned memory below */
	void *payload;       /* string bytes / array elements / array of rb_gguf_str */
	char *blob;          /* string arrays: all string bytes back to back */
};

struct wtensor {
	char *name;
	enum rb_type type;
	uint32_t n_dims;
	int64_t ne[RB_GGUF_MAX_DIMS];
	uint64_t nbytes;
	const void *data;
	uint64_t offset; /* assigned by layout() */
};

struct rb_gguf_writer {
	uint32_t version;
	uint32_t alignment;
	struct wkv *kv;
	size_t n_kv, cap_kv;
	struct wtensor *t;
	size_t n_t, cap_t;
};

rb_gguf_writer *rb_gguf_writer_create(void)
{
	rb_gguf_writer *w = calloc(1, sizeof(*w));
	if (w) {
		w->version = 3;
		w->alignment = RB_GGUF_DEFAULT_ALIGNMENT;
	}
	return w;
}

static void wkv_free(struct wkv *kv)
{
	free(kv->key);
	free(kv->payload);
	free(kv->blob);
}

void rb_gguf_writer_free(rb_gguf_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_kv; i++)
		wkv_free(&w->kv[i]);
	for (size_t i = 0; i < w->n_t; i++)
		free(w->t[i].name);
	free(w->kv);
	free(w->t);
	free(w);
}

int rb_gguf_writer_set_version(rb_gguf_writer *w, uint32_t version)
{
	if (!w || (version != 2 && version != 3))
		return RB_E_INVALID;
	w->version = version;
	return RB_OK;
}

/* Keys and tensor names follow the reader's rules, so whatever the writer
 * accepts reads back. */
static bool valid_name(const char *s, size_t max_len)
{
	if (!s)
		return false;
	const size_t n = strlen(s);
	return n > 0 && n <= max_len && rb_gguf_utf8_check(s, n) == n;
}

/* Take ownership of kv (all of it, also on failure): insert or replace. */
static int put(rb_gguf_writer *w, struct wkv *kv)
{
	int rc = RB_OK;
	if (strcmp(kv->key, "general.alignment") == 0) {
		/* The reader insists on a uint32 power of two: enforce it here. */
		if (kv->value.type != RB_GGUF_UINT32 || !rb_gguf_is_pow2(kv->value.v.u32))
			rc = RB_E_INVALID;
		else
			w->alignment = kv->value.v.u32;
	}
	for (size_t i = 0; !rc && i < w->n_kv; i++) {
		if (strcmp(w->kv[i].key, kv->key) == 0) {
			wkv_free(&w->kv[i]);
			w->kv[i] = *kv;
			return RB_OK;
		}
	}
	if (!rc && w->n_kv == w->cap_kv) {
		const size_t ncap = w->cap_kv ? w->cap_kv * 2 : 32;
		struct wkv *p = realloc(w->kv, ncap * sizeof(*p));
		if (!p)
			rc = RB_E_NOMEM;
		else {
			w->kv = p;
			w->cap_kv = ncap;
		}
	}
	if (rc) {
		wkv_free(kv);
		return rc;
	}
	w->kv[w->n_kv++] = *kv;
	return RB_OK;
}

static int put_scalar(rb_gguf_writer *w, const char *key, rb_gguf_value v)
{
	if (!w || !valid_name(key, RB_GGUF_MAX_KEY_LEN))
		return RB_E_INVALID;
	struct wkv kv = {.key = strdup(key), .value = v};
	if (!kv.key)
		return RB_E_NOMEM;
	return put(w, &kv);
}

#define SETTER(fn, ctype, vt, field)                                                   \
	int fn(rb_gguf_writer *w, const char *key, ctype x)                            \
	{                                                                              \
		rb_gguf_value v = {.type = vt};                                        \
		v.v.field = x;                                                         \
		return put_scalar(w, key, v);                                          \
	}
SETTER(rb_gguf_set_u8, uint8_t, RB_GGUF_UINT8, u8)
SETTER(rb_gguf_set_i8, int8_t, RB_GGUF_INT8, i8)
SETTER(rb_gguf_set_u16, uint16_t, RB_GGUF_UINT16, u16)
SETTER(rb_gguf_set_i16, int16_t, RB_GGUF_INT16, i16)
SETTER(rb_gguf_set_u32, uint32_t, RB_GGUF_UINT32, u32)
SETTER(rb_gguf_set_i32, int32_t, RB_GGUF_INT32, i32)
SETTER(rb_gguf_set_u64, uint64_t, RB_GGUF_UINT64, u64)
SETTER(rb_gguf_set_i64, int64_t, RB_GGUF_INT64, i64)
SETTER(rb_gguf_set_f32, float, RB_GGUF_FLOAT32, f32)
SETTER(rb_gguf_set_f64, double, RB_GGUF_FLOAT64, f64)
SETTER(rb_gguf_set_bool, bool, RB_GGUF_BOOL, b)
#undef SETTER

static void *dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

static int set_str_n(rb_gguf_writer *w, const char *key, const char *s, uint64_t len)
{
	if (!w || !valid_name(key, RB_GGUF_MAX_KEY_LEN) || (!s && len) || len > SIZE_MAX)
		return RB_E_INVALID;
	struct wkv kv = {.key = strdup(key), .value = {.type = RB_GGUF_STRING}};
	kv.payload = dup_bytes(s, (size_t)len);
	if (!kv.key || !kv.payload) {
		wkv_free(&kv);
		return RB_E_NOMEM;
	}
	kv.value.v.str = (rb_gguf_str){.len = len, .data = kv.payload};
	return put(w, &kv);
}

int rb_gguf_set_str(rb_gguf_writer *w, const char *key, const char *v)
{
	return v ? set_str_n(w, key, v, strlen(v)) : RB_E_INVALID;
}

int rb_gguf_set_arr(rb_gguf_writer *w, const char *key, enum rb_gguf_vtype t, const void *data,
		    uint64_t n)
{
	const size_t esz = rb_gguf_vtype_size(t);
	if (!w || !valid_name(key, RB_GGUF_MAX_KEY_LEN) || !esz || (!data && n) ||
	    n > SIZE_MAX / esz)
		return RB_E_INVALID;
	if (t == RB_GGUF_BOOL)
		for (uint64_t i = 0; i < n; i++)
			if (((const uint8_t *)data)[i] > 1)
				return RB_E_INVALID;
	struct wkv kv = {.key = strdup(key), .value = {.type = RB_GGUF_ARRAY}};
	kv.payload = dup_bytes(data, (size_t)(n * esz));
	if (!kv.key || !kv.payload) {
		wkv_free(&kv);
		return RB_E_NOMEM;
	}
	kv.value.v.arr = (rb_gguf_array){.type = t, .n = n, .data = kv.payload};
	return put(w, &kv);
}

/* Copy n strings (given as rb_gguf_str) into one blob + one index. */
static int set_arr_gstr(rb_gguf_writer *w, const char *key, const rb_gguf_str *strs, uint64_t n)
{
	if (!w || !valid_name(key, RB_GGUF_MAX_KEY_LEN) || (!strs && n) ||
	    n > SIZE_MAX / sizeof(rb_gguf_str))
		return RB_E_INVALID;
	size_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		if ((!strs[i].data && strs[i].len) || strs[i].len > SIZE_MAX - total)
			return RB_E_INVALID;
		total += (size_t)strs[i].len;
	}
	struct wkv kv = {.key = strdup(key), .value = {.type = RB_GGUF_ARRAY}};
	rb_gguf_str *idx = malloc(n ? (size_t)n * sizeof(*idx) : 1);
	kv.payload = idx;
	kv.blob = malloc(total ? total : 1);
	if (!kv.key || !idx || !kv.blob) {
		wkv_free(&kv);
		return RB_E_NOMEM;
	}
	size_t pos = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (strs[i].len)
			memcpy(kv.blob + pos, strs[i].data, (size_t)strs[i].len);
		idx[i] = (rb_gguf_str){.len = strs[i].len, .data = kv.blob + pos};
		pos += (size_t)strs[i].len;
	}
	kv.value.v.arr = (rb_gguf_array){.type = RB_GGUF_STRING, .n = n, .data = kv.blob,
					 .strs = idx};
	return put(w, &kv);
}

int rb_gguf_set_arr_str(rb_gguf_writer *w, const char *key, const char *const *strs, uint64_t n)
{
	if ((!strs && n) || n > SIZE_MAX / sizeof(rb_gguf_str))
		return RB_E_INVALID;
	rb_gguf_str *tmp = malloc(n ? (size_t)n * sizeof(*tmp) : 1);
	if (!tmp)
		return RB_E_NOMEM;
	int rc = RB_OK;
	for (uint64_t i = 0; i < n && !rc; i++) {
		if (!strs[i])
			rc = RB_E_INVALID;
		else
			tmp[i] = (rb_gguf_str){.len = strlen(strs[i]), .data = strs[i]};
	}
	if (!rc)
		rc = set_arr_gstr(w, key, tmp, n);
	free(tmp);
	return rc;
}

int rb_gguf_set_kv(rb_gguf_writer *w, const rb_gguf_kv *src)
{
	if (!w || !src || src->key.len > RB_GGUF_MAX_KEY_LEN)
		return RB_E_INVALID;
	char *key = rb_gguf_str_dup(src->key);
	if (!key)
		return RB_E_NOMEM;
	int rc;
	const rb_gguf_value *v = &src->value;
	if (v->type == RB_GGUF_STRING)
		rc = set_str_n(w, key, v->v.str.data, v->v.str.len);
	else if (v->type == RB_GGUF_ARRAY && v->v.arr.type == RB_GGUF_STRING)
		rc = set_arr_gstr(w, key, v->v.arr.strs, v->v.arr.n);
	else if (v->type == RB_GGUF_ARRAY)
		rc = rb_gguf_set_arr(w, key, v->v.arr.type, v->v.arr.data, v->v.arr.n);
	else if (rb_gguf_vtype_size(v->type))
		rc = put_scalar(w, key, *v);
	else
		rc = RB_E_INVALID;
	free(key);
	return rc;
}

int rb_gguf_copy_kvs(rb_gguf_writer *w, const rb_gguf *g, const char *prefix)
{
	if (!w || !g)
		return RB_E_INVALID;
	const size_t plen = prefix ? strlen(prefix) : 0;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const rb_gguf_str k = g->kv[i].key;
		if (k.len < plen || (plen && memcmp(k.data, prefix, plen) != 0))
			continue;
		const int rc = rb_gguf_set_kv(w, &g->kv[i]);
		if (rc)
			return rc;
	}
	return RB_OK;
}

int rb_gguf_set_alignment(rb_gguf_writer *w, uint32_t alignment)
{
	if (!rb_gguf_is_pow2(alignment))
		return RB_E_INVALID;
	return rb_gguf_set_u32(w, "general.alignment", alignment);
}

/* ---- tensors ------------------------------------------------------------ */

int rb_gguf_add_tensor(rb_gguf_writer *w, const char *name, enum rb_type type, uint32_t n_dims,
		       const int64_t *ne, const void *data)
{
	if (!w || !valid_name(name, SIZE_MAX) || !rb_type_is_valid((uint32_t)type) ||
	    n_dims > RB_GGUF_MAX_DIMS || (n_dims && !ne))
		return RB_E_INVALID;
	struct wtensor t = {.type = type, .n_dims = n_dims, .data = data};
	int64_t nel = 1;
	for (int d = 0; d < RB_GGUF_MAX_DIMS; d++) {
		t.ne[d] = (uint32_t)d < n_dims ? ne[d] : 1;
		if (t.ne[d] < 0 || __builtin_mul_overflow(nel, t.ne[d], &nel))
			return RB_E_INVALID;
	}
	if (t.ne[0] % rb_type_block_size(type))
		return RB_E_INVALID;
	uint64_t bytes = rb_row_size(type, t.ne[0]);
	for (int d = 1; d < RB_GGUF_MAX_DIMS; d++)
		if (__builtin_mul_overflow(bytes, (uint64_t)t.ne[d], &bytes) || bytes > INT64_MAX)
			return RB_E_INVALID;
	t.nbytes = bytes;
	for (size_t i = 0; i < w->n_t; i++)
		if (strcmp(w->t[i].name, name) == 0)
			return RB_E_INVALID;
	if (w->n_t == w->cap_t) {
		const size_t ncap = w->cap_t ? w->cap_t * 2 : 64;
		struct wtensor *p = realloc(w->t, ncap * sizeof(*p));
		if (!p)
			return RB_E_NOMEM;
		w->t = p;
		w->cap_t = ncap;
	}
	t.name = strdup(name);
	if (!t.name)
		return RB_E_NOMEM;
	w->t[w->n_t++] = t;
	return RB_OK;
}

/* ---- layout and encoding --------------------------------------------------- */

static uint64_t value_size(const rb_gguf_value *v)
{
	if (v->type == RB_GGUF_STRING)
		return 8 + v->v.str.len;
	if (v->type != RB_GGUF_ARRAY)
		return rb_gguf_vtype_size(v->type);
	const rb_gguf_array *a = &v->v.arr;
	uint64_t n = 4 + 8;
	if (a->type != RB_GGUF_STRING)
		return n + a->n * rb_gguf_vtype_size(a->type);
	for (uint64_t i = 0; i < a->n; i++)
		n += 8 + a->strs[i].len;
	return n;
}

/* Offsets of every tensor, the data section and the total size. All sizes
 * were bounded when added, but a writer can hold many: check the sums. */
static int layout(rb_gguf_writer *w, uint64_t *data_offset, uint64_t *total, rb_err *err)
{
	uint64_t n = 4 + 4 + 8 + 8;
	for (size_t i = 0; i < w->n_kv; i++)
		n += 8 + strlen(w->kv[i].key) + 4 + value_size(&w->kv[i].value);
	for (size_t i = 0; i < w->n_t; i++)
		n += 8 + strlen(w->t[i].name) + 4 + 8ull * w->t[i].n_dims + 4 + 8;
	if (!rb_gguf_align_up(n, w->alignment, data_offset))
		return rb_err_set(err, RB_E_INVALID, "GGUF layout overflows");
	uint64_t off = 0;
	for (size_t i = 0; i < w->n_t; i++) {
		w->t[i].offset = off;
		if (__builtin_add_overflow(off, w->t[i].nbytes, &off) ||
		    !rb_gguf_align_up(off, w->alignment, &off))
			return rb_err_set(err, RB_E_INVALID, "GGUF layout overflows");
	}
	if (__builtin_add_overflow(*data_offset, off, total) || *total > SIZE_MAX)
		return rb_err_set(err, RB_E_INVALID, "GGUF file of %" PRIu64 " + %" PRIu64
				  " bytes is too large", *data_offset, off);
	return RB_OK;
}

struct out {
	uint8_t *p;
};

static void put_bytes(struct out *o, const void *s, uint64_t n)
{
	if (n)
		memcpy(o->p, s, (size_t)n);
	o->p += n;
}
static void put_u32(struct out *o, uint32_t v)
{
	rb_put_le32(o->p, v);
	o->p += 4;
}
static void put_u64(struct out *o, uint64_t v)
{
	rb_put_le64(o->p, v);
	o->p += 8;
}
static void put_str(struct out *o, const char *s, uint64_t n)
{
	put_u64(o, n);
	put_bytes(o, s, n);
}

static void put_scalar_value(struct out *o, const rb_gguf_value *v)
{
	uint32_t b32;
	uint64_t b64;
	switch (v->type) {
	case RB_GGUF_UINT8: *o->p++ = v->v.u8; break;
	case RB_GGUF_INT8: *o->p++ = (uint8_t)v->v.i8; break;
	case RB_GGUF_BOOL: *o->p++ = v->v.b ? 1 : 0; break;
	case RB_GGUF_UINT16: *o->p++ = (uint8_t)v->v.u16; *o->p++ = (uint8_t)(v->v.u16 >> 8); break;
	case RB_GGUF_INT16: {
		const uint16_t u = (uint16_t)v->v.i16;
		*o->p++ = (uint8_t)u;
		*o->p++ = (uint8_t)(u >> 8);
		break;
	}
	case RB_GGUF_UINT32: put_u32(o, v->v.u32); break;
	case RB_GGUF_INT32: put_u32(o, (uint32_t)v->v.i32); break;
	case RB_GGUF_UINT64: put_u64(o, v->v.u64); break;
	case RB_GGUF_INT64: put_u64(o, (uint64_t)v->v.i64); break;
	case RB_GGUF_FLOAT32: memcpy(&b32, &v->v.f32, 4); put_u32(o, b32); break;
	case RB_GGUF_FLOAT64: memcpy(&b64, &v->v.f64, 8); put_u64(o, b64); break;
	default: break;
	}
}

static void put_value(struct out *o, const rb_gguf_value *v)
{
	put_u32(o, (uint32_t)v->type);
	if (v->type == RB_GGUF_STRING) {
		put_str(o, v->v.str.data, v->v.str.len);
	} else if (v->type == RB_GGUF_ARRAY) {
		const rb_gguf_array *a = &v->v.arr;
		put_u32(o, (uint32_t)a->type);
		put_u64(o, a->n);
		if (a->type == RB_GGUF_STRING)
			for (uint64_t i = 0; i < a->n; i++)
				put_str(o, a->strs[i].data, a->strs[i].len);
		else
			put_bytes(o, a->data, a->n * rb_gguf_vtype_size(a->type));
	} else {
		put_scalar_value(o, v);
	}
}

/* Emit the whole file into dst (total bytes, zero-filled by the caller). */
static int emit(rb_gguf_writer *w, uint8_t *dst, uint64_t data_offset, rb_gguf_fill_fn fill,
		void *user, rb_err *err)
{
	struct out o = {dst};
	put_u32(&o, RB_GGUF_MAGIC);
	put_u32(&o, w->version);
	put_u64(&o, w->n_t);
	put_u64(&o, w->n_kv);
	for (size_t i = 0; i < w->n_kv; i++) {
		put_str(&o, w->kv[i].key, strlen(w->kv[i].key));
		put_value(&o, &w->kv[i].value);
	}
	for (size_t i = 0; i < w->n_t; i++) {
		const struct wtensor *t = &w->t[i];
		put_str(&o, t->name, strlen(t->name));
		put_u32(&o, t->n_dims);
		for (uint32_t d = 0; d < t->n_dims; d++)
			put_u64(&o, (uint64_t)t->ne[d]);
		put_u32(&o, (uint32_t)t->type);
		put_u64(&o, t->offset);
	}
	for (size_t i = 0; i < w->n_t; i++) {
		const struct wtensor *t = &w->t[i];
		uint8_t *p = dst + data_offset + t->offset;
		if (!t->nbytes)
			continue;
		if (t->data) {
			memcpy(p, t->data, (size_t)t->nbytes);
			continue;
		}
		if (!fill)
			return rb_err_set(err, RB_E_INVALID,
					  "tensor '%s' has no data and no fill callback was given",
					  t->name);
		const int rc = fill(user, i, p, t->nbytes);
		if (rc)
			return rb_err_set(err, rc < 0 ? rc : RB_E_IO,
					  "fill callback failed for tensor '%s' (status %d)", t->name,
					  rc);
	}
	return RB_OK;
}

int rb_gguf_write_memory(rb_gguf_writer *w, void **data, size_t *size, rb_gguf_fill_fn fill,
			 void *user, rb_err *err)
{
	*data = NULL;
	*size = 0;
	rb_err_clear(err);
	if (!w)
		return rb_err_set(err, RB_E_INVALID, "rb_gguf_write_memory: NULL writer");
	uint64_t data_offset, total;
	int rc = layout(w, &data_offset, &total, err);
	if (rc)
		return rc;
	uint8_t *buf = calloc(1, (size_t)total);
	if (!buf)
		return rb_err_set(err, RB_E_NOMEM, "GGUF buffer of %" PRIu64 " bytes", total);
	rc = emit(w, buf, data_offset, fill, user, err);
	if (rc) {
		free(buf);
		return rc;
	}
	*data = buf;
	*size = (size_t)total;
	return RB_OK;
}

int rb_gguf_write_file(rb_gguf_writer *w, const char *path, rb_gguf_fill_fn fill, void *user,
		       rb_err *err)
{
	rb_err_clear(err);
	if (!w || !path)
		return rb_err_set(err, RB_E_INVALID, "rb_gguf_write_file: NULL argument");
	uint64_t data_offset, total;
	int rc = layout(w, &data_offset, &total, err);
	if (rc)
		return rc;
	const size_t plen = strlen(path);
	char *tmp = malloc(plen + 5);
	if (!tmp)
		return rb_err_set(err, RB_E_NOMEM, "path");
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);

	const int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = rb_err_set(err, RB_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	/* Reserve the blocks first: writing through a mapping of a sparse file
	 * on a full disk would raise SIGBUS instead of an error. */
	void *map = MAP_FAILED;
	int e = posix_fallocate(fd, 0, (off_t)total);
	if (e) {
		rc = rb_err_set(err, RB_E_IO, "%s: cannot allocate %" PRIu64 " bytes: %s", tmp,
				total, strerror(e));
		goto fail;
	}
	map = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = rb_err_set(err, RB_E_IO, "%s: mmap of %" PRIu64 " bytes failed: %s", tmp, total,
				strerror(errno));
		goto fail;
	}
	rc = emit(w, map, data_offset, fill, user, err);
	if (rc)
		goto fail;
	if (munmap(map, (size_t)total) != 0 || fsync(fd) != 0) {
		map = MAP_FAILED;
		rc = rb_err_set(err, RB_E_IO, "%s: flushing failed: %s", tmp, strerror(errno));
		goto fail;
	}
	map = MAP_FAILED;
	if (close(fd) != 0) {
		rc = rb_err_set(err, RB_E_IO, "%s: close failed: %s", tmp, strerror(errno));
		unlink(tmp);
		free(tmp);
		return rc;
	}
	if (rename(tmp, path) != 0) {
		rc = rb_err_set(err, RB_E_IO, "cannot rename %s to %s: %s", tmp, path,
				strerror(errno));
		unlink(tmp);
		free(tmp);
		return rc;
	}
	free(tmp);
	return RB_OK;
fail:
	if (map != MAP_FAILED)
		munmap(map, (size_t)total);
	close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}
