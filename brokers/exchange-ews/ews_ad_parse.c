/* exchange-ews broker — the pure parts of POX Autodiscover: URLs and
 * hosts, the hex server version, and reading an answer.  No network and
 * no instance: the fuzz target tests/fuzz/fuzz_ews.c drives them. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ews_int.h"

bool ews_url_host(const char *url, char *host, size_t n, bool *https, int *port)
{
	const char *p;
	bool tls;
	if (!url || !host || n == 0)
		return false;
	if (strncasecmp(url, "https://", 8) == 0) {
		tls = true;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		tls = false;
		p = url + 7;
	} else {
		return false;
	}
	size_t alen = strcspn(p, "/?#");
	if (!alen || memchr(p, '@', alen) || memchr(p, '\\', alen))
		return false;
	const char *hs = p, *he;
	const char *port_s = NULL;
	if (*p == '[') {
		he = memchr(p, ']', alen);
		if (!he)
			return false;
		hs = p + 1;
		if (he + 1 < p + alen) {
			if (he[1] != ':')
				return false;
			port_s = he + 2;
		}
	} else {
		he = memchr(p, ':', alen);
		if (he)
			port_s = he + 1;
		else
			he = p + alen;
	}
	size_t hlen = (size_t)(he - hs);
	if (!hlen || hlen >= n)
		return false;
	for (size_t i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)hs[i];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != ':' &&
		    ch != '_')
			return false;
		host[i] = (char)tolower(ch);
	}
	host[hlen] = '\0';
	int pt = tls ? 443 : 80;
	if (port_s) {
		const char *end = p + alen;
		if (port_s >= end)
			return false;
		pt = 0;
		for (const char *q = port_s; q < end; q++) {
			if (*q < '0' || *q > '9' || pt > 65535)
				return false;
			pt = pt * 10 + (*q - '0');
		}
		if (pt < 1 || pt > 65535)
			return false;
	}
	if (https)
		*https = tls;
	if (port)
		*port = pt;
	return true;
}

bool ews_domain_within(const char *d, const char *origin)
{
	size_t dl = strlen(d), ol = strlen(origin);
	if (dl == ol)
		return strcasecmp(d, origin) == 0;
	return dl > ol + 1 && d[dl - ol - 1] == '.' &&
	       strcasecmp(d + dl - ol, origin) == 0;
}

bool ews_autodiscover_host_ok(const char *host, const char *domain,
			      const char *origin)
{
	if (!host || !domain || !origin || !*domain || !*origin)
		return false;
	if (!ews_domain_within(domain, origin))
		return false;
	if (strcasecmp(host, domain) == 0)
		return true;
	return strncasecmp(host, "autodiscover.", 13) == 0 &&
	       strcasecmp(host + 13, domain) == 0;
}

bool ews_server_version_hex(const char *hex, char *out, size_t n)
{
	if (!hex || strlen(hex) != 8 ||
	    strspn(hex, "0123456789abcdefABCDEF") != 8)
		return false;
	unsigned long v = strtoul(hex, NULL, 16);
	unsigned major = (unsigned)((v >> 22) & 0x3f);
	unsigned minor = (unsigned)((v >> 16) & 0x3f);
	unsigned build = (unsigned)(v & 0x7fff);
	snprintf(out, n, "%u.%u.%u", major, minor, build);
	return true;
}

/* Text of a child in the Response's own namespace. */
static const char *ad_text(const xmlNode *parent, const char *ns,
			   const char *local, char *buf, size_t n)
{
	xmlNode *c = sb_xml_child(parent, ns, local);
	if (!c)
		return NULL;
	sb_xml_text_copy(c, buf, n);
	/* trim */
	size_t len = strlen(buf);
	while (len && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	size_t lead = 0;
	while (buf[lead] && isspace((unsigned char)buf[lead]))
		lead++;
	if (lead)
		memmove(buf, buf + lead, len - lead + 1);
	return buf;
}

enum sb_status ews_autodiscover_read(const char *email, const char *from_url,
				     const char *body, size_t len,
				     struct ews_discovered *d,
				     enum ews_ad_next *nx, char *next,
				     size_t next_n, struct sb_error *err)
{
	struct sb_error perr;
	sb_error_clear(&perr);
	xmlDoc *doc = sb_xml_parse(body, len, EWS_AD_MAX_ANSWER, &perr);
	if (!doc)
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "Autodiscover answer refused: %s",
				    perr.message);
	enum sb_status st = SB_OK;
	xmlNode *root = sb_xml_root(doc);
	xmlNode *resp = NULL;
	if (sb_xml_is(root, NS_AD_RESP, "Autodiscover")) {
		resp = sb_xml_child(root, NS_AD_OUT, "Response");
		if (!resp)
			resp = sb_xml_child(root, NS_AD_RESP, "Response");
	}
	if (!resp || !resp->ns) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "Autodiscover answer is not a POX "
				  "Autodiscover response");
		goto out;
	}
	const char *ns = (const char *)resp->ns->href;
	char buf[1024], code[64];
	xmlNode *error = sb_xml_child(resp, ns, "Error");
	if (error) {
		if (!ad_text(error, ns, "ErrorCode", code, sizeof(code)))
			code[0] = '\0';
		if (!ad_text(error, ns, "Message", buf, sizeof(buf)))
			buf[0] = '\0';
		char shown[300], code_shown[100];
		sb_text_quotable(buf, 200, shown, sizeof(shown));
		sb_text_quotable(code, 16, code_shown, sizeof(code_shown));
		st = sb_error_set(err,
				  strcmp(code, "500") == 0 ? SB_ERR_NOT_FOUND
							   : SB_ERR_UPSTREAM,
				  "ErrorAutoDiscoverFailed",
				  "Autodiscover for %s: error %s: %s", email,
				  code[0] ? code_shown : "?", shown);
		goto out;
	}
	xmlNode *acct = sb_xml_child(resp, ns, "Account");
	if (!acct || !ad_text(acct, ns, "Action", buf, sizeof(buf))) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "Autodiscover answer without an Account "
				  "Action");
		goto out;
	}
	if (strcasecmp(buf, "redirectAddr") == 0) {
		if (!ad_text(acct, ns, "RedirectAddr", next, next_n) ||
		    !sb_email_valid(next)) {
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "Autodiscover redirectAddr without "
					  "a valid address");
			goto out;
		}
		*nx = EWS_AD_REDIRECT_ADDR;
		goto out;
	}
	if (strcasecmp(buf, "redirectUrl") == 0) {
		if (!ad_text(acct, ns, "RedirectURL", next, next_n) &&
		    !ad_text(acct, ns, "RedirectUrl", next, next_n)) {
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "Autodiscover redirectUrl without a "
					  "URL");
			goto out;
		}
		*nx = EWS_AD_REDIRECT_URL;
		goto out;
	}
	if (strcasecmp(buf, "settings") != 0) {
		char shown[100];
		sb_text_quotable(buf, 60, shown, sizeof(shown));
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "Autodiscover Action %s unknown", shown);
		goto out;
	}
	/* settings: EXPR's EwsUrl first (the external one), then EXCH */
	char expr[1024] = "", exch[1024] = "", ver[64] = "";
	for (xmlNode *p = sb_xml_child(acct, ns, "Protocol"); p;
	     p = sb_xml_next(p)) {
		char type[16], url[1024], hex[32];
		if (!ad_text(p, ns, "Type", type, sizeof(type)))
			continue;
		if (ad_text(p, ns, "ServerVersion", hex, sizeof(hex)) &&
		    !ver[0])
			ews_server_version_hex(hex, ver, sizeof(ver));
		if (!ad_text(p, ns, "EwsUrl", url, sizeof(url)) || !url[0])
			continue;
		if (strcmp(type, "EXPR") == 0 && !expr[0])
			snprintf(expr, sizeof(expr), "%s", url);
		else if (strcmp(type, "EXCH") == 0 && !exch[0])
			snprintf(exch, sizeof(exch), "%s", url);
	}
	const char *ews_url = expr[0] ? expr : exch;
	char host[256];
	bool https, from_https = false;
	if (!*ews_url) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "Autodiscover settings without an EwsUrl");
		goto out;
	}
	ews_url_host(from_url, host, sizeof(host), &from_https, NULL);
	if (!ews_url_host(ews_url, host, sizeof(host), &https, NULL) ||
	    strpbrk(ews_url, " \t\r\n\"'<>")) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "Autodiscover EwsUrl is not an http(s) URL");
		goto out;
	}
	if (!https && from_https) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, "autodiscover_refused",
				  "Autodiscover over https gave an http "
				  "EwsUrl (%s): refused",
				  host);
		goto out;
	}
	/* the credentials go where EwsUrl says: only to the address's
	 * domain (or below it) or to the server that answered */
	const char *at = strrchr(email, '@');
	const char *domain = at ? at + 1 : "";
	char from_host[256] = "";
	if (!ews_url_host(from_url, from_host, sizeof(from_host), NULL, NULL))
		from_host[0] = '\0';
	if (!(*domain && ews_domain_within(host, domain)) &&
	    !(from_host[0] && strcasecmp(host, from_host) == 0)) {
		char shown[300];
		sb_text_quotable(domain, 200, shown, sizeof(shown));
		st = sb_error_set(err, SB_ERR_UPSTREAM, "autodiscover_refused",
				  "Autodiscover EwsUrl host %s is neither in "
				  "%s nor the Autodiscover server %s: refused",
				  host, shown, from_host[0] ? from_host : "?");
		goto out;
	}
	snprintf(d->ews_url, sizeof(d->ews_url), "%s", ews_url);
	snprintf(d->server_version, sizeof(d->server_version), "%s", ver);
	snprintf(d->email, sizeof(d->email), "%s", email);
	*nx = EWS_AD_DONE;
out:
	sb_xml_free(doc);
	return st;
}
