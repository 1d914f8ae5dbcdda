/* Unit tests of the SDK's HTTP client (<svcbroker/http.h>): against a
 * loopback mock server (tests/mock/http_server.py, plain and TLS with a
 * certificate made here with openssl), and through the replaceable
 * transport from fixture files (tests/unit/http/).  A small broker defined
 * here includes the shared key fragment and runs in the SDK's test host,
 * which lends the host (log, deadline, cancellation) and the calls. */
#include "config.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tmpdir.h"
#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/http.h>
#include <svcbroker/invoke.h>
#include <svcbroker/sdk.h>
#include <svcbroker/testhost.h>

#define BASIC_USER "alice"
#define BASIC_PASS "s3cret-Basic-pw" /* the mock server's */
#define BEARER_TOK "tok-9f8e7d6c5b4a"
#define HEADER_VAL "SharedKey acct:Zm9vYmFyc2lnbmF0dXJl"

/* ---- a broker on the shared key fragment ----------------------------------
 */

struct tconf {
	struct sb_http_conf http;
};

static const struct sb_config_key tkeys[] = {
    SB_CONF_INCLUDE("http", sb_http_keys, offsetof(struct tconf, http)),
    SB_CONF_END,
};

static enum sb_status t_validate(const void *config, struct sb_error *err)
{
	return sb_http_conf_check(&((const struct tconf *)config)->http, err);
}

static enum sb_status t_open(const struct sb_host *host, const void *config,
			     void **state, struct sb_error *err)
{
	struct sb_http *c =
	    sb_http_new(host, &((const struct tconf *)config)->http, err);
	*state = c;
	return c ? SB_OK : err->status;
}

static void t_close(void *state) { sb_http_free(state); }

/* Resource.Get: GET (or Method) the configured url + Path; a row with the
 * status and the body. */
static enum sb_status t_get(void *state, const struct sb_call *call,
			    struct sb_result *r, struct sb_error *err)
{
	const char *body = sb_call_str(call, "Body", NULL);
	struct sb_http_request q = {
	    .method = sb_call_str(call, "Method", NULL),
	    .path = sb_call_str(call, "Path", NULL),
	    .bearer = sb_call_str(call, "Bearer", NULL),
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .content_type = body ? "text/plain" : NULL,
	};
	struct sb_http_response rs;
	enum sb_status st = sb_http_perform(state, call, &q, &rs, err);
	if (st == SB_OK)
		st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_int(r, "Status", rs.status);
	if (st == SB_OK)
		st = sb_result_str(r, "Body", rs.body);
	sb_http_response_free(&rs);
	return st;
}

static const struct sb_property tprops[] = {
    {.name = "Status", .type = SB_TYPE_NUMBER, .doc = "HTTP status."},
    {.name = "Body", .type = SB_TYPE_MEMO, .doc = "The body."},
    SB_PROPERTY_END,
};
static const struct sb_param tin[] = {
    {.name = "Path",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .doc = "Path."},
    {.name = "Method", .type = SB_TYPE_TEXT, .doc = "Method."},
    {.name = "Body", .type = SB_TYPE_MEMO, .doc = "Body."},
    {.name = "Bearer", .type = SB_TYPE_TEXT, .doc = "Token."},
    SB_PARAM_END,
};
static const char *const tret[] = {"Status", "Body", NULL};
static const struct sb_method tmethods[] = {
    {.name = "Get",
     .kind = SB_KIND_EXECUTE,
     .handler = t_get,
     .doc = "Fetch.",
     .inputs = tin,
     .returns = tret},
    SB_METHOD_END,
};
static const struct sb_object tobjects[] = {
    {.name = "Resource",
     .doc = "A resource.",
     .properties = tprops,
     .methods = tmethods},
    SB_OBJECT_END,
};

static const struct sb_broker tbroker = {
    SB_BROKER_HEADER,	    .name = "httptest",
    .version = "1",	    .summary = "HTTP client tests.",
    .config = tkeys,	    .config_size = sizeof(struct tconf),
    .objects = tobjects,    .open = t_open,
    .validate = t_validate, .close = t_close,
};

/* ---- the mock servers --------------------------------------------------- */

static char tmpdir[160];
static char cert[256], key[256];
static int port, tls_port;
static pid_t srv, tls_srv;

static pid_t start_server(const char *name, bool tls, int *out_port)
{
	char pf[256];
	snprintf(pf, sizeof(pf), "%s/%s.port", tmpdir, name);
	char script[512];
	snprintf(script, sizeof(script), "%s/tests/mock/http_server.py",
		 SB_TOP_SRCDIR);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (tls)
			execl("/usr/bin/python3", "python3", script,
			      "--port-file", pf, "--cert", cert, "--key", key,
			      (char *)NULL);
		else
			execl("/usr/bin/python3", "python3", script,
			      "--port-file", pf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) { /* 10 s */
		FILE *f = fopen(pf, "r");
		if (f) {
			int ok = fscanf(f, "%d", out_port);
			fclose(f);
			if (ok == 1)
				return pid;
		}
		usleep(50000);
	}
	kill(pid, SIGTERM);
	ck_abort_msg("mock HTTP server %s did not start", name);
	return -1;
}

static void servers_up(void)
{
	make_tmp_dir(tmpdir, sizeof(tmpdir), "sb-test-http.");
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
		 "/CN=localhost -addext "
		 "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s -out "
		 "%s >/dev/null 2>&1",
		 key, cert);
	ck_assert_int_eq(system(cmd), 0);
	srv = start_server("plain", false, &port);
	tls_srv = start_server("tls", true, &tls_port);
}

