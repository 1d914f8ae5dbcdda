/* exchange-ews: the Attachment object — List, Load, Add, Delete — the
 * lazy path for mail too large to load whole (GetItem of the item's
 * attachment descriptions, GetAttachment of one, CreateAttachment,
 * DeleteAttachment). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/schema.h>

#include "ews_mail.h"

#define ID_MAX 1024

static enum sb_status first_message(struct ews_op *op, xmlNode **msg,
				    struct sb_error *err)
{
	*msg = ews_op_first(op);
	if (!*msg)
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "EWS answered without a response message");
	return ews_message_status(*msg, err);
}

/* The row of one described attachment (no content). */
static enum sb_status desc_row(struct sb_result *r,
			       const struct ews_att_desc *d,
			       const char *item_id, const char *item_ck)
{
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_str(r, "Id", d->id);
	if (st == SB_OK && item_id && *item_id)
		st = sb_result_clean_text(r, "ItemId", item_id);
	if (st == SB_OK && item_ck && *item_ck)
		st = sb_result_clean_text(r, "ItemChangeKey", item_ck);
	if (st == SB_OK)
		st = sb_result_str(r, "Name", d->name);
	if (st == SB_OK)
		st = sb_result_str(r, "ContentType", d->content_type);
	if (st == SB_OK && d->size >= 0)
		st = sb_result_int(r, "Size", d->size);
	if (st == SB_OK)
		st = sb_result_bool(r, "IsInline", d->is_inline);
	return st;
}

/* ---- List ------------------------------------------------------------- */

static enum sb_status att_list(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	struct ews_mail_row x = {0};
	const char *item = sb_call_str(call, "ItemId", NULL);
	int64_t size = sb_call_page_size(call);
	uint64_t offset = 0;
	/* the answer is recomputed for every page: the token holds the last
	 * row's Id (the next page starts after it) and the place after it,
	 * used only when that attachment is gone meanwhile (the rows after
	 * it have then moved up by one) */
	char last[SB_PAGE_TOKEN_POS_MAX] = "";

	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("ItemId", item, err);
	const char *bind[] = {"Attachment.List", op.mailbox, item};
	const char *token = sb_call_page_token(call);
	if (st == SB_OK && token) {
		/* the answer is recomputed: the token is an offset in it */
		struct sb_buf b;
		sb_buf_init(&b, SB_PAGE_TOKEN_POS_MAX + 1);
		st = sb_page_token_read(token, bind, 3, &b, err);
		if (st == SB_OK && b.len >= 8) {
			for (int i = 0; i < 8; i++)
				offset = offset << 8 | (unsigned char)b.data[i];
			snprintf(last, sizeof(last), "%.*s", (int)(b.len - 8),
				 b.data + 8);
		} else if (st == SB_OK)
			st = sb_error_set(err, SB_ERR_INVALID_INPUT,
					  SB_PAGE_TOKEN_CODE,
					  "PageToken: not a position of this "
					  "listing");
		sb_buf_free(&b);
	}
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		const char *ids[] = {item};
		ews_w_get_items(&op, ids, 1, EWS_GET_ATTACHMENTS);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = first_message(&op, &msg, err);
	if (st == SB_OK && !ews_mail_row_read(ews_items_first(msg), &x))
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "GetItem answered without the item");
	size_t i = offset < x.n_atts ? (size_t)offset : x.n_atts;
	bool found = false;
	for (size_t k = 0; last[0] && k < x.n_atts; k++)
		if (x.atts[k].id && strcmp(x.atts[k].id, last) == 0) {
			i = k + 1;
			found = true;
			break;
		}
	/* the last row shown is gone: the next one moved up into its place */
	if (last[0] && !found && offset > 0 && offset <= x.n_atts + 1)
		i = (size_t)offset - 1 < x.n_atts ? (size_t)offset - 1
						  : x.n_atts;
	size_t end = i + (size_t)(size > 0 ? size : 1);
	for (; st == SB_OK && i < x.n_atts && i < end; i++) {
		st = desc_row(r, &x.atts[i], x.id, x.change_key);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	if (st == SB_OK && i < x.n_atts) {
		unsigned char pos[SB_PAGE_TOKEN_POS_MAX];
		for (int k = 7, v = 0; k >= 0; k--, v++)
			pos[k] = (unsigned char)((uint64_t)i >> (8 * v));
		const char *lid = i && x.atts[i - 1].id ? x.atts[i - 1].id : "";
		size_t ll = strlen(lid);
		if (ll > sizeof(pos) - 8)
			ll = 0; /* too long to keep: the place alone */
		memcpy(pos + 8, lid, ll);
		char *tok = sb_page_token_new(bind, 3, pos, 8 + ll);
		st = tok ? sb_result_next_page(r, tok)
			 : sb_error_set(err, SB_ERR_INTERNAL, NULL,
					"cannot make a page token");
		free(tok);
	}
	ews_mail_row_free(&x);
	ews_op_free(&op);
	return st;
}

/* ---- Load ------------------------------------------------------------- */

