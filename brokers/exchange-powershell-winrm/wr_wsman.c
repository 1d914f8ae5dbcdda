/* exchange-powershell-winrm broker — WS-Management and WinRS (MS-WSMV):
 * the envelopes of Create, Command, Send, Receive, Signal and Delete, one
 * request each over the SDK's HTTP client, and their answers and faults
 * as the broker's errors. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/xml.h>

#include "wr_wsman.h"

#define NS_WSMAN_MS "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
#define NS_TRANSFER "http://schemas.xmlsoap.org/ws/2004/09/transfer"
#define RESOURCE_CMD                                                           \
	"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
#define ANONYMOUS                                                              \
	"http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
#define ACT_CREATE NS_TRANSFER "/Create"
#define ACT_DELETE NS_TRANSFER "/Delete"
#define ACT_COMMAND SB_NS_WINRS "/Command"
#define ACT_SEND SB_NS_WINRS "/Send"
#define ACT_RECEIVE SB_NS_WINRS "/Receive"
#define ACT_SIGNAL SB_NS_WINRS "/Signal"
#define SIGNAL_TERMINATE SB_NS_WINRS "/signal/terminate"

/* ---- the host lent to the HTTP client ---------------------------------- */

/* A clean-up request's stand-in call and its deadline (one per thread: a
 * request runs on the thread that makes it). */
static const char cleanup_tag;
#define CLEANUP_CALL ((const struct sb_call *)(const void *)&cleanup_tag)
static _Thread_local int64_t cleanup_deadline;

const struct sb_call *wr_cleanup_call(int64_t budget_ms)
{
	cleanup_deadline = sb_now_ms() + budget_ms;
	return CLEANUP_CALL;
}

/* A run without a call (a broker's test()) gets a deadline all the same. */
static const char nocall_tag;
#define NO_CALL ((const struct sb_call *)(const void *)&nocall_tag)
static _Thread_local int64_t nocall_deadline;

const struct sb_call *wr_no_call(int64_t budget_ms)
{
	nocall_deadline = sb_now_ms() + budget_ms;
	return NO_CALL;
}

static const struct wr_ws *ws_of(const struct sb_host *h)
{
	return (const struct wr_ws *)(const void *)h;
}

static void h_log(const struct sb_host *h, enum sb_log_level level,
		  const char *fmt, ...) SB_PRINTF(3, 4);
