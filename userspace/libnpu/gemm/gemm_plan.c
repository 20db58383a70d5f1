/* SPDX-License-Identifier: MIT */
/* The GEMM planner: splits C = A . B^T into NPU tasks.
 *
 * Decisions (docs/npu-programming.md#limits-and-the-planner):
 *  - N across cores: whole kernel groups (32 int8 / 16 fp16), balanced; each
 *    core keeps only its N-slice of the packed weights.
 *  - K slices: at most max_k channels (default 4096, the largest K MTX ran
 *    on silicon for int8), multiples of 32; so a kernel group (32 x K int8,
 *    16 x 2K fp16 bytes) fits 4 of the 12 CBUF banks and one kernel fits one
 *    bank (MTX's rule). Depends on K only, so B is packed once for every M.
 *  - M tiles: rows padded to 4 (or exactly 1, MTX's constraint), as many as
 *    the data banks left beside the weight group hold, at most 1020 (10-bit
 *    FEATURE_GRAINS = rows + 1), balanced.
 *  - N chunks: at most 4096 kernels per task (largest N MTX ran).
 *  - Banks per task: data = ceil(rows * K * bpe / 32 KiB), weight = 12 - data
 *    (MTX's rule); the weights stream through the weight banks. */
#include "gemm_internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }
static uint32_t align_up(uint32_t a, uint32_t b) { return div_up(a, b) * b; }

const char *npu_gemm_type_name(npu_gemm_type t)
{
	switch (t) {
	case NPU_GEMM_I8_I32: return "i8i32";
	case NPU_GEMM_F16_F32: return "f16f32";
	case NPU_GEMM_F16_F16: return "f16f16";
	}
	return "?";
}

unsigned npu_gemm_in_bytes(npu_gemm_type t) { return t == NPU_GEMM_I8_I32 ? 1 : 2; }
unsigned npu_gemm_out_bytes(npu_gemm_type t) { return t == NPU_GEMM_F16_F16 ? 2 : 4; }

uint32_t gemm_slice_k(const gemm_layout *l, uint32_t slice)
{
	return slice + 1 < l->k_slices ? l->k_slice : l->k_pad - (l->k_slices - 1) * l->k_slice;
}

uint32_t gemm_chunk_n(const gemm_layout *l, uint32_t core, uint32_t chunk)
{
	const uint32_t chunks = l->core[core].chunks, size = l->core[core].chunk;
	return chunk + 1 < chunks ? size : l->core[core].n - (chunks - 1) * size;
}

uint64_t gemm_weight_block_offset(const gemm_layout *l, uint32_t core, uint32_t slice,
				  uint32_t chunk)
{
	/* Slice-major: every slice holds the core's whole N-slice. */
	const uint64_t n_before = (uint64_t)chunk * l->core[core].chunk;
	return ((uint64_t)slice * l->k_slice * l->core[core].n + n_before * gemm_slice_k(l, slice)) *
	       l->bpe;
}

