/* SPDX-License-Identifier: MIT */
/* Compare fleet/<machine>.yaml (schema: fleet/README.md) with the system.
 * NPU and kernel keys that disagree are failures; board-description keys
 * (CPU clocks, memory size) are warnings; keys that Linux cannot show are
 * listed as not checked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#define MAX_CPUS 64

struct cpu_parts {
	int current;
	unsigned part[MAX_CPUS];
};

static bool record_part(const char *line, void *ctx)
{
	struct cpu_parts *c = ctx;
	const char *colon = strchr(line, ':');

	if (!colon)
		return true;
	if (!strncmp(line, "processor", 9))
		c->current = atoi(colon + 1);
	else if (!strncmp(line, "CPU part", 8) && c->current >= 0 && c->current < MAX_CPUS)
		c->part[c->current] = (unsigned)strtoul(colon + 1, NULL, 0);
	return true;
}

static const char *part_name(unsigned part)
{
	return part == 0xd05 ? "cortex-a55" : part == 0xd0b ? "cortex-a76" : "other";
}

static void check_cluster(probe *p, const char *cluster, const struct cpu_parts *parts)
{
	char key[48], expected[96], seen[192] = "";
	fleet_entry *cpus;
	const char *core, *mhz;
	bool ok = true;
	long max_khz = 0;

	snprintf(key, sizeof(key), "cpu.%s.cpus", cluster);
	cpus = fleet_get(&p->fl, key);
	snprintf(key, sizeof(key), "cpu.%s.core", cluster);
	core = fleet_str(&p->fl, key);
	snprintf(key, sizeof(key), "cpu.%s.max_mhz", cluster);
	mhz = fleet_str(&p->fl, key);
	if (!cpus)
		return;
	for (unsigned i = 0; i < cpus->nitems; i++) {
		int cpu = atoi(cpus->items[i]);
		char path[96], buf[32];

		if (cpu < 0 || cpu >= MAX_CPUS)
			continue;
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%scpu%d=%s",
			 i ? " " : "", cpu, part_name(parts->part[cpu]));
		if (core && strcmp(part_name(parts->part[cpu]), core))
			ok = false;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq",
			 cpu);
		if (!probe_read(p, path, buf, sizeof(buf)) && atol(buf) > max_khz)
			max_khz = atol(buf);
	}
	snprintf(key, sizeof(key), "cpu.%s", cluster);
	snprintf(expected, sizeof(expected), "%s", core ? core : "");
	probe_add(p, "fleet", key, ok ? CHECK_OK : CHECK_WARN, seen, expected, NULL);
	if (mhz) {
		char v[32];

		snprintf(key, sizeof(key), "cpu.%s.max_mhz", cluster);
		if (!max_khz) {
			probe_add(p, "fleet", key, CHECK_SKIP, "no cpufreq", mhz, NULL);
		} else {
			snprintf(v, sizeof(v), "%ld", max_khz / 1000);
			probe_add(p, "fleet", key, max_khz / 1000 == atol(mhz) ? CHECK_OK : CHECK_WARN, v,
				  mhz, NULL);
		}
	}
}

static bool find_memtotal(const char *line, void *ctx)
{
	return sscanf(line, "MemTotal: %ld kB", (long *)ctx) != 1;
}

static void check_board(probe *p)
{
	char compat[512] = "", model[128], first[128];
	const char *v;
	bool have_dt = !probe_read(p, "/proc/device-tree/compatible", compat, sizeof(compat));

	snprintf(first, sizeof(first), "%.*s", (int)strcspn(compat, "\n"), compat);
	if ((v = fleet_str(&p->fl, "dt_model"))) {
		if (probe_read(p, "/proc/device-tree/model", model, sizeof(model)))
			probe_add(p, "fleet", "dt_model", CHECK_FAIL, "no /proc/device-tree/model", v, NULL);
		else
			probe_add(p, "fleet", "dt_model", strcmp(model, v) ? CHECK_WARN : CHECK_OK, model,
				  v, NULL);
	}
	if ((v = fleet_str(&p->fl, "soc"))) {
		char want[64];

		snprintf(want, sizeof(want), "rockchip,%s", v);
		probe_add(p, "fleet", "soc", have_dt && strstr(compat, want) ? CHECK_OK : CHECK_FAIL,
			  have_dt ? first : "no device tree", want, "/proc/device-tree/compatible");
	}
	if ((v = fleet_str(&p->fl, "dt_compatible")))
		probe_add(p, "fleet", "dt_compatible", strcmp(first, v) ? CHECK_WARN : CHECK_OK,
			  have_dt ? first : "no device tree", v, "first compatible entry");
	{
		struct cpu_parts parts = { .current = -1 };

		probe_lines(p, "/proc/cpuinfo", record_part, &parts);
		check_cluster(p, "big", &parts);
		check_cluster(p, "little", &parts);
	}
	if ((v = fleet_str(&p->fl, "memory.total_gib"))) {
		long kb = 0;
		char seen[32];
		double gib, want = atof(v);

		probe_lines(p, "/proc/meminfo", find_memtotal, &kb);
		gib = (double)kb / (1 << 20);
		snprintf(seen, sizeof(seen), "%.1f", gib);
		/* MemTotal excludes firmware/kernel reservations: +-10 % */
		probe_add(p, "fleet", "memory.total_gib",
			  kb && gib > want * 0.9 && gib < want * 1.1 ? CHECK_OK : CHECK_WARN, seen, v,
			  "MemTotal, +-10 %%");
	}
}

