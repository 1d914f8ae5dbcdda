/* exchange-ews: items and attachments from EWS answers, read into values
 * a row may carry.  Nothing from the server reaches a row unchecked: text
 * is cleaned for its type, addresses are valid SMTP ones (an EX address
 * is resolved or left out), a date that is not one is dropped.  One odd
 * value leaves that value out; it never fails the item. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/types.h>

#include "ews_mail.h"

#define TEXT_MAX (64u * 1024 * 1024) /* bounded by the response cap */
#define ADDR_MAX 512

static const xmlNode *tchild(const xmlNode *p, const char *local)
{
	return sb_xml_child(p, SB_NS_EWS_TYPES, local);
}

char *ews_text_clean(const xmlNode *n, bool memo)
{
	if (!n)
		return NULL;
	struct sb_error err;
	char *raw = sb_xml_text(n, TEXT_MAX, &err);
	if (!raw)
		return NULL;
	char *c = memo ? sb_clean_memo(raw) : sb_clean_text(raw);
	free(raw);
	return c;
}

static int read_bool(const xmlNode *n)
{
	char b[8];
	if (!n)
		return -1;
	sb_xml_text_copy(n, b, sizeof(b));
	if (strcmp(b, "true") == 0 || strcmp(b, "1") == 0)
		return 1;
	if (strcmp(b, "false") == 0 || strcmp(b, "0") == 0)
		return 0;
	return -1;
}

/* xs:dateTime to RFC 3339 in UTC; NULL when it is not a date. */
static char *read_date(const xmlNode *n, int64_t *epoch)
{
	char in[64], fixed[64], out[32];
	if (!n)
		return NULL;
	size_t len = sb_xml_text_copy(n, in, sizeof(in));
	if (len == 0 || len >= sizeof(in) - 1)
		return NULL;
	/* drop a fraction of a second: "...:SS.fff" */
	char *dot = strchr(in, '.');
	if (dot) {
		char *e = dot + 1;
		while (*e >= '0' && *e <= '9')
			e++;
		if (e == dot + 1)
			return NULL;
		snprintf(fixed, sizeof(fixed), "%.*s%s", (int)(dot - in), in,
			 e);
	} else {
		snprintf(fixed, sizeof(fixed), "%s", in);
	}
	/* no offset: EWS writes UTC */
	size_t fl = strlen(fixed);
	if (fl == 19)
		snprintf(fixed + fl, sizeof(fixed) - fl, "Z");
	int64_t t;
	if (!sb_type_check(SB_TYPE_DATETIME, fixed, NULL, NULL) ||
	    !sb_datetime_parse(fixed, &t))
		return NULL;
	sb_datetime_format(t, out, sizeof(out));
	if (epoch)
		*epoch = t;
	return strdup(out);
}

static bool strs_add(struct ews_strs *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcasecmp(s->v[i], v) == 0)
			return true; /* once each */
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		char **nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return false;
		s->v = nv;
		s->cap = cap;
	}
	char *d = strdup(v);
	if (!d)
		return false;
	s->v[s->n++] = d;
	return true;
}

