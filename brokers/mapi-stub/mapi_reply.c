/* mapi-stub: Email.Reply, Email.ReplyAll and Email.Forward.
 *
 * Each reads the original message from the mailbox with the SDK's MIME
 * reader, builds the answer with its MIME builder (threading headers,
 * prefixed Subject, the new text first and the original quoted after it)
 * and sends it exactly as Email.Send does: recorded in the Outbox,
 * delivered to each local recipient keyed by its Message-ID, moved to Sent
 * Items, and finished at the next start when interrupted. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <svcbroker/call.h>
#include <svcbroker/mime.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

#define REPLY_RETRIES 5		  /* lookups racing with a rename */
#define REPLY_MAX_ATTACHMENTS 100 /* as Send: Load returns every one */

enum reply_kind { REPLY, REPLY_ALL, FORWARD };

/* ---- recipients ------------------------------------------------------ */

/* A NULL-terminated list of addresses (pointing into the call's inputs
 * or the parsed original), kept without duplicates by rcpts_add. */
struct rcpts {
	const char **v;
	size_t n, cap;
};

static bool rcpts_has(const struct rcpts *l, const char *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], a) == 0)
			return true;
	return false;
}

static bool rcpts_push(struct rcpts *l, const char *a)
{
	if (l->n + 1 >= l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 8;
		const char **nv = realloc(l->v, nc * sizeof *nv);
		if (!nv)
			return false;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = a;
	l->v[l->n] = NULL;
	return true;
}

/* Add a to l unless it is no valid address, is `self`, or already is in
 * l or in other.  false only when out of memory. */
static bool rcpts_add(struct rcpts *l, const struct rcpts *other, const char *a,
		      const char *self)
{
	if (!a || !sb_email_valid(a) || (self && strcasecmp(a, self) == 0) ||
	    rcpts_has(l, a) || (other && rcpts_has(other, a)))
		return true;
	return rcpts_push(l, a);
}

/* ---- bodies ------------------------------------------------------------ */

/* "On Mon, 30 Nov 2026 10:00:00 +0000, alice@example.test wrote:" */
static void attribution(struct sb_buf *b, const struct sb_mime_parsed *p,
			int64_t received)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	int64_t t;
	if (!p->date || !mapi_rfc5322_date(p->date, &t))
		t = received;
	time_t tt = (time_t)t;
	struct tm tm;
	const char *who =
	    p->from && sb_email_valid(p->from) ? p->from : "an unknown sender";
	if (gmtime_r(&tt, &tm))
		sb_buf_printf(b, "On %s, %02d %s %04d %02d:%02d:%02d +0000, ",
			      days[tm.tm_wday % 7], tm.tm_mday,
			      mons[tm.tm_mon % 12], tm.tm_year + 1900,
			      tm.tm_hour, tm.tm_min, tm.tm_sec);
	sb_buf_printf(b, "%s wrote:", who);
}

/* Append text with CRLF made LF. */
static void put_lf(struct sb_buf *b, const char *s)
{
	for (const char *p = s; *p;) {
		size_t k = strcspn(p, "\r");
		sb_buf_append(b, p, k);
		p += k;
		if (*p == '\r') {
			if (p[1] != '\n')
				sb_buf_append(b, "\n", 1);
			p++;
		}
	}
}

/* The text part: the new text, an empty line, the attribution, then the
 * original's text with every line prefixed "> ". */
static bool text_part(struct sb_buf *b, const char *body,
		      const struct sb_mime_parsed *p, const char *orig_text,
		      int64_t received)
{
	if (body && *body) {
		put_lf(b, body);
		if (b->len && b->data[b->len - 1] != '\n')
			sb_buf_puts(b, "\n");
		sb_buf_puts(b, "\n");
	}
	attribution(b, p, received);
	sb_buf_puts(b, "\n");
	struct sb_buf o;
	sb_buf_init(&o, 0);
	put_lf(&o, orig_text ? orig_text : "");
	sb_buf_append(&o, "", 0);
	if (o.failed) {
		sb_buf_free(&o);
		return false;
	}
	size_t len = o.len;
	while (len && o.data[len - 1] == '\n')
		len--; /* no empty quoted lines at the end */
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(o.data + i, '\n', len - i);
		size_t k = nl ? (size_t)(nl - o.data) - i : len - i;
		sb_buf_puts(b, "> ");
		sb_buf_append(b, o.data + i, k);
		sb_buf_puts(b, "\n");
		i += k + 1;
	}
	sb_buf_free(&o);
	return !b->failed;
}

