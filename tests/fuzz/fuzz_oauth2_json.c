/* Fuzz target: the reader of an OAuth2 token endpoint's JSON answer
 * (core/net/oauth2_json.c), which reads what a remote server sends.
 *
 * Invariants: no crash, no read past the input (ASan), no leak; an
 * accepted answer's strings are valid UTF-8 without NUL, expires_in is -1
 * or >= 0; the accepted values written back as JSON are read back equal
 * (the reader and a plain writer agree); a refusal always has a reason.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the files
 * given as arguments: make check runs it over the corpus. */
#include "config.h"

#include <inttypes.h>

#include <svcbroker/sdk.h>

#include "../../core/net/oauth2_int.h"
#include "fuzz.h"

static void put_str(struct sb_buf *b, const char *name, const char *v)
{
	if (!v)
		return;
	sb_buf_printf(b, "%s\"%s\":\"", b->len > 1 ? "," : "", name);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			sb_buf_printf(b, "\\u%04x", *p);
		else
			sb_buf_append(b, p, 1);
	}
	sb_buf_puts(b, "\"");
}

static void same(const char *a, const char *b, const char *what)
{
	FUZZ_CHECK((!a && !b) || (a && b && !strcmp(a, b)),
		   "%s differs after a round trip", what);
}

static void valid(const char *s, const char *what)
{
	if (s)
		FUZZ_CHECK(sb_utf8_valid(s, strlen(s)), "%s not UTF-8", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oauth2_answer a;
	char why[96];
	bool ok =
	    oauth2_answer_parse((const char *)data, size, &a, why, sizeof(why));
	if (!ok) {
		FUZZ_CHECK(why[0] != '\0', "refused without a reason");
		oauth2_answer_free(&a);
		return 0;
	}
	FUZZ_CHECK(a.expires_in >= -1, "expires_in %" PRId64, a.expires_in);
	valid(a.access_token, "access_token");
	valid(a.token_type, "token_type");
	valid(a.error, "error");
	valid(a.error_description, "error_description");

	struct sb_buf b;
	sb_buf_init(&b, 1 << 20);
	sb_buf_puts(&b, "{");
	put_str(&b, "access_token", a.access_token);
	put_str(&b, "token_type", a.token_type);
	put_str(&b, "error", a.error);
	put_str(&b, "error_description", a.error_description);
	if (a.expires_in >= 0)
		sb_buf_printf(&b, "%s\"expires_in\":%" PRId64,
			      b.len > 1 ? "," : "", a.expires_in);
	sb_buf_puts(&b, "}");
	FUZZ_CHECK(!b.failed, "writing back failed");
	struct oauth2_answer r;
	FUZZ_CHECK(oauth2_answer_parse(b.data, b.len, &r, why, sizeof(why)),
		   "written back, refused: %s: %s", why, b.data);
	same(a.access_token, r.access_token, "access_token");
	same(a.token_type, r.token_type, "token_type");
	same(a.error, r.error, "error");
	same(a.error_description, r.error_description, "error_description");
	FUZZ_CHECK(a.expires_in == r.expires_in, "expires_in differs");
	oauth2_answer_free(&r);
	oauth2_answer_free(&a);
	sb_buf_free(&b);
	return 0;
}
