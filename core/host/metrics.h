/* svcbroker core — counters and histograms for GET /metrics (Prometheus
 * text format).  Private to libsvcbroker.  Every function is thread-safe. */
#ifndef SVCBROKER_METRICS_H
#define SVCBROKER_METRICS_H

#include "host.h"

struct sbc_metrics;

/* NULL on out of memory. */
struct sbc_metrics *sbc_metrics_new(void);
void sbc_metrics_free(struct sbc_metrics *m);

/* One answered call (any of m's arguments may be NULL: nothing counted). */
void sbc_metrics_call(struct sbc_metrics *m, const char *instance,
		      const char *object, const char *method, enum sb_status st,
		      int64_t elapsed_ms);
/* The same for the method of entry e, whose series is looked up once and
 * kept in e->series: no lock, no name formatting per call. */
void sbc_metrics_call_entry(struct sbc_metrics *m, const struct sbc_entry *e,
			    enum sb_status st, int64_t elapsed_ms);
/* One configuration reload, successful or refused. */
void sbc_metrics_reload(struct sbc_metrics *m, bool ok);
/* One HTTP answer with this status code. */
void sbc_metrics_http(struct sbc_metrics *m, int code);

/* The values that are read, not counted, at scrape time. */
struct sbc_metrics_gauges {
	size_t queued, running;
	const struct sbc_catalog *catalog; /* may be NULL */
	bool http; /* the HTTP server's figures below are set */
	long long http_connections;	      /* open now */
	long long http_body_bytes;	      /* request bodies held now */
	unsigned long long http_conn_refused; /* closed by max_connections */
	unsigned long long http_body_refused; /* 503 by max_body_total */
};

/* The whole exposition, malloc'd; NULL on out of memory. */
char *sbc_metrics_render(struct sbc_metrics *m,
			 const struct sbc_metrics_gauges *g);

#endif