/* Append s[0..n) escaped for HTML; a character XML cannot carry (U+FFFE,
 * U+FFFF, as a file another tool wrote may hold) becomes U+FFFD. */
static void escape_html(struct sb_buf *b, const char *s, size_t n)
{
	if (sb_xml_escape_append(b, s, n, SB_XML_TEXT, NULL) == SB_OK)
		return;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = sb_utf8_decode(s + i, n - i, &cp);
		if (k == 0)
			k = 1;
		if (sb_xml_escape_append(b, s + i, k, SB_XML_TEXT, NULL) !=
		    SB_OK)
			sb_buf_puts(b, "\xEF\xBF\xBD");
		i += k;
	}
}

/* Text as HTML: escaped, each line break a <br>. */
static enum sb_status html_of_text(struct sb_buf *b, const char *text,
				   struct sb_error *err)
{
	struct sb_buf o;
	sb_buf_init(&o, 0);
	put_lf(&o, text ? text : "");
	sb_buf_append(&o, "", 0);
	if (o.failed) {
		sb_buf_free(&o);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	sb_buf_puts(b, "<div>");
	for (size_t i = 0; i < o.len;) {
		const char *nl = memchr(o.data + i, '\n', o.len - i);
		size_t k = nl ? (size_t)(nl - o.data) - i : o.len - i;
		escape_html(b, o.data + i, k);
		if (nl)
			sb_buf_puts(b, "<br>\n");
		i += k + 1;
	}
	sb_buf_puts(b, "</div>\n");
	sb_buf_free(&o);
	return SB_OK;
}

/* The HTML part: the new HTML (or the new text as HTML), the attribution,
 * then the original's HTML (or its text as HTML) in a blockquote. */
static enum sb_status html_part(struct sb_buf *b, const char *html,
				const char *body,
				const struct sb_mime_parsed *p,
				const char *orig_html, const char *orig_text,
				int64_t received, struct sb_error *err)
{
	enum sb_status st = SB_OK;
	if (html) {
		sb_buf_puts(b, html);
		sb_buf_puts(b, "\n");
	} else if (body && *body) {
		st = html_of_text(b, body, err);
	}
	struct sb_buf a;
	sb_buf_init(&a, 0);
	attribution(&a, p, received);
	sb_buf_append(&a, "", 0);
	if (st == SB_OK)
		st = html_of_text(b, a.data, err);
	sb_buf_free(&a);
	sb_buf_puts(b, "<blockquote type=\"cite\" style=\"margin:0 0 0 .8ex;"
		       "border-left:1px solid #ccc;padding-left:1ex\">\n");
	if (st == SB_OK && orig_html) {
		sb_buf_puts(b, orig_html);
		sb_buf_puts(b, "\n");
	} else if (st == SB_OK) {
		st = html_of_text(b, orig_text, err);
	}
	sb_buf_puts(b, "</blockquote>\n");
	if (st == SB_OK && b->failed)
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	return st;
}

/* ---- the original ------------------------------------------------------ */

struct original {
	char *raw;
	size_t len;
	struct sb_mime_parsed p;
	bool parsed;
	int64_t received; /* file mtime, seconds */
};

static void original_free(struct original *o)
{
	if (o->parsed)
		sb_mime_parsed_free(&o->p);
	free(o->raw);
}

static enum sb_status original_read(struct mapi_store *s,
				    struct mapi_mailbox *mb, const char *id,
				    struct original *o, struct sb_error *err)
{
	memset(o, 0, sizeof *o);
	char path[MAPI_PATH_MAX];
	/* Messages written by other tools may be larger than ours. */
	size_t cap = (size_t)(s->max_message_size * 2 + 1024 * 1024);
	for (int tries = 0; tries < REPLY_RETRIES && !o->raw; tries++) {
		struct mapi_entry e = {0};
		enum sb_status st = mapi_item_find(
		    mb, NULL, id, path, sizeof path, NULL, 0, &e, err);
		o->received = e.mtime_ns / 1000000000;
		free(e.file);
		free(e.id);
		if (st != SB_OK)
			return st;
		if (mapi_read_file(path, cap, &o->raw, &o->len) == 0)
			break;
		o->raw = NULL;
		if (errno == EFBIG)
			return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
					    "ErrorMessageSizeExceeded",
					    "message %s is too large to answer",
					    id);
		if (errno != ENOENT)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "cannot read %s: %s", path,
					    strerror(errno));
	}
	if (!o->raw)
		return sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				    "item %s keeps moving; try again", id);
	struct sb_error perr;
	sb_error_clear(&perr);
	if (o->len && sb_mime_parse(o->raw, o->len, &o->p, &perr) == SB_OK) {
		o->parsed = true;
		return SB_OK;
	}
	if (perr.status == SB_ERR_INTERNAL)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "%s",
				    perr.message);
	/* Not a message (another tool's file): Load shows its content as
	 * the text; an answer quotes it the same way, with no one to reply
	 * to. */
	memset(&o->p, 0, sizeof o->p);
	return SB_OK;
}

