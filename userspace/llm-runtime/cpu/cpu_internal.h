/* SPDX-License-Identifier: MIT */
/* rb_cpu internals: the repacked weight layouts ("panels"), the quantized
 * activation scratch, and the per-ISA kernel entry points. Not a public
 * header; docs/cpu-kernels.md describes the same layouts in prose.
 *
 * Every panel groups RB_PK_ROWS = 16 consecutive output rows. Within a group
 * the K dimension is cut into blocks (256 elements for the K-quants, 32 for
 * the 8-bit panel, 1 for the float panels) stored back to back, so one group
 * is one contiguous, sequentially read stretch of memory. The quantized
 * panels store 4 consecutive k of one row as 4 bytes and the 16 rows of a
 * "step" (4 k) next to each other (64 bytes):
 *
 *     step s: [row0 k0..k3][row1 k0..k3] ... [row15 k0..k3]
 *
 * which is what vpdpbusd (16 rows x 4 k per zmm), vpmaddubsw (8 rows per ymm)
 * and sdot (4 rows per q register) consume, so one layout serves every ISA.
 * The last group of a matrix whose n_out is not a multiple of 16 is padded
 * with zero rows (zero scales); kernels compute them and drop them on store. */
#ifndef RB_CPU_INTERNAL_H
#define RB_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "rosenblatt/fp16.h"
#include "rosenblatt/threadpool.h"
#include "rosenblatt/types.h"

#define RB_PK_ROWS 16

enum rb_pk_kind {
	RB_PK_GENERIC = 0, /* not repacked: per-row scalar vec_dot of rb_quant */
	RB_PK_Q4K,         /* from Q4_K */
	RB_PK_Q6K,         /* from Q6_K */
	RB_PK_Q8,          /* from Q8_0, Q5_0, Q4_0: signed int8 + f32 scale per 32 */
	RB_PK_F16,         /* from F16 */
	RB_PK_F32,         /* from F32 */
	RB_PK_COUNT,
};

/* Q4K panel block (16 rows x 256 k), 2432 bytes:
 *   qs[32][64]: chunk c holds step 2c in its low nibbles and step 2c + 1 in
 *               its high nibbles (so chunks 4j..4j+3 are sub-block j);
 *   sc[8][16]:  6-bit scale of sub-block j, row r;
 *   m[4][16][2]: 6-bit min of sub-blocks 2p and 2p + 1 of row r, pairwise
 *               (the operand layout of vpdpwssd / vmull pairs);
 *   d[16], dmin[16]: the f16 super-block scales as f32. */
#define RB_PK_Q4K_QS 0
#define RB_PK_Q4K_SC 2048
#define RB_PK_Q4K_M 2176
#define RB_PK_Q4K_D 2304
#define RB_PK_Q4K_DMIN 2368
#define RB_PK_Q4K_BLOCK 2432

/* Q6K panel block (16 rows x 256 k), 3392 bytes; 16 sub-blocks h of 192
 * bytes in the order the kernels read them (one sequential stream):
 *   ql[2][64]:  low 4 bits of q (0..63) of steps 4h..4h+3, nibble layout as
 *               the Q4K panel (chunk cc: step 4h + 2cc low, 4h + 2cc + 1 high);
 *   qh[64]:     their high 2 bits: byte (row r, i) holds in bits 2s..2s+1
 *               the high bits of element k = 16h + 4s + i;
 * then sc[8][16][2]: signed scales of sub-blocks 2p and 2p + 1 of row r;
 *   d[16]: the f16 super-block scale as f32.
 * Values are stored unsigned (q, not q - 32); kernels subtract 32 either on
 * the weights (NEON) or as 32 * sum(sc * bsum16) (x86, vpdpbusd wants u8). */
#define RB_PK_Q6K_QL(h, cc) (192 * (h) + 64 * (cc))
#define RB_PK_Q6K_QH(h) (192 * (h) + 128)
#define RB_PK_Q6K_SC 3072
#define RB_PK_Q6K_D 3328
#define RB_PK_Q6K_BLOCK 3392

/* Q8 panel block (16 rows x 32 k), 576 bytes:
 *   qs[8][64]: signed q of step s (plain bytes, no nibbles);
 *   d[16]:     f32 scale. */
#define RB_PK_Q8_QS 0
#define RB_PK_Q8_D 512
#define RB_PK_Q8_BLOCK 576

/* F16 / F32 panels: for every k the 16 rows' values, 32 or 64 bytes. */

typedef struct rb_pack {
	enum rb_pk_kind kind;
	enum rb_type act_type; /* RB_TYPE_Q8_K, RB_TYPE_Q8_0 or RB_TYPE_F32 */
	int64_t n_in, n_out, n_groups;
	int64_t block_k;       /* k per panel block */
	size_t block_bytes;    /* bytes per (group, block) */
	size_t group_bytes;    /* bytes per group = blocks * block_bytes */
	uint8_t *data;         /* 64-byte aligned, n_groups * group_bytes */
} rb_pack;

static inline const uint8_t *rb_pack_group(const rb_pack *p, int64_t g)
{
	return p->data + (size_t)g * p->group_bytes;
}