int gemm_layout_init(gemm_layout *l, npu_gemm_type type, uint32_t k, uint32_t n, uint32_t cores,
		     uint32_t max_k, rb_err *err)
{
	memset(l, 0, sizeof(*l));
	if (type != NPU_GEMM_I8_I32 && type != NPU_GEMM_F16_F32 && type != NPU_GEMM_F16_F16)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: unknown type %d", (int)type);
	if (k == 0 || n == 0 || k > NPU_GEMM_MAX_K || n > NPU_GEMM_MAX_N)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: shape K=%u N=%u outside 1..%u / 1..%u",
				  k, n, NPU_GEMM_MAX_K, NPU_GEMM_MAX_N);
	if (cores == 0 || cores > NPU_GEMM_MAX_CORES)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: %u cores requested (1..%u)", cores,
				  NPU_GEMM_MAX_CORES);
	l->type = type;
	l->k = k;
	l->n = n;
	l->bpe = npu_gemm_in_bytes(type);
	l->group = type == NPU_GEMM_I8_I32 ? 32 : 16;
	/* A kernel group must fit the weight banks with room for 4 rows of data. */
	const uint32_t limit = (NPU_CBUF_BANKS - 1) * NPU_CBUF_BANK_BYTES / (l->group * l->bpe);
	if (max_k == 0)
		max_k = GEMM_DEFAULT_MAX_K;
	if (max_k % 32 || max_k > limit)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: max_k_per_task %u must be a multiple "
				  "of 32 and at most %u for %s", max_k, limit, npu_gemm_type_name(type));
	l->k_pad = align_up(k, 32);
	l->k_slices = div_up(l->k_pad, max_k);
	l->k_slice = align_up(div_up(l->k_pad, l->k_slices), 32);
	l->k_slices = div_up(l->k_pad, l->k_slice);

	const uint32_t groups = div_up(n, l->group);
	l->cores = cores < groups ? cores : groups;
	uint32_t n0 = 0;
	for (uint32_t c = 0; c < l->cores; c++) {
		const uint32_t g = groups / l->cores + (c < groups % l->cores);
		l->core[c].n0 = n0;
		l->core[c].n = g * l->group;
		n0 += l->core[c].n;
		l->core[c].chunks = div_up(l->core[c].n, GEMM_MAX_N_PER_TASK);
		l->core[c].chunk = align_up(div_up(l->core[c].n, l->core[c].chunks), l->group);
		l->core[c].chunks = div_up(l->core[c].n, l->core[c].chunk);
		l->core[c].w_bytes = (uint64_t)l->core[c].n * l->k_pad * l->bpe;
		if (l->core[c].w_bytes > 0xffffffffull)
			return rb_err_set(err, RB_E_INVALID, "npu_gemm: %u x %u weights do not fit a "
					  "32-bit BO per core", n, k);
	}
	return 0;
}

/* Rows one task can take next to a kernel group of k channels. */
static uint32_t rows_per_task(const gemm_layout *l, uint32_t k)
{
	const uint32_t kernel_group = l->group * k * l->bpe;
	const uint32_t weight_banks = div_up(kernel_group, NPU_CBUF_BANK_BYTES);
	const uint32_t data_bytes = (NPU_CBUF_BANKS - weight_banks) * NPU_CBUF_BANK_BYTES;
	uint32_t rows = data_bytes / (k * l->bpe) / 4 * 4;
	if (rows > GEMM_MAX_ROWS_PER_TASK)
		rows = GEMM_MAX_ROWS_PER_TASK;
	return rows;
}

static void fill_task(npu_gemm_plan *p, gemm_task *t)
{
	const gemm_layout *l = &p->layout;
	t->in_bytes = (uint64_t)t->m * t->k * l->bpe;
	t->weight_bytes = (uint64_t)t->n * t->k * l->bpe;
	t->out_bytes = (uint64_t)t->m * t->n * p->out_bpe;
	t->macs = (uint64_t)t->m * t->k * t->n;
	t->data_banks = div_up((uint32_t)t->in_bytes, NPU_CBUF_BANK_BYTES);
	t->weight_banks = NPU_CBUF_BANKS - t->data_banks;
	const npu_sim_task_shape shape = {
		.precision = l->type == NPU_GEMM_I8_I32 ? NPU_PREC_INT8 : NPU_PREC_FP16,
		.pixels = t->m,
		.channels = t->k,
		.kernels = t->n,
		.kernel_area = 1,
		.dma_bytes = t->in_bytes + t->weight_bytes + t->out_bytes + GEMM_TASK_ENTRIES * 8,
	};
	npu_sim_cycle_parts parts;
	npu_sim_estimate_cycle_parts(&p->cost, &shape, &parts);
	t->cycles = parts.total;
	t->compute_cycles = parts.compute;
	t->dma_cycles = parts.dma;
}