/* ---- the answer ---------------------------------------------------------- */

struct answer {
	struct rcpts to, cc, bcc;
	struct sb_file *att;
	size_t n_att;
	char **owned; /* cleaned strings the attachments point to */
	size_t n_owned;
	char *subject, *irt, *refs, *orig_text, *orig_html;
	struct sb_buf text, html, msg;
	char msgid[256];
};

static void answer_free(struct answer *a)
{
	free(a->to.v);
	free(a->cc.v);
	free(a->bcc.v);
	free(a->att);
	for (size_t i = 0; i < a->n_owned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->subject);
	free(a->irt);
	free(a->refs);
	free(a->orig_text);
	free(a->orig_html);
	sb_buf_free(&a->text);
	sb_buf_free(&a->html);
	sb_buf_free(&a->msg);
}

static enum sb_status oom(struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}

/* To, Cc and Bcc of the answer. */
static enum sb_status recipients(struct answer *a, enum reply_kind kind,
				 struct mapi_mailbox *mb,
				 const struct sb_mime_parsed *p, const char *id,
				 const struct sb_call *call,
				 struct sb_error *err)
{
	bool ok = true;
	if (kind == FORWARD) {
		for (size_t i = 0; ok && i < sb_call_count(call, "To"); i++)
			ok = rcpts_add(&a->to, NULL,
				       sb_call_str_at(call, "To", i), NULL);
	} else {
		/* Reply-To, or else From. */
		for (size_t i = 0; ok && i < p->n_reply_to; i++)
			ok = rcpts_add(&a->to, NULL, p->reply_to[i],
				       kind == REPLY_ALL ? mb->address : NULL);
		bool any_reply_to = false;
		for (size_t i = 0; i < p->n_reply_to; i++)
			any_reply_to |= sb_email_valid(p->reply_to[i]);
		if (ok && !any_reply_to)
			ok = rcpts_add(&a->to, NULL, p->from,
				       kind == REPLY_ALL ? mb->address : NULL);
		if (kind == REPLY && ok && a->to.n == 0)
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, "ErrorInvalidRecipients",
			    "message %s has no valid Reply-To or From address "
			    "to reply to",
			    id);
		for (size_t i = 0; ok && kind == REPLY_ALL && i < p->n_to; i++)
			ok = rcpts_add(&a->to, NULL, p->to[i], mb->address);
		for (size_t i = 0; ok && kind == REPLY_ALL && i < p->n_cc; i++)
			ok = rcpts_add(&a->cc, &a->to, p->cc[i], mb->address);
	}
	for (size_t i = 0; ok && i < sb_call_count(call, "Cc"); i++)
		ok = rcpts_add(&a->cc, &a->to, sb_call_str_at(call, "Cc", i),
			       NULL);
	for (size_t i = 0; ok && i < sb_call_count(call, "Bcc"); i++)
		ok = rcpts_add(&a->bcc, NULL, sb_call_str_at(call, "Bcc", i),
			       NULL);
	if (!ok)
		return oom(err);
	if (a->to.n + a->cc.n + a->bcc.n == 0)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorInvalidRecipients",
				    "message %s has no one to answer (no "
				    "Reply-To, From, To or Cc but this "
				    "mailbox, %s): give Cc or Bcc",
				    id, mb->address);
	return SB_OK;
}

