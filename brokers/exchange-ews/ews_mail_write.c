/* exchange-ews: request bodies of Email and Attachment, written into an
 * operation's writer (no request is sent here).  Every value goes through
 * the writer, which escapes it and refuses what XML cannot carry. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/types.h>

#include "ews_mail.h"

enum sb_status ews_check_id(const char *input, const char *id,
			    struct sb_error *err)
{
	size_t n = id ? strlen(id) : 0;
	size_t bad = strspn(id ? id : "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "abcdefghijklmnopqrstuvwxyz"
					  "0123456789+/=-_");
	if (n == 0 || bad != n)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorInvalidIdMalformed",
				    "%s: not an EWS id (base64 characters "
				    "expected)",
				    input);
	return SB_OK;
}

void ews_w_distinguished(struct ews_op *op, const char *id)
{
	sb_xml_w_open(&op->w, "t:DistinguishedFolderId");
	sb_xml_w_attr(&op->w, "Id", id);
	ews_op_folder_mailbox(op);
	sb_xml_w_close(&op->w);
}

static void w_item_id(struct sb_xml_w *w, const char *qname, const char *id,
		      const char *ck)
{
	sb_xml_w_open(w, qname);
	sb_xml_w_attr(w, "Id", id);
	if (ck && *ck)
		sb_xml_w_attr(w, "ChangeKey", ck);
	sb_xml_w_close(w);
}

static void w_mailbox(struct sb_xml_w *w, const char *addr)
{
	sb_xml_w_open(w, "t:Mailbox");
	sb_xml_w_leaf(w, "t:EmailAddress", addr);
	sb_xml_w_close(w);
}

static void w_recipients(struct sb_xml_w *w, const char *qname,
			 const struct ews_addrs *a)
{
	if (!a->n)
		return;
	sb_xml_w_open(w, qname);
	for (size_t i = 0; i < a->n; i++)
		w_mailbox(w, a->v[i]);
	sb_xml_w_close(w);
}

static void w_base64(struct sb_xml_w *w, const unsigned char *data, size_t size)
{
	if (!size) {
		sb_xml_w_text(w, "");
		return;
	}
	char *b64 = sb_base64_encode(data, size, 0);
	if (!b64) {
		if (w->err.status == SB_OK)
			sb_error_set(&w->err, SB_ERR_INTERNAL, NULL,
				     "out of memory encoding an attachment");
		return;
	}
	/* base64 needs no escaping: written as is, not scanned again */
	sb_xml_w_raw(w, b64);
	free(b64);
}

