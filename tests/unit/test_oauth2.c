/* Unit tests of OAuth2 client credentials (<svcbroker/oauth2.h>): the
 * token answer reader, the token cache driven through a fake transport
 * (renewal, one request for many callers, failures reported to every
 * waiter, deadlines, revoked tokens), and the real libcurl transport
 * against the token endpoint mock (tests/mock/token_server.py): client
 * secret, JWT client assertion checked by the mock, the endpoint's
 * refusals, expiry.  Every test also checks that no log line carries a
 * token or a secret. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/invoke.h>
#include <svcbroker/oauth2.h>
#include <svcbroker/sdk.h>
#include <svcbroker/testhost.h>

#include "oauth2_int.h"
#include "tmpdir.h"

#define SECRET "s3cr3t-Vx9+/&=%"

/* ---- a test host for the mock sb_host (deadlines, log capture) ---------- */

static enum sb_status noop(void *state, const struct sb_call *call,
			   struct sb_result *result, struct sb_error *err)
{
	(void)state;
	(void)call;
	(void)result;
	(void)err;
	return SB_OK;
}

static const struct sb_method thing_methods[] = {
    {.name = "Get",
     .kind = SB_KIND_EXECUTE,
     .handler = noop,
     .doc = "Nothing."},
    SB_METHOD_END,
};
static const struct sb_property thing_props[] = {
    {.name = "Id", .type = SB_TYPE_TEXT, .doc = "Id."},
    SB_PROPERTY_END,
};
static const struct sb_object objects[] = {
    {.name = "Thing",
     .doc = "A thing.",
     .properties = thing_props,
     .methods = thing_methods},
    SB_OBJECT_END,
};

static enum sb_status t_open(const struct sb_host *host, const void *config,
			     void **state, struct sb_error *err)
{
	(void)host;
	(void)config;
	(void)err;
	*state = NULL;
	return SB_OK;
}

static void t_close(void *state) { (void)state; }

static const struct sb_broker tbroker = {
    SB_BROKER_HEADER,  .name = "oauth-test", .version = "1",
    .summary = "test", .objects = objects,   .open = t_open,
    .close = t_close,
};

static struct sb_testhost *th;
static const struct sb_host *host;

/* the cache's clock, moved forward by the tests (oauth2_clock_ms) */
static int64_t clock_skew_ms;
static int64_t test_clock(void)
{
	return sb_now_ms() + __atomic_load_n(&clock_skew_ms, __ATOMIC_SEQ_CST);
}
static void skew(int64_t ms)
{
	__atomic_add_fetch(&clock_skew_ms, ms, __ATOMIC_SEQ_CST);
}

static void setup(void)
{
	struct sb_error err = {0};
	th = sb_testhost_new(&tbroker, "o", &err);
	ck_assert_ptr_nonnull(th);
	ck_assert_int_eq(sb_testhost_open(th, &err), SB_OK);
	host = sb_testhost_host(th);
	clock_skew_ms = 0;
	oauth2_clock_ms = test_clock;
}

/* no log line at any level carries needle */
static void assert_not_logged(const char *needle)
{
	size_t n = sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL);
	for (size_t i = 0; i < n; i++) {
		const char *l = sb_testhost_log_line(th, i, NULL);
		ck_assert_msg(!strstr(l, needle),
			      "log line %zu carries a "
			      "secret: %s",
			      i, l);
	}
}

static void teardown(void)
{
	assert_not_logged(SECRET);
	assert_not_logged("tok-");
	sb_testhost_free(th);
	th = NULL;
}

