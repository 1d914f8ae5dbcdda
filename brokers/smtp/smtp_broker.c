/* smtp broker — the module descriptor: instance keys, catalog tables,
 * open/close and dispatch. */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/schema.h>

#include "smtp.h"

#define POOL_KEEP 32 /* idle connections kept per instance */

/* ---- instance keys ------------------------------------------------------ */

static const char *const url_schemes[] = {"smtp", "smtps", NULL};
static const char *const tls_choices[] = {"none", "starttls", NULL};
static const char *const auth_choices[] = {"none", "plain", "login", "xoauth2",
					   NULL};
static const char *const token_schemes[] = {"https", "http", NULL};

static const struct sb_config_key smtp_config[] = {
    {.key = "url",
     .type = SB_CONF_URL,
     .flags = SB_CONF_REQUIRED,
     .schemes = url_schemes,
     .doc = "Server to submit to: smtp://host:25, smtp://host:587 (with "
	    "tls = starttls) or smtps://host:465 for implicit TLS.",
     .offset = offsetof(struct smtp_conf, url)},
    {.key = "tls",
     .type = SB_CONF_ENUM,
     .def = "none",
     .choices = tls_choices,
     .doc = "For smtp:// URLs: starttls requires STARTTLS and refuses to "
	    "go on in plain text; none never starts TLS.",
     .offset = offsetof(struct smtp_conf, tls)},
    {.key = "auth",
     .type = SB_CONF_ENUM,
     .def = "none",
     .choices = auth_choices,
     .doc = "SASL mechanism: none, plain, login, or xoauth2 (a bearer "
	    "token from token_url, or a static token given as password).",
     .offset = offsetof(struct smtp_conf, auth)},
    {.key = "username",
     .type = SB_CONF_STRING,
     .doc = "User name to authenticate as (required unless auth = none).",
     .offset = offsetof(struct smtp_conf, username)},
    {.key = "password",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "Password, or a static bearer token for auth = xoauth2 "
	    "without token_url; prefer ${file:...}.",
     .offset = offsetof(struct smtp_conf, password)},
    {.key = "helo_name",
     .type = SB_CONF_STRING,
     .doc = "Host name sent in EHLO (default: libcurl's short host name, "
	    "which many servers refuse); a fully qualified name.",
     .offset = offsetof(struct smtp_conf, helo_name)},
    {.key = "from",
     .type = SB_CONF_STRING,
     .doc = "Default sender address, used when a call gives no From and "
	    "as the envelope sender.",
     .offset = offsetof(struct smtp_conf, from)},
    {.key = "allow_from_override",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Let a call give another From: the message is then sent on "
	    "behalf, with Sender set to the `from` address.",
     .offset = offsetof(struct smtp_conf, allow_from_override)},
    {.key = "plain_text_only",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Refuse calls that give an HtmlBody (invalid_input).",
     .offset = offsetof(struct smtp_conf, plain_text_only)},
    {.key = "max_attachment_size",
     .type = SB_CONF_SIZE,
     .def = "10MiB",
     .min = 1,
     .max = (int64_t)1024 * 1024 * 1024,
     .doc = "Largest single attachment accepted (decoded size); larger "
	    "ones are refused with payload_too_large.",
     .offset = offsetof(struct smtp_conf, max_attachment_size)},
    {.key = "max_per_minute",
     .type = SB_CONF_INT,
     .def = "0",
     .min = 0,
     .max = 1000000,
     .doc = "Messages per minute for this instance (0: no limit); over it "
	    "a call waits within its deadline or gets throttled.",
     .offset = offsetof(struct smtp_conf, max_per_minute)},
    {.key = "rate_window",
     .type = SB_CONF_DURATION,
     .def = "1m",
     .min = 1000,
     .max = 3600 * 1000,
     .doc = "The sliding window max_per_minute counts sends in: leave it "
	    "at 1m (a shorter one exists to test the limit quickly).",
     .offset = offsetof(struct smtp_conf, rate_window_ms)},
    SB_CONF_INCLUDE("tls", sb_tls_keys, offsetof(struct smtp_conf, trust)),
    {.key = "token_url",
     .type = SB_CONF_URL,
     .schemes = token_schemes,
     .doc = "auth = xoauth2: the OAuth2 token endpoint tokens are requested "
	    "from (client credentials) and renewed before they expire, "
	    "e.g. https://login.microsoftonline.com/TENANT/oauth2/v2.0/token.",
     .offset = offsetof(struct smtp_conf, token_url)},
    {.key = "client_id",
     .type = SB_CONF_STRING,
     .doc = "With token_url: the application (client) id.",
     .offset = offsetof(struct smtp_conf, client_id)},
    {.key = "client_secret",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "With token_url: the client secret (or give cert_file and "
	    "key_file); prefer ${file:...}.",
     .offset = offsetof(struct smtp_conf, client_secret)},
    {.key = "cert_file",
     .type = SB_CONF_PATH,
     .doc = "With token_url, instead of client_secret: the application's "
	    "certificate (PEM); token requests carry a JWT assertion "
	    "signed with key_file.",
     .offset = offsetof(struct smtp_conf, cert_file)},
    {.key = "key_file",
     .type = SB_CONF_PATH,
     .doc = "With cert_file: its RSA private key (PEM, unencrypted, "
	    "readable by the daemon's user only: mode 0600 or 0400).",
     .offset = offsetof(struct smtp_conf, key_file)},
    {.key = "scope",
     .type = SB_CONF_STRING,
     .def = "https://outlook.office365.com/.default",
     .doc = "With token_url: the scope requested (Office 365 SMTP AUTH: "
	    "the default).",
     .offset = offsetof(struct smtp_conf, scope)},
    {.key = "token_ca_file",
     .type = SB_CONF_PATH,
     .doc = "With token_url: PEM file of authorities trusted for the token "
	    "endpoint (default: the system's; verify_tls applies too).",
     .offset = offsetof(struct smtp_conf, token_ca_file)},
    SB_CONF_END,
};

