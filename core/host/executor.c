/* The executor: broker code runs only on these worker threads, never on an
 * HTTP thread.
 *
 * One mutex guards everything.  Waiting calls sit in one FIFO list; a free
 * worker takes the oldest call whose instance is below its concurrency cap
 * and may have a worker (see "fair share" below), so a saturated instance
 * never holds back another instance's calls.
 *
 * Fair share: each open instance of the serving catalog has a reservation
 * of min(max_concurrency, workers / open instances) workers and as many
 * places in the waiting room (queue / open instances, at least 1).  An
 * instance below its reservation always gets a free worker; past it, a call
 * starts only if the workers left idle still cover every other instance's
 * unused reservation (ex->unmet).  So instances whose upstream never
 * answers hold at most their reservation plus the spare workers, and every
 * other instance keeps its own.  Calls of an older catalog (during a
 * reload) have no reservation and use spare workers only.  A
 * deadline thread answers every call whose deadline passed: a waiting call
 * with "busy" (it never started), a running one with "timeout" (the broker
 * is told through sb_call_cancel and its late result is dropped).
 *
 * A job is freed when nobody holds it any more: the execution reference
 * (held while queued or running) and one reference per answer being
 * delivered.  Each job keeps a catalog reference, so a reload never closes
 * an instance under a running call. */
#include "config.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "executor.h"
#include "metrics.h"
#include "probe.h"

#if defined(__SANITIZE_ADDRESS__)
#define EXEC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EXEC_ASAN 1
#endif
#endif

#define RETRY_FULL_MS 1000
#define RETRY_BUSY_MS 1000
#define RETRY_DRAIN_MS 5000
#define JOIN_WAIT_MS 5000
#define STUCK_JOIN_MS 1000 /* idle workers exit at once */
#define RETRY_AFTER_MAX_MS ((int64_t)24 * 3600 * 1000) /* a day */

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	struct job *qprev, *qnext; /* waiting list */
	struct job *aprev, *anext; /* unanswered list (deadline thread) */
	struct job *xnext;	   /* scratch list while delivering */
	int refs;		   /* under ex->mu */
	enum job_state state;
	bool answered;
	struct sbc_catalog *cat;
	const struct sbc_entry *e;
	struct sb_call *call;
	int64_t start_ms, deadline_ms;
	sbc_exec_done_fn done;
	void *ud;
	/* the answer the deadline thread or drain gives */
	struct sb_error err;
};

struct list {
	struct job *head, *tail;
};

/* A worker's own wake-up word: an idle worker sleeps on it (a futex), and
 * whoever gives it work sets it and wakes that one worker.  (A condition
 * variable woke the same way but cost a futex call more per call: glibc
 * takes the mutex back "contended" after a wait, so the next unlock
 * always made a system call.) */
struct wslot {
	struct sbc_executor *ex;
	atomic_uint word;   /* 1: woken */
	struct wslot *next; /* on ex->idlers, under ex->mu */
};

struct sbc_executor {
	pthread_mutex_t mu;
	pthread_cond_t timer; /* a nearer deadline or stop */
	pthread_cond_t idle;  /* a job was freed */
	struct list queue;    /* qprev/qnext */
	struct list active;   /* aprev/anext: not yet answered */
	size_t n_queued, n_running, n_jobs, max_queue;
	bool draining, drained, stop;
	unsigned n_workers;
	unsigned n_waking;    /* woken, not yet back under ex->mu */
	struct wslot *idlers; /* idle workers, the last one idle on top */
	struct wslot *slots;  /* one per worker */
	pthread_t *workers;
	pthread_t timer_thread;
	bool timer_started;
	int64_t timer_wake_ms; /* when the waiting timer thread wakes next */
	struct sbc_metrics *metrics;
	/* fair share (see the top of this file) */
	struct sbc_catalog *cur; /* the serving catalog, one reference */
	size_t share;		 /* workers reserved per open instance */
	size_t qshare;		 /* waiting places per open instance */
	size_t unmet;		 /* reserved workers not in use now */
};

/* ---- lists --------------------------------------------------------------- */

static void q_push(struct sbc_executor *ex, struct job *j)
{
	j->qnext = NULL;
	j->qprev = ex->queue.tail;
	if (ex->queue.tail)
		ex->queue.tail->qnext = j;
	else
		ex->queue.head = j;
	ex->queue.tail = j;
	ex->n_queued++;
	atomic_fetch_add(&j->e->inst->queued, 1);
}

