/* svcbroker — reading messages on GMime.
 *
 * mime_guard() measures the raw bytes first and cuts what lies beyond the
 * caps; GMime parses the rest (any charset it knows, RFC 2047 and 2231,
 * broken MIME as best it can).  This file only walks GMime's tree, picks
 * the text and HTML bodies and the attachments, and hands back UTF-8 in
 * malloc'd strings (GLib allocates with malloc, so g_free and free are one
 * since GLib 2.46). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include <svcbroker/mime.h>

#include "mime_int.h"

/* Valid UTF-8 (invalid sequences become U+FFFD), malloc'd; consumes s. */
static char *utf8_take(char *s)
{
	if (!s || g_utf8_validate(s, -1, NULL))
		return s;
	char *v = g_utf8_make_valid(s, -1);
	g_free(s);
	return v;
}

static char *utf8_dup(const char *s)
{
	return s ? utf8_take(g_strdup(s)) : NULL;
}

/* CRLF and a lone CR become LF, in place. */
static void to_lf(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '\r') {
			*o++ = '\n';
			if (p[1] == '\n')
				p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

static GMimeMessage *parse_bytes(const char *raw, size_t len,
				 GMimeParserOptions *o)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(raw, len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	g_object_unref(s);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	g_mime_parser_set_respect_content_length(p, FALSE);
	GMimeMessage *m = g_mime_parser_construct_message(p, o);
	g_object_unref(p);
	return m;
}

/* What GMime may read of raw: the bytes mime_guard let through, without
 * the header fields beyond the cap (then copied); headers_only: the top
 * header block alone. */
static GMimeMessage *parse_guarded(const char *raw, const struct mime_guard *g,
				   bool headers_only, GMimeParserOptions *o)
{
	size_t end = headers_only ? g->header_len : g->keep;
	if (!g->hdr_cut || end <= g->hdr_cut)
		return parse_bytes(raw, end, o);
	size_t tail = end > g->blank_at ? end - g->blank_at : 0;
	char *buf = g_malloc(g->hdr_cut + tail + 1);
	memcpy(buf, raw, g->hdr_cut);
	if (tail)
		memcpy(buf + g->hdr_cut, raw + g->blank_at, tail);
	GMimeMessage *m = parse_bytes(buf, g->hdr_cut + tail, o);
	g_free(buf);
	return m;
}

/* ---- addresses -------------------------------------------------------- */

struct list {
	char **v;
	size_t n, cap;
};

static void list_add_all(struct list *l, InternetAddressList *al, int depth)
{
	int n = al ? internet_address_list_length(al) : 0;
	for (int i = 0; i < n && l->n < MIME_MAX_ADDRESSES; i++) {
		InternetAddress *a = internet_address_list_get_address(al, i);
		if (INTERNET_ADDRESS_IS_GROUP(a)) {
			if (depth < 2)
				list_add_all(l,
					     internet_address_group_get_members(
						 (InternetAddressGroup *)a),
					     depth + 1);
			continue;
		}
		const char *addr = internet_address_mailbox_get_addr(
		    (InternetAddressMailbox *)a);
		if (!addr || !*addr)
			continue;
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 4;
			l->v = g_realloc_n(l->v, l->cap, sizeof(*l->v));
		}
		l->v[l->n++] = utf8_dup(addr);
	}
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

enum sb_status sb_mime_addresses(const char *value, char ***out, size_t *n,
				 struct sb_error *err)
{
	if (!out || !n)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "sb_mime_addresses: no output");
	*out = NULL;
	*n = 0;
	if (!value)
		return SB_OK;
	if (strlen(value) > MIME_MAX_BYTES)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "address list larger than 64 MiB");
	mime_init_once();
	InternetAddressList *al =
	    internet_address_list_parse(mime_reader_options, value);
	struct list l = {0};
	list_add_all(&l, al, 0);
	if (al)
		g_object_unref(al);
	*out = l.v;
	*n = l.n;
	return SB_OK;
}

void sb_mime_address_list_free(char **list, size_t n) { free_list(list, n); }

/* ---- the walk ---------------------------------------------------------- */

struct walk {
	struct sb_mime_parsed *out;
	size_t parts, att_cap;
	unsigned flags;
	bool have_plain, have_html;
};

