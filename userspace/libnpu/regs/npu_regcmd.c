/* SPDX-License-Identifier: MIT */
/* regcmd builder and decoder (entry format and tail: TRM ch. 36, registers.xml,
 * MTX npu_hw.h, Mesa rkt_regcmd.c; docs/npu-programming.md#register-commands-regcmd). */
#include "npu/npu_regcmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void rc_fail(npu_rc_builder *b, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void rc_fail(npu_rc_builder *b, int err, const char *fmt, ...)
{
	if (b->error)
		return; /* keep the first problem */
	b->error = err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
}

void npu_rc_init(npu_rc_builder *b, uint64_t *buf, uint32_t cap)
{
	memset(b, 0, sizeof(*b));
	b->entries = buf;
	b->cap = cap;
}

void npu_rc_init_dynamic(npu_rc_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->dynamic = true;
}

void npu_rc_release(npu_rc_builder *b)
{
	if (b->dynamic)
		free(b->entries);
	b->entries = NULL;
	b->count = b->cap = 0;
}

void npu_rc_raw(npu_rc_builder *b, uint64_t entry)
{
	if (b->count == b->cap) {
		if (!b->dynamic) {
			rc_fail(b, -ENOSPC, "regcmd buffer full (%u entries)", b->cap);
			return;
		}
		const uint32_t cap = b->cap ? b->cap * 2 : 256;
		uint64_t *p = realloc(b->entries, (size_t)cap * sizeof(*p));
		if (!p) {
			rc_fail(b, -ENOMEM, "out of memory growing a regcmd list to %u entries", cap);
			return;
		}
		b->entries = p;
		b->cap = cap;
	}
	b->entries[b->count++] = entry;
}

void npu_rc_write(npu_rc_builder *b, enum npu_reg_id reg, uint32_t value)
{
	char name[64];
	if ((unsigned)reg >= NPU_REG_COUNT) {
		rc_fail(b, -EINVAL, "regcmd write to register id %d, not in the table", (int)reg);
		return;
	}
	const npu_reg_info *ri = &npu_reg_table[reg];
	const uint16_t bit = npu_block_header_bit(ri->block);
	if (!bit || (ri->flags & (NPU_RF_RO | NPU_RF_NOREGCMD))) {
		rc_fail(b, -EINVAL, "%s cannot be written by a regcmd entry",
			npu_reg_fullname(reg, name, sizeof(name)));
		return;
	}
	const uint32_t reserved = value & ~npu_reg_defined_mask(reg);
	if (reserved)
		rc_fail(b, -EINVAL, "%s = 0x%08x sets reserved bits 0x%08x",
			npu_reg_fullname(reg, name, sizeof(name)), value, reserved);
	npu_rc_raw(b, npu_rc_pack(bit | NPU_RC_HDR_WRITE, value, ri->offset));
}

uint32_t npu_rc_field(npu_rc_builder *b, enum npu_field_id f, int64_t value)
{
	uint32_t packed = 0;
	if ((unsigned)f >= NPU_FIELD_COUNT) {
		rc_fail(b, -EINVAL, "field id %d not in the table", (int)f);
		return 0;
	}
	if (!npu_field_pack(f, value, &packed)) {
		char name[64];
		const npu_field_info *fi = &npu_field_table[f];
		rc_fail(b, -ERANGE, "%s.%s = %" PRId64 " does not fit its %u-bit field",
			npu_reg_fullname((enum npu_reg_id)fi->reg, name, sizeof(name)), fi->name, value,
			fi->width);
	}
	return packed;
}

void npu_rc_tail(npu_rc_builder *b, uint32_t enable_mask)
{
	npu_rc_raw(b, 0); /* no next task (MTX ops[104], Mesa single-task) */
	npu_rc_write(b, NPU_R_PC_REGISTER_AMOUNTS, 0);
	npu_rc_raw(b, NPU_RC_MARKER_ENTRY);
	npu_rc_raw(b, npu_rc_pack(NPU_RC_HDR_OPEN, enable_mask, NPU_OFF_PC_OPERATION_ENABLE));
}

