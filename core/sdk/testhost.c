/* The test host: one broker instance driven the way the daemon drives it,
 * for a broker's unit tests (see <svcbroker/testhost.h>).  Everything here
 * uses only the SDK's public functions, so a test exercises the same call
 * and result code the daemon runs. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/conf.h>
#include <svcbroker/invoke.h>
#include <svcbroker/sdk.h>
#include <svcbroker/testhost.h>

#define DEFAULT_TIMEOUT_MS 30000
/* No call (open/describe/test), or a call without a deadline: a day (as the
 * daemon). */
#define NO_DEADLINE_MS (24 * 3600 * 1000LL)
#define LOG_LINE_MAX 2048
#define INPUT_NAME_MAX 128

struct log_line {
	enum sb_log_level level;
	char *text;
};

struct running {
	struct sb_call *call;
	struct running *next;
};

struct sb_testhost {
	struct sb_host host; /* first: the broker gets &host */
	const struct sb_broker *b;
	char *instance;
	char *state_dir;
	int64_t timeout_ms;

	void *conf;	 /* bound configuration, or NULL */
	bool conf_tried; /* a configuration was given (maybe refused) */
	char **problems;
	size_t n_problems;

	void *state;
	bool open;
	const struct sb_object **dyn; /* objects added by describe() */
	size_t n_dyn, cap_dyn;

	pthread_mutex_t mu; /* log, running, cancel_next */
	struct log_line *lines;
	size_t n_lines, cap_lines;
	bool echo;
	struct running *running;
	bool cancel_next;
	pthread_mutex_t serial; /* for SB_BROKER_SERIAL */
};

static struct sb_testhost *of_host(const struct sb_host *h)
{
	return (struct sb_testhost *)h; /* host is the first member */
}

/* ---- the mock host ----------------------------------------------------- */

static const char *level_name(enum sb_log_level l)
{
	switch (l) {
	case SB_LOG_ERROR:
		return "error";
	case SB_LOG_WARN:
		return "warn";
	case SB_LOG_INFO:
		return "info";
	case SB_LOG_DEBUG:
		return "debug";
	}
	return "debug";
}

static void th_log(const struct sb_host *host, enum sb_log_level level,
		   const char *fmt, ...) SB_PRINTF(3, 4);
static void th_log(const struct sb_host *host, enum sb_log_level level,
		   const char *fmt, ...)
{
	if (!host || !fmt)
		return;
	struct sb_testhost *th = of_host(host);
	char buf[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((unsigned)level > SB_LOG_DEBUG)
		level = SB_LOG_DEBUG;
	char *copy = strdup(buf);
	pthread_mutex_lock(&th->mu);
	if (copy && th->n_lines == th->cap_lines) {
		size_t nc = th->cap_lines ? th->cap_lines * 2 : 16;
		struct log_line *nl = realloc(th->lines, nc * sizeof(*nl));
		if (nl) {
			th->lines = nl;
			th->cap_lines = nc;
		}
	}
	if (copy && th->n_lines < th->cap_lines) {
		th->lines[th->n_lines++] = (struct log_line){level, copy};
		copy = NULL;
	}
	if (th->echo)
		fprintf(stderr, "[%s:%s] %s: %s\n", th->host.broker,
			th->host.instance, level_name(level), buf);
	pthread_mutex_unlock(&th->mu);
	free(copy); /* out of memory: the line is lost */
}

static bool has_deadline(int64_t d) { return d > 0 && d != INT64_MAX; }

static int64_t th_remaining_ms(const struct sb_host *host,
			       const struct sb_call *call)
{
	(void)host;
	if (!call)
		return NO_DEADLINE_MS;
	int64_t deadline = sb_call_deadline(call);
	if (!has_deadline(deadline))
		return NO_DEADLINE_MS;
	int64_t left = deadline - sb_now_ms();
	return left > NO_DEADLINE_MS ? NO_DEADLINE_MS : left;
}

static bool th_cancelled(const struct sb_host *host, const struct sb_call *call)
{
	(void)host;
	if (!call)
		return false;
	if (sb_call_is_cancelled(call))
		return true;
	int64_t deadline = sb_call_deadline(call);
	return has_deadline(deadline) && sb_now_ms() >= deadline;
}

/* ---- life ---------------------------------------------------------------- */

struct sb_testhost *sb_testhost_new(const struct sb_broker *b,
				    const char *instance, struct sb_error *err)
{
	sb_error_clear(err);
	if (!b) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "no broker descriptor");
		return NULL;
	}
	if (b->magic != SB_BROKER_MAGIC) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "not a broker descriptor (bad magic 0x%08x)",
			     (unsigned)b->magic);
		return NULL;
	}
	if (b->abi_major != SB_ABI_MAJOR) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "broker built for contract %u.%u, this SDK is "
			     "%d.%d: rebuild it against these headers",
			     (unsigned)b->abi_major, (unsigned)b->abi_minor,
			     SB_ABI_MAJOR, SB_ABI_MINOR);
		return NULL;
	}
	char why[SB_ERROR_MSG_MAX - 64];
	if (!sb_broker_check(b, why, sizeof(why))) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "broker refused: %s", why);
		return NULL;
	}
	struct sb_testhost *th = calloc(1, sizeof(*th));
	if (!th || !(th->instance = strdup(instance ? instance : "test"))) {
		free(th);
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	th->b = b;
	th->timeout_ms = DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&th->mu, NULL);
	pthread_mutex_init(&th->serial, NULL);
	const char *echo = getenv("SB_TESTHOST_LOG");
	th->echo = echo && *echo;
	th->host.struct_size = sizeof(struct sb_host);
	th->host.instance = th->instance;
	th->host.broker = b->name;
	th->host.log = th_log;
	th->host.remaining_ms = th_remaining_ms;
	th->host.cancelled = th_cancelled;
	return th;
}

