/* svcbroker — RFC 5322 / MIME message builder and reader.
 *
 * The builder writes only 7-bit ASCII with CRLF line endings: header text
 * that is not plain ASCII goes into RFC 2047 encoded-words (UTF-8, "B"),
 * text parts are quoted-printable, attachments base64.  Every header line
 * is folded to at most 78 characters.
 *
 * The reader is tolerant (LF or CRLF, odd encodings, broken MIME) but
 * bounded: a cap on headers, parts and nesting depth; whatever lies beyond
 * a cap is ignored rather than parsed.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <svcbroker/mime.h>

#define LINE_MAX_COLS 78
#define EW_OVERHEAD 12 /* "=?utf-8?B?" + "?=" */
#define MSGID_MAX 256

#define MAX_HEADERS 1000
#define MAX_PARTS 200
#define MAX_DEPTH 10
#define MAX_ADDRESSES 1000
#define MAX_PARAM_SECTIONS 64
#define FILE_NAME_MAX 255 /* bytes of an attachment's name */
#define EW_SCAN_MAX 2048  /* longest encoded-word the reader accepts */

/* ====================================================================
 * Validation
 * ================================================================== */

static enum sb_status check_header_text(const char *field, const char *s,
					struct sb_error *err)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n')
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: contains CR or LF", field);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: contains a control character",
					    field);
	}
	if (!sb_utf8_valid(s, len))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: is not valid UTF-8", field);
	return SB_OK;
}

static enum sb_status check_body_text(const char *field, const char *s,
				      struct sb_error *err)
{
	if (!sb_utf8_valid(s, strlen(s)))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: is not valid UTF-8", field);
	return SB_OK;
}

static bool is_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static bool is_atext(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool is_token_char(unsigned char c)
{
	/* RFC 2045 token: any printable ASCII except SPACE and tspecials */
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* "type/subtype" with optional parameters, printable ASCII only. */
static bool content_type_ok(const char *s)
{
	const char *p = s;
	size_t n = 0;
	while (is_token_char((unsigned char)*p)) {
		p++;
		n++;
	}
	if (!n || *p != '/')
		return false;
	p++;
	n = 0;
	while (is_token_char((unsigned char)*p)) {
		p++;
		n++;
	}
	if (!n)
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return strlen(s) <= 200;
}

/* ====================================================================
 * Folding writer: tracks the column of the current header line.
 * ================================================================== */

struct fw {
	struct sb_buf *b;
	size_t col;
};

static void fw_raw(struct fw *w, const char *s, size_t n)
{
	sb_buf_append(w->b, s, n);
	w->col += n;
}

static void fw_str(struct fw *w, const char *s) { fw_raw(w, s, strlen(s)); }

/* Write a separating space, or fold first when tok_len would not fit. */
static void fw_sep(struct fw *w, size_t tok_len)
{
	if (w->col + 1 + tok_len > LINE_MAX_COLS && w->col > 1) {
		sb_buf_append(w->b, "\r\n ", 3);
		w->col = 1;
	} else {
		fw_raw(w, " ", 1);
	}
}

static void fw_end(struct fw *w)
{
	sb_buf_append(w->b, "\r\n", 2);
	w->col = 0;
}

/* Write s as a run of encoded-words, each preceded by a space or a fold.
 * No UTF-8 sequence is split between two words. */
static void fw_encoded_words(struct fw *w, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	while (len > 0) {
		/* room left on this line after " " and the overhead */
		size_t room = 0;
		if (w->col + 1 + EW_OVERHEAD < LINE_MAX_COLS)
			room = LINE_MAX_COLS - w->col - 1 - EW_OVERHEAD;
		size_t bytes = room / 4 * 3;
		if (bytes < 6 && w->col > 1) {
			sb_buf_append(w->b, "\r\n", 2);
			w->col = 0;
			room = LINE_MAX_COLS - 1 - EW_OVERHEAD;
			bytes = room / 4 * 3;
		}
		if (bytes > 45) /* an encoded-word is at most 75 characters */
			bytes = 45;
		size_t n = sb_utf8_cut((const char *)u, len, bytes);
		char *b64 = sb_base64_encode(u, n, 0);
		if (!b64) {
			w->b->failed = true;
			return;
		}
		fw_raw(w, " ", 1);
		fw_str(w, "=?utf-8?B?");
		fw_str(w, b64);
		fw_str(w, "?=");
		free(b64);
		u += n;
		len -= n;
	}
}

/* Unstructured text (Subject): plain words when plain ASCII allows it,
 * otherwise encoded-words. */
static void fw_unstructured(struct fw *w, const char *s)
{
	size_t len = strlen(s);
	bool plain = is_ascii(s, len) && !strstr(s, "=?") && len > 0 &&
		     s[0] != ' ' && s[len - 1] != ' ' && !strstr(s, "  ") &&
		     !strchr(s, '\t');
	if (plain) {
		/* every word must fit on a folded line */
		const char *p = s;
		while (*p && plain) {
			size_t n = strcspn(p, " ");
			if (n + 1 > LINE_MAX_COLS - 1)
				plain = false;
			p += n;
			while (*p == ' ')
				p++;
		}
	}
	if (!plain) {
		if (len)
			fw_encoded_words(w, s, len);
		return;
	}
	const char *p = s;
	while (*p) {
		size_t n = strcspn(p, " ");
		fw_sep(w, n);
		fw_raw(w, p, n);
		p += n;
		if (*p == ' ')
			p++;
	}
}

/* ====================================================================
 * Addresses: "addr" or "Display Name <addr>"
 * ================================================================== */

struct addr {
	char display[512];
	char email[320];
};

static enum sb_status split_address(const char *field, const char *s,
				    struct addr *a, struct sb_error *err)
{
	enum sb_status st = check_header_text(field, s, err);
	if (st != SB_OK)
		return st;
	a->display[0] = a->email[0] = '\0';
	const char *lt = strrchr(s, '<');
	size_t len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (lt && len && s[len - 1] == '>') {
		size_t elen = (size_t)(s + len - 1 - (lt + 1));
		if (elen >= sizeof(a->email))
			goto bad;
		memcpy(a->email, lt + 1, elen);
		a->email[elen] = '\0';
		const char *d = s;
		const char *de = lt;
		while (d < de && (*d == ' ' || *d == '\t'))
			d++;
		while (de > d && (de[-1] == ' ' || de[-1] == '\t'))
			de--;
		if (de - d >= 2 && *d == '"' && de[-1] == '"') {
			d++;
			de--;
		}
		size_t dlen = (size_t)(de - d);
		if (dlen >= sizeof(a->display))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: display name too long", field);
		/* unescape a quoted display name */
		size_t j = 0;
		for (size_t i = 0; i < dlen; i++) {
			if (d[i] == '\\' && i + 1 < dlen)
				i++;
			a->display[j++] = d[i];
		}
		a->display[j] = '\0';
	} else {
		const char *b = s;
		while (*b == ' ' || *b == '\t')
			b++;
		if (len < (size_t)(b - s) ||
		    len - (size_t)(b - s) >= sizeof(a->email))
			goto bad;
		memcpy(a->email, b, len - (size_t)(b - s));
		a->email[len - (size_t)(b - s)] = '\0';
	}
	if (!sb_email_valid(a->email))
		goto bad;
	return SB_OK;
bad:
	return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			    "%s: not a valid email address", field);
}

static void fw_phrase(struct fw *w, const char *d)
{
	size_t len = strlen(d);
	bool atoms = is_ascii(d, len) && d[0] != ' ' && d[len - 1] != ' ' &&
		     !strstr(d, "  ") && !strstr(d, "=?");
	for (size_t i = 0; atoms && i < len; i++)
		if (d[i] != ' ' && !is_atext((unsigned char)d[i]))
			atoms = false;
	if (atoms) {
		const char *p = d;
		while (*p) {
			size_t n = strcspn(p, " ");
			if (n + 2 > LINE_MAX_COLS) {
				atoms = false;
				break;
			}
			p += n;
			if (*p)
				p++;
		}
	}
	if (atoms) {
		const char *p = d;
		while (*p) {
			size_t n = strcspn(p, " ");
			fw_sep(w, n);
			fw_raw(w, p, n);
			p += n;
			if (*p)
				p++;
		}
		return;
	}
	if (is_ascii(d, len) && len < 60 && !strstr(d, "=?")) {
		/* quoted-string on one line */
		struct sb_buf q;
		sb_buf_init(&q, 0);
		sb_buf_append(&q, "\"", 1);
		for (size_t i = 0; i < len; i++) {
			if (d[i] == '"' || d[i] == '\\')
				sb_buf_append(&q, "\\", 1);
			sb_buf_append(&q, d + i, 1);
		}
		sb_buf_append(&q, "\"", 1);
		if (q.failed) {
			w->b->failed = true;
		} else {
			fw_sep(w, q.len);
			fw_raw(w, q.data, q.len);
		}
		sb_buf_free(&q);
		return;
	}
	fw_encoded_words(w, d, len);
}

/* One address header: "Name: a, b <c>".  Every entry validated first. */
static enum sb_status put_address_header(struct sb_buf *out, const char *name,
					 const char *field,
					 const char *const *list, size_t n,
					 struct sb_error *err)
{
	if (!n)
		return SB_OK;
	struct addr *a = calloc(n, sizeof(*a));
	if (!a)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	for (size_t i = 0; i < n; i++) {
		enum sb_status st =
		    split_address(field, list[i] ? list[i] : "", &a[i], err);
		if (st != SB_OK) {
			free(a);
			return st;
		}
	}
	struct fw w = {out, 0};
	fw_str(&w, name);
	fw_str(&w, ":");
	for (size_t i = 0; i < n; i++) {
		if (a[i].display[0])
			fw_phrase(&w, a[i].display);
		size_t el = strlen(a[i].email) + 2 + (i + 1 < n);
		fw_sep(&w, el);
		fw_str(&w, "<");
		fw_str(&w, a[i].email);
		fw_str(&w, ">");
		if (i + 1 < n)
			fw_str(&w, ",");
	}
	fw_end(&w);
	free(a);
	return SB_OK;
}

/* ====================================================================
 * Bodies
 * ================================================================== */

static const char hexd[] = "0123456789ABCDEF";

/* Quoted-printable (RFC 2045 6.7): lines <= 76, hard line breaks CRLF
 * (LF, CRLF and lone CR in the input all become CRLF). */
static void put_qp(struct sb_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t col = 0;
	while (*p) {
		if (*p == '\r' || *p == '\n') {
			if (*p == '\r' && p[1] == '\n')
				p++;
			p++;
			sb_buf_append(b, "\r\n", 2);
			col = 0;
			continue;
		}
		char enc[3];
		size_t n;
		unsigned char c = *p;
		bool at_eol = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !at_eol)) {
			enc[0] = (char)c;
			n = 1;
		} else {
			enc[0] = '=';
			enc[1] = hexd[c >> 4];
			enc[2] = hexd[c & 15];
			n = 3;
		}
		/* keep room for the soft break "=" unless this ends the line
		 * (the end of the text is followed by one) */
		size_t limit = at_eol && p[1] != '\0' ? 76 : 75;
		if (col + n > limit) {
			sb_buf_append(b, "=\r\n", 3);
			col = 0;
		}
		/* a line must not start with a dot alone or "From " issues are
		 * the transport's business; QP output is plain ASCII */
		sb_buf_append(b, enc, n);
		col += n;
		p++;
	}
	/* Text that does not end with a line break ends with a soft one, so
	 * that readers give back exactly the text (no added newline). */
	if (col)
		sb_buf_append(b, "=\r\n", 3);
}

