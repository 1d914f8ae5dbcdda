/* The HTTP/JSON API, on the HTTP server of http.c.
 *
 * HTTP threads never run broker code: a call is decoded, handed to the
 * executor and its connection suspended; the completion callback (on the
 * worker) encodes and sends the answer and hands the connection back.
 * Shutting down is: quiesce (no new connections), drain the executor
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

#include "api.h"
#include "console.h"
#include "executor.h"
#include "http.h"
#include "json.h"
#include "metrics.h"
#include "probe.h"
#include "reqhdr.h"
#include "security.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <zlib.h>

#define HTTP_THREADS 2
#define MAX_SEGMENTS 6
#define SEGMENT_MAX 256
#define LISTEN_BACKLOG 1024

/* A document that depends on the catalog alone, encoded once per
 * catalog generation (encoding the catalog was most of a GET's time). */
struct doc {
	atomic_int refs;
	int64_t generation;
	char *json;
	size_t len;
	char *gz; /* gzip of json, or NULL (compression failed) */
	size_t gzlen;
	char etag[40], etag_gz[44]; /* quoted */
};

struct doc_cache {
	pthread_mutex_t mu;
	struct doc *doc; /* NULL: empty */
};

/* Call bodies from this size on are decoded off their connection's loop,
 * by a decoder thread: JSON decoding costs about 20 ns a byte, so a
 * 40 MiB body decoded on the loop held every connection of that loop
 * for most of a second.  Smaller bodies are decoded where they are read
 * (64 KiB: about 1.3 ms). */
#define DECODE_OFF_LOOP ((size_t)64 * 1024)
#define DECODERS 2

struct req;

struct decoders {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req *head, *tail; /* waiting to be decoded, oldest first */
	bool refuse;		 /* stopping: answer 503 without decoding */
	bool stop;
	atomic_int n; /* threads running (read by the loops without mu) */
	pthread_t th[DECODERS];
};

struct sbc_api {
	struct sb_runtime *rt;
	struct sbh_server *srv;
	bool quiesced;
	atomic_int calls_open; /* submitted calls whose request is not over */
	struct doc_cache catalog_doc, openapi_doc;
	bool console; /* /ui/ is served */
	struct sbc_console con;
	void *tls_start; /* the SSL_CTX at start (a reference); NULL: plain */
	struct decoders dec;
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

/* One call; lives from its head to the end of its request. */
struct req {
	struct sbc_api *api;
	struct sbh_conn *conn;
	struct sbc_catalog *cat; /* the catalog the call resolved in */
	const struct sbc_entry *entry;
	bool submitted;
	bool test;		    /* POST /v1/test/{instance} */
	char instance[SEGMENT_MAX]; /* the instance a test is of */
	/* for the audit line and the broker */
	struct sbc_security *sec;	 /* a reference */
	const struct sbc_client *client; /* NULL: no clients configured */
	char rid[SBC_REQUEST_ID_MAX + 1];
	char mailbox[160];     /* as shown in the audit line; "-" if none */
	struct sbh_body *body; /* a large body, for a decoder thread */
	struct req *dnext;     /* on api->dec's list */
};

static const char *shown(const char *s, char *buf, size_t n);

/* ---- answers ------------------------------------------------------------- */

static void send_answer(struct sbh_conn *c, int status, char *body,
			const char *ctype, int64_t retry_after_ms,
			const char *allow)
{
	struct sbh_answer a = {.status = status,
			       .body = body,
			       .content_type = ctype,
			       .retry_after_ms = retry_after_ms,
			       .allow = allow};
	sbh_answer(c, &a);
}

static void send_json(struct sbh_conn *c, int status, char *json)
{
	send_answer(c, status, json, "application/json", 0, NULL);
}

static void send_error(struct sbh_conn *c, const struct sb_error *e,
		       const char *allow)
{
	enum sb_status st = e->status != SB_OK ? e->status : SB_ERR_INTERNAL;
	int64_t retry = 0;
	if (st == SB_ERR_THROTTLED || st == SB_ERR_UNAVAILABLE)
		retry = e->retry_after_ms > 0 ? e->retry_after_ms : 1000;
	struct sb_error copy = *e;
	copy.status = st;
	copy.retry_after_ms = retry;
	send_answer(c, sb_status_http(st), sbc_json_error(&copy),
		    "application/json", retry, allow);
}

static void fail(struct sbh_conn *c, enum sb_status st, const char *code,
		 const char *allow, const char *fmt, ...) SB_PRINTF(5, 6);
static void fail(struct sbh_conn *c, enum sb_status st, const char *code,
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
	send_error(c, &e, allow);
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
 * become '?', and so does every non-ASCII byte if the name is not valid
 * UTF-8 (the JSON answer could not carry it, and cutting the message at
 * the first bad byte would name something else). */
static const char *shown(const char *s, char *buf, size_t n)
{
	return sb_text_quotable(s, 100, buf, n);
}

/* ---- GET routes ---------------------------------------------------------- */

static void *doc_ref(void *p)
{
	struct doc *d = p;
	atomic_fetch_add(&d->refs, 1);
	return d;
}

static void doc_unref(void *p)
{
	struct doc *d = p;
	if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	free(d->json);
	free(d->gz);
	free(d);
}

/* json (taken over) as a cached document: its entity tag (a hash of the
 * text, so it survives restarts that leave the catalog as it was) and its
 * gzip form, made once.  NULL when out of memory. */
static struct doc *doc_new(char *json, int64_t generation)
{
	if (!json)
		return NULL;
	struct doc *d = calloc(1, sizeof(*d));
	if (!d) {
		free(json);
		return NULL;
	}
	atomic_init(&d->refs, 1);
	d->generation = generation;
	d->json = json;
	d->len = strlen(json);
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < d->len; i++)
		h = (h ^ (unsigned char)json[i]) * 0x100000001b3ull;
	snprintf(d->etag, sizeof(d->etag), "\"%016llx-%zx\"",
		 (unsigned long long)h, d->len);
	snprintf(d->etag_gz, sizeof(d->etag_gz), "\"%016llx-%zx-gz\"",
		 (unsigned long long)h, d->len);
	uLongf bound = compressBound((uLong)d->len) + 32;
	d->gz = malloc(bound);
	z_stream z = {0};
	if (d->gz && deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
				  Z_DEFAULT_STRATEGY) == Z_OK) {
		z.next_in = (Bytef *)d->json;
		z.avail_in = (uInt)d->len;
		z.next_out = (Bytef *)d->gz;
		z.avail_out = (uInt)bound;
		if (deflate(&z, Z_FINISH) == Z_STREAM_END)
			d->gzlen = z.total_out;
		deflateEnd(&z);
	}
	if (!d->gzlen) {
		free(d->gz);
		d->gz = NULL;
	}
	return d;
}

