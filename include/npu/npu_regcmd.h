/* SPDX-License-Identifier: MIT */
/* RK3588 NPU register-command ("regcmd") lists: encoder, decoder,
 * disassembler and a field-level differ.
 *
 * A regcmd entry is one little-endian 64-bit word (TRM ch. 36, registers.xml,
 * MTX npu_hw.h, Mesa rkt_regcmd.c; docs/npu-programming.md#register-commands-regcmd):
 *   bits 63..48  header: block target bit (0x0100 PC ... 0x8000 PPU_RDMA) | 0x0001
 *   bits 47..16  32-bit register value
 *   bits 15..0   register offset inside the core window (0x100C = CNA_CONV_CON1)
 * Special entries: 0 (no-op filler), 0x0041_0000_0000_0000 (marker the TRM
 * requires before op-enable), 0x0081 | mask | 0x0008 (op-enable of the
 * blocks in `mask`, GLOBAL OPERATION_ENABLE bit layout).
 *
 * A task is a body of register writes followed by a 4-entry tail (Mesa
 * rkt_regcmd.c, MTX npu_matmul.c; same section): [0 or PC_BASE_ADDRESS],
 * PC_REGISTER_AMOUNTS, 0x0041 marker, op-enable. */
#ifndef NPU_REGCMD_H
#define NPU_REGCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "npu/npu_regs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NPU_RC_HDR_WRITE 0x0001u  /* set on every register write; meaning undocumented */
#define NPU_RC_HDR_MARKER 0x0041u /* TRM: must precede the op-enable entry */
#define NPU_RC_HDR_OPEN 0x0081u   /* op-enable: value = block mask, offset 0x0008 */
#define NPU_RC_MARKER_ENTRY 0x0041000000000000ull
#define NPU_RC_TAIL_ENTRIES 4u

static inline uint64_t npu_rc_pack(uint16_t header, uint32_t value, uint16_t offset)
{
	return ((uint64_t)header << 48) | ((uint64_t)value << 16) | offset;
}
static inline uint16_t npu_rc_header(uint64_t e) { return (uint16_t)(e >> 48); }
static inline uint32_t npu_rc_value(uint64_t e) { return (uint32_t)(e >> 16); }
static inline uint16_t npu_rc_offset(uint64_t e) { return (uint16_t)e; }

/* ------------------------------------------------------------- builder */

typedef struct npu_rc_builder {
	uint64_t *entries;
	uint32_t count, cap;
	bool dynamic;   /* entries is malloc'ed and grows */
	int error;      /* 0, or negative errno of the first problem */
	char msg[256];  /* names the register/field of the first problem */
} npu_rc_builder;

/* Build into a caller-owned array of `cap` entries (no allocation). */
void npu_rc_init(npu_rc_builder *b, uint64_t *buf, uint32_t cap);
/* Build into a growing heap array; npu_rc_release() frees it. */
void npu_rc_init_dynamic(npu_rc_builder *b);
void npu_rc_release(npu_rc_builder *b);

/* Append a register write (header derived from the register's block). A
 * register a regcmd cannot address, or running out of room, records an error. */
void npu_rc_write(npu_rc_builder *b, enum npu_reg_id reg, uint32_t value);
/* Shifted field value for composing a register value; a value that does not
 * fit records an error naming the field. Use through NPU_SET. */
uint32_t npu_rc_field(npu_rc_builder *b, enum npu_field_id f, int64_t value);
#define NPU_SET(b, FIELD, v) npu_rc_field((b), NPU_F_##FIELD, (int64_t)(v))
/* Append a raw 64-bit entry (special entries, test vectors). */
void npu_rc_raw(npu_rc_builder *b, uint64_t entry);
/* Tail of the last (or only) task of a kick (MTX npu_matmul.c ops[104..107]):
 * no-op, PC_REGISTER_AMOUNTS = 0, the 0x0041 marker, op-enable(mask). */
void npu_rc_tail(npu_rc_builder *b, uint32_t enable_mask);
/* Append no-op entries until count is a multiple of `n` (e.g. 2: the PC
 * fetches 128-bit lines). */
void npu_rc_pad(npu_rc_builder *b, uint32_t n);
/* 0 or the first recorded error (message in b->msg). */
static inline int npu_rc_status(const npu_rc_builder *b) { return b->error; }

/* PC_REGISTER_AMOUNTS the kernel programs for `count` entries (K-JOB). */
static inline uint32_t npu_rc_amount_for(uint32_t count) { return (count + 1) / 2 - 1; }

/* ------------------------------------------------------------- decoder */

enum npu_rc_kind {
	NPU_RC_NOP,       /* all-zero entry */
	NPU_RC_WRITE,     /* ordinary register write */
	NPU_RC_MARKER,    /* 0x0041 entry */
	NPU_RC_OP_ENABLE, /* 0x0081 entry */
	NPU_RC_INVALID,   /* not one of the above; see issues */
};

