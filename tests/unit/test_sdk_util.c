/* Unit tests of the SDK's waiting, paging and text helpers: sb_sleep and
 * struct sb_backoff (driven through a small broker on the test host),
 * page tokens and SipHash, the cleaners and PowerShell quoting. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <svcbroker/backoff.h>
#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/invoke.h>
#include <svcbroker/pagetoken.h>
#include <svcbroker/sdk.h>
#include <svcbroker/testhost.h>
#include <svcbroker/types.h>

/* Timing bounds: generous enough for valgrind on a busy machine, tight
 * enough that a sleep that ignores its bound or a cancellation fails. */
#define LATE_MS 150

/* ---- a broker with an "upstream" that asks for pauses -------------------- */

struct up_state {
	const struct sb_host *host;
	struct sb_backoff backoff;
	int upstream_calls; /* atomic */
};

static enum sb_status up_fetch(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	struct up_state *s = state;
	enum sb_status st = sb_backoff_wait(&s->backoff, s->host, call, err);
	if (st != SB_OK)
		return st;
	__atomic_add_fetch(&s->upstream_calls, 1, __ATOMIC_SEQ_CST);
	int64_t busy = 0;
	if (sb_call_int(call, "BusyMs", &busy) && busy > 0) {
		sb_backoff_set(&s->backoff, busy);
		st = sb_error_set(err, SB_ERR_THROTTLED, "ErrorServerBusy",
				  "the server is busy");
		err->retry_after_ms = busy;
		return st;
	}
	bool odd = false;
	sb_call_bool(call, "Odd", &odd);
	st = sb_result_row(r);
	if (st == SB_OK && odd) {
		/* One odd cell must not fail the call. */
		st = sb_result_clean_text(r, "Text",
					  "a\x01"
					  "b\xff\nc");
		if (st == SB_OK)
			st = sb_result_clean_memo(r, "Body",
						  "l1\r\nl2\x07\xc0\xaf");
		if (st == SB_OK)
			st = sb_result_clean_text(r, "Note", NULL);
	} else if (st == SB_OK) {
		st = sb_result_str(r, "Text", "ok");
	}
	return st == SB_OK
		   ? SB_OK
		   : sb_error_set(err, st, NULL, "cannot build the row");
}

static enum sb_status up_open(const struct sb_host *host, const void *config,
			      void **state, struct sb_error *err)
{
	(void)config;
	struct up_state *s = calloc(1, sizeof *s);
	if (!s)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "oom");
	s->host = host;
	*state = s;
	return SB_OK;
}

static void up_close(void *state) { free(state); }

static const struct sb_property up_props[] = {
    {.name = "Text", .type = SB_TYPE_TEXT, .doc = "A line."},
    {.name = "Body", .type = SB_TYPE_MEMO, .doc = "Lines."},
    {.name = "Note", .type = SB_TYPE_TEXT, .doc = "Never set."},
    SB_PROPERTY_END,
};
static const struct sb_param fetch_inputs[] = {
    {.name = "BusyMs",
     .type = SB_TYPE_NUMBER,
     .doc = "The upstream answers busy for this long."},
    {.name = "Odd", .type = SB_TYPE_BOOLEAN, .doc = "Return odd text."},
    SB_PARAM_END,
};
static const char *const fetch_returns[] = {"Text", "Body", "Note", NULL};
static const struct sb_method up_methods[] = {
    {.name = "Fetch",
     .kind = SB_KIND_EXECUTE,
     .handler = up_fetch,
     .doc = "Ask the upstream.",
     .inputs = fetch_inputs,
     .returns = fetch_returns},
    SB_METHOD_END,
};
static const struct sb_object up_objects[] = {
    {.name = "Up",
     .doc = "The upstream.",
     .properties = up_props,
     .methods = up_methods},
    SB_OBJECT_END,
};
static const struct sb_broker up_broker = {
    SB_BROKER_HEADER,
    .name = "up",
    .version = "1.0",
    .summary = "A broker whose upstream asks for pauses.",
    .objects = up_objects,
    .open = up_open,
    .close = up_close,
};

