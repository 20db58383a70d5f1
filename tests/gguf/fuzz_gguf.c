/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the GGUF reader (and, for accepted inputs, the writer):
 * build with -DRB_FUZZ=ON and clang, see docs/gguf.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_check.h"
#include "rosenblatt/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	rb_gguf *g = NULL;
	rb_err err;
	const int rc = rb_gguf_open_memory(data, size, &g, &err);
	if (rc != RB_OK) {
		/* every rejection is a classified error with a message */
		if ((rc != RB_E_FORMAT && rc != RB_E_UNSUPPORTED) || g || !err.msg[0] ||
		    err.code != rc)
			abort();
		return 0;
	}
	if (!g || gguf_check_accepted(g, sink, 1) != 0)
		abort();
	rb_gguf_close(g);
	return 0;
}
