/* Counters for GET /metrics, rendered in the Prometheus text format 0.0.4.
 *
 * Series are keyed by (instance, Object.Method, status) for counts and by
 * (instance, Object.Method) for the duration histogram.  Names come from
 * the configuration and the catalog, so the number of series is bounded by
 * them; a hard cap guards against anything unexpected. */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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
	atomic_ullong http[6];	   /* by class 1xx..5xx (index 1..5) */
	int64_t listed_generation; /* the catalog whose methods have series */
	double start_s;		   /* the process's start, seconds since 1970 */
};

/* When this process started (seconds since 1970), from /proc: its start
 * in clock ticks after boot (field 22 of /proc/self/stat) and the boot
 * time (btime of /proc/stat); now, if /proc cannot be read. */
static double process_start_s(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double fallback = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "re");
	if (!f)
		return fallback;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces: count after its ')' */
	char *p = strrchr(buf, ')');
	unsigned long long ticks = 0;
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
			 "%*d %*d %*d %*d %*d %*d %llu",
			 &ticks) != 1)
		return fallback;
	unsigned long long btime = 0;
	f = fopen("/proc/stat", "re");
	if (!f)
		return fallback;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	long hz = sysconf(_SC_CLK_TCK);
	if (!btime || hz <= 0)
		return fallback;
	return (double)btime + (double)ticks / (double)hz;
}

struct sbc_metrics *sbc_metrics_new(void)
{
	struct sbc_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->tail = &m->head;
	m->start_s = process_start_s();
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

/* A series for every method of every instance of c, so that each is
 * listed at zero before its first call; once per catalog generation. */
static void list_methods(struct sbc_metrics *m, const struct sbc_catalog *c)
{
	pthread_mutex_lock(&m->mu);
	bool done = m->listed_generation == c->generation;
	pthread_mutex_unlock(&m->mu);
	if (done)
		return;
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct sbc_instance *in = c->instances[i];
		for (size_t j = 0; j < in->n_objects; j++) {
			const struct sb_object *o = in->objects[j];
			for (const struct sb_method *me = o->methods;
			     me && me->name; me++)
				find(m, in->name, o->name, me->name);
		}
	}
	pthread_mutex_lock(&m->mu);
	m->listed_generation = c->generation;
	pthread_mutex_unlock(&m->mu);
}

/* The process's own figures, with the names Prometheus' client libraries
 * use (process_*), read from /proc and getrusage at scrape time. */
static void process_metrics(struct sb_buf *b, double start_s)
{
	struct rusage ru;
	double cpu = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		      ((double)ru.ru_utime.tv_usec +
		       (double)ru.ru_stime.tv_usec) /
			  1e6;
	unsigned long long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%llu %llu", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	long page = sysconf(_SC_PAGESIZE);
	long long fds = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				fds++;
		closedir(d);
		fds--; /* the one opendir holds */
	}
	struct rlimit nofile;
	long long max_fds = -1;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
		max_fds = nofile.rlim_cur == RLIM_INFINITY
			      ? -1
			      : (long long)nofile.rlim_cur;
	sb_buf_printf(
	    b,
	    "# HELP process_cpu_seconds_total User and system CPU time "
	    "spent, in seconds.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.3f\n"
	    "# HELP process_resident_memory_bytes Resident memory size in "
	    "bytes.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %llu\n"
	    "# HELP process_virtual_memory_bytes Virtual memory size in "
	    "bytes.\n"
	    "# TYPE process_virtual_memory_bytes gauge\n"
	    "process_virtual_memory_bytes %llu\n"
	    "# HELP process_open_fds Open file descriptors.\n"
	    "# TYPE process_open_fds gauge\n"
	    "process_open_fds %lld\n"
	    "# HELP process_max_fds Limit on open file descriptors.\n"
	    "# TYPE process_max_fds gauge\n"
	    "process_max_fds %lld\n"
	    "# HELP process_start_time_seconds Start time of the process "
	    "since the Unix epoch, in seconds.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.2f\n",
	    cpu, rss * (unsigned long long)(page > 0 ? page : 4096),
	    pages * (unsigned long long)(page > 0 ? page : 4096),
	    fds < 0 ? 0 : fds, max_fds, start_s);
}

char *sbc_metrics_render(struct sbc_metrics *m,
			 const struct sbc_metrics_gauges *g)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	if (g && g->catalog)
		list_methods(m, g->catalog);
	sb_buf_printf(&b,
		      "# HELP svcbroker_build_info The running svcbrokerd: "
		      "its version and broker contract (always 1).\n"
		      "# TYPE svcbroker_build_info gauge\n"
		      "svcbroker_build_info{version=\"%s\",abi=\"%d.%d\"} 1\n",
		      PACKAGE_VERSION, SB_ABI_MAJOR, SB_ABI_MINOR);
	process_metrics(&b, m->start_s);
	pthread_mutex_lock(&m->mu);
	sb_buf_puts(&b, "# HELP svcbroker_calls_total Method calls answered, "
			"by instance, method and status.\n"
			"# TYPE svcbroker_calls_total counter\n");
	for (const struct sbc_series *s = m->head; s; s = s->next) {
		for (int st = 0; st < SB_STATUS_COUNT_; st++) {
			unsigned long long n = LOAD(s->count[st]);
			/* "ok" is always there, at zero before the first
			 * call; errors once they happened */
			if (!n && st != SB_OK)
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
