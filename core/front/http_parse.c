/* A strict HTTP/1.1 request parser (see http_parse.h).
 *
 * Strict means: whatever two parsers could read two ways is refused
 * rather than guessed (a bare CR, white space before a colon, folded
 * lines, several lengths, a Transfer-Encoding other than chunked, a
 * chunk size that does not fit), so a proxy in front can never end a
 * request elsewhere than this server does. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "http_parse.h"

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long refuse(struct sbh_refusal *ref, int status, const char *code,
		   const char *why)
{
	ref->status = status;
	ref->code = code;
	ref->why = why;
	return -1;
}

/* The end of the line starting at p (the LF), or NULL. */
static char *line_end(char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

/* Cut the line [p, lf): its CR before LF if any.  False on a CR inside. */
static bool cut_line(char *p, char *lf)
{
	char *e = lf;
	if (e > p && e[-1] == '\r')
		e--;
	if (memchr(p, '\r', (size_t)(e - p)))
		return false;
	*e = '\0';
	return true;
}

static long parse_request_line(char *p, struct sbh_head *h,
			       struct sbh_refusal *ref)
{
	char *sp1 = strchr(p, ' ');
	if (!sp1 || sp1 == p)
		return refuse(ref, 400, "BadRequest",
			      "the request line is not METHOD TARGET "
			      "HTTP/1.x");
	for (char *q = p; q < sp1; q++)
		if (!is_tchar((unsigned char)*q))
			return refuse(ref, 400, "BadRequest",
				      "the method is not a token");
	if (sp1 - p > 15)
		return refuse(ref, 400, "BadRequest", "the method is too long");
	char *t = sp1 + 1;
	char *sp2 = strchr(t, ' ');
	if (!sp2 || sp2 == t)
		return refuse(ref, 400, "BadRequest",
			      "the request line is not METHOD TARGET "
			      "HTTP/1.x");
	for (char *q = t; q < sp2; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return refuse(ref, 400, "BadRequest",
				      "the request target holds a byte that "
				      "is not visible ASCII");
	const char *v = sp2 + 1;
	if (strncmp(v, "HTTP/", 5) != 0 || !(v[5] >= '0' && v[5] <= '9') ||
	    v[6] != '.' || !(v[7] >= '0' && v[7] <= '9') || v[8] != '\0')
		return refuse(ref, 400, "BadRequest",
			      "the request line does not end in HTTP/x.y");
	if (v[5] != '1')
		return refuse(ref, 505, "HttpVersionNotSupported",
			      "this server speaks HTTP/1.0 and HTTP/1.1");
	*sp1 = '\0';
	*sp2 = '\0';
	h->method = p;
	h->target = t;
	h->minor = v[7] - '0';
	return 0;
}

static long parse_field(char *p, struct sbh_head *h, struct sbh_refusal *ref)
{
	if (*p == ' ' || *p == '\t')
		return refuse(ref, 400, "BadRequest",
			      "a header line is folded (starts with white "
			      "space)");
	char *colon = strchr(p, ':');
	if (!colon || colon == p)
		return refuse(ref, 400, "BadRequest",
			      "a header line is not name: value");
	for (char *q = p; q < colon; q++)
		if (!is_tchar((unsigned char)*q))
			return refuse(ref, 400, "BadRequest",
				      "a header name is not a token (no white "
				      "space before the colon)");
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	char *e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (char *q = v; q < e; q++) {
		unsigned char c = (unsigned char)*q;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return refuse(ref, 400, "BadRequest",
				      "a header value holds a control "
				      "character");
	}
	if (h->nfields == SBH_MAX_FIELDS)
		return refuse(ref, 431, "HeadersTooLarge",
			      "the request has too many header lines");
	*colon = '\0';
	*e = '\0';
	h->fields[h->nfields].name = p;
	h->fields[h->nfields].value = v;
	h->nfields++;
	return 0;
}

long sbh_parse_head(char *buf, size_t len, struct sbh_head *h,
		    struct sbh_refusal *ref)
{
	char *p = buf, *end = buf + len;
	/* empty lines before the request line are skipped (RFC 9112 2.2) */
	while (p < end && (*p == '\r' || *p == '\n')) {
		if (*p == '\r' && (p + 1 >= end || p[1] != '\n'))
			break;
		p += *p == '\r' ? 2 : 1;
	}
	char *lf = line_end(p, end);
	if (!lf) {
		if ((size_t)(end - p) > SBH_MAX_LINE)
			return refuse(ref, 414, "UriTooLong",
				      "the request line is longer than 8 KiB");
		if (len > SBH_MAX_HEAD)
			return refuse(ref, 431, "HeadersTooLarge",
				      "the request head is larger than "
				      "16 KiB");
		return 0;
	}
	if ((size_t)(lf - p) > SBH_MAX_LINE)
		return refuse(ref, 414, "UriTooLong",
			      "the request line is longer than 8 KiB");
	/* is the head complete?  (an empty line ends it) */
	char *q = lf + 1, *head_end = NULL;
	while (q < end) {
		char *l = line_end(q, end);
		if (!l)
			break;
		if (l == q || (l == q + 1 && *q == '\r')) {
			head_end = l + 1;
			break;
		}
		q = l + 1;
	}
	if (!head_end) {
		if (len > SBH_MAX_HEAD)
			return refuse(ref, 431, "HeadersTooLarge",
				      "the request head is larger than "
				      "16 KiB");
		return 0;
	}
	if ((size_t)(head_end - buf) > SBH_MAX_HEAD)
		return refuse(ref, 431, "HeadersTooLarge",
			      "the request head is larger than 16 KiB");
	if (memchr(buf, '\0', (size_t)(head_end - buf)))
		return refuse(ref, 400, "BadRequest",
			      "the request head holds a NUL byte");
	memset(h, 0, sizeof(*h));
	if (!cut_line(p, lf))
		return refuse(ref, 400, "BadRequest",
			      "the request line holds a bare CR");
	if (parse_request_line(p, h, ref) < 0)
		return -1;
	q = lf + 1;
	for (;;) {
		char *l = line_end(q, end);
		if (l == q || (l == q + 1 && *q == '\r'))
			break;
		if (!cut_line(q, l))
			return refuse(ref, 400, "BadRequest",
				      "a header line holds a bare CR");
		if (parse_field(q, h, ref) < 0)
			return -1;
		q = l + 1;
	}
	return (long)(head_end - buf);
}

/* Does the comma-separated list v hold token tok (case-insensitive)? */
static bool list_has(const char *v, const char *tok)
{
	size_t n = strlen(tok);
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		const char *e = v;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - v) == n && strncasecmp(v, tok, n) == 0)
			return true;
		v = e;
	}
	return false;
}

