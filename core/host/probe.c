/* "Test settings": an instance's test() run through the executor like a
 * call (see probe.h).  Its verdict as JSON is the front's (probe_json.c). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe.h"

static const struct sb_property probe_props[] = {
    {.name = "Ok",
     .type = SB_TYPE_BOOLEAN,
     .doc = "True if the settings work."},
    {.name = "Category",
     .type = SB_TYPE_TEXT,
     .doc = "The test's status: ok, or the error category."},
    {.name = "Code", .type = SB_TYPE_TEXT, .doc = "The broker's own code."},
    {.name = "Message", .type = SB_TYPE_TEXT, .doc = "What was found."},
    {.name = "Tested",
     .type = SB_TYPE_BOOLEAN,
     .doc = "False if the broker has no test of its own."},
    SB_PROPERTY_END,
};

static const char *const probe_returns[] = {"Ok",      "Category", "Code",
					    "Message", "Tested",   NULL};

const struct sb_method sbc_probe_method = {
    .name = "Test",
    .kind = SB_KIND_EXECUTE,
    .doc = "Test the instance's settings (the broker's test()).",
    .returns = probe_returns,
};

/* Parenthesised: no catalog object can have this name, so a test never
 * mixes with a method in /metrics or in messages. */
const struct sb_object sbc_probe_object = {
    .name = "(settings)",
    .doc = "The instance's settings, as its broker tests them.",
    .properties = probe_props,
};

enum sb_status sbc_probe_run(struct sbc_instance *inst, struct sb_result *res,
			     struct sb_error *err)
{
	const struct sb_broker *b = inst->broker;
	struct sb_error te;
	sb_error_clear(&te);
	enum sb_status st = SB_OK;
	bool tested = b->test != NULL;
	int64_t t0 = sb_now_ms();
	if (tested)
		st = b->test(inst->state, &te);
	if (st < 0 || st >= SB_STATUS_COUNT_)
		st = SB_ERR_INTERNAL;
	char msg[SB_ERROR_MSG_MAX], code[SB_ERROR_CODE_MAX];
	if (!tested)
		snprintf(msg, sizeof(msg),
			 "broker %s has no test of its own: the instance "
			 "opened, nothing more was checked",
			 b->name);
	else if (st != SB_OK && !te.message[0])
		snprintf(msg, sizeof(msg), "the test failed: %s",
			 sb_status_str(st));
	else if (st == SB_OK && !te.message[0])
		snprintf(msg, sizeof(msg), "the settings work");
	else
		sb_text_quotable(te.message, sizeof(msg), msg, sizeof(msg));
	sb_text_quotable(st != SB_OK ? te.code : "", sizeof(code), code,
			 sizeof(code));
	sbc_log(st == SB_OK ? SB_LOG_INFO : SB_LOG_WARN, b->name, inst->name,
		"test %s in %lld ms: %s", st == SB_OK ? "passed" : "failed",
		(long long)(sb_now_ms() - t0), msg);

	enum sb_status bs = sb_result_row(res);
	if (bs == SB_OK)
		bs = sb_result_bool(res, "Ok", st == SB_OK);
	if (bs == SB_OK)
		bs = sb_result_str(res, "Category", sb_status_str(st));
	if (bs == SB_OK && code[0])
		bs = sb_result_str(res, "Code", code);
	if (bs == SB_OK)
		bs = sb_result_str(res, "Message", msg);
	if (bs == SB_OK)
		bs = sb_result_bool(res, "Tested", tested);
	if (bs != SB_OK || sb_result_error(res, err))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot build the test's answer");
	return SB_OK;
}

enum sb_status sbc_probe_submit(struct sbc_executor *ex,
				struct sbc_catalog *cat, const char *instance,
				sbc_exec_done_fn done, void *ud,
				struct sb_error *err)
{
	const struct sbc_entry *e = sbc_catalog_probe_entry(cat, instance);
	if (!e)
		return sb_error_set(err, SB_ERR_NOT_FOUND, "UnknownInstance",
				    "no instance named %.100s",
				    instance ? instance : "");
	struct sb_call *call = sb_call_new(e->obj, e->method);
	if (!call)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	return sbc_executor_submit(ex, cat, e, call, done, ud, err);
}
