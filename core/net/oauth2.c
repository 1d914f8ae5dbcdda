/* libsvcbroker-net: OAuth2 client credentials (see <svcbroker/oauth2.h>):
 * the per-instance token cache, the token request and its default libcurl
 * transport, and the mapping of the endpoint's refusals to statuses. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include <svcbroker/http.h>
#include <svcbroker/oauth2.h>
#include <svcbroker/sdk.h>

#include "oauth2_int.h"

#define DEFAULT_BUDGET_MS 30000	      /* no call (test()): no deadline */
#define ASSERTION_LIFETIME_S 300      /* a client assertion is used at once */
#define DEFAULT_LIFETIME_S 300	      /* an answer without expires_in */
#define RENEW_MAX_MS (300 * 1000)     /* renew at most 5 minutes early ... */
#define EXPIRE_MAX_MS (30 * 1000)     /* ... and stop using it 30 s early */
#define FAILED_RENEWAL_PAUSE_MS 10000 /* after an early renewal failed */
#define WAIT_SLICE_MS 200	      /* waiters look at cancellation */

int64_t (*oauth2_clock_ms)(void) = sb_now_ms;

struct sb_oauth2 {
	const struct sb_host *host;
	char *token_url, *client_id, *client_secret, *scope, *ca_file;
	bool verify_tls;
	bool use_cert;
	struct oauth2_cert cert;
	sb_oauth2_post_fn post;
	void *post_ctx;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a request ended (gen moved on) */
	/* under lock: */
	char *token;	      /* NULL: none */
	int64_t renew_at;     /* monotonic ms: renew from then on */
	int64_t expire_at;    /* monotonic ms: no longer used from then on */
	int64_t no_retry_til; /* an early renewal failed: not again before */
	bool fetching;	      /* one caller is requesting a token */
	uint64_t gen;	      /* requests ended */
	bool last_ok;	      /* how the last one ended */
	struct sb_error last_err;
	uint64_t requests;
};

/* ---- small helpers --------------------------------------------------------
 */

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

static void wipe_free(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

void sb_oauth2_token_free(char *token) { wipe_free(token); }

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* http:// is accepted to a loopback address only: a secret never crosses
 * a network in clear text. */
static bool loopback_host(const char *h, size_t n)
{
	if (n == 9 && !strncasecmp(h, "localhost", 9))
		return true;
	if (n == 5 && !memcmp(h, "[::1]", 5))
		return true;
	if (n >= 4 && !memcmp(h, "127.", 4)) {
		for (size_t i = 4; i < n; i++)
			if ((h[i] < '0' || h[i] > '9') && h[i] != '.')
				return false;
		return true;
	}
	return false;
}

enum sb_status sb_oauth2_url_check(const char *u, struct sb_error *err)
{
	if (!u || !*u)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "token_url: required for OAuth2");
	bool https = !strncasecmp(u, "https://", 8);
	bool http = !strncasecmp(u, "http://", 7);
	if (!https && !http)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "token_url: expected an https:// URL");
	const char *a = u + (https ? 8 : 7);
	size_t alen = strcspn(a, "/?#");
	if (!alen || memchr(a, '@', alen))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "token_url: expected https://host/path "
				    "(no user name or password in it)");
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "token_url: spaces or control "
					    "characters in the URL");
	size_t hlen = alen;
	if (a[0] == '[') {
		const char *rb = memchr(a, ']', alen);
		hlen = rb ? (size_t)(rb - a) + 1 : alen;
	} else {
		const char *colon = memchr(a, ':', alen);
		if (colon)
			hlen = (size_t)(colon - a);
	}
	if (http && !loopback_host(a, hlen))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "token_url: http:// only to a loopback "
				    "address; use https:// (the client "
				    "credentials would cross the network in "
				    "clear text)");
	return SB_OK;
}

static bool nonempty(const char *s) { return s && *s; }

/* ---- new / free -----------------------------------------------------------
 */

