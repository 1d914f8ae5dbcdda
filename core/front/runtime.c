/* The runtime: one configuration, the catalog serving now, the executor
 * and the metrics.  svcbrokerd serves it over HTTP; applications use it
 * in process through <svcbroker/runtime.h>.
 *
 * The catalog pointer is swapped on reload under a small mutex that also
 * covers taking a reference, so a reader never sees a catalog freed under
 * it; readers then use their reference without any lock. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "front.h"
#include "json.h"
#include "metrics.h"

#define ADDRESS_MAX 512
#define CALL_GRACE_MS 10000
#define CLOSE_DRAIN_MS 10000
#define CONN_SPARE 64 /* connections slow calls should leave free */

struct sb_runtime {
	char *config_path;
	pthread_mutex_t cat_mu; /* guards cat */
	struct sbc_catalog *cat;
	struct sbc_security *sec;  /* guarded by cat_mu */
	pthread_mutex_t reload_mu; /* one reload at a time; guards cfg */
	struct sbc_config *cfg;
	int64_t generation;
	struct sbc_executor *ex;
	struct sbc_metrics *metrics;
	int64_t started_ms;
	atomic_bool draining;
	char *listen;
	bool exposed_plain; /* the API listens beyond loopback without TLS */
	int console;	    /* [server] console, console_dir, console_libs */
	char *console_dir, *console_libs;
	int64_t max_body;
	struct sbc_http_limits http;
};

static pthread_once_t modules_once = PTHREAD_ONCE_INIT;
static int modules_rc;

static void modules_start(void) { modules_rc = sbc_modules_init(); }

static void log_errors(const struct sbc_errlist *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		sbc_log(SB_LOG_ERROR, NULL, NULL, "%s", errs->msgs[i]);
}

static void first_error(const struct sbc_errlist *errs, enum sb_status st,
			struct sb_error *err)
{
	if (errs->total > 1)
		sb_error_set(err, st, NULL, "%s (and %zu more problem%s)",
			     errs->msgs[0], errs->total - 1,
			     errs->total == 2 ? "" : "s");
	else
		sb_error_set(err, st, NULL, "%s",
			     errs->n ? errs->msgs[0] : "failed");
}

int sbc_runtime_open(const char *config_path, struct sb_runtime **out,
		     struct sbc_errlist *errs)
{
	*out = NULL;
	sbc_json_init();
	pthread_once(&modules_once, modules_start);
	if (modules_rc != 0) {
		sbc_errlist_add(errs, "cannot initialise the module loader");
		return -1;
	}
	struct sb_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt) {
		sbc_errlist_add(errs, "out of memory");
		return -1;
	}
	rt->config_path = strdup(config_path ? config_path : SB_DEFAULT_CONFIG);
	pthread_mutex_init(&rt->cat_mu, NULL);
	pthread_mutex_init(&rt->reload_mu, NULL);
	rt->started_ms = sb_now_ms();
	if (!rt->config_path) {
		sbc_errlist_add(errs, "out of memory");
		goto fail;
	}
	if (sbc_config_load(rt->config_path, &rt->cfg, errs) != 0) {
		rt->cfg = NULL;
		goto fail;
	}
	sbc_log_set_level(rt->cfg->log_level);
	sbc_log_set_format((enum sbc_log_format)rt->cfg->log_format);
	rt->listen =
	    strdup(rt->cfg->listen ? rt->cfg->listen : "127.0.0.1:8780");
	rt->max_body =
	    rt->cfg->max_body > 0 ? rt->cfg->max_body : 40 * 1024 * 1024;
	rt->http.max_body_total = rt->cfg->max_body_total;
	rt->http.max_connections = rt->cfg->max_connections;
	rt->http.max_connections_per_ip = rt->cfg->max_connections_per_ip;
	rt->http.idle_timeout_ms = rt->cfg->idle_timeout_ms;
	rt->console = rt->cfg->console;
	rt->console_dir = strdup(rt->cfg->console_dir ? rt->cfg->console_dir
						      : SB_DEFAULT_CONSOLE_DIR);
	rt->console_libs =
	    strdup(rt->cfg->console_libs ? rt->cfg->console_libs
					 : SB_DEFAULT_JAVASCRIPT_DIR);
	if (!rt->listen || !rt->console_dir || !rt->console_libs) {
		sbc_errlist_add(errs, "out of memory");
		goto fail;
	}
	rt->sec = sbc_security_build(rt->cfg, errs);
	if (!rt->sec)
		goto fail;
	rt->generation = 1;
	if (sbc_catalog_build(rt->cfg, rt->generation, &rt->cat, errs) != 0) {
		rt->cat = NULL;
		goto fail;
	}
	rt->metrics = sbc_metrics_new();
	if (!rt->metrics) {
		sbc_errlist_add(errs, "out of memory");
		goto fail;
	}
	rt->ex = sbc_executor_new_stack(
	    (unsigned)rt->cfg->workers, (size_t)rt->cfg->queue,
	    (size_t)rt->cfg->worker_stack, rt->metrics);
	if (!rt->ex) {
		sbc_errlist_add(errs, "cannot start the executor threads");
		goto fail;
	}
	sbc_executor_set_catalog(rt->ex, rt->cat);
	/* calls running or waiting each hold a connection: if they can hold
	 * them all, slow calls lock every client out of the catalog and
	 * health */
	if (rt->cfg->workers + rt->cfg->queue + CONN_SPARE >
	    rt->cfg->max_connections)
		sbc_log(
		    SB_LOG_WARN, NULL, NULL,
		    "workers (%lld) + queue (%lld) leave fewer than %d of "
		    "max_connections (%lld) free: slow calls can hold every "
		    "connection and lock clients out of the catalog and "
		    "health; raise max_connections or lower queue",
		    (long long)rt->cfg->workers, (long long)rt->cfg->queue,
		    CONN_SPARE, (long long)rt->cfg->max_connections);
	*out = rt;
	return 0;
