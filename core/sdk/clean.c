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

/* s made one line of text (memo: text with its tabs and line breaks):
 * invalid UTF-8 becomes U+FFFD, C0 and C1 controls and DEL are dropped,
 * tab, CR, LF, U+2028 and U+2029 become a space (memo: the three first
 * are kept, the separators too).  Bytes kept as they are go in runs, one
 * append each: a long body is mostly one run. */
static char *clean(const char *s, bool memo)
{
	if (!s)
		return NULL;
	size_t len = strlen(s);
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, ""); /* "" for an empty s, not NULL */
	size_t run = 0;	     /* start of the bytes kept as they are */
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 0x20 && c < 0x7f) ||
		    (memo && (c == '\t' || c == '\n' || c == '\r'))) {
			i++;
			continue;
		}
		uint32_t cp = c;
		size_t k = c < 0x80 ? 1 : sb_utf8_decode(s + i, len - i, &cp);
		const char *instead;
		if (k == 0) {
			instead = "\xEF\xBF\xBD";
			k = 1;
		} else if (cp == '\t' || cp == '\n' || cp == '\r' ||
			   cp == 0x2028 || cp == 0x2029) {
			if (memo) { /* a separator: kept */
				i += k;
				continue;
			}
			instead = " ";
		} else if (cp < 0x20 || cp == 0x7F ||
			   (cp >= 0x80 && cp <= 0x9F)) {
			instead = ""; /* a control: dropped */
		} else {
			i += k;
			continue;
		}
		if (i > run)
			sb_buf_append(&b, s + run, i - run);
		sb_buf_puts(&b, instead);
		i += k;
		run = i;
	}
	if (len > run)
		sb_buf_append(&b, s + run, len - run);
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