static void strs_free(struct ews_strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static char *mailbox_addr(const xmlNode *mbx)
{
	char buf[ADDR_MAX];
	if (!mbx)
		return NULL;
	const char *a = ews_mailbox_smtp(mbx, buf, sizeof(buf));
	if (!a || !sb_email_valid(a))
		return NULL;
	return strdup(a);
}

static void read_recipients(const xmlNode *item, const char *local,
			    struct ews_strs *out)
{
	const xmlNode *list = tchild(item, local);
	if (!list)
		return;
	for (const xmlNode *m = tchild(list, "Mailbox"); m;
	     m = sb_xml_next(m)) {
		char *a = mailbox_addr(m);
		if (a) {
			strs_add(out, a);
			free(a);
		}
	}
}

static char *eml_name(const char *name)
{
	size_t n = strlen(name);
	if (n > 250)
		n = sb_utf8_cut(name, n, 250);
	char *s = malloc(n + 5);
	if (!s)
		return NULL;
	memcpy(s, name, n);
	if (n >= 4 && strncasecmp(name + n - 4, ".eml", 4) == 0)
		s[n] = '\0';
	else
		memcpy(s + n, ".eml", 5);
	return s;
}

bool ews_att_desc_read(const xmlNode *a, struct ews_att_desc *d)
{
	memset(d, 0, sizeof(*d));
	const xmlNode *aid = tchild(a, "AttachmentId");
	const char *id = aid ? sb_xml_attr(aid, NULL, "Id") : NULL;
	if (!id || !*id)
		return false;
	d->id = sb_clean_text(id);
	char *name = ews_text_clean(tchild(a, "Name"), false);
	d->is_item = sb_xml_is(a, SB_NS_EWS_TYPES, "ItemAttachment");
	if (d->is_item) {
		/* an attached message: a message/rfc822 file, name.eml */
		char *eml = eml_name(name && *name ? name : "message");
		d->name = eml ? sb_clean_file_name(eml) : NULL;
		free(eml);
	} else {
		d->name =
		    sb_clean_file_name(name && *name ? name : "attachment");
	}
	free(name);
	char *ct = ews_text_clean(tchild(a, "ContentType"), false);
	d->content_type = sb_clean_content_type(d->is_item ? "message/rfc822"
							   : (ct ? ct : ""));
	free(ct);
	if (!sb_xml_int64(tchild(a, "Size"), &d->size) || d->size < 0)
		d->size = -1;
	d->is_inline = read_bool(tchild(a, "IsInline")) == 1;
	if (!d->id || !d->name || !d->content_type) {
		free(d->id);
		free(d->name);
		free(d->content_type);
		return false;
	}
	return true;
}

void ews_att_desc_free(struct ews_att_desc *d)
{
	free(d->id);
	free(d->name);
	free(d->content_type);
	memset(d, 0, sizeof(*d));
}

bool ews_att_content(const xmlNode *a, unsigned char **data, size_t *n)
{
	const xmlNode *c = NULL;
	*data = NULL;
	*n = 0;
	if (sb_xml_is(a, SB_NS_EWS_TYPES, "FileAttachment")) {
		c = tchild(a, "Content");
	} else {
		/* an attached message (t:Message, t:Item, ...): its MIME */
		for (const xmlNode *it = sb_xml_first_element(a); it && !c;
		     it = sb_xml_next_element(it))
			c = tchild(it, "MimeContent");
	}
	if (!c)
		return false;
	struct sb_error err;
	char *b64 = sb_xml_text(c, TEXT_MAX, &err);
	if (!b64)
		return false;
	*data = sb_base64_decode(b64, strlen(b64), n);
	free(b64);
	return *data != NULL;
}

bool ews_content_sink_fn(void *arg, unsigned index, const void *data,
			 size_t len)
{
	struct ews_content_sink *s = arg;
	if (s->failed)
		return false;
	while (index >= s->n) {
		if (s->n == s->cap) {
			unsigned cap = s->cap ? s->cap * 2 : 4;
			struct sb_buf *nb = realloc(s->bufs, cap * sizeof(*nb));
			if (!nb) {
				s->failed = true;
				return false;
			}
			s->bufs = nb;
			s->cap = cap;
		}
		sb_buf_init(&s->bufs[s->n++],
			    s->max_each ? s->max_each : 64u * 1024 * 1024);
	}
	if (len && !sb_buf_append(&s->bufs[index], data, len)) {
		s->failed = true;
		return false;
	}
	return true;
}

void ews_content_sink_free(struct ews_content_sink *s)
{
	for (unsigned i = 0; i < s->n; i++)
		sb_buf_free(&s->bufs[i]);
	free(s->bufs);
	s->bufs = NULL;
	s->n = s->cap = 0;
}

bool ews_att_content_from(const xmlNode *a, struct ews_content_sink *s,
			  unsigned *next, unsigned char **data, size_t *n)
{
	if (!s || !sb_xml_is(a, SB_NS_EWS_TYPES, "FileAttachment") ||
	    !tchild(a, "Content"))
		return ews_att_content(a, data, n);
	unsigned k = (*next)++;
	*data = NULL;
	*n = 0;
	if (k >= s->n)
		return false;
	size_t len = s->bufs[k].len;
	char *d = sb_buf_steal(&s->bufs[k]);
	if (!d && len == 0)
		d = calloc(1, 1); /* an empty file */
	if (!d)
		return false;
	*data = (unsigned char *)d;
	*n = len;
	return true;
}

static void read_attachments(const xmlNode *item, struct ews_mail_row *row)
{
	const xmlNode *list = tchild(item, "Attachments");
	if (!list)
		return;
	size_t n = 0;
	for (const xmlNode *a = sb_xml_first_element(list); a;
	     a = sb_xml_next_element(a))
		n++;
	if (!n)
		return;
	row->atts = calloc(n, sizeof(*row->atts));
	if (!row->atts)
		return;
	for (const xmlNode *a = sb_xml_first_element(list); a;
	     a = sb_xml_next_element(a)) {
		if (!sb_xml_is(a, SB_NS_EWS_TYPES, "FileAttachment") &&
		    !sb_xml_is(a, SB_NS_EWS_TYPES, "ItemAttachment"))
			continue; /* reference attachments: links, no bytes */
		if (ews_att_desc_read(a, &row->atts[row->n_atts]))
			row->n_atts++;
	}
}

/* Both mailboxes carry the same address (the sender sent as itself). */
static bool same_mailbox(const xmlNode *a, const xmlNode *b)
{
	char x[ADDR_MAX], y[ADDR_MAX];
	if (!a || !b)
		return false;
	sb_xml_text_copy(tchild(a, "EmailAddress"), x, sizeof(x));
	sb_xml_text_copy(tchild(b, "EmailAddress"), y, sizeof(y));
	return *x && strcasecmp(x, y) == 0;
}

static const char *read_importance(const xmlNode *n)
{
	char b[16];
	if (!n)
		return NULL;
	sb_xml_text_copy(n, b, sizeof(b));
	if (strcmp(b, "Low") == 0)
		return "Low";
	if (strcmp(b, "Normal") == 0)
		return "Normal";
	if (strcmp(b, "High") == 0)
		return "High";
	return NULL;
}

static void read_bodies(const xmlNode *item, struct ews_mail_row *row)
{
	const xmlNode *b = tchild(item, "Body");
	if (b) {
		const char *type = sb_xml_attr(b, NULL, "BodyType");
		if (type && strcmp(type, "HTML") == 0)
			row->html_body = ews_text_clean(b, true);
		else
			row->body = ews_text_clean(b, true);
	}
	if (!row->body)
		row->body = ews_text_clean(tchild(item, "TextBody"), true);
}

void ews_mail_row_recipients(struct ews_mail_row *row, const xmlNode *item)
{
	read_recipients(item, "ToRecipients", &row->to);
	read_recipients(item, "CcRecipients", &row->cc);
	read_recipients(item, "BccRecipients", &row->bcc);
	read_recipients(item, "ReplyTo", &row->reply_to);
}

bool ews_mail_row_read(const xmlNode *item, struct ews_mail_row *row)
{
	memset(row, 0, sizeof(*row));
	row->received_epoch = -1;
	row->is_read = row->has_attachments = -1;

	const xmlNode *iid = tchild(item, "ItemId");
	const char *id = iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
	if (!id || !*id)
		return false;
	row->id = sb_clean_text(id);
	if (!row->id) {
		ews_mail_row_free(row);
		return false;
	}
	const char *ck = sb_xml_attr(iid, NULL, "ChangeKey");
	if (ck && *ck)
		row->change_key = sb_clean_text(ck);
	const xmlNode *pf = tchild(item, "ParentFolderId");
	const char *fid = pf ? sb_xml_attr(pf, NULL, "Id") : NULL;
	if (fid && *fid)
		row->folder = sb_clean_text(fid);

	row->subject = ews_text_clean(tchild(item, "Subject"), false);
	read_bodies(item, row);
	read_attachments(item, row);
	row->received =
	    read_date(tchild(item, "DateTimeReceived"), &row->received_epoch);
	row->sent = read_date(tchild(item, "DateTimeSent"), NULL);
	row->importance = read_importance(tchild(item, "Importance"));
	row->has_attachments = read_bool(tchild(item, "HasAttachments"));

	const xmlNode *from = tchild(item, "From");
	row->from = mailbox_addr(tchild(from, "Mailbox"));
	if (!row->from) {
		/* an EX sender: the server's own SMTP form of the sender,
		 * when the sender is the From (no on-behalf sending) */
		const xmlNode *snd = tchild(tchild(item, "Sender"), "Mailbox");
		char *smtp =
		    ews_text_clean(tchild(item, "SenderSMTPAddress"), false);
		if (smtp && sb_email_valid(smtp) && from &&
		    same_mailbox(tchild(from, "Mailbox"), snd))
			row->from = smtp;
		else
			free(smtp);
	}
	ews_mail_row_recipients(row, item);
	row->is_read = read_bool(tchild(item, "IsRead"));
	row->message_id =
	    ews_text_clean(tchild(item, "InternetMessageId"), false);
	if (row->message_id && !*row->message_id) {
		free(row->message_id);
		row->message_id = NULL;
	}
	return true;
}

void ews_mail_row_free(struct ews_mail_row *row)
{
	free(row->id);
	free(row->change_key);
	free(row->folder);
	free(row->from);
	strs_free(&row->to);
	strs_free(&row->cc);
	strs_free(&row->bcc);
	strs_free(&row->reply_to);
	free(row->subject);
	free(row->body);
	free(row->html_body);
	free(row->sent);
	free(row->received);
	free(row->message_id);
	for (size_t i = 0; i < row->n_atts; i++)
		ews_att_desc_free(&row->atts[i]);
	free(row->atts);
	memset(row, 0, sizeof(*row));
}

xmlNode *ews_items_first(const xmlNode *msg)
{
	return sb_xml_first_element(
	    sb_xml_child(msg, SB_NS_EWS_MESSAGES, "Items"));
}
