/* exchange-powershell-winrm broker — the module descriptor: instance keys,
 * validate, open/close, and the object table. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/http.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/sdk.h>

#include "wr_script.h"
#include "wr_transport.h"

/* ---- instance keys ------------------------------------------------------ */

enum wr_auth { WR_AUTH_BASIC = 0, WR_AUTH_NTLM, WR_AUTH_KERBEROS };

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

/* The HTTP client's configuration of an instance: auth = ntlm is NTLMv2
 * inside the Negotiate scheme (WinRM offers only Negotiate and Kerberos),
 * kerberos the daemon's own credentials. */
static void http_conf(const struct wr_conf *c, struct sb_http_conf *hc)
{
	*hc = (struct sb_http_conf){
	    .url = c->url,
	    .tls = c->tls,
	    .auth = c->auth == WR_AUTH_NTLM	  ? SB_HTTP_AUTH_NTLM_NEGOTIATE
		    : c->auth == WR_AUTH_KERBEROS ? SB_HTTP_AUTH_NEGOTIATE
						  : SB_HTTP_AUTH_BASIC,
	    .connect_timeout_ms = c->connect_timeout_ms,
	    .max_response_size = c->max_output,
	};
	if (c->auth != WR_AUTH_KERBEROS) {
		hc->username = c->username;
		hc->password = c->password;
	}
}

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
	if (c->auth == WR_AUTH_KERBEROS && (c->username || c->password))
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT, NULL,
		    "username, password: auth = kerberos uses the daemon's "
		    "own credentials (KRB5CCNAME or KRB5_CLIENT_KTNAME), not "
		    "these keys");
	/* in the broker's own names (the client would say ntlm-negotiate) */
	if (c->auth != WR_AUTH_KERBEROS && (!c->username || !*c->username))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "username: required with auth = %s",
				    auth_choices[c->auth]);
	if (c->auth != WR_AUTH_KERBEROS && (!c->password || !*c->password))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "password: required with auth = %s",
				    auth_choices[c->auth]);
	/* the HTTP client's own rules (the URL, the NTLM user name and
	 * password form), then the files open() will read */
	struct sb_http_conf hc;
	http_conf(c, &hc);
	enum sb_status st = sb_http_conf_check(&hc, err);
	if (st == SB_OK)
		st = sb_path_check("ca_file", c->tls.ca_file, 0, err);
	return st;
}

/* ---- the instance ------------------------------------------------------- */

/* The transport sees the call's deadline WR_DEADLINE_MARGIN_MS early, so
 * that its error (after Enable or Disable was sent: "may or may not have
 * run") reaches the client before the host gives up on the call with a
 * bare timeout of its own. */
#define WR_DEADLINE_MARGIN_MS 750

struct wr {
	const struct sb_host *host;
	const struct wr_conf *conf;
	struct wr_pool *pool;
	struct sb_host early; /* the host lent to the transport */
};

static const struct sb_host *real_of(const struct sb_host *h)
{
	const struct wr *w =
	    (const struct wr *)((const char *)h - offsetof(struct wr, early));
	return w->host;
}

static void early_log(const struct sb_host *h, enum sb_log_level level,
		      const char *fmt, ...) SB_PRINTF(3, 4);
static void early_log(const struct sb_host *h, enum sb_log_level level,
		      const char *fmt, ...)
{
	const struct sb_host *real = real_of(h);
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	real->log(real, level, "%s", line);
}

static int64_t early_remaining(const struct sb_host *h,
			       const struct sb_call *call)
{
	const struct sb_host *real = real_of(h);
	return real->remaining_ms(real, call) - WR_DEADLINE_MARGIN_MS;
}

static bool early_cancelled(const struct sb_host *h, const struct sb_call *call)
{
	const struct sb_host *real = real_of(h);
	return real->cancelled(real, call) || early_remaining(h, call) <= 0;
}

static bool early_log_enabled(const struct sb_host *h, enum sb_log_level level)
{
	return sb_log_enabled(real_of(h), level);
}

