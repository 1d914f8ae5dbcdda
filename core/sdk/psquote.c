/* PowerShell single-quoted string literals.  See <svcbroker/sdk.h>.
 *
 * Inside '...' PowerShell gives meaning to nothing but the single-quote
 * characters, and it counts five of them as one: the apostrophe U+0027 and
 * the typographic U+2018, U+2019, U+201A and U+201B.  A quote character
 * followed by another one stands for the second; any other ends the
 * literal.  Doubling each of the five therefore keeps the value whole. */
#include "config.h"

#include <svcbroker/sdk.h>

static bool ps_single_quote(uint32_t cp)
{
	return cp == 0x27 || cp == 0x2018 || cp == 0x2019 || cp == 0x201A ||
	       cp == 0x201B;
}

enum sb_status sb_ps_quote(struct sb_buf *b, const char *s, size_t len,
			   struct sb_error *err)
{
	for (size_t i = 0; i < len;) {
		if (s[i] == '\0')
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "value has a NUL byte at offset "
					    "%zu: a PowerShell string cannot "
					    "carry it",
					    i);
		size_t k = sb_utf8_decode(s + i, len - i, NULL);
		if (k == 0)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "value is not valid UTF-8 at byte "
					    "offset %zu",
					    i);
		i += k;
	}
	size_t was = b->len;
	bool ok = sb_buf_puts(b, "'");
	for (size_t i = 0; ok && i < len;) {
		uint32_t cp = 0;
		size_t k = sb_utf8_decode(s + i, len - i, &cp);
		if (ps_single_quote(cp))
			ok = sb_buf_append(b, s + i, k);
		ok = ok && sb_buf_append(b, s + i, k);
		i += k;
	}
	ok = ok && sb_buf_puts(b, "'");
	if (!ok) {
		if (!b->failed) {
			b->len = was;
			if (b->data)
				b->data[was] = '\0';
		}
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "the PowerShell command does not fit");
	}
	return SB_OK;
}
