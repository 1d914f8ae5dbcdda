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
 * those hosts.  The EwsUrl of the settings must name the address's domain
 * (or a host below it) or the Autodiscover server that answered
 * (ews_autodiscover_read).  At most EWS_AD_HOPS redirects. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ews_int.h"

#define EWS_AD_HOPS 10

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
	    .max_response = EWS_AD_MAX_ANSWER,
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
			enum ews_ad_next nx = EWS_AD_DONE;
			char next[1024] = "";
			st = ews_autodiscover_read(s.email, urls[i], rs.body,
						   rs.body_len, d, &nx, next,
						   sizeof(next), &e1);
			sb_http_response_free(&rs);
			if (st != SB_OK) {
				if (err)
					*err = e1;
				return st;
			}
			if (nx == EWS_AD_DONE) {
				d->hops = hop;
				return SB_OK;
			}
			if (nx == EWS_AD_REDIRECT_ADDR) {
				char nd[256];
				snprintf(nd, sizeof(nd), "%s", domain_of(next));
				if (!ews_domain_within(nd, s.origin))
					return sb_error_set(
					    err, SB_ERR_UPSTREAM,
					    "autodiscover_refused",
					    "Autodiscover redirected to an "
					    "address in %s, outside %s: "
					    "refused",
					    nd, s.origin);
				size_t nl = strlen(next);
				if (nl >= sizeof(s.email))
					return sb_error_set(
					    err, SB_ERR_UPSTREAM,
					    "invalid_response",
					    "Autodiscover redirected to an "
					    "address too long");
				memcpy(s.email, next, nl + 1);
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