/* The part's decoded content (transfer encoding undone), malloc'd. */
static unsigned char *content_bytes(GMimePart *part, size_t *size)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	if (w)
		g_mime_data_wrapper_write_to_stream(w, s);
	GByteArray *ba = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)s);
	g_mime_stream_mem_set_owner((GMimeStreamMem *)s, FALSE);
	g_object_unref(s);
	*size = ba->len;
	g_byte_array_append(ba, (const guint8 *)"", 1); /* NUL-terminated */
	return g_byte_array_free(ba, FALSE);
}

/* An attached message, as its bytes. */
static unsigned char *message_bytes(GMimeMessagePart *mp, size_t *size)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GMimeMessage *m = g_mime_message_part_get_message(mp);
	if (m)
		g_mime_object_write_to_stream((GMimeObject *)m, NULL, s);
	GByteArray *ba = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)s);
	g_mime_stream_mem_set_owner((GMimeStreamMem *)s, FALSE);
	g_object_unref(s);
	*size = ba->len;
	g_byte_array_append(ba, (const guint8 *)"", 1);
	return g_byte_array_free(ba, FALSE);
}

static void add_attachment(struct walk *w, const char *name, const char *ct,
			   unsigned char *data, size_t size, const char *ext)
{
	struct sb_mime_parsed *o = w->out;
	if (o->n_attachments == w->att_cap) {
		w->att_cap = w->att_cap ? 2 * w->att_cap : 4;
		o->attachments = g_realloc_n(o->attachments, w->att_cap,
					     sizeof(*o->attachments));
	}
	/* the name without any path, never "." or ".." */
	const char *base = name;
	if (base) {
		const char *s1 = strrchr(base, '/');
		const char *s2 = strrchr(base, '\\');
		const char *s = s1 > s2 ? s1 : s2;
		if (s && s[1])
			base = s + 1;
	}
	char *nm;
	if (!base || !*base || !strcmp(base, ".") || !strcmp(base, ".."))
		nm = g_strdup_printf("part%zu%s", w->parts, ext);
	else
		nm = utf8_dup(base);
	struct sb_file *f = &o->attachments[o->n_attachments++];
	f->name = nm;
	f->content_type = g_strdup(ct);
	f->data = data;
	f->size = size;
}

static void walk_object(struct walk *w, GMimeObject *obj, int depth)
{
	if (!obj || w->parts >= MIME_MAX_PARTS)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		if (depth >= MIME_MAX_DEPTH)
			return;
		GMimeMultipart *mp = (GMimeMultipart *)obj;
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n && w->parts < MIME_MAX_PARTS; i++)
			walk_object(w, g_mime_multipart_get_part(mp, i),
				    depth + 1);
		return;
	}
	w->parts++;
	GMimeContentType *ctype = g_mime_object_get_content_type(obj);
	char *ct = ctype ? g_mime_content_type_get_mime_type(ctype) : NULL;
	if (!ct)
		ct = g_strdup("application/octet-stream");
	for (char *p = ct; *p; p++)
		*p = g_ascii_tolower(*p);
	/* RFC 2045 5.2: a Content-Type that is not type/subtype means
	 * text/plain (GMime takes application/octet-stream) */
	const char *rawct = g_mime_object_get_header(obj, "Content-Type");
	if (rawct && !strcmp(ct, "application/octet-stream")) {
		size_t tl = strcspn(rawct, ";");
		if (!memchr(rawct, '/', tl)) {
			g_free(ct);
			ct = g_strdup("text/plain");
		}
	}
	/* a multipart GMime could not split (no boundary) is a leaf of
	 * unknown content: as such it can be written back and read again */
	if (!strncmp(ct, "multipart/", 10)) {
		g_free(ct);
		ct = g_strdup("application/octet-stream");
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		size_t size = 0;
		unsigned char *data =
		    w->flags & SB_MIME_PARSE_NO_CONTENT
			? NULL
			: message_bytes((GMimeMessagePart *)obj, &size);
		const char *fn =
		    g_mime_object_get_content_disposition_parameter(obj,
								    "filename");
		add_attachment(w, fn, ct, data, size, ".eml");
		g_free(ct);
		return;
	}
	if (!GMIME_IS_PART(obj)) { /* a signed or encrypted multipart */
		g_free(ct);
		return;
	}
	GMimePart *part = (GMimePart *)obj;
	const char *fname = g_mime_part_get_filename(part);
	const char *disp = g_mime_object_get_disposition(obj);
	bool is_plain = !strcmp(ct, "text/plain");
	bool is_html = !strcmp(ct, "text/html");
	bool attach = (disp && !g_ascii_strcasecmp(disp, "attachment")) ||
		      fname || !(is_plain || is_html) ||
		      (is_plain && w->have_plain) || (is_html && w->have_html);
	if (attach) {
		size_t size = 0;
		unsigned char *data = w->flags & SB_MIME_PARSE_NO_CONTENT
					  ? NULL
					  : content_bytes(part, &size);
		add_attachment(w, fname, ct, data, size,
			       is_html			  ? ".html"
			       : !strncmp(ct, "text/", 5) ? ".txt"
							  : ".bin");
	} else if (w->flags & SB_MIME_PARSE_NO_CONTENT) {
		w->have_plain |= is_plain;
		w->have_html |= is_html;
	} else {
		w->have_plain |= is_plain;
		w->have_html |= is_html;
		char *t = NULL;
		if (GMIME_IS_TEXT_PART(part)) {
			t = g_mime_text_part_get_text((GMimeTextPart *)part);
		} else {
			size_t size;
			t = (char *)content_bytes(part, &size);
		}
		if (!t)
			t = g_strdup("");
		t = utf8_take(t);
		to_lf(t);
		if (is_plain)
			w->out->body = t;
		else
			w->out->html_body = t;
	}
	g_free(ct);
}

