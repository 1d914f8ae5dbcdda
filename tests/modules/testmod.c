/* testmod: a broker that exercises every part of the module contract, for
 * the tests of the host (see tests/modules/README.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/pagetoken.h>
#include <svcbroker/sdk.h>

/* ---- configuration ----------------------------------------------------- */

enum testmod_describe {
	DESCRIBE_NORMAL = 0,
	DESCRIBE_NONE,
	DESCRIBE_INVALID,
	DESCRIBE_DUPLICATE,
	DESCRIBE_FAIL,
};

struct testmod_conf {
	char *label;
	char *token;
	int64_t list_total;
	bool open_fail;
	int64_t latency_ms;
	int64_t max_echo;
	int describe;
	char **tags;
	char *data_dir;
	char *url;
	char *validate_error;
	bool open_hang;
	char *open_fail_text;
	bool stuck;
};

static const char *const describe_choices[] = {"normal",    "none", "invalid",
					       "duplicate", "fail", NULL};
static const char *const url_schemes[] = {"http", "https", NULL};

static const struct sb_config_key testmod_config[] = {
    {.key = "label",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_REQUIRED,
     .doc = "A label that Instance.Info and Dynamic.Ping return.",
     .offset = offsetof(struct testmod_conf, label)},
    {.key = "token",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "A secret; test() rejects the value \"wrong\".",
     .offset = offsetof(struct testmod_conf, token)},
    {.key = "list_total",
     .type = SB_CONF_INT,
     .def = "25",
     .min = 0,
     .max = 100000,
     .doc = "How many rows Echo.List pages through by default.",
     .offset = offsetof(struct testmod_conf, list_total)},
    {.key = "open_fail",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Make open() fail, to test how the host reports it.",
     .offset = offsetof(struct testmod_conf, open_fail)},
    {.key = "latency",
     .type = SB_CONF_DURATION,
     .def = "0ms",
     .min = 0,
     .max = 60000,
     .doc = "Delay before every method runs.",
     .offset = offsetof(struct testmod_conf, latency_ms)},
    {.key = "max_echo",
     .type = SB_CONF_SIZE,
     .def = "1MiB",
     .min = 1,
     .max = 64 * 1024 * 1024,
     .doc = "Most input bytes Echo.Echo accepts.",
     .offset = offsetof(struct testmod_conf, max_echo)},
    {.key = "describe",
     .type = SB_CONF_ENUM,
     .def = "normal",
     .choices = describe_choices,
     .doc = "What describe() does: add the Dynamic object, nothing, an "
	    "invalid object, a duplicate object, or fail.",
     .offset = offsetof(struct testmod_conf, describe)},
    {.key = "tags",
     .type = SB_CONF_LIST,
     .doc = "Words that Instance.Info returns.",
     .offset = offsetof(struct testmod_conf, tags)},
    {.key = "data_dir",
     .type = SB_CONF_PATH,
     .doc = "A path that Instance.Info returns.",
     .offset = offsetof(struct testmod_conf, data_dir)},
    {.key = "url",
     .type = SB_CONF_URL,
     .schemes = url_schemes,
     .doc = "A URL that Instance.Info returns.",
     .offset = offsetof(struct testmod_conf, url)},
    {.key = "validate_error",
     .type = SB_CONF_STRING,
     .doc = "When set, validate() refuses the instance with this message "
	    "(to test how the host checks, starts and reloads).",
     .offset = offsetof(struct testmod_conf, validate_error)},
    {.key = "open_fail_text",
     .type = SB_CONF_STRING,
     .doc = "The message of open_fail's error; \\xNN gives byte NN (to "
	    "test text that is not UTF-8).",
     .offset = offsetof(struct testmod_conf, open_fail_text)},
    {.key = "open_hang",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Make open() never return, to test signals at start-up.",
     .offset = offsetof(struct testmod_conf, open_hang)},
    {.key = "stuck",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Make Echo.Sleep ignore its deadline and cancellation, as a "
	    "call to an upstream that never answers.",
     .offset = offsetof(struct testmod_conf, stuck)},
    SB_CONF_END,
};