static void early_host(struct wr *w)
{
	const struct sb_host *real = w->host;
	w->early = (struct sb_host){
	    .struct_size = sizeof(struct sb_host),
	    .instance = real->instance,
	    .broker = real->broker,
	    .log = early_log,
	    .remaining_ms = early_remaining,
	    .cancelled = early_cancelled,
	    .state_dir = real->state_dir,
	    .log_enabled = early_log_enabled,
	};
}

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
	struct sb_http_conf hc;
	http_conf(c, &hc);
	struct wr_transport_conf tc = {
	    .http = &hc,
	    .max_shells = (int)c->max_shells,
	    .shell_idle_ms = c->shell_idle_timeout_ms,
	    .max_envelope = 0,
	    .max_output = c->max_output,
	    .allow_unencrypted = c->allow_unencrypted,
	};
	early_host(w);
	w->pool = wr_pool_get(&w->early, &tc, err);
	if (!w->pool) {
		free(w);
		return err->status ? err->status : SB_ERR_INTERNAL;
	}
	if (!strncasecmp(c->url, "http://", 7))
		host->log(host, SB_LOG_WARN,
			  "url is http:// (allow_unencrypted = yes): "
			  "commands, their output%s cross the network in "
			  "clear text",
			  c->auth == WR_AUTH_BASIC ? " and the password" : "");
	*state = w;
	return SB_OK;
}

static void wr_close(void *state)
{
	struct wr *w = state;
	if (!w)
		return;
	wr_pool_put(w->pool);
	free(w);
}

/* ---- running one cmdlet ------------------------------------------------- */

static const char *short_type(const char *type)
{
	const char *dot = strrchr(type, '.');
	return dot ? dot + 1 : type;
}

/* The error a cmdlet reported, as the broker's status. */
static enum sb_status cmdlet_error(const char *cmdlet,
				   const struct wr_rows *rows,
				   struct sb_error *err)
{
	const char *t = short_type(rows->type);
	char *msg = sb_clean_text(rows->message ? rows->message : "");
	enum sb_status st = SB_ERR_UPSTREAM;
	if (!strcmp(t, "ManagementObjectNotFoundException"))
		st = SB_ERR_NOT_FOUND;
	else if (!strcmp(t, "ManagementObjectAmbiguousException") ||
		 (msg && strstr(msg, "already mailbox-enabled")) ||
		 !strcmp(rows->category, "ResourceExists"))
		st = SB_ERR_CONFLICT;
	else if (!strcmp(t, "ParameterBindingException"))
		st = SB_ERR_INVALID_INPUT;
	else if (!strcmp(rows->category, "PermissionDenied") ||
		 strstr(t, "AccessDenied") || strstr(t, "UnauthorizedAccess"))
		st = SB_ERR_UPSTREAM_DENIED;
	sb_error_set(err, st, t[0] ? t : NULL, "%s: %s (%s, %s)", cmdlet,
		     msg ? msg : "", rows->category[0] ? rows->category : "-",
		     rows->type[0] ? rows->type : "-");
	free(msg);
	return st;
}

/* Run cmdlet with params and switches, reading props of each object it
 * returns into rows.  A mutating cmdlet's failure after it was sent says
 * that it may or may not have run. */
static enum sb_status run_cmdlet(struct wr *w, const struct sb_call *call,
				 const char *cmdlet,
				 const struct wr_param *params, size_t nparams,
				 const char *const *switches,
				 const struct wr_prop *props, size_t nprops,
				 bool mutating, struct wr_rows *rows,
				 struct sb_error *err)
{
	char id[WR_ID_LEN + 1];
	memset(rows, 0, sizeof(*rows));
	if (!wr_new_id(id))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no random bytes for the call's id");
	char *script =
	    wr_script_build(w->conf->exchange_version, id, cmdlet, params,
			    nparams, switches, props, nprops, err);
	if (!script)
		return err->status;
	struct wr_result r;
	memset(&r, 0, sizeof(r));
	bool started = false;
	enum sb_status st =
	    wr_run(w->pool, call, script, strlen(script), &r, &started, err);
	free(script);
	if (st != SB_OK) {
		if (mutating && started &&
		    strcmp(err->code, "outcome_unknown")) {
			char was[SB_ERROR_MSG_MAX];
			snprintf(was, sizeof(was), "%s", err->message);
			sb_error_set(err, st, "outcome_unknown",
				     "%s may or may not have run: %s", cmdlet,
				     was);
		}
		wr_result_free(&r);
		return st;
	}
	st = wr_output_parse(r.out, r.out_len, id, nprops, rows, err);
	if (st != SB_OK) {
		char was[SB_ERROR_MSG_MAX];
		snprintf(was, sizeof(was), "%s", err->message);
		char *e = sb_clean_text(r.err_text ? r.err_text : "");
		char shown[240];
		sb_text_quotable(e ? e : "", 200, shown, sizeof(shown));
		free(e);
		sb_error_set(err, st, mutating ? "outcome_unknown" : NULL,
			     "%s: %s%s%s%s", cmdlet, was,
			     shown[0] ? "; PowerShell wrote: " : "", shown,
			     mutating ? " (the command may or may not have run)"
				      : "");
		wr_result_free(&r);
		return st;
	}
	wr_result_free(&r);
	if (rows->failed) {
		st = cmdlet_error(cmdlet, rows, err);
		wr_rows_free(rows);
		return st;
	}
	return SB_OK;
}

