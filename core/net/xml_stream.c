/* libsvcbroker-net: parsing with the base64 text of chosen elements decoded
 * on the fly (see include/svcbroker/xml.h, "streaming base64 content").
 *
 * A libxml2 push parser with the SAX2 tree builder, whose characters hook
 * diverts the text of a matching element to an incremental base64 decoder
 * instead of the tree.  libxml2 hands character data over in pieces of a
 * few hundred bytes and, in push mode, drops input it has parsed, so
 * memory stays that of the pieces fed plus the tree of the rest of the
 * document, however large the content.  XML_PARSE_HUGE is never needed
 * (no text node is built for the content) and never set.  The same guard
 * as sb_xml_parse (xml.c) refuses DTDs and keeps messages off stderr. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include <svcbroker/xml.h>

#include "xml_internal.h"

#define DEFAULT_MAX (64u * 1024 * 1024)
/* Input is given to libxml2 in pieces of this size at most, so that what
 * it holds unparsed stays far below its 10 MB lookup limit. */
#define FEED_PIECE 65536
#define OUT_SIZE 3072

struct sb_xml_stream {
	xmlParserCtxtPtr ctxt;
	struct sb_xml_guard guard;
	char *ns, *local;
	size_t max_len, max_decoded, fed;
	sb_xml_sink_fn sink;
	void *arg;
	xmlNode *target; /* the matching element being read, or NULL */
	unsigned count;
	/* base64 decoder state for the current element */
	unsigned char quad[4];
	unsigned nq, pad;
	size_t decoded;
	unsigned char out[OUT_SIZE];
	size_t nout;
	bool finished;
	struct sb_error err;
};

static signed char b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (signed char)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (signed char)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (signed char)(c - '0' + 52);
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool stop(struct sb_xml_stream *s, enum sb_status st, const char *fmt,
		 ...) SB_PRINTF(3, 4);