static struct sb_testhost *open_up(void)
{
	struct sb_error err = {0};
	struct sb_testhost *th = sb_testhost_new(&up_broker, "u", &err);
	ck_assert_msg(th, "%s", err.message);
	ck_assert_int_eq(sb_testhost_open(th, &err), SB_OK);
	return th;
}

static struct up_state *state_of(struct sb_testhost *th)
{
	return sb_testhost_state(th);
}

static int calls_of(struct sb_testhost *th)
{
	return __atomic_load_n(&state_of(th)->upstream_calls, __ATOMIC_SEQ_CST);
}

static struct sb_call *new_call(struct sb_testhost *th, int64_t deadline_in)
{
	struct sb_error err = {0};
	struct sb_call *c =
	    sb_testhost_call_new(th, "Up", "Fetch", NULL, NULL, &err);
	ck_assert_msg(c, "%s", err.message);
	sb_call_set_deadline(c, sb_now_ms() + deadline_in);
	return c;
}

/* ---- sb_sleep ---------------------------------------------------------------
 */

START_TEST(test_sleep_plain)
{
	struct sb_error err = {0};
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(sb_sleep(NULL, NULL, 120, &err), SB_OK);
	int64_t took = sb_now_ms() - t0;
	ck_assert_msg(took >= 120 && took < 120 + LATE_MS, "took %lld",
		      (long long)took);
	t0 = sb_now_ms();
	ck_assert_int_eq(sb_sleep(NULL, NULL, 0, &err), SB_OK);
	ck_assert_int_eq(sb_sleep(NULL, NULL, -5, &err), SB_OK);
	ck_assert_int_lt(sb_now_ms() - t0, LATE_MS);
}
END_TEST

START_TEST(test_sleep_in_call)
{
	struct sb_testhost *th = open_up();
	const struct sb_host *host = sb_testhost_host(th);
	struct sb_error err = {0};
	struct sb_call *c = new_call(th, 5000);
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(sb_sleep(host, c, 150, &err), SB_OK);
	int64_t took = sb_now_ms() - t0;
	ck_assert_msg(took >= 150 && took < 150 + LATE_MS, "took %lld",
		      (long long)took);

	/* A wait that would reach the deadline is refused at once. */
	sb_call_set_deadline(c, sb_now_ms() + 300);
	t0 = sb_now_ms();
	ck_assert_int_eq(sb_sleep(host, c, 1000, &err), SB_ERR_TIMEOUT);
	ck_assert_int_lt(sb_now_ms() - t0, LATE_MS);
	ck_assert_msg(strstr(err.message, "deadline"), "%s", err.message);
	/* A passed deadline: no wait at all. */
	sb_call_set_deadline(c, sb_now_ms() - 1);
	ck_assert_int_eq(sb_sleep(host, c, 10, &err), SB_ERR_TIMEOUT);
	sb_call_free(c);
	sb_testhost_free(th);
}
END_TEST

struct canceller {
	struct sb_call *call;
	int64_t after_ms, at;
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = k->after_ms * 1000000L};
	nanosleep(&ts, NULL);
	k->at = sb_now_ms();
	sb_call_cancel(k->call);
	return NULL;
}

START_TEST(test_sleep_cancelled)
{
	struct sb_testhost *th = open_up();
	const struct sb_host *host = sb_testhost_host(th);
	struct sb_error err = {0};
	struct sb_call *c = new_call(th, 10000);
	struct canceller k = {.call = c, .after_ms = 150};
	pthread_t t;
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &k), 0);
	enum sb_status st = sb_sleep(host, c, 5000, &err);
	int64_t end = sb_now_ms();
	pthread_join(t, NULL);
	ck_assert_int_eq(st, SB_ERR_TIMEOUT);
	ck_assert_msg(strstr(err.message, "abandoned"), "%s", err.message);
	ck_assert_int_ge(end - t0, 150);
	/* woke within a slice (plus scheduling) of the cancellation */
	ck_assert_msg(end - k.at < 50 + LATE_MS / 2, "woke %lld ms late",
		      (long long)(end - k.at));
	/* already cancelled: at once */
	t0 = sb_now_ms();
	ck_assert_int_eq(sb_sleep(host, c, 1000, &err), SB_ERR_TIMEOUT);
	ck_assert_int_lt(sb_now_ms() - t0, LATE_MS);
	sb_call_free(c);
	sb_testhost_free(th);
}
END_TEST

