/* libsvcbroker-net: safe XML parsing, element lookup, escaping and a
 * fragment writer over libxml2 (see include/svcbroker/xml.h).
 *
 * Safety rests on the parser context, never on process-wide settings:
 *  - every parse has its own context whose SAX internalSubset hook stops
 *    the parser at the first <!DOCTYPE, before its internal subset (the
 *    only place entities can be declared) or any content is read;
 *  - XML_PARSE_NOENT, DTDLOAD, DTDATTR, DTDVALID and HUGE are never set,
 *    NONET always is;
 *  - the context's error hooks (sax->serror, which libxml2 2.9 prefers
 *    over every other channel, and sax->error/warning, vctxt) are static
 *    functions that drop the message: libxml2's messages quote the input,
 *    and the global handlers would print them on stderr.  They hold no
 *    pointer to anything of a module, since parser contexts may be used by
 *    worker threads that outlive a module reload;
 *  - the few errors libxml2 2.9 raises without the context (character-set
 *    conversion) go to the calling thread's handlers, which each parse
 *    call sets to quiet ones for its duration (sb_xml_quiet_begin). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include <svcbroker/xml.h>

#include "xml_internal.h"

#define DEFAULT_MAX_LEN (16u * 1024 * 1024)
#define DEFAULT_STREAM_MAX (64u * 1024 * 1024)
#define DEFAULT_TEXT_MAX (1024u * 1024)

/* ---- the parser context ------------------------------------------------- */

static void quiet_message(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Keeps nothing of the message (it may quote the input) but the first
 * error's code and line, in the parse's own guard.  ctx is the parser
 * context (its userData is itself: no SAX user data is ever set). */
static void quiet_structured(void *ctx, xmlErrorPtr error)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct sb_xml_guard *g = ctxt ? ctxt->_private : NULL;
	if (!g || !error || g->first_code)
		return;
	g->first_code = error->code ? error->code : -1;
	g->first_line = error->line;
	g->first_huge = error->code == XML_ERR_NO_MEMORY && error->message &&
			strstr(error->message, "huge") != NULL;
}

/* A context-less error (thread's structured handler): its code and line
 * into the guard, if it is the parse's first. */
static void quiet_thread_structured(void *ctx, xmlErrorPtr error)
{
	struct sb_xml_guard *g = ctx;
	if (!g || !error || g->first_code)
		return;
	g->first_code = error->code ? error->code : -1;
	g->first_line = error->line;
}

void sb_xml_quiet_begin(struct sb_xml_quiet *q, struct sb_xml_guard *g)
{
	q->generic = xmlGenericError;
	q->generic_ctx = xmlGenericErrorContext;
	q->structured = xmlStructuredError;
	q->structured_ctx = xmlStructuredErrorContext;
	xmlSetGenericErrorFunc(NULL, quiet_message);
	xmlSetStructuredErrorFunc(g, quiet_thread_structured);
}

void sb_xml_quiet_end(const struct sb_xml_quiet *q)
{
	xmlSetGenericErrorFunc(q->generic_ctx, q->generic);
	xmlSetStructuredErrorFunc(q->structured_ctx, q->structured);
}

/* <!DOCTYPE seen: stop before anything of it (its internal subset, where
 * entities would be declared) or of the content is read.  The parse fails
 * with XML_ERR_USER_STOP; the guard says why. */
static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *ext_id,
		       const xmlChar *sys_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	(void)name;
	(void)ext_id;
	(void)sys_id;
	sb_xml_guard_of(ctxt)->dtd = true;
	xmlStopParser(ctxt);
}

static xmlParserInputPtr refuse_entity(void *ctx, const xmlChar *public_id,
				       const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	(void)public_id;
	(void)system_id;
	sb_xml_guard_of(ctxt)->dtd = true;
	xmlStopParser(ctxt);
	return NULL;
}

#define SB_XML_OPTIONS                                                         \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |           \
	 XML_PARSE_NOCDATA | XML_PARSE_COMPACT)

