/* SPDX-License-Identifier: MIT */
/* The system audit, in the order docs/npu-mainline-status.md walks the stack:
 * kernel, device tree, driver and node, power, IOMMU, clock, CPU, memory.
 * Facts cited: docs/npu-mainline-status.md (#kernel-driver, #device-tree), from
 * drivers/accel/rocket, the rockchip,rk3588-rknn-core binding and
 * rk3588-base.dtsi of Linux 6.18. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "npu/npu_device.h"
#include "probe.h"

/* rk3588-base.dtsi (6.18.y): the three cores and their IOMMUs; kernels
 * 6.18.0-6.18.7 name the last two IOMMUs iommu@fdac9000 / iommu@fdad9000. */
static const char *const default_cores[3] = { "npu@fdab0000", "npu@fdac0000", "npu@fdad0000" };
static const char *const default_mmus[3] = { "iommu@fdab9000", "iommu@fdaca000", "iommu@fdada000" };
static const char *const old_mmus[3] = { "iommu@fdab9000", "iommu@fdac9000", "iommu@fdad9000" };
static const char *const core_devs[3] = { "fdab0000.npu", "fdac0000.npu", "fdad0000.npu" };

#define RK3588_NPU_COMPATIBLE "rockchip,rk3588-rknn-core"
#define MAINLINE_BOOT_CLOCK_HZ 200e6 /* assigned-clock-rates, rk3588-base.dtsi */
#define NPU_PEAK_CLOCK_HZ 1e9        /* TRM: 1 GHz, 1024 int8 MAC/cycle/core */

static void audit_kernel(probe *p)
{
	struct utsname u;
	char rel[96] = "";

	if (probe_read(p, "/proc/sys/kernel/osrelease", rel, sizeof(rel)) && p->live &&
	    uname(&u) == 0)
		snprintf(rel, sizeof(rel), "%s", u.release);
	snprintf(p->kernel, sizeof(p->kernel), "%s", rel);
	if (!rel[0]) {
		probe_add(p, "kernel", "release", CHECK_WARN, "unknown", NULL,
			  "no /proc/sys/kernel/osrelease");
		return;
	}
	if (probe_version_cmp(rel, "6.18") < 0)
		probe_add(p, "kernel", "release", CHECK_FAIL, rel, ">= 6.18",
			  "the rocket driver and its uAPI are in Linux 6.18 and later");
	else
		probe_add(p, "kernel", "release", CHECK_OK, rel, ">= 6.18", NULL);
}

/* /proc/device-tree/<node>/status: absent means okay (DT specification). */
static bool node_okay(const probe *p, const char *node, char *status, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), "/proc/device-tree/%s/status", node);
	if (probe_read(p, path, status, len))
		snprintf(status, len, "okay (no status property)");
	return !strncmp(status, "okay", 4);
}

static unsigned list_from_fleet(probe *p, const char *key, const char **out, unsigned max)
{
	fleet_entry *e = p->have_fleet ? fleet_get(&p->fl, key) : NULL;
	unsigned n = 0;

	for (unsigned i = 0; e && i < e->nitems && n < max; i++) {
		const char *s = e->items[i], *slash = strrchr(s, '/');

		out[n++] = slash ? slash + 1 : s;
	}
	return n;
}

