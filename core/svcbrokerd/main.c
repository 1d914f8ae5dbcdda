/* svcbrokerd: the daemon.  A thin shell over libsvcbroker: read the
 * configuration, build the catalog, serve the HTTP/JSON API, reload on
 * SIGHUP, drain and exit on SIGTERM/SIGINT. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "crash.h"
#include "dump_config.h"
#include "host.h"
#include "json.h"
#include "notify.h"
#include "security.h"

/* SIGTERM: calls get DRAIN_MS to finish, answers STOP_MS to be sent, and
 * the process is gone EXIT_MS after the signal whatever is stuck. */
#define DRAIN_MS 25000
#define STOP_MS 2000
/* --check, --list-brokers: how long loading one module file may take when
 * the configuration (its [server] module_load_timeout) cannot be read. */
#define PROBE_MS 10000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: svcbrokerd [OPTION]...\n"
		"Publish the objects and methods of the configured broker "
		"instances over HTTP/JSON.\n\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"      --check         validate the configuration, load every "
		"enabled module\n"
		"                      and bind every instance's keys; print "
		"every problem\n"
		"                      and exit 1 if there is any\n"
		"      --dump-config   print the effective configuration "
		"(includes read,\n"
		"                      defaults filled in, secrets masked) "
		"and exit\n"
		"      --list-brokers  print every module of module_dir with "
		"its configuration\n"
		"                      keys and objects as JSON\n"
		"      --pid-file FILE write the process id to FILE before "
		"listening; removed\n"
		"                      at a clean exit\n"
		"      --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n\n"
		"Signals: SIGHUP reloads the configuration (a bad one is "
		"refused and the\n"
		"running one keeps serving); SIGTERM and SIGINT finish running "
		"calls and exit\n"
		"within 30 s, /v1/health answering 503 meanwhile (a second "
		"SIGTERM or SIGINT\n"
		"exits at once with status 1, abandoning running calls); "
		"SIGUSR1, SIGUSR2\n"
		"and SIGALRM are logged and ignored.\n",
		SB_DEFAULT_CONFIG);
}

/* A problem quotes text from the configuration (section names, keys,
 * values): control characters become '?' and invalid UTF-8 U+FFFD, as in
 * the log, so none of them reaches the terminal. */
static void print_errors(const struct sbc_errlist *errs, const char *prefix)
{
	for (size_t i = 0; i < errs->n; i++) {
		size_t n = strlen(errs->msgs[i]) * 3 + 4;
		char *m = malloc(n);
		if (m)
			sb_text_quotable(errs->msgs[i], SIZE_MAX, m, n);
		fprintf(stderr, "svcbrokerd: %s%s\n", prefix,
			m ? m : "out of memory");
		free(m);
	}
}

static bool module_enabled(const struct sbc_config *cfg, const char *name)
{
	for (char **m = cfg->modules; m && *m; m++)
		if (strcmp(*m, name) == 0)
			return true;
	return false;
}

/* --pid-file: written just before listening, removed at a clean exit (a stale
 * one is left only by a crash or a stop that had to be cut short). */
static const char *pid_file;
static bool pid_file_written;

static bool pid_file_write(void)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", pid_file) >=
	    (int)sizeof(tmp)) {
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"not started: --pid-file %s: name too long", pid_file);
		return false;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) != 0 ||
	    rename(tmp, pid_file) != 0) {
		int e = errno;
		if (fd >= 0)
			unlink(tmp);
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"not started: --pid-file %s: %s", pid_file,
			strerror(e));
		return false;
	}
	pid_file_written = true;
	return true;
}

static void pid_file_remove(void)
{
	if (pid_file_written && unlink(pid_file) != 0 && errno != ENOENT)
		sbc_log(SB_LOG_WARN, NULL, NULL, "cannot remove %s: %s",
			pid_file, strerror(errno));
	pid_file_written = false;
}

