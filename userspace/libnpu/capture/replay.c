/* SPDX-License-Identifier: MIT */
/* Capture replay: the captured buffers at their captured NPU addresses, the
 * tasks kicked the way the kernel does (npu_kmodel_run_task) on a fresh
 * simulated core, then a comparison with the captured "after" contents. */
#include "npu/npu_capture.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "npu_kmodel.h"

struct replay_mem {
	const npu_capture *cap;
	uint8_t **bufs;
};

/* The captured buffers are the whole address space: anything else faults. */
static void *replay_translate(void *ctx, uint64_t iova, uint64_t len, bool write)
{
	const struct replay_mem *m = ctx;

	(void)write;
	for (uint32_t i = 0; i < m->cap->bo_count; i++) {
		const npu_capture_bo *b = &m->cap->bos[i];

		if (iova >= b->iova && iova - b->iova < b->size && len <= b->size - (iova - b->iova))
			return m->bufs[i] + (iova - b->iova);
	}
	return NULL;
}

static const char *flag_names(uint32_t flags, char *buf, size_t len)
{
	static const char *const names[] = { "in", "out", "regcmd", "ref" };
	size_t used = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < 4; i++)
		if (flags & (1u << i))
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "",
						 names[i]);
	return buf;
}

static uint32_t word_at(const uint8_t *p, uint64_t off, uint64_t size)
{
	uint8_t w[4] = { 0 };

	memcpy(w, p + off, size - off < 4 ? (size_t)(size - off) : 4);
	return (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
}

/* Number of differing bytes; prints the first `max` differing 32-bit words. */
static uint64_t diff_bo(const npu_capture_bo *b, const uint8_t *got, unsigned max, FILE *out)
{
	uint64_t differing = 0, first = UINT64_MAX;
	unsigned shown = 0;
	char fl[32];

	for (uint64_t i = 0; i < b->size; i++) {
		if (got[i] != b->after[i]) {
			differing++;
			if (first == UINT64_MAX)
				first = i;
		}
	}
	if (!out)
		return differing;
	fprintf(out, "buffer 0x%08" PRIx64 " (handle %u, %s, %" PRIu64 " bytes): ", b->iova,
		b->handle, flag_names(b->flags, fl, sizeof(fl)), b->size);
	if (!differing) {
		fprintf(out, "identical\n");
		return 0;
	}
	fprintf(out, "%" PRIu64 " bytes differ, first at +0x%" PRIx64 "\n", differing, first);
	for (uint64_t off = first & ~3ull; off < b->size && shown < max; off += 4) {
		uint32_t want = word_at(b->after, off, b->size), have = word_at(got, off, b->size);

		if (want == have)
			continue;
		fprintf(out, "    +0x%06" PRIx64 " (int32 #%" PRIu64 "): expected 0x%08x (%d), "
			"replay 0x%08x (%d)\n", off, off / 4, want, (int32_t)want, have,
			(int32_t)have);
		shown++;
	}
	return differing;
}

static int run_tasks(const npu_capture *cap, const npu_replay_options *opt, struct replay_mem *mem,
		     const npu_kcore_ops *ops, npu_replay_result *res)
{
	npu_sim_config def;
	npu_sim_mem m = { .ctx = mem, .translate = replay_translate };
	void *core;

	if (!ops)
		return -ENOSYS;
	npu_capture_sim_config_default(&def);
	core = ops->create(0, opt->sim ? opt->sim : &def);
	if (!core)
		return -ENOMEM;
	for (uint32_t t = 0; t < cap->task_count; t++) {
		const npu_capture_task *task = &cap->tasks[t];
		npu_sim_stats total, last;
		char msg[200];
		int ret = npu_kmodel_run_task(ops, core, 0, &m, task->regcmd, task->regcmd_count,
					      msg, sizeof(msg));

		if (opt->report)
			fprintf(opt->report, "task %u/%u: regcmd 0x%08x, %u entries: %s%s\n", t + 1,
				cap->task_count, task->regcmd, task->regcmd_count,
				ret ? "did not complete: " : "completed", ret ? msg : "");
		if (ret) {
			res->status = ret;
			snprintf(res->message, sizeof(res->message), "task %u: %s", t + 1, msg);
			break;
		}
		ops->get_stats(core, &total, &last);
		res->stats = total;
	}
	ops->destroy(core);
	return 0;
}

int npu_capture_replay(const npu_capture *cap, const npu_replay_options *opt,
		       npu_replay_result *res)
{
	return npu_capture_replay_with(cap, opt, npu_kcore_sim_ops(), res);
}

int npu_capture_replay_with(const npu_capture *cap, const npu_replay_options *opt_in,
			    const npu_kcore_ops *ops, npu_replay_result *res)
{
	npu_replay_options opt = opt_in ? *opt_in : (npu_replay_options){ 0 };
	struct replay_mem mem = { .cap = cap };
	bool differs = false;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!opt.max_diffs)
		opt.max_diffs = 8;
	mem.bufs = calloc(cap->bo_count ? cap->bo_count : 1, sizeof(*mem.bufs));
	if (!mem.bufs)
		return -ENOMEM;
	ret = 0;
	for (uint32_t i = 0; i < cap->bo_count && !ret; i++) {
		mem.bufs[i] = calloc(1, (size_t)cap->bos[i].size);
		if (!mem.bufs[i])
			ret = -ENOMEM;
		else if (cap->bos[i].before)
			memcpy(mem.bufs[i], cap->bos[i].before, (size_t)cap->bos[i].size);
	}
	if (!ret)
		ret = run_tasks(cap, &opt, &mem, ops, res);
	if (!ret) {
		bool cap_ok = !cap->has_result || cap->result == 0;

		if (cap_ok != (res->status == 0)) {
			differs = true;
			if (opt.report)
				fprintf(opt.report, "outcome differs: the capture %s, the replay %s\n",
					cap_ok ? "completed" : "failed", res->status ? "hung" : "completed");
		}
		for (uint32_t i = 0; i < cap->bo_count; i++) {
			uint64_t d;

			if (!cap->bos[i].after)
				continue;
			res->bos_compared++;
			d = diff_bo(&cap->bos[i], mem.bufs[i], opt.max_diffs, opt.report);
			if (d) {
				res->bos_differing++;
				res->bytes_differing += d;
				differs = true;
			}
		}
		if (opt.report)
			fprintf(opt.report, "replay: %s (%u of %u buffers differ)\n",
				differs ? "DIFFERENT" : "identical", res->bos_differing,
				res->bos_compared);
	}
	for (uint32_t i = 0; i < cap->bo_count; i++)
		free(mem.bufs[i]);
	free(mem.bufs);
	if (ret)
		return ret;
	return differs ? 1 : 0;
}