/* ---- catalog tables ------------------------------------------------------ */

/* Method handlers (defined below). */
static enum sb_status h_echo(void *state, const struct sb_call *call,
			     struct sb_result *r, struct sb_error *err);
static enum sb_status h_list(void *state, const struct sb_call *call,
			     struct sb_result *r, struct sb_error *err);
static enum sb_status h_fail(void *state, const struct sb_call *call,
			     struct sb_result *r, struct sb_error *err);
static enum sb_status h_sleep(void *state, const struct sb_call *call,
			      struct sb_result *r, struct sb_error *err);
static enum sb_status h_info(void *state, const struct sb_call *call,
			     struct sb_result *r, struct sb_error *err);
static enum sb_status h_ping(void *state, const struct sb_call *call,
			     struct sb_result *r, struct sb_error *err);
static enum sb_status h_request_id(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err);

static const char *const abc_choices[] = {"Alpha", "Beta", "Gamma", NULL};

#define ECHO_INPUT(n, t, fl, ch, d)                                            \
	{                                                                      \
		.name = n, .type = t, .flags = fl, .choices = ch, .doc = d     \
	}

static const struct sb_property echo_properties[] = {
    {.name = "Text", .type = SB_TYPE_TEXT, .doc = "One line of text."},
    {.name = "Short", .type = SB_TYPE_TEXT, .doc = "At most 16 bytes."},
    {.name = "Memo", .type = SB_TYPE_MEMO, .doc = "Multi-line text."},
    {.name = "Number", .type = SB_TYPE_NUMBER, .doc = "An integer."},
    {.name = "Decimal", .type = SB_TYPE_DECIMAL, .doc = "An exact decimal."},
    {.name = "Boolean", .type = SB_TYPE_BOOLEAN, .doc = "True or false."},
    {.name = "DateTime", .type = SB_TYPE_DATETIME, .doc = "A moment."},
    {.name = "Date", .type = SB_TYPE_DATE, .doc = "A day."},
    {.name = "Time", .type = SB_TYPE_TIME, .doc = "A time of day."},
    {.name = "Duration", .type = SB_TYPE_DURATION, .doc = "A duration."},
    {.name = "Guid", .type = SB_TYPE_GUID, .doc = "A GUID."},
    {.name = "Email", .type = SB_TYPE_EMAIL, .doc = "An address."},
    {.name = "Choice",
     .type = SB_TYPE_ENUM,
     .choices = abc_choices,
     .doc = "One of Alpha, Beta, Gamma."},
    {.name = "File", .type = SB_TYPE_FILE, .doc = "A file."},
    {.name = "Texts",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "Lines of text."},
    {.name = "Numbers",
     .type = SB_TYPE_NUMBER,
     .flags = SB_MULTI,
     .doc = "Integers."},
    {.name = "Booleans",
     .type = SB_TYPE_BOOLEAN,
     .flags = SB_MULTI,
     .doc = "Truth values."},
    {.name = "Choices",
     .type = SB_TYPE_ENUM,
     .flags = SB_MULTI,
     .choices = abc_choices,
     .doc = "Several of Alpha, Beta, Gamma."},
    {.name = "Emails",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI,
     .doc = "Addresses."},
    {.name = "Files", .type = SB_TYPE_FILE, .flags = SB_MULTI, .doc = "Files."},
    {.name = "Index",
     .type = SB_TYPE_NUMBER,
     .doc = "Position of a listed row, from 0."},
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "Name of a listed row."},
    {.name = "Slept",
     .type = SB_TYPE_NUMBER,
     .doc = "Milliseconds Echo.Sleep slept."},
    SB_PROPERTY_END,
};

/* Echo.Echo's inputs: every property from Text to Files.  Kept in the same
 * order as echo_properties; ECHO_N_TYPED counts them. */
