/* libsvcbroker-net: SOAP 1.1 and 1.2 envelopes and faults (see
 * include/svcbroker/xml.h, "SOAP").
 *
 * Envelopes are written with the fragment writer of xml.c, declaring every
 * namespace once on <s:Envelope>.  Faults are read by namespace URI and
 * local name, never by prefix; QName values (faultcode, Code/Value) are
 * resolved through the namespaces in scope where they appear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include <svcbroker/xml.h>

static const char *env_ns(enum sb_soap_version v)
{
	return v == SB_SOAP12 ? SB_NS_SOAP12 : SB_NS_SOAP11;
}

/* ---- writing ------------------------------------------------------------ */

static bool prefix_ok(const char *p)
{
	if (!p || !*p || strlen(p) > 32)
		return false;
	if (strcmp(p, "s") == 0 || strncasecmp(p, "xml", 3) == 0)
		return false;
	for (const char *c = p; *c; c++) {
		bool alpha = (*c >= 'a' && *c <= 'z') ||
			     (*c >= 'A' && *c <= 'Z') || *c == '_';
		bool other = (*c >= '0' && *c <= '9') || *c == '-' || *c == '.';
		if (c == p ? !alpha : !(alpha || other))
			return false;
	}
	return true;
}

void sb_soap_begin(struct sb_xml_w *w, enum sb_soap_version v,
		   const struct sb_xml_ns *ns, size_t n_ns)
{
	if (w->err.status != SB_OK)
		return;
	if (v != SB_SOAP11 && v != SB_SOAP12) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "SOAP version %d unknown (11 or 12)", (int)v);
		return;
	}
	if (w->depth != 0 || (w->out && w->out->len != 0)) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "SOAP envelope must start an empty buffer");
		return;
	}
	sb_xml_w_raw(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
	sb_xml_w_open(w, "s:Envelope");
	sb_xml_w_attr(w, "xmlns:s", env_ns(v));
	for (size_t i = 0; i < n_ns && ns; i++) {
		if (!prefix_ok(ns[i].prefix) || !ns[i].uri || !*ns[i].uri) {
			if (w->err.status == SB_OK)
				sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
					     "SOAP envelope: namespace %zu "
					     "has an unusable prefix or no "
					     "URI",
					     i);
			return;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(ns[j].prefix, ns[i].prefix) == 0) {
				if (w->err.status == SB_OK)
					sb_error_set(&w->err, SB_ERR_INTERNAL,
						     NULL,
						     "SOAP envelope: prefix %s "
						     "declared twice",
						     ns[i].prefix);
				return;
			}
		char q[48];
		snprintf(q, sizeof(q), "xmlns:%s", ns[i].prefix);
		sb_xml_w_attr(w, q, ns[i].uri);
	}
}

static bool at(struct sb_xml_w *w, unsigned depth, const char *top)
{
	return w->depth == depth &&
	       (depth == 0 || strcmp(w->open[depth - 1], top) == 0);
}

void sb_soap_header(struct sb_xml_w *w)
{
	if (w->err.status != SB_OK)
		return;
	if (!at(w, 1, "s:Envelope")) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "SOAP Header outside an envelope just begun");
		return;
	}
	sb_xml_w_open(w, "s:Header");
}

void sb_soap_body(struct sb_xml_w *w)
{
	if (w->err.status != SB_OK)
		return;
	if (at(w, 2, "s:Header"))
		sb_xml_w_close(w);
	if (!at(w, 1, "s:Envelope")) {
		sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
			     "SOAP Body outside an envelope, or a header "
			     "block left open");
		return;
	}
	sb_xml_w_open(w, "s:Body");
}

void sb_soap_end(struct sb_xml_w *w)
{
	while (w->err.status == SB_OK && w->depth > 0)
		sb_xml_w_close(w);
}