static void q_remove(struct sbc_executor *ex, struct job *j)
{
	if (j->qprev)
		j->qprev->qnext = j->qnext;
	else
		ex->queue.head = j->qnext;
	if (j->qnext)
		j->qnext->qprev = j->qprev;
	else
		ex->queue.tail = j->qprev;
	j->qprev = j->qnext = NULL;
	ex->n_queued--;
	atomic_fetch_sub(&j->e->inst->queued, 1);
}

static void a_push(struct sbc_executor *ex, struct job *j)
{
	j->anext = NULL;
	j->aprev = ex->active.tail;
	if (ex->active.tail)
		ex->active.tail->anext = j;
	else
		ex->active.head = j;
	ex->active.tail = j;
}

static void a_remove(struct sbc_executor *ex, struct job *j)
{
	if (j->aprev)
		j->aprev->anext = j->anext;
	else
		ex->active.head = j->anext;
	if (j->anext)
		j->anext->aprev = j->aprev;
	else
		ex->active.tail = j->aprev;
	j->aprev = j->anext = NULL;
}

/* ---- jobs ---------------------------------------------------------------- */

static int64_t cap_of(const struct sbc_instance *inst)
{
	if (inst->broker && (inst->broker->flags & SB_BROKER_SERIAL))
		return 1;
	return inst->max_concurrency > 0 ? inst->max_concurrency : 1;
}

/* The workers reserved for j's instance (ex->mu held): none for a call of
 * an older catalog or when no catalog is set. */
static int64_t reserve_of(const struct sbc_executor *ex, const struct job *j)
{
	if (!ex->cur || j->cat != ex->cur || !j->e->inst->state)
		return 0;
	int64_t cap = cap_of(j->e->inst);
	return (int64_t)ex->share < cap ? (int64_t)ex->share : cap;
}

/* May j start now on an idle worker (ex->mu held)? */
static bool may_start(const struct sbc_executor *ex, const struct job *j)
{
	const struct sbc_instance *inst = j->e->inst;
	int64_t running = atomic_load(&inst->running);
	if (running >= cap_of(inst) || ex->n_running >= ex->n_workers)
		return false;
	if (running < reserve_of(ex, j))
		return true;
	/* past its reservation: only if the others' unused reservations
	 * stay covered by the workers left idle */
	return ex->n_workers - ex->n_running - 1 >= ex->unmet;
}

/* j's instance starts (+1) or ends (-1) a call (ex->mu held, before the
 * running count changes). */
static void unmet_update(struct sbc_executor *ex, const struct job *j, int d)
{
	int64_t r = reserve_of(ex, j);
	int64_t running = atomic_load(&j->e->inst->running);
	if (d > 0 && running < r && ex->unmet > 0)
		ex->unmet--;
	else if (d < 0 && running - 1 < r)
		ex->unmet++;
}

static void job_free(struct job *j)
{
	sb_call_free(j->call);
	sbc_catalog_unref(j->cat); /* may close instances: outside ex->mu */
	free(j);
}

/* Drop one reference (ex->mu held).  True if the caller must job_free()
 * it after unlocking. */
static bool job_put(struct sbc_executor *ex, struct job *j)
{
	if (--j->refs > 0)
		return false;
	ex->n_jobs--;
	pthread_cond_broadcast(&ex->idle);
	return true;
}

/* Mark j answered (ex->mu held) and take a delivery reference.  False if
 * it was answered already. */
static bool job_claim(struct sbc_executor *ex, struct job *j)
{
	if (j->answered)
		return false;
	j->answered = true;
	a_remove(ex, j);
	j->refs++;
	return true;
}

/* Deliver an answer (ex->mu NOT held) and count it. */
static void job_deliver(struct sbc_executor *ex, struct job *j,
			enum sb_status st, const struct sb_error *err,
			const struct sb_result *res)
{
	struct sbc_outcome o = {
	    .entry = j->e,
	    .status = st,
	    .err = err,
	    .result = st == SB_OK ? res : NULL,
	    .elapsed_ms = sb_now_ms() - j->start_ms,
	};
	struct sbc_instance *inst = j->e->inst;
	if (st != SB_OK)
		atomic_fetch_add(&inst->calls_failed, 1);
	sbc_metrics_call_entry(ex->metrics, j->e, st, o.elapsed_ms);
	j->done(j->ud, &o);
}

