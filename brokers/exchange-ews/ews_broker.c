/* exchange-ews broker — the module descriptor: instance keys, validate,
 * open/close/test, the EWS client of the instance, and the object table. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/schema.h>

#include "ews_calendar.h"
#include "ews_int.h"

/* ---- instance keys ------------------------------------------------------ */

static const char *const url_schemes[] = {"https", "http", NULL};
static const char *const auth_choices[] = {"basic", "ntlm", "negotiate",
					   "oauth2", NULL};
static const char *const imp_choices[] = {"none", "impersonate", "delegate",
					  NULL};

/* RequestServerVersion values of the shipped schema (ExchangeVersionType). */
static const char *const server_versions[] = {"Exchange2007",
					      "Exchange2007_SP1",
					      "Exchange2009",
					      "Exchange2010",
					      "Exchange2010_SP1",
					      "Exchange2010_SP2",
					      "Exchange2012",
					      "Exchange2013",
					      "Exchange2013_SP1",
					      "Exchange2015",
					      "Exchange2016",
					      "V2015_10_05",
					      "V2016_01_06",
					      "V2016_04_13",
					      "V2016_07_13",
					      "V2016_10_10",
					      NULL};

static const struct sb_config_key ews_config[] = {
    {.key = "url",
     .type = SB_CONF_URL,
     .schemes = url_schemes,
     .doc = "The EWS endpoint, e.g. https://mail.example.com/EWS/"
	    "Exchange.asmx (http only when given so); or leave it out and "
	    "give autodiscover_email.",
     .offset = offsetof(struct ews_conf, url)},
    {.key = "autodiscover_email",
     .type = SB_CONF_STRING,
     .doc = "Find the EWS endpoint by POX Autodiscover for this address "
	    "(at the first call; cached, refreshed when the mailbox moves), "
	    "instead of url.",
     .offset = offsetof(struct ews_conf, autodiscover_email)},
    {.key = "autodiscover_url",
     .type = SB_CONF_URL,
     .schemes = url_schemes,
     .doc = "With autodiscover_email: the Autodiscover endpoint to ask "
	    "instead of https://DOMAIN/autodiscover/autodiscover.xml and "
	    "https://autodiscover.DOMAIN/autodiscover/autodiscover.xml.",
     .offset = offsetof(struct ews_conf, autodiscover_url)},
    {.key = "auth",
     .type = SB_CONF_ENUM,
     .def = "ntlm",
     .choices = auth_choices,
     .doc = "basic, ntlm, negotiate (Kerberos with the daemon's own "
	    "credentials: KRB5CCNAME or KRB5_CLIENT_KTNAME), or oauth2 "
	    "(client credentials from token_url).",
     .offset = offsetof(struct ews_conf, auth)},
    {.key = "username",
     .type = SB_CONF_STRING,
     .doc = "basic and ntlm: the account, DOMAIN\\user or "
	    "user@domain.",
     .offset = offsetof(struct ews_conf, username)},
    {.key = "password",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "basic and ntlm: the account's password; prefer "
	    "${file:...}.",
     .offset = offsetof(struct ews_conf, password)},
    {.key = "token_url",
     .type = SB_CONF_URL,
     .schemes = url_schemes,
     .doc = "oauth2: the token endpoint (https; http to loopback only), "
	    "e.g. https://login.microsoftonline.com/TENANT/oauth2/v2.0/"
	    "token.",
     .offset = offsetof(struct ews_conf, token_url)},
    {.key = "client_id",
     .type = SB_CONF_STRING,
     .doc = "oauth2: the application (client) id.",
     .offset = offsetof(struct ews_conf, client_id)},
    {.key = "scope",
     .type = SB_CONF_STRING,
     .def = "https://outlook.office365.com/.default",
     .doc = "oauth2: the scope requested.",
     .offset = offsetof(struct ews_conf, scope)},
    {.key = "client_secret",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "oauth2: the client secret (or give client_certificate and "
	    "client_key); prefer ${file:...}.",
     .offset = offsetof(struct ews_conf, client_secret)},
    {.key = "client_certificate",
     .type = SB_CONF_PATH,
     .doc = "oauth2, instead of client_secret: the application's "
	    "certificate (PEM); token requests carry a JWT assertion "
	    "signed with client_key.",
     .offset = offsetof(struct ews_conf, client_certificate)},
    {.key = "client_key",
     .type = SB_CONF_PATH,
     .doc = "With client_certificate: its RSA private key (PEM, "
	    "unencrypted, mode 0600 or 0400).",
     .offset = offsetof(struct ews_conf, client_key)},
    {.key = "impersonation",
     .type = SB_CONF_ENUM,
     .def = "none",
     .choices = imp_choices,
     .doc = "How a call's Mailbox input is honoured: none (refused with "
	    "405), impersonate (ExchangeImpersonation; the account needs "
	    "the ApplicationImpersonation role) or delegate (the other "
	    "mailbox's folders, sending on behalf).",
     .offset = offsetof(struct ews_conf, impersonation)},
    {.key = "server_version",
     .type = SB_CONF_STRING,
     .def = "Exchange2013_SP1",
     .doc = "RequestServerVersion sent with each request: Exchange2010 "
	    "... Exchange2016 or V2015_10_05 ... V2016_10_10.",
     .offset = offsetof(struct ews_conf, server_version)},
    {.key = "timezone",
     .type = SB_CONF_STRING,
     .def = "UTC",
     .doc = "Time zone of the requests (TimeZoneContext): a Windows id "
	    "(\"W. Europe Standard Time\") or any IANA zone or alias CLDR's "
	    "windowsZones (through ICU) maps to one (\"Europe/Berlin\", "
	    "\"Asia/Calcutta\"); UTC, Etc/UTC and Etc/GMT are UTC.",
     .offset = offsetof(struct ews_conf, timezone)},
    SB_CONF_INCLUDE("tls", sb_tls_keys, offsetof(struct ews_conf, tls)),
    {.key = "retries",
     .type = SB_CONF_INT,
     .def = "3",
     .min = 0,
     .max = 10,
     .doc = "How often a request the server refused with ErrorServerBusy "
	    "is tried again after its BackOffMilliseconds, when that fits "
	    "the call's deadline.",
     .offset = offsetof(struct ews_conf, retries)},
    {.key = "connect_timeout",
     .type = SB_CONF_DURATION,
     .def = "10s",
     .min = 100,
     .max = 300 * 1000,
     .doc = "Bound on connecting to the server, TLS included.",
     .offset = offsetof(struct ews_conf, connect_timeout_ms)},
    {.key = "max_response_size",
     .type = SB_CONF_SIZE,
     .def = "32MiB",
     .min = 64 * 1024,
     .max = (int64_t)1024 * 1024 * 1024,
     .doc = "Largest EWS answer read (decoded); a larger one is refused "
	    "(payload_too_large for mail, upstream_error otherwise). An "
	    "answer carrying attachment content may be as large as "
	    "max_attachment_size in base64 plus 1 MiB, when that is more.",
     .offset = offsetof(struct ews_conf, max_response_size)},
    {.key = "max_attachment_size",
     .type = SB_CONF_SIZE,
     .def = "25MiB",
     .min = 1,
     .max = (int64_t)1024 * 1024 * 1024,
     .doc = "Bound on attachment bytes (decoded): one attachment "
	    "(Attachment.Add, Attachment.Load) and all the attachments of "
	    "one message together (Send, SaveDraft, Reply, ReplyAll, "
	    "Forward, Email.Load); more answers payload_too_large.",
     .offset = offsetof(struct ews_conf, max_attachment_size)},
    SB_CONF_END,
};