/* ---- rows out ----------------------------------------------------------- */

enum prop_kind {
	P_TEXT,
	P_MEMO,
	P_MULTI,
	P_BOOL,
	P_NUMBER,
	P_EMAIL,
	P_INTERNAL
};

struct out_prop {
	const char *name;
	enum prop_kind kind;
	bool bytes;
};

static enum sb_status put_cell(struct sb_result *res, const struct out_prop *p,
			       const char *v)
{
	if (!v || p->kind == P_INTERNAL)
		return SB_OK;
	switch (p->kind) {
	case P_MULTI: {
		/* [string] of a flags enum: "Mailbox, ClientAccess" */
		enum sb_status st = sb_result_empty(res, p->name);
		const char *s = v;
		while (st == SB_OK && *s) {
			const char *e = strstr(s, ", ");
			size_t n = e ? (size_t)(e - s) : strlen(s);
			char *item = strndup(s, n);
			if (!item)
				return SB_ERR_INTERNAL;
			if (*item)
				st = sb_result_clean_text(res, p->name, item);
			free(item);
			s += n;
			if (e)
				s += 2;
		}
		return st;
	}
	case P_BOOL:
		if (!strcasecmp(v, "True"))
			return sb_result_bool(res, p->name, true);
		if (!strcasecmp(v, "False"))
			return sb_result_bool(res, p->name, false);
		return SB_OK;
	case P_NUMBER: {
		char *e;
		if (*v < '0' || *v > '9')
			return SB_OK;
		unsigned long long n = strtoull(v, &e, 10);
		if (*e || n > INT64_MAX)
			return SB_OK;
		return sb_result_int(res, p->name, (int64_t)n);
	}
	case P_MEMO:
		return sb_result_clean_memo(res, p->name, v);
	case P_EMAIL:
		if (!sb_email_valid(v))
			return SB_OK;
		return sb_result_str(res, p->name, v);
	default:
		return sb_result_clean_text(res, p->name, v);
	}
}

static enum sb_status put_row(struct sb_result *res,
			      const struct out_prop *props, size_t n,
			      const struct wr_rows *rows, size_t row)
{
	enum sb_status st = sb_result_row(res);
	for (size_t i = 0; st == SB_OK && i < n; i++)
		st = put_cell(res, &props[i], wr_cell(rows, row, i));
	return st;
}

static size_t to_wr_props(const struct out_prop *props, size_t n,
			  struct wr_prop *out)
{
	for (size_t i = 0; i < n; i++) {
		out[i].name = props[i].name;
		out[i].bytes = props[i].bytes;
	}
	return n;
}

/* A list answered from rows sorted by the field `key` (unique), one page
 * from the token's position: no row twice, none skipped, while the
 * directory does not change.  binding names the listing. */
struct sort_ctx {
	const struct wr_rows *rows;
	int key;
};
static int by_key(const void *a, const void *b, void *ctx)
{
	const struct sort_ctx *c = ctx;
	const char *x = wr_cell(c->rows, *(const size_t *)a, c->key);
	const char *y = wr_cell(c->rows, *(const size_t *)b, c->key);
	return strcmp(x ? x : "", y ? y : "");
}