static void h_log(const struct sb_host *h, enum sb_log_level level,
		  const char *fmt, ...)
{
	const struct sb_host *real = ws_of(h)->real;
	if (!real || !real->log || !sb_log_enabled(real, level))
		return;
	char line[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	real->log(real, level, "%s", line);
}

static int64_t h_remaining(const struct sb_host *h, const struct sb_call *call)
{
	if (call == CLEANUP_CALL)
		return cleanup_deadline - sb_now_ms();
	if (call == NO_CALL)
		return nocall_deadline - sb_now_ms();
	const struct sb_host *real = ws_of(h)->real;
	if (!call || !real || !real->remaining_ms)
		return 30000;
	return real->remaining_ms(real, call);
}

static bool h_cancelled(const struct sb_host *h, const struct sb_call *call)
{
	if (call == CLEANUP_CALL || call == NO_CALL || !call)
		return false;
	const struct sb_host *real = ws_of(h)->real;
	return real && real->cancelled && real->cancelled(real, call);
}

static bool h_log_enabled(const struct sb_host *h, enum sb_log_level level)
{
	return sb_log_enabled(ws_of(h)->real, level);
}

int64_t wr_ws_remaining(const struct wr_ws *ws, const struct sb_call *call)
{
	return h_remaining(&ws->host, call);
}

bool wr_ws_cancelled(const struct wr_ws *ws, const struct sb_call *call)
{
	return h_cancelled(&ws->host, call) ||
	       h_remaining(&ws->host, call) <= 0;
}

static sb_http_transport_fn test_transport;
static void *test_ctx;

void wr_set_test_transport(sb_http_transport_fn fn, void *ctx)
{
	test_transport = fn;
	test_ctx = ctx;
}

enum sb_status wr_ws_init(struct wr_ws *ws, const struct sb_host *host,
			  const struct wr_transport_conf *conf,
			  struct sb_error *err)
{
	memset(ws, 0, sizeof(*ws));
	if (!host || !conf || !conf->http || !conf->http->url)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WinRM: no url");
	ws->real = host;
	ws->host.struct_size = sizeof(struct sb_host);
	ws->host.instance = host->instance;
	ws->host.broker = host->broker;
	ws->host.state_dir = host->state_dir;
	ws->host.log = h_log;
	ws->host.remaining_ms = h_remaining;
	ws->host.cancelled = h_cancelled;
	ws->host.log_enabled = h_log_enabled;
	ws->max_envelope =
	    conf->max_envelope > 0 ? conf->max_envelope : WR_DEFAULT_ENVELOPE;
	if (ws->max_envelope < 8192)
		ws->max_envelope = 8192;
	ws->max_output = conf->max_output > 0 ? conf->max_output : 64 << 20;
	ws->shell_idle_ms = conf->shell_idle_ms > 0 ? conf->shell_idle_ms : 0;
	ws->request_timeout_ms = conf->http->request_timeout_ms > 0
				     ? conf->http->request_timeout_ms
				     : 0;
	ws->url = strdup(conf->http->url);
	if (!ws->url)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	ws->http = sb_http_new(&ws->host, conf->http, err);
	if (!ws->http) {
		free(ws->url);
		ws->url = NULL;
		return err ? err->status : SB_ERR_INTERNAL;
	}
	if (test_transport)
		sb_http_set_transport(ws->http, test_transport, test_ctx);
	return SB_OK;
}

void wr_ws_fini(struct wr_ws *ws)
{
	if (!ws)
		return;
	sb_http_free(ws->http);
	ws->http = NULL;
	free(ws->url);
	ws->url = NULL;
}

/* ---- the envelope ------------------------------------------------------ */

int64_t wr_operation_timeout_ms(int64_t budget_ms)
{
	if (budget_ms <= 0)
		return 0;
	/* the server answers (a TimedOut fault at worst) before the
	 * transfer's own budget ends */
	int64_t margin = budget_ms / 4;
	if (margin < 250)
		margin = 250;
	int64_t t = budget_ms - margin;
	if (t > WR_OPERATION_TIMEOUT_MS)
		t = WR_OPERATION_TIMEOUT_MS;
	if (t < 100)
		t = budget_ms > 100 ? 100 : 0;
	return t;
}

struct option {
	const char *name, *value;
};

struct envelope {
	const char *action;
	const char *shell_id; /* NULL: no SelectorSet */
	const struct option *options;
	size_t n_options;
	int64_t op_timeout_ms;
	char message_id[48];
};

static void write_header(struct sb_xml_w *w, const struct wr_ws *ws,
			 struct envelope *e)
{
	char v[64];
	sb_soap_header(w);
	sb_xml_w_leaf(w, "a:To", ws->url);
	sb_xml_w_open(w, "a:ReplyTo");
	sb_xml_w_open(w, "a:Address");
	sb_xml_w_attr(w, "s:mustUnderstand", "true");
	sb_xml_w_text(w, ANONYMOUS);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "a:Action");
	sb_xml_w_attr(w, "s:mustUnderstand", "true");
	sb_xml_w_text(w, e->action);
	sb_xml_w_close(w);
	sb_xml_w_leaf(w, "a:MessageID", e->message_id);
	sb_xml_w_open(w, "w:ResourceURI");
	sb_xml_w_attr(w, "s:mustUnderstand", "true");
	sb_xml_w_text(w, RESOURCE_CMD);
	sb_xml_w_close(w);
	snprintf(v, sizeof(v), "%lld", (long long)ws->max_envelope);
	sb_xml_w_open(w, "w:MaxEnvelopeSize");
	sb_xml_w_attr(w, "s:mustUnderstand", "true");
	sb_xml_w_text(w, v);
	sb_xml_w_close(w);
	snprintf(v, sizeof(v), "PT%lld.%03lldS",
		 (long long)(e->op_timeout_ms / 1000),
		 (long long)(e->op_timeout_ms % 1000));
	sb_xml_w_leaf(w, "w:OperationTimeout", v);
	sb_xml_w_open(w, "w:Locale");
	sb_xml_w_attr(w, "xml:lang", "en-US");
	sb_xml_w_attr(w, "s:mustUnderstand", "false");
	sb_xml_w_close(w);
	sb_xml_w_open(w, "p:DataLocale");
	sb_xml_w_attr(w, "xml:lang", "en-US");
	sb_xml_w_attr(w, "s:mustUnderstand", "false");
	sb_xml_w_close(w);
	if (e->shell_id) {
		sb_xml_w_open(w, "w:SelectorSet");
		sb_xml_w_open(w, "w:Selector");
		sb_xml_w_attr(w, "Name", "ShellId");
		sb_xml_w_text(w, e->shell_id);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
	}
	if (e->n_options) {
		sb_xml_w_open(w, "w:OptionSet");
		for (size_t i = 0; i < e->n_options; i++) {
			sb_xml_w_open(w, "w:Option");
			sb_xml_w_attr(w, "Name", e->options[i].name);
			sb_xml_w_text(w, e->options[i].value);
			sb_xml_w_close(w);
		}
		sb_xml_w_close(w);
	}
	sb_soap_body(w);
}

