/* svcbroker front — the request header fields the API's security reads
 * (reqhdr.c): Authorization (a bearer token), X-Request-Id and
 * Accept-Encoding.  Hand-written parsers of outside input, fuzzed by
 * tests/fuzz/fuzz_reqhdr.c.  No I/O, no state. */
#ifndef SVCBROKER_REQHDR_H
#define SVCBROKER_REQHDR_H

#include <stdbool.h>
#include <stddef.h>

/* The token of an "Authorization: Bearer TOKEN" value (the scheme's case
 * does not matter; spaces around the token are dropped) copied into buf
 * (n bytes), or NULL: another scheme, no token, a token with a space or
 * a control character, or one that does not fit. */
const char *sbc_bearer_token(const char *auth, char *buf, size_t n);

/* An X-Request-Id the daemon keeps: 1..SBC_REQUEST_ID_MAX bytes of
 * printable ASCII without spaces, quotes or backslashes (so it goes into a
 * header, a log line or JSON as it is). */
#define SBC_REQUEST_ID_MAX 64
bool sbc_request_id_ok(const char *id);

/* Does an Accept-Encoding value take gzip (gzip or *, not with q=0)? */
bool sbc_accepts_gzip(const char *accept_encoding);

#endif
