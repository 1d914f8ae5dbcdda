/* svcbroker — building RFC 5322 / MIME messages on GMime.
 *
 * This file checks what a broker hands over (no CR or LF in header text,
 * valid UTF-8, addresses, message ids, the content types of attachments)
 * and leaves the writing to GMime: RFC 2047 encoded-words, RFC 2231
 * parameters, folding, quoted-printable and base64, boundaries, CRLF line
 * endings. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include <svcbroker/mime.h>

#include "mime_int.h"

#define MSGID_MAX 256

/* ---- checks of the broker's input ---------------------------------- */

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

/* Shapes GMime 3.2.13's strict address parser refuses only after it
 * read an addr-spec it then does not free (fixed in GMime 3.2.15,
 * "Fixed some memory leaks in address_parse()"): a comment left open,
 * a '>' without its '<', an unquoted '@' before the '<'.  None is a valid
 * address; they are refused before GMime reads them, so no API request
 * leaks memory. */
static bool address_shape_ok(const char *s)
{
	int comment = 0;
	bool quoted = false, angle = false, at_before = false;
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && (quoted || comment)) {
			if (!*++p)
				return false;
		} else if (quoted) {
			quoted = *p != '"';
		} else if (*p == '(') {
			comment++;
		} else if (comment) {
			comment -= *p == ')';
		} else if (*p == ')') {
			return false;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == '<') {
			if (angle || at_before)
				return false;
			angle = true;
		} else if (*p == '>') {
			if (!angle)
				return false;
		} else if (*p == '@' && !angle) {
			at_before = true;
		}
	}
	return !comment && !quoted;
}

/* One address as a broker gives it, "addr" or "Display Name <addr>",
 * read by GMime's address parser: exactly one mailbox, whose address is
 * valid.  Returns a new mailbox or NULL with err set. */
static InternetAddress *read_address(const char *field, const char *s,
				     struct sb_error *err)
{
	if (check_header_text(field, s, err) != SB_OK)
		return NULL;
	if (!address_shape_ok(s)) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s: not a valid email address", field);
		return NULL;
	}
	InternetAddressList *l =
	    internet_address_list_parse(mime_strict_options, s);
	InternetAddress *a = NULL;
	if (l && internet_address_list_length(l) == 1)
		a = internet_address_list_get_address(l, 0);
	if (!a || !INTERNET_ADDRESS_IS_MAILBOX(a) ||
	    !sb_email_valid(internet_address_mailbox_get_addr(
		(InternetAddressMailbox *)a))) {
		if (l)
			g_object_unref(l);
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s: not a valid email address", field);
		return NULL;
	}
	const char *name = internet_address_get_name(a);
	if (name && strlen(name) >= 512) {
		g_object_unref(l);
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s: display name too long", field);
		return NULL;
	}
	/* GMime 3.2 writes a non-ASCII domain in its ASCII (IDNA) form, the
	 * form it keeps in the mailbox's public idn_addr once asked for it;
	 * the message keeps the address as given instead (RFC 6532), and the
	 * smtp broker asks for SMTPUTF8 when the message is not 7-bit.  Set
	 * for every address: GMime then never runs IDNA (a sixth of a
	 * build), and writes an ASCII domain as given, as before. */
	InternetAddressMailbox *mb = (InternetAddressMailbox *)a;
	g_free(mb->idn_addr);
	mb->idn_addr = g_strdup(mb->addr);
	g_object_ref(a);
	g_object_unref(l);
	return a;
}

static enum sb_status add_addresses(GMimeMessage *msg, GMimeAddressType type,
				    const char *field, const char *const *list,
				    size_t n, struct sb_error *err)
{
	if (!n)
		return SB_OK;
	/* collected apart and added at once: GMime writes the field again
	 * on each change of the message's list */
	InternetAddressList *all = internet_address_list_new();
	for (size_t i = 0; i < n; i++) {
		InternetAddress *a =
		    read_address(field, list[i] ? list[i] : "", err);
		if (!a) {
			g_object_unref(all);
			return SB_ERR_INVALID_INPUT;
		}
		internet_address_list_add(all, a);
		g_object_unref(a);
	}
	internet_address_list_append(g_mime_message_get_addresses(msg, type),
				     all);
	g_object_unref(all);
	return SB_OK;
}