enum sb_status sb_oauth2_new(const struct sb_oauth2_conf *conf,
			     const struct sb_host *host, struct sb_oauth2 **out,
			     struct sb_error *err)
{
	*out = NULL;
	if (!conf || !nonempty(conf->token_url))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "token_url: required for OAuth2");
	enum sb_status st = sb_oauth2_url_check(conf->token_url, err);
	if (st != SB_OK)
		return st;
	if (!nonempty(conf->client_id))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "client_id: required for OAuth2");
	bool secret = nonempty(conf->client_secret);
	bool cert = nonempty(conf->cert_file) || nonempty(conf->key_file);
	if (secret == cert)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    secret ? "client_secret: give either a "
					     "client secret or cert_file and "
					     "key_file, not both"
					   : "client_secret: give a client "
					     "secret, or cert_file and "
					     "key_file");
	if (cert && !nonempty(conf->cert_file))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "cert_file: required with key_file");
	if (cert && !nonempty(conf->key_file))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "key_file: required with cert_file");

	struct sb_oauth2 *o = calloc(1, sizeof(*o));
	if (!o)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	o->host = host;
	o->verify_tls = conf->verify_tls;
	o->post = conf->post ? conf->post : sb_oauth2_curl_post;
	o->post_ctx = conf->post_ctx;
	o->use_cert = cert;
	o->last_ok = true;
	bool oom = false;
	o->token_url = dup_or_null(conf->token_url, &oom);
	o->client_id = dup_or_null(conf->client_id, &oom);
	o->client_secret =
	    secret ? dup_or_null(conf->client_secret, &oom) : NULL;
	o->scope =
	    nonempty(conf->scope) ? dup_or_null(conf->scope, &oom) : NULL;
	o->ca_file =
	    nonempty(conf->ca_file) ? dup_or_null(conf->ca_file, &oom) : NULL;
	pthread_condattr_t ca;
	bool cond_ok = pthread_condattr_init(&ca) == 0;
	if (cond_ok) {
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		cond_ok = pthread_cond_init(&o->cond, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (!cond_ok || pthread_mutex_init(&o->lock, NULL) != 0) {
		if (cond_ok)
			pthread_cond_destroy(&o->cond);
		oom = true;
		cond_ok = false;
	}
	if (oom) {
		o->use_cert = false;
		if (cond_ok) {
			pthread_mutex_destroy(&o->lock);
			pthread_cond_destroy(&o->cond);
		}
		free(o->token_url);
		free(o->client_id);
		wipe_free(o->client_secret);
		free(o->scope);
		free(o->ca_file);
		free(o);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	if (cert) {
		st = oauth2_cert_load(conf->cert_file, conf->key_file, &o->cert,
				      err);
		if (st != SB_OK) {
			o->use_cert = false;
			sb_oauth2_free(o);
			return st;
		}
	}
	*out = o;
	return SB_OK;
}

void sb_oauth2_free(struct sb_oauth2 *o)
{
	if (!o)
		return;
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	wipe_free(o->token);
	wipe_free(o->client_secret);
	free(o->token_url);
	free(o->client_id);
	free(o->scope);
	free(o->ca_file);
	if (o->use_cert)
		oauth2_cert_free(&o->cert);
	free(o);
}

uint64_t sb_oauth2_requests(struct sb_oauth2 *o)
{
	pthread_mutex_lock(&o->lock);
	uint64_t n = o->requests;
	pthread_mutex_unlock(&o->lock);
	return n;
}

/* ---- the token request ----------------------------------------------------
 */

/* Percent-encode v for a form body (everything but unreserved). */
static void form_value(struct sb_buf *b, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			sb_buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			sb_buf_append(b, e, 3);
		}
	}
}

static void form_field(struct sb_buf *b, const char *name, const char *v)
{
	if (b->len)
		sb_buf_append(b, "&", 1);
	sb_buf_puts(b, name);
	sb_buf_append(b, "=", 1);
	form_value(b, v);
}

static int64_t call_left_ms(const struct sb_oauth2 *o,
			    const struct sb_call *call)
{
	if (!call || !o->host || !o->host->remaining_ms)
		return DEFAULT_BUDGET_MS;
	return o->host->remaining_ms(o->host, call);
}

static bool call_cancelled(const struct sb_oauth2 *o,
			   const struct sb_call *call)
{
	return call && o->host && o->host->cancelled &&
	       o->host->cancelled(o->host, call);
}

