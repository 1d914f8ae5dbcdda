/* svcbroker core — "Test settings": an instance's test() run on the
 * executor like a call, and its verdict as JSON (POST /v1/test/{instance},
 * sb_runtime_test_json).  The host runs it (probe.c); the front answers
 * it (probe_json.c).
 *
 * A test is submitted as a call of a host-made method, "(settings).Test",
 * that no catalog lists.  Its entry is the instance's own slot in the
 * catalog index (sbc_catalog_probe_entry), so it lives as long as the
 * catalog the executor holds a reference on; the executor runs it through
 * sbc_probe_run instead of the broker's execute.  So a test waits for a
 * slot like a call (max_concurrency, SB_BROKER_SERIAL), never runs on an
 * HTTP thread, and is answered by the instance's `timeout` at the latest
 * (test() has no deadline of its own to read). */
#ifndef SVCBROKER_PROBE_H
#define SVCBROKER_PROBE_H

#include "executor.h"
#include "host.h"

/* The host-made object and method a test is a call of. */
extern const struct sb_object sbc_probe_object;
extern const struct sb_method sbc_probe_method;

static inline bool sbc_entry_is_probe(const struct sbc_entry *e)
{
	return e && e->method == &sbc_probe_method;
}

/* The probe entry of instance `instance` in c (borrowed while the caller
 * holds a reference on c), or NULL if there is no such instance.
 * (catalog.c) */
const struct sbc_entry *sbc_catalog_probe_entry(const struct sbc_catalog *c,
						const char *instance);

/* On an executor worker: run inst's test() (an instance whose broker has
 * none passes, saying so) and put the verdict in res as one row (Ok,
 * Category, Code, Message, Tested).  Returns SB_OK, or an error only when
 * the row cannot be built (out of memory): a failed test is a verdict,
 * not a failed call. */
enum sb_status sbc_probe_run(struct sbc_instance *inst, struct sb_result *res,
			     struct sb_error *err);

/* Submit a test of `instance` of cat to ex (as sbc_executor_submit: done is
 * called once on SB_OK).  SB_ERR_NOT_FOUND ("UnknownInstance") if there
 * is no such instance; SB_ERR_UNAVAILABLE for an instance that failed to
 * open (its error in the message), a full queue or a draining executor. */
enum sb_status sbc_probe_submit(struct sbc_executor *ex,
				struct sbc_catalog *cat, const char *instance,
				sbc_exec_done_fn done, void *ud,
				struct sb_error *err);

#endif
