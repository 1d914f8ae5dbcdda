/* mapi-stub: text read from the store, made fit for a result cell.
 *
 * Messages and .ics files may come from other tools: their header values,
 * bodies and file names can hold invalid UTF-8, control characters or line
 * breaks where the catalog's types allow none.  One such item must never
 * make a whole List fail, so every string taken from a stored item goes
 * through here: invalid bytes become U+FFFD, and characters the type does
 * not allow become a space (TEXT) or are dropped (MEMO). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

char *mapi_clean_text(const char *s, bool memo)
{
	if (!s)
		return NULL;
	size_t len = strlen(s);
	struct sb_buf b;
	sb_buf_init(&b, 0);
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp = 0;
		size_t k = sb_utf8_decode(s + i, len - i, &cp);
		if (k == 0) {
			sb_buf_puts(&b, "\xEF\xBF\xBD");
			i++;
			continue;
		}
		bool ctrl =
		    cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
		if (memo && (cp == '\t' || cp == '\n' || cp == '\r'))
			ctrl = false;
		bool sep = cp == 0x2028 || cp == 0x2029;
		if (!memo && (sep || cp == '\t' || cp == '\n' || cp == '\r'))
			sb_buf_puts(&b, " ");
		else if (!ctrl)
			sb_buf_append(&b, p + i, k);
		i += k;
	}
	if (b.failed) {
		sb_buf_free(&b);
		return NULL;
	}
	char *out = sb_buf_steal(&b);
	return out ? out : strdup("");
}

static enum sb_status put(struct sb_result *r, const char *name,
			  const char *value, bool memo)
{
	if (!value)
		return SB_OK;
	char *c = mapi_clean_text(value, memo);
	if (!c)
		return sb_result_str(r, name, NULL);
	enum sb_status st = sb_result_str(r, name, c);
	free(c);
	return st;
}

enum sb_status mapi_put_text(struct sb_result *r, const char *name,
			     const char *value)
{
	return put(r, name, value, false);
}

enum sb_status mapi_put_memo(struct sb_result *r, const char *name,
			     const char *value)
{
	return put(r, name, value, true);
}

bool mapi_name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max || s[0] == '.')
		return false;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = sb_utf8_decode(s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7F ||
		    (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
		    cp == 0x2029 || cp == '/')
			return false;
		i += k;
	}
	return true;
}
