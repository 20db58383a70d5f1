/* SPDX-License-Identifier: MIT */
/* bench_npu_gemm: the task plans of Qwen2.5-1.5B's matmul shapes and the
 * simulator's cycle model for them, as GOPS at the 1 GHz peak clock and at
 * the 200 MHz mainline boot clock. --run executes the plans on the
 * in-process simulator (3 contexts) and reports its measured counters. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm_internal.h"
#include "npu/npu_device.h"
#include "npu/npu_gemm.h"
#include "npu/npu_sim.h"
#include "rosenblatt/fp16.h"
#include "rosenblatt/threadpool.h"

/* Qwen2.5-1.5B: hidden 1536, 2 KV heads x 128 (GQA), FFN 8960 (K x N). */
static const struct {
	const char *name;
	uint32_t k, n;
} shapes[] = {
	{ "attn q/o 1536x1536", 1536, 1536 },
	{ "attn k/v 1536x256", 1536, 256 },
	{ "ffn gate/up 1536x8960", 1536, 8960 },
	{ "ffn down 8960x1536", 8960, 1536 },
	/* q | k | v as the npu backend runs them (one shared-input weight) */
	{ "attn q|k|v 1536x2048", 1536, 2048 },
};

typedef struct opts {
	bool json, run, cpu;
	int types[3], ntypes;
	uint32_t ms[16], nms;
	uint32_t cores, max_k;
	double dram_gbps, overhead_us, axi_bytes;
} opts;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_npu_gemm [options]\n"
		"Plans Qwen2.5-1.5B matmuls (K x N in {1536x1536, 1536x256, 1536x8960,\n"
		"8960x1536}, and q|k|v 1536x2048 as the npu backend runs them) for\n"
		"M = 1, 64, 512 and prints tasks, cores, bytes moved and the\n"
		"cycle model's time and GOPS at 1 GHz and 200 MHz.\n"
		"  --type T        i8i32 (default), f16f32, f16f16 or all\n"
		"  -m M            rows (repeatable; default 1 64 512)\n"
		"  --cores N       contexts to spread N over (1..3, default 3)\n"
		"  --dram-gbps X   DRAM bandwidth per core in the model (default 12)\n"
		"  --overhead-us X per-task kick overhead in the model (default 20)\n"
		"  --axi-bytes X   also cap DMA at X bytes per NPU cycle (default: no cap)\n"
		"  --max-k K       largest K slice per task (multiple of 32; default 4096)\n"
		"  --run           also execute every plan on the in-process simulator\n"
		"  --cpu           also time the CPU side of a call on 1 thread, in phases (pack\n"
		"                  A, copy it to the other contexts, unpack C as int32, unpack\n"
		"                  with the int8 output stage scaling to float), best of 7, and\n"
		"                  the three phases together on all cores\n"
		"  --json          JSON instead of the table\n"
		"  -h, --help      this text\n");
}

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cores = 3;
	o->dram_gbps = 12;
	o->overhead_us = 20;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const bool more = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--run")) {
			o->run = true;
		} else if (!strcmp(a, "--cpu")) {
			o->cpu = true;
		} else if (!strcmp(a, "--type") && more) {
			const char *t = argv[++i];
			if (!strcmp(t, "all")) {
				o->ntypes = 3;
				for (int k = 0; k < 3; k++)
					o->types[k] = k;
				continue;
			}
			int found = -1;
			for (int k = 0; k < 3; k++)
				if (!strcmp(t, npu_gemm_type_name((npu_gemm_type)k)))
					found = k;
			if (found < 0 || o->ntypes == 3) {
				fprintf(stderr, "bench_npu_gemm: bad --type \"%s\"\n", t);
				return -1;
			}
			o->types[o->ntypes++] = found;
		} else if (!strcmp(a, "-m") && more) {
			const long m = strtol(argv[++i], NULL, 10);
			if (m < 1 || m > (long)NPU_GEMM_MAX_M || o->nms == 16) {
				fprintf(stderr, "bench_npu_gemm: bad -m \"%s\"\n", argv[i]);
				return -1;
			}
			o->ms[o->nms++] = (uint32_t)m;
		} else if (!strcmp(a, "--cores") && more) {
			o->cores = (uint32_t)strtoul(argv[++i], NULL, 10);
			if (o->cores < 1 || o->cores > 3) {
				fprintf(stderr, "bench_npu_gemm: --cores must be 1..3\n");
				return -1;
			}
		} else if (!strcmp(a, "--max-k") && more) {
			o->max_k = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if ((!strcmp(a, "--dram-gbps") || !strcmp(a, "--overhead-us") ||
			    !strcmp(a, "--axi-bytes")) && more) {
			const double v = strtod(argv[++i], NULL);
			if (!(v >= 0)) {
				fprintf(stderr, "bench_npu_gemm: bad %s\n", a);
				return -1;
			}
			if (!strcmp(a, "--dram-gbps"))
				o->dram_gbps = v;
			else if (!strcmp(a, "--axi-bytes"))
				o->axi_bytes = v;
			else
				o->overhead_us = v;
		} else {
			fprintf(stderr, "bench_npu_gemm: unknown option \"%s\" (see --help)\n", a);
			return -1;
		}
	}
	if (!o->ntypes)
		o->types[o->ntypes++] = NPU_GEMM_I8_I32;
	if (!o->nms) {
		o->ms[0] = 1;
		o->ms[1] = 64;
		o->ms[2] = 512;
		o->nms = 3;
	}
	return 0;
}

