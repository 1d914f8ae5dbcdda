/* svcbroker broker SDK, network part (libsvcbroker-net, pkg-config
 * svcbroker-net): what brokers that talk to a server over HTTP share.
 *   <svcbroker/http.h>    HTTP transport over libcurl
 *   <svcbroker/xml.h>     safe XML parsing and SOAP envelopes over libxml2
 *   <svcbroker/oauth2.h>  OAuth2 client credentials
 * Loading the library initialises libxml2 and libcurl once (see net.c):
 * a broker never calls xmlInitParser, xmlCleanupParser, curl_global_init
 * or curl_global_cleanup itself. */
#ifndef SVCBROKER_NET_H
#define SVCBROKER_NET_H

#ifdef __cplusplus
extern "C" {
#endif

/* The versions of the libraries this library runs on, e.g.
 * "libcurl 7.88.1 (OpenSSL/3.0.17), libxml2 20914": for a broker's
 * start-up log line and bug reports. */
const char *sb_net_libraries(void);

#ifdef __cplusplus
}
#endif

#endif
