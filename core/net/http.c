/* libsvcbroker-net: the HTTP client — a per-instance pool of libcurl
 * handles (each keeping its own connection: NTLM authenticates a
 * connection, not a request), HTTP/1.1, the call's deadline, a capped
 * decoded body, TLS, authentication, the transcript, and failures mapped
 * to statuses in the server's words. */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include <svcbroker/http.h>
#include <svcbroker/sdk.h>

#include "http_int.h"
#include "ntlm_int.h"

#define POOL_KEEP 16		/* idle connections kept per client */
#define MAX_CONN_AGE_S 50	/* reuse a connection idle at most this long */
#define NO_CALL_BUDGET_MS 30000 /* open() and test() have no deadline */
#define RETRY_DEFAULT_MS 5000	/* 429/503 without Retry-After */
#define EXCERPT_MAX 200		/* bytes of a body quoted in an error */
#define WIRE_HEADERS_MAX 64	/* headers of one request */

/* ---- configuration ----------------------------------------------------- */

const char *const sb_http_auth_choices[] = {
    "none",   "basic",	"ntlm",		  "negotiate",
    "bearer", "header", "ntlm-negotiate", NULL};
static const char *const http_schemes[] = {"http", "https", NULL};

const struct sb_config_key sb_http_keys[] = {
    {.key = "url",
     .type = SB_CONF_URL,
     .flags = SB_CONF_REQUIRED,
     .schemes = http_schemes,
     .doc = "URL of the service, http:// or https://.",
     .offset = offsetof(struct sb_http_conf, url)},
    SB_CONF_INCLUDE("tls", sb_tls_keys, offsetof(struct sb_http_conf, tls)),
    {.key = "auth",
     .type = SB_CONF_ENUM,
     .def = "none",
     .choices = sb_http_auth_choices,
     .doc = "HTTP authentication: none, basic, ntlm, negotiate (Kerberos "
	    "with the daemon's own credentials), bearer (password is the "
	    "token), header (password is the whole Authorization value) or "
	    "ntlm-negotiate (NTLMv2 with username and password, carried in "
	    "the Negotiate scheme, as WinRM wants it).",
     .offset = offsetof(struct sb_http_conf, auth)},
    {.key = "username",
     .type = SB_CONF_STRING,
     .doc = "User to authenticate as, for basic, ntlm and ntlm-negotiate "
	    "(DOMAIN\\user or user@domain).",
     .offset = offsetof(struct sb_http_conf, username)},
    {.key = "password",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "Password for basic, ntlm and ntlm-negotiate, the token for "
	    "bearer, the "
	    "Authorization value for header; prefer ${file:...}.",
     .offset = offsetof(struct sb_http_conf, password)},
    {.key = "connect_timeout",
     .type = SB_CONF_DURATION,
     .def = "10s",
     .min = 100,
     .max = 300000,
     .doc = "Longest time to connect to the server, TLS included.",
     .offset = offsetof(struct sb_http_conf, connect_timeout_ms)},
    {.key = "request_timeout",
     .type = SB_CONF_DURATION,
     .def = "0",
     .min = 0,
     .max = 3600000,
     .doc = "Longest time one HTTP request may take (0: as long as the "
	    "call's deadline allows).",
     .offset = offsetof(struct sb_http_conf, request_timeout_ms)},
    {.key = "max_response_size",
     .type = SB_CONF_SIZE,
     .def = "32MiB",
     .min = 1024,
     .max = (int64_t)1024 * 1024 * 1024,
     .doc = "Largest response body accepted, counted decoded (a larger "
	    "one fails the call with upstream_error).",
     .offset = offsetof(struct sb_http_conf, max_response_size)},
    SB_CONF_END,
};

static bool empty(const char *s) { return !s || !*s; }

enum sb_status sb_http_conf_check(const struct sb_http_conf *c,
				  struct sb_error *err)
{
	const char *an = c->auth >= 0 && c->auth <= SB_HTTP_AUTH_NTLM_NEGOTIATE
			     ? sb_http_auth_choices[c->auth]
			     : "?";
	if (c->auth < 0 || c->auth > SB_HTTP_AUTH_NTLM_NEGOTIATE)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "auth: unknown value %d", c->auth);
	if (empty(c->url))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "url: required");
	const char *sep = strstr(c->url, "://");
	if (!sep || (strncasecmp(c->url, "http://", 7) &&
		     strncasecmp(c->url, "https://", 8)))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "url: expected http://host/... or "
				    "https://host/...");
	const char *host = sep + 3;
	size_t hl = strcspn(host, "/?#");
	if (!hl)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "url: no host");
	if (memchr(host, '@', hl))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "url: no credentials in the URL (they go "
				    "in username and password)");
	switch (c->auth) {
	case SB_HTTP_AUTH_BASIC:
	case SB_HTTP_AUTH_NTLM:
	case SB_HTTP_AUTH_NTLM_NEGOTIATE:
		if (empty(c->username))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "username: required when auth = %s",
					    an);
		if (empty(c->password))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "password: required when auth = %s",
					    an);
		if (c->auth == SB_HTTP_AUTH_BASIC && strchr(c->username, ':'))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "username: a ':' cannot be sent "
					    "with auth = basic");
		if (c->auth == SB_HTTP_AUTH_NTLM_NEGOTIATE) {
			char *u = NULL, *d = NULL;
			enum sb_status st =
			    sbn_ntlm_split_account(c->username, &u, &d, err);
			free(u);
			free(d);
			if (st != SB_OK)
				return st;
			if (strlen(c->password) > SBN_NTLM_PASSWORD_MAX ||
			    !sb_utf8_valid(c->password, strlen(c->password)))
				return sb_error_set(
				    err, SB_ERR_INVALID_INPUT, NULL,
				    "password: NTLM takes valid UTF-8 of at "
				    "most %d bytes",
				    SBN_NTLM_PASSWORD_MAX);
		}
		break;
	case SB_HTTP_AUTH_BEARER:
	case SB_HTTP_AUTH_HEADER:
		if (empty(c->password))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "password: required when auth = %s "
					    "(the %s)",
					    an,
					    c->auth == SB_HTTP_AUTH_BEARER
						? "token"
						: "Authorization value");
		if (strpbrk(c->password, "\r\n"))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "password: no line breaks allowed "
					    "with auth = %s",
					    an);
		break;
	case SB_HTTP_AUTH_NEGOTIATE:
		if (!empty(c->username) || !empty(c->password))
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "%s: not used with auth = negotiate "
			    "(the daemon's own Kerberos "
			    "credentials are used)",
			    empty(c->username) ? "password" : "username");
		break;
	default:
		break;
	}
	return SB_OK;
}

