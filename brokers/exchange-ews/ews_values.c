/* exchange-ews broker — values from and to EWS: child text, dates,
 * mailboxes. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/types.h>

#include "ews.h"

const char *ews_child_text(const xmlNode *parent, const char *local, char *buf,
			   size_t n)
{
	const char *ns = SB_NS_EWS_TYPES;
	if (!parent || !local)
		return NULL;
	if (strncmp(local, "m:", 2) == 0) {
		ns = SB_NS_EWS_MESSAGES;
		local += 2;
	} else if (strncmp(local, "t:", 2) == 0) {
		local += 2;
	}
	xmlNode *c = sb_xml_child(parent, ns, local);
	if (!c)
		return NULL;
	if (buf && n) {
		sb_xml_text_copy(c, buf, n);
		return buf;
	}
	if (!c->children)
		return "";
	if ((c->children->type == XML_TEXT_NODE ||
	     c->children->type == XML_CDATA_SECTION_NODE) &&
	    !c->children->next && c->children->content)
		return (const char *)c->children->content;
	return NULL; /* mixed content: ask with a buffer */
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool ews_datetime_read(const char *in, char *out, size_t n)
{
	int y, mo, d, h, mi, s, oh = 0, om = 0;
	char sign = 'Z';
	if (!in || !out || n < 26)
		return false;
	while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r')
		in++;
	size_t len = strlen(in);
	while (len && (in[len - 1] == ' ' || in[len - 1] == '\n' ||
		       in[len - 1] == '\r' || in[len - 1] == '\t'))
		len--;
	if (len < 19 || !digits(in, 4, &y) || in[4] != '-' ||
	    !digits(in + 5, 2, &mo) || in[7] != '-' || !digits(in + 8, 2, &d) ||
	    in[10] != 'T' || !digits(in + 11, 2, &h) || in[13] != ':' ||
	    !digits(in + 14, 2, &mi) || in[16] != ':' ||
	    !digits(in + 17, 2, &s))
		return false;
	size_t i = 19;
	if (i < len && in[i] == '.') {
		i++;
		size_t f = i;
		while (i < len && in[i] >= '0' && in[i] <= '9')
			i++;
		if (i == f)
			return false;
	}
	if (i == len) {
		sign = 'Z'; /* EWS's UTC without a designator */
	} else if (in[i] == 'Z' && i + 1 == len) {
		sign = 'Z';
	} else if ((in[i] == '+' || in[i] == '-') && i + 6 == len &&
		   digits(in + i + 1, 2, &oh) && in[i + 3] == ':' &&
		   digits(in + i + 4, 2, &om)) {
		sign = in[i];
	} else {
		return false;
	}
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60 || oh > 23 || om > 59)
		return false;
	if (s == 60)
		s = 59; /* a leap second: the catalog's type has none */
	if (sign == 'Z' || (oh == 0 && om == 0))
		snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h,
			 mi, s);
	else
		snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y,
			 mo, d, h, mi, s, sign, oh, om);
	return sb_type_check(SB_TYPE_DATETIME, out, NULL, NULL);
}

const char *ews_mailbox_smtp(const xmlNode *mailbox, char *buf, size_t n)
{
	char rt[32];
	if (!mailbox || !buf || n < 2)
		return NULL;
	const xmlNode *mb = mailbox;
	/* a holder (t:From, t:Sender, a t:ToRecipients item) of a
	 * t:Mailbox */
	xmlNode *inner = sb_xml_child(mailbox, SB_NS_EWS_TYPES, "Mailbox");
	if (inner)
		mb = inner;
	if (!ews_child_text(mb, "EmailAddress", buf, n) || !*buf)
		return NULL;
	/* trim */
	size_t len = strlen(buf);
	while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	size_t lead = strspn(buf, " \t");
	if (lead)
		memmove(buf, buf + lead, len - lead + 1);
	const char *r = ews_child_text(mb, "RoutingType", rt, sizeof(rt));
	if (r && *r && strcasecmp(r, "SMTP") != 0) {
		/* EX (legacyExchangeDN) or another routing: only an SMTP
		 * address the server spelled out somewhere else in the
		 * same element will do; the DN itself never reaches a row */
		return NULL;
	}
	if (strncasecmp(buf, "smtp:", 5) == 0)
		memmove(buf, buf + 5, strlen(buf + 5) + 1);
	if (!sb_email_valid(buf))
		return NULL;
	return buf;
}

/* ---- a FindItem answer's root folder (the List paths) ---------------- */

xmlNode *ews_find_root(const xmlNode *msg, bool *more, struct sb_error *err)
{
	xmlNode *root = sb_xml_child(msg, SB_NS_EWS_MESSAGES, "RootFolder");
	if (!root) {
		sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
			     "EWS answered FindItem without RootFolder");
		return NULL;
	}
	const char *last = sb_xml_attr(root, NULL, "IncludesLastItemInRange");
	*more = last && (strcmp(last, "false") == 0 || strcmp(last, "0") == 0);
	return root;
}
