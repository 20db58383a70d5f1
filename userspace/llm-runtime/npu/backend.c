/* SPDX-License-Identifier: MIT */
/* The "npu" backend object: devices, the libnpu GEMM context, stats and
 * warnings. Weights live in weights.c, calls in matmul.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npu/npu_sim.h"
#include "npu_internal.h"

/* Warnings after the first come at most this often (seconds). */
#define NPU_WARN_INTERVAL 5.0

double npu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void npu_warn(npu_backend *nb, const char *fmt, ...)
{
	if (nb->p.quiet)
		return;
	const double now = npu_now();
	if (nb->warned_once && now - nb->last_warning < NPU_WARN_INTERVAL) {
		nb->suppressed++;
		return;
	}
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (nb->suppressed)
		fprintf(stderr, "warning: npu: %s (%llu similar warnings suppressed)\n", msg,
			(unsigned long long)nb->suppressed);
	else
		fprintf(stderr, "warning: npu: %s\n", msg);
	nb->warned_once = true;
	nb->last_warning = now;
	nb->suppressed = 0;
}

rb_npu_backend_params rb_npu_backend_default_params(void)
{
	return (rb_npu_backend_params){
		.min_tokens = 32,
		.format = RB_NPU_WEIGHTS_INT8,
		.verify = true,
		.max_failures = 3,
	};
}

static int open_devices(npu_backend *nb, rb_err *err)
{
	const rb_npu_backend_params *p = &nb->p;
	if (p->devices) {
		if (p->n_devices < 1 || p->n_devices > NPU_DEVICE_MAX_CONTEXTS)
			return rb_err_set(err, RB_E_INVALID, "npu backend: %u devices given (1..%d)",
					  p->n_devices, NPU_DEVICE_MAX_CONTEXTS);
		for (unsigned i = 0; i < p->n_devices; i++) {
			if (!p->devices[i])
				return rb_err_set(err, RB_E_INVALID, "npu backend: device %u is NULL", i);
			nb->dev[i] = p->devices[i];
		}
		nb->ndev = p->n_devices;
		return RB_OK;
	}
	const unsigned count = p->contexts ? p->contexts : NPU_DEVICE_MAX_CONTEXTS;
	if (count > NPU_DEVICE_MAX_CONTEXTS)
		return rb_err_set(err, RB_E_INVALID, "npu backend: %u contexts asked for (1..%d)",
				  count, NPU_DEVICE_MAX_CONTEXTS);
	const bool sim = p->sim || (p->device && !strcmp(p->device, "sim"));
	int r = sim ? npu_device_open_sim_contexts(p->sim_config, count, nb->dev)
		    : npu_device_open_contexts(p->device, count, nb->dev);
	if (r == -ENOSYS)
		return rb_err_set(err, RB_E_UNSUPPORTED, "npu backend: %s", npu_device_error(NULL));
	if (r)
		return rb_err_set(err, RB_E_DEVICE, "npu backend: no NPU (%s)%s",
				  npu_device_error(NULL),
				  sim ? "" : "; --npu-sim (NPU_DEVICE=sim) runs the simulator instead");
	nb->ndev = count;
	nb->own_devices = true;
	return RB_OK;
}