static enum sb_status
put_page(const struct sb_call *call, struct sb_result *res,
	 const struct out_prop *props, size_t n, const struct wr_rows *rows,
	 int key, const char *const *binding, size_t nbind, const char *after)
{
	size_t *order = malloc((rows->n ? rows->n : 1) * sizeof(size_t));
	if (!order)
		return SB_ERR_INTERNAL;
	for (size_t i = 0; i < rows->n; i++)
		order[i] = i;
	struct sort_ctx ctx = {rows, key};
	qsort_r(order, rows->n, sizeof(size_t), by_key, &ctx);
	int64_t size = sb_call_page_size(call);
	enum sb_status st = SB_OK;
	size_t emitted = 0, i = 0;
	for (; i < rows->n && st == SB_OK; i++) {
		const char *k = wr_cell(rows, order[i], key);
		if (after && strcmp(k ? k : "", after) <= 0)
			continue;
		if ((int64_t)emitted == size)
			break;
		st = put_row(res, props, n, rows, order[i]);
		emitted++;
	}
	if (st == SB_OK && i < rows->n && emitted > 0) {
		const char *last = wr_cell(rows, order[i - 1], key);
		last = last ? last : "";
		char *tok =
		    sb_page_token_new(binding, nbind, last, strlen(last));
		if (!tok)
			st = SB_ERR_INTERNAL;
		else
			st = sb_result_next_page(res, tok);
		free(tok);
	}
	free(order);
	return st;
}

/* The position of a list call: NULL on the first page, else the last key
 * given (in pos, which the caller frees). */
static enum sb_status page_start(const struct sb_call *call,
				 const char *const *binding, size_t nbind,
				 struct sb_buf *pos, const char **after,
				 struct sb_error *err)
{
	sb_buf_init(pos, SB_PAGE_TOKEN_POS_MAX + 1);
	*after = NULL;
	const char *tok = sb_call_page_token(call);
	if (!tok)
		return SB_OK;
	enum sb_status st = sb_page_token_read(tok, binding, nbind, pos, err);
	if (st == SB_OK)
		*after = pos->data ? pos->data : "";
	return st;
}

/* ---- ExchangeServer ------------------------------------------------------ */

static const struct out_prop server_props[] = {
    {"Name", P_TEXT, false},
    {"Fqdn", P_TEXT, false},
    {"Site", P_TEXT, false},
    {"Edition", P_TEXT, false},
    {"AdminDisplayVersion", P_TEXT, false},
    {"ServerRole", P_MULTI, false},
};
#define NPROPS(a) (sizeof(a) / sizeof((a)[0]))

static enum sb_status list_or_load(void *state, const struct sb_call *call,
				   struct sb_result *res, struct sb_error *err,
				   const char *object, const char *cmdlet,
				   const struct out_prop *props, size_t n,
				   int key, const struct wr_param *params,
				   size_t nparams, const char *const *switches,
				   bool load)
{
	struct wr *w = state;
	struct wr_prop wp[16];
	to_wr_props(props, n, wp);
	const char *binding[8];
	size_t nbind = 0;
	binding[nbind++] = object;
	binding[nbind++] = "v1";
	for (size_t i = 0; i < nparams && nbind < 8; i++)
		binding[nbind++] = params[i].value;
	struct sb_buf pos;
	const char *after = NULL;
	enum sb_status st = SB_OK;
	if (!load) {
		st = page_start(call, binding, nbind, &pos, &after, err);
		if (st != SB_OK) {
			sb_buf_free(&pos);
			return st;
		}
	}
	struct wr_rows rows;
	st = run_cmdlet(w, call, cmdlet, params, nparams, switches, wp, n,
			false, &rows, err);
	if (st == SB_OK) {
		if (load) {
			if (rows.n == 0)
				st = sb_error_set(err, SB_ERR_NOT_FOUND, NULL,
						  "%s: not found", object);
			else
				st = put_row(res, props, n, &rows, 0);
		} else {
			st = put_page(call, res, props, n, &rows, key, binding,
				      nbind, after);
		}
		if (st != SB_OK && !err->message[0])
			sb_error_set(err, st, NULL, "%s: building the rows",
				     object);
		wr_rows_free(&rows);
	}
	if (!load)
		sb_buf_free(&pos);
	return st;
}

static const char *identity_in(const struct sb_call *call)
{
	return sb_call_str(call, "Identity", NULL);
}