/* ---- the client --------------------------------------------------------- */

struct sb_http {
	const struct sb_host *host;
	char *url, *ca_file, *username, *password;
	char *basic; /* "Basic base64(user:password)" */
	/* auth = ntlm-negotiate: the account as NTLM sends it, and the
	 * NTOWFv2 key made from the password once (wiped when freed) */
	char *ntlm_user, *ntlm_domain;
	uint8_t ntlm_key[SBN_NTLM_KEY_LEN];
	bool verify_tls;
	enum sb_http_auth auth;
	int64_t connect_timeout_ms, request_timeout_ms, max_response;
	struct sb_curl_pool *pool;
	sb_http_transport_fn transport;
	void *transport_ctx;
	char user_agent[96];
};

static void wipe_free(char *s)
{
	if (!s)
		return;
	volatile char *v = s;
	while (*v)
		*v++ = '\0';
	free(s);
}

void sb_http_free(struct sb_http *c)
{
	if (!c)
		return;
	sb_curl_pool_free(c->pool);
	free(c->url);
	free(c->ca_file);
	free(c->username);
	wipe_free(c->password);
	wipe_free(c->basic);
	free(c->ntlm_user);
	free(c->ntlm_domain);
	sbn_ntlm_wipe(c->ntlm_key, sizeof(c->ntlm_key));
	free(c);
}

static bool dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	return !src || (*dst = strdup(src)) != NULL;
}

struct sb_http *sb_http_new(const struct sb_host *host,
			    const struct sb_http_conf *conf,
			    struct sb_error *err)
{
	if (!host || !conf) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "sb_http_new: no host or configuration");
		return NULL;
	}
	struct sb_error e;
	if (sb_http_conf_check(conf, &e) != SB_OK) {
		if (err)
			*err = e;
		return NULL;
	}
	struct sb_http *c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->host = host;
	c->auth = (enum sb_http_auth)conf->auth;
	c->verify_tls = conf->tls.verify_tls;
	c->connect_timeout_ms =
	    conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 10000;
	c->request_timeout_ms = conf->request_timeout_ms;
	c->max_response = conf->max_response_size > 0
			      ? conf->max_response_size
			      : (int64_t)32 * 1024 * 1024;
	if (!dup_opt(&c->url, conf->url) ||
	    !dup_opt(&c->ca_file, conf->tls.ca_file) ||
	    !dup_opt(&c->username, conf->username) ||
	    !dup_opt(&c->password, conf->password))
		goto nomem;
	if (c->auth == SB_HTTP_AUTH_BASIC) {
		struct sb_buf up;
		sb_buf_init(&up, 8192);
		sb_buf_printf(&up, "%s:%s", c->username, c->password);
		char *b64 =
		    up.failed ? NULL : sb_base64_encode(up.data, up.len, 0);
		if (up.data)
			memset(up.data, 0, up.len);
		sb_buf_free(&up);
		if (!b64)
			goto nomem;
		size_t n = strlen(b64) + 7;
		c->basic = malloc(n);
		if (c->basic)
			snprintf(c->basic, n, "Basic %s", b64);
		wipe_free(b64);
		if (!c->basic)
			goto nomem;
	}
	if (c->auth == SB_HTTP_AUTH_NTLM_NEGOTIATE) {
		if (sbn_ntlm_split_account(c->username, &c->ntlm_user,
					   &c->ntlm_domain, &e) != SB_OK ||
		    sbn_ntlm_ntowfv2(c->password, c->ntlm_user, c->ntlm_domain,
				     c->ntlm_key, &e) != SB_OK) {
			sb_http_free(c);
			if (err)
				*err = e;
			return NULL;
		}
	}
	c->pool = sb_curl_pool_new(POOL_KEEP, MAX_CONN_AGE_S, NULL);
	if (!c->pool)
		goto nomem;
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	snprintf(c->user_agent, sizeof(c->user_agent),
		 "svcbroker/%s libcurl/%s", PACKAGE_VERSION,
		 cv && cv->version ? cv->version : "?");
	if (!c->verify_tls && !strncasecmp(c->url, "https:", 6))
		host->log(host, SB_LOG_WARN,
			  "verify_tls = no: the server's identity is not "
			  "checked");
	if (!strncasecmp(c->url, "http:", 5) &&
	    (c->auth == SB_HTTP_AUTH_BASIC || c->auth == SB_HTTP_AUTH_BEARER ||
	     c->auth == SB_HTTP_AUTH_HEADER))
		host->log(host, SB_LOG_WARN,
			  "auth = %s over http://: credentials cross the "
			  "network in clear text",
			  sb_http_auth_choices[c->auth]);
	return c;
nomem:
	sb_http_free(c);
	sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	return NULL;
}

void sb_http_set_transport(struct sb_http *c, sb_http_transport_fn fn,
			   void *ctx)
{
	c->transport = fn;
	c->transport_ctx = ctx;
}

unsigned long sb_http_curl_auth(const struct sb_http *c)
{
	switch (c->auth) {
	case SB_HTTP_AUTH_NTLM:
		return CURLAUTH_NTLM; /* never ANY: 7.88 picks Negotiate */
	case SB_HTTP_AUTH_NEGOTIATE:
		return CURLAUTH_NEGOTIATE;
	default:
		return 0;
	}
}

/* ---- mapping failures ---------------------------------------------------- */

