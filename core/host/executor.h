/* svcbroker core — the executor: a fixed pool of worker threads running
 * broker calls, a bounded queue, per-instance concurrency caps and
 * per-call deadlines.  Private to libsvcbroker. */
#ifndef SVCBROKER_EXECUTOR_H
#define SVCBROKER_EXECUTOR_H

#include "host.h"

struct sbc_metrics;
struct sbc_executor;

/* How one call ended, handed to the completion callback. */
struct sbc_outcome {
	const struct sbc_entry *entry;	/* borrowed for the callback */
	enum sb_status status;		/* SB_OK or the failure */
	const struct sb_error *err;	/* filled when status != SB_OK */
	const struct sb_result *result; /* non-NULL only when status == SB_OK */
	int64_t elapsed_ms;		/* from submit to this answer */
};

/* Called exactly once for every accepted call, from a worker thread or the
 * deadline thread (never from inside sbc_executor_submit).  Everything in
 * the outcome is borrowed until the callback returns. */
typedef void (*sbc_exec_done_fn)(void *ud, const struct sbc_outcome *o);

/* The most worker threads, and the smallest stack one may have. */
#define SBC_WORKERS_MAX 4096
#define SBC_WORKER_STACK_MIN ((size_t)64 * 1024)

/* A new executor with `workers` threads (1..SBC_WORKERS_MAX) and room for
 * `queue` calls waiting (0 = none wait: a call runs at once or is refused).
 * metrics may be NULL.  NULL on failure (logged).  Threads get the
 * system's default stack. */
struct sbc_executor *sbc_executor_new(unsigned workers, size_t queue,
				      struct sbc_metrics *metrics);
/* The same with worker threads of `stack` bytes (0: the system's default;
 * at least SBC_WORKER_STACK_MIN). */
struct sbc_executor *sbc_executor_new_stack(unsigned workers, size_t queue,
					    size_t stack,
					    struct sbc_metrics *metrics);

/* The catalog serving now (the executor keeps a reference until the next
 * call or sbc_executor_free).  Its open instances share the workers and the
 * waiting room fairly: each is reserved min(max_concurrency, workers / open
 * instances) workers and queue / open instances (at least 1) waiting
 * places, so instances whose calls never return cannot starve the others.
 * Without a catalog set (or for calls of an older one) calls are limited
 * only by max_concurrency, the workers and the queue.  Thread-safe. */
void sbc_executor_set_catalog(struct sbc_executor *ex, struct sbc_catalog *cat);

/* Queue one call of entry e (borrowed from cat).  The executor takes a
 * reference on cat for as long as the call lives and takes ownership of
 * call in every case (freed on refusal too).  The call's deadline is set
 * from the instance's timeout.  Returns SB_OK (done will be called once),
 * or an error (done will not be called): SB_ERR_UNAVAILABLE with
 * retry_after_ms when the queue is full, the executor is draining or the
 * instance failed to open.  Thread-safe. */
enum sb_status sbc_executor_submit(struct sbc_executor *ex,
				   struct sbc_catalog *cat,
				   const struct sbc_entry *e,
				   struct sb_call *call, sbc_exec_done_fn done,
				   void *ud, struct sb_error *err);

/* Calls waiting and calls running now. */
void sbc_executor_stats(struct sbc_executor *ex, size_t *queued,
			size_t *running);

/* Stop accepting calls and wait up to timeout_ms for every accepted call
 * to finish.  Calls still unanswered then are cancelled and answered with
 * SB_ERR_UNAVAILABLE.  Returns true if every call finished in time.  A
 * later drain does not wait again for calls an earlier one gave up on.
 * Thread-safe; idempotent. */
bool sbc_executor_drain(struct sbc_executor *ex, int64_t timeout_ms);

/* Drain (bounded, and not again after an earlier drain), stop the threads
 * and free.  If a broker never returns from a call, it is not waited for:
 * the executor is left allocated (its thread still uses it) and a warning
 * is logged.  NULL is a no-op. */
void sbc_executor_free(struct sbc_executor *ex);
/* The request id of the call the calling worker thread runs now (see
 * sb_call_request_id), or NULL: the host adds it to a broker's log
 * lines. */
const char *sbc_executor_request_id(void);

#endif