static enum sb_status server_list(void *state, const struct sb_call *call,
				  struct sb_result *res, struct sb_error *err)
{
	return list_or_load(state, call, res, err, "ExchangeServer.List",
			    "Get-ExchangeServer", server_props,
			    NPROPS(server_props), 0, NULL, 0, NULL, false);
}

static enum sb_status server_load(void *state, const struct sb_call *call,
				  struct sb_result *res, struct sb_error *err)
{
	struct wr_param p[] = {{"Identity", identity_in(call)}};
	return list_or_load(state, call, res, err, "ExchangeServer",
			    "Get-ExchangeServer", server_props,
			    NPROPS(server_props), 0, p, 1, NULL, true);
}

/* ---- StorageGroup (Exchange 2007) ---------------------------------------- */

static const struct out_prop sg_props[] = {
    {"Identity", P_TEXT, false},
    {"Name", P_TEXT, false},
    {"Server", P_TEXT, false},
};

static enum sb_status only_2007(struct wr *w, struct sb_error *err)
{
	if (w->conf->exchange_version == WR_EX2007)
		return SB_OK;
	return sb_error_set(err, SB_ERR_METHOD_NOT_ALLOWED, NULL,
			    "StorageGroup: storage groups exist on Exchange "
			    "2007 only (this instance has exchange_version = "
			    "%s; its databases are MailboxDatabase objects "
			    "of their own)",
			    version_choices[w->conf->exchange_version]);
}

static enum sb_status sg_list(void *state, const struct sb_call *call,
			      struct sb_result *res, struct sb_error *err)
{
	enum sb_status st = only_2007(state, err);
	if (st != SB_OK)
		return st;
	struct wr_param p[] = {{"Server", sb_call_str(call, "Server", NULL)}};
	return list_or_load(state, call, res, err, "StorageGroup.List",
			    "Get-StorageGroup", sg_props, NPROPS(sg_props), 0,
			    p, 1, NULL, false);
}

static enum sb_status sg_load(void *state, const struct sb_call *call,
			      struct sb_result *res, struct sb_error *err)
{
	enum sb_status st = only_2007(state, err);
	if (st != SB_OK)
		return st;
	struct wr_param p[] = {{"Identity", identity_in(call)}};
	return list_or_load(state, call, res, err, "StorageGroup",
			    "Get-StorageGroup", sg_props, NPROPS(sg_props), 0,
			    p, 1, NULL, true);
}

/* ---- MailboxDatabase ----------------------------------------------------- */

static const struct out_prop db_props[] = {
    {"Identity", P_TEXT, false},      {"Name", P_TEXT, false},
    {"Server", P_TEXT, false},	      {"StorageGroup", P_TEXT, false},
    {"EdbFilePath", P_TEXT, false},   {"Mounted", P_BOOL, false},
    {"DatabaseSize", P_NUMBER, true},
};
static const char *const status_switch[] = {"-Status", NULL};

static enum sb_status db_list(void *state, const struct sb_call *call,
			      struct sb_result *res, struct sb_error *err)
{
	struct wr_param p[] = {{"Server", sb_call_str(call, "Server", NULL)}};
	return list_or_load(state, call, res, err, "MailboxDatabase.List",
			    "Get-MailboxDatabase", db_props, NPROPS(db_props),
			    0, p, 1, status_switch, false);
}

static enum sb_status db_load(void *state, const struct sb_call *call,
			      struct sb_result *res, struct sb_error *err)
{
	struct wr_param p[] = {{"Identity", identity_in(call)}};
	return list_or_load(state, call, res, err, "MailboxDatabase",
			    "Get-MailboxDatabase", db_props, NPROPS(db_props),
			    0, p, 1, status_switch, true);
}

/* ---- Mailbox --------------------------------------------------------------
 */

/* DistinguishedName is read (unique, the order of pages) but not shown */
static const struct out_prop mbx_props[] = {
    {"DistinguishedName", P_INTERNAL, false},
    {"Identity", P_TEXT, false},
    {"Alias", P_TEXT, false},
    {"DisplayName", P_MEMO, false},
    {"Database", P_TEXT, false},
    {"RecipientTypeDetails", P_TEXT, false},
    {"PrimarySmtpAddress", P_EMAIL, false},
};