/* "<id@domain>": one message id as GMime reads it in a References field,
 * given in full, after which GMime reads on (its reader stops after some
 * ids it takes, "<a@.b>", and its writer drops what it did not read). */
static bool msgid_ok(const char *s)
{
	size_t len = strlen(s);
	if (len < 5 || len >= MSGID_MAX || s[0] != '<' || s[len - 1] != '>')
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	char probe[MSGID_MAX + 16];
	snprintf(probe, sizeof(probe), "%s <z@z>", s);
	GMimeReferences *r = g_mime_references_parse(NULL, probe);
	const char *id = r && g_mime_references_length(r) == 2
			     ? g_mime_references_get_message_id(r, 0)
			     : NULL;
	bool ok = id && strlen(id) == len - 2 && !memcmp(id, s + 1, len - 2) &&
		  !strcmp(g_mime_references_get_message_id(r, 1), "z@z") &&
		  strchr(id, '@') && id[0] != '@' && id[len - 3] != '@';
	if (r)
		g_mime_references_free(r);
	return ok;
}

bool sb_mime_msgid_valid(const char *id)
{
	if (!id)
		return false;
	mime_init_once();
	return msgid_ok(id);
}

/* In-Reply-To and References: msg-ids separated by spaces, each one that
 * msgid_ok takes, and all of them in one reading of the whole (GMime's
 * stops at an id it reads but cannot go on from, "<a@.b>"). */
static bool msgid_list_ok(const char *v)
{
	int n = 0;
	GMimeReferences *all = g_mime_references_parse(NULL, v);
	bool ok = all != NULL;
	for (const char *p = v; ok && *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t k = strcspn(p, " ");
		char id[MSGID_MAX];
		const char *got = n < g_mime_references_length(all)
				      ? g_mime_references_get_message_id(all, n)
				      : NULL;
		ok = k < sizeof(id) && got && strlen(got) == k - 2;
		if (ok) {
			memcpy(id, p, k);
			id[k] = '\0';
			ok = msgid_ok(id) && !memcmp(got, id + 1, k - 2);
		}
		n++;
		p += k;
	}
	ok = ok && n > 0 && n == g_mime_references_length(all);
	if (all)
		g_mime_references_free(all);
	return ok;
}

static bool msgid_list_header(const char *name)
{
	return !strcasecmp(name, "In-Reply-To") ||
	       !strcasecmp(name, "References");
}

static bool is_token_char(unsigned char c)
{
	/* RFC 2045 token: printable ASCII but SPACE and tspecials */
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* RFC 2045 grammar of a broker's content type, type "/" subtype *(";"
 * attribute "=" (token / quoted-string)), RFC 2231 "attribute*" allowed.
 * GMime reads any text leniently (a typo would become a different type);
 * this only says yes or no, GMime does the reading. */
static bool ctype_grammar_ok(const char *s)
{
	const char *p = s;
	for (int half = 0; half < 2; half++) {
		const char *b = p;
		while (is_token_char((unsigned char)*p))
			p++;
		if (p == b || (half == 0 && *p++ != '/'))
			return false;
	}
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return true;
		if (*p++ != ';')
			return false;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *a = p;
		while (is_token_char((unsigned char)*p) && *p != '*')
			p++;
		if (p == a)
			return false;
		if (*p == '*')
			p++;
		if (*p++ != '=')
			return false;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (!*p)
					return false;
				if (*p == '\\' && p[1])
					p++;
			}
			p++;
		} else {
			const char *v = p;
			while (is_token_char((unsigned char)*p))
				p++;
			if (p == v)
				return false;
		}
	}
}