rb_matmul_backend *rb_npu_backend_create(const rb_npu_backend_params *p, rb_err *err)
{
	if (!p || !p->fallback) {
		rb_err_set(err, RB_E_INVALID, "npu backend: no fallback backend given");
		return NULL;
	}
	if (p->format != RB_NPU_WEIGHTS_INT8 && p->format != RB_NPU_WEIGHTS_FP16) {
		rb_err_set(err, RB_E_INVALID, "npu backend: unknown weight format %d", (int)p->format);
		return NULL;
	}
	if (p->min_tokens < 0 || p->timeout_ms < 0) {
		rb_err_set(err, RB_E_INVALID, "npu backend: negative min_tokens or timeout");
		return NULL;
	}
	npu_backend *nb = calloc(1, sizeof(*nb));
	if (!nb) {
		rb_err_set(err, RB_E_NOMEM, "npu backend: out of memory");
		return NULL;
	}
	nb->be = (rb_matmul_backend){
		.name = "npu",
		.ctx = nb,
		.supports = npu_backend_supports,
		.prepare = npu_backend_prepare,
		.release = npu_backend_release,
		.matmul = npu_backend_matmul,
		.share_input = npu_backend_share_input,
		.matmul_shared = npu_backend_matmul_shared,
	};
	nb->p = *p;
	nb->k = npu_act_best();
	nb->rng = 0x9e3779b97f4a7c15ull;
	pthread_mutex_init(&nb->lock, NULL);
	if (open_devices(nb, err) != RB_OK) {
		pthread_mutex_destroy(&nb->lock);
		free(nb);
		return NULL;
	}
	nb->is_sim = npu_device_is_sim(nb->dev[0]) != 0;
	if (npu_gemm_ctx_create(nb->dev, nb->ndev, &nb->gctx, err) != 0) {
		rb_err_wrap(err, "npu backend");
		rb_npu_backend_destroy(&nb->be);
		return NULL;
	}
	npu_gemm_ctx_set_threadpool(nb->gctx, p->tp);
	if (p->timeout_ms)
		npu_gemm_ctx_set_timeout(nb->gctx, p->timeout_ms * 1000000ll);
	rb_npu_backend_reset_stats(&nb->be);
	return &nb->be;
}

void rb_npu_backend_destroy(rb_matmul_backend *b)
{
	if (!b)
		return;
	npu_backend *nb = (npu_backend *)b; /* the table is the first member */
	npu_gemm_ctx_destroy(nb->gctx);
	if (nb->own_devices)
		for (unsigned i = 0; i < nb->ndev; i++)
			npu_device_close(nb->dev[i]);
	free(nb->act_scale);
	free(nb->rows);
	free(nb->vbuf);
	pthread_mutex_destroy(&nb->lock);
	free(nb);
}

bool rb_is_npu_backend(const rb_matmul_backend *b)
{
	return b && b->matmul == npu_backend_matmul;
}

const char *rb_npu_backend_device_name(const rb_matmul_backend *b)
{
	if (!rb_is_npu_backend(b))
		return "";
	const npu_backend *nb = b->ctx;
	return npu_device_name(nb->dev[0]);
}

/* Totals of every simulated context (zero on hardware). */
static void sim_totals(const npu_backend *nb, npu_sim_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!nb->is_sim)
		return;
	for (unsigned i = 0; i < nb->ndev; i++) {
		npu_sim_stats s;
		if (npu_device_sim_stats(nb->dev[i], &s) == 0) {
			out->tasks += s.tasks;
			out->macs += s.macs;
			out->cycles += s.cycles;
		}
	}
}

void rb_npu_backend_get_stats(const rb_matmul_backend *b, rb_npu_backend_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!rb_is_npu_backend(b))
		return;
	npu_backend *nb = b->ctx;
	pthread_mutex_lock(&nb->lock);
	*out = nb->st;
	out->sim = nb->is_sim;
	out->npu_disabled = nb->disabled;
	if (nb->is_sim) {
		npu_sim_stats now;
		sim_totals(nb, &now);
		out->sim_tasks = now.tasks - nb->sim_base.tasks;
		out->sim_macs = now.macs - nb->sim_base.macs;
		out->sim_cycles = now.cycles - nb->sim_base.cycles;
	}
	pthread_mutex_unlock(&nb->lock);
}

void rb_npu_backend_reset_stats(rb_matmul_backend *b)
{
	if (!rb_is_npu_backend(b))
		return;
	npu_backend *nb = b->ctx;
	pthread_mutex_lock(&nb->lock);
	/* Weight counts describe the loaded model, not a period: keep them. */
	const rb_npu_backend_stats keep = nb->st;
	memset(&nb->st, 0, sizeof(nb->st));
	nb->st.weights_npu = keep.weights_npu;
	nb->st.weights_cpu_only = keep.weights_cpu_only;
	nb->st.weights_shared = keep.weights_shared;
	nb->st.shared_groups = keep.shared_groups;
	nb->st.npu_weight_bytes = keep.npu_weight_bytes;
	nb->st.t_prepare = keep.t_prepare;
	sim_totals(nb, &nb->sim_base);
	pthread_mutex_unlock(&nb->lock);
}

