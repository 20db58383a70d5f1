/* SPDX-License-Identifier: MIT */
/* The core behind the shim's simulated device: the register-level simulator
 * (shim_core.c), or a scripted core in test builds of the shim. */
#ifndef NPU_SHIM_H
#define NPU_SHIM_H

#include "npu_kmodel.h"

/* NULL selects the simulator (npu_kcore_sim_ops()). */
const npu_kcore_ops *npu_shim_core_ops(void);

#endif
