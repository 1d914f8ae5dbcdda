/* Fuzz target: the cleaners of result text (core/sdk/clean.c,
 * sb_clean_text, sb_clean_memo, sb_clean_file_name).
 *
 * Input: any bytes, cut at the first NUL, cleaned both ways.
 * Invariants: each result equals what the reference below makes: the
 * former clean(), which went one code point at a time (clean.c now copies
 * runs of bytes): invalid UTF-8 a byte at a time as U+FFFD, C0 and C1 controls
 * and DEL dropped, tab, CR, LF, U+2028 and U+2029 a space in text and kept in
 * a memo; the result is valid UTF-8, text has no line break; a file name
 * is the text with no '/' or '\', never "." or "..", at most 255 bytes. */
#include "config.h"

#include <svcbroker/sdk.h>

#include "fuzz.h"

static char *reference(const char *s, bool memo)
{
	size_t len = strlen(s);
	/* each input byte gives at most three bytes (U+FFFD) */
	char *out = malloc(3 * len + 1);
	if (!out)
		abort();
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t k = sb_utf8_decode(s + i, len - i, &cp);
		if (k == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
			continue;
		}
		bool line = cp == '\t' || cp == '\n' || cp == '\r';
		bool sep = cp == 0x2028 || cp == 0x2029;
		bool ctrl =
		    cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
		if (!memo && (line || sep)) {
			out[o++] = ' ';
		} else if (!ctrl || (memo && line)) {
			memcpy(out + o, s + i, k);
			o += k;
		}
		i += k;
	}
	out[o] = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *s = fuzz_cstr(data, size);
	for (int memo = 0; memo <= 1; memo++) {
		char *got = memo ? sb_clean_memo(s) : sb_clean_text(s);
		char *want = reference(s, memo);
		FUZZ_CHECK(got && strcmp(got, want) == 0,
			   "%s: cleaned differently from the rules",
			   memo ? "memo" : "text");
		FUZZ_CHECK(sb_utf8_valid(got, strlen(got)), "not UTF-8");
		if (!memo)
			FUZZ_CHECK(!strpbrk(got, "\t\r\n"),
				   "a line break in text");
		free(want);
		free(got);
	}
	char *name = sb_clean_file_name(s);
	FUZZ_CHECK(name, "no file name");
	size_t n = strlen(name);
	FUZZ_CHECK(n <= 255 && sb_utf8_valid(name, n) &&
		       !strpbrk(name, "/\\\t\r\n") && strcmp(name, ".") != 0 &&
		       strcmp(name, "..") != 0,
		   "file name '%s'", name);
	free(name);
	free(s);
	return 0;
}
