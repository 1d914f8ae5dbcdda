/* "Test settings" in the front: the verdict of a test as JSON (POST
 * /v1/test/{instance}) and the in-process sb_runtime_test_json.  Builds
 * its answer with the JSON library like json.c. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "json.h"
#include "json_text.h"
#include "probe.h"

#define WAIT_GRACE_MS 10000 /* past the deadline: only a bug gets here */

/* ---- the answer -------------------------------------------------------- */

static const union sb_datum *cell(const struct sb_result *r, const char *name)
{
	const struct sb_cell *cells;
	size_t n = sb_result_row_cells(r, 0, &cells);
	for (size_t i = 0; i < n; i++)
		if (strcmp(cells[i].name, name) == 0 &&
		    cells[i].value.count > 0)
			return &cells[i].value.items[0];
	return NULL;
}

static enum sb_status status_named(const char *s)
{
	for (int i = 0; s && i < SB_STATUS_COUNT_; i++)
		if (strcmp(sb_status_str((enum sb_status)i), s) == 0)
			return (enum sb_status)i;
	return SB_ERR_INTERNAL;
}

char *sbc_probe_json(const struct sbc_outcome *o, int *http,
		     int64_t *retry_after_ms, enum sb_status *verdict,
		     struct sb_error *msg)
{
	const struct sbc_instance *inst = o->entry->inst;
	*retry_after_ms = 0;
	bool ok, tested = true;
	const char *category, *code, *message;
	char buf[SB_ERROR_MSG_MAX];
	if (o->status == SB_OK) {
		const union sb_datum *d;
		ok = (d = cell(o->result, "Ok")) && d->b;
		category =
		    (d = cell(o->result, "Category")) ? d->s : "internal";
		code = (d = cell(o->result, "Code")) ? d->s : "";
		message = (d = cell(o->result, "Message")) ? d->s : "";
		tested = !(d = cell(o->result, "Tested")) || d->b;
	} else if (o->status == SB_ERR_TIMEOUT) {
		/* the executor's deadline: the test is still running, or
		 * stuck; its late verdict is dropped */
		snprintf(buf, sizeof(buf),
			 "the test did not finish within %lld ms (the "
			 "instance's timeout)",
			 (long long)inst->timeout_ms);
		ok = false;
		category = sb_status_str(SB_ERR_TIMEOUT);
		code = o->err->code;
		message = buf;
	} else {
		/* it did not run (busy, shutting down) */
		*http = sb_status_http(o->status);
		if (o->status == SB_ERR_UNAVAILABLE ||
		    o->status == SB_ERR_THROTTLED)
			*retry_after_ms = o->err->retry_after_ms > 0
					      ? o->err->retry_after_ms
					      : 1000;
		if (verdict)
			*verdict = o->status;
		if (msg)
			*msg = *o->err;
		return sbc_json_error(o->err);
	}
	if (verdict)
		*verdict = ok ? SB_OK : status_named(category);
	if (msg) {
		sb_error_clear(msg);
		if (!ok)
			sb_error_set(msg, status_named(category),
				     code[0] ? code : NULL, "%s", message);
	}
	*http = 200;
	json_t *details = json_pack("{s:s, s:s, s:b}", "category", category,
				    "code", code, "tested", tested);
	json_t *root = json_pack("{s:s, s:s, s:b, s:s, s:I, s:o}", "instance",
				 inst->name, "broker", inst->broker->name, "ok",
				 ok, "message", message, "elapsed_ms",
				 (json_int_t)o->elapsed_ms, "details", details);
	if (!root)
		return NULL;
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* ---- in process ---------------------------------------------------------- */

/* The caller waiting for a verdict, shared with the completion callback
 * (whichever is last frees it). */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	enum sb_status verdict;
	struct sb_error msg;
	char *json;
};

static void waiter_put(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	bool last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->json);
	free(w);
}

static void waiter_done(void *ud, const struct sbc_outcome *o)
{
	struct waiter *w = ud;
	int http;
	int64_t retry;
	enum sb_status verdict = SB_ERR_INTERNAL;
	struct sb_error msg;
	sb_error_clear(&msg);
	char *json = sbc_probe_json(o, &http, &retry, &verdict, &msg);
	pthread_mutex_lock(&w->mu);
	w->verdict = json ? verdict : SB_ERR_INTERNAL;
	w->msg = msg;
	w->json = json;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	waiter_put(w);
}

static enum sb_status test_fail(const struct sb_error *e, char **json_out,
				struct sb_error *err)
{
	if (err)
		*err = *e;
	if (json_out)
		*json_out = sbc_json_error(e);
	return e->status;
}

enum sb_status sb_runtime_test_json(struct sb_runtime *rt, const char *instance,
				    char **json_out, struct sb_error *err)
{
	struct sb_error e;
	sb_error_clear(&e);
	if (json_out)
		*json_out = NULL;
	if (!rt) {
		sb_error_set(&e, SB_ERR_INTERNAL, NULL, "no runtime");
		return test_fail(&e, json_out, err);
	}
	if (!instance || !*instance) {
		sb_error_set(&e, SB_ERR_INVALID_INPUT, NULL,
			     "name the instance to test");
		return test_fail(&e, json_out, err);
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		sb_error_set(&e, SB_ERR_INTERNAL, NULL, "out of memory");
		return test_fail(&e, json_out, err);
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->refs = 2;
	struct sbc_catalog *cat = sbc_runtime_catalog(rt);
	struct sbc_instance *inst = sbc_catalog_instance(cat, instance);
	int64_t timeout = inst ? inst->timeout_ms : 0;
	enum sb_status st = sbc_probe_submit(sbc_runtime_executor(rt), cat,
					     instance, waiter_done, w, &e);
	sbc_catalog_unref(cat); /* the executor holds its own reference */
	if (st != SB_OK) {
		w->refs = 1;
		waiter_put(w);
		return test_fail(&e, json_out, err);
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t wait = timeout + WAIT_GRACE_MS;
	ts.tv_sec += wait / 1000;
	ts.tv_nsec += (wait % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	bool done = w->done;
	char *json = w->json;
	w->json = NULL;
	st = w->verdict;
	e = w->msg;
	pthread_mutex_unlock(&w->mu);
	waiter_put(w);
	if (!done) {
		sb_error_set(&e, SB_ERR_TIMEOUT, "DeadlineExceeded",
			     "the test of %.100s did not answer in time",
			     instance);
		return test_fail(&e, json_out, err);
	}
	if (!json) {
		sb_error_set(&e, SB_ERR_INTERNAL, NULL, "out of memory");
		return test_fail(&e, json_out, err);
	}
	if (json_out)
		*json_out = json;
	else
		free(json);
	if (err)
		*err = e;
	return st;
}