/* Every CONFIG_X=y|m line of the fragment must be set (y or m) in the
 * running kernel's /boot/config-<release>. */
struct fragment_check {
	const char *config;   /* the kernel config text */
	char missing[160];
	unsigned lines, ok;
	bool rocket_missing;
};

static bool check_fragment_line(const char *line, void *ctx)
{
	struct fragment_check *fc = ctx;
	char name[80], want[100];
	const char *eq = strchr(line, '=');

	if (strncmp(line, "CONFIG_", 7) || !eq || (size_t)(eq - line) >= sizeof(name))
		return true;
	snprintf(name, sizeof(name), "%.*s", (int)(eq - line), line);
	fc->lines++;
	snprintf(want, sizeof(want), "\n%s=", name);
	{
		const char *hit = strstr(fc->config, want);

		if (hit && (hit[strlen(want)] == 'y' || hit[strlen(want)] == 'm')) {
			fc->ok++;
			return true;
		}
	}
	if (!strcmp(name, "CONFIG_DRM_ACCEL_ROCKET"))
		fc->rocket_missing = true;
	if (strlen(fc->missing) + strlen(name) + 2 < sizeof(fc->missing))
		snprintf(fc->missing + strlen(fc->missing), sizeof(fc->missing) - strlen(fc->missing),
			 "%s%s", fc->missing[0] ? " " : "", name);
	return true;
}

