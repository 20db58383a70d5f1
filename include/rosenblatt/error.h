/* SPDX-License-Identifier: MIT */
/* Error reporting shared by every Rosenblatt library: a code plus a message that
 * names what is wrong and where (file offset, tensor, key, ioctl...). */
#ifndef ROSENBLATT_ERROR_H
#define ROSENBLATT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum rb_status {
	RB_OK = 0,
	RB_E_IO = -1,          /* open/read/mmap failed (errno in message) */
	RB_E_FORMAT = -2,      /* malformed or hostile file contents */
	RB_E_UNSUPPORTED = -3, /* valid input asking for something not implemented */
	RB_E_INVALID = -4,     /* bad argument from the caller (shape, flag, ...) */
	RB_E_NOMEM = -5,       /* allocation failed */
	RB_E_DEVICE = -6,      /* accelerator/device failure (ioctl, timeout) */
	RB_E_FULL = -7,        /* a capacity was reached (e.g. context full) */
};

typedef struct rb_err {
	int code;       /* enum rb_status, 0 when no error */
	char msg[512];  /* human readable, no trailing newline */
} rb_err;

/* Record an error (if e != NULL) and return code, so callers can write
 * `return rb_err_set(err, RB_E_FORMAT, "...", ...)`. */
int rb_err_set(rb_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context: "ctx: <old message>". */
int rb_err_wrap(rb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void rb_err_clear(rb_err *e);
const char *rb_status_str(int code);

#ifdef __cplusplus
}
#endif
#endif
