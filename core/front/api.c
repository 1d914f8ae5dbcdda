/* The HTTP/JSON API (libmicrohttpd).
 *
 * HTTP threads never run broker code: a call is decoded, handed to the
 * executor and its connection suspended; the completion callback stores
 * the answer and resumes the connection, whose handler then sends it.
 * libmicrohttpd aborts if it is stopped while a connection is suspended,
 * so shutting down is: quiesce (no new connections), drain the executor
 * (every call answered, every connection resumed), wait for the resumed
 * connections to be served, stop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "executor.h"
#include "json.h"
#include "metrics.h"
#include "probe.h"

#define POOL_THREADS 4
#define MAX_SEGMENTS 6
#define SEGMENT_MAX 256
#define LISTEN_BACKLOG 128
#define DISCARD_MAX (1024u * 1024)

struct sbc_api {
	struct sb_runtime *rt;
	struct MHD_Daemon *d;
	int fd;
	bool quiesced;
	int64_t max_body;
	int64_t max_body_total;
	atomic_llong body_held; /* bytes of request bodies held now */
	int64_t max_connections;
	atomic_llong conns; /* connections open now */
	atomic_ullong conn_refused, body_refused; /* for /metrics */
	atomic_int suspended;  /* suspended, not yet resumed */
	atomic_int calls_open; /* submitted calls whose request is not over */
};

enum route {
	R_NONE = 0,
	R_CATALOG,
	R_OBJECT,
	R_CALL,
	R_OPENAPI,
	R_HEALTH,
	R_METRICS,
	R_TEST,
};

/* One request; lives from the first handler call to MHD's completion
 * notice. */
struct req {
	struct sbc_api *api;
	struct MHD_Connection *conn;
	enum route route;
	struct sbc_catalog *cat; /* R_CALL: the catalog the call resolved in */
	const struct sbc_entry *entry;
	struct sb_buf body;
	size_t discarded; /* bytes past max_body */
	int64_t held;	  /* this request's part of api->body_held */
	bool length_held; /* its declared Content-Length is held */
	bool too_large;
	bool over_budget; /* max_body_total was reached while reading */
	bool answered; /* a response was queued: nothing more to do */
	bool get_pending; /* a GET/HEAD served on the handler's second call */
	int64_t start_ms;
	char what[200];	    /* "METHOD /path", printable, for the log */
	pthread_mutex_t mu; /* submitted..done, answer */
	bool submitted, suspended, done;
	int status;
	char *answer;
	int64_t retry_after_ms;
};

static const char *shown(const char *s, char *buf, size_t n);

/* ---- answers ------------------------------------------------------------- */