/* --dump-config: the configuration as the daemon would run it. */
static int dump_config(const char *path)
{
	struct sbc_errlist errs = {0};
	struct sbc_config *cfg = NULL;
	if (sbc_modules_init() != 0) {
		fprintf(stderr, "svcbrokerd: cannot initialise the module "
				"loader\n");
		return 1;
	}
	int rc = 1;
	if (sbc_config_load(path, &cfg, &errs) == 0) {
		sbc_modules_probe((int)cfg->module_load_timeout_ms);
		rc = sbc_dump_config(stdout, cfg, &errs) == 0 ? 0 : 1;
	}
	fflush(stdout);
	print_errors(&errs, "");
	if (rc != 0)
		fprintf(stderr, "svcbrokerd: %s: %zu problem%s found\n", path,
			errs.total, errs.total == 1 ? "" : "s");
	sbc_errlist_free(&errs);
	sbc_config_free(cfg);
	sbc_modules_exit();
	return rc;
}

/* --check: everything but opening instances (no upstream is contacted). */
static int check(const char *path)
{
	struct sbc_errlist errs = {0};
	struct sbc_config *cfg = NULL;
	if (sbc_modules_init() != 0) {
		fprintf(stderr, "svcbrokerd: cannot initialise the module "
				"loader\n");
		return 1;
	}
	int loaded = sbc_config_load(path, &cfg, &errs);
	sbc_modules_probe(loaded == 0 ? (int)cfg->module_load_timeout_ms
				      : PROBE_MS);
	if (loaded == 0) {
		char buf[512];
		struct sockaddr_storage ss;
		socklen_t len;
		if (!sbc_listen_parse(cfg->listen ? cfg->listen
						  : "127.0.0.1:8780",
				      &ss, &len, buf, sizeof(buf)))
			sbc_errlist_add(&errs, "%s: [server] %s", cfg->path,
					buf);
		/* the API's policy as start-up builds it: certificates and
		 * keys read and matched, clients and grants checked */
		sbc_security_unref(sbc_security_build(cfg, &errs));
		for (char **m = cfg->modules; m && *m; m++) {
			char eb[1024];
			if (!sbc_module_load(cfg->module_dir, *m, eb,
					     sizeof(eb)))
				sbc_errlist_add(&errs, "[module %s] %s", *m,
						eb);
		}
		for (size_t i = 0; i < cfg->n_instances; i++) {
			const struct sbc_instance_conf *ic = &cfg->instances[i];
			for (size_t j = 0; j < i; j++)
				if (strcmp(ic->name, cfg->instances[j].name) ==
				    0)
					sbc_errlist_add(
					    &errs,
					    "%s:%d: [instance %s] defined "
					    "twice (first at %s:%d)",
					    ic->file, ic->line, ic->name,
					    cfg->instances[j].file,
					    cfg->instances[j].line);
			if (!module_enabled(cfg, ic->broker)) {
				sbc_errlist_add(
				    &errs,
				    "%s:%d: [instance %s] broker %s: "
				    "the module is not enabled",
				    ic->file, ic->line, ic->name, ic->broker);
				continue;
			}
			char eb[1024];
			const struct sbc_module *mod = sbc_module_load(
			    cfg->module_dir, ic->broker, eb, sizeof(eb));
			if (!mod)
				continue; /* reported above */
			const struct sb_broker *b = mod->broker;
			void *conf = NULL;
			if (sbc_instance_bind(b, ic, &conf, &errs) == 0)
				sbc_config_unbind(b->config, conf);
		}
	}
	int rc = errs.n ? 1 : 0;
	print_errors(&errs, "");
	if (rc == 0)
		printf("svcbrokerd: %s: configuration OK (%zu instance%s)\n",
		       cfg->path, cfg->n_instances,
		       cfg->n_instances == 1 ? "" : "s");
	else
		fprintf(stderr, "svcbrokerd: %s: %zu problem%s found\n", path,
			errs.total, errs.total == 1 ? "" : "s");
	sbc_errlist_free(&errs);
	sbc_config_free(cfg);
	sbc_modules_exit();
	return rc;
}

/* --list-brokers: the module_dir of the configuration if it reads, else
 * the built-in one. */
