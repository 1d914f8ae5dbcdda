/* hello — a small but complete svcbroker broker, built out of tree.
 *
 * Objects:
 *   Greeting.Say        returns a greeting for Name, in the instance's words
 *   Counter.Increment   adds By (default 1, -1000..1000) to a per-instance
 *                       counter, never past the instance's limit
 *   Counter.Read        returns the counter
 *
 * Instance keys:
 *   greeting  string  "Hello"   the word before the name
 *   start     int     0         the counter's first value
 *   limit     int     1000000   the counter never goes past it
 *   shout     bool    no        greet in capitals
 *
 * Each method's table entry names its handler: the host calls it directly,
 * so nothing here compares method names.
 *
 * Build: make (see Makefile; needs `pkg-config svcbroker`).
 */
#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

/* ---- configuration ------------------------------------------------------
 * The host fills this struct from the [instance] section, through the
 * table below, before open(); it stays the host's until close() returns. */
struct hello_conf {
	char *greeting;
	int64_t start;
	int64_t limit;
	bool shout;
};

static const struct sb_config_key hello_config[] = {
    {.key = "greeting",
     .type = SB_CONF_STRING,
     .def = "Hello",
     .doc = "The word said before the name.",
     .offset = offsetof(struct hello_conf, greeting)},
    {.key = "start",
     .type = SB_CONF_INT,
     .def = "0",
     .min = -1000000,
     .max = 1000000,
     .doc = "The counter's first value.",
     .offset = offsetof(struct hello_conf, start)},
    {.key = "limit",
     .type = SB_CONF_INT,
     .def = "1000000",
     .min = -1000000,
     .max = 1000000,
     .doc = "The counter never goes past this value.",
     .offset = offsetof(struct hello_conf, limit)},
    {.key = "shout",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Greet in capital letters.",
     .offset = offsetof(struct hello_conf, shout)},
    SB_CONF_END,
};

/* ---- catalog ------------------------------------------------------------- */

/* The method handlers, defined below; each table entry names its own. */
static enum sb_status say(void *state, const struct sb_call *call,
			  struct sb_result *res, struct sb_error *err);
static enum sb_status increment(void *state, const struct sb_call *call,
				struct sb_result *res, struct sb_error *err);
static enum sb_status read_counter(void *state, const struct sb_call *call,
				   struct sb_result *res, struct sb_error *err);

static const struct sb_property greeting_props[] = {
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "Who is greeted."},
    {.name = "Message", .type = SB_TYPE_TEXT, .doc = "The greeting."},
    SB_PROPERTY_END,
};

static const struct sb_param say_inputs[] = {
    {.name = "Name",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = 100,
     .doc = "Who to greet."},
    SB_PARAM_END,
};

static const char *const say_returns[] = {"Name", "Message", NULL};

static const struct sb_method greeting_methods[] = {
    {.name = "Say",
     .kind = SB_KIND_EXECUTE,
     .handler = say,
     .doc = "Return a greeting for Name.",
     .inputs = say_inputs,
     .returns = say_returns},
    SB_METHOD_END,
};

static const struct sb_property counter_props[] = {
    {.name = "Value",
     .type = SB_TYPE_NUMBER,
     .doc = "The counter's value after the call."},
    SB_PROPERTY_END,
};

static const struct sb_param increment_inputs[] = {
    {.name = "By",
     .type = SB_TYPE_NUMBER,
     .min = -1000, /* the host refuses anything outside, before we run */
     .max = 1000,
     .doc = "How much to add (default 1)."},
    SB_PARAM_END,
};

static const char *const counter_returns[] = {"Value", NULL};

static const struct sb_method counter_methods[] = {
    {.name = "Increment",
     .kind = SB_KIND_UPDATE,
     .handler = increment,
     .doc = "Add By to the counter and return the new value.",
     .inputs = increment_inputs,
     .returns = counter_returns},
    {.name = "Read",
     .kind = SB_KIND_READ,
     .handler = read_counter,
     .doc = "Return the counter's value.",
     .returns = counter_returns},
    SB_METHOD_END,
};