static enum sb_status mbx_load(void *state, const struct sb_call *call,
			       struct sb_result *res, struct sb_error *err)
{
	struct wr_param p[] = {{"Identity", identity_in(call)}};
	return list_or_load(state, call, res, err, "Mailbox", "Get-Mailbox",
			    mbx_props, NPROPS(mbx_props), 0, p, 1, NULL, true);
}

static enum sb_status mbx_list(void *state, const struct sb_call *call,
			       struct sb_result *res, struct sb_error *err)
{
	const char *prefix = sb_call_str(call, "NamePrefix", NULL);
	char *filter = NULL;
	if (prefix) {
		struct sb_buf f;
		sb_buf_init(&f, 0);
		sb_buf_puts(&f, "Name -like '");
		enum sb_status st =
		    wr_opath_value(&f, prefix, true, "NamePrefix", err);
		if (st != SB_OK) {
			sb_buf_free(&f);
			return st;
		}
		sb_buf_puts(&f, "*'");
		filter = sb_buf_steal(&f);
		if (!filter)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
	}
	struct wr_param p[] = {
	    {"Database", sb_call_str(call, "Database", NULL)},
	    {"Server", sb_call_str(call, "Server", NULL)},
	    {"RecipientTypeDetails",
	     sb_call_str(call, "RecipientTypeDetails", NULL)},
	    {"Filter", filter},
	    {"ResultSize", "Unlimited"},
	};
	enum sb_status st = list_or_load(
	    state, call, res, err, "Mailbox.List", "Get-Mailbox", mbx_props,
	    NPROPS(mbx_props), 0, p, NPROPS(p), NULL, false);
	free(filter);
	return st;
}

static enum sb_status mbx_enable(void *state, const struct sb_call *call,
				 struct sb_result *res, struct sb_error *err)
{
	struct wr *w = state;
	const char *db = sb_call_str(call, "Database", NULL);
	if (!db && w->conf->exchange_version == WR_EX2007)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Database: required on Exchange 2007 "
				    "(Enable-Mailbox has no automatic "
				    "database choice before 2010)");
	struct wr_param p[] = {
	    {"Identity", identity_in(call)},
	    {"Database", db},
	    {"Alias", sb_call_str(call, "Alias", NULL)},
	};
	struct wr_prop wp[16];
	to_wr_props(mbx_props, NPROPS(mbx_props), wp);
	struct wr_rows rows;
	enum sb_status st =
	    run_cmdlet(w, call, "Enable-Mailbox", p, NPROPS(p), NULL, wp,
		       NPROPS(mbx_props), true, &rows, err);
	if (st != SB_OK)
		return st;
	if (rows.n > 0)
		st = put_row(res, mbx_props, NPROPS(mbx_props), &rows, 0);
	wr_rows_free(&rows);
	if (st != SB_OK)
		sb_error_set(err, st, NULL,
			     "Enable-Mailbox ran; building its row failed");
	return st;
}

static const char *const no_confirm[] = {"-Confirm:$false", NULL};

static enum sb_status mbx_disable(void *state, const struct sb_call *call,
				  struct sb_result *res, struct sb_error *err)
{
	(void)res;
	struct wr_param p[] = {{"Identity", identity_in(call)}};
	struct wr_rows rows;
	enum sb_status st = run_cmdlet(state, call, "Disable-Mailbox", p, 1,
				       no_confirm, NULL, 0, true, &rows, err);
	if (st == SB_OK)
		wr_rows_free(&rows);
	return st;
}

/* ---- the tables -----------------------------------------------------------
 */

static const struct sb_property server_properties[] = {
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "The server's name."},
    {.name = "Fqdn",
     .type = SB_TYPE_TEXT,
     .doc = "Its fully qualified domain name."},
    {.name = "Site",
     .type = SB_TYPE_TEXT,
     .doc = "The Active Directory site it belongs to."},
    {.name = "Edition",
     .type = SB_TYPE_TEXT,
     .doc = "Its edition: Standard, Enterprise, or an evaluation."},
    {.name = "AdminDisplayVersion",
     .type = SB_TYPE_TEXT,
     .doc = "Its version as Exchange shows it, e.g. Version 15.1 (Build "
	    "2507.6)."},
    {.name = "ServerRole",
     .type = SB_TYPE_TEXT,
     .flags = SB_MULTI,
     .doc = "The roles it has installed, e.g. Mailbox, ClientAccess."},
    SB_PROPERTY_END,
};