static int list_brokers(const char *path)
{
	struct sbc_errlist errs = {0};
	struct sbc_config *cfg = NULL;
	const char *dir = SB_DEFAULT_MODULE_DIR;
	if (sbc_modules_init() != 0) {
		fprintf(stderr, "svcbrokerd: cannot initialise the module "
				"loader\n");
		return 1;
	}
	int loaded = sbc_config_load(path, &cfg, &errs);
	sbc_modules_probe(loaded == 0 ? (int)cfg->module_load_timeout_ms
				      : PROBE_MS);
	if (loaded == 0) {
		dir = cfg->module_dir;
	} else {
		print_errors(&errs, "warning: ");
		fprintf(stderr, "svcbrokerd: warning: listing %s\n", dir);
		sbc_errlist_free(&errs);
		cfg = NULL;
	}
	const struct sbc_module **mods = NULL;
	size_t n = sbc_module_scan(dir, &mods, &errs);
	print_errors(&errs, "warning: ");
	char *json = sbc_json_brokers(mods, n);
	int rc = 0;
	if (json) {
		printf("%s\n", json);
		free(json);
	} else {
		fprintf(stderr, "svcbrokerd: out of memory\n");
		rc = 1;
	}
	if (n == 0 && errs.n)
		rc = 1;
	free(mods);
	sbc_errlist_free(&errs);
	sbc_config_free(cfg);
	sbc_modules_exit();
	return rc;
}

static void log_catalog(struct sb_runtime *rt)
{
	struct sbc_catalog *c = sbc_runtime_catalog(rt);
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct sbc_instance *in = c->instances[i];
		/* a failed open was logged once already, when it failed */
		if (!in->open_error[0])
			sbc_log(SB_LOG_INFO, in->broker->name, in->name,
				"ready: %zu objects, max_concurrency %lld, "
				"timeout %lld ms",
				in->n_objects, (long long)in->max_concurrency,
				(long long)in->timeout_ms);
	}
	sbc_catalog_unref(c);
}

/* ---- signals ---------------------------------------------------------------
 *
 * Every handled signal is blocked before any thread starts, so only the
 * signal thread below takes them (sigwait).  It never runs broker code and
 * never blocks for long, so SIGTERM works whatever the other threads do: at
 * start-up (a broker's open() that never returns) the daemon exits at once,
 * naming the instance being opened; later the stopper thread drains and
 * stops, and whatever is left 30 s after the first SIGTERM is cut short.
 * The main thread starts the daemon and runs reloads. */

#define EXIT_MS 30000 /* the whole stop, whatever is stuck */

enum phase { PH_STARTING, PH_SERVING, PH_RELOADING, PH_STOPPING };

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum phase phase;
	bool reload;	 /* a SIGHUP waits for the main thread */
	bool stopped;	 /* the stopper finished: main returns */
	int stop_sig;	 /* the first SIGTERM/SIGINT, 0 before */
	int64_t stop_ms; /* when it came */
	struct sbc_api *api;
	struct sb_runtime *rt;
	int rc;
} sg = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGHUP:
		return "SIGHUP";
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case SIGUSR1:
		return "SIGUSR1";
	case SIGUSR2:
		return "SIGUSR2";
	case SIGALRM:
		return "SIGALRM";
	}
	return "signal";
}

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGALRM);
}

/* Drain and stop (the stopper thread).  Runs beside a reload that may
 * never end: it then leaves the runtime as it is and exits. */