static double pct(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

void rb_npu_backend_print_stats(const rb_matmul_backend *b, FILE *f)
{
	if (!rb_is_npu_backend(b))
		return;
	rb_npu_backend_stats s;
	rb_npu_backend_get_stats(b, &s);
	const npu_backend *nb = b->ctx;
	fprintf(f, "npu: %s, %u context%s, %s, min %lld tokens%s\n",
		rb_npu_backend_device_name(b), nb->ndev, nb->ndev == 1 ? "" : "s",
		nb->p.format == RB_NPU_WEIGHTS_FP16 ? "fp16 weights"
		: nb->p.act_residual ? "int8 weights, activations in two int8 passes"
				     : "int8 weights",
		(long long)nb->p.min_tokens, s.npu_disabled ? ", DISABLED after failures" : "");
	fprintf(f, "npu: weights: %llu on the NPU (%.1f MiB; %llu of them as %llu shared-input "
		"groups), %llu on the fallback only; prepared in %.2f s\n",
		(unsigned long long)s.weights_npu, (double)s.npu_weight_bytes / (1024.0 * 1024.0),
		(unsigned long long)s.weights_shared, (unsigned long long)s.shared_groups,
		(unsigned long long)s.weights_cpu_only, s.t_prepare);
	fprintf(f, "npu: calls %llu (%llu tokens): NPU %llu (%llu tokens, %.2f GMAC, %llu NPU jobs), "
		"below min tokens %llu, fell back %llu (errors %llu, spot-check failures %llu, "
		"range %llu)\n",
		(unsigned long long)s.calls, (unsigned long long)s.tokens,
		(unsigned long long)s.npu_calls, (unsigned long long)s.npu_tokens,
		(double)s.npu_macs * 1e-9, (unsigned long long)s.npu_jobs,
		(unsigned long long)s.small_calls,
		(unsigned long long)s.fallback_calls, (unsigned long long)s.npu_errors,
		(unsigned long long)s.verify_failures, (unsigned long long)s.range_fallbacks);
	const double npu_side = s.t_quantize + s.t_gemm + s.t_verify;
	fprintf(f, "npu: time in NPU calls %.3f s: quantize %.3f s (%.0f%%), npu_gemm_run %.3f s "
		"(%.0f%%%s), spot checks %.3f s (%.0f%%, %llu outputs); fallback %.3f s\n",
		npu_side, s.t_quantize, pct(s.t_quantize, npu_side), s.t_gemm,
		pct(s.t_gemm, npu_side), s.sim ? ", incl. simulating the NPU" : "", s.t_verify,
		pct(s.t_verify, npu_side), (unsigned long long)s.verified_outputs, s.t_fallback);
	fprintf(f, "npu: npu_gemm_run %.3f s: pack A %.3f s, submit %.3f s, wait for the %s %.3f s, "
		"unpack C (int8: and scale) %.3f s\n", s.t_gemm, s.t_pack, s.t_submit,
		s.sim ? "simulator (host time, not NPU time)" : "device", s.t_wait, s.t_unpack);
	const double cpu_side = s.t_quantize + s.t_pack + s.t_submit + s.t_unpack + s.t_verify;
	if (s.npu_jobs)
		fprintf(f, "npu: CPU side of the NPU calls %.3f s (%.1f us per NPU job): quantize + "
			"pack + submit + unpack + spot checks\n", cpu_side,
			cpu_side * 1e6 / (double)s.npu_jobs);
	if (s.plan_clock_hz > 0)
		fprintf(f, "npu: cycle model of the plans run: %.3f Mcycles = %.3f s at %.0f MHz "
			"(busiest context per call)\n", (double)s.plan_cycles * 1e-6,
			(double)s.plan_cycles / s.plan_clock_hz, s.plan_clock_hz * 1e-6);
	if (s.sim)
		fprintf(f, "npu: simulator: %llu tasks, %.2f GMAC executed (padded), %.3f Mcycles "
			"summed over contexts (estimate, not measured on silicon)\n",
			(unsigned long long)s.sim_tasks, (double)s.sim_macs * 1e-9,
			(double)s.sim_cycles * 1e-6);
}
