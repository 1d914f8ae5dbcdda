/* pages — a small broker that talks to a server over HTTP, built out of
 * tree against libsvcbroker-net (pkg-config svcbroker-net).
 *
 * Objects:
 *   Page.Load   GETs Path from the configured server and returns its
 *               status, content type, size and text
 *
 * Instance keys: the SDK's shared HTTP keys (url, verify_tls, ca_file,
 * auth, username, password, connect_timeout, request_timeout,
 * max_response_size), nothing of its own.
 *
 * What it shows: the HTTP key fragment and its validate() rule, one
 * client per instance (kept connections, TLS verified by default), the
 * call's deadline and cancellation handled by the client, HTTP failures
 * mapped to statuses in the server's words, an instance-wide back-off
 * when the server answers 429 or 503 with Retry-After, and text from the
 * server cleaned before it reaches a row.
 *
 * Build: make (see Makefile; needs `pkg-config svcbroker-net`).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/backoff.h>
#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/http.h>
#include <svcbroker/sdk.h>

/* ---- configuration: the shared HTTP keys, included whole ---------------- */
struct pages_conf {
	struct sb_http_conf http;
};

static const struct sb_config_key pages_config[] = {
    SB_CONF_INCLUDE("http", sb_http_keys, offsetof(struct pages_conf, http)),
    SB_CONF_END,
};

/* ---- catalog ------------------------------------------------------------- */
static enum sb_status load(void *state, const struct sb_call *call,
			   struct sb_result *res, struct sb_error *err);

static const struct sb_property page_props[] = {
    {.name = "Path", .type = SB_TYPE_TEXT, .doc = "The page's path."},
    {.name = "Status", .type = SB_TYPE_NUMBER, .doc = "The HTTP status."},
    {.name = "ContentType",
     .type = SB_TYPE_TEXT,
     .doc = "The page's Content-Type."},
    {.name = "Size", .type = SB_TYPE_NUMBER, .doc = "Body bytes."},
    {.name = "Text",
     .type = SB_TYPE_MEMO,
     .doc = "The body as text (invalid UTF-8 replaced)."},
    SB_PROPERTY_END,
};

static const struct sb_param load_inputs[] = {
    {.name = "Path",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = 1024,
     .doc = "Path on the server, e.g. /status.txt: letters, digits and "
	    "/ . _ ~ - only."},
    SB_PARAM_END,
};

static const char *const load_returns[] = {"Path", "Status", "ContentType",
					   "Size", "Text",   NULL};

static const struct sb_method page_methods[] = {
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = load,
     .doc = "Fetch one page from the server.",
     .inputs = load_inputs,
     .returns = load_returns},
    SB_METHOD_END,
};

static const struct sb_object pages_objects[] = {
    {.name = "Page",
     .doc = "Pages of the configured web server.",
     .properties = page_props,
     .methods = page_methods},
    SB_OBJECT_END,
};

/* ---- per-instance state -------------------------------------------------- */
struct pages_state {
	const struct sb_host *host;
	struct sb_http *http;	   /* one client, every concurrent call */
	struct sb_backoff backoff; /* the server asked for a pause */
};

static enum sb_status pages_validate(const void *config, struct sb_error *err)
{
	const struct pages_conf *conf = config;
	return sb_http_conf_check(&conf->http, err);
}

static enum sb_status pages_open(const struct sb_host *host, const void *config,
				 void **state, struct sb_error *err)
{
	const struct pages_conf *conf = config;
	struct pages_state *st = calloc(1, sizeof(*st));
	if (!st)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	st->host = host;
	st->http = sb_http_new(host, &conf->http, err);
	if (!st->http) {
		free(st);
		return err->status;
	}
	*state = st;
	return SB_OK;
}

static void pages_close(void *state)
{
	struct pages_state *st = state;
	if (!st)
		return;
	sb_http_free(st->http);
	free(st);
}

/* A value that goes into a URL is checked first: nothing the caller writes
 * may change where the request goes or add to it. */
static bool path_ok(const char *p)
{
	if (p[0] != '/' || strstr(p, "//") || strstr(p, "/../") ||
	    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
		return false;
	for (; *p; p++)
		if (!strchr(
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789/._~-",
			*p))
			return false;
	return true;
}

static enum sb_status load(void *state, const struct sb_call *call,
			   struct sb_result *res, struct sb_error *err)
{
	struct pages_state *st = state;
	const char *path = sb_call_str(call, "Path", "");
	if (!path_ok(path))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, "InvalidPath",
				    "Path must start with / and hold only "
				    "letters, digits and / . _ ~ - (no // "
				    "or ..)");
	/* the server asked for a pause: wait within the deadline or answer
	 * 429 without touching it */
	enum sb_status s = sb_backoff_wait(&st->backoff, st->host, call, err);
	if (s != SB_OK)
		return s;

	struct sb_http_request rq = {.method = "GET", .path = path};
	struct sb_http_response rs;
	s = sb_http_perform(st->http, call, &rq, &rs, err);
	if (s == SB_ERR_THROTTLED || s == SB_ERR_UNAVAILABLE)
		sb_backoff_set(&st->backoff, err->retry_after_ms);
	if (s == SB_OK) {
		const char *ct = sb_http_header(&rs, "Content-Type");
		sb_result_row(res);
		sb_result_str(res, "Path", path);
		sb_result_int(res, "Status", rs.status);
		sb_result_clean_text(res, "ContentType", ct ? ct : "");
		sb_result_int(res, "Size", (int64_t)rs.body_len);
		/* the server's bytes, made valid for a memo cell */
		sb_result_clean_memo(res, "Text", rs.body);
	}
	sb_http_response_free(&rs);
	return s;
}

/* The settings test (svcbroker test, POST /v1/test/{instance}): the server
 * answers at all, with the configured TLS and credentials.  Any answer of
 * the server's own counts, a missing page too. */
static enum sb_status pages_test(void *state, struct sb_error *err)
{
	struct pages_state *st = state;
	struct sb_http_request rq = {.method = "GET", .path = "/"};
	struct sb_http_response rs;
	enum sb_status s = sb_http_perform(st->http, NULL, &rq, &rs, err);
	if (s == SB_ERR_NOT_FOUND) {
		sb_error_clear(err);
		s = SB_OK;
	}
	sb_http_response_free(&rs);
	return s;
}

/* The one exported symbol. */
SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "pages",
    .version = "1.0",
    .summary = "Pages of a web server, over HTTP: an example HTTP broker.",
    .config = pages_config,
    .config_size = sizeof(struct pages_conf),
    .objects = pages_objects,
    .validate = pages_validate,
    .open = pages_open,
    .test = pages_test,
    .close = pages_close,
};