/* ---- back-off ---------------------------------------------------------------
 */

START_TEST(test_backoff_basics)
{
	struct sb_backoff b = {0};
	ck_assert_int_eq(sb_backoff_left(&b), 0);
	sb_backoff_set(&b, 0);
	sb_backoff_set(&b, -3);
	ck_assert_int_eq(sb_backoff_left(&b), 0);
	sb_backoff_set(&b, 5000);
	int64_t l = sb_backoff_left(&b);
	ck_assert(l > 4900 && l <= 5000);
	/* a shorter request never shortens it */
	sb_backoff_set(&b, 100);
	ck_assert_int_gt(sb_backoff_left(&b), 4900);
	sb_backoff_set(&b, 8000);
	ck_assert_int_gt(sb_backoff_left(&b), 7900);
	/* capped */
	sb_backoff_set(&b, INT64_MAX / 2);
	ck_assert_int_le(sb_backoff_left(&b), SB_BACKOFF_MAX_MS);
	ck_assert_int_gt(sb_backoff_left(&b), SB_BACKOFF_MAX_MS - 100);
	sb_backoff_clear(&b);
	ck_assert_int_eq(sb_backoff_left(&b), 0);
	/* outside a call: never waits */
	struct sb_error err = {0};
	ck_assert_int_eq(sb_backoff_wait(&b, NULL, NULL, &err), SB_OK);
	sb_backoff_set(&b, 200);
	ck_assert_int_eq(sb_backoff_wait(&b, NULL, NULL, &err),
			 SB_ERR_THROTTLED);
	ck_assert(err.retry_after_ms > 100 && err.retry_after_ms <= 200);
}
END_TEST

START_TEST(test_backoff_throttles_without_upstream)
{
	struct sb_testhost *th = open_up();
	sb_testhost_set_timeout(th, 2000);
	const char *busy[] = {"BusyMs=10000", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Up", "Fetch", busy, NULL);
	ck_assert_int_eq(r->status, SB_ERR_THROTTLED);
	ck_assert_str_eq(r->err.code, "ErrorServerBusy");
	sb_testhost_run_free(r);
	ck_assert_int_eq(calls_of(th), 1);

	/* The back-off outlasts the 2 s deadline: 429 at once, upstream
	 * untouched. */
	for (int i = 0; i < 3; i++) {
		int64_t t0 = sb_now_ms();
		r = sb_testhost_run(th, "Up", "Fetch", NULL, NULL);
		int64_t took = sb_now_ms() - t0;
		ck_assert_int_eq(r->status, SB_ERR_THROTTLED);
		ck_assert_msg(r->err.retry_after_ms > 9000 &&
				  r->err.retry_after_ms <= 10000,
			      "retry_after_ms %lld",
			      (long long)r->err.retry_after_ms);
		ck_assert_msg(strstr(r->err.message, "pause"), "%s",
			      r->err.message);
		ck_assert_int_lt(took, LATE_MS);
		sb_testhost_run_free(r);
	}
	ck_assert_int_eq(calls_of(th), 1);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_backoff_waits_within_deadline)
{
	struct sb_testhost *th = open_up();
	sb_testhost_set_timeout(th, 3000);
	sb_backoff_set(&state_of(th)->backoff, 250);
	int64_t t0 = sb_now_ms();
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Up", "Fetch", NULL, NULL);
	int64_t took = sb_now_ms() - t0;
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Text"), "ok");
	sb_testhost_run_free(r);
	ck_assert_msg(took >= 240 && took < 250 + LATE_MS, "took %lld",
		      (long long)took);
	ck_assert_int_eq(calls_of(th), 1);
	ck_assert_int_eq(sb_backoff_left(&state_of(th)->backoff), 0);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_backoff_wait_cancelled)
{
	struct sb_testhost *th = open_up();
	const struct sb_host *host = sb_testhost_host(th);
	struct up_state *s = state_of(th);
	sb_backoff_set(&s->backoff, 3000);
	struct sb_call *c = new_call(th, 10000);
	struct canceller k = {.call = c, .after_ms = 100};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &k), 0);
	struct sb_error err = {0};
	enum sb_status st = sb_backoff_wait(&s->backoff, host, c, &err);
	int64_t end = sb_now_ms();
	pthread_join(t, NULL);
	ck_assert_int_eq(st, SB_ERR_TIMEOUT);
	ck_assert_int_lt(end - k.at, 50 + LATE_MS / 2);
	sb_call_free(c);
	sb_testhost_free(th);
}
END_TEST