static void problems_clear(struct sb_testhost *th)
{
	for (size_t i = 0; i < th->n_problems; i++)
		free(th->problems[i]);
	free(th->problems);
	th->problems = NULL;
	th->n_problems = 0;
}

static void conf_release(struct sb_testhost *th)
{
	if (!th->conf)
		return;
	sb_conf_release(th->b->config, th->conf, th->b->config_size);
	free(th->conf);
	th->conf = NULL;
}

void sb_testhost_free(struct sb_testhost *th)
{
	if (!th)
		return;
	sb_testhost_close(th);
	conf_release(th);
	problems_clear(th);
	sb_testhost_log_clear(th);
	free(th->lines);
	free(th->dyn);
	free(th->state_dir);
	free(th->instance);
	pthread_mutex_destroy(&th->mu);
	pthread_mutex_destroy(&th->serial);
	free(th);
}

const struct sb_host *sb_testhost_host(const struct sb_testhost *th)
{
	return th ? &th->host : NULL;
}

enum sb_status sb_testhost_set_state_dir(struct sb_testhost *th,
					 const char *dir, struct sb_error *err)
{
	if (th->open)
		return sb_error_set(err, SB_ERR_CONFLICT, NULL,
				    "state_dir: the instance is open; close "
				    "it first");
	char *copy = NULL;
	if (dir && !(copy = strdup(dir)))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	free(th->state_dir);
	th->state_dir = copy;
	th->host.state_dir = copy;
	return SB_OK;
}

void sb_testhost_set_timeout(struct sb_testhost *th, int64_t ms)
{
	th->timeout_ms = ms;
}

/* ---- configuration ------------------------------------------------------- */

struct binding {
	struct sb_testhost *th;
	bool ini; /* messages name the line */
};

static void add_problem(struct sb_testhost *th, const char *msg)
{
	char *copy = strdup(msg);
	char **np = realloc(th->problems, (th->n_problems + 1) * sizeof(*np));
	if (!copy || !np) {
		free(copy);
		if (np)
			th->problems = np;
		return;
	}
	th->problems = np;
	th->problems[th->n_problems++] = copy;
}

/* sb_conf_bind's "FILE:LINE: LABEL KEY: what" with no file ("?"): the
 * line for INI text, nothing for key=value strings. */