void sb_xml_guard_ctxt(xmlParserCtxtPtr ctxt, struct sb_xml_guard *g)
{
	xmlCtxtUseOptions(ctxt, SB_XML_OPTIONS);
	/* After xmlCtxtUseOptions, which clears error/warning for NOERROR
	 * and NOWARNING: serror is what libxml2 2.9 calls first. */
	ctxt->sax->serror = quiet_structured;
	ctxt->sax->error = quiet_message;
	ctxt->sax->warning = quiet_message;
	ctxt->sax->fatalError = quiet_message;
	ctxt->vctxt.error = quiet_message;
	ctxt->vctxt.warning = quiet_message;
	ctxt->sax->internalSubset = refuse_dtd;
	ctxt->sax->externalSubset = refuse_dtd;
	ctxt->sax->resolveEntity = refuse_entity;
	ctxt->_private = g;
	memset(g, 0, sizeof(*g));
}

struct sb_xml_guard *sb_xml_guard_of(xmlParserCtxtPtr ctxt)
{
	return ctxt->_private;
}

enum sb_status sb_xml_ctxt_error(xmlParserCtxtPtr ctxt, struct sb_error *err)
{
	struct sb_xml_guard *g = sb_xml_guard_of(ctxt);
	if (g && g->dtd)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "XML document refused: it has a document "
				    "type declaration (DTD), which is never "
				    "accepted from a server");
	int code = g && g->first_code ? g->first_code : ctxt->lastError.code;
	int line = g && g->first_code ? g->first_line : ctxt->lastError.line;
	if (g && g->first_huge)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "XML document refused: a text node at line "
				    "%d is over libxml2's 10 MB limit",
				    line);
	if (code == XML_ERR_NO_MEMORY)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory parsing XML");
	if (code == XML_ERR_DOCUMENT_EMPTY)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "XML document refused: it is empty");
	if (code == XML_I18N_CONV_FAILED || code == XML_ERR_INVALID_ENCODING ||
	    code == XML_ERR_UNSUPPORTED_ENCODING ||
	    code == XML_I18N_NO_HANDLER || code == XML_I18N_NO_NAME)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "XML document refused: its bytes at line "
				    "%d are not valid in its declared "
				    "character encoding (libxml2 error %d)",
				    line > 0 ? line : 1, code);
	return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
			    "XML document not well-formed at line %d "
			    "(libxml2 error %d)",
			    line > 0 ? line : 1, code);
}

enum sb_status sb_xml_too_large(size_t len, size_t max, struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
			    "XML document too large at %zu bytes (at most "
			    "%zu)",
			    len, max);
}

xmlDoc *sb_xml_parse(const char *data, size_t len, size_t max_len,
		     struct sb_error *err)
{
	if (!max_len)
		max_len = DEFAULT_MAX_LEN;
	if (max_len > INT_MAX)
		max_len = INT_MAX;
	if (len > max_len) {
		sb_xml_too_large(len, max_len, err);
		return NULL;
	}
	if (!data || len == 0) {
		sb_error_set(err, SB_ERR_UPSTREAM, NULL,
			     "XML document refused: it is empty");
		return NULL;
	}
	xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(data, (int)len);
	if (!ctxt) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "out of memory parsing XML");
		return NULL;
	}
	struct sb_xml_guard g;
	sb_xml_guard_ctxt(ctxt, &g);
	struct sb_xml_quiet q;
	sb_xml_quiet_begin(&q, &g);
	xmlParseDocument(ctxt);
	sb_xml_quiet_end(&q);
	xmlDoc *doc = NULL;
	if (ctxt->wellFormed && !g.dtd && ctxt->myDoc) {
		doc = ctxt->myDoc;
	} else {
		sb_xml_ctxt_error(ctxt, err);
		if (ctxt->myDoc)
			xmlFreeDoc(ctxt->myDoc);
	}
	ctxt->myDoc = NULL;
	ctxt->_private = NULL;
	xmlFreeParserCtxt(ctxt);
	if (doc && !xmlDocGetRootElement(doc)) {
		xmlFreeDoc(doc);
		sb_error_set(err, SB_ERR_UPSTREAM, NULL,
			     "XML document refused: it has no element");
		return NULL;
	}
	return doc;
}

