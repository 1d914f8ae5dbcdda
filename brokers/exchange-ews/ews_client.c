/* exchange-ews broker — one EWS operation: the SOAP envelope, the
 * instance's authentication, impersonation, back-off and retries, and
 * reading the answer (faults, response messages). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/backoff.h>

#include "ews_int.h"

/* ---- which SOAP headers an operation takes (services.wsdl) -------------- */

#define H_RSV 0x1u /* t:RequestServerVersion */
#define H_IMP 0x2u /* t:ExchangeImpersonation */
#define H_TZ 0x4u  /* t:TimeZoneContext */

struct op_headers {
	const char *op;
	unsigned h;
};
/* Operations whose binding differs from RequestServerVersion +
 * ExchangeImpersonation (the default). */
static const struct op_headers op_table[] = {
    {"FindFolder", H_RSV | H_IMP | H_TZ},
    {"FindItem", H_RSV | H_IMP | H_TZ},
    {"GetFolder", H_RSV | H_IMP | H_TZ},
    {"CreateFolder", H_RSV | H_IMP | H_TZ},
    {"CreateFolderPath", H_RSV | H_IMP | H_TZ},
    {"UpdateFolder", H_RSV | H_IMP | H_TZ},
    {"GetItem", H_RSV | H_IMP | H_TZ},
    {"CreateItem", H_RSV | H_IMP | H_TZ},
    {"UpdateItem", H_RSV | H_IMP | H_TZ},
    {"CreateAttachment", H_RSV | H_IMP | H_TZ},
    {"GetAttachment", H_RSV | H_IMP | H_TZ},
    {"GetUserAvailability", H_RSV | H_IMP | H_TZ},
    {"GetInboxRules", H_RSV | H_IMP | H_TZ},
    {"UpdateInboxRules", H_RSV | H_IMP | H_TZ},
    {"GetUserOofSettings", H_IMP},
    {"SetUserOofSettings", H_IMP},
    {"GetServerTimeZones", H_RSV},
    {"GetMailTips", H_RSV},
    {"ConvertId", H_RSV | H_IMP},
};

