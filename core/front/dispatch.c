/* One dispatch path for a client's call, whatever carries it: resolve the
 * address in the catalog, decode the JSON inputs into a call, submit it to
 * the executor, and — for callers that block, such as the in-process
 * runtime — wait for the answer.  The HTTP API uses the first three and
 * answers from the executor's completion; sb_runtime_call_json and
 * sb_runtime_test_json use the waiter. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "front.h"
#include "json.h"

const struct sbc_entry *sbc_dispatch_resolve(const struct sbc_catalog *cat,
					     const char *instance,
					     const char *object,
					     const char *method,
					     struct sb_error *err)
{
	const struct sbc_entry *e =
	    sbc_catalog_method(cat, instance, object, method);
	if (e)
		return e;
	char b1[128], b2[128], b3[128];
	sb_text_quotable(instance, 100, b1, sizeof(b1));
	sb_text_quotable(object, 100, b2, sizeof(b2));
	sb_text_quotable(method, 100, b3, sizeof(b3));
	if (!sbc_catalog_instance(cat, instance))
		sb_error_set(err, SB_ERR_NOT_FOUND, "UnknownInstance",
			     "no instance named %s", b1);
	else if (!sbc_catalog_object(cat, instance, object))
		sb_error_set(err, SB_ERR_NOT_FOUND, "UnknownObject",
			     "instance %s has no object %s", b1, b2);
	else
		sb_error_set(err, SB_ERR_NOT_FOUND, "UnknownMethod",
			     "object %s/%s has no method %s", b1, b2, b3);
	return NULL;
}

enum sb_status sbc_dispatch_submit(struct sb_runtime *rt,
				   struct sbc_catalog *cat,
				   const struct sbc_entry *e, const char *body,
				   size_t len, bool wrapped,
				   sbc_exec_done_fn done, void *ud,
				   struct sb_error *err)
{
	struct sb_call *call = sbc_json_decode_call(e, body, len, wrapped, err);
	if (!call)
		return err->status != SB_OK ? err->status : SB_ERR_INTERNAL;
	/* On failure the executor frees the call and answers nothing. */
	return sbc_executor_submit(sbc_runtime_executor(rt), cat, e, call, done,
				   ud, err);
}

/* ---- waiting ------------------------------------------------------------ */

struct sbc_waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* the waiting caller's and the completion's */
	bool done;
	sbc_render_fn render;
	enum sb_status st;
	struct sb_error err;
	char *text;
};

struct sbc_waiter *sbc_waiter_new(sbc_render_fn render)
{
	struct sbc_waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->refs = 2;
	w->render = render;
	return w;
}

static void waiter_put(struct sbc_waiter *w, int n)
{
	pthread_mutex_lock(&w->mu);
	w->refs -= n;
	bool last = w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->text);
	free(w);
}

void sbc_waiter_done(void *ud, const struct sbc_outcome *o)
{
	struct sbc_waiter *w = ud;
	enum sb_status st = o->status;
	struct sb_error err;
	sb_error_clear(&err);
	if (o->status != SB_OK && o->err)
		err = *o->err;
	/* rendered here: the outcome's result lives only during this call */
	char *text = w->render(o, &st, &err);
	pthread_mutex_lock(&w->mu);
	w->st = st;
	w->err = err;
	w->text = text;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	waiter_put(w, 1);
}

void sbc_waiter_abandon(struct sbc_waiter *w)
{
	if (w)
		waiter_put(w, 2);
}

bool sbc_waiter_wait(struct sbc_waiter *w, int64_t timeout_ms,
		     enum sb_status *st, struct sb_error *err, char **text)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	bool done = w->done;
	if (done) {
		*st = w->st;
		*err = w->err;
		*text = w->text;
		w->text = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	waiter_put(w, 1);
	return done;
}
