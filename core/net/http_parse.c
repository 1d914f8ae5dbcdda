/* libsvcbroker-net: HTTP response pieces read by hand — the status line,
 * header lines, a whole response as text (fixtures), Retry-After — and
 * the response struct's setters.  Everything here reads outside input:
 * tests/fuzz/fuzz_http_response.c fuzzes it. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <svcbroker/http.h>

#include "http_int.h"

/* ---- the response struct ------------------------------------------------ */

void sb_http_response_free(struct sb_http_response *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->reason);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *sb_http_header(const struct sb_http_response *r, const char *name)
{
	if (!r || !name)
		return NULL;
	for (size_t i = 0; i < r->n_headers; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

bool sb_http_response_set_status(struct sb_http_response *resp, int status,
				 const char *reason)
{
	char *r = strdup(reason ? reason : "");
	if (!r)
		return false;
	free(resp->reason);
	resp->reason = r;
	resp->status = status;
	return true;
}

static bool add_header_n(struct sb_http_response *resp, const char *name,
			 size_t nlen, const char *value, size_t vlen)
{
	if (resp->n_headers >= SB_HTTP_HEADERS_MAX)
		return true; /* the rest is not kept */
	struct sb_http_header *nh =
	    realloc(resp->headers, (resp->n_headers + 1) * sizeof(*nh));
	if (!nh)
		return false;
	resp->headers = nh;
	char *n = strndup(name, nlen);
	char *v = strndup(value, vlen);
	if (!n || !v) {
		free(n);
		free(v);
		return false;
	}
	nh[resp->n_headers].name = n;
	nh[resp->n_headers].value = v;
	resp->n_headers++;
	return true;
}

bool sb_http_response_add_header(struct sb_http_response *resp,
				 const char *name, const char *value)
{
	if (!name || !value)
		return false;
	return add_header_n(resp, name, strlen(name), value, strlen(value));
}

bool sb_http_response_set_body(struct sb_http_response *resp, const void *data,
			       size_t len)
{
	char *b = malloc(len + 1);
	if (!b)
		return false;
	if (len)
		memcpy(b, data, len);
	b[len] = '\0';
	free(resp->body);
	resp->body = b;
	resp->body_len = len;
	return true;
}

/* ---- lines -----------------------------------------------------------------
 */

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "HTTP/1.1 200 OK" (the reason may be empty or absent).  true and the
 * code and reason (a span of line) if it is a status line. */
bool sbn_http_status_line(const char *line, size_t len, int *code,
			  const char **reason, size_t *reason_len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len < 12 || memcmp(line, "HTTP/", 5))
		return false;
	size_t i = 5;
	while (i < len && line[i] != ' ')
		i++;
	if (i + 4 > len || line[i] != ' ')
		return false;
	i++;
	int c = 0;
	for (int k = 0; k < 3; k++, i++) {
		if (!isdigit((unsigned char)line[i]))
			return false;
		c = c * 10 + (line[i] - '0');
	}
	if (c < 100 || (i < len && line[i] != ' '))
		return false;
	if (i < len)
		i++;
	*code = c;
	*reason = line + i;
	*reason_len = len - i;
	return true;
}

enum sbn_line sbn_http_header_line(struct sb_http_response *resp,
				   const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (!len)
		return SBN_LINE_END;
	/* a bare CR or a NUL inside a line is refused, not carried on */
	if (memchr(line, '\r', len) || memchr(line, '\0', len))
		return SBN_LINE_BAD;
	int code;
	const char *reason;
	size_t rlen;
	if (sbn_http_status_line(line, len, &code, &reason, &rlen)) {
		/* a new response (after 100 Continue, a 401 challenge or a
		 * redirect libcurl followed): only the last one counts */
		for (size_t i = 0; i < resp->n_headers; i++) {
			free(resp->headers[i].name);
			free(resp->headers[i].value);
		}
		resp->n_headers = 0;
		char *r = strndup(reason, rlen);
		if (!r)
			return SBN_LINE_NOMEM;
		free(resp->reason);
		resp->reason = r;
		resp->status = code;
		return SBN_LINE_STATUS;
	}
	if (is_ows(line[0])) {
		/* obsolete line folding: continues the last header */
		if (!resp->n_headers)
			return SBN_LINE_BAD;
		size_t i = 0;
		while (i < len && is_ows(line[i]))
			i++;
		while (len > i && is_ows(line[len - 1]))
			len--;
		struct sb_http_header *h = &resp->headers[resp->n_headers - 1];
		size_t old = strlen(h->value), sp = old ? 1 : 0;
		if (i == len) /* nothing to add */
			return SBN_LINE_HEADER;
		if (old + len - i > SB_HTTP_HEADER_MAX)
			return SBN_LINE_BAD;
		char *v = realloc(h->value, old + sp + (len - i) + 1);
		if (!v)
			return SBN_LINE_NOMEM;
		if (sp)
			v[old] = ' ';
		memcpy(v + old + sp, line + i, len - i);
		v[old + sp + len - i] = '\0';
		h->value = v;
		return SBN_LINE_HEADER;
	}
	size_t n = 0;
	while (n < len && is_tchar((unsigned char)line[n]))
		n++;
	if (!n || n >= len || line[n] != ':')
		return SBN_LINE_BAD;
	size_t v = n + 1;
	while (v < len && is_ows(line[v]))
		v++;
	size_t e = len;
	while (e > v && is_ows(line[e - 1]))
		e--;
	if (e - v > SB_HTTP_HEADER_MAX)
		return SBN_LINE_BAD;
	if (!add_header_n(resp, line, n, line + v, e - v))
		return SBN_LINE_NOMEM;
	return SBN_LINE_HEADER;
}

enum sb_status sb_http_response_parse(struct sb_http_response *resp,
				      const char *text, size_t len,
				      struct sb_error *err)
{
	if (!text)
		len = 0;
	size_t pos = 0;
	bool first = true;
	for (unsigned lines = 0;; lines++) {
		if (pos >= len)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    first ? "empty response"
						  : "response headers end "
						    "without a blank line");
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		const char *line = text + pos;
		size_t llen = end - pos;
		pos = end;
		if (first) {
			int code;
			const char *r;
			size_t rl;
			if (!sbn_http_status_line(line, llen, &code, &r, &rl))
				return sb_error_set(
				    err, SB_ERR_INVALID_INPUT, NULL,
				    "line 1: not an HTTP status line "
				    "(\"HTTP/1.1 200 OK\")");
			first = false;
		} else if (lines > SB_HTTP_HEADERS_MAX * 4) {
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "too many header lines");
		}
		switch (sbn_http_header_line(resp, line, llen)) {
		case SBN_LINE_END:
			if (!resp->reason && !sb_http_response_set_status(
						 resp, resp->status, ""))
				goto nomem;
			if (!sb_http_response_set_body(resp, text + pos,
						       len - pos))
				goto nomem;
			return SB_OK;
		case SBN_LINE_BAD:
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "line %u: not a header line "
					    "(\"Name: value\")",
					    lines + 1);
		case SBN_LINE_NOMEM:
			goto nomem;
		default:
			break;
		}
	}
