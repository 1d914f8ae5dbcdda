/* The SDK's HTTP client with auth = negotiate, run by
 * test_http_negotiate.py against tests/mock/http_server.py --keytab and a
 * real MIT KDC on loopback (tests/lib/krb5kdc.py): the Kerberos
 * credentials are the process's own, from the environment the test sets
 * (KRB5_CONFIG, KRB5CCNAME, KRB5_CLIENT_KTNAME).
 *
 *   test_http_negotiate_client URL LOGFILE REQUEST...
 *
 * Opens one instance (url = URL, auth = negotiate) in the SDK's test host
 * and runs each REQUEST ("GET /path" or "POST /path": a POST sends a
 * small body; "sleep MS" waits MS milliseconds, at most a minute) in
 * turn with sb_http_perform, on the same client (a kept connection is
 * reused).  For request i it prints
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
 * open). */
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

#define POST_BODY "<probe>negotiate</probe>"

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
    SB_BROKER_HEADER,	    .name = "negotiatetest",
    .version = "1",	    .summary = "Negotiate client tests.",
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
	if (argc < 4) {
		fprintf(stderr, "usage: %s URL LOGFILE REQUEST...\n", argv[0]);
		return 2;
	}
	char url_kv[1024];
	snprintf(url_kv, sizeof(url_kv), "url=%s", argv[1]);
	const char *kv[] = {url_kv, "auth=negotiate", NULL};
	struct sb_error err;
	struct sb_testhost *th = sb_testhost_new(&tbroker, "web", &err);
	if (!th) {
		fprintf(stderr, "test host: %s\n", err.message);
		return 2;
	}
	if (sb_testhost_config(th, kv, &err) != SB_OK ||
	    sb_testhost_open(th, &err) != SB_OK) {
		fprintf(stderr, "instance: %s\n", err.message);
		sb_testhost_free(th);
		return 2;
	}
	/* room for valgrind; the mock and the KDC answer at once */
	sb_testhost_set_timeout(th, 60000);
	int rc = 0;
	for (int i = 3; i < argc && rc == 0; i++)
		rc = run(th, i - 2, argv[i]);
	FILE *f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
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
