/* SPDX-License-Identifier: MIT */
/* Vector primitives: the scalar versions (the definitions; sums in double;
 * the dot products and f16 conversions are rb_quant's reference ones) and
 * the run-time dispatch to the SIMD tables (vec_avx2.c, vec_neon.c). */
#include "rosenblatt/vec.h"

#include <math.h>
#include <stdatomic.h>

#include "cpu_internal.h"
#include "rosenblatt/cpu.h"
#include "rosenblatt/quant.h"

/* One f16 row against ny vectors: the reference dot for each (no sharing to
 * gain without SIMD registers to keep the converted row in). */
static void dot_f16_multi_scalar(int64_t n, const rb_f16 *x, const float *y, int64_t ldy,
				 int64_t ny, float *out, int64_t ldo)
{
	for (int64_t g = 0; g < ny; g++)
		out[g * ldo] = rb_ref_dot_f16_f32(n, x, y + g * ldy);
}

static void mad_f32_scalar(int64_t n, float *y, const float *x, float a)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += a * x[i];
}

static void mad_f16_scalar(int64_t n, float *y, const rb_f16 *x, float a)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += a * rb_f16_to_f32(x[i]);
}

static void scale_f32_scalar(int64_t n, float *y, float a)
{
	for (int64_t i = 0; i < n; i++)
		y[i] *= a;
}

static void add_f32_scalar(int64_t n, float *y, const float *x)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += x[i];
}

/* rb_quant's row conversions, in the argument order of vec.h */
static void f32_to_f16_scalar(int64_t n, rb_f16 *dst, const float *src)
{
	rb_quantize_row_f16(src, dst, n);
}

static void f16_to_f32_scalar(int64_t n, float *dst, const rb_f16 *src)
{
	rb_dequantize_row_f16(src, dst, n);
}

static float max_f32_scalar(int64_t n, const float *x)
{
	float m = -INFINITY;
	for (int64_t i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

static float exp_sub_sum_f32_scalar(int64_t n, float *x, float max)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		s += x[i];
	}
	return (float)s;
}

static void rmsnorm_f32_scalar(int64_t n, float *out, const float *x, const float *w, float eps)
{
	double ss = 0;
	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	const float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
	for (int64_t i = 0; i < n; i++)
		out[i] = x[i] * scale * w[i];
}

static void swiglu_f32_scalar(int64_t n, float *out, const float *gate, const float *up)
{
	for (int64_t i = 0; i < n; i++) {
		const float g = gate[i];
		out[i] = g / (1.0f + expf(-g)) * up[i];
	}
}

const rb_vec_ops rb_vec_ops_scalar = {
	.name = "scalar",
	.dot_f32 = rb_ref_dot_f32_f32,
	.dot_f16 = rb_ref_dot_f16_f32,
	.dot_f16_multi = dot_f16_multi_scalar,
	.mad_f32 = mad_f32_scalar,
	.mad_f16 = mad_f16_scalar,
	.scale_f32 = scale_f32_scalar,
	.add_f32 = add_f32_scalar,
	.f32_to_f16 = f32_to_f16_scalar,
	.f16_to_f32 = f16_to_f32_scalar,
	.max_f32 = max_f32_scalar,
	.exp_sub_sum_f32 = exp_sub_sum_f32_scalar,
	.rmsnorm_f32 = rmsnorm_f32_scalar,
	.swiglu_f32 = swiglu_f32_scalar,
};

/* ---- dispatch ----------------------------------------------------------------- */

static const rb_vec_ops *pick(void)
{
	const rb_cpu_features *f = rb_cpu();
	(void)f;
#if defined(RB_HAVE_X86_KERNELS)
	if (f->avx2 && f->fma && f->f16c)
		return &rb_vec_ops_avx2;
#elif defined(RB_HAVE_NEON_KERNELS)
	if (f->neon)
		return &rb_vec_ops_neon;
#endif
	return &rb_vec_ops_scalar;
}

/* Chosen once; a race only makes two threads compute the same answer. */
static const rb_vec_ops *vops(void)
{
	static _Atomic(const rb_vec_ops *) chosen;
	const rb_vec_ops *o = atomic_load_explicit(&chosen, memory_order_acquire);
	if (!o) {
		o = pick();
		atomic_store_explicit(&chosen, o, memory_order_release);
	}
	return o;
}

float rb_vec_dot_f32(int64_t n, const float *x, const float *y) { return vops()->dot_f32(n, x, y); }
float rb_vec_dot_f16(int64_t n, const rb_f16 *x, const float *y) { return vops()->dot_f16(n, x, y); }

void rb_vec_dot_f16_multi(int64_t n, const rb_f16 *x, const float *y, int64_t ldy, int64_t ny,
			  float *out, int64_t ldo)
{
	vops()->dot_f16_multi(n, x, y, ldy, ny, out, ldo);
}

void rb_vec_mad_f32(int64_t n, float *y, const float *x, float a) { vops()->mad_f32(n, y, x, a); }
void rb_vec_mad_f16(int64_t n, float *y, const rb_f16 *x, float a) { vops()->mad_f16(n, y, x, a); }
void rb_vec_scale_f32(int64_t n, float *y, float a) { vops()->scale_f32(n, y, a); }
void rb_vec_add_f32(int64_t n, float *y, const float *x) { vops()->add_f32(n, y, x); }
void rb_vec_f32_to_f16(int64_t n, rb_f16 *dst, const float *src) { vops()->f32_to_f16(n, dst, src); }
void rb_vec_f16_to_f32(int64_t n, float *dst, const rb_f16 *src) { vops()->f16_to_f32(n, dst, src); }
float rb_vec_max_f32(int64_t n, const float *x) { return vops()->max_f32(n, x); }

float rb_vec_exp_sub_sum_f32(int64_t n, float *x, float max)
{
	return vops()->exp_sub_sum_f32(n, x, max);
}

void rb_rmsnorm_f32(int64_t n, float *out, const float *x, const float *w, float eps)
{
	vops()->rmsnorm_f32(n, out, x, w, eps);
}

void rb_vec_swiglu_f32(int64_t n, float *out, const float *gate, const float *up)
{
	vops()->swiglu_f32(n, out, gate, up);
}

const char *rb_vec_impl_name(void) { return vops()->name; }
