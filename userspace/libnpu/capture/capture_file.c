/* SPDX-License-Identifier: MIT */
/* Capture file reader and writer: docs/npu-capture-format.md (version 1).
 * Little endian, 16-byte file header, then 8-byte aligned chunks
 * {tag[4], u32 reserved, u64 length, payload}. */
#include "npu/npu_capture.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_HEADER_SIZE 16u
#define CHUNK_HEADER_SIZE 16u
#define BUF_HEADER_SIZE 24u
#define IOVA_LIMIT (1ull << 32)

static void set_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* ---- little-endian helpers -------------------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

/* ---- writer --------------------------------------------------------------- */

struct writer {
	FILE *f;
	bool failed;
};

static void put(struct writer *w, const void *data, size_t len)
{
	if (!w->failed && len && fwrite(data, 1, len, w->f) != len)
		w->failed = true;
}

static void put_chunk_header(struct writer *w, const char tag[4], uint64_t len)
{
	uint8_t h[CHUNK_HEADER_SIZE] = { 0 };

	memcpy(h, tag, 4);
	wr64(h + 8, len);
	put(w, h, sizeof(h));
}

static void put_padding(struct writer *w, uint64_t len)
{
	static const uint8_t zeros[8];

	put(w, zeros, (size_t)((8 - len % 8) % 8));
}

static void put_chunk(struct writer *w, const char tag[4], const void *data, uint64_t len)
{
	put_chunk_header(w, tag, len);
	put(w, data, (size_t)len);
	put_padding(w, len);
}

static void put_buf(struct writer *w, const char tag[4], const npu_capture_bo *bo,
		    const uint8_t *data)
{
	uint8_t h[BUF_HEADER_SIZE];

	wr32(h, bo->handle);
	wr32(h + 4, bo->flags);
	wr64(h + 8, bo->iova);
	wr64(h + 16, bo->size);
	put_chunk_header(w, tag, BUF_HEADER_SIZE + bo->size);
	put(w, h, sizeof(h));
	put(w, data, (size_t)bo->size);
	put_padding(w, BUF_HEADER_SIZE + bo->size);
}

static void put_tasks(struct writer *w, const npu_capture *cap)
{
	uint8_t h[8] = { 0 };

	wr32(h, cap->task_count);
	put_chunk_header(w, "TASK", 8 + 8ull * cap->task_count);
	put(w, h, 8);
	for (uint32_t i = 0; i < cap->task_count; i++) {
		uint8_t t[8];

		wr32(t, cap->tasks[i].regcmd);
		wr32(t + 4, cap->tasks[i].regcmd_count);
		put(w, t, 8);
	}
}

static void put_result(struct writer *w, const npu_capture *cap)
{
	uint32_t n = cap->result_msg ? (uint32_t)strlen(cap->result_msg) : 0;
	uint8_t h[8];

	wr32(h, (uint32_t)cap->result);
	wr32(h + 4, n);
	put_chunk_header(w, "RSLT", 8ull + n);
	put(w, h, 8);
	put(w, cap->result_msg, n);
	put_padding(w, 8ull + n);
}

