/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"

probe_check *probe_add(probe *p, const char *section, const char *key, enum check_status st,
		       const char *value, const char *expected, const char *note_fmt, ...)
{
	probe_check *c;
	va_list ap;

	if (p->nchecks == PROBE_MAX_CHECKS)
		return NULL;
	c = &p->checks[p->nchecks++];
	memset(c, 0, sizeof(*c));
	snprintf(c->section, sizeof(c->section), "%s", section);
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->status = st;
	snprintf(c->value, sizeof(c->value), "%s", value ? value : "");
	snprintf(c->expected, sizeof(c->expected), "%s", expected ? expected : "");
	if (note_fmt) {
		va_start(ap, note_fmt);
		vsnprintf(c->note, sizeof(c->note), note_fmt, ap);
		va_end(ap);
	}
	return c;
}

void probe_path(const probe *p, char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(out, len, "%s", p->root);

	if (n < 0 || (size_t)n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(out + n, len - (size_t)n, fmt, ap);
	va_end(ap);
}

int probe_read(const probe *p, const char *path, char *buf, size_t len)
{
	char full[4096];
	int fd;
	ssize_t n;

	probe_path(p, full, sizeof(full), "%s", path);
	if (len)
		buf[0] = 0;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len ? len - 1 : 0);
	close(fd);
	if (n < 0)
		return -errno;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 0)
			buf[i] = '\n';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return 0;
}

bool probe_exists(const probe *p, const char *path)
{
	char full[4096];

	probe_path(p, full, sizeof(full), "%s", path);
	return access(full, F_OK) == 0;
}

int probe_lines(const probe *p, const char *path, bool (*fn)(const char *line, void *ctx),
		void *ctx)
{
	char full[4096];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	probe_path(p, full, sizeof(full), "%s", path);
	f = fopen(full, "r");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n && line[n - 1] == '\n')
			line[n - 1] = 0;
		if (!fn(line, ctx))
			break;
	}
	free(line);
	fclose(f);
	return 0;
}

int probe_version_cmp(const char *a, const char *b)
{
	for (int i = 0; i < 4; i++) {
		long x = 0, y = 0;
		char *end;

		if (*a && *a >= '0' && *a <= '9') {
			x = strtol(a, &end, 10);
			a = *end == '.' ? end + 1 : "";
		} else {
			a = "";
		}
		if (*b && *b >= '0' && *b <= '9') {
			y = strtol(b, &end, 10);
			b = *end == '.' ? end + 1 : "";
		} else {
			b = "";
		}
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

const char *probe_status_name(enum check_status s)
{
	static const char *const names[] = { "ok", "info", "warn", "fail", "skip" };

	return names[s];
}

const char *probe_state_name(enum npu_state s)
{
	static const char *const names[] = { "absent", "disabled", "no-driver", "no-node",
					     "present" };

	return names[s];
}