static void cost_at(const opts *o, double clock_hz, npu_sim_config *c)
{
	npu_sim_config_default(c);
	c->clock_hz = clock_hz;
	c->dram_bytes_per_s = o->dram_gbps * 1e9;
	/* The kick/IRQ round trip is CPU and kernel time: fixed in seconds. */
	c->task_overhead_cycles = (uint32_t)(o->overhead_us * 1e-6 * clock_hz);
	c->dma_bytes_per_cycle = o->axi_bytes;
}

typedef struct measured {
	bool ok;
	uint64_t cycles; /* busiest context */
	uint64_t tasks;
	double wall_s;
	char error[600];
} measured;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Execute on the simulator (random operands; the results are checked by the
 * tests, here only the counters matter). */
static void run_sim(const opts *o, npu_gemm_type type, uint32_t m, uint32_t k, uint32_t n,
		    measured *r)
{
	memset(r, 0, sizeof(*r));
	npu_device *devs[3];
	if (npu_device_open_sim_contexts(NULL, o->cores, devs)) {
		snprintf(r->error, sizeof(r->error), "%s", npu_device_error(NULL));
		return;
	}
	const size_t ib = npu_gemm_in_bytes(type), ob = npu_gemm_out_bytes(type);
	uint8_t *a = calloc((size_t)m * k, ib), *b = calloc((size_t)n * k, ib);
	uint8_t *c = malloc((size_t)m * n * ob);
	npu_gemm_ctx *ctx = NULL;
	npu_gemm_weights *w = NULL;
	rb_err err = { 0 };
	if (a && b && c && !npu_gemm_ctx_create(devs, o->cores, &ctx, &err) &&
	    !npu_gemm_weights_create(ctx, type, n, k, b, k, &w, &err)) {
		npu_sim_stats before[3];
		for (uint32_t i = 0; i < o->cores; i++)
			npu_device_sim_stats(devs[i], &before[i]);
		const double t0 = now_s();
		if (!npu_gemm_run(ctx, w, m, a, k, c, n, &err)) {
			r->wall_s = now_s() - t0;
			r->ok = true;
			for (uint32_t i = 0; i < o->cores; i++) {
				npu_sim_stats s;
				npu_device_sim_stats(devs[i], &s);
				const uint64_t cyc = s.cycles - before[i].cycles;
				r->cycles = cyc > r->cycles ? cyc : r->cycles;
				r->tasks += s.tasks - before[i].tasks;
			}
		}
	}
	if (!r->ok)
		snprintf(r->error, sizeof(r->error), "%s", err.msg[0] ? err.msg : "out of memory");
	npu_gemm_weights_destroy(w);
	npu_gemm_ctx_destroy(ctx);
	for (uint32_t i = 0; i < o->cores; i++)
		npu_device_close(devs[i]);
	free(a);
	free(b);
	free(c);
}