void npu_rc_pad(npu_rc_builder *b, uint32_t n)
{
	while (n > 1 && b->count % n && !b->error)
		npu_rc_raw(b, 0);
}

/* ------------------------------------------------------------- decoder */

void npu_rc_decode(uint64_t raw, npu_rc_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->raw = raw;
	e->header = npu_rc_header(raw);
	e->value = npu_rc_value(raw);
	e->offset = npu_rc_offset(raw);
	e->block = npu_block_from_header(e->header);
	e->reg = npu_reg_by_offset(e->offset);

	if (raw == 0) {
		e->kind = NPU_RC_NOP;
		return;
	}
	if (e->header == NPU_RC_HDR_MARKER) {
		e->kind = NPU_RC_MARKER;
		if (e->value || e->offset) /* TRM: 64'h0041_xxxx_xxxx_xxxx; everyone writes 0 */
			e->issues |= NPU_RC_ISSUE_BAD_SPECIAL;
		return;
	}
	if (e->header == NPU_RC_HDR_OPEN) {
		e->kind = NPU_RC_OP_ENABLE;
		/* Mask bits 0..6 (TRM example 0x7f enables all blocks). */
		if (e->offset != NPU_OFF_PC_OPERATION_ENABLE || (e->value & ~0x7fu))
			e->issues |= NPU_RC_ISSUE_BAD_SPECIAL;
		return;
	}
	if (e->block < 0 || !(e->header & NPU_RC_HDR_WRITE) || (e->header & 0x00feu)) {
		e->kind = NPU_RC_INVALID;
		e->issues |= NPU_RC_ISSUE_UNKNOWN_HEADER;
		return;
	}
	e->kind = NPU_RC_WRITE;
	if (npu_block_of_offset(e->offset) != e->block)
		e->issues |= NPU_RC_ISSUE_HEADER_MISMATCH;
	if (e->reg < 0) {
		e->issues |= NPU_RC_ISSUE_UNKNOWN_REG;
		return;
	}
	const npu_reg_info *ri = &npu_reg_table[e->reg];
	if (ri->flags & (NPU_RF_RO | NPU_RF_NOREGCMD))
		e->issues |= NPU_RC_ISSUE_NOT_WRITABLE;
	if (e->value & ~npu_reg_defined_mask((enum npu_reg_id)e->reg))
		e->issues |= NPU_RC_ISSUE_RESERVED_BITS;
	if ((ri->flags & NPU_RF_UNDOC) && e->value)
		e->issues |= NPU_RC_ISSUE_UNDOC_NONZERO;
	if (e->issues & NPU_RC_ISSUE_HEADER_MISMATCH)
		e->kind = NPU_RC_INVALID;
}

const char *npu_rc_issue_str(unsigned issues, char *buf, size_t len)
{
	static const char *const names[] = {
		"unknown header",      "header/offset block mismatch", "unknown register",
		"reserved bits set",   "register not writable",        "undocumented register non-zero",
		"malformed special entry",
	};
	size_t used = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(issues & (1u << i)))
			continue;
		int n = snprintf(buf + used, len > used ? len - used : 0, "%s%s", used ? ", " : "",
				 names[i]);
		if (n > 0)
			used += (size_t)n;
		if (used >= len)
			break;
	}
	return buf;
}