static void report(void *ctx, const char *message)
{
	struct binding *B = ctx;
	const char *rest = message;
	long line = 0;
	if (strncmp(message, "?:", 2) == 0) {
		char *end;
		line = strtol(message + 2, &end, 10);
		if (end[0] == ':' && end[1] == ' ')
			rest = end + 2;
	}
	if (B->ini && line > 0) {
		char buf[1600];
		snprintf(buf, sizeof(buf), "line %ld: %s", line, rest);
		add_problem(B->th, buf);
	} else {
		add_problem(B->th, rest);
	}
}

static enum sb_status first_problem(struct sb_testhost *th, enum sb_status st,
				    struct sb_error *err)
{
	if (th->n_problems == 0)
		return sb_error_set(err, st, NULL, "configuration refused");
	if (th->n_problems == 1)
		return sb_error_set(err, st, NULL, "%s", th->problems[0]);
	return sb_error_set(err, st, NULL, "%s (and %zu more)", th->problems[0],
			    th->n_problems - 1);
}

/* The host keys an instance section may hold besides the broker's. */
struct host_keys {
	char *broker;
	int64_t max_concurrency;
	int64_t timeout_ms;
};
static const struct sb_config_key host_keys[] = {
    {.key = "broker",
     .type = SB_CONF_STRING,
     .doc = "The module this instance runs.",
     .offset = offsetof(struct host_keys, broker)},
    {.key = "max_concurrency",
     .type = SB_CONF_INT,
     .def = "8",
     .min = 1,
     .max = 1024,
     .doc = "Calls of this instance that run at once.",
     .offset = offsetof(struct host_keys, max_concurrency)},
    {.key = "timeout",
     .type = SB_CONF_DURATION,
     .def = "30s",
     .min = 1,
     .max = 3600 * 1000,
     .doc = "Deadline of each call of this instance.",
     .offset = offsetof(struct host_keys, timeout_ms)},
    SB_CONF_END,
};
static const char *const host_key_names[] = {"broker", "max_concurrency",
					     "timeout", NULL};

static bool is_host_key(const char *k)
{
	for (size_t i = 0; host_key_names[i]; i++)
		if (strcmp(host_key_names[i], k) == 0)
			return true;
	return false;
}

/* A configuration refused before binding: the previous one is dropped,
 * as when binding fails. */
static enum sb_status refuse(struct sb_testhost *th, const char *why,
			     struct sb_error *err)
{
	conf_release(th);
	problems_clear(th);
	th->conf_tried = true;
	add_problem(th, why);
	return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL, "%s", why);
}

static enum sb_status refuse_open(struct sb_testhost *th, struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_CONFLICT, NULL,
			    "instance %s is open; close it before "
			    "configuring it again",
			    th->instance);
}

/* Bind kv[0..n) (host keys and the broker's), then validate(). */
static enum sb_status bind_all(struct sb_testhost *th,
			       const struct sb_conf_kv *kv, size_t n, bool ini,
			       struct sb_error *err)
{
	sb_error_clear(err);
	if (th->open)
		return refuse_open(th, err);
	conf_release(th);
	problems_clear(th);
	th->conf_tried = true;

