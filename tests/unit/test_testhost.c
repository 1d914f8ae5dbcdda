/* Unit tests of the SDK's test host (<svcbroker/testhost.h>), driving a
 * small broker defined here: two methods, a key table that includes a
 * shared fragment, and a validate(). */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/sdk.h>
#include <svcbroker/testhost.h>

/* ---- the broker under test ------------------------------------------- */

struct tiny_conf {
	char *greeting;
	int64_t limit;
	int mode;
	char **names;
	struct sb_tls_conf tls;
};

static const char *const modes[] = {"fast", "slow", NULL};

static const struct sb_config_key tiny_keys[] = {
    {.key = "greeting",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_REQUIRED,
     .doc = "What Say says.",
     .offset = offsetof(struct tiny_conf, greeting)},
    {.key = "limit",
     .type = SB_CONF_INT,
     .def = "3",
     .min = 1,
     .max = 10,
     .doc = "Largest Times.",
     .offset = offsetof(struct tiny_conf, limit)},
    {.key = "mode",
     .type = SB_CONF_ENUM,
     .def = "fast",
     .choices = modes,
     .doc = "How to say it.",
     .offset = offsetof(struct tiny_conf, mode)},
    {.key = "names",
     .type = SB_CONF_LIST,
     .doc = "Names to know.",
     .offset = offsetof(struct tiny_conf, names)},
    SB_CONF_INCLUDE("tls", sb_tls_keys, offsetof(struct tiny_conf, tls)),
    SB_CONF_END,
};

static enum sb_status tiny_validate(const void *config, struct sb_error *err)
{
	const struct tiny_conf *c = config;
	if (c->tls.ca_file && !c->tls.verify_tls)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "ca_file: given, but verify_tls = no "
				    "never uses it");
	return SB_OK;
}

struct tiny {
	const struct sb_host *host;
	const struct tiny_conf *conf;
	int64_t left_at_start; /* what Wait saw */
};

static enum sb_status tiny_open(const struct sb_host *host, const void *config,
				void **state, struct sb_error *err)
{
	struct tiny *t = calloc(1, sizeof(*t));
	if (!t)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no memory");
	t->host = host;
	t->conf = config;
	host->log(host, SB_LOG_INFO, "open: greeting %s, mode %s",
		  t->conf->greeting, modes[t->conf->mode]);
	if (t->conf->limit > 5)
		host->log(host, SB_LOG_WARN, "limit %lld is generous",
			  (long long)t->conf->limit);
	*state = t;
	return SB_OK;
}

static void tiny_close(void *state)
{
	struct tiny *t = state;
	if (t)
		t->host->log(t->host, SB_LOG_INFO, "close");
	free(t);
}

/* Say: Times rows (a page of at most PageSize) of "<greeting>, <Name>". */
static enum sb_status tiny_say(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	struct tiny *t = state;
	const char *name = sb_call_str(call, "Name", NULL);
	bool misuse = false;
	sb_call_bool(call, "Misuse", &misuse);
	if (misuse) { /* a broker bug: Name is text */
		int64_t n;
		sb_call_int(call, "Name", &n);
	}
	if (strcmp(name, "fail") == 0) {
		err->retry_after_ms = 5000; /* not for an upstream error */
		return SB_ERR_UPSTREAM;
	}
	if (strcmp(name, "busy") == 0) {
		sb_error_set(err, SB_ERR_THROTTLED, "Slow", "later");
		err->retry_after_ms = 1500;
		return SB_ERR_THROTTLED;
	}
	int64_t times = 1;
	sb_call_int(call, "Times", &times);
	if (times > t->conf->limit)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Times: at most %lld",
				    (long long)t->conf->limit);
	bool loud = false;
	sb_call_bool(call, "Loud", &loud);
	t->host->log(t->host, SB_LOG_DEBUG, "say to %s x%lld", name,
		     (long long)times);
	int64_t page = sb_call_page_size(call);
	for (int64_t i = 0; i < times && i < page; i++) {
		char text[300];
		snprintf(text, sizeof(text), "%s, %s%s", t->conf->greeting,
			 name, loud ? "!" : ".");
		sb_result_row(r);
		sb_result_str(r, "Text", text);
		sb_result_int(r, "Count", i + 1);
		sb_result_bool(r, "Loud", loud);
		size_t n = sb_call_count(call, "Tags");
		if (n == 0)
			sb_result_empty(r, "Tags");
		for (size_t k = 0; k < n; k++)
			sb_result_str(r, "Tags",
				      sb_call_str_at(call, "Tags", k));
		if (strcmp(name, "bad-row") == 0)
			sb_result_str(r, "Nope", "x");
	}
	if (times > page)
		sb_result_next_page(r, "more");
	return SB_OK;
}

