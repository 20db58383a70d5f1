/* SPDX-License-Identifier: MIT */
/* fleet/<machine>.yaml in the YAML subset of fleet/README.md: block
 * mappings (2-space indentation), block and flow sequences of scalars,
 * plain or double-quoted scalars, # comments. Anything else is an error
 * naming the line. Keys are flattened to dotted paths ("npu.dt_nodes"). */
#ifndef NPU_PROBE_FLEET_H
#define NPU_PROBE_FLEET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fleet_entry {
	char *key;       /* dotted path */
	char *value;     /* scalar value, or NULL for a sequence */
	char **items;    /* sequence items */
	unsigned nitems;
	unsigned line;
	bool used;       /* looked at by a check */
} fleet_entry;

typedef struct fleet {
	fleet_entry *e;  /* leaves only, in file order */
	unsigned n;
} fleet;

/* 0, or -EINVAL with "line N: ..." in err. */
int fleet_parse(const char *text, size_t len, fleet *f, char *err, size_t err_len);
int fleet_load(const char *path, fleet *f, char *err, size_t err_len);
void fleet_free(fleet *f);
/* The leaf at `key` (marked used), or NULL. */
fleet_entry *fleet_get(fleet *f, const char *key);
const char *fleet_str(fleet *f, const char *key); /* scalar or NULL */

#endif