static void *stopper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sg.mu);
	struct sbc_api *api = sg.api;
	struct sb_runtime *rt = sg.rt;
	int64_t t0 = sg.stop_ms;
	pthread_mutex_unlock(&sg.mu);

	/* the listener stays open while calls drain: a load balancer's
	 * new connections get /v1/health 503 "stopping" (and calls 503)
	 * until the drain ends; sbc_api_stop closes it */
	bool drained = sbc_runtime_drain(rt, DRAIN_MS - (sb_now_ms() - t0));
	if (!drained)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"calls still running %d s after the signal were "
			"abandoned (answered 503)",
			DRAIN_MS / 1000);
	sbc_api_stop(api, STOP_MS);

	/* a reload still opening its instances holds the runtime */
	pthread_mutex_lock(&sg.mu);
	while (sg.phase == PH_RELOADING) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sg.cv, &sg.mu, &ts);
		if (sg.phase == PH_RELOADING &&
		    sb_now_ms() - t0 > DRAIN_MS + STOP_MS) {
			char who[512];
			bool any = sbc_catalog_opening(who, sizeof(who), NULL);
			sbc_log(SB_LOG_ERROR, NULL, NULL,
				"a reload is still opening %s: exiting without "
				"closing the instances",
				any ? who : "its instances");
			_exit(1);
		}
	}
	sg.phase = PH_STOPPING;
	pthread_mutex_unlock(&sg.mu);

	sb_runtime_close(rt);
	sbc_log(SB_LOG_INFO, NULL, NULL, "stopped in %lld ms",
		(long long)(sb_now_ms() - t0));
	/* a broker thread still in a call runs module code: nothing may be
	 * unloaded or cleaned up under it */
	if (!drained) {
		pid_file_remove();
		_exit(0);
	}
	pthread_mutex_lock(&sg.mu);
	sg.stopped = true;
	pthread_cond_broadcast(&sg.cv);
	pthread_mutex_unlock(&sg.mu);
	return NULL;
}

static void on_stop(int sig)
{
	pthread_mutex_lock(&sg.mu);
	if (sg.stop_sig) {
		pthread_mutex_unlock(&sg.mu);
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"second %s: exiting without waiting for running calls",
			sig_name(sig));
		_exit(1);
	}
	sg.stop_sig = sig;
	sg.stop_ms = sb_now_ms();
	if (sg.phase == PH_STARTING) {
		/* nothing serves yet: nothing to drain */
		char who[512];
		int64_t since = 0;
		if (sbc_catalog_opening(who, sizeof(who), &since))
			sbc_log(SB_LOG_ERROR, NULL, NULL,
				"%s during start-up while opening instance %s "
				"(for %lld ms): exiting without serving",
				sig_name(sig), who,
				(long long)(sb_now_ms() - since));
		else
			sbc_log(SB_LOG_ERROR, NULL, NULL,
				"%s during start-up: exiting without serving",
				sig_name(sig));
		_exit(1);
	}
	if (sg.phase == PH_RELOADING) {
		char who[512];
		if (sbc_catalog_opening(who, sizeof(who), NULL))
			sbc_log(SB_LOG_WARN, NULL, NULL,
				"%s during a reload that is opening instance "
				"%s: the running configuration drains and "
				"stops",
				sig_name(sig), who);
	}
	sbc_log(SB_LOG_INFO, NULL, NULL,
		"%s: stopping; finishing running calls (at most %d s)",
		sig_name(sig), DRAIN_MS / 1000);
	sbd_notify("STOPPING=1\nSTATUS=%s: finishing running calls",
		   sig_name(sig));
	pthread_t t;
	if (pthread_create(&t, NULL, stopper, NULL) == 0) {
		pthread_detach(t);
	} else {
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"cannot start the stopper thread: exiting now");
		_exit(1);
	}
	pthread_mutex_unlock(&sg.mu);
}

static void *signal_thread(void *arg)
{
	(void)arg;
	sigset_t set;
	signal_set(&set);
	for (;;) {
		int sig = 0;
		pthread_mutex_lock(&sg.mu);
		int64_t stop_ms = sg.stop_sig ? sg.stop_ms : 0;
		pthread_mutex_unlock(&sg.mu);
		if (stop_ms) {
			/* stopping: whatever is stuck, exit by EXIT_MS */
			int64_t left = stop_ms + EXIT_MS - sb_now_ms();
			if (left <= 0) {
				sbc_log(SB_LOG_ERROR, NULL, NULL,
					"not stopped %d s after the signal: "
					"exiting now",
					EXIT_MS / 1000);
				_exit(1);
			}
			struct timespec ts = {left / 1000,
					      (left % 1000) * 1000000L};
			sig = sigtimedwait(&set, NULL, &ts);
			if (sig < 0)
				continue;
		} else if (sigwait(&set, &sig) != 0) {
			continue;
		}
		switch (sig) {
		case SIGTERM:
		case SIGINT:
			on_stop(sig);
			break;
		case SIGHUP:
			pthread_mutex_lock(&sg.mu);
			/* during start-up: reload once serving */
			if (sg.stop_sig)
				sbc_log(SB_LOG_WARN, NULL, NULL,
					"SIGHUP ignored: the daemon is "
					"stopping");
			else
				sg.reload = true;
			pthread_cond_broadcast(&sg.cv);
			pthread_mutex_unlock(&sg.mu);
			break;
		default:
			/* SIGUSR1, SIGUSR2, SIGALRM: no meaning here, and
			 * their default action would end the daemon */
			sbc_log(SB_LOG_WARN, NULL, NULL,
				"%s ignored: svcbrokerd gives it no meaning "
				"(SIGHUP reloads, SIGTERM stops)",
				sig_name(sig));
			break;
		}
	}
	return NULL;
}