/* ---- header fields ----------------------------------------------------- */

/* An unstructured field's text (a Subject), decoded by GMime one
 * whitespace-separated word at a time: GMime 3.2 joins adjacent
 * encoded-words of one charset before decoding them, and loses the text
 * after a base64 word that ends in padding ("=?UTF-8?B?w6k=?= =?UTF-8?B?
 * w6k=?=" reads "é"), which is how GMime itself, Outlook and most mailers
 * split long text.  Whitespace between two encoded-words is dropped (RFC
 * 2047 6.2), other whitespace kept. */
static char *decode_unstructured(GMimeParserOptions *o, const char *v)
{
	GString *out = g_string_new(NULL);
	const char *p = v;
	bool prev_ew = false;
	while (*p) {
		size_t n = strspn(p, " \t\r\n");
		const char *ws = p;
		p += n;
		if (!*p)
			break;
		size_t k = strcspn(p, " \t\r\n");
		char *tok = g_strndup(p, k);
		bool ew = k >= 8 && p[0] == '=' && p[1] == '?' &&
			  p[k - 2] == '?' && p[k - 1] == '=';
		if (out->len && !(prev_ew && ew))
			g_string_append_len(out, ws, (gssize)n);
		char *d = ew ? g_mime_utils_header_decode_text(o, tok)
			     : utf8_take(g_strdup(tok));
		g_string_append(out, d ? d : "");
		g_free(d);
		g_free(tok);
		prev_ew = ew;
		p += k;
	}
	return g_string_free(out, FALSE);
}

static char *subject_of(GMimeObject *mo, GMimeParserOptions *o)
{
	GMimeHeader *h = g_mime_header_list_get_header(
	    g_mime_object_get_header_list(mo), "Subject");
	const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
	if (!raw)
		return NULL;
	char *u = g_mime_utils_header_unfold(raw);
	char *d = decode_unstructured(o, u);
	g_free(u);
	return utf8_take(d);
}

static char *header_value(GMimeObject *o, const char *name)
{
	const char *v = g_mime_object_get_header(o, name);
	if (!v)
		return NULL;
	char *d = g_strstrip(g_strdup(v));
	return utf8_take(d);
}

static const char *importance_of(GMimeObject *o)
{
	const char *v = g_mime_object_get_header(o, "Importance");
	if (v) {
		while (*v == ' ' || *v == '\t')
			v++;
		if (!g_ascii_strncasecmp(v, "high", 4))
			return "High";
		if (!g_ascii_strncasecmp(v, "low", 3))
			return "Low";
		if (!g_ascii_strncasecmp(v, "normal", 6))
			return "Normal";
	}
	if ((v = g_mime_object_get_header(o, "X-Priority"))) {
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '1' || *v == '2')
			return "High";
		if (*v == '3')
			return "Normal";
		if (*v == '4' || *v == '5')
			return "Low";
	}
	return NULL;
}

static void take_list(GMimeMessage *m, GMimeAddressType t, char ***v, size_t *n)
{
	struct list l = {0};
	list_add_all(&l, g_mime_message_get_addresses(m, t), 0);
	*v = l.v;
	*n = l.n;
}