/* ---- SipHash ---------------------------------------------------------------
 */

/* From the SipHash reference implementation's vectors (vectors_sip128):
 * key 00 01 .. 0f, message 00 01 .. (n - 1). */
static const struct {
	size_t n;
	unsigned char out[16];
} sip_vectors[] = {
    {0,
     {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14,
      0xc7, 0x55, 0x02, 0x93}},
    {1,
     {0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11,
      0x9b, 0x22, 0xfc, 0x45}},
    {7,
     {0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6,
      0x1f, 0xf0, 0x82, 0x39}},
    {8,
     {0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64,
      0xf3, 0x14, 0x97, 0xb4}},
    {15,
     {0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f,
      0x97, 0xcf, 0xc3, 0xd9}},
    {63,
     {0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a, 0x50, 0x3e, 0x06, 0x9a,
      0x97, 0x3f, 0xbd, 0x7c}},
};

START_TEST(test_siphash_vectors)
{
	unsigned char key[16], msg[64], out[16];
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	for (size_t v = 0; v < sizeof sip_vectors / sizeof sip_vectors[0];
	     v++) {
		sb_siphash128(key, msg, sip_vectors[v].n, out);
		ck_assert_msg(memcmp(out, sip_vectors[v].out, 16) == 0,
			      "length %zu", sip_vectors[v].n);
	}
}
END_TEST

/* ---- page tokens
 * ------------------------------------------------------------- */

static const char *const bind3[] = {"Email.List", "alice@example.test",
				    "Inbox"};

static enum sb_status read_tok(const char *tok, const char *const *bind,
			       size_t n, struct sb_buf *pos,
			       struct sb_error *err)
{
	sb_error_clear(err);
	return sb_page_token_read(tok, bind, n, pos, err);
}

static void expect_refused(const char *tok, const char *const *bind, size_t n,
			   const char *why)
{
	struct sb_buf pos;
	sb_buf_init(&pos, 0);
	sb_buf_puts(&pos, "kept");
	struct sb_error err;
	enum sb_status st = read_tok(tok, bind, n, &pos, &err);
	ck_assert_msg(st == SB_ERR_INVALID_INPUT, "token '%s' accepted (%s)",
		      tok, why);
	ck_assert_str_eq(err.code, SB_PAGE_TOKEN_CODE);
	ck_assert_msg(strncmp(err.message, "PageToken", 9) == 0, "%s",
		      err.message);
	ck_assert_str_eq(pos.data, "kept");
	ck_assert_uint_eq(pos.len, 4);
	sb_buf_free(&pos);
}

