/* SPDX-License-Identifier: MIT */
#include "fleet.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 8
#define MAX_LINE 1024

struct parser {
	fleet *f;
	char *path[MAX_DEPTH];       /* key at each depth */
	bool open[MAX_DEPTH];        /* that key has no value yet (mapping/sequence) */
	unsigned depth;              /* number of keys on the stack */
	fleet_entry *seq;            /* block sequence being filled */
	unsigned seq_indent;
	unsigned line;
	char *err;
	size_t err_len;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err_len)
		return -EINVAL;
	n = snprintf(p->err, p->err_len, "line %u: ", p->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->err_len)
		vsnprintf(p->err + n, p->err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Remove a trailing comment (a # at the start or after a blank, outside
 * double quotes) and trailing blanks. */
static int strip_comment(struct parser *p, char *s)
{
	bool in_str = false;

	for (char *c = s; *c; c++) {
		if (in_str) {
			if (*c == '\\' && c[1])
				c++;
			else if (*c == '"')
				in_str = false;
		} else if (*c == '"') {
			in_str = true;
		} else if (*c == '#' && (c == s || c[-1] == ' ')) {
			*c = 0;
			break;
		}
	}
	if (in_str)
		return fail(p, "unterminated double-quoted string");
	for (size_t n = strlen(s); n && s[n - 1] == ' '; n--)
		s[n - 1] = 0;
	return 0;
}

/* One scalar (trimmed): double-quoted with \" and \\ escapes, or plain. */
static int parse_scalar(struct parser *p, char *t, char **out)
{
	size_t n;

	while (*t == ' ')
		t++;
	n = strlen(t);
	while (n && t[n - 1] == ' ')
		t[--n] = 0;
	if (!n)
		return fail(p, "empty value");
	if (strchr("{&*!|>'%@`[]", t[0]))
		return fail(p, "'%s' is outside the fleet YAML subset", t);
	if (t[0] == '"') {
		char *o = malloc(n), *w = o;

		if (!o)
			return -ENOMEM;
		if (n < 2 || t[n - 1] != '"') {
			free(o);
			return fail(p, "bad double-quoted scalar %s", t);
		}
		for (size_t i = 1; i + 1 < n; i++) {
			if (t[i] == '\\' && i + 2 < n && (t[i + 1] == '"' || t[i + 1] == '\\'))
				i++;
			else if (t[i] == '"') {
				free(o);
				return fail(p, "stray quote in %s", t);
			}
			*w++ = t[i];
		}
		*w = 0;
		*out = o;
		return 0;
	}
	if (strstr(t, ": "))
		return fail(p, "plain scalar contains ': ' (quote it): %s", t);
	*out = strdup(t);
	return *out ? 0 : -ENOMEM;
}

static int add_item(struct parser *p, fleet_entry *e, char *text)
{
	char **items = realloc(e->items, (e->nitems + 1) * sizeof(*items));
	int ret;

	if (!items)
		return -ENOMEM;
	e->items = items;
	ret = parse_scalar(p, text, &e->items[e->nitems]);
	if (!ret)
		e->nitems++;
	return ret;
}

static int parse_flow(struct parser *p, fleet_entry *e, char *t)
{
	size_t n = strlen(t);
	char *inner, *tok, *save;

	if (t[n - 1] != ']')
		return fail(p, "unterminated flow sequence");
	t[n - 1] = 0;
	inner = t + 1;
	if (strpbrk(inner, "[]{}"))
		return fail(p, "nested flow collections are outside the subset");
	for (tok = strtok_r(inner, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int ret = add_item(p, e, tok);

		if (ret)
			return ret;
	}
	return 0;
}

static char *join_path(struct parser *p, const char *key)
{
	size_t len = strlen(key) + 1;
	char *s;

	for (unsigned i = 0; i < p->depth; i++)
		len += strlen(p->path[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = 0;
	for (unsigned i = 0; i < p->depth; i++) {
		strcat(s, p->path[i]);
		strcat(s, ".");
	}
	strcat(s, key);
	return s;
}

static fleet_entry *new_entry(struct parser *p, const char *key)
{
	fleet *f = p->f;
	fleet_entry *e = realloc(f->e, (f->n + 1) * sizeof(*e));
	char *path;

	if (!e)
		return NULL;
	f->e = e;
	path = join_path(p, key);
	if (!path)
		return NULL;
	e = &f->e[f->n++];
	memset(e, 0, sizeof(*e));
	e->key = path;
	e->line = p->line;
	return e;
}

static bool has_key_prefix(const fleet *f, const char *path)
{
	size_t n = strlen(path);

	for (unsigned i = 0; i < f->n; i++)
		if (!strcmp(f->e[i].key, path) ||
		    (!strncmp(f->e[i].key, path, n) && f->e[i].key[n] == '.'))
			return true;
	return false;
}

/* Close the open keys at depth >= d; each must have received a value (a
 * nested mapping or a sequence). */
static int pop_to(struct parser *p, unsigned d)
{
	while (p->depth > d) {
		char *path;
		bool ok;

		p->depth--;
		path = join_path(p, p->path[p->depth]);
		ok = path && has_key_prefix(p->f, path);
		free(path);
		if (!ok)
			return fail(p, "key '%s' has no value", p->path[p->depth]);
		free(p->path[p->depth]);
		p->path[p->depth] = NULL;
	}
	return 0;
}

static int parse_item(struct parser *p, unsigned indent, char *rest)
{
	if (!p->seq) {
		if (!p->depth || !p->open[p->depth - 1])
			return fail(p, "sequence item without a key above it");
		if (indent + 2 < p->depth * 2)
			return fail(p, "sequence item indented less than its key");
		p->depth--;
		p->seq = new_entry(p, p->path[p->depth]);
		p->depth++;
		if (!p->seq)
			return -ENOMEM;
		p->open[p->depth - 1] = false; /* a sequence: no child keys */
		p->seq_indent = indent;
	} else if (indent != p->seq_indent) {
		return fail(p, "sequence items must share one indentation");
	}
	if (rest[0] != ' ' && rest[0])
		return fail(p, "expected a blank after '-'");
	if (strstr(rest, ": ") && rest[strspn(rest, " ")] != '"')
		return fail(p, "mappings inside sequences are outside the subset");
	return add_item(p, p->seq, rest);
}

static int parse_key(struct parser *p, unsigned indent, char *s)
{
	char *colon = strchr(s, ':'), *value;
	unsigned depth = indent / 2;
	fleet_entry *e;
	int ret;

	if (indent % 2)
		return fail(p, "indentation must be a multiple of 2 spaces");
	if (!colon || (colon[1] && colon[1] != ' '))
		return fail(p, "expected 'key: value'");
	*colon = 0;
	value = colon + 1;
	if (!*s)
		return fail(p, "empty key");
	for (char *c = s; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '_') || (c == s && isdigit((unsigned char)*c)))
			return fail(p, "bad key '%s'", s);
	p->seq = NULL;
	if (depth > p->depth || (depth == p->depth && depth && !p->open[depth - 1]))
		return fail(p, "unexpected indentation");
	ret = pop_to(p, depth);
	if (ret)
		return ret;
	if (depth >= MAX_DEPTH - 1)
		return fail(p, "nested too deeply");
	{
		char *path = join_path(p, s);
		bool dup = path && has_key_prefix(p->f, path);

		free(path);
		if (dup)
			return fail(p, "duplicate key '%s'", s);
	}
	while (*value == ' ')
		value++;
	if (!*value) { /* a mapping or a block sequence follows */
		p->path[p->depth] = strdup(s);
		if (!p->path[p->depth])
			return -ENOMEM;
		p->open[p->depth++] = true;
		return 0;
	}
	e = new_entry(p, s);
	if (!e)
		return -ENOMEM;
	if (value[0] == '[')
		return parse_flow(p, e, value);
	return parse_scalar(p, value, &e->value);
}

static int parse_line(struct parser *p, char *s)
{
	unsigned indent = 0;
	int ret;

	if (strchr(s, '\t'))
		return fail(p, "tabs are not allowed");
	ret = strip_comment(p, s);
	if (ret)
		return ret;
	while (s[indent] == ' ')
		indent++;
	if (!s[indent])
		return 0;
	if (s[indent] == '-' && (s[indent + 1] == ' ' || !s[indent + 1]))
		return parse_item(p, indent, s + indent + 1);
	if (p->seq && indent > p->seq_indent)
		return fail(p, "multi-line scalars are outside the subset");
	if (!strncmp(s + indent, "---", 3) || !strncmp(s + indent, "...", 3))
		return fail(p, "document markers are outside the subset");
	return parse_key(p, indent, s + indent);
}

int fleet_parse(const char *text, size_t len, fleet *f, char *err, size_t err_len)
{
	struct parser p = { .f = f, .err = err, .err_len = err_len };
	size_t at = 0;
	int ret = 0;

	memset(f, 0, sizeof(*f));
	while (at < len && !ret) {
		char line[MAX_LINE + 1];
		size_t n = 0;

		p.line++;
		while (at < len && text[at] != '\n') {
			if (n == MAX_LINE) {
				ret = fail(&p, "line longer than %d bytes", MAX_LINE);
				break;
			}
			if (text[at] == 0 || text[at] == '\r') {
				ret = fail(&p, "NUL or CR character");
				break;
			}
			line[n++] = text[at++];
		}
		at++;
		line[n] = 0;
		if (!ret)
			ret = parse_line(&p, line);
	}
	if (!ret) {
		p.line++;
		ret = pop_to(&p, 0);
	}
	for (unsigned i = 0; i < MAX_DEPTH; i++)
		free(p.path[i]);
	if (!ret && !fleet_get(f, "machine"))
		ret = (snprintf(err, err_len, "the required key 'machine' is missing"), -EINVAL);
	if (ret)
		fleet_free(f);
	if (ret == -ENOMEM && err_len)
		snprintf(err, err_len, "out of memory");
	return ret;
}

int fleet_load(const char *path, fleet *f, char *err, size_t err_len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;
	int ret;

	memset(f, 0, sizeof(*f));
	if (!fp) {
		ret = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || n > (1 << 20) ||
	    fseek(fp, 0, SEEK_SET)) {
		fclose(fp);
		snprintf(err, err_len, "%s: not a readable file of at most 1 MiB", path);
		return -EINVAL;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		fclose(fp);
		snprintf(err, err_len, "%s: read error", path);
		return -EIO;
	}
	fclose(fp);
	{
		char inner[256];

		ret = fleet_parse(buf, (size_t)n, f, inner, sizeof(inner));
		if (ret)
			snprintf(err, err_len, "%s: %s", path, inner);
	}
	free(buf);
	return ret;
}

void fleet_free(fleet *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		free(f->e[i].key);
		free(f->e[i].value);
		for (unsigned k = 0; k < f->e[i].nitems; k++)
			free(f->e[i].items[k]);
		free(f->e[i].items);
	}
	free(f->e);
	memset(f, 0, sizeof(*f));
}

fleet_entry *fleet_get(fleet *f, const char *key)
{
	for (unsigned i = 0; i < f->n; i++) {
		if (!strcmp(f->e[i].key, key)) {
			f->e[i].used = true;
			return &f->e[i];
		}
	}
	return NULL;
}

const char *fleet_str(fleet *f, const char *key)
{
	fleet_entry *e = fleet_get(f, key);

	return e ? e->value : NULL;
}
