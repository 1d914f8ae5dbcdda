/* svcbroker host — private interfaces between the parts of the host layer
 * (configuration, module loading, table checks, catalog, log).  Not
 * installed; brokers never include this, and neither does the SDK
 * (core/sdk).  The front (core/front) and the daemon build on it.
 * Internal prefix: sbc_.
 */
#ifndef SVCBROKER_HOST_H
#define SVCBROKER_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/invoke.h>
#include <svcbroker/sdk.h>

/* ==== log.c ============================================================
 * One line per message on stderr: "2026-11-29T08:00:00Z level [broker:instance]
 * msg". broker/instance may be NULL (then "[svcbrokerd]").  Thread-safe.
 * When stderr is the journal (JOURNAL_STREAM), "<N>" (the syslog priority)
 * instead of the timestamp; with SBC_LOG_JSON one JSON object a line:
 * {"time","level","broker","instance" (if any),"msg"}. */
void sbc_log(enum sb_log_level lvl, const char *broker, const char *instance,
	     const char *fmt, ...) SB_PRINTF(4, 5);
/* sbc_log whatever log_level says: for the audit lines (audit_log). */
void sbc_log_always(enum sb_log_level lvl, const char *broker,
		    const char *instance, const char *fmt, ...) SB_PRINTF(4, 5);
void sbc_log_set_level(enum sb_log_level max);
/* [server] log_format: the order is config_load.c's log_formats. */
enum sbc_log_format { SBC_LOG_TEXT = 0, SBC_LOG_JSON };
void sbc_log_set_format(enum sbc_log_format f);
/* JOURNAL_STREAM names stderr (device:inode): systemd's journal reads it. */
bool sbc_log_stderr_is_journal(void);
/* Would sbc_log write a line at lvl? */
bool sbc_log_enabled(enum sb_log_level lvl);
/* "error", "warn", "info", "debug" -> level; false if unknown. */
bool sbc_log_level_parse(const char *s, enum sb_log_level *out);

/* ==== errlist.c ========================================================
 * A list of human messages, "file:line: [instance x] key: what is wrong". */
struct sbc_errlist {
	char **msgs;
	size_t n; /* messages kept (at most 100; the last says it stopped) */
	size_t total; /* problems reported, kept or not: for summaries */
};
void sbc_errlist_add(struct sbc_errlist *l, const char *fmt, ...)
    SB_PRINTF(2, 3);
void sbc_errlist_free(struct sbc_errlist *l);

/* ==== config_load.c: reading the INI configuration ======================
 * The host's own keys are typed key tables, bound by the SDK's binder like
 * a broker's (and listed by --list-brokers and the docs from the same
 * tables). */
extern const struct sb_config_key sbc_server_keys[];	    /* [server] */
extern const struct sb_config_key sbc_module_keys[];	    /* [module X] */
extern const struct sb_config_key sbc_instance_host_keys[]; /* every instance */
extern const struct sb_config_key sbc_client_keys[];	    /* [client X] */
/* True for broker, max_concurrency, timeout. */
bool sbc_is_host_key(const char *key);

struct sbc_kv {
	char *key, *value; /* value after ${env:}/${file:} substitution */
	char *file;	   /* file that set it */
	int line;
	bool secret_ref; /* value came from ${env:} or ${file:} */
};

struct sbc_instance_conf {
	char *name, *broker;
	char *file; /* where the section starts */
	int line;
	int64_t max_concurrency; /* host key, default 8, 1..1024 */
	int64_t timeout_ms;	 /* host key, default 30s, 1ms..1h */
	struct sbc_kv *kv;	 /* every other key, in file order */
	size_t n_kv;
};

/* [client NAME]: who may call the API, and what (see docs/api.md,
 * "Clients and grants"). */
struct sbc_client_conf {
	char *name;
	char *file; /* where the section starts */
	int line;
	char *token_sha256;	      /* hex SHA-256 of the bearer token */
	char *cert_subject;	      /* RFC 2253 subject of its certificate */
	char **allow;		      /* instance/Object.Method patterns */
	char **mailboxes;	      /* addresses, *@domain, *, default */
	int64_t max_calls_per_minute; /* 0: no limit */
};