/* in_multipart: a delimiter follows, and the line break before it
 * belongs to the delimiter. */
static void put_text_part(struct sb_buf *b, const char *subtype,
			  const char *text, bool in_multipart)
{
	sb_buf_printf(b,
		      "Content-Type: text/%s; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		      subtype);
	put_qp(b, text);
	if (in_multipart)
		sb_buf_append(b, "\r\n", 2);
}

static bool make_boundary(char out[48])
{
	unsigned char r[12];
	if (!sb_random_bytes(r, sizeof(r)))
		return false;
	memcpy(out, "=_sb_", 5);
	for (size_t i = 0; i < sizeof(r); i++) {
		out[5 + 2 * i] = hexd[r[i] >> 4];
		out[6 + 2 * i] = hexd[r[i] & 15];
	}
	out[5 + 2 * sizeof(r)] = '\0';
	return true;
}

/* Percent-encode for RFC 2231 (attribute-char stays as is). */
static void pct_encode(struct sb_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p)) {
			sb_buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
			sb_buf_append(b, e, 3);
		}
	}
}

/* Write a validated content type: type/subtype, then its parameters
 * (attribute=token or attribute="quoted"), folded between parameters.
 * A "name" parameter is dropped: the attachment's name replaces it.
 * false if a parameter is malformed. */
static bool put_ctype(struct fw *w, const char *ct)
{
	size_t tl = strcspn(ct, ";");
	while (tl && (ct[tl - 1] == ' ' || ct[tl - 1] == '\t'))
		tl--;
	fw_raw(w, ct, tl);
	const char *p = ct + strcspn(ct, ";");
	while (*p == ';') {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *a = p;
		while (is_token_char((unsigned char)*p) && *p != '*')
			p++;
		size_t al = (size_t)(p - a);
		if (*p == '*') /* RFC 2231 attribute*: keep the star */
			p++;
		if (!al || *p != '=')
			return false;
		p++;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p != '"')
				return false;
			p++;
		} else {
			const char *v = p;
			while (is_token_char((unsigned char)*p))
				p++;
			if (p == v)
				return false;
		}
		const char *e = p;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ';')
			return false;
		if (al == 4 && !strncasecmp(a, "name", 4))
			continue;
		fw_str(w, ";");
		fw_sep(w, (size_t)(e - a));
		fw_raw(w, a, (size_t)(e - a));
	}
	return *p == '\0';
}