enum sb_status sb_soap_envelope(struct sb_buf *out, enum sb_soap_version v,
				const struct sb_xml_ns *ns, size_t n_ns,
				const char *header_xml, const char *body_xml,
				struct sb_error *err)
{
	struct sb_xml_w w;
	sb_xml_w_init(&w, out);
	sb_soap_begin(&w, v, ns, n_ns);
	if (header_xml) {
		sb_soap_header(&w);
		sb_xml_w_raw(&w, header_xml);
	}
	sb_soap_body(&w);
	sb_xml_w_raw(&w, body_xml);
	sb_soap_end(&w);
	return sb_xml_w_finish(&w, err);
}

/* ---- reading ------------------------------------------------------------ */

int sb_soap_version_of(const xmlDoc *doc)
{
	xmlNode *root = sb_xml_root(doc);
	if (sb_xml_is(root, SB_NS_SOAP11, "Envelope"))
		return SB_SOAP11;
	if (sb_xml_is(root, SB_NS_SOAP12, "Envelope"))
		return SB_SOAP12;
	return 0;
}

static xmlNode *env_child(const xmlDoc *doc, const char *local)
{
	int v = sb_soap_version_of(doc);
	if (!v)
		return NULL;
	return sb_xml_child(sb_xml_root(doc), env_ns((enum sb_soap_version)v),
			    local);
}

xmlNode *sb_soap_header_of(const xmlDoc *doc)
{
	return env_child(doc, "Header");
}

xmlNode *sb_soap_body_of(const xmlDoc *doc) { return env_child(doc, "Body"); }

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Text of n into out, XML white space trimmed at both ends. */
static void text_trim(const xmlNode *n, char *out, size_t size)
{
	size_t len = sb_xml_text_copy(n, out, size);
	size_t a = 0;
	while (a < len && is_space(out[a]))
		a++;
	while (len > a && is_space(out[len - 1]))
		len--;
	memmove(out, out + a, len - a);
	out[len - a] = '\0';
}

static void copy_str(char *out, size_t size, const char *s)
{
	size_t len = strlen(s);
	len = sb_utf8_cut(s, len, size - 1);
	memcpy(out, s, len);
	out[len] = '\0';
}

/* A QName value of element n ("a:ErrorServerBusy") split into its local
 * part and the URI its prefix is bound to where n is ("" unbound). */
static void qname_value(const xmlNode *n, char *local, size_t lsize, char *uri,
			size_t usize)
{
	char v[SB_SOAP_TEXT_MAX];
	local[0] = uri[0] = '\0';
	if (!n)
		return;
	text_trim(n, v, sizeof(v));
	char *colon = strchr(v, ':');
	const char *name = v;
	xmlNs *ns = NULL;
	if (colon) {
		*colon = '\0';
		name = colon + 1;
		ns = xmlSearchNs(n->doc, (xmlNode *)n, (const xmlChar *)v);
	} else {
		ns = xmlSearchNs(n->doc, (xmlNode *)n, NULL);
	}
	copy_str(local, lsize, name);
	if (ns && ns->href)
		copy_str(uri, usize, (const char *)ns->href);
}

/* A child of a SOAP 1.1 Fault: unqualified as the specification says, or
 * (some servers) in the envelope's namespace. */
static xmlNode *fault11_child(const xmlNode *fault, const char *local)
{
	xmlNode *n = sb_xml_child(fault, NULL, local);
	return n ? n : sb_xml_child(fault, SB_NS_SOAP11, local);
}