#define ECHO_N_TYPED 20
static const struct sb_param echo_inputs[] = {
    ECHO_INPUT("Text", SB_TYPE_TEXT, 0, NULL, "Echoed back."),
    {.name = "Short",
     .type = SB_TYPE_TEXT,
     .max_size = 16,
     .doc = "Echoed back; at most 16 bytes."},
    ECHO_INPUT("Memo", SB_TYPE_MEMO, 0, NULL, "Echoed back."),
    ECHO_INPUT("Number", SB_TYPE_NUMBER, 0, NULL, "Echoed back."),
    ECHO_INPUT("Decimal", SB_TYPE_DECIMAL, 0, NULL, "Echoed back."),
    ECHO_INPUT("Boolean", SB_TYPE_BOOLEAN, 0, NULL, "Echoed back."),
    ECHO_INPUT("DateTime", SB_TYPE_DATETIME, 0, NULL, "Echoed back."),
    ECHO_INPUT("Date", SB_TYPE_DATE, 0, NULL, "Echoed back."),
    ECHO_INPUT("Time", SB_TYPE_TIME, 0, NULL, "Echoed back."),
    ECHO_INPUT("Duration", SB_TYPE_DURATION, 0, NULL, "Echoed back."),
    ECHO_INPUT("Guid", SB_TYPE_GUID, 0, NULL, "Echoed back."),
    ECHO_INPUT("Email", SB_TYPE_EMAIL, 0, NULL, "Echoed back."),
    ECHO_INPUT("Choice", SB_TYPE_ENUM, 0, abc_choices, "Echoed back."),
    ECHO_INPUT("File", SB_TYPE_FILE, 0, NULL, "Echoed back."),
    ECHO_INPUT("Texts", SB_TYPE_TEXT, SB_MULTI, NULL, "Echoed back."),
    ECHO_INPUT("Numbers", SB_TYPE_NUMBER, SB_MULTI, NULL, "Echoed back."),
    ECHO_INPUT("Booleans", SB_TYPE_BOOLEAN, SB_MULTI, NULL, "Echoed back."),
    ECHO_INPUT("Choices", SB_TYPE_ENUM, SB_MULTI, abc_choices, "Echoed back."),
    ECHO_INPUT("Emails", SB_TYPE_EMAIL, SB_MULTI, NULL, "Echoed back."),
    ECHO_INPUT("Files", SB_TYPE_FILE, SB_MULTI, NULL, "Echoed back."),
    SB_PARAM_END,
};
static const char *const echo_returns[] = {
    "Text",  "Short",	"Memo",	    "Number",  "Decimal", "Boolean", "DateTime",
    "Date",  "Time",	"Duration", "Guid",    "Email",	  "Choice",  "File",
    "Texts", "Numbers", "Booleans", "Choices", "Emails",  "Files",   NULL};

static const struct sb_param list_inputs[] = {
    {.name = "Total",
     .type = SB_TYPE_NUMBER,
     .doc = "How many rows exist in all (default: the list_total key)."},
    SB_PARAM_END,
};
static const char *const list_returns[] = {"Index", "Name", NULL};

/* Every error category, as sb_status_str names it. */
static const char *const fail_choices[] = {"invalid_input",
					   "unauthenticated",
					   "forbidden",
					   "upstream_denied",
					   "not_found",
					   "method_not_allowed",
					   "conflict",
					   "payload_too_large",
					   "unsupported_media_type",
					   "throttled",
					   "internal",
					   "upstream_auth",
					   "upstream_error",
					   "unavailable",
					   "timeout",
					   "quota_exceeded",
					   NULL};
static const struct sb_param fail_inputs[] = {
    {.name = "Status",
     .type = SB_TYPE_ENUM,
     .flags = SB_REQUIRED,
     .choices = fail_choices,
     .doc = "The error category to answer with."},
    {.name = "Code", .type = SB_TYPE_TEXT, .doc = "The error code."},
    {.name = "Message", .type = SB_TYPE_TEXT, .doc = "The error message."},
    {.name = "RetryAfterMs",
     .type = SB_TYPE_NUMBER,
     .doc = "Milliseconds the client should wait before retrying."},
    SB_PARAM_END,
};

