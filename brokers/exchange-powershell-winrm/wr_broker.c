/* exchange-powershell-winrm broker — the module descriptor: instance keys,
 * validate, open/close, and the object table. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/http.h>

#include "wr_transport.h"

/* ---- instance keys ------------------------------------------------------ */

enum wr_auth { WR_AUTH_BASIC = 0, WR_AUTH_NTLM, WR_AUTH_KERBEROS };
enum wr_version { WR_EX2007 = 0, WR_EX2010, WR_EX2013 };

struct wr_conf {
	char *url;
	int auth;
	char *username;
	char *password;
	int exchange_version;
	struct sb_tls_conf tls;
	int64_t max_shells;
	bool allow_unencrypted;
	int64_t connect_timeout_ms;
	int64_t shell_idle_timeout_ms;
	int64_t max_output;
};

static const char *const url_schemes[] = {"https", "http", NULL};
static const char *const auth_choices[] = {"basic", "ntlm", "kerberos", NULL};
static const char *const version_choices[] = {"2007", "2010", "2013", NULL};

static const struct sb_config_key wr_config[] = {
    {.key = "url",
     .type = SB_CONF_URL,
     .flags = SB_CONF_REQUIRED,
     .schemes = url_schemes,
     .doc = "The WinRM endpoint of the Exchange server, e.g. "
	    "https://ex01.example.com:5986/wsman (http://...:5985/wsman "
	    "only with allow_unencrypted = yes).",
     .offset = offsetof(struct wr_conf, url)},
    {.key = "auth",
     .type = SB_CONF_ENUM,
     .def = "ntlm",
     .choices = auth_choices,
     .doc = "basic (local accounts), ntlm (NTLMv2 inside the Negotiate "
	    "scheme, with username and password) or kerberos (the daemon's "
	    "own credentials: KRB5CCNAME or KRB5_CLIENT_KTNAME).",
     .offset = offsetof(struct wr_conf, auth)},
    {.key = "username",
     .type = SB_CONF_STRING,
     .doc = "basic and ntlm: the account, DOMAIN\\user or user@domain.",
     .offset = offsetof(struct wr_conf, username)},
    {.key = "password",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "basic and ntlm: the account's password; prefer "
	    "${file:...}.",
     .offset = offsetof(struct wr_conf, password)},
    {.key = "exchange_version",
     .type = SB_CONF_ENUM,
     .def = "2013",
     .choices = version_choices,
     .doc = "The Exchange management snap-in to load: 2007, 2010, or 2013 "
	    "(also 2016, 2019 and Subscription Edition).",
     .offset = offsetof(struct wr_conf, exchange_version)},
    SB_CONF_INCLUDE("tls", sb_tls_keys, offsetof(struct wr_conf, tls)),
    {.key = "max_shells",
     .type = SB_CONF_INT,
     .def = "5",
     .min = 1,
     .max = 100,
     .doc = "Most WinRS shells open at once for this endpoint and account "
	    "(WinRM's per-user quota is 5 by default); shells are reused, "
	    "never more, also across reloads.",
     .offset = offsetof(struct wr_conf, max_shells)},
    {.key = "allow_unencrypted",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Allow an http:// url (commands, output and basic "
	    "credentials cross the network in clear text: a warning is "
	    "logged at start-up).",
     .offset = offsetof(struct wr_conf, allow_unencrypted)},
    {.key = "connect_timeout",
     .type = SB_CONF_DURATION,
     .def = "10s",
     .min = 100,
     .max = 300 * 1000,
     .doc = "Bound on connecting to the server, TLS included.",
     .offset = offsetof(struct wr_conf, connect_timeout_ms)},
    {.key = "shell_idle_timeout",
     .type = SB_CONF_DURATION,
     .def = "5m",
     .min = 60 * 1000,
     .max = 3600 * 1000,
     .doc = "IdleTimeOut asked for each shell: the server reaps a shell "
	    "left idle this long (no background thread is needed).",
     .offset = offsetof(struct wr_conf, shell_idle_timeout_ms)},
    {.key = "max_output",
     .type = SB_CONF_SIZE,
     .def = "16MiB",
     .min = 64 * 1024,
     .max = (int64_t)1024 * 1024 * 1024,
     .doc = "Largest output of one command read (stdout and stderr "
	    "together); more fails the call.",
     .offset = offsetof(struct wr_conf, max_output)},
    SB_CONF_END,
};

/* ---- validate ----------------------------------------------------------- */

static enum sb_status wr_validate(const void *config, struct sb_error *err)
{
	const struct wr_conf *c = config;
	if (!c->url)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "url: required");
	if (!strncasecmp(c->url, "http://", 7) && !c->allow_unencrypted)
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT, NULL,
		    "url: http:// sends commands, output and credentials in "
		    "clear text (libcurl cannot do WinRM's message-level "
		    "encryption); use https:// or set allow_unencrypted = "
		    "yes");
	switch (c->auth) {
	case WR_AUTH_BASIC:
	case WR_AUTH_NTLM:
		if (!c->username || !*c->username)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "username: required with auth = %s",
					    auth_choices[c->auth]);
		if (!c->password || !*c->password)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "password: required with auth = %s",
					    auth_choices[c->auth]);
		break;
	case WR_AUTH_KERBEROS:
		if (c->username || c->password)
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "username, password: auth = kerberos uses the "
			    "daemon's own credentials (KRB5CCNAME or "
			    "KRB5_CLIENT_KTNAME), not these keys");
		break;
	default:
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "auth: unknown value");
	}
	return SB_OK;
}

/* ---- the instance ------------------------------------------------------- */

struct wr {
	const struct sb_host *host;
	const struct wr_conf *conf;
};

static enum sb_status wr_open(const struct sb_host *host, const void *config,
			      void **state, struct sb_error *err)
{
	const struct wr_conf *c = config;
	struct wr *w = calloc(1, sizeof(*w));
	if (!w)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	w->host = host;
	w->conf = c;
	if (!strncasecmp(c->url, "http://", 7))
		host->log(host, SB_LOG_WARN,
			  "url is http:// (allow_unencrypted = yes): "
			  "commands, their output%s cross the network in "
			  "clear text",
			  c->auth == WR_AUTH_BASIC ? " and the password" : "");
	*state = w;
	return SB_OK;
}

static void wr_close(void *state) { free(state); }

static const struct sb_object wr_objects[] = {
    SB_OBJECT_END,
};

SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "exchange-powershell-winrm",
    .version = "1.0",
    .summary = "Exchange administration (servers, databases, mailboxes) "
	       "by PowerShell over WinRM",
    .config = wr_config,
    .config_size = sizeof(struct wr_conf),
    .objects = wr_objects,
    .validate = wr_validate,
    .open = wr_open,
    .close = wr_close,
};