static void log_line(const struct sb_oauth2 *o, enum sb_log_level lv,
		     const char *msg)
{
	if (o->host && o->host->log)
		o->host->log(o->host, lv, "%s", msg);
}

/* The endpoint's error code as a status (RFC 6749 section 5.2, and what
 * Entra ID answers). */
static enum sb_status error_status(const char *e, long http)
{
	static const char *const auth[] = {
	    "invalid_client", "unauthorized_client", "invalid_grant",
	    "access_denied", NULL};
	for (size_t i = 0; auth[i]; i++)
		if (!strcmp(e, auth[i]))
			return SB_ERR_UPSTREAM_AUTH;
	if (!strcmp(e, "temporarily_unavailable"))
		return SB_ERR_UNAVAILABLE;
	if (!strcmp(e, "slow_down"))
		return SB_ERR_THROTTLED;
	if (http == 401)
		return SB_ERR_UPSTREAM_AUTH;
	return SB_ERR_UPSTREAM; /* invalid_scope, invalid_request, ... */
}

static enum sb_status http_status_error(long http)
{
	if (http == 401 || http == 403)
		return SB_ERR_UPSTREAM_AUTH;
	if (http == 429)
		return SB_ERR_THROTTLED;
	if (http == 503)
		return SB_ERR_UNAVAILABLE;
	return SB_ERR_UPSTREAM;
}

/* Read the answer: the token and its lifetime, or the refusal. */
static enum sb_status read_answer(const struct sb_oauth2 *o, long http,
				  const struct sb_buf *body, char **token,
				  int64_t *lifetime_s, struct sb_error *err)
{
	struct oauth2_answer a;
	char why[96];
	char q1[320], q2[64];
	enum sb_status st;
	bool parsed = oauth2_answer_parse(body->data ? body->data : "",
					  body->len, &a, why, sizeof(why));
	if (parsed && a.error) {
		st = error_status(a.error, http);
		sb_text_quotable(a.error, 60, q2, sizeof(q2));
		sb_text_quotable(a.error_description ? a.error_description
						     : "(no error_description)",
				 300, q1, sizeof(q1));
		/* an endpoint (or a proxy) that echoes the form would quote
		 * the secret: never pass it on */
		if (o->client_secret && *o->client_secret &&
		    strstr(a.error_description ? a.error_description : "",
			   o->client_secret))
			snprintf(q1, sizeof(q1),
				 "(its description held the client secret "
				 "and is not shown)");
		sb_error_set(err, st, q2,
			     "the OAuth2 token endpoint %s refused the "
			     "client credentials (HTTP %ld): %s: %s",
			     o->token_url, http, q2, q1);
		goto out;
	}
	if (http != 200) {
		st = http_status_error(http);
		sb_error_set(err, st, NULL,
			     "the OAuth2 token endpoint %s answered HTTP %ld%s",
			     o->token_url, http,
			     parsed ? "" : " (not a JSON token answer)");
		goto out;
	}
	if (!parsed) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				  "the OAuth2 token endpoint %s answered with "
				  "no usable JSON: %s",
				  o->token_url, why);
		goto out;
	}
	if (!a.access_token || !*a.access_token) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				  "the OAuth2 token endpoint %s answered "
				  "without an access_token",
				  o->token_url);
		goto out;
	}
	for (const char *p = a.access_token; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
					  "the OAuth2 token endpoint %s "
					  "answered an access_token with "
					  "characters a bearer token cannot "
					  "have",
					  o->token_url);
			goto out;
		}
	if (a.token_type && strcasecmp(a.token_type, "Bearer") != 0) {
		sb_text_quotable(a.token_type, 40, q2, sizeof(q2));
		st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				  "the OAuth2 token endpoint %s answered a "
				  "token of type \"%s\", not Bearer",
				  o->token_url, q2);
		goto out;
	}
	*lifetime_s = a.expires_in >= 0 ? a.expires_in : DEFAULT_LIFETIME_S;
	*token = a.access_token;
	a.access_token = NULL;
	st = SB_OK;
out:
	oauth2_answer_free(&a);
	return st;
}

/* One token request (the caller holds the "fetching" role, not the
 * lock). */