static bool stop(struct sb_xml_stream *s, enum sb_status st, const char *fmt,
		 ...)
{
	if (s->err.status == SB_OK) {
		char msg[SB_ERROR_MSG_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		sb_error_set(&s->err, st, NULL, "%s", msg);
	}
	if (s->ctxt)
		xmlStopParser(s->ctxt);
	return false;
}

static bool flush(struct sb_xml_stream *s)
{
	if (!s->nout)
		return true;
	size_t n = s->nout;
	s->nout = 0;
	if (s->sink && !s->sink(s->arg, s->count - 1, s->out, n)) {
		if (s->err.status == SB_OK)
			return stop(s, SB_ERR_UPSTREAM,
				    "XML document: base64 content of <%s> "
				    "#%u stopped by the content sink",
				    s->local, s->count - 1);
		xmlStopParser(s->ctxt);
		return false;
	}
	return true;
}

static bool put(struct sb_xml_stream *s, const unsigned char *b, unsigned n)
{
	if (s->decoded + n > s->max_decoded)
		return stop(s, SB_ERR_UPSTREAM,
			    "XML document: base64 content of <%s> #%u is over "
			    "%zu bytes decoded",
			    s->local, s->count - 1, s->max_decoded);
	s->decoded += n;
	if (s->nout + n > sizeof(s->out) && !flush(s))
		return false;
	memcpy(s->out + s->nout, b, n);
	s->nout += n;
	return true;
}

static bool bad_b64(struct sb_xml_stream *s, const char *what)
{
	return stop(s, SB_ERR_UPSTREAM,
		    "XML document: base64 content of <%s> #%u is invalid (%s "
		    "after %zu decoded bytes)",
		    s->local, s->count - 1, what, s->decoded);
}

static bool decode(struct sb_xml_stream *s, const xmlChar *ch, int len)
{
	for (int i = 0; i < len; i++) {
		unsigned char c = ch[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '=') {
			if (s->nq + s->pad < 2)
				return bad_b64(s, "misplaced padding");
			s->pad++;
			if (s->nq + s->pad == 4) {
				unsigned char o[2];
				o[0] = (unsigned char)(s->quad[0] << 2 |
						       s->quad[1] >> 4);
				o[1] = (unsigned char)(s->quad[1] << 4 |
						       s->quad[2] >> 2);
				if (!put(s, o, s->nq - 1))
					return false;
				s->nq = 4; /* nothing may follow */
			}
			continue;
		}
		signed char v = b64_value(c);
		if (v < 0)
			return bad_b64(s, "a character outside the alphabet");
		if (s->pad || s->nq == 4)
			return bad_b64(s, "data after the padding");
		s->quad[s->nq++] = (unsigned char)v;
		if (s->nq == 4) {
			unsigned char o[3];
			o[0] =
			    (unsigned char)(s->quad[0] << 2 | s->quad[1] >> 4);
			o[1] =
			    (unsigned char)(s->quad[1] << 4 | s->quad[2] >> 2);
			o[2] = (unsigned char)(s->quad[2] << 6 | s->quad[3]);
			if (!put(s, o, 3))
				return false;
			s->nq = 0;
		}
	}
	return true;
}

static struct sb_xml_stream *stream_of(void *ctx)
{
	return sb_xml_guard_of((xmlParserCtxtPtr)ctx)->owner;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		     const xmlChar *uri, int nb_namespaces,
		     const xmlChar **namespaces, int nb_attributes,
		     int nb_defaulted, const xmlChar **attributes)
{
	struct sb_xml_stream *s = stream_of(ctx);
	xmlParserCtxtPtr ctxt = ctx;
	xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces,
			      namespaces, nb_attributes, nb_defaulted,
			      attributes);
	if (s->target || !ctxt->node || !sb_xml_is(ctxt->node, s->ns, s->local))
		return;
	s->target = ctxt->node;
	s->count++;
	s->nq = s->pad = 0;
	s->decoded = 0;
	s->nout = 0;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		   const xmlChar *uri)
{
	struct sb_xml_stream *s = stream_of(ctx);
	xmlParserCtxtPtr ctxt = ctx;
	if (s->target && ctxt->node == s->target) {
		s->target = NULL;
		if (s->nq != 0 && s->nq != 4)
			bad_b64(s, "the text ends inside a quantum");
		else if (flush(s) && s->sink &&
			 !s->sink(s->arg, s->count - 1, NULL, 0))
			stop(s, SB_ERR_UPSTREAM,
			     "XML document: base64 content of <%s> #%u "
			     "stopped by the content sink",
			     s->local, s->count - 1);
	}
	xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
	struct sb_xml_stream *s = stream_of(ctx);
	xmlParserCtxtPtr ctxt = ctx;
	if (s->target && ctxt->node == s->target) {
		decode(s, ch, len);
		return;
	}
	xmlSAX2Characters(ctx, ch, len);
}

struct sb_xml_stream *sb_xml_stream_new(const char *ns, const char *local,
					size_t max_len, size_t max_decoded,
					sb_xml_sink_fn sink, void *arg)
{
	if (!local)
		return NULL;
	struct sb_xml_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ns = strdup(ns ? ns : "");
	s->local = strdup(local);
	s->ctxt = xmlCreatePushParserCtxt(NULL, NULL, NULL, 0, NULL);
	if (!s->ns || !s->local || !s->ctxt) {
		sb_xml_stream_free(s);
		return NULL;
	}
	s->max_len = max_len ? max_len : DEFAULT_MAX;
	s->max_decoded = max_decoded ? max_decoded : DEFAULT_MAX;
	s->sink = sink;
	s->arg = arg;
	sb_xml_guard_ctxt(s->ctxt, &s->guard);
	s->guard.owner = s;
	s->ctxt->sax->startElementNs = on_start;
	s->ctxt->sax->endElementNs = on_end;
	s->ctxt->sax->characters = on_text;
	s->ctxt->sax->ignorableWhitespace = on_text;
	s->ctxt->sax->cdataBlock = on_text;
	return s;
}

/* The stream's error (set if the parser failed) in err. */
static enum sb_status failed(struct sb_xml_stream *s, struct sb_error *err)
{
	if (s->err.status == SB_OK) {
		if (s->ctxt)
			sb_xml_ctxt_error(s->ctxt, &s->err);
		else
			sb_error_set(&s->err, SB_ERR_INTERNAL, NULL,
				     "XML stream already finished");
	}
	if (err)
		*err = s->err;
	return s->err.status;
}