/* Activations quantized once per matmul, token-major:
 *   Q8_K (for the K-quant panels): qs[t][k], d[t][k/256] (f32),
 *       bs16[t][k/16], bs32[t][k/32] (sums of q);
 *   Q8_0 (for the Q8 panel):       qs[t][k], d[t][k/32] (f16-rounded value
 *       as f32), sum[t][k/32] (i32 sum of q).
 * Values are bit-identical to rb_quantize_row_q8_K / _q8_0 of rb_quant. */
typedef struct rb_act {
	enum rb_type type;
	int64_t n_tok, k;
	int8_t *qs;
	float *d;
	int16_t *bs16, *bs32;
	int32_t *sum;
} rb_act;

/* Bytes of scratch rb_act_layout needs for n_tok x k (incl. alignment). */
size_t rb_act_bytes(enum rb_type type, int64_t n_tok, int64_t k);
/* Carve an rb_act out of buf (64-byte aligned, rb_act_bytes long). */
void rb_act_layout(rb_act *a, enum rb_type type, int64_t n_tok, int64_t k, void *buf);
/* Quantize tokens [t0, t1) of x (row stride ldx) into a. */
void rb_act_quantize(rb_act *a, const float *x, int64_t ldx, int64_t t0, int64_t t1);

/* One row of activation quantizers per ISA (n a multiple of 256 / 32). */
void rb_act_q8k_row_scalar(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bs16,
			   int16_t *bs32);
void rb_act_q80_row_scalar(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum);
void rb_act_q8k_row_avx2(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bs16,
			 int16_t *bs32);
void rb_act_q80_row_avx2(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum);
void rb_act_q8k_row_neon(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bs16,
			 int16_t *bs32);
void rb_act_q80_row_neon(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum);

/* ---- packing (pack.c) ---------------------------------------------------- */

/* Which panel a weight type maps to (RB_PK_GENERIC when none). */
enum rb_pk_kind rb_pack_kind_for(enum rb_type type);
/* Allocate p->data for w's shape; no packing yet. */
int rb_pack_alloc(rb_pack *p, enum rb_pk_kind kind, int64_t n_in, int64_t n_out);
/* Pack groups [g0, g1) of the GGUF rows in src (type as given). */
void rb_pack_groups(const rb_pack *p, enum rb_type type, const void *src, int64_t g0, int64_t g1);
void rb_pack_free(rb_pack *p);

/* ---- kernels --------------------------------------------------------------- */

typedef struct rb_gemm_args {
	const rb_pack *w;
	const rb_act *a;          /* quantized panels */
	const float *x;           /* float panels: activations ... */
	int64_t ldx;              /* ... and their row stride */
	float *y;
	int64_t ldy;
	int64_t n_tok;
} rb_gemm_args;

/* Compute rows of groups [g0, g1) for all n_tok tokens. */
typedef void (*rb_gemm_fn)(const rb_gemm_args *args, int64_t g0, int64_t g1);

typedef struct rb_kernel_set {
	const char *name;
	rb_gemm_fn gemm[RB_PK_COUNT]; /* NULL: kind not handled by this ISA */
	void (*act_q8k)(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bs16,
			int16_t *bs32);
	void (*act_q80)(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum);
} rb_kernel_set;

extern const rb_kernel_set rb_kernels_avx512vnni;
extern const rb_kernel_set rb_kernels_avx2;
extern const rb_kernel_set rb_kernels_neon_dot;

/* The best set for this CPU (honours RB_CPU_DISABLE); NULL: scalar only. */
const rb_kernel_set *rb_kernels_best(void);

/* ---- vector primitives (vec.h), one table per ISA ------------------------- */

typedef struct rb_vec_ops {
	const char *name;
	float (*dot_f32)(int64_t n, const float *x, const float *y);
	float (*dot_f16)(int64_t n, const rb_f16 *x, const float *y);
	void (*dot_f16_multi)(int64_t n, const rb_f16 *x, const float *y, int64_t ldy, int64_t ny,
			      float *out, int64_t ldo);
	void (*mad_f32)(int64_t n, float *y, const float *x, float a);
	void (*mad_f16)(int64_t n, float *y, const rb_f16 *x, float a);
	void (*scale_f32)(int64_t n, float *y, float a);
	void (*add_f32)(int64_t n, float *y, const float *x);
	void (*f32_to_f16)(int64_t n, rb_f16 *dst, const float *src);
	void (*f16_to_f32)(int64_t n, float *dst, const rb_f16 *src);
	float (*max_f32)(int64_t n, const float *x);
	float (*exp_sub_sum_f32)(int64_t n, float *x, float max);
	void (*rmsnorm_f32)(int64_t n, float *out, const float *x, const float *w, float eps);
	void (*swiglu_f32)(int64_t n, float *out, const float *gate, const float *up);
} rb_vec_ops;

extern const rb_vec_ops rb_vec_ops_scalar;
extern const rb_vec_ops rb_vec_ops_avx2;
extern const rb_vec_ops rb_vec_ops_neon;

/* Store 16 rows of one token, dropping rows >= n_valid. */
static inline void rb_store_rows(float *y, const float *v, int n_valid)
{
	for (int r = 0; r < n_valid; r++)
		y[r] = v[r];
}

#endif
