/* svcbroker front — the running runtime (configuration, catalog, executor,
 * metrics) as the HTTP server, the daemon and the in-process API see it
 * (runtime.c).  Private to the front and the daemon. */
#ifndef SVCBROKER_FRONT_H
#define SVCBROKER_FRONT_H

#include <svcbroker/runtime.h>

#include "host.h"

struct sbc_executor;
struct sbc_metrics;

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

#endif