/* ---- validate -------------------------------------------------------------
 */

static enum sb_status ews_validate(const void *config, struct sb_error *err)
{
	const struct ews_conf *c = config;
	if (c->url && c->autodiscover_email)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "url, autodiscover_email: give one of the "
				    "two, not both");
	if (!c->url && !c->autodiscover_email)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "url: required (or give autodiscover_email "
				    "to find it by Autodiscover)");
	if (c->autodiscover_url && !c->autodiscover_email)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "autodiscover_url: applies with "
				    "autodiscover_email only");
	if (c->autodiscover_email && !sb_email_valid(c->autodiscover_email))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "autodiscover_email: not an email address");
	const char *check_url = c->url ? c->url : c->autodiscover_url;
	if (check_url) {
		char host[256];
		if (!ews_url_host(check_url, host, sizeof(host), NULL, NULL))
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "%s: expected http(s)://host[:port]/path with no "
			    "credentials in it",
			    c->url ? "url" : "autodiscover_url");
	}
	switch (c->auth) {
	case EWS_AUTH_BASIC:
	case EWS_AUTH_NTLM:
		if (!c->username || !*c->username)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "username: required with auth = %s",
					    auth_choices[c->auth]);
		if (!c->password || !*c->password)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "password: required with auth = %s",
					    auth_choices[c->auth]);
		break;
	case EWS_AUTH_NEGOTIATE:
		if (c->username || c->password)
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "username, password: auth = negotiate uses the "
			    "daemon's own Kerberos credentials (KRB5CCNAME or "
			    "KRB5_CLIENT_KTNAME), not these keys");
		break;
	case EWS_AUTH_OAUTH2:
		if (!c->token_url)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "token_url: required with auth = "
					    "oauth2");
		enum sb_status ust = sb_oauth2_url_check(c->token_url, err);
		if (ust != SB_OK)
			return ust;
		if (!c->client_id || !*c->client_id)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "client_id: required with auth = "
					    "oauth2");
		if (c->client_secret &&
		    (c->client_certificate || c->client_key))
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "client_secret, client_certificate: give a client "
			    "secret or a certificate and key, not both");
		if (!c->client_secret &&
		    !(c->client_certificate && c->client_key))
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "client_secret: required with auth = oauth2 (or "
			    "give client_certificate and client_key)");
		if (c->password)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "password: not used with auth = "
					    "oauth2 (give client_secret)");
		break;
	default:
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "auth: unknown value");
	}
	if (c->auth != EWS_AUTH_OAUTH2 &&
	    (c->token_url || c->client_id || c->client_secret ||
	     c->client_certificate || c->client_key))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "token_url, client_id, client_secret, "
				    "client_certificate, client_key: apply to "
				    "auth = oauth2 only");
	if ((c->client_certificate != NULL) != (c->client_key != NULL))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "client_certificate, client_key: give "
				    "both or neither");
	bool known = false;
	for (size_t i = 0; server_versions[i]; i++)
		if (c->server_version &&
		    strcmp(c->server_version, server_versions[i]) == 0)
			known = true;
	if (!known)
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT, NULL,
		    "server_version: not a RequestServerVersion of the EWS "
		    "schema (Exchange2007 ... Exchange2016, V2015_10_05 ... "
		    "V2016_10_10; Exchange2019 servers take Exchange2016)");
	/* an IANA name or a Windows id (ews_tz.c) */
	enum sb_status tst =
	    ews_timezone_check("timezone", c->timezone, NULL, err);
	if (tst != SB_OK)
		return tst;
	/* files open() will read: missing or too open, said by --check */
	enum sb_status st = sb_path_check("ca_file", c->tls.ca_file, 0, err);
	if (st == SB_OK)
		st = sb_path_check("client_certificate", c->client_certificate,
				   0, err);
	if (st == SB_OK)
		st = sb_path_check("client_key", c->client_key, SB_PATH_PRIVATE,
				   err);
	return st;
}

