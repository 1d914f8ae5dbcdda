/* svcbroker core — the runtime (configuration, catalog, executor) as the
 * HTTP server and the daemon see it, and the HTTP server itself.  Private
 * to libsvcbroker and svcbrokerd. */
#ifndef SVCBROKER_API_H
#define SVCBROKER_API_H

#include <sys/socket.h>

#include <svcbroker/runtime.h>

#include "core.h"

struct sbc_executor;
struct sbc_metrics;

/* ==== runtime.c ======================================================= */
/* Like sb_runtime_open, with every problem in errs.  0 or -1. */
int sbc_runtime_open(const char *config_path, struct sb_runtime **out,
		     struct sbc_errlist *errs);
/* Like sb_runtime_reload, with every problem in errs.  0 or -1. */
int sbc_runtime_reload(struct sb_runtime *rt, struct sbc_errlist *errs);
/* The catalog serving now, with a reference the caller drops with
 * sbc_catalog_unref.  Never NULL once open. */
struct sbc_catalog *sbc_runtime_catalog(struct sb_runtime *rt);
struct sbc_executor *sbc_runtime_executor(struct sb_runtime *rt);
struct sbc_metrics *sbc_runtime_metrics(struct sb_runtime *rt);
/* The [server] settings read at open (a reload does not change them). */
const char *sbc_runtime_listen(const struct sb_runtime *rt);
int64_t sbc_runtime_max_body(const struct sb_runtime *rt);
struct sbc_http_limits {
	int64_t max_body_total;         /* bytes of bodies held at once */
	int64_t max_connections;        /* open connections */
	int64_t max_connections_per_ip; /* 0: no limit */
	int64_t idle_timeout_ms;        /* a silent connection is closed */
};
void sbc_runtime_http_limits(const struct sb_runtime *rt,
			     struct sbc_http_limits *out);
int64_t sbc_runtime_uptime_s(const struct sb_runtime *rt);
/* Stop accepting calls and wait up to timeout_ms for running ones. */
bool sbc_runtime_drain(struct sb_runtime *rt, int64_t timeout_ms);
bool sbc_runtime_draining(const struct sb_runtime *rt);

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