static void servers_down(void)
{
	pid_t pids[] = {srv, tls_srv};
	for (size_t i = 0; i < 2; i++) {
		if (pids[i] <= 0)
			continue;
		kill(pids[i], SIGTERM);
		waitpid(pids[i], NULL, 0);
	}
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* ---- helpers --------------------------------------------------------------
 */

static struct sb_testhost *open_with(const char *const *kv)
{
	struct sb_error err;
	struct sb_testhost *th = sb_testhost_new(&tbroker, "web", &err);
	ck_assert_msg(th, "%s", err.message);
	ck_assert_msg(sb_testhost_config(th, kv, &err) == SB_OK, "%s",
		      err.message);
	ck_assert_msg(sb_testhost_open(th, &err) == SB_OK, "%s", err.message);
	return th;
}

static char url_kv[128], tls_url_kv[128], ca_kv[300];

static struct sb_testhost *open_plain(const char *k1, const char *k2,
				      const char *k3)
{
	snprintf(url_kv, sizeof(url_kv), "url=http://127.0.0.1:%d", port);
	const char *kv[] = {url_kv, k1, k2, k3, NULL};
	return open_with(kv);
}

/* One request on the open instance's client, within a call of the test
 * host (its deadline: sb_testhost_set_timeout). */
static enum sb_status perform(struct sb_testhost *th,
			      const struct sb_http_request *q,
			      struct sb_http_response *rs, struct sb_error *err)
{
	const char *in[] = {"Path=/", NULL};
	struct sb_error e2;
	struct sb_call *call =
	    sb_testhost_call_new(th, "Resource", "Get", in, NULL, &e2);
	ck_assert_msg(call, "%s", e2.message);
	sb_error_clear(err);
	enum sb_status st =
	    sb_http_perform(sb_testhost_state(th), call, q, rs, err);
	sb_call_free(call);
	return st;
}

static enum sb_status get(struct sb_testhost *th, const char *path,
			  struct sb_http_response *rs, struct sb_error *err)
{
	struct sb_http_request q = {.path = path};
	return perform(th, &q, rs, err);
}

static int64_t server_connections(void)
{
	struct sb_testhost *th = open_plain(NULL, NULL, NULL);
	struct sb_http_response rs;
	struct sb_error err;
	ck_assert_int_eq(get(th, "/stats", &rs, &err), SB_OK);
	const char *p = strstr(rs.body, "\"connections\": ");
	ck_assert_ptr_nonnull(p);
	int64_t n = strtoll(p + 15, NULL, 10);
	sb_http_response_free(&rs);
	sb_testhost_free(th);
	return n;
}

/* No log line of th contains any of the secrets. */
static void assert_log_clean(struct sb_testhost *th, const char *const *sec)
{
	size_t n = sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL);
	ck_assert_uint_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		const char *l = sb_testhost_log_line(th, i, NULL);
		for (size_t k = 0; sec[k]; k++)
			ck_assert_msg(!strstr(l, sec[k]),
				      "log line %zu has secret %s: %s", i,
				      sec[k], l);
	}
}

/* ---- requests --------------------------------------------------------------
 */

START_TEST(test_get_and_post)
{
	struct sb_testhost *th = open_plain(NULL, NULL, NULL);
	struct sb_http_response rs;
	struct sb_error err;
	ck_assert_int_eq(get(th, "/hello", &rs, &err), SB_OK);
	ck_assert_int_eq(rs.status, 200);
	ck_assert_str_eq(rs.reason, "OK");
	ck_assert_str_eq(rs.body, "hello");
	ck_assert_uint_eq(rs.body_len, 5);
	ck_assert_str_eq(sb_http_header(&rs, "content-type"),
			 "text/plain; charset=utf-8");
	sb_http_response_free(&rs);

	const char *hdr[] = {"X-Custom: one two", "Accept: application/json",
			     NULL};
	const char body[] = "line one\r\nline two";
	struct sb_http_request q = {.method = "POST",
				    .path = "/echo",
				    .headers = hdr,
				    .body = body,
				    .body_len = sizeof(body) - 1,
				    .content_type = "text/xml; charset=utf-8"};
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(strstr(rs.body, "\"method\": \"POST\""));
	ck_assert_ptr_nonnull(strstr(rs.body, "\"x-custom\": \"one two\""));
	ck_assert_ptr_nonnull(
	    strstr(rs.body, "\"accept\": \"application/json\""));
	ck_assert_ptr_nonnull(
	    strstr(rs.body, "\"content-type\": \"text/xml; charset=utf-8\""));
	ck_assert_ptr_nonnull(
	    strstr(rs.body, "\"body\": \"line one\\r\\nline two\""));
	ck_assert_ptr_null(strstr(rs.body, "\"expect\""));
	ck_assert_ptr_nonnull(strstr(rs.body, "svcbroker/"));
	sb_http_response_free(&rs);

	q.method = "PUT";
	q.url = NULL;
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(strstr(rs.body, "\"method\": \"PUT\""));
	sb_http_response_free(&rs);

	/* DELETE without a body sends no body headers */
	struct sb_http_request qd = {.method = "DELETE", .path = "/echo"};
	ck_assert_int_eq(perform(th, &qd, &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(strstr(rs.body, "\"method\": \"DELETE\""));
	ck_assert_ptr_null(strstr(rs.body, "content-length"));
	ck_assert_ptr_null(strstr(rs.body, "content-type"));
	sb_http_response_free(&rs);

	/* an absolute URL (a next-page link) instead of url + path */
	char abs[128];
	snprintf(abs, sizeof(abs), "http://127.0.0.1:%d/hello", port);
	struct sb_http_request qa = {.url = abs};
	ck_assert_int_eq(perform(th, &qa, &rs, &err), SB_OK);
	ck_assert_str_eq(rs.body, "hello");
	sb_http_response_free(&rs);

	/* a request the client refuses to build */
	const char *bad[] = {"X-Bad: a\r\nInjected: b", NULL};
	struct sb_http_request qb = {.path = "/hello", .headers = bad};
	ck_assert_int_eq(perform(th, &qb, &rs, &err), SB_ERR_INTERNAL);
	ck_assert_ptr_nonnull(strstr(err.message, "header 1"));
	sb_http_response_free(&rs);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_keepalive_reuse)
{
	int64_t before = server_connections();
	struct sb_testhost *th = open_plain(NULL, NULL, NULL);
	struct sb_http_response rs;
	struct sb_error err;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(get(th, "/hello", &rs, &err), SB_OK);
		ck_assert_int_eq(rs.new_connections, i == 0 ? 1 : 0);
		sb_http_response_free(&rs);
	}
	/* a POST too, on the same connection */
	struct sb_http_request q = {
	    .method = "POST", .path = "/echo", .body = "x", .body_len = 1};
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_OK);
	ck_assert_int_eq(rs.new_connections, 0);
	sb_http_response_free(&rs);
	sb_testhost_free(th);
	/* five requests and a POST made one connection (and the two
	 * /stats clients one each) */
	ck_assert_int_eq(server_connections(), before + 2);
}
END_TEST

