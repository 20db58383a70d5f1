/* SPDX-License-Identifier: MIT */
/* npu-dis: disassembler and field-level differ for RK3588 NPU regcmd dumps.
 * The command line lives here (not in main) so tests can run it in-process. */
#include "npu_dis_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "npu/npu_regcmd.h"
#ifdef NPU_DIS_HAVE_CAPTURE
#include "npu/npu_capture.h"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: npu-dis [options] FILE          disassemble a regcmd dump\n"
		"       npu-dis [options] --diff A B    compare the register state of two dumps\n"
		"\n"
		"FILE is a raw little-endian file of 64-bit regcmd entries, or text holding\n"
		"one or more 64-bit words (16 hex digits, \"0x\" optional) per line; '#' and\n"
		"'//' start comments; \"-\" reads standard input.\n"
		"\n"
		"options:\n"
		"  -f, --format FMT    raw, hex or auto (default: auto, text if printable)\n"
		"  --offset BYTES      skip BYTES of the file first (a section of a larger file,\n"
		"                      e.g. the regcmd of a capture)\n"
		"  --count N           read at most N entries\n"
		"  --capture           the input is a job capture (docs/npu-capture-format.md):\n"
		"                      take every task's regcmd from its buffer's contents\n"
		"                      before the job ran\n"
		"  --no-fields         one line per entry, without the field breakdown\n"
		"  --no-raw            omit the raw 64-bit word\n"
		"  --ignore-addr       --diff: skip address fields (streams at other IOVAs)\n"
		"  --strict            exit 1 when an entry has issues (unknown register,\n"
		"                      header/offset mismatch, reserved bits, ...)\n"
		"  -h, --help          this text\n"
		"\n"
		"Tasks end at op-enable (0x0081) entries; --diff compares the last value each\n"
		"task writes to every register, field by field (write order does not matter).\n"
		"exit status: 0 ok, 1 issues (--strict) or differences (--diff), 2 bad usage\n"
		"or unreadable input.\n");
}

typedef struct dis_opts {
	int format; /* -1 auto, 0 raw, 1 text */
	int capture;
	unsigned long offset, count;
	unsigned dis_flags, diff_flags;
	int strict;
} dis_opts;

static int read_file(const char *path, unsigned char **data, size_t *len, FILE *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(err, "npu-dis: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			unsigned char *p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
		const size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	const int bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!buf || bad) {
		fprintf(err, "npu-dis: cannot read %s%s\n", path, buf ? "" : ": out of memory");
		free(buf);
		return -1;
	}
	*data = buf;
	*len = n;
	return 0;
}

#ifdef NPU_DIS_HAVE_CAPTURE
/* The regcmd entries of every task of a capture, concatenated in task order. */
static long load_capture(const char *path, uint64_t **entries, FILE *err)
{
	npu_capture cap;
	char msg[256];
	if (npu_capture_read(path, &cap, msg, sizeof(msg))) {
		fprintf(err, "npu-dis: %s\n", msg);
		return -1;
	}
	size_t total = 0;
	for (uint32_t t = 0; t < cap.task_count; t++)
		total += cap.tasks[t].regcmd_count;
	uint64_t *v = malloc((total ? total : 1) * sizeof(*v));
	long n = v ? 0 : -1;
	for (uint32_t t = 0; t < cap.task_count && n >= 0; t++) {
		const uint64_t at = cap.tasks[t].regcmd, len = (uint64_t)cap.tasks[t].regcmd_count * 8;
		const npu_capture_bo *bo = NULL;
		for (uint32_t i = 0; i < cap.bo_count; i++)
			if (at >= cap.bos[i].iova && at + len <= cap.bos[i].iova + cap.bos[i].size &&
			    cap.bos[i].before)
				bo = &cap.bos[i];
		if (!bo) {
			fprintf(err, "npu-dis: %s: task %u: regcmd at 0x%08llx (%u entries) is not in a "
				"captured buffer\n", path, t, (unsigned long long)at,
				cap.tasks[t].regcmd_count);
			n = -1;
			break;
		}
		for (uint32_t e = 0; e < cap.tasks[t].regcmd_count; e++) {
			const uint8_t *p = bo->before + (at - bo->iova) + (size_t)e * 8;
			uint64_t w = 0;
			for (int b = 7; b >= 0; b--)
				w = (w << 8) | p[b];
			v[n++] = w;
		}
	}
	npu_capture_free(&cap);
	if (n < 0) {
		if (!v)
			fprintf(err, "npu-dis: out of memory\n");
		free(v);
		return -1;
	}
	*entries = v;
	return n;
}
#endif