/* Append formatted text at *pos inside buf[len], tracking the needed length. */
static void emitf(char *buf, size_t len, int *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void emitf(char *buf, size_t len, int *pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const size_t at = (size_t)*pos;
	const int n = vsnprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += n;
}

static void format_fields(const npu_rc_entry *e, char *buf, size_t len, int *pos)
{
	const npu_reg_info *ri = &npu_reg_table[e->reg];
	const unsigned nf = npu_reg_field_count((enum npu_reg_id)e->reg);
	for (unsigned i = 0; i < nf; i++) {
		const enum npu_field_id f = (enum npu_field_id)(ri->first_field + i);
		const npu_field_info *fi = &npu_field_table[f];
		if (nf > 1 && fi->width == 32)
			continue;
		if (fi->flags & NPU_FF_SIGNED) {
			emitf(buf, len, pos, " %s=%" PRId64, fi->name, npu_field_get_signed(f, e->value));
		} else {
			const uint32_t v = npu_field_get(f, e->value);
			if (fi->flags & NPU_FF_ADDR)
				emitf(buf, len, pos, " %s=0x%x", fi->name, v);
			else
				emitf(buf, len, pos, " %s=%u", fi->name, v);
			if (fi->flags & NPU_FF_MINUS1)
				emitf(buf, len, pos, "(+1=%u)", v + 1);
		}
	}
}

static void format_mask(uint32_t mask, char *buf, size_t len, int *pos)
{
	const enum npu_reg_id r = NPU_R_GLOBAL_OPERATION_ENABLE;
	const unsigned first = npu_reg_table[r].first_field;
	int n = 0;
	for (int i = (int)npu_reg_field_count(r) - 1; i >= 0; i--) {
		const enum npu_field_id f = (enum npu_field_id)(first + (unsigned)i);
		if (npu_field_get(f, mask))
			emitf(buf, len, pos, "%s%.*s", n++ ? "|" : " ",
			      (int)(strlen(npu_field_table[f].name) - 6), npu_field_table[f].name);
	}
}

int npu_rc_format(const npu_rc_entry *e, unsigned flags, char *buf, size_t len)
{
	int pos = 0;
	char name[64], issues[160];
	if (len)
		buf[0] = 0;
	if (!(flags & NPU_DIS_NO_RAW))
		emitf(buf, len, &pos, "%016" PRIx64 "  ", e->raw);
	switch (e->kind) {
	case NPU_RC_NOP:
		emitf(buf, len, &pos, "nop");
		break;
	case NPU_RC_MARKER:
		emitf(buf, len, &pos, "marker 0x0041 (required before op-enable)");
		break;
	case NPU_RC_OP_ENABLE:
		emitf(buf, len, &pos, "op-enable 0x%02x:", e->value);
		format_mask(e->value, buf, len, &pos);
		break;
	case NPU_RC_WRITE:
	case NPU_RC_INVALID:
		if (e->kind == NPU_RC_INVALID && (e->issues & NPU_RC_ISSUE_UNKNOWN_HEADER)) {
			emitf(buf, len, &pos, "header 0x%04x reg 0x%04x = 0x%08x", e->header, e->offset,
			      e->value);
			break;
		}
		if (e->reg >= 0)
			emitf(buf, len, &pos, "%s = 0x%08x",
			      npu_reg_fullname((enum npu_reg_id)e->reg, name, sizeof(name)), e->value);
		else
			emitf(buf, len, &pos, "%s+0x%03x = 0x%08x",
			      npu_block_name((enum npu_block)(e->block >= 0 ? e->block : 0)),
			      e->offset & 0xfffu, e->value);
		if (e->reg >= 0 && !(flags & NPU_DIS_NO_FIELDS))
			format_fields(e, buf, len, &pos);
		if (e->issues & NPU_RC_ISSUE_HEADER_MISMATCH)
			emitf(buf, len, &pos, "  [header says %s]",
			      e->block >= 0 ? npu_block_name((enum npu_block)e->block) : "?");
		break;
	}
	if (e->issues)
		emitf(buf, len, &pos, "  !! %s", npu_rc_issue_str(e->issues, issues, sizeof(issues)));
	return pos;
}

size_t npu_rc_disassemble(FILE *out, const uint64_t *entries, size_t n, unsigned flags)
{
	size_t bad = 0;
	unsigned task = 0;
	bool marker = false;
	char line[1024];
	fprintf(out, "# task %u\n", task);
	for (size_t i = 0; i < n; i++) {
		npu_rc_entry e;
		npu_rc_decode(entries[i], &e);
		npu_rc_format(&e, flags, line, sizeof(line));
		/* TRM ch. 36: the 0x0041 entry must precede op-enable. */
		const bool no_marker = e.kind == NPU_RC_OP_ENABLE && !marker;
		fprintf(out, "%5zu  %s%s\n", i, line,
			no_marker ? "  !! no 0x0041 marker in this task" : "");
		if (e.issues || no_marker)
			bad++;
		if (e.kind == NPU_RC_MARKER)
			marker = true;
		if (e.kind == NPU_RC_OP_ENABLE) {
			marker = false;
			if (i + 1 < n)
				fprintf(out, "# task %u\n", ++task);
		}
	}
	return bad;
}

/* ---------------------------------------------------- per-task state, diff */

int npu_rc_tasks(const uint64_t *entries, size_t n, npu_rc_task_state **out)
{
	size_t cap = 4, count = 0;
	npu_rc_task_state *t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	bool open = false;
	for (size_t i = 0; i < n; i++) {
		if (!open) {
			if (count == cap) {
				npu_rc_task_state *p = realloc(t, cap * 2 * sizeof(*t));
				if (!p) {
					free(t);
					return -ENOMEM;
				}
				t = p;
				cap *= 2;
			}
			memset(&t[count], 0, sizeof(t[count]));
			t[count].first_entry = (uint32_t)i;
			open = true;
			count++;
		}
		npu_rc_task_state *s = &t[count - 1];
		npu_rc_entry e;
		npu_rc_decode(entries[i], &e);
		s->entry_count++;
		s->issues |= e.issues;
		if (e.kind == NPU_RC_MARKER)
			s->has_marker = true;
		else if (e.kind == NPU_RC_OP_ENABLE) {
			s->op_enable = e.value;
			open = false;
		} else if (e.kind == NPU_RC_WRITE && e.reg >= 0) { /* invalid entries are dropped */
			s->value[e.reg] = e.value;
			if (s->writes[e.reg] < 255)
				s->writes[e.reg]++;
		}
	}
	*out = t;
	return (int)count;
}

static void diff_emit(void (*cb)(void *, const npu_rc_diff_item *), void *ctx, int *count,
		      enum npu_rc_diff_kind kind, uint32_t task, int reg, int field, uint32_t a,
		      uint32_t b)
{
	const npu_rc_diff_item d = { kind, task, reg, field, a, b };
	(*count)++;
	if (cb)
		cb(ctx, &d);
}

static void diff_task(const npu_rc_task_state *a, const npu_rc_task_state *b, uint32_t task,
		      unsigned flags, void (*cb)(void *, const npu_rc_diff_item *), void *ctx,
		      int *count)
{
	if (a->op_enable != b->op_enable)
		diff_emit(cb, ctx, count, NPU_RC_DIFF_OP_ENABLE, task, -1, -1, a->op_enable,
			  b->op_enable);
	if (a->has_marker != b->has_marker)
		diff_emit(cb, ctx, count, NPU_RC_DIFF_MARKER, task, -1, -1, a->has_marker,
			  b->has_marker);
	for (int r = 0; r < NPU_REG_COUNT; r++) {
		const bool wa = a->writes[r] != 0, wb = b->writes[r] != 0;
		if (!wa && !wb)
			continue;
		if (wa != wb) {
			diff_emit(cb, ctx, count, wa ? NPU_RC_DIFF_ONLY_A : NPU_RC_DIFF_ONLY_B, task, r,
				  -1, a->value[r], b->value[r]);
			continue;
		}
		const uint32_t va = a->value[r], vb = b->value[r];
		if (va == vb)
			continue;
		const npu_reg_info *ri = &npu_reg_table[r];
		for (unsigned i = 0; i < npu_reg_field_count((enum npu_reg_id)r); i++) {
			const enum npu_field_id f = (enum npu_field_id)(ri->first_field + i);
			if ((flags & NPU_DIFF_IGNORE_ADDR) && (npu_field_table[f].flags & NPU_FF_ADDR))
				continue;
			const uint32_t fa = npu_field_get(f, va), fb = npu_field_get(f, vb);
			if (fa != fb)
				diff_emit(cb, ctx, count, NPU_RC_DIFF_FIELD, task, r, (int)f, fa, fb);
		}
		const uint32_t undefined = ~npu_reg_defined_mask((enum npu_reg_id)r);
		if ((va ^ vb) & undefined)
			diff_emit(cb, ctx, count, NPU_RC_DIFF_RESERVED, task, r, -1, va & undefined,
				  vb & undefined);
	}
}

int npu_rc_diff(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, unsigned flags,
		void (*cb)(void *ctx, const npu_rc_diff_item *d), void *ctx)
{
	npu_rc_task_state *ta = NULL, *tb = NULL;
	const int ca = npu_rc_tasks(a, na, &ta);
	if (ca < 0)
		return ca;
	const int cb_count = npu_rc_tasks(b, nb, &tb);
	if (cb_count < 0) {
		free(ta);
		return cb_count;
	}
	int count = 0;
	const int common = ca < cb_count ? ca : cb_count;
	for (int t = 0; t < common; t++)
		diff_task(&ta[t], &tb[t], (uint32_t)t, flags, cb, ctx, &count);
	if (ca != cb_count)
		diff_emit(cb, ctx, &count, NPU_RC_DIFF_TASK_COUNT, (uint32_t)common, -1, -1,
			  (uint32_t)ca, (uint32_t)cb_count);
	free(ta);
	free(tb);
	return count;
}

void npu_rc_diff_print(FILE *out, const npu_rc_diff_item *d)
{
	char name[64] = "";
	if (d->reg >= 0)
		npu_reg_fullname((enum npu_reg_id)d->reg, name, sizeof(name));
	switch (d->kind) {
	case NPU_RC_DIFF_ONLY_A:
		fprintf(out, "task %u: %s = 0x%08x only in A\n", d->task, name, d->a);
		break;
	case NPU_RC_DIFF_ONLY_B:
		fprintf(out, "task %u: %s = 0x%08x only in B\n", d->task, name, d->b);
		break;
	case NPU_RC_DIFF_FIELD: {
		const npu_field_info *fi = &npu_field_table[d->field];
		if (fi->flags & NPU_FF_SIGNED) {
			const enum npu_field_id f = (enum npu_field_id)d->field;
			fprintf(out, "task %u: %s.%s: %lld vs %lld\n", d->task, name, fi->name,
				(long long)npu_field_get_signed(f, d->a << fi->lo),
				(long long)npu_field_get_signed(f, d->b << fi->lo));
		} else {
			fprintf(out, "task %u: %s.%s: %u (0x%x) vs %u (0x%x)\n", d->task, name, fi->name,
				d->a, d->a, d->b, d->b);
		}
		break;
	}
	case NPU_RC_DIFF_RESERVED:
		fprintf(out, "task %u: %s reserved bits: 0x%08x vs 0x%08x\n", d->task, name, d->a,
			d->b);
		break;
	case NPU_RC_DIFF_OP_ENABLE:
		fprintf(out, "task %u: op-enable mask 0x%02x vs 0x%02x\n", d->task, d->a, d->b);
		break;
	case NPU_RC_DIFF_MARKER:
		fprintf(out, "task %u: 0x0041 marker %s vs %s\n", d->task, d->a ? "present" : "absent",
			d->b ? "present" : "absent");
		break;
	case NPU_RC_DIFF_TASK_COUNT:
		fprintf(out, "task count: %u vs %u\n", d->a, d->b);
		break;
	}
}