/* The CPU side of a call on host memory: the phases of npu_gemm_run. */
typedef struct cpu_side {
	const npu_gemm_plan *p;
	const void *a;
	void *abuf[NPU_GEMM_MAX_CORES], *cbuf[NPU_GEMM_MAX_CORES];
	npu_gemm_output raw, scaled; /* int32 / float C (int8: scaled by row and column) */
	int phases;                  /* CPU_* */
	bool use_scaled;
} cpu_side;

enum { CPU_PACK = 1, CPU_COPY = 2, CPU_UNPACK = 4, CPU_ALL = 7 };

static void cpu_worker(void *arg, int ith, int nth)
{
	cpu_side *w = arg;
	const npu_gemm_plan *p = w->p;
	long b, e;
	if (w->phases & CPU_PACK) {
		rb_split_range(p->m_pad, ith, nth, &b, &e);
		gemm_pack_a_rows(p, w->a, p->layout.k, w->abuf[0], (uint32_t)b, (uint32_t)e);
	}
	/* (the library runs these as separate passes; one pass is enough to time) */
	if (w->phases & CPU_COPY) {
		rb_split_range((long)p->core[0].a_bytes, ith, nth, &b, &e);
		for (uint32_t i = 1; i < p->layout.cores; i++)
			memcpy((uint8_t *)w->abuf[i] + b, (uint8_t *)w->abuf[0] + b, (size_t)(e - b));
	}
	if (!(w->phases & CPU_UNPACK))
		return;
	long total = 0, g = 0;
	for (uint32_t i = 0; i < p->layout.cores; i++)
		total += gemm_unpack_groups(p, i);
	rb_split_range(total, ith, nth, &b, &e);
	for (uint32_t i = 0; i < p->layout.cores; i++)
		for (uint32_t k = 0; k < gemm_unpack_groups(p, i); k++, g++)
			if (g >= b && g < e)
				gemm_unpack_rows(p, i, k, 0, p->m_pad, w->cbuf[i],
						 w->use_scaled ? &w->scaled : &w->raw);
}

/* Best of 7 runs of the given phases, in seconds. */
static double time_phases(cpu_side *w, rb_threadpool *tp, int phases, bool scaled)
{
	w->phases = phases;
	w->use_scaled = scaled;
	double best = 1e30;
	for (int r = 0; r < 7; r++) {
		const double t0 = now_s();
		rb_threadpool_run(tp, cpu_worker, w);
		const double t = now_s() - t0;
		best = t < best ? t : best;
	}
	return best;
}

typedef struct cpu_times {
	double pack, copy, unpack, unpack_scaled; /* 1 thread */
	double all_threads;                      /* pack + copy + unpack on the pool */
} cpu_times;

/* The CPU side in phases on one thread, and whole on the pool; false on
 * allocation failure. */