static const struct sb_param sleep_inputs[] = {
    {.name = "Ms",
     .type = SB_TYPE_NUMBER,
     .flags = SB_REQUIRED,
     .min = 0,
     .max = 600000,
     .doc = "Milliseconds to sleep, 0..600000."},
    SB_PARAM_END,
};
static const char *const sleep_returns[] = {"Slept", NULL};

static const struct sb_method echo_methods[] = {
    {.name = "Echo",
     .kind = SB_KIND_EXECUTE,
     .handler = h_echo,
     .doc = "Return one row carrying every input given.",
     .inputs = echo_inputs,
     .returns = echo_returns},
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = h_list,
     .doc = "Page through Total numbered rows.",
     .inputs = list_inputs,
     .returns = list_returns},
    {.name = "Fail",
     .kind = SB_KIND_EXECUTE,
     .handler = h_fail,
     .doc = "Fail with the status, code and message given.",
     .inputs = fail_inputs},
    {.name = "Sleep",
     .kind = SB_KIND_EXECUTE,
     .handler = h_sleep,
     .doc = "Sleep, honouring the deadline and cancellation.",
     .inputs = sleep_inputs,
     .returns = sleep_returns},
    SB_METHOD_END,
};

static const struct sb_property instance_properties[] = {
    {.name = "Label", .type = SB_TYPE_TEXT, .doc = "The label key."},
    {.name = "HasToken",
     .type = SB_TYPE_BOOLEAN,
     .doc = "Whether the token key is set."},
    {.name = "ListTotal", .type = SB_TYPE_NUMBER, .doc = "The list_total key."},
    {.name = "Latency",
     .type = SB_TYPE_NUMBER,
     .doc = "The latency key, in milliseconds."},
    {.name = "MaxEcho",
     .type = SB_TYPE_NUMBER,
     .doc = "The max_echo key, in bytes."},
    {.name = "Describe",
     .type = SB_TYPE_ENUM,
     .choices = describe_choices,
     .doc = "The describe key."},
    {.name = "Tags",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "The tags key."},
    {.name = "DataDir", .type = SB_TYPE_TEXT, .doc = "The data_dir key."},
    {.name = "Url", .type = SB_TYPE_TEXT, .doc = "The url key."},
    {.name = "StateDir",
     .type = SB_TYPE_TEXT,
     .doc = "The state directory the host lent."},
    {.name = "Opens",
     .type = SB_TYPE_NUMBER,
     .doc = "Successful open() calls of testmod in this process."},
    {.name = "Closes",
     .type = SB_TYPE_NUMBER,
     .doc = "close() calls of testmod in this process."},
    {.name = "RequestId",
     .type = SB_TYPE_TEXT,
     .doc = "The request id of the call (sb_call_request_id)."},
    SB_PROPERTY_END,
};
static const char *const info_returns[] = {
    "Label",	"HasToken", "ListTotal", "Latency", "MaxEcho",
    "Describe", "Tags",	    "DataDir",	 "Url",	    "StateDir",
    "Opens",	"Closes",   NULL};
static const char *const request_id_returns[] = {"RequestId", NULL};
static const struct sb_method instance_methods[] = {
    {.name = "Info",
     .kind = SB_KIND_READ,
     .handler = h_info,
     .doc = "This instance's configuration and lifecycle counters.",
     .returns = info_returns},
    {.name = "RequestId",
     .kind = SB_KIND_EXECUTE,
     .handler = h_request_id,
     .doc = "The call's request id, also logged at info.",
     .returns = request_id_returns},
    SB_METHOD_END,
};

static const struct sb_object testmod_objects[] = {
    {.name = "Echo",
     .doc = "Typed round trips, paging, failures and sleeping.",
     .properties = echo_properties,
     .methods = echo_methods},
    {.name = "Instance",
     .doc = "The instance itself.",
     .properties = instance_properties,
     .methods = instance_methods},
    SB_OBJECT_END,
};

