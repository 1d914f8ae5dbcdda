/* Values from an upstream made fit for a result cell: text and memo
 * cleaning, attachment names and content types.  See <svcbroker/sdk.h>. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

#define FILE_NAME_MAX 255u
#define CONTENT_TYPE_MAX 255u
#define OCTET_STREAM "application/octet-stream"

static char *clean(const char *s, bool memo)
{
	if (!s)
		return NULL;
	size_t len = strlen(s);
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, ""); /* "" for an empty s, not NULL */
	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t k = sb_utf8_decode(s + i, len - i, &cp);
		if (k == 0) {
			sb_buf_puts(&b, "\xEF\xBF\xBD");
			i++;
			continue;
		}
		bool line = cp == '\t' || cp == '\n' || cp == '\r';
		bool sep = cp == 0x2028 || cp == 0x2029;
		bool ctrl =
		    cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
		if (!memo && (line || sep))
			sb_buf_puts(&b, " ");
		else if (!ctrl || (memo && line))
			sb_buf_append(&b, s + i, k);
		i += k;
	}
	return sb_buf_steal(&b);
}

char *sb_clean_text(const char *s) { return clean(s, false); }

char *sb_clean_memo(const char *s) { return clean(s, true); }

char *sb_clean_file_name(const char *s)
{
	char *n = clean(s ? s : "", false);
	if (!n)
		return NULL;
	for (char *q = n; *q; q++)
		if (*q == '/' || *q == '\\')
			*q = '_';
	if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		n[0] = '_';
	n[sb_utf8_cut(n, strlen(n), FILE_NAME_MAX)] = '\0';
	return n;
}

char *sb_clean_content_type(const char *s)
{
	const char *v = s ? s : "";
	size_t len = strnlen(v, CONTENT_TYPE_MAX + 1);
	const char *slash = memchr(v, '/', len);
	bool ok = len > 0 && len <= CONTENT_TYPE_MAX && slash && slash != v &&
		  slash[1] != '\0';
	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			ok = false;
	return strdup(ok ? v : OCTET_STREAM);
}

static enum sb_status put(struct sb_result *r, const char *name,
			  const char *value, bool memo)
{
	if (!value)
		return SB_OK;
	char *c = clean(value, memo);
	if (!c)
		return SB_ERR_INTERNAL; /* out of memory: the cell is not set */
	enum sb_status st = sb_result_str(r, name, c);
	free(c);
	return st;
}

enum sb_status sb_result_clean_text(struct sb_result *r, const char *name,
				    const char *value)
{
	return put(r, name, value, false);
}

enum sb_status sb_result_clean_memo(struct sb_result *r, const char *name,
				    const char *value)
{
	return put(r, name, value, true);
}