/* Problems of one entry (bit set). */
enum {
	NPU_RC_ISSUE_UNKNOWN_HEADER = 1u << 0,  /* header is none of the known forms */
	NPU_RC_ISSUE_HEADER_MISMATCH = 1u << 1, /* header block != block of the offset */
	NPU_RC_ISSUE_UNKNOWN_REG = 1u << 2,     /* offset not in the register table */
	NPU_RC_ISSUE_RESERVED_BITS = 1u << 3,   /* value sets bits outside every field */
	NPU_RC_ISSUE_NOT_WRITABLE = 1u << 4,    /* read-only or not addressable register */
	NPU_RC_ISSUE_UNDOC_NONZERO = 1u << 5,   /* undocumented register written non-zero */
	NPU_RC_ISSUE_BAD_SPECIAL = 1u << 6,     /* marker/op-enable with unexpected bits */
};

typedef struct npu_rc_entry {
	uint64_t raw;
	uint16_t header;
	uint32_t value;
	uint16_t offset;
	enum npu_rc_kind kind;
	int block;    /* from the header, -1 if none */
	int reg;      /* enum npu_reg_id from the offset, -1 if unknown */
	unsigned issues;
} npu_rc_entry;

void npu_rc_decode(uint64_t raw, npu_rc_entry *out);
/* Human-readable list of issue bits ("header/offset mismatch, ..."). */
const char *npu_rc_issue_str(unsigned issues, char *buf, size_t len);

/* Disassembly flags. */
enum {
	NPU_DIS_NO_FIELDS = 1u << 0, /* one line per entry, no field breakdown */
	NPU_DIS_NO_RAW = 1u << 1,    /* omit the raw 64-bit word */
};

/* One entry as text, e.g.
 * "0201000100401020  CNA_DATA_SIZE0 = 0x00010040  DATAIN_WIDTH=1 DATAIN_HEIGHT=64".
 * Returns the length it would need (snprintf semantics). */
int npu_rc_format(const npu_rc_entry *e, unsigned flags, char *buf, size_t len);

/* Disassemble n entries to `out`, numbering them from 0 and marking task
 * boundaries after each op-enable. Returns the number of entries with issues. */
size_t npu_rc_disassemble(FILE *out, const uint64_t *entries, size_t n, unsigned flags);

/* ---------------------------------------------------- per-task state, diff */

/* Register state one task leaves behind: the last value written to every
 * register by the task's entries (tasks end at an op-enable entry). */
typedef struct npu_rc_task_state {
	uint32_t value[NPU_REG_COUNT];
	uint8_t writes[NPU_REG_COUNT]; /* how many times written (0 = not) */
	uint32_t op_enable;            /* mask of the op-enable entry, 0 if none */
	bool has_marker;               /* a 0x0041 entry precedes the op-enable */
	uint32_t first_entry, entry_count;
	unsigned issues;               /* union of the entries' issues */
} npu_rc_task_state;

/* Split a regcmd list into tasks and collect their register state.
 * *tasks is malloc'ed (free()); a trailing run without op-enable becomes a
 * last task with op_enable = 0. Returns the task count or -ENOMEM. */
int npu_rc_tasks(const uint64_t *entries, size_t n, npu_rc_task_state **tasks);

enum npu_rc_diff_kind {
	NPU_RC_DIFF_ONLY_A,  /* register written in A's task only */
	NPU_RC_DIFF_ONLY_B,
	NPU_RC_DIFF_FIELD,   /* both wrote it; this field differs */
	NPU_RC_DIFF_RESERVED,/* both wrote it; bits outside every field differ */
	NPU_RC_DIFF_OP_ENABLE,
	NPU_RC_DIFF_MARKER,
	NPU_RC_DIFF_TASK_COUNT,
};

typedef struct npu_rc_diff_item {
	enum npu_rc_diff_kind kind;
	uint32_t task;
	int reg;    /* enum npu_reg_id or -1 */
	int field;  /* enum npu_field_id or -1 */
	uint32_t a, b; /* register values (or field values for DIFF_FIELD) */
} npu_rc_diff_item;

enum {
	NPU_DIFF_IGNORE_ADDR = 1u << 0, /* skip NPU_FF_ADDR fields (different IOVAs) */
};

/* Compare the per-task register state of two regcmd lists field by field.
 * Calls `cb` for every difference (may be NULL) and returns their number, or
 * -ENOMEM. Write order and duplicate writes do not count as differences. */
int npu_rc_diff(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, unsigned flags,
		void (*cb)(void *ctx, const npu_rc_diff_item *d), void *ctx);
/* Print one difference ("task 0: CNA_CONV_CON2.FEATURE_GRAINS: 65 vs 52"). */
void npu_rc_diff_print(FILE *out, const npu_rc_diff_item *d);

/* ---------------------------------------------------------- text input */

/* Parse a regcmd dump: raw little-endian u64 words, or text with one or more
 * hexadecimal 64-bit words per line ("0x" optional, '#' and "//" comments,
 * separators , ; :). `is_text` < 0 auto-detects. On success *entries is
 * malloc'ed. Returns the count, or a negative errno with `err` filled. */
long npu_rc_parse(const void *data, size_t len, int is_text, uint64_t **entries, char *err,
		  size_t errlen);
/* The auto-detection npu_rc_parse uses: no NUL or control bytes but
 * whitespace means text. */
bool npu_rc_looks_like_text(const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