	struct sb_conf_kv *mine = calloc(n + 1, sizeof(*mine));
	struct sb_conf_kv *hosts = calloc(n + 1, sizeof(*hosts));
	void *conf = calloc(1, th->b->config_size ? th->b->config_size : 1);
	if (!mine || !hosts || !conf) {
		free(mine);
		free(hosts);
		free(conf);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	size_t n_mine = 0, n_hosts = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_host_key(kv[i].key))
			hosts[n_hosts++] = kv[i];
		else
			mine[n_mine++] = kv[i];
	}
	char label[160];
	snprintf(label, sizeof(label), "[instance %s]", th->instance);
	struct sb_conf_where where = {.label = label,
				      .also_valid = host_key_names};
	struct binding B = {.th = th, .ini = ini};
	struct host_keys hk = {0};
	int nerr = sb_conf_bind(host_keys, &hk, sizeof(hk), hosts, n_hosts,
				&where, report, &B);
	if (hk.broker && strcmp(hk.broker, th->b->name) != 0) {
		char msg[400];
		snprintf(msg, sizeof(msg),
			 "%s broker: \"%.64s\", but this test host runs \"%s\"",
			 label, hk.broker, th->b->name);
		add_problem(th, msg);
		nerr++;
	}
	nerr += sb_conf_bind(th->b->config, conf, th->b->config_size, mine,
			     n_mine, &where, report, &B);
	free(mine);
	free(hosts);
	sb_conf_release(host_keys, &hk, sizeof(hk));
	if (nerr > 0) {
		sb_conf_release(th->b->config, conf, th->b->config_size);
		free(conf);
		return first_problem(th, SB_ERR_INVALID_INPUT, err);
	}
	if (th->b->validate) {
		struct sb_error verr;
		sb_error_clear(&verr);
		enum sb_status st = th->b->validate(conf, &verr);
		if (st != SB_OK) {
			if (st < 0 || st >= SB_STATUS_COUNT_)
				st = SB_ERR_INVALID_INPUT;
			char msg[SB_ERROR_MSG_MAX + 200];
			snprintf(msg, sizeof(msg), "%s %s", label,
				 verr.message[0] ? verr.message
						 : sb_status_str(st));
			add_problem(th, msg);
			sb_conf_release(th->b->config, conf,
					th->b->config_size);
			free(conf);
			return first_problem(th, st, err);
		}
	}
	th->conf = conf;
	th->timeout_ms = hk.timeout_ms;
	return SB_OK;
}

static char *trimmed(const char *a, const char *b)
{
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
		b--;
	return strndup(a, (size_t)(b - a));
}

struct kvs {
	struct sb_conf_kv *kv;
	size_t n;
};

static void kvs_free(struct kvs *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free((char *)k->kv[i].key);
		free((char *)k->kv[i].value);
	}
	free(k->kv);
}

/* Append key = value (both taken); false when out of memory. */
static bool kvs_add(struct kvs *k, char *key, char *value, int line)
{
	struct sb_conf_kv *nk = realloc(k->kv, (k->n + 1) * sizeof(*nk));
	if (!nk || !key || !value) {
		free(key);
		free(value);
		if (nk)
			k->kv = nk;
		return false;
	}
	k->kv = nk;
	k->kv[k->n++] =
	    (struct sb_conf_kv){.key = key, .value = value, .line = line};
	return true;
}

enum sb_status sb_testhost_config(struct sb_testhost *th, const char *const *kv,
				  struct sb_error *err)
{
	if (th->open)
		return refuse_open(th, err);
	struct kvs k = {0};
	for (size_t i = 0; kv && kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		if (!eq || eq == kv[i]) {
			kvs_free(&k);
			char why[200];
			snprintf(why, sizeof(why),
				 "item %zu: expected key=value, got \"%.100s\"",
				 i + 1, kv[i]);
			return refuse(th, why, err);
		}
		if (!kvs_add(&k, trimmed(kv[i], eq),
			     trimmed(eq + 1, eq + strlen(eq)), 0)) {
			kvs_free(&k);
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		}
	}
	enum sb_status st = bind_all(th, k.kv, k.n, false, err);
	kvs_free(&k);
	return st;
}