static char *read_all(const probe *p, const char *path)
{
	char full[4096];
	FILE *f;
	char *buf = NULL;
	size_t len = 1, cap = 0, n;

	probe_path(p, full, sizeof(full), "%s", path);
	f = fopen(full, "r");
	if (!f)
		return NULL;
	do {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		buf[0] = '\n'; /* so that "\nCONFIG_X=" also finds the first line */
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	fclose(f);
	buf[len] = 0;
	return buf;
}

static void check_kernel(probe *p)
{
	const char *v;

	if ((v = fleet_str(&p->fl, "kernel.min_version")))
		probe_add(p, "fleet", "kernel.min_version",
			  p->kernel[0] && probe_version_cmp(p->kernel, v) >= 0 ? CHECK_OK : CHECK_FAIL,
			  p->kernel[0] ? p->kernel : "unknown", v, NULL);
	if ((v = fleet_str(&p->fl, "kernel.recommended_min")))
		probe_add(p, "fleet", "kernel.recommended_min",
			  p->kernel[0] && probe_version_cmp(p->kernel, v) >= 0 ? CHECK_OK : CHECK_WARN,
			  p->kernel[0] ? p->kernel : "unknown", v,
			  "older kernels lack known NPU fixes (docs/npu-mainline-status.md)");
	if ((v = fleet_str(&p->fl, "kernel.board_npu_enabled_from")) && p->kernel[0])
		probe_add(p, "fleet", "kernel.board_npu_enabled_from", CHECK_INFO, p->kernel, v,
			  probe_version_cmp(p->kernel, v) < 0 ?
			  "below it the board DT leaves the NPU disabled: the overlay is needed" :
			  "the board DT enables the NPU itself");
	if ((v = fleet_str(&p->fl, "kernel.config_fragment")) && p->fleet_path) {
		char frag[4096], cfgpath[160], *config;
		const char *slash = strrchr(p->fleet_path, '/');
		struct fragment_check fc = { 0 };
		probe repo = { .root = "" };

		/* the fragment path is relative to the repository: fleet/.. */
		snprintf(frag, sizeof(frag), "%.*s/../%s", slash ? (int)(slash - p->fleet_path) : 1,
			 slash ? p->fleet_path : ".", v);
		snprintf(cfgpath, sizeof(cfgpath), "/boot/config-%s", p->kernel);
		config = read_all(p, cfgpath);
		if (!config) {
			probe_add(p, "fleet", "kernel.config_fragment", CHECK_SKIP, "no kernel config",
				  v, "%s is not readable", cfgpath);
			return;
		}
		fc.config = config;
		if (probe_lines(&repo, frag, check_fragment_line, &fc)) {
			probe_add(p, "fleet", "kernel.config_fragment", CHECK_SKIP, "fragment not found",
				  v, "%s", frag);
		} else {
			char seen[48];

			snprintf(seen, sizeof(seen), "%u of %u set", fc.ok, fc.lines);
			probe_add(p, "fleet", "kernel.config_fragment",
				  fc.ok == fc.lines ? CHECK_OK : fc.rocket_missing ? CHECK_FAIL : CHECK_WARN,
				  seen, v, "%s%s", fc.missing[0] ? "missing: " : "", fc.missing);
		}
		free(config);
	}
}

static void check_npu(probe *p)
{
	const char *v;
	char buf[160];

	if ((v = fleet_str(&p->fl, "npu.module"))) {
		snprintf(buf, sizeof(buf), "/sys/module/%s", v);
		probe_add(p, "fleet", "npu.module", probe_exists(p, buf) ? CHECK_OK : CHECK_FAIL,
			  probe_exists(p, buf) ? "loaded" : "not loaded", v, "%s", buf);
	}
	if ((v = fleet_str(&p->fl, "npu.accel_node")))
		probe_add(p, "fleet", "npu.accel_node",
			  !strcmp(p->accel_node, v) ? CHECK_OK : CHECK_FAIL,
			  p->accel_node[0] ? p->accel_node : "none", v, NULL);
	if ((v = fleet_str(&p->fl, "npu.driver"))) {
		const probe_check *seen = NULL;

		for (unsigned i = 0; i < p->nchecks; i++)
			if (!strcmp(p->checks[i].key, "drm_driver"))
				seen = &p->checks[i];
		if (seen)
			probe_add(p, "fleet", "npu.driver",
				  seen->status == CHECK_OK && strstr(seen->value, v) ? CHECK_OK : CHECK_FAIL,
				  seen->value, v, NULL);
		else
			probe_add(p, "fleet", "npu.driver", CHECK_SKIP, "not opened", v,
				  "the node is only opened on a live system");
	}
	if ((v = fleet_str(&p->fl, "npu.cores"))) {
		snprintf(buf, sizeof(buf), "%u", p->cores_okay);
		probe_add(p, "fleet", "npu.cores", (unsigned)atoi(v) == p->cores_okay ? CHECK_OK
										 : CHECK_FAIL,
			  buf, v, "NPU core nodes with status okay");
	}
	/* dt_nodes, iommu_nodes and compatible were used by the device-tree audit */
	fleet_get(&p->fl, "npu.dt_nodes");
	fleet_get(&p->fl, "npu.iommu_nodes");
	fleet_get(&p->fl, "npu.compatible");
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "npu.supply" : "npu.power_domain";

		if ((v = fleet_str(&p->fl, key))) {
			snprintf(buf, sizeof(buf), "/proc/device-tree/__symbols__/%s", v);
			if (!probe_exists(p, "/proc/device-tree/__symbols__"))
				probe_add(p, "fleet", key, CHECK_SKIP, "no __symbols__", v,
					  "the DTB was built without symbols");
			else
				probe_add(p, "fleet", key, probe_exists(p, buf) ? CHECK_OK : CHECK_FAIL,
					  probe_exists(p, buf) ? "present" : "missing", v, "%s", buf);
		}
	}
	if ((v = fleet_str(&p->fl, "npu.clock_hz_boot"))) {
		snprintf(buf, sizeof(buf), "%.0f", p->dt_clock_hz);
		if (!p->dt_clock_hz)
			probe_add(p, "fleet", "npu.clock_hz_boot", CHECK_SKIP, "no assigned-clock-rates",
				  v, NULL);
		else
			probe_add(p, "fleet", "npu.clock_hz_boot",
				  p->dt_clock_hz == atof(v) ? CHECK_OK : CHECK_WARN, buf, v,
				  "assigned-clock-rates in the device tree");
	}
	if ((v = fleet_str(&p->fl, "npu.clock_hz_expected"))) {
		if (!p->clock_hz) {
			probe_add(p, "fleet", "npu.clock_hz_expected", CHECK_SKIP, "not readable", v, NULL);
		} else {
			snprintf(buf, sizeof(buf), "%.0f", p->clock_hz);
			probe_add(p, "fleet", "npu.clock_hz_expected",
				  p->clock_hz >= atof(v) * 0.95 ? CHECK_OK : CHECK_WARN, buf, v, "%s",
				  p->clock_source);
		}
	}
}

void probe_check_fleet(probe *p)
{
	char list[320] = "";

	if (!p->have_fleet)
		return;
	snprintf(p->machine, sizeof(p->machine), "%s", fleet_str(&p->fl, "machine"));
	probe_add(p, "fleet", "machine", CHECK_INFO, p->machine, NULL, "%s", p->fleet_path);
	check_board(p);
	check_kernel(p);
	check_npu(p);
	/* informative keys: nothing on a live system shows them */
	for (unsigned i = 0; i < p->fl.n; i++) {
		const fleet_entry *e = &p->fl.e[i];

		if (e->used)
			continue;
		if (strlen(list) + strlen(e->key) + 2 < sizeof(list))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 list[0] ? " " : "", e->key);
	}
	if (list[0])
		probe_add(p, "fleet", "not_checked", CHECK_SKIP, list, NULL,
			  "informative keys, or keys this npu-probe does not know");
}
