/* svcbroker — status codes and error reports shared by the host and brokers.
 *
 * One closed, append-only enum.  Every value has a category string
 * (sb_status_str) and one HTTP status (sb_status_http).  New values are only
 * ever appended; existing numbers never change (ABI).
 */
#ifndef SVCBROKER_STATUS_H
#define SVCBROKER_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SB_PRINTF(f, a)
#endif

enum sb_status {
	SB_OK = 0,
	SB_ERR_INVALID_INPUT,	   /* 400 invalid_input */
	SB_ERR_UNAUTHENTICATED,	   /* 401 unauthenticated (this API) */
	SB_ERR_FORBIDDEN,	   /* 403 forbidden (this API's grants) */
	SB_ERR_UPSTREAM_DENIED,	   /* 403 upstream refused identity/mailbox */
	SB_ERR_NOT_FOUND,	   /* 404 not_found (address or item) */
	SB_ERR_METHOD_NOT_ALLOWED, /* 405 method_not_allowed */
	SB_ERR_CONFLICT,	   /* 409 conflict */
	SB_ERR_PAYLOAD_TOO_LARGE,  /* 413 payload_too_large */
	SB_ERR_UNSUPPORTED_MEDIA_TYPE, /* 415 unsupported_media_type */
	SB_ERR_THROTTLED,	       /* 429 throttled (Retry-After) */
	SB_ERR_INTERNAL,	       /* 500 internal */
	SB_ERR_UPSTREAM_AUTH, /* 502 upstream rejected our credentials */
	SB_ERR_UPSTREAM,      /* 502 upstream_error */
	SB_ERR_UNAVAILABLE,   /* 503 unavailable / busy (Retry-After) */
	SB_ERR_TIMEOUT,	      /* 504 timeout (deadline or upstream) */
	SB_ERR_QUOTA,	      /* 507 quota_exceeded (mailbox full) */
	SB_STATUS_COUNT_      /* not a status; keep last */
};

/* Category name, e.g. "invalid_input".  Never NULL: an unknown value gives
 * "internal".  Static storage; thread-safe. */
const char *sb_status_str(enum sb_status st);

/* The one HTTP status for st (200 for SB_OK).  Thread-safe. */
int sb_status_http(enum sb_status st);

#define SB_ERROR_CODE_MAX 64
#define SB_ERROR_MSG_MAX 512

/* An error report, filled by whoever fails.  `code` is the upstream's own
 * code when there is one (e.g. "ErrorItemNotFound"), else empty.
 * `retry_after_ms` is > 0 for throttled/unavailable answers. */
struct sb_error {
	enum sb_status status;
	char code[SB_ERROR_CODE_MAX];
	char message[SB_ERROR_MSG_MAX];
	int64_t retry_after_ms;
};

/* Fill err (may be NULL: then nothing is written) and return st, so that
 *   return sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound", "...");
 * works.  code may be NULL.  The message is truncated to fit.  Never log a
 * secret through it: the message reaches API clients. Thread-safe. */
enum sb_status sb_error_set(struct sb_error *err, enum sb_status st,
			    const char *code, const char *fmt, ...)
    SB_PRINTF(4, 5);

/* Reset err to SB_OK with empty strings.  err may be NULL. */
void sb_error_clear(struct sb_error *err);

#ifdef __cplusplus
}
#endif
#endif