/* READY=1 with a status line: how many instances serve, where. */
static void notify_serving(struct sb_runtime *rt)
{
	struct sbc_catalog *c = sbc_runtime_catalog(rt);
	size_t failed = 0;
	for (size_t i = 0; i < c->n_instances; i++)
		if (c->instances[i]->open_error[0])
			failed++;
	if (failed)
		sbd_notify("READY=1\nSTATUS=serving %zu of %zu instances on %s "
			   "(generation %lld); %zu failed to open, see "
			   "/v1/health",
			   c->n_instances - failed, c->n_instances,
			   sbc_runtime_listen(rt), (long long)c->generation,
			   failed);
	else
		sbd_notify("READY=1\nSTATUS=serving %zu instance%s on %s "
			   "(generation %lld)",
			   c->n_instances, c->n_instances == 1 ? "" : "s",
			   sbc_runtime_listen(rt), (long long)c->generation);
	sbc_catalog_unref(c);
}

static void reload(struct sb_runtime *rt, const char *path)
{
	struct sbc_errlist errs = {0};
	int64_t r0 = sb_now_ms();
	struct timespec mono;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	/* MONOTONIC_USEC: systemd 253's Type=notify-reload wants it */
	sbd_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		   (unsigned long long)mono.tv_sec * 1000000ULL +
		       (unsigned long long)mono.tv_nsec / 1000,
		   path);
	sbc_log(SB_LOG_INFO, NULL, NULL, "SIGHUP: reloading %s", path);
	if (sbc_runtime_reload(rt, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			sbc_log(SB_LOG_ERROR, NULL, NULL, "%s", errs.msgs[i]);
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"reload refused (%zu problem%s): the running "
			"configuration keeps serving",
			errs.total, errs.total == 1 ? "" : "s");
		sbd_notify("READY=1\nSTATUS=reload refused (%zu problem%s), "
			   "serving the previous configuration: %s",
			   errs.total, errs.total == 1 ? "" : "s",
			   errs.n ? errs.msgs[0] : "");
	} else {
		struct sbc_catalog *c = sbc_runtime_catalog(rt);
		sbc_log(SB_LOG_INFO, NULL, NULL,
			"reloaded in %lld ms: generation %lld, %zu instances",
			(long long)(sb_now_ms() - r0), (long long)c->generation,
			c->n_instances);
		sbc_catalog_unref(c);
		log_catalog(rt);
		notify_serving(rt);
	}
	sbc_errlist_free(&errs);
}