/* The original's attachments (Forward) and the call's. */
static enum sb_status attachments(struct mapi_store *s, struct answer *a,
				  enum reply_kind kind,
				  const struct sb_mime_parsed *p,
				  const struct sb_call *call,
				  struct sb_error *err)
{
	size_t n_orig = kind == FORWARD ? p->n_attachments : 0;
	size_t n_new = sb_call_count(call, "Attachments");
	if (n_orig + n_new > REPLY_MAX_ATTACHMENTS)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Attachments: the original's %zu and the "
				    "%zu given make more than %d",
				    n_orig, n_new, REPLY_MAX_ATTACHMENTS);
	a->att = calloc(n_orig + n_new + 1, sizeof *a->att);
	a->owned = calloc(2 * n_orig + 1, sizeof *a->owned);
	if (!a->att || !a->owned)
		return oom(err);
	size_t total = 0;
	for (size_t i = 0; i < n_orig; i++) {
		/* As Load shows them: names and types made fit to send. */
		struct sb_file f = p->attachments[i];
		char *name = sb_clean_file_name(f.name ? f.name : "");
		char *type =
		    sb_clean_content_type(f.content_type ? f.content_type : "");
		a->owned[a->n_owned++] = name;
		a->owned[a->n_owned++] = type;
		if (!name || !type)
			return oom(err);
		f.name = *name ? name : "attachment";
		f.content_type = type;
		a->att[a->n_att++] = f;
		total += f.size;
	}
	for (size_t i = 0; i < n_new; i++) {
		const struct sb_file *f =
		    sb_call_file_at(call, "Attachments", i);
		if (!f)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Attachments[%zu]: not a file", i);
		a->att[a->n_att++] = *f;
		total += f->size;
	}
	/* base64 grows by 4/3: refuse early what cannot fit. */
	if (total / 3 * 4 > (size_t)s->max_message_size)
		return sb_error_set(
		    err, SB_ERR_PAYLOAD_TOO_LARGE, "ErrorMessageSizeExceeded",
		    "attachments of %zu bytes do not fit "
		    "max_message_size (%lld bytes once encoded)",
		    total, (long long)s->max_message_size);
	return SB_OK;
}

/* Maildir files use LF line endings, as the Send path writes them. */
static void to_lf(struct sb_buf *b)
{
	size_t j = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' && i + 1 < b->len &&
		    b->data[i + 1] == '\n')
			continue;
		b->data[j++] = b->data[i];
	}
	b->len = j;
	if (b->data)
		b->data[j] = '\0';
}

static enum sb_status build(struct mapi_store *s, struct mapi_mailbox *mb,
			    enum reply_kind kind, const struct sb_call *call,
			    const struct original *o, struct answer *a,
			    struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", "");
	const struct sb_mime_parsed *p = &o->p;
	enum sb_status st = recipients(a, kind, mb, p, id, call, err);
	if (st != SB_OK)
		return st;
	if ((st = attachments(s, a, kind, p, call, err)) != SB_OK)
		return st;
	a->subject = mapi_reply_subject(p->subject, kind == FORWARD);
	char *mid =
	    o->raw ? sb_mime_header(o->raw, o->len, "Message-ID") : NULL;
	char *refs =
	    o->raw ? sb_mime_header(o->raw, o->len, "References") : NULL;
	char *irt =
	    o->raw ? sb_mime_header(o->raw, o->len, "In-Reply-To") : NULL;
	bool ok = mapi_reply_threading(mid, refs, irt, &a->irt, &a->refs);
	free(mid);
	free(refs);
	free(irt);
	/* The original's bodies as a result cell would show them (another
	 * tool's file may hold anything); a file that is no message is its
	 * own text, as Load shows it. */
	a->orig_text = sb_clean_memo(o->parsed ? (p->body ? p->body : "")
					       : (o->raw ? o->raw : ""));
	a->orig_html = p->html_body ? sb_clean_memo(p->html_body) : NULL;
	if (!ok || !a->subject || !a->orig_text ||
	    (p->html_body && !a->orig_html))
		return oom(err);
	const char *body = sb_call_str(call, "Body", NULL);
	const char *html = sb_call_str(call, "HtmlBody", NULL);
	if (!text_part(&a->text, body, p, a->orig_text, o->received))
		return oom(err);
	bool with_html = html || a->orig_html;
	if (with_html &&
	    (st = html_part(&a->html, html, body, p, a->orig_html, a->orig_text,
			    o->received, err)) != SB_OK)
		return st;
	const char *extra[4] = {"In-Reply-To", a->irt, "References", a->refs};
	struct sb_mime_message m = {
	    .from = mb->address,
	    .to = a->to.v,
	    .n_to = a->to.n,
	    .cc = a->cc.v,
	    .n_cc = a->cc.n,
	    .subject = a->subject,
	    .body = a->text.data,
	    .html_body = with_html ? a->html.data : NULL,
	    .attachments = a->att,
	    .n_attachments = a->n_att,
	    .extra_headers = extra,
	    .n_extra_headers = *a->irt ? 2 : 0,
	};
	/* The message, plus room for its Bcc line, must fit the cap. */
	sb_buf_init(&a->msg, (size_t)s->max_message_size);
	st = sb_mime_build(&m, &a->msg, a->msgid, err);
	if (st == SB_OK)
		to_lf(&a->msg);
	if (a->msg.failed || st == SB_ERR_PAYLOAD_TOO_LARGE)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
				    "ErrorMessageSizeExceeded",
				    "the %s is larger than max_message_size "
				    "(%lld bytes)",
				    kind == FORWARD ? "forward" : "reply",
				    (long long)s->max_message_size);
	return st;
}