START_TEST(test_basic_auth)
{
	struct sb_testhost *th = open_plain(
	    "auth=basic", "username=" BASIC_USER, "password=" BASIC_PASS);
	struct sb_http_response rs;
	struct sb_error err;
	ck_assert_msg(get(th, "/basic", &rs, &err) == SB_OK, "%s", err.message);
	ck_assert_str_eq(rs.body, "welcome");
	sb_http_response_free(&rs);
	ck_assert_uint_gt(
	    sb_testhost_log_find(th, SB_LOG_DEBUG,
				 "http > Authorization: Basic ***"),
	    0);
	const char *sec[] = {BASIC_PASS, "YWxpY2U6czNjcmV0LUJhc2ljLXB3", NULL};
	assert_log_clean(th, sec);
	sb_testhost_free(th);

	th = open_plain("auth=basic", "username=" BASIC_USER,
			"password=wrong-Pass-77");
	ck_assert_int_eq(get(th, "/basic", &rs, &err), SB_ERR_UPSTREAM_AUTH);
	ck_assert_str_eq(err.code, "http_401");
	ck_assert_int_eq(rs.status, 401);
	ck_assert_msg(strstr(err.message, "auth = basic") &&
			  strstr(err.message, "it offers Basic"),
		      "%s", err.message);
	ck_assert_ptr_null(strstr(err.message, "wrong-Pass-77"));
	sb_http_response_free(&rs);
	sb_testhost_free(th);
}
END_TEST

/* The instance's credentials go to its configured server only: an
 * absolute URL elsewhere (a next-page link from a hostile server) is
 * refused before anything is sent, and a path cannot name another host. */
