/* libsvcbroker-net: library-wide set-up.
 *
 * libxml2 2.9 must be initialised once, on one thread, before any thread
 * parses (xmlInitParser is not safe to race with itself).  The host links
 * no libxml2 (a daemon serving only mapi-stub needs none), so this library
 * does it when it is loaded: the loader dlopen()s a module, and with it
 * this library, on one thread, before any of that module's instances is
 * opened; an application that loads it directly does so at start-up.  A
 * process that already initialised libxml2 itself is not disturbed
 * (xmlInitParser returns at once the second time).  The same holds for
 * curl_global_init, which libcurl 7.88 also wants before threads use it. */
#include <stdio.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/xmlversion.h>

#include <svcbroker/net.h>

static char libraries[160];

__attribute__((constructor)) static void sb_net_init(void)
{
	xmlInitParser();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	snprintf(libraries, sizeof(libraries), "libcurl %s (%s), libxml2 %s",
		 cv && cv->version ? cv->version : "?",
		 cv && cv->ssl_version ? cv->ssl_version : "no TLS",
		 xmlParserVersion ? xmlParserVersion : "?");
}

const char *sb_net_libraries(void) { return libraries; }
