/* smtp broker — Email.Send and the test message of Connection.Test.
 *
 * Everything is validated and the whole message built before the server
 * hears from us; after the exchange the transcript says which recipients
 * were accepted and which refused, with the server's words.  A message is
 * reported as sent only when the server accepted its content.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/mime.h>

#include "smtp.h"

#define MESSAGE_MAX ((size_t)200 * 1024 * 1024)

struct strv {
	const char **v;
	size_t n;
};

static bool strv_add_unique(struct strv *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcasecmp(s->v[i], x))
			return true;
	const char **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return false;
	nv[s->n++] = x;
	s->v = nv;
	return true;
}

/* The items of a multi email input, borrowed from the call. */
static enum sb_status list_input(const struct sb_call *call, const char *name,
				 struct strv *out, struct sb_error *err)
{
	out->v = NULL;
	out->n = 0;
	size_t n = sb_call_count(call, name);
	if (!n)
		return SB_OK;
	out->v = calloc(n, sizeof(*out->v));
	if (!out->v)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *a = sb_call_str_at(call, name, i);
		if (!a || !sb_email_valid(a) || strpbrk(a, "\r\n"))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: item %zu is not a valid email "
					    "address",
					    name, i + 1);
		out->v[out->n++] = a;
	}
	return SB_OK;
}

struct sendreq {
	const char *header_from;
	const char *sender; /* Sender header, or NULL */
	const char *envelope_from;
	struct strv to, cc, bcc, reply_to;
	const char *subject, *body, *html_body, *importance;
	struct sb_file *att;
	size_t n_att;
	char *derived_body; /* text rendition of the HTML body, owned */
};

static void sendreq_free(struct sendreq *q)
{
	free(q->to.v);
	free(q->cc.v);
	free(q->bcc.v);
	free(q->reply_to.v);
	free(q->att);
	free(q->derived_body);
}

