/* SPDX-License-Identifier: MIT */
/* npu-dis: see npu_dis_cli.c and `npu-dis --help`. */
#include "npu_dis_cli.h"

int main(int argc, char **argv)
{
	return npu_dis_main(argc, argv, stdout, stderr);
}