static void begin(struct sb_xml_w *w, const struct wr_ws *ws,
		  struct envelope *e)
{
	static const struct sb_xml_ns ns[] = {
	    {"a", SB_NS_WSA},
	    {"w", SB_NS_WSMAN},
	    {"p", NS_WSMAN_MS},
	    {"rsp", SB_NS_WINRS},
	};
	sb_soap_begin(w, SB_SOAP12, ns, sizeof(ns) / sizeof(ns[0]));
	write_header(w, ws, e);
}

/* ---- one request ------------------------------------------------------- */

static const char *op_name(const char *action)
{
	const char *s = strrchr(action, '/');
	return s ? s + 1 : action;
}

/* A fault as the broker's error, and what the loops do with it. */
static enum sb_status fault_error(const struct sb_soap_fault *f, const char *op,
				  enum wr_fail *fail, struct sb_error *err)
{
	char words[SB_ERROR_MSG_MAX];
	const char *text = f->wsman_message[0] ? f->wsman_message : f->reason;
	sb_text_quotable(text, 400, words, sizeof(words));
	const char *code = f->wsman_code[0] ? f->wsman_code
			   : f->subcode[0]  ? f->subcode
					    : f->code;
	enum sb_status st = SB_ERR_UPSTREAM;
	if (f->wsman_code_num == WR_FAULT_TIMED_OUT ||
	    (f->wsman_code_num < 0 && strcmp(f->subcode, "TimedOut") == 0)) {
		*fail = WR_F_TIMED_OUT;
		st = SB_ERR_TIMEOUT;
	} else if (f->wsman_code_num == WR_FAULT_SHELL_NOT_FOUND ||
		   (f->wsman_code_num < 0 &&
		    strcmp(f->subcode, "InvalidSelectors") == 0)) {
		*fail = WR_F_SHELL_GONE;
	} else if (f->wsman_code_num == WR_FAULT_TOO_MANY_SHELLS) {
		*fail = WR_F_TOO_MANY;
		st = SB_ERR_THROTTLED;
	} else if (strcmp(f->subcode, "AccessDenied") == 0 ||
		   f->wsman_code_num == 5) {
		*fail = WR_F_DENIED;
		st = SB_ERR_UPSTREAM_DENIED;
	} else {
		*fail = WR_F_FAULT;
	}
	sb_error_set(err, st, code[0] ? code : "soap_fault",
		     "WinRM %s: %s (fault %s)", op,
		     words[0] ? words : "the server refused the request",
		     code[0] ? code : "without a code");
	if (st == SB_ERR_THROTTLED && err)
		err->retry_after_ms = 5000;
	return st;
}