static enum MHD_Result send_answer(struct req *r, int status, char *body,
				   const char *ctype, int64_t retry_after_ms,
				   const char *allow)
{
	static const char oom[] =
	    "{\"error\":{\"category\":\"internal\",\"code\":\"internal\","
	    "\"message\":\"out of memory\"}}";
	struct MHD_Response *resp;
	if (body) {
		resp = MHD_create_response_from_buffer(strlen(body), body,
						       MHD_RESPMEM_MUST_FREE);
	} else {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		ctype = "application/json";
		resp = MHD_create_response_from_buffer(
		    sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
	}
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	if (retry_after_ms > 0) {
		char ra[32];
		/* whole seconds, rounded up (without overflowing) */
		snprintf(ra, sizeof(ra), "%lld",
			 (long long)(retry_after_ms / 1000 +
				     (retry_after_ms % 1000 != 0)));
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	r->answered = true;
	enum MHD_Result ret =
	    MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	sbc_metrics_http(sbc_runtime_metrics(r->api->rt), status);
	sbc_log(status >= 500 ? SB_LOG_WARN : SB_LOG_DEBUG, NULL, NULL,
		"%s: %d in %lld ms", r->what, status,
		(long long)(sb_now_ms() - r->start_ms));
	return ret;
}

static enum MHD_Result send_json(struct req *r, int status, char *json)
{
	return send_answer(r, status, json, "application/json", 0, NULL);
}

static enum MHD_Result send_error(struct req *r, const struct sb_error *e,
				  const char *allow)
{
	enum sb_status st = e->status != SB_OK ? e->status : SB_ERR_INTERNAL;
	int64_t retry = 0;
	if (st == SB_ERR_THROTTLED || st == SB_ERR_UNAVAILABLE)
		retry = e->retry_after_ms > 0 ? e->retry_after_ms : 1000;
	struct sb_error copy = *e;
	copy.status = st;
	copy.retry_after_ms = retry;
	return send_answer(r, sb_status_http(st), sbc_json_error(&copy),
			   "application/json", retry, allow);
}

static enum MHD_Result fail(struct req *r, enum sb_status st, const char *code,
			    const char *allow, const char *fmt, ...)
    SB_PRINTF(5, 6);
static enum MHD_Result fail(struct req *r, enum sb_status st, const char *code,
			    const char *allow, const char *fmt, ...)
{
	struct sb_error e;
	sb_error_clear(&e);
	e.status = st;
	if (code)
		snprintf(e.code, sizeof(e.code), "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	return send_error(r, &e, allow);
}

/* ---- routing ------------------------------------------------------------- */

/* Split url into at most MAX_SEGMENTS segments (copies in buf).  Returns
 * the count, or -1 if the path has too many, empty or over-long ones. */
static int split_path(const char *url, char seg[MAX_SEGMENTS][SEGMENT_MAX])
{
	if (!url || url[0] != '/')
		return -1;
	int n = 0;
	const char *p = url + 1;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0 || len >= SEGMENT_MAX || n == MAX_SEGMENTS)
			return -1;
		memcpy(seg[n], p, len);
		seg[n][len] = '\0';
		n++;
		if (!e)
			break;
		p = e + 1;
		if (!*p) /* trailing slash */
			return -1;
	}
	return n;
}

static enum route route_of(int n, char seg[MAX_SEGMENTS][SEGMENT_MAX])
{
	if (n == 1 && strcmp(seg[0], "metrics") == 0)
		return R_METRICS;
	if (n < 2 || strcmp(seg[0], "v1") != 0)
		return R_NONE;
	if (n == 2 && strcmp(seg[1], "catalog") == 0)
		return R_CATALOG;
	if (n == 4 && strcmp(seg[1], "catalog") == 0)
		return R_OBJECT;
	if (n == 5 && strcmp(seg[1], "call") == 0)
		return R_CALL;
	if (n == 2 && strcmp(seg[1], "openapi.json") == 0)
		return R_OPENAPI;
	if (n == 2 && strcmp(seg[1], "health") == 0)
		return R_HEALTH;
	if (n == 3 && strcmp(seg[1], "test") == 0)
		return R_TEST;
	return R_NONE;
}

/* A name from the URL, made printable for a message: control characters
 * become '?' and invalid UTF-8 U+FFFD (the JSON answer could not carry it,
 * and cutting the message at the first bad byte would name something
 * else). */
static const char *shown(const char *s, char *buf, size_t n)
{
	return sb_text_quotable(s, 100, buf, n);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* libmicrohttpd decodes %HH in the path before the handler sees it: a
 * %2F would split one name into two segments, and a %00 would cut a name
 * short (".../Echo%00junk" would call Echo).  Decode every other escape
 * and keep these two as they are, so such a name is simply unknown. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	char *w = s;
	const char *p = s;
	while (*p) {
		if (p[0] == '%') {
			int hi = hex_digit(p[1]);
			int lo = hi < 0 ? -1 : hex_digit(p[2]);
			int v = hi * 16 + lo;
			if (hi >= 0 && lo >= 0 && v != 0 && v != '/') {
				*w++ = (char)v;
				p += 3;
				continue;
			}
		}
		*w++ = *p++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* ---- GET routes ---------------------------------------------------------- */

static enum MHD_Result serve_get(struct req *r,
				 char seg[MAX_SEGMENTS][SEGMENT_MAX])
{
	struct sb_runtime *rt = r->api->rt;
	struct sbc_catalog *cat = sbc_runtime_catalog(rt);
	enum MHD_Result ret;
	char b1[128], b2[128];
	switch (r->route) {
	case R_CATALOG:
		ret = send_json(r, 200, sbc_json_catalog(cat));
		break;
	case R_OBJECT: {
		struct sbc_instance *inst = sbc_catalog_instance(cat, seg[2]);
		const struct sb_object *o =
		    inst ? sbc_catalog_object(cat, seg[2], seg[3]) : NULL;
		if (!inst)
			ret = fail(r, SB_ERR_NOT_FOUND, "UnknownInstance", NULL,
				   "no instance named %s",
				   shown(seg[2], b1, sizeof(b1)));
		else if (!o)
			ret = fail(r, SB_ERR_NOT_FOUND, "UnknownObject", NULL,
				   "instance %s has no object %s",
				   shown(seg[2], b1, sizeof(b1)),
				   shown(seg[3], b2, sizeof(b2)));
		else
			ret = send_json(r, 200, sbc_json_object(inst, o));
		break;
	}
	case R_OPENAPI:
		ret = send_json(r, 200, sbc_openapi_json(cat));
		break;
	case R_HEALTH: {
		bool draining = sbc_runtime_draining(rt);
		size_t queued = 0, running = 0;
		sbc_executor_stats(sbc_runtime_executor(rt), &queued, &running);
		ret = send_json(r, draining ? 503 : 200,
				sbc_json_health(cat, draining,
						sbc_runtime_uptime_s(rt),
						queued, running));
		break;
	}
	case R_METRICS: {
		struct sbc_api *a = r->api;
		struct sbc_metrics_gauges g = {
		    .catalog = cat,
		    .http = true,
		    .http_connections = atomic_load(&a->conns),
		    .http_body_bytes = atomic_load(&a->body_held),
		    .http_conn_refused = atomic_load(&a->conn_refused),
		    .http_body_refused = atomic_load(&a->body_refused)};
		sbc_executor_stats(sbc_runtime_executor(rt), &g.queued,
				   &g.running);
		ret = send_answer(
		    r, 200, sbc_metrics_render(sbc_runtime_metrics(rt), &g),
		    "text/plain; version=0.0.4; charset=utf-8", 0, NULL);
		break;
	}
	default:
		ret =
		    fail(r, SB_ERR_NOT_FOUND, "NotFound", NULL, "no such path");
		break;
	}
	sbc_catalog_unref(cat);
	return ret;
}

/* ---- calls --------------------------------------------------------------- */

static bool json_content_type(const char *ct)
{
	static const char want[] = "application/json";
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	char c = ct[sizeof(want) - 1];
	return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

/* Count n more bytes of body against max_body_total (all connections
 * together): false, holding nothing more, if that would pass it. */
static bool body_hold(struct req *r, int64_t n)
{
	struct sbc_api *a = r->api;
	long long now = atomic_fetch_add(&a->body_held, (long long)n) + n;
	if (now > a->max_body_total) {
		atomic_fetch_sub(&a->body_held, (long long)n);
		atomic_fetch_add(&a->body_refused, 1);
		return false;
	}
	r->held += n;
	return true;
}

static void body_release(struct req *r)
{
	if (r->held) {
		atomic_fetch_sub(&r->api->body_held, (long long)r->held);
		r->held = 0;
	}
}

#define BUSY_BODIES                                                          \
	"the server holds as many request bodies as it may now "             \
	"(max_body_total, %lld bytes): retry shortly"

/* Resolve the call and check the headers (first handler call).  Returns
 * true to go on reading the body; false once an error was queued (*ret). */
static bool call_begin(struct req *r, struct MHD_Connection *conn,
		       char seg[MAX_SEGMENTS][SEGMENT_MAX],
		       enum MHD_Result *ret)
{
	char b1[128], b2[128], b3[128];
	r->cat = sbc_runtime_catalog(r->api->rt);
	r->entry = sbc_catalog_method(r->cat, seg[2], seg[3], seg[4]);
	if (!r->entry) {
		if (!sbc_catalog_instance(r->cat, seg[2]))
			*ret = fail(r, SB_ERR_NOT_FOUND, "UnknownInstance",
				    NULL, "no instance named %s",
				    shown(seg[2], b1, sizeof(b1)));
		else if (!sbc_catalog_object(r->cat, seg[2], seg[3]))
			*ret = fail(r, SB_ERR_NOT_FOUND, "UnknownObject", NULL,
				    "instance %s has no object %s",
				    shown(seg[2], b1, sizeof(b1)),
				    shown(seg[3], b2, sizeof(b2)));
		else
			*ret = fail(r, SB_ERR_NOT_FOUND, "UnknownMethod", NULL,
				    "object %s/%s has no method %s",
				    shown(seg[2], b1, sizeof(b1)),
				    shown(seg[3], b2, sizeof(b2)),
				    shown(seg[4], b3, sizeof(b3)));
		return false;
	}
	const char *ct = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!json_content_type(ct)) {
		*ret = fail(r, SB_ERR_UNSUPPORTED_MEDIA_TYPE,
			    "UnsupportedMediaType", NULL,
			    "a call's body must be application/json%s",
			    ct ? "" : " (no Content-Type was sent)");
		return false;
	}
	const char *cl = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno == 0 && end != cl &&
		    n > (unsigned long long)r->api->max_body) {
			*ret = fail(r, SB_ERR_PAYLOAD_TOO_LARGE,
				    "PayloadTooLarge", NULL,
				    "the body (%llu bytes) is larger than "
				    "max_body (%lld bytes)",
				    n, (long long)r->api->max_body);
			return false;
		}
		if (errno == 0 && end != cl && n > 0) {
			if (!body_hold(r, (int64_t)n)) {
				*ret = fail(r, SB_ERR_UNAVAILABLE, "ServerBusy",
					    NULL, BUSY_BODIES,
					    (long long)r->api->max_body_total);
				return false;
			}
			r->length_held = true;
		}
	}
	sb_buf_init(&r->body, (size_t)r->api->max_body);
	return true;
}

/* Completion callback from the executor: keep the answer, resume. */
static void call_done(void *ud, const struct sbc_outcome *o)
{
	struct req *r = ud;
	char *answer = o->status == SB_OK ? sbc_json_result(o->result)
					  : sbc_json_error(o->err);
	pthread_mutex_lock(&r->mu);
	if (o->status == SB_OK) {
		r->status = answer ? 200 : 500;
	} else {
		r->status = sb_status_http(o->status);
		if (o->status == SB_ERR_THROTTLED ||
		    o->status == SB_ERR_UNAVAILABLE)
			r->retry_after_ms = o->err->retry_after_ms > 0
						? o->err->retry_after_ms
						: 1000;
	}
	r->answer = answer;
	r->done = true;
	struct MHD_Connection *conn = r->conn;
	struct sbc_api *api = r->api;
	bool suspended = r->suspended;
	r->suspended = false;
	pthread_mutex_unlock(&r->mu);
	/* r stays valid: its connection is suspended until this resume.
	 * Once every suspended connection was resumed, stopping the server
	 * is safe (libmicrohttpd finishes pending resumes when it stops). */
	if (suspended) {
		MHD_resume_connection(conn);
		atomic_fetch_sub(&api->suspended, 1);
	}
}

static enum MHD_Result call_submit(struct req *r)
{
	struct sb_error e;
	sb_error_clear(&e);
	if (r->too_large)
		return fail(r, SB_ERR_PAYLOAD_TOO_LARGE, "PayloadTooLarge",
			    NULL,
			    "the body is larger than max_body (%lld bytes)",
			    (long long)r->api->max_body);
	if (r->over_budget)
		return fail(r, SB_ERR_UNAVAILABLE, "ServerBusy", NULL,
			    BUSY_BODIES, (long long)r->api->max_body_total);
	struct sb_call *call = sbc_json_decode_call(
	    r->entry, r->body.data ? r->body.data : "", r->body.len, true, &e);
	sb_buf_free(&r->body);
	body_release(r);
	if (!call)
		return send_error(r, &e, NULL);
	pthread_mutex_lock(&r->mu);
	enum sb_status st =
	    sbc_executor_submit(sbc_runtime_executor(r->api->rt), r->cat,
				r->entry, call, call_done, r, &e);
	if (st != SB_OK) {
		pthread_mutex_unlock(&r->mu);
		return send_error(r, &e, NULL);
	}
	r->submitted = true;
	atomic_fetch_add(&r->api->suspended, 1);
	atomic_fetch_add(&r->api->calls_open, 1);
	MHD_suspend_connection(r->conn);
	r->suspended = true;
	pthread_mutex_unlock(&r->mu);
	return MHD_YES;
}

static enum MHD_Result call_finish(struct req *r)
{
	pthread_mutex_lock(&r->mu);
	bool done = r->done;
	char *answer = r->answer;
	r->answer = NULL;
	int status = r->status;
	int64_t retry = r->retry_after_ms;
	pthread_mutex_unlock(&r->mu);
	if (!done) /* not resumed by us: nothing to send yet */
		return MHD_YES;
	return send_answer(r, status, answer, "application/json", retry, NULL);
}

/* ---- POST /v1/test/{instance} ---------------------------------------------
 * The instance's test() on the executor (see probe.h), answered like a
 * call: the connection is suspended until the verdict comes.  A body, if
 * any, is read and dropped (up to DISCARD_MAX). */

static void test_done(void *ud, const struct sbc_outcome *o)
{
	struct req *r = ud;
	int status = 500;
	int64_t retry = 0;
	char *answer = sbc_probe_json(o, &status, &retry, NULL, NULL);
	pthread_mutex_lock(&r->mu);
	r->status = answer ? status : 500;
	r->retry_after_ms = retry;
	r->answer = answer;
	r->done = true;
	struct MHD_Connection *conn = r->conn;
	struct sbc_api *api = r->api;
	bool suspended = r->suspended;
	r->suspended = false;
	pthread_mutex_unlock(&r->mu);
	if (suspended) {
		MHD_resume_connection(conn);
		atomic_fetch_sub(&api->suspended, 1);
	}
}

static enum MHD_Result test_submit(struct req *r, const char *url)
{
	char seg[MAX_SEGMENTS][SEGMENT_MAX], b1[128];
	if (split_path(url, seg) != 3)
		return fail(r, SB_ERR_NOT_FOUND, "NotFound", NULL,
			    "no such path (see /v1/openapi.json)");
	r->cat = sbc_runtime_catalog(r->api->rt);
	r->entry = sbc_catalog_probe_entry(r->cat, seg[2]);
	if (!r->entry)
		return fail(r, SB_ERR_NOT_FOUND, "UnknownInstance", NULL,
			    "no instance named %s",
			    shown(seg[2], b1, sizeof(b1)));
	struct sb_error e;
	sb_error_clear(&e);
	pthread_mutex_lock(&r->mu);
	enum sb_status st = sbc_probe_submit(sbc_runtime_executor(r->api->rt),
					     r->cat, seg[2], test_done, r, &e);
	if (st != SB_OK) {
		pthread_mutex_unlock(&r->mu);
		return send_error(r, &e, NULL);
	}
	r->submitted = true;
	atomic_fetch_add(&r->api->suspended, 1);
	atomic_fetch_add(&r->api->calls_open, 1);
	MHD_suspend_connection(r->conn);
	r->suspended = true;
	pthread_mutex_unlock(&r->mu);
	return MHD_YES;
}

/* Every handler call of a test request after the first. */
static enum MHD_Result test_request(struct req *r, const char *url,
				    size_t *upload_data_size)
{
	if (r->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		r->discarded += *upload_data_size;
		*upload_data_size = 0;
		return r->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (!r->submitted)
		return test_submit(r, url);
	return call_finish(r);
}

/* ---- the handler --------------------------------------------------------- */

/* How a request says where its body ends. */
struct framing {
	int content_length, transfer_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	struct framing *f = cls;
	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->transfer_encoding++;
	return MHD_YES;
}

/* Several Content-Length headers, or one with Transfer-Encoding: a proxy
 * in front may end the body elsewhere than libmicrohttpd does (which
 * takes the first length, or the chunks), and the rest of the body would
 * then be read as a request of its own.  Such a request is refused and
 * its connection closed. */
static bool framing_ambiguous(struct MHD_Connection *conn)
{
	struct framing f = {0, 0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	return f.content_length > 1 || f.transfer_encoding > 1 ||
	       (f.content_length > 0 && f.transfer_encoding > 0);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct sbc_api *api = cls;
	struct req *r = *con_cls;
	char seg[MAX_SEGMENTS][SEGMENT_MAX];
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->api = api;
		r->conn = conn;
		r->start_ms = sb_now_ms();
		pthread_mutex_init(&r->mu, NULL);
		*con_cls = r;
		char pb[128];
		snprintf(r->what, sizeof(r->what), "%.16s %s", method,
			 shown(url, pb, sizeof(pb)));
		if (framing_ambiguous(conn))
			return fail(r, SB_ERR_INVALID_INPUT, "AmbiguousLength",
				    NULL,
				    "send one Content-Length header or "
				    "Transfer-Encoding: chunked, not several "
				    "or both");
		int n = split_path(url, seg);
		r->route = n < 0 ? R_NONE : route_of(n, seg);
		bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
			      strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
		if (r->route == R_NONE)
			return fail(r, SB_ERR_NOT_FOUND, "NotFound", NULL,
				    "no such path (see /v1/openapi.json)");
		if (r->route == R_TEST)
			return is_post ? MHD_YES
				       : fail(r, SB_ERR_METHOD_NOT_ALLOWED,
					      "MethodNotAllowed", "POST",
					      "a test takes POST");
		if (r->route == R_CALL) {
			if (!is_post)
				return fail(r, SB_ERR_METHOD_NOT_ALLOWED,
					    "MethodNotAllowed", "POST",
					    "a call takes POST");
			enum MHD_Result ret = MHD_YES;
			if (!call_begin(r, conn, seg, &ret))
				return ret;
			return MHD_YES; /* the body follows */
		}
		if (!is_get)
			return fail(r, SB_ERR_METHOD_NOT_ALLOWED,
				    "MethodNotAllowed", "GET, HEAD",
				    "this path takes GET");
		/* Answer on the next call: a response queued on the first
		 * call makes libmicrohttpd close the connection (it cannot
		 * know the request has no body), and keep-alive matters for
		 * catalog readers. */
		r->get_pending = true;
		return MHD_YES;
	}
	if (r->route == R_TEST)
		return test_request(r, url, upload_data_size);
	if (r->get_pending && !r->answered) {
		if (*upload_data_size) {
			/* a GET with a body: libmicrohttpd cannot queue an
			 * answer while a body is being read, so drop the body
			 * (up to a cap) and answer once it is over */
			r->discarded += *upload_data_size;
			*upload_data_size = 0;
			return r->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		r->get_pending = false;
		if (split_path(url, seg) < 0)
			return fail(r, SB_ERR_NOT_FOUND, "NotFound", NULL,
				    "no such path (see /v1/openapi.json)");
		return serve_get(r, seg);
	}
	if (r->answered || r->route != R_CALL || !r->entry) {
		*upload_data_size = 0; /* answered already: drop any body */
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_large && !r->over_budget && !r->length_held &&
		    !body_hold(r, (int64_t)*upload_data_size)) {
			/* a chunked body past the budget of all bodies */
			r->over_budget = true;
			sb_buf_free(&r->body);
			body_release(r);
		}
		if (!r->too_large && !r->over_budget &&
		    !sb_buf_append(&r->body, upload_data, *upload_data_size)) {
			r->too_large = true;
			sb_buf_free(&r->body);
			body_release(r);
		}
		if (r->too_large || r->over_budget) {
			r->discarded += *upload_data_size;
			/* libmicrohttpd 0.9.75 cannot answer before the body
			 * is read (a length given up front is refused at
			 * once, see call_begin): read a little more to answer
			 * 413 in JSON, then drop the connection rather than
			 * read an endless body */
			if (r->discarded > DISCARD_MAX)
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!r->submitted)
		return call_submit(r);
	return call_finish(r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	if (r->submitted) /* its answer was sent, or the client left */
		atomic_fetch_sub(&r->api->calls_open, 1);
	sb_buf_free(&r->body);
	body_release(r);
	free(r->answer);
	sbc_catalog_unref(r->cat);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* True at most once in 10 s per *last: for warnings clients can repeat. */
static bool once_in_10s(atomic_llong *last)
{
	long long now = sb_now_ms(), prev = atomic_load(last);
	return now - prev >= 10000 &&
	       atomic_compare_exchange_strong(last, &prev, now);
}

/* max_connections: a connection past it is closed at once.  (Left to
 * libmicrohttpd 0.9.75, its own limit stops accepting instead, so new
 * clients wait in the listen backlog, and with epoll and a thread pool it
 * may never accept again: its limit is set above ours, see
 * sbc_api_start.) */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr,
				     socklen_t addrlen)
{
	struct sbc_api *a = cls;
	(void)addr;
	(void)addrlen;
	if (atomic_load(&a->conns) < a->max_connections)
		return MHD_YES;
	atomic_fetch_add(&a->conn_refused, 1);
	static atomic_llong last_warned;
	if (once_in_10s(&last_warned))
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"http: %lld connections open, max_connections: "
			"closing new ones (said at most once in 10 s)",
			(long long)a->max_connections);
	return MHD_NO;
}

static void conn_notify(void *cls, struct MHD_Connection *c, void **sctx,
			enum MHD_ConnectionNotificationCode code)
{
	struct sbc_api *a = cls;
	(void)c;
	(void)sctx;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&a->conns, 1);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		atomic_fetch_sub(&a->conns, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* libmicrohttpd speaks of what clients do (a closed connection, a
	 * timeout, a malformed request): that is debug, or anyone could fill
	 * the log.  A limit reached (per client address, open files) matters
	 * to the administrator: a warning, at most one each 10 s. */
	static atomic_llong last_warned;
	if (strstr(buf, "limit") && once_in_10s(&last_warned)) {
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"http: %s (see max_connections_per_ip and the "
			"open-file limit; said at most once in 10 s)",
			buf);
		return;
	}
	sbc_log(SB_LOG_DEBUG, NULL, NULL, "http: %s", buf);
}

/* ---- listening ----------------------------------------------------------- */

bool sbc_listen_parse(const char *listen, struct sockaddr_storage *ss,
		      socklen_t *len, char *errbuf, size_t errlen)
{
	char host[256];
	const char *port;
	if (!listen || !*listen) {
		snprintf(errbuf, errlen, "listen: empty address");
		return false;
	}
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':' ||
		    (size_t)(close - listen - 1) >= sizeof(host)) {
			snprintf(errbuf, errlen,
				 "listen: '%.100s' is not [ipv6-address]:port",
				 listen);
			return false;
		}
		memcpy(host, listen + 1, (size_t)(close - listen - 1));
		host[close - listen - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (!colon || (size_t)(colon - listen) >= sizeof(host) ||
		    memchr(listen, ':', (size_t)(colon - listen))) {
			snprintf(errbuf, errlen,
				 "listen: '%.100s' is not host:port (write "
				 "IPv6 addresses as [address]:port)",
				 listen);
			return false;
		}
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
		port = colon + 1;
	}
	char *end;
	errno = 0;
	long p = strtol(port, &end, 10);
	if (errno || end == port || *end || p < 1 || p > 65535) {
		snprintf(errbuf, errlen,
			 "listen: port '%.20s' is not a number in 1..65535",
			 port);
		return false;
	}
	struct addrinfo hints = {0}, *ai = NULL;
	bool any = !host[0] || strcmp(host, "*") == 0;
	/* ":port" and "*:port" mean every IPv4 address; "[::]:port" every
	 * address, IPv4 and IPv6 */
	hints.ai_family = any ? AF_INET : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int rc = getaddrinfo(any ? NULL : host, port, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(errbuf, errlen, "listen: cannot resolve '%.100s': %s",
			 host, gai_strerror(rc));
		return false;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

struct sbc_api *sbc_api_start(struct sb_runtime *rt, char *errbuf,
			      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	const char *listen_at = sbc_runtime_listen(rt);
	if (!sbc_listen_parse(listen_at, &ss, &slen, errbuf, errlen))
		return NULL;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(errbuf, errlen, "listen %s: socket: %s", listen_at,
			 strerror(errno));
		return NULL;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 =
		    (const struct sockaddr_in6 *)&ss;
		int v6only = !IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			   sizeof(v6only));
	}
	if (bind(fd, (struct sockaddr *)&ss, slen) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(errbuf, errlen, "listen %s: %s", listen_at,
			 strerror(errno));
		close(fd);
		return NULL;
	}
	struct sbc_api *a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	a->rt = rt;
	a->fd = fd;
	a->max_body = sbc_runtime_max_body(rt);
	struct sbc_http_limits lim;
	sbc_runtime_http_limits(rt, &lim);
	a->max_body_total = lim.max_body_total;
	a->max_connections = lim.max_connections;
	/* libmicrohttpd's own limit, per thread of its pool, stays above
	 * ours (see accept_policy) */
	unsigned mhd_limit =
	    (unsigned)lim.max_connections + 16u * (unsigned)POOL_THREADS;
	unsigned idle_s = (unsigned)((lim.idle_timeout_ms + 999) / 1000);
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->d = MHD_start_daemon(
	    flags, 0, accept_policy, a, handler, a, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, a, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)POOL_THREADS,
	    MHD_OPTION_CONNECTION_TIMEOUT, idle_s ? idle_s : 1u,
	    MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
	    MHD_OPTION_NOTIFY_CONNECTION, conn_notify, a,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)lim.max_connections_per_ip,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, a,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
	if (!a->d) {
		snprintf(errbuf, errlen,
			 "listen %s: the HTTP server did not "
			 "start",
			 listen_at);
		close(fd);
		free(a);
		return NULL;
	}
	return a;
}

void sbc_api_quiesce(struct sbc_api *a)
{
	if (!a || a->quiesced)
		return;
	a->quiesced = true;
	MHD_socket fd = MHD_quiesce_daemon(a->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void sbc_api_stop(struct sbc_api *a, int64_t timeout_ms)
{
	if (!a)
		return;
	sbc_api_quiesce(a);
	/* every answered call gets its answer sent before the server stops */
	int64_t until = sb_now_ms() + timeout_ms;
	while ((atomic_load(&a->calls_open) > 0 ||
		atomic_load(&a->suspended) > 0) &&
	       sb_now_ms() < until) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&a->suspended) > 0) {
		/* stopping now would abort the process; leave it to exit */
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"%d connections still waiting for a call: not "
			"stopping the HTTP server",
			atomic_load(&a->suspended));
		return;
	}
	if (atomic_load(&a->calls_open) > 0)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"%d answers were not sent in time",
			atomic_load(&a->calls_open));
	MHD_stop_daemon(a->d);
	free(a);
}