int gemm_plan_from_layout(const gemm_layout *l, uint32_t m, const npu_sim_config *cost,
			  npu_gemm_plan **out, rb_err *err)
{
	*out = NULL;
	if (m == 0 || m > NPU_GEMM_MAX_M)
		return rb_err_set(err, RB_E_INVALID, "npu_gemm: M=%u outside 1..%u", m, NPU_GEMM_MAX_M);
	npu_gemm_plan *p = calloc(1, sizeof(*p));
	if (!p)
		return rb_err_set(err, RB_E_NOMEM, "npu_gemm: out of memory");
	p->layout = *l;
	if (cost)
		p->cost = *cost;
	else
		npu_sim_config_default(&p->cost);
	p->m = m;
	p->m_pad = m == 1 ? 1 : align_up(m, 4);
	/* One K slice: the task writes the requested type (MTX's three
	 * recipes); several: fp32 / int32 partials summed on the CPU. */
	p->out_prec = l->type == NPU_GEMM_I8_I32 ? NPU_PREC_INT32
		      : (l->type == NPU_GEMM_F16_F16 && l->k_slices == 1) ? NPU_PREC_FP16
									  : NPU_PREC_FP32;
	p->out_bpe = p->out_prec == NPU_PREC_FP16 ? 2 : 4;

	const uint32_t rows_max = rows_per_task(l, l->k_slice);
	p->m_tiles = div_up(p->m_pad, rows_max);
	p->m_tile = p->m_pad == 1 ? 1 : align_up(div_up(p->m_pad, p->m_tiles), 4);
	p->m_tiles = div_up(p->m_pad, p->m_tile);

	uint32_t total = 0;
	for (uint32_t c = 0; c < l->cores; c++)
		total += p->m_tiles * l->core[c].chunks * l->k_slices;
	p->tasks = calloc(total, sizeof(*p->tasks));
	if (!p->tasks) {
		free(p);
		return rb_err_set(err, RB_E_NOMEM, "npu_gemm: out of memory for %u tasks", total);
	}
	for (uint32_t c = 0; c < l->cores; c++) {
		p->core[c].first = p->ntasks;
		p->core[c].a_bytes = (uint64_t)p->m_pad * l->k_pad * l->bpe;
		uint64_t c_off = 0;
		for (uint32_t tile = 0; tile < p->m_tiles; tile++)
			for (uint32_t chunk = 0; chunk < l->core[c].chunks; chunk++)
				for (uint32_t s = 0; s < l->k_slices; s++) {
					gemm_task *t = &p->tasks[p->ntasks];
					t->core = c;
					t->tile = tile;
					t->chunk = chunk;
					t->slice = s;
					t->m0 = tile * p->m_tile;
					t->m = tile + 1 < p->m_tiles ? p->m_tile : p->m_pad - t->m0;
					t->n0 = l->core[c].n0 + chunk * l->core[c].chunk;
					t->n = gemm_chunk_n(l, c, chunk);
					t->k0 = s * l->k_slice;
					t->k = gemm_slice_k(l, s);
					t->a_off = (uint64_t)t->m0 * l->k_pad * l->bpe +
						   (uint64_t)(t->k0 * l->bpe / NPU_ATOM_BYTES) * t->m *
							   NPU_ATOM_BYTES;
					t->w_off = gemm_weight_block_offset(l, c, s, chunk);
					t->c_off = c_off;
					t->rc_first = (p->ntasks - p->core[c].first) * GEMM_TASK_ENTRIES;
					fill_task(p, t);
					c_off += t->out_bytes;
					p->core[c].cycles += t->cycles;
					p->ntasks++;
				}
		p->core[c].count = p->ntasks - p->core[c].first;
		p->core[c].c_bytes = c_off;
		p->core[c].rc_entries = p->core[c].count * GEMM_TASK_ENTRIES;
		if (c_off > 0xffffffffull || p->core[c].a_bytes > 0xffffffffull) {
			npu_gemm_plan_destroy(p);
			return rb_err_set(err, RB_E_INVALID, "npu_gemm: M=%u K=%u N=%u needs buffers "
					  "beyond 4 GiB per core", m, l->k, l->n);
		}
	}
	*out = p;
	return 0;
}

