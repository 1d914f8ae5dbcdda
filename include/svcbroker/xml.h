/* svcbroker broker SDK, network part: safe XML and SOAP over libxml2
 * (libsvcbroker-net; compile with $(SB_NET_CFLAGS) or pkg-config
 * svcbroker-net, which add libxml2's include directory).
 *
 * Everything here is thread-safe and keeps no state between calls (a
 * stream or a writer is used by one thread at a time).  The
 * library initialises libxml2 when it is loaded (see <svcbroker/net.h>);
 * a broker never calls xmlInitParser, xmlCleanupParser or any libxml2
 * function that changes a process-wide default (docs/writing-a-broker.md,
 * "XML and SOAP", lists them).
 *
 * Parsing.  Documents from an upstream are parsed by sb_xml_parse (a whole
 * body in memory) or by a stream (sb_xml_stream_*, for bodies that carry
 * large base64 content).  Both refuse any document type declaration before
 * any content is read (so no entity is ever declared: no XXE, no billion
 * laughs, no quadratic blow-up), never load or fetch anything (no DTD, no
 * network), cap the input size and keep libxml2's own messages (which
 * quote the input, i.e. mail content) off stderr.  A refusal is
 * SB_ERR_UPSTREAM whose message says what was wrong (a DTD, the size, or
 * the line that is not well-formed), never quoting the document.
 *
 * Looking elements up.  Always by namespace URI and local name, never by
 * prefix (a server may pick any prefix).  The results point into the
 * document and live as long as it does.
 */
#ifndef SVCBROKER_XML_H
#define SVCBROKER_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include <svcbroker/sdk.h>
#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Namespace URIs the SOAP brokers meet. */
#define SB_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define SB_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define SB_NS_EWS_TYPES                                                        \
	"http://schemas.microsoft.com/exchange/services/2006/types"
#define SB_NS_EWS_MESSAGES                                                     \
	"http://schemas.microsoft.com/exchange/services/2006/messages"
#define SB_NS_EWS_ERRORS                                                       \
	"http://schemas.microsoft.com/exchange/services/2006/errors"
#define SB_NS_WSA "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define SB_NS_WSMAN "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
#define SB_NS_WSMAN_FAULT "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
#define SB_NS_WINRS "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"

/* ---- parsing ------------------------------------------------------------ */

/* Parse len bytes of data (need not be NUL-terminated) into a tree.
 * max_len caps the input (0: 16 MiB); a longer input is refused without
 * being looked at.  Returns the document (free it with sb_xml_free), or
 * NULL with err filled: SB_ERR_UPSTREAM for "DTD refused", "too large",
 * "not well-formed at line L" and an empty input, SB_ERR_INTERNAL when out
 * of memory.  Text nodes are limited to libxml2's 10 MB (XML_PARSE_HUGE is
 * never set): use a stream for larger base64 content. */
xmlDoc *sb_xml_parse(const char *data, size_t len, size_t max_len,
		     struct sb_error *err);
void sb_xml_free(xmlDoc *doc); /* NULL is fine */

/* The document element, or NULL. */
xmlNode *sb_xml_root(const xmlDoc *doc);

/* True if n is an element with namespace URI ns (NULL or "": no
 * namespace) and local name local. */
bool sb_xml_is(const xmlNode *n, const char *ns, const char *local);

/* The first child element of parent named {ns}local, or NULL.  parent may
 * be NULL (then NULL). */
xmlNode *sb_xml_child(const xmlNode *parent, const char *ns, const char *local);

/* The next sibling element of n with n's own namespace and local name
 * (walks a list: for (x = sb_xml_child(p, ns, "Item"); x; x =
 * sb_xml_next(x))), or NULL. */
xmlNode *sb_xml_next(const xmlNode *n);

/* The first element child of parent whatever its name, and the next
 * element sibling of n (for walking mixed lists). */
xmlNode *sb_xml_first_element(const xmlNode *parent);
xmlNode *sb_xml_next_element(const xmlNode *n);

/* A path of child steps from `from`: pairs of (ns, local) ended by a NULL
 * ns, e.g. sb_xml_path(body, SB_NS_EWS_MESSAGES, "GetItemResponse",
 * SB_NS_EWS_MESSAGES, "ResponseMessages", NULL).  The first match at every
 * step; NULL when a step is missing. */
xmlNode *sb_xml_path(const xmlNode *from, ...);

/* The first descendant element of from (not from itself) named {ns}local
 * in document order, or NULL.  Depth is bounded by libxml2's own limit
 * (256 without XML_PARSE_HUGE). */
xmlNode *sb_xml_find(const xmlNode *from, const char *ns, const char *local);

/* The value of n's attribute {ns}name (ns NULL: an attribute without a
 * namespace, the usual case), "" when empty, NULL when absent.  Points into
 * the document. */
const char *sb_xml_attr(const xmlNode *n, const char *ns, const char *name);