/* ---- workers ------------------------------------------------------------- */

/* The oldest waiting job whose instance has a free slot (ex->mu held). */
static struct job *pick(struct sbc_executor *ex)
{
	for (struct job *j = ex->queue.head; j; j = j->qnext)
		if (may_start(ex, j))
			return j;
	return NULL;
}

/* A queued call with less time left than this is answered busy instead of
 * started: it could only time out, perhaps half done (a side effect for a
 * client already told it failed). */
static int64_t start_margin_ms(const struct sbc_instance *inst)
{
	int64_t m = inst->timeout_ms / 10;
	return m < 50 ? m : 50;
}

static _Thread_local const char *current_rid;

const char *sbc_executor_request_id(void) { return current_rid; }

static enum sb_status run_call(struct job *j, struct sb_result *res,
			       struct sb_error *err);

/* run_call with the call's request id known to the thread's log lines. */
static enum sb_status run(struct job *j, struct sb_result *res,
			  struct sb_error *err)
{
	enum sb_status st = run_call(j, res, err);
	current_rid = NULL;
	return st;
}

static enum sb_status run_call(struct job *j, struct sb_result *res,
			       struct sb_error *err)
{
	struct sbc_instance *inst = j->e->inst;
	sb_error_clear(err);
	if (!res)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	struct sbc_crash_frame cf;
	current_rid = sb_call_request_id(j->call);
	sbc_crash_enter(&cf, inst->broker->name, inst->name, "execute",
			j->e->obj->name, j->e->method->name);
	enum sb_status st =
	    sbc_entry_is_probe(j->e) /* a test of the settings */
		? sbc_probe_run(inst, res, err)
		: j->e->method->handler(inst->state, j->call, res, err);
	sbc_crash_leave(&cf);
	/* A getter misuse is a broker bug, whatever the handler answered. */
	if (sb_call_misused(j->call, err)) {
		const char *rid = sb_call_request_id(j->call);
		sbc_log(SB_LOG_ERROR, inst->broker->name, inst->name,
			"%s.%s: %s%s%s", j->e->obj->name, j->e->method->name,
			err->message, rid ? " request_id=" : "",
			rid ? rid : "");
		return err->status;
	}
	if (st == SB_OK) {
		if (sb_result_error(res, err)) {
			if (err->status == SB_OK)
				err->status = SB_ERR_INTERNAL;
			st = err->status;
		}
		return st;
	}
	if (st < 0 || st >= SB_STATUS_COUNT_)
		st = SB_ERR_INTERNAL;
	if (err->status == SB_OK || err->status != st)
		err->status = st;
	if (!err->message[0])
		snprintf(err->message, sizeof(err->message),
			 "%s/%s.%s failed: %s", inst->name, j->e->obj->name,
			 j->e->method->name, sb_status_str(st));
	if (st != SB_ERR_THROTTLED && st != SB_ERR_UNAVAILABLE)
		err->retry_after_ms = 0;
	return st;
}

static void busy_error(struct job *j);
static void expire(struct sbc_executor *ex, struct job *j, struct job **out);
static void deliver_list(struct sbc_executor *ex, struct job *list);

/* Take the idle worker on top of the stack and mark it woken (ex->mu
 * held); wake_kick() then wakes its thread, best after ex->mu is
 * dropped, so that it does not wake only to wait for the lock. */
static struct wslot *wake_take(struct sbc_executor *ex)
{
	struct wslot *w = ex->idlers;
	ex->idlers = w->next;
	w->next = NULL;
	ex->n_waking++;
	atomic_store(&w->word, 1);
	return w;
}

/* Wake w's thread, if w (any thread, with or without ex->mu).  A worker
 * that saw its word set before it slept does not sleep; a late wake-up
 * then finds its word clear and it sleeps again (idle_wait's loop). */
static void wake_kick(struct wslot *w)
{
	if (w)
		syscall(SYS_futex, &w->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
			0);
}

/* Wake every idle worker: the rules changed, or stop (ex->mu held). */
static void wake_all(struct sbc_executor *ex)
{
	while (ex->idlers)
		wake_kick(wake_take(ex));
}

/* An idle worker for the queued jobs no worker is on its way to already
 * (ex->mu held), to wake_kick() once ex->mu is dropped; NULL if none is
 * needed.  self is 1 when the caller is a worker that looks at the queue
 * itself next.  Waking a worker for every call, that then found its job
 * taken, was most of a no-op call's cost. */