enum sb_status sb_testhost_config_ini(struct sb_testhost *th, const char *text,
				      struct sb_error *err)
{
	if (th->open)
		return refuse_open(th, err);
	struct kvs k = {0};
	int line = 0;
	const char *p = text ? text : "";
	char why[200] = "";
	while (*p && !why[0]) {
		const char *e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		line++;
		const char *a = p;
		while (a < e && (*a == ' ' || *a == '\t'))
			a++;
		bool indented = a > p;
		p = *e ? e + 1 : e;
		if (a == e || (a + 1 == e && *a == '\r') || *a == ';' ||
		    *a == '#')
			continue;
		if (indented && k.n > 0) { /* continues the previous value */
			char *more = trimmed(a, e);
			struct sb_conf_kv *last = &k.kv[k.n - 1];
			char *joined = NULL;
			if (!more ||
			    asprintf(&joined, "%s\n%s", last->value, more) < 0)
				joined = NULL;
			free(more);
			if (!joined) {
				kvs_free(&k);
				return sb_error_set(err, SB_ERR_INTERNAL, NULL,
						    "out of memory");
			}
			free((char *)last->value);
			last->value = joined;
			continue;
		}
		if (*a == '[') {
			if (k.n > 0)
				snprintf(why, sizeof(why),
					 "line %d: a second section; give one "
					 "instance's keys only",
					 line);
			continue;
		}
		const char *eq = memchr(a, '=', (size_t)(e - a));
		if (!eq || eq == a) {
			snprintf(why, sizeof(why),
				 "line %d: expected key = value", line);
			continue;
		}
		if (!kvs_add(&k, trimmed(a, eq), trimmed(eq + 1, e), line)) {
			kvs_free(&k);
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		}
	}
	if (why[0]) {
		kvs_free(&k);
		return refuse(th, why, err);
	}
	enum sb_status st = bind_all(th, k.kv, k.n, true, err);
	kvs_free(&k);
	return st;
}

size_t sb_testhost_config_problems(const struct sb_testhost *th)
{
	return th->n_problems;
}

const char *sb_testhost_config_problem(const struct sb_testhost *th, size_t i)
{
	return i < th->n_problems ? th->problems[i] : NULL;
}

const void *sb_testhost_config_data(const struct sb_testhost *th)
{
	return th->conf;
}

/* ---- the instance -------------------------------------------------------- */

static enum sb_status dyn_add(void *ctx, const struct sb_object *obj,
			      struct sb_error *err)
{
	struct sb_testhost *th = ctx;
	if (sb_testhost_object(th, obj->name))
		return sb_error_set(err, SB_ERR_CONFLICT, NULL,
				    "object %s exists already", obj->name);
	if (th->n_dyn == th->cap_dyn) {
		size_t nc = th->cap_dyn ? th->cap_dyn * 2 : 8;
		const struct sb_object **no =
		    realloc(th->dyn, nc * sizeof(*no));
		if (!no)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		th->dyn = no;
		th->cap_dyn = nc;
	}
	th->dyn[th->n_dyn++] = obj;
	return SB_OK;
}

enum sb_status sb_testhost_open(struct sb_testhost *th, struct sb_error *err)
{
	sb_error_clear(err);
	if (th->open)
		return sb_error_set(err, SB_ERR_CONFLICT, NULL,
				    "instance %s is open already",
				    th->instance);
	if (!th->conf) {
		if (th->conf_tried)
			return first_problem(th, SB_ERR_INVALID_INPUT, err);
		enum sb_status st = bind_all(th, NULL, 0, false, err);
		if (st != SB_OK)
			return st;
	}
	void *state = NULL;
	enum sb_status st = th->b->open(&th->host, th->conf, &state, err);
	if (st != SB_OK) {
		if (st < 0 || st >= SB_STATUS_COUNT_)
			st = SB_ERR_INTERNAL;
		if (err && err->status != st)
			err->status = st;
		if (err && !err->message[0])
			snprintf(err->message, sizeof(err->message),
				 "open failed: %s", sb_status_str(st));
		return st;
	}
	th->state = state;
	th->open = true;
	th->n_dyn = 0;
	if (!th->b->describe)
		return SB_OK;
	struct sb_describe builder = {.ctx = th, .add = dyn_add};
	st = th->b->describe(state, &builder, err);
	if (st != SB_OK) {
		if (st < 0 || st >= SB_STATUS_COUNT_)
			st = SB_ERR_INTERNAL;
		char why[SB_ERROR_MSG_MAX];
		snprintf(why, sizeof(why), "%s",
			 err && err->message[0] ? err->message
						: "describe failed");
		sb_testhost_close(th);
		return sb_error_set(err, st, NULL, "describe: %.440s", why);
	}
	return SB_OK;
}

void sb_testhost_close(struct sb_testhost *th)
{
	if (!th || !th->open)
		return;
	th->open = false;
	th->b->close(th->state);
	th->state = NULL;
	th->n_dyn = 0;
}

bool sb_testhost_is_open(const struct sb_testhost *th) { return th->open; }

