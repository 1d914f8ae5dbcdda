/* libFuzzer target for the HTTP client's hand-written parsers
 * (core/net/http_parse.c): a whole response as text (fixtures), the
 * header lines libcurl hands over one by one, and Retry-After.
 *
 * Besides "no crash, no overrun" (ASan, UBSan) it checks what the client
 * relies on: a parsed response has a status of three digits, a body that
 * ends inside the input and is NUL-terminated, at most the header cap,
 * names that are tokens and values without CR/LF or edge white space;
 * feeding the same head line by line gives the same status and headers;
 * a Retry-After is at most a day and never negative.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the files
 * given as arguments: make check runs it over tests/fuzz/corpus/http_response.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/http.h>

#include "fuzz.h"
#include "http_int.h"

static void check_headers(const struct sb_http_response *r)
{
	FUZZ_CHECK(r->n_headers <= SB_HTTP_HEADERS_MAX, "%zu", r->n_headers);
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *n = r->headers[i].name, *v = r->headers[i].value;
		FUZZ_CHECK(*n, "empty name");
		for (const char *p = n; *p; p++)
			FUZZ_CHECK(*p > ' ' && *p != ':' && *p < 0x7f,
				   "name %s", n);
		FUZZ_CHECK(!strpbrk(v, "\r\n"), "line break in %s", n);
		size_t vl = strlen(v);
		FUZZ_CHECK(!vl || (v[0] != ' ' && v[0] != '\t' &&
				   v[vl - 1] != ' ' && v[vl - 1] != '\t'),
			   "white space around the value of %s", n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sb_http_response r;
	struct sb_error err;
	memset(&r, 0, sizeof(r));
	enum sb_status st = sb_http_response_parse(&r, text, size, &err);
	if (st == SB_OK) {
		FUZZ_CHECK(r.status >= 100 && r.status <= 999, "%d", r.status);
		FUZZ_CHECK(r.reason && r.body, "reason and body set");
		FUZZ_CHECK(r.body_len <= size, "body %zu of %zu", r.body_len,
			   size);
		FUZZ_CHECK(r.body[r.body_len] == '\0', "body not terminated");
		FUZZ_CHECK(
		    !memcmp(r.body, text + size - r.body_len, r.body_len),
		    "the body is the end of the input");
		check_headers(&r);
		/* the same head, line by line as libcurl gives it */
		struct sb_http_response l;
		memset(&l, 0, sizeof(l));
		size_t pos = 0;
		enum sbn_line k = SBN_LINE_HEADER;
		while (pos < size - r.body_len && k != SBN_LINE_END) {
			const char *nl =
			    memchr(text + pos, '\n', size - r.body_len - pos);
			size_t end =
			    nl ? (size_t)(nl - text) + 1 : size - r.body_len;
			k = sbn_http_header_line(&l, text + pos, end - pos);
			FUZZ_CHECK(k != SBN_LINE_BAD && k != SBN_LINE_NOMEM,
				   "line at %zu refused line by line", pos);
			pos = end;
		}
		FUZZ_CHECK(l.status == r.status, "%d != %d", l.status,
			   r.status);
		FUZZ_CHECK(l.n_headers == r.n_headers, "%zu != %zu",
			   l.n_headers, r.n_headers);
		for (size_t i = 0; i < r.n_headers; i++)
			FUZZ_CHECK(
			    !strcmp(l.headers[i].value, r.headers[i].value),
			    "header %zu differs", i);
		const char *ra = sb_http_header(&r, "Retry-After");
		int64_t ms = -1;
		if (ra && sb_http_parse_retry_after(ra, 1700000000, &ms))
			FUZZ_CHECK(ms >= 0 && ms <= 24 * 3600 * 1000LL, "%lld",
				   (long long)ms);
		sb_http_response_free(&l);
	} else {
		FUZZ_CHECK(st == SB_ERR_INVALID_INPUT || st == SB_ERR_INTERNAL,
			   "status %d", (int)st);
		FUZZ_CHECK(err.message[0], "a refusal says why");
	}
	sb_http_response_free(&r);

	/* the whole input as a Retry-After value */
	char *v = fuzz_cstr(data, size);
	int64_t ms = -1;
	if (sb_http_parse_retry_after(v, 1700000000, &ms))
		FUZZ_CHECK(ms >= 0 && ms <= 24 * 3600 * 1000LL, "%lld",
			   (long long)ms);
	free(v);
	return 0;
}
