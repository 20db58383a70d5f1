/* SPDX-License-Identifier: MIT */
/* Silicon-proven register streams re-expressed as test vectors from their
 * documented register values (docs/npu-programming.md "The recipe we emit",
 * "Our stream versus Mesa's"):
 *   - mtx512/rk3588-npu's matmul task (INT8->INT32, FP16->FP32, FP16->FP16),
 *     run bit-exactly on RK3588 silicon by its author's tests;
 *   - Mesa rocket's quantized convolution task (rkt_regcmd.c / rkt_task.c),
 *     which runs TFLite models on RK3588 through the mainline driver.
 * These are written from the register tables, independently of the
 * library's generator, so the tests can compare the two field by field. */
#ifndef NPU_VECTORS_H
#define NPU_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* MTX INT8 matmul M=64 K=256 N=128 (mtx512 src/npu_matmul.c), A/B/C at
 * these IOVAs. */
#define VEC_MTX_A 0x00100000u
#define VEC_MTX_B 0x00200000u
#define VEC_MTX_C 0x00300000u
#define VEC_MTX_ENTRIES 108
extern const uint64_t vec_mtx_int8_64x256x128[VEC_MTX_ENTRIES];

enum vec_mtx_variant { VEC_MTX_I8_I32, VEC_MTX_F16_F32, VEC_MTX_F16_F16 };

/* MTX's recipe (gen_matmul_int8 / gen_matmul_fp16 in mtx512's
 * src/npu_matmul.c; docs/npu-programming.md#the-recipe-we-emit) for an
 * M x K x N task, in MTX's entry order. Returns VEC_MTX_ENTRIES. */
size_t vec_mtx_stream(uint64_t out[VEC_MTX_ENTRIES], enum vec_mtx_variant v, uint32_t m,
		      uint32_t k, uint32_t n, uint32_t a, uint32_t b, uint32_t c);

/* One Mesa uint8 1x1 convolution (stride 1, no padding, per-tensor
 * quantization) that fits one task. */
typedef struct vec_mesa_conv {
	uint32_t width, height, in_channels, out_channels;
	uint8_t in_zp, w_zp, out_zp;
	float in_scale, w_scale, out_scale;
	uint32_t input_iova, weight_iova, bias_iova, output_iova;
} vec_mesa_conv;

#define VEC_MESA_MAX_ENTRIES 160
/* Mesa's task stream (rkt_regcmd.c emission order, rkt_task.c values). */
size_t vec_mesa_conv_stream(uint64_t out[VEC_MESA_MAX_ENTRIES], const vec_mesa_conv *p);

/* Mesa's buffer conventions (rkt_ml.c, rkt_coefs.c; docs/npu-programming.md#data-layouts):
 * sizes, and filling the NPU buffers from TFLite-style uint8 tensors
 * (input NHWC [H][W][C], weights [OC][C], bias int32 [OC]). */
size_t vec_mesa_input_bytes(const vec_mesa_conv *p);
size_t vec_mesa_weight_bytes(const vec_mesa_conv *p);
size_t vec_mesa_output_bytes(const vec_mesa_conv *p);
void vec_mesa_fill(const vec_mesa_conv *p, const uint8_t *input, const uint8_t *weights,
		   const int32_t *bias, int8_t *npu_input, int8_t *npu_weights, int32_t *npu_bias);
/* uint8 output [H][W][OC] from the NPU's int8 [OC/16][H][W][16] buffer. */
void vec_mesa_read_output(const vec_mesa_conv *p, const int8_t *npu_output, uint8_t *out);

#endif