/* The start of a text body, on one line, secrets removed, for a message. */
static void excerpt(const struct sb_http_response *r,
		    const struct sbn_secrets *sec, char *out, size_t n)
{
	out[0] = '\0';
	if (!r->body_len || !sbn_text_type(sb_http_header(r, "Content-Type")))
		return;
	struct sb_buf b;
	sb_buf_init(&b, 4 * EXCERPT_MAX);
	size_t take = sb_utf8_cut(r->body, r->body_len, 4 * EXCERPT_MAX / 2);
	struct sb_buf red;
	sb_buf_init(&red, 8 * EXCERPT_MAX);
	sbn_redact_append(&red, sec, r->body, take);
	/* markup (a SOAP fault, an HTML error page) shows its text only */
	const char *ct = sb_http_header(r, "Content-Type");
	bool markup = ct && (strstr(ct, "xml") || strstr(ct, "html"));
	bool space = true, in_tag = false;
	for (size_t i = 0; red.data && i < red.len && b.len < EXCERPT_MAX;
	     i++) {
		unsigned char ch = (unsigned char)red.data[i];
		if (markup && (in_tag || ch == '<')) {
			in_tag = ch != '>';
			ch = ' ';
		}
		if (ch <= ' ') {
			if (!space)
				sb_buf_append(&b, " ", 1);
			space = true;
		} else {
			sb_buf_append(&b, &red.data[i], 1);
			space = false;
		}
	}
	sb_buf_free(&red);
	while (b.len && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	if (b.data)
		sb_text_quotable(b.data, EXCERPT_MAX, out, n);
	sb_buf_free(&b);
}

/* The scheme names a 401 offers: "Negotiate, NTLM". */
static void offered(const struct sb_http_response *r, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->n_headers; i++) {
		if (strcasecmp(r->headers[i].name, "WWW-Authenticate"))
			continue;
		const char *v = r->headers[i].value;
		size_t k = 0;
		while (isalnum((unsigned char)v[k]) || v[k] == '-' ||
		       v[k] == '_')
			k++;
		if (!k || o + k + 3 >= n)
			continue;
		if (o) {
			memcpy(out + o, ", ", 2);
			o += 2;
		}
		memcpy(out + o, v, k);
		o += k;
		out[o] = '\0';
	}
}

/* gss: why libcurl could not make or finish a Negotiate token (GSS-API's
 * words), or NULL or ""; gss_sent: a token had gone to the server. */
static enum sb_status status_error(const struct sb_http *c,
				   const struct sb_http_response *r,
				   const struct sbn_secrets *sec,
				   const char *gss, bool gss_sent,
				   struct sb_error *err)
{
	int s = r->status;
	if (s >= 200 && s < 300)
		return SB_OK;
	enum sb_status st = SB_ERR_UPSTREAM;
	if (s == 401)
		st = SB_ERR_UPSTREAM_AUTH;
	else if (s == 403)
		st = SB_ERR_UPSTREAM_DENIED;
	else if (s == 404 || s == 410)
		st = SB_ERR_NOT_FOUND;
	else if (s == 408)
		st = SB_ERR_TIMEOUT;
	else if (s == 409 || s == 412)
		st = SB_ERR_CONFLICT;
	else if (s == 413)
		st = SB_ERR_PAYLOAD_TOO_LARGE;
	else if (s == 429)
		st = SB_ERR_THROTTLED;
	else if (s == 503)
		st = SB_ERR_UNAVAILABLE;
	else if (s == 507)
		st = SB_ERR_QUOTA;
	char code[16];
	snprintf(code, sizeof(code), "http_%d", s);
	char reason[128], ex[EXCERPT_MAX + 8], extra[256] = "";
	sb_text_quotable(r->reason ? r->reason : "", 100, reason,
			 sizeof(reason));
	excerpt(r, sec, ex, sizeof(ex));
	if (s == 401) {
		char o[96];
		offered(r, o, sizeof(o));
		if (gss && gss[0] && !gss_sent)
			/* no token went: the server never saw credentials */
			snprintf(extra, sizeof(extra),
				 " (auth = negotiate sent no Kerberos ticket: "
				 "%s%s%s)",
				 gss, o[0] ? "; it offers " : "", o);
		else if (gss && gss[0])
			/* the server's answer to the ticket, read by GSS-API */
			snprintf(extra, sizeof(extra),
				 " (the server refused the credentials of "
				 "auth = negotiate: %s%s%s)",
				 gss, o[0] ? "; it offers " : "", o);
		else
			snprintf(extra, sizeof(extra),
				 " (the server refused the credentials of "
				 "auth = %s%s%s)",
				 c ? sb_http_auth_choices[c->auth] : "?",
				 o[0] ? "; it offers " : "", o);
	} else if (s >= 300 && s < 400) {
		char loc[120];
		sb_text_quotable(sb_http_header(r, "Location"), 100, loc,
				 sizeof(loc));
		snprintf(extra, sizeof(extra),
			 " (a redirect to %s; redirects are not followed: "
			 "check the url)",
			 loc);
	}
	sb_error_set(err, st, code, "the server answered HTTP %d%s%s%s%s%s", s,
		     reason[0] ? " " : "", reason, extra, ex[0] ? ": " : "",
		     ex);
	int64_t ra = r->retry_after_ms;
	if (!ra && !sb_http_parse_retry_after(sb_http_header(r, "Retry-After"),
					      (int64_t)time(NULL), &ra))
		ra = 0;
	if (err && (st == SB_ERR_THROTTLED || st == SB_ERR_UNAVAILABLE))
		err->retry_after_ms = ra > 0 ? ra : RETRY_DEFAULT_MS;
	return st;
}

enum sb_status sb_http_status_error(const struct sb_http *c,
				    const struct sb_http_response *resp,
				    struct sb_error *err)
{
	struct sbn_secrets sec = {{0}, 0};
	if (c) {
		sbn_secrets_add(&sec, c->password);
		sbn_secrets_add(&sec, c->basic ? c->basic + 6 : NULL);
	}
	if (!resp->status)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "no response from the server");
	return status_error(c, resp, &sec, NULL, false, err);
}

/* ---- one request --------------------------------------------------------- */

struct xfer {
	struct sb_http *c;
	struct sb_http_response *resp;
	const struct sbn_secrets *sec;
	struct sb_buf body;
	int64_t cap;
	bool over_cap, nomem, bad_head;
	/* auth = negotiate: why libcurl made no token or could not read
	 * the server's (GSS-API's words); whether a token went out */
	char gss[160];
	bool gss_sent;
};

