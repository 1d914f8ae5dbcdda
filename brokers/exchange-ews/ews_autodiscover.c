/* exchange-ews broker — POX Autodiscover: from the instance's
 * autodiscover_email (or the autodiscover_url override) to the EWS URL and
 * the server's version, following redirectAddr and redirectUrl answers.
 *
 * Where the credentials may go: an Autodiscover request authenticates like
 * EWS, so it is sent only to the address's own domain or its
 * "autodiscover." host (for an address whose domain is the configured
 * address's domain or below it: a parent domain is never tried), or to the
 * configured autodiscover_url's server; a redirectUrl must be https (http
 * only back to a configured http override's own server) and name one of
 * those hosts.  At most EWS_AD_HOPS redirects. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ews_int.h"

#define NS_AD_REQ                                                              \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/"          \
	"requestschema/2006"
#define NS_AD_RESP                                                             \
	"http://schemas.microsoft.com/exchange/autodiscover/responseschema/"   \
	"2006"
#define NS_AD_OUT                                                              \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/"          \
	"responseschema/2006a"

#define EWS_AD_HOPS 10
#define EWS_AD_MAX_RESPONSE (1024 * 1024)

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

static bool same_or_below(const char *d, const char *origin)
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
	if (!same_or_below(domain, origin))
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

static const char *domain_of(const char *email)
{
	const char *at = strrchr(email, '@');
	return at ? at + 1 : "";
}

/* Where an Autodiscover request may go: the configured override's own
 * server, or a host of the address's domain. */
struct ad_state {
	struct ews *e;
	const struct sb_call *call;
	char origin[256]; /* the configured address's domain */
	char email[256];  /* the address asked about now */
	char ovr_host[256];
	int ovr_port;
	bool ovr_https;
	bool have_ovr;
};