/* "%XX" encoding a UTF-8 continuation byte (0x80..0xBF)? */
static bool is_cont_escape(const char *p)
{
	return p[0] == '%' &&
	       (p[1] == '8' || p[1] == '9' || p[1] == 'A' || p[1] == 'B');
}

static bool filename_plain(const char *s)
{
	size_t len = strlen(s);
	if (!len || len > 60 || !is_ascii(s, len) || strstr(s, "=?"))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

/* Append an RFC 2231 parameter attr*=utf-8''<pe> (pe already
 * percent-encoded), in sections of at most 50 characters that split neither
 * a %XX escape nor a UTF-8 character, each on its own folded line.  semi:
 * write the ';' that separates it from what precedes. */
static void put_rfc2231(struct sb_buf *b, const char *attr,
			const struct sb_buf *pe, bool semi)
{
	const char *p = pe->data;
	size_t left = pe->len;
	if (left <= 50) {
		sb_buf_printf(b, "%s\r\n %s*=utf-8''", semi ? ";" : "", attr);
		sb_buf_append(b, p, left);
		return;
	}
	for (unsigned sec = 0; left; sec++) {
		size_t n = left < 50 ? left : 50;
		if (n < left) {
			if (n >= 1 && p[n - 1] == '%')
				n -= 1;
			else if (n >= 2 && p[n - 2] == '%')
				n -= 2;
			/* readers decode sections one by one */
			while (n >= 3 && n < left && is_cont_escape(p + n))
				n -= 3;
		}
		sb_buf_printf(b, "%s\r\n %s*%u*=%s", (semi || sec) ? ";" : "",
			      attr, sec, sec == 0 ? "utf-8''" : "");
		sb_buf_append(b, p, n);
		p += n;
		left -= n;
	}
}

static enum sb_status put_attachment(struct sb_buf *b, size_t idx,
				     const struct sb_file *f,
				     struct sb_error *err)
{
	char field[64];
	snprintf(field, sizeof(field), "Attachments[%zu].Name", idx);
	const char *name = f->name && *f->name ? f->name : "attachment";
	enum sb_status st = check_header_text(field, name, err);
	if (st != SB_OK)
		return st;
	/* As file inputs: a longer name would take more RFC 2231 sections
	 * than a reader (this one included) puts together. */
	if (strlen(name) > FILE_NAME_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: longer than %d bytes", field,
				    FILE_NAME_MAX);
	const char *ct = f->content_type && *f->content_type
			     ? f->content_type
			     : "application/octet-stream";
	snprintf(field, sizeof(field), "Attachments[%zu].ContentType", idx);
	st = check_header_text(field, ct, err);
	if (st != SB_OK)
		return st;
	if (!content_type_ok(ct))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: not a MIME type (type/subtype"
				    "[; attribute=value]...)",
				    field);

	struct fw w = {b, 0};
	fw_str(&w, "Content-Type: ");
	if (!put_ctype(&w, ct))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: not a MIME type (type/subtype"
				    "[; attribute=value]...)",
				    field);
	fw_str(&w, ";");
	if (filename_plain(name)) {
		fw_sep(&w, strlen(name) + 7);
		fw_str(&w, "name=\"");
		fw_str(&w, name);
		fw_str(&w, "\"");
		fw_end(&w);
		fw_str(&w, "Content-Disposition: attachment;");
		fw_sep(&w, strlen(name) + 11);
		fw_str(&w, "filename=\"");
		fw_str(&w, name);
		fw_str(&w, "\"");
		fw_end(&w);
	} else {
		/* RFC 2231 names in both headers.  (An encoded-word inside the
		 * quoted name is what some older mailers read, but RFC 2047
		 * forbids it there and strict readers report it as a defect.)
		 */
		struct sb_buf pe;
		sb_buf_init(&pe, 0);
		pct_encode(&pe, name);
		if (pe.failed) {
			sb_buf_free(&pe);
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		}
		put_rfc2231(b, "name", &pe, false);
		fw_end(&w);
		fw_str(&w, "Content-Disposition: attachment");
		put_rfc2231(b, "filename", &pe, true);
		fw_end(&w);
		sb_buf_free(&pe);
	}
	sb_buf_puts(b, "Content-Transfer-Encoding: base64\r\n\r\n");
	if (f->size) {
		char *b64 = sb_base64_encode(f->data, f->size, 76);
		if (!b64)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		size_t l = strlen(b64);
		sb_buf_append(b, b64, l);
		if (l < 2 || memcmp(b64 + l - 2, "\r\n", 2) != 0)
			sb_buf_append(b, "\r\n", 2);
		free(b64);
	}
	return SB_OK;
}

/* ====================================================================
 * Headers: Date, Message-ID, Importance
 * ================================================================== */

static void put_date(struct sb_buf *b, int64_t epoch)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	time_t t = epoch ? (time_t)epoch : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	sb_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
		      days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
		      tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool msgid_ok(const char *s)
{
	size_t len = strlen(s);
	if (len < 5 || len >= MSGID_MAX || s[0] != '<' || s[len - 1] != '>')
		return false;
	const char *at = strchr(s, '@');
	if (!at || at == s + 1 || at >= s + len - 2 || strchr(at + 1, '@'))
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return false;
	}
	return true;
}