START_TEST(test_credentials_stay_home)
{
	struct sb_testhost *th = open_plain(
	    "auth=basic", "username=" BASIC_USER, "password=" BASIC_PASS);
	struct sb_http_response rs;
	struct sb_error err;
	char same[128], other_port[128], other_host[128], plain[128];
	snprintf(same, sizeof(same), "http://127.0.0.1:%d/basic", port);
	snprintf(other_port, sizeof(other_port), "http://127.0.0.1:%d/basic",
		 port == 65535 ? 1 : port + 1);
	snprintf(other_host, sizeof(other_host), "http://127.0.0.2:%d/basic",
		 port);
	snprintf(plain, sizeof(plain), "https://127.0.0.1:%d/basic", port);
	struct sb_http_request q = {.url = same};
	ck_assert_msg(perform(th, &q, &rs, &err) == SB_OK, "%s", err.message);
	ck_assert_str_eq(rs.body, "welcome");
	sb_http_response_free(&rs);
	const char *foreign[] = {other_port, other_host, plain};
	for (size_t i = 0; i < 3; i++) {
		q.url = foreign[i];
		ck_assert_int_eq(perform(th, &q, &rs, &err), SB_ERR_UPSTREAM);
		ck_assert_str_eq(err.code, "foreign_url");
		ck_assert_int_eq(rs.status, 0);
		ck_assert_ptr_null(strstr(err.message, BASIC_PASS));
		sb_http_response_free(&rs);
	}
	/* a request that brings its own credentials decides for itself */
	struct sb_http_request own = {.url = other_port, .bearer = "tok-1"};
	perform(th, &own, &rs,
		&err); /* refused or answered: whatever is there */
	ck_assert_str_ne(err.code, "foreign_url");
	sb_http_response_free(&rs);
	/* paths that would change the host, or carry control bytes */
	const char *bad[] = {"@127.0.0.2/basic",
			     ".evil.example/x",
			     "basic",
			     "/a\\b",
			     "/a\rb",
			     "/x@y"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(get(th, bad[i], &rs, &err), SB_ERR_INTERNAL);
		ck_assert_int_eq(rs.status, 0);
		sb_http_response_free(&rs);
	}
	const char *sec[] = {BASIC_PASS, NULL};
	assert_log_clean(th, sec);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_bearer_header_custom)
{
	struct sb_testhost *th =
	    open_plain("auth=bearer", "password=" BEARER_TOK, NULL);
	struct sb_http_response rs;
	struct sb_error err;
	ck_assert_int_eq(get(th, "/echo", &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(
	    strstr(rs.body, "\"authorization\": \"Bearer " BEARER_TOK "\""));
	sb_http_response_free(&rs);
	/* a request's own token (OAuth2) replaces the configured one */
	struct sb_http_request q = {.path = "/echo",
				    .bearer = "per-call-TOKEN-1"};
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(
	    strstr(rs.body, "\"authorization\": \"Bearer per-call-TOKEN-1\""));
	ck_assert_ptr_null(strstr(rs.body, BEARER_TOK));
	sb_http_response_free(&rs);
	const char *sec[] = {BEARER_TOK, "per-call-TOKEN-1", NULL};
	/* the echo body carries the tokens: the transcript must not */
	assert_log_clean(th, sec);
	ck_assert_uint_gt(
	    sb_testhost_log_find(th, SB_LOG_DEBUG, "Authorization: Bearer ***"),
	    0);
	sb_testhost_free(th);

	th = open_plain("auth=header", "password=" HEADER_VAL, NULL);
	ck_assert_int_eq(get(th, "/echo", &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(
	    strstr(rs.body, "\"authorization\": \"" HEADER_VAL "\""));
	sb_http_response_free(&rs);
	const char *sec2[] = {HEADER_VAL, "Zm9vYmFyc2lnbmF0dXJl", NULL};
	assert_log_clean(th, sec2);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_tls_verify)
{
	struct sb_http_response rs;
	struct sb_error err;
	snprintf(tls_url_kv, sizeof(tls_url_kv), "url=https://127.0.0.1:%d",
		 tls_port);
	const char *kv[] = {tls_url_kv, NULL};
	struct sb_testhost *th = open_with(kv);
	ck_assert_int_eq(get(th, "/hello", &rs, &err), SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "tls_verify");
	ck_assert_msg(strstr(err.message, "certificate"), "%s", err.message);
	ck_assert_int_eq(rs.status, 0);
	sb_http_response_free(&rs);
	sb_testhost_free(th);

	snprintf(ca_kv, sizeof(ca_kv), "ca_file=%s", cert);
	const char *kv2[] = {tls_url_kv, ca_kv, NULL};
	th = open_with(kv2);
	ck_assert_msg(get(th, "/hello", &rs, &err) == SB_OK, "%s", err.message);
	ck_assert_str_eq(rs.body, "hello");
	sb_http_response_free(&rs);
	sb_testhost_free(th);

	/* the certificate names 127.0.0.1 and localhost, not this one */
	char other[128];
	snprintf(other, sizeof(other), "url=https://127.0.0.2:%d", tls_port);
	const char *kv3[] = {other, ca_kv, NULL};
	th = open_with(kv3);
	enum sb_status st = get(th, "/hello", &rs, &err);
	/* 127.0.0.2 may not answer at all where loopback is 127.0.0.1 only */
	if (st != SB_ERR_UNAVAILABLE) {
		ck_assert_int_eq(st, SB_ERR_UPSTREAM);
		ck_assert_str_eq(err.code, "tls_verify");
	}
	sb_http_response_free(&rs);
	sb_testhost_free(th);

	const char *kv4[] = {tls_url_kv, "verify_tls=no", NULL};
	th = open_with(kv4);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_WARN, "verify_tls"),
			  1);
	ck_assert_int_eq(get(th, "/hello", &rs, &err), SB_OK);
	sb_http_response_free(&rs);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_gzip_and_caps)
{
	struct sb_testhost *th =
	    open_plain("max_response_size=1MiB", NULL, NULL);
	struct sb_http_response rs;
	struct sb_error err;
	ck_assert_int_eq(get(th, "/gzip", &rs, &err), SB_OK);
	ck_assert_uint_eq(rs.body_len, 17 * 100);
	ck_assert_int_eq(strncmp(rs.body, "compressed hello compressed", 27),
			 0);
	sb_http_response_free(&rs);

	/* 256 MiB of zeros, 256 KiB on the wire: stopped at the cap */
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(get(th, "/bomb?mb=256", &rs, &err), SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "response_too_large");
	ck_assert_msg(strstr(err.message, "max_response_size"), "%s",
		      err.message);
	ck_assert_int_lt(sb_now_ms() - t0, 10000);
	ck_assert_ptr_null(rs.body);
	sb_http_response_free(&rs);

	/* exactly the cap passes, one byte more does not */
	struct sb_http_request q = {.path = "/big?n=4096",
				    .max_response = 4096};
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_OK);
	ck_assert_uint_eq(rs.body_len, 4096);
	sb_http_response_free(&rs);
	q.path = "/big?n=4097";
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "response_too_large");
	sb_http_response_free(&rs);
	/* the client is still fine */
	ck_assert_int_eq(get(th, "/hello", &rs, &err), SB_OK);
	sb_http_response_free(&rs);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_status_mapping)
{
	struct sb_testhost *th = open_plain(NULL, NULL, NULL);
	struct sb_http_response rs;
	struct sb_error err;
	static const struct {
		const char *path;
		enum sb_status st;
		const char *code;
		int64_t retry;
	} cases[] = {
	    {"/status/401", SB_ERR_UPSTREAM_AUTH, "http_401", 0},
	    {"/status/403", SB_ERR_UPSTREAM_DENIED, "http_403", 0},
	    {"/status/404", SB_ERR_NOT_FOUND, "http_404", 0},
	    {"/status/409", SB_ERR_CONFLICT, "http_409", 0},
	    {"/status/429?retry=7", SB_ERR_THROTTLED, "http_429", 7000},
	    {"/status/503", SB_ERR_UNAVAILABLE, "http_503", 5000},
	    {"/status/503?retry=120", SB_ERR_UNAVAILABLE, "http_503", 120000},
	    {"/status/502", SB_ERR_UPSTREAM, "http_502", 0},
	    {"/status/302", SB_ERR_UPSTREAM, "http_302", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(get(th, cases[i].path, &rs, &err),
				 cases[i].st);
		ck_assert_str_eq(err.code, cases[i].code);
		ck_assert_int_eq(err.retry_after_ms, cases[i].retry);
		ck_assert_int_eq(rs.status, atoi(cases[i].code + 5));
		sb_http_response_free(&rs);
	}
	ck_assert_int_eq(get(th, "/status/401", &rs, &err),
			 SB_ERR_UPSTREAM_AUTH);
	ck_assert_msg(strstr(err.message, "it offers Negotiate"), "%s",
		      err.message);
	sb_http_response_free(&rs);

	/* a SOAP fault comes with 500: the broker gets status and body */
	ck_assert_int_eq(get(th, "/status/500?soap=1", &rs, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "http_500");
	ck_assert_msg(strstr(err.message, "HTTP 500 Internal Server Error") &&
			  strstr(err.message, "The mailbox is not valid."),
		      "%s", err.message);
	ck_assert_int_eq(rs.status, 500);
	ck_assert_ptr_nonnull(strstr(rs.body, "<s:Fault>"));
	ck_assert_str_eq(sb_http_header(&rs, "Content-Type"),
			 "text/xml; charset=utf-8");
	sb_http_response_free(&rs);

	/* a long text body is quoted only in part */
	char path[2200];
	int n = snprintf(path, sizeof(path), "/status/500?text=");
	for (int i = 0; i < 1500; i++)
		path[n++] = 'a' + (i % 26);
	path[n] = '\0';
	ck_assert_int_eq(get(th, path, &rs, &err), SB_ERR_UPSTREAM);
	ck_assert_uint_lt(strlen(err.message), 320);
	ck_assert_uint_eq(rs.body_len, 1500);
	sb_http_response_free(&rs);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_deadline)
{
	struct sb_testhost *th = open_plain(NULL, NULL, NULL);
	sb_testhost_set_timeout(th, 2000);
	struct sb_http_response rs;
	struct sb_error err;
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(get(th, "/slow?s=10", &rs, &err), SB_ERR_TIMEOUT);
	int64_t took = sb_now_ms() - t0;
	/* the broker's answer comes before the host's own 504 */
	ck_assert_int_lt(took, 2000);
	ck_assert_int_ge(took, 1500);
	ck_assert_msg(strstr(err.message, "did not answer within"), "%s",
		      err.message);
	sb_http_response_free(&rs);

	/* request_timeout bounds one request below the deadline */
	sb_testhost_free(th);
	th = open_plain("request_timeout=500ms", NULL, NULL);
	t0 = sb_now_ms();
	ck_assert_int_eq(get(th, "/slow?s=10", &rs, &err), SB_ERR_TIMEOUT);
	ck_assert_int_lt(sb_now_ms() - t0, 1500);
	sb_http_response_free(&rs);
	sb_testhost_free(th);
}
END_TEST

struct cancel_run {
	struct sb_testhost *th;
	struct sb_testhost_run *r;
	int64_t took;
};

static void *run_slow(void *ud)
{
	struct cancel_run *c = ud;
	const char *in[] = {"Path=/slow?s=10", NULL};
	int64_t t0 = sb_now_ms();
	c->r = sb_testhost_run(c->th, "Resource", "Get", in, NULL);
	c->took = sb_now_ms() - t0;
	return NULL;
}

START_TEST(test_cancel)
{
	struct cancel_run c = {.th = open_plain(NULL, NULL, NULL)};
	sb_testhost_set_timeout(c.th, 30000);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, run_slow, &c), 0);
	usleep(300000);
	sb_testhost_cancel(c.th);
	pthread_join(t, NULL);
	ck_assert_ptr_nonnull(c.r);
	ck_assert(c.r->ran);
	ck_assert_int_eq(c.r->status, SB_ERR_TIMEOUT);
	ck_assert_msg(strstr(c.r->err.message, "abandoned"), "%s",
		      c.r->err.message);
	/* libcurl asks the progress callback at least once a second */
	ck_assert_int_lt(c.took, 2500);
	sb_testhost_run_free(c.r);
	sb_testhost_free(c.th);
}
END_TEST