/* What EWS and WS-Management put in a fault's detail. */
static void read_detail(const xmlNode *detail, struct sb_soap_fault *f)
{
	if (!detail)
		return;
	text_trim(sb_xml_find(detail, SB_NS_EWS_ERRORS, "ResponseCode"),
		  f->response_code, sizeof(f->response_code));
	text_trim(sb_xml_find(detail, SB_NS_EWS_ERRORS, "Message"), f->message,
		  sizeof(f->message));
	xmlNode *mx = sb_xml_find(detail, SB_NS_EWS_TYPES, "MessageXml");
	for (xmlNode *v = sb_xml_child(mx, SB_NS_EWS_TYPES, "Value"); v;
	     v = sb_xml_next(v)) {
		const char *name = sb_xml_attr(v, NULL, "Name");
		int64_t ms;
		if (name && strcmp(name, "BackOffMilliseconds") == 0 &&
		    sb_xml_int64(v, &ms) && ms >= 0) {
			f->back_off_ms = ms;
			break;
		}
	}
	xmlNode *wf = sb_xml_find(detail, SB_NS_WSMAN_FAULT, "WSManFault");
	if (wf) {
		const char *code = sb_xml_attr(wf, NULL, "Code");
		if (code) {
			copy_str(f->wsman_code, sizeof(f->wsman_code), code);
			char *end = NULL;
			const char *p = f->wsman_code;
			while (is_space(*p))
				p++;
			if (*p >= '0' && *p <= '9') {
				unsigned long long n = strtoull(p, &end, 10);
				while (end && is_space(*end))
					end++;
				if (end && !*end &&
				    n <= (unsigned long long)INT64_MAX)
					f->wsman_code_num = (int64_t)n;
			}
		}
		text_trim(sb_xml_child(wf, SB_NS_WSMAN_FAULT, "Message"),
			  f->wsman_message, sizeof(f->wsman_message));
	}
}

bool sb_soap_fault_read(const xmlDoc *doc, struct sb_soap_fault *f)
{
	if (!f)
		return false;
	memset(f, 0, sizeof(*f));
	f->back_off_ms = -1;
	f->wsman_code_num = -1;
	int v = sb_soap_version_of(doc);
	const char *ens = v ? env_ns((enum sb_soap_version)v) : NULL;
	xmlNode *fault =
	    v ? sb_xml_child(sb_soap_body_of(doc), ens, "Fault") : NULL;
	if (!fault)
		return false;
	f->version = v;
	if (v == SB_SOAP11) {
		qname_value(fault11_child(fault, "faultcode"), f->code,
			    sizeof(f->code), f->code_ns, sizeof(f->code_ns));
		text_trim(fault11_child(fault, "faultstring"), f->reason,
			  sizeof(f->reason));
		read_detail(fault11_child(fault, "detail"), f);
	} else {
		xmlNode *code = sb_xml_child(fault, ens, "Code");
		qname_value(sb_xml_child(code, ens, "Value"), f->code,
			    sizeof(f->code), f->code_ns, sizeof(f->code_ns));
		xmlNode *sub = sb_xml_child(code, ens, "Subcode");
		qname_value(sb_xml_child(sub, ens, "Value"), f->subcode,
			    sizeof(f->subcode), f->subcode_ns,
			    sizeof(f->subcode_ns));
		text_trim(sb_xml_path(fault, ens, "Reason", ens, "Text", NULL),
			  f->reason, sizeof(f->reason));
		read_detail(sb_xml_child(fault, ens, "Detail"), f);
	}
	return true;
}

enum sb_status sb_soap_fault_error(const struct sb_soap_fault *f,
				   struct sb_error *err)
{
	if (!f)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "SOAP fault without details");
	const char *code = f->response_code[0] ? f->response_code
			   : f->wsman_code[0]  ? f->wsman_code
			   : f->subcode[0]     ? f->subcode
					       : f->code;
	const char *msg = f->reason[0]		? f->reason
			  : f->message[0]	? f->message
			  : f->wsman_message[0] ? f->wsman_message
						: "(no reason given)";
	/* Cut both at a character boundary: sb_error_set would cut bytes. */
	char c[SB_ERROR_CODE_MAX], m[SB_ERROR_MSG_MAX];
	copy_str(c, sizeof(c), code);
	char full[SB_SOAP_CODE_MAX + SB_SOAP_TEXT_MAX + 32];
	if (f->back_off_ms > 0)
		snprintf(full, sizeof(full), "upstream busy: %s", msg);
	else
		snprintf(full, sizeof(full), "SOAP fault%s%s: %s",
			 code[0] ? " " : "", code, msg);
	copy_str(m, sizeof(m), full);
	if (f->back_off_ms > 0) {
		enum sb_status st =
		    sb_error_set(err, SB_ERR_THROTTLED, c, "%s", m);
		if (err)
			err->retry_after_ms = f->back_off_ms;
		return st;
	}
	return sb_error_set(err, SB_ERR_UPSTREAM, c[0] ? c : NULL, "%s", m);
}