/* Does a block of request header lines hold Authorization: Negotiate? */
static bool sends_negotiate(const char *data, size_t size)
{
	static const char h[] = "authorization: negotiate ";
	const size_t hl = sizeof(h) - 1;
	for (size_t i = 0; i + hl <= size; i++)
		if ((i == 0 || data[i - 1] == '\n') &&
		    !strncasecmp(data + i, h, hl))
			return true;
	return false;
}

static size_t header_cb(char *data, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	sbn_log_head(x->c->host, x->sec, '<', data, len);
	switch (sbn_http_header_line(x->resp, data, len)) {
	case SBN_LINE_STATUS:
		/* a new response: a body of an earlier one is not its */
		x->body.len = 0;
		if (x->body.data)
			x->body.data[0] = '\0';
		break;
	case SBN_LINE_NOMEM:
		x->nomem = true;
		return 0;
	case SBN_LINE_BAD:
		x->bad_head = true; /* kept going: libcurl judges the syntax */
		break;
	default:
		break;
	}
	return len;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if ((int64_t)(x->body.len + len) > x->cap) {
		x->over_cap = true;
		return 0;
	}
	if (!sb_buf_append(&x->body, data, len)) {
		x->nomem = true;
		return 0;
	}
	return len;
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size,
		    void *ud)
{
	(void)h;
	struct xfer *x = ud;
	static const char gss_failed[] = "gss_init_sec_context() failed: ";
	const size_t gl = sizeof(gss_failed) - 1;
	if (type == CURLINFO_HEADER_OUT) {
		sbn_log_head(x->c->host, x->sec, '>', data, size);
		if (!x->gss_sent && sends_negotiate(data, size))
			x->gss_sent = true;
	} else if (type == CURLINFO_TEXT && !x->gss[0] && size > gl &&
		   !memcmp(data, gss_failed, gl)) {
		/* libcurl says so only here: keep it for the 401's message
		 * (names of principals and caches, never a token).  Before
		 * a token went: none could be made; after: the server's
		 * answer to it was an error (a KRB-ERROR in SPNEGO) */
		char t[sizeof(x->gss)];
		size_t n =
		    size - gl < sizeof(t) - 1 ? size - gl : sizeof(t) - 1;
		memcpy(t, data + gl, n);
		while (n &&
		       (isspace((unsigned char)t[n - 1]) || t[n - 1] == '.'))
			n--;
		t[n] = '\0';
		sb_text_quotable(t, sizeof(x->gss) - 4, x->gss, sizeof(x->gss));
	}
	return 0;
}

/* The method, if it is an HTTP token. */
static bool method_ok(const char *m)
{
	if (!m || !*m || strlen(m) > 20)
		return false;
	for (; *m; m++)
		if (!isupper((unsigned char)*m) && *m != '-' && *m != '_')
			return false;
	return true;
}

static bool header_ok(const char *h)
{
	const char *colon = strchr(h, ':');
	if (!colon || colon == h || strpbrk(h, "\r\n"))
		return false;
	for (const char *p = h; p < colon; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* Does the caller's list have a header of this name? */
static bool caller_has(const char *const *hs, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; hs && hs[i]; i++)
		if (!strncasecmp(hs[i], name, n) && hs[i][n] == ':')
			return true;
	return false;
}

struct built {
	char *url;
	const char *hdr[WIRE_HEADERS_MAX + 8];
	size_t n_hdr;
	char *owned[4]; /* header strings made here */
	size_t n_owned;
	const char *method;
	enum sb_http_auth auth;
};

static void built_free(struct built *b)
{
	free(b->url);
	for (size_t i = 0; i < b->n_owned; i++)
		wipe_free(b->owned[i]);
}

/* A header made here: prefix followed by value. */
static bool add_owned(struct built *b, const char *prefix, const char *v)
{
	struct sb_buf s;
	sb_buf_init(&s, 64 * 1024);
	sb_buf_puts(&s, prefix);
	sb_buf_puts(&s, v);
	char *p = sb_buf_steal(&s);
	if (!p)
		return false;
	b->owned[b->n_owned++] = p;
	b->hdr[b->n_hdr++] = p;
	return true;
}

/* Do a and b name the same server: scheme, host and port (libcurl's URL
 * parser, default ports filled in)? */
static bool same_origin(const char *a, const char *b)
{
	static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST,
					  CURLUPART_PORT};
	CURLU *ua = curl_url(), *ub = curl_url();
	bool same = ua && ub &&
		    curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
		    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK;
	for (size_t i = 0; same && i < sizeof(parts) / sizeof(parts[0]); i++) {
		char *va = NULL, *vb = NULL;
		same = curl_url_get(ua, parts[i], &va, CURLU_DEFAULT_PORT) ==
			   CURLUE_OK &&
		       curl_url_get(ub, parts[i], &vb, CURLU_DEFAULT_PORT) ==
			   CURLUE_OK &&
		       strcasecmp(va, vb) == 0;
		curl_free(va);
		curl_free(vb);
	}
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

/* A path appended to the configured URL may not name another server
 * ("@evil.example", ".evil.example" after a URL without a slash) nor
 * carry control bytes: it starts with '/' or '?' and holds no '@' or
 * '\'. */
static bool path_ok(const char *p)
{
	if (p[0] != '/' && p[0] != '?')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '@' ||
		    *p == '\\')
			return false;
	return true;
}