/* Objects added at describe time. */
static const struct sb_property dynamic_properties[] = {
    {.name = "Pong", .type = SB_TYPE_TEXT, .doc = "The answer to a ping."},
    SB_PROPERTY_END,
};
static const char *const ping_returns[] = {"Pong", NULL};
static const struct sb_method dynamic_methods[] = {
    {.name = "Ping",
     .kind = SB_KIND_EXECUTE,
     .handler = h_ping,
     .doc = "Answer with the instance's label.",
     .returns = ping_returns},
    SB_METHOD_END,
};
static const struct sb_object dynamic_object = {
    .name = "Dynamic",
    .doc = "An object added at describe time.",
    .properties = dynamic_properties,
    .methods = dynamic_methods,
};
/* describe = invalid: a method without a doc. */
static const struct sb_method undocumented_methods[] = {
    {.name = "Ping", .kind = SB_KIND_EXECUTE, .handler = h_ping},
    SB_METHOD_END,
};
static const struct sb_object invalid_object = {
    .name = "Broken",
    .doc = "An object with an undocumented method.",
    .properties = dynamic_properties,
    .methods = undocumented_methods,
};
/* describe = duplicate: a second Echo. */
static const struct sb_object duplicate_object = {
    .name = "Echo",
    .doc = "A second object named Echo.",
    .properties = dynamic_properties,
    .methods = dynamic_methods,
};

/* ---- state --------------------------------------------------------------- */

static atomic_llong testmod_opens, testmod_closes;

struct testmod {
	const struct sb_host *host;
	const struct testmod_conf *conf;
	char *lifecycle; /* <state_dir>/lifecycle.log, or NULL */
};

static void lifecycle_note(const char *path, const char *what)
{
	if (!path)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	size_t len = strlen(what);
	ssize_t n = write(fd, what, len);
	(void)n;
	close(fd);
}

static enum sb_status testmod_open(const struct sb_host *host,
				   const void *config, void **state,
				   struct sb_error *err)
{
	const struct testmod_conf *conf = config;
	if (conf->open_fail && conf->open_fail_text) {
		/* \xNN escapes become raw bytes */
		char msg[256];
		size_t o = 0;
		for (const char *p = conf->open_fail_text;
		     *p && o < sizeof(msg) - 1; p++) {
			unsigned v;
			if (p[0] == '\\' && p[1] == 'x' &&
			    sscanf(p + 2, "%2x", &v) == 1 && v > 0) {
				msg[o++] = (char)v;
				p += 3;
			} else {
				msg[o++] = *p;
			}
		}
		msg[o] = '\0';
		return sb_error_set(err, SB_ERR_UPSTREAM, "OpenFailed", "%s",
				    msg);
	}
	if (conf->open_fail)
		return sb_error_set(err, SB_ERR_UPSTREAM, "OpenFailed",
				    "open_fail is set");
	if (conf->open_hang) {
		host->log(host, SB_LOG_INFO, "open_hang: open() never returns");
		for (;;)
			sleep(1);
	}
	struct testmod *t = calloc(1, sizeof(*t));
	if (!t)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	t->host = host;
	t->conf = conf;
	if (host->state_dir) {
		size_t len = strlen(host->state_dir) + sizeof("/lifecycle.log");
		t->lifecycle = malloc(len);
		if (!t->lifecycle) {
			free(t);
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		}
		snprintf(t->lifecycle, len, "%s/lifecycle.log",
			 host->state_dir);
	}
	lifecycle_note(t->lifecycle, "open\n");
	atomic_fetch_add(&testmod_opens, 1);
	host->log(host, SB_LOG_DEBUG, "opened (label %s)", conf->label);
	*state = t;
	return SB_OK;
}

static void testmod_close(void *state)
{
	struct testmod *t = state;
	if (!t)
		return;
	lifecycle_note(t->lifecycle, "close\n");
	atomic_fetch_add(&testmod_closes, 1);
	free(t->lifecycle);
	free(t);
}

static enum sb_status testmod_describe(void *state, struct sb_describe *b,
				       struct sb_error *err)
{
	struct testmod *t = state;
	switch ((enum testmod_describe)t->conf->describe) {
	case DESCRIBE_NORMAL:
		return sb_describe_add(b, &dynamic_object, err);
	case DESCRIBE_NONE:
		return SB_OK;
	case DESCRIBE_INVALID:
		return sb_describe_add(b, &invalid_object, err);
	case DESCRIBE_DUPLICATE:
		return sb_describe_add(b, &duplicate_object, err);
	case DESCRIBE_FAIL:
		break;
	}
	return sb_error_set(err, SB_ERR_UPSTREAM, "DescribeFailed",
			    "describe = fail is set");
}

