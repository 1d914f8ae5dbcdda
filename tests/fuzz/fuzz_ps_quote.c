/* Fuzz target: PowerShell single-quoted literals (core/sdk/psquote.c,
 * sb_ps_quote).
 *
 * Input: any bytes, quoted as one value.
 * Invariants: the value is refused exactly when it holds a NUL byte or
 * invalid UTF-8, and a refusal leaves the buffer as it was; an accepted
 * value is appended after what the buffer held, and the appended text,
 * read back as PowerShell reads a single-quoted string (below, written
 * from the language's rules, not from sb_ps_quote), is one literal that
 * ends exactly at the end and gives the value back. */
#include "config.h"

#include <svcbroker/sdk.h>

#include "fuzz.h"

#define PREFIX "Set-Mailbox -Identity "

/* The five characters PowerShell takes as a single quote. */
static bool is_quote(uint32_t cp)
{
	return cp == 0x27 || cp == 0x2018 || cp == 0x2019 || cp == 0x201A ||
	       cp == 0x201B;
}

/* A single-quoted literal at s[0..len): it opens with a quote character;
 * inside, a quote character followed by another stands for the second
 * one, and a quote character followed by anything else closes the
 * literal.  Appends the value to out and returns the length the literal
 * takes, or 0 when s does not hold a closed literal. */
static size_t ps_unquote(const char *s, size_t len, struct sb_buf *out)
{
	uint32_t cp;
	size_t k = sb_utf8_decode(s, len, &cp);
	if (k == 0 || !is_quote(cp))
		return 0;
	size_t i = k;
	while (i < len) {
		k = sb_utf8_decode(s + i, len - i, &cp);
		if (k == 0)
			return 0;
		if (is_quote(cp)) {
			uint32_t next;
			size_t k2 =
			    i + k < len
				? sb_utf8_decode(s + i + k, len - i - k, &next)
				: 0;
			if (k2 == 0 || !is_quote(next))
				return i + k; /* closed */
			sb_buf_append(out, s + i + k, k2);
			i += k + k2;
			continue;
		}
		sb_buf_append(out, s + i, k);
		i += k;
	}
	return 0; /* never closed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const char *s = (const char *)data;
	bool acceptable = strnlen(s, size) == size && sb_utf8_valid(s, size);
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, PREFIX);
	size_t plen = b.len;
	struct sb_error err = {0};
	enum sb_status st = sb_ps_quote(&b, size ? s : NULL, size, &err);
	if (!acceptable) {
		FUZZ_CHECK(st == SB_ERR_INVALID_INPUT && err.message[0],
			   "a value with NUL or invalid UTF-8 gave status %d",
			   (int)st);
		FUZZ_CHECK(b.len == plen && strcmp(b.data, PREFIX) == 0,
			   "a refusal changed the buffer");
		sb_buf_free(&b);
		return 0;
	}
	FUZZ_CHECK(st == SB_OK, "a valid value refused: %s", err.message);
	FUZZ_CHECK(memcmp(b.data, PREFIX, plen) == 0,
		   "the buffer's content changed");
	FUZZ_CHECK(b.data[b.len] == '\0', "not NUL-terminated");
	struct sb_buf back;
	sb_buf_init(&back, 0);
	sb_buf_puts(&back, "");
	size_t used = ps_unquote(b.data + plen, b.len - plen, &back);
	FUZZ_CHECK(used == b.len - plen,
		   "the literal ends after %zu of %zu bytes", used,
		   b.len - plen);
	FUZZ_CHECK(!back.failed && back.len == size &&
		       memcmp(back.data, s, size) == 0,
		   "the literal reads back as %zu other bytes", back.len);
	sb_buf_free(&back);
	sb_buf_free(&b);
	return 0;
}