static const struct sb_param identity_in_server[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = 1024,
     .doc = "The server: its name or FQDN."},
    SB_PARAM_END,
};
static const char *const server_returns[] = {
    "Name",	  "Fqdn", "Site", "Edition", "AdminDisplayVersion",
    "ServerRole", NULL};

static const struct sb_method server_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .doc = "Lists the organisation's Exchange servers "
	    "(Get-ExchangeServer).",
     .handler = server_list,
     .returns = server_returns},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .doc = "Reads one Exchange server.",
     .handler = server_load,
     .inputs = identity_in_server,
     .returns = server_returns},
    SB_METHOD_END,
};

static const struct sb_property sg_properties[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .doc = "The storage group's identity, SERVER\\Name."},
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "The storage group's name."},
    {.name = "Server",
     .type = SB_TYPE_TEXT,
     .doc = "The server holding the storage group."},
    SB_PROPERTY_END,
};
static const struct sb_param sg_list_in[] = {
    {.name = "Server",
     .type = SB_TYPE_TEXT,
     .max_size = 1024,
     .doc = "Only the storage groups of this server."},
    SB_PARAM_END,
};
static const struct sb_param sg_load_in[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = 1024,
     .doc = "The storage group: SERVER\\Name."},
    SB_PARAM_END,
};
static const char *const sg_returns[] = {"Identity", "Name", "Server", NULL};
static const struct sb_method sg_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .doc = "Lists the storage groups (Get-StorageGroup; Exchange 2007 "
	    "only, refused with 405 on later versions).",
     .handler = sg_list,
     .inputs = sg_list_in,
     .returns = sg_returns},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .doc = "Reads one storage group (Exchange 2007 only).",
     .handler = sg_load,
     .inputs = sg_load_in,
     .returns = sg_returns},
    SB_METHOD_END,
};

static const struct sb_property db_properties[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .doc = "The database's identity (Exchange 2007: "
	    "SERVER\\StorageGroup\\Name)."},
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "The database's name."},
    {.name = "Server",
     .type = SB_TYPE_TEXT,
     .doc = "The server that has the database mounted or hosts it."},
    {.name = "StorageGroup",
     .type = SB_TYPE_TEXT,
     .doc = "Exchange 2007: the storage group it belongs to (absent on "
	    "later versions)."},
    {.name = "EdbFilePath",
     .type = SB_TYPE_TEXT,
     .doc = "The path of the database file on the server."},
    {.name = "Mounted",
     .type = SB_TYPE_BOOLEAN,
     .doc = "True when the database is mounted (read with -Status)."},
    {.name = "DatabaseSize",
     .type = SB_TYPE_NUMBER,
     .doc = "Size of the database file in bytes (Exchange 2010 and later; "
	    "absent when unknown, e.g. dismounted)."},
    SB_PROPERTY_END,
};
static const struct sb_param db_list_in[] = {
    {.name = "Server",
     .type = SB_TYPE_TEXT,
     .max_size = 1024,
     .doc = "Only the databases of this server."},
    SB_PARAM_END,
};
static const struct sb_param db_load_in[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = 1024,
     .doc = "The database: its name or identity."},
    SB_PARAM_END,
};
static const char *const db_returns[] = {
    "Identity",	   "Name",    "Server",	      "StorageGroup",
    "EdbFilePath", "Mounted", "DatabaseSize", NULL};
static const struct sb_method db_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .doc = "Lists the mailbox databases with their status "
	    "(Get-MailboxDatabase -Status).",
     .handler = db_list,
     .inputs = db_list_in,
     .returns = db_returns},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .doc = "Reads one mailbox database with its status.",
     .handler = db_load,
     .inputs = db_load_in,
     .returns = db_returns},
    SB_METHOD_END,
};