static long load(const char *path, const dis_opts *o, uint64_t **entries, FILE *err)
{
	if (o->capture) {
#ifdef NPU_DIS_HAVE_CAPTURE
		return load_capture(path, entries, err);
#else
		fprintf(err, "npu-dis: built without capture support\n");
		return -1;
#endif
	}
	unsigned char *data;
	size_t len;
	if (read_file(path, &data, &len, err))
		return -1;
	if (o->offset > len) {
		fprintf(err, "npu-dis: %s: --offset %lu is past the end (%zu bytes)\n", path, o->offset,
			len);
		free(data);
		return -1;
	}
	size_t use = len - o->offset;
	const int text = o->format >= 0 ? o->format : npu_rc_looks_like_text(data + o->offset, use);
	if (o->count && !text && use > (size_t)o->count * 8)
		use = (size_t)o->count * 8; /* a section of a larger binary file */
	char msg[256];
	long n = npu_rc_parse(data + o->offset, use, text, entries, msg, sizeof(msg));
	free(data);
	if (n < 0) {
		fprintf(err, "npu-dis: %s: %s\n", path, msg);
		return -1;
	}
	if (o->count && (unsigned long)n > o->count)
		n = (long)o->count;
	return n;
}

static void print_diff(void *ctx, const npu_rc_diff_item *d)
{
	npu_rc_diff_print(ctx, d);
}

int npu_dis_main(int argc, char **argv, FILE *out, FILE *err)
{
	dis_opts o = { .format = -1 };
	const char *files[2] = { NULL, NULL };
	int nfiles = 0, diff = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const int has_arg = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(out);
			return 0;
		} else if ((!strcmp(a, "-f") || !strcmp(a, "--format")) && has_arg) {
			const char *f = argv[++i];
			o.format = !strcmp(f, "raw") ? 0 : !strcmp(f, "hex") ? 1 : !strcmp(f, "auto") ? -1 : -2;
			if (o.format == -2) {
				fprintf(err, "npu-dis: unknown format \"%s\" (raw, hex, auto)\n", f);
				return 2;
			}
		} else if ((!strcmp(a, "--offset") || !strcmp(a, "--count")) && has_arg) {
			char *end;
			const unsigned long v = strtoul(argv[++i], &end, 0);
			if (*end || argv[i][0] == '-') {
				fprintf(err, "npu-dis: %s needs a number, not \"%s\"\n", a, argv[i]);
				return 2;
			}
			if (!strcmp(a, "--offset"))
				o.offset = v;
			else
				o.count = v;
		} else if (!strcmp(a, "--no-fields")) {
			o.dis_flags |= NPU_DIS_NO_FIELDS;
		} else if (!strcmp(a, "--no-raw")) {
			o.dis_flags |= NPU_DIS_NO_RAW;
		} else if (!strcmp(a, "--ignore-addr")) {
			o.diff_flags |= NPU_DIFF_IGNORE_ADDR;
		} else if (!strcmp(a, "--strict")) {
			o.strict = 1;
		} else if (!strcmp(a, "--diff")) {
			diff = 1;
		} else if (!strcmp(a, "--capture")) {
			o.capture = 1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(err, "npu-dis: unknown or incomplete option \"%s\" (see --help)\n", a);
			return 2;
		} else if (nfiles < 2) {
			files[nfiles++] = a;
		} else {
			fprintf(err, "npu-dis: too many files\n");
			return 2;
		}
	}
	if (nfiles != (diff ? 2 : 1)) {
		fprintf(err, "npu-dis: %s (see --help)\n",
			diff ? "--diff needs two files" : "expected one input file");
		return 2;
	}
	uint64_t *a = NULL, *b = NULL;
	const long na = load(files[0], &o, &a, err);
	if (na < 0)
		return 2;
	if (!diff) {
		const size_t bad = npu_rc_disassemble(out, a, (size_t)na, o.dis_flags);
		fprintf(out, "# %ld entries, %zu with issues\n", na, bad);
		free(a);
		return o.strict && bad ? 1 : 0;
	}
	const long nb = load(files[1], &o, &b, err);
	if (nb < 0) {
		free(a);
		return 2;
	}
	const int d = npu_rc_diff(a, (size_t)na, b, (size_t)nb, o.diff_flags, print_diff, out);
	free(a);
	free(b);
	if (d < 0) {
		fprintf(err, "npu-dis: out of memory\n");
		return 2;
	}
	fprintf(out, "# %d difference%s (A = %s, B = %s)\n", d, d == 1 ? "" : "s", files[0], files[1]);
	return d ? 1 : 0;
}
