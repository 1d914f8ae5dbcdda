/* Status codes: category names, HTTP mapping, error reports. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <svcbroker/status.h>

static const struct {
	const char *name;
	int http;
} status_table[SB_STATUS_COUNT_] = {
    [SB_OK] = {"ok", 200},
    [SB_ERR_INVALID_INPUT] = {"invalid_input", 400},
    [SB_ERR_UNAUTHENTICATED] = {"unauthenticated", 401},
    [SB_ERR_FORBIDDEN] = {"forbidden", 403},
    [SB_ERR_UPSTREAM_DENIED] = {"upstream_denied", 403},
    [SB_ERR_NOT_FOUND] = {"not_found", 404},
    [SB_ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405},
    [SB_ERR_CONFLICT] = {"conflict", 409},
    [SB_ERR_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413},
    [SB_ERR_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415},
    [SB_ERR_THROTTLED] = {"throttled", 429},
    [SB_ERR_INTERNAL] = {"internal", 500},
    [SB_ERR_UPSTREAM_AUTH] = {"upstream_auth", 502},
    [SB_ERR_UPSTREAM] = {"upstream_error", 502},
    [SB_ERR_UNAVAILABLE] = {"unavailable", 503},
    [SB_ERR_TIMEOUT] = {"timeout", 504},
    [SB_ERR_QUOTA] = {"quota_exceeded", 507},
};

const char *sb_status_str(enum sb_status st)
{
	if ((unsigned)st >= SB_STATUS_COUNT_ || !status_table[st].name)
		return "internal";
	return status_table[st].name;
}

int sb_status_http(enum sb_status st)
{
	if ((unsigned)st >= SB_STATUS_COUNT_ || !status_table[st].name)
		return 500;
	return status_table[st].http;
}

enum sb_status sb_error_set(struct sb_error *err, enum sb_status st,
			    const char *code, const char *fmt, ...)
{
	if (!err)
		return st;
	err->status = st;
	err->retry_after_ms = 0;
	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return st;
}

void sb_error_clear(struct sb_error *err)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->status = SB_OK;
}