static struct wslot *wake_worker(struct sbc_executor *ex, size_t self)
{
	if (ex->idlers && ex->n_queued > (size_t)ex->n_waking + self)
		return wake_take(ex);
	return NULL;
}

/* Sleep until woken (ex->mu held on entry and on return). */
static void idle_wait(struct sbc_executor *ex, struct wslot *w)
{
	w->next = ex->idlers;
	ex->idlers = w;
	pthread_mutex_unlock(&ex->mu);
	while (atomic_load(&w->word) == 0)
		syscall(SYS_futex, &w->word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL,
			0);
	atomic_store(&w->word, 0);
	pthread_mutex_lock(&ex->mu);
	ex->n_waking--; /* whoever woke it counted it */
}

static void *worker_main(void *arg)
{
	struct wslot *self = arg;
	struct sbc_executor *ex = self->ex;
	struct sb_error err;
	pthread_mutex_lock(&ex->mu);
	while (!ex->stop) {
		struct job *j = pick(ex);
		if (!j) {
			idle_wait(ex, self);
			continue;
		}
		if (j->deadline_ms - sb_now_ms() <
		    start_margin_ms(j->e->inst)) {
			struct job *out = NULL;
			busy_error(j);
			expire(ex, j, &out);
			if (out) {
				pthread_mutex_unlock(&ex->mu);
				deliver_list(ex, out);
				pthread_mutex_lock(&ex->mu);
			}
			continue;
		}
		q_remove(ex, j);
		j->state = JOB_RUNNING;
		unmet_update(ex, j, +1);
		ex->n_running++;
		struct sbc_instance *inst = j->e->inst;
		atomic_fetch_add(&inst->running, 1);
		pthread_mutex_unlock(&ex->mu);

		struct sb_result *res =
		    sb_result_new(j->e->obj, j->e->method, 0, 0);
		enum sb_status st = run(j, res, &err);
		/* often an upstream's own figure: keep it sane */
		if (err.retry_after_ms < 0)
			err.retry_after_ms = 0;
		else if (err.retry_after_ms > RETRY_AFTER_MAX_MS)
			err.retry_after_ms = RETRY_AFTER_MAX_MS;

		pthread_mutex_lock(&ex->mu);
		unmet_update(ex, j, -1);
		atomic_fetch_sub(&inst->running, 1);
		ex->n_running--;
		j->state = JOB_DONE;
		/* a slot of this instance is free: a waiting job may start.
		 * One worker is enough (one slot freed); waking every idle
		 * worker for each call cost more than the call itself. */
		struct wslot *wk = wake_worker(ex, 1);
		bool mine = job_claim(ex, j);
		pthread_mutex_unlock(&ex->mu);
		wake_kick(wk);
		if (mine) {
			job_deliver(ex, j, st, &err, res);
		} else {
			const char *rid = sb_call_request_id(j->call);
			sbc_log(SB_LOG_INFO, inst->broker->name, inst->name,
				"%s.%s returned after its deadline "
				"(%lld ms): result dropped%s%s",
				j->e->obj->name, j->e->method->name,
				(long long)(sb_now_ms() - j->start_ms),
				rid ? " request_id=" : "", rid ? rid : "");
		}
		sb_result_free(res);
		pthread_mutex_lock(&ex->mu);
		bool f1 = mine && job_put(ex, j); /* delivery reference */
		bool f2 = job_put(ex, j);	  /* execution reference */
		if (f1 || f2) {
			pthread_mutex_unlock(&ex->mu);
			job_free(j);
			pthread_mutex_lock(&ex->mu);
		}
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* ---- deadlines ----------------------------------------------------------- */

/* Answer job j now with err (ex->mu held); it goes on *out for delivery
 * once the lock is dropped.  A waiting job is taken off the queue and
 * loses its execution reference (it never runs); a running job is told to
 * stop. */
static void expire(struct sbc_executor *ex, struct job *j, struct job **out)
{
	if (!job_claim(ex, j))
		return;
	if (j->state == JOB_QUEUED) {
		q_remove(ex, j);
		j->state = JOB_DONE;
		j->refs--; /* execution reference; the delivery one remains */
	} else {
		sb_call_cancel(j->call);
	}
	j->xnext = *out;
	*out = j;
}

static void deliver_list(struct sbc_executor *ex, struct job *list)
{
	while (list) {
		struct job *j = list;
		list = j->xnext;
		job_deliver(ex, j, j->err.status, &j->err, NULL);
		pthread_mutex_lock(&ex->mu);
		bool f = job_put(ex, j);
		pthread_mutex_unlock(&ex->mu);
		if (f)
			job_free(j);
	}
}

static void busy_error(struct job *j)
{
	struct sbc_instance *inst = j->e->inst;
	sb_error_set(&j->err, SB_ERR_UNAVAILABLE, "Busy",
		     "instance %s is busy (%lld of %lld calls running): "
		     "%s.%s could not start within its %lld ms deadline",
		     inst->name, (long long)atomic_load(&inst->running),
		     (long long)cap_of(inst), j->e->obj->name,
		     j->e->method->name, (long long)inst->timeout_ms);
	j->err.retry_after_ms = RETRY_BUSY_MS;
}

static void timeout_error(struct job *j)
{
	struct sbc_instance *inst = j->e->inst;
	sb_error_set(&j->err, SB_ERR_TIMEOUT, "DeadlineExceeded",
		     "%s/%s.%s did not finish within %lld ms", inst->name,
		     j->e->obj->name, j->e->method->name,
		     (long long)inst->timeout_ms);
}

static void abs_time(int64_t wait_ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += wait_ms / 1000;
	ts->tv_nsec += (wait_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *timer_main(void *arg)
{
	struct sbc_executor *ex = arg;
	pthread_mutex_lock(&ex->mu);
	while (!ex->stop) {
		int64_t now = sb_now_ms();
		int64_t next = INT64_MAX;
		struct job *out = NULL;
		struct job *j = ex->active.head;
		while (j) {
			struct job *nx = j->anext;
			if (j->deadline_ms <= now) {
				if (j->state == JOB_QUEUED)
					busy_error(j);
				else
					timeout_error(j);
				expire(ex, j, &out);
			} else if (j->deadline_ms < next) {
				next = j->deadline_ms;
			}
			j = nx;
		}
		if (out) {
			pthread_mutex_unlock(&ex->mu);
			deliver_list(ex, out);
			pthread_mutex_lock(&ex->mu);
			continue;
		}
		int64_t wait = next == INT64_MAX ? 60000 : next - now;
		if (wait > 60000)
			wait = 60000;
		struct timespec ts;
		abs_time(wait, &ts);
		ex->timer_wake_ms = now + wait;
		pthread_cond_timedwait(&ex->timer, &ex->mu, &ts);
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* ---- public -------------------------------------------------------------- */

static void executor_destroy(struct sbc_executor *ex)
{
	pthread_mutex_destroy(&ex->mu);
	pthread_cond_destroy(&ex->timer);
	pthread_cond_destroy(&ex->idle);
	free(ex->workers);
	free(ex->slots);
	free(ex);
}

static bool join_bounded(pthread_t t, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

struct sbc_executor *sbc_executor_new(unsigned workers, size_t queue,
				      struct sbc_metrics *metrics)
{
	return sbc_executor_new_stack(workers, queue, 0, metrics);
}

struct sbc_executor *sbc_executor_new_stack(unsigned workers, size_t queue,
					    size_t stack,
					    struct sbc_metrics *metrics)
{
	if (workers < 1)
		workers = 1;
	if (workers > SBC_WORKERS_MAX)
		workers = SBC_WORKERS_MAX;
	struct sbc_executor *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return NULL;
	ex->workers = calloc(workers, sizeof(*ex->workers));
	ex->slots = calloc(workers, sizeof(*ex->slots));
	if (!ex->workers || !ex->slots) {
		free(ex->workers);
		free(ex->slots);
		free(ex);
		return NULL;
	}
	ex->max_queue = queue;
	ex->metrics = metrics;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&ex->mu, NULL);
	pthread_cond_init(&ex->timer, &ca);
	pthread_cond_init(&ex->idle, &ca);
	pthread_condattr_destroy(&ca);

	/* Workers get the configured stack (0: the system's default, often
	 * 8 MiB of address space each); the timer thread the default. */
	pthread_attr_t wa;
	pthread_attr_init(&wa);
	int rc = 0;
	if (stack > 0) {
		if (stack < SBC_WORKER_STACK_MIN)
			stack = SBC_WORKER_STACK_MIN;
#ifdef EXEC_ASAN
		/* AddressSanitizer's redzones take several times the stack
		 * a frame needs */
		stack *= 4;
#endif
		rc = pthread_attr_setstacksize(&wa, stack);
	}
	if (rc == 0)
		rc = pthread_create(&ex->timer_thread, NULL, timer_main, ex);
	if (rc == 0) {
		ex->timer_started = true;
		for (unsigned i = 0; i < workers; i++) {
			ex->slots[i].ex = ex;
			rc = pthread_create(&ex->workers[i], &wa, worker_main,
					    &ex->slots[i]);
			if (rc != 0)
				break;
			ex->n_workers++;
		}
	}
	pthread_attr_destroy(&wa);
	if (rc != 0) {
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"cannot start executor threads (%u of %u workers "
			"started, stack %zu bytes): %s",
			ex->n_workers, workers, stack, strerror(rc));
		sbc_executor_free(ex);
		return NULL;
	}
	return ex;
}

void sbc_executor_set_catalog(struct sbc_executor *ex, struct sbc_catalog *cat)
{
	size_t open = 0;
	for (size_t i = 0; cat && i < cat->n_instances; i++)
		if (cat->instances[i]->state)
			open++;
	sbc_catalog_ref(cat);
	pthread_mutex_lock(&ex->mu);
	struct sbc_catalog *old = ex->cur;
	ex->cur = cat;
	ex->share = open ? ex->n_workers / open : 0;
	ex->qshare = open ? ex->max_queue / open : 0;
	if (ex->qshare < 1)
		ex->qshare = 1;
	ex->unmet = 0;
	for (size_t i = 0; cat && i < cat->n_instances; i++) {
		const struct sbc_instance *inst = cat->instances[i];
		if (!inst->state)
			continue;
		int64_t r = cap_of(inst);
		if ((int64_t)ex->share < r)
			r = (int64_t)ex->share;
		int64_t running = atomic_load(&inst->running);
		if (running < r)
			ex->unmet += (size_t)(r - running);
	}
	/* the rules changed: a waiting call may start now */
	wake_all(ex);
	pthread_mutex_unlock(&ex->mu);
	if (open > ex->n_workers)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"workers (%u) is less than the open instances (%zu): "
			"no worker is reserved for each, so a slow instance "
			"can stall the others; raise [server] workers",
			ex->n_workers, open);
	sbc_catalog_unref(old); /* may close instances: outside ex->mu */
}

enum sb_status sbc_executor_submit(struct sbc_executor *ex,
				   struct sbc_catalog *cat,
				   const struct sbc_entry *e,
				   struct sb_call *call, sbc_exec_done_fn done,
				   void *ud, struct sb_error *err)
{
	struct sbc_instance *inst = e->inst;
	if (inst->open_error[0] || !inst->state) {
		atomic_fetch_add(&inst->calls_rejected, 1);
		sb_call_free(call);
		sb_error_set(err, SB_ERR_UNAVAILABLE, "InstanceUnavailable",
			     "instance %s is unavailable: %s", inst->name,
			     inst->open_error[0] ? inst->open_error
						 : "it is not open");
		if (err)
			err->retry_after_ms = RETRY_DRAIN_MS;
		sbc_metrics_call(ex->metrics, inst->name, e->obj->name,
				 e->method->name, SB_ERR_UNAVAILABLE, 0);
		return SB_ERR_UNAVAILABLE;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		sb_call_free(call);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	j->e = e;
	j->call = call;
	j->done = done;
	j->ud = ud;
	j->refs = 1;
	j->state = JOB_QUEUED;
	j->start_ms = sb_now_ms();
	int64_t t = inst->timeout_ms > 0 ? inst->timeout_ms : 30000;
	j->deadline_ms = j->start_ms + t;
	sb_call_set_deadline(call, j->deadline_ms);

	pthread_mutex_lock(&ex->mu);
	j->cat = cat; /* borrowed until queued: reserve_of compares it */
	const char *why = NULL;
	int64_t retry = RETRY_FULL_MS;
	/* with queue = 0 a call may still start at once on an idle worker */
	bool now = ex->n_queued == 0 && may_start(ex, j);
	if (ex->draining || ex->stop) {
		why = "the service is shutting down";
		retry = RETRY_DRAIN_MS;
	} else if (ex->n_queued >= ex->max_queue && !now) {
		why = "too many calls are waiting";
	} else if (reserve_of(ex, j) > 0 && !now &&
		   (size_t)atomic_load(&inst->queued) >= ex->qshare) {
		/* an instance whose calls pile up keeps to its share of the
		 * waiting room, so the others still find a place */
		why = "this instance has its share of calls waiting";
	}
	if (why) {
		pthread_mutex_unlock(&ex->mu);
		atomic_fetch_add(&inst->calls_rejected, 1);
		sbc_metrics_call(ex->metrics, inst->name, e->obj->name,
				 e->method->name, SB_ERR_UNAVAILABLE, 0);
		sb_call_free(call);
		free(j);
		sb_error_set(err, SB_ERR_UNAVAILABLE, "QueueFull",
			     "%s: %s/%s.%s was not queued; retry later", why,
			     inst->name, e->obj->name, e->method->name);
		if (err)
			err->retry_after_ms = retry;
		return SB_ERR_UNAVAILABLE;
	}
	sbc_catalog_ref(cat);
	atomic_fetch_add(&inst->calls_total, 1);
	ex->n_jobs++;
	q_push(ex, j);
	a_push(ex, j);
	struct wslot *wk = wake_worker(ex, 0);
	/* the timer thread scans every job when it wakes: wake it early only
	 * for a deadline before the one it waits for */
	if (j->deadline_ms < ex->timer_wake_ms)
		pthread_cond_signal(&ex->timer);
	pthread_mutex_unlock(&ex->mu);
	wake_kick(wk);
	return SB_OK;
}

void sbc_executor_stats(struct sbc_executor *ex, size_t *queued,
			size_t *running)
{
	pthread_mutex_lock(&ex->mu);
	if (queued)
		*queued = ex->n_queued;
	if (running)
		*running = ex->n_running;
	pthread_mutex_unlock(&ex->mu);
}

bool sbc_executor_drain(struct sbc_executor *ex, int64_t timeout_ms)
{
	pthread_mutex_lock(&ex->mu);
	ex->draining = true;
	/* calls a first drain gave up on are not waited for again */
	if (ex->drained)
		timeout_ms = 0;
	ex->drained = true;
	struct timespec ts;
	abs_time(timeout_ms > 0 ? timeout_ms : 0, &ts);
	while (ex->n_jobs > 0) {
		if (pthread_cond_timedwait(&ex->idle, &ex->mu, &ts) ==
		    ETIMEDOUT)
			break;
	}
	bool all = ex->n_jobs == 0;
	/* Whatever is left is answered now, so no client waits for ever. */
	struct job *out = NULL;
	struct job *j = ex->active.head;
	while (j) {
		struct job *nx = j->anext;
		sb_error_set(&j->err, SB_ERR_UNAVAILABLE, "ShuttingDown",
			     "the service is shutting down: %s/%s.%s was "
			     "abandoned",
			     j->e->inst->name, j->e->obj->name,
			     j->e->method->name);
		j->err.retry_after_ms = RETRY_DRAIN_MS;
		expire(ex, j, &out);
		j = nx;
	}
	pthread_mutex_unlock(&ex->mu);
	deliver_list(ex, out);
	return all;
}

void sbc_executor_free(struct sbc_executor *ex)
{
	if (!ex)
		return;
	sbc_executor_drain(ex, JOIN_WAIT_MS);
	pthread_mutex_lock(&ex->mu);
	ex->stop = true;
	wake_all(ex);
	pthread_cond_broadcast(&ex->timer);
	/* A worker still running now is stuck in a broker: it is not waited
	 * for again, so idle workers get a short, shared deadline. */
	size_t stuck = ex->n_running;
	struct sbc_catalog *cur = ex->cur;
	ex->cur = NULL;
	pthread_mutex_unlock(&ex->mu);
	sbc_catalog_unref(cur);
	int64_t until = sb_now_ms() + (stuck ? STUCK_JOIN_MS : JOIN_WAIT_MS);
	bool joined = true;
	if (ex->timer_started &&
	    !join_bounded(ex->timer_thread, until - sb_now_ms()))
		joined = false;
	for (unsigned i = 0; i < ex->n_workers; i++) {
		int64_t left = until - sb_now_ms();
		if (!join_bounded(ex->workers[i], left > 0 ? left : 0))
			joined = false;
	}
	if (!joined) {
		/* A broker is stuck in a call: its thread still uses ex. */
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"%zu broker call%s did not return; leaving %s running",
			stuck, stuck == 1 ? "" : "s",
			stuck == 1 ? "it" : "them");
		return;
	}
	executor_destroy(ex);
}