static enum sb_status testmod_test(void *state, struct sb_error *err)
{
	struct testmod *t = state;
	if (t->conf->token && strcmp(t->conf->token, "wrong") == 0)
		return sb_error_set(err, SB_ERR_UPSTREAM_AUTH, "TokenRejected",
				    "the token was rejected");
	return SB_OK;
}

/* Sleep ms in slices of at most 10 ms; SB_ERR_TIMEOUT once the call is
 * cancelled or its deadline passes.  *slept gets the time spent. */
static enum sb_status nap(struct testmod *t, const struct sb_call *call,
			  int64_t ms, int64_t *slept, struct sb_error *err)
{
	const struct sb_host *h = t->host;
	int64_t start = sb_now_ms();
	for (;;) {
		if (h->cancelled(h, call))
			return sb_error_set(err, SB_ERR_TIMEOUT, "Cancelled",
					    "the call was cancelled");
		if (h->remaining_ms(h, call) <= 0)
			return sb_error_set(err, SB_ERR_TIMEOUT,
					    "DeadlineExceeded",
					    "the call's deadline passed");
		int64_t done = sb_now_ms() - start;
		if (done >= ms) {
			if (slept)
				*slept = done;
			return SB_OK;
		}
		int64_t slice = ms - done < 10 ? ms - done : 10;
		struct timespec ts = {.tv_sec = 0,
				      .tv_nsec = (long)slice * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

static size_t value_bytes(const struct sb_value *v)
{
	size_t n = 0;
	for (size_t i = 0; i < v->count; i++) {
		if (v->type == SB_TYPE_FILE)
			n += v->items[i].f.size;
		else if (v->type == SB_TYPE_NUMBER)
			n += sizeof(int64_t);
		else if (v->type == SB_TYPE_BOOLEAN)
			n += 1;
		else
			n += strlen(v->items[i].s);
	}
	return n;
}

static enum sb_status echo_cell(struct sb_result *r, const char *name,
				const struct sb_value *v)
{
	enum sb_status st = SB_OK;
	if (v->multi && v->count == 0)
		return sb_result_empty(r, name);
	for (size_t i = 0; i < v->count && st == SB_OK; i++) {
		const union sb_datum *d = &v->items[i];
		switch (v->type) {
		case SB_TYPE_NUMBER:
			st = sb_result_int(r, name, d->i);
			break;
		case SB_TYPE_BOOLEAN:
			st = sb_result_bool(r, name, d->b);
			break;
		case SB_TYPE_FILE:
			st = sb_result_file(r, name, &d->f);
			break;
		default:
			st = sb_result_str(r, name, d->s);
			break;
		}
	}
	return st;
}

static enum sb_status do_echo(struct testmod *t, const struct sb_call *call,
			      struct sb_result *r, struct sb_error *err)
{
	size_t total = 0;
	for (size_t i = 0; i < ECHO_N_TYPED; i++) {
		const struct sb_value *v =
		    sb_call_input(call, echo_inputs[i].name);
		if (v)
			total += value_bytes(v);
	}
	if (total > (uint64_t)t->conf->max_echo)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
				    "EchoTooLarge",
				    "%zu input bytes, max_echo is %" PRId64,
				    total, t->conf->max_echo);
	enum sb_status st = sb_result_row(r);
	for (size_t i = 0; i < ECHO_N_TYPED && st == SB_OK; i++) {
		const char *name = echo_inputs[i].name;
		const struct sb_value *v = sb_call_input(call, name);
		if (v)
			st = echo_cell(r, name, v);
	}
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "could not build the row");
	return SB_OK;
}

/* Page tokens are the SDK's (<svcbroker/pagetoken.h>), bound to the
 * method and Total, holding the offset of the next row in decimal; any
 * other token is refused with ErrorInvalidPageToken, as mapi-stub does. */
static enum sb_status read_token(const char *tok, int64_t total, int64_t *off,
				 struct sb_error *err)
{
	char tot[24];
	snprintf(tot, sizeof(tot), "%" PRId64, total);
	const char *bind[] = {"Echo.List", tot};
	struct sb_buf pos;
	sb_buf_init(&pos, 64);
	enum sb_status st = sb_page_token_read(tok, bind, 2, &pos, err);
	if (st == SB_OK) {
		char *end;
		errno = 0;
		long long v = strtoll(pos.data, &end, 10);
		if (errno || *end || end == pos.data || v < 0 || v > total)
			st = sb_error_set(err, SB_ERR_INVALID_INPUT,
					  SB_PAGE_TOKEN_CODE,
					  "PageToken: no offset in it");
		*off = v;
	}
	sb_buf_free(&pos);
	return st;
}

static char *make_token(int64_t total, int64_t off)
{
	char tot[24], pos[24];
	snprintf(tot, sizeof(tot), "%" PRId64, total);
	snprintf(pos, sizeof(pos), "%" PRId64, off);
	const char *bind[] = {"Echo.List", tot};
	return sb_page_token_new(bind, 2, pos, strlen(pos));
}

static enum sb_status do_list(struct testmod *t, const struct sb_call *call,
			      struct sb_result *r, struct sb_error *err)
{
	int64_t total = t->conf->list_total;
	if (sb_call_int(call, "Total", &total) && (total < 0 || total > 100000))
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT, "BadTotal",
		    "Total: %" PRId64 " is out of range 0..100000", total);
	int64_t off = 0;
	const char *tok = sb_call_page_token(call);
	if (tok) {
		enum sb_status st = read_token(tok, total, &off, err);
		if (st != SB_OK)
			return st;
	}
	int64_t size = sb_call_page_size(call);
	if (size < 1)
		size = 1;
	int64_t end = total - off < size ? total : off + size;
	enum sb_status st = SB_OK;
	char name[32];
	for (int64_t i = off; i < end && st == SB_OK; i++) {
		snprintf(name, sizeof(name), "item-%" PRId64, i);
		st = sb_result_row(r);
		if (st == SB_OK)
			st = sb_result_int(r, "Index", i);
		if (st == SB_OK)
			st = sb_result_str(r, "Name", name);
	}
	if (st == SB_OK && end < total) {
		char *next = make_token(total, end);
		if (!next)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "cannot make a page token");
		st = sb_result_next_page(r, next);
		free(next);
	}
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "could not build the rows");
	return SB_OK;
}