static const struct sb_property mbx_properties[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .doc = "The mailbox's identity (domain/OU/Name)."},
    {.name = "Alias", .type = SB_TYPE_TEXT, .doc = "The mailbox's alias."},
    {.name = "DisplayName",
     .type = SB_TYPE_MEMO,
     .doc = "The name shown in address lists (exactly as stored: it may "
	    "hold tabs or line breaks)."},
    {.name = "Database",
     .type = SB_TYPE_TEXT,
     .doc = "The mailbox database holding the mailbox."},
    {.name = "RecipientTypeDetails",
     .type = SB_TYPE_TEXT,
     .doc = "The kind of recipient, e.g. UserMailbox, SharedMailbox."},
    {.name = "PrimarySmtpAddress",
     .type = SB_TYPE_EMAIL,
     .doc = "The mailbox's primary SMTP address."},
    SB_PROPERTY_END,
};
static const struct sb_param mbx_identity_in[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED | SB_MAILBOX,
     .max_size = 1024,
     .doc = "The user or mailbox: name, alias, DOMAIN\\account, UPN, "
	    "address or distinguished name."},
    SB_PARAM_END,
};
static const struct sb_param mbx_enable_in[] = {
    {.name = "Identity",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED | SB_MAILBOX,
     .max_size = 1024,
     .doc = "The existing user to give a mailbox: name, DOMAIN\\account, "
	    "UPN or distinguished name."},
    {.name = "Database",
     .type = SB_TYPE_TEXT,
     .max_size = 1024,
     .doc = "The database for the mailbox (required on Exchange 2007; "
	    "later versions choose one when it is absent)."},
    {.name = "Alias",
     .type = SB_TYPE_TEXT,
     .max_size = 64,
     .doc = "The alias to give the mailbox (default: from the account)."},
    SB_PARAM_END,
};
static const struct sb_param mbx_list_in[] = {
    {.name = "Database",
     .type = SB_TYPE_TEXT,
     .max_size = 1024,
     .doc = "Only the mailboxes of this database."},
    {.name = "Server",
     .type = SB_TYPE_TEXT,
     .max_size = 1024,
     .doc = "Only the mailboxes on this server."},
    {.name = "RecipientTypeDetails",
     .type = SB_TYPE_TEXT,
     .max_size = 64,
     .doc = "Only mailboxes of this kind, e.g. UserMailbox."},
    {.name = "NamePrefix",
     .type = SB_TYPE_TEXT,
     .max_size = 256,
     .doc = "Only mailboxes whose name starts with this text (no '*')."},
    SB_PARAM_END,
};
static const char *const mbx_returns[] = {"Identity",
					  "Alias",
					  "DisplayName",
					  "Database",
					  "RecipientTypeDetails",
					  "PrimarySmtpAddress",
					  NULL};
static const struct sb_method mbx_methods[] = {
    {.name = "Enable",
     .kind = SB_KIND_EXECUTE,
     .doc = "Gives an existing user a mailbox (Enable-Mailbox) and "
	    "returns it.",
     .handler = mbx_enable,
     .inputs = mbx_enable_in,
     .returns = mbx_returns},
    {.name = "Disable",
     .kind = SB_KIND_EXECUTE,
     .doc = "Removes the mailbox from its user, keeping the user "
	    "(Disable-Mailbox -Confirm:$false).",
     .handler = mbx_disable,
     .inputs = mbx_identity_in},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .doc = "Reads one mailbox.",
     .handler = mbx_load,
     .inputs = mbx_identity_in,
     .returns = mbx_returns},
    {.name = "List",
     .kind = SB_KIND_LIST,
     .doc = "Lists mailboxes by typed filters, in pages ordered by "
	    "distinguished name.",
     .handler = mbx_list,
     .inputs = mbx_list_in,
     .returns = mbx_returns},
    SB_METHOD_END,
};

static const struct sb_object wr_objects[] = {
    {.name = "ExchangeServer",
     .doc = "An Exchange server of the organisation.",
     .properties = server_properties,
     .methods = server_methods},
    {.name = "StorageGroup",
     .doc = "An Exchange 2007 storage group.",
     .properties = sg_properties,
     .methods = sg_methods},
    {.name = "MailboxDatabase",
     .doc = "A mailbox database and its status.",
     .properties = db_properties,
     .methods = db_methods},
    {.name = "Mailbox",
     .doc = "A user's mailbox.",
     .properties = mbx_properties,
     .methods = mbx_methods},
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
