/* SPDX-License-Identifier: MIT */
/* The shim's test build: the scripted fake core instead of the simulator. */
#include "fake_core.h"
#include "shim.h"

const npu_kcore_ops *npu_shim_core_ops(void)
{
	return &fake_core_ops;
}