static bool time_cpu(const npu_gemm_plan *p, rb_threadpool *tp, cpu_times *out)
{
	cpu_side w = { .p = p };
	const size_t ib = p->layout.bpe, ob = npu_gemm_out_bytes(p->layout.type);
	const uint32_t m = p->m, n = p->layout.n;
	void *a = calloc((size_t)m * p->layout.k, ib), *c = calloc((size_t)m * n, ob);
	float *cf = calloc((size_t)m * n, sizeof(float));
	float *rs = malloc(m * sizeof(float)), *cs = malloc(n * sizeof(float));
	bool ok = a && c && cf && rs && cs;
	for (uint32_t i = 0; i < p->layout.cores && ok; i++) {
		w.abuf[i] = calloc(1, p->core[i].a_bytes);
		w.cbuf[i] = calloc(1, p->core[i].c_bytes);
		ok = w.abuf[i] && w.cbuf[i];
	}
	const npu_gemm_segment seg = { .n = n, .c = c, .ldc = n }, segf = { .n = n, .c = cf, .ldc = n };
	w.a = a;
	w.raw = (npu_gemm_output){ .seg = &seg, .n_seg = 1 };
	w.scaled = (npu_gemm_output){ .seg = &segf, .n_seg = 1, .row_scale = rs, .col_scale = cs };
	if (ok) {
		for (uint32_t i = 0; i < m; i++)
			rs[i] = 1.0f / (float)(i + 1);
		for (uint32_t i = 0; i < n; i++)
			cs[i] = 1.0f / (float)(i + 3);
		out->pack = time_phases(&w, NULL, CPU_PACK, false);
		out->copy = time_phases(&w, NULL, CPU_COPY, false);
		out->unpack = time_phases(&w, NULL, CPU_UNPACK, false);
		out->unpack_scaled = p->layout.type == NPU_GEMM_I8_I32
					     ? time_phases(&w, NULL, CPU_UNPACK, true) : 0;
		out->all_threads = time_phases(&w, tp, CPU_ALL, false);
	}
	for (uint32_t i = 0; i < p->layout.cores; i++) {
		free(w.abuf[i]);
		free(w.cbuf[i]);
	}
	free(a);
	free(c);
	free(cf);
	free(rs);
	free(cs);
	return ok;
}

static const char *bound(const npu_gemm_plan_summary *s)
{
	const uint64_t busy = s->compute_cycles > s->dma_cycles ? s->compute_cycles : s->dma_cycles;
	if (s->overhead_cycles > busy)
		return "kick";
	return s->compute_cycles >= s->dma_cycles ? "MAC" : "DMA";
}