void sb_xml_free(xmlDoc *doc)
{
	if (doc)
		xmlFreeDoc(doc);
}

/* ---- lookup ------------------------------------------------------------- */

xmlNode *sb_xml_root(const xmlDoc *doc)
{
	return doc ? xmlDocGetRootElement(doc) : NULL;
}

bool sb_xml_is(const xmlNode *n, const char *ns, const char *local)
{
	if (!n || n->type != XML_ELEMENT_NODE || !local ||
	    strcmp((const char *)n->name, local) != 0)
		return false;
	const char *href =
	    n->ns && n->ns->href ? (const char *)n->ns->href : "";
	return strcmp(href, ns ? ns : "") == 0;
}

xmlNode *sb_xml_first_element(const xmlNode *parent)
{
	if (!parent)
		return NULL;
	for (xmlNode *c = parent->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return c;
	return NULL;
}

xmlNode *sb_xml_next_element(const xmlNode *n)
{
	if (!n)
		return NULL;
	for (xmlNode *c = n->next; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return c;
	return NULL;
}

xmlNode *sb_xml_child(const xmlNode *parent, const char *ns, const char *local)
{
	if (!parent)
		return NULL;
	for (xmlNode *c = parent->children; c; c = c->next)
		if (sb_xml_is(c, ns, local))
			return c;
	return NULL;
}

xmlNode *sb_xml_next(const xmlNode *n)
{
	if (!n || n->type != XML_ELEMENT_NODE)
		return NULL;
	const char *ns = n->ns ? (const char *)n->ns->href : NULL;
	for (xmlNode *c = n->next; c; c = c->next)
		if (sb_xml_is(c, ns, (const char *)n->name))
			return c;
	return NULL;
}

xmlNode *sb_xml_path(const xmlNode *from, ...)
{
	va_list ap;
	va_start(ap, from);
	const xmlNode *n = from;
	for (;;) {
		const char *ns = va_arg(ap, const char *);
		if (!ns)
			break;
		const char *local = va_arg(ap, const char *);
		n = sb_xml_child(n, ns, local);
		if (!n)
			break;
	}
	va_end(ap);
	return (xmlNode *)n;
}

/* The node after n in document order within the subtree of top (n's
 * children first), or NULL when the subtree is done. */
static const xmlNode *walk_next(const xmlNode *n, const xmlNode *top, bool into)
{
	if (into && n->children && n->type == XML_ELEMENT_NODE)
		return n->children;
	while (n && n != top) {
		if (n->next)
			return n->next;
		n = n->parent;
	}
	return NULL;
}

xmlNode *sb_xml_find(const xmlNode *from, const char *ns, const char *local)
{
	if (!from)
		return NULL;
	for (const xmlNode *n = walk_next(from, from, true); n;
	     n = walk_next(n, from, true))
		if (sb_xml_is(n, ns, local))
			return (xmlNode *)n;
	return NULL;
}

const char *sb_xml_attr(const xmlNode *n, const char *ns, const char *name)
{
	if (!n || n->type != XML_ELEMENT_NODE || !name)
		return NULL;
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (strcmp((const char *)a->name, name) != 0)
			continue;
		const char *href =
		    a->ns && a->ns->href ? (const char *)a->ns->href : "";
		if (strcmp(href, ns ? ns : "") != 0)
			continue;
		/* A parsed attribute's value is one text node (character
		 * and predefined entity references are merged into it). */
		const xmlNode *t = a->children;
		if (!t)
			return "";
		if (t->type == XML_TEXT_NODE && !t->next && t->content)
			return (const char *)t->content;
		return NULL;
	}
	return NULL;
}

/* Call fn for every piece of text under n, in order; stops when fn
 * returns false. */
static void text_pieces(const xmlNode *n,
			bool (*fn)(void *arg, const char *s, size_t len),
			void *arg)
{
	if (!n)
		return;
	if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
		if (n->content)
			fn(arg, (const char *)n->content,
			   strlen((const char *)n->content));
		return;
	}
	for (const xmlNode *c = walk_next(n, n, true); c;
	     c = walk_next(c, n, true)) {
		if ((c->type == XML_TEXT_NODE ||
		     c->type == XML_CDATA_SECTION_NODE) &&
		    c->content &&
		    !fn(arg, (const char *)c->content,
			strlen((const char *)c->content)))
			return;
	}
}