static enum sb_status build(struct sb_http *c, const struct sb_http_request *q,
			    struct built *b, struct sbn_secrets *sec,
			    struct sb_error *err)
{
	memset(b, 0, sizeof(*b));
	b->method = q->method ? q->method : "GET";
	if (!method_ok(b->method))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "HTTP request: bad method");
	if (q->bearer && q->authorization)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "HTTP request: both a bearer token and "
				    "an Authorization value");
	/* the request's own credentials are hidden first, before the slots
	 * of the list go to the caller's other sensitive headers */
	sbn_secrets_add(sec, q->bearer);
	sbn_secrets_add(sec, q->authorization);
	if (q->url) {
		if (strncasecmp(q->url, "http://", 7) &&
		    strncasecmp(q->url, "https://", 8))
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "HTTP request: the URL is not "
					    "http(s)");
		/* an absolute URL (a next-page link) may come from the
		 * server: the configured credentials go to the configured
		 * server only, never elsewhere nor over plain http */
		if (c->auth != SB_HTTP_AUTH_NONE && !q->bearer &&
		    !q->authorization && !same_origin(q->url, c->url))
			return sb_error_set(
			    err, SB_ERR_UPSTREAM, "foreign_url",
			    "HTTP request: an absolute URL on another server "
			    "(scheme, host or port) than the configured url; "
			    "the instance's credentials are never sent there");
		b->url = strdup(q->url);
	} else {
		if (q->path && !path_ok(q->path))
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "HTTP request: the path must start "
					    "with / or ? and hold no @, \\ or "
					    "control characters");
		struct sb_buf u;
		sb_buf_init(&u, 64 * 1024);
		sb_buf_puts(&u, c->url);
		if (q->path) {
			if (u.len && u.data[u.len - 1] == '/' &&
			    q->path[0] == '/')
				u.data[--u.len] = '\0';
			sb_buf_puts(&u, q->path);
		}
		b->url = sb_buf_steal(&u);
	}
	if (!b->url)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	if (strpbrk(b->url, " \r\n\t"))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "HTTP request: white space in the URL");
	const char *const *hs = q->headers;
	for (size_t i = 0; hs && hs[i]; i++) {
		if (b->n_hdr >= WIRE_HEADERS_MAX)
			return sb_error_set(
			    err, SB_ERR_INTERNAL, NULL,
			    "HTTP request: more than %d headers",
			    WIRE_HEADERS_MAX);
		if (!header_ok(hs[i]))
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "HTTP request: header %zu is not "
					    "\"Name: value\" on one line",
					    i + 1);
		b->hdr[b->n_hdr++] = hs[i];
		/* a value the transcript hides is hidden wherever it shows
		 * (a server echoing it in a body) */
		size_t cut = sbn_redact_at(hs[i], strlen(hs[i]));
		if (cut && hs[i][cut])
			sbn_secrets_add(sec, hs[i] + cut);
	}
	if (q->content_type && !caller_has(hs, "Content-Type")) {
		if (strpbrk(q->content_type, "\r\n"))
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "HTTP request: bad content type");
		if (!add_owned(b, "Content-Type: ", q->content_type))
			goto nomem;
	}
	/* no "Expect: 100-continue" round trip for large bodies */
	if (!caller_has(hs, "Expect"))
		b->hdr[b->n_hdr++] = "Expect:";
	const char *authz = NULL;
	b->auth = c->auth;
	if (q->bearer || q->authorization) {
		b->auth = q->bearer ? SB_HTTP_AUTH_BEARER : SB_HTTP_AUTH_HEADER;
		if (strpbrk(q->bearer ? q->bearer : q->authorization, "\r\n"))
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "HTTP request: a line break in the "
					    "credentials");
		if (q->bearer) {
			sbn_secrets_add(sec, q->bearer);
			if (!add_owned(b, "Authorization: Bearer ", q->bearer))
				goto nomem;
		} else {
			authz = q->authorization;
		}
	} else if (c->auth == SB_HTTP_AUTH_BASIC) {
		authz = c->basic;
	} else if (c->auth == SB_HTTP_AUTH_BEARER) {
		if (!add_owned(b, "Authorization: Bearer ", c->password))
			goto nomem;
	} else if (c->auth == SB_HTTP_AUTH_HEADER) {
		authz = c->password;
	}
	if (authz) {
		sbn_secrets_add(sec, authz);
		if (!add_owned(b, "Authorization: ", authz))
			goto nomem;
	}
	b->hdr[b->n_hdr] = NULL;
	return SB_OK;
nomem:
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}

static const char *closed_words(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD")
		   ? " (the request may or may not have been carried out)"
		   : "";
}

static enum sb_status curl_failure(CURL *h, CURLcode rc, const char *ebuf,
				   const struct xfer *x,
				   const struct sb_curl_watch *w,
				   const struct built *b, int64_t budget,
				   int64_t connect_ms, struct sb_error *err)
{
	const char *cw = ebuf[0] ? ebuf : curl_easy_strerror(rc);
	char shown[SB_ERROR_MSG_MAX];
	sb_text_quotable(cw, 300, shown, sizeof(shown));
	double connect_s = 0, app_s = 0;
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &connect_s);
	curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &app_s);
	bool connected =
	    x->resp->status > 0 ||
	    (connect_s > 0 && (strncasecmp(b->url, "https:", 6) || app_s > 0));
	/* A kept connection has no connect time of its own: a transfer that
	 * ran well past connect_timeout cannot have failed connecting (the
	 * connect would have timed out at connect_timeout). */
	double total_s = 0;
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &total_s);
	if ((int64_t)(total_s * 1000) > connect_ms + 250)
		connected = true;
	if (x->over_cap)
		return sb_error_set(err, SB_ERR_UPSTREAM, "response_too_large",
				    "the server's answer is larger than "
				    "max_response_size (%lld bytes, decoded); "
				    "nothing of it was used",
				    (long long)x->cap);
	if (x->nomem)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory reading the answer");
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "the call was abandoned during the HTTP "
				    "request%s",
				    w->stopped == SB_CURL_CANCELLED
					? closed_words(b->method)
					: "");
	case CURLE_OPERATION_TIMEDOUT:
		if (!connected && connect_ms < budget)
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot connect to the server "
					    "within connect_timeout (%lld ms): "
					    "%s",
					    (long long)connect_ms, shown);
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "the server did not answer within %lld ms "
				    "(the call's deadline less a margin, or "
				    "request_timeout)%s: %s",
				    (long long)budget, closed_words(b->method),
				    shown);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot reach the server: %s", shown);
	case CURLE_PEER_FAILED_VERIFICATION:
		return sb_error_set(err, SB_ERR_UPSTREAM, "tls_verify",
				    "TLS: the server's certificate was "
				    "refused (verify_tls, ca_file): %s",
				    shown);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return sb_error_set(err, SB_ERR_UPSTREAM, "tls",
				    "TLS with the server failed: %s", shown);
	case CURLE_BAD_CONTENT_ENCODING:
		return sb_error_set(err, SB_ERR_UPSTREAM, "bad_encoding",
				    "the server's answer cannot be decoded: %s",
				    shown);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return sb_error_set(err, SB_ERR_UPSTREAM, "connection_closed",
				    "the server closed the connection before "
				    "answering in full%s: %s",
				    closed_words(b->method), shown);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "bad request URL: %s", shown);
	case CURLE_OUT_OF_MEMORY:
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	default:
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "HTTP request failed: %s", shown);
	}
}

