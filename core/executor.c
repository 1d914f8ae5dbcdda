/* The executor: broker code runs only on these worker threads, never on an
 * HTTP thread.
 *
 * One mutex guards everything.  Waiting calls sit in one FIFO list; a free
 * worker takes the oldest call whose instance is below its concurrency cap,
 * so a saturated instance never holds back another instance's calls.  A
 * deadline thread answers every call whose deadline passed: a waiting call
 * with "busy" (it never started), a running one with "timeout" (the broker
 * is told through sbc_call_cancel and its late result is dropped).
 *
 * A job is freed when nobody holds it any more: the execution reference
 * (held while queued or running) and one reference per answer being
 * delivered.  Each job keeps a catalog reference, so a reload never closes
 * an instance under a running call. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "metrics.h"

#define RETRY_FULL_MS 1000
#define RETRY_BUSY_MS 1000
#define RETRY_DRAIN_MS 5000
#define JOIN_WAIT_MS 5000
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

struct sbc_executor {
	pthread_mutex_t mu;
	pthread_cond_t work;  /* a job waits or a slot freed */
	pthread_cond_t timer; /* a nearer deadline or stop */
	pthread_cond_t idle;  /* a job was freed */
	struct list queue;    /* qprev/qnext */
	struct list active;   /* aprev/anext: not yet answered */
	size_t n_queued, n_running, n_jobs, max_queue;
	bool draining, stop;
	unsigned n_workers;
	unsigned n_idle, n_waking; /* waiting for work; of them, signalled */
	pthread_t *workers;
	pthread_t timer_thread;
	bool timer_started;
	int64_t timer_wake_ms; /* when the waiting timer thread wakes next */
	struct sbc_metrics *metrics;
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

static void job_free(struct job *j)
{
	sbc_call_free(j->call);
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
	sbc_metrics_call(ex->metrics, inst->name, j->e->obj->name,
			 j->e->method->name, st, o.elapsed_ms);
	j->done(j->ud, &o);
}

/* ---- workers ------------------------------------------------------------- */