static void audit_dt(probe *p)
{
	char compat[512], model[128], status[64], path[256], buf[256];
	const char *cores[3], *mmus[3];
	unsigned ncores = list_from_fleet(p, "npu.dt_nodes", cores, 3), nmmus;
	bool any = false;

	if (!ncores) {
		memcpy(cores, default_cores, sizeof(cores));
		ncores = 3;
	}
	nmmus = list_from_fleet(p, "npu.iommu_nodes", mmus, 3);
	if (!nmmus) {
		memcpy(mmus, default_mmus, sizeof(mmus));
		nmmus = 3;
	}
	if (probe_read(p, "/proc/device-tree/compatible", compat, sizeof(compat))) {
		probe_add(p, "dt", "compatible", CHECK_INFO, "none", NULL,
			  "no /proc/device-tree: this machine has no device tree (not an ARM board)");
		p->state = NPU_ABSENT;
		snprintf(p->state_reason, sizeof(p->state_reason),
			 "this machine has no device tree, so no RK3588 NPU");
		return;
	}
	for (char *c = compat; (c = strchr(c, '\n'));)
		*c++ = ' ';
	probe_add(p, "dt", "compatible", strstr(compat, "rockchip,rk3588") ? CHECK_OK : CHECK_INFO,
		  compat, NULL, strstr(compat, "rockchip,rk3588") ? NULL : "not an RK3588 board");
	if (!probe_read(p, "/proc/device-tree/model", model, sizeof(model)))
		probe_add(p, "dt", "model", CHECK_INFO, model, NULL, NULL);

	p->cores_okay = 0;
	for (unsigned i = 0; i < ncores; i++) {
		snprintf(path, sizeof(path), "/proc/device-tree/%s", cores[i]);
		if (!probe_exists(p, path)) {
			probe_add(p, "dt", cores[i], CHECK_FAIL, "missing", "okay",
				  "no such node in the device tree");
			continue;
		}
		any = true;
		if (node_okay(p, cores[i], status, sizeof(status))) {
			p->cores_okay++;
			probe_add(p, "dt", cores[i], CHECK_OK, status, "okay", NULL);
		} else {
			probe_add(p, "dt", cores[i], CHECK_FAIL, status, "okay",
				  "disabled: kernels before 7.2 need the overlay in kernel/ on the ROCK 5 ITX");
		}
		snprintf(path, sizeof(path), "/proc/device-tree/%s/compatible", cores[i]);
		if (!probe_read(p, path, buf, sizeof(buf)) && !strstr(buf, RK3588_NPU_COMPATIBLE))
			probe_add(p, "dt", cores[i], CHECK_FAIL, buf, RK3588_NPU_COMPATIBLE,
				  "rocket only matches \"" RK3588_NPU_COMPATIBLE "\"");
		/* the assigned NPU clock, readable without root */
		snprintf(path, sizeof(path), "/proc/device-tree/%s/assigned-clock-rates", cores[i]);
		if (i == 0) {
			char full[4096];
			FILE *f;
			unsigned char be[4];

			probe_path(p, full, sizeof(full), "%s", path);
			f = fopen(full, "rb");
			if (f && fread(be, 1, 4, f) == 4) {
				double hz = (double)((uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 |
						     (uint32_t)be[2] << 8 | be[3]);

				p->dt_clock_hz = hz;
			}
			if (f)
				fclose(f);
		}
	}
	for (unsigned i = 0; i < nmmus && any; i++) {
		const char *name = mmus[i];

		snprintf(path, sizeof(path), "/proc/device-tree/%s", name);
		if (!probe_exists(p, path) && i < 3 && !strcmp(name, default_mmus[i])) {
			snprintf(path, sizeof(path), "/proc/device-tree/%s", old_mmus[i]);
			if (probe_exists(p, path))
				name = old_mmus[i]; /* 6.18.0-6.18.7 node name */
		}
		snprintf(path, sizeof(path), "/proc/device-tree/%s", name);
		if (!probe_exists(p, path))
			probe_add(p, "dt", mmus[i], CHECK_FAIL, "missing", "okay", NULL);
		else if (node_okay(p, name, status, sizeof(status)))
			probe_add(p, "dt", name, CHECK_OK, status, "okay",
				  name != mmus[i] ? "old node name (fixed in 6.18.8)" : NULL);
		else
			probe_add(p, "dt", name, CHECK_FAIL, status, "okay",
				  "the NPU core cannot work without its IOMMU");
	}
	if (!any) {
		p->state = NPU_ABSENT;
		snprintf(p->state_reason, sizeof(p->state_reason),
			 "the device tree has no RK3588 NPU nodes (compatible: %.200s)", compat);
	} else if (!p->cores_okay) {
		p->state = NPU_DISABLED;
		snprintf(p->state_reason, sizeof(p->state_reason),
			 "the RK3588 NPU nodes are disabled in the device tree; on kernels before 7.2 "
			 "apply kernel/rk3588-rock-5-itx-npu.dtso (kernel/README.md)");
	} else {
		p->state = NPU_PRESENT; /* refined by the driver audit */
	}
}

/* basename of a symlink target under root, or "" */
static void link_name(const probe *p, const char *path, char *out, size_t len)
{
	char full[4096], target[4096];
	ssize_t n;
	const char *slash;

	probe_path(p, full, sizeof(full), "%s", path);
	n = readlink(full, target, sizeof(target) - 1);
	out[0] = 0;
	if (n <= 0)
		return;
	target[n] = 0;
	slash = strrchr(target, '/');
	slash = slash ? slash + 1 : target;
	n = (ssize_t)strlen(slash);
	if ((size_t)n >= len)
		n = (ssize_t)len - 1;
	memcpy(out, slash, (size_t)n);
	out[n] = 0;
}

static void audit_driver(probe *p)
{
	char path[256], nodes[192] = "", drv[64];
	unsigned bound = 0;
	bool module = probe_exists(p, "/sys/module/rocket");
	bool driver = probe_exists(p, "/sys/bus/platform/drivers/rocket");
	DIR *d;
	char full[4096];

	/* without NPU hardware a missing driver is expected, not a failure */
	enum check_status missing = p->state == NPU_ABSENT ? CHECK_INFO : CHECK_FAIL;

	probe_add(p, "driver", "module", module || driver ? CHECK_OK : missing,
		  module ? "rocket loaded (module)" : driver ? "rocket built in" : "not loaded",
		  "rocket", module || driver ? NULL : "CONFIG_DRM_ACCEL_ROCKET=m, then modprobe rocket");
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/sys/bus/platform/drivers/rocket/%s", core_devs[i]);
		bound += probe_exists(p, path);
	}
	snprintf(path, sizeof(path), "%u of 3 cores", bound);
	probe_add(p, "driver", "bound_cores", bound ? (bound == 3 ? CHECK_OK : CHECK_WARN)
						     : (driver ? CHECK_FAIL : CHECK_SKIP),
		  path, "3 of 3 cores", bound < 3 && driver ?
		  "cores missing from /sys/bus/platform/drivers/rocket (probe failed? see dmesg)" : NULL);

	probe_path(p, full, sizeof(full), "/dev/accel");
	d = opendir(full);
	if (d) {
		struct dirent *e;

		while ((e = readdir(d))) {
			size_t n = strlen(nodes);

			if (strncmp(e->d_name, "accel", 5))
				continue;
			snprintf(nodes + n, sizeof(nodes) - n, "%s/dev/accel/%.16s", n ? " " : "", e->d_name);
			snprintf(path, sizeof(path), "/sys/class/accel/%.64s/device/driver", e->d_name);
			link_name(p, path, drv, sizeof(drv));
			if (!strcmp(drv, "rocket") && !p->accel_node[0])
				snprintf(p->accel_node, sizeof(p->accel_node), "/dev/accel/%.64s", e->d_name);
		}
		closedir(d);
	}
	if (!p->accel_node[0] && strstr(nodes, "/dev/accel/accel"))
		snprintf(p->accel_node, sizeof(p->accel_node), "%.*s", (int)strcspn(nodes, " "), nodes);
	probe_add(p, "driver", "accel_node", p->accel_node[0] ? CHECK_OK : missing,
		  nodes[0] ? nodes : "none", "/dev/accel/accel0", NULL);

	if (p->state != NPU_PRESENT)
		return;
	if (!module && !driver && !bound) {
		p->state = NPU_NO_DRIVER;
		snprintf(p->state_reason, sizeof(p->state_reason),
			 "the NPU is enabled in the device tree but the rocket driver is not loaded "
			 "(CONFIG_DRM_ACCEL_ROCKET=m, modprobe rocket)");
	} else if (!p->accel_node[0]) {
		p->state = NPU_NO_NODE;
		snprintf(p->state_reason, sizeof(p->state_reason),
			 "rocket is loaded but there is no /dev/accel node (did the cores probe? dmesg)");
	}
}