static int serve(const char *path)
{
	int64_t t0 = sb_now_ms();
	/* Signals are blocked before any thread starts, so every thread
	 * inherits the mask and only the signal thread sees them. */
	sigset_t set;
	signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_t st;
	if (pthread_create(&st, NULL, signal_thread, NULL) != 0) {
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"not started: cannot start the signal thread");
		return 1;
	}
	pthread_detach(st);

	sbc_json_init();
	/* Every connection is a descriptor: take the hard limit on open
	 * files (the soft one is often 1024), up to 65536. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
	    nofile.rlim_cur < nofile.rlim_max && nofile.rlim_cur < 65536) {
		nofile.rlim_cur =
		    nofile.rlim_max < 65536 ? nofile.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}

	struct sbc_errlist errs = {0};
	struct sb_runtime *rt = NULL;
	if (sbc_runtime_open(path, &rt, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			sbc_log(SB_LOG_ERROR, NULL, NULL, "%s", errs.msgs[i]);
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"not started: %zu problem%s in %s", errs.total,
			errs.total == 1 ? "" : "s", path);
		sbd_notify("STATUS=not started: %zu problem%s in %s",
			   errs.total, errs.total == 1 ? "" : "s", path);
		sbc_errlist_free(&errs);
		sbc_modules_exit();
		return 1;
	}
	log_catalog(rt);
	struct sbc_http_limits lim;
	sbc_runtime_http_limits(rt, &lim);
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
	    nofile.rlim_cur != RLIM_INFINITY &&
	    (int64_t)nofile.rlim_cur < lim.max_connections + 64)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"max_connections is %lld but this process may open "
			"only %llu files: raise the limit (ulimit -n, "
			"LimitNOFILE=) or lower max_connections",
			(long long)lim.max_connections,
			(unsigned long long)nofile.rlim_cur);
	/* From the first answer on, a SIGTERM drains and stops: the signal
	 * thread waits for sg.mu until the stopper can have api and rt. */
	/* the pid file before the listener: a daemon that cannot write it
	 * never answers */
	if (pid_file && !pid_file_write()) {
		sb_runtime_close(rt);
		sbc_modules_exit();
		return 1;
	}
	pthread_mutex_lock(&sg.mu);
	char eb[512];
	struct sbc_api *api = sbc_api_start(rt, eb, sizeof(eb));
	if (!api) {
		pthread_mutex_unlock(&sg.mu);
		pid_file_remove();
		sbc_log(SB_LOG_ERROR, NULL, NULL, "not started: %s", eb);
		sbd_notify("STATUS=not started: %s", eb);
		sb_runtime_close(rt);
		sbc_modules_exit();
		return 1;
	}
	sbc_log(SB_LOG_INFO, NULL, NULL,
		"svcbrokerd %s listening on %s (config %s), started in %lld ms",
		PACKAGE_VERSION, sbc_runtime_listen(rt), path,
		(long long)(sb_now_ms() - t0));
	notify_serving(rt);
	sg.api = api;
	sg.rt = rt;
	sg.phase = PH_SERVING;
	while (!sg.stopped) {
		if (sg.reload && !sg.stop_sig) {
			sg.reload = false;
			sg.phase = PH_RELOADING;
			pthread_mutex_unlock(&sg.mu);
			reload(rt, path);
			pthread_mutex_lock(&sg.mu);
			if (sg.phase == PH_RELOADING)
				sg.phase = PH_SERVING;
			pthread_cond_broadcast(&sg.cv);
			continue;
		}
		pthread_cond_wait(&sg.cv, &sg.mu);
	}
	pthread_mutex_unlock(&sg.mu);
	/* the stopper closed the runtime */
	sbc_modules_exit();
	pid_file_remove();
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_LIST, OPT_VERSION, OPT_DUMP, OPT_PID };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {"dump-config", no_argument, NULL, OPT_DUMP},
	    {"pid-file", required_argument, NULL, OPT_PID},
	    {"list-brokers", no_argument, NULL, OPT_LIST},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = SB_DEFAULT_CONFIG;
	int mode = 0;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_CHECK:
		case OPT_LIST:
		case OPT_DUMP:
			mode = c;
			break;
		case OPT_PID:
			if (!optarg[0]) {
				fprintf(stderr, "svcbrokerd: --pid-file needs "
						"a file name\n");
				return 2;
			}
			pid_file = optarg;
			break;
		case OPT_VERSION:
			printf("svcbrokerd (%s) %s\n", PACKAGE_NAME,
			       PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "svcbrokerd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (mode == OPT_CHECK)
		return check(config);
	if (mode == OPT_LIST)
		return list_brokers(config);
	if (mode == OPT_DUMP)
		return dump_config(config);
	/* A fault or an exit() in broker code is logged, naming it, and the
	 * daemon never ends with status 0 but through its own way out. */
	if (sbc_crash_install() != 0)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"cannot install the crash handlers: a fault in a "
			"broker will not be logged");
	int rc = serve(config);
	sbc_crash_exit_expected();
	return rc;
}