/* Wait: until the call is abandoned (at most 5 s). */
static enum sb_status tiny_wait(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err)
{
	(void)r;
	struct tiny *t = state;
	const struct sb_host *h = t->host;
	t->left_at_start = h->remaining_ms(h, call);
	for (int i = 0; i < 1000; i++) {
		if (h->cancelled(h, call))
			return sb_error_set(
			    err, SB_ERR_TIMEOUT, NULL,
			    "abandoned, %lld ms left",
			    (long long)h->remaining_ms(h, call));
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return SB_OK;
}

static const struct sb_property greeting_props[] = {
    {.name = "Text", .type = SB_TYPE_TEXT, .doc = "What was said."},
    {.name = "Count", .type = SB_TYPE_NUMBER, .doc = "Which time."},
    {.name = "Loud", .type = SB_TYPE_BOOLEAN, .doc = "Said loudly."},
    {.name = "Tags",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "Tags given."},
    SB_PROPERTY_END,
};

static const struct sb_param say_inputs[] = {
    {.name = "Name",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .doc = "Whom to greet."},
    {.name = "Times",
     .type = SB_TYPE_NUMBER,
     .min = 1,
     .max = 5,
     .doc = "How often."},
    {.name = "Loud", .type = SB_TYPE_BOOLEAN, .doc = "Loudly."},
    {.name = "Tags",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "Tags to repeat."},
    {.name = "Misuse",
     .type = SB_TYPE_BOOLEAN,
     .doc = "Read Name as a number (a broker bug)."},
    SB_PARAM_END,
};

static const char *const say_returns[] = {"Text", "Count", "Loud", "Tags",
					  NULL};

static const struct sb_method greeting_methods[] = {
    {.name = "Say",
     .kind = SB_KIND_LIST,
     .handler = tiny_say,
     .doc = "Greet someone.",
     .inputs = say_inputs,
     .returns = say_returns},
    {.name = "Wait",
     .kind = SB_KIND_EXECUTE,
     .handler = tiny_wait,
     .doc = "Wait until abandoned."},
    SB_METHOD_END,
};

static const struct sb_object tiny_objects[] = {
    {.name = "Greeting",
     .doc = "Greetings.",
     .properties = greeting_props,
     .methods = greeting_methods},
    SB_OBJECT_END,
};

static const struct sb_broker tiny_broker = {
    SB_BROKER_HEADER,	     .name = "tiny",
    .version = "1.0",	     .summary = "A broker for testing the test host.",
    .config = tiny_keys,     .config_size = sizeof(struct tiny_conf),
    .objects = tiny_objects, .validate = tiny_validate,
    .open = tiny_open,	     .close = tiny_close,
};

/* The same broker with describe() (an "Extra" object found at open, and
 * with greeting = twice a second "Greeting", refused) and test(). */
static const struct sb_object extra_object = {.name = "Extra",
					      .doc = "Found at open.",
					      .properties = greeting_props,
					      .methods = greeting_methods};

static enum sb_status tiny_describe(void *state, struct sb_describe *b,
				    struct sb_error *err)
{
	struct tiny *t = state;
	enum sb_status st = sb_describe_add(b, &extra_object, err);
	if (st == SB_OK && strcmp(t->conf->greeting, "twice") == 0)
		st = sb_describe_add(b, &tiny_objects[0], err);
	return st;
}

static enum sb_status tiny_test(void *state, struct sb_error *err)
{
	struct tiny *t = state;
	if (strcmp(t->conf->greeting, "down") == 0)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "the greeter is down");
	return SB_OK;
}