/* A live node: does it answer DRM_IOCTL_VERSION as rocket? */
static void audit_node_live(probe *p)
{
	const char *node = p->accel_node[0] ? p->accel_node
					    : p->have_fleet ? fleet_str(&p->fl, "npu.accel_node") : NULL;
	npu_device *dev;

	if (!p->live)
		return;
	if (npu_device_open(node, &dev) == 0) {
		/* the shim says what it is in the DRM driver description */
		p->simulated = strstr(npu_device_name(dev), "simulator") != NULL;
		probe_add(p, "driver", "drm_driver", CHECK_OK, npu_device_name(dev), "rocket",
			  p->simulated ? "a simulated NPU: the audit above describes the host" : NULL);
		npu_device_close(dev);
		if (p->state != NPU_PRESENT) {
			p->state = NPU_PRESENT;
			snprintf(p->state_reason, sizeof(p->state_reason),
				 "a rocket accel node answers although the system shows no enabled NPU "
				 "(the simulator shim?)");
		}
	} else if (p->state == NPU_PRESENT) {
		probe_add(p, "driver", "drm_driver", CHECK_FAIL, "cannot open", "rocket", "%s",
			  npu_device_error(NULL));
		p->state = NPU_NO_NODE;
		snprintf(p->state_reason, sizeof(p->state_reason), "%s", npu_device_error(NULL));
	}
}

