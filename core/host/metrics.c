/* Counters for GET /metrics, rendered in the Prometheus text format 0.0.4.
 *
 * Series are keyed by (instance, Object.Method, status) for counts and by
 * (instance, Object.Method) for the duration histogram.  Names come from
 * the configuration and the catalog, so the number of series is bounded by
 * them; a hard cap guards against anything unexpected. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define MAX_SERIES 8192
#define NAME_MAX_LEN 256

static const double bucket_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
				  1,	 2.5,  5,     10,   30,	 60};
#define N_BUCKETS (sizeof(bucket_s) / sizeof(bucket_s[0]))
#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Counters are atomic and updated without a lock; the lock guards the
 * list of series (appended to, never shortened until the end) and the
 * reload counters.  A series never moves once made, so a pointer to it
 * may be kept (sbc_metrics_call_entry). */
struct sbc_series {
	struct sbc_series *next;
	char *instance, *method; /* method: "Object.Method" */
	atomic_ullong count[SB_STATUS_COUNT_];
	/* calls by duration bucket, not cumulative: [N_BUCKETS] is over the
	 * last bound (render adds them up, as Prometheus wants) */
	atomic_ullong bucket[N_BUCKETS + 1];
	atomic_ullong sum_ms;
};

struct sbc_metrics {
	pthread_mutex_t mu;
	struct sbc_series *head, **tail;
	size_t n;
	atomic_bool overflow;
	unsigned long long reload_ok, reload_failed;
	atomic_ullong http[6]; /* by class 1xx..5xx (index 1..5) */
};

struct sbc_metrics *sbc_metrics_new(void)
{
	struct sbc_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->tail = &m->head;
	return m;
}

