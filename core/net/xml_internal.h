/* libsvcbroker-net: what xml.c shares with xml_stream.c and soap.c. */
#ifndef SVCBROKER_NET_XML_INTERNAL_H
#define SVCBROKER_NET_XML_INTERNAL_H

#include <stdbool.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <svcbroker/status.h>

/* Per-parse state kept in the parser context's _private. */
struct sb_xml_guard {
	bool dtd;    /* a document type declaration was met: refused */
	void *owner; /* the stream, for xml_stream.c's SAX hooks */
	/* The first error libxml2 reported (later ones follow from it). */
	int first_code, first_line;
	bool first_huge; /* it was the 10 MB text node limit */
};

/* Set ctxt up for a safe parse (options, quiet error hooks, DTD refusal)
 * with g as its per-parse state.  Set further SAX hooks after this. */
void sb_xml_guard_ctxt(xmlParserCtxtPtr ctxt, struct sb_xml_guard *g);
struct sb_xml_guard *sb_xml_guard_of(xmlParserCtxtPtr ctxt);
/* The refusal for a context whose parse failed. */
enum sb_status sb_xml_ctxt_error(xmlParserCtxtPtr ctxt, struct sb_error *err);
enum sb_status sb_xml_too_large(size_t len, size_t max, struct sb_error *err);

/* libxml2 2.9 reports a few errors without the parser context, through
 * the calling thread's handlers, whose defaults print on stderr: a failed
 * character-set conversion ("encoding error : input conversion failed",
 * quoting input bytes) and xmlParseChunk's "encoder error".  Between
 * begin and end, the calling thread's generic and structured handlers
 * drop such messages, keeping the first code and line in g (which may be
 * NULL); end restores what was there before.  Every parse call is
 * bracketed so (they are thread-local: nothing process-wide changes). */
struct sb_xml_quiet {
	xmlGenericErrorFunc generic;
	void *generic_ctx;
	xmlStructuredErrorFunc structured;
	void *structured_ctx;
};
void sb_xml_quiet_begin(struct sb_xml_quiet *q, struct sb_xml_guard *g);
void sb_xml_quiet_end(const struct sb_xml_quiet *q);

#endif
