/* SPDX-License-Identifier: MIT */
/* Run-time CPU feature detection for kernel dispatch.
 * RB_CPU_DISABLE="avx512,avx2,dotprod" (comma separated) masks features, so
 * every kernel variant can be exercised on one machine. */
#ifndef ROSENBLATT_CPU_H
#define ROSENBLATT_CPU_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rb_cpu_features {
	/* x86-64 */
	bool avx2, fma, f16c;
	bool avx512;     /* F + BW + VL + DQ */
	bool avx512vnni;
	/* aarch64 */
	bool neon, dotprod, fp16;
} rb_cpu_features;

/* Detected once (thread safe), with RB_CPU_DISABLE applied. */
const rb_cpu_features *rb_cpu(void);
/* Short description, e.g. "x86-64 avx2 fma f16c avx512 avx512vnni". */
const char *rb_cpu_describe(void);

#ifdef __cplusplus
}
#endif
#endif
