/* SPDX-License-Identifier: MIT */
/* regcmd encoder/decoder round trip, builder errors, dump parsing, the
 * field-level differ and the npu-dis CLI (golden disassembly). */
#include <errno.h>

#include "npu/npu_regcmd.h"
#include "npu_dis_cli.h"
#include "npu_vectors.h"
#include "test.h"

#define DATA RB_TEST_DATA_DIR "/npu/"

static void test_round_trip(void)
{
	uint64_t seed = 42;
	npu_rc_builder b;
	npu_rc_init_dynamic(&b);
	int regs[2000];
	uint32_t vals[2000];
	int n = 0;
	while (n < 2000) {
		const int r = (int)(rb_test_rand_u64(&seed) % NPU_REG_COUNT);
		const npu_reg_info *ri = &npu_reg_table[r];
		if (ri->flags & (NPU_RF_RO | NPU_RF_NOREGCMD))
			continue;
		/* Compose a value field by field with random in-range values. */
		uint32_t v = 0;
		for (unsigned i = 0; i < npu_reg_field_count((enum npu_reg_id)r); i++) {
			const enum npu_field_id f = (enum npu_field_id)(ri->first_field + i);
			const uint64_t fv = rb_test_rand_u64(&seed) & npu_field_max(f);
			v |= npu_rc_field(&b, f, (int64_t)fv);
		}
		if (ri->flags & NPU_RF_UNDOC)
			v = 0;
		npu_rc_write(&b, (enum npu_reg_id)r, v);
		regs[n] = r;
		vals[n] = v;
		n++;
	}
	CHECKF(b.error == 0, "%s", b.msg);
	CHECK_EQ_INT(b.count, 2000);
	for (int i = 0; i < n; i++) {
		npu_rc_entry e;
		npu_rc_decode(b.entries[i], &e);
		CHECK_EQ_INT(e.kind, NPU_RC_WRITE);
		CHECK_EQ_INT(e.reg, regs[i]);
		CHECK_EQ_INT(e.value, vals[i]);
		CHECK_EQ_INT(e.issues, 0);
		/* header = block bit | 1 (docs/npu-programming.md#register-commands-regcmd) */
		CHECK_EQ_INT(e.header, npu_block_header_bit((enum npu_block)npu_reg_table[regs[i]].block) | 1);
		CHECK_EQ_INT(npu_rc_offset(b.entries[i]), npu_reg_table[regs[i]].offset);
	}
	npu_rc_release(&b);
}

static void test_builder(void)
{
	uint64_t buf[8];
	npu_rc_builder b;
	npu_rc_init(&b, buf, 8);
	/* DATAIN_HEIGHT is 11 bits: 2048 does not fit; the message names it. */
	npu_rc_write(&b, NPU_R_CNA_DATA_SIZE0, NPU_SET(&b, CNA_DATA_SIZE0_DATAIN_HEIGHT, 2048));
	CHECK_EQ_INT(b.error, -ERANGE);
	CHECK(strstr(b.msg, "CNA_DATA_SIZE0.DATAIN_HEIGHT") != NULL);

	npu_rc_init(&b, buf, 8);
	npu_rc_write(&b, NPU_R_PC_INTERRUPT_RAW_STATUS, 0);
	CHECK_EQ_INT(b.error, -EINVAL);
	CHECK(strstr(b.msg, "PC_INTERRUPT_RAW_STATUS") != NULL);

	npu_rc_init(&b, buf, 8);
	npu_rc_write(&b, NPU_R_CNA_CONV_CON1, 1u << 31); /* reserved bit */
	CHECK_EQ_INT(b.error, -EINVAL);
	CHECK(strstr(b.msg, "reserved") != NULL);

	npu_rc_init(&b, buf, 8);
	npu_rc_write(&b, NPU_R_GLOBAL_OPERATION_ENABLE, 1);
	CHECK_EQ_INT(b.error, -EINVAL);

	/* The tail (MTX ops[104..107], Mesa rkt_regcmd.c), then the buffer is full. */
	npu_rc_init(&b, buf, 5);
	npu_rc_tail(&b, 0x0d);
	CHECK_EQ_INT(b.error, 0);
	CHECK_EQ_INT(b.count, 4);
	CHECK_EQ_INT(buf[0], 0);
	CHECK_EQ_INT(buf[1], 0x0101000000000014ull);
	CHECK_EQ_INT(buf[2], 0x0041000000000000ull);
	CHECK_EQ_INT(buf[3], 0x00810000000D0008ull);
	npu_rc_pad(&b, 3); /* 4 -> 6 entries: the 6th does not fit */
	CHECK_EQ_INT(b.error, -ENOSPC);
	CHECK_EQ_INT(npu_rc_amount_for(108), 53); /* rocket_job.c: (108 + 1) / 2 - 1 */
	CHECK_EQ_INT(npu_rc_amount_for(107), 53);
}