/* ---- the instance ----------------------------------------------------------
 */

const struct sb_host *ews_host(const struct ews *e) { return e->host; }
enum ews_impersonation ews_impersonation(const struct ews *e)
{
	return (enum ews_impersonation)e->conf->impersonation;
}
int64_t ews_max_attachment(const struct ews *e)
{
	return e->conf->max_attachment_size;
}
const char *ews_timezone_name(const struct ews *e) { return e->conf->timezone; }
int64_t ews_max_response(const struct ews *e)
{
	return e->conf->max_response_size;
}
int64_t ews_max_response_att(const struct ews *e)
{
	int64_t cap = e->conf->max_response_size;
	int64_t att = e->conf->max_attachment_size;
	if (att > 0) {
		/* base64: 4 characters for every 3 bytes, rounded up */
		int64_t need = (att + 2) / 3 * 4 + EWS_ATT_ENVELOPE_MARGIN;
		if (need > cap)
			cap = need;
	}
	return cap;
}
const char *ews_account(const struct ews *e) { return e->account; }

struct sb_http *ews_http_new(struct ews *e, const char *url,
			     struct sb_error *err)
{
	const struct ews_conf *c = e->conf;
	struct sb_http_conf hc = {
	    .url = (char *)url,
	    .tls = c->tls,
	    .auth = SB_HTTP_AUTH_NONE,
	    .connect_timeout_ms = c->connect_timeout_ms,
	    .request_timeout_ms = 0,
	    .max_response_size = c->max_response_size,
	};
	switch (c->auth) {
	case EWS_AUTH_BASIC:
		hc.auth = SB_HTTP_AUTH_BASIC;
		break;
	case EWS_AUTH_NTLM:
		hc.auth = SB_HTTP_AUTH_NTLM;
		break;
	case EWS_AUTH_NEGOTIATE:
		hc.auth = SB_HTTP_AUTH_NEGOTIATE;
		break;
	default: /* oauth2: a bearer token per request */
		break;
	}
	if (hc.auth == SB_HTTP_AUTH_BASIC || hc.auth == SB_HTTP_AUTH_NTLM) {
		hc.username = c->username;
		hc.password = c->password;
	}
	struct sb_http *h = sb_http_new(e->host, &hc, err);
	if (h && e->tfn)
		sb_http_set_transport(h, e->tfn, e->tctx);
	return h;
}