bool sbh_framing(const struct sbh_head *h, struct sbh_framing *f,
		 struct sbh_refusal *ref)
{
	int n_cl = 0, n_te = 0, n_host = 0;
	const char *cl = NULL, *te = NULL;
	bool conn_close = false, conn_keep = false;
	memset(f, 0, sizeof(*f));
	f->content_length = -1;
	for (int i = 0; i < h->nfields; i++) {
		const char *k = h->fields[i].name, *v = h->fields[i].value;
		if (strcasecmp(k, "Content-Length") == 0) {
			n_cl++;
			cl = v;
		} else if (strcasecmp(k, "Transfer-Encoding") == 0) {
			n_te++;
			te = v;
		} else if (strcasecmp(k, "Host") == 0) {
			n_host++;
		} else if (strcasecmp(k, "Connection") == 0) {
			conn_close |= list_has(v, "close");
			conn_keep |= list_has(v, "keep-alive");
		} else if (strcasecmp(k, "Expect") == 0) {
			f->expect_100 = strcasecmp(v, "100-continue") == 0;
		} else if (strcasecmp(k, "Content-Type") == 0) {
			f->content_type = v;
		}
	}
	f->keep_alive = h->minor >= 1 ? !conn_close : conn_keep && !conn_close;
	if (n_cl > 1 || n_te > 1 || (n_cl && n_te)) {
		refuse(ref, 400, "AmbiguousLength",
		       "send one Content-Length header or Transfer-Encoding: "
		       "chunked, not several or both");
		return false;
	}
	if (n_host > 1 || (h->minor >= 1 && n_host == 0)) {
		refuse(ref, 400, "BadRequest",
		       "an HTTP/1.1 request needs exactly one Host header");
		return false;
	}
	if (te) {
		if (h->minor < 1 || strcasecmp(te, "chunked") != 0) {
			refuse(ref, 400, "BadTransferEncoding",
			       "the only Transfer-Encoding taken is chunked "
			       "(HTTP/1.1)");
			return false;
		}
		f->chunked = true;
	}
	if (cl) {
		uint64_t n = 0;
		if (!*cl) {
			refuse(ref, 400, "BadContentLength",
			       "Content-Length is empty");
			return false;
		}
		for (const char *p = cl; *p; p++) {
			if (*p < '0' || *p > '9') {
				refuse(ref, 400, "BadContentLength",
				       "Content-Length is not a number");
				return false;
			}
			if (n > (UINT64_C(1) << 53)) {
				refuse(ref, 413, "PayloadTooLarge",
				       "Content-Length is too large");
				return false;
			}
			n = n * 10 + (uint64_t)(*p - '0');
		}
		f->content_length = (int64_t)n;
	}
	return true;
}