static struct sb_call *call_ms(int64_t ms)
{
	struct sb_error err = {0};
	sb_testhost_set_timeout(th, ms);
	struct sb_call *c =
	    sb_testhost_call_new(th, "Thing", "Get", NULL, NULL, &err);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- the answer reader ----------------------------------------------------
 */

START_TEST(answer_good)
{
	struct oauth2_answer a;
	char why[96];
	const char *j =
	    " {\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\""
	    ":3599,\"x\":[1,{\"y\":[true,false,null,-1.5e3]}],"
	    "\"access_token\":\"eyJ\\u0041\\/b\\\\\"} \n";
	ck_assert(oauth2_answer_parse(j, strlen(j), &a, why, sizeof(why)));
	ck_assert_str_eq(a.access_token, "eyJA/b\\");
	ck_assert_str_eq(a.token_type, "Bearer");
	ck_assert_int_eq(a.expires_in, 3599);
	ck_assert_ptr_null(a.error);
	oauth2_answer_free(&a);
	/* expires_in as a string (older endpoints), an error answer */
	j = "{\"expires_in\":\"60\",\"error\":\"invalid_client\","
	    "\"error_description\":\"caf\\u00e9 \\ud83d\\ude00\"}";
	ck_assert(oauth2_answer_parse(j, strlen(j), &a, why, sizeof(why)));
	ck_assert_int_eq(a.expires_in, 60);
	ck_assert_str_eq(a.error, "invalid_client");
	ck_assert_str_eq(a.error_description, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	oauth2_answer_free(&a);
}
END_TEST

START_TEST(answer_bad)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{",
	    "{\"access_token\":\"a\",}",
	    "{\"access_token\":\"a\"} x",
	    "{\"access_token\":\"a\",\"access_token\":\"b\"}",
	    "{\"access_token\":1}",
	    "{\"expires_in\":1.5}",
	    "{\"expires_in\":-3}",
	    "{\"expires_in\":\"12a\"}",
	    "{\"a\":01}",
	    "{\"a\":\"\\x\"}",
	    "{\"a\":\"\\ud800\"}",
	    "{\"a\":\"\\u0000\"}",
	    "{\"a\":\"\x01\"}",
	    "{\"a\":\"\xff\"}",
	    "{\"a\":tru}",
	    "{'a':1}",
	    "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]"
	    "]]"
	    "]]]]]]]]]]]]]}",
	    NULL};
	for (size_t i = 0; bad[i]; i++) {
		struct oauth2_answer a;
		char why[96];
		ck_assert_msg(!oauth2_answer_parse(bad[i], strlen(bad[i]), &a,
						   why, sizeof(why)),
			      "accepted: %s", bad[i]);
		ck_assert_msg(why[0], "no reason for %s", bad[i]);
		oauth2_answer_free(&a);
	}
}
END_TEST

/* ---- the cache through a fake transport -----------------------------------
 */

struct fake {
	pthread_mutex_t lock;
	int calls;
	int64_t delay_ms;
	long http;
	const char *answer; /* the answer's body, as is */
	int64_t expires_in;
	size_t big;   /* append this many bytes instead */
	bool in_post; /* a request has started */
	char body[4096];
};

static enum sb_status fake_post(void *ctx, const struct sb_oauth2_post *req,
				long *http_status, struct sb_buf *body,
				struct sb_error *err)
{
	struct fake *f = ctx;
	pthread_mutex_lock(&f->lock);
	int n = ++f->calls;
	__atomic_store_n(&f->in_post, true, __ATOMIC_SEQ_CST);
	snprintf(f->body, sizeof(f->body), "%.*s", (int)req->body_len,
		 req->body);
	pthread_mutex_unlock(&f->lock);
	ck_assert_int_eq(req->max_response, SB_OAUTH2_MAX_RESPONSE);
	ck_assert(req->timeout_ms > 0);
	if (f->delay_ms > req->timeout_ms) {
		/* as a transport does: the request's deadline ends it */
		sleep_ms(req->timeout_ms);
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "the OAuth2 token endpoint did not answer "
				    "in time");
	}
	if (f->delay_ms)
		sleep_ms(f->delay_ms);
	*http_status = f->http ? f->http : 200;
	if (f->big) {
		for (size_t i = 0; i < f->big; i++)
			sb_buf_append(body, " ", 1);
		return SB_OK;
	}
	if (f->answer)
		sb_buf_puts(body, f->answer);
	else
		sb_buf_printf(
		    body,
		    "{\"access_token\":\"tok-%d\",\"token_type\":"
		    "\"bearer\",\"expires_in\":%lld}",
		    n, (long long)(f->expires_in ? f->expires_in : 3600));
	return SB_OK;
}

static struct sb_oauth2 *fake_cache(struct fake *f)
{
	pthread_mutex_init(&f->lock, NULL);
	struct sb_oauth2_conf c = {.token_url = "https://login.example.test/"
						"t/oauth2/v2.0/token",
				   .client_id = "app 1",
				   .client_secret = SECRET,
				   .scope = "https://x.test/.default",
				   .verify_tls = true,
				   .post = fake_post,
				   .post_ctx = f};
	struct sb_oauth2 *o = NULL;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_oauth2_new(&c, host, &o, &err), SB_OK);
	return o;
}

static char *get(struct sb_oauth2 *o, int64_t ms, bool *cached,
		 enum sb_status want)
{
	struct sb_call *c = call_ms(ms);
	char *t = NULL;
	struct sb_error err = {0};
	enum sb_status st = sb_oauth2_token(o, c, &t, cached, &err);
	ck_assert_msg(st == want, "status %d (%s), want %d", st, err.message,
		      want);
	sb_call_free(c);
	return t;
}

