/* SPDX-License-Identifier: MIT */
/* NPU job captures: one submitted job (its tasks and every buffer it can
 * touch, before and after it ran) in a file that the simulator can replay and
 * compare. File format: docs/npu-capture-format.md (version 1).
 *
 * Writing: npu_device_set_capture() / NPU_CAPTURE=<prefix> make the device
 * layer write one file per job; other tools may write the format directly.
 * Replaying: npu_capture_replay() or `npu-sim replay FILE`. */
#ifndef NPU_CAPTURE_H
#define NPU_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "npu/npu_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NPU_CAPTURE_MAGIC "RBNPUCAP"
#define NPU_CAPTURE_VERSION 1u

/* Why a buffer is in the capture (bit set). */
enum npu_capture_bo_flags {
	NPU_CAPTURE_BO_IN = 1u << 0,     /* listed in the job's in_bo_handles */
	NPU_CAPTURE_BO_OUT = 1u << 1,    /* listed in the job's out_bo_handles */
	NPU_CAPTURE_BO_REGCMD = 1u << 2, /* holds a task's register commands */
	NPU_CAPTURE_BO_REF = 1u << 3,    /* a register value points into it */
};

typedef struct npu_capture_bo {
	uint32_t handle;  /* GEM handle on the capturing device (informative) */
	uint32_t flags;   /* enum npu_capture_bo_flags */
	uint64_t iova;    /* NPU address of byte 0 */
	uint64_t size;    /* bytes in before/after */
	uint8_t *before;  /* contents when the job was submitted (NULL: not captured) */
	uint8_t *after;   /* contents when the job had finished (NULL: not captured) */
} npu_capture_bo;

typedef struct npu_capture_task {
	uint32_t regcmd;       /* IOVA of the first 64-bit entry */
	uint32_t regcmd_count; /* entries */
} npu_capture_task;

typedef struct npu_capture {
	/* INFO: free-form "key=value" lines; the keys the library writes and
	 * reads are documented in docs/npu-capture-format.md. */
	char *info;
	uint32_t task_count;
	npu_capture_task *tasks;
	uint32_t bo_count;
	npu_capture_bo *bos;
	int has_result;
	int32_t result;        /* 0 = the job completed; negative errno otherwise */
	char *result_msg;      /* may be NULL */
} npu_capture;

/* Write `cap` to `path` (atomically: a temporary file renamed at the end).
 * 0 or negative errno; err receives a message naming the file. */
int npu_capture_write(const char *path, const npu_capture *cap, char *err, size_t err_len);
/* Parse a capture. Everything is validated (sizes, overlaps, 32-bit IOVAs,
 * truncation); on error: negative errno, `cap` is left empty and err says
 * what is wrong and at which file offset. */
int npu_capture_read(const char *path, npu_capture *cap, char *err, size_t err_len);
int npu_capture_parse(const void *data, size_t len, npu_capture *cap, char *err, size_t err_len);
void npu_capture_free(npu_capture *cap);
/* Copy the value of INFO key `key` into buf: 0, or -ENOENT (no such key). */
int npu_capture_info_get(const npu_capture *cap, const char *key, char *buf, size_t len);

typedef struct npu_replay_options {
	const npu_sim_config *sim;  /* NULL: the simulator's defaults */
	unsigned max_diffs;         /* differing elements printed per BO (default 8) */
	FILE *report;               /* readable summary (NULL: none) */
} npu_replay_options;

typedef struct npu_replay_result {
	int status;                 /* the simulator's outcome: 0, or -ETIMEDOUT (a task hung) */
	char message[256];          /* the simulator's error text when status != 0 */
	uint32_t bos_compared;
	uint32_t bos_differing;
	uint64_t bytes_differing;
	npu_sim_stats stats;
} npu_replay_result;

/* npu_sim_config_default() when libnpu has the simulator core, else the
 * documented defaults (so that tools build either way). */
void npu_capture_sim_config_default(npu_sim_config *cfg);

/* Re-execute the capture on a fresh simulated core: every BO at its IOVA
 * with its "before" contents, each task through the kernel's kick sequence;
 * then compare every BO that has "after" contents, and the outcome with the
 * capture's result. Returns 0 when everything matches, 1 when something
 * differs, negative errno when it could not run (no simulator core). */
int npu_capture_replay(const npu_capture *cap, const npu_replay_options *opt,
		       npu_replay_result *res);

#ifdef __cplusplus
}
#endif
#endif
