/* SPDX-License-Identifier: MIT */
/* npu-dis command line, callable in-process (tests) and from main(). */
#ifndef NPU_DIS_CLI_H
#define NPU_DIS_CLI_H

#include <stdio.h>

/* Runs npu-dis with argv; returns its exit status. */
int npu_dis_main(int argc, char **argv, FILE *out, FILE *err);

#endif