START_TEST(cache_reuses_and_sends_form)
{
	struct fake f = {0};
	struct sb_oauth2 *o = fake_cache(&f);
	bool cached = true;
	char *t = get(o, 5000, &cached, SB_OK);
	ck_assert_str_eq(t, "tok-1");
	ck_assert(!cached);
	sb_oauth2_token_free(t);
	t = get(o, 5000, &cached, SB_OK);
	ck_assert_str_eq(t, "tok-1");
	ck_assert(cached);
	sb_oauth2_token_free(t);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(sb_oauth2_requests(o), 1);
	/* every value percent-encoded */
	ck_assert_str_eq(f.body, "grant_type=client_credentials&client_id=app%"
				 "201&scope=https%3A%2F%2Fx.test%2F.default&"
				 "client_secret=s3cr3t-Vx9%2B%2F%26%3D%25");
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

struct racer {
	struct sb_oauth2 *o;
	int64_t ms;
	enum sb_status st;
	struct sb_error err;
	char *token;
	int64_t took_ms;
	pthread_barrier_t *start;
	struct sb_call *call; /* made by the test (it frees it); NULL: own */
};

static void *race(void *ud)
{
	struct racer *r = ud;
	struct sb_call *c = r->call;
	/* sb_testhost_call_new is thread-safe; the timeout setter is not:
	 * every racer of one test uses the same timeout, set before */
	struct sb_error err = {0};
	if (!c)
		c = sb_testhost_call_new(th, "Thing", "Get", NULL, NULL, &err);
	if (r->start) /* every racer ready: they ask at once */
		pthread_barrier_wait(r->start);
	int64_t t0 = sb_now_ms();
	r->st = sb_oauth2_token(r->o, c, &r->token, NULL, &r->err);
	r->took_ms = sb_now_ms() - t0;
	if (!r->call)
		sb_call_free(c);
	return NULL;
}

/* one caller renews while the others go on with the old token */
START_TEST(cache_renews_ahead_of_expiry)
{
	struct fake f = {0}; /* 1-hour tokens */
	struct sb_oauth2 *o = fake_cache(&f);
	char *t = get(o, 5000, NULL, SB_OK);
	ck_assert_str_eq(t, "tok-1");
	sb_oauth2_token_free(t);
	skew(3299 * 1000); /* 5 min 1 s left: still the cached one */
	bool cached = false;
	t = get(o, 5000, &cached, SB_OK);
	ck_assert_str_eq(t, "tok-1");
	ck_assert(cached);
	sb_oauth2_token_free(t);
	ck_assert_int_eq(f.calls, 1);
	skew(2 * 1000); /* 4 min 59 s left: renewed by the next caller */
	f.delay_ms = 1000;
	__atomic_store_n(&f.in_post, false, __ATOMIC_SEQ_CST);
	struct racer renewer = {.o = o, .call = call_ms(10000)};
	pthread_t tid;
	ck_assert_int_eq(pthread_create(&tid, NULL, race, &renewer), 0);
	for (int i = 0;
	     i < 500 && !__atomic_load_n(&f.in_post, __ATOMIC_SEQ_CST); i++)
		sleep_ms(10);
	ck_assert(__atomic_load_n(&f.in_post, __ATOMIC_SEQ_CST));
	/* meanwhile another caller does not wait: the old token */
	int64_t t0 = sb_now_ms();
	t = get(o, 5000, &cached, SB_OK);
	ck_assert_msg(sb_now_ms() - t0 < 500, "waited %lld ms",
		      (long long)(sb_now_ms() - t0));
	ck_assert_str_eq(t, "tok-1");
	ck_assert(cached);
	sb_oauth2_token_free(t);
	pthread_join(tid, NULL);
	ck_assert_int_eq(renewer.st, SB_OK);
	ck_assert_str_eq(renewer.token, "tok-2");
	sb_oauth2_token_free(renewer.token);
	sb_call_free(renewer.call);
	f.delay_ms = 0;
	t = get(o, 5000, &cached, SB_OK);
	ck_assert_str_eq(t, "tok-2");
	ck_assert(cached);
	sb_oauth2_token_free(t);
	ck_assert_int_eq(f.calls, 2);
	skew(3600 * 1000); /* expired: a new one */
	t = get(o, 5000, &cached, SB_OK);
	ck_assert_str_eq(t, "tok-3");
	ck_assert(!cached);
	sb_oauth2_token_free(t);
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

START_TEST(early_renewal_failure_keeps_old_token)
{
	struct fake f = {0};
	struct sb_oauth2 *o = fake_cache(&f);
	char *t = get(o, 5000, NULL, SB_OK);
	sb_oauth2_token_free(t);
	skew(3301 * 1000); /* in the renewal window */
	f.http = 503;
	f.answer = "{\"error\":\"temporarily_unavailable\"}";
	t = get(o, 5000, NULL, SB_OK); /* the renewal failed: old token */
	ck_assert_str_eq(t, "tok-1");
	sb_oauth2_token_free(t);
	t = get(o, 5000, NULL, SB_OK); /* no second attempt right away */
	sb_oauth2_token_free(t);
	ck_assert_int_eq(f.calls, 2);
	ck_assert_int_eq(
	    sb_testhost_log_find(th, SB_LOG_WARN, "temporarily_unavailable"),
	    1);
	skew(11 * 1000); /* 10 s later: tried again */
	t = get(o, 5000, NULL, SB_OK);
	ck_assert_str_eq(t, "tok-1");
	sb_oauth2_token_free(t);
	ck_assert_int_eq(f.calls, 3);
	skew(300 * 1000); /* expired now: the failure is the answer */
	struct sb_call *c = call_ms(5000);
	struct sb_error err = {0};
	ck_assert_int_eq(sb_oauth2_token(o, c, &t, NULL, &err),
			 SB_ERR_UNAVAILABLE);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err.code, "temporarily_unavailable");
	ck_assert_int_eq(f.calls, 4);
	sb_call_free(c);
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

#define NRACERS 8

static void run_racers(struct sb_oauth2 *o, int64_t ms, struct racer *r)
{
	pthread_t tid[NRACERS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, NRACERS);
	sb_testhost_set_timeout(th, ms);
	for (int i = 0; i < NRACERS; i++) {
		r[i] = (struct racer){.o = o, .ms = ms, .start = &start};
		ck_assert_int_eq(pthread_create(&tid[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < NRACERS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&start);
}

START_TEST(concurrent_callers_one_request)
{
	struct fake f = {.delay_ms = 1000};
	struct sb_oauth2 *o = fake_cache(&f);
	struct racer r[NRACERS];
	run_racers(o, 5000, r);
	ck_assert_int_eq(f.calls, 1);
	for (int i = 0; i < NRACERS; i++) {
		ck_assert_int_eq(r[i].st, SB_OK);
		ck_assert_str_eq(r[i].token, "tok-1");
		sb_oauth2_token_free(r[i].token);
	}
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

START_TEST(failure_reaches_every_waiter)
{
	struct fake f = {.delay_ms = 1000,
			 .http = 401,
			 .answer = "{\"error\":\"invalid_client\",\"error_"
				   "description\":\"AADSTS7000215: Invalid "
				   "client secret provided.\"}"};
	struct sb_oauth2 *o = fake_cache(&f);
	struct racer r[NRACERS];
	run_racers(o, 5000, r);
	ck_assert_int_eq(f.calls, 1);
	for (int i = 0; i < NRACERS; i++) {
		ck_assert_int_eq(r[i].st, SB_ERR_UPSTREAM_AUTH);
		ck_assert_ptr_null(r[i].token);
		ck_assert_str_eq(r[i].err.code, "invalid_client");
		ck_assert_msg(strstr(r[i].err.message, "AADSTS7000215: "
						       "Invalid client secret "
						       "provided."),
			      "%s", r[i].err.message);
	}
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

START_TEST(waiting_bounded_by_deadline)
{
	struct fake f = {.delay_ms = 1500};
	struct sb_oauth2 *o = fake_cache(&f);
	struct racer slow = {.o = o};
	pthread_t tid;
	sb_testhost_set_timeout(th, 10000);
	ck_assert_int_eq(pthread_create(&tid, NULL, race, &slow), 0);
	sleep_ms(100);
	/* a call with 300 ms left waits no longer than that */
	struct sb_call *c = call_ms(300);
	char *t = NULL;
	struct sb_error err = {0};
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(sb_oauth2_token(o, c, &t, NULL, &err), SB_ERR_TIMEOUT);
	int64_t took = sb_now_ms() - t0;
	ck_assert_msg(took >= 250 && took < 900, "waited %lld ms",
		      (long long)took);
	ck_assert(strstr(err.message, "deadline"));
	sb_call_free(c);
	/* a cancelled call stops waiting at once */
	c = call_ms(10000);
	sb_call_cancel(c);
	t0 = sb_now_ms();
	enum sb_status st = sb_oauth2_token(o, c, &t, NULL, &err);
	ck_assert_int_eq(st, SB_ERR_TIMEOUT);
	ck_assert(sb_now_ms() - t0 < 500);
	ck_assert(strstr(err.message, "abandoned"));
	sb_call_free(c);
	pthread_join(tid, NULL);
	sb_oauth2_token_free(slow.token);
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

START_TEST(requester_timeout_not_shared)
{
	/* the endpoint takes 800 ms: a call with 400 ms left requests and
	 * times out; one with 5 s left waited for it, then requests itself */
	struct fake f = {.delay_ms = 800};
	struct sb_oauth2 *o = fake_cache(&f);
	struct racer quick = {.o = o, .call = call_ms(400)};
	struct racer patient = {.o = o, .call = call_ms(5000)};
	pthread_t t1, t2;
	ck_assert_int_eq(pthread_create(&t1, NULL, race, &quick), 0);
	sleep_ms(100);
	ck_assert_int_eq(pthread_create(&t2, NULL, race, &patient), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	sb_call_free(quick.call);
	sb_call_free(patient.call);
	ck_assert_int_eq(quick.st, SB_ERR_TIMEOUT);
	ck_assert_msg(patient.st == SB_OK, "%s", patient.err.message);
	ck_assert_str_eq(patient.token, "tok-2");
	ck_assert_int_eq(f.calls, 2);
	sb_oauth2_token_free(patient.token);
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

struct use {
	int runs;
	int refuse; /* refuse this many runs */
	char seen[2][32];
};

static enum sb_status use_token(void *ctx, const char *token,
				struct sb_error *err)
{
	struct use *u = ctx;
	if (u->runs < 2)
		snprintf(u->seen[u->runs], sizeof(u->seen[0]), "%s", token);
	if (u->runs++ < u->refuse)
		return sb_error_set(err, SB_ERR_UPSTREAM_AUTH, "535",
				    "server refused the token");
	return SB_OK;
}

START_TEST(revoked_token_one_renewal_one_retry)
{
	struct fake f = {0};
	struct sb_oauth2 *o = fake_cache(&f);
	struct sb_call *c = call_ms(5000);
	struct sb_error err = {0};
	/* a fresh token refused: no retry (asking again changes nothing) */
	struct use u = {.refuse = 1};
	ck_assert_int_eq(sb_oauth2_with_token(o, c, use_token, &u, &err),
			 SB_ERR_UPSTREAM_AUTH);
	ck_assert_int_eq(u.runs, 1);
	ck_assert_int_eq(f.calls, 1);
	/* a cached token refused (revoked): one renewal, one retry */
	u = (struct use){.refuse = 1};
	ck_assert_int_eq(sb_oauth2_with_token(o, c, use_token, &u, &err),
			 SB_OK);
	ck_assert_int_eq(u.runs, 2);
	ck_assert_str_eq(u.seen[0], "tok-1");
	ck_assert_str_eq(u.seen[1], "tok-2");
	ck_assert_int_eq(f.calls, 2);
	/* refused again after the renewal: the error, no third run */
	u = (struct use){.refuse = 5};
	ck_assert_int_eq(sb_oauth2_with_token(o, c, use_token, &u, &err),
			 SB_ERR_UPSTREAM_AUTH);
	ck_assert_int_eq(u.runs, 2);
	ck_assert_int_eq(f.calls, 3);
	ck_assert_str_eq(err.code, "535");
	/* a stale invalidation (another caller renewed already) is a
	 * no-op */
	sb_oauth2_invalidate(o, "tok-1");
	char *t = get(o, 5000, NULL, SB_OK);
	ck_assert_str_eq(t, "tok-3");
	sb_oauth2_token_free(t);
	ck_assert_int_eq(f.calls, 3);
	sb_call_free(c);
	sb_oauth2_free(o);
	pthread_mutex_destroy(&f.lock);
}
END_TEST

START_TEST(answers_refused)
{
	struct {
		long http;
		const char *answer;
		size_t big;
		enum sb_status st;
		const char *needle;
	} cases[] = {
	    {200, "{\"token_type\":\"Bearer\"}", 0, SB_ERR_UPSTREAM,
	     "without an access_token"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"mac\"}", 0,
	     SB_ERR_UPSTREAM, "not Bearer"},
	    {200, "{\"access_token\":\"a b\"}", 0, SB_ERR_UPSTREAM,
	     "characters"},
	    {200, "<html>", 0, SB_ERR_UPSTREAM, "no usable JSON"},
	    {200, NULL, 70000, SB_ERR_UPSTREAM, "more than 65536 bytes"},
	    {400,
	     "{\"error\":\"invalid_scope\",\"error_description\":\"bad "
	     "scope\"}",
	     0, SB_ERR_UPSTREAM, "invalid_scope: bad scope"},
	    {429, "", 0, SB_ERR_THROTTLED, "HTTP 429"},
	    {500, "oops", 0, SB_ERR_UPSTREAM, "HTTP 500 (not a JSON"},
	    {401, "{}", 0, SB_ERR_UPSTREAM_AUTH, "HTTP 401"},
	    /* an endpoint echoing the form: the secret is not passed on */
	    {401,
	     "{\"error\":\"invalid_client\",\"error_description\":\"bad "
	     "client_secret=" SECRET "\"}",
	     0, SB_ERR_UPSTREAM_AUTH,
	     "held the client secret and is not shown"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f = {.http = cases[i].http,
				 .answer = cases[i].answer,
				 .big = cases[i].big};
		struct sb_oauth2 *o = fake_cache(&f);
		struct sb_call *c = call_ms(5000);
		struct sb_error err = {0};
		char *t = NULL;
		ck_assert_int_eq(sb_oauth2_token(o, c, &t, NULL, &err),
				 cases[i].st);
		ck_assert_msg(strstr(err.message, cases[i].needle),
			      "case %zu: %s", i, err.message);
		ck_assert_ptr_null(strstr(err.message, SECRET));
		ck_assert_ptr_null(t);
		sb_call_free(c);
		sb_oauth2_free(o);
		pthread_mutex_destroy(&f.lock);
	}
}
END_TEST

START_TEST(conf_refused)
{
	struct {
		struct sb_oauth2_conf c;
		const char *needle;
	} cases[] = {
	    {{.client_id = "a", .client_secret = "s"}, "token_url: required"},
	    {{.token_url = "ftp://x/token",
	      .client_id = "a",
	      .client_secret = "s"},
	     "token_url: expected an https"},
	    {{.token_url = "http://login.example.test/token",
	      .client_id = "a",
	      .client_secret = "s"},
	     "http:// only to a loopback"},
	    {{.token_url = "https://u:p@login.example.test/token",
	      .client_id = "a",
	      .client_secret = "s"},
	     "no user name"},
	    {{.token_url = "https://x.test/token", .client_secret = "s"},
	     "client_id: required"},
	    {{.token_url = "https://x.test/token", .client_id = "a"},
	     "client_secret: give a client secret, or cert_file"},
	    {{.token_url = "https://x.test/token",
	      .client_id = "a",
	      .client_secret = "s",
	      .cert_file = "/c"},
	     "not both"},
	    {{.token_url = "https://x.test/token",
	      .client_id = "a",
	      .key_file = "/k"},
	     "cert_file: required"},
	    {{.token_url = "https://x.test/token",
	      .client_id = "a",
	      .cert_file = "/nonexistent/c.pem",
	      .key_file = "/k"},
	     "cert_file /nonexistent/c.pem: cannot open"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb_oauth2 *o = (struct sb_oauth2 *)1;
		struct sb_error err = {0};
		ck_assert_int_eq(sb_oauth2_new(&cases[i].c, host, &o, &err),
				 SB_ERR_INVALID_INPUT);
		ck_assert_ptr_null(o);
		ck_assert_msg(strstr(err.message, cases[i].needle),
			      "case %zu: %s", i, err.message);
	}
	/* loopback http is fine (tests, local proxies) */
	struct sb_oauth2_conf ok = {.token_url = "http://127.0.0.1:9/token",
				    .client_id = "a",
				    .client_secret = "s"};
	struct sb_oauth2 *o = NULL;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_oauth2_new(&ok, host, &o, &err), SB_OK);
	sb_oauth2_free(o);
	ok.token_url = "http://[::1]:9/token";
	ck_assert_int_eq(sb_oauth2_new(&ok, host, &o, &err), SB_OK);
	sb_oauth2_free(o);
}
END_TEST

/* ---- against the token endpoint mock --------------------------------------
 */

struct mock {
	pid_t pid;
	int port;
	char dir[160];
	char url[128];
};

static void mock_start(struct mock *m, const char *const *extra)
{
	const char *top = getenv("top_srcdir");
	if (!top)
		top = ".";
	make_tmp_dir(m->dir, sizeof(m->dir), "sbtest-oauth2-");
	char script[1024];
	snprintf(script, sizeof(script), "%s/tests/mock/token_server.py", top);
	const char *argv[32] = {"/usr/bin/python3", script, "--state-dir",
				m->dir};
	size_t n = 4;
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	m->pid = fork();
	ck_assert(m->pid >= 0);
	if (m->pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	char line[64] = "";
	size_t got = 0;
	int64_t until = sb_now_ms() + 15000;
	while (got < sizeof(line) - 1 && !strchr(line, '\n') &&
	       sb_now_ms() < until) {
		struct pollfd pfd = {p[0], POLLIN, 0};
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		ssize_t k = read(p[0], line + got, sizeof(line) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		line[got] = '\0';
	}
	close(p[0]);
	ck_assert_msg(sscanf(line, "READY %d", &m->port) == 1,
		      "token server did not start: %s", line);
	bool tls = false;
	for (size_t i = 0; extra && extra[i]; i++)
		tls = tls || !strcmp(extra[i], "--tls-cert");
	snprintf(m->url, sizeof(m->url),
		 "%s://127.0.0.1:%d/tenant-1/oauth2/v2.0/token",
		 tls ? "https" : "http", m->port);
}

static int mock_requests(const struct mock *m)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/requests", m->dir);
	FILE *f = fopen(p, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static char *read_file(const char *dir, const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void mock_stop(struct mock *m)
{
	kill(m->pid, SIGTERM);
	int status;
	for (int i = 0; i < 100; i++) {
		if (waitpid(m->pid, &status, WNOHANG) == m->pid)
			goto reaped;
		sleep_ms(50);
	}
	kill(m->pid, SIGKILL);
	waitpid(m->pid, &status, 0);
reaped:;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct sb_oauth2 *mock_cache(const struct mock *m, const char *secret,
				    const char *cert, const char *key,
				    struct sb_error *err, enum sb_status want)
{
	struct sb_oauth2_conf c = {.token_url = m->url,
				   .client_id = "app-1",
				   .client_secret = secret,
				   .cert_file = cert,
				   .key_file = key,
				   .scope = "https://outlook.office365.com/"
					    ".default",
				   .verify_tls = true};
	struct sb_oauth2 *o = NULL;
	ck_assert_int_eq(sb_oauth2_new(&c, host, &o, err), want);
	return o;
}

START_TEST(mock_secret)
{
	struct mock m;
	const char *args[] = {"--client-secret", SECRET, NULL};
	mock_start(&m, args);
	struct sb_error err = {0};
	struct sb_oauth2 *o = mock_cache(&m, SECRET, NULL, NULL, &err, SB_OK);
	bool cached = true;
	char *t = get(o, 10000, &cached, SB_OK);
	ck_assert(!strncmp(t, "tok-", 4));
	ck_assert(!cached);
	ck_assert(strstr(read_file(m.dir, "tokens"), t));
	ck_assert(strstr(read_file(m.dir, "last.json"), "\"secret\""));
	char *t2 = get(o, 10000, &cached, SB_OK);
	ck_assert_str_eq(t, t2);
	ck_assert(cached);
	ck_assert_int_eq(mock_requests(&m), 1);
	ck_assert_int_ge(sb_testhost_log_count(th, SB_LOG_DEBUG), 2);
	assert_not_logged(t);
	sb_oauth2_token_free(t);
	sb_oauth2_token_free(t2);
	sb_oauth2_free(o);
	mock_stop(&m);
}
END_TEST

START_TEST(mock_invalid_client)
{
	struct mock m;
	const char *args[] = {"--client-secret", "the-right-one", NULL};
	mock_start(&m, args);
	struct sb_error err = {0};
	struct sb_oauth2 *o = mock_cache(&m, SECRET, NULL, NULL, &err, SB_OK);
	struct sb_call *c = call_ms(10000);
	char *t = NULL;
	ck_assert_int_eq(sb_oauth2_token(o, c, &t, NULL, &err),
			 SB_ERR_UPSTREAM_AUTH);
	ck_assert_str_eq(err.code, "invalid_client");
	ck_assert_msg(strstr(err.message, "invalid_client: AADSTS7000215: "
					  "Invalid client secret provided."),
		      "%s", err.message);
	ck_assert(strstr(err.message, m.url));
	ck_assert(!strstr(err.message, SECRET));
	ck_assert_int_eq(sb_testhost_log_find(th, SB_LOG_WARN, "AADSTS7000215"),
			 1);
	sb_call_free(c);
	sb_oauth2_free(o);
	mock_stop(&m);
}
END_TEST

START_TEST(mock_expiry_and_concurrency)
{
	struct mock m;
	/* 2 s tokens; answers take 400 ms so that the callers overlap */
	const char *args[] = {"--client-secret",
			      SECRET,
			      "--expires-in",
			      "2",
			      "--delay",
			      "0.4",
			      NULL};
	mock_start(&m, args);
	struct sb_error err = {0};
	struct sb_oauth2 *o = mock_cache(&m, SECRET, NULL, NULL, &err, SB_OK);
	char *t1 = get(o, 10000, NULL, SB_OK);
	ck_assert_int_eq(mock_requests(&m), 1);
	skew(2100); /* expired (the request's start counts) */
	struct racer r[NRACERS];
	run_racers(o, 10000, r);
	ck_assert_int_eq(mock_requests(&m), 2);
	for (int i = 0; i < NRACERS; i++) {
		ck_assert_int_eq(r[i].st, SB_OK);
		ck_assert_str_ne(r[i].token, t1);
		ck_assert_str_eq(r[i].token, r[0].token);
	}
	for (int i = NRACERS - 1; i >= 0; i--)
		sb_oauth2_token_free(r[i].token);
	sb_oauth2_token_free(t1);
	sb_oauth2_free(o);
	mock_stop(&m);
}
END_TEST

START_TEST(mock_unreachable)
{
	struct mock m = {.url = "http://127.0.0.1:1/token"};
	struct sb_error err = {0};
	struct sb_oauth2 *o = mock_cache(&m, SECRET, NULL, NULL, &err, SB_OK);
	struct sb_call *c = call_ms(5000);
	char *t = NULL;
	ck_assert_int_eq(sb_oauth2_token(o, c, &t, NULL, &err),
			 SB_ERR_UNAVAILABLE);
	ck_assert(strstr(err.message, "cannot reach the OAuth2 token "
				      "endpoint http://127.0.0.1:1/token"));
	sb_call_free(c);
	sb_oauth2_free(o);
}
END_TEST

START_TEST(mock_https)
{
	char dir[160];
	make_tmp_dir(dir, sizeof(dir), "sbtest-oauth2-pki-");
	const char *top = getenv("top_srcdir");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/mock/make_certs.sh' '%s'",
		 top ? top : ".", dir);
	ck_assert_int_eq(system(cmd), 0);
	char cert[256], key[256], ca[256];
	snprintf(cert, sizeof(cert), "%s/server.pem", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	struct mock m;
	const char *args[] = {"--client-secret", SECRET, "--tls-cert", cert,
			      "--tls-key",	 key,	 NULL};
	mock_start(&m, args);
	struct sb_oauth2_conf c = {.token_url = m.url,
				   .client_id = "app-1",
				   .client_secret = SECRET,
				   .verify_tls = true};
	struct sb_oauth2 *o = NULL;
	struct sb_error err = {0};
	/* verified by default: a private CA is refused, named */
	ck_assert_int_eq(sb_oauth2_new(&c, host, &o, &err), SB_OK);
	struct sb_call *call = call_ms(10000);
	char *t = NULL;
	ck_assert_int_eq(sb_oauth2_token(o, call, &t, NULL, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "tls_verify");
	ck_assert_int_eq(mock_requests(&m), 0);
	sb_oauth2_free(o);
	/* with ca_file: the token */
	c.ca_file = ca;
	ck_assert_int_eq(sb_oauth2_new(&c, host, &o, &err), SB_OK);
	ck_assert_int_eq(sb_oauth2_token(o, call, &t, NULL, &err), SB_OK);
	ck_assert(strstr(read_file(m.dir, "tokens"), t));
	ck_assert_int_eq(mock_requests(&m), 1);
	sb_oauth2_token_free(t);
	sb_oauth2_free(o);
	sb_call_free(call);
	mock_stop(&m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* a throw-away certificate and key; key mode as given */
static void make_cert(const char *dir, mode_t key_mode, char *cert, char *key,
		      size_t n)
{
	snprintf(cert, n, "%s/client.pem", dir);
	snprintf(key, n, "%s/client.key", dir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' "
		 "-out '%s' -days 1 -subj /CN=app-1 >/dev/null 2>&1",
		 key, cert);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(chmod(key, key_mode), 0);
}

START_TEST(mock_certificate)
{
	char dir[160];
	make_tmp_dir(dir, sizeof(dir), "sbtest-oauth2-cert-");
	char cert[256], key[256];
	make_cert(dir, 0600, cert, key, sizeof(cert));
	struct mock m;
	const char *args[] = {"--cert", cert, NULL};
	mock_start(&m, args);
	struct sb_error err = {0};
	struct sb_oauth2 *o = mock_cache(&m, NULL, cert, key, &err, SB_OK);
	char *t = get(o, 10000, NULL, SB_OK);
	ck_assert(strstr(read_file(m.dir, "tokens"), t));
	/* the mock checked signature, x5t, aud, iss/sub, times and jti */
	const char *last = read_file(m.dir, "last.json");
	ck_assert_msg(strstr(last, "\"auth\": \"assertion\""), "%s", last);
	ck_assert_msg(strstr(last, "\"alg\": \"RS256\""), "%s", last);
	ck_assert(strstr(last, m.url));
	sb_oauth2_token_free(t);
	/* a second assertion (new jti) after invalidation */
	t = get(o, 10000, NULL, SB_OK);
	sb_oauth2_invalidate(o, t);
	sb_oauth2_token_free(t);
	t = get(o, 10000, NULL, SB_OK);
	ck_assert_int_eq(mock_requests(&m), 2);
	sb_oauth2_token_free(t);
	sb_oauth2_free(o);
	mock_stop(&m);

	/* a certificate the endpoint does not know: refused by signature /
	 * thumbprint, the endpoint's words surfaced */
	char dir2[160];
	make_tmp_dir(dir2, sizeof(dir2), "sbtest-oauth2-cert-");
	char cert2[256], key2[256];
	make_cert(dir2, 0600, cert2, key2, sizeof(cert2));
	mock_start(&m, args);
	o = mock_cache(&m, NULL, cert2, key2, &err, SB_OK);
	struct sb_call *c = call_ms(10000);
	ck_assert_int_eq(sb_oauth2_token(o, c, &t, NULL, &err),
			 SB_ERR_UPSTREAM_AUTH);
	ck_assert_msg(strstr(err.message, "AADSTS700027: x5t"), "%s",
		      err.message);
	sb_call_free(c);
	sb_oauth2_free(o);
	mock_stop(&m);

	/* the key of another certificate */
	m = (struct mock){.url = "https://x.test/token"};
	o = mock_cache(&m, NULL, cert, key2, &err, SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(err.message, "not the private key of cert_file"),
		      "%s", err.message);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, dir2);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(key_mode_refused)
{
	char dir[160];
	make_tmp_dir(dir, sizeof(dir), "sbtest-oauth2-cert-");
	char cert[256], key[256];
	make_cert(dir, 0644, cert, key, sizeof(cert));
	struct mock m = {.url = "https://login.example.test/t/token"};
	struct sb_error err = {0};
	mock_cache(&m, NULL, cert, key, &err, SB_ERR_INVALID_INPUT);
	char want[384];
	snprintf(want, sizeof(want),
		 "key_file %s: mode 0644 lets group or others read the "
		 "private key",
		 key);
	ck_assert_msg(strstr(err.message, want), "%s", err.message);
	ck_assert_int_eq(chmod(key, 0640), 0);
	mock_cache(&m, NULL, cert, key, &err, SB_ERR_INVALID_INPUT);
	ck_assert(strstr(err.message, "mode 0640"));
	/* an encrypted key is refused, without a prompt */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl pkey -in '%s' -aes256 -passout pass:pw -out "
		 "'%s.enc' && chmod 600 '%s.enc'",
		 key, key, key);
	ck_assert_int_eq(system(cmd), 0);
	char enc[272];
	snprintf(enc, sizeof(enc), "%s.enc", key);
	mock_cache(&m, NULL, cert, enc, &err, SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(err.message, "encrypted"), "%s", err.message);
	/* not a key at all */
	ck_assert_int_eq(chmod(cert, 0600), 0);
	mock_cache(&m, NULL, cert, cert, &err, SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(err.message, "no PEM private key"), "%s",
		      err.message);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(jwt_shape)
{
	char dir[160];
	make_tmp_dir(dir, sizeof(dir), "sbtest-oauth2-cert-");
	char cert[256], key[256];
	make_cert(dir, 0600, cert, key, sizeof(cert));
	struct oauth2_cert c;
	struct sb_error err = {0};
	ck_assert_int_eq(oauth2_cert_load(cert, key, &c, &err), SB_OK);
	/* x5t: base64url of SHA-1, 27 characters, as openssl computes it */
	ck_assert_int_eq(strlen(c.x5t), 27);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -in '%s' -outform DER | openssl dgst -sha1 "
		 "-binary | openssl base64 | tr '+/' '-_' | tr -d '=\\n' > "
		 "'%s/x5t'",
		 cert, dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_str_eq(read_file(dir, "x5t"), c.x5t);
	char *j = oauth2_jwt_assertion(&c, "https://a.test/\"t\"", "id",
				       1700000000, 300, &err);
	ck_assert_ptr_nonnull(j);
	char *dot = strchr(j, '.');
	ck_assert_ptr_nonnull(dot);
	ck_assert_ptr_nonnull(strchr(dot + 1, '.'));
	ck_assert_ptr_null(strpbrk(j, "+/="));
	/* the claims, decoded */
	size_t clen = (size_t)(strchr(dot + 1, '.') - dot - 1);
	char b64[2048];
	snprintf(b64, sizeof(b64), "%.*s", (int)clen, dot + 1);
	for (char *p = b64; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	while (strlen(b64) % 4)
		strcat(b64, "=");
	size_t n = 0;
	unsigned char *claims = sb_base64_decode(b64, strlen(b64), &n);
	ck_assert_ptr_nonnull(claims);
	ck_assert_msg(strstr((char *)claims,
			     "{\"aud\":\"https://a.test/\\\"t\\\"\",\"iss\":"
			     "\"id\",\"sub\":\"id\",\"jti\":\""),
		      "%s", claims);
	ck_assert(strstr((char *)claims, "\"nbf\":1700000000,\"iat\":"
					 "1700000000,\"exp\":1700000300}"));
	free(claims);
	free(j);
	oauth2_cert_free(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("oauth2");
	TCase *tc = tcase_create("answer");
	tcase_add_test(tc, answer_good);
	tcase_add_test(tc, answer_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, cache_reuses_and_sends_form);
	tcase_add_test(tc, cache_renews_ahead_of_expiry);
	tcase_add_test(tc, early_renewal_failure_keeps_old_token);
	tcase_add_test(tc, concurrent_callers_one_request);
	tcase_add_test(tc, failure_reaches_every_waiter);
	tcase_add_test(tc, waiting_bounded_by_deadline);
	tcase_add_test(tc, requester_timeout_not_shared);
	tcase_add_test(tc, revoked_token_one_renewal_one_retry);
	tcase_add_test(tc, answers_refused);
	tcase_add_test(tc, conf_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("endpoint");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mock_secret);
	tcase_add_test(tc, mock_invalid_client);
	tcase_add_test(tc, mock_expiry_and_concurrency);
	tcase_add_test(tc, mock_unreachable);
	tcase_add_test(tc, mock_https);
	tcase_add_test(tc, mock_certificate);
	tcase_add_test(tc, key_mode_refused);
	tcase_add_test(tc, jwt_shape);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