int npu_gemm_plan_create(npu_gemm_type type, uint32_t m, uint32_t k, uint32_t n,
			 const npu_gemm_plan_opts *opts, npu_gemm_plan **out, rb_err *err)
{
	gemm_layout l;
	const uint32_t cores = opts && opts->cores ? opts->cores : NPU_GEMM_MAX_CORES;
	int ret = gemm_layout_init(&l, type, k, n, cores, opts ? opts->max_k_per_task : 0, err);
	if (ret)
		return ret;
	return gemm_plan_from_layout(&l, m, opts ? opts->cost : NULL, out, err);
}

void npu_gemm_plan_destroy(npu_gemm_plan *p)
{
	if (!p)
		return;
	free(p->tasks);
	free(p);
}

uint32_t npu_gemm_plan_task_count(const npu_gemm_plan *p) { return p->ntasks; }

void npu_gemm_plan_get_task(const npu_gemm_plan *p, uint32_t i, npu_gemm_task_info *ti)
{
	memset(ti, 0, sizeof(*ti));
	if (i >= p->ntasks)
		return;
	const gemm_task *t = &p->tasks[i];
	ti->core = t->core;
	ti->m0 = t->m0;
	ti->m = t->m;
	ti->n0 = t->n0;
	ti->n = t->n;
	ti->k0 = t->k0;
	ti->k = t->k;
	ti->k_slice = t->slice;
	ti->data_banks = t->data_banks;
	ti->weight_banks = t->weight_banks;
	ti->in_bytes = t->in_bytes;
	ti->weight_bytes = t->weight_bytes;
	ti->out_bytes = t->out_bytes;
	ti->regcmd_bytes = GEMM_TASK_ENTRIES * 8;
	ti->macs = t->macs;
	ti->cycles = t->cycles;
	ti->compute_cycles = t->compute_cycles;
	ti->dma_cycles = t->dma_cycles;
}

void npu_gemm_plan_get_summary(const npu_gemm_plan *p, npu_gemm_plan_summary *s)
{
	const gemm_layout *l = &p->layout;
	memset(s, 0, sizeof(*s));
	s->type = l->type;
	s->m = p->m;
	s->k = l->k;
	s->n = l->n;
	s->cores = l->cores;
	s->tasks = p->ntasks;
	s->m_tiles = p->m_tiles;
	s->m_tile = p->m_tile;
	s->k_slices = l->k_slices;
	s->k_slice = l->k_slice;
	for (uint32_t c = 0; c < l->cores; c++) {
		s->core_tasks[c] = p->core[c].count;
		s->core_n0[c] = l->core[c].n0;
		s->core_n[c] = l->core[c].n;
		s->core_cycles[c] = p->core[c].cycles;
		s->weight_resident_bytes += l->core[c].w_bytes;
		if (p->core[c].cycles > s->cycles)
			s->cycles = p->core[c].cycles;
	}
	for (uint32_t i = 0; i < p->ntasks; i++) {
		const gemm_task *t = &p->tasks[i];
		s->in_bytes += t->in_bytes;
		s->weight_bytes += t->weight_bytes;
		s->out_bytes += t->out_bytes;
		s->regcmd_bytes += GEMM_TASK_ENTRIES * 8;
		s->macs += t->macs;
		s->compute_cycles += t->compute_cycles;
		s->dma_cycles += t->dma_cycles;
		s->overhead_cycles += p->cost.task_overhead_cycles;
	}
	s->clock_hz = p->cost.clock_hz;
	s->seconds = s->clock_hz > 0 ? (double)s->cycles / s->clock_hz : 0;
	s->gops = s->seconds > 0 ? 2.0 * p->m * l->k * (double)l->n / s->seconds / 1e9 : 0;
}