/* cat's document (a reference), from the cache or encoded now. */
static struct doc *cached_doc(struct doc_cache *dc,
			      const struct sbc_catalog *cat,
			      char *(*encode)(const struct sbc_catalog *))
{
	struct doc *d = NULL;
	pthread_mutex_lock(&dc->mu);
	if (dc->doc && dc->doc->generation == cat->generation)
		d = doc_ref(dc->doc);
	pthread_mutex_unlock(&dc->mu);
	if (d)
		return d;
	d = doc_new(encode(cat), cat->generation);
	if (!d)
		return NULL;
	struct doc *old = NULL;
	pthread_mutex_lock(&dc->mu);
	if (!dc->doc || cat->generation >= dc->doc->generation) {
		old = dc->doc;
		dc->doc = doc_ref(d);
	}
	pthread_mutex_unlock(&dc->mu);
	doc_unref(old);
	return d;
}

static bool view_may(const void *ud, const char *instance, const char *object,
		     const char *method)
{
	return sbc_client_may_call(ud, instance, object, method);
}

/* A catalog document (which: 0 the catalog, 1 OpenAPI) as client cl may
 * see it (a reference): the shared cache without clients, else the
 * client's own. */
static struct doc *client_doc(struct sbc_api *api,
			      const struct sbc_catalog *cat,
			      const struct sbc_client *cl, int which)
{
	if (!cl)
		return which == 0 ? cached_doc(&api->catalog_doc, cat,
					       sbc_json_catalog)
				  : cached_doc(&api->openapi_doc, cat,
					       sbc_openapi_json);
	struct doc *d = sbc_client_doc_get(cl, which, cat->generation, doc_ref);
	if (d)
		return d;
	struct sbc_view v = {.may = view_may, .ud = cl, .secured = true};
	d = doc_new(which == 0 ? sbc_json_catalog_view(cat, &v)
			       : sbc_openapi_json_view(cat, &v),
		    cat->generation);
	if (d)
		sbc_client_doc_put(cl, which, cat->generation, doc_ref(d),
				   doc_unref);
	return d;
}

/* A cached document: 304 when If-None-Match names it, gzip when the
 * client takes it. */
static void send_doc(struct sbh_conn *c, const struct sbh_request *rq,
		     struct doc *d)
{
	if (!d) {
		send_json(c, 500, NULL);
		return;
	}
	bool gz = d->gz && sbc_accepts_gzip(rq->accept_encoding);
	const char *etag = gz ? d->etag_gz : d->etag;
	struct sbh_answer a = {.content_type = "application/json",
			       .cache_control = "no-cache",
			       .etag = etag,
			       .headers = gz ? "Vary: Accept-Encoding\r\n"
					       "Content-Encoding: gzip\r\n"
					     : "Vary: Accept-Encoding\r\n"};
	if (rq->if_none_match &&
	    (sbc_console_etag_match(rq->if_none_match, d->etag) ||
	     sbc_console_etag_match(rq->if_none_match, d->etag_gz))) {
		a.status = 304;
		a.headers = "Vary: Accept-Encoding\r\n";
		a.body = strdup("");
		sbh_answer(c, &a);
		doc_unref(d);
		return;
	}
	size_t n = gz ? d->gzlen : d->len;
	a.status = 200;
	a.body = malloc(n + 1);
	if (a.body) {
		memcpy(a.body, gz ? d->gz : d->json, n);
		a.body[n] = '\0';
		a.body_len = n;
	}
	doc_unref(d);
	sbh_answer(c, &a);
}