START_TEST(test_page_token_round_trip)
{
	static const char bin[] = {'\0', 'a', '\xff', '\0', '\n', '|'};
	struct {
		const void *pos;
		size_t len;
	} cases[] = {{"", 0}, {"42", 2}, {bin, sizeof bin}, {NULL, 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *tok =
		    sb_page_token_new(bind3, 3, cases[i].pos, cases[i].len);
		ck_assert_ptr_nonnull(tok);
		for (const char *p = tok; *p; p++)
			ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
					 "lmnopqrstuvwxyz0123456789-_",
					 *p));
		struct sb_buf pos;
		sb_buf_init(&pos, 0);
		struct sb_error err;
		ck_assert_int_eq(read_tok(tok, bind3, 3, &pos, &err), SB_OK);
		ck_assert_uint_eq(pos.len, cases[i].len);
		ck_assert_ptr_nonnull(pos.data);
		ck_assert(cases[i].len == 0 ||
			  memcmp(pos.data, cases[i].pos, cases[i].len) == 0);
		ck_assert_int_eq(pos.data[pos.len], '\0');
		sb_buf_free(&pos);
		free(tok);
	}
	/* the largest position fits the host's PageToken limit */
	char *big = malloc(SB_PAGE_TOKEN_POS_MAX);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', SB_PAGE_TOKEN_POS_MAX);
	char *tok = sb_page_token_new(bind3, 3, big, SB_PAGE_TOKEN_POS_MAX);
	ck_assert_ptr_nonnull(tok);
	ck_assert_uint_le(strlen(tok), 4096);
	struct sb_buf pos;
	sb_buf_init(&pos, 0);
	struct sb_error err;
	ck_assert_int_eq(read_tok(tok, bind3, 3, &pos, &err), SB_OK);
	ck_assert_uint_eq(pos.len, SB_PAGE_TOKEN_POS_MAX);
	/* appended after what pos held */
	ck_assert_int_eq(read_tok(tok, bind3, 3, &pos, &err), SB_OK);
	ck_assert_uint_eq(pos.len, 2 * SB_PAGE_TOKEN_POS_MAX);
	sb_buf_free(&pos);
	/* a pos that cannot grow: internal, not the client's fault */
	sb_buf_init(&pos, 16);
	ck_assert_int_eq(read_tok(tok, bind3, 3, &pos, &err), SB_ERR_INTERNAL);
	sb_buf_free(&pos);
	free(tok);
	ck_assert_ptr_null(
	    sb_page_token_new(bind3, 3, big, SB_PAGE_TOKEN_POS_MAX + 1));
	free(big);
	/* a token is the same listing's however often it is made */
	char *a = sb_page_token_new(bind3, 3, "7", 1);
	char *b = sb_page_token_new(bind3, 3, "7", 1);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_page_token_binding)
{
	char *tok = sb_page_token_new(bind3, 3, "pos", 3);
	ck_assert_ptr_nonnull(tok);
	const char *folder[] = {"Email.List", "alice@example.test", "Sent"};
	const char *mailbox[] = {"Email.List", "bob@example.test", "Inbox"};
	const char *method[] = {"Task.List", "alice@example.test", "Inbox"};
	const char *fewer[] = {"Email.List", "alice@example.test"};
	const char *more[] = {"Email.List", "alice@example.test", "Inbox", ""};
	const char *null3[] = {"Email.List", "alice@example.test", NULL};
	const char *moved[] = {"Email.List", "alice@example.testI", "nbox"};
	struct {
		const char *const *b;
		size_t n;
	} other[] = {{folder, 3}, {mailbox, 3}, {method, 3}, {fewer, 2},
		     {more, 4},	  {null3, 3},	{moved, 3},  {NULL, 0}};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
		expect_refused(tok, other[i].b, other[i].n, "another binding");
		struct sb_buf pos;
		sb_buf_init(&pos, 0);
		struct sb_error err;
		read_tok(tok, other[i].b, other[i].n, &pos, &err);
		ck_assert_msg(strstr(err.message, "another listing"),
			      "case %zu: %s", i, err.message);
		sb_buf_free(&pos);
	}
	free(tok);
	/* NULL and "" are different items */
	const char *with_empty[] = {"Email.List", "alice@example.test", ""};
	tok = sb_page_token_new(with_empty, 3, "p", 1);
	expect_refused(tok, null3, 3, "NULL is not \"\"");
	free(tok);
}
END_TEST

/* A test-local base64url codec (no padding), to alter decoded bytes. */
static const char *b64u =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t unb64u(const char *s, unsigned char *out)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *s; s++) {
		acc = (acc << 6) | (unsigned)(strchr(b64u, *s) - b64u);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return o;
}

static char *b64u_of(const unsigned char *p, size_t n)
{
	char *out = malloc(n * 2 + 4);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64u[(acc >> bits) & 63];
		}
		acc &= (1u << bits) - 1;
	}
	if (bits)
		out[o++] = b64u[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return out;
}

/* Run with positions of 8, 9 and 10 bytes: 41, 42 and 43 token bytes, so
 * the last base64url character has 2, 0 and 4 unused bits. */