/* The text content of n (its text and CDATA descendants, concatenated),
 * malloc'd, or NULL with err filled: SB_ERR_UPSTREAM when it is longer
 * than max bytes (0: 1 MiB), SB_ERR_INTERNAL out of memory.  A NULL n
 * gives NULL with SB_ERR_UPSTREAM "element missing". */
char *sb_xml_text(const xmlNode *n, size_t max, struct sb_error *err);

/* The text content of n copied into out (size bytes, NUL-terminated), cut
 * at a UTF-8 character boundary when it does not fit.  Returns the length
 * written; a NULL n writes "". */
size_t sb_xml_text_copy(const xmlNode *n, char *out, size_t size);

/* The text content of n as a decimal integer (surrounding XML white space
 * allowed).  False, *out untouched, when n is NULL or the text is not one. */
bool sb_xml_int64(const xmlNode *n, int64_t *out);

/* ---- streaming base64 content ---------------------------------------------
 *
 * For responses that carry large base64 content (an attachment's EWS
 * t:Content, a WinRS rsp:Stream): the text of every element named
 * {ns}local is decoded while the document is parsed and handed to a sink
 * in small pieces, so no large text node (nor the decoded data, unless the
 * sink keeps it) is ever held; the rest of the document becomes a tree as
 * sb_xml_parse makes it, in which those elements are present but empty.
 * The same refusals as sb_xml_parse apply.  Feed the body in pieces as it
 * arrives, or all at once. */

/* Receives the decoded bytes of the index-th matching element (0, 1, ...
 * in document order), in pieces of at most a few kilobytes; len is 0 once
 * at the end of each element.  A NULL sink drops the bytes (they are still
 * checked and counted against the cap).  Return false to stop the parse (it
 * then fails with SB_ERR_UPSTREAM "stopped by the content sink" unless the sink
 * filled the stream's error itself through sb_xml_stream_error). */
typedef bool (*sb_xml_sink_fn)(void *arg, unsigned index, const void *data,
			       size_t len);

struct sb_xml_stream;

/* A stream that decodes the base64 text of every {ns}local element.
 * max_len caps the whole document as sb_xml_parse does (0: 64 MiB);
 * max_decoded caps the decoded bytes of each element (0: 64 MiB), a larger
 * one is refused as SB_ERR_UPSTREAM.  NULL when out of memory. */
struct sb_xml_stream *sb_xml_stream_new(const char *ns, const char *local,
					size_t max_len, size_t max_decoded,
					sb_xml_sink_fn sink, void *arg);
/* Parse the next len bytes.  SB_OK, or the error (also kept: every later
 * feed and finish return it again). */
enum sb_status sb_xml_stream_feed(struct sb_xml_stream *s, const void *data,
				  size_t len, struct sb_error *err);
/* End of input: the document (the caller frees it with sb_xml_free), or
 * NULL with err filled.  The stream itself is still freed by
 * sb_xml_stream_free. */
xmlDoc *sb_xml_stream_finish(struct sb_xml_stream *s, struct sb_error *err);
/* For a sink refusing content: the stream's error is set (first one wins)
 * and the parse stops.  Returns false, for `return sb_xml_stream_error(...)`
 * in a sink that has the stream at hand. */
bool sb_xml_stream_error(struct sb_xml_stream *s, enum sb_status st,
			 const char *code, const char *fmt, ...)
    SB_PRINTF(4, 5);
/* Number of matching elements seen so far. */
unsigned sb_xml_stream_count(const struct sb_xml_stream *s);
void sb_xml_stream_free(struct sb_xml_stream *s); /* NULL is fine */

/* One call for a body already in memory: feed and finish. */
xmlDoc *sb_xml_parse_stream(const char *data, size_t len, size_t max_len,
			    const char *ns, const char *local,
			    size_t max_decoded, sb_xml_sink_fn sink, void *arg,
			    struct sb_error *err);

/* ---- writing ---------------------------------------------------------------
 *
 * Everything written is checked: text and attribute values that XML 1.0
 * cannot carry (C0 controls other than TAB, LF and CR, U+FFFE, U+FFFF,
 * invalid UTF-8) are refused, so a request the server would reject is
 * never sent. */

/* sb_xml_escape_append, SB_XML_TEXT and SB_XML_ATTR: <svcbroker/sdk.h>
 * (the escaping is the SDK's own, used by brokers without libxml2 too). */

/* A small writer of well-formed fragments into a struct sb_buf.  Element
 * and attribute names are qualified names given by the caller ("t:Subject")
 * and must outlive the element; their prefixes are declared by the caller
 * (sb_soap_begin declares them on the envelope).  Errors are sticky: check
 * once with sb_xml_w_finish. */
