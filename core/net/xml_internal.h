/* libsvcbroker-net: what xml.c shares with xml_stream.c and soap.c. */
#ifndef SVCBROKER_NET_XML_INTERNAL_H
#define SVCBROKER_NET_XML_INTERNAL_H

#include <stdbool.h>

#include <libxml/parser.h>

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

#endif