fail:
	sb_runtime_close(rt);
	return -1;
}

/* A reload applies only if every instance of the new generation opened
 * (at start-up a failed instance is kept and reported instead): false with
 * one problem per failed instance. */
static bool all_open(const struct sbc_catalog *cat, struct sbc_errlist *errs)
{
	bool ok = true;
	for (size_t i = 0; i < cat->n_instances; i++) {
		const struct sbc_instance *in = cat->instances[i];
		if (!in->open_error[0] && in->state)
			continue;
		sbc_errlist_add(
		    errs, "[instance %s] did not open: %s", in->name,
		    in->open_error[0] ? in->open_error : "no state");
		ok = false;
	}
	return ok;
}

void sbc_runtime_refuse_insecure(const char *listen_at, char *errbuf,
				 size_t errlen)
{
	snprintf(errbuf, errlen,
		 "listen %s: not a loopback address, and the API has "
		 "neither TLS (tls_cert, tls_key) nor [client] "
		 "sections: anyone who reaches it could call every "
		 "method; configure them, or set allow_insecure = yes "
		 "in [server] (for a trusted network or a proxy in "
		 "front)",
		 listen_at);
}

void sbc_runtime_warn_insecure(const char *listen_at)
{
	sbc_log(SB_LOG_WARN, NULL, NULL,
		"listen %s: serving a non-loopback address without TLS and "
		"without clients (allow_insecure = yes): anyone who reaches "
		"it may call every method",
		listen_at);
}

void sbc_runtime_set_exposed(struct sb_runtime *rt, bool exposed_plain)
{
	pthread_mutex_lock(&rt->reload_mu);
	rt->exposed_plain = exposed_plain;
	pthread_mutex_unlock(&rt->reload_mu);
}

/* The rule of the start (api.c) for a new configuration, on the listener
 * the daemon has (its address, TLS as at start: turning TLS on or off
 * takes a restart): beyond loopback in the clear, the API stays guarded
 * by [client] sections unless allow_insecure says so.  *warn: accepted
 * only by allow_insecure (warned once the reload applies). */
static bool exposure_kept(const struct sb_runtime *rt,
			  const struct sbc_config *cfg,
			  const struct sbc_security *sec, bool *warn,
			  struct sbc_errlist *errs)
{
	*warn = false;
	if (!rt->exposed_plain || sbc_security_closed(sec))
		return true;
	if (cfg->allow_insecure) {
		*warn = true;
		return true;
	}
	char msg[512];
	sbc_runtime_refuse_insecure(rt->listen, msg, sizeof(msg));
	sbc_errlist_add(errs, "%s: no [client] section left: %s", cfg->path,
			msg);
	return false;
}