struct text_acc {
	struct sb_buf b;
	size_t total;
};

static bool text_to_buf(void *arg, const char *s, size_t len)
{
	struct text_acc *t = arg;
	t->total += len;
	if (t->b.failed)
		return false;
	return sb_buf_append(&t->b, s, len);
}

char *sb_xml_text(const xmlNode *n, size_t max, struct sb_error *err)
{
	if (!n) {
		sb_error_set(err, SB_ERR_UPSTREAM, NULL, "XML element missing");
		return NULL;
	}
	if (!max)
		max = DEFAULT_TEXT_MAX;
	struct text_acc t = {.total = 0};
	sb_buf_init(&t.b, max + 1);
	if (!sb_buf_append(&t.b, "", 0)) {
		sb_buf_free(&t.b);
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	text_pieces(n, text_to_buf, &t);
	if (t.b.failed || t.b.len > max) {
		bool big = t.total > max;
		sb_buf_free(&t.b);
		char name[80];
		sb_text_quotable((const char *)n->name, 64, name, sizeof(name));
		if (big)
			sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				     "text of XML element <%s> longer than "
				     "%zu bytes",
				     name, max);
		else
			sb_error_set(err, SB_ERR_INTERNAL, NULL,
				     "out of memory");
		return NULL;
	}
	return sb_buf_steal(&t.b);
}

struct text_fixed {
	char *out;
	size_t size, len;
	bool full;
};

static bool text_to_fixed(void *arg, const char *s, size_t len)
{
	struct text_fixed *t = arg;
	size_t room = t->size - 1 - t->len;
	if (len > room) {
		memcpy(t->out + t->len, s, room);
		t->len += room;
		t->full = true;
		return false;
	}
	memcpy(t->out + t->len, s, len);
	t->len += len;
	return true;
}

size_t sb_xml_text_copy(const xmlNode *n, char *out, size_t size)
{
	if (!out || size == 0)
		return 0;
	struct text_fixed t = {.out = out, .size = size};
	text_pieces(n, text_to_fixed, &t);
	/* Drop a character cut in the middle (libxml2's text is valid
	 * UTF-8, so the first invalid sequence is that cut one). */
	size_t ok = 0;
	while (ok < t.len) {
		size_t k = sb_utf8_decode(t.out + ok, t.len - ok, NULL);
		if (!k)
			break;
		ok += k;
	}
	t.len = ok;
	out[t.len] = '\0';
	return t.len;
}

