/* SPDX-License-Identifier: MIT */
#include "rosenblatt/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

static rb_cpu_features g_cpu;
static char g_desc[160];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static unsigned long long xgetbv0(void)
{
	unsigned int lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

static void detect(rb_cpu_features *f)
{
	unsigned int a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	const int osxsave = (c >> 27) & 1;
	const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
	const int ymm_os = (xcr0 & 0x6) == 0x6;
	const int zmm_os = (xcr0 & 0xe6) == 0xe6;
	f->fma = ymm_os && ((c >> 12) & 1);
	f->f16c = ymm_os && ((c >> 29) & 1);
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return;
	f->avx2 = ymm_os && ((b >> 5) & 1);
	const int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
	const int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
	f->avx512 = zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
	f->avx512vnni = f->avx512 && ((c >> 11) & 1);
}
#elif defined(__aarch64__)
static void detect(rb_cpu_features *f)
{
	const unsigned long hw = getauxval(AT_HWCAP);
	f->neon = (hw & HWCAP_ASIMD) != 0;
	f->dotprod = (hw & HWCAP_ASIMDDP) != 0;
	f->fp16 = (hw & HWCAP_ASIMDHP) != 0;
}
#else
static void detect(rb_cpu_features *f) { (void)f; }
#endif

static int disabled(const char *list, const char *name)
{
	const size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		const size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static void init_once(void)
{
	detect(&g_cpu);
	const char *dis = getenv("RB_CPU_DISABLE");
	if (dis) {
		if (disabled(dis, "avx512")) g_cpu.avx512 = g_cpu.avx512vnni = false;
		if (disabled(dis, "avx512vnni")) g_cpu.avx512vnni = false;
		if (disabled(dis, "avx2")) g_cpu.avx2 = g_cpu.avx512 = g_cpu.avx512vnni = false;
		if (disabled(dis, "dotprod")) g_cpu.dotprod = false;
		if (disabled(dis, "fp16")) g_cpu.fp16 = false;
		if (disabled(dis, "neon")) g_cpu.neon = g_cpu.dotprod = g_cpu.fp16 = false;
	}
#if defined(__x86_64__)
	snprintf(g_desc, sizeof(g_desc), "x86-64%s%s%s%s%s", g_cpu.avx2 ? " avx2" : "",
		 g_cpu.fma ? " fma" : "", g_cpu.f16c ? " f16c" : "",
		 g_cpu.avx512 ? " avx512" : "", g_cpu.avx512vnni ? " avx512vnni" : "");
#elif defined(__aarch64__)
	snprintf(g_desc, sizeof(g_desc), "aarch64%s%s%s", g_cpu.neon ? " neon" : "",
		 g_cpu.dotprod ? " dotprod" : "", g_cpu.fp16 ? " fp16" : "");
#else
	snprintf(g_desc, sizeof(g_desc), "generic");
#endif
}

const rb_cpu_features *rb_cpu(void)
{
	pthread_once(&g_once, init_once);
	return &g_cpu;
}

const char *rb_cpu_describe(void)
{
	pthread_once(&g_once, init_once);
	return g_desc;
}