enum {
	CH_SIZE = 0, /* the hex size, then an extension, then CRLF */
	CH_SIZE_LF,  /* CR seen */
	CH_DATA,
	CH_DATA_CR, /* CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER, /* trailer lines, then an empty line */
	CH_TRAILER_LF,
	CH_DONE,
};

enum sbh_chunk_result sbh_chunked_feed(struct sbh_chunked *c, const char *in,
				       size_t n, size_t *used,
				       const char **data, size_t *dlen,
				       uint64_t max)
{
	size_t i = 0;
	*data = NULL;
	*dlen = 0;
	while (i < n) {
		unsigned char ch = (unsigned char)in[i];
		switch (c->state) {
		case CH_SIZE:
			if (++c->line > SBH_MAX_CHUNK_LINE)
				goto bad;
			if (!c->ext && hexval(ch) >= 0) {
				/* 2^60 bounds every size this test lets by */
				if (c->left >> 56)
					goto too_large;
				c->left = c->left * 16 + (uint64_t)hexval(ch);
				c->digits = true;
				if (c->left > max || c->total + c->left > max)
					goto too_large;
			} else if (ch == ';' && c->digits) {
				c->ext = true;
			} else if (ch == '\r' && c->digits) {
				c->state = CH_SIZE_LF;
			} else if (ch == '\n' && c->digits) {
				goto size_done;
			} else if (!c->ext || ch < 0x20 || ch == 0x7f) {
				if (!(c->ext && ch == '\t'))
					goto bad;
			}
			i++;
			continue;
		case CH_SIZE_LF:
			if (ch != '\n')
				goto bad;
		size_done:
			i++;
			c->line = 0;
			c->ext = false;
			c->digits = false;
			if (c->left == 0) {
				c->state = CH_TRAILER;
				continue;
			}
			c->state = CH_DATA;
			continue;
		case CH_DATA: {
			size_t take = n - i;
			if ((uint64_t)take > c->left)
				take = (size_t)c->left;
			*data = in + i;
			*dlen = take;
			c->left -= take;
			c->total += take;
			i += take;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			*used = i;
			return SBH_CHUNK_DATA;
		}
		case CH_DATA_CR:
			if (ch == '\n') {
				c->state = CH_SIZE;
			} else if (ch == '\r') {
				c->state = CH_DATA_LF;
			} else {
				goto bad;
			}
			i++;
			continue;
		case CH_DATA_LF:
			if (ch != '\n')
				goto bad;
			c->state = CH_SIZE;
			i++;
			continue;
		case CH_TRAILER:
			/* a trailer field is read and dropped; an empty line
			 * ends the body */
			if (ch == '\n' || ch == '\r') {
				bool empty = c->line == 0;
				if (ch == '\r') {
					c->state = CH_TRAILER_LF;
					c->digits =
					    empty; /* remembers "empty" */
					i++;
					continue;
				}
				i++;
				c->line = 0;
				if (empty) {
					c->state = CH_DONE;
					*used = i;
					return SBH_CHUNK_END;
				}
				continue;
			}
			if (ch == 0 || ++c->line > SBH_MAX_CHUNK_LINE)
				goto bad;
			i++;
			continue;
		case CH_TRAILER_LF:
			if (ch != '\n')
				goto bad;
			i++;
			c->line = 0;
			c->state = CH_TRAILER;
			if (c->digits) {
				c->digits = false;
				c->state = CH_DONE;
				*used = i;
				return SBH_CHUNK_END;
			}
			continue;
		default: /* CH_DONE */
			*used = i;
			return SBH_CHUNK_END;
		}
	}
	*used = i;
	return c->state == CH_DONE ? SBH_CHUNK_END : SBH_CHUNK_MORE;
bad:
	*used = i;
	return SBH_CHUNK_BAD;
too_large:
	*used = i;
	return SBH_CHUNK_TOO_LARGE;
}

bool sbh_path_decode(char *target)
{
	char *p = target;
	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strchr(p + (p[4] == ':' ? 7 : 8), '/');
		if (!p)
			return false;
	}
	if (*p != '/')
		return false;
	char *w = target;
	while (*p && *p != '?' && *p != '#') {
		if (p[0] == '%') {
			int hi = hexval((unsigned char)p[1]);
			int lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
			int v = hi * 16 + lo;
			if (hi >= 0 && lo >= 0 && v != 0 && v != '/') {
				*w++ = (char)v;
				p += 3;
				continue;
			}
		}
		*w++ = *p++;
	}
	*w = '\0';
	return true;
}