/* Build, send and report one message (shared by Send and Test). */
/* Any byte >= 0x80 in s?  Eight bytes at a time. */
static bool has_8bit(const char *s, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			return true;
	}
	for (; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static enum sb_status send_message(struct smtp *s, const struct sb_call *call,
				   struct sendreq *q, struct sb_result *r,
				   struct sb_error *err)
{
	struct strv env = {0};
	struct sb_buf msg;
	sb_buf_init(&msg, MESSAGE_MAX);
	struct smtp_xfer x;
	memset(&x, 0, sizeof(x));
	char msgid[256] = "";
	enum sb_status st;

	for (size_t i = 0; i < q->to.n; i++)
		if (!strv_add_unique(&env, q->to.v[i]))
			goto oom;
	for (size_t i = 0; i < q->cc.n; i++)
		if (!strv_add_unique(&env, q->cc.v[i]))
			goto oom;
	for (size_t i = 0; i < q->bcc.n; i++)
		if (!strv_add_unique(&env, q->bcc.v[i]))
			goto oom;
	if (!env.n) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "no recipients: give To, Cc or Bcc");
		goto out;
	}

	struct sb_mime_message m = {
	    .from = q->header_from,
	    .sender = q->sender,
	    .to = q->to.v,
	    .n_to = q->to.n,
	    .cc = q->cc.v,
	    .n_cc = q->cc.n,
	    .reply_to = q->reply_to.v,
	    .n_reply_to = q->reply_to.n,
	    .subject = q->subject,
	    .body = q->body,
	    .html_body = q->html_body,
	    .importance = q->importance,
	    .attachments = q->att,
	    .n_attachments = q->n_att,
	};
	/* Bcc never reaches the builder: it exists only in the envelope */
	if ((st = sb_mime_build(&m, &msg, msgid, err)) != SB_OK)
		goto out;

	if ((st = smtp_ratelimit_acquire(&s->rate, s->host, call, err)) !=
	    SB_OK)
		goto out;

	x.mail_from = q->envelope_from;
	x.rcpts = env.v;
	x.n_rcpts = env.n;
	x.data = msg.data;
	x.len = msg.len;
	/* the builder writes 7-bit text and encodings; only a non-ASCII
	 * address (RFC 6532) leaves 8-bit bytes */
	x.utf8 = has_8bit(msg.data, msg.len);
	st = smtp_transfer_auth(s, call, &x, err);
	const struct smtp_session *ss = &x.session;

	/* who was accepted, who refused and why */
	size_t n_refused = 0;
	for (size_t i = 0; i < ss->n_rcpts; i++)
		if (ss->rcpts[i].code >= 400)
			n_refused++;
	if (st != SB_OK) {
		if (ss->n_rcpts && n_refused == ss->n_rcpts &&
		    ss->mail_code < 400 && !ss->data_code) {
			/* every recipient refused: say so with each reason */
			struct sb_buf why;
			sb_buf_init(&why, SB_ERROR_MSG_MAX * 2);
			int first = 0;
			for (size_t i = 0; i < ss->n_rcpts; i++) {
				const struct smtp_rcpt_reply *rr =
				    &ss->rcpts[i];
				if (!first)
					first = rr->code;
				sb_buf_printf(&why, "%s%s: %s", i ? "; " : "",
					      rr->addr,
					      rr->text ? rr->text : "no reply");
			}
			char code[16];
			snprintf(code, sizeof(code), "%d", first);
			enum sb_status rst = smtp_reply_status(first);
			sb_error_set(
			    err, rst, code,
			    "the SMTP server refused every recipient: %s",
			    why.data ? why.data : "");
			if (rst == SB_ERR_UNAVAILABLE && err)
				err->retry_after_ms = 60000;
			sb_buf_free(&why);
			st = rst;
		}
		goto out;
	}
	if (ss->final_code && (ss->final_code < 200 || ss->final_code >= 300)) {
		char code[16];
		snprintf(code, sizeof(code), "%d", ss->final_code);
		st = sb_error_set(err, smtp_reply_status(ss->final_code), code,
				  "the SMTP server refused the message: %s",
				  ss->final_text);
		goto out;
	}

	if ((st = sb_result_row(r)) != SB_OK ||
	    (st = sb_result_str(r, "MessageId", msgid)) != SB_OK)
		goto result_failed;
	size_t n_acc = 0, n_rej = 0;
	for (size_t i = 0; i < env.n; i++) {
		const struct smtp_rcpt_reply *rr = NULL;
		for (size_t j = 0; j < ss->n_rcpts && !rr; j++)
			if (!strcasecmp(ss->rcpts[j].addr, env.v[i]))
				rr = &ss->rcpts[j];
		if (rr && rr->code >= 200 && rr->code < 300) {
			st = sb_result_str(r, "Accepted", env.v[i]);
			n_acc++;
		} else if (!rr && !ss->n_rcpts) {
			/* no dialogue recorded but libcurl reports success */
			st = sb_result_str(r, "Accepted", env.v[i]);
			n_acc++;
		} else {
			struct sb_buf t;
			sb_buf_init(&t, 4096);
			sb_buf_printf(&t, "%s: %s", env.v[i],
				      rr && rr->text
					  ? rr->text
					  : "no reply from the server");
			st = t.failed ? SB_ERR_INTERNAL
				      : sb_result_str(r, "Rejected", t.data);
			sb_buf_free(&t);
			n_rej++;
		}
		if (st != SB_OK)
			goto result_failed;
	}
	if (!n_acc && (st = sb_result_empty(r, "Accepted")) != SB_OK)
		goto result_failed;
	if (!n_rej && (st = sb_result_empty(r, "Rejected")) != SB_OK)
		goto result_failed;
	if (n_rej)
		s->host->log(s->host, SB_LOG_INFO,
			     "message %s sent to %zu of %zu recipients", msgid,
			     n_acc, n_acc + n_rej);
	st = SB_OK;
	goto out;

result_failed:
	sb_error_set(err, st, NULL,
		     "message %s was sent but the answer could not be built",
		     msgid);
	goto out;
oom:
	st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
out:
	smtp_xfer_free(&x);
	sb_buf_free(&msg);
	free(env.v);
	return st;
}