/* ---- method handlers (the tables below name them) ---------------------- */

static enum sb_status email_send(void *state, const struct sb_call *call,
				 struct sb_result *result, struct sb_error *err)
{
	return smtp_email_send(state, call, result, err);
}

static enum sb_status connection_test(void *state, const struct sb_call *call,
				      struct sb_result *result,
				      struct sb_error *err)
{
	return smtp_connection_test(state, call, result, err);
}

/* ---- catalog ------------------------------------------------------------- */

static const struct sb_param send_in[] = {
    {.name = "From",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MAILBOX, /* the sender the client acts for */
     .doc = "Sender address (default: the instance's `from`; another "
	    "address needs allow_from_override)."},
    {.name = "To",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI,
     .doc = "Primary recipients."},
    {.name = "Cc",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI,
     .doc = "Carbon-copy recipients."},
    {.name = "Bcc",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI,
     .doc = "Blind carbon-copy recipients: they receive the message but "
	    "appear in no header."},
    {.name = "ReplyTo",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI,
     .doc = "Addresses replies should go to."},
    {.name = "Subject", .type = SB_TYPE_TEXT, .doc = "Subject line."},
    {.name = "Body", .type = SB_TYPE_MEMO, .doc = "Plain-text body."},
    {.name = "HtmlBody",
     .type = SB_TYPE_MEMO,
     .doc = "HTML body, sent with the plain text as multipart/alternative."},
    {.name = "Importance",
     .type = SB_TYPE_ENUM,
     .choices = sb_importance_choices,
     .doc = "Low, Normal or High (Importance and X-Priority headers)."},
    {.name = "Attachments",
     .type = SB_TYPE_FILE,
     .flags = SB_MULTI,
     .doc = "Files to attach (each at most max_attachment_size)."},
    SB_PARAM_END,
};

static const char *const send_ret[] = {"MessageId", "Accepted", "Rejected",
				       NULL};