/* The oldest waiting job whose instance has a free slot (ex->mu held). */
static struct job *pick(struct sbc_executor *ex)
{
	for (struct job *j = ex->queue.head; j; j = j->qnext) {
		struct sbc_instance *inst = j->e->inst;
		if (atomic_load(&inst->running) < cap_of(inst))
			return j;
	}
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

static enum sb_status run(struct job *j, struct sb_result *res,
			  struct sb_error *err)
{
	struct sbc_instance *inst = j->e->inst;
	sb_error_clear(err);
	if (!res)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	enum sb_status st =
	    inst->broker->execute(inst->state, j->call, res, err);
	if (st == SB_OK) {
		if (sbc_result_error(res, err)) {
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

/* Wake an idle worker for the queued jobs no worker is on its way to
 * already (ex->mu held).  self is 1 when the caller is a worker that
 * looks at the queue itself next.  Waking a worker for every call, that
 * then found its job taken, was most of a no-op call's cost. */
static void wake_worker(struct sbc_executor *ex, size_t self)
{
	if (ex->n_idle > ex->n_waking &&
	    ex->n_queued > (size_t)ex->n_waking + self) {
		ex->n_waking++;
		pthread_cond_signal(&ex->work);
	}
}

static void *worker_main(void *arg)
{
	struct sbc_executor *ex = arg;
	struct sb_error err;
	pthread_mutex_lock(&ex->mu);
	while (!ex->stop) {
		struct job *j = pick(ex);
		if (!j) {
			ex->n_idle++;
			pthread_cond_wait(&ex->work, &ex->mu);
			ex->n_idle--;
			if (ex->n_waking > 0)
				ex->n_waking--;
			continue;
		}
		if (j->deadline_ms - sb_now_ms() < start_margin_ms(j->e->inst)) {
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
		ex->n_running++;
		struct sbc_instance *inst = j->e->inst;
		atomic_fetch_add(&inst->running, 1);
		pthread_mutex_unlock(&ex->mu);

		struct sb_result *res =
		    sbc_result_new(j->e->obj, j->e->method, 0, 0);
		enum sb_status st = run(j, res, &err);
		/* often an upstream's own figure: keep it sane */
		if (err.retry_after_ms < 0)
			err.retry_after_ms = 0;
		else if (err.retry_after_ms > RETRY_AFTER_MAX_MS)
			err.retry_after_ms = RETRY_AFTER_MAX_MS;

		pthread_mutex_lock(&ex->mu);
		atomic_fetch_sub(&inst->running, 1);
		ex->n_running--;
		j->state = JOB_DONE;
		/* a slot of this instance is free: a waiting job may start.
		 * One worker is enough (one slot freed); waking every idle
		 * worker for each call cost more than the call itself. */
		wake_worker(ex, 1);
		bool mine = job_claim(ex, j);
		pthread_mutex_unlock(&ex->mu);
		if (mine) {
			job_deliver(ex, j, st, &err, res);
		} else {
			sbc_log(SB_LOG_INFO, inst->broker->name, inst->name,
				"%s.%s returned after its deadline "
				"(%lld ms): result dropped",
				j->e->obj->name, j->e->method->name,
				(long long)(sb_now_ms() - j->start_ms));
		}
		sbc_result_free(res);
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
		sbc_call_cancel(j->call);
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
	pthread_cond_destroy(&ex->work);
	pthread_cond_destroy(&ex->timer);
	pthread_cond_destroy(&ex->idle);
	free(ex->workers);
	free(ex);
}

static bool join_bounded(pthread_t t, int64_t ms)
{
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
	if (workers < 1)
		workers = 1;
	if (workers > 256)
		workers = 256;
	struct sbc_executor *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return NULL;
	ex->workers = calloc(workers, sizeof(*ex->workers));
	if (!ex->workers) {
		free(ex);
		return NULL;
	}
	ex->max_queue = queue;
	ex->metrics = metrics;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&ex->mu, NULL);
	pthread_cond_init(&ex->work, NULL);
	pthread_cond_init(&ex->timer, &ca);
	pthread_cond_init(&ex->idle, &ca);
	pthread_condattr_destroy(&ca);

	int rc = pthread_create(&ex->timer_thread, NULL, timer_main, ex);
	if (rc == 0) {
		ex->timer_started = true;
		for (unsigned i = 0; i < workers; i++) {
			rc = pthread_create(&ex->workers[i], NULL, worker_main,
					    ex);
			if (rc != 0)
				break;
			ex->n_workers++;
		}
	}
	if (rc != 0) {
		sbc_log(SB_LOG_ERROR, NULL, NULL,
			"cannot start executor threads: %s", strerror(rc));
		sbc_executor_free(ex);
		return NULL;
	}
	return ex;
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
		sbc_call_free(call);
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
		sbc_call_free(call);
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
	sbc_call_set_deadline(call, j->deadline_ms);

	pthread_mutex_lock(&ex->mu);
	const char *why = NULL;
	int64_t retry = RETRY_FULL_MS;
	if (ex->draining || ex->stop) {
		why = "the service is shutting down";
		retry = RETRY_DRAIN_MS;
	} else if (ex->n_queued >= ex->max_queue &&
		   !(ex->n_queued == 0 && ex->n_running < ex->n_workers &&
		     atomic_load(&inst->running) < cap_of(inst))) {
		/* with queue = 0 a call may still start at once on an idle
		 * worker; otherwise the waiting room is full */
		why = "too many calls are waiting";
	}
	if (why) {
		pthread_mutex_unlock(&ex->mu);
		atomic_fetch_add(&inst->calls_rejected, 1);
		sbc_metrics_call(ex->metrics, inst->name, e->obj->name,
				 e->method->name, SB_ERR_UNAVAILABLE, 0);
		sbc_call_free(call);
		free(j);
		sb_error_set(err, SB_ERR_UNAVAILABLE, "QueueFull",
			     "%s: %s/%s.%s was not queued; retry later", why,
			     inst->name, e->obj->name, e->method->name);
		if (err)
			err->retry_after_ms = retry;
		return SB_ERR_UNAVAILABLE;
	}
	j->cat = sbc_catalog_ref(cat);
	atomic_fetch_add(&inst->calls_total, 1);
	ex->n_jobs++;
	q_push(ex, j);
	a_push(ex, j);
	wake_worker(ex, 0);
	/* the timer thread scans every job when it wakes: wake it early only
	 * for a deadline before the one it waits for */
	if (j->deadline_ms < ex->timer_wake_ms)
		pthread_cond_signal(&ex->timer);
	pthread_mutex_unlock(&ex->mu);
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
	pthread_cond_broadcast(&ex->work);
	pthread_cond_broadcast(&ex->timer);
	pthread_mutex_unlock(&ex->mu);
	bool joined = true;
	if (ex->timer_started && !join_bounded(ex->timer_thread, JOIN_WAIT_MS))
		joined = false;
	for (unsigned i = 0; i < ex->n_workers; i++)
		if (!join_bounded(ex->workers[i], JOIN_WAIT_MS))
			joined = false;
	if (!joined) {
		/* A broker is stuck in a call: its thread still uses ex. */
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"a broker call did not return; leaving it running");
		return;
	}
	executor_destroy(ex);
}