void *sb_testhost_state(const struct sb_testhost *th)
{
	return th->open ? th->state : NULL;
}

const struct sb_object *sb_testhost_object(const struct sb_testhost *th,
					   const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; th->b->objects && th->b->objects[i].name; i++)
		if (strcmp(th->b->objects[i].name, name) == 0)
			return &th->b->objects[i];
	for (size_t i = 0; i < th->n_dyn; i++)
		if (strcmp(th->dyn[i]->name, name) == 0)
			return th->dyn[i];
	return NULL;
}

enum sb_status sb_testhost_test(struct sb_testhost *th, struct sb_error *err)
{
	sb_error_clear(err);
	if (!th->b->test)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "broker %s has no test()", th->b->name);
	if (!th->open)
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "instance %s is not open", th->instance);
	enum sb_status st = th->b->test(th->state, err);
	if (st != SB_OK && err && err->status != st)
		err->status = st;
	return st;
}

/* ---- calls --------------------------------------------------------------- */

static enum sb_status put_one(struct sb_call *c, const char *arg,
			      struct sb_error *err)
{
	char name[INPUT_NAME_MAX];
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	bool empty = !eq && len > 2 && strcmp(arg + len - 2, "[]") == 0;
	if (empty)
		len -= 2;
	if ((!eq && !empty) || len == 0 || len >= sizeof(name))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "expected Name=value or Name[], got "
				    "\"%.100s\"",
				    arg);
	memcpy(name, arg, len);
	name[len] = '\0';
	if (empty)
		return sb_call_put_empty(c, name, err);
	const char *v = eq + 1;
	const struct sb_param *p = sb_call_param(c, name);
	if (!p) /* the SDK's own message for an unknown input */
		return sb_call_put_str(c, name, v, err);
	switch (p->type) {
	case SB_TYPE_NUMBER: {
		int64_t i;
		if (!sb_parse_int64(v, &i))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: expected a number, got "
					    "\"%.60s\"",
					    name, v);
		return sb_call_put_int(c, name, i, err);
	}
	case SB_TYPE_BOOLEAN: {
		bool b;
		if (!sb_parse_bool(v, &b))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: expected true or false, got "
					    "\"%.60s\"",
					    name, v);
		return sb_call_put_bool(c, name, b, err);
	}
	case SB_TYPE_FILE:
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: a file input is given in files, not "
				    "as Name=value",
				    name);
	default:
		return sb_call_put_str(c, name, v, err);
	}
}

struct sb_call *sb_testhost_call_new(struct sb_testhost *th, const char *object,
				     const char *method,
				     const char *const *inputs,
				     const struct sb_testhost_file *files,
				     struct sb_error *err)
{
	sb_error_clear(err);
	if (!th->open) {
		sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
			     "instance %s is not open", th->instance);
		return NULL;
	}
	const struct sb_object *o = sb_testhost_object(th, object);
	if (!o) {
		sb_error_set(err, SB_ERR_NOT_FOUND, NULL,
			     "instance %s has no object %.100s", th->instance,
			     object ? object : "(null)");
		return NULL;
	}
	const struct sb_method *m = NULL;
	for (size_t i = 0; method && o->methods && o->methods[i].name && !m;
	     i++)
		if (strcmp(o->methods[i].name, method) == 0)
			m = &o->methods[i];
	if (!m) {
		sb_error_set(err, SB_ERR_NOT_FOUND, NULL,
			     "object %s has no method %.100s", o->name,
			     method ? method : "(null)");
		return NULL;
	}
	struct sb_call *c = sb_call_new(o, m);
	if (!c) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	enum sb_status st = SB_OK;
	for (size_t i = 0; st == SB_OK && inputs && inputs[i]; i++)
		st = put_one(c, inputs[i], err);
	for (size_t i = 0; st == SB_OK && files && files[i].input; i++)
		st = sb_call_put_file(c, files[i].input, files[i].name,
				      files[i].content_type, files[i].data,
				      files[i].size, err);
	if (st == SB_OK)
		st = sb_call_finish(c, err);
	if (st != SB_OK) {
		sb_call_free(c);
		return NULL;
	}
	sb_call_set_deadline(c, sb_now_ms() + th->timeout_ms);
	return c;
}

