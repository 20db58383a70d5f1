/* SPDX-License-Identifier: MIT */
/* GGUF v2/v3 reader (mmap, hardened) and writer.
 *
 * Reader: every count, length, offset and size is checked against the file
 * with overflow-safe arithmetic; a malformed file gives RB_E_FORMAT with a
 * message naming what is wrong and the byte offset, never a crash
 * (RB_E_UNSUPPORTED for a tensor type the format defines but we have no
 * layout for, e.g. the IQ types). Rules and limits: docs/gguf.md.
 * Strings returned by the reader point into the mapping and are NOT
 * NUL-terminated; use rb_gguf_str_eq / rb_gguf_str_dup. */
#ifndef ROSENBLATT_GGUF_H
#define ROSENBLATT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rosenblatt/error.h"
#include "rosenblatt/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RB_GGUF_MAGIC 0x46554747u /* "GGUF" little endian */
#define RB_GGUF_DEFAULT_ALIGNMENT 32
#define RB_GGUF_MAX_DIMS 4

enum rb_gguf_vtype {
	RB_GGUF_UINT8 = 0,
	RB_GGUF_INT8 = 1,
	RB_GGUF_UINT16 = 2,
	RB_GGUF_INT16 = 3,
	RB_GGUF_UINT32 = 4,
	RB_GGUF_INT32 = 5,
	RB_GGUF_FLOAT32 = 6,
	RB_GGUF_BOOL = 7,
	RB_GGUF_STRING = 8,
	RB_GGUF_ARRAY = 9,
	RB_GGUF_UINT64 = 10,
	RB_GGUF_INT64 = 11,
	RB_GGUF_FLOAT64 = 12,
	RB_GGUF_VTYPE_COUNT
};

typedef struct rb_gguf_str {
	uint64_t len;
	const char *data; /* into the mapping, not NUL-terminated */
} rb_gguf_str;

typedef struct rb_gguf_array {
	enum rb_gguf_vtype type; /* element type (never ARRAY: nested arrays are refused) */
	uint64_t n;
	const void *data;        /* numeric/bool: raw little-endian elements in the mapping
	                          * (may be unaligned: read with memcpy or the getters) */
	const rb_gguf_str *strs; /* STRING arrays: n entries (allocated by the reader) */
} rb_gguf_array;

typedef struct rb_gguf_value {
	enum rb_gguf_vtype type;
	union {
		uint8_t u8; int8_t i8; uint16_t u16; int16_t i16;
		uint32_t u32; int32_t i32; uint64_t u64; int64_t i64;
		float f32; double f64; bool b;
		rb_gguf_str str;
		rb_gguf_array arr;
	} v;
} rb_gguf_value;

typedef struct rb_gguf_kv {
	rb_gguf_str key;
	rb_gguf_value value;
	uint64_t file_offset; /* where the pair starts, for messages */
} rb_gguf_kv;