/* An attachment's content type: checked by ctype_grammar_ok, read by
 * GMime; "name" is dropped, the attachment's name replaces it. */
static GMimeContentType *read_ctype(const char *field, const char *ct,
				    struct sb_error *err)
{
	if (check_header_text(field, ct, err) != SB_OK)
		return NULL;
	GMimeContentType *t = NULL;
	if (strlen(ct) <= 1000 && ctype_grammar_ok(ct))
		t = g_mime_content_type_parse(NULL, ct);
	if (!t) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s: not a MIME type (type/subtype"
			     "[; attribute=value]...)",
			     field);
		return NULL;
	}
	/* a multipart is a container, never a leaf: written as one, a
	 * reader takes it for an empty multipart and the data is lost */
	if (g_mime_content_type_is_type(t, "multipart", "*")) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s: %s is a container of parts, not an "
			     "attachment's type (attach its parts, or the "
			     "whole message as message/rfc822)",
			     field, ct);
		g_object_unref(t);
		return NULL;
	}
	g_mime_param_list_remove(g_mime_content_type_get_parameters(t), "name");
	return t;
}

/* ---- parts ---------------------------------------------------------- */

/* A text's line breaks are written as CRLF (qp_stream): CRLF and a lone
 * CR are made LF first. */
static char *lf_text(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *t = g_malloc(n + 1), *o = t;
	/* from CR to CR (memchr), the text between copied at once */
	for (const char *p = s, *end = s + n;;) {
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		size_t k = (size_t)((cr ? cr : end) - p);
		memcpy(o, p, k);
		o += k;
		if (!cr)
			break;
		*o++ = '\n';
		p = cr + 1 + (cr[1] == '\n');
	}
	*o = '\0';
	*len = (size_t)(o - t);
	return t;
}

/* text (LF line ends) in quoted-printable by GMime's encoder, its line
 * ends made CRLF as the wire format's newline filter makes them; the
 * message's only part (ensure_newline) ends with one unless empty, as
 * GMime ends it.  A stream that owns the text. */