static void conn_free(struct ews_conn *c)
{
	if (!c)
		return;
	sb_http_free(c->http);
	free(c->url);
	free(c);
}

static struct ews_conn *conn_new(struct ews *e, const char *url,
				 struct sb_error *err)
{
	struct ews_conn *c = calloc(1, sizeof(*c));
	if (!c || !(c->url = strdup(url))) {
		free(c);
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	c->http = ews_http_new(e, url, err);
	if (!c->http) {
		free(c->url);
		free(c);
		return NULL;
	}
	return c;
}

struct ews_conn *ews_conn_get(struct ews *e, const struct sb_call *call,
			      struct sb_error *err)
{
	pthread_mutex_lock(&e->mu);
	struct ews_conn *c = e->conn;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&e->mu);
	if (c)
		return c;

	/* Autodiscover (the only way there is no client yet); concurrent
	 * first calls may each ask, the first result is kept */
	struct ews_discovered d;
	enum sb_status st = ews_autodiscover(e, call, &d, err);
	if (st != SB_OK)
		return NULL;
	struct ews_conn *fresh = conn_new(e, d.ews_url, err);
	if (!fresh)
		return NULL;
	e->host->log(e->host, SB_LOG_INFO,
		     "Autodiscover: EWS at %s (server %s, %u redirects)",
		     d.ews_url, d.server_version[0] ? d.server_version : "?",
		     d.hops);
	pthread_mutex_lock(&e->mu);
	if (!e->conn) {
		e->conn = fresh;
		e->disc = d;
		e->discovered_ok = true;
		fresh = NULL;
	}
	c = e->conn;
	c->refs++;
	pthread_mutex_unlock(&e->mu);
	conn_free(fresh);
	return c;
}

void ews_conn_put(struct ews *e, struct ews_conn *c)
{
	if (!c)
		return;
	bool drop = false;
	pthread_mutex_lock(&e->mu);
	c->refs--;
	drop = c->retired && c->refs == 0;
	pthread_mutex_unlock(&e->mu);
	if (drop)
		conn_free(c);
}

static bool wk_key(const char *mailbox, const char *wk, char *key)
{
	int k = snprintf(key, EWS_WK_KEY, "%s\n%s", mailbox ? mailbox : "", wk);
	return k > 0 && k < EWS_WK_KEY;
}

bool ews_wk_get(struct ews *e, const char *mailbox, const char *wk, char *buf,
		size_t n)
{
	char key[EWS_WK_KEY];
	bool hit = false;
	if (!wk_key(mailbox, wk, key))
		return false;
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < EWS_WK_CACHE && !hit; i++)
		if (!strcasecmp(e->wk[i].key, key) && strlen(e->wk[i].id) < n) {
			snprintf(buf, n, "%s", e->wk[i].id);
			hit = true;
		}
	pthread_mutex_unlock(&e->mu);
	return hit;
}