struct sb_testhost_run *sb_testhost_execute(struct sb_testhost *th,
					    struct sb_call *call)
{
	struct sb_testhost_run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	struct sb_error *err = &r->err;
	sb_error_clear(err);
	const struct sb_method *m = call ? sb_call_def(call) : NULL;
	if (!call || !m) {
		r->status = sb_error_set(err, SB_ERR_INTERNAL, NULL, "no call");
		return r;
	}
	if (!th->open) {
		r->status =
		    sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				 "instance %s is not open", th->instance);
		return r;
	}
	const struct sb_object *o =
	    sb_testhost_object(th, sb_call_object(call));
	if (!o) {
		r->status = sb_error_set(err, SB_ERR_NOT_FOUND, NULL,
					 "instance %s has no object %.100s",
					 th->instance, sb_call_object(call));
		return r;
	}
	r->result = sb_result_new(o, m, 0, 0);
	if (!r->result) {
		r->status =
		    sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		return r;
	}
	struct running me = {.call = call};
	pthread_mutex_lock(&th->mu);
	if (th->cancel_next) {
		th->cancel_next = false;
		sb_call_cancel(call);
	}
	me.next = th->running;
	th->running = &me;
	pthread_mutex_unlock(&th->mu);

	bool serial = th->b->flags & SB_BROKER_SERIAL;
	if (serial)
		pthread_mutex_lock(&th->serial);
	enum sb_status st = m->handler(th->state, call, r->result, err);
	if (serial)
		pthread_mutex_unlock(&th->serial);
	r->ran = true;

	pthread_mutex_lock(&th->mu);
	for (struct running **pp = &th->running; *pp; pp = &(*pp)->next)
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	pthread_mutex_unlock(&th->mu);

	/* From here as the executor's run(). */
	if (sb_call_misused(call, err)) {
		th_log(&th->host, SB_LOG_ERROR, "%s.%s: %s",
		       sb_call_object(call), sb_call_method(call),
		       err->message);
		r->status = err->status;
		return r;
	}
	if (st == SB_OK) {
		if (sb_result_error(r->result, err)) {
			if (err->status == SB_OK)
				err->status = SB_ERR_INTERNAL;
			st = err->status;
		}
		r->status = st;
		return r;
	}
	if (st < 0 || st >= SB_STATUS_COUNT_)
		st = SB_ERR_INTERNAL;
	if (err->status == SB_OK || err->status != st)
		err->status = st;
	if (!err->message[0])
		snprintf(err->message, sizeof(err->message),
			 "%s/%s.%s failed: %s", th->instance,
			 sb_call_object(call), sb_call_method(call),
			 sb_status_str(st));
	if (st != SB_ERR_THROTTLED && st != SB_ERR_UNAVAILABLE)
		err->retry_after_ms = 0;
	r->status = st;
	return r;
}

struct sb_testhost_run *sb_testhost_run(struct sb_testhost *th,
					const char *object, const char *method,
					const char *const *inputs,
					const struct sb_testhost_file *files)
{
	struct sb_error err;
	struct sb_call *c =
	    sb_testhost_call_new(th, object, method, inputs, files, &err);
	if (!c) {
		struct sb_testhost_run *r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->err = err;
		r->status = err.status != SB_OK ? err.status : SB_ERR_INTERNAL;
		r->err.status = r->status;
		return r;
	}
	struct sb_testhost_run *r = sb_testhost_execute(th, c);
	sb_call_free(c);
	return r;
}

void sb_testhost_run_free(struct sb_testhost_run *r)
{
	if (!r)
		return;
	sb_result_free(r->result);
	free(r);
}

void sb_testhost_cancel(struct sb_testhost *th)
{
	pthread_mutex_lock(&th->mu);
	if (!th->running)
		th->cancel_next = true;
	for (struct running *p = th->running; p; p = p->next)
		sb_call_cancel(p->call);
	pthread_mutex_unlock(&th->mu);
}

/* ---- reading results ----------------------------------------------------- */