static void audit_power(probe *p)
{
	char full[4096], path[320], name[64], uv[32], state[32], buf[4096];
	DIR *d;
	bool found = false;

	probe_path(p, full, sizeof(full), "/sys/class/regulator");
	d = opendir(full);
	if (d) {
		struct dirent *e;

		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/class/regulator/%s/name", e->d_name);
			if (probe_read(p, path, name, sizeof(name)) || !strstr(name, "npu"))
				continue;
			snprintf(path, sizeof(path), "/sys/class/regulator/%s/microvolts", e->d_name);
			probe_read(p, path, uv, sizeof(uv));
			snprintf(path, sizeof(path), "/sys/class/regulator/%s/state", e->d_name);
			probe_read(p, path, state, sizeof(state));
			snprintf(buf, sizeof(buf), "%s: %s uV, %s", name, uv[0] ? uv : "?",
				 state[0] ? state : "state unknown");
			probe_add(p, "power", name, CHECK_INFO, buf, NULL, NULL);
			found = true;
		}
		closedir(d);
	}
	if (!found)
		probe_add(p, "power", "regulator", p->state >= NPU_NO_DRIVER ? CHECK_WARN : CHECK_SKIP,
			  "no regulator named *npu* in /sys/class/regulator", "vdd_npu_s0", NULL);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/sys/devices/platform/%s/power/runtime_status",
			 core_devs[i]);
		if (!probe_read(p, path, state, sizeof(state)))
			probe_add(p, "power", core_devs[i], CHECK_INFO, state, NULL,
				  "runtime PM (rocket autosuspends 50 ms after the last job)");
	}
	if (!probe_read(p, "/sys/kernel/debug/pm_genpd/pm_genpd_summary", buf, sizeof(buf))) {
		char line[160], out[192] = "";

		for (char *l = buf, *nl; l && *l; l = nl ? nl + 1 : NULL) {
			nl = strchr(l, '\n');
			snprintf(line, sizeof(line), "%.*s", (int)(nl ? nl - l : (long)strlen(l)), l);
			if (strstr(line, "npu") && strlen(out) + strlen(line) + 3 < sizeof(out)) {
				char *s = line, *w = line;

				for (char *r = line; *r; r++) /* collapse the column padding */
					if (*r != ' ' || (w > line && w[-1] != ' '))
						*w++ = *r;
				*w = 0;
				snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
					 out[0] ? "; " : "", s);
			}
		}
		probe_add(p, "power", "domains", CHECK_INFO, out[0] ? out : "no npu domains listed",
			  NULL, NULL);
	} else {
		probe_add(p, "power", "domains", CHECK_SKIP, "not readable", NULL,
			  "pm_genpd_summary is in debugfs (root)");
	}
}

static void audit_iommu(probe *p)
{
	for (unsigned i = 0; i < 3; i++) {
		char path[256], group[32];

		snprintf(path, sizeof(path), "/sys/devices/platform/%s/iommu_group", core_devs[i]);
		link_name(p, path, group, sizeof(group));
		if (group[0])
			probe_add(p, "iommu", core_devs[i], CHECK_OK, group, NULL, "IOMMU group");
		else if (p->state >= NPU_NO_DRIVER)
			probe_add(p, "iommu", core_devs[i], CHECK_WARN, "no IOMMU group", NULL,
				  "the core's IOMMU did not attach (rocket needs it)");
	}
}

/* The NPU core clock: debugfs (root) or devfreq; else the DT's assigned rate. */
static void audit_clock(probe *p)
{
	static const char *const debugfs[] = { "/sys/kernel/debug/clk/scmi_clk_npu/clk_rate",
					       "/sys/kernel/debug/clk/clk_npu/clk_rate" };
	char buf[64], note[320];
	double peak_frac;

	for (unsigned i = 0; i < 2; i++) {
		if (!probe_read(p, debugfs[i], buf, sizeof(buf)) && atof(buf) > 0) {
			p->clock_hz = atof(buf);
			snprintf(p->clock_source, sizeof(p->clock_source), "%s (debugfs; may show the "
				 "cached rate)", debugfs[i]);
			break;
		}
	}
	if (!probe_read(p, "/sys/class/devfreq/fdab0000.npu/cur_freq", buf, sizeof(buf)) &&
	    atof(buf) > 0) {
		p->clock_hz = atof(buf);
		snprintf(p->clock_source, sizeof(p->clock_source), "devfreq fdab0000.npu");
	}
	if (!p->clock_hz && p->dt_clock_hz) {
		/* nothing in mainline changes the assigned rate (no OPP, no devfreq) */
		p->clock_hz = p->dt_clock_hz;
		snprintf(p->clock_source, sizeof(p->clock_source),
			 "device tree assigned-clock-rates (the boot rate; mainline has no NPU devfreq)");
	}
	if (!p->clock_hz) {
		probe_add(p, "clock", "npu_hz", p->state == NPU_ABSENT ? CHECK_SKIP : CHECK_INFO,
			  "not readable", NULL,
			  "clk_rate is in debugfs (root); mainline assigns 200 MHz at boot, a fifth of "
			  "the 1 GHz peak");
		return;
	}
	peak_frac = p->clock_hz / NPU_PEAK_CLOCK_HZ;
	snprintf(buf, sizeof(buf), "%.0f MHz", p->clock_hz / 1e6);
	if (p->clock_hz <= MAINLINE_BOOT_CLOCK_HZ * 1.05) {
		snprintf(note, sizeof(note),
			 "NPU AT %.0f MHz (mainline's boot rate, no devfreq): throughput is capped at "
			 "%.0f%% of the 1 GHz peak, %.2f instead of 2.05 int8 TOPS per core [%s]",
			 p->clock_hz / 1e6, 100 * peak_frac, 2.048 * peak_frac, p->clock_source);
		probe_add(p, "clock", "npu_hz", CHECK_WARN, buf, "1000 MHz", "%s", note);
	} else {
		probe_add(p, "clock", "npu_hz", CHECK_OK, buf, NULL, "%s", p->clock_source);
	}
}