static enum sb_status do_fail(const struct sb_call *call, struct sb_error *err)
{
	const char *want = sb_call_str(call, "Status", "internal");
	enum sb_status st = SB_ERR_INTERNAL;
	for (int s = SB_ERR_INVALID_INPUT; s < SB_STATUS_COUNT_; s++)
		if (strcmp(sb_status_str((enum sb_status)s), want) == 0) {
			st = (enum sb_status)s;
			break;
		}
	const char *code = sb_call_str(call, "Code", "TestFailure");
	const char *msg = sb_call_str(call, "Message", NULL);
	if (msg)
		sb_error_set(err, st, code, "%s", msg);
	else
		sb_error_set(err, st, code, "requested failure: %s", want);
	int64_t retry;
	if (err && sb_call_int(call, "RetryAfterMs", &retry) && retry > 0)
		err->retry_after_ms = retry;
	return st;
}

static enum sb_status do_sleep(struct testmod *t, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	int64_t ms = -1;
	if (!sb_call_int(call, "Ms", &ms) || ms < 0 || ms > 600000)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, "BadMs",
				    "Ms: must be 0..600000");
	int64_t slept = 0;
	if (t->conf->stuck) {
		/* an upstream that never answers: no deadline, no cancel */
		struct timespec ts = {.tv_sec = ms / 1000,
				      .tv_nsec = (ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		slept = ms;
	}
	enum sb_status st =
	    t->conf->stuck ? SB_OK : nap(t, call, ms, &slept, err);
	if (st != SB_OK)
		return st;
	st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_int(r, "Slept", slept);
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "could not build the row");
	return SB_OK;
}

