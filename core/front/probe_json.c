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
/* The test's answer (on the worker): its JSON, with the verdict. */
static char *test_render(const struct sbc_outcome *o, enum sb_status *st,
			 struct sb_error *err)
{
	int http;
	int64_t retry;
	enum sb_status verdict = SB_ERR_INTERNAL;
	char *json = sbc_probe_json(o, &http, &retry, &verdict, err);
	*st = json ? verdict : SB_ERR_INTERNAL;
	return json;
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
	struct sbc_waiter *w = sbc_waiter_new(test_render);
	if (!w) {
		sb_error_set(&e, SB_ERR_INTERNAL, NULL, "out of memory");
		return test_fail(&e, json_out, err);
	}
	struct sbc_catalog *cat = sbc_runtime_catalog(rt);
	struct sbc_instance *inst = sbc_catalog_instance(cat, instance);
	int64_t timeout = inst ? inst->timeout_ms : 0;
	enum sb_status st = sbc_probe_submit(sbc_runtime_executor(rt), cat,
					     instance, sbc_waiter_done, w, &e);
	sbc_catalog_unref(cat); /* the executor holds its own reference */
	if (st != SB_OK) {
		sbc_waiter_abandon(w);
		return test_fail(&e, json_out, err);
	}
	char *json = NULL;
	bool done = sbc_waiter_wait(w, timeout + WAIT_GRACE_MS, &st, &e, &json);
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