static const struct sb_object hello_objects[] = {
    {.name = "Greeting",
     .doc = "Greetings in this instance's words.",
     .properties = greeting_props,
     .methods = greeting_methods},
    {.name = "Counter",
     .doc = "A counter kept by this instance.",
     .properties = counter_props,
     .methods = counter_methods},
    SB_OBJECT_END,
};

/* ---- per-instance state ---------------------------------------------------
 * Everything lives here, never in globals: two instances of this broker run
 * side by side.  Handlers run concurrently, hence the atomic. */
struct hello_state {
	const struct sb_host *host;
	const struct hello_conf *conf;
	atomic_llong counter;
};

/* Rules that span keys: the host runs this for `svcbrokerd --check`, at
 * start-up and on reload, before anything is opened. */
static enum sb_status hello_validate(const void *config, struct sb_error *err)
{
	const struct hello_conf *conf = config;
	if (conf->start > conf->limit)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "start (%lld) is above limit (%lld)",
				    (long long)conf->start,
				    (long long)conf->limit);
	return SB_OK;
}

static enum sb_status hello_open(const struct sb_host *host, const void *config,
				 void **state, struct sb_error *err)
{
	const struct hello_conf *conf = config;
	struct hello_state *st = calloc(1, sizeof(*st));
	if (!st)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	st->host = host;
	st->conf = conf;
	atomic_init(&st->counter, conf->start);
	host->log(host, SB_LOG_INFO, "ready, greeting \"%s\"", conf->greeting);
	*state = st;
	return SB_OK;
}

static enum sb_status say(void *state, const struct sb_call *call,
			  struct sb_result *res, struct sb_error *err)
{
	struct hello_state *st = state;
	/* Name is required and validated (text, <= 100 bytes) by the host. */
	const char *name = sb_call_str(call, "Name", "");
	struct sb_buf msg;
	sb_buf_init(&msg, 1024);
	sb_buf_printf(&msg, "%s, %s!", st->conf->greeting, name);
	if (msg.failed) {
		sb_buf_free(&msg);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "greeting too long");
	}
	if (st->conf->shout)
		for (size_t i = 0; i < msg.len; i++)
			msg.data[i] = (char)toupper((unsigned char)msg.data[i]);
	enum sb_status s = sb_result_row(res);
	if (s == SB_OK)
		s = sb_result_str(res, "Name", name);
	if (s == SB_OK)
		s = sb_result_str(res, "Message", msg.data);
	sb_buf_free(&msg);
	return s;
}

static enum sb_status increment(void *state, const struct sb_call *call,
				struct sb_result *res, struct sb_error *err)
{
	struct hello_state *st = state;
	int64_t by = 1;
	sb_call_int(call, "By", &by); /* absent: keep the default */
	long long cur = atomic_load(&st->counter), next;
	do {
		next = cur + by;
		if (next > st->conf->limit)
			return sb_error_set(
			    err, SB_ERR_CONFLICT, "LimitReached",
			    "the counter is %lld; adding %lld "
			    "would pass the limit %lld",
			    cur, (long long)by, (long long)st->conf->limit);
	} while (!atomic_compare_exchange_weak(&st->counter, &cur, next));
	enum sb_status s = sb_result_row(res);
	return s == SB_OK ? sb_result_int(res, "Value", next) : s;
}

static enum sb_status read_counter(void *state, const struct sb_call *call,
				   struct sb_result *res, struct sb_error *err)
{
	(void)call;
	(void)err;
	struct hello_state *st = state;
	enum sb_status s = sb_result_row(res);
	return s == SB_OK
		   ? sb_result_int(res, "Value", atomic_load(&st->counter))
		   : s;
}

static enum sb_status hello_test(void *state, struct sb_error *err)
{
	(void)state;
	(void)err;
	return SB_OK; /* nothing upstream to reach */
}

static void hello_close(void *state)
{
	free(state); /* free(NULL) is a no-op, as close(NULL) must be */
}

/* The one exported symbol. */
SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "hello",
    .version = "1.0",
    .summary = "Greetings and a counter: an example broker.",
    .config = hello_config,
    .config_size = sizeof(struct hello_conf),
    .objects = hello_objects,
    .validate = hello_validate,
    .open = hello_open,
    .test = hello_test,
    .close = hello_close,
};