struct cpuinfo_count {
	unsigned a55, a76, other;
};

/* CPU part numbers: 0xd05 Cortex-A55, 0xd0b Cortex-A76 (Arm TRMs, MIDR). */
static bool count_parts(const char *line, void *ctx)
{
	struct cpuinfo_count *c = ctx;
	const char *colon;
	unsigned part;

	if (strncmp(line, "CPU part", 8) || !(colon = strchr(line, ':')))
		return true;
	part = (unsigned)strtoul(colon + 1, NULL, 0);
	if (part == 0xd05)
		c->a55++;
	else if (part == 0xd0b)
		c->a76++;
	else
		c->other++;
	return true;
}

static bool find_memtotal(const char *line, void *ctx)
{
	return sscanf(line, "MemTotal: %ld kB", (long *)ctx) != 1;
}

static void audit_cpu_memory(probe *p)
{
	struct cpuinfo_count c = { 0 };
	char summary[192];
	long kb = 0;

	if (!probe_lines(p, "/proc/cpuinfo", count_parts, &c)) {
		if (c.a55 || c.a76)
			snprintf(summary, sizeof(summary), "%u x cortex-a76 + %u x cortex-a55%s",
				 c.a76, c.a55, c.other ? " + others" : "");
		else
			snprintf(summary, sizeof(summary), "no Cortex-A76/A55 in /proc/cpuinfo");
		probe_add(p, "cpu", "cores", CHECK_INFO, summary, NULL, NULL);
	}
	if (!probe_lines(p, "/proc/meminfo", find_memtotal, &kb) && kb > 0) {
		snprintf(summary, sizeof(summary), "%.1f GiB", (double)kb / (1 << 20));
		probe_add(p, "memory", "total", CHECK_INFO, summary, NULL, NULL);
	}
}

struct config_search {
	char value[8];
	bool found;
};

static bool find_rocket_config(const char *line, void *ctx)
{
	struct config_search *s = ctx;
	const char *key = "CONFIG_DRM_ACCEL_ROCKET=";

	if (strncmp(line, key, strlen(key)))
		return true;
	snprintf(s->value, sizeof(s->value), "%s", line + strlen(key));
	s->found = true;
	return false;
}

static void audit_config(probe *p)
{
	char path[160];
	struct config_search s = { .found = false };

	snprintf(path, sizeof(path), "/boot/config-%s", p->kernel);
	if (!p->kernel[0] || probe_lines(p, path, find_rocket_config, &s)) {
		probe_add(p, "kernel", "config", CHECK_SKIP, "not read", NULL, "%s",
			  probe_exists(p, "/proc/config.gz") ?
			  "/proc/config.gz is compressed and /boot/config-<release> is not there"
			  : "no /boot/config-<release>");
		return;
	}
	if (s.found)
		probe_add(p, "kernel", "CONFIG_DRM_ACCEL_ROCKET", CHECK_OK, s.value, "m or y", "%s",
			  path);
	else
		probe_add(p, "kernel", "CONFIG_DRM_ACCEL_ROCKET", CHECK_FAIL, "not set", "m or y",
			  "%s", path);
}

void probe_audit(probe *p)
{
	p->state = NPU_ABSENT;
	audit_kernel(p);
	audit_config(p);
	audit_dt(p);
	audit_driver(p);
	audit_node_live(p);
	audit_power(p);
	audit_iommu(p);
	audit_clock(p);
	audit_cpu_memory(p);
}