START_TEST(test_page_token_tampered)
{
	static const char *const positions[] = {"offset=4", "offset=40",
						"offset=400"};
	const char *position = positions[_i];
	size_t plen = strlen(position);
	char *tok = sb_page_token_new(bind3, 3, position, plen);
	ck_assert_ptr_nonnull(tok);
	size_t tl = strlen(tok);
	char *t = strdup(tok);
	/* every character replaced by every other one, inside and outside
	 * the alphabet */
	const char *extra = "=+/ .~\x7f\xc3";
	for (size_t i = 0; i < tl; i++) {
		for (size_t c = 0; c < 64 + strlen(extra); c++) {
			char ch = c < 64 ? b64u[c] : extra[c - 64];
			if (ch == tok[i])
				continue;
			t[i] = ch;
			expect_refused(t, bind3, 3, "one character changed");
		}
		t[i] = tok[i];
	}
	/* cut at every length, and extended */
	for (size_t n = 0; n < tl; n++) {
		t[n] = '\0';
		expect_refused(t, bind3, 3, "cut");
		memcpy(t, tok, tl + 1);
	}
	char *longer = malloc(tl + 3);
	for (size_t c = 0; c < 64; c++) {
		snprintf(longer, tl + 3, "%s%c", tok, b64u[c]);
		expect_refused(longer, bind3, 3, "one more character");
		snprintf(longer, tl + 3, "%s%c%c", tok, b64u[c], b64u[c]);
		expect_refused(longer, bind3, 3, "two more characters");
	}
	free(longer);
	/* every bit of the decoded bytes flipped, then spelled correctly */
	unsigned char raw[128];
	size_t rl = unb64u(tok, raw);
	ck_assert_uint_eq(rl, 1 + 16 + plen + 16);
	char *same = b64u_of(raw, rl);
	ck_assert_str_eq(same, tok);
	free(same);
	for (size_t i = 0; i < rl; i++) {
		for (int bit = 0; bit < 8; bit++) {
			raw[i] ^= (unsigned char)(1u << bit);
			char *x = b64u_of(raw, rl);
			expect_refused(x, bind3, 3, "a bit flipped");
			if (i == 0) {
				struct sb_buf pos;
				sb_buf_init(&pos, 0);
				struct sb_error err;
				read_tok(x, bind3, 3, &pos, &err);
				ck_assert_msg(strstr(err.message, "version"),
					      "%s", err.message);
				sb_buf_free(&pos);
			}
			free(x);
			raw[i] ^= (unsigned char)(1u << bit);
		}
	}
	/* a byte removed or inserted inside, then spelled correctly */
	for (size_t i = 0; i < rl; i++) {
		unsigned char cut[128];
		memcpy(cut, raw, i);
		memcpy(cut + i, raw + i + 1, rl - i - 1);
		char *x = b64u_of(cut, rl - 1);
		expect_refused(x, bind3, 3, "a byte removed");
		free(x);
		memcpy(cut, raw, i);
		cut[i] = 0x5a;
		memcpy(cut + i + 1, raw + i, rl - i);
		x = b64u_of(cut, rl + 1);
		expect_refused(x, bind3, 3, "a byte inserted");
		free(x);
	}
	/* a version this SDK does not read, and strangers */
	raw[0] = 2;
	char *v2 = b64u_of(raw, rl);
	expect_refused(v2, bind3, 3, "version 2");
	free(v2);
	expect_refused("", bind3, 3, "empty");
	expect_refused(NULL, bind3, 3, "NULL");
	expect_refused("forged", bind3, 3, "foreign");
	expect_refused("bm9wZQ==", bind3, 3, "padded base64");
	char *huge = malloc(5000);
	memset(huge, 'A', 4999);
	huge[4999] = '\0';
	expect_refused(huge, bind3, 3, "too long");
	free(huge);
	free(t);
	free(tok);
}
END_TEST

/* ---- cleaners
 * ------------------------------------------------------------------ */