int sbc_runtime_reload(struct sb_runtime *rt, struct sbc_errlist *errs)
{
	pthread_mutex_lock(&rt->reload_mu);
	struct sbc_config *cfg = NULL;
	struct sbc_catalog *cat = NULL;
	if (sbc_config_load(rt->config_path, &cfg, errs) != 0) {
		pthread_mutex_unlock(&rt->reload_mu);
		sbc_metrics_reload(rt->metrics, false);
		return -1;
	}
	struct sbc_security *sec = sbc_security_build(cfg, errs);
	bool exposed = false;
	if (sec && !exposure_kept(rt, cfg, sec, &exposed, errs)) {
		sbc_security_unref(sec);
		sec = NULL;
	}
	if (!sec ||
	    sbc_catalog_build(cfg, rt->generation + 1, &cat, errs) != 0 ||
	    !all_open(cat, errs)) {
		/* closes whatever the new generation opened; the old one
		 * keeps serving untouched */
		sbc_security_unref(sec);
		sbc_catalog_unref(cat);
		sbc_config_free(cfg);
		pthread_mutex_unlock(&rt->reload_mu);
		sbc_metrics_reload(rt->metrics, false);
		return -1;
	}
	if (cfg->listen && strcmp(cfg->listen, rt->listen) != 0)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"listen changed to %s: it takes effect at the next "
			"restart (still on %s)",
			cfg->listen, rt->listen);
	if (cfg->workers != rt->cfg->workers || cfg->queue != rt->cfg->queue ||
	    cfg->worker_stack != rt->cfg->worker_stack ||
	    cfg->max_body != rt->cfg->max_body ||
	    cfg->max_body_total != rt->cfg->max_body_total ||
	    cfg->max_connections != rt->cfg->max_connections ||
	    cfg->max_connections_per_ip != rt->cfg->max_connections_per_ip ||
	    cfg->idle_timeout_ms != rt->cfg->idle_timeout_ms)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"workers, worker_stack, queue, max_body, "
			"max_body_total, "
			"max_connections, max_connections_per_ip and "
			"idle_timeout take effect at the next restart");
	if (cfg->console != rt->console ||
	    (cfg->console_dir &&
	     strcmp(cfg->console_dir, rt->console_dir) != 0) ||
	    (cfg->console_libs &&
	     strcmp(cfg->console_libs, rt->console_libs) != 0))
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"console, console_dir and console_libs take effect "
			"at the next restart");
	if (exposed)
		sbc_runtime_warn_insecure(rt->listen);
	if (cfg->n_instances == 0 && rt->cfg->n_instances > 0)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"reload: the new configuration has no instances; "
			"every instance stops (was %zu)",
			rt->cfg->n_instances);
	if (!sbc_security_tls(sec) != !sbc_security_tls(rt->sec))
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"TLS turned %s: it takes effect at the next restart "
			"(a renewed certificate or key is taken now)",
			sbc_security_tls(sec) ? "on" : "off");
	sbc_log_set_level(cfg->log_level);
	sbc_log_set_format((enum sbc_log_format)cfg->log_format);
	rt->generation++;
	pthread_mutex_lock(&rt->cat_mu);
	sbc_security_carry_rates(sec, rt->sec);
	struct sbc_catalog *old = rt->cat;
	rt->cat = cat;
	struct sbc_security *old_sec = rt->sec;
	rt->sec = sec;
	pthread_mutex_unlock(&rt->cat_mu);
	sbc_security_unref(old_sec);
	struct sbc_config *old_cfg = rt->cfg;
	rt->cfg = cfg;
	sbc_executor_set_catalog(rt->ex, cat);
	pthread_mutex_unlock(&rt->reload_mu);
	/* calls still running on the old catalog hold their own references:
	 * its instances close when the last one finishes */
	sbc_catalog_unref(old);
	sbc_config_free(old_cfg);
	sbc_metrics_reload(rt->metrics, true);
	return 0;
}

struct sbc_catalog *sbc_runtime_catalog(struct sb_runtime *rt)
{
	pthread_mutex_lock(&rt->cat_mu);
	struct sbc_catalog *c = sbc_catalog_ref(rt->cat);
	pthread_mutex_unlock(&rt->cat_mu);
	return c;
}