static const struct sb_method email_methods[] = {
    {.name = "Send",
     .kind = SB_KIND_EXECUTE,
     .handler = email_send,
     .doc = "Submit a message to the SMTP server.  Accepted lists the "
	    "recipients the server took, Rejected the refused ones with "
	    "the server's reply; if every recipient is refused the call "
	    "fails with the server's words.",
     .inputs = send_in,
     .returns = send_ret},
    SB_METHOD_END,
};

static const struct sb_property connection_properties[] = {
    {.name = "ServerGreeting",
     .type = SB_TYPE_TEXT,
     .doc = "The server's 220 greeting, without the code."},
    {.name = "Extensions",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "ESMTP extensions the server announced in its EHLO reply."},
    {.name = "TlsVersion",
     .type = SB_TYPE_TEXT,
     .doc = "TLS protocol version of the connection, or none."},
    {.name = "AuthMechanisms",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "SASL mechanisms the server offers."},
    {.name = "MessageId",
     .type = SB_TYPE_TEXT,
     .doc = "Message-ID of the test message, when one was sent."},
    {.name = "Accepted",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI,
     .doc = "Recipients of the test message the server accepted."},
    {.name = "Rejected",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "Recipients of the test message the server refused, each as "
	    "\"address: server reply\"."},
    SB_PROPERTY_END,
};

static const struct sb_param test_in[] = {
    {.name = "To",
     .type = SB_TYPE_EMAIL,
     .doc = "Also send a short test message from the instance's `from` "
	    "to this address."},
    SB_PARAM_END,
};

static const char *const test_ret[] = {
    "ServerGreeting", "Extensions", "TlsVersion", "AuthMechanisms",
    "MessageId",      "Accepted",   "Rejected",	  NULL};

static const struct sb_method connection_methods[] = {
    {.name = "Test",
     .kind = SB_KIND_EXECUTE,
     .handler = connection_test,
     .doc = "Connect on a new connection, negotiate TLS and authenticate "
	    "as a send would, and report what the server offers; with To, "
	    "also send a test message.",
     .inputs = test_in,
     .returns = test_ret},
    SB_METHOD_END,
};

static const struct sb_object smtp_objects[] = {
    {.name = SB_OBJ_EMAIL,
     .doc = "An email message, submitted over SMTP.",
     .properties = sb_email_properties,
     .methods = email_methods},
    {.name = "Connection",
     .doc = "The connection to the SMTP server.",
     .properties = connection_properties,
     .methods = connection_methods},
    SB_OBJECT_END,
};

/* ---- lifecycle ----------------------------------------------------------- */

static bool helo_ok(const char *h)
{
	size_t n = strlen(h);
	if (!n || n > 253)
		return false;
	if (h[0] == '[') /* address literal */
		return h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF"
							":.IPv") == n - 2;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return false;
	return true;
}

/* url with helo_name as its path: smtp://host:port/helo */
static char *make_url(const struct smtp_conf *c, struct sb_error *err)
{
	const char *sep = strstr(c->url, "://");
	if (!sep) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "url: expected smtp://host[:port] or "
			     "smtps://host[:port]");
		return NULL;
	}
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	if (!alen || memchr(auth, '@', alen)) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "url: give the host and port only (credentials "
			     "go in username and password)");
		return NULL;
	}
	if (auth[alen] == '?' || auth[alen] == '#' ||
	    (auth[alen] && strpbrk(auth + alen, "?#"))) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "url: no query or fragment allowed");
		return NULL;
	}
	struct sb_buf b;
	sb_buf_init(&b, 4096);
	sb_buf_append(&b, c->url, (size_t)(auth + alen - c->url));
	if (c->helo_name) {
		sb_buf_printf(&b, "/%s", c->helo_name);
	} else if (auth[alen] == '/') {
		sb_buf_puts(&b, auth + alen); /* a path given in the URL */
	}
	char *u = sb_buf_steal(&b);
	if (!u)
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	return u;
}

/* auth = xoauth2 with token_url: the OAuth2 keys.  The files themselves
 * are read at open (sb_oauth2_new), not here. */
