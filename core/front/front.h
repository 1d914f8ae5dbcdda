/* svcbroker front — the running runtime (configuration, catalog, executor,
 * metrics) as the HTTP server, the daemon and the in-process API see it
 * (runtime.c).  Private to the front and the daemon. */
#ifndef SVCBROKER_FRONT_H
#define SVCBROKER_FRONT_H

#include <svcbroker/runtime.h>

#include "executor.h"
#include "host.h"
#include "probe.h"
#include "security.h"

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
/* The API's security policy now (security.h), with a reference the caller
 * drops with sbc_security_unref.  Never NULL once open. */
struct sbc_security *sbc_runtime_security(struct sb_runtime *rt);
/* [server] allow_insecure as read at open. */
bool sbc_runtime_allow_insecure(const struct sb_runtime *rt);
/* A listener beyond loopback without TLS and without clients: the
 * refusal (into errbuf) unless allow_insecure, and the warning when it
 * allows it; at start (api.c) and at reload. */
void sbc_runtime_refuse_insecure(const char *listen_at, char *errbuf,
				 size_t errlen);
void sbc_runtime_warn_insecure(const char *listen_at);
/* Said by the API once it listens: exposed_plain when its address is not
 * loopback and it has no TLS.  A reload then keeps [client] sections or
 * needs allow_insecure. */
void sbc_runtime_set_exposed(struct sb_runtime *rt, bool exposed_plain);
struct sbc_metrics *sbc_runtime_metrics(struct sb_runtime *rt);
/* The [server] settings read at open (a reload does not change them). */
const char *sbc_runtime_listen(const struct sb_runtime *rt);
int64_t sbc_runtime_max_body(const struct sb_runtime *rt);
/* [server] console (enum sbc_console_mode), console_dir, console_libs. */
void sbc_runtime_console(const struct sb_runtime *rt, int *mode,
			 const char **dir, const char **libs);
struct sbc_http_limits {
	int64_t max_body_total;		/* bytes of bodies held at once */
	int64_t max_connections;	/* open connections */
	int64_t max_connections_per_ip; /* 0: no limit */
	int64_t idle_timeout_ms;	/* a silent connection is closed */
};
void sbc_runtime_http_limits(const struct sb_runtime *rt,
			     struct sbc_http_limits *out);
int64_t sbc_runtime_uptime_s(const struct sb_runtime *rt);
/* Stop accepting calls and wait up to timeout_ms for running ones. */
bool sbc_runtime_drain(struct sb_runtime *rt, int64_t timeout_ms);
bool sbc_runtime_draining(const struct sb_runtime *rt);

/* ==== dispatch.c: one path for a client's call ===========================
 * resolve -> decode -> submit, and wait for callers that block.  The HTTP
 * API and the in-process runtime both go through it. */
/* The entry of instance/object/method in cat (borrowed while the caller
 * holds its reference), or NULL with err: SB_ERR_NOT_FOUND and the code
 * UnknownInstance, UnknownObject or UnknownMethod, names quoted safely. */
const struct sbc_entry *sbc_dispatch_resolve(const struct sbc_catalog *cat,
					     const char *instance,
					     const char *object,
					     const char *method,
					     struct sb_error *err);
/* Decode body (JSON: {"inputs": {...}} when wrapped, else the inputs
 * object) into a call for e and submit it to rt's executor with cat (the
 * executor takes its own reference).  SB_OK: done(ud, outcome) is called
 * once, from a worker.  Otherwise err says why and nothing was
 * submitted. */
enum sb_status sbc_dispatch_submit(struct sb_runtime *rt,
				   struct sbc_catalog *cat,
				   const struct sbc_entry *e, const char *body,
				   size_t len, bool wrapped,
				   sbc_exec_done_fn done, void *ud,
				   struct sb_error *err);

/* A waiter, for callers that block until a submitted job is answered.
 * render runs on the worker inside the completion (the outcome's result
 * lives only then): it returns the answer's text (malloc'd; NULL when out
 * of memory) and may change *st and *err, which start as the outcome's. */
typedef char *(*sbc_render_fn)(const struct sbc_outcome *o, enum sb_status *st,
			       struct sb_error *err);
struct sbc_waiter;
/* NULL when out of memory. */
struct sbc_waiter *sbc_waiter_new(sbc_render_fn render);
/* The completion to submit with the waiter as ud (an sbc_exec_done_fn). */
void sbc_waiter_done(void *ud, const struct sbc_outcome *o);
/* After a failed submit (the completion will never run): free it. */
void sbc_waiter_abandon(struct sbc_waiter *w);
/* Wait at most timeout_ms: true with *st, *err and *text (malloc'd, the
 * caller frees; NULL if rendering ran out of memory), false if no answer
 * came.  Either way the caller is done with w. */
bool sbc_waiter_wait(struct sbc_waiter *w, int64_t timeout_ms,
		     enum sb_status *st, struct sb_error *err, char **text);

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
