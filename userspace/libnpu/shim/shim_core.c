/* SPDX-License-Identifier: MIT */
#include "shim.h"

const npu_kcore_ops *npu_shim_core_ops(void)
{
	return NULL; /* the register-level simulator */
}