void ews_wk_put(struct ews *e, const char *mailbox, const char *wk,
		const char *id)
{
	char key[EWS_WK_KEY];
	if (!wk_key(mailbox, wk, key) || strlen(id) >= EWS_WK_ID)
		return;
	pthread_mutex_lock(&e->mu);
	size_t at = EWS_WK_CACHE;
	for (size_t i = 0; i < EWS_WK_CACHE && at == EWS_WK_CACHE; i++)
		if (!strcasecmp(e->wk[i].key, key))
			at = i;
	if (at == EWS_WK_CACHE)
		at = e->wk_next++ % EWS_WK_CACHE;
	snprintf(e->wk[at].key, sizeof(e->wk[at].key), "%s", key);
	snprintf(e->wk[at].id, sizeof(e->wk[at].id), "%s", id);
	pthread_mutex_unlock(&e->mu);
}

void ews_conn_refresh(struct ews *e)
{
	if (e->conf->url)
		return;
	struct ews_conn *c;
	bool drop = false;
	pthread_mutex_lock(&e->mu);
	c = e->conn;
	e->conn = NULL;
	e->discovered_ok = false;
	memset(e->wk, 0, sizeof(e->wk)); /* the mailbox may have moved */
	if (c) {
		c->retired = true;
		drop = c->refs == 0;
	}
	pthread_mutex_unlock(&e->mu);
	if (drop)
		conn_free(c);
	e->host->log(e->host, SB_LOG_INFO,
		     "Autodiscover: cached EWS URL dropped; the next call "
		     "discovers it anew");
}

bool ews_discovered(struct ews *e, char *url, size_t url_n, char *version,
		    size_t version_n, char *server, size_t server_n)
{
	pthread_mutex_lock(&e->mu);
	bool ok = e->discovered_ok;
	if (url)
		snprintf(url, url_n, "%s",
			 e->conn ? e->conn->url
				 : (e->conf->url ? e->conf->url : ""));
	if (version)
		snprintf(version, version_n, "%s",
			 ok ? e->disc.server_version : "");
	if (server)
		snprintf(server, server_n, "%s", e->server_info);
	pthread_mutex_unlock(&e->mu);
	return ok;
}

void ews_set_transport(struct ews *e, sb_http_transport_fn fn, void *ctx)
{
	e->tfn = fn;
	e->tctx = ctx;
	if (e->conn)
		sb_http_set_transport(e->conn->http, fn, ctx);
}

uint64_t ews_requests(struct ews *e)
{
	return __atomic_load_n(&e->requests, __ATOMIC_RELAXED);
}

/* ---- the hand-over between configurations of one instance -------------- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv = PTHREAD_COND_INITIALIZER;
static struct ews *reg_head; /* every open instance */
/* per instance name, at most one instance holds the floor: the one whose
 * requests are in flight */
#define FLOOR_NAME_MAX 128
struct floor {
	char name[FLOOR_NAME_MAX]; /* "": a free slot */
	struct ews *owner;
	struct ews *last; /* the owner before (compared, never used) */
	unsigned inflight;
};
#define FLOORS_MAX 256
static struct floor floors[FLOORS_MAX];

static const char *name_of(const struct ews *e)
{
	return e->host && e->host->instance ? e->host->instance : "";
}

/* The floor of e's name, made if need be; NULL when the name is too long
 * or every slot is taken (then that name has no hand-over). */
static struct floor *floor_of(const struct ews *e)
{
	const char *name = name_of(e);
	struct floor *free_slot = NULL;
	if (strlen(name) >= FLOOR_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < FLOORS_MAX; i++) {
		if (floors[i].name[0] && strcmp(floors[i].name, name) == 0)
			return &floors[i];
		if (!floors[i].name[0] && !free_slot)
			free_slot = &floors[i];
	}
	if (free_slot) {
		snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
		free_slot->owner = NULL;
		free_slot->inflight = 0;
	}
	return free_slot;
}

static bool same_name(const struct ews *a, const struct ews *b)
{
	return strcmp(name_of(a), name_of(b)) == 0;
}

void ews_floor_register(struct ews *e)
{
	pthread_mutex_lock(&reg_mu);
	e->reg_next = reg_head;
	reg_head = e;
	pthread_mutex_unlock(&reg_mu);
}