START_TEST(test_connection_failures)
{
	struct sb_testhost *th = open_plain(NULL, NULL, NULL);
	struct sb_http_response rs;
	struct sb_error err;
	ck_assert_int_eq(get(th, "/close", &rs, &err), SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "connection_closed");
	sb_http_response_free(&rs);
	struct sb_http_request q = {.method = "POST", .path = "/partial"};
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "connection_closed");
	ck_assert_msg(strstr(err.message, "may or may not"), "%s", err.message);
	ck_assert_int_eq(rs.status, 0);
	sb_http_response_free(&rs);
	/* the next request gets a new connection */
	ck_assert_int_eq(get(th, "/hello", &rs, &err), SB_OK);
	ck_assert_int_eq(rs.new_connections, 1);
	sb_http_response_free(&rs);
	sb_testhost_free(th);

	/* nobody listens: a port just freed */
	int free_port = 0;
	{
		char pf[256];
		snprintf(pf, sizeof(pf), "gone");
		pid_t p = start_server(pf, false, &free_port);
		kill(p, SIGTERM);
		waitpid(p, NULL, 0);
	}
	char kv[64];
	snprintf(kv, sizeof(kv), "url=http://127.0.0.1:%d", free_port);
	const char *kvs[] = {kv, NULL};
	th = open_with(kvs);
	ck_assert_int_eq(get(th, "/hello", &rs, &err), SB_ERR_UNAVAILABLE);
	ck_assert_msg(strstr(err.message, "cannot reach"), "%s", err.message);
	sb_http_response_free(&rs);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_transcript_redacted)
{
	struct sb_testhost *th = open_plain(
	    "auth=basic", "username=" BASIC_USER, "password=" BASIC_PASS);
	struct sb_http_response rs;
	struct sb_error err;
	/* a body quoting the password (a server echoing it, say) */
	const char body[] = "<x>user " BASIC_USER " pw " BASIC_PASS "</x>";
	const char *hdr[] = {"Cookie: session=c00kie-VALUE",
			     "X-Api-Key: k3y-VALUE", NULL};
	struct sb_http_request q = {.method = "POST",
				    .path = "/echo",
				    .headers = hdr,
				    .body = body,
				    .body_len = sizeof(body) - 1,
				    .content_type = "application/xml"};
	ck_assert_int_eq(perform(th, &q, &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(strstr(rs.body, BASIC_PASS)); /* it was sent */
	sb_http_response_free(&rs);
	/* with SB_HTTP_SECRET_BODY no body is shown at all */
	struct sb_http_request qs = q;
	qs.flags = SB_HTTP_SECRET_BODY;
	qs.body = "client_secret=Sup3rSecretValue";
	qs.body_len = strlen(qs.body);
	ck_assert_int_eq(perform(th, &qs, &rs, &err), SB_OK);
	sb_http_response_free(&rs);
	const char *sec[] = {BASIC_PASS,	 "YWxpY2U6czNjcmV0LUJhc2ljLXB3",
			     "c00kie-VALUE",	 "k3y-VALUE",
			     "Sup3rSecretValue", NULL};
	assert_log_clean(th, sec);
	/* and it is a transcript */
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_DEBUG,
					       "http > POST /echo HTTP/1.1"),
			  2);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_LOG_DEBUG, "http < HTTP/1.1 200 OK"),
	    2);
	ck_assert_uint_ge(sb_testhost_log_find(th, SB_LOG_DEBUG,
					       "http > | <x>user alice pw ***"),
			  1);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_DEBUG, "Cookie: ***"),
			  2);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_DEBUG, "not shown"),
			  2);
	/* nothing above debug but the warning about basic over http */
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_LOG_INFO) +
			      sb_testhost_log_count(th, SB_LOG_ERROR),
			  0);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_LOG_WARN), 1);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_LOG_WARN, "clear text"),
			  1);
	/* a body is cut at 4 KiB */
	sb_testhost_log_clear(th);
	ck_assert_int_eq(get(th, "/big?n=100000", &rs, &err), SB_OK);
	sb_http_response_free(&rs);
	size_t shown = 0, n = sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL);
	for (size_t i = 0; i < n; i++) {
		const char *l = sb_testhost_log_line(th, i, NULL);
		if (!strncmp(l, "http < | x", 10))
			shown += strlen(l) - 9;
	}
	ck_assert_uint_eq(shown, SB_HTTP_TRANSCRIPT_BODY_MAX);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_LOG_DEBUG, "100000 bytes in all"), 1);
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_ntlm_negotiate_chosen)
{
	/* no mock serves NTLM: check what libcurl is told, and that NTLM's
	 * first message goes out on the first request (it does only when
	 * NTLM is the one scheme allowed) and is redacted.  Negotiate runs
	 * against a real KDC in test_http_negotiate.py. */
	struct sb_testhost *th = open_plain("auth=ntlm", "username=CORP\\svc",
					    "password=Ntlm-Pa55word");
	ck_assert_uint_eq(sb_http_curl_auth(sb_testhost_state(th)),
			  CURLAUTH_NTLM);
	ck_assert_uint_ne(sb_http_curl_auth(sb_testhost_state(th)),
			  CURLAUTH_ANY);
	struct sb_http_response rs;
	struct sb_error err;
	ck_assert_int_eq(get(th, "/echo", &rs, &err), SB_OK);
	ck_assert_ptr_nonnull(
	    strstr(rs.body, "\"authorization\": \"NTLM TlRMTVNT"));
	sb_http_response_free(&rs);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_LOG_DEBUG, "Authorization: NTLM ***"),
	    1);
	const char *sec[] = {"Ntlm-Pa55word", NULL};
	assert_log_clean(th, sec);
	sb_testhost_free(th);

	th = open_plain("auth=negotiate", NULL, NULL);
	ck_assert_uint_eq(sb_http_curl_auth(sb_testhost_state(th)),
			  CURLAUTH_NEGOTIATE);
	sb_testhost_free(th);
	th = open_plain("auth=basic", "username=a", "password=b");
	ck_assert_uint_eq(sb_http_curl_auth(sb_testhost_state(th)), 0);
	sb_testhost_free(th);
}
END_TEST