static bool parser_failed(struct sb_xml_stream *s)
{
	return s->err.status != SB_OK || s->guard.dtd ||
	       s->ctxt->instate == XML_PARSER_EOF ||
	       (s->ctxt->errNo != XML_ERR_OK && s->ctxt->disableSAX);
}

enum sb_status sb_xml_stream_feed(struct sb_xml_stream *s, const void *data,
				  size_t len, struct sb_error *err)
{
	if (!s)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no XML stream");
	if (s->err.status != SB_OK || s->finished || parser_failed(s))
		return failed(s, err);
	if (len > s->max_len || s->fed > s->max_len - len) {
		sb_xml_too_large(s->fed + len, s->max_len, &s->err);
		xmlStopParser(s->ctxt);
		return failed(s, err);
	}
	const char *p = data;
	while (len > 0) {
		size_t n = len < FEED_PIECE ? len : FEED_PIECE;
		struct sb_xml_quiet q;
		sb_xml_quiet_begin(&q, &s->guard);
		xmlParseChunk(s->ctxt, p, (int)n, 0);
		sb_xml_quiet_end(&q);
		s->fed += n;
		p += n;
		len -= n;
		if (parser_failed(s))
			return failed(s, err);
	}
	return SB_OK;
}

xmlDoc *sb_xml_stream_finish(struct sb_xml_stream *s, struct sb_error *err)
{
	if (!s) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "no XML stream");
		return NULL;
	}
	if (s->finished || s->err.status != SB_OK || parser_failed(s)) {
		failed(s, err);
		return NULL;
	}
	s->finished = true;
	if (s->fed == 0) {
		sb_error_set(&s->err, SB_ERR_UPSTREAM, NULL,
			     "XML document refused: it is empty");
		failed(s, err);
		return NULL;
	}
	struct sb_xml_quiet q;
	sb_xml_quiet_begin(&q, &s->guard);
	xmlParseChunk(s->ctxt, NULL, 0, 1);
	sb_xml_quiet_end(&q);
	xmlParserCtxtPtr ctxt = s->ctxt;
	if (s->err.status != SB_OK || s->guard.dtd || !ctxt->wellFormed ||
	    !ctxt->myDoc) {
		failed(s, err);
		if (ctxt->myDoc)
			xmlFreeDoc(ctxt->myDoc);
		ctxt->myDoc = NULL;
		return NULL;
	}
	xmlDoc *doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	if (!xmlDocGetRootElement(doc)) {
		xmlFreeDoc(doc);
		sb_error_set(&s->err, SB_ERR_UPSTREAM, NULL,
			     "XML document refused: it has no element");
		failed(s, err);
		return NULL;
	}
	return doc;
}

bool sb_xml_stream_error(struct sb_xml_stream *s, enum sb_status st,
			 const char *code, const char *fmt, ...)
{
	if (!s)
		return false;
	if (s->err.status == SB_OK) {
		char msg[SB_ERROR_MSG_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		sb_error_set(&s->err, st == SB_OK ? SB_ERR_UPSTREAM : st, code,
			     "%s", msg);
	}
	if (s->ctxt)
		xmlStopParser(s->ctxt);
	return false;
}

unsigned sb_xml_stream_count(const struct sb_xml_stream *s)
{
	return s ? s->count : 0;
}

void sb_xml_stream_free(struct sb_xml_stream *s)
{
	if (!s)
		return;
	if (s->ctxt) {
		if (s->ctxt->myDoc)
			xmlFreeDoc(s->ctxt->myDoc);
		s->ctxt->myDoc = NULL;
		s->ctxt->_private = NULL;
		xmlFreeParserCtxt(s->ctxt);
	}
	free(s->ns);
	free(s->local);
	free(s);
}

xmlDoc *sb_xml_parse_stream(const char *data, size_t len, size_t max_len,
			    const char *ns, const char *local,
			    size_t max_decoded, sb_xml_sink_fn sink, void *arg,
			    struct sb_error *err)
{
	struct sb_xml_stream *s =
	    sb_xml_stream_new(ns, local, max_len, max_decoded, sink, arg);
	if (!s) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "out of memory starting an XML stream");
		return NULL;
	}
	xmlDoc *doc = NULL;
	if (sb_xml_stream_feed(s, data, len, err) == SB_OK)
		doc = sb_xml_stream_finish(s, err);
	sb_xml_stream_free(s);
	return doc;
}