static bool make_msgid(const char *from_addr, char out[MSGID_MAX])
{
	unsigned char r[16];
	if (!sb_random_bytes(r, sizeof(r)))
		return false;
	char hex[33];
	for (size_t i = 0; i < sizeof(r); i++) {
		hex[2 * i] = hexd[r[i] >> 4];
		hex[2 * i + 1] = hexd[r[i] & 15];
	}
	hex[32] = '\0';
	const char *dom = strrchr(from_addr, '@');
	dom = dom ? dom + 1 : "";
	bool ok = *dom && strlen(dom) < 200;
	for (const char *p = dom; ok && *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			ok = false;
	snprintf(out, MSGID_MAX, "<%s@%s>", hex, ok ? dom : "localhost");
	return true;
}

/* In-Reply-To and References hold msg-ids (RFC 5322 3.6.4): written as
 * given, folded between two ids, never as encoded-words (the first id
 * stays on the field's line and a later long one, as some servers make,
 * goes on a line of its own: lines stay far below 998 octets). */
static bool msgid_list_header(const char *name)
{
	return !strcasecmp(name, "In-Reply-To") ||
	       !strcasecmp(name, "References");
}

/* Check (w NULL) or write (to w) each space-separated id of v; false if
 * one is not <id@domain> or there is none. */
static bool msgid_list_each(const char *v, struct fw *w)
{
	size_t n = 0;
	while (*v) {
		while (*v == ' ')
			v++;
		if (!*v)
			break;
		size_t k = strcspn(v, " ");
		char id[MSGID_MAX];
		if (k >= sizeof(id))
			return false;
		memcpy(id, v, k);
		id[k] = '\0';
		if (!msgid_ok(id))
			return false;
		if (w) {
			/* the first on the field's own line, even a long one */
			if (n == 0)
				fw_raw(w, " ", 1);
			else
				fw_sep(w, k);
			fw_raw(w, id, k);
		}
		n++;
		v += k;
	}
	return n > 0;
}

/* ====================================================================
 * sb_mime_build
 * ================================================================== */

enum sb_status sb_mime_build(const struct sb_mime_message *m,
			     struct sb_buf *out, char *msgid_out,
			     struct sb_error *err)
{
	enum sb_status st;
	if (!m || !out)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "sb_mime_build: no message");
	if (!m->from || !*m->from)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "From: is required");

	/* validate everything before writing anything */
	struct addr from;
	if ((st = split_address("From", m->from, &from, err)) != SB_OK)
		return st;
	if (m->subject &&
	    (st = check_header_text("Subject", m->subject, err)) != SB_OK)
		return st;
	if (m->body && (st = check_body_text("Body", m->body, err)) != SB_OK)
		return st;
	if (m->html_body &&
	    (st = check_body_text("HtmlBody", m->html_body, err)) != SB_OK)
		return st;
	int prio = 0; /* 1 high, 3 normal, 5 low */
	if (m->importance && *m->importance) {
		if (!strcasecmp(m->importance, "High"))
			prio = 1;
		else if (!strcasecmp(m->importance, "Normal"))
			prio = 3;
		else if (!strcasecmp(m->importance, "Low"))
			prio = 5;
		else
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Importance: expected Low, "
					    "Normal or High");
	}
	char msgid[MSGID_MAX];
	if (m->message_id) {
		if (!msgid_ok(m->message_id))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "MessageId: expected <id@domain>");
		snprintf(msgid, sizeof(msgid), "%s", m->message_id);
	} else if (!make_msgid(from.email, msgid)) {
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no random bytes for a Message-ID");
	}
	for (size_t i = 0; i < m->n_extra_headers; i++) {
		const char *hn = m->extra_headers[2 * i];
		const char *hv = m->extra_headers[2 * i + 1];
		bool ok = hn && *hn && hv && strlen(hn) < 64;
		for (const char *p = hn; ok && *p; p++)
			if (*p <= 0x20 || *p >= 0x7f || *p == ':')
				ok = false;
		if (!ok)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "header %zu: invalid name", i);
		if ((st = check_header_text(hn, hv, err)) != SB_OK)
			return st;
		if (msgid_list_header(hn) && !msgid_list_each(hv, NULL))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: expected <id@domain> items "
					    "separated by spaces",
					    hn);
	}

	size_t start = out->len;
	struct sb_buf *b = out;
	put_date(b, m->date);
	const char *const fromv[] = {m->from};
	if ((st = put_address_header(b, "From", "From", fromv, 1, err)))
		goto fail;
	if (m->sender && *m->sender) {
		const char *const sv[] = {m->sender};
		if ((st =
			 put_address_header(b, "Sender", "Sender", sv, 1, err)))
			goto fail;
	}
	if ((st = put_address_header(b, "Reply-To", "ReplyTo", m->reply_to,
				     m->n_reply_to, err)))
		goto fail;
	if ((st = put_address_header(b, "To", "To", m->to, m->n_to, err)))
		goto fail;
	if ((st = put_address_header(b, "Cc", "Cc", m->cc, m->n_cc, err)))
		goto fail;
	if (m->subject) {
		struct fw w = {b, 0};
		fw_str(&w, "Subject:");
		fw_unstructured(&w, m->subject);
		fw_end(&w);
	}
	sb_buf_printf(b, "Message-ID: %s\r\n", msgid);
	if (prio)
		sb_buf_printf(b, "Importance: %s\r\nX-Priority: %s\r\n",
			      prio == 1	  ? "high"
			      : prio == 3 ? "normal"
					  : "low",
			      prio == 1	  ? "1 (Highest)"
			      : prio == 3 ? "3 (Normal)"
					  : "5 (Lowest)");
	for (size_t i = 0; i < m->n_extra_headers; i++) {
		struct fw w = {b, 0};
		fw_str(&w, m->extra_headers[2 * i]);
		fw_str(&w, ":");
		if (msgid_list_header(m->extra_headers[2 * i]))
			msgid_list_each(m->extra_headers[2 * i + 1], &w);
		else
			fw_unstructured(&w, m->extra_headers[2 * i + 1]);
		fw_end(&w);
	}
	sb_buf_puts(b, "MIME-Version: 1.0\r\n");

	bool has_html = m->html_body != NULL;
	bool mixed = m->n_attachments > 0;
	char bmix[48], balt[48];
	if ((mixed && !make_boundary(bmix)) ||
	    (has_html && !make_boundary(balt))) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "no random bytes for a MIME boundary");
		goto fail;
	}
	if (mixed)
		sb_buf_printf(b,
			      "Content-Type: multipart/mixed;\r\n"
			      " boundary=\"%s\"\r\n\r\n"
			      "This is a multi-part message in MIME format.\r\n"
			      "--%s\r\n",
			      bmix, bmix);
	const char *body = m->body ? m->body : "";
	if (has_html) {
		sb_buf_printf(b,
			      "Content-Type: multipart/alternative;\r\n"
			      " boundary=\"%s\"\r\n\r\n",
			      balt);
		if (!mixed)
			sb_buf_puts(b, "This is a multi-part message in MIME "
				       "format.\r\n");
		sb_buf_printf(b, "--%s\r\n", balt);
		put_text_part(b, "plain", body, true);
		sb_buf_printf(b, "--%s\r\n", balt);
		put_text_part(b, "html", m->html_body, true);
		sb_buf_printf(b, "--%s--\r\n", balt);
	} else {
		put_text_part(b, "plain", body, mixed);
	}
	for (size_t i = 0; i < m->n_attachments; i++) {
		sb_buf_printf(b, "--%s\r\n", bmix);
		if ((st = put_attachment(b, i, &m->attachments[i], err)))
			goto fail;
	}
	if (mixed)
		sb_buf_printf(b, "--%s--\r\n", bmix);
	if (b->failed) {
		st = sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				  "message too large or out of memory");
		goto fail;
	}
	if (msgid_out)
		snprintf(msgid_out, MSGID_MAX, "%s", msgid);
	return SB_OK;
fail:
	if (!b->failed && b->len >= start) {
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
	}
	return st;
}

bool sb_mime_encode_header(struct sb_buf *out, const char *value,
			   size_t name_len)
{
	if (!out || !value)
		return false;
	struct fw w = {out, name_len + 1};
	fw_unstructured(&w, value);
	return !out->failed;
}

/* ====================================================================
 * Reader
 * ================================================================== */

struct hdr {
	char *name;
	char *value;
};

struct hdrs {
	struct hdr *v;
	size_t n, cap;
};