static enum sb_status oauth_validate(const struct smtp_conf *c,
				     struct sb_error *err)
{
	static const char *const only[] = {"client_id", "client_secret",
					   "cert_file", "key_file",
					   "token_ca_file"};
	const char *const vals[] = {c->client_id, c->client_secret,
				    c->cert_file, c->key_file,
				    c->token_ca_file};
	if (c->token_url && c->auth != SMTP_AUTH_XOAUTH2)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "token_url: applies to auth = xoauth2 "
				    "only");
	if (!c->token_url) {
		for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++)
			if (vals[i])
				return sb_error_set(
				    err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: applies with token_url (auth = "
				    "xoauth2 with tokens from an OAuth2 "
				    "endpoint) only",
				    only[i]);
		return SB_OK;
	}
	if (c->password)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "password: give either a static token as "
				    "password or token_url, not both");
	enum sb_status ust = sb_oauth2_url_check(c->token_url, err);
	if (ust != SB_OK)
		return ust;
	if (!c->client_id || !*c->client_id)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "client_id: required with token_url");
	bool cert = c->cert_file || c->key_file;
	if (c->client_secret && cert)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "client_secret: give either "
				    "client_secret or cert_file and "
				    "key_file, not both");
	if (!c->client_secret && !cert)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "client_secret: required with token_url "
				    "(or cert_file and key_file)");
	if (c->client_secret && !*c->client_secret)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "client_secret: empty");
	if (cert && !c->cert_file)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "cert_file: required with key_file");
	if (cert && !c->key_file)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "key_file: required with cert_file");
	return SB_OK;
}

/* Rules that span keys; run by --check, start-up and reload before any
 * instance opens. */
static enum sb_status smtp_validate(const void *config, struct sb_error *err)
{
	const struct smtp_conf *c = config;
	bool smtps = !strncasecmp(c->url, "smtps:", 6);
	if (smtps && c->tls == SMTP_TLS_STARTTLS)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "tls: starttls applies to smtp:// URLs; "
				    "smtps:// is TLS from the start (set "
				    "tls = none or use smtp://)");
	if (c->auth != SMTP_AUTH_NONE && (!c->username || !*c->username))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "username: required when auth = %s",
				    auth_choices[c->auth]);
	enum sb_status ost = oauth_validate(c, err);
	if (ost != SB_OK)
		return ost;
	if (c->auth != SMTP_AUTH_NONE && !c->token_url &&
	    (!c->password || !*c->password))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "password: required when auth = %s%s",
				    auth_choices[c->auth],
				    c->auth == SMTP_AUTH_XOAUTH2
					? " (a static token), unless token_url "
					  "is given"
					: "");
	if (c->from && !sb_email_valid(c->from))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "from: not a valid email address");
	if (c->helo_name && !helo_ok(c->helo_name))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "helo_name: expected a host name or an "
				    "address literal");
	if (c->allow_from_override && !c->from)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "allow_from_override: needs `from` (the "
				    "Sender of messages sent on behalf)");
	struct sb_error e2;
	char *u = make_url(c, &e2);
	if (!u) {
		*err = e2;
		return e2.status;
	}
	free(u);
	/* files open() will read: missing or too open, said by --check */
	enum sb_status st = sb_path_check("ca_file", c->trust.ca_file, 0, err);
	if (st == SB_OK)
		st = sb_path_check("token_ca_file", c->token_ca_file, 0, err);
	if (st == SB_OK)
		st = sb_path_check("cert_file", c->cert_file, 0, err);
	if (st == SB_OK)
		st = sb_path_check("key_file", c->key_file, SB_PATH_PRIVATE,
				   err);
	return st;
}

static void smtp_close(void *state)
{
	struct smtp *s = state;
	if (!s)
		return;
	sb_curl_pool_free(s->pool);
	smtp_ratelimit_free(&s->rate);
	sb_oauth2_free(s->oauth);
	free(s->url);
	free(s);
}