static enum sb_status fetch(struct sb_oauth2 *o, const struct sb_call *call,
			    char **token, int64_t *lifetime_s,
			    struct sb_error *err)
{
	int64_t left = call_left_ms(o, call);
	int64_t margin = left / 10;
	margin = margin < 50 ? 50 : margin > 1000 ? 1000 : margin;
	int64_t budget = left > 2 * margin ? left - margin : left;
	if (budget <= 0)
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "deadline passed before the OAuth2 token "
				    "request");
	struct sb_buf form;
	sb_buf_init(&form, 128 * 1024);
	form_field(&form, "grant_type", "client_credentials");
	form_field(&form, "client_id", o->client_id);
	if (o->scope)
		form_field(&form, "scope", o->scope);
	if (o->use_cert) {
		char *jwt = oauth2_jwt_assertion(
		    &o->cert, o->token_url, o->client_id, (int64_t)time(NULL),
		    ASSERTION_LIFETIME_S, err);
		if (!jwt) {
			sb_buf_free(&form);
			return err ? err->status : SB_ERR_INTERNAL;
		}
		form_field(&form, "client_assertion_type",
			   "urn:ietf:params:oauth:client-assertion-type:"
			   "jwt-bearer");
		form_field(&form, "client_assertion", jwt);
		wipe_free(jwt);
	} else {
		form_field(&form, "client_secret", o->client_secret);
	}
	if (form.failed) {
		sb_buf_free(&form);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory (token request)");
	}
	char msg[SB_ERROR_MSG_MAX];
	snprintf(msg, sizeof(msg),
		 "requesting an OAuth2 token from %s for client %s (%s)",
		 o->token_url, o->client_id,
		 o->use_cert ? "certificate" : "client secret");
	log_line(o, SB_LOG_DEBUG, msg);

	struct sb_oauth2_post req = {
	    .url = o->token_url,
	    .body = form.data,
	    .body_len = form.len,
	    .timeout_ms = budget,
	    .verify_tls = o->verify_tls,
	    .ca_file = o->ca_file,
	    .max_response = SB_OAUTH2_MAX_RESPONSE,
	    .host = o->host,
	    .call = call,
	};
	struct sb_buf body;
	sb_buf_init(&body, SB_OAUTH2_MAX_RESPONSE);
	long http = 0;
	struct sb_error e = {0};
	enum sb_status st = o->post(o->post_ctx, &req, &http, &body, &e);
	wipe(form.data, form.len);
	sb_buf_free(&form);
	if (st == SB_OK && body.failed)
		st = sb_error_set(&e, SB_ERR_UPSTREAM, NULL,
				  "the OAuth2 token endpoint %s answered more "
				  "than %d bytes",
				  o->token_url, SB_OAUTH2_MAX_RESPONSE);
	if (st == SB_OK) {
		st = read_answer(o, http, &body, token, lifetime_s, &e);
	} else if (e.status == SB_OK || !e.message[0]) {
		sb_error_set(&e, st, NULL,
			     "the OAuth2 token request to %s failed",
			     o->token_url);
	}
	if (body.data)
		wipe(body.data, body.len);
	sb_buf_free(&body);
	if (st != SB_OK) {
		log_line(o, SB_LOG_WARN, e.message);
		if (err)
			*err = e;
		return st;
	}
	snprintf(msg, sizeof(msg),
		 "obtained an OAuth2 token from %s valid for %lld s",
		 o->token_url, (long long)*lifetime_s);
	log_line(o, SB_LOG_DEBUG, msg);
	return SB_OK;
}

/* ---- the cache ------------------------------------------------------------
 */

static enum sb_status copy_token(const char *t, char **out,
				 struct sb_error *err)
{
	*out = strdup(t);
	if (!*out)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	return SB_OK;
}

static void store(struct sb_oauth2 *o, char *token, int64_t lifetime_s,
		  int64_t started)
{
	if (lifetime_s > 100LL * 365 * 24 * 3600)
		lifetime_s = 100LL * 365 * 24 * 3600;
	int64_t life = lifetime_s * 1000;
	int64_t renew = life / 10 < RENEW_MAX_MS ? life / 10 : RENEW_MAX_MS;
	int64_t early = life / 20 < EXPIRE_MAX_MS ? life / 20 : EXPIRE_MAX_MS;
	wipe_free(o->token);
	o->token = token;
	o->renew_at = started + life - renew;
	o->expire_at = started + life - early;
	o->no_retry_til = 0;
}