static enum sb_status att_load(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	int64_t cap = ews_max_attachment(state);
	/* the content is decoded while the answer is parsed, into one
	 * buffer: never held as base64 text */
	struct ews_content_sink sink = {.max_each = cap > 0 ? (size_t)cap : 0};
	ews_op_init(&op, state, call, 0);
	op.stream_local = "Content";
	op.stream_sink = ews_content_sink_fn;
	op.stream_arg = &sink;
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		const char *ids[] = {id};
		ews_w_get_attachments(&op, ids, 1);
		st = ews_op_run(&op, err);
		if (st != SB_OK && sink.failed && cap > 0 && sink.n &&
		    sink.bufs[sink.n - 1].failed)
			st = sb_error_set(
			    err, SB_ERR_PAYLOAD_TOO_LARGE,
			    "ErrorMessageSizeExceeded",
			    "Attachment %s: over max_attachment_size "
			    "(%lld)",
			    id, (long long)cap);
		else if (st != SB_OK && err &&
			 !strcmp(err->code, "response_too_large"))
			st = sb_error_set(
			    err, SB_ERR_PAYLOAD_TOO_LARGE,
			    "ErrorMessageSizeExceeded",
			    "Attachment %s: the answer is over "
			    "max_response_size (%lld)",
			    id, (long long)ews_max_response_att(state));
	}
	if (st == SB_OK)
		st = first_message(&op, &msg, err);
	xmlNode *a = sb_xml_first_element(
	    sb_xml_child(msg, SB_NS_EWS_MESSAGES, "Attachments"));
	struct ews_att_desc d = {0};
	if (st == SB_OK && (!a || !ews_att_desc_read(a, &d)))
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "GetAttachment answered without the "
				  "attachment");
	unsigned char *data = NULL;
	size_t len = 0;
	unsigned next = 0;
	if (st == SB_OK && !ews_att_content_from(a, &sink, &next, &data, &len))
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "the attachment's content is missing or not "
				  "base64");
	if (st == SB_OK && cap > 0 && (int64_t)len > cap)
		st = sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
				  "ErrorMessageSizeExceeded",
				  "Attachment %s: %zu bytes, over "
				  "max_attachment_size (%lld)",
				  d.name, len, (long long)cap);
	if (st == SB_OK) {
		const xmlNode *aid =
		    sb_xml_child(a, SB_NS_EWS_TYPES, "AttachmentId");
		d.size = (int64_t)len;
		st = desc_row(r, &d, sb_xml_attr(aid, NULL, "RootItemId"),
			      sb_xml_attr(aid, NULL, "RootItemChangeKey"));
		struct sb_file f = {.name = d.name,
				    .content_type = d.content_type,
				    .data = data,
				    .size = len};
		if (st == SB_OK)
			st = sb_result_file(r, "Content", &f);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	free(data);
	ews_att_desc_free(&d);
	ews_op_free(&op);
	ews_content_sink_free(&sink);
	return st;
}

/* ---- Add, Delete ------------------------------------------------------- */

static enum sb_status att_add(void *state, const struct sb_call *call,
			      struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	const char *item = sb_call_str(call, "ItemId", NULL);
	const char *ck = sb_call_str(call, "ItemChangeKey", NULL);
	const struct sb_file *f = sb_call_file_at(call, "Content", 0);
	bool is_inline = false;
	sb_call_bool(call, "IsInline", &is_inline);
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("ItemId", item, err);
	int64_t cap = ews_max_attachment(state);
	if (st == SB_OK && !f)
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "Content: a file is required");
	if (st == SB_OK && cap > 0 && (int64_t)f->size > cap)
		st = sb_error_set(
		    err, SB_ERR_PAYLOAD_TOO_LARGE, "ErrorMessageSizeExceeded",
		    "Content: %zu bytes, over max_attachment_size "
		    "(%lld)",
		    f->size, (long long)cap);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		struct ews_att_in a = {.name = f->name,
				       .content_type = f->content_type,
				       .data = f->data,
				       .size = f->size,
				       .is_inline = is_inline};
		ews_w_create_attachments(&op, item, ck, &a, 1);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = first_message(&op, &msg, err);
	if (st == SB_OK) {
		const xmlNode *aid =
		    sb_xml_find(msg, SB_NS_EWS_TYPES, "AttachmentId");
		const char *nid = aid ? sb_xml_attr(aid, NULL, "Id") : NULL;
		if (!nid || !*nid) {
			ews_op_free(&op);
			return sb_error_set(err, SB_ERR_UPSTREAM,
					    "invalid_response",
					    "CreateAttachment answered without "
					    "an AttachmentId");
		}
		char *name = sb_clean_file_name(f->name);
		char *ctype = sb_clean_content_type(f->content_type);
		char *cid = sb_clean_text(nid);
		struct ews_att_desc d = {.id = cid,
					 .name = name,
					 .content_type = ctype,
					 .size = (int64_t)f->size,
					 .is_inline = is_inline};
		const char *root = sb_xml_attr(aid, NULL, "RootItemId");
		const char *rck = sb_xml_attr(aid, NULL, "RootItemChangeKey");
		if (!name || !ctype || !cid)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
		else
			st = desc_row(r, &d, root && *root ? root : item, rck);
		if (st != SB_OK && st != SB_ERR_INTERNAL)
			sb_error_set(err, st, NULL, "building the result");
		ews_att_desc_free(&d);
	}
	ews_op_free(&op);
	return st;
}

