/* libFuzzer target for the exchange-ews broker's hand-written readers
 * of what a server sends (brokers/exchange-ews/ews_values.c and
 * ews_ad_parse.c).  The first byte picks the reader, the rest is its
 * input:
 *   0  a POX Autodiscover answer: a settings answer gives an http(s)
 *      EwsUrl (never http after https), a redirectAddr a valid address;
 *   1  an xs:dateTime: what comes out is a catalog datetime;
 *   2  a URL: the host is lower-case and non-empty, the port 1..65535;
 *   3  a hex ServerVersion: "major.minor.build" within their bit widths;
 *   4  a t:Mailbox element: an address that comes out is a valid one;
 *   5  "host\ndomain\norigin": a host accepted for Autodiscover is the
 *      domain or its autodiscover host, and the domain is within origin.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the
 * files given as arguments (make check runs it over its corpus). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include <svcbroker/types.h>

#include "../../brokers/exchange-ews/ews_int.h"
#include "fuzz.h"

#define IN_MAX (256 * 1024)

static void autodiscover(const char *s, size_t n)
{
	struct ews_discovered d;
	enum ews_ad_next nx = EWS_AD_DONE;
	char next[1024];
	struct sb_error err;
	memset(&d, 0, sizeof(d));
	next[0] = '\0';
	enum sb_status st = ews_autodiscover_read(
	    "alice@example.test",
	    "https://autodiscover.example.test/autodiscover/autodiscover.xml",
	    s, n, &d, &nx, next, sizeof(next), &err);
	FUZZ_CHECK(strnlen(next, sizeof(next)) < sizeof(next), "next");
	if (st != SB_OK) {
		FUZZ_CHECK(sb_utf8_valid(err.message, strlen(err.message)),
			   "message not UTF-8");
		return;
	}
	if (nx == EWS_AD_DONE) {
		char host[256];
		bool https;
		FUZZ_CHECK(
		    ews_url_host(d.ews_url, host, sizeof(host), &https, NULL),
		    "EwsUrl %s not a URL", d.ews_url);
		FUZZ_CHECK(https, "http EwsUrl after https: %s", d.ews_url);
	} else if (nx == EWS_AD_REDIRECT_ADDR) {
		FUZZ_CHECK(sb_email_valid(next), "redirect address %s", next);
	} else {
		FUZZ_CHECK(nx == EWS_AD_REDIRECT_URL, "next kind %d", (int)nx);
	}
}

static void datetime(const char *s)
{
	char out[40];
	if (ews_datetime_read(s, out, sizeof(out)))
		FUZZ_CHECK(sb_type_check(SB_TYPE_DATETIME, out, NULL, NULL),
			   "%s", out);
}

static void url(const char *s)
{
	char host[256];
	bool https;
	int port;
	if (!ews_url_host(s, host, sizeof(host), &https, &port))
		return;
	FUZZ_CHECK(host[0] != '\0', "empty host");
	FUZZ_CHECK(port >= 1 && port <= 65535, "port %d", port);
	for (const char *p = host; *p; p++)
		FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "upper case in %s", host);
}

static void version(const char *s)
{
	char out[32];
	unsigned a, b, c;
	if (!ews_server_version_hex(s, out, sizeof(out)))
		return;
	FUZZ_CHECK(sscanf(out, "%u.%u.%u", &a, &b, &c) == 3, "%s", out);
	FUZZ_CHECK(a < 64 && b < 64 && c < 32768, "%s", out);
}

static void mailbox(const char *s, size_t n)
{
	struct sb_error err;
	xmlDoc *doc = sb_xml_parse(s, n, IN_MAX, &err);
	if (!doc)
		return;
	char buf[320];
	const char *a = ews_mailbox_smtp(sb_xml_root(doc), buf, sizeof(buf));
	if (a)
		FUZZ_CHECK(sb_email_valid(a), "%s", a);
	sb_xml_free(doc);
}

static void hosts(char *s)
{
	char *host = s, *domain = strchr(s, '\n'), *origin;
	if (!domain)
		return;
	*domain++ = '\0';
	origin = strchr(domain, '\n');
	if (!origin)
		return;
	*origin++ = '\0';
	if (!ews_autodiscover_host_ok(host, domain, origin))
		return;
	FUZZ_CHECK(ews_domain_within(domain, origin), "%s not within %s",
		   domain, origin);
	FUZZ_CHECK(strcasecmp(host, domain) == 0 ||
		       (strncasecmp(host, "autodiscover.", 13) == 0 &&
			strcasecmp(host + 13, domain) == 0),
		   "host %s for %s", host, domain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		xmlInitParser();
		init = true;
	}
	if (size < 1 || size > IN_MAX)
		return 0;
	unsigned mode = data[0] % 6;
	const char *raw = (const char *)data + 1;
	size_t n = size - 1;
	char *s = fuzz_cstr(data + 1, n);
	switch (mode) {
	case 0:
		autodiscover(raw, n);
		break;
	case 1:
		datetime(s);
		break;
	case 2:
		url(s);
		break;
	case 3:
		version(s);
		break;
	case 4:
		mailbox(raw, n);
		break;
	default:
		hosts(s);
		break;
	}
	free(s);
	return 0;
}