enum sb_status smtp_transfer_auth(struct smtp *s, const struct sb_call *call,
				  struct smtp_xfer *x, struct sb_error *err)
{
	if (!s->oauth)
		return smtp_transfer(s, call, x, err);
	char *tok = NULL;
	bool cached = false;
	enum sb_status st = sb_oauth2_token(s->oauth, call, &tok, &cached, err);
	if (st != SB_OK)
		return st;
	x->bearer = tok;
	st = smtp_transfer(s, call, x, err);
	/* AUTH refused a token from the cache (revoked, or expired early):
	 * nothing was sent; one new token, one more try */
	if (st == SB_ERR_UPSTREAM_AUTH && cached && x->session.auth_sent &&
	    x->session.auth_code >= 500) {
		s->host->log(s->host, SB_LOG_INFO,
			     "the SMTP server refused the cached OAuth2 token "
			     "(%d); requesting a new one and trying once more",
			     x->session.auth_code);
		sb_oauth2_invalidate(s->oauth, tok);
		sb_oauth2_token_free(tok);
		x->bearer = tok = NULL;
		struct sb_error e2 = {0};
		st = sb_oauth2_token(s->oauth, call, &tok, NULL, &e2);
		if (st != SB_OK) {
			if (err)
				*err = e2;
			return st;
		}
		smtp_session_free(&x->session);
		sb_error_clear(err);
		x->bearer = tok;
		x->fresh = true;
		st = smtp_transfer(s, call, x, err);
	}
	x->bearer = NULL;
	sb_oauth2_token_free(tok);
	return st;
}

static enum sb_status smtp_open(const struct sb_host *host, const void *config,
				void **state, struct sb_error *err)
{
	const struct smtp_conf *c = config;
	*state = NULL;
	bool smtps = !strncasecmp(c->url, "smtps:", 6);
	struct smtp *s = calloc(1, sizeof(*s));
	if (!s)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	s->host = host;
	s->conf = c;
	if (!(s->url = make_url(c, err))) {
		free(s);
		return err ? err->status : SB_ERR_INVALID_INPUT;
	}
	s->pool =
	    sb_curl_pool_new(POOL_KEEP, SMTP_MAX_IDLE_S, smtp_pool_idle_setup);
	if (!s->pool) {
		free(s->url);
		free(s);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	if (!smtp_ratelimit_init(&s->rate, (size_t)c->max_per_minute,
				 c->rate_window_ms)) {
		sb_curl_pool_free(s->pool);
		free(s->url);
		free(s);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	if (c->token_url) {
		struct sb_oauth2_conf oc = {
		    .token_url = c->token_url,
		    .client_id = c->client_id,
		    .client_secret = c->client_secret,
		    .cert_file = c->cert_file,
		    .key_file = c->key_file,
		    .scope = c->scope,
		    .verify_tls = c->trust.verify_tls,
		    .ca_file = c->token_ca_file,
		};
		enum sb_status st = sb_oauth2_new(&oc, host, &s->oauth, err);
		if (st != SB_OK) {
			smtp_close(s);
			return st;
		}
	}
	if (c->auth != SMTP_AUTH_NONE && !smtps && c->tls == SMTP_TLS_NONE)
		host->log(host, SB_LOG_WARN,
			  "auth = %s without TLS: credentials cross the "
			  "network in clear text",
			  auth_choices[c->auth]);
	if (!c->trust.verify_tls)
		host->log(host, SB_LOG_WARN,
			  "verify_tls = no: the server's identity is not "
			  "checked");
	*state = s;
	return SB_OK;
}

static enum sb_status smtp_test(void *state, struct sb_error *err)
{
	struct smtp_session ss;
	enum sb_status st = smtp_probe(state, NULL, &ss, err);
	if (st == SB_OK)
		smtp_session_free(&ss);
	return st;
}

SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "smtp",
    .version = "1.0",
    .summary = "Send mail through any SMTP server (Exchange receive "
	       "connectors, Office 365, relays).",
    .config = smtp_config,
    .config_size = sizeof(struct smtp_conf),
    .objects = smtp_objects,
    .open = smtp_open,
    .validate = smtp_validate,
    .test = smtp_test,
    .close = smtp_close,
};