static unsigned op_headers_of(const char *op)
{
	for (size_t i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
		if (strcmp(op_table[i].op, op) == 0)
			return op_table[i].h;
	return H_RSV | H_IMP;
}

/* The operation's name from the body: "<m:GetFolder ..." -> "GetFolder". */
static bool op_name(const char *body, char *out, size_t n)
{
	if (!body || body[0] != '<')
		return false;
	const char *p = body + 1;
	size_t len = strcspn(p, " \t\r\n/>");
	const char *colon = memchr(p, ':', len);
	if (colon) {
		len -= (size_t)(colon + 1 - p);
		p = colon + 1;
	}
	/* GetUserAvailabilityRequest, Get/SetUserOofSettingsRequest: the
	 * operation is the element's name without "Request" */
	if (len > 7 && memcmp(p + len - 7, "Request", 7) == 0)
		len -= 7;
	if (!len || len >= n)
		return false;
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

/* ---- the op ------------------------------------------------------------- */

void ews_op_init(struct ews_op *op, struct ews *e, const struct sb_call *call,
		 unsigned flags)
{
	memset(op, 0, sizeof(*op));
	op->e = e;
	op->call = call;
	op->flags = flags;
	sb_buf_init(&op->body, 0);
	sb_xml_w_init(&op->w, &op->body);
}

void ews_op_free(struct ews_op *op)
{
	if (!op)
		return;
	sb_buf_free(&op->body);
	sb_xml_free(op->doc);
	op->doc = NULL;
	op->response = NULL;
	op->messages = NULL;
}

static bool method_declares(const struct sb_call *call, const char *name)
{
	const struct sb_method *m = call ? sb_call_def(call) : NULL;
	if (!m || !m->inputs)
		return false;
	for (const struct sb_param *p = m->inputs; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return true;
	return false;
}

enum sb_status ews_op_mailbox(struct ews_op *op, struct sb_error *err)
{
	op->mailbox = NULL;
	if (!method_declares(op->call, "Mailbox"))
		return SB_OK;
	const char *m = sb_call_str(op->call, "Mailbox", NULL);
	if (!m || !*m)
		return SB_OK;
	if (!sb_email_valid(m))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Mailbox: not an email address");
	if (ews_impersonation(op->e) == EWS_IMP_NONE)
		return sb_error_set(
		    err, SB_ERR_METHOD_NOT_ALLOWED, NULL,
		    "Mailbox: this instance acts on its own mailbox only "
		    "(impersonation = none); set impersonation = "
		    "impersonate or delegate to name another");
	op->mailbox = m;
	return SB_OK;
}

void ews_op_folder_mailbox(struct ews_op *op)
{
	if (!op->mailbox || ews_impersonation(op->e) != EWS_IMP_DELEGATE)
		return;
	sb_xml_w_open(&op->w, "t:Mailbox");
	sb_xml_w_leaf(&op->w, "t:EmailAddress", op->mailbox);
	sb_xml_w_close(&op->w);
}

xmlNode *ews_op_first(const struct ews_op *op)
{
	return op->messages ? sb_xml_first_element(op->messages) : NULL;
}

xmlNode *ews_op_next(const xmlNode *msg)
{
	return msg ? sb_xml_next_element(msg) : NULL;
}

/* BackOffMilliseconds of a t:MessageXml (or -1). */
static int64_t message_back_off(const xmlNode *msg)
{
	xmlNode *mx = sb_xml_child(msg, SB_NS_EWS_MESSAGES, "MessageXml");
	if (!mx)
		return -1;
	for (xmlNode *v = sb_xml_child(mx, SB_NS_EWS_TYPES, "Value"); v;
	     v = sb_xml_next(v)) {
		const char *name = sb_xml_attr(v, NULL, "Name");
		int64_t ms;
		if (name && strcmp(name, "BackOffMilliseconds") == 0 &&
		    sb_xml_int64(v, &ms) && ms >= 0)
			return ms;
	}
	return -1;
}

enum sb_status ews_message_status(const xmlNode *msg, struct sb_error *err)
{
	char code[SB_ERROR_CODE_MAX], text[SB_ERROR_MSG_MAX],
	    shown[SB_ERROR_MSG_MAX];
	if (!msg)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "EWS answered without a response message");
	const char *cls = sb_xml_attr(msg, NULL, "ResponseClass");
	if (cls && (strcmp(cls, "Success") == 0 || strcmp(cls, "Warning") == 0))
		return SB_OK;
	code[0] = '\0';
	ews_child_text(msg, "m:ResponseCode", code, sizeof(code));
	text[0] = '\0';
	ews_child_text(msg, "m:MessageText", text, sizeof(text));
	sb_text_quotable(text, 400, shown, sizeof(shown));
	if (!cls || strcmp(cls, "Error") != 0)
		return sb_error_set(err, SB_ERR_UPSTREAM, code[0] ? code : NULL,
				    "EWS response message with ResponseClass "
				    "%s",
				    cls ? "unknown" : "missing");
	enum sb_status st = ews_code_status(code);
	if (st == SB_OK)
		st = SB_ERR_UPSTREAM; /* Error with NoError: still an error */
	sb_error_set(err, st, code[0] ? code : "ErrorUnknown", "%s%s%s",
		     code[0] ? code : "EWS error", shown[0] ? ": " : "", shown);
	if (st == SB_ERR_THROTTLED || st == SB_ERR_UNAVAILABLE) {
		int64_t ms = message_back_off(msg);
		if (err)
			err->retry_after_ms = ms > 0 ? ms : 5000;
	}
	return st;
}

enum sb_status ews_op_first_status(struct ews_op *op, xmlNode **msg,
				   struct sb_error *err)
{
	xmlNode *m = ews_op_first(op);
	if (!m)
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "EWS answered without a response message");
	if (msg)
		*msg = m;
	return ews_message_status(m, err);
}

/* ---- HTTP with the instance's credentials -------------------------------- */

enum sb_status ews_http_perform(struct ews *e, struct sb_http *http,
				const struct sb_call *call,
				struct sb_http_request *rq,
				struct sb_http_response *rs,
				struct sb_error *err)
{
	enum sb_status st = ews_floor_take(e, call, err);
	if (st != SB_OK) {
		memset(rs, 0, sizeof(*rs));
		return st;
	}
	if (!e->oauth) {
		st = sb_http_perform(http, call, rq, rs, err);
		ews_floor_give(e);
		return st;
	}
	for (int round = 0;; round++) {
		char *tok = NULL;
		bool cached = false;
		st = sb_oauth2_token(e->oauth, call, &tok, &cached, err);
		if (st != SB_OK) {
			memset(rs, 0, sizeof(*rs));
			ews_floor_give(e);
			return st;
		}
		rq->bearer = tok;
		st = sb_http_perform(http, call, rq, rs, err);
		rq->bearer = NULL;
		if (rs->status == 401 && cached && round == 0) {
			/* revoked before its time: one new token, once */
			sb_oauth2_invalidate(e->oauth, tok);
			sb_oauth2_token_free(tok);
			sb_http_response_free(rs);
			continue;
		}
		sb_oauth2_token_free(tok);
		ews_floor_give(e);
		return st;
	}
}

/* ---- the envelope ----------------------------------------------------------
 */

static enum sb_status build_envelope(struct ews_op *op, unsigned h,
				     struct sb_buf *out, struct sb_error *err)
{
	static const struct sb_xml_ns ns[] = {
	    {"m", SB_NS_EWS_MESSAGES},
	    {"t", SB_NS_EWS_TYPES},
	};
	struct ews *e = op->e;
	struct sb_xml_w w;
	sb_xml_w_init(&w, out);
	sb_soap_begin(&w, SB_SOAP11, ns, 2);
	sb_soap_header(&w);
	if (h & H_RSV) {
		sb_xml_w_open(&w, "t:RequestServerVersion");
		sb_xml_w_attr(&w, "Version", e->conf->server_version);
		sb_xml_w_close(&w);
	}
	if ((h & H_IMP) && op->mailbox &&
	    ews_impersonation(e) == EWS_IMP_IMPERSONATE) {
		sb_xml_w_open(&w, "t:ExchangeImpersonation");
		sb_xml_w_open(&w, "t:ConnectingSID");
		sb_xml_w_leaf(&w, "t:PrimarySmtpAddress", op->mailbox);
		sb_xml_w_close(&w);
		sb_xml_w_close(&w);
	}
	if ((h & H_TZ) && e->tz_id) {
		sb_xml_w_open(&w, "t:TimeZoneContext");
		sb_xml_w_open(&w, "t:TimeZoneDefinition");
		sb_xml_w_attr(&w, "Id", e->tz_id);
		sb_xml_w_close(&w);
		sb_xml_w_close(&w);
	}
	sb_soap_body(&w);
	sb_xml_w_raw(&w, op->body.data);
	sb_soap_end(&w);
	return sb_xml_w_finish(&w, err);
}

/* ---- the answer ------------------------------------------------------------
 */

static void note_server_version(struct ews *e, const xmlDoc *doc)
{
	xmlNode *svi = sb_xml_child(sb_soap_header_of(doc), SB_NS_EWS_TYPES,
				    "ServerVersionInfo");
	if (!svi)
		return;
	const char *a[4] = {sb_xml_attr(svi, NULL, "MajorVersion"),
			    sb_xml_attr(svi, NULL, "MinorVersion"),
			    sb_xml_attr(svi, NULL, "MajorBuildNumber"),
			    sb_xml_attr(svi, NULL, "MinorBuildNumber")};
	char v[128];
	size_t k = 0;
	v[0] = '\0';
	for (int i = 0; i < 4 && a[i]; i++) {
		size_t len = strspn(a[i], "0123456789");
		if (!len || a[i][len] || len > 10)
			break;
		k += (size_t)snprintf(v + k, sizeof(v) - k, "%s%s",
				      i ? "." : "", a[i]);
	}
	if (!k)
		return;
	pthread_mutex_lock(&e->mu);
	snprintf(e->server_info, sizeof(e->server_info), "%s", v);
	pthread_mutex_unlock(&e->mu);
}

/* What a fault says, as the broker's error.  *back_off_ms gets
 * BackOffMilliseconds (or -1). */
static enum sb_status fault_error(const struct sb_soap_fault *f,
				  int64_t *back_off_ms, struct sb_error *err)
{
	char shown[SB_ERROR_MSG_MAX];
	const char *code = f->response_code[0] ? f->response_code : f->code;
	enum sb_status st = ews_code_status(code);
	if (st == SB_OK)
		st = SB_ERR_UPSTREAM;
	const char *words = f->message[0] ? f->message : f->reason;
	sb_text_quotable(words, 400, shown, sizeof(shown));
	sb_error_set(err, st, code[0] ? code : "soap_fault", "%s%s%s",
		     code[0] ? code : "SOAP fault", shown[0] ? ": " : "",
		     shown);
	*back_off_ms = f->back_off_ms;
	if (st == SB_ERR_THROTTLED || st == SB_ERR_UNAVAILABLE) {
		if (err)
			err->retry_after_ms =
			    f->back_off_ms > 0 ? f->back_off_ms : 5000;
	}
	return st;
}

/* The response cap of op: answers carrying attachment content may be as
 * large as max_attachment_size allows. */
static int64_t op_max_response(const struct ews_op *op)
{
	return op->stream_local ? ews_max_response_att(op->e)
				: ews_max_response(op->e);
}

/* Parse a body that should be an envelope: SB_OK with *doc, or the
 * refusal (upstream_error) in err. */
static enum sb_status parse_answer(struct ews *e, const struct ews_op *op,
				   const struct sb_http_response *rs,
				   xmlDoc **doc, struct sb_error *err)
{
	struct sb_error perr;
	sb_error_clear(&perr);
	size_t cap = (size_t)op_max_response(op);
	if (op->stream_local)
		/* large base64 content decoded while parsed: never held
		 * as text, handed to the op's sink */
		*doc =
		    sb_xml_parse_stream(rs->body, rs->body_len, cap,
					SB_NS_EWS_TYPES, op->stream_local, cap,
					op->stream_sink, op->stream_arg, &perr);
	else
		*doc = sb_xml_parse(rs->body, rs->body_len, cap, &perr);
	if (!*doc)
		return sb_error_set(
		    err,
		    perr.status == SB_ERR_INTERNAL ? SB_ERR_INTERNAL
						   : SB_ERR_UPSTREAM,
		    "invalid_response", "EWS answer (HTTP %d) refused: %s",
		    rs->status, perr.message);
	if (sb_soap_version_of(*doc) != SB_SOAP11 || !sb_soap_body_of(*doc)) {
		sb_xml_free(*doc);
		*doc = NULL;
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "EWS answer (HTTP %d) is not a SOAP 1.1 "
				    "envelope",
				    rs->status);
	}
	return SB_OK;
}

