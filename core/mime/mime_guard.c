/* svcbroker — the limits of libsvcbroker-mime, enforced on the raw bytes
 * before GMime parses them (GMime has no cap on parts, nesting or header
 * fields).  Only line scanning: all MIME parsing is GMime's. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "mime_int.h"

/* Next line of [p, end): *le is the end of its text (before CR LF or LF);
 * returns the start of the next line. */
static const char *next_line(const char *p, const char *end, const char **le)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl) {
		*le = end;
		return end;
	}
	*le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
	return nl + 1;
}

/* A line that a multipart reader may take for a delimiter: "--" and a
 * character that can start a boundary (RFC 2046 bchars, not a space: a
 * "-- " signature line is no delimiter). */
static bool delim_like(const char *p, const char *le)
{
	return le - p >= 3 && p[0] == '-' && p[1] == '-' && p[2] != ' ' &&
	       p[2] != '\t';
}

static bool has_ci(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (!strncasecmp(p + i, needle, k))
			return true;
	return false;
}

/* A Content-Type field (its first line at p, continuation lines after)
 * naming a container: multipart/... or message/... before any ';'. */
static bool container_ctype(const char *p, const char *end)
{
	if (end - p < 13 || strncasecmp(p, "content-type:", 13) != 0)
		return false;
	const char *q = p + 13;
	for (;;) {
		const char *le;
		const char *next = next_line(q, end, &le);
		const char *semi = memchr(q, ';', (size_t)(le - q));
		const char *stop = semi ? semi : le;
		if (has_ci(q, (size_t)(stop - q), "multipart/") ||
		    has_ci(q, (size_t)(stop - q), "message/"))
			return true;
		if (semi || next >= end || (*next != ' ' && *next != '\t'))
			return false;
		q = next;
	}
}

static bool guard(const char *raw, size_t len, struct mime_guard *g,
		  const char **why, bool headers_only)
{
	memset(g, 0, sizeof(*g));
	g->keep = len;
	if (len > MIME_MAX_BYTES) {
		*why = "message larger than 64 MiB";
		return false;
	}
	const char *p = raw, *end = raw + len;
	bool in_top = true;
	size_t delims = 0, containers = 0;
	while (p < end) {
		const char *le;
		const char *next = next_line(p, end, &le);
		if (in_top) {
			if (le == p) {
				in_top = false;
				g->header_len = (size_t)(next - raw);
				g->blank_at = (size_t)(p - raw);
				if (headers_only) {
					p = next;
					break;
				}
			} else if (*p != ' ' && *p != '\t' &&
				   ++g->headers == MIME_MAX_HEADERS + 1) {
				g->hdr_cut = (size_t)(p - raw);
			}
		}
		if (delim_like(p, le) && ++delims > MIME_MAX_DELIMS)
			break;
		if ((*p == 'c' || *p == 'C') && container_ctype(p, end) &&
		    ++containers > MIME_MAX_CONTAINERS)
			break;
		p = next;
	}
	if (in_top)
		g->header_len = g->blank_at = (size_t)(p - raw);
	if (headers_only) {
		g->keep = g->header_len;
	} else if (p < end) {
		g->keep = (size_t)(p - raw);
		g->cut = true;
	}
	return true;
}

bool mime_guard(const char *raw, size_t len, struct mime_guard *g,
		const char **why)
{
	return guard(raw, len, g, why, false);
}

bool mime_guard_headers(const char *raw, size_t len, struct mime_guard *g,
			const char **why)
{
	return guard(raw, len, g, why, true);
}