static void hdrs_free(struct hdrs *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static char *dup_range(const char *s, size_t n)
{
	char *r = malloc(n + 1);
	if (r) {
		if (n)
			memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

/* Next line of [p, end): sets *le to the end of its text (before CR/LF),
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

static char *trim_dup(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return dup_range(s, n);
}

/* Parse a header block; returns where the body starts.  On out of memory
 * *oom is set. */
static const char *parse_headers(const char *p, const char *end, struct hdrs *h,
				 bool *oom)
{
	struct sb_buf cur;
	sb_buf_init(&cur, 0);
	char *cur_name = NULL;
	while (p < end) {
		const char *le;
		const char *next = next_line(p, end, &le);
		bool blank = le == p;
		bool cont = !blank && (*p == ' ' || *p == '\t');
		if (cont && cur_name) {
			sb_buf_append(&cur, p, (size_t)(le - p));
			p = next;
			continue;
		}
		if (cur_name) {
			if (h->n == h->cap) {
				size_t nc = h->cap ? 2 * h->cap : 16;
				struct hdr *nv =
				    realloc(h->v, nc * sizeof(*nv));
				if (!nv) {
					*oom = true;
					free(cur_name);
					cur_name = NULL;
					break;
				}
				h->v = nv;
				h->cap = nc;
			}
			char *v = trim_dup(cur.data ? cur.data : "", cur.len);
			if (!v || cur.failed) {
				*oom = true;
				free(v);
				free(cur_name);
				cur_name = NULL;
				break;
			}
			h->v[h->n].name = cur_name;
			h->v[h->n].value = v;
			h->n++;
			cur_name = NULL;
			cur.len = 0;
		}
		if (blank) {
			p = next;
			break;
		}
		if (cont) { /* continuation without a header: ignore */
			p = next;
			continue;
		}
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon && h->n < MAX_HEADERS) {
			const char *ne = colon;
			while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			if (ne > p) {
				cur_name = dup_range(p, (size_t)(ne - p));
				if (!cur_name) {
					*oom = true;
					break;
				}
				cur.len = 0;
				sb_buf_append(&cur, colon + 1,
					      (size_t)(le - colon - 1));
			}
		}
		p = next;
	}
	if (cur_name) { /* header block ended without a blank line */
		char *v = trim_dup(cur.data ? cur.data : "", cur.len);
		if (v && h->n < h->cap) {
			h->v[h->n].name = cur_name;
			h->v[h->n].value = v;
			h->n++;
		} else if (v) {
			struct hdr *nv =
			    realloc(h->v, (h->cap + 1) * sizeof(*nv));
			if (nv) {
				h->v = nv;
				h->cap++;
				h->v[h->n].name = cur_name;
				h->v[h->n].value = v;
				h->n++;
			} else {
				*oom = true;
				free(cur_name);
				free(v);
			}
		} else {
			*oom = true;
			free(cur_name);
		}
	}
	sb_buf_free(&cur);
	return p;
}

static const char *hdr_get(const struct hdrs *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcasecmp(h->v[i].name, name))
			return h->v[i].value;
	return NULL;
}

char *sb_mime_header(const char *raw, size_t len, const char *name)
{
	if (!raw || !name)
		return NULL;
	struct hdrs h = {0};
	bool oom = false;
	parse_headers(raw, raw + len, &h, &oom);
	const char *v = hdr_get(&h, name);
	char *r = v ? strdup(v) : NULL;
	hdrs_free(&h);
	return r;
}

/* ---- charsets -------------------------------------------------------- */

static int charset_kind(const char *cs)
{
	if (!cs || !*cs)
		return 0; /* unknown / none */
	if (!strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") ||
	    !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii"))
		return 1;
	if (!strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "latin1") ||
	    !strcasecmp(cs, "latin-1") || !strcasecmp(cs, "iso8859-1") ||
	    !strcasecmp(cs, "iso_8859-1") || !strcasecmp(cs, "l1"))
		return 2;
	return 0;
}

/* A charset name worth asking iconv(3) about: a plain name of letters,
 * digits and ._:- (no "//" suffixes, no paths), and not one of the
 * ISO-2022 stateful encodings glibc has had bugs in. */
static bool iconv_name_ok(const char *cs)
{
	size_t n = strlen(cs);
	if (n == 0 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cs[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':')
			return false;
	}
	return strncasecmp(cs, "iso-2022-cn", 11) != 0 &&
	       strncasecmp(cs, "iso2022cn", 9) != 0;
}

/* Convert with iconv(3) from cs: false if glibc does not know cs.  A byte
 * sequence invalid in cs becomes U+FFFD; NUL bytes are dropped. */
static bool iconv_to_utf8(struct sb_buf *b, const unsigned char *s, size_t n,
			  const char *cs)
{
	if (!iconv_name_ok(cs))
		return false;
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return false;
	char *in = (char *)s;
	size_t inleft = n;
	char out[4096];
	while (inleft > 0) {
		char *o = out;
		size_t oleft = sizeof(out);
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		int e = errno;
		for (char *p = out; p < o; p++)
			if (*p)
				sb_buf_append(b, p, 1);
		if (r != (size_t)-1)
			break;
		if (e == E2BIG && o != out)
			continue;
		/* EILSEQ, EINVAL (cut short at the end) or no progress */
		sb_buf_append(b, "\xEF\xBF\xBD", 3);
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL); /* reset any shift state */
	}
	char *o = out;
	size_t oleft = sizeof(out);
	if (iconv(cd, NULL, NULL, &o, &oleft) != (size_t)-1)
		sb_buf_append(b, out, (size_t)(o - out));
	iconv_close(cd);
	return true;
}

/* Append s[0..n) converted to UTF-8 from charset cs (NUL bytes dropped).
 * UTF-8 and Latin-1 are converted here; any other charset that glibc's
 * iconv knows goes through it; an unknown one is read as UTF-8. */