/* ---- helpers ------------------------------------------------------------ */

static struct sb_testhost *th;

static void setup(void)
{
	struct sb_error err;
	th = sb_testhost_new(&tiny_broker, "t", &err);
	ck_assert_msg(th != NULL, "%s", err.message);
}

static void teardown(void)
{
	sb_testhost_free(th);
	th = NULL;
}

static void open_with(const char *const *kv)
{
	struct sb_error err;
	ck_assert_msg(sb_testhost_config(th, kv, &err) == SB_OK, "%s",
		      err.message);
	ck_assert_msg(sb_testhost_open(th, &err) == SB_OK, "%s", err.message);
}

static const char *const plain[] = {"greeting=Hello", NULL};

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_descriptor_checked)
{
	struct sb_error err;
	struct sb_broker bad = tiny_broker;
	bad.abi_major = 1;
	ck_assert_ptr_null(sb_testhost_new(&bad, "x", &err));
	ck_assert_ptr_nonnull(strstr(err.message, "rebuild"));
	bad = tiny_broker;
	bad.name = "Not Valid";
	ck_assert_ptr_null(sb_testhost_new(&bad, "x", &err));
	ck_assert_ptr_nonnull(strstr(err.message, "Not Valid"));
	/* the mock host names the instance and broker */
	const struct sb_host *h = sb_testhost_host(th);
	ck_assert_str_eq(h->instance, "t");
	ck_assert_str_eq(h->broker, "tiny");
	ck_assert_uint_eq(h->struct_size, sizeof(struct sb_host));
	ck_assert_ptr_null(h->state_dir);
	ck_assert_int_eq(sb_testhost_set_state_dir(th, "/tmp/tiny", &err),
			 SB_OK);
	ck_assert_str_eq(sb_testhost_host(th)->state_dir, "/tmp/tiny");
	/* no call: no deadline of its own, never cancelled */
	ck_assert_int_gt(h->remaining_ms(h, NULL), 3600 * 1000);
	ck_assert(!h->cancelled(h, NULL));
}
END_TEST

struct logger {
	const struct sb_host *h;
	int id;
};

static void *log_many(void *arg)
{
	struct logger *l = arg;
	for (int i = 0; i < 200; i++)
		l->h->log(l->h, i % 2 ? SB_LOG_WARN : SB_LOG_DEBUG,
			  "thread %d line %d", l->id, i);
	return NULL;
}

START_TEST(test_logs_recorded_with_levels)
{
	const char *const kv[] = {"greeting=Hi", "limit=7", NULL};
	open_with(kv);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL), 2);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_LOG_INFO), 1);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_LOG_WARN), 1);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_LOG_ERROR), 0);
	enum sb_log_level lvl = SB_LOG_ERROR;
	ck_assert_str_eq(sb_testhost_log_line(th, 0, &lvl),
			 "open: greeting Hi, mode fast");
	ck_assert_int_eq(lvl, SB_LOG_INFO);
	ck_assert_str_eq(sb_testhost_log_line(th, 1, &lvl),
			 "limit 7 is generous");
	ck_assert_int_eq(lvl, SB_LOG_WARN);
	ck_assert_ptr_null(sb_testhost_log_line(th, 2, &lvl));

	const char *in[] = {"Name=Ann", "Times=2", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Greeting", "Say", in, NULL);
	ck_assert_int_eq(r->status, SB_OK);
	sb_testhost_run_free(r);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_DEBUG, "say to Ann"),
			  1);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_INFO, "say to Ann"),
			  0);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_TESTHOST_ANY_LEVEL, "x2"),
			  1);

	/* from several threads at once: every line kept */
	sb_testhost_log_clear(th);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL), 0);
	pthread_t tid[4];
	struct logger lg[4];
	for (int i = 0; i < 4; i++) {
		lg[i] = (struct logger){sb_testhost_host(th), i};
		ck_assert_int_eq(
		    pthread_create(&tid[i], NULL, log_many, &lg[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL),
			  800);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_LOG_WARN), 400);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_DEBUG, "thread 3 "),
			  100);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_TESTHOST_ANY_LEVEL, "line 199"), 4);
	/* close is logged too */
	sb_testhost_close(th);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_INFO, "close"), 1);
	ck_assert(!sb_testhost_is_open(th));
}
END_TEST