static enum sb_status do_info(struct testmod *t, struct sb_result *r,
			      struct sb_error *err)
{
	const struct testmod_conf *c = t->conf;
	enum sb_status st = sb_result_row(r);
#define STEP(x)                                                                \
	do {                                                                   \
		if (st == SB_OK)                                               \
			st = (x);                                              \
	} while (0)
	STEP(sb_result_str(r, "Label", c->label));
	STEP(sb_result_bool(r, "HasToken", c->token != NULL));
	STEP(sb_result_int(r, "ListTotal", c->list_total));
	STEP(sb_result_int(r, "Latency", c->latency_ms));
	STEP(sb_result_int(r, "MaxEcho", c->max_echo));
	STEP(sb_result_str(r, "Describe", describe_choices[c->describe]));
	if (c->tags) {
		if (!c->tags[0])
			STEP(sb_result_empty(r, "Tags"));
		for (size_t i = 0; c->tags[i]; i++)
			STEP(sb_result_str(r, "Tags", c->tags[i]));
	}
	STEP(sb_result_str(r, "DataDir", c->data_dir));
	STEP(sb_result_str(r, "Url", c->url));
	STEP(sb_result_str(r, "StateDir", t->host->state_dir));
	STEP(sb_result_int(r, "Opens", atomic_load(&testmod_opens)));
	STEP(sb_result_int(r, "Closes", atomic_load(&testmod_closes)));
#undef STEP
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "could not build the row");
	return SB_OK;
}

static enum sb_status do_ping(struct testmod *t, struct sb_result *r,
			      struct sb_error *err)
{
	char pong[256];
	snprintf(pong, sizeof(pong), "pong from %s", t->conf->label);
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_str(r, "Pong", pong);
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "could not build the row");
	return SB_OK;
}

/* Every method first waits the configured latency. */
static enum sb_status pre(struct testmod *t, const struct sb_call *call,
			  struct sb_error *err)
{
	if (t->conf->latency_ms > 0)
		return nap(t, call, t->conf->latency_ms, NULL, err);
	return SB_OK;
}

#define TESTMOD_HANDLER(name, expr)                                            \
	static enum sb_status name(void *state, const struct sb_call *call,    \
				   struct sb_result *r, struct sb_error *err)  \
	{                                                                      \
		struct testmod *t = state;                                     \
		(void)r;                                                       \
		enum sb_status st = pre(t, call, err);                         \
		return st != SB_OK ? st : (expr);                              \
	}
TESTMOD_HANDLER(h_echo, do_echo(t, call, r, err))
TESTMOD_HANDLER(h_list, do_list(t, call, r, err))
TESTMOD_HANDLER(h_fail, do_fail(call, err))
TESTMOD_HANDLER(h_sleep, do_sleep(t, call, r, err))
TESTMOD_HANDLER(h_info, do_info(t, r, err))
TESTMOD_HANDLER(h_ping, do_ping(t, r, err))

static enum sb_status do_request_id(struct testmod *t,
				    const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	const char *rid = sb_call_request_id(call);
	t->host->log(t->host, SB_LOG_INFO, "asked for the request id");
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK && rid)
		st = sb_result_str(r, "RequestId", rid);
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "could not build the row");
	return SB_OK;
}
TESTMOD_HANDLER(h_request_id, do_request_id(t, call, r, err))

static enum sb_status testmod_validate(const void *config, struct sb_error *err)
{
	const struct testmod_conf *c = config;
	if (c->validate_error)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "validate_error: %s", c->validate_error);
	return SB_OK;
}

SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "testmod",
    .version = "1.0",
    .summary = "Exercises every part of the module contract (tests only).",
    .config = testmod_config,
    .config_size = sizeof(struct testmod_conf),
    .objects = testmod_objects,
    .open = testmod_open,
    .describe = testmod_describe,
    .validate = testmod_validate,
    .test = testmod_test,
    .close = testmod_close,
};