/* ---- configuration ------------------------------------------------------- */

static void assert_refused(const char *const *kv, const char *needle)
{
	struct sb_error err;
	struct sb_testhost *th = sb_testhost_new(&tbroker, "web", &err);
	ck_assert_int_ne(sb_testhost_config(th, kv, &err), SB_OK);
	ck_assert_msg(strstr(err.message, needle), "'%s' not in: %s", needle,
		      err.message);
	ck_assert_ptr_null(strstr(err.message, "Secr3tValue"));
	sb_testhost_free(th);
}

START_TEST(test_config_keys)
{
	const char *a[] = {"url=https://h.example/EWS", "auth=basic",
			   "password=Secr3tValue", NULL};
	assert_refused(a, "username: required when auth = basic");
	const char *b[] = {"url=ftp://h.example/", NULL};
	assert_refused(b, "url");
	const char *c[] = {"url=https://h.example/", "auth=negotiate",
			   "password=Secr3tValue", NULL};
	assert_refused(c, "password: not used with auth = negotiate");
	const char *d[] = {"url=https://h.example/", "max_response_size=10",
			   NULL};
	assert_refused(d, "max_response_size");
	const char *e[] = {"url=https://u:Secr3tValue@h.example/", NULL};
	assert_refused(e, "url");
	const char *f[] = {"url=https://h.example/", "auth=kerberos", NULL};
	assert_refused(f, "auth");
	const char *g[] = {"auth=none", NULL};
	assert_refused(g, "url");
	const char *h[] = {"url=https://h.example/", "auth=bearer", NULL};
	assert_refused(h, "password: required when auth = bearer");

	/* defaults */
	struct sb_error err;
	struct sb_testhost *th = sb_testhost_new(&tbroker, "web", &err);
	const char *ok[] = {"url=https://h.example/EWS/Exchange.asmx", NULL};
	ck_assert_int_eq(sb_testhost_config(th, ok, &err), SB_OK);
	const struct tconf *tc = sb_testhost_config_data(th);
	ck_assert(tc->http.tls.verify_tls);
	ck_assert_ptr_null(tc->http.tls.ca_file);
	ck_assert_int_eq(tc->http.auth, SB_HTTP_AUTH_NONE);
	ck_assert_int_eq(tc->http.connect_timeout_ms, 10000);
	ck_assert_int_eq(tc->http.request_timeout_ms, 0);
	ck_assert_int_eq(tc->http.max_response_size, 32 * 1024 * 1024);
	sb_testhost_free(th);
}
END_TEST

/* ---- the replaceable transport ----------------------------------------------
 */

struct fixtures {
	char method[16];
	char url[256];
	char authz[256];
	size_t body_len;
	int64_t timeout_ms;
	int calls;
};

static enum sb_status from_fixture(void *ctx, const struct sb_http_wire *w,
				   struct sb_http_response *rs,
				   struct sb_error *err)
{
	struct fixtures *f = ctx;
	f->calls++;
	snprintf(f->method, sizeof(f->method), "%s", w->method);
	snprintf(f->url, sizeof(f->url), "%s", w->url);
	f->body_len = w->body_len;
	f->timeout_ms = w->timeout_ms;
	for (size_t i = 0; i < w->n_headers; i++)
		if (!strncmp(w->headers[i], "Authorization: ", 15))
			snprintf(f->authz, sizeof(f->authz), "%s",
				 w->headers[i] + 15);
	const char *name = strrchr(w->url, '/') + 1;
	if (!strcmp(name, "down"))
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot reach the server: refused");
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/unit/http/%s.http",
		 SB_TOP_SRCDIR, name);
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp, "no fixture %s", path);
	char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	return sb_http_response_parse(rs, buf, n, err);
}

/* A host of our own: counts its debug lines, and says whether debug
 * lines are wanted (log_enabled, ABI 2.1). */