typedef struct rb_gguf_tensor {
	rb_gguf_str name;
	uint32_t n_dims;
	int64_t ne[RB_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims = 1 */
	enum rb_type type;
	uint64_t offset;     /* relative to the data section, as in the file */
	uint64_t nbytes;     /* rb_row_size(type, ne[0]) * ne[1] * ne[2] * ne[3] */
	const void *data;    /* into the mapping */
} rb_gguf_tensor;

typedef struct rb_gguf {
	uint32_t version;     /* 2 or 3 */
	uint64_t n_kv;
	rb_gguf_kv *kv;
	uint64_t n_tensors;
	rb_gguf_tensor *tensors;
	uint64_t alignment;   /* general.alignment or 32 */
	uint64_t data_offset; /* file offset of the tensor data section */
	const uint8_t *base;  /* start of the file contents */
	uint64_t size;        /* file size */
	/* private */
	void *map_;
	size_t map_size_;
	int owns_map_;
	const rb_gguf_kv **kv_index_;         /* kv sorted by key, for lookups */
	const rb_gguf_tensor **tensor_index_; /* tensors sorted by name */
	uint64_t n_kv_parsed_;                /* entries of kv[] to free on a failed parse */
} rb_gguf;

typedef void (*rb_progress_fn)(void *user, uint64_t done, uint64_t total);

/* Open and validate a file (mmap, read-only). On failure *out is NULL and
 * the message starts with the path; RB_E_IO if it cannot be opened/mapped. A
 * handle is immutable after open: concurrent readers need no locking. */
int rb_gguf_open(const char *path, rb_gguf **out, rb_err *err);
/* Parse a caller-owned buffer (not copied; must outlive the handle). Used by
 * fuzzers and tests. */
int rb_gguf_open_memory(const void *data, size_t size, rb_gguf **out, rb_err *err);
void rb_gguf_close(rb_gguf *g);

/* Touch every page of the tensor data (read ahead), calling progress now and
 * then. Useful for a load progress indication on large files. */
void rb_gguf_prefault(const rb_gguf *g, rb_progress_fn progress, void *user);

/* Lookups: index or -1. */
int64_t rb_gguf_find_key(const rb_gguf *g, const char *key);
const rb_gguf_kv *rb_gguf_get_kv(const rb_gguf *g, const char *key);
const rb_gguf_tensor *rb_gguf_find_tensor(const rb_gguf *g, const char *name);

/* Typed getters: RB_OK, or RB_E_INVALID if the key is missing (message names
 * the key), or RB_E_FORMAT if it has an incompatible type. Integer getters
 * accept any integer vtype whose value fits. */
int rb_gguf_get_u32(const rb_gguf *g, const char *key, uint32_t *out, rb_err *err);
int rb_gguf_get_u64(const rb_gguf *g, const char *key, uint64_t *out, rb_err *err);
int rb_gguf_get_i64(const rb_gguf *g, const char *key, int64_t *out, rb_err *err);
int rb_gguf_get_f32(const rb_gguf *g, const char *key, float *out, rb_err *err); /* f32/f64/int */
int rb_gguf_get_bool(const rb_gguf *g, const char *key, bool *out, rb_err *err);
int rb_gguf_get_str(const rb_gguf *g, const char *key, rb_gguf_str *out, rb_err *err);
int rb_gguf_get_arr(const rb_gguf *g, const char *key, const rb_gguf_array **out, rb_err *err);

/* Element i of a numeric or bool array converted to double / int64; the
 * caller checks i < arr->n. Floats convert to int64 by truncation
 * (saturating, NaN -> 0), uint64 above INT64_MAX saturates; STRING arrays
 * give NaN / 0. */
double rb_gguf_arr_f64(const rb_gguf_array *arr, uint64_t i);
int64_t rb_gguf_arr_i64(const rb_gguf_array *arr, uint64_t i);

bool rb_gguf_str_eq(rb_gguf_str s, const char *cstr);
char *rb_gguf_str_dup(rb_gguf_str s); /* malloc'd, NUL-terminated; NULL on OOM */
const char *rb_gguf_vtype_name(enum rb_gguf_vtype t); /* "uint32", "string", ... */

/* Human-readable dump for `rosenblatt info`: header line, the metadata table
 * with values (strings shortened, arrays to max_array_items elements), the
 * tensor table (name, type, shape, offset, bytes) and totals. Control bytes,
 * quotes and invalid UTF-8 in keys, names and values are printed escaped
 * (\x1b, \n, ...), so a hostile file cannot drive the terminal. RB_OK or
 * RB_E_IO if writing to `out` failed. */
int rb_gguf_print_info(const rb_gguf *g, FILE *out, unsigned max_array_items);

/* ---- writer ------------------------------------------------------------ */

typedef struct rb_gguf_writer rb_gguf_writer;

rb_gguf_writer *rb_gguf_writer_create(void); /* version 3, alignment 32 */
void rb_gguf_writer_free(rb_gguf_writer *w);
/* 2 or 3 (the layouts are identical; v3 only adds the big-endian variant,
 * which we never write). RB_E_INVALID otherwise. */
int rb_gguf_writer_set_version(rb_gguf_writer *w, uint32_t version);

/* Metadata setters copy their arguments. Setting an existing key replaces it
 * in place (pairs are written in insertion order). Return RB_OK or
 * RB_E_NOMEM / RB_E_INVALID: key empty, longer than 65535 bytes or not valid
 * UTF-8, or "general.alignment" set to anything but a uint32 power of two. */
int rb_gguf_set_u8(rb_gguf_writer *w, const char *key, uint8_t v);
int rb_gguf_set_i8(rb_gguf_writer *w, const char *key, int8_t v);
int rb_gguf_set_u16(rb_gguf_writer *w, const char *key, uint16_t v);
int rb_gguf_set_i16(rb_gguf_writer *w, const char *key, int16_t v);
int rb_gguf_set_u32(rb_gguf_writer *w, const char *key, uint32_t v);
int rb_gguf_set_i32(rb_gguf_writer *w, const char *key, int32_t v);
int rb_gguf_set_u64(rb_gguf_writer *w, const char *key, uint64_t v);
int rb_gguf_set_i64(rb_gguf_writer *w, const char *key, int64_t v);
int rb_gguf_set_f32(rb_gguf_writer *w, const char *key, float v);
int rb_gguf_set_f64(rb_gguf_writer *w, const char *key, double v);
int rb_gguf_set_bool(rb_gguf_writer *w, const char *key, bool v);
int rb_gguf_set_str(rb_gguf_writer *w, const char *key, const char *v);
/* Numeric/bool array: n elements of type t, packed little endian. */
int rb_gguf_set_arr(rb_gguf_writer *w, const char *key, enum rb_gguf_vtype t,
		    const void *data, uint64_t n);
int rb_gguf_set_arr_str(rb_gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copy one key/value (any type) from a reader, e.g. to carry a vocabulary over. */
int rb_gguf_set_kv(rb_gguf_writer *w, const rb_gguf_kv *kv);
/* Copy every pair of g whose key starts with prefix ("" or NULL: all), in
 * file order, e.g. prefix "tokenizer." to carry a whole vocabulary. */
int rb_gguf_copy_kvs(rb_gguf_writer *w, const rb_gguf *g, const char *prefix);
int rb_gguf_set_alignment(rb_gguf_writer *w, uint32_t alignment); /* power of two; also written as general.alignment */

/* Declare a tensor (written in declaration order). `data` is referenced, not
 * copied, and must stay valid until rb_gguf_write_file() returns; it may be
 * NULL if the data is supplied later through the `fill` callback.
 * RB_E_INVALID for a bad or duplicate name, an unknown type, n_dims > 4, a
 * negative or overflowing shape, or ne[0] not a multiple of the block size. */
int rb_gguf_add_tensor(rb_gguf_writer *w, const char *name, enum rb_type type,
		       uint32_t n_dims, const int64_t *ne, const void *data);

/* Called for tensors added with data == NULL (and nbytes > 0), in tensor
 * order: write exactly nbytes into dst (zeroed, inside the output mapping or
 * buffer). Return 0, or a nonzero status to abort the write (a negative
 * RB_E_* code is passed through, anything else becomes RB_E_IO). */
typedef int (*rb_gguf_fill_fn)(void *user, size_t tensor_index, void *dst, uint64_t nbytes);

/* Write the whole file (header, kv, tensor infos, padded data). Atomic:
 * reserves path.tmp at full size (posix_fallocate: a full disk is an error,
 * not a SIGBUS), maps it, writes, fsyncs and renames it to path. On any
 * failure path.tmp is removed and an existing file at path is untouched.
 * Peak memory: the metadata only; tensor data goes straight to the file. */
int rb_gguf_write_file(rb_gguf_writer *w, const char *path, rb_gguf_fill_fn fill,
		       void *user, rb_err *err);
/* Same into a malloc'd buffer (tests, fuzz seeds). */
int rb_gguf_write_memory(rb_gguf_writer *w, void **data, size_t *size, rb_gguf_fill_fn fill,
			 void *user, rb_err *err);

#ifdef __cplusplus
}
#endif
#endif
