/* The SDK's HTTP client with auth = ntlm-negotiate, run by
 * test_http_ntlm_negotiate.py against its loopback server (NTLMv2 in the
 * Negotiate scheme checked by tests/mock/ews_ntlm.py).
 *
 *   test_http_ntlm_negotiate_client URL USERNAME LOGFILE REQUEST...
 *
 * The password comes from the environment (SB_TEST_NTLM_PASSWORD), never
 * the command line.  Opens one instance (url = URL, auth =
 * ntlm-negotiate) in the SDK's test host and runs each REQUEST ("GET
 * /path" or "POST /path": a POST sends a small body; "FRESH GET /path":
 * with SB_HTTP_FRESH_CONNECT; "sleep MS" waits MS milliseconds, at most
 * a minute) in turn with sb_http_perform, on the same client (a kept
 * connection is reused).  For request i it prints
 *
 *   result i HTTP_STATUS SB_STATUS API_STATUS CODE NEW_CONNECTIONS
 *   body i TEXT                    (the response body, on one line)
 *   length i N                     (the server's X-Body-Length, if any)
 *   message i TEXT                 (the error's message, on failure)
 *
 * (SB_STATUS as sb_status_str names it, API_STATUS the HTTP status the
 * daemon would answer a call with, CODE the error's code or "-") and
 * writes every line the client logged (the debug transcript) to
 * LOGFILE, "LEVEL TEXT" a line.  The test decides what is right; this
 * exits 0 unless it cannot run (2: usage or an instance that does not
 * open; then "open TEXT" tells why). */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/http.h>
#include <svcbroker/invoke.h>
#include <svcbroker/sdk.h>
#include <svcbroker/testhost.h>

#define POST_BODY "<probe>ntlm in negotiate</probe>"

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

/* A method only to have calls (deadline, cancellation) to run under. */
static enum sb_status t_nop(void *state, const struct sb_call *call,
			    struct sb_result *r, struct sb_error *err)
{
	(void)state;
	(void)call;
	(void)r;
	(void)err;
	return SB_OK;
}

static const struct sb_property tprops[] = {
    {.name = "Status", .type = SB_TYPE_NUMBER, .doc = "HTTP status."},
    SB_PROPERTY_END,
};
static const char *const tret[] = {"Status", NULL};
static const struct sb_method tmethods[] = {
    {.name = "Get",
     .kind = SB_KIND_EXECUTE,
     .handler = t_nop,
     .doc = "Nothing.",
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
    SB_BROKER_HEADER,	    .name = "ntlmtest",
    .version = "1",	    .summary = "NTLM-in-Negotiate client tests.",
    .config = tkeys,	    .config_size = sizeof(struct tconf),
    .objects = tobjects,    .open = t_open,
    .validate = t_validate, .close = t_close,
};

/* s on one line: control characters as spaces. */
static void print_line(const char *tag, int i, const char *s)
{
	printf("%s %d ", tag, i);
	for (; s && *s; s++)
		putchar((unsigned char)*s < ' ' ? ' ' : *s);
	putchar('\n');
}

static int run(struct sb_testhost *th, int i, const char *spec)
{
	if (!strncmp(spec, "sleep ", 6)) {
		int ms = atoi(spec + 6);
		if (ms > 0 && ms <= 60000)
			usleep((useconds_t)ms * 1000);
		return 0;
	}
	unsigned flags = 0;
	if (!strncmp(spec, "FRESH ", 6)) {
		flags = SB_HTTP_FRESH_CONNECT;
		spec += 6;
	}
	char method[8];
	const char *sp = strchr(spec, ' ');
	if (!sp || sp - spec >= (long)sizeof(method) || sp[1] != '/') {
		fprintf(stderr, "bad request %s: want \"GET /path\"\n", spec);
		return -1;
	}
	memcpy(method, spec, (size_t)(sp - spec));
	method[sp - spec] = '\0';
	bool post = !strcmp(method, "POST");
	struct sb_http_request q = {
	    .method = method,
	    .path = sp + 1,
	    .body = post ? POST_BODY : NULL,
	    .body_len = post ? strlen(POST_BODY) : 0,
	    .content_type = post ? "text/xml; charset=utf-8" : NULL,
	    .flags = flags,
	};
	struct sb_error err;
	struct sb_call *call =
	    sb_testhost_call_new(th, "Resource", "Get", NULL, NULL, &err);
	if (!call) {
		fprintf(stderr, "no call: %s\n", err.message);
		return -1;
	}
	sb_error_clear(&err);
	struct sb_http_response rs;
	enum sb_status st =
	    sb_http_perform(sb_testhost_state(th), call, &q, &rs, &err);
	sb_call_free(call);
	printf("result %d %d %s %d %s %ld\n", i, rs.status, sb_status_str(st),
	       sb_status_http(st), st != SB_OK && err.code[0] ? err.code : "-",
	       rs.new_connections);
	print_line("body", i, rs.body);
	const char *len = sb_http_header(&rs, "X-Body-Length");
	if (len)
		print_line("length", i, len);
	if (st != SB_OK)
		print_line("message", i, err.message);
	sb_http_response_free(&rs);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s URL USERNAME LOGFILE REQUEST...\n",
			argv[0]);
		return 2;
	}
	const char *pw = getenv("SB_TEST_NTLM_PASSWORD");
	char url_kv[1024], user_kv[1024], pw_kv[4096];
	snprintf(url_kv, sizeof(url_kv), "url=%s", argv[1]);
	snprintf(user_kv, sizeof(user_kv), "username=%s", argv[2]);
	snprintf(pw_kv, sizeof(pw_kv), "password=%s", pw ? pw : "");
	const char *kv[] = {url_kv, "auth=ntlm-negotiate", user_kv, pw_kv,
			    NULL};
	struct sb_error err;
	struct sb_testhost *th = sb_testhost_new(&tbroker, "web", &err);
	if (!th) {
		fprintf(stderr, "test host: %s\n", err.message);
		return 2;
	}
	enum sb_status cst = sb_testhost_config(th, kv, &err);
	memset(pw_kv, 0, sizeof(pw_kv)); /* the instance has its copy */
	if (cst != SB_OK || sb_testhost_open(th, &err) != SB_OK) {
		printf("open %s\n", err.message);
		fprintf(stderr, "instance: %s\n", err.message);
		sb_testhost_free(th);
		return 2;
	}
	/* room for valgrind; the server answers at once */
	sb_testhost_set_timeout(th, 60000);
	int rc = 0;
	for (int i = 4; i < argc && rc == 0; i++)
		rc = run(th, i - 3, argv[i]);
	FILE *f = fopen(argv[3], "w");
	if (!f) {
		perror(argv[3]);
		rc = -1;
	} else {
		size_t n = sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL);
		for (size_t k = 0; k < n; k++) {
			enum sb_log_level lv;
			const char *l = sb_testhost_log_line(th, k, &lv);
			fprintf(f, "%d %s\n", (int)lv, l);
		}
		fclose(f);
	}
	sb_testhost_free(th);
	return rc ? 2 : 0;
}
