/* svcbroker front — the HTTP/JSON server over a runtime (api.c).  Private
 * to the front and the daemon. */
#ifndef SVCBROKER_API_H
#define SVCBROKER_API_H

#include <sys/socket.h>

#include "front.h"

/* ==== api.c: the HTTP/JSON server ======================================= */
struct sbc_api;

/* Parse "host:port", "[v6addr]:port" or ":port" into an address.  False
 * with a reason in errbuf. */
bool sbc_listen_parse(const char *listen, struct sockaddr_storage *ss,
		      socklen_t *len, char *errbuf, size_t errlen);

/* Bind rt's listen address and serve.  NULL with a reason in errbuf. */
struct sbc_api *sbc_api_start(struct sb_runtime *rt, char *errbuf,
			      size_t errlen);
/* Stop accepting new connections (connections already open are served). */
void sbc_api_quiesce(struct sbc_api *a);
/* After the runtime drained: wait (bounded) for every suspended
 * connection to be resumed, then stop the server and free.  NULL is a
 * no-op. */
void sbc_api_stop(struct sbc_api *a, int64_t timeout_ms);

#endif