/* Send the envelope in body; on SB_OK *doc is the answer's envelope
 * (the caller frees it). */
static enum sb_status perform(struct wr_ws *ws, const struct sb_call *call,
			      const struct envelope *e,
			      const struct sb_buf *body, xmlDoc **doc,
			      enum wr_fail *fail, struct sb_error *err)
{
	const char *op = op_name(e->action);
	*doc = NULL;
	*fail = WR_F_NONE;
	int64_t cap = ws->max_envelope * 2 + 65536;
	struct sb_http_request rq = {
	    .method = "POST",
	    .body = body->data,
	    .body_len = body->len,
	    .content_type = "application/soap+xml;charset=UTF-8",
	    .max_response = cap,
	};
	struct sb_http_response rs;
	enum sb_status st = sb_http_perform(ws->http, call, &rq, &rs, err);
	if (rs.status == 0) {
		*fail = WR_F_NOANSWER;
		sb_http_response_free(&rs);
		return st != SB_OK ? st
				   : sb_error_set(err, SB_ERR_UPSTREAM, NULL,
						  "WinRM %s: no answer", op);
	}
	const char *ctype = sb_http_header(&rs, "Content-Type");
	bool xml = rs.body_len && (!ctype || strstr(ctype, "xml"));
	if (st != SB_OK && !(rs.status == 500 && xml)) {
		*fail = WR_F_HTTP;
		sb_http_response_free(&rs);
		return st;
	}
	struct sb_error perr;
	sb_error_clear(&perr);
	xmlDoc *d = sb_xml_parse(rs.body, rs.body_len, (size_t)cap, &perr);
	int http_status = rs.status;
	sb_http_response_free(&rs);
	if (!d) {
		*fail = WR_F_LOCAL;
		return sb_error_set(err,
				    perr.status == SB_ERR_INTERNAL
					? SB_ERR_INTERNAL
					: SB_ERR_UPSTREAM,
				    "invalid_response",
				    "WinRM %s: answer (HTTP %d) refused: %s",
				    op, http_status, perr.message);
	}
	struct sb_soap_fault f;
	if (sb_soap_fault_read(d, &f)) {
		sb_xml_free(d);
		return fault_error(&f, op, fail, err);
	}
	if (st != SB_OK || sb_soap_version_of(d) != SB_SOAP12 ||
	    !sb_soap_body_of(d)) {
		sb_xml_free(d);
		*fail = WR_F_LOCAL;
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "WinRM %s: the answer (HTTP %d) is not a "
				    "SOAP 1.2 envelope%s",
				    op, http_status,
				    st != SB_OK ? " with a fault" : "");
	}
	/* an answer to another request (a confused proxy) is never taken
	 * for this one's */
	char rel[96];
	xmlNode *rt =
	    sb_xml_child(sb_soap_header_of(d), SB_NS_WSA, "RelatesTo");
	if (rt) {
		sb_xml_text_copy(rt, rel, sizeof(rel));
		char *t = rel;
		while (*t == ' ' || *t == '\n' || *t == '\r' || *t == '\t')
			t++;
		size_t tl = strlen(t);
		while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\n' ||
			      t[tl - 1] == '\r' || t[tl - 1] == '\t'))
			t[--tl] = '\0';
		if (strcasecmp(t, e->message_id) != 0) {
			sb_xml_free(d);
			*fail = WR_F_LOCAL;
			return sb_error_set(err, SB_ERR_UPSTREAM,
					    "invalid_response",
					    "WinRM %s: the answer relates to "
					    "another request",
					    op);
		}
	}
	*doc = d;
	return SB_OK;
}