struct sbc_security *sbc_runtime_security(struct sb_runtime *rt)
{
	pthread_mutex_lock(&rt->cat_mu);
	struct sbc_security *s = sbc_security_ref(rt->sec);
	pthread_mutex_unlock(&rt->cat_mu);
	return s;
}

bool sbc_runtime_allow_insecure(const struct sb_runtime *rt)
{
	return rt->cfg->allow_insecure;
}

struct sbc_executor *sbc_runtime_executor(struct sb_runtime *rt)
{
	return rt->ex;
}

struct sbc_metrics *sbc_runtime_metrics(struct sb_runtime *rt)
{
	return rt->metrics;
}

const char *sbc_runtime_listen(const struct sb_runtime *rt)
{
	return rt->listen;
}

void sbc_runtime_console(const struct sb_runtime *rt, int *mode,
			 const char **dir, const char **libs)
{
	*mode = rt->console;
	*dir = rt->console_dir;
	*libs = rt->console_libs;
}

int64_t sbc_runtime_max_body(const struct sb_runtime *rt)
{
	return rt->max_body;
}

void sbc_runtime_http_limits(const struct sb_runtime *rt,
			     struct sbc_http_limits *out)
{
	*out = rt->http;
}

int64_t sbc_runtime_uptime_s(const struct sb_runtime *rt)
{
	return (sb_now_ms() - rt->started_ms) / 1000;
}

bool sbc_runtime_drain(struct sb_runtime *rt, int64_t timeout_ms)
{
	atomic_store(&rt->draining, true);
	return rt->ex ? sbc_executor_drain(rt->ex, timeout_ms) : true;
}

bool sbc_runtime_draining(const struct sb_runtime *rt)
{
	return atomic_load(&rt->draining);
}

/* ---- the public API ------------------------------------------------------ */

enum sb_status sb_runtime_open(const char *config_path, struct sb_runtime **out,
			       struct sb_error *err)
{
	struct sbc_errlist errs = {0};
	enum sb_status st = SB_OK;
	if (sbc_runtime_open(config_path, out, &errs) != 0) {
		log_errors(&errs);
		first_error(&errs, SB_ERR_INVALID_INPUT, err);
		st = SB_ERR_INVALID_INPUT;
	} else {
		sb_error_clear(err);
	}
	sbc_errlist_free(&errs);
	return st;
}

enum sb_status sb_runtime_reload(struct sb_runtime *rt, struct sb_error *err)
{
	if (!rt)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no runtime");
	struct sbc_errlist errs = {0};
	enum sb_status st = SB_OK;
	if (sbc_runtime_reload(rt, &errs) != 0) {
		log_errors(&errs);
		first_error(&errs, SB_ERR_INVALID_INPUT, err);
		st = SB_ERR_INVALID_INPUT;
	} else {
		sb_error_clear(err);
	}
	sbc_errlist_free(&errs);
	return st;
}

/* Split "instance/Object.Method" into buf; false if malformed. */
static bool split_address(const char *address, char *buf, size_t len,
			  const char **inst, const char **obj,
			  const char **meth)
{
	if (!address || strlen(address) >= len)
		return false;
	memcpy(buf, address, strlen(address) + 1);
	char *slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	char *dot = strchr(slash + 1, '.');
	if (!dot)
		return false;
	*dot = '\0';
	*inst = buf;
	*obj = slash + 1;
	*meth = dot + 1;
	return **inst && **obj && **meth;
}

/* A caller waiting for its answer; shared with the completion callback. */
/* The answer's JSON: the rows, or the error document. */
static char *call_render(const struct sbc_outcome *o, enum sb_status *st,
			 struct sb_error *err)
{
	(void)st;
	return o->status == SB_OK ? sbc_json_result(o->result)
				  : sbc_json_error(err);
}

/* Fill err and *json_out with the error document. */
static enum sb_status fail_json(const struct sb_error *e, char **json_out,
				struct sb_error *err)
{
	if (err)
		*err = *e;
	if (json_out)
		*json_out = sbc_json_error(e);
	return e->status;
}