int main(int argc, char **argv)
{
	opts o;
	if (parse(argc, argv, &o))
		return 2;
	npu_sim_config fast, slow;
	rb_threadpool *tp = o.cpu ? rb_threadpool_create(0) : NULL;
	cost_at(&o, 1e9, &fast);
	cost_at(&o, 200e6, &slow);
	int first = 1, status = 0;
	if (o.json)
		printf("[\n");
	else
		printf("%-22s %-6s %4s %5s %5s %9s %8s %8s %8s %5s %9s %8s %9s %8s%s\n", "shape", "type",
		       "M", "tasks", "cores", "tile x ks", "in MB", "W MB", "out MB", "bound",
		       "us@1GHz", "GOPS", "us@200M", "GOPS", o.run ? "  sim-cycles(=plan?) wall-s" : "");
	if (!o.json && o.cpu)
		printf("%-22s (--cpu, after the columns: CPU side in us on 1 thread: pack A, copy A, "
		       "unpack C int32 / scaled to f32; pack+copy+unpack on %d threads)\n", "",
		       rb_threadpool_size(tp));
	for (unsigned si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++)
		for (int ti = 0; ti < o.ntypes; ti++)
			for (uint32_t mi = 0; mi < o.nms; mi++) {
				const npu_gemm_type type = (npu_gemm_type)o.types[ti];
				const uint32_t m = o.ms[mi], k = shapes[si].k, n = shapes[si].n;
				npu_gemm_plan *pf = NULL, *ps = NULL;
				rb_err err = { 0 };
				npu_gemm_plan_opts po = { .cores = o.cores, .max_k_per_task = o.max_k, .cost = &fast };
				if (npu_gemm_plan_create(type, m, k, n, &po, &pf, &err)) {
					fprintf(stderr, "bench_npu_gemm: %s\n", err.msg);
					return 1;
				}
				po.cost = &slow;
				if (npu_gemm_plan_create(type, m, k, n, &po, &ps, &err)) {
					fprintf(stderr, "bench_npu_gemm: %s\n", err.msg);
					return 1;
				}
				npu_gemm_plan_summary f, s;
				npu_gemm_plan_get_summary(pf, &f);
				npu_gemm_plan_get_summary(ps, &s);
				measured r = { 0 };
				if (o.run) {
					run_sim(&o, type, m, k, n, &r);
					if (!r.ok) {
						fprintf(stderr, "bench_npu_gemm: run failed: %s\n", r.error);
						status = 1;
					}
				}
				cpu_times ct = { 0 };
				if (o.cpu && !time_cpu(pf, tp, &ct)) {
					fprintf(stderr, "bench_npu_gemm: out of memory for --cpu\n");
					return 1;
				}
				const double mb = 1e-6;
				if (o.json) {
					printf("%s  {\"shape\": \"%s\", \"type\": \"%s\", \"m\": %u, \"k\": %u, "
					       "\"n\": %u, \"tasks\": %u, \"cores\": %u, \"m_tiles\": %u, "
					       "\"m_tile\": %u, \"k_slices\": %u, \"in_bytes\": %llu, "
					       "\"weight_bytes\": %llu, \"out_bytes\": %llu, \"regcmd_bytes\": %llu, "
					       "\"bound\": \"%s\", \"cycles_1ghz\": %llu, \"us_1ghz\": %.2f, "
					       "\"gops_1ghz\": %.2f, \"cycles_200mhz\": %llu, \"us_200mhz\": %.2f, "
					       "\"gops_200mhz\": %.2f",
					       first ? "" : ",\n", shapes[si].name, npu_gemm_type_name(type), m, k, n,
					       f.tasks, f.cores, f.m_tiles, f.m_tile, f.k_slices,
					       (unsigned long long)f.in_bytes, (unsigned long long)f.weight_bytes,
					       (unsigned long long)f.out_bytes, (unsigned long long)f.regcmd_bytes,
					       bound(&f), (unsigned long long)f.cycles, f.seconds * 1e6, f.gops,
					       (unsigned long long)s.cycles, s.seconds * 1e6, s.gops);
					if (o.run)
						printf(", \"sim_ok\": %s, \"sim_cycles_1ghz\": %llu, \"sim_wall_s\": %.3f",
						       r.ok ? "true" : "false", (unsigned long long)r.cycles, r.wall_s);
					if (o.cpu)
						printf(", \"cpu_us_1thread\": %.1f, \"cpu_pack_us\": %.1f, "
						       "\"cpu_copy_us\": %.1f, \"cpu_unpack_us\": %.1f, "
						       "\"cpu_unpack_scaled_us\": %.1f, \"cpu_us_threads\": %.1f, "
						       "\"threads\": %d",
						       (ct.pack + ct.copy + ct.unpack) * 1e6, ct.pack * 1e6,
						       ct.copy * 1e6, ct.unpack * 1e6, ct.unpack_scaled * 1e6,
						       ct.all_threads * 1e6, rb_threadpool_size(tp));
					printf("}");
					first = 0;
				} else {
					char tile[24];
					snprintf(tile, sizeof(tile), "%ux%u", f.m_tile, f.k_slices);
					printf("%-22s %-6s %4u %5u %5u %9s %8.2f %8.2f %8.2f %5s %9.1f %8.1f %9.1f "
					       "%8.1f",
					       shapes[si].name, npu_gemm_type_name(type), m, f.tasks, f.cores, tile,
					       f.in_bytes * mb, f.weight_bytes * mb, f.out_bytes * mb, bound(&f),
					       f.seconds * 1e6, f.gops, s.seconds * 1e6, s.gops);
					if (o.run)
						printf("  %llu(%s) %.2f", (unsigned long long)r.cycles,
						       r.ok && r.cycles == f.cycles ? "yes" : "NO", r.wall_s);
					if (o.cpu)
						printf("  cpu %.0f %.0f %.0f/%.0f | %.0f", ct.pack * 1e6,
						       ct.copy * 1e6, ct.unpack * 1e6, ct.unpack_scaled * 1e6,
						       ct.all_threads * 1e6);
					printf("\n");
				}
				npu_gemm_plan_destroy(pf);
				npu_gemm_plan_destroy(ps);
			}
	rb_threadpool_destroy(tp);
	if (o.json)
		printf("\n]\n");
	else
		printf("# model: MAC array 1024 int8 / 512 fp16 per cycle and core, DMA %.0f GB/s per "
		       "core, %.0f us per task kick; busiest core; GOPS = 2MKN / time.\n",
		       o.dram_gbps, o.overhead_us);
	return status;
}