static void w_file_attachment(struct sb_xml_w *w, const struct ews_att_in *a)
{
	sb_xml_w_open(w, "t:FileAttachment");
	sb_xml_w_leaf(w, "t:Name", a->name);
	sb_xml_w_leaf(w, "t:ContentType",
		      a->content_type ? a->content_type
				      : "application/octet-stream");
	sb_xml_w_leaf(w, "t:IsInline", a->is_inline ? "true" : "false");
	sb_xml_w_open(w, "t:Content");
	w_base64(w, a->data, a->size);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

static void w_body(struct sb_xml_w *w, const char *qname,
		   const struct ews_msg_in *m)
{
	const char *text = m->html_body ? m->html_body : m->body;
	if (!text)
		return;
	sb_xml_w_open(w, qname);
	sb_xml_w_attr(w, "BodyType", m->html_body ? "HTML" : "Text");
	sb_xml_w_text(w, text);
	sb_xml_w_close(w);
}

static void w_from(struct sb_xml_w *w, const char *from)
{
	if (!from)
		return;
	sb_xml_w_open(w, "t:From");
	w_mailbox(w, from);
	sb_xml_w_close(w);
}

void ews_w_create_message(struct ews_op *op, const char *disposition,
			  const struct ews_msg_in *m, bool with_atts)
{
	struct sb_xml_w *w = &op->w;
	bool send = strcmp(disposition, "SaveOnly") != 0;

	sb_xml_w_open(w, "m:CreateItem");
	sb_xml_w_attr(w, "MessageDisposition", disposition);
	sb_xml_w_open(w, "m:SavedItemFolderId");
	ews_w_distinguished(op, send ? "sentitems" : "drafts");
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:Items");
	sb_xml_w_open(w, "t:Message");
	/* ItemType's elements, then MessageType's, in the schema's order */
	if (m->subject)
		sb_xml_w_leaf(w, "t:Subject", m->subject);
	w_body(w, "t:Body", m);
	if (with_atts && m->n_atts) {
		sb_xml_w_open(w, "t:Attachments");
		for (size_t i = 0; i < m->n_atts; i++)
			w_file_attachment(w, &m->atts[i]);
		sb_xml_w_close(w);
	}
	if (m->importance)
		sb_xml_w_leaf(w, "t:Importance", m->importance);
	w_recipients(w, "t:ToRecipients", &m->to);
	w_recipients(w, "t:CcRecipients", &m->cc);
	w_recipients(w, "t:BccRecipients", &m->bcc);
	w_from(w, m->from);
	w_recipients(w, "t:ReplyTo", &m->reply_to);
	sb_xml_w_close(w); /* t:Message */
	sb_xml_w_close(w); /* m:Items */
	sb_xml_w_close(w); /* m:CreateItem */
}

void ews_w_response_object(struct ews_op *op, const char *kind,
			   const char *disposition, const char *ref,
			   const char *ref_ck, const struct ews_msg_in *m)
{
	struct sb_xml_w *w = &op->w;
	bool send = strcmp(disposition, "SaveOnly") != 0;
	const char *qname = strcmp(kind, "ReplyToItem") == 0 ? "t:ReplyToItem"
			    : strcmp(kind, "ReplyAllToItem") == 0
				? "t:ReplyAllToItem"
				: "t:ForwardItem";

	sb_xml_w_open(w, "m:CreateItem");
	sb_xml_w_attr(w, "MessageDisposition", disposition);
	sb_xml_w_open(w, "m:SavedItemFolderId");
	ews_w_distinguished(op, send ? "sentitems" : "drafts");
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:Items");
	sb_xml_w_open(w, qname);
	/* SmartResponseType: Subject, Body, To, Cc, Bcc, ..., From,
	 * ReferenceItemId, NewBodyContent.  The subject ("RE: ", "FW: ")
	 * and the quoted original are the server's. */
	w_recipients(w, "t:ToRecipients", &m->to);
	w_recipients(w, "t:CcRecipients", &m->cc);
	w_recipients(w, "t:BccRecipients", &m->bcc);
	w_from(w, m->from);
	w_item_id(w, "t:ReferenceItemId", ref, ref_ck);
	w_body(w, "t:NewBodyContent", m);
	sb_xml_w_close(w);
	sb_xml_w_close(w); /* m:Items */
	sb_xml_w_close(w); /* m:CreateItem */
}

void ews_w_send_item(struct ews_op *op, const char *id, const char *ck)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:SendItem");
	sb_xml_w_attr(w, "SaveItemToFolder", "true");
	sb_xml_w_open(w, "m:ItemIds");
	w_item_id(w, "t:ItemId", id, ck);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:SavedItemFolderId");
	ews_w_distinguished(op, "sentitems");
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

void ews_w_create_attachments(struct ews_op *op, const char *parent,
			      const char *parent_ck,
			      const struct ews_att_in *atts, size_t n)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:CreateAttachment");
	w_item_id(w, "m:ParentItemId", parent, parent_ck);
	sb_xml_w_open(w, "m:Attachments");
	for (size_t i = 0; i < n; i++)
		w_file_attachment(w, &atts[i]);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

/* ---- Email.List's position ---------------------------------------------- */

uint64_t ews_id_hash(const char *id)
{
	/* FNV-1a, 64 bits: only compares Ids of one folder's listing */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return h;
}

bool ews_page_pos_seen(const struct ews_page_pos *p, const char *id)
{
	uint64_t h = ews_id_hash(id);
	for (unsigned i = 0; i < p->n_seen; i++)
		if (p->seen[i] == h)
			return true;
	return false;
}

bool ews_page_pos_add(struct ews_page_pos *p, const char *id)
{
	if (p->n_seen >= EWS_PAGE_SEEN_MAX)
		return false;
	p->seen[p->n_seen++] = ews_id_hash(id);
	return true;
}

static void add_hash(struct ews_page_pos *p, uint64_t h, bool undated)
{
	if (undated && p->n_undated == EWS_PAGE_SEEN_MAX) {
		/* full: the oldest row without a time makes room */
		memmove(p->seen, p->seen + 1,
			sizeof(p->seen[0]) * (EWS_PAGE_SEEN_MAX - 1));
		p->seen[EWS_PAGE_SEEN_MAX - 1] = h;
		return;
	}
	if (p->n_seen >= EWS_PAGE_SEEN_MAX)
		return;
	p->seen[p->n_seen++] = h;
	if (undated)
		p->n_undated++;
}

void ews_page_pos_advance(const struct ews_page_pos *pos,
			  const char *const *ids, const int64_t *received,
			  size_t n, struct ews_page_pos *next)
{
	memset(next, 0, sizeof(*next));
	next->have = true;
	size_t k = n;
	while (k > 0 && received[k - 1] < 0)
		k--;
	if (k > 0)
		next->received = received[k - 1];
	else
		next->received = pos->have ? pos->received : EWS_PAGE_END;
	/* rows without a time first, kept from page to page: their
	 * second is unknown, any later page may meet them again */
	for (unsigned j = 0; pos->have && j < pos->n_undated; j++)
		add_hash(next, pos->seen[j], true);
	for (size_t i = 0; i < n; i++)
		if (received[i] < 0)
			add_hash(next, ews_id_hash(ids[i]), true);
	/* then the anchor's second: older seconds never come again */
	if (pos->have && pos->received == next->received)
		for (unsigned j = pos->n_undated; j < pos->n_seen; j++)
			add_hash(next, pos->seen[j], false);
	for (size_t i = 0; i < n; i++)
		if (received[i] >= 0 && received[i] == next->received)
			add_hash(next, ews_id_hash(ids[i]), false);
}

#define POS_MAGIC 0x46 /* 'F' */

static void put64(unsigned char *o, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		o[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t get64(const unsigned char *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

size_t ews_page_pos_encode(const struct ews_page_pos *p, unsigned char *out,
			   size_t n)
{
	size_t need = 1 + 8 + 2 + 8 * (size_t)p->n_seen;
	if (n < need || p->n_seen > EWS_PAGE_SEEN_MAX ||
	    p->n_undated > p->n_seen)
		return 0;
	out[0] = POS_MAGIC;
	put64(out + 1, (uint64_t)p->received);
	out[9] = (unsigned char)p->n_seen;
	out[10] = (unsigned char)p->n_undated;
	for (unsigned i = 0; i < p->n_seen; i++)
		put64(out + 11 + 8 * (size_t)i, p->seen[i]);
	return need;
}

bool ews_page_pos_decode(const unsigned char *in, size_t len,
			 struct ews_page_pos *p)
{
	memset(p, 0, sizeof(*p));
	if (len < 11 || in[0] != POS_MAGIC)
		return false;
	unsigned n = in[9], u = in[10];
	if (n > EWS_PAGE_SEEN_MAX || u > n || len != 11 + 8 * (size_t)n)
		return false;
	p->have = true;
	p->received = (int64_t)get64(in + 1);
	p->n_seen = n;
	p->n_undated = u;
	for (unsigned i = 0; i < n; i++)
		p->seen[i] = get64(in + 11 + 8 * (size_t)i);
	return true;
}

/* ---- finding and getting items ------------------------------------------ */

static void w_fields(struct sb_xml_w *w, const char *const *uris)
{
	sb_xml_w_open(w, "t:AdditionalProperties");
	for (size_t i = 0; uris[i]; i++) {
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", uris[i]);
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
}

static const char *const list_fields[] = {"item:ParentFolderId",
					  "item:Subject",
					  "item:DateTimeReceived",
					  "item:Importance",
					  "item:DateTimeSent",
					  "item:HasAttachments",
					  "message:From",
					  "message:InternetMessageId",
					  "message:IsRead",
					  "message:Sender",
					  NULL};

static const char *const recipient_fields[] = {"message:ToRecipients",
					       "message:CcRecipients", NULL};

static const char *const load_fields[] = {"item:ParentFolderId",
					  "item:Subject",
					  "item:Body",
					  "item:TextBody",
					  "item:Attachments",
					  "item:DateTimeReceived",
					  "item:Importance",
					  "item:DateTimeSent",
					  "item:HasAttachments",
					  "message:ToRecipients",
					  "message:CcRecipients",
					  "message:BccRecipients",
					  "message:From",
					  "message:InternetMessageId",
					  "message:IsRead",
					  "message:ReplyTo",
					  "message:Sender",
					  NULL};

void ews_w_find_items_head(struct ews_op *op, unsigned max,
			   const struct ews_page_pos *pos)
{
	struct sb_xml_w *w = &op->w;
	char num[24];

	sb_xml_w_open(w, "m:FindItem");
	sb_xml_w_attr(w, "Traversal", "Shallow");
	sb_xml_w_open(w, "m:ItemShape");
	sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
	w_fields(w, list_fields);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:IndexedPageItemView");
	snprintf(num, sizeof(num), "%u", max);
	sb_xml_w_attr(w, "MaxEntriesReturned", num);
	sb_xml_w_attr(w, "Offset", "0");
	sb_xml_w_attr(w, "BasePoint", "Beginning");
	sb_xml_w_close(w);
	if (pos && pos->have) {
		char when[32];
		/* before the second after the anchor's: a server keeping
		 * fractions of a second still lists every item of that
		 * second (the seen Ids skip the ones already returned) */
		sb_datetime_format(pos->received + 1, when, sizeof(when));
		sb_xml_w_open(w, "m:Restriction");
		sb_xml_w_open(w, "t:IsLessThan");
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", "item:DateTimeReceived");
		sb_xml_w_close(w);
		sb_xml_w_open(w, "t:FieldURIOrConstant");
		sb_xml_w_open(w, "t:Constant");
		sb_xml_w_attr(w, "Value", when);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
	}
	sb_xml_w_open(w, "m:SortOrder");
	sb_xml_w_open(w, "t:FieldOrder");
	sb_xml_w_attr(w, "Order", "Descending");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", "item:DateTimeReceived");
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:ParentFolderIds");
}

static const char *const attachment_fields[] = {"item:Attachments",
						"item:HasAttachments", NULL};
static const char *const parent_fields[] = {"item:ParentFolderId", NULL};

void ews_w_get_items(struct ews_op *op, const char *const *ids, size_t n,
		     enum ews_get what)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:GetItem");
	sb_xml_w_open(w, "m:ItemShape");
	sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
	if (what == EWS_GET_FULL)
		sb_xml_w_leaf(w, "t:BodyType", "Best");
	w_fields(w, what == EWS_GET_FULL	  ? load_fields
		    : what == EWS_GET_ATTACHMENTS ? attachment_fields
		    : what == EWS_GET_PARENT	  ? parent_fields
						  : recipient_fields);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:ItemIds");
	for (size_t i = 0; i < n; i++)
		w_item_id(w, "t:ItemId", ids[i], NULL);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

void ews_w_get_attachments(struct ews_op *op, const char *const *ids, size_t n)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:GetAttachment");
	sb_xml_w_open(w, "m:AttachmentShape");
	sb_xml_w_leaf(w, "t:IncludeMimeContent", "true");
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:AttachmentIds");
	for (size_t i = 0; i < n; i++)
		w_item_id(w, "t:AttachmentId", ids[i], NULL);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

void ews_w_delete_attachment(struct ews_op *op, const char *id)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:DeleteAttachment");
	sb_xml_w_open(w, "m:AttachmentIds");
	w_item_id(w, "t:AttachmentId", id, NULL);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

void ews_w_move_item_head(struct ews_op *op)
{
	sb_xml_w_open(&op->w, "m:MoveItem");
	sb_xml_w_open(&op->w, "m:ToFolderId");
}

void ews_w_move_item_tail(struct ews_op *op, const char *id)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_close(w); /* m:ToFolderId */
	sb_xml_w_open(w, "m:ItemIds");
	w_item_id(w, "t:ItemId", id, NULL);
	sb_xml_w_close(w);
	sb_xml_w_leaf(w, "m:ReturnNewItemIds", "true");
	sb_xml_w_close(w);
}

void ews_w_delete_item(struct ews_op *op, const char *id, bool hard)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:DeleteItem");
	sb_xml_w_attr(w, "DeleteType",
		      hard ? "HardDelete" : "MoveToDeletedItems");
	sb_xml_w_open(w, "m:ItemIds");
	w_item_id(w, "t:ItemId", id, NULL);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

void ews_w_mark_read(struct ews_op *op, const char *id, const char *ck,
		     bool is_read)
{
	struct sb_xml_w *w = &op->w;
	bool with_ck = ck && *ck;
	sb_xml_w_open(w, "m:UpdateItem");
	sb_xml_w_attr(w, "MessageDisposition", "SaveOnly");
	sb_xml_w_attr(w, "ConflictResolution",
		      with_ck ? "NeverOverwrite" : "AlwaysOverwrite");
	sb_xml_w_open(w, "m:ItemChanges");
	sb_xml_w_open(w, "t:ItemChange");
	w_item_id(w, "t:ItemId", id, ck);
	sb_xml_w_open(w, "t:Updates");
	sb_xml_w_open(w, "t:SetItemField");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", "message:IsRead");
	sb_xml_w_close(w);
	sb_xml_w_open(w, "t:Message");
	sb_xml_w_leaf(w, "t:IsRead", is_read ? "true" : "false");
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}
