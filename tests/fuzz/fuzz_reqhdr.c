/* libFuzzer target for the request header fields the API's security reads
 * (core/front/reqhdr.c): Authorization's bearer token, X-Request-Id and
 * Accept-Encoding.  The input's first byte picks the field, the rest is
 * its value.
 *
 * Besides "no crash, no overrun" (ASan, UBSan) it checks what the callers
 * rely on: a token taken has no space or control character, fits its
 * buffer and is a part of the value; a request id kept is short printable
 * ASCII without space, quote or backslash (it goes into headers, log lines
 * and JSON unescaped); gzip is never taken unless the value names gzip,
 * x-gzip or *.
 *
 * Built without libFuzzer (tests/fuzz/replay_main.c) it replays the files
 * given as arguments: make check runs it over the corpus. */
#include "config.h"

#include <strings.h>

#include "fuzz.h"
#include "reqhdr.h"

static const char *find_ci(const char *h, const char *n)
{
	size_t ln = strlen(n);
	for (; *h; h++)
		if (strncasecmp(h, n, ln) == 0)
			return h;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *v = fuzz_cstr(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0: {
		char buf[64];
		const char *t = sbc_bearer_token(v, buf, sizeof(buf));
		if (t) {
			size_t n = strlen(t);
			FUZZ_CHECK(t == buf && n > 0 && n < sizeof(buf),
				   "token of %zu bytes", n);
			for (size_t i = 0; i < n; i++)
				FUZZ_CHECK((unsigned char)t[i] > 0x20 &&
					       t[i] != 0x7f,
					   "byte %zu of the token is 0x%02x", i,
					   (unsigned char)t[i]);
			FUZZ_CHECK(strstr(v, t) != NULL,
				   "the token is not in the value");
			FUZZ_CHECK(strncasecmp(v, "Bearer ", 7) == 0,
				   "a token without the Bearer scheme");
		}
		break;
	}
	case 1:
		if (sbc_request_id_ok(v)) {
			size_t n = strlen(v);
			FUZZ_CHECK(n > 0 && n <= SBC_REQUEST_ID_MAX,
				   "an id of %zu bytes", n);
			for (size_t i = 0; i < n; i++)
				FUZZ_CHECK(v[i] > 0x20 && v[i] < 0x7f &&
					       v[i] != '"' && v[i] != '\\',
					   "byte %zu of the id is 0x%02x", i,
					   (unsigned char)v[i]);
		}
		break;
	default:
		if (sbc_accepts_gzip(v))
			FUZZ_CHECK(find_ci(v, "gzip") || strchr(v, '*'),
				   "gzip taken from '%s'", v);
		break;
	}
	free(v);
	return 0;
}
