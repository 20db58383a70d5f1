/* SPDX-License-Identifier: MIT */
/* Run-time choice of the kernel set (rb_cpu() honours RB_CPU_DISABLE). */
#include "cpu_internal.h"
#include "rosenblatt/cpu.h"

const rb_kernel_set *rb_kernels_best(void)
{
	const rb_cpu_features *f = rb_cpu();
#if defined(RB_HAVE_X86_KERNELS)
	if (f->avx512 && f->avx512vnni && f->fma && f->f16c)
		return &rb_kernels_avx512vnni;
#if defined(RB_HAVE_AVX2_KERNELS)
	if (f->avx2 && f->fma && f->f16c)
		return &rb_kernels_avx2;
#endif
#elif defined(RB_HAVE_NEON_KERNELS)
	if (f->neon && f->dotprod)
		return &rb_kernels_neon_dot;
#endif
	(void)f;
	return NULL;
}