nomem:
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}

/* ---- Retry-After ------------------------------------------------------------
 */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int month_of(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (!strncmp(s, months[i], 3))
			return i;
	return -1;
}

/* digits at *p, exactly n of them (n 0: 1 to 9 of them) */
static bool num(const char **p, int n, long *out)
{
	long v = 0;
	int k = 0;
	while (isdigit((unsigned char)**p) && (n ? k < n : k < 9)) {
		v = v * 10 + (**p - '0');
		(*p)++;
		k++;
	}
	if (!k || (n && k != n))
		return false;
	*out = v;
	return true;
}

static bool lit(const char **p, const char *s)
{
	size_t n = strlen(s);
	if (strncmp(*p, s, n))
		return false;
	*p += n;
	return true;
}

/* "HH:MM:SS" */
static bool hms(const char **p, long *h, long *m, long *s)
{
	return num(p, 2, h) && lit(p, ":") && num(p, 2, m) && lit(p, ":") &&
	       num(p, 2, s) && *h < 24 && *m < 60 && *s < 61;
}

static bool http_date(const char *v, int64_t *out)
{
	const char *p = v;
	long d, y, h, mi, s;
	int mon;
	while (isalpha((unsigned char)*p))
		p++;
	if (p - v < 3)
		return false;
	if (*p == ',') { /* IMF-fixdate or RFC 850 */
		p++;
		if (!lit(&p, " ") || !num(&p, 2, &d))
			return false;
		char sep = *p;
		if (sep != ' ' && sep != '-')
			return false;
		p++;
		if ((mon = month_of(p)) < 0)
			return false;
		p += 3;
		if (*p++ != sep)
			return false;
		if (sep == ' ') {
			if (!num(&p, 4, &y))
				return false;
		} else {
			if (!num(&p, 2, &y))
				return false;
			y += y < 70 ? 2000 : 1900;
		}
		if (!lit(&p, " ") || !hms(&p, &h, &mi, &s) || !lit(&p, " GMT"))
			return false;
	} else { /* asctime: "Sun Nov  6 08:49:37 1994" */
		if (!lit(&p, " ") || (mon = month_of(p)) < 0)
			return false;
		p += 3;
		if (!lit(&p, " "))
			return false;
		if (*p == ' ')
			p++;
		if (!num(&p, 0, &d) || d > 31 || !lit(&p, " ") ||
		    !hms(&p, &h, &mi, &s) || !lit(&p, " ") || !num(&p, 4, &y))
			return false;
	}
	while (is_ows(*p))
		p++;
	if (*p || d < 1 || d > 31 || y < 1970 || y > 9999)
		return false;
	struct tm tm = {0};
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = mon;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)s;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t;
	return true;
}

#define RETRY_AFTER_MAX_MS (24 * 3600 * 1000LL)

bool sb_http_parse_retry_after(const char *value, int64_t now_s, int64_t *ms)
{
	if (!value)
		return false;
	while (is_ows(*value))
		value++;
	if (isdigit((unsigned char)*value)) {
		const char *p = value;
		int64_t v = 0;
		while (isdigit((unsigned char)*p)) {
			if (v < RETRY_AFTER_MAX_MS)
				v = v * 10 + (*p - '0');
			p++;
		}
		while (is_ows(*p))
			p++;
		if (*p)
			return false;
		v = v >= RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS
						   : v * 1000;
		if (ms)
			*ms = v;
		return true;
	}
	int64_t t;
	if (!http_date(value, &t))
		return false;
	int64_t d = t - now_s;
	if (d < 0)
		d = 0;
	if (ms)
		*ms = d >= RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS
						     : d * 1000;
	return true;
}