void sbc_metrics_free(struct sbc_metrics *m)
{
	if (!m)
		return;
	for (struct sbc_series *s = m->head, *next; s; s = next) {
		next = s->next;
		free(s->instance);
		free(s->method);
		free(s);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* The series for (instance, Object.Method), made if needed; NULL past
 * the cap or out of memory. */
static struct sbc_series *find(struct sbc_metrics *m, const char *instance,
			       const char *object, const char *method)
{
	char name[2 * NAME_MAX_LEN + 2];
	snprintf(name, sizeof(name), "%s.%s", object, method);
	pthread_mutex_lock(&m->mu);
	struct sbc_series *s = m->head;
	for (; s; s = s->next)
		if (strcmp(s->instance, instance) == 0 &&
		    strcmp(s->method, name) == 0)
			break;
	if (!s && m->n >= MAX_SERIES)
		atomic_store(&m->overflow, true);
	else if (!s && (s = calloc(1, sizeof(*s)))) {
		s->instance = strndup(instance, NAME_MAX_LEN);
		s->method = strndup(name, 2 * NAME_MAX_LEN + 1);
		if (!s->instance || !s->method) {
			free(s->instance);
			free(s->method);
			free(s);
			s = NULL;
		} else {
			*m->tail = s;
			m->tail = &s->next;
			m->n++;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return s;
}

static void count(struct sbc_series *s, enum sb_status st, int64_t elapsed_ms)
{
	if (st < 0 || st >= SB_STATUS_COUNT_)
		st = SB_ERR_INTERNAL;
	if (elapsed_ms < 0)
		elapsed_ms = 0;
	double secs = (double)elapsed_ms / 1000.0;
	size_t b = 0;
	while (b < N_BUCKETS && secs > bucket_s[b])
		b++;
	atomic_fetch_add_explicit(&s->count[st], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ms, (unsigned long long)elapsed_ms,
				  memory_order_relaxed);
}

void sbc_metrics_call(struct sbc_metrics *m, const char *instance,
		      const char *object, const char *method, enum sb_status st,
		      int64_t elapsed_ms)
{
	if (!m || !instance || !object || !method)
		return;
	struct sbc_series *s = find(m, instance, object, method);
	if (s)
		count(s, st, elapsed_ms);
}

void sbc_metrics_call_entry(struct sbc_metrics *m, const struct sbc_entry *e,
			    enum sb_status st, int64_t elapsed_ms)
{
	if (!m || !e || !e->inst || !e->obj || !e->method)
		return;
	struct sbc_entry *me = (struct sbc_entry *)e; /* the cache only */
	struct sbc_series *s =
	    atomic_load_explicit(&me->series, memory_order_acquire);
	if (!s) {
		s = find(m, e->inst->name, e->obj->name, e->method->name);
		if (!s)
			return;
		atomic_store_explicit(&me->series, s, memory_order_release);
	}
	count(s, st, elapsed_ms);
}

void sbc_metrics_reload(struct sbc_metrics *m, bool ok)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	if (ok)
		m->reload_ok++;
	else
		m->reload_failed++;
	pthread_mutex_unlock(&m->mu);
}

void sbc_metrics_http(struct sbc_metrics *m, int code)
{
	if (!m || code < 100 || code > 599)
		return;
	atomic_fetch_add_explicit(&m->http[code / 100], 1,
				  memory_order_relaxed);
}

/* A label value with \, " and newline escaped. */
static void label(struct sb_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			sb_buf_puts(b, "\\\\");
		else if (*s == '"')
			sb_buf_puts(b, "\\\"");
		else if (*s == '\n')
			sb_buf_puts(b, "\\n");
		else
			sb_buf_append(b, s, 1);
	}
}

/* instance="i",object="O",method="M" (s->method is "O.M"). */
static void labels2(struct sb_buf *b, const struct sbc_series *s)
{
	sb_buf_puts(b, "instance=\"");
	label(b, s->instance);
	const char *dot = strchr(s->method, '.');
	sb_buf_puts(b, "\",object=\"");
	if (dot) {
		char obj[NAME_MAX_LEN + 1];
		size_t n = (size_t)(dot - s->method);
		if (n > NAME_MAX_LEN)
			n = NAME_MAX_LEN;
		memcpy(obj, s->method, n);
		obj[n] = '\0';
		label(b, obj);
	}
	sb_buf_puts(b, "\",method=\"");
	label(b, dot ? dot + 1 : s->method);
	sb_buf_puts(b, "\"");
}

char *sbc_metrics_render(struct sbc_metrics *m,
			 const struct sbc_metrics_gauges *g)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	pthread_mutex_lock(&m->mu);
	sb_buf_puts(&b, "# HELP svcbroker_calls_total Method calls answered, "
			"by instance, method and status.\n"
			"# TYPE svcbroker_calls_total counter\n");
	for (const struct sbc_series *s = m->head; s; s = s->next) {
		for (int st = 0; st < SB_STATUS_COUNT_; st++) {
			unsigned long long n = LOAD(s->count[st]);
			if (!n)
				continue;
			sb_buf_puts(&b, "svcbroker_calls_total{");
			labels2(&b, s);
			sb_buf_printf(&b, ",status=\"%s\"} %llu\n",
				      st == SB_OK
					  ? "ok"
					  : sb_status_str((enum sb_status)st),
				      n);
		}
	}
	sb_buf_puts(&b, "# HELP svcbroker_call_duration_seconds Time from "
			"accepting a call to its answer.\n"
			"# TYPE svcbroker_call_duration_seconds histogram\n");
	for (const struct sbc_series *s = m->head; s; s = s->next) {
		/* one snapshot of the buckets: the count is their sum, so the
		 * histogram is consistent even while calls are counted */
		unsigned long long cum = 0, by[N_BUCKETS + 1];
		for (size_t k = 0; k <= N_BUCKETS; k++)
			by[k] = LOAD(s->bucket[k]);
		unsigned long long total = 0;
		for (size_t k = 0; k <= N_BUCKETS; k++)
			total += by[k];
		if (!total)
			continue;
		for (size_t k = 0; k < N_BUCKETS; k++) {
			cum += by[k];
			sb_buf_puts(&b,
				    "svcbroker_call_duration_seconds_bucket{");
			labels2(&b, s);
			sb_buf_printf(&b, ",le=\"%g\"} %llu\n", bucket_s[k],
				      cum);
		}
		sb_buf_puts(&b, "svcbroker_call_duration_seconds_bucket{");
		labels2(&b, s);
		sb_buf_printf(&b, ",le=\"+Inf\"} %llu\n", total);
		sb_buf_puts(&b, "svcbroker_call_duration_seconds_sum{");
		labels2(&b, s);
		sb_buf_printf(&b, "} %.3f\n", (double)LOAD(s->sum_ms) / 1000.0);
		sb_buf_puts(&b, "svcbroker_call_duration_seconds_count{");
		labels2(&b, s);
		sb_buf_printf(&b, "} %llu\n", total);
	}
	sb_buf_printf(&b,
		      "# HELP svcbroker_reloads_total Configuration reloads, "
		      "by result.\n"
		      "# TYPE svcbroker_reloads_total counter\n"
		      "svcbroker_reloads_total{result=\"ok\"} %llu\n"
		      "svcbroker_reloads_total{result=\"failed\"} %llu\n",
		      m->reload_ok, m->reload_failed);
	sb_buf_puts(&b, "# HELP svcbroker_http_responses_total HTTP answers, "
			"by status class.\n"
			"# TYPE svcbroker_http_responses_total counter\n");
	for (int c = 1; c <= 5; c++)
		sb_buf_printf(&b,
			      "svcbroker_http_responses_total{class=\"%dxx\"} "
			      "%llu\n",
			      c, LOAD(m->http[c]));
	bool overflow = LOAD(m->overflow);
	pthread_mutex_unlock(&m->mu);

	sb_buf_printf(&b,
		      "# HELP svcbroker_calls_in_flight Calls running in a "
		      "broker now.\n"
		      "# TYPE svcbroker_calls_in_flight gauge\n"
		      "svcbroker_calls_in_flight %zu\n"
		      "# HELP svcbroker_queue_depth Calls waiting for a "
		      "worker.\n"
		      "# TYPE svcbroker_queue_depth gauge\n"
		      "svcbroker_queue_depth %zu\n"
		      "# HELP svcbroker_metrics_series_dropped 1 if some call "
		      "series were not recorded (too many).\n"
		      "# TYPE svcbroker_metrics_series_dropped gauge\n"
		      "svcbroker_metrics_series_dropped %d\n",
		      g ? g->running : 0, g ? g->queued : 0, overflow ? 1 : 0);
	if (g && g->http)
		sb_buf_printf(
		    &b,
		    "# HELP svcbroker_http_connections Open HTTP "
		    "connections (limit: max_connections).\n"
		    "# TYPE svcbroker_http_connections gauge\n"
		    "svcbroker_http_connections %lld\n"
		    "# HELP svcbroker_http_body_bytes Bytes of request bodies "
		    "held now (limit: max_body_total).\n"
		    "# TYPE svcbroker_http_body_bytes gauge\n"
		    "svcbroker_http_body_bytes %lld\n"
		    "# HELP svcbroker_http_refused_total Requests and "
		    "connections refused by a server limit.\n"
		    "# TYPE svcbroker_http_refused_total counter\n"
		    "svcbroker_http_refused_total{limit=\"max_connections\"} "
		    "%llu\n"
		    "svcbroker_http_refused_total{limit=\"max_body_total\"} "
		    "%llu\n",
		    g->http_connections, g->http_body_bytes,
		    g->http_conn_refused, g->http_body_refused);
	const struct sbc_catalog *c = g ? g->catalog : NULL;
	if (c) {
		sb_buf_printf(&b,
			      "# HELP svcbroker_catalog_generation Catalog "
			      "generation serving now (increases on reload).\n"
			      "# TYPE svcbroker_catalog_generation gauge\n"
			      "svcbroker_catalog_generation %lld\n"
			      "# HELP svcbroker_instance_up 1 if the instance "
			      "opened, 0 if it failed.\n"
			      "# TYPE svcbroker_instance_up gauge\n",
			      (long long)c->generation);
		for (size_t i = 0; i < c->n_instances; i++) {
			const struct sbc_instance *in = c->instances[i];
			sb_buf_puts(&b, "svcbroker_instance_up{instance=\"");
			label(&b, in->name);
			sb_buf_puts(&b, "\",broker=\"");
			label(&b, in->broker->name);
			sb_buf_printf(&b, "\"} %d\n",
				      in->open_error[0] ? 0 : 1);
		}
		sb_buf_puts(&b, "# HELP svcbroker_instance_running Calls "
				"running per instance.\n"
				"# TYPE svcbroker_instance_running gauge\n");
		for (size_t i = 0; i < c->n_instances; i++) {
			const struct sbc_instance *in = c->instances[i];
			sb_buf_puts(&b,
				    "svcbroker_instance_running{instance=\"");
			label(&b, in->name);
			sb_buf_printf(&b, "\"} %d\n",
				      atomic_load(&in->running));
		}
	}
	return sb_buf_steal(&b);
}