/* ---- auth = ntlm-negotiate ------------------------------------------------
 * NTLM authenticates a connection: a handle whose connection finished the
 * handshake goes back to the pool with this tag, and its next request
 * goes without a handshake. */
#define TAG_NTLM_AUTHENTICATED 0x1u

/* "Authorization: Negotiate <base64 of msg>", malloc'd, or NULL. */
static char *negotiate_header(const uint8_t *msg, size_t len)
{
	char *b64 = sb_base64_encode(msg, len, 0);
	if (!b64)
		return NULL;
	struct sb_buf s;
	sb_buf_init(&s, 256 * 1024);
	sb_buf_puts(&s, "Authorization: Negotiate ");
	sb_buf_puts(&s, b64);
	free(b64);
	return sb_buf_steal(&s);
}

/* The token of the 401's "WWW-Authenticate: Negotiate <token>", or NULL. */
static const char *negotiate_token(const struct sb_http_response *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *v = r->headers[i].value;
		if (strcasecmp(r->headers[i].name, "WWW-Authenticate") ||
		    strncasecmp(v, "Negotiate", 9) ||
		    (v[9] != ' ' && v[9] != '\t'))
			continue;
		v += 9;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v)
			return v;
	}
	return NULL;
}

/* One leg of the handshake: the request with the headers of base and
 * authz (NULL: no Authorization), its response replacing the last one's,
 * within what is left until deadline (ms, monotonic).  *conns: the new
 * connections it opened. */
static CURLcode ntlm_leg(CURL *h, struct xfer *x, struct curl_slist *base,
			 const char *authz, int64_t deadline, long *conns,
			 curl_socket_t *sock)
{
	struct curl_slist *l = NULL;
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	*conns = 0;
	*sock = CURL_SOCKET_BAD;
	for (struct curl_slist *p = base; p; p = p->next) {
		struct curl_slist *n = curl_slist_append(l, p->data);
		if (!n)
			goto out;
		l = n;
	}
	if (authz) {
		struct curl_slist *n = curl_slist_append(l, authz);
		if (!n)
			goto out;
		l = n;
	}
	int64_t left = deadline - sb_now_ms();
	if (left <= 0) {
		rc = CURLE_OPERATION_TIMEDOUT;
		goto out;
	}
	if (curl_easy_setopt(h, CURLOPT_HTTPHEADER, l) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left) != CURLE_OK)
		goto out;
	sb_http_response_free(x->resp);
	x->body.len = 0;
	if (x->body.data)
		x->body.data[0] = '\0';
	rc = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, conns) != CURLE_OK)
		*conns = 0;
	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, sock) != CURLE_OK)
		*sock = CURL_SOCKET_BAD;
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, base);
	curl_slist_free_all(l);
	return rc;
}

/* The request with auth = ntlm-negotiate on h (whose other options are
 * set): on a connection authenticated before (authed), as it is; on a new
 * one, or after a 401 on a kept one (the server forgot it), the handshake
 * NEGOTIATE -> 401 CHALLENGE -> AUTHENTICATE on that same connection, the
 * request whole with each leg.  *rc: libcurl's result of the last leg;
 * *tag: TAG_NTLM_AUTHENTICATED when the connection ends authenticated.
 * An error of its own (a challenge that cannot be answered) with resp
 * emptied; else SB_OK and resp the last leg's. */
static enum sb_status ntlm_perform(struct sb_http *c, CURL *h,
				   struct curl_slist *hl, struct xfer *x,
				   bool authed, int64_t budget, CURLcode *rc,
				   unsigned *tag, struct sb_error *err)
{
	enum sb_status st = SB_OK;
	int64_t deadline = sb_now_ms() + budget;
	long conns = 0, n = 0;
	curl_socket_t sock1, sock2;
	char *authz = NULL;
	uint8_t *m3 = NULL;
	size_t m3n = 0;
	unsigned char *m2 = NULL;
	size_t m2n = 0;
	*tag = 0;
	if (authed) {
		*rc = ntlm_leg(h, x, hl, NULL, deadline, &n, &sock1);
		conns += n;
		if (*rc != CURLE_OK)
			goto done;
		if (x->resp->status != 401) {
			*tag = TAG_NTLM_AUTHENTICATED;
			goto done;
		}
		/* the server does not know the connection (any more, or it
		 * is a new one): authenticate it again, once */
	}
	uint8_t m1[SBN_NTLM_NEGOTIATE_LEN];
	size_t m1n = sbn_ntlm_negotiate(m1);
	authz = negotiate_header(m1, m1n);
	if (!authz) {
		*rc = CURLE_OUT_OF_MEMORY;
		goto done;
	}
	*rc = ntlm_leg(h, x, hl, authz, deadline, &n, &sock1);
	conns += n;
	free(authz);
	authz = NULL;
	/* anything but a 401 (an error, or a server that wants no
	 * authentication) is the answer; a 401 without a Negotiate token
	 * refused the account: its offers name what it wants */
	const char *tok = *rc == CURLE_OK && x->resp->status == 401
			      ? negotiate_token(x->resp)
			      : NULL;
	if (!tok)
		goto done;
	m2 = sb_base64_decode(tok, strlen(tok), &m2n);
	if (!m2) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				  "the server's Negotiate challenge is not "
				  "base64");
		goto done;
	}
	struct sbn_ntlm_challenge ch;
	st = sbn_ntlm_parse_challenge(m2, m2n, &ch, err);
	uint8_t cc[SBN_NTLM_CHALLENGE_LEN];
	if (st == SB_OK && !sb_random_bytes(cc, sizeof(cc)))
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "no random bytes for the NTLM client "
				  "challenge");
	if (st == SB_OK)
		st = sbn_ntlm_authenticate(
		    &ch, c->ntlm_user, c->ntlm_domain, c->ntlm_key, cc,
		    sbn_ntlm_filetime_now(), m1, m1n, m2, m2n, &m3, &m3n, err);
	if (st != SB_OK)
		goto done;
	authz = negotiate_header(m3, m3n);
	if (!authz ||
	    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 0L) != CURLE_OK) {
		*rc = CURLE_OUT_OF_MEMORY;
		goto done;
	}
	*rc = ntlm_leg(h, x, hl, authz, deadline, &n, &sock2);
	conns += n;
	if (*rc != CURLE_OK)
		goto done;
	if ((n || sock1 != sock2) && x->resp->status == 401) {
		st = sb_error_set(err, SB_ERR_UPSTREAM_AUTH, "http_401",
				  "the answer to the server's NTLM challenge "
				  "could not go on the connection the "
				  "challenge came on (closed) and was refused "
				  "on another (NTLM authenticates one "
				  "connection: is there a proxy in between "
				  "that does not keep it?)");
		goto done;
	}
	if (x->resp->status != 401)
		*tag = TAG_NTLM_AUTHENTICATED;