size_t sb_testhost_rows(const struct sb_testhost_run *r)
{
	return r && r->result ? sb_result_n_rows(r->result) : 0;
}

const struct sb_value *sb_testhost_cell(const struct sb_testhost_run *r,
					size_t row, const char *name)
{
	if (!name || row >= sb_testhost_rows(r))
		return NULL;
	const struct sb_cell *cells;
	size_t n = sb_result_row_cells(r->result, row, &cells);
	for (size_t i = 0; i < n; i++)
		if (strcmp(cells[i].name, name) == 0)
			return &cells[i].value;
	return NULL;
}

static bool string_carried(enum sb_type t)
{
	return t != SB_TYPE_NUMBER && t != SB_TYPE_BOOLEAN && t != SB_TYPE_FILE;
}

const char *sb_testhost_text(const struct sb_testhost_run *r, size_t row,
			     const char *name)
{
	const struct sb_value *v = sb_testhost_cell(r, row, name);
	return v && v->count && string_carried(v->type) ? v->items[0].s : NULL;
}

bool sb_testhost_int(const struct sb_testhost_run *r, size_t row,
		     const char *name, int64_t *out)
{
	const struct sb_value *v = sb_testhost_cell(r, row, name);
	if (!v || !v->count || v->type != SB_TYPE_NUMBER)
		return false;
	if (out)
		*out = v->items[0].i;
	return true;
}

bool sb_testhost_bool(const struct sb_testhost_run *r, size_t row,
		      const char *name, bool *out)
{
	const struct sb_value *v = sb_testhost_cell(r, row, name);
	if (!v || !v->count || v->type != SB_TYPE_BOOLEAN)
		return false;
	if (out)
		*out = v->items[0].b;
	return true;
}

size_t sb_testhost_count(const struct sb_testhost_run *r, size_t row,
			 const char *name)
{
	const struct sb_value *v = sb_testhost_cell(r, row, name);
	return v ? v->count : 0;
}

bool sb_testhost_has_text(const struct sb_testhost_run *r, size_t row,
			  const char *name, const char *want)
{
	const struct sb_value *v = sb_testhost_cell(r, row, name);
	if (!v || !want || !string_carried(v->type))
		return false;
	for (size_t i = 0; i < v->count; i++)
		if (v->items[i].s && strcmp(v->items[i].s, want) == 0)
			return true;
	return false;
}

const char *sb_testhost_next_page(const struct sb_testhost_run *r)
{
	return r && r->result ? sb_result_page_token(r->result) : NULL;
}

/* ---- the recorded log ---------------------------------------------------- */

static struct sb_testhost *unconst(const struct sb_testhost *th)
{
	return (struct sb_testhost *)th; /* for the mutex */
}

size_t sb_testhost_log_count(const struct sb_testhost *th, int level)
{
	struct sb_testhost *t = unconst(th);
	size_t n = 0;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n_lines; i++)
		if (level < 0 || (int)t->lines[i].level == level)
			n++;
	pthread_mutex_unlock(&t->mu);
	return n;
}

const char *sb_testhost_log_line(const struct sb_testhost *th, size_t i,
				 enum sb_log_level *level)
{
	struct sb_testhost *t = unconst(th);
	const char *s = NULL;
	pthread_mutex_lock(&t->mu);
	if (i < t->n_lines) {
		s = t->lines[i].text;
		if (level)
			*level = t->lines[i].level;
	}
	pthread_mutex_unlock(&t->mu);
	return s;
}

size_t sb_testhost_log_find(const struct sb_testhost *th, int level,
			    const char *needle)
{
	struct sb_testhost *t = unconst(th);
	size_t n = 0;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n_lines; i++)
		if ((level < 0 || (int)t->lines[i].level == level) &&
		    strstr(t->lines[i].text, needle ? needle : ""))
			n++;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void sb_testhost_log_clear(struct sb_testhost *th)
{
	pthread_mutex_lock(&th->mu);
	for (size_t i = 0; i < th->n_lines; i++)
		free(th->lines[i].text);
	th->n_lines = 0;
	pthread_mutex_unlock(&th->mu);
}