static int lines_logged;
static bool debug_wanted;
static void count_log(const struct sb_host *host, enum sb_log_level level,
		      const char *fmt, ...) SB_PRINTF(3, 4);
static void count_log(const struct sb_host *host, enum sb_log_level level,
		      const char *fmt, ...)
{
	(void)host;
	(void)fmt;
	if (level == SB_LOG_DEBUG)
		lines_logged++;
}
static bool want_debug(const struct sb_host *host, enum sb_log_level level)
{
	(void)host;
	return level != SB_LOG_DEBUG || debug_wanted;
}

START_TEST(test_transcript_only_when_wanted)
{
	struct sb_host h = {.struct_size = sizeof(struct sb_host),
			    .instance = "web",
			    .broker = "t",
			    .log = count_log,
			    .log_enabled = want_debug};
	struct sb_http_conf conf = {.url = "https://graph.example/v1.0",
				    .tls = {.verify_tls = true},
				    .connect_timeout_ms = 1000,
				    .max_response_size = 1 << 20};
	struct sb_error err;
	struct sb_http *c = sb_http_new(&h, &conf, &err);
	ck_assert_msg(c != NULL, "%s", err.message);
	struct fixtures f;
	memset(&f, 0, sizeof(f));
	sb_http_set_transport(c, from_fixture, &f);
	struct sb_http_request rq = {.path = "/items_ok"};
	struct sb_http_response rs;
	for (int round = 0; round < 2; round++) {
		debug_wanted = round == 1;
		lines_logged = 0;
		ck_assert_int_eq(sb_http_perform(c, NULL, &rq, &rs, &err),
				 SB_OK);
		ck_assert_int_eq(rs.status, 200);
		sb_http_response_free(&rs);
		if (debug_wanted)
			ck_assert_int_gt(lines_logged, 2);
		else
			ck_assert_int_eq(lines_logged, 0);
	}
	/* a host older than 2.1 has no log_enabled: everything is wanted */
	h.struct_size = offsetof(struct sb_host, log_enabled);
	debug_wanted = false;
	lines_logged = 0;
	ck_assert(sb_log_enabled(&h, SB_LOG_DEBUG));
	ck_assert_int_eq(sb_http_perform(c, NULL, &rq, &rs, &err), SB_OK);
	sb_http_response_free(&rs);
	ck_assert_int_gt(lines_logged, 2);
	sb_http_free(c);
}
END_TEST

START_TEST(test_transport_fixtures)
{
	struct sb_testhost *th = open_with(
	    (const char *[]){"url=https://graph.example/v1.0", "auth=bearer",
			     "password=" BEARER_TOK, NULL});
	struct fixtures f;
	memset(&f, 0, sizeof(f));
	sb_http_set_transport(sb_testhost_state(th), from_fixture, &f);
	sb_testhost_set_timeout(th, 8000);

	const char *in[] = {"Path=/items_ok", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Resource", "Get", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_uint_eq(sb_testhost_rows(r), 1);
	int64_t status = 0;
	ck_assert(sb_testhost_int(r, 0, "Status", &status));
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(
	    strstr(sb_testhost_text(r, 0, "Body"), "Quarterly report"));
	sb_testhost_run_free(r);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_str_eq(f.method, "GET");
	ck_assert_str_eq(f.url, "https://graph.example/v1.0/items_ok");
	ck_assert_str_eq(f.authz, "Bearer " BEARER_TOK);
	/* the deadline less its margin */
	ck_assert_int_gt(f.timeout_ms, 6000);
	ck_assert_int_le(f.timeout_ms, 7200);

	const char *in2[] = {"Path=/soap_fault", "Method=POST", "Body=<x/>",
			     NULL};
	r = sb_testhost_run(th, "Resource", "Get", in2, NULL);
	ck_assert_int_eq(r->status, SB_ERR_UPSTREAM);
	ck_assert_str_eq(r->err.code, "http_500");
	ck_assert_msg(strstr(r->err.message, "has no mailbox associated"), "%s",
		      r->err.message);
	ck_assert_str_eq(f.method, "POST");
	ck_assert_uint_eq(f.body_len, 4);
	sb_testhost_run_free(r);

	const char *in3[] = {"Path=/throttled", NULL};
	r = sb_testhost_run(th, "Resource", "Get", in3, NULL);
	ck_assert_int_eq(r->status, SB_ERR_THROTTLED);
	ck_assert_int_eq(r->err.retry_after_ms, 12000);
	sb_testhost_run_free(r);

	const char *in4[] = {"Path=/down", NULL};
	r = sb_testhost_run(th, "Resource", "Get", in4, NULL);
	ck_assert_int_eq(r->status, SB_ERR_UNAVAILABLE);
	sb_testhost_run_free(r);

	/* the transcript is the same as from the wire */
	ck_assert_uint_ge(sb_testhost_log_find(th, SB_LOG_DEBUG,
					       "http > GET "
					       "https://graph.example/v1.0/"
					       "items_ok HTTP/1.1"),
			  1);
	ck_assert_uint_ge(sb_testhost_log_find(th, SB_LOG_DEBUG,
					       "http < X-Folded: first second"),
			  1);
	const char *sec[] = {BEARER_TOK, NULL};
	assert_log_clean(th, sec);
	sb_testhost_free(th);
}
END_TEST

/* ---- parsers and the pool ----------------------------------------------- */

START_TEST(test_response_parse)
{
	struct sb_http_response rs;
	struct sb_error err;
	memset(&rs, 0, sizeof(rs));
	const char ok[] = "HTTP/1.1 204 No Content\r\nA: 1\r\nB:2 \r\n\r\n";
	ck_assert_int_eq(sb_http_response_parse(&rs, ok, strlen(ok), &err),
			 SB_OK);
	ck_assert_int_eq(rs.status, 204);
	ck_assert_str_eq(rs.reason, "No Content");
	ck_assert_uint_eq(rs.n_headers, 2);
	ck_assert_str_eq(sb_http_header(&rs, "b"), "2");
	ck_assert_uint_eq(rs.body_len, 0);
	ck_assert_str_eq(rs.body, "");
	sb_http_response_free(&rs);
	/* the generic error of a response a broker looked at first */
	const char busy[] = "HTTP/1.1 503 Service Unavailable\n"
			    "Retry-After: 30\nContent-Type: text/html\n\n"
			    "<html><body><h1>Server busy</h1></body></html>";
	ck_assert_int_eq(sb_http_response_parse(&rs, busy, strlen(busy), &err),
			 SB_OK);
	ck_assert_int_eq(sb_http_status_error(NULL, &rs, &err),
			 SB_ERR_UNAVAILABLE);
	ck_assert_str_eq(err.code, "http_503");
	ck_assert_int_eq(err.retry_after_ms, 30000);
	ck_assert_msg(strstr(err.message, "Service Unavailable: Server busy"),
		      "%s", err.message);
	sb_http_response_free(&rs);
	static const char *const bad[] = {
	    "",
	    "HTTP/1.1 200 OK\r\nA: 1\r\n",
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTP/1.1 200 OK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(
		    sb_http_response_parse(&rs, bad[i], strlen(bad[i]), &err),
		    SB_ERR_INVALID_INPUT);
		sb_http_response_free(&rs);
	}
}
END_TEST

START_TEST(test_retry_after)
{
	int64_t ms = -1;
	ck_assert(sb_http_parse_retry_after("120", 0, &ms));
	ck_assert_int_eq(ms, 120000);
	ck_assert(sb_http_parse_retry_after(" 0 ", 0, &ms));
	ck_assert_int_eq(ms, 0);
	/* 1445412480 = Wed, 21 Oct 2015 07:28:00 GMT */
	ck_assert(sb_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
					    1445412480 - 30, &ms));
	ck_assert_int_eq(ms, 30000);
	ck_assert(sb_http_parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT",
					    1445412480 - 5, &ms));
	ck_assert_int_eq(ms, 5000);
	ck_assert(sb_http_parse_retry_after("Wed Oct 21 07:28:00 2015",
					    1445412480 - 1, &ms));
	ck_assert_int_eq(ms, 1000);
	/* in the past: now */
	ck_assert(sb_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
					    1445412480 + 100, &ms));
	ck_assert_int_eq(ms, 0);
	/* capped at a day */
	ck_assert(sb_http_parse_retry_after("99999999999999999999", 0, &ms));
	ck_assert_int_eq(ms, 24 * 3600 * 1000LL);
	static const char *const bad[] = {"",
					  "-1",
					  "1.5",
					  "soon",
					  "Wed, 21 Oct 2015 07:28:00",
					  "12 s",
					  "Wed, 32 Oct 2015 07:28:00 GMT",
					  "Wed, 21 Foo 2015 07:28:00 GMT",
					  "Wed, 21 Oct 2015 25:28:00 GMT"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!sb_http_parse_retry_after(bad[i], 0, &ms), "%s",
			      bad[i]);
	ck_assert(!sb_http_parse_retry_after(NULL, 0, &ms));
}
END_TEST