static enum sb_status att_delete(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		ews_w_delete_attachment(&op, id);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = first_message(&op, &msg, err);
	if (st == SB_OK) {
		const xmlNode *root =
		    sb_xml_child(msg, SB_NS_EWS_MESSAGES, "RootItemId");
		const char *rid = sb_xml_attr(root, NULL, "RootItemId");
		const char *rck = sb_xml_attr(root, NULL, "RootItemChangeKey");
		st = sb_result_row(r);
		if (st == SB_OK)
			st = sb_result_str(r, "Id", id);
		if (st == SB_OK && rid && *rid)
			st = sb_result_clean_text(r, "ItemId", rid);
		if (st == SB_OK && rck && *rck)
			st = sb_result_clean_text(r, "ItemChangeKey", rck);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	ews_op_free(&op);
	return st;
}

/* ---- the table -------------------------------------------------------- */

const struct sb_property ews_attachment_properties[] = {
    {.name = "Id",
     .type = SB_TYPE_TEXT,
     .doc = "Opaque identifier of the attachment (EWS AttachmentId)."},
    {.name = "ItemId",
     .type = SB_TYPE_TEXT,
     .doc = "Id of the message (or other item) the attachment belongs to."},
    {.name = "ItemChangeKey",
     .type = SB_TYPE_TEXT,
     .doc = "ChangeKey of that item after the call (adding or deleting an "
	    "attachment changes it)."},
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "File name."},
    {.name = "ContentType",
     .type = SB_TYPE_TEXT,
     .doc = "MIME type; message/rfc822 for an attached message."},
    {.name = "Size", .type = SB_TYPE_NUMBER, .doc = "Size in bytes."},
    {.name = "IsInline",
     .type = SB_TYPE_BOOLEAN,
     .doc = "Whether the attachment is shown in the body (an inline "
	    "image) rather than listed."},
    {.name = "Content",
     .type = SB_TYPE_FILE,
     .doc = "The file itself (Load only); an attached message as its "
	    "MIME source."},
    SB_PROPERTY_END,
};

#define P_ITEM(req)                                                            \
	{                                                                      \
		.name = "ItemId", .type = SB_TYPE_TEXT, .flags = (req),        \
		.max_size = ID_MAX, .doc = "Id of the message."                \
	}
#define P_ATT_ID                                                               \
	{                                                                      \
		.name = "Id", .type = SB_TYPE_TEXT, .flags = SB_REQUIRED,      \
		.max_size = ID_MAX, .doc = "Id of the attachment."             \
	}

static const struct sb_param list_in[] = {P_ITEM(SB_REQUIRED), SB_PARAM_MAILBOX,
					  SB_PARAM_END};
static const struct sb_param load_in[] = {P_ATT_ID, SB_PARAM_MAILBOX,
					  SB_PARAM_END};
static const struct sb_param delete_in[] = {P_ATT_ID, SB_PARAM_MAILBOX,
					    SB_PARAM_END};
static const struct sb_param add_in[] = {
    P_ITEM(SB_REQUIRED),
    {.name = "ItemChangeKey",
     .type = SB_TYPE_TEXT,
     .max_size = ID_MAX,
     .doc = "The message's ChangeKey: when given, a message changed "
	    "since is not touched (409)."},
    {.name = "Content",
     .type = SB_TYPE_FILE,
     .flags = SB_REQUIRED,
     .doc = "The file to attach (its Name and ContentType go with it)."},
    {.name = "IsInline",
     .type = SB_TYPE_BOOLEAN,
     .doc = "Attach as an inline part (default false)."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};

static const char *const desc_ret[] = {
    "Id",	   "ItemId", "ItemChangeKey", "Name",
    "ContentType", "Size",   "IsInline",      NULL};
static const char *const load_ret[] = {
    "Id",   "ItemId",	"ItemChangeKey", "Name", "ContentType",
    "Size", "IsInline", "Content",	 NULL};
static const char *const delete_ret[] = {"Id", "ItemId", "ItemChangeKey", NULL};

const struct sb_method ews_attachment_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = att_list,
     .doc = "List the attachments of a message (without their content).",
     .inputs = list_in,
     .returns = desc_ret},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = att_load,
     .doc = "Load one attachment with its content.",
     .inputs = load_in,
     .returns = load_ret},
    {.name = "Add",
     .kind = SB_KIND_CREATE,
     .handler = att_add,
     .doc = "Attach a file to a message (a draft, usually).",
     .inputs = add_in,
     .returns = desc_ret},
    {.name = "Delete",
     .kind = SB_KIND_DELETE,
     .handler = att_delete,
     .doc = "Remove an attachment from its message.",
     .inputs = delete_in,
     .returns = delete_ret},
    SB_METHOD_END,
};
