/* SPDX-License-Identifier: MIT */
/* Invariants of an accepted GGUF file, shared by the mutation test and the
 * libFuzzer target: everything the handle exposes is readable (ASan checks
 * the bounds), lookups find every key and tensor, the printer copes, and the
 * file survives a write -> read round trip with the same content. */
#ifndef RB_TEST_GGUF_CHECK_H
#define RB_TEST_GGUF_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rosenblatt/gguf.h"

static inline int gguf_check_str_same(rb_gguf_str a, rb_gguf_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, (size_t)a.len) == 0);
}

/* Same type and content (floats compared bitwise). */
static inline int gguf_check_value_same(const rb_gguf_value *a, const rb_gguf_value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case RB_GGUF_STRING:
		return gguf_check_str_same(a->v.str, b->v.str);
	case RB_GGUF_ARRAY: {
		const rb_gguf_array *x = &a->v.arr, *y = &b->v.arr;
		if (x->type != y->type || x->n != y->n)
			return 0;
		if (x->type == RB_GGUF_STRING) {
			for (uint64_t i = 0; i < x->n; i++)
				if (!gguf_check_str_same(x->strs[i], y->strs[i]))
					return 0;
			return 1;
		}
		for (uint64_t i = 0; i < x->n; i++)
			if (rb_gguf_arr_i64(x, i) != rb_gguf_arr_i64(y, i) ||
			    memcmp(&(double){rb_gguf_arr_f64(x, i)}, &(double){rb_gguf_arr_f64(y, i)},
				   sizeof(double)) != 0)
				return 0;
		return 1;
	}
	case RB_GGUF_UINT8: case RB_GGUF_INT8: case RB_GGUF_BOOL:
		return memcmp(&a->v, &b->v, 1) == 0;
	case RB_GGUF_UINT16: case RB_GGUF_INT16:
		return memcmp(&a->v, &b->v, 2) == 0;
	case RB_GGUF_UINT32: case RB_GGUF_INT32: case RB_GGUF_FLOAT32:
		return memcmp(&a->v, &b->v, 4) == 0;
	default:
		return memcmp(&a->v, &b->v, 8) == 0;
	}
}

/* Reads every byte the handle points at; returns a checksum so the reads
 * cannot be optimized away. */
static inline uint64_t gguf_check_touch(const rb_gguf *g)
{
	uint64_t h = 0;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const rb_gguf_kv *kv = &g->kv[i];
		for (uint64_t j = 0; j < kv->key.len; j++)
			h = h * 31 + (uint8_t)kv->key.data[j];
		if (kv->value.type == RB_GGUF_STRING) {
			if (kv->value.v.str.len)
				h += (uint8_t)kv->value.v.str.data[kv->value.v.str.len - 1];
		} else if (kv->value.type == RB_GGUF_ARRAY) {
			const rb_gguf_array *a = &kv->value.v.arr;
			for (uint64_t j = 0; j < a->n; j++) {
				if (a->type == RB_GGUF_STRING) {
					if (a->strs[j].len)
						h += (uint8_t)a->strs[j].data[0] +
						     (uint8_t)a->strs[j].data[a->strs[j].len - 1];
				} else {
					h += (uint64_t)rb_gguf_arr_i64(a, j);
					h += (uint64_t)(rb_gguf_arr_f64(a, j) == 0.0);
				}
			}
		}
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const rb_gguf_tensor *t = &g->tensors[i];
		const uint8_t *p = t->data;
		if (t->nbytes)
			h += p[0] + p[t->nbytes - 1];
	}
	return h;
}

/* Number of violated invariants (0 = all good). */
static inline int gguf_check_accepted(const rb_gguf *g, FILE *sink, int rewrite)
{
	int bad = 0;
	(void)gguf_check_touch(g);
	if (g->version != 2 && g->version != 3)
		bad++;
	if (!g->alignment || (g->alignment & (g->alignment - 1)) || g->data_offset > g->size)
		bad++;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		char *key = rb_gguf_str_dup(g->kv[i].key);
		if (!key || rb_gguf_find_key(g, key) != (int64_t)i)
			bad++;
		free(key);
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const rb_gguf_tensor *t = &g->tensors[i];
		char *name = rb_gguf_str_dup(t->name);
		if (!name || rb_gguf_find_tensor(g, name) != t)
			bad++;
		free(name);
		const uint8_t *p = t->data;
		if (p < g->base + g->data_offset || t->nbytes > g->size ||
		    (uint64_t)(p - g->base) > g->size - t->nbytes || t->offset % g->alignment)
			bad++;
	}
	if (sink && rb_gguf_print_info(g, sink, 8) != RB_OK)
		bad++;
	/* A valid file may ask for any power-of-two alignment up to 2^31; its
	 * faithful rewrite then pads to that much. Keep the harness's memory
	 * small: rewrite only files with sane alignments. */
	if (!rewrite || g->alignment > (1u << 20))
		return bad;

	rb_gguf_writer *w = rb_gguf_writer_create();
	if (!w)
		return bad + 1;
	bad += rb_gguf_writer_set_version(w, g->version) != RB_OK;
	for (uint64_t i = 0; i < g->n_kv; i++)
		bad += rb_gguf_set_kv(w, &g->kv[i]) != RB_OK;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const rb_gguf_tensor *t = &g->tensors[i];
		char *name = rb_gguf_str_dup(t->name);
		bad += !name ||
		       rb_gguf_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data) != RB_OK;
		free(name);
	}
	void *buf = NULL;
	size_t n = 0;
	rb_err err;
	if (rb_gguf_write_memory(w, &buf, &n, NULL, NULL, &err) != RB_OK) {
		fprintf(stderr, "rewrite failed: %s\n", err.msg);
		rb_gguf_writer_free(w);
		return bad + 1;
	}
	rb_gguf_writer_free(w);
	rb_gguf *g2 = NULL;
	if (rb_gguf_open_memory(buf, n, &g2, &err) != RB_OK) {
		fprintf(stderr, "re-read of the rewrite failed: %s\n", err.msg);
		free(buf);
		return bad + 1;
	}
	bad += g2->n_kv != g->n_kv || g2->n_tensors != g->n_tensors ||
	       g2->alignment != g->alignment;
	for (uint64_t i = 0; i < g->n_tensors && i < g2->n_tensors; i++) {
		const rb_gguf_tensor *a = &g->tensors[i], *b = &g2->tensors[i];
		bad += a->type != b->type || a->nbytes != b->nbytes ||
		       memcmp(a->ne, b->ne, sizeof(a->ne)) != 0 ||
		       !gguf_check_str_same(a->name, b->name) ||
		       (a->nbytes && memcmp(a->data, b->data, (size_t)a->nbytes) != 0);
	}
	for (uint64_t i = 0; i < g->n_kv && i < g2->n_kv; i++) {
		const rb_gguf_kv *a = &g->kv[i], *b = &g2->kv[i];
		bad += !gguf_check_str_same(a->key, b->key) ||
		       !gguf_check_value_same(&a->value, &b->value);
	}
	rb_gguf_close(g2);
	free(buf);
	return bad;
}

#endif