static void to_utf8(struct sb_buf *b, const unsigned char *s, size_t n,
		    const char *cs)
{
	int kind = charset_kind(cs);
	if (kind == 0 && cs && *cs && iconv_to_utf8(b, s, n, cs))
		return;
	if (kind == 2) {
		for (size_t i = 0; i < n; i++) {
			unsigned char c = s[i];
			if (c == 0)
				continue;
			char u[4];
			sb_buf_append(b, u, sb_utf8_encode(c, u));
		}
		return;
	}
	/* UTF-8, ASCII, or unknown: keep valid UTF-8, replace the rest */
	size_t i = 0;
	while (i < n) {
		/* a run of plain ASCII in one append: the common case */
		size_t run = 0;
		while (i + run < n && s[i + run] && s[i + run] < 0x80)
			run++;
		if (run) {
			sb_buf_append(b, s + i, run);
			i += run;
			continue;
		}
		if (s[i] == 0) {
			i++;
			continue;
		}
		size_t k = sb_utf8_decode((const char *)s + i, n - i, NULL);
		if (k) {
			sb_buf_append(b, s + i, k);
			i += k;
		} else {
			sb_buf_append(b, "\xEF\xBF\xBD", 3);
			i++;
		}
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void qp_decode_into(struct sb_buf *b, const char *s, size_t n,
			   bool q_header)
{
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		if (q_header && c == '_') {
			sb_buf_append(b, " ", 1);
			i++;
			continue;
		}
		if (c != '=') {
			sb_buf_append(b, &c, 1);
			i++;
			continue;
		}
		/* soft line break: '=' then optional spaces then (CR)LF */
		size_t j = i + 1;
		while (j < n && (s[j] == ' ' || s[j] == '\t'))
			j++;
		if (j < n && (s[j] == '\n' || s[j] == '\r')) {
			if (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')
				j++;
			i = j + 1;
			continue;
		}
		if (j == n && !q_header) {
			i = n;
			continue;
		}
		if (i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			unsigned char o =
			    (unsigned char)(hexval(s[i + 1]) * 16 +
					    hexval(s[i + 2]));
			sb_buf_append(b, &o, 1);
			i += 3;
			continue;
		}
		sb_buf_append(b, "=", 1);
		i++;
	}
}

/* Decode RFC 2047 encoded-words in s (unfolded header text) to UTF-8.
 * Whitespace between two adjacent encoded-words is dropped. */
static char *decode_2047(const char *s)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	const char *p = s;
	bool last_ew = false;
	while (*p) {
		if (p[0] == '=' && p[1] == '?') {
			/* searches stay within a window, so that a header
			 * full of "=?" costs linear time */
			const char *cs = p + 2;
			const char *q1 = memchr(cs, '?', strnlen(cs, 41));
			const char *txt =
			    q1 && q1[1] && q1[2] == '?' ? q1 + 3 : NULL;
			const char *endw =
			    txt ? memmem(txt, strnlen(txt, EW_SCAN_MAX),
					 "?=", 2)
				: NULL;
			if (endw) {
				char enc = (char)toupper((unsigned char)q1[1]);
				if ((enc == 'B' || enc == 'Q') &&
				    q1 - cs < 40 &&
				    !memchr(txt, ' ', (size_t)(endw - txt))) {
					char csn[41];
					size_t cl = (size_t)(q1 - cs);
					memcpy(csn, cs, cl);
					csn[cl] = '\0';
					char *star = strchr(
					    csn, '*'); /* RFC 2231 lang */
					if (star)
						*star = '\0';
					struct sb_buf raw;
					sb_buf_init(&raw, 0);
					if (enc == 'B')
						sb_base64_decode_append(
						    &raw, txt,
						    (size_t)(endw - txt),
						    SB_BASE64_LENIENT);
					else
						qp_decode_into(
						    &raw, txt,
						    (size_t)(endw - txt), true);
					to_utf8(
					    &b,
					    (const unsigned char
						 *)(raw.data ? raw.data : ""),
					    raw.len, csn);
					sb_buf_free(&raw);
					p = endw + 2;
					last_ew = true;
					continue;
				}
			}
		}
		if (last_ew && (*p == ' ' || *p == '\t')) {
			/* drop whitespace if another encoded-word follows */
			const char *q = p;
			while (*q == ' ' || *q == '\t')
				q++;
			if (q[0] == '=' && q[1] == '?') {
				p = q;
				continue;
			}
		}
		last_ew = false;
		const char *q = p + 1;
		while (*q && !(q[0] == '=' && q[1] == '?') && *q != ' ' &&
		       *q != '\t')
			q++;
		if (*p == ' ' || *p == '\t')
			q = p + 1;
		to_utf8(&b, (const unsigned char *)p, (size_t)(q - p), "utf-8");
		p = q;
	}
	if (!b.data && !b.failed)
		sb_buf_append(&b, "", 0);
	return sb_buf_steal(&b);
}

/* ---- Content-Type / Content-Disposition parameters -------------------- */

struct param {
	char name[80]; /* lower case, including any "*n*" suffix */
	char *value;
};

struct params {
	struct param v[64];
	size_t n;
	char type[128]; /* lower case type/subtype or disposition */
};

static void params_free(struct params *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].value);
	ps->n = 0;
}

static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '(')
			return p;
		int depth = 0;
		while (*p) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
			p++;
		}
	}
}

static void parse_params(const char *s, struct params *ps)
{
	ps->n = 0;
	ps->type[0] = '\0';
	const char *p = skip_cfws(s ? s : "");
	size_t tl = 0;
	while (*p && *p != ';' && *p != ' ' && *p != '\t' && *p != '(' &&
	       tl + 1 < sizeof(ps->type))
		ps->type[tl++] = (char)tolower((unsigned char)*p++);
	ps->type[tl] = '\0';
	while (*p && ps->n < sizeof(ps->v) / sizeof(ps->v[0])) {
		p = strchr(p, ';');
		if (!p)
			break;
		p = skip_cfws(p + 1);
		size_t nl = 0;
		struct param *pa = &ps->v[ps->n];
		while (*p && *p != '=' && *p != ';' && *p != ' ' &&
		       *p != '\t') {
			if (nl + 1 < sizeof(pa->name))
				pa->name[nl++] =
				    (char)tolower((unsigned char)*p);
			p++;
		}
		pa->name[nl] = '\0';
		p = skip_cfws(p);
		if (*p != '=' || !nl)
			continue;
		p = skip_cfws(p + 1);
		struct sb_buf v;
		sb_buf_init(&v, 0);
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				sb_buf_append(&v, p, 1);
				p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ';' && *p != ' ' && *p != '\t' &&
			       *p != '(') {
				sb_buf_append(&v, p, 1);
				p++;
			}
		}
		sb_buf_append(&v, "", 0);
		pa->value = sb_buf_steal(&v);
		if (pa->value)
			ps->n++;
	}
}

static const char *param_raw(const struct params *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i].name, name))
			return ps->v[i].value;
	return NULL;
}

/* Decode "%XX" in s into b. */
static void pct_decode_into(struct sb_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			unsigned char o =
			    (unsigned char)(hexval(s[1]) * 16 + hexval(s[2]));
			sb_buf_append(b, &o, 1);
			s += 2;
		} else {
			sb_buf_append(b, s, 1);
		}
	}
}

/* A parameter's value decoded to UTF-8: RFC 2231 (name*, name*0*, ...),
 * else the plain value with RFC 2047 words decoded.  malloc'd or NULL. */