/* [server] console */
enum sbc_console_mode {
	SBC_CONSOLE_LOOPBACK =
	    0, /* served while listen is a loopback address */
	SBC_CONSOLE_ON,
	SBC_CONSOLE_OFF,
};

struct sbc_config {
	char *path;	      /* absolute path of the main file */
	char *listen;	      /* "127.0.0.1:8780" */
	char *module_dir;     /* absolute */
	char *state_dir;      /* absolute; may be NULL */
	int64_t workers;      /* 1..4096, default 16 */
	int64_t worker_stack; /* bytes, 64KiB..64MiB, default 256 KiB */
	int64_t queue;	      /* 0..100000, default 1024 */
	int64_t max_body; /* bytes, default 40 MiB (a 25 MiB file in base64) */
	int64_t max_body_total;	 /* bytes of request bodies held at once, all
				  * connections together; default 256 MiB */
	int64_t max_connections; /* 1..100000, default 4096 */
	int64_t max_connections_per_ip; /* 0 (no limit)..100000, default 0 */
	int64_t idle_timeout_ms; /* a connection silent this long is closed;
				  * 1s..1h, default 60s */
	int64_t module_load_timeout_ms; /* --check's probe of a module
					 * file; 1s..10min, default 10s */
	int log_level;			/* enum sb_log_level; default info */
	int log_format;			/* enum sbc_log_format; default text */
	int console;	    /* enum sbc_console_mode; default loopback */
	char *console_dir;  /* absolute: the console's own files */
	char *console_libs; /* absolute: Debian's /usr/share/javascript */
	char **include;	    /* as given (read by the loader) */
	/* the API's security (core/front/security.c) */
	char *tls_cert, *tls_key, *tls_client_ca; /* absolute; may be NULL */
	bool allow_insecure; /* serve a non-loopback address in the clear */
	char **cors_origins; /* allowed Origin values; NULL: none */
	bool access_log;     /* a line per request at info */
	bool audit_log;	     /* the audit lines whatever log_level says */
	struct sbc_client_conf *clients;
	size_t n_clients;
	char **modules; /* enabled module names, NULL-terminated */
	struct sbc_instance_conf *instances;
	size_t n_instances;
};

/* Read path (and its includes).  Returns 0 and *out, or -1 with every
 * problem found added to errs (syntax, unknown [server] keys, duplicate
 * sections, instance of a module not enabled, unreadable secrets...).
 * Broker keys are not checked here: see sbc_instance_bind. */
int sbc_config_load(const char *path, struct sbc_config **out,
		    struct sbc_errlist *errs);
void sbc_config_free(struct sbc_config *c);

/* Build the broker's config struct for inst from table (config_size bytes,
 * calloc'd), applying defaults through the same parser and checking every
 * key: unknown (listing valid ones), missing required, bad type, out of
 * range, bad choice — each added to errs as "file:line: [instance x] key:
 * ...".  Returns 0 and *out, or -1.  Never puts a secret value in a message. */
int sbc_config_bind(const struct sb_config_key *table, size_t config_size,
		    const struct sbc_instance_conf *inst, void **out,
		    struct sbc_errlist *errs);
void sbc_config_unbind(const struct sb_config_key *table, void *conf);
/* The broker's validate() on a bound config: 0, or -1 with its message
 * added as "file:line: [instance x] message". */
int sbc_config_validate(const struct sb_broker *b, const void *conf,
			const struct sbc_instance_conf *inst,
			struct sbc_errlist *errs);
/* sbc_config_bind with b's table, then sbc_config_validate. */
int sbc_instance_bind(const struct sb_broker *b,
		      const struct sbc_instance_conf *inst, void **out,
		      struct sbc_errlist *errs);