START_TEST(test_clean_text_memo)
{
	struct {
		const char *in;
		bool memo;
		const char *want;
	} cases[] = {
	    {"plain", false, "plain"},
	    {"a\tb\r\nc", false, "a b  c"},
	    {"a\tb\r\nc", true, "a\tb\r\nc"},
	    {"x\x01y\x7fz", false, "xyz"},
	    {"x\x01y\x0c", true, "xy"},
	    {"caf\xe9!", false, "caf\xef\xbf\xbd!"},
	    {"caf\xe9!", true, "caf\xef\xbf\xbd!"},
	    {"\xc2\x85next\xe2\x80\xa8line", false, "next line"},
	    {"\xc2\x85next\xe2\x80\xa8line", true, "next\xe2\x80\xa8line"},
	    {"\xed\xa0\x80s", false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbds"},
	    {"\xc0\xaf", true, "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"cut \xe2\x9c", false, "cut \xef\xbf\xbd\xef\xbf\xbd"},
	    {"", false, ""},
	    {"", true, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *c = cases[i].memo ? sb_clean_memo(cases[i].in)
					: sb_clean_text(cases[i].in);
		ck_assert_ptr_nonnull(c);
		ck_assert_msg(strcmp(c, cases[i].want) == 0, "case %zu: %s", i,
			      c);
		ck_assert(
		    sb_type_check(cases[i].memo ? SB_TYPE_MEMO : SB_TYPE_TEXT,
				  c, NULL, NULL));
		free(c);
	}
	ck_assert_ptr_null(sb_clean_text(NULL));
	ck_assert_ptr_null(sb_clean_memo(NULL));
}
END_TEST

START_TEST(test_clean_file_name_and_type)
{
	struct {
		const char *in, *want;
	} names[] = {
	    {"report.pdf", "report.pdf"},
	    {"../../etc/passwd", ".._.._etc_passwd"},
	    {"a\\b", "a_b"},
	    {".", "_"},
	    {"..", "_."},
	    {"two\nlines", "two lines"},
	    {"bad\xff.txt", "bad\xef\xbf\xbd.txt"},
	    {"", ""},
	    {NULL, ""},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char *c = sb_clean_file_name(names[i].in);
		ck_assert_ptr_nonnull(c);
		ck_assert_msg(strcmp(c, names[i].want) == 0, "name %zu: %s", i,
			      c);
		free(c);
	}
	/* cut to 255 bytes, never inside a character */
	char lng[400] = "";
	for (int i = 0; i < 127; i++)
		strcat(lng, "\xc3\xa9"); /* 254 bytes */
	strcat(lng, "\xc3\xa9xyz");
	char *c = sb_clean_file_name(lng);
	ck_assert_uint_eq(strlen(c), 254);
	ck_assert(sb_utf8_valid(c, strlen(c)));
	free(c);

	struct {
		const char *in, *want;
	} types[] = {
	    {"text/plain", "text/plain"},
	    {"text/plain; charset=utf-8", "text/plain; charset=utf-8"},
	    {"image/png\r\nX-Evil: 1", "application/octet-stream"},
	    {"noslash", "application/octet-stream"},
	    {"/png", "application/octet-stream"},
	    {"image/", "application/octet-stream"},
	    {"t\xc3\xa9xt/plain", "application/octet-stream"},
	    {"", "application/octet-stream"},
	    {NULL, "application/octet-stream"},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		c = sb_clean_content_type(types[i].in);
		ck_assert_ptr_nonnull(c);
		ck_assert_msg(strcmp(c, types[i].want) == 0, "type %zu: %s", i,
			      c);
		free(c);
	}
	char longtype[300];
	memset(longtype, 'a', sizeof longtype - 1);
	longtype[sizeof longtype - 1] = '\0';
	longtype[5] = '/';
	c = sb_clean_content_type(longtype);
	ck_assert_str_eq(c, "application/octet-stream");
	free(c);
}
END_TEST

START_TEST(test_result_clean_in_a_call)
{
	struct sb_testhost *th = open_up();
	const char *in[] = {"Odd=true", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Up", "Fetch", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Text"), "ab\xef\xbf\xbd c");
	ck_assert_str_eq(sb_testhost_text(r, 0, "Body"),
			 "l1\r\nl2\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_ptr_null(sb_testhost_cell(r, 0, "Note"));
	sb_testhost_run_free(r);
	sb_testhost_free(th);
}
END_TEST

/* ---- PowerShell quoting
 * --------------------------------------------------------- */

static void quote_ok(const char *in, const char *want)
{
	size_t len = in ? strlen(in) : 0;
	struct sb_buf b;
	sb_buf_init(&b, 0);
	struct sb_error err = {0};
	ck_assert_int_eq(sb_ps_quote(&b, in, len, &err), SB_OK);
	ck_assert_str_eq(b.data, want);
	sb_buf_free(&b);
}

START_TEST(test_ps_quote)
{
	quote_ok("", "''");
	quote_ok(NULL, "''");
	quote_ok("plain text", "'plain text'");
	quote_ok("$(rm -r /); `n \"x\"", "'$(rm -r /); `n \"x\"'");
	quote_ok("'", "''''");
	quote_ok("\xe2\x80\x98", "'\xe2\x80\x98\xe2\x80\x98'");
	quote_ok("\xe2\x80\x99", "'\xe2\x80\x99\xe2\x80\x99'");
	quote_ok("\xe2\x80\x9a", "'\xe2\x80\x9a\xe2\x80\x9a'");
	quote_ok("\xe2\x80\x9b", "'\xe2\x80\x9b\xe2\x80\x9b'");
	/* neighbours that are not quotes stay single */
	quote_ok("\xe2\x80\x9c\xe2\x80\x97", "'\xe2\x80\x9c\xe2\x80\x97'");
	quote_ok("O'Brien\xe2\x80\x99s \xe2\x80\x98x\xe2\x80\x9a''",
		 "'O''Brien\xe2\x80\x99\xe2\x80\x99s \xe2\x80\x98\xe2\x80\x98x"
		 "\xe2\x80\x9a\xe2\x80\x9a'''''");
	quote_ok("line\r\nbreak\tand caf\xc3\xa9",
		 "'line\r\nbreak\tand caf\xc3\xa9'");

	/* appends after what b holds; refusals leave b as it was */
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "Get-Mailbox -Identity ");
	struct sb_error err = {0};
	ck_assert_int_eq(sb_ps_quote(&b, "a'b", 3, &err), SB_OK);
	ck_assert_str_eq(b.data, "Get-Mailbox -Identity 'a''b'");
	size_t was = b.len;
	ck_assert_int_eq(sb_ps_quote(&b, "a\0b", 3, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(err.message, "NUL") &&
			  strstr(err.message, "offset 1"),
		      "%s", err.message);
	ck_assert_uint_eq(b.len, was);
	ck_assert_int_eq(sb_ps_quote(&b, "ok\xff", 3, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(err.message, "UTF-8") &&
			  strstr(err.message, "offset 2"),
		      "%s", err.message);
	ck_assert_int_eq(sb_ps_quote(&b, "\xed\xa0\x80", 3, &err),
			 SB_ERR_INVALID_INPUT); /* a surrogate */
	ck_assert_int_eq(sb_ps_quote(&b, "\xe2\x80", 2, &err),
			 SB_ERR_INVALID_INPUT); /* cut quote character */
	ck_assert_str_eq(b.data, "Get-Mailbox -Identity 'a''b'");
	ck_assert_uint_eq(b.len, was);
	sb_buf_free(&b);

	/* a full buffer is internal, and leaves it as it was */
	sb_buf_init(&b, 8);
	sb_buf_puts(&b, "x");
	ck_assert_int_eq(sb_ps_quote(&b, "''''''", 6, &err), SB_ERR_INTERNAL);
	sb_buf_free(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sdk_util");
	TCase *t = tcase_create("sleep");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_sleep_plain);
	tcase_add_test(t, test_sleep_in_call);
	tcase_add_test(t, test_sleep_cancelled);
	suite_add_tcase(s, t);
	t = tcase_create("backoff");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_backoff_basics);
	tcase_add_test(t, test_backoff_throttles_without_upstream);
	tcase_add_test(t, test_backoff_waits_within_deadline);
	tcase_add_test(t, test_backoff_wait_cancelled);
	suite_add_tcase(s, t);
	t = tcase_create("page_token");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_siphash_vectors);
	tcase_add_test(t, test_page_token_round_trip);
	tcase_add_test(t, test_page_token_binding);
	tcase_add_loop_test(t, test_page_token_tampered, 0, 3);
	suite_add_tcase(s, t);
	t = tcase_create("text");
	tcase_add_test(t, test_clean_text_memo);
	tcase_add_test(t, test_clean_file_name_and_type);
	tcase_add_test(t, test_result_clean_in_a_call);
	tcase_add_test(t, test_ps_quote);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