void ews_floor_unregister(struct ews *e)
{
	pthread_mutex_lock(&reg_mu);
	bool used = false;
	for (struct ews **p = &reg_head; *p;) {
		if (*p == e) {
			*p = e->reg_next;
			continue;
		}
		if (same_name(*p, e))
			used = true;
		p = &(*p)->reg_next;
	}
	struct floor *f = floor_of(e);
	if (f && f->owner == e) { /* cannot happen: close follows the calls */
		f->owner = NULL;
		f->inflight = 0;
	}
	if (f && !used)
		memset(f, 0, sizeof(*f));
	pthread_cond_broadcast(&reg_cv);
	pthread_mutex_unlock(&reg_mu);
}

/* Another instance of the owner's name has a request waiting. */
static bool others_waiting(const struct ews *owner)
{
	for (const struct ews *x = reg_head; x; x = x->reg_next)
		if (x != owner && x->floor_waiting && same_name(x, owner))
			return true;
	return false;
}

enum sb_status ews_floor_take(struct ews *e, const struct sb_call *call,
			      struct sb_error *err)
{
	int64_t start = sb_now_ms();
	bool waited = false;
	pthread_mutex_lock(&reg_mu);
	struct floor *f = floor_of(e);
	while (f) {
		/* the floor goes to the other instance when it is waiting:
		 * neither starves the other */
		bool free_for_e =
		    f->owner == NULL && !(f->last == e && others_waiting(e));
		if (free_for_e || (f->owner == e && !others_waiting(e))) {
			f->owner = e;
			f->last = e;
			f->inflight++;
			break;
		}
		int64_t left = call ? e->host->remaining_ms(e->host, call)
				    : 30000 - (sb_now_ms() - start);
		if (left <= 0 || (call && e->host->cancelled(e->host, call))) {
			if (waited)
				e->floor_waiting--;
			pthread_cond_broadcast(&reg_cv);
			pthread_mutex_unlock(&reg_mu);
			return sb_error_set(
			    err, SB_ERR_TIMEOUT, NULL,
			    "the deadline passed while the requests of the "
			    "instance's previous configuration finished");
		}
		if (!waited) {
			e->floor_waiting++;
			waited = true;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t slice = left < 20 ? left : 20;
		ts.tv_nsec += (long)(slice * 1000000);
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&reg_cv, &reg_mu, &ts);
	}
	if (waited)
		e->floor_waiting--;
	pthread_mutex_unlock(&reg_mu);
	return SB_OK;
}

void ews_floor_give(struct ews *e)
{
	pthread_mutex_lock(&reg_mu);
	struct floor *f = floor_of(e);
	if (f && f->owner == e && f->inflight > 0 && --f->inflight == 0) {
		f->owner = NULL;
		pthread_cond_broadcast(&reg_cv);
	}
	pthread_mutex_unlock(&reg_mu);
}