/* Start an envelope for action; false when the deadline leaves no time. */
static enum sb_status prepare(struct wr_ws *ws, const struct sb_call *call,
			      struct envelope *e, const char *action,
			      const char *shell_id, struct sb_error *err)
{
	memset(e, 0, sizeof(*e));
	e->action = action;
	e->shell_id = shell_id;
	int64_t budget = sb_curl_budget_ms(&ws->host, call, 30000);
	/* the client's request_timeout bounds the transfer as well */
	if (ws->request_timeout_ms > 0 && ws->request_timeout_ms < budget)
		budget = ws->request_timeout_ms;
	e->op_timeout_ms = wr_operation_timeout_ms(budget);
	if (e->op_timeout_ms <= 0 || (call && wr_ws_cancelled(ws, call)))
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "WinRM %s: the call's deadline passed "
				    "before the request",
				    op_name(action));
	char uuid[37];
	if (!sb_uuid4(uuid))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no random numbers for a MessageID");
	snprintf(e->message_id, sizeof(e->message_id), "uuid:%s", uuid);
	return SB_OK;
}

static enum sb_status finish(struct sb_xml_w *w, enum wr_fail *fail,
			     struct sb_error *err)
{
	sb_soap_end(w);
	enum sb_status st = sb_xml_w_finish(w, err);
	if (st != SB_OK)
		*fail = WR_F_LOCAL;
	return st;
}

/* An id from the answer: trimmed, at most WR_ID_MAX - 1 bytes of
 * [0-9A-Za-z-{}]. */
static bool copy_id(const xmlNode *n, char out[WR_ID_MAX])
{
	char t[WR_ID_MAX + 64];
	if (!n)
		return false;
	sb_xml_text_copy(n, t, sizeof(t));
	char *s = t;
	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	size_t l = strcspn(s, " \r\n\t");
	if (!l || l >= WR_ID_MAX)
		return false;
	for (size_t i = 0; i < l; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '{' ||
		      c == '}'))
			return false;
	}
	memcpy(out, s, l);
	out[l] = '\0';
	return true;
}

/* ---- Create -------------------------------------------------------------- */

enum sb_status wr_ws_create(struct wr_ws *ws, const struct sb_call *call,
			    char shell_id[WR_ID_MAX], enum wr_fail *fail,
			    struct sb_error *err)
{
	static const struct option opts[] = {
	    {"WINRS_NOPROFILE", "TRUE"},
	    {"WINRS_CODEPAGE", "65001"},
	    {"WINRS_SKIP_CMD_SHELL", "TRUE"},
	};
	struct envelope e;
	*fail = WR_F_LOCAL;
	enum sb_status st = prepare(ws, call, &e, ACT_CREATE, NULL, err);
	if (st != SB_OK)
		return st;
	e.options = opts;
	e.n_options = 3;
	struct sb_buf b;
	struct sb_xml_w w;
	sb_buf_init(&b, (size_t)ws->max_envelope);
	sb_xml_w_init(&w, &b);
	begin(&w, ws, &e);
	sb_xml_w_open(&w, "rsp:Shell");
	sb_xml_w_leaf(&w, "rsp:InputStreams", "stdin");
	sb_xml_w_leaf(&w, "rsp:OutputStreams", "stdout stderr");
	if (ws->shell_idle_ms > 0) {
		char v[48];
		snprintf(v, sizeof(v), "PT%lld.%03lldS",
			 (long long)(ws->shell_idle_ms / 1000),
			 (long long)(ws->shell_idle_ms % 1000));
		sb_xml_w_leaf(&w, "rsp:IdleTimeOut", v);
	}
	sb_xml_w_close(&w);
	st = finish(&w, fail, err);
	xmlDoc *d = NULL;
	if (st == SB_OK)
		st = perform(ws, call, &e, &b, &d, fail, err);
	sb_buf_free(&b);
	if (st != SB_OK)
		return st;
	xmlNode *body = sb_soap_body_of(d);
	bool found = false;
	for (xmlNode *sel = sb_xml_find(body, SB_NS_WSMAN, "Selector");
	     sel && !found; sel = sb_xml_next(sel)) {
		const char *name = sb_xml_attr(sel, NULL, "Name");
		if (name && strcmp(name, "ShellId") == 0)
			found = copy_id(sel, shell_id);
	}
	if (!found)
		found = copy_id(sb_xml_find(body, SB_NS_WINRS, "ShellId"),
				shell_id);
	sb_xml_free(d);
	if (!found) {
		*fail = WR_F_LOCAL;
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "WinRM Create: the answer names no "
				    "ShellId");
	}
	return SB_OK;
}

