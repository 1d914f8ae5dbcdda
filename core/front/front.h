/* svcbroker front — the running runtime (configuration, catalog, executor,
 * metrics) as the HTTP server, the daemon and the in-process API see it
 * (runtime.c).  Private to the front and the daemon. */
#ifndef SVCBROKER_FRONT_H
#define SVCBROKER_FRONT_H

#include <svcbroker/runtime.h>

#include "host.h"
#include "probe.h"

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

/* ==== probe_json.c: the answer to a test of the settings (probe.h) ===== */
/* The answer to a test from its outcome: malloc'd JSON (NULL when out of
 * memory), *http the HTTP status, *retry_after_ms for 503 (else 0).
 * A test that ran (passed, failed, or did not finish in time) is 200
 *   {"instance", "broker", "ok", "message", "elapsed_ms",
 *    "details": {"category", "code", "tested"}};
 * a test that could not run is the error document with its status.
 * *verdict gets the test's status (SB_OK when it passed) and *msg the
 * message (both may be NULL). */
char *sbc_probe_json(const struct sbc_outcome *o, int *http,
		     int64_t *retry_after_ms, enum sb_status *verdict,
		     struct sb_error *msg);

#endif