done:
	if (st != SB_OK)
		sb_http_response_free(x->resp);
	x->resp->new_connections = conns;
	if (m3)
		sbn_ntlm_wipe(m3, m3n);
	free(m3);
	free(m2);
	free(authz);
	return st;
}

#define SETOPT(h, o, v)                                                        \
	do {                                                                   \
		if (curl_easy_setopt((h), (o), (v)) != CURLE_OK)               \
			goto setopt_failed;                                    \
	} while (0)

static enum sb_status via_curl(struct sb_http *c, const struct sb_call *call,
			       const struct sb_http_request *q,
			       const struct built *b, struct xfer *x,
			       int64_t budget, struct sb_error *err)
{
	enum sb_status st = SB_OK;
	struct curl_slist *hl = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	struct sb_curl_watch w = {c->host, call, NULL, NULL, SB_CURL_GO};
	unsigned tag = 0;
	CURL *h = sb_curl_pool_get(c->pool, &tag);
	if (!h)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot create a libcurl handle");
	for (size_t i = 0; i < b->n_hdr; i++) {
		struct curl_slist *n = curl_slist_append(hl, b->hdr[i]);
		if (!n)
			goto setopt_failed;
		hl = n;
	}
	SETOPT(h, CURLOPT_URL, b->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* a connection the server may have closed meanwhile is not reused:
	 * libcurl 7.88 re-sends a POST on a dead reused connection */
	SETOPT(h, CURLOPT_MAXAGE_CONN, (long)MAX_CONN_AGE_S);
	SETOPT(h, CURLOPT_ERRORBUFFER, ebuf);
	SETOPT(h, CURLOPT_USERAGENT, c->user_agent);
	SETOPT(h, CURLOPT_ACCEPT_ENCODING, ""); /* what libcurl decodes */
	SETOPT(h, CURLOPT_HTTPHEADER, hl);
	SETOPT(h, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(h, CURLOPT_HEADERDATA, x);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, x);
	SETOPT(h, CURLOPT_VERBOSE, 1L);
	SETOPT(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	SETOPT(h, CURLOPT_DEBUGDATA, x);
	if (!sb_curl_watch_install(h, &w))
		goto setopt_failed;
	SETOPT(h, CURLOPT_TIMEOUT_MS, (long)budget);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
	       (long)(c->connect_timeout_ms < budget ? c->connect_timeout_ms
						     : budget));
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
	if (c->ca_file)
		SETOPT(h, CURLOPT_CAINFO, c->ca_file);
	if (q->flags & SB_HTTP_FRESH_CONNECT)
		SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
	if (b->auth == SB_HTTP_AUTH_NTLM) {
		SETOPT(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_NTLM);
		SETOPT(h, CURLOPT_USERNAME, c->username);
		SETOPT(h, CURLOPT_PASSWORD, c->password);
	} else if (b->auth == SB_HTTP_AUTH_NEGOTIATE) {
		SETOPT(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_NEGOTIATE);
		SETOPT(h, CURLOPT_USERPWD, ":");
	}
	bool takes_body = !strcmp(b->method, "POST") ||
			  !strcmp(b->method, "PUT") ||
			  !strcmp(b->method, "PATCH");
	if (!strcmp(b->method, "HEAD")) {
		SETOPT(h, CURLOPT_NOBODY, 1L);
	} else if (!q->body_len && !takes_body) {
		/* GET, DELETE, ... without a body: no Content-Length */
		SETOPT(h, CURLOPT_HTTPGET, 1L);
		if (strcmp(b->method, "GET"))
			SETOPT(h, CURLOPT_CUSTOMREQUEST, b->method);
	} else {
		/* the body stays in the caller's memory: libcurl re-sends it
		 * when an authentication handshake asks */
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		SETOPT(h, CURLOPT_POSTFIELDS, q->body ? q->body : "");
		if (strcmp(b->method, "POST"))
			SETOPT(h, CURLOPT_CUSTOMREQUEST, b->method);
	}

	CURLcode rc = CURLE_OK;
	if (b->auth == SB_HTTP_AUTH_NTLM_NEGOTIATE) {
		bool authed = (tag & TAG_NTLM_AUTHENTICATED) &&
			      !(q->flags & SB_HTTP_FRESH_CONNECT);
		/* one connection in the handle's cache: after a fresh
		 * connect the old one is closed, so that the next leg cannot
		 * go on it */
		SETOPT(h, CURLOPT_MAXCONNECTS, 1L);
		st = ntlm_perform(c, h, hl, x, authed, budget, &rc, &tag, err);
		if (st != SB_OK)
			goto out;
	} else {
		tag = 0;
		rc = curl_easy_perform(h);
		long conns = 0;
		if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) ==
		    CURLE_OK)
			x->resp->new_connections = conns;
	}
	if (rc != CURLE_OK) {
		st = curl_failure(h, rc, ebuf, x, &w, b, budget,
				  c->connect_timeout_ms, err);
		x->resp->status = 0; /* no whole response */
	}
	goto out;