static void test_decode_special(void)
{
	npu_rc_entry e;
	npu_rc_decode(0, &e);
	CHECK_EQ_INT(e.kind, NPU_RC_NOP);
	npu_rc_decode(0x0041000000000000ull, &e);
	CHECK_EQ_INT(e.kind, NPU_RC_MARKER);
	CHECK_EQ_INT(e.issues, 0);
	npu_rc_decode(0x0041000000000010ull, &e);
	CHECK(e.issues & NPU_RC_ISSUE_BAD_SPECIAL);
	npu_rc_decode(0x00810000007F0008ull, &e); /* TRM example: all blocks */
	CHECK_EQ_INT(e.kind, NPU_RC_OP_ENABLE);
	CHECK_EQ_INT(e.issues, 0);
	char line[256];
	npu_rc_format(&e, 0, line, sizeof(line));
	CHECK(strstr(line, "op-enable 0x7f: CNA|CORE|DPU|DPU_RDMA|PPU|PPU_RDMA") != NULL);
	npu_rc_decode(0x0081000000800008ull, &e); /* mask bit 7: not a block */
	CHECK(e.issues & NPU_RC_ISSUE_BAD_SPECIAL);
	npu_rc_decode(0x0200000000001020ull, &e); /* block bit without bit 0 */
	CHECK_EQ_INT(e.kind, NPU_RC_INVALID);
	CHECK(e.issues & NPU_RC_ISSUE_UNKNOWN_HEADER);
	npu_rc_decode(0x1001000000001020ull, &e); /* DPU header, CNA offset */
	CHECK_EQ_INT(e.kind, NPU_RC_INVALID);
	CHECK(e.issues & NPU_RC_ISSUE_HEADER_MISMATCH);
	npu_rc_decode(0x0201000000001018ull, &e);
	CHECK(e.issues & NPU_RC_ISSUE_UNKNOWN_REG);
	char issues[128];
	CHECK_STR(npu_rc_issue_str(NPU_RC_ISSUE_UNKNOWN_REG | NPU_RC_ISSUE_RESERVED_BITS, issues,
				   sizeof(issues)), "unknown register, reserved bits set");
	/* snprintf semantics of the formatter */
	npu_rc_decode(vec_mtx_int8_64x256x128[4], &e);
	const int need = npu_rc_format(&e, 0, NULL, 0);
	CHECK(need > 40);
	char small[8];
	CHECK_EQ_INT(npu_rc_format(&e, 0, small, sizeof(small)), need);
	CHECK_EQ_INT(strlen(small), 7);
}