enum sb_status sb_runtime_call_json(struct sb_runtime *rt, const char *address,
				    const char *json_inputs, char **json_out,
				    struct sb_error *err)
{
	struct sb_error e;
	sb_error_clear(&e);
	if (json_out)
		*json_out = NULL;
	if (!rt) {
		sb_error_set(&e, SB_ERR_INTERNAL, NULL, "no runtime");
		return fail_json(&e, json_out, err);
	}
	char buf[ADDRESS_MAX];
	const char *in, *ob, *me;
	if (!split_address(address, buf, sizeof(buf), &in, &ob, &me)) {
		sb_error_set(&e, SB_ERR_INVALID_INPUT, "BadAddress",
			     "a method address is instance/Object.Method");
		return fail_json(&e, json_out, err);
	}
	/* The one dispatch path: resolve, decode, submit, wait. */
	struct sbc_catalog *cat = sbc_runtime_catalog(rt);
	const struct sbc_entry *ent = sbc_dispatch_resolve(cat, in, ob, me, &e);
	struct sbc_waiter *w = ent ? sbc_waiter_new(call_render) : NULL;
	if (ent && !w)
		sb_error_set(&e, SB_ERR_INTERNAL, NULL, "out of memory");
	if (!w) {
		sbc_catalog_unref(cat);
		return fail_json(&e, json_out, err);
	}
	int64_t timeout = ent->inst->timeout_ms;
	const char *body = json_inputs && *json_inputs ? json_inputs : "{}";
	enum sb_status st = sbc_dispatch_submit(
	    rt, cat, ent, body, strlen(body), false, sbc_waiter_done, w, &e);
	sbc_catalog_unref(cat); /* the executor holds its own reference */
	if (st != SB_OK) {
		sbc_waiter_abandon(w);
		return fail_json(&e, json_out, err);
	}
	/* The executor answers by the deadline; the grace only guards
	 * against a bug there. */
	char *json = NULL;
	if (!sbc_waiter_wait(w, timeout + CALL_GRACE_MS, &st, &e, &json)) {
		sb_error_set(&e, SB_ERR_TIMEOUT, "DeadlineExceeded",
			     "%s did not answer in time", address);
		return fail_json(&e, json_out, err);
	}
	if (json_out)
		*json_out = json;
	else
		free(json);
	if (st != SB_OK) {
		if (err)
			*err = e;
		return st;
	}
	sb_error_clear(err);
	return SB_OK;
}

enum sb_status sb_runtime_catalog_json(struct sb_runtime *rt,
				       const char *object, char **json_out,
				       struct sb_error *err)
{
	*json_out = NULL;
	if (!rt)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no runtime");
	struct sbc_catalog *cat = sbc_runtime_catalog(rt);
	enum sb_status st = SB_OK;
	if (!object) {
		*json_out = sbc_json_catalog(cat);
	} else {
		char buf[ADDRESS_MAX];
		const char *slash = strchr(object, '/');
		if (!slash || strlen(object) >= sizeof(buf)) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "expected instance/Object");
		} else {
			memcpy(buf, object, strlen(object) + 1);
			buf[slash - object] = '\0';
			const char *in = buf, *ob = buf + (slash - object) + 1;
			struct sbc_instance *inst =
			    sbc_catalog_instance(cat, in);
			const struct sb_object *o =
			    sbc_catalog_object(cat, in, ob);
			if (!inst || !o)
				st = sb_error_set(err, SB_ERR_NOT_FOUND, NULL,
						  "no object %.200s", object);
			else
				*json_out = sbc_json_object(inst, o);
		}
	}
	sbc_catalog_unref(cat);
	if (st == SB_OK && !*json_out)
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	if (st == SB_OK)
		sb_error_clear(err);
	return st;
}

void sb_runtime_close(struct sb_runtime *rt)
{
	if (!rt)
		return;
	if (rt->ex) {
		sbc_runtime_drain(rt, CLOSE_DRAIN_MS);
		sbc_executor_free(rt->ex);
	}
	sbc_catalog_unref(rt->cat);
	sbc_security_unref(rt->sec);
	sbc_config_free(rt->cfg);
	sbc_metrics_free(rt->metrics);
	pthread_mutex_destroy(&rt->cat_mu);
	pthread_mutex_destroy(&rt->reload_mu);
	free(rt->config_path);
	free(rt->listen);
	free(rt->console_dir);
	free(rt->console_libs);
	free(rt);
}