setopt_failed:
	st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
			  "libcurl refused an option (out of memory, or a "
			  "libcurl without HTTP, TLS or the auth scheme)");
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	/* a failed transfer may leave its connection half-way */
	sb_curl_pool_put(c->pool, h, st == SB_OK, tag);
	curl_slist_free_all(hl);
	return st;
}

static enum sb_status via_transport(struct sb_http *c,
				    const struct sb_http_request *q,
				    const struct built *b, struct xfer *x,
				    int64_t budget, struct sb_error *err)
{
	struct sb_http_wire w = {
	    .method = b->method,
	    .url = b->url,
	    .headers = b->hdr,
	    .n_headers = b->n_hdr,
	    .body = q->body,
	    .body_len = q->body_len,
	    .auth = b->auth,
	    .timeout_ms = budget,
	    .connect_timeout_ms =
		c->connect_timeout_ms < budget ? c->connect_timeout_ms : budget,
	    .max_response = x->cap,
	};
	/* what the wire would show */
	struct sb_buf head;
	sb_buf_init(&head, 256 * 1024);
	sb_buf_printf(&head, "%s %s HTTP/1.1\n", b->method, b->url);
	for (size_t i = 0; i < b->n_hdr; i++)
		sb_buf_printf(&head, "%s\n", b->hdr[i]);
	sbn_log_head(c->host, x->sec, '>', head.data ? head.data : "",
		     head.len);
	sb_buf_free(&head);
	struct sb_http_response got;
	memset(&got, 0, sizeof(got));
	enum sb_status st = c->transport(c->transport_ctx, &w, &got, err);
	if (st != SB_OK) {
		if (err && err->status == SB_OK)
			sb_error_set(err, st, NULL, "HTTP transport failed");
		sb_http_response_free(&got);
		return st;
	}
	if (got.status < 100 || got.status > 999) {
		sb_http_response_free(&got);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "the HTTP transport gave no status");
	}
	/* as if it came off the wire: the same log lines and cap */
	sb_buf_init(&head, 256 * 1024);
	sb_buf_printf(&head, "HTTP/1.1 %d %s\n", got.status,
		      got.reason ? got.reason : "");
	for (size_t i = 0; i < got.n_headers; i++)
		sb_buf_printf(&head, "%s: %s\n", got.headers[i].name,
			      got.headers[i].value);
	sbn_log_head(c->host, x->sec, '<', head.data ? head.data : "",
		     head.len);
	sb_buf_free(&head);
	sb_http_response_free(x->resp);
	*x->resp = got;
	if ((int64_t)got.body_len > x->cap) {
		x->over_cap = true;
		sb_http_response_free(x->resp); /* as from the wire: nothing */
		return sb_error_set(err, SB_ERR_UPSTREAM, "response_too_large",
				    "the server's answer is larger than "
				    "max_response_size (%lld bytes, decoded); "
				    "nothing of it was used",
				    (long long)x->cap);
	}
	return SB_OK;
}

/* The Content-Type the request goes with, or NULL. */
static const char *request_type(const struct built *b)
{
	for (size_t i = 0; i < b->n_hdr; i++)
		if (!strncasecmp(b->hdr[i], "Content-Type:", 13)) {
			const char *v = b->hdr[i] + 13;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	return NULL;
}

enum sb_status sb_http_perform(struct sb_http *c, const struct sb_call *call,
			       const struct sb_http_request *q,
			       struct sb_http_response *resp,
			       struct sb_error *err)
{
	memset(resp, 0, sizeof(*resp));
	if (!c || !q)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "sb_http_perform: no client or request");
	int64_t budget = sb_curl_budget_ms(c->host, call, NO_CALL_BUDGET_MS);
	if (c->request_timeout_ms > 0 && c->request_timeout_ms < budget)
		budget = c->request_timeout_ms;
	if (budget <= 0 ||
	    (call && c->host->cancelled && c->host->cancelled(c->host, call)))
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "the call's deadline passed before the "
				    "HTTP request");
	struct sbn_secrets sec = {{0}, 0};
	sbn_secrets_add(&sec, c->password);
	sbn_secrets_add(&sec, c->basic ? c->basic + 6 : NULL);
	struct built b;
	enum sb_status st = build(c, q, &b, &sec, err);
	if (st != SB_OK) {
		built_free(&b);
		return st;
	}
	struct xfer x = {.c = c, .resp = resp, .sec = &sec};
	x.cap = q->max_response > 0 ? q->max_response : c->max_response;
	sb_buf_init(&x.body, (size_t)x.cap);
	bool secret = q->flags & SB_HTTP_SECRET_BODY;
	if (q->body_len && q->body)
		sbn_log_body(c->host, &sec, '>', request_type(&b), q->body,
			     q->body_len, secret);
	if (c->transport) {
		st = via_transport(c, q, &b, &x, budget, err);
	} else {
		st = via_curl(c, call, q, &b, &x, budget, err);
		if (st == SB_OK) {
			free(resp->body);
			resp->body_len = x.body.len;
			resp->body = sb_buf_steal(&x.body);
			if (!resp->body)
				resp->body = strdup("");
			if (!resp->reason)
				resp->reason = strdup("");
			if (!resp->body || !resp->reason) {
				st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
						  "out of memory");
				resp->status = 0;
			}
		}
	}
	sb_buf_free(&x.body);
	if (st == SB_OK) {
		sbn_log_body(c->host, &sec, '<',
			     sb_http_header(resp, "Content-Type"), resp->body,
			     resp->body_len, secret);
		const char *ra = sb_http_header(resp, "Retry-After");
		int64_t ms;
		if (ra &&
		    sb_http_parse_retry_after(ra, (int64_t)time(NULL), &ms))
			resp->retry_after_ms = ms;
		st = status_error(c, resp, &sec, x.gss, x.gss_sent, err);
	} else if (c->host->log) {
		c->host->log(c->host, SB_LOG_DEBUG, "http ! %s: %s",
			     sb_status_str(st), err ? err->message : "");
	}
	built_free(&b);
	return st;
}