static bool is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool sb_xml_int64(const xmlNode *n, int64_t *out)
{
	char buf[64];
	if (!n)
		return false;
	struct text_fixed t = {.out = buf, .size = sizeof(buf)};
	text_pieces(n, text_to_fixed, &t);
	if (t.full)
		return false;
	buf[t.len] = '\0';
	char *p = buf;
	while (is_xml_space(*p))
		p++;
	size_t e = strlen(p);
	while (e > 0 && is_xml_space(p[e - 1]))
		p[--e] = '\0';
	if (!*p)
		return false;
	bool neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	if (!*p)
		return false;
	uint64_t v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (v > ((uint64_t)INT64_MAX + 1 - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (!neg && v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* ---- writer ------------------------------------------------------------- */

void sb_xml_w_init(struct sb_xml_w *w, struct sb_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

static bool w_ok(struct sb_xml_w *w)
{
	if (w->err.status != SB_OK)
		return false;
	if (!w->out) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "XML writer without a buffer");
		return false;
	}
	if (w->out->failed) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "XML output over its size limit or out of "
			     "memory");
		return false;
	}
	return true;
}

/* A name as the writer accepts it: an XML QName of ASCII letters, digits,
 * '_', '-', '.', at most one ':' (not first or last). */
static bool qname_ok(const char *q)
{
	if (!q || !*q)
		return false;
	int colons = 0;
	for (const char *p = q; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_';
		bool other = (c >= '0' && c <= '9') || c == '-' || c == '.';
		if (c == ':') {
			if (p == q || !p[1] || ++colons > 1 ||
			    !((p[1] >= 'a' && p[1] <= 'z') ||
			      (p[1] >= 'A' && p[1] <= 'Z') || p[1] == '_'))
				return false;
			continue;
		}
		if (p == q ? !alpha : !(alpha || other))
			return false;
	}
	return true;
}

static bool w_name(struct sb_xml_w *w, const char *q, const char *what)
{
	if (qname_ok(q))
		return true;
	sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
		     "XML writer: %s name is not a valid XML name", what);
	return false;
}

static void w_end_tag(struct sb_xml_w *w)
{
	if (w->in_tag) {
		sb_buf_puts(w->out, ">");
		w->in_tag = false;
	}
}

void sb_xml_w_open(struct sb_xml_w *w, const char *qname)
{
	if (!w_ok(w) || !w_name(w, qname, "element"))
		return;
	if (w->depth >= SB_XML_W_DEPTH) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "XML writer: elements nested over %d deep",
			     SB_XML_W_DEPTH);
		return;
	}
	w_end_tag(w);
	sb_buf_printf(w->out, "<%s", qname);
	w->open[w->depth++] = qname;
	w->in_tag = true;
}

void sb_xml_w_attr(struct sb_xml_w *w, const char *qname, const char *value)
{
	if (!w_ok(w) || !w_name(w, qname, "attribute"))
		return;
	if (!w->in_tag) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "XML writer: attribute %s after content", qname);
		return;
	}
	sb_buf_printf(w->out, " %s=\"", qname);
	if (sb_xml_escape_append(w->out, value, (size_t)-1, SB_XML_ATTR,
				 &w->err) != SB_OK)
		return;
	sb_buf_puts(w->out, "\"");
}

void sb_xml_w_text(struct sb_xml_w *w, const char *text)
{
	if (!w_ok(w))
		return;
	w_end_tag(w);
	sb_xml_escape_append(w->out, text, (size_t)-1, SB_XML_TEXT, &w->err);
}

void sb_xml_w_raw(struct sb_xml_w *w, const char *xml)
{
	if (!w_ok(w))
		return;
	w_end_tag(w);
	if (xml)
		sb_buf_puts(w->out, xml);
}

void sb_xml_w_close(struct sb_xml_w *w)
{
	if (!w_ok(w))
		return;
	if (w->depth == 0) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "XML writer: closing an element never opened");
		return;
	}
	const char *q = w->open[--w->depth];
	if (w->in_tag) {
		sb_buf_puts(w->out, "/>");
		w->in_tag = false;
	} else {
		sb_buf_printf(w->out, "</%s>", q);
	}
}

void sb_xml_w_leaf(struct sb_xml_w *w, const char *qname, const char *text)
{
	sb_xml_w_open(w, qname);
	if (text)
		sb_xml_w_text(w, text);
	sb_xml_w_close(w);
}

enum sb_status sb_xml_w_finish(struct sb_xml_w *w, struct sb_error *err)
{
	if (w_ok(w) && w->depth > 0)
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "XML writer: element %s left open",
			     w->open[w->depth - 1]);
	if (w->err.status == SB_OK)
		return SB_OK;
	if (err)
		*err = w->err;
	return w->err.status;
}