static void test_parse(void)
{
	uint64_t *e = NULL;
	char err[128];
	const char *text = "# comment 0x1234567890ABCDEF ignored\n"
			   "| 21 | 0x0201 | 0x1070 | 0x00100000 | 0x0201001000001070 | x |\n"
			   "0201000100401020, 0x0000000000000000 // trailing\n";
	CHECK_EQ_INT(npu_rc_parse(text, strlen(text), -1, &e, err, sizeof(err)), 3);
	CHECK_EQ_INT(e[0], 0x0201001000001070ull);
	CHECK_EQ_INT(e[1], 0x0201000100401020ull);
	CHECK_EQ_INT(e[2], 0);
	free(e);
	const uint8_t raw[16] = { 0x04, 0x40, 0x0e, 0, 0, 0, 0x01, 0x10, 0 };
	CHECK_EQ_INT(npu_rc_parse(raw, 16, -1, &e, err, sizeof(err)), 2);
	CHECK_EQ_INT(e[0], 0x10010000000E4004ull);
	free(e);
	CHECK_EQ_INT(npu_rc_parse(raw, 12, 0, &e, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "12 bytes") != NULL);
	CHECK_EQ_INT(npu_rc_parse("0x12345678901234567\n", 20, 1, &e, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "line 1") != NULL);
	CHECK_EQ_INT(npu_rc_parse("nothing here\n", 13, 1, &e, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(npu_rc_parse("", 0, -1, &e, err, sizeof(err)), -EINVAL);
	CHECK(e == NULL);
}

static int diff_count;
static npu_rc_diff_item diff_last;
static void on_diff(void *ctx, const npu_rc_diff_item *d)
{
	(void)ctx;
	diff_count++;
	diff_last = *d;
}

static void test_diff(void)
{
	const uint64_t *m = vec_mtx_int8_64x256x128;
	uint64_t s[VEC_MTX_ENTRIES + 1];
	CHECK_EQ_INT(npu_rc_diff(m, VEC_MTX_ENTRIES, m, VEC_MTX_ENTRIES, 0, NULL, NULL), 0);
	/* Write order does not matter; a duplicate write of the same value neither. */
	memcpy(s, m, sizeof(uint64_t) * VEC_MTX_ENTRIES);
	s[1] = m[2];
	s[2] = m[1];
	CHECK_EQ_INT(npu_rc_diff(m, VEC_MTX_ENTRIES, s, VEC_MTX_ENTRIES, 0, NULL, NULL), 0);
	/* One field changed: FEATURE_GRAINS 65 -> 52. */
	memcpy(s, m, sizeof(uint64_t) * VEC_MTX_ENTRIES);
	s[2] = 0x0201000003401010ull;
	diff_count = 0;
	CHECK_EQ_INT(npu_rc_diff(m, VEC_MTX_ENTRIES, s, VEC_MTX_ENTRIES, 0, on_diff, NULL), 1);
	CHECK_EQ_INT(diff_last.kind, NPU_RC_DIFF_FIELD);
	CHECK_EQ_INT(diff_last.field, NPU_F_CNA_CONV_CON2_FEATURE_GRAINS);
	CHECK_EQ_INT(diff_last.a, 65);
	CHECK_EQ_INT(diff_last.b, 52);
	/* Address fields can be ignored. */
	memcpy(s, m, sizeof(uint64_t) * VEC_MTX_ENTRIES);
	s[21] = 0x0201004000001070ull;
	CHECK_EQ_INT(npu_rc_diff(m, VEC_MTX_ENTRIES, s, VEC_MTX_ENTRIES, 0, NULL, NULL), 1);
	CHECK_EQ_INT(npu_rc_diff(m, VEC_MTX_ENTRIES, s, VEC_MTX_ENTRIES, NPU_DIFF_IGNORE_ADDR, NULL,
				 NULL), 0);
	/* A register only one side writes; a missing marker; task count. */
	memcpy(s, m, sizeof(uint64_t) * VEC_MTX_ENTRIES);
	s[53] = 0;
	s[106] = 0;
	s[VEC_MTX_ENTRIES] = m[0];
	diff_count = 0;
	CHECK_EQ_INT(npu_rc_diff(m, VEC_MTX_ENTRIES, s, VEC_MTX_ENTRIES + 1, 0, on_diff, NULL), 3);
	CHECK_EQ_INT(diff_last.kind, NPU_RC_DIFF_TASK_COUNT);
}

/* Run the CLI in-process and capture its standard output. */
static int run_dis(char *out, size_t outlen, int argc, char **argv)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	FILE *devnull = fopen("/dev/null", "w");
	REQUIRE(f && devnull);
	const int ret = npu_dis_main(argc, argv, f, devnull);
	fclose(f);
	fclose(devnull);
	snprintf(out, outlen, "%s", buf ? buf : "");
	free(buf);
	return ret;
}

static void test_cli(void)
{
	static char out[65536], golden[65536];
	char *argv1[] = { "npu-dis", DATA "hand.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 2, argv1), 0);
	FILE *g = fopen(DATA "hand.dis", "r");
	REQUIRE(g);
	const size_t gl = fread(golden, 1, sizeof(golden) - 1, g);
	golden[gl] = 0;
	fclose(g);
	CHECKF(strcmp(out, golden) == 0, "npu-dis output differs from hand.dis:\n%s", out);

	char *argv2[] = { "npu-dis", "--strict", DATA "hand.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 3, argv2), 1);
	char *argv3[] = { "npu-dis", "--strict", DATA "mtx_int8_64x256x128.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 3, argv3), 0);
	CHECK(strstr(out, "# 108 entries, 0 with issues") != NULL);
	CHECK(strstr(out, "   58  1001000004004024  DPU_DST_SURF_STRIDE = 0x00000400 DST_SURF_STRIDE=64")
	      != NULL);
	char *argv4[] = { "npu-dis", "--diff", DATA "mtx_int8_64x256x128.hex", DATA "hand.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 4, argv4), 1);
	CHECK(strstr(out, "task 0: CNA_DMA_CON2.SURF_STRIDE: 60 vs -3") != NULL);
	CHECK(strstr(out, "task count: 1 vs 2") != NULL);
	char *argv5[] = { "npu-dis", "--diff", DATA "hand.hex", DATA "hand.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 4, argv5), 0);
	char *argv6[] = { "npu-dis", "--count", "2", "--no-fields", "--no-raw",
			  DATA "mtx_int8_64x256x128.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 6, argv6), 0);
	CHECK_STR(out, "# task 0\n    0  DPU_S_POINTER = 0x0000000e\n"
		       "    1  CNA_CONV_CON1 = 0x00000000\n# 2 entries, 0 with issues\n");
	char *bad1[] = { "npu-dis" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 1, bad1), 2);
	char *bad2[] = { "npu-dis", "/nonexistent/x.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 2, bad2), 2);
	char *bad3[] = { "npu-dis", "--format", "elf", "x" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 4, bad3), 2);
	char *bad4[] = { "npu-dis", "--offset", "99999", DATA "hand.hex" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 4, bad4), 2);
	char *help[] = { "npu-dis", "--help" };
	CHECK_EQ_INT(run_dis(out, sizeof(out), 2, help), 0);
	CHECK(strstr(out, "usage: npu-dis") != NULL);
}

/* Random and mutated input to the dump parser and the decoder: defined
 * results, no crash (ASan). */
static void test_fuzz(void)
{
	uint64_t seed = 99;
	static const char alphabet[] = "0123456789abcdefABCDEFxX #/|,;:\n\t_-g";
	const int iterations = rb_test_quick() ? 300 : 3000;
	for (int it = 0; it < iterations; it++) {
		char buf[512];
		const size_t len = rb_test_rand_u64(&seed) % sizeof(buf);
		const bool text = it & 1;
		for (size_t i = 0; i < len; i++)
			buf[i] = text ? alphabet[rb_test_rand_u64(&seed) % (sizeof(alphabet) - 1)]
				      : (char)rb_test_rand_u64(&seed);
		uint64_t *e = NULL;
		char err[128] = "";
		const long n = npu_rc_parse(buf, len, (int)(rb_test_rand_u64(&seed) % 3) - 1, &e, err,
					    sizeof(err));
		CHECK(n < 0 ? e == NULL && err[0] : e != NULL);
		for (long i = 0; i < n; i++) {
			npu_rc_entry d;
			char line[1024];
			npu_rc_decode(e[i], &d);
			CHECK(npu_rc_format(&d, 0, line, sizeof(line)) > 0);
		}
		if (n > 0) {
			FILE *null = fopen("/dev/null", "w");
			REQUIRE(null);
			npu_rc_disassemble(null, e, (size_t)n, 0);
			fclose(null);
			CHECK(npu_rc_diff(e, (size_t)n, vec_mtx_int8_64x256x128, VEC_MTX_ENTRIES, 0, NULL,
					  NULL) >= 0);
		}
		free(e);
	}
}

int main(void)
{
	test_round_trip();
	test_builder();
	test_decode_special();
	test_parse();
	test_diff();
	test_cli();
	test_fuzz();
	return rb_test_finish();
}