static void ews_close(void *state)
{
	struct ews *e = state;
	if (!e)
		return;
	ews_floor_unregister(e);
	conn_free(e->conn);
	sb_oauth2_free(e->oauth);
	free(e->account);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static enum sb_status ews_open(const struct sb_host *host, const void *config,
			       void **state, struct sb_error *err)
{
	const struct ews_conf *c = config;
	struct ews *e = calloc(1, sizeof(*e));
	if (!e)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	e->host = host;
	e->conf = c;
	pthread_mutex_init(&e->mu, NULL);
	enum sb_status tst =
	    ews_timezone_check("timezone", c->timezone, &e->tz_id, err);
	if (tst != SB_OK) {
		ews_close(e);
		return tst;
	}
	const char *acct = NULL;
	if (c->username && sb_email_valid(c->username))
		acct = c->username;
	else if (c->autodiscover_email)
		acct = c->autodiscover_email;
	if (acct && !(e->account = strdup(acct))) {
		ews_close(e);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	if (c->auth == EWS_AUTH_OAUTH2) {
		struct sb_oauth2_conf oc = {
		    .token_url = c->token_url,
		    .client_id = c->client_id,
		    .client_secret = c->client_secret,
		    .cert_file = c->client_certificate,
		    .key_file = c->client_key,
		    .scope = c->scope,
		    .verify_tls = c->tls.verify_tls,
		    .ca_file = c->tls.ca_file,
		};
		enum sb_status st = sb_oauth2_new(&oc, host, &e->oauth, err);
		if (st != SB_OK) {
			ews_close(e);
			return st;
		}
	}
	if (c->url) {
		/* sb_http_new contacts nothing: open() stays offline */
		e->conn = conn_new(e, c->url, err);
		if (!e->conn) {
			enum sb_status st = err ? err->status : SB_ERR_INTERNAL;
			ews_close(e);
			return st;
		}
	}
	ews_floor_register(e);
	*state = e;
	return SB_OK;
}

static enum sb_status ews_test(void *state, struct sb_error *err)
{
	struct ews_probe p;
	return ews_probe(state, NULL, NULL, &p, err);
}

/* ---- the object table ------------------------------------------------------
 */

static const struct sb_object ews_objects[] = {
    {.name = SB_OBJ_FOLDER,
     .doc = "A mail folder of the mailbox.",
     .properties = sb_folder_properties,
     .methods = ews_folder_methods},
    {.name = "Contact",
     .doc = "A recipient the server knows (the address book and the "
	    "mailbox's contacts), found by name.",
     .properties = ews_contact_properties,
     .methods = ews_contact_methods},
    {.name = "AutomaticReply",
     .doc = "The mailbox's automatic replies (out of office).",
     .properties = ews_oof_properties,
     .methods = ews_oof_methods},
    {.name = "Service",
     .doc = "The EWS service of the instance: where it is and which "
	    "version answers.",
     .properties = ews_service_properties,
     .methods = ews_service_methods},
    /* mail objects (ews_mail.c, ews_attach.c) */
    {.name = SB_OBJ_EMAIL,
     .doc = "A message of the mailbox: send, answer, list, load, move, "
	    "mark and delete.",
     .properties = sb_email_properties,
     .methods = ews_email_methods},
    {.name = "Attachment",
     .doc = "A file attached to a message, one at a time: the way to mail "
	    "too large to load whole.",
     .properties = ews_attachment_properties,
     .methods = ews_attachment_methods},
    /* rooms and availability (ews_rooms.c, ews_avail.c) */
    {.name = "RoomList",
     .doc = "A list of meeting rooms the organization publishes.",
     .properties = ews_roomlist_properties,
     .methods = ews_roomlist_methods},
    {.name = "Room",
     .doc = "A meeting room of a room list.",
     .properties = ews_room_properties,
     .methods = ews_room_methods},
    {.name = "Availability",
     .doc = "When mailboxes (people, rooms) are busy: their free/busy "
	    "periods in a window.",
     .properties = ews_availability_properties,
     .methods = ews_availability_methods},
    {.name = "MeetingTimeSuggestion",
     .doc = "Good times for a meeting of several attendees, as the server "
	    "rates them.",
     .properties = ews_suggestion_properties,
     .methods = ews_suggestion_methods},
    /* tasks (ews_task.c) */
    {.name = SB_OBJ_TASK,
     .doc = "A task of the mailbox's Tasks folder.",
     .properties = sb_task_properties,
     .methods = ews_task_methods},
    /* calendar (ews_calendar.c, ews_recur.c) */
    {.name = SB_OBJ_APPOINTMENT,
     .doc = "A calendar item of the mailbox without attendees: create, "
	    "load, change, delete, list (occurrences over a window).",
     .properties = sb_appointment_properties,
     .methods = ews_appointment_methods},
    /* meetings (ews_meeting.c) */
    {.name = SB_OBJ_MEETING,
     .doc = "A calendar item with attendees: invitations sent on Create, "
	    "answered by the attendees, cancelled by the organizer.",
     .properties = sb_meeting_properties,
     .methods = ews_meeting_methods},
    {.name = SB_OBJ_MEETING_ATTENDEE,
     .doc = "The attendees of a meeting and their answers.",
     .properties = sb_meeting_attendee_properties,
     .methods = ews_meeting_attendee_methods},
    SB_OBJECT_END,
};

SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "exchange-ews",
    .version = "1.0",
    .summary = "Microsoft Exchange Server 2013-2019 and Subscription Edition "
	       "over Exchange Web Services (SOAP)",
    .config = ews_config,
    .config_size = sizeof(struct ews_conf),
    .objects = ews_objects,
    .validate = ews_validate,
    .open = ews_open,
    .test = ews_test,
    .close = ews_close,
};
