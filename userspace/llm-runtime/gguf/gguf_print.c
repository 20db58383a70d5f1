/* SPDX-License-Identifier: MIT */
/* Human-readable dump of a parsed GGUF file: the metadata table (long
 * strings and arrays shortened), then the tensor table and totals. Used by
 * `rosenblatt info`. */
#include "gguf_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Longest string value printed in full; longer ones are cut with a note. */
#define MAX_STR_SHOWN 96

/* Up to max bytes of s with C-like escapes, so control bytes (terminal
 * escape sequences in a hostile file), quotes and invalid UTF-8 cannot
 * garble the output. Returns the number of columns printed (a multi-byte
 * character counts as one). */
static int print_escaped(FILE *out, rb_gguf_str s, uint64_t max)
{
	const uint8_t *p = (const uint8_t *)s.data;
	const uint64_t n = s.len > max ? max : s.len;
	int cols = 0;
	uint64_t i = 0;
	while (i < n) {
		const uint8_t c = p[i];
		const unsigned seq = rb_gguf_utf8_seq_len(p + i, s.len - i);
		if (c >= 0x80 && seq > 1) {
			/* a valid multi-byte sequence goes out as is */
			fwrite(p + i, 1, seq, out);
			i += seq;
			cols++;
			continue;
		}
		if (c == '"' || c == '\\')
			cols += fprintf(out, "\\%c", c);
		else if (c == '\n')
			cols += fprintf(out, "\\n");
		else if (c == '\t')
			cols += fprintf(out, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			cols += fprintf(out, "\\x%02x", c);
		else
			cols += fputc(c, out) != EOF;
		i++;
	}
	return cols;
}

static void print_str(FILE *out, rb_gguf_str s)
{
	fputc('"', out);
	print_escaped(out, s, MAX_STR_SHOWN);
	fputc('"', out);
	if (s.len > MAX_STR_SHOWN)
		fprintf(out, "... (%" PRIu64 " bytes)", s.len);
}

/* A key or tensor name, escaped, padded to width columns. */
static void print_name(FILE *out, rb_gguf_str s, int width)
{
	for (int cols = print_escaped(out, s, UINT64_MAX); cols < width; cols++)
		fputc(' ', out);
}

static void print_scalar(FILE *out, const rb_gguf_value *v)
{
	switch (v->type) {
	case RB_GGUF_UINT8: fprintf(out, "%u", v->v.u8); break;
	case RB_GGUF_INT8: fprintf(out, "%d", v->v.i8); break;
	case RB_GGUF_UINT16: fprintf(out, "%u", v->v.u16); break;
	case RB_GGUF_INT16: fprintf(out, "%d", v->v.i16); break;
	case RB_GGUF_UINT32: fprintf(out, "%" PRIu32, v->v.u32); break;
	case RB_GGUF_INT32: fprintf(out, "%" PRId32, v->v.i32); break;
	case RB_GGUF_UINT64: fprintf(out, "%" PRIu64, v->v.u64); break;
	case RB_GGUF_INT64: fprintf(out, "%" PRId64, v->v.i64); break;
	case RB_GGUF_FLOAT32: fprintf(out, "%.9g", (double)v->v.f32); break;
	case RB_GGUF_FLOAT64: fprintf(out, "%.17g", v->v.f64); break;
	case RB_GGUF_BOOL: fputs(v->v.b ? "true" : "false", out); break;
	case RB_GGUF_STRING: print_str(out, v->v.str); break;
	default: fputs("?", out); break;
	}
}

static void print_array(FILE *out, const rb_gguf_array *a, unsigned max_items)
{
	const uint64_t shown = a->n < max_items ? a->n : max_items;
	fputc('[', out);
	for (uint64_t i = 0; i < shown; i++) {
		if (i)
			fputs(", ", out);
		if (a->type == RB_GGUF_STRING) {
			print_str(out, a->strs[i]);
		} else if (a->type == RB_GGUF_FLOAT32 || a->type == RB_GGUF_FLOAT64) {
			fprintf(out, "%.9g", rb_gguf_arr_f64(a, i));
		} else if (a->type == RB_GGUF_UINT64) {
			uint64_t u;
			memcpy(&u, (const uint8_t *)a->data + 8 * i, 8);
			fprintf(out, "%" PRIu64, u);
		} else if (a->type == RB_GGUF_BOOL) {
			fputs(rb_gguf_arr_i64(a, i) ? "true" : "false", out);
		} else {
			fprintf(out, "%" PRId64, rb_gguf_arr_i64(a, i));
		}
	}
	if (a->n > shown)
		fprintf(out, "%s... %" PRIu64 " more", shown ? ", " : "", a->n - shown);
	fputc(']', out);
}

static void print_shape(FILE *out, const rb_gguf_tensor *t)
{
	char buf[128];
	int n = 0;
	for (uint32_t d = 0; d < t->n_dims; d++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%" PRId64, d ? " x " : "",
			      t->ne[d]);
	if (!t->n_dims)
		snprintf(buf, sizeof(buf), "scalar");
	fprintf(out, "%-24s", buf);
}

int rb_gguf_print_info(const rb_gguf *g, FILE *out, unsigned max_array_items)
{
	fprintf(out, "GGUF v%u, %" PRIu64 " bytes, alignment %" PRIu64
		", tensor data at offset %" PRIu64 "\n",
		g->version, g->size, g->alignment, g->data_offset);

	int key_w = 12;
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (g->kv[i].key.len > (uint64_t)key_w)
			key_w = g->kv[i].key.len > 60 ? 60 : (int)g->kv[i].key.len;
	fprintf(out, "\nmetadata: %" PRIu64 " key/value pairs\n", g->n_kv);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const rb_gguf_kv *kv = &g->kv[i];
		char type[48];
		if (kv->value.type == RB_GGUF_ARRAY)
			snprintf(type, sizeof(type), "%s[%" PRIu64 "]",
				 rb_gguf_vtype_name(kv->value.v.arr.type), kv->value.v.arr.n);
		else
			snprintf(type, sizeof(type), "%s", rb_gguf_vtype_name(kv->value.type));
		fputs("  ", out);
		print_name(out, kv->key, key_w);
		fprintf(out, "  %-16s  ", type);
		if (kv->value.type == RB_GGUF_ARRAY)
			print_array(out, &kv->value.v.arr, max_array_items);
		else
			print_scalar(out, &kv->value);
		fputc('\n', out);
	}

	int name_w = 4;
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (g->tensors[i].name.len > (uint64_t)name_w)
			name_w = g->tensors[i].name.len > 60 ? 60 : (int)g->tensors[i].name.len;
	fprintf(out, "\ntensors: %" PRIu64 "\n", g->n_tensors);
	if (g->n_tensors)
		fprintf(out, "  %5s  %-*s  %-6s  %-24s  %12s  %12s\n", "#", name_w, "name", "type",
			"shape", "offset", "bytes");
	uint64_t total_bytes = 0, total_elems = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const rb_gguf_tensor *t = &g->tensors[i];
		fprintf(out, "  %5" PRIu64 "  ", i);
		print_name(out, t->name, name_w);
		fprintf(out, "  %-6s  ", rb_type_name(t->type));
		print_shape(out, t);
		fprintf(out, "  %12" PRIu64 "  %12" PRIu64 "\n", t->offset, t->nbytes);
		uint64_t nel = 1;
		for (int d = 0; d < RB_GGUF_MAX_DIMS; d++)
			nel *= (uint64_t)t->ne[d]; /* cannot overflow: checked by the reader */
		total_elems += nel;
		total_bytes += t->nbytes;
	}
	fprintf(out, "\ntotal: %" PRIu64 " tensors, %" PRIu64 " elements, %" PRIu64
		" bytes (%.2f MiB), %.3f bits per element\n",
		g->n_tensors, total_elems, total_bytes, (double)total_bytes / (1024.0 * 1024.0),
		total_elems ? 8.0 * (double)total_bytes / (double)total_elems : 0.0);
	fflush(out);
	return ferror(out) ? RB_E_IO : RB_OK;
}
