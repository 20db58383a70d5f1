/* SPDX-License-Identifier: MIT */
#include "rosenblatt/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int rb_err_set(rb_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		e->code = code;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int rb_err_wrap(rb_err *e, const char *fmt, ...)
{
	if (!e)
		return RB_E_INVALID;
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* truncation is fine: the message stays NUL-terminated */
	if (snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old) < 0)
		e->msg[0] = '\0';
	return e->code;
}

void rb_err_clear(rb_err *e)
{
	if (e) {
		e->code = RB_OK;
		e->msg[0] = '\0';
	}
}

const char *rb_status_str(int code)
{
	switch (code) {
	case RB_OK: return "ok";
	case RB_E_IO: return "I/O error";
	case RB_E_FORMAT: return "bad format";
	case RB_E_UNSUPPORTED: return "unsupported";
	case RB_E_INVALID: return "invalid argument";
	case RB_E_NOMEM: return "out of memory";
	case RB_E_DEVICE: return "device error";
	case RB_E_FULL: return "capacity reached";
	default: return "unknown error";
	}
}