/* ---- Command ------------------------------------------------------------- */

enum sb_status wr_ws_command(struct wr_ws *ws, const struct sb_call *call,
			     const char *shell_id, const char *command,
			     const char *const *args, size_t n_args,
			     char command_id[WR_ID_MAX], enum wr_fail *fail,
			     struct sb_error *err)
{
	static const struct option opts[] = {
	    {"WINRS_CONSOLEMODE_STDIN", "TRUE"},
	    {"WINRS_SKIP_CMD_SHELL", "TRUE"},
	};
	struct envelope e;
	*fail = WR_F_LOCAL;
	enum sb_status st = prepare(ws, call, &e, ACT_COMMAND, shell_id, err);
	if (st != SB_OK)
		return st;
	e.options = opts;
	e.n_options = 2;
	struct sb_buf b;
	struct sb_xml_w w;
	sb_buf_init(&b, (size_t)ws->max_envelope);
	sb_xml_w_init(&w, &b);
	begin(&w, ws, &e);
	sb_xml_w_open(&w, "rsp:CommandLine");
	sb_xml_w_leaf(&w, "rsp:Command", command);
	for (size_t i = 0; i < n_args; i++)
		sb_xml_w_leaf(&w, "rsp:Arguments", args[i]);
	sb_xml_w_close(&w);
	st = finish(&w, fail, err);
	if (st != SB_OK && b.failed)
		st = sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				  "WinRM Command: the command passes "
				  "MaxEnvelopeSize (%lld bytes)",
				  (long long)ws->max_envelope);
	xmlDoc *d = NULL;
	if (st == SB_OK)
		st = perform(ws, call, &e, &b, &d, fail, err);
	sb_buf_free(&b);
	if (st != SB_OK)
		return st;
	bool ok =
	    copy_id(sb_xml_find(sb_soap_body_of(d), SB_NS_WINRS, "CommandId"),
		    command_id);
	sb_xml_free(d);
	if (!ok) {
		*fail = WR_F_LOCAL;
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "WinRM Command: the answer names no "
				    "CommandId");
	}
	return SB_OK;
}

/* ---- Send ---------------------------------------------------------------- */

enum sb_status wr_ws_send(struct wr_ws *ws, const struct sb_call *call,
			  const char *shell_id, const char *command_id,
			  const void *data, size_t len, bool end,
			  enum wr_fail *fail, struct sb_error *err)
{
	struct envelope e;
	*fail = WR_F_LOCAL;
	enum sb_status st = prepare(ws, call, &e, ACT_SEND, shell_id, err);
	if (st != SB_OK)
		return st;
	char *b64 = sb_base64_encode(data, len, 0);
	if (!b64)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	struct sb_buf b;
	struct sb_xml_w w;
	sb_buf_init(&b, (size_t)ws->max_envelope);
	sb_xml_w_init(&w, &b);
	begin(&w, ws, &e);
	sb_xml_w_open(&w, "rsp:Send");
	sb_xml_w_open(&w, "rsp:Stream");
	sb_xml_w_attr(&w, "Name", "stdin");
	sb_xml_w_attr(&w, "CommandId", command_id);
	if (end)
		sb_xml_w_attr(&w, "End", "true");
	sb_xml_w_text(&w, b64);
	sb_xml_w_close(&w);
	sb_xml_w_close(&w);
	free(b64);
	st = finish(&w, fail, err);
	xmlDoc *d = NULL;
	if (st == SB_OK)
		st = perform(ws, call, &e, &b, &d, fail, err);
	sb_buf_free(&b);
	sb_xml_free(d);
	return st;
}