/* ---- public ----------------------------------------------------------- */

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
	free_list(p->bcc, p->n_bcc);
	free(p->body);
	free(p->html_body);
	for (size_t i = 0; i < p->n_attachments; i++) {
		free((char *)p->attachments[i].name);
		free((char *)p->attachments[i].content_type);
		free((unsigned char *)p->attachments[i].data);
	}
	free(p->attachments);
	free(p->content_type);
	memset(p, 0, sizeof(*p));
}

enum sb_status sb_mime_parse(const char *raw, size_t len,
			     struct sb_mime_parsed *out, struct sb_error *err)
{
	return sb_mime_parse_flags(raw, len, 0, out, err);
}

enum sb_status sb_mime_parse_flags(const char *raw, size_t len, unsigned flags,
				   struct sb_mime_parsed *out,
				   struct sb_error *err)
{
	if (!out)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "sb_mime_parse: no output");
	memset(out, 0, sizeof(*out));
	if (!raw || !len)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "empty message");
	struct mime_guard g;
	const char *why;
	if (!mime_guard(raw, len, &g, &why))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL, "%s", why);
	mime_init_once();
	GMimeParserOptions *o = mime_reader_options;
	GMimeMessage *m = parse_guarded(raw, &g, false, o);
	GMimeObject *mo = (GMimeObject *)m;
	/* GMime keeps the Content-* fields with the message's part */
	GMimeObject *top = m ? g_mime_message_get_mime_part(m) : NULL;
	if (!m ||
	    g_mime_header_list_get_count(g_mime_object_get_header_list(mo)) +
		    (top ? g_mime_header_list_get_count(
			       g_mime_object_get_header_list(top))
			 : 0) ==
		0) {
		if (m)
			g_object_unref(m);
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "not a message: no header fields");
	}
	char **from = NULL;
	size_t nfrom = 0;
	take_list(m, GMIME_ADDRESS_TYPE_FROM, &from, &nfrom);
	if (nfrom) {
		out->from = from[0];
		from[0] = NULL;
	}
	free_list(from, nfrom);
	take_list(m, GMIME_ADDRESS_TYPE_TO, &out->to, &out->n_to);
	take_list(m, GMIME_ADDRESS_TYPE_CC, &out->cc, &out->n_cc);
	take_list(m, GMIME_ADDRESS_TYPE_REPLY_TO, &out->reply_to,
		  &out->n_reply_to);
	take_list(m, GMIME_ADDRESS_TYPE_BCC, &out->bcc, &out->n_bcc);
	out->subject = subject_of(mo, o);
	out->message_id = header_value(mo, "Message-ID");
	out->date = header_value(mo, "Date");
	const char *imp = importance_of(mo);
	if (imp)
		out->importance = g_strdup(imp);
	GMimeContentType *tct =
	    top ? g_mime_object_get_content_type(top) : NULL;
	if (tct) {
		out->content_type = g_mime_content_type_get_mime_type(tct);
		for (char *c = out->content_type; c && *c; c++)
			*c = g_ascii_tolower(*c);
	}
	struct walk w = {.out = out, .flags = flags};
	walk_object(&w, top, 0);
	g_object_unref(m);
	return SB_OK;
}

char *sb_mime_header(const char *raw, size_t len, const char *name)
{
	if (!raw || !name || !len)
		return NULL;
	struct mime_guard g;
	const char *why;
	if (!mime_guard_headers(raw, len, &g, &why))
		return NULL;
	mime_init_once();
	/* the header block alone: the body is never parsed for this */
	GMimeMessage *m = parse_guarded(raw, &g, true, mime_reader_options);
	if (!m)
		return NULL;
	char *r = NULL;
	GMimeHeader *h = g_mime_header_list_get_header(
	    g_mime_object_get_header_list((GMimeObject *)m), name);
	/* GMime keeps the Content-* fields with the message's part */
	GMimeObject *part = g_mime_message_get_mime_part(m);
	if (!h && part)
		h = g_mime_header_list_get_header(
		    g_mime_object_get_header_list(part), name);
	const char *raw_value = h ? g_mime_header_get_raw_value(h) : NULL;
	if (raw_value) {
		char *u = g_mime_utils_header_unfold(raw_value);
		r = g_strdup(g_strstrip(u));
		g_free(u);
	}
	g_object_unref(m);
	return r;
}