static bool has_problem(const char *needle)
{
	for (size_t i = 0; i < sb_testhost_config_problems(th); i++)
		if (strstr(sb_testhost_config_problem(th, i), needle))
			return true;
	return false;
}

START_TEST(test_config_errors_name_the_key)
{
	struct sb_error err;
	/* an unknown key, listing the valid ones (the fragment's and the
	 * host's too) */
	const char *const unknown[] = {"greeting=Hi", "colour = red", NULL};
	ck_assert_int_eq(sb_testhost_config(th, unknown, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "[instance t] colour"));
	ck_assert_ptr_nonnull(strstr(err.message, "verify_tls"));
	ck_assert_ptr_nonnull(strstr(err.message, "timeout"));
	ck_assert_ptr_null(sb_testhost_config_data(th));
	/* out of range, not a choice, a fragment's key, a missing key: each
	 * is reported */
	const char *const bad[] = {"limit=99", "mode=sideways",
				   "verify_tls=maybe", NULL};
	ck_assert_int_eq(sb_testhost_config(th, bad, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_uint_eq(sb_testhost_config_problems(th), 4);
	ck_assert_ptr_nonnull(strstr(err.message, "(and 3 more)"));
	ck_assert(has_problem("[instance t] limit:"));
	ck_assert(has_problem("[instance t] mode:"));
	ck_assert(has_problem("fast, slow"));
	ck_assert(has_problem("[instance t] verify_tls:"));
	ck_assert(has_problem("[instance t] greeting: missing"));
	/* a refused configuration cannot be opened */
	ck_assert_int_eq(sb_testhost_open(th, &err), SB_ERR_INVALID_INPUT);
	ck_assert(!sb_testhost_is_open(th));
	/* not a key=value: the configuration bound before is dropped too */
	ck_assert_int_eq(sb_testhost_config(th, plain, &err), SB_OK);
	ck_assert_ptr_nonnull(sb_testhost_config_data(th));
	const char *const junk[] = {"greeting", NULL};
	ck_assert_int_eq(sb_testhost_config(th, junk, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "item 1"));
	ck_assert_ptr_null(sb_testhost_config_data(th));
	ck_assert_uint_eq(sb_testhost_config_problems(th), 1);
	/* host keys: timeout is checked and used, broker must be ours */
	const char *const host_bad[] = {"greeting=Hi", "timeout=soon",
					"broker=smtp", NULL};
	ck_assert_int_eq(sb_testhost_config(th, host_bad, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert(has_problem("[instance t] timeout:"));
	ck_assert(has_problem("\"smtp\""));
	/* INI text: problems name the line */
	const char *ini = "[instance t]\n"
			  "; a comment\n"
			  "greeting = Hi\n"
			  "\n"
			  "limit = lots\n";
	ck_assert_int_eq(sb_testhost_config_ini(th, ini, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(
	    strstr(err.message, "line 5: [instance t] limit"));
	ck_assert_int_eq(sb_testhost_config_ini(th, "greeting Hi\n", &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "line 1: expected key"));
	/* without any configuration, open binds the defaults and reports the
	 * required key */
	struct sb_testhost *fresh = sb_testhost_new(&tiny_broker, "f", &err);
	ck_assert_ptr_nonnull(fresh);
	ck_assert_int_eq(sb_testhost_open(fresh, &err), SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "[instance f] greeting"));
	sb_testhost_free(fresh);
}
END_TEST

START_TEST(test_validate_refusal)
{
	struct sb_error err;
	const char *const kv[] = {"greeting=Hi", "verify_tls=no",
				  "ca_file=/etc/ssl/ca.pem", NULL};
	ck_assert_int_eq(sb_testhost_config(th, kv, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(err.message, "[instance t] ca_file: given, but "
				      "verify_tls = no never uses it");
	ck_assert_uint_eq(sb_testhost_config_problems(th), 1);
	ck_assert_ptr_null(sb_testhost_config_data(th));
	ck_assert_int_eq(sb_testhost_open(th, &err), SB_ERR_INVALID_INPUT);
	/* accepted: the INI form, a continued line, the fragment bound into
	 * its member, a relative path made absolute */
	ck_assert_int_eq(sb_testhost_config_ini(th,
						"greeting = Good\n"
						"  morning\n",
						&err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "line 1: [instance t] "
						  "greeting: only list keys"));
	const char *ini = "greeting = Good morning\n"
			  "names = Ann,\n"
			  "  Bob\n"
			  "mode = SLOW\n"
			  "ca_file = ca.pem\n"
			  "timeout = 250ms\n";
	ck_assert_msg(sb_testhost_config_ini(th, ini, &err) == SB_OK, "%s",
		      err.message);
	const struct tiny_conf *c = sb_testhost_config_data(th);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->greeting, "Good morning");
	ck_assert_ptr_nonnull(c->names);
	ck_assert_str_eq(c->names[0], "Ann");
	ck_assert_str_eq(c->names[1], "Bob");
	ck_assert_ptr_null(c->names[2]);
	ck_assert_int_eq(c->limit, 3);
	ck_assert_int_eq(c->mode, 1);
	ck_assert(c->tls.verify_tls);
	ck_assert_ptr_nonnull(c->tls.ca_file);
	ck_assert_int_eq(c->tls.ca_file[0], '/');
	ck_assert_ptr_nonnull(strstr(c->tls.ca_file, "/ca.pem"));
	ck_assert_int_eq(sb_testhost_open(th, &err), SB_OK);
	/* configuring an open instance is refused */
	ck_assert_int_eq(sb_testhost_config(th, plain, &err), SB_ERR_CONFLICT);
	/* timeout = 250ms became the call deadline */
	struct sb_call *call =
	    sb_testhost_call_new(th, "Greeting", "Wait", NULL, NULL, &err);
	ck_assert_ptr_nonnull(call);
	int64_t left = sb_call_deadline(call) - sb_now_ms();
	ck_assert_int_le(left, 250);
	ck_assert_int_gt(left, 150);
	sb_call_free(call);
	ck_assert_int_eq(sb_testhost_open(th, &err), SB_ERR_CONFLICT);
}
END_TEST

START_TEST(test_getter_misuse_fails_the_call)
{
	open_with(plain);
	const char *in[] = {"Name=Bo", "Misuse=true", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Greeting", "Say", in, NULL);
	ck_assert(r->ran);
	/* the handler answered SB_OK: the misuse wins */
	ck_assert_int_eq(r->status, SB_ERR_INTERNAL);
	ck_assert_int_eq(r->err.status, SB_ERR_INTERNAL);
	ck_assert_ptr_nonnull(strstr(r->err.message, "Name"));
	ck_assert_ptr_nonnull(strstr(r->err.message, "text"));
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_LOG_ERROR, "Greeting.Say"), 1);
	sb_testhost_run_free(r);
	/* a bad cell: the row builder's error fails the call */
	const char *bad[] = {"Name=bad-row", NULL};
	r = sb_testhost_run(th, "Greeting", "Say", bad, NULL);
	ck_assert(r->ran);
	ck_assert_int_eq(r->status, SB_ERR_INTERNAL);
	ck_assert_ptr_nonnull(strstr(r->err.message, "Nope"));
	sb_testhost_run_free(r);
	/* an error without a message gets one; retry_after only where it
	 * means something */
	const char *fail[] = {"Name=fail", NULL};
	r = sb_testhost_run(th, "Greeting", "Say", fail, NULL);
	ck_assert_int_eq(r->status, SB_ERR_UPSTREAM);
	ck_assert_str_eq(r->err.message, "t/Greeting.Say failed: "
					 "upstream_error");
	ck_assert_int_eq(r->err.retry_after_ms, 0);
	sb_testhost_run_free(r);
	const char *busy[] = {"Name=busy", NULL};
	r = sb_testhost_run(th, "Greeting", "Say", busy, NULL);
	ck_assert_int_eq(r->status, SB_ERR_THROTTLED);
	ck_assert_str_eq(r->err.code, "Slow");
	ck_assert_int_eq(r->err.retry_after_ms, 1500);
	sb_testhost_run_free(r);
}
END_TEST

START_TEST(test_result_helpers)
{
	open_with(plain);
	const char *in[] = {"Name=Eve", "Times=3",  "Loud=yes",
			    "Tags=a",	"Tags=b,c", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Greeting", "Say", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert(r->ran);
	ck_assert_uint_eq(sb_testhost_rows(r), 3);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Text"), "Hello, Eve!");
	int64_t n = 0;
	ck_assert(sb_testhost_int(r, 2, "Count", &n));
	ck_assert_int_eq(n, 3);
	bool loud = false;
	ck_assert(sb_testhost_bool(r, 1, "Loud", &loud));
	ck_assert(loud);
	ck_assert_uint_eq(sb_testhost_count(r, 0, "Tags"), 2);
	ck_assert(sb_testhost_has_text(r, 0, "Tags", "b,c"));
	ck_assert(!sb_testhost_has_text(r, 0, "Tags", "b"));
	ck_assert_ptr_null(sb_testhost_next_page(r));
	/* wrong type, absent cell, row past the end */
	ck_assert(!sb_testhost_int(r, 0, "Text", &n));
	ck_assert(!sb_testhost_bool(r, 0, "Count", &loud));
	ck_assert_ptr_null(sb_testhost_text(r, 0, "Count"));
	ck_assert_ptr_null(sb_testhost_cell(r, 0, "Nope"));
	ck_assert_ptr_null(sb_testhost_cell(r, 3, "Text"));
	ck_assert_ptr_null(sb_testhost_text(r, 3, "Text"));
	sb_testhost_run_free(r);

	/* a page: PageSize is a host input of list methods */
	const char *paged[] = {"Name=Eve", "Times=3", "PageSize=2", "Tags[]",
			       NULL};
	r = sb_testhost_run(th, "Greeting", "Say", paged, NULL);
	ck_assert_int_eq(r->status, SB_OK);
	ck_assert_uint_eq(sb_testhost_rows(r), 2);
	ck_assert_str_eq(sb_testhost_next_page(r), "more");
	ck_assert_str_eq(sb_testhost_text(r, 1, "Text"), "Hello, Eve.");
	const struct sb_value *tags = sb_testhost_cell(r, 0, "Tags");
	ck_assert_ptr_nonnull(tags);
	ck_assert_uint_eq(tags->count, 0);
	sb_testhost_run_free(r);

	/* refused before the handler: no rows, the problem named */
	static const struct {
		const char *obj, *meth, *arg;
		enum sb_status st;
		const char *says;
	} refused[] = {
	    {"Nothing", "Say", "Name=x", SB_ERR_NOT_FOUND, "Nothing"},
	    {"Greeting", "Shout", "Name=x", SB_ERR_NOT_FOUND, "Shout"},
	    {"Greeting", "Say", "Times=2", SB_ERR_INVALID_INPUT, "Name"},
	    {"Greeting", "Say", "Times=9", SB_ERR_INVALID_INPUT, "Times"},
	    {"Greeting", "Say", "Times=two", SB_ERR_INVALID_INPUT, "Times"},
	    {"Greeting", "Say", "Loud=perhaps", SB_ERR_INVALID_INPUT, "Loud"},
	    {"Greeting", "Say", "Colour=red", SB_ERR_INVALID_INPUT, "Colour"},
	    {"Greeting", "Say", "Name", SB_ERR_INVALID_INPUT, "Name=value"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *args[] = {refused[i].arg, NULL};
		r = sb_testhost_run(th, refused[i].obj, refused[i].meth, args,
				    NULL);
		ck_assert_msg(r->status == refused[i].st, "case %zu: %d %s", i,
			      r->status, r->err.message);
		ck_assert_int_eq(r->err.status, refused[i].st);
		ck_assert(!r->ran);
		ck_assert_ptr_null(r->result);
		ck_assert_uint_eq(sb_testhost_rows(r), 0);
		ck_assert_msg(strstr(r->err.message, refused[i].says),
			      "case %zu: %s", i, r->err.message);
		sb_testhost_run_free(r);
	}
	/* the broker's own refusal runs the handler */
	const char *many[] = {"Name=x", "Times=4", NULL};
	r = sb_testhost_run(th, "Greeting", "Say", many, NULL);
	ck_assert(r->ran);
	ck_assert_int_eq(r->status, SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(r->err.message, "Times: at most 3");
	sb_testhost_run_free(r);
	/* not open: unavailable */
	sb_testhost_close(th);
	const char *ok[] = {"Name=x", NULL};
	r = sb_testhost_run(th, "Greeting", "Say", ok, NULL);
	ck_assert_int_eq(r->status, SB_ERR_UNAVAILABLE);
	ck_assert(!r->ran);
	sb_testhost_run_free(r);
}
END_TEST

static void *cancel_soon(void *arg)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	sb_testhost_cancel(arg);
	return NULL;
}

START_TEST(test_deadline_and_cancel_seen_by_the_handler)
{
	open_with(plain);
	const struct tiny *t = sb_testhost_state(th);
	ck_assert_ptr_nonnull(t);
	/* the deadline passes: cancelled() turns true, remaining_ms <= 0 */
	sb_testhost_set_timeout(th, 200);
	int64_t t0 = sb_now_ms();
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Greeting", "Wait", NULL, NULL);
	int64_t took = sb_now_ms() - t0;
	ck_assert_int_eq(r->status, SB_ERR_TIMEOUT);
	ck_assert_int_le(t->left_at_start, 200);
	ck_assert_int_gt(t->left_at_start, 100);
	ck_assert_int_ge(took, 190);
	ck_assert_int_lt(took, 2000);
	ck_assert_ptr_nonnull(strstr(r->err.message, "abandoned"));
	sb_testhost_run_free(r);

	/* cancelled from another thread long before its deadline */
	sb_testhost_set_timeout(th, 30000);
	pthread_t tid;
	t0 = sb_now_ms();
	ck_assert_int_eq(pthread_create(&tid, NULL, cancel_soon, th), 0);
	r = sb_testhost_run(th, "Greeting", "Wait", NULL, NULL);
	took = sb_now_ms() - t0;
	pthread_join(tid, NULL);
	ck_assert_int_eq(r->status, SB_ERR_TIMEOUT);
	ck_assert_int_gt(t->left_at_start, 29000);
	ck_assert_int_lt(took, 2000);
	sb_testhost_run_free(r);

	/* a cancel with nothing running applies to the next call */
	sb_testhost_cancel(th);
	t0 = sb_now_ms();
	r = sb_testhost_run(th, "Greeting", "Wait", NULL, NULL);
	ck_assert_int_eq(r->status, SB_ERR_TIMEOUT);
	ck_assert_int_lt(sb_now_ms() - t0, 1000);
	sb_testhost_run_free(r);

	/* a call built by hand, cancelled before it runs */
	struct sb_error err;
	struct sb_call *c =
	    sb_testhost_call_new(th, "Greeting", "Wait", NULL, NULL, &err);
	ck_assert_ptr_nonnull(c);
	sb_call_cancel(c);
	r = sb_testhost_execute(th, c);
	ck_assert_int_eq(r->status, SB_ERR_TIMEOUT);
	sb_testhost_run_free(r);
	/* and one with no cancel runs until its own deadline */
	sb_call_cancel(c); /* already cancelled: stays so */
	ck_assert(sb_call_is_cancelled(c));
	sb_call_free(c);
	c = sb_testhost_call_new(th, "Greeting", "Wait", NULL, NULL, &err);
	sb_call_set_deadline(c, sb_now_ms() + 50);
	r = sb_testhost_execute(th, c);
	ck_assert_int_eq(r->status, SB_ERR_TIMEOUT);
	ck_assert_int_le(t->left_at_start, 50);
	sb_testhost_run_free(r);
	sb_call_free(c);
}
END_TEST

START_TEST(test_describe_and_test)
{
	static struct sb_broker dyn; /* outlives th (freed by teardown) */
	dyn = tiny_broker;
	dyn.describe = tiny_describe;
	dyn.test = tiny_test;
	struct sb_error err;
	/* tiny has no test(): said so */
	open_with(plain);
	ck_assert_int_eq(sb_testhost_test(th, &err), SB_ERR_INVALID_INPUT);
	ck_assert_ptr_null(sb_testhost_object(th, "Extra"));
	sb_testhost_free(th);

	th = sb_testhost_new(&dyn, "d", &err);
	ck_assert_ptr_nonnull(th);
	ck_assert_int_eq(sb_testhost_test(th, &err), SB_ERR_UNAVAILABLE);
	open_with(plain);
	ck_assert_int_eq(sb_testhost_test(th, &err), SB_OK);
	/* the described object runs like a static one */
	ck_assert_ptr_eq(sb_testhost_object(th, "Extra"), &extra_object);
	const char *in[] = {"Name=Dee", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Extra", "Say", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Text"), "Hello, Dee.");
	sb_testhost_run_free(r);
	/* after close it is gone */
	sb_testhost_close(th);
	ck_assert_ptr_null(sb_testhost_object(th, "Extra"));
	/* test() failing */
	const char *const down[] = {"greeting=down", NULL};
	open_with(down);
	ck_assert_int_eq(sb_testhost_test(th, &err), SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.message, "the greeter is down");
	sb_testhost_close(th);
	/* describe() failing: open fails and the instance is closed again */
	const char *const twice[] = {"greeting=twice", NULL};
	ck_assert_int_eq(sb_testhost_config(th, twice, &err), SB_OK);
	sb_testhost_log_clear(th);
	ck_assert_int_eq(sb_testhost_open(th, &err), SB_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(err.message, "describe:"));
	ck_assert_ptr_nonnull(strstr(err.message, "Greeting"));
	ck_assert(!sb_testhost_is_open(th));
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_INFO, "close"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("testhost");
	TCase *tc = tcase_create("testhost");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_descriptor_checked);
	tcase_add_test(tc, test_logs_recorded_with_levels);
	tcase_add_test(tc, test_config_errors_name_the_key);
	tcase_add_test(tc, test_validate_refusal);
	tcase_add_test(tc, test_getter_misuse_fails_the_call);
	tcase_add_test(tc, test_result_helpers);
	tcase_add_test(tc, test_deadline_and_cancel_seen_by_the_handler);
	tcase_add_test(tc, test_describe_and_test);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