static bool fits_deadline(struct ews *e, const struct sb_call *call,
			  int64_t wait_ms)
{
	if (!call)
		return false;
	int64_t left = e->host->remaining_ms(e->host, call);
	/* the wait, then at least a second for the request itself */
	return left > wait_ms + 1000;
}

static bool is_send_flags(unsigned flags) { return (flags & EWS_OP_SEND) != 0; }

enum sb_status ews_op_run(struct ews_op *op, struct sb_error *err)
{
	struct ews *e = op->e;
	char name[96], action[192], anchor[320];
	enum sb_status st = sb_xml_w_finish(&op->w, err);
	if (st != SB_OK)
		return st;
	if (!op_name(op->body.data, name, sizeof(name)))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "EWS request without an operation");
	sb_xml_free(op->doc);
	op->doc = NULL;
	op->response = op->messages = NULL;

	unsigned h = op_headers_of(name);
	struct sb_buf env;
	sb_buf_init(&env, 0);
	st = build_envelope(op, h, &env, err);
	if (st != SB_OK) {
		sb_buf_free(&env);
		return st;
	}
	snprintf(action, sizeof(action),
		 "SOAPAction: \"" SB_NS_EWS_MESSAGES "/%s\"", name);
	const char *hdr[4] = {action, NULL, NULL, NULL};
	int nh = 1;
	if (op->mailbox && ews_impersonation(e) == EWS_IMP_IMPERSONATE) {
		snprintf(anchor, sizeof(anchor), "X-AnchorMailbox: %s",
			 op->mailbox);
		hdr[nh++] = anchor;
	}
	/* the client's request id, so that Exchange's logs (and its
	 * answer's request-id) tie back to ours */
	char reqid[96];
	const char *rid = op->call ? sb_call_request_id(op->call) : NULL;
	if (rid) {
		snprintf(reqid, sizeof(reqid), "client-request-id: %s", rid);
		hdr[nh++] = reqid;
	}

	int64_t retries = e->conf->retries;
	int busy = 0;
	bool refreshed = false, reconnected = false;
	for (;;) {
		st = sb_backoff_wait(&e->backoff, e->host, op->call, err);
		if (st != SB_OK)
			break;
		struct ews_conn *c = ews_conn_get(e, op->call, err);
		if (!c) {
			st = err ? err->status : SB_ERR_INTERNAL;
			break;
		}
		struct sb_http_request rq = {
		    .method = "POST",
		    .headers = hdr,
		    .body = env.data,
		    .body_len = env.len,
		    .content_type = "text/xml; charset=utf-8",
		    .max_response = op_max_response(op),
		    /* libcurl sends a request again, by itself, when a kept
		     * connection closes before any answer: for a send that
		     * could deliver it twice, so a send takes a new one */
		    .flags =
			is_send_flags(op->flags) ? SB_HTTP_FRESH_CONNECT : 0,
		};
		struct sb_http_response rs;
		__atomic_add_fetch(&e->requests, 1, __ATOMIC_RELAXED);
		st = ews_http_perform(e, c->http, op->call, &rq, &rs, err);
		bool from_discovery = !e->conf->url;
		ews_conn_put(e, c);

		if (rs.status == 0) {
			/* no whole answer: retried only when it certainly
			 * never reached the server (no connection), once */
			if (st == SB_ERR_UNAVAILABLE && !reconnected) {
				reconnected = true;
				sb_http_response_free(&rs);
				continue;
			}
			sb_http_response_free(&rs);
			break;
		}
		xmlDoc *doc = NULL;
		const char *ctype = sb_http_header(&rs, "Content-Type");
		bool xml =
		    rs.body_len && (!ctype || strstr(ctype, "xml") != NULL);
		if (st != SB_OK && !(rs.status == 500 && xml)) {
			/* an HTTP error without a SOAP fault */
			if (rs.status == 404 && from_discovery && !refreshed) {
				refreshed = true;
				ews_conn_refresh(e);
				sb_http_response_free(&rs);
				continue;
			}
			sb_http_response_free(&rs);
			break;
		}
		enum sb_status pst = parse_answer(e, op, &rs, &doc, err);
		sb_http_response_free(&rs);
		if (pst != SB_OK) {
			st = pst;
			break;
		}
		note_server_version(e, doc);
		struct sb_soap_fault f;
		if (sb_soap_fault_read(doc, &f)) {
			int64_t back_off = -1;
			st = fault_error(&f, &back_off, err);
			sb_xml_free(doc);
			const char *code =
			    f.response_code[0] ? f.response_code : f.code;
			if (strcmp(code, "ErrorServerBusy") == 0) {
				/* refused, not carried out: safe to retry
				 * even a send */
				int64_t ms = back_off > 0 ? back_off : 5000;
				sb_backoff_set(&e->backoff, ms);
				if (busy < retries &&
				    fits_deadline(e, op->call, ms)) {
					busy++;
					e->host->log(e->host, SB_LOG_INFO,
						     "EWS %s: server busy, "
						     "retrying in %lld ms",
						     name, (long long)ms);
					continue;
				}
				if (err) {
					err->retry_after_ms =
					    sb_backoff_left(&e->backoff);
					if (err->retry_after_ms <= 0)
						err->retry_after_ms = ms;
				}
				break;
			}
			if (strcmp(code, "ErrorMailboxMoveInProgress") == 0 &&
			    from_discovery && !refreshed) {
				refreshed = true;
				ews_conn_refresh(e);
				continue;
			}
			break;
		}
		if (st != SB_OK) {
			/* a 500 whose envelope holds no fault */
			sb_xml_free(doc);
			break;
		}
		op->doc = doc;
		op->response = sb_xml_first_element(sb_soap_body_of(doc));
		if (!op->response) {
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "EWS %s: empty SOAP body", name);
			break;
		}
		op->messages = sb_xml_child(op->response, SB_NS_EWS_MESSAGES,
					    "ResponseMessages");
		/* a mailbox that moved says so per message too */
		xmlNode *m1 = ews_op_first(op);
		char code1[64] = "";
		if (m1 && from_discovery && !refreshed &&
		    ews_child_text(m1, "m:ResponseCode", code1,
				   sizeof(code1)) &&
		    strcmp(code1, "ErrorMailboxMoveInProgress") == 0 &&
		    !is_send_flags(op->flags)) {
			refreshed = true;
			ews_conn_refresh(e);
			sb_xml_free(op->doc);
			op->doc = NULL;
			op->response = op->messages = NULL;
			continue;
		}
		/* ErrorServerBusy in the response messages rather than as a
		 * fault: the same back-off; tried again when every message
		 * says so (none was carried out, so even a send) */
		int64_t busy_ms = -1;
		bool all_busy = m1 != NULL;
		for (xmlNode *m = m1; m; m = ews_op_next(m)) {
			char rc[64] = "";
			if (ews_child_text(m, "m:ResponseCode", rc,
					   sizeof(rc)) &&
			    strcmp(rc, "ErrorServerBusy") == 0) {
				int64_t ms = message_back_off(m);
				if (ms > busy_ms)
					busy_ms = ms > 0 ? ms : 5000;
			} else {
				all_busy = false;
			}
		}
		if (busy_ms > 0) {
			sb_backoff_set(&e->backoff, busy_ms);
			if (all_busy && busy < retries &&
			    fits_deadline(e, op->call, busy_ms)) {
				busy++;
				e->host->log(e->host, SB_LOG_INFO,
					     "EWS %s: server busy, retrying in "
					     "%lld ms",
					     name, (long long)busy_ms);
				sb_xml_free(op->doc);
				op->doc = NULL;
				op->response = op->messages = NULL;
				continue;
			}
		}
		st = SB_OK;
		break;
	}
	sb_buf_free(&env);
	if (st != SB_OK && err && err->status == SB_OK)
		sb_error_set(err, st, NULL, "EWS %s failed", name);
	return st;
}
