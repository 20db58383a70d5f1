/* SPDX-License-Identifier: MIT */
/* npu-probe's parser of the fleet YAML subset (fleet/README.md): the real
 * fleet/boltzmann.yaml, every construct outside the subset refused with its
 * line number, and random mutations of the real file never crashing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "test.h"

#define FLEET_FILE RB_TEST_DATA_DIR "/../../fleet/boltzmann.yaml"

static void expect_error(const char *text, const char *needle)
{
	fleet f;
	char err[256] = "";

	CHECKF(fleet_parse(text, strlen(text), &f, err, sizeof(err)) == -EINVAL,
	       "accepted: %s", text);
	CHECKF(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\" for: %s", err, needle, text);
	CHECK(f.e == NULL && f.n == 0);
}

static void test_real_file(void)
{
	fleet f;
	char err[256];
	fleet_entry *e;

	REQUIRE(fleet_load(FLEET_FILE, &f, err, sizeof(err)) == 0);
	CHECK_STR(fleet_str(&f, "machine"), "boltzmann");
	CHECK_STR(fleet_str(&f, "board"), "Radxa ROCK 5 ITX+");
	CHECK_STR(fleet_str(&f, "npu.driver"), "rocket");
	CHECK_STR(fleet_str(&f, "kernel.min_version"), "6.18");
	CHECK_STR(fleet_str(&f, "npu.clock_hz_expected"), "1000000000");
	e = fleet_get(&f, "cpu.big.cpus");
	REQUIRE(e && !e->value && e->nitems == 4);
	CHECK_STR(e->items[0], "4");
	CHECK_STR(e->items[3], "7");
	e = fleet_get(&f, "npu.dt_nodes");
	REQUIRE(e && e->nitems == 3);
	CHECK_STR(e->items[2], "/proc/device-tree/npu@fdad0000");
	CHECK(fleet_get(&f, "npu") == NULL); /* only leaves */
	CHECK(fleet_get(&f, "cpu.big.max_mhz") != NULL);
	CHECK(fleet_str(&f, "commands.probe") != NULL &&
	      strstr(fleet_str(&f, "commands.probe"), "npu-probe"));
	fleet_free(&f);
	CHECK_EQ_INT(fleet_load("/nonexistent/fleet.yaml", &f, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/fleet.yaml") != NULL);
}

static void test_subset(void)
{
	fleet f;
	char err[256];
	const char *ok =
		"# comment\n"
		"machine: m   # trailing comment\n"
		"quoted: \"a: b # not a comment \\\"x\\\"\"\n"
		"top:\n"
		"  seq:\n"
		"  - one\n"
		"  - \"two\"\n"
		"  inner:\n"
		"    deep: [1, 2 ,3]\n"
		"    empty: []\n"
		"last: 5\n";

	REQUIRE(fleet_parse(ok, strlen(ok), &f, err, sizeof(err)) == 0);
	CHECK_STR(fleet_str(&f, "quoted"), "a: b # not a comment \"x\"");
	CHECK_EQ_INT(fleet_get(&f, "top.seq")->nitems, 2);
	CHECK_STR(fleet_get(&f, "top.seq")->items[1], "two");
	CHECK_EQ_INT(fleet_get(&f, "top.inner.deep")->nitems, 3);
	CHECK_STR(fleet_get(&f, "top.inner.deep")->items[1], "2");
	CHECK_EQ_INT(fleet_get(&f, "top.inner.empty")->nitems, 0);
	CHECK_STR(fleet_str(&f, "last"), "5");
	CHECK_EQ_INT(fleet_get(&f, "last")->line, 11);
	fleet_free(&f);

	expect_error("machine: m\nx:\n\ty: 1\n", "line 3: tabs");
	expect_error("machine: m\nx: { a: 1 }\n", "line 2");
	expect_error("machine: &anchor m\n", "line 1");
	expect_error("machine: m\nx: *alias\n", "line 2");
	expect_error("machine: m\nx: |\n  text\n", "line 2");
	expect_error("machine: m\nx: 'single'\n", "line 2");
	expect_error("machine: m\nx:\n   y: 1\n", "line 3: indentation");
	expect_error("machine: m\nx:\n    y: 1\n", "line 3: unexpected indentation");
	expect_error("machine: m\nmachine: n\n", "line 2: duplicate key 'machine'");
	expect_error("machine: m\nx:\ny: 2\n", "key 'x' has no value");
	expect_error("machine: m\nx:\n", "key 'x' has no value");
	expect_error("machine: \"open\n", "line 1: unterminated");
	expect_error("machine: a: b\n", "line 1: plain scalar contains ': '");
	expect_error("machine: m\nx: [1, [2]]\n", "line 2: nested flow");
	expect_error("machine: m\nx: [1, 2\n", "line 2: unterminated flow");
	expect_error("machine: m\nx:\n  - a: b\n", "line 3: mappings inside sequences");
	expect_error("machine: m\nx:\n  - a\n  y: 1\n", "line 4: unexpected indentation");
	expect_error("machine: m\n- a\n", "line 2: sequence item without a key");
	expect_error("machine: m\n---\n", "line 2: document markers");
	expect_error("machine: m\n9lives: 1\n", "line 2: bad key");
	expect_error("board: b\n", "'machine' is missing");
	expect_error("machine: m\nx:\n  - a\n    b\n", "line 4: multi-line");
}

static void test_mutations(void)
{
	FILE *fp = fopen(FLEET_FILE, "rb");
	char *base, *buf;
	long n;
	uint64_t seed = 42;
	int accepted = 0, rounds = rb_test_quick() ? 500 : 5000;

	REQUIRE(fp && fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0);
	rewind(fp);
	base = malloc((size_t)n);
	buf = malloc((size_t)n);
	REQUIRE(base && buf && fread(base, 1, (size_t)n, fp) == (size_t)n);
	fclose(fp);
	for (int r = 0; r < rounds; r++) {
		static const char alphabet[] = " \t\n:#\"-[],{}&*|>'\\x0\r";
		size_t len = (size_t)n;
		fleet f;
		char err[256];

		memcpy(buf, base, (size_t)n);
		for (int k = 0; k < 1 + (int)(rb_test_rand_u64(&seed) % 3); k++)
			buf[rb_test_rand_u64(&seed) % (uint64_t)n] =
				alphabet[rb_test_rand_u64(&seed) % (sizeof(alphabet) - 1)];
		if (rb_test_rand_u64(&seed) % 5 == 0)
			len = (size_t)(rb_test_rand_u64(&seed) % (uint64_t)n);
		if (fleet_parse(buf, len, &f, err, sizeof(err)) == 0) {
			accepted++;
			CHECK(fleet_str(&f, "machine") != NULL);
			fleet_free(&f);
		} else {
			CHECK(err[0] != 0);
		}
	}
	CHECK(accepted > 0);
	free(base);
	free(buf);
}

int main(void)
{
	test_real_file();
	test_subset();
	test_mutations();
	return rb_test_finish();
}