static bool may_send(const struct ad_state *s, const char *url,
		     struct sb_error *err)
{
	char host[256];
	bool https;
	int port;
	if (!ews_url_host(url, host, sizeof(host), &https, &port)) {
		sb_error_set(err, SB_ERR_UPSTREAM, "autodiscover_refused",
			     "Autodiscover: not an http(s) URL");
		return false;
	}
	if (s->have_ovr && strcmp(host, s->ovr_host) == 0 &&
	    port == s->ovr_port && (https || !s->ovr_https))
		return true; /* the configured server, never downgraded */
	if (!https) {
		sb_error_set(err, SB_ERR_UPSTREAM, "autodiscover_refused",
			     "Autodiscover: refusing to send credentials over "
			     "http to %s",
			     host);
		return false;
	}
	if (!ews_autodiscover_host_ok(host, domain_of(s->email), s->origin)) {
		sb_error_set(err, SB_ERR_UPSTREAM, "autodiscover_refused",
			     "Autodiscover: refusing to send credentials to "
			     "%s, outside %s and its autodiscover host",
			     host, domain_of(s->email));
		return false;
	}
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

enum ad_next { AD_DONE, AD_REDIRECT_ADDR, AD_REDIRECT_URL };

/* Read one answer: AD_DONE with d filled or an error; or a redirect with
 * its target in next. */
static enum sb_status read_answer(struct ad_state *s, const char *from_url,
				  const char *body, size_t len,
				  struct ews_discovered *d, enum ad_next *nx,
				  char *next, size_t next_n,
				  struct sb_error *err)
{
	struct sb_error perr;
	sb_error_clear(&perr);
	xmlDoc *doc = sb_xml_parse(body, len, EWS_AD_MAX_RESPONSE, &perr);
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
		ad_text(error, ns, "ErrorCode", code, sizeof(code));
		if (!ad_text(error, ns, "Message", buf, sizeof(buf)))
			buf[0] = '\0';
		char shown[300];
		sb_text_quotable(buf, 200, shown, sizeof(shown));
		st = sb_error_set(err,
				  strcmp(code, "500") == 0 ? SB_ERR_NOT_FOUND
							   : SB_ERR_UPSTREAM,
				  "ErrorAutoDiscoverFailed",
				  "Autodiscover for %s: error %s: %s", s->email,
				  code[0] ? code : "?", shown);
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
		*nx = AD_REDIRECT_ADDR;
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
		*nx = AD_REDIRECT_URL;
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
	snprintf(d->ews_url, sizeof(d->ews_url), "%s", ews_url);
	snprintf(d->server_version, sizeof(d->server_version), "%s", ver);
	snprintf(d->email, sizeof(d->email), "%s", s->email);
	*nx = AD_DONE;
out:
	sb_xml_free(doc);
	return st;
}

/* POST the request for s->email to url: SB_OK and the body in *rs. */
static enum sb_status ad_post(struct ad_state *s, const char *url,
			      struct sb_http_response *rs, struct sb_error *err)
{
	struct sb_buf body;
	sb_buf_init(&body, 8192);
	sb_buf_puts(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
			   "<Autodiscover xmlns=\"" NS_AD_REQ "\"><Request>"
			   "<EMailAddress>");
	struct sb_error xerr;
	if (sb_xml_escape_append(&body, s->email, (size_t)-1, SB_XML_TEXT,
				 &xerr) != SB_OK) {
		sb_buf_free(&body);
		memset(rs, 0, sizeof(*rs));
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "autodiscover_email: %s", xerr.message);
	}
	sb_buf_puts(&body, "</EMailAddress><AcceptableResponseSchema>" NS_AD_OUT
			   "</AcceptableResponseSchema></Request>"
			   "</Autodiscover>");
	if (body.failed) {
		sb_buf_free(&body);
		memset(rs, 0, sizeof(*rs));
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	struct sb_http *http = ews_http_new(s->e, url, err);
	if (!http) {
		sb_buf_free(&body);
		memset(rs, 0, sizeof(*rs));
		return err ? err->status : SB_ERR_INTERNAL;
	}
	struct sb_http_request rq = {
	    .method = "POST",
	    .body = body.data,
	    .body_len = body.len,
	    .content_type = "text/xml; charset=utf-8",
	    .max_response = EWS_AD_MAX_RESPONSE,
	};
	enum sb_status st = ews_http_perform(s->e, http, s->call, &rq, rs, err);
	sb_http_free(http);
	sb_buf_free(&body);
	return st;
}

enum sb_status ews_autodiscover(struct ews *e, const struct sb_call *call,
				struct ews_discovered *d, struct sb_error *err)
{
	const struct ews_conf *c = e->conf;
	struct ad_state s = {.e = e, .call = call};
	memset(d, 0, sizeof(*d));
	if (!c->autodiscover_email)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no autodiscover_email");
	snprintf(s.email, sizeof(s.email), "%s", c->autodiscover_email);
	snprintf(s.origin, sizeof(s.origin), "%s", domain_of(s.email));
	for (char *p = s.origin; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (c->autodiscover_url)
		s.have_ovr =
		    ews_url_host(c->autodiscover_url, s.ovr_host,
				 sizeof(s.ovr_host), &s.ovr_https, &s.ovr_port);

	char urls[2][1100];
	size_t n_urls = 0;
	bool url_given = false; /* a redirectUrl: the one candidate */
	enum sb_status st = SB_OK;
	struct sb_error first;
	for (unsigned hop = 0;; hop++) {
		if (hop > EWS_AD_HOPS)
			return sb_error_set(err, SB_ERR_UPSTREAM,
					    "autodiscover_redirects",
					    "Autodiscover: more than %d "
					    "redirects",
					    EWS_AD_HOPS);
		if (!url_given) {
			n_urls = 0;
			if (c->autodiscover_url) {
				snprintf(urls[n_urls++], sizeof(urls[0]), "%s",
					 c->autodiscover_url);
			} else {
				const char *dom = domain_of(s.email);
				snprintf(urls[n_urls++], sizeof(urls[0]),
					 "https://%s/autodiscover/"
					 "autodiscover.xml",
					 dom);
				snprintf(urls[n_urls++], sizeof(urls[0]),
					 "https://autodiscover.%s/"
					 "autodiscover/autodiscover.xml",
					 dom);
			}
		}
		url_given = false;
		sb_error_clear(&first);
		bool moved = false;
		for (size_t i = 0; i < n_urls && !moved; i++) {
			struct sb_error e1;
			sb_error_clear(&e1);
			if (!may_send(&s, urls[i], &e1)) {
				if (first.status == SB_OK)
					first = e1;
				continue;
			}
			struct sb_http_response rs;
			st = ad_post(&s, urls[i], &rs, &e1);
			if (st != SB_OK) {
				sb_http_response_free(&rs);
				/* a refusal of the credentials or a server
				 * error ends it; an unreachable or absent
				 * endpoint tries the next */
				if (first.status == SB_OK ||
				    first.status == SB_ERR_UNAVAILABLE ||
				    first.status == SB_ERR_NOT_FOUND)
					first = e1;
				if (st == SB_ERR_UPSTREAM_AUTH ||
				    st == SB_ERR_TIMEOUT)
					break;
				continue;
			}
			enum ad_next nx = AD_DONE;
			char next[1024] = "";
			st = read_answer(&s, urls[i], rs.body, rs.body_len, d,
					 &nx, next, sizeof(next), &e1);
			sb_http_response_free(&rs);
			if (st != SB_OK) {
				if (err)
					*err = e1;
				return st;
			}
			if (nx == AD_DONE) {
				d->hops = hop;
				return SB_OK;
			}
			if (nx == AD_REDIRECT_ADDR) {
				char nd[256];
				snprintf(nd, sizeof(nd), "%s", domain_of(next));
				if (!same_or_below(nd, s.origin))
					return sb_error_set(
					    err, SB_ERR_UPSTREAM,
					    "autodiscover_refused",
					    "Autodiscover redirected to an "
					    "address in %s, outside %s: "
					    "refused",
					    nd, s.origin);
				snprintf(s.email, sizeof(s.email), "%s", next);
				e->host->log(e->host, SB_LOG_INFO,
					     "Autodiscover: redirected to "
					     "another address (hop %u)",
					     hop + 1);
			} else {
				if (!may_send(&s, next, &e1)) {
					if (err)
						*err = e1;
					return e1.status;
				}
				snprintf(urls[0], sizeof(urls[0]), "%s", next);
				n_urls = 1;
				url_given = true;
				e->host->log(e->host, SB_LOG_INFO,
					     "Autodiscover: redirected to "
					     "another URL (hop %u)",
					     hop + 1);
			}
			moved = true;
		}
		if (!moved) {
			if (first.status == SB_OK)
				sb_error_set(&first, SB_ERR_UNAVAILABLE, NULL,
					     "Autodiscover: no endpoint "
					     "answered");
			if (err)
				*err = first;
			return first.status;
		}
	}
}