/* Decide header From, Sender and envelope sender. */
static enum sb_status pick_sender(struct smtp *s, const char *given,
				  struct sendreq *q, struct sb_error *err)
{
	const char *own = s->conf->from;
	if (given && (strpbrk(given, "\r\n") || !sb_email_valid(given)))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "From: not a valid email address");
	if (!given && !own)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "From: required (this instance has no "
				    "default sender: set `from`)");
	if (given && own && strcasecmp(given, own)) {
		if (!s->conf->allow_from_override)
			return sb_error_set(err, SB_ERR_FORBIDDEN, NULL,
					    "From: this instance sends only as "
					    "%s (allow_from_override = no)",
					    own);
		q->header_from = given;
		q->sender = own;
		q->envelope_from = own;
		return SB_OK;
	}
	q->header_from = given ? given : own;
	q->sender = NULL;
	q->envelope_from = q->header_from;
	return SB_OK;
}

enum sb_status smtp_email_send(struct smtp *s, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	struct sendreq q;
	memset(&q, 0, sizeof(q));
	enum sb_status st;
	const struct smtp_conf *c = s->conf;

	if ((st = pick_sender(s, sb_call_str(call, "From", NULL), &q, err)))
		goto out;
	if ((st = list_input(call, "To", &q.to, err)) ||
	    (st = list_input(call, "Cc", &q.cc, err)) ||
	    (st = list_input(call, "Bcc", &q.bcc, err)) ||
	    (st = list_input(call, "ReplyTo", &q.reply_to, err)))
		goto out;
	if (!q.to.n && !q.cc.n && !q.bcc.n) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "no recipients: give To, Cc or Bcc");
		goto out;
	}
	q.subject = sb_call_str(call, "Subject", NULL);
	q.body = sb_call_str(call, "Body", NULL);
	q.html_body = sb_call_str(call, "HtmlBody", NULL);
	q.importance = sb_call_str(call, "Importance", NULL);
	if (q.html_body && c->plain_text_only) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "HtmlBody: this instance sends plain text "
				  "only (plain_text_only = yes)");
		goto out;
	}
	if (q.html_body && !q.body) {
		/* text-only readers get the HTML's text, not an empty part */
		q.derived_body = smtp_html_to_text(q.html_body);
		if (!q.derived_body) {
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
			goto out;
		}
		q.body = q.derived_body;
	}
	q.n_att = sb_call_count(call, "Attachments");
	if (q.n_att) {
		q.att = calloc(q.n_att, sizeof(*q.att));
		if (!q.att) {
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
			goto out;
		}
		for (size_t i = 0; i < q.n_att; i++) {
			const struct sb_file *f =
			    sb_call_file_at(call, "Attachments", i);
			if (!f) {
				st = sb_error_set(err, SB_ERR_INVALID_INPUT,
						  NULL,
						  "Attachments: item %zu is "
						  "not a file",
						  i + 1);
				goto out;
			}
			if (c->max_attachment_size > 0 &&
			    f->size > (uint64_t)c->max_attachment_size) {
				st = sb_error_set(
				    err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				    "Attachments: item %zu is %zu bytes, "
				    "over max_attachment_size (%lld)",
				    i + 1, f->size,
				    (long long)c->max_attachment_size);
				goto out;
			}
			q.att[i] = *f;
		}
	}
	st = send_message(s, call, &q, r, err);
out:
	sendreq_free(&q);
	return st;
}

/* Connection.Test with To: a short test message from the instance's own
 * sender. */
enum sb_status smtp_send_test_message(struct smtp *s,
				      const struct sb_call *call,
				      const char *to, struct sb_result *r,
				      struct sb_error *err)
{
	struct sendreq q;
	memset(&q, 0, sizeof(q));
	enum sb_status st;
	if (!s->conf->from) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "To: a test message needs the instance's "
				  "`from` sender");
		goto out;
	}
	if (!sb_email_valid(to) || strpbrk(to, "\r\n")) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "To: not a valid email address");
		goto out;
	}
	q.header_from = q.envelope_from = s->conf->from;
	q.to.v = calloc(1, sizeof(*q.to.v));
	if (!q.to.v) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	q.to.v[0] = to;
	q.to.n = 1;
	q.subject = "svcbroker connection test";
	q.body = "This message was sent by Connection.Test of an svcbroker "
		 "smtp instance to check that mail can be sent.\n";
	st = send_message(s, call, &q, r, err);
out:
	sendreq_free(&q);
	return st;
}