/* May cl call any method of instance (and object, if not NULL)? */
static bool may_any(const struct sbc_catalog *cat, const struct sbc_client *cl,
		    const char *instance, const char *object)
{
	if (!cl)
		return true;
	const struct sbc_instance *inst = sbc_catalog_instance(cat, instance);
	for (size_t k = 0; inst && k < inst->n_objects; k++) {
		const struct sb_object *ob = inst->objects[k];
		if (object && strcmp(ob->name, object) != 0)
			continue;
		for (const struct sb_method *m = ob->methods; m && m->name; m++)
			if (sbc_client_may_call(cl, instance, ob->name,
						m->name))
				return true;
	}
	return false;
}

static void serve_get(struct sbc_api *api, struct sbc_security *sec,
		      struct sbh_conn *c, const struct sbh_request *rq,
		      enum route rt_, char seg[MAX_SEGMENTS][SEGMENT_MAX],
		      const struct sbc_client *cl)
{
	struct sb_runtime *rt = api->rt;
	struct sbc_catalog *cat = sbc_runtime_catalog(rt);
	char b1[128], b2[128];
	switch (rt_) {
	case R_CATALOG:
		send_doc(c, rq, client_doc(api, cat, cl, 0));
		break;
	case R_OBJECT: {
		/* what a client may not call does not exist for it */
		bool seen = may_any(cat, cl, seg[2], seg[3]);
		struct sbc_instance *inst =
		    seen ? sbc_catalog_instance(cat, seg[2]) : NULL;
		const struct sb_object *o =
		    inst ? sbc_catalog_object(cat, seg[2], seg[3]) : NULL;
		if (!seen && may_any(cat, cl, seg[2], NULL))
			fail(c, SB_ERR_NOT_FOUND, "UnknownObject", NULL,
			     "instance %s has no object %s",
			     shown(seg[2], b1, sizeof(b1)),
			     shown(seg[3], b2, sizeof(b2)));
		else if (!inst)
			fail(c, SB_ERR_NOT_FOUND, "UnknownInstance", NULL,
			     "no instance named %s",
			     shown(seg[2], b1, sizeof(b1)));
		else if (!o)
			fail(c, SB_ERR_NOT_FOUND, "UnknownObject", NULL,
			     "instance %s has no object %s",
			     shown(seg[2], b1, sizeof(b1)),
			     shown(seg[3], b2, sizeof(b2)));
		else
			send_json(c, 200, sbc_json_object(inst, o));
		break;
	}
	case R_OPENAPI:
		send_doc(c, rq, client_doc(api, cat, cl, 1));
		break;
	case R_HEALTH: {
		bool draining = sbc_runtime_draining(rt);
		size_t queued = 0, running = 0;
		sbc_executor_stats(sbc_runtime_executor(rt), &queued, &running);
		/* with clients configured, the instances are shown only to
		 * a client (any: a monitor needs no call grants, as for
		 * /metrics) */
		bool hide = sbc_security_closed(sec) && !cl;
		send_json(c, draining ? 503 : 200,
			  sbc_json_health(cat, draining,
					  sbc_runtime_uptime_s(rt), queued,
					  running, !hide));
		break;
	}
	case R_METRICS: {
		struct sbh_stats hs;
		sbh_stats(api->srv, &hs);
		struct sbc_metrics_gauges g = {
		    .catalog = cat,
		    .http = true,
		    .http_connections = hs.connections,
		    .http_body_bytes = hs.body_bytes,
		    .http_conn_refused = (unsigned long long)hs.conn_refused,
		    .http_body_refused = (unsigned long long)hs.body_refused};
		sbc_executor_stats(sbc_runtime_executor(rt), &g.queued,
				   &g.running);
		send_answer(
		    c, 200, sbc_metrics_render(sbc_runtime_metrics(rt), &g),
		    "text/plain; version=0.0.4; charset=utf-8", 0, NULL);
		break;
	}
	default:
		fail(c, SB_ERR_NOT_FOUND, "NotFound", NULL, "no such path");
		break;
	}
	sbc_catalog_unref(cat);
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

static void req_free(struct req *r)
{
	sbc_catalog_unref(r->cat);
	sbc_security_unref(r->sec);
	free(r);
}

/* The audit line of a call: who called what for which mailbox, and how
 * it ended; never an input's value but the Mailbox. */
static void audit(const struct sbc_security *sec, const struct sbc_client *cl,
		  const char *inst, const char *obj, const char *method,
		  const char *mailbox, int http_status, const char *rid)
{
	/* security records: with audit_log (the default) whatever
	 * log_level says */
	if (!sbc_security_audit_log(sec) && !sbc_log_enabled(SB_LOG_INFO))
		return;
	char b1[128], b2[128], b3[128];
	sbc_log_always(SB_LOG_INFO, NULL, NULL,
		       "audit: client=%s call=%s/%s.%s mailbox=%s status=%d "
		       "request_id=%s",
		       sbc_client_name(cl), shown(inst, b1, sizeof(b1)),
		       shown(obj, b2, sizeof(b2)),
		       shown(method, b3, sizeof(b3)),
		       mailbox && *mailbox ? mailbox : "-", http_status, rid);
}

/* A request that will read its body, attached to its connection; it owns
 * the reference on cat.  NULL (answered 500, cat dropped) when out of
 * memory. */
static struct req *req_new(struct sbc_api *api, struct sbh_conn *c,
			   struct sbc_catalog *cat)
{
	struct req *r = calloc(1, sizeof(*r));
	if (!r) {
		sbc_catalog_unref(cat);
		send_json(c, 500, NULL);
		return NULL;
	}
	r->api = api;
	r->conn = c;
	r->cat = cat;
	sbh_set_data(c, r);
	return r;
}

/* Resolve the call and check its headers.  True to have the body read;
 * false once an error was answered. */
static bool call_begin(struct sbc_api *api, struct sbh_conn *c,
		       const struct sbh_request *rq,
		       char seg[MAX_SEGMENTS][SEGMENT_MAX])
{
	struct sb_error e;
	sb_error_clear(&e);
	struct sbc_catalog *cat = sbc_runtime_catalog(api->rt);
	const struct sbc_entry *entry =
	    sbc_dispatch_resolve(cat, seg[2], seg[3], seg[4], &e);
	if (!entry) {
		send_error(c, &e, NULL);
		sbc_catalog_unref(cat);
		return false;
	}
	if (!json_content_type(rq->content_type)) {
		fail(c, SB_ERR_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType",
		     NULL, "a call's body must be application/json%s",
		     rq->content_type ? "" : " (no Content-Type was sent)");
		sbc_catalog_unref(cat);
		return false;
	}
	struct req *r = req_new(api, c, cat);
	if (!r)
		return false;
	r->entry = entry;
	return true;
}

/* The answer to a suspended call's connection, from any thread. */
static void answer_call(struct sbh_conn *c, enum sb_status st,
			const struct sb_error *err,
			const struct sb_result *result)
{
	struct sbh_answer a = {.content_type = "application/json"};
	if (st == SB_OK) {
		a.body = sbc_json_result(result);
		a.status = 200; /* NULL body: answered 500 */
	} else {
		struct sb_error copy = *err;
		copy.status = st;
		/* the header always says when to retry; the body only
		 * what the broker said */
		if (st == SB_ERR_THROTTLED || st == SB_ERR_UNAVAILABLE)
			a.retry_after_ms = copy.retry_after_ms > 0
					       ? copy.retry_after_ms
					       : 1000;
		a.status = sb_status_http(st);
		a.body = sbc_json_error(&copy);
	}
	sbh_resume_with(c, &a);
}

static void call_audit(const struct req *r, enum sb_status st)
{
	if (!r->entry)
		return;
	audit(r->sec, r->client, r->entry->inst->name, r->entry->obj->name,
	      r->entry->method->name, r->mailbox,
	      st == SB_OK ? 200 : sb_status_http(st), r->rid);
}

/* Completion callback from the executor (a worker thread): the answer is
 * sent from here.  The request (r) lives until the connection's thread
 * finishes it (on_done). */
static void call_done(void *ud, const struct sbc_outcome *o)
{
	struct req *r = ud;
	call_audit(r, o->status);
	answer_call(r->conn, o->status, o->err, o->result);
}

/* ---- POST /v1/test/{instance} ---------------------------------------------
 * The instance's test() on the executor (see probe.h), answered like a
 * call: the connection is suspended until the verdict comes.  A body, if
 * any, is read (within max_body) and ignored. */

static bool test_begin(struct sbc_api *api, struct sbh_conn *c,
		       char seg[MAX_SEGMENTS][SEGMENT_MAX])
{
	char b1[128];
	struct sbc_catalog *cat = sbc_runtime_catalog(api->rt);
	if (!sbc_catalog_probe_entry(cat, seg[2])) {
		fail(c, SB_ERR_NOT_FOUND, "UnknownInstance", NULL,
		     "no instance named %s", shown(seg[2], b1, sizeof(b1)));
		sbc_catalog_unref(cat);
		return false;
	}
	struct req *r = req_new(api, c, cat);
	if (!r)
		return false;
	r->test = true;
	snprintf(r->instance, sizeof(r->instance), "%s", seg[2]);
	return true;
}

/* The verdict, from the worker that ran the test. */
static void test_done(void *ud, const struct sbc_outcome *o)
{
	struct req *r = ud;
	struct sbh_answer a = {.content_type = "application/json"};
	int status = 500;
	a.body = sbc_probe_json(o, &status, &a.retry_after_ms, NULL, NULL);
	a.status = a.body ? status : 500;
	sbh_resume_with(r->conn, &a);
}

static void test_submit(struct sbc_api *api, struct sbh_conn *c, struct req *r)
{
	struct sb_error e;
	sb_error_clear(&e);
	r->submitted = true;
	atomic_fetch_add(&api->calls_open, 1);
	sbh_suspend(c);
	enum sb_status st =
	    sbc_probe_submit(sbc_runtime_executor(api->rt), r->cat, r->instance,
			     test_done, r, &e);
	if (st != SB_OK)
		answer_call(c, st, &e, NULL);
}

/* The Mailbox a call acts for (NULL: the instance's default mailbox, when
 * the method has no Mailbox input or the call names none), checked
 * against the client's mailboxes.  False with err: 403 forbidden. */
static bool mailbox_granted(struct req *r, const struct sb_call *call,
			    struct sb_error *err)
{
	const struct sb_method *m = r->entry->method;
	const char *mb = NULL;
	for (const struct sb_param *p = m->inputs; p && p->name; p++)
		if ((p->flags & SB_MAILBOX) ||
		    (strcmp(p->name, "Mailbox") == 0 &&
		     (p->flags & SB_MULTI) == 0 && p->type != SB_TYPE_FILE &&
		     p->type != SB_TYPE_NUMBER && p->type != SB_TYPE_BOOLEAN))
			mb = sb_call_str(call, p->name, NULL);
	if (mb)
		sb_text_quotable(mb, 120, r->mailbox, sizeof(r->mailbox));
	if (sbc_client_may_mailbox(r->client, mb))
		return true;
	char b1[64];
	if (mb)
		sb_error_set(err, SB_ERR_FORBIDDEN, "forbidden",
			     "client %s may not act for mailbox %s%s",
			     sbc_client_name(r->client), r->mailbox,
			     strchr(mb, '@') ? ""
					     : " (grants name addresses: give "
					       "the mailbox's address)");
	else
		sb_error_set(err, SB_ERR_FORBIDDEN, "forbidden",
			     "client %s may not act for the default mailbox "
			     "of instance %s (name a Mailbox it may act for)",
			     sbc_client_name(r->client),
			     shown(r->entry->inst->name, b1, sizeof(b1)));
	return false;
}

/* The call of r's body, its Mailbox checked; NULL with e set if not. */
static struct sb_call *call_decode(struct req *r, const char *body, size_t len,
				   struct sb_error *e)
{
	struct sb_call *call =
	    sbc_json_decode_call(r->entry, body, len, true, e);
	if (!call) {
		if (e->status == SB_OK)
			e->status = SB_ERR_INTERNAL;
		return NULL;
	}
	if (!mailbox_granted(r, call, e) ||
	    !sb_call_set_request_id(call, r->rid)) {
		if (e->status == SB_OK)
			sb_error_set(e, SB_ERR_INTERNAL, NULL, "out of memory");
		sb_call_free(call);
		return NULL;
	}
	return call;
}

/* Hand a decoded call to the executor; r's connection is suspended and r
 * counted in calls_open.  r may be gone when this returns. */
static void call_submit(struct sbc_api *api, struct req *r,
			struct sb_call *call)
{
	struct sb_error e;
	sb_error_clear(&e);
	/* on failure the executor frees the call and answers nothing */
	enum sb_status st =
	    sbc_executor_submit(sbc_runtime_executor(api->rt), r->cat, r->entry,
				call, call_done, r, &e);
	if (st != SB_OK) {
		call_audit(r, st);
		answer_call(r->conn, st, &e, NULL);
	}
}

/* A body for no decoder (they stopped): the answer a refused call gets. */
static void refuse_stopping(struct req *r)
{
	struct sb_error e;
	sb_error_clear(&e);
	sb_error_set(&e, SB_ERR_UNAVAILABLE, "QueueFull",
		     "the service is shutting down: %s/%s.%s was not queued; "
		     "retry later",
		     r->entry->inst->name, r->entry->obj->name,
		     r->entry->method->name);
	e.retry_after_ms = 1000;
	call_audit(r, e.status);
	answer_call(r->conn, e.status, &e, NULL);
}

static void *decoder_main(void *arg)
{
	struct sbc_api *api = arg;
	struct decoders *d = &api->dec;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->head && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		struct req *r = d->head;
		if (!r) /* stopping, and none waits */
			break;
		d->head = r->dnext;
		if (!d->head)
			d->tail = NULL;
		bool refuse = d->refuse;
		pthread_mutex_unlock(&d->mu);
		struct sbh_body *b = r->body;
		r->body = NULL;
		if (refuse) { /* stopping: its call would not be run */
			sbh_body_free(b);
			refuse_stopping(r);
			pthread_mutex_lock(&d->mu);
			continue;
		}
		struct sb_error e;
		sb_error_clear(&e);
		struct sb_call *call = call_decode(r, b->data, b->len, &e);
		sbh_body_free(b);
		if (call) {
			call_submit(api, r, call);
		} else {
			call_audit(r, e.status);
			answer_call(r->conn, e.status, &e, NULL);
		}
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void decoders_start(struct sbc_api *api)
{
	struct decoders *d = &api->dec;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	int n = 0;
	for (int i = 0; i < DECODERS; i++) {
		if (pthread_create(&d->th[n], NULL, decoder_main, api) != 0)
			break; /* fewer (or none: bodies decoded on the loop) */
		n++;
	}
	atomic_store(&d->n, n);
}

/* From now on bodies waiting for a decoder are answered 503 undecoded:
 * the service is stopping and would not run their calls. */
static void decoders_refuse(struct sbc_api *api)
{
	struct decoders *d = &api->dec;
	pthread_mutex_lock(&d->mu);
	d->refuse = true;
	pthread_mutex_unlock(&d->mu);
}

/* Answer what waits (refused, if decoders_refuse was called) and stop the
 * threads: before anything they use (the executor, the HTTP server, the
 * modules' tables) goes. */
static void decoders_stop(struct sbc_api *api)
{
	struct decoders *d = &api->dec;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	int n = atomic_exchange(&d->n, 0);
	for (int i = 0; i < n; i++)
		pthread_join(d->th[i], NULL);
}

/* With api, once no loop runs (a loop may still look at d->mu). */
static void decoders_free(struct sbc_api *api)
{
	pthread_cond_destroy(&api->dec.cv);
	pthread_mutex_destroy(&api->dec.mu);
}

/* A large body goes to a decoder thread, its connection suspended; false
 * (decode it here) if there is none or no memory. */
static bool decoders_take(struct sbc_api *api, struct sbh_conn *c,
			  struct req *r)
{
	struct decoders *d = &api->dec;
	if (atomic_load(&d->n) == 0 || !(r->body = sbh_take_body(c)))
		return false;
	r->submitted = true;
	atomic_fetch_add(&api->calls_open, 1);
	sbh_suspend(c);
	pthread_mutex_lock(&d->mu);
	bool stopped = d->stop; /* between the look at n and here */
	if (!stopped) {
		r->dnext = NULL;
		if (d->tail)
			d->tail->dnext = r;
		else
			d->head = r;
		d->tail = r;
		pthread_cond_signal(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	if (stopped) {
		sbh_body_free(r->body);
		r->body = NULL;
		refuse_stopping(r);
	}
	return true;
}

static void on_body(void *ud, struct sbh_conn *c, const struct sbh_request *rq)
{
	struct sbc_api *api = ud;
	struct req *r = sbh_data(c);
	struct sb_error e;
	sb_error_clear(&e);
	if (!r) { /* cannot be: on_head answered every other request */
		fail(c, SB_ERR_INTERNAL, "internal", NULL, "no call");
		return;
	}
	if (r->test) {
		test_submit(api, c, r);
		return;
	}
	if (rq->body_len >= DECODE_OFF_LOOP && decoders_take(api, c, r))
		return;
	struct sb_call *call = call_decode(r, rq->body, rq->body_len, &e);
	if (!call) {
		call_audit(r, e.status);
		send_error(c, &e, NULL);
		return;
	}
	/* suspended before it is submitted: from then on the worker that
	 * runs it owns the answer */
	r->submitted = true;
	atomic_fetch_add(&api->calls_open, 1);
	sbh_suspend(c);
	call_submit(api, r, call);
}

static void on_done(void *ud, struct sbh_conn *c, void *data)
{
	struct sbc_api *api = ud;
	struct req *r = data;
	(void)c;
	if (r->submitted) /* its answer was sent, or the client left */
		atomic_fetch_sub(&api->calls_open, 1);
	req_free(r);
}

/* ---- the handler --------------------------------------------------------- */

static const char *route_allow(enum route route)
{
	switch (route) {
	case R_CALL:
	case R_TEST:
		return "POST, OPTIONS";
	default:
		return "GET, HEAD, OPTIONS";
	}
}

/* OPTIONS: what the path takes, and a CORS preflight's answer for an
 * allowed origin. */
static void preflight(struct sbh_conn *c, const struct sbh_request *rq,
		      const char *allow, bool cors)
{
	if (cors && rq->acr_method) {
		char h[400];
		snprintf(h, sizeof(h),
			 "Access-Control-Allow-Methods: %s\r\n"
			 "Access-Control-Allow-Headers: Authorization, "
			 "Content-Type, X-Request-Id, If-None-Match\r\n"
			 "Access-Control-Max-Age: 600\r\n",
			 allow);
		sbh_add_headers(c, h);
	}
	struct sbh_answer a = {
	    .status = 204, .body = strdup(""), .allow = allow};
	sbh_answer(c, &a);
}

static bool handle(struct sbc_api *api, struct sbc_security *sec,
		   struct sbh_conn *c, const struct sbh_request *rq,
		   const char *rid)
{
	bool alog = sbc_security_access_log(sec);
	sbh_set_tag(c, NULL, rid, alog);
	bool cors = rq->origin && sbc_security_origin_ok(sec, rq->origin);
	if (cors) {
		char h[400];
		/* the origin itself, unless the list is "*" */
		bool exact = !sbc_security_origin_ok(sec, "\x01") &&
			     strlen(rq->origin) < 200;
		snprintf(h, sizeof(h),
			 "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
			 "Access-Control-Expose-Headers: X-Request-Id, ETag, "
			 "Retry-After, WWW-Authenticate\r\n",
			 exact ? rq->origin : "*");
		sbh_add_headers(c, h);
	}
	bool is_options = strcmp(rq->method, "OPTIONS") == 0;
	if (api->console && sbc_console_path(rq->path)) {
		if (is_options)
			preflight(c, rq, "GET, HEAD, OPTIONS", cors);
		else
			sbc_console_serve(&api->con, c, rq);
		return false;
	}
	char seg[MAX_SEGMENTS][SEGMENT_MAX];
	int n = split_path(rq->path, seg);
	enum route route = n < 0 ? R_NONE : route_of(n, seg);
	bool is_get =
	    strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
	bool is_post = strcmp(rq->method, "POST") == 0;
	if (route == R_NONE) {
		fail(c, SB_ERR_NOT_FOUND, "NotFound", NULL,
		     "no such path (see /v1/openapi.json)");
		return false;
	}
	if (is_options) { /* a preflight carries no credentials */
		preflight(c, rq, route_allow(route), cors);
		return false;
	}
	/* who is calling: with clients configured, every path but the
	 * health check needs a credential; the health check takes one
	 * (to list the instances) but does without */
	const struct sbc_client *cl = NULL;
	if (sbc_security_closed(sec)) {
		char tb[512];
		const char *tok =
		    sbc_bearer_token(rq->authorization, tb, sizeof(tb));
		if (tok)
			cl = sbc_security_by_token(sec, tok);
		else if (sbh_is_tls(c))
			cl = sbc_security_by_subject(sec, sbh_peer_subject(c));
		if (tok)
			OPENSSL_cleanse(tb, sizeof(tb));
		/* the health check answers anyone but a wrong bearer token
		 * (a load balancer's own credentials, another scheme or a
		 * certificate of no client, get the anonymous answer) */
		if (!cl && !(route == R_HEALTH && !tok)) {
			sbh_add_headers(c, tok || rq->authorization
					       ? "WWW-Authenticate: Bearer "
						 "realm=\"svcbroker\", "
						 "error=\"invalid_token\"\r\n"
					       : "WWW-Authenticate: Bearer "
						 "realm=\"svcbroker\"\r\n");
			if (route == R_CALL)
				audit(sec, NULL, seg[2], seg[3], seg[4], NULL,
				      401, rid);
			fail(c, SB_ERR_UNAUTHENTICATED, "Unauthenticated", NULL,
			     "%s",
			     tok || rq->authorization
				 ? "the credentials are not valid"
				 : "this API needs a bearer token "
				   "(Authorization: Bearer TOKEN) or "
				   "a client certificate");
			return false;
		}
		if (cl)
			sbh_set_tag(c, sbc_client_name(cl), rid, alog);
	}
	char b1[128], b2[128], b3[128];
	if (route == R_TEST) {
		if (!is_post) {
			fail(c, SB_ERR_METHOD_NOT_ALLOWED, "MethodNotAllowed",
			     "POST", "a test takes POST");
			return false;
		}
		struct sbc_catalog *cat = sbc_runtime_catalog(api->rt);
		bool ok = may_any(cat, cl, seg[2], NULL);
		sbc_catalog_unref(cat);
		if (!ok) {
			fail(c, SB_ERR_FORBIDDEN, "Forbidden", NULL,
			     "client %s may not test instance %s (it may "
			     "call none of its methods)",
			     sbc_client_name(cl),
			     shown(seg[2], b1, sizeof(b1)));
			return false;
		}
		return test_begin(api, c, seg);
	}
	if (route == R_CALL) {
		if (!is_post) {
			fail(c, SB_ERR_METHOD_NOT_ALLOWED, "MethodNotAllowed",
			     "POST", "a call takes POST");
			return false;
		}
		if (!sbc_client_may_call(cl, seg[2], seg[3], seg[4])) {
			audit(sec, cl, seg[2], seg[3], seg[4], NULL, 403, rid);
			fail(c, SB_ERR_FORBIDDEN, "Forbidden", NULL,
			     "client %s may not call %s/%s.%s",
			     sbc_client_name(cl), shown(seg[2], b1, sizeof(b1)),
			     shown(seg[3], b2, sizeof(b2)),
			     shown(seg[4], b3, sizeof(b3)));
			return false;
		}
		int64_t retry = 0;
		if (!sbc_client_rate(cl, sb_now_ms(), &retry)) {
			audit(sec, cl, seg[2], seg[3], seg[4], NULL, 429, rid);
			struct sb_error e;
			sb_error_set(&e, SB_ERR_THROTTLED, "RateLimited",
				     "client %s is over its "
				     "max_calls_per_minute",
				     sbc_client_name(cl));
			e.retry_after_ms = retry;
			send_error(c, &e, NULL);
			return false;
		}
		if (!call_begin(api, c, rq, seg)) {
			audit(sec, cl, seg[2], seg[3], seg[4], NULL,
			      sbh_answered_status(c), rid);
			return false;
		}
		struct req *r = sbh_data(c);
		r->sec = sbc_security_ref(sec);
		r->client = cl;
		memcpy(r->rid, rid, strlen(rid) + 1);
		return true;
	}
	if (!is_get) {
		fail(c, SB_ERR_METHOD_NOT_ALLOWED, "MethodNotAllowed",
		     "GET, HEAD", "this path takes GET");
		return false;
	}
	serve_get(api, sec, c, rq, route, seg, cl);
	return false;
}

static bool on_head(void *ud, struct sbh_conn *c, const struct sbh_request *rq)
{
	struct sbc_api *api = ud;
	struct sbc_security *sec = sbc_runtime_security(api->rt);
	char rid[SBC_REQUEST_ID_MAX + 1];
	if (rq->request_id && sbc_request_id_ok(rq->request_id))
		memcpy(rid, rq->request_id, strlen(rq->request_id) + 1);
	else
		sbc_request_id_new(rid);
	bool want = handle(api, sec, c, rq, rid);
	sbc_security_unref(sec);
	return want;
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

static void doc_cache_free(struct doc_cache *dc)
{
	doc_unref(dc->doc);
	pthread_mutex_destroy(&dc->mu);
}

/* The TLS context of a new connection: the policy's now (a renewed
 * certificate is taken at reload), or the one of the start if a reload
 * turned TLS off (that takes a restart). */
static void *tls_ctx(void *ud)
{
	struct sbc_api *a = ud;
	if (!a->tls_start)
		return NULL;
	struct sbc_security *sec = sbc_runtime_security(a->rt);
	SSL_CTX *ctx = sbc_security_tls(sec);
	if (!ctx)
		ctx = a->tls_start;
	SSL_CTX_up_ref(ctx);
	sbc_security_unref(sec);
	return ctx;
}

/* Secure by default: an address other hosts can reach is served only
 * with TLS or clients, or when the configuration says allow_insecure. */
static bool exposure_ok(struct sb_runtime *rt,
			const struct sockaddr_storage *ss,
			const char *listen_at, char *errbuf, size_t errlen)
{
	if (sbc_console_enabled(SBC_CONSOLE_LOOPBACK, ss))
		return true;
	struct sbc_security *sec = sbc_runtime_security(rt);
	bool guarded = sbc_security_tls(sec) || sbc_security_closed(sec);
	sbc_security_unref(sec);
	if (guarded)
		return true;
	if (!sbc_runtime_allow_insecure(rt)) {
		sbc_runtime_refuse_insecure(listen_at, errbuf, errlen);
		return false;
	}
	sbc_runtime_warn_insecure(listen_at);
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
	if (!exposure_ok(rt, &ss, listen_at, errbuf, errlen))
		return NULL;
	int fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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
	struct sbc_security *sec = sbc_runtime_security(rt);
	if (sbc_security_tls(sec)) {
		a->tls_start = sbc_security_tls(sec);
		SSL_CTX_up_ref(a->tls_start);
	}
	sbc_runtime_set_exposed(
	    rt,
	    !a->tls_start && !sbc_console_enabled(SBC_CONSOLE_LOOPBACK, &ss));
	sbc_log(SB_LOG_INFO, NULL, NULL, "API over %s, %s",
		a->tls_start ? "TLS (HTTPS)" : "plain HTTP",
		sbc_security_closed(sec)
		    ? "clients authenticate"
		    : "no [client] sections: every caller may call everything");
	sbc_security_unref(sec);
	int console_mode;
	sbc_runtime_console(rt, &console_mode, &a->con.dir, &a->con.libs);
	a->console = sbc_console_enabled(console_mode, &ss);
	if (a->console)
		sbc_log(SB_LOG_INFO, NULL, NULL,
			"web console at /ui/ (files in %s)", a->con.dir);
	pthread_mutex_init(&a->catalog_doc.mu, NULL);
	pthread_mutex_init(&a->openapi_doc.mu, NULL);
	struct sbc_http_limits lim;
	sbc_runtime_http_limits(rt, &lim);
	struct sbh_config cfg = {
	    .fd = fd,
	    .threads = HTTP_THREADS,
	    .max_body = sbc_runtime_max_body(rt),
	    .max_body_total = lim.max_body_total,
	    .max_connections = lim.max_connections,
	    .max_connections_per_ip = lim.max_connections_per_ip,
	    .idle_timeout_ms =
		lim.idle_timeout_ms > 0 ? lim.idle_timeout_ms : 1000,
	    .metrics = sbc_runtime_metrics(rt),
	    .tls_ctx = tls_ctx,
	    .tls_ud = a};
	struct sbh_handlers h = {.ud = a,
				 .on_head = on_head,
				 .on_body = on_body,
				 .on_done = on_done};
	char why[200];
	decoders_start(a);
	a->srv = sbh_start(&cfg, &h, why, sizeof(why));
	if (!a->srv) {
		decoders_stop(a);
		decoders_free(a);
		snprintf(errbuf, errlen, "listen %s: %s", listen_at, why);
		SSL_CTX_free(a->tls_start);
		close(fd);
		doc_cache_free(&a->catalog_doc);
		doc_cache_free(&a->openapi_doc);
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
	sbh_quiesce(a->srv);
}

void sbc_api_stop(struct sbc_api *a, int64_t timeout_ms)
{
	if (!a)
		return;
	sbc_api_quiesce(a);
	decoders_refuse(a);
	/* every answered call gets its answer sent before the server stops */
	int64_t until = sb_now_ms() + timeout_ms;
	while ((atomic_load(&a->calls_open) > 0 || sbh_suspended(a->srv) > 0) &&
	       sb_now_ms() < until) {
		sbh_wake(a->srv);
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* the decoders answer what still waits for them and end, on either
	 * path: the runtime they use goes after this returns */
	decoders_stop(a);
	if (sbh_suspended(a->srv) > 0) {
		/* their calls still hold them: leave them to the exit */
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"%d connections still waiting for a call: not "
			"stopping the HTTP server",
			sbh_suspended(a->srv));
		return;
	}
	if (atomic_load(&a->calls_open) > 0)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"%d answers were not sent in time",
			atomic_load(&a->calls_open));
	sbh_stop(a->srv);
	decoders_free(a);
	SSL_CTX_free(a->tls_start);
	doc_cache_free(&a->catalog_doc);
	doc_cache_free(&a->openapi_doc);
	free(a);
}