/* ==== module.c: loading broker modules (the only user of <ltdl.h>) ===== */
struct sbc_module {
	char *path; /* absolute path of the .la/.so */
	const struct sb_broker *broker;
};
/* Call once before threads start / once at exit. */
int sbc_modules_init(void);
void sbc_modules_exit(void);
/* Load <module_dir>/<name>.la (falling back to <name>.so) by absolute path.
 * Refuses a missing file, a missing svcbroker_broker symbol, a wrong magic,
 * another ABI major, a newer minor, a struct_size smaller than required, a
 * descriptor name that differs from `name`, invalid tables, or a symbol no
 * loaded library defines (every symbol is bound at load) — with a message
 * naming the file, what was found, what was expected and the fix.
 * A loaded module is cached and never unloaded while the process runs.
 * Thread-safe. */
const struct sbc_module *sbc_module_load(const char *module_dir,
					 const char *name, char *errbuf,
					 size_t errlen);
/* Every module file in dir (loaded, for --list-brokers); errors for the
 * ones refused go to errs.  Returns the count; *out is malloc'd. */
size_t sbc_module_scan(const char *dir, const struct sbc_module ***out,
		       struct sbc_errlist *errs);
/* From now on (for --check and --list-brokers), try each module file in a
 * child process first, killed after timeout_ms: a file that crashes,
 * hangs or exits while loading is refused with the reason, not fatal. */
void sbc_modules_probe(int timeout_ms);

/* ==== catalog.c: instances and the immutable catalog snapshot ========== */
struct sbc_instance {
	char *name;
	const struct sbc_module *module;
	const struct sb_broker *broker; /* == module->broker */
	void *conf;			/* bound config struct */
	void *state;			/* from open(); NULL if open failed */
	struct sb_host host;
	int64_t max_concurrency;
	int64_t timeout_ms;
	char open_error[SB_ERROR_MSG_MAX]; /* non-empty if open failed */
	const struct sb_object **objects;  /* static + dynamic, in order */
	size_t n_objects;
	atomic_int running; /* calls executing now */
	atomic_int queued;  /* calls waiting now (executor) */
	atomic_ullong calls_total, calls_failed, calls_rejected;
};

struct sbc_series;
struct sbc_entry { /* one method address */
	struct sbc_instance *inst;
	const struct sb_object *obj;
	const struct sb_method *method;
	/* its metrics series, found on its first answered call (metrics.c):
	 * a cache, so it is written through const pointers */
	struct sbc_series *_Atomic series;
};

struct sbc_catalog {
	atomic_int refs;
	struct sbc_instance **instances;
	size_t n_instances;
	int64_t generation; /* increases with every reload */
	void *index;	    /* private hash table */
};

/* Build a catalog from cfg: load every enabled module (refusals are
 * errors), bind and open every instance, call describe, index every
 * `instance/Object.Method`.  An instance whose open() fails is kept with
 * open_error set (health reports it; its calls answer 503).  Returns 0 and
 * a catalog with one reference, or -1 with errs filled (nothing leaks). */
int sbc_catalog_build(const struct sbc_config *cfg, int64_t generation,
		      struct sbc_catalog **out, struct sbc_errlist *errs);
/* The instance whose open() or describe() is running now, as "name (broker
 * b)" in buf, and since when (sb_now_ms); false if none.  Thread-safe. */
bool sbc_catalog_opening(char *buf, size_t len, int64_t *since_ms);
/* Reference counting; the last unref closes every instance. Thread-safe. */
struct sbc_catalog *sbc_catalog_ref(struct sbc_catalog *c);
void sbc_catalog_unref(struct sbc_catalog *c);
/* O(1) lookups; NULL if absent.  Borrowed while the caller holds a ref. */
const struct sbc_entry *sbc_catalog_method(const struct sbc_catalog *c,
					   const char *instance,
					   const char *object,
					   const char *method);
struct sbc_instance *sbc_catalog_instance(const struct sbc_catalog *c,
					  const char *instance);
const struct sb_object *sbc_catalog_object(const struct sbc_catalog *c,
					   const char *instance,
					   const char *object);

#endif