static int idle_setups;
static void count_setup(void *easy)
{
	(void)easy;
	idle_setups++;
}

START_TEST(test_pool)
{
	struct sb_curl_pool *p = sb_curl_pool_new(2, 50, count_setup);
	ck_assert_ptr_nonnull(p);
	unsigned tag = 99;
	void *a = sb_curl_pool_get(p, &tag);
	ck_assert_uint_eq(tag, 0);
	void *b = sb_curl_pool_get(p, NULL);
	void *c = sb_curl_pool_get(p, NULL);
	ck_assert(a && b && c && a != b && b != c);
	sb_curl_pool_put(p, a, true, 7);
	sb_curl_pool_put(p, b, true, 0);
	sb_curl_pool_put(p, c, true, 0); /* over `keep`: closed */
	ck_assert_uint_eq(sb_curl_pool_idle(p), 2);
	ck_assert_int_eq(idle_setups, 3);
	void *x = sb_curl_pool_get(p, &tag); /* the last one in */
	ck_assert_ptr_eq(x, b);
	ck_assert_uint_eq(tag, 0);
	void *y = sb_curl_pool_get(p, &tag);
	ck_assert_ptr_eq(y, a);
	ck_assert_uint_eq(tag, 7);
	sb_curl_pool_put(p, x, false, 0); /* failed: closed */
	ck_assert_uint_eq(sb_curl_pool_idle(p), 0);
	sb_curl_pool_put(p, y, true, 1);
	sb_curl_pool_put(p, NULL, true, 1);
	ck_assert_uint_eq(sb_curl_pool_idle(p), 1);
	sb_curl_pool_free(p);
	sb_curl_pool_free(NULL);

	/* the budget: the deadline less a tenth, 50 ms to 1 s */
	ck_assert_int_eq(sb_curl_budget_ms(NULL, NULL, 1234), 1234);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("http");
	TCase *net = tcase_create("mock server");
	tcase_add_unchecked_fixture(net, servers_up, servers_down);
	tcase_set_timeout(net, 60);
	tcase_add_test(net, test_get_and_post);
	tcase_add_test(net, test_keepalive_reuse);
	tcase_add_test(net, test_basic_auth);
	tcase_add_test(net, test_credentials_stay_home);
	tcase_add_test(net, test_bearer_header_custom);
	tcase_add_test(net, test_tls_verify);
	tcase_add_test(net, test_gzip_and_caps);
	tcase_add_test(net, test_status_mapping);
	tcase_add_test(net, test_deadline);
	tcase_add_test(net, test_cancel);
	tcase_add_test(net, test_connection_failures);
	tcase_add_test(net, test_transcript_redacted);
	tcase_add_test(net, test_ntlm_negotiate_chosen);
	suite_add_tcase(s, net);
	TCase *off = tcase_create("no network");
	tcase_add_test(off, test_config_keys);
	tcase_add_test(off, test_transport_fixtures);
	tcase_add_test(off, test_transcript_only_when_wanted);
	tcase_add_test(off, test_response_parse);
	tcase_add_test(off, test_retry_after);
	tcase_add_test(off, test_pool);
	suite_add_tcase(s, off);
	return s;
}

int main(void)
{
	/* loopback only, whatever proxy the environment names */
	setenv("no_proxy", "*", 1);
	setenv("NO_PROXY", "*", 1);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