static char *param_get(const struct params *ps, const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "%s*", name);
	const char *ext = param_raw(ps, key);
	struct sb_buf raw;
	sb_buf_init(&raw, 0);
	char charset[64] = "";
	bool found = false;
	if (ext) {
		const char *q1 = strchr(ext, '\'');
		const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
		const char *data = ext;
		if (q1 && q2) {
			size_t cl = (size_t)(q1 - ext);
			if (cl < sizeof(charset)) {
				memcpy(charset, ext, cl);
				charset[cl] = '\0';
			}
			data = q2 + 1;
		}
		pct_decode_into(&raw, data);
		found = true;
	} else {
		for (unsigned sec = 0; sec < MAX_PARAM_SECTIONS; sec++) {
			snprintf(key, sizeof(key), "%s*%u*", name, sec);
			const char *v = param_raw(ps, key);
			bool encoded = v != NULL;
			if (!v) {
				snprintf(key, sizeof(key), "%s*%u", name, sec);
				v = param_raw(ps, key);
			}
			if (!v)
				break;
			found = true;
			if (encoded && sec == 0) {
				const char *q1 = strchr(v, '\'');
				const char *q2 =
				    q1 ? strchr(q1 + 1, '\'') : NULL;
				if (q1 && q2) {
					size_t cl = (size_t)(q1 - v);
					if (cl < sizeof(charset)) {
						memcpy(charset, v, cl);
						charset[cl] = '\0';
					}
					v = q2 + 1;
				}
			}
			if (encoded)
				pct_decode_into(&raw, v);
			else
				sb_buf_puts(&raw, v);
		}
	}
	if (found) {
		struct sb_buf out;
		sb_buf_init(&out, 0);
		to_utf8(&out, (const unsigned char *)(raw.data ? raw.data : ""),
			raw.len, charset);
		sb_buf_append(&out, "", 0);
		sb_buf_free(&raw);
		return sb_buf_steal(&out);
	}
	sb_buf_free(&raw);
	const char *plain = param_raw(ps, name);
	return plain ? decode_2047(plain) : NULL;
}

/* ---- walking the MIME tree -------------------------------------------- */

struct walk {
	struct sb_mime_parsed *out;
	size_t parts;
	size_t att_cap;
	bool oom;
};

static char *text_to_utf8(const char *s, size_t n, const char *cs)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	struct sb_buf u;
	sb_buf_init(&u, 0);
	to_utf8(&u, (const unsigned char *)s, n, cs);
	/* CRLF and lone CR become LF */
	for (size_t i = 0; i < u.len; i++) {
		if (u.data[i] == '\r') {
			if (i + 1 < u.len && u.data[i + 1] == '\n')
				continue;
			sb_buf_append(&b, "\n", 1);
		} else {
			sb_buf_append(&b, u.data + i, 1);
		}
	}
	sb_buf_free(&u);
	sb_buf_append(&b, "", 0);
	return sb_buf_steal(&b);
}

static void decode_cte(struct sb_buf *d, const char *cte, const char *s,
		       size_t n)
{
	if (cte && !strncasecmp(cte, "base64", 6))
		sb_base64_decode_append(d, s, n, SB_BASE64_LENIENT);
	else if (cte && !strncasecmp(cte, "quoted-printable", 16))
		qp_decode_into(d, s, n, false);
	else
		sb_buf_append(d, s, n);
	sb_buf_append(d, "", 0);
}

static void add_attachment(struct walk *w, char *name, const char *ctype,
			   struct sb_buf *data)
{
	struct sb_mime_parsed *o = w->out;
	if (o->n_attachments == w->att_cap) {
		size_t nc = w->att_cap ? 2 * w->att_cap : 4;
		struct sb_file *nv = realloc(o->attachments, nc * sizeof(*nv));
		if (!nv) {
			w->oom = true;
			free(name);
			return;
		}
		o->attachments = nv;
		w->att_cap = nc;
	}
	/* strip any path */
	char *base = name;
	if (base) {
		char *s1 = strrchr(base, '/');
		char *s2 = strrchr(base, '\\');
		char *s = s1 > s2 ? s1 : s2;
		if (s && s[1]) {
			char *nb = strdup(s + 1);
			free(base);
			base = nb;
		}
	}
	if (!base || !*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		free(base);
		base = strdup("attachment");
	}
	char *ct = strdup(*ctype ? ctype : "application/octet-stream");
	size_t size = data->len;
	unsigned char *bytes = (unsigned char *)sb_buf_steal(data);
	if (!bytes) {
		bytes = malloc(1);
		size = 0;
	}
	if (!base || !ct || !bytes) {
		free(base);
		free(ct);
		free(bytes);
		w->oom = true;
		return;
	}
	struct sb_file *f = &o->attachments[o->n_attachments++];
	f->name = base;
	f->content_type = ct;
	f->data = bytes;
	f->size = size;
}

static void walk_entity(struct walk *w, const char *p, const char *end,
			int depth);

static void walk_multipart(struct walk *w, const char *p, const char *end,
			   const char *boundary, int depth)
{
	size_t bl = strlen(boundary);
	if (!bl || bl > 200)
		return;
	const char *part_start = NULL;
	const char *line = p;
	while (line < end) {
		const char *le;
		const char *next = next_line(line, end, &le);
		size_t ll = (size_t)(le - line);
		if (ll >= 2 + bl && line[0] == '-' && line[1] == '-' &&
		    !memcmp(line + 2, boundary, bl)) {
			const char *rest = line + 2 + bl;
			bool close =
			    rest + 2 <= le && rest[0] == '-' && rest[1] == '-';
			const char *r = close ? rest + 2 : rest;
			while (r < le && (*r == ' ' || *r == '\t'))
				r++;
			if (r == le) {
				if (part_start) {
					/* the line break before the delimiter
					 * belongs to it */
					const char *pe = line;
					if (pe > part_start && pe[-1] == '\n')
						pe--;
					if (pe > part_start && pe[-1] == '\r')
						pe--;
					if (w->parts >= MAX_PARTS)
						return;
					walk_entity(w, part_start, pe,
						    depth + 1);
					if (w->oom)
						return;
				}
				if (close)
					return;
				part_start = next;
			}
		}
		line = next;
	}
	/* no closing delimiter: take the last part as it is */
	if (part_start && part_start < end && w->parts < MAX_PARTS)
		walk_entity(w, part_start, end, depth + 1);
}

static void walk_entity(struct walk *w, const char *p, const char *end,
			int depth)
{
	w->parts++;
	struct hdrs h = {0};
	const char *body = parse_headers(p, end, &h, &w->oom);
	if (w->oom) {
		hdrs_free(&h);
		return;
	}
	struct params ct;
	parse_params(hdr_get(&h, "Content-Type"), &ct);
	if (!ct.type[0] || !strchr(ct.type, '/'))
		snprintf(ct.type, sizeof(ct.type), "text/plain");
	struct params cd;
	parse_params(hdr_get(&h, "Content-Disposition"), &cd);
	const char *cte = hdr_get(&h, "Content-Transfer-Encoding");

	if (!strncmp(ct.type, "multipart/", 10)) {
		const char *bnd = param_raw(&ct, "boundary");
		if (bnd && depth < MAX_DEPTH)
			walk_multipart(w, body, end, bnd, depth);
		goto out;
	}
	char *fname = param_get(&cd, "filename");
	if (!fname)
		fname = param_get(&ct, "name");
	bool is_plain = !strcmp(ct.type, "text/plain");
	bool is_html = !strcmp(ct.type, "text/html");
	bool attach = !strcmp(cd.type, "attachment") || fname ||
		      !(is_plain || is_html) || (is_plain && w->out->body) ||
		      (is_html && w->out->html_body);
	struct sb_buf d;
	sb_buf_init(&d, 0);
	decode_cte(&d, cte, body, (size_t)(end - body));
	if (d.failed) {
		w->oom = true;
		sb_buf_free(&d);
		free(fname);
		goto out;
	}
	if (attach) {
		if (!fname) {
			char gen[64];
			snprintf(gen, sizeof(gen), "part%zu%s", w->parts,
				 !strcmp(ct.type, "message/rfc822") ? ".eml"
				 : is_html			    ? ".html"
				 : !strncmp(ct.type, "text/", 5)    ? ".txt"
								    : ".bin");
			fname = strdup(gen);
		}
		add_attachment(w, fname, ct.type, &d);
	} else {
		const char *cs = param_raw(&ct, "charset");
		char *t = text_to_utf8(d.data ? d.data : "", d.len,
				       cs ? cs : "us-ascii");
		if (!t)
			w->oom = true;
		else if (is_plain)
			w->out->body = t;
		else
			w->out->html_body = t;
		free(fname);
	}
	sb_buf_free(&d);
out:
	params_free(&ct);
	params_free(&cd);
	hdrs_free(&h);
}