static enum sb_status timed_out(bool cancelled, struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
			    cancelled ? "call abandoned while waiting for an "
					"OAuth2 token"
				      : "deadline passed while waiting for an "
					"OAuth2 token");
}

enum sb_status sb_oauth2_token(struct sb_oauth2 *o, const struct sb_call *call,
			       char **token, bool *cached, struct sb_error *err)
{
	*token = NULL;
	if (cached)
		*cached = true;
	int64_t deadline = sb_now_ms() + call_left_ms(o, call);
	enum sb_status st;
	pthread_mutex_lock(&o->lock);
	for (;;) {
		int64_t now = sb_now_ms();
		if (now >= deadline || call_cancelled(o, call)) {
			st = timed_out(now < deadline, err);
			break;
		}
		/* the token's clock (the same, but tests move it) */
		int64_t tnow = oauth2_clock_ms();
		bool usable = o->token && tnow < o->expire_at;
		if (usable && (tnow < o->renew_at || o->fetching ||
			       tnow < o->no_retry_til)) {
			st = copy_token(o->token, token, err);
			break;
		}
		if (!o->fetching) {
			/* this caller asks; the others wait for it (or use the
			 * old token while it is still valid) */
			o->fetching = true;
			o->requests++;
			pthread_mutex_unlock(&o->lock);
			char *fresh = NULL;
			int64_t life = 0;
			struct sb_error e = {0};
			st = fetch(o, call, &fresh, &life, &e);
			pthread_mutex_lock(&o->lock);
			o->fetching = false;
			o->gen++;
			o->last_ok = st == SB_OK;
			o->last_err = e;
			if (st == SB_OK) {
				store(o, fresh, life, tnow);
				if (cached)
					*cached = false;
				st = copy_token(o->token, token, err);
			} else if (o->token &&
				   oauth2_clock_ms() < o->expire_at) {
				/* an early renewal failed: the old token
				 * serves until it expires */
				o->no_retry_til =
				    oauth2_clock_ms() + FAILED_RENEWAL_PAUSE_MS;
				st = copy_token(o->token, token, err);
			} else if (err) {
				*err = e;
			}
			pthread_cond_broadcast(&o->cond);
			break;
		}
		/* another caller is requesting and no token is usable: wait
		 * for its result, within this call's deadline */
		uint64_t gen = o->gen;
		while (o->fetching && o->gen == gen) {
			now = sb_now_ms();
			if (now >= deadline || call_cancelled(o, call))
				break;
			int64_t slice = deadline - now < WAIT_SLICE_MS
					    ? deadline - now
					    : WAIT_SLICE_MS;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += slice / 1000;
			ts.tv_nsec += (long)(slice % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&o->cond, &o->lock, &ts);
		}
		if (o->gen != gen && !o->last_ok &&
		    o->last_err.status != SB_ERR_TIMEOUT) {
			/* the request this caller waited for failed (a
			 * timeout was the deadline of the call that made
			 * it: this caller tries with its own instead) */
			if (err)
				*err = o->last_err;
			st = o->last_err.status != SB_OK ? o->last_err.status
							 : SB_ERR_UPSTREAM;
			break;
		}
		/* a token arrived (or the wait ended): look again */
	}
	pthread_mutex_unlock(&o->lock);
	return st;
}

void sb_oauth2_invalidate(struct sb_oauth2 *o, const char *token)
{
	if (!token)
		return;
	pthread_mutex_lock(&o->lock);
	if (o->token && !strcmp(o->token, token)) {
		wipe_free(o->token);
		o->token = NULL;
		o->renew_at = o->expire_at = 0;
		o->no_retry_til = 0;
	}
	pthread_mutex_unlock(&o->lock);
}