static GMimeStream *qp_stream(const char *text, size_t len, bool ensure_newline)
{
	GMimeEncoding enc;
	g_mime_encoding_init_encode(&enc,
				    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	char *qp = g_malloc(g_mime_encoding_outlen(&enc, len) + 1);
	size_t n = g_mime_encoding_flush(&enc, text, len, qp), lines = 0;
	for (const char *p = qp; (p = memchr(p, '\n', (size_t)(qp + n - p)));
	     p++)
		lines++;
	bool add_nl = ensure_newline && n && qp[n - 1] != '\n';
	size_t total = n + lines + (add_nl ? 2 : 0);
	char *crlf = g_malloc(total + 1), *o = crlf;
	const char *p = qp, *end = qp + n;
	for (const char *nl; (nl = memchr(p, '\n', (size_t)(end - p)));
	     p = nl + 1) {
		/* the encoder writes a CR as =0D: every LF is a line end */
		memcpy(o, p, (size_t)(nl - p));
		o += nl - p;
		*o++ = '\r';
		*o++ = '\n';
	}
	memcpy(o, p, (size_t)(end - p));
	o += end - p;
	if (add_nl) {
		*o++ = '\r';
		*o++ = '\n';
	}
	g_free(qp);
	GByteArray *a =
	    g_byte_array_new_take((guint8 *)crlf, (gsize)(o - crlf));
	return g_mime_stream_mem_new_with_byte_array(a);
}

/* A text part in UTF-8 as given (g_mime_text_part_set_text would convert
 * it to the smallest charset that holds it), quoted-printable.  Written
 * as is, as the attachments are (attachment_part). */
static GMimeObject *text_part(const char *subtype, const char *text, bool alone)
{
	GMimeTextPart *t = g_mime_text_part_new_with_subtype(subtype);
	size_t n;
	char *lf = lf_text(text, &n);
	GMimeStream *s = qp_stream(lf, n, alone);
	g_free(lf);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(
	    s, GMIME_CONTENT_ENCODING_BINARY);
	g_object_unref(s);
	g_mime_part_set_content((GMimePart *)t, w);
	g_object_unref(w);
	g_mime_text_part_set_charset(t, "utf-8");
	g_mime_part_set_content_encoding(
	    (GMimePart *)t, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	((GMimePart *)t)->encoding = GMIME_CONTENT_ENCODING_BINARY;
	return (GMimeObject *)t;
}

/* "%XX" of a UTF-8 continuation byte (0x80..0xBF)? */
static bool is_cont_escape(const char *p)
{
	return p[0] == '%' &&
	       (p[1] == '8' || p[1] == '9' || p[1] == 'A' || p[1] == 'B');
}

/* A non-ASCII file name as an RFC 2231 parameter attr*=UTF-8''<pct>,
 * appended to the field GMime wrote: in sections of at most 50
 * characters that split neither a %XX escape nor a UTF-8 character, each
 * on a folded line of its own.  GMime 3.2 cuts sections at a fixed length,
 * inside a UTF-8 character as often as not, and readers that decode the
 * sections one by one (Python's email among them) report both halves as
 * undecodable. */
static void add_2231_name(GMimeObject *part, const char *field,
			  const char *attr, const char *name)
{
	GMimeHeader *h = g_mime_header_list_get_header(
	    g_mime_object_get_header_list(part), field);
	const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
	if (!raw)
		return;
	GString *pe = g_string_new(NULL);
	/* RFC 2231 attribute-char as is, every other byte %XX */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		static const char hex[] = "0123456789ABCDEF";
		char x[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		if (g_ascii_isalnum(*p) || strchr("!#$&+-.^_`|~", *p))
			g_string_append_c(pe, (char)*p);
		else
			g_string_append_len(pe, x, 3);
	}
	GString *v = g_string_new(raw);
	while (v->len &&
	       (v->str[v->len - 1] == '\n' || v->str[v->len - 1] == '\r'))
		g_string_truncate(v, v->len - 1);
	const char *p = pe->str;
	size_t left = pe->len;
	if (left <= 50) {
		g_string_append_printf(v, ";\n\t%s*=UTF-8''%s", attr, p);
	} else {
		for (unsigned sec = 0; left; sec++) {
			size_t n = left < 50 ? left : 50;
			if (n < left) {
				if (p[n - 1] == '%')
					n -= 1;
				else if (p[n - 2] == '%')
					n -= 2;
				while (n >= 3 && n < left &&
				       is_cont_escape(p + n))
					n -= 3;
			}
			g_string_append_printf(v, ";\n\t%s*%u*=%s%.*s", attr,
					       sec, sec ? "" : "UTF-8''",
					       (int)n, p);
			p += n;
			left -= n;
		}
	}
	g_string_append_c(v, '\n');
	g_mime_header_set_raw_value(h, v->str);
	g_string_free(v, TRUE);
	g_string_free(pe, TRUE);
}

/* An attachment's content as GMime writes base64 with the wire format's
 * CRLF: lines of 76 characters, each ended by CRLF, nothing for no data.
 * A stream that owns the text, or NULL when out of memory. */
static GMimeStream *base64_stream(const unsigned char *data, size_t len)
{
	if (!len)
		return g_mime_stream_mem_new();
	char *b64 = sb_base64_encode(data, len, 76);
	size_t n = b64 ? strlen(b64) : 0;
	char *t = b64 && n < G_MAXUINT - 2 ? realloc(b64, n + 3) : NULL;
	if (!t) {
		free(b64);
		return NULL;
	}
	memcpy(t + n, "\r\n", 3);
	/* GLib frees it with g_free, which is free */
	return g_mime_stream_mem_new_with_byte_array(
	    g_byte_array_new_take((guint8 *)t, (gsize)n + 2));
}

static GMimeObject *attachment_part(size_t idx, const struct sb_file *f,
				    struct sb_error *err)
{
	char field[64];
	snprintf(field, sizeof(field), "Attachments[%zu].Name", idx);
	const char *name = f->name && *f->name ? f->name : "attachment";
	if (check_header_text(field, name, err) != SB_OK)
		return NULL;
	/* as file inputs: no longer names than a reader takes whole */
	if (strlen(name) > MIME_FILE_NAME_MAX) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s: longer than %d bytes", field,
			     MIME_FILE_NAME_MAX);
		return NULL;
	}
	snprintf(field, sizeof(field), "Attachments[%zu].ContentType", idx);
	GMimeContentType *ct = read_ctype(field,
					  f->content_type && *f->content_type
					      ? f->content_type
					      : "application/octet-stream",
					  err);
	if (!ct)
		return NULL;
	GMimePart *p = g_mime_part_new();
	g_mime_object_set_content_type((GMimeObject *)p, ct);
	g_object_unref(ct);
	g_mime_object_set_disposition((GMimeObject *)p,
				      GMIME_DISPOSITION_ATTACHMENT);
	bool ascii = true;
	for (const char *c = name; *c; c++)
		ascii = ascii && (unsigned char)*c < 0x80;
	if (ascii) {
		g_mime_part_set_filename(p, name);
	} else {
		add_2231_name((GMimeObject *)p, "Content-Type", "name", name);
		add_2231_name((GMimeObject *)p, "Content-Disposition",
			      "filename", name);
	}
	GMimeStream *s = base64_stream(f->data, f->size);
	if (!s) {
		g_object_unref(p);
		sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
			     "%s: out of memory", field);
		return NULL;
	}
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(
	    s, GMIME_CONTENT_ENCODING_BINARY);
	g_object_unref(s);
	g_mime_part_set_content(p, w);
	g_object_unref(w);
	g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_BASE64);
	/* The header says base64; the content is base64 already, written as
	 * is: GMime copies a part's content without a filter when the part's
	 * encoding and its content's are the same and binary (gmime-part.c,
	 * write_content), instead of base64 and CRLF filters over every byte
	 * (some 40 % of a build's instructions). */
	p->encoding = GMIME_CONTENT_ENCODING_BINARY;
	return (GMimeObject *)p;
}