int npu_capture_write(const char *path, const npu_capture *cap, char *err, size_t err_len)
{
	char tmp[4096];
	struct writer w = { 0 };
	uint8_t header[FILE_HEADER_SIZE] = { 0 };

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		set_err(err, err_len, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	w.f = fopen(tmp, "wb");
	if (!w.f) {
		int ret = -errno;

		set_err(err, err_len, "%s: %s", tmp, strerror(-ret));
		return ret;
	}
	memcpy(header, NPU_CAPTURE_MAGIC, 8);
	wr32(header + 8, NPU_CAPTURE_VERSION);
	put(&w, header, sizeof(header));
	if (cap->info)
		put_chunk(&w, "INFO", cap->info, strlen(cap->info));
	put_tasks(&w, cap);
	for (uint32_t i = 0; i < cap->bo_count; i++)
		if (cap->bos[i].before)
			put_buf(&w, "BUFB", &cap->bos[i], cap->bos[i].before);
	for (uint32_t i = 0; i < cap->bo_count; i++)
		if (cap->bos[i].after)
			put_buf(&w, "BUFA", &cap->bos[i], cap->bos[i].after);
	if (cap->has_result)
		put_result(&w, cap);
	put_chunk(&w, "END ", NULL, 0);
	if (fclose(w.f) != 0)
		w.failed = true;
	if (w.failed || rename(tmp, path) != 0) {
		int ret = errno ? -errno : -EIO;

		unlink(tmp);
		set_err(err, err_len, "%s: write failed: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

/* ---- reader --------------------------------------------------------------- */

void npu_capture_free(npu_capture *cap)
{
	if (!cap)
		return;
	for (uint32_t i = 0; i < cap->bo_count; i++) {
		free(cap->bos[i].before);
		free(cap->bos[i].after);
	}
	free(cap->bos);
	free(cap->tasks);
	free(cap->info);
	free(cap->result_msg);
	memset(cap, 0, sizeof(*cap));
}

static npu_capture_bo *find_bo(npu_capture *cap, uint64_t iova)
{
	for (uint32_t i = 0; i < cap->bo_count; i++)
		if (cap->bos[i].iova == iova)
			return &cap->bos[i];
	return NULL;
}

static int parse_buf(npu_capture *cap, const uint8_t *p, uint64_t len, bool after, uint64_t at,
		     char *err, size_t err_len)
{
	uint64_t iova, size;
	npu_capture_bo *bo;
	uint8_t **slot;

	if (len < BUF_HEADER_SIZE) {
		set_err(err, err_len, "offset %" PRIu64 ": buffer chunk of %" PRIu64 " bytes is "
			"shorter than its 24-byte header", at, len);
		return -EINVAL;
	}
	iova = rd64(p + 8);
	size = rd64(p + 16);
	if (size == 0 || size != len - BUF_HEADER_SIZE || iova >= IOVA_LIMIT ||
	    size > IOVA_LIMIT - iova) {
		set_err(err, err_len, "offset %" PRIu64 ": buffer at IOVA 0x%" PRIx64 " with size %"
			PRIu64 ": size 0, disagreeing with the chunk length %" PRIu64 ", or beyond "
			"the 32-bit NPU address space", at, iova, size, len);
		return -EINVAL;
	}
	bo = find_bo(cap, iova);
	if (!bo) {
		for (uint32_t i = 0; i < cap->bo_count; i++) {
			const npu_capture_bo *o = &cap->bos[i];

			if (iova < o->iova + o->size && o->iova < iova + size) {
				set_err(err, err_len, "offset %" PRIu64 ": buffer 0x%" PRIx64 "+%" PRIu64
					" overlaps buffer 0x%" PRIx64 "+%" PRIu64, at, iova, size,
					o->iova, o->size);
				return -EINVAL;
			}
		}
		bo = realloc(cap->bos, (cap->bo_count + 1) * sizeof(*bo));
		if (!bo)
			return -ENOMEM;
		cap->bos = bo;
		bo = &cap->bos[cap->bo_count++];
		memset(bo, 0, sizeof(*bo));
		bo->handle = rd32(p);
		bo->flags = rd32(p + 4);
		bo->iova = iova;
		bo->size = size;
	} else if (bo->size != size) {
		set_err(err, err_len, "offset %" PRIu64 ": buffer 0x%" PRIx64 " has %" PRIu64
			" bytes here but %" PRIu64 " in its other chunk", at, iova, size, bo->size);
		return -EINVAL;
	}
	slot = after ? &bo->after : &bo->before;
	if (*slot) {
		set_err(err, err_len, "offset %" PRIu64 ": second %s chunk for buffer 0x%" PRIx64, at,
			after ? "BUFA" : "BUFB", iova);
		return -EINVAL;
	}
	*slot = malloc((size_t)size);
	if (!*slot)
		return -ENOMEM;
	memcpy(*slot, p + BUF_HEADER_SIZE, (size_t)size);
	return 0;
}

static int parse_tasks(npu_capture *cap, const uint8_t *p, uint64_t len, uint64_t at, char *err,
		       size_t err_len)
{
	uint32_t n;

	if (cap->tasks) {
		set_err(err, err_len, "offset %" PRIu64 ": second TASK chunk", at);
		return -EINVAL;
	}
	if (len < 8 || (n = rd32(p)) == 0 || len != 8 + 8ull * n) {
		set_err(err, err_len, "offset %" PRIu64 ": TASK chunk of %" PRIu64 " bytes does not "
			"hold its task count (%u, must be > 0) of 8-byte tasks", at, len,
			len >= 8 ? rd32(p) : 0);
		return -EINVAL;
	}
	cap->tasks = calloc(n, sizeof(*cap->tasks));
	if (!cap->tasks)
		return -ENOMEM;
	cap->task_count = n;
	for (uint32_t i = 0; i < n; i++) {
		cap->tasks[i].regcmd = rd32(p + 8 + 8ull * i);
		cap->tasks[i].regcmd_count = rd32(p + 12 + 8ull * i);
		if (cap->tasks[i].regcmd_count == 0) {
			set_err(err, err_len, "offset %" PRIu64 ": task %u has regcmd_count 0", at, i);
			return -EINVAL;
		}
	}
	return 0;
}

static char *dup_text(const uint8_t *p, uint64_t len)
{
	char *s = malloc((size_t)len + 1);

	if (s) {
		memcpy(s, p, (size_t)len);
		s[len] = 0;
	}
	return s;
}

static int parse_result(npu_capture *cap, const uint8_t *p, uint64_t len, uint64_t at,
			char *err, size_t err_len)
{
	if (cap->has_result || len < 8 || rd32(p + 4) != len - 8) {
		set_err(err, err_len, "offset %" PRIu64 ": bad or second RSLT chunk", at);
		return -EINVAL;
	}
	cap->has_result = 1;
	cap->result = (int32_t)rd32(p);
	cap->result_msg = dup_text(p + 8, len - 8);
	return cap->result_msg ? 0 : -ENOMEM;
}

static int parse_chunk(npu_capture *cap, const char *tag, const uint8_t *p, uint64_t len,
		       uint64_t at, char *err, size_t err_len)
{
	if (!memcmp(tag, "TASK", 4))
		return parse_tasks(cap, p, len, at, err, err_len);
	if (!memcmp(tag, "BUFB", 4))
		return parse_buf(cap, p, len, false, at, err, err_len);
	if (!memcmp(tag, "BUFA", 4))
		return parse_buf(cap, p, len, true, at, err, err_len);
	if (!memcmp(tag, "RSLT", 4))
		return parse_result(cap, p, len, at, err, err_len);
	if (!memcmp(tag, "INFO", 4)) {
		if (cap->info || memchr(p, 0, (size_t)len)) {
			set_err(err, err_len, "offset %" PRIu64 ": second INFO chunk or NUL in it", at);
			return -EINVAL;
		}
		cap->info = dup_text(p, len);
		return cap->info ? 0 : -ENOMEM;
	}
	return 0; /* unknown chunks are skipped: later versions may add some */
}

static int parse(const uint8_t *d, size_t n, npu_capture *cap, char *err, size_t err_len)
{
	uint64_t at = FILE_HEADER_SIZE;
	bool end = false;

	if (n < FILE_HEADER_SIZE || memcmp(d, NPU_CAPTURE_MAGIC, 8)) {
		set_err(err, err_len, "not an NPU capture (no " NPU_CAPTURE_MAGIC " header)");
		return -EINVAL;
	}
	if (rd32(d + 8) != NPU_CAPTURE_VERSION) {
		set_err(err, err_len, "capture version %u, this reader knows %u", rd32(d + 8),
			NPU_CAPTURE_VERSION);
		return -EINVAL;
	}
	while (!end) {
		uint64_t len;
		char tag[5] = { 0 };
		int ret;

		if (n - at < CHUNK_HEADER_SIZE) {
			set_err(err, err_len, "truncated at offset %" PRIu64 ": no END chunk", at);
			return -EINVAL;
		}
		memcpy(tag, d + at, 4);
		len = rd64(d + at + 8);
		if (len > n - at - CHUNK_HEADER_SIZE) {
			set_err(err, err_len, "truncated or corrupt: chunk '%s' at offset %" PRIu64
				" claims %" PRIu64 " bytes, the file has %" PRIu64 " left", tag, at, len,
				(uint64_t)(n - at - CHUNK_HEADER_SIZE));
			return -EINVAL;
		}
		end = !memcmp(tag, "END ", 4);
		ret = parse_chunk(cap, tag, d + at + CHUNK_HEADER_SIZE, len, at, err, err_len);
		if (ret)
			return ret;
		at += CHUNK_HEADER_SIZE + len;
		at += (8 - at % 8) % 8;
		if (at > n)
			at = n;
	}
	if (!cap->tasks) {
		set_err(err, err_len, "no TASK chunk");
		return -EINVAL;
	}
	return 0;
}

int npu_capture_parse(const void *data, size_t len, npu_capture *cap, char *err, size_t err_len)
{
	int ret;

	memset(cap, 0, sizeof(*cap));
	ret = parse(data, len, cap, err, err_len);
	if (ret) {
		if (ret == -ENOMEM)
			set_err(err, err_len, "out of memory");
		npu_capture_free(cap);
	}
	return ret;
}

int npu_capture_read(const char *path, npu_capture *cap, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap_bytes = 0;
	int ret;

	memset(cap, 0, sizeof(*cap));
	if (!f) {
		ret = -errno;
		set_err(err, err_len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	for (;;) {
		size_t got;

		if (len == cap_bytes) {
			uint8_t *n = realloc(data, cap_bytes = cap_bytes ? cap_bytes * 2 : 1 << 16);

			if (!n) {
				free(data);
				fclose(f);
				set_err(err, err_len, "%s: out of memory", path);
				return -ENOMEM;
			}
			data = n;
		}
		got = fread(data + len, 1, cap_bytes - len, f);
		len += got;
		if (got == 0)
			break;
	}
	ret = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!ret) {
		char inner[384] = "";

		ret = npu_capture_parse(data, len, cap, inner, sizeof(inner));
		if (ret)
			set_err(err, err_len, "%s: %s", path, inner);
	} else {
		set_err(err, err_len, "%s: read error", path);
	}
	free(data);
	return ret;
}

int npu_capture_info_get(const npu_capture *cap, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *line = cap->info; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t n = eol ? (size_t)(eol - line) : strlen(line);

		if (n > klen && !strncmp(line, key, klen) && line[klen] == '=') {
			snprintf(buf, len, "%.*s", (int)(n - klen - 1), line + klen + 1);
			return 0;
		}
		line += n + (eol != NULL);
	}
	if (len)
		buf[0] = 0;
	return -ENOENT;
}