enum sb_status sb_oauth2_with_token(struct sb_oauth2 *o,
				    const struct sb_call *call,
				    sb_oauth2_use_fn fn, void *ctx,
				    struct sb_error *err)
{
	char *tok = NULL;
	bool cached = false;
	enum sb_status st = sb_oauth2_token(o, call, &tok, &cached, err);
	if (st != SB_OK)
		return st;
	st = fn(ctx, tok, err);
	if (st == SB_ERR_UPSTREAM_AUTH && cached) {
		log_line(o, SB_LOG_INFO,
			 "the server refused a cached OAuth2 token (revoked?); "
			 "requesting a new one and trying once more");
		sb_oauth2_invalidate(o, tok);
		sb_oauth2_token_free(tok);
		tok = NULL;
		struct sb_error e2 = {0};
		st = sb_oauth2_token(o, call, &tok, NULL, &e2);
		if (st != SB_OK) {
			if (err)
				*err = e2;
			return st;
		}
		sb_error_clear(err);
		st = fn(ctx, tok, err);
	}
	sb_oauth2_token_free(tok);
	return st;
}

/* ---- the default transport: one libcurl POST ------------------------------
 */

struct sink {
	struct sb_buf *body;
	bool too_large;
};

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;
	if (!sb_buf_append(s->body, data, len)) {
		s->too_large = true;
		return 0;
	}
	return len;
}

#define SETOPT(h, o, v)                                                        \
	do {                                                                   \
		if (curl_easy_setopt((h), (o), (v)) != CURLE_OK)               \
			goto setopt_failed;                                    \
	} while (0)

enum sb_status sb_oauth2_curl_post(void *ctx, const struct sb_oauth2_post *req,
				   long *http_status, struct sb_buf *body,
				   struct sb_error *err)
{
	(void)ctx;
	*http_status = 0;
	if (req->timeout_ms <= 0)
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "deadline passed before the OAuth2 token "
				    "request");
	CURL *h = curl_easy_init();
	if (!h)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot create a libcurl handle");
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *nl;
	struct sink sink = {body, false};
	struct sb_curl_watch watch = {.host = req->host, .call = req->call};
	enum sb_status st = SB_OK;
	if (!(nl = curl_slist_append(
		  hdrs, "Content-Type: application/x-www-form-urlencoded")))
		goto setopt_failed;
	hdrs = nl;
	if (!(nl = curl_slist_append(hdrs, "Accept: application/json")))
		goto setopt_failed;
	hdrs = nl;
	SETOPT(h, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_POSTFIELDS, req->body);
	SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
	SETOPT(h, CURLOPT_ERRORBUFFER, cerr);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, &sink);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response);
	if (!sb_curl_watch_install(h, &watch)) /* cancellation */
		goto setopt_failed;
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, req->verify_tls ? 1L : 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, req->verify_tls ? 2L : 0L);
	if (req->ca_file)
		SETOPT(h, CURLOPT_CAINFO, req->ca_file);

	CURLcode rc = curl_easy_perform(h);
	const char *cw = cerr[0] ? cerr : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_OK:
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http_status);
		break;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
			st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
					  "the OAuth2 token endpoint %s "
					  "answered more than %zu bytes",
					  req->url, req->max_response);
			break;
		}
		st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				  "OAuth2 token request to %s failed: %s",
				  req->url, cw);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		st = sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				  "the OAuth2 token endpoint %s did not answer "
				  "in time: %s",
				  req->url, cw);
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		st = sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				  "call abandoned during the OAuth2 token "
				  "request");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		st = sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				  "cannot reach the OAuth2 token endpoint %s: "
				  "%s",
				  req->url, cw);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		st = sb_error_set(err, SB_ERR_UPSTREAM, "tls_verify",
				  "TLS: the OAuth2 token endpoint's "
				  "certificate was refused: %s",
				  cw);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		st = sb_error_set(err, SB_ERR_UPSTREAM, "tls",
				  "TLS with the OAuth2 token endpoint failed: "
				  "%s",
				  cw);
		break;
	default:
		st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				  "OAuth2 token request to %s failed: %s",
				  req->url, cw);
		break;
	}
	goto out;
setopt_failed:
	st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
			  "libcurl refused an option of the OAuth2 token "
			  "request (out of memory, or no HTTP/TLS support)");
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return st;
}