/* ---- sb_mime_build -------------------------------------------------- */

/* A boundary of GMime's shape from getrandom (GMime reads /dev/urandom
 * for each one). */
static bool set_boundary(GMimeMultipart *mp)
{
	char hex[33], b[48];
	if (!mime_random_hex(hex, 12))
		return false;
	snprintf(b, sizeof(b), "=-sb-%s", hex);
	g_mime_multipart_set_boundary(mp, b);
	return true;
}

static enum sb_status check_message(const struct sb_mime_message *m, int *prio,
				    struct sb_error *err)
{
	enum sb_status st;
	if (m->subject &&
	    (st = check_header_text("Subject", m->subject, err)) != SB_OK)
		return st;
	if (m->body && (st = check_body_text("Body", m->body, err)) != SB_OK)
		return st;
	if (m->html_body &&
	    (st = check_body_text("HtmlBody", m->html_body, err)) != SB_OK)
		return st;
	*prio = 0; /* 1 high, 3 normal, 5 low */
	if (m->importance && *m->importance) {
		if (!strcasecmp(m->importance, "High"))
			*prio = 1;
		else if (!strcasecmp(m->importance, "Normal"))
			*prio = 3;
		else if (!strcasecmp(m->importance, "Low"))
			*prio = 5;
		else
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Importance: expected Low, "
					    "Normal or High");
	}
	if (m->message_id && !msgid_ok(m->message_id))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "MessageId: expected <id@domain>");
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
		if (msgid_list_header(hn) && !msgid_list_ok(hv))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: expected <id@domain> items "
					    "separated by spaces",
					    hn);
	}
	return SB_OK;
}