#define SB_XML_W_DEPTH 64
struct sb_xml_w {
	struct sb_buf *out;
	const char *open[SB_XML_W_DEPTH];
	unsigned depth;
	bool in_tag; /* "<name attr..." written, '>' not yet */
	struct sb_error err;
};
void sb_xml_w_init(struct sb_xml_w *w, struct sb_buf *out);
void sb_xml_w_open(struct sb_xml_w *w, const char *qname);
/* An attribute of the element just opened (before any content). */
void sb_xml_w_attr(struct sb_xml_w *w, const char *qname, const char *value);
void sb_xml_w_text(struct sb_xml_w *w, const char *text);
/* An already-built, well-formed fragment, written as is. */
void sb_xml_w_raw(struct sb_xml_w *w, const char *xml);
void sb_xml_w_close(struct sb_xml_w *w);
/* <qname>text</qname> (text NULL: <qname/>). */
void sb_xml_w_leaf(struct sb_xml_w *w, const char *qname, const char *text);
/* SB_OK if everything was written and every element closed; else the first
 * error (err filled). */
enum sb_status sb_xml_w_finish(struct sb_xml_w *w, struct sb_error *err);

/* ---- SOAP -------------------------------------------------------------- */

enum sb_soap_version { SB_SOAP11 = 11, SB_SOAP12 = 12 };

/* A namespace declaration: prefix (not "s", the envelope's own) and URI. */
struct sb_xml_ns {
	const char *prefix;
	const char *uri;
};

/* Begin an envelope in w (whose buffer must be empty): the XML
 * declaration and <s:Envelope> declaring s (the version's envelope
 * namespace) and the n_ns namespaces of ns once for the whole message.  Then
 * optionally sb_soap_header, header blocks, then sb_soap_body, the body's
 * content, and sb_soap_end (which closes everything still open). */
void sb_soap_begin(struct sb_xml_w *w, enum sb_soap_version v,
		   const struct sb_xml_ns *ns, size_t n_ns);
void sb_soap_header(struct sb_xml_w *w);
void sb_soap_body(struct sb_xml_w *w);
void sb_soap_end(struct sb_xml_w *w);

/* A whole envelope from already-built fragments (header_xml may be NULL:
 * no header) written into out, which must be empty (the XML declaration
 * starts the document).  SB_OK or the error. */
enum sb_status sb_soap_envelope(struct sb_buf *out, enum sb_soap_version v,
				const struct sb_xml_ns *ns, size_t n_ns,
				const char *header_xml, const char *body_xml,
				struct sb_error *err);

/* The SOAP version of a parsed envelope (0 if doc is not one), and its
 * Header and Body elements (NULL if absent). */
int sb_soap_version_of(const xmlDoc *doc);
xmlNode *sb_soap_header_of(const xmlDoc *doc);
xmlNode *sb_soap_body_of(const xmlDoc *doc);

/* What a SOAP fault says.  Every string is valid UTF-8, NUL-terminated,
 * cut to its size at a character boundary, "" when absent. */
#define SB_SOAP_CODE_MAX 128
#define SB_SOAP_TEXT_MAX 512
struct sb_soap_fault {
	int version; /* 11 or 12 */
	/* SOAP 1.1 faultcode, SOAP 1.2 Code/Value: the QName's local part
	 * ("ErrorServerBusy", "Receiver") and its namespace URI. */
	char code[SB_SOAP_CODE_MAX];
	char code_ns[SB_SOAP_TEXT_MAX];
	/* SOAP 1.2 Code/Subcode/Value, local part ("TimedOut") and URI. */
	char subcode[SB_SOAP_CODE_MAX];
	char subcode_ns[SB_SOAP_TEXT_MAX];
	/* SOAP 1.1 faultstring, SOAP 1.2 the first Reason/Text. */
	char reason[SB_SOAP_TEXT_MAX];
	/* EWS: detail's e:ResponseCode and e:Message, and t:MessageXml's
	 * t:Value Name="BackOffMilliseconds" (-1 when absent). */
	char response_code[SB_SOAP_CODE_MAX];
	char message[SB_SOAP_TEXT_MAX];
	int64_t back_off_ms;
	/* WS-Management: Detail's WSManFault Code attribute (as written and
	 * as a number, -1 when absent or not a number) and its Message. */
	char wsman_code[SB_SOAP_CODE_MAX];
	int64_t wsman_code_num;
	char wsman_message[SB_SOAP_TEXT_MAX];
};

/* If doc is a SOAP 1.1 or 1.2 envelope whose Body holds a Fault, fill f
 * and return true; else false (f cleared).  Never fails otherwise: what is
 * missing stays empty. */
bool sb_soap_fault_read(const xmlDoc *doc, struct sb_soap_fault *f);

/* The fault as an error report: status SB_ERR_THROTTLED with
 * retry_after_ms when it carries a back-off (EWS ErrorServerBusy), else
 * SB_ERR_UPSTREAM; code the most specific one present (EWS ResponseCode,
 * WSManFault Code, Subcode, Code); message the reason.  Returns the
 * status. */
enum sb_status sb_soap_fault_error(const struct sb_soap_fault *f,
				   struct sb_error *err);

#ifdef __cplusplus
}
#endif
#endif