/* ---- Receive ------------------------------------------------------------- */

enum sb_status wr_ws_receive(struct wr_ws *ws, const struct sb_call *call,
			     const char *shell_id, const char *command_id,
			     struct wr_recv *r, enum wr_fail *fail,
			     struct sb_error *err)
{
	struct envelope e;
	*fail = WR_F_LOCAL;
	enum sb_status st = prepare(ws, call, &e, ACT_RECEIVE, shell_id, err);
	if (st != SB_OK)
		return st;
	struct sb_buf b;
	struct sb_xml_w w;
	sb_buf_init(&b, (size_t)ws->max_envelope);
	sb_xml_w_init(&w, &b);
	begin(&w, ws, &e);
	sb_xml_w_open(&w, "rsp:Receive");
	sb_xml_w_open(&w, "rsp:DesiredStream");
	sb_xml_w_attr(&w, "CommandId", command_id);
	sb_xml_w_text(&w, "stdout stderr");
	sb_xml_w_close(&w);
	sb_xml_w_close(&w);
	st = finish(&w, fail, err);
	xmlDoc *d = NULL;
	if (st == SB_OK)
		st = perform(ws, call, &e, &b, &d, fail, err);
	sb_buf_free(&b);
	if (st != SB_OK)
		return st;
	st = wr_receive_read(d, command_id, r, err);
	sb_xml_free(d);
	if (st != SB_OK)
		*fail = WR_F_LOCAL;
	return st;
}

/* ---- Signal, Delete ------------------------------------------------------ */

enum sb_status wr_ws_signal(struct wr_ws *ws, const struct sb_call *call,
			    const char *shell_id, const char *command_id,
			    enum wr_fail *fail, struct sb_error *err)
{
	struct envelope e;
	*fail = WR_F_LOCAL;
	enum sb_status st = prepare(ws, call, &e, ACT_SIGNAL, shell_id, err);
	if (st != SB_OK)
		return st;
	struct sb_buf b;
	struct sb_xml_w w;
	sb_buf_init(&b, (size_t)ws->max_envelope);
	sb_xml_w_init(&w, &b);
	begin(&w, ws, &e);
	sb_xml_w_open(&w, "rsp:Signal");
	sb_xml_w_attr(&w, "CommandId", command_id);
	sb_xml_w_leaf(&w, "rsp:Code", SIGNAL_TERMINATE);
	sb_xml_w_close(&w);
	st = finish(&w, fail, err);
	xmlDoc *d = NULL;
	if (st == SB_OK)
		st = perform(ws, call, &e, &b, &d, fail, err);
	sb_buf_free(&b);
	sb_xml_free(d);
	return st;
}

enum sb_status wr_ws_delete(struct wr_ws *ws, const struct sb_call *call,
			    const char *shell_id, enum wr_fail *fail,
			    struct sb_error *err)
{
	struct envelope e;
	*fail = WR_F_LOCAL;
	enum sb_status st = prepare(ws, call, &e, ACT_DELETE, shell_id, err);
	if (st != SB_OK)
		return st;
	struct sb_buf b;
	struct sb_xml_w w;
	sb_buf_init(&b, (size_t)ws->max_envelope);
	sb_xml_w_init(&w, &b);
	begin(&w, ws, &e);
	st = finish(&w, fail, err);
	xmlDoc *d = NULL;
	if (st == SB_OK)
		st = perform(ws, call, &e, &b, &d, fail, err);
	sb_buf_free(&b);
	sb_xml_free(d);
	return st;
}