/* The message's parts: text, or text and HTML (alternative), then the
 * attachments (mixed). */
static GMimeObject *body_of(const struct sb_mime_message *m,
			    struct sb_error *err)
{
	const char *body = m->body ? m->body : "";
	GMimeObject *text;
	if (m->html_body) {
		GMimeMultipart *alt =
		    g_mime_multipart_new_with_subtype("alternative");
		set_boundary(alt);
		GMimeObject *a = text_part("plain", body, false);
		GMimeObject *b = text_part("html", m->html_body, false);
		g_mime_multipart_add(alt, a);
		g_mime_multipart_add(alt, b);
		g_object_unref(a);
		g_object_unref(b);
		text = (GMimeObject *)alt;
	} else {
		/* the message's only part: GMime ends it with a newline */
		text = text_part("plain", body, !m->n_attachments);
	}
	if (!m->n_attachments)
		return text;
	GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
	set_boundary(mixed);
	g_mime_multipart_add(mixed, text);
	g_object_unref(text);
	for (size_t i = 0; i < m->n_attachments; i++) {
		GMimeObject *a = attachment_part(i, &m->attachments[i], err);
		if (!a) {
			g_object_unref(mixed);
			return NULL;
		}
		g_mime_multipart_add(mixed, a);
		g_object_unref(a);
	}
	return (GMimeObject *)mixed;
}