/* ---- addresses -------------------------------------------------------- */

/* Split an address list into bare addresses. */
static bool parse_addr_list(const char *s, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!s)
		return true;
	size_t cap = 0;
	const char *p = s;
	while (*p && *n < MAX_ADDRESSES) {
		/* find the end of this entry */
		const char *q = p;
		bool inq = false;
		int angle = 0, paren = 0;
		const char *lt = NULL, *gt = NULL, *colon = NULL;
		while (*q) {
			if (*q == '\\' && q[1]) {
				q += 2;
				continue;
			}
			if (inq) {
				if (*q == '"')
					inq = false;
			} else if (paren) {
				if (*q == '(')
					paren++;
				else if (*q == ')')
					paren--;
			} else if (*q == '"') {
				inq = true;
			} else if (*q == '(') {
				paren = 1;
			} else if (*q == '<') {
				angle++;
				if (!lt)
					lt = q;
			} else if (*q == '>') {
				if (angle)
					angle--;
				if (!gt && lt)
					gt = q;
			} else if (*q == ':' && !angle && !lt) {
				colon = q;
			} else if ((*q == ',' || *q == ';') && !angle) {
				break;
			}
			q++;
		}
		const char *a, *ae;
		if (lt && gt) {
			a = lt + 1;
			ae = gt;
		} else {
			a = colon ? colon + 1 : p;
			ae = q;
			/* drop comments */
			const char *c = memchr(a, '(', (size_t)(ae - a));
			if (c)
				ae = c;
		}
		while (a < ae && isspace((unsigned char)*a))
			a++;
		while (ae > a && isspace((unsigned char)ae[-1]))
			ae--;
		if (ae > a && ae - a < 1024) {
			if (*n == cap) {
				size_t nc = cap ? 2 * cap : 4;
				char **nv = realloc(*out, nc * sizeof(*nv));
				if (!nv)
					return false;
				*out = nv;
				cap = nc;
			}
			char *v = dup_range(a, (size_t)(ae - a));
			if (!v)
				return false;
			/* keep valid UTF-8 only */
			struct sb_buf u;
			sb_buf_init(&u, 0);
			to_utf8(&u, (unsigned char *)v, strlen(v), "utf-8");
			sb_buf_append(&u, "", 0);
			free(v);
			v = sb_buf_steal(&u);
			if (!v)
				return false;
			(*out)[(*n)++] = v;
		}
		p = *q ? q + 1 : q;
	}
	return true;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void sb_mime_parsed_free(struct sb_mime_parsed *p)
{
	if (!p)
		return;
	free(p->from);
	free(p->subject);
	free(p->message_id);
	free(p->date);
	free(p->importance);
	free_list(p->to, p->n_to);
	free_list(p->cc, p->n_cc);
	free_list(p->reply_to, p->n_reply_to);
	free(p->body);
	free(p->html_body);
	for (size_t i = 0; i < p->n_attachments; i++) {
		free((char *)p->attachments[i].name);
		free((char *)p->attachments[i].content_type);
		free((unsigned char *)p->attachments[i].data);
	}
	free(p->attachments);
	memset(p, 0, sizeof(*p));
}

static char *header_utf8(const char *v)
{
	if (!v)
		return NULL;
	return decode_2047(v);
}

enum sb_status sb_mime_parse(const char *raw, size_t len,
			     struct sb_mime_parsed *out, struct sb_error *err)
{
	if (!out)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "sb_mime_parse: no output");
	memset(out, 0, sizeof(*out));
	if (!raw || !len)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "empty message");
	struct hdrs h = {0};
	bool oom = false;
	parse_headers(raw, raw + len, &h, &oom);
	if (oom)
		goto nomem;
	if (h.n == 0) {
		hdrs_free(&h);
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "not a message: no header fields");
	}
	const char *v;
	char **list = NULL;
	size_t nl = 0;
	if ((v = hdr_get(&h, "From"))) {
		if (!parse_addr_list(v, &list, &nl)) {
			free_list(list, nl);
			goto nomem;
		}
		if (nl) {
			out->from = list[0];
			list[0] = NULL;
		}
		free_list(list, nl);
	}
	if (!parse_addr_list(hdr_get(&h, "To"), &out->to, &out->n_to) ||
	    !parse_addr_list(hdr_get(&h, "Cc"), &out->cc, &out->n_cc) ||
	    !parse_addr_list(hdr_get(&h, "Reply-To"), &out->reply_to,
			     &out->n_reply_to))
		goto nomem;
	if ((v = hdr_get(&h, "Subject")) && !(out->subject = header_utf8(v)))
		goto nomem;
	if ((v = hdr_get(&h, "Message-ID")) &&
	    !(out->message_id = header_utf8(v)))
		goto nomem;
	if ((v = hdr_get(&h, "Date")) && !(out->date = header_utf8(v)))
		goto nomem;
	const char *imp = NULL;
	if ((v = hdr_get(&h, "Importance"))) {
		if (!strncasecmp(v, "high", 4))
			imp = "High";
		else if (!strncasecmp(v, "low", 3))
			imp = "Low";
		else if (!strncasecmp(v, "normal", 6))
			imp = "Normal";
	}
	if (!imp && (v = hdr_get(&h, "X-Priority"))) {
		while (*v == ' ')
			v++;
		if (*v == '1' || *v == '2')
			imp = "High";
		else if (*v == '3')
			imp = "Normal";
		else if (*v == '4' || *v == '5')
			imp = "Low";
	}
	if (imp && !(out->importance = strdup(imp)))
		goto nomem;
	hdrs_free(&h);

	struct walk w = {.out = out};
	walk_entity(&w, raw, raw + len, 0);
	if (w.oom)
		goto nomem;
	return SB_OK;
nomem:
	hdrs_free(&h);
	sb_mime_parsed_free(out);
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}