static enum sb_status answer(struct mapi_store *s, struct mapi_mailbox *mb,
			     enum reply_kind kind, const struct sb_call *call,
			     struct sb_result *r, struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", NULL);
	if (!id || !*id)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Id: the message to answer is required");
	if (kind == FORWARD && sb_call_count(call, "To") == 0)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "To: at least one recipient is required "
				    "to forward a message");
	struct original o;
	struct answer a;
	memset(&a, 0, sizeof a);
	sb_buf_init(&a.text, 0);
	sb_buf_init(&a.html, 0);
	sb_buf_init(&a.msg, 0);
	enum sb_status st = original_read(s, mb, id, &o, err);
	if (st == SB_OK)
		st = build(s, mb, kind, call, &o, &a, err);
	if (st != SB_OK)
		goto out;
	struct mapi_send env = {
	    .to = a.to.v,
	    .n_to = a.to.n,
	    .cc = a.cc.v,
	    .n_cc = a.cc.n,
	    .bcc = a.bcc.v,
	    .n_bcc = a.bcc.n,
	};
	char sent[64];
	if ((st = sb_result_row(r)) != SB_OK) {
		st = sb_error_set(err, st, NULL, "cannot add a result row");
		goto out;
	}
	st = mapi_outbox_send(s, mb, a.msg.data, a.msg.len, a.msgid, &env, r,
			      sent, sizeof sent, err);
	if (st != SB_OK)
		goto out;
	char file[128], path[MAPI_PATH_MAX], ck[MAPI_CHANGEKEY_LEN + 1] = "";
	snprintf(file, sizeof file, "%s:2,S", sent);
	struct mapi_entry e = {.file = file, .seen = true};
	if (mapi_path(path, sizeof path, "%s/%s/cur/%s", mb->dir, MAPI_SENT,
		      file) &&
	    mapi_entry_restat(path, &e))
		mapi_change_key(MAPI_SENT, &e, ck);
	sb_result_str(r, "Id", sent);
	if (ck[0])
		sb_result_str(r, "ChangeKey", ck);
	sb_result_str(r, "Folder", MAPI_SENT);
	sb_result_str(r, "MessageId", a.msgid);
out:
	answer_free(&a);
	original_free(&o);
	return st;
}

static enum sb_status email_reply(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return answer(s, mb, REPLY, call, r, err);
}

static enum sb_status email_reply_all(struct mapi_store *s,
				      struct mapi_mailbox *mb,
				      const struct sb_call *call,
				      struct sb_result *r, struct sb_error *err)
{
	return answer(s, mb, REPLY_ALL, call, r, err);
}

static enum sb_status email_forward(struct mapi_store *s,
				    struct mapi_mailbox *mb,
				    const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	return answer(s, mb, FORWARD, call, r, err);
}

MAPI_MAILBOX_HANDLER(mapi_email_reply, email_reply)
MAPI_MAILBOX_HANDLER(mapi_email_reply_all, email_reply_all)
MAPI_MAILBOX_HANDLER(mapi_email_forward, email_forward)