enum sb_status sb_mime_build(const struct sb_mime_message *m,
			     struct sb_buf *out, char *msgid_out,
			     struct sb_error *err)
{
	if (!m || !out)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "sb_mime_build: no message");
	if (!m->from || !*m->from)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "From: is required");
	mime_init_once();

	/* check everything before writing anything */
	int prio;
	enum sb_status st = check_message(m, &prio, err);
	if (st != SB_OK)
		return st;
	InternetAddress *from = read_address("From", m->from, err);
	if (!from)
		return SB_ERR_INVALID_INPUT;
	GMimeMessage *msg = g_mime_message_new(TRUE);
	internet_address_list_add(
	    g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_FROM), from);
	/* a generated id: 128 random bits at the sender's domain, or at
	 * localhost when that is no plain host name */
	char gen_id[MSGID_MAX - 2] = ""; /* room for <> in msgid */
	if (!m->message_id) {
		const char *dom = strrchr(internet_address_mailbox_get_addr(
					      (InternetAddressMailbox *)from),
					  '@');
		dom = dom ? dom + 1 : "";
		bool ok = *dom && strlen(dom) < 200;
		for (const char *p = dom; ok && *p; p++)
			ok = g_ascii_isalnum(*p) || *p == '-' || *p == '.';
		char hex[33];
		if (!mime_random_hex(hex, 16)) {
			g_object_unref(from);
			g_object_unref(msg);
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "no random bytes for a Message-ID");
		}
		snprintf(gen_id, sizeof(gen_id), "%s@%s", hex,
			 ok ? dom : "localhost");
	}
	g_object_unref(from);
	if ((m->sender && *m->sender &&
	     (st = add_addresses(msg, GMIME_ADDRESS_TYPE_SENDER, "Sender",
				 (const char *const[]){m->sender}, 1, err))) ||
	    (st = add_addresses(msg, GMIME_ADDRESS_TYPE_REPLY_TO, "ReplyTo",
				m->reply_to, m->n_reply_to, err)) ||
	    (st = add_addresses(msg, GMIME_ADDRESS_TYPE_TO, "To", m->to,
				m->n_to, err)) ||
	    (st = add_addresses(msg, GMIME_ADDRESS_TYPE_CC, "Cc", m->cc,
				m->n_cc, err)))
		goto out;

	GDateTime *date = m->date ? g_date_time_new_from_unix_utc(m->date)
				  : g_date_time_new_now_utc();
	if (!date) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "Date: out of range");
		goto out;
	}
	g_mime_message_set_date(msg, date);
	g_date_time_unref(date);
	if (m->subject)
		g_mime_message_set_subject(msg, m->subject, "utf-8");
	char msgid[MSGID_MAX];
	if (m->message_id)
		snprintf(msgid, sizeof(msgid), "%s", m->message_id);
	else
		snprintf(msgid, sizeof(msgid), "<%s>", gen_id);
	/* GMime writes the id between angle brackets */
	char bare[MSGID_MAX];
	snprintf(bare, sizeof(bare), "%.*s", (int)strlen(msgid) - 2, msgid + 1);
	g_mime_message_set_message_id(msg, bare);
	GMimeObject *mo = (GMimeObject *)msg;
	if (prio) {
		g_mime_object_set_header(mo, "Importance",
					 prio == 1   ? "high"
					 : prio == 3 ? "normal"
						     : "low",
					 NULL);
		g_mime_object_set_header(mo, "X-Priority",
					 prio == 1   ? "1 (Highest)"
					 : prio == 3 ? "3 (Normal)"
						     : "5 (Lowest)",
					 NULL);
	}
	for (size_t i = 0; i < m->n_extra_headers; i++)
		g_mime_object_append_header(mo, m->extra_headers[2 * i],
					    m->extra_headers[2 * i + 1],
					    "utf-8");
	GMimeObject *body = body_of(m, err);
	if (!body) {
		st = err && err->status != SB_OK ? err->status
						 : SB_ERR_INVALID_INPUT;
		goto out;
	}
	g_mime_message_set_mime_part(msg, body);
	g_object_unref(body);

	/* room for the whole message at once: text in QP, attachments in
	 * base64 (4/3 and line breaks) */
	size_t guess = 4096 + (m->body ? strlen(m->body) * 11 / 10 : 0) +
		       (m->html_body ? strlen(m->html_body) * 11 / 10 : 0);
	for (size_t i = 0; i < m->n_attachments; i++)
		guess += 512 + m->attachments[i].size / 3 * 4 * 78 / 76;
	GMimeStream *s = g_mime_stream_mem_new_with_byte_array(
	    g_byte_array_sized_new((guint)MIN(guess, 64u << 20)));
	bool wrote =
	    g_mime_object_write_to_stream(mo, mime_wire_format, s) >= 0;
	GByteArray *ba = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)s);
	size_t start = out->len;
	if (!wrote || !sb_buf_append(out, ba->data, ba->len)) {
		if (!out->failed && out->len > start) {
			out->len = start;
			out->data[start] = '\0';
		}
		st = wrote ? sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
					  "message too large or out of memory")
			   : sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "cannot write the message");
	} else if (msgid_out) {
		snprintf(msgid_out, MSGID_MAX, "%s", msgid);
	}
	g_object_unref(s);
out:
	g_object_unref(msg);
	return st;
}

bool sb_mime_encode_header(struct sb_buf *out, const char *value,
			   size_t name_len)
{
	if (!out || !value || name_len > 76)
		return false;
	mime_init_once();
	GMimeFormatOptions *fo = mime_wire_format;
	char *enc = g_mime_utils_header_encode_text(fo, value, "utf-8");
	/* folded as the value of a field whose name is name_len long */
	char *field =
	    g_strdup_printf("%*s:%s%s", (int)name_len, "",
			    enc && *enc != ' ' ? " " : "", enc ? enc : "");
	char *folded = g_mime_utils_unstructured_header_fold(NULL, fo, field);
	bool ok = false;
	if (folded && strlen(folded) > name_len + 1) {
		size_t n = strlen(folded);
		while (n && (folded[n - 1] == '\n' || folded[n - 1] == '\r'))
			n--;
		ok = sb_buf_append(out, folded + name_len + 1,
				   n - (name_len + 1));
	}
	g_free(folded);
	g_free(field);
	g_free(enc);
	return ok;
}
