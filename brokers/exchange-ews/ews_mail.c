/* exchange-ews: the Email object — Send, SaveDraft, List, Load, Reply,
 * ReplyAll, Forward, Move, Delete, MarkRead — each one or a few EWS
 * operations.  Request bodies: ews_mail_write.c; reading items:
 * ews_mail_read.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/schema.h>

#include "ews_int.h"
#include "ews_mail.h"

#define MAX_RCPT 500
#define MAX_ATTACHMENTS 100
#define SUBJECT_MAX 4096
#define ID_MAX 1024
#define FOLDER_MAX 1024
#define LIST_MAX 1000 /* rows of one page (the host's PageSize cap) */
#define FIND_MAX 1000 /* entries of one FindItem (Exchange's cap) */
#define FIND_TRIES 4  /* FindItems of one Email.List page */

/* ---- inputs ------------------------------------------------------------- */

/* What a message-writing method was given. */
struct msg_inputs {
	const char **to, **cc, **bcc, **reply_to;
	struct ews_att_in *atts;
	struct ews_msg_in m;
	int64_t att_bytes;
};

/* The items of the multi input name into out, their array in *keep (to
 * free; the strings are the call's).  false when out of memory. */
static bool addrs(const struct sb_call *call, const char *name,
		  struct ews_addrs *out, const char ***keep)
{
	size_t n = sb_call_count(call, name);
	out->v = NULL;
	out->n = 0;
	*keep = NULL;
	if (!n)
		return true;
	const char **v = calloc(n, sizeof(*v));
	if (!v)
		return false;
	for (size_t i = 0; i < n; i++)
		v[i] = sb_call_str_at(call, name, i);
	out->v = v;
	out->n = n;
	*keep = v;
	return true;
}

static void msg_inputs_free(struct msg_inputs *g)
{
	free(g->to);
	free(g->cc);
	free(g->bcc);
	free(g->reply_to);
	free(g->atts);
}

enum { IN_TO = 1, IN_FULL = 2 /* ReplyTo, Subject, Importance, From */ };

/* Read the inputs of a message; checks what can be checked before any
 * request: From is the mailbox acted on, the attachments fit
 * max_attachment_size. */
static enum sb_status msg_inputs_read(struct ews_op *op,
				      const struct sb_call *call,
				      unsigned which, struct msg_inputs *g,
				      struct sb_error *err)
{
	memset(g, 0, sizeof(*g));
	struct ews_msg_in *m = &g->m;
	bool ok = true;
	if (which & IN_TO)
		ok = addrs(call, "To", &m->to, &g->to);
	ok = addrs(call, "Cc", &m->cc, &g->cc) && ok;
	ok = addrs(call, "Bcc", &m->bcc, &g->bcc) && ok;
	if (which & IN_FULL)
		ok = addrs(call, "ReplyTo", &m->reply_to, &g->reply_to) && ok;
	if (!ok)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	m->body = sb_call_str(call, "Body", NULL);
	m->html_body = sb_call_str(call, "HtmlBody", NULL);
	if (which & IN_FULL) {
		m->subject = sb_call_str(call, "Subject", NULL);
		m->importance = sb_call_str(call, "Importance", NULL);
		const char *from = sb_call_str(call, "From", NULL);
		const char *self =
		    op->mailbox ? op->mailbox : ews_account(op->e);
		if (from && (!self || strcasecmp(from, self) != 0))
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "From: %s is not the mailbox acted on (%s); send "
			    "as another mailbox with the Mailbox input",
			    from, self ? self : "unknown");
	}
	/* delegate access sends on behalf of the other mailbox */
	if (op->mailbox && ews_impersonation(op->e) == EWS_IMP_DELEGATE)
		m->from = op->mailbox;

	size_t n = sb_call_count(call, "Attachments");
	if (n) {
		g->atts = calloc(n, sizeof(*g->atts));
		if (!g->atts)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		for (size_t i = 0; i < n; i++) {
			const struct sb_file *f =
			    sb_call_file_at(call, "Attachments", i);
			if (!f)
				return sb_error_set(err, SB_ERR_INVALID_INPUT,
						    NULL,
						    "Attachments[%zu]: not a "
						    "file",
						    i);
			g->atts[i] = (struct ews_att_in){
			    .name = f->name,
			    .content_type = f->content_type,
			    .data = f->data,
			    .size = f->size,
			};
			g->att_bytes += (int64_t)f->size;
		}
		m->atts = g->atts;
		m->n_atts = n;
	}
	int64_t cap = ews_max_attachment(op->e);
	if (cap > 0 && g->att_bytes > cap)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
				    "ErrorMessageSizeExceeded",
				    "Attachments: %lld bytes in all, over "
				    "max_attachment_size (%lld)",
				    (long long)g->att_bytes, (long long)cap);
	return SB_OK;
}

static enum sb_status out_of_memory(struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}

/* The item Id and ChangeKey of the first item of a response message. */
static const xmlNode *first_item_id(const xmlNode *msg)
{
	return sb_xml_child(ews_items_first(msg), SB_NS_EWS_TYPES, "ItemId");
}

static enum sb_status add_strs(struct sb_result *r, const char *name,
			       const struct ews_strs *s)
{
	enum sb_status st = sb_result_empty(r, name);
	for (size_t i = 0; st == SB_OK && i < s->n; i++)
		st = sb_result_str(r, name, s->v[i]);
	return st;
}

static enum sb_status add_addrs(struct sb_result *r, const char *name,
				const struct ews_addrs *a)
{
	enum sb_status st = SB_OK;
	for (size_t i = 0; st == SB_OK && i < a->n; i++)
		st = sb_result_str(r, name, a->v[i]);
	return st;
}

/* Send's row: EWS answers a send with no item, so no Id, ChangeKey or
 * MessageId; every recipient was taken for delivery. */
/* The FolderId of the item id's folder (GetItem) into buf. */
static enum sb_status item_folder(struct ews *e, const struct sb_call *call,
				  const char *mailbox, const char *id,
				  char *buf, size_t n, struct sb_error *err)
{
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	const char *ids[] = {id};
	ews_w_get_items(&op, ids, 1, EWS_GET_PARENT);
	xmlNode *msg = NULL;
	enum sb_status st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	const xmlNode *pf =
	    st == SB_OK ? sb_xml_child(ews_items_first(msg), SB_NS_EWS_TYPES,
				       "ParentFolderId")
			: NULL;
	const char *v = pf ? sb_xml_attr(pf, NULL, "Id") : NULL;
	if (st == SB_OK && (!v || !*v || strlen(v) >= n))
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "GetItem answered without the item's "
				  "ParentFolderId");
	if (st == SB_OK)
		snprintf(buf, n, "%s", v);
	ews_op_free(&op);
	return st;
}

/* The FolderId of the well-known folder wk (GetFolder) into buf. */
static enum sb_status well_known_folder(struct ews *e,
					const struct sb_call *call,
					const char *mailbox, const char *wk,
					char *buf, size_t n,
					struct sb_error *err)
{
	if (ews_wk_get(e, mailbox, wk, buf, n))
		return SB_OK; /* well-known folders keep their Ids */
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	sb_xml_w_open(&op.w, "m:GetFolder");
	sb_xml_w_open(&op.w, "m:FolderShape");
	sb_xml_w_leaf(&op.w, "t:BaseShape", "IdOnly");
	sb_xml_w_close(&op.w);
	sb_xml_w_open(&op.w, "m:FolderIds");
	ews_w_distinguished(&op, wk);
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	xmlNode *msg = NULL;
	enum sb_status st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	const xmlNode *fid =
	    st == SB_OK ? sb_xml_child(sb_xml_first_element(sb_xml_child(
					   msg, SB_NS_EWS_MESSAGES, "Folders")),
				       SB_NS_EWS_TYPES, "FolderId")
			: NULL;
	const char *v = fid ? sb_xml_attr(fid, NULL, "Id") : NULL;
	if (st == SB_OK && (!v || !*v || strlen(v) >= n))
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "GetFolder answered without the FolderId "
				  "of %s",
				  wk);
	if (st == SB_OK) {
		snprintf(buf, n, "%s", v);
		ews_wk_put(e, mailbox, wk, v);
	}
	ews_op_free(&op);
	return st;
}

/* The Folder column of a row: the FolderId of the item id's folder (id
 * given) or of the well-known folder wk, as List and Load give it.  The
 * action is done already: when the lookup fails, fallback (a folder
 * reference Folder inputs take as well) is returned instead, and logged. */
static void folder_col(struct ews *e, const struct sb_call *call,
		       const char *mailbox, const char *id, const char *wk,
		       const char *fallback, char *buf, size_t n)
{
	struct sb_error lerr;
	sb_error_clear(&lerr);
	enum sb_status st =
	    id ? item_folder(e, call, mailbox, id, buf, n, &lerr)
	       : well_known_folder(e, call, mailbox, wk, buf, n, &lerr);
	if (st == SB_OK)
		return;
	ews_host(e)->log(ews_host(e), SB_LOG_WARN,
			 "the result's Folder left as %s: %s", fallback,
			 lerr.message);
	snprintf(buf, n, "%s", fallback);
}

static enum sb_status sent_row(struct sb_result *r, const char *folder,
			       const struct ews_addrs *to,
			       const struct ews_addrs *cc,
			       const struct ews_addrs *bcc,
			       struct sb_error *err)
{
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_clean_text(r, "Folder", folder);
	if (st == SB_OK)
		st = sb_result_empty(r, "Accepted");
	if (st == SB_OK)
		st = add_addrs(r, "Accepted", to);
	if (st == SB_OK)
		st = add_addrs(r, "Accepted", cc);
	if (st == SB_OK)
		st = add_addrs(r, "Accepted", bcc);
	if (st == SB_OK)
		st = sb_result_empty(r, "Rejected");
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "building the result");
	return SB_OK;
}

/* ---- Send, SaveDraft -------------------------------------------------- */

static enum sb_status email_send(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	struct msg_inputs g;
	ews_op_init(&op, state, call, EWS_OP_SEND);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = msg_inputs_read(&op, call, IN_TO | IN_FULL, &g, err);
	else
		memset(&g, 0, sizeof(g));
	if (st == SB_OK) {
		ews_w_create_message(&op, "SendAndSaveCopy", &g.m, true);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, NULL, err);
	char folder[ID_MAX];
	if (st == SB_OK)
		folder_col(state, call, op.mailbox, NULL, "sentitems",
			   "sentitems", folder, sizeof(folder));
	if (st == SB_OK)
		st = sent_row(r, folder, &g.m.to, &g.m.cc, &g.m.bcc, err);
	msg_inputs_free(&g);
	ews_op_free(&op);
	return st;
}

/* Add files to a saved item: its new ChangeKey in ck (size n). */
static enum sb_status attach_files(struct ews *e, const struct sb_call *call,
				   const char *mailbox, const char *id,
				   const char *ck, const struct ews_att_in *a,
				   size_t n, char *new_ck, size_t ck_size,
				   struct sb_error *err)
{
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	ews_w_create_attachments(&op, id, ck, a, n);
	enum sb_status st = ews_op_run(&op, err);
	snprintf(new_ck, ck_size, "%s", ck ? ck : "");
	for (xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL;
	     st == SB_OK && m; m = ews_op_next(m)) {
		st = ews_message_status(m, err);
		xmlNode *aid = sb_xml_find(m, SB_NS_EWS_TYPES, "AttachmentId");
		const char *rck =
		    aid ? sb_xml_attr(aid, NULL, "RootItemChangeKey") : NULL;
		if (st == SB_OK && rck && *rck)
			snprintf(new_ck, ck_size, "%s", rck);
	}
	ews_op_free(&op);
	return st;
}

static enum sb_status email_save_draft(void *state, const struct sb_call *call,
				       struct sb_result *r,
				       struct sb_error *err)
{
	struct ews_op op;
	struct msg_inputs g;
	char id[ID_MAX] = "", ck[ID_MAX] = "";
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = msg_inputs_read(&op, call, IN_TO | IN_FULL, &g, err);
	else
		memset(&g, 0, sizeof(g));
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		ews_w_create_message(&op, "SaveOnly", &g.m, false);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	if (st == SB_OK) {
		const xmlNode *iid = first_item_id(msg);
		const char *v = iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
		if (!v || !*v)
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "CreateItem answered without the "
					  "draft's ItemId");
		else {
			snprintf(id, sizeof(id), "%s", v);
			v = sb_xml_attr(iid, NULL, "ChangeKey");
			snprintf(ck, sizeof(ck), "%s", v ? v : "");
		}
	}
	if (st == SB_OK && g.m.n_atts) {
		char nck[ID_MAX];
		st = attach_files(state, call, op.mailbox, id, ck, g.atts,
				  g.m.n_atts, nck, sizeof(nck), err);
		snprintf(ck, sizeof(ck), "%s", nck);
	}
	char folder[ID_MAX];
	if (st == SB_OK)
		folder_col(state, call, op.mailbox, id, NULL, "drafts", folder,
			   sizeof(folder));
	if (st == SB_OK) {
		st = sb_result_row(r);
		if (st == SB_OK)
			st = sb_result_clean_text(r, "Id", id);
		if (st == SB_OK && *ck)
			st = sb_result_clean_text(r, "ChangeKey", ck);
		if (st == SB_OK)
			st = sb_result_clean_text(r, "Folder", folder);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	msg_inputs_free(&g);
	ews_op_free(&op);
	return st;
}

/* ---- List ------------------------------------------------------------- */

struct page {
	struct ews_mail_row *rows;
	size_t n;
};

static void page_free(struct page *p)
{
	for (size_t i = 0; i < p->n; i++)
		ews_mail_row_free(&p->rows[i]);
	free(p->rows);
}

/* To and Cc of a page's rows, with one GetItem for all of them. */
static enum sb_status page_recipients(struct ews *e, const struct sb_call *call,
				      const char *mailbox, struct page *p,
				      struct sb_error *err)
{
	if (!p->n)
		return SB_OK;
	const char **ids = calloc(p->n, sizeof(*ids));
	if (!ids)
		return out_of_memory(err);
	for (size_t i = 0; i < p->n; i++)
		ids[i] = p->rows[i].id;
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	ews_w_get_items(&op, ids, p->n, EWS_GET_RECIPIENTS);
	enum sb_status st = ews_op_run(&op, err);
	size_t i = 0;
	for (xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL; m && i < p->n;
	     m = ews_op_next(m), i++) {
		struct sb_error ignored;
		/* an item gone since FindItem, or odd: no recipients */
		if (ews_message_status(m, &ignored) != SB_OK)
			continue;
		xmlNode *item = ews_items_first(m);
		if (item)
			ews_mail_row_recipients(&p->rows[i], item);
	}
	ews_op_free(&op);
	free(ids);
	return st;
}

static enum sb_status list_row(struct sb_result *r,
			       const struct ews_mail_row *x)
{
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_str(r, "Id", x->id);
	if (st == SB_OK)
		st = sb_result_str(r, "ChangeKey", x->change_key);
	if (st == SB_OK)
		st = sb_result_str(r, "Folder", x->folder);
	if (st == SB_OK)
		st = sb_result_str(r, "From", x->from);
	if (st == SB_OK)
		st = add_strs(r, "To", &x->to);
	if (st == SB_OK)
		st = add_strs(r, "Cc", &x->cc);
	if (st == SB_OK)
		st = sb_result_str(r, "Subject", x->subject);
	if (st == SB_OK)
		st = sb_result_str(r, "Importance", x->importance);
	if (st == SB_OK)
		st = sb_result_str(r, "Sent", x->sent);
	if (st == SB_OK)
		st = sb_result_str(r, "Received", x->received);
	if (st == SB_OK && x->is_read >= 0)
		st = sb_result_bool(r, "IsRead", x->is_read == 1);
	if (st == SB_OK && x->has_attachments >= 0)
		st = sb_result_bool(r, "HasAttachments",
				    x->has_attachments == 1);
	if (st == SB_OK)
		st = sb_result_str(r, "MessageId", x->message_id);
	return st;
}

/* One FindItem of Email.List: up to want entries, at most size new rows
 * into pg; *more when the folder holds more than were read. */
static enum sb_status find_page(struct ews_op *op, const char *folder,
				unsigned want, size_t size,
				const struct ews_page_pos *pos, struct page *pg,
				bool *more, struct sb_error *err)
{
	*more = false;
	ews_w_find_items_head(op, want, pos);
	enum sb_status st = ews_folder_ref(op, folder, "inbox", err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		sb_xml_w_close(&op->w); /* m:ParentFolderIds */
		sb_xml_w_close(&op->w); /* m:FindItem */
		st = ews_op_run(op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(op, &msg, err);
	if (st != SB_OK)
		return st;
	xmlNode *root = ews_find_root(msg, more, err);
	if (!root)
		return err->status;
	pg->rows = calloc(size, sizeof(*pg->rows));
	if (!pg->rows)
		return out_of_memory(err);
	xmlNode *items = sb_xml_child(root, SB_NS_EWS_TYPES, "Items");
	for (xmlNode *it = sb_xml_first_element(items); it;
	     it = sb_xml_next_element(it)) {
		if (pg->n == size) {
			*more = true; /* unseen rows remain */
			break;
		}
		struct ews_mail_row *x = &pg->rows[pg->n];
		if (!ews_mail_row_read(it, x))
			continue; /* one odd item never fails a List */
		if (pos->have && ews_page_pos_seen(pos, x->id)) {
			ews_mail_row_free(x);
			continue;
		}
		pg->n++;
	}
	return SB_OK;
}

static enum sb_status email_list(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	struct page pg = {0};
	struct ews_page_pos pos = {0};
	const char *folder = sb_call_str(call, "Folder", NULL);
	int64_t size = sb_call_page_size(call);
	if (size < 1 || size > LIST_MAX)
		size = size < 1 ? 1 : LIST_MAX;

	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	const char *bind[] = {"Email.List", op.mailbox, folder};
	const char *token = sb_call_page_token(call);
	if (st == SB_OK && token) {
		struct sb_buf b;
		sb_buf_init(&b, SB_PAGE_TOKEN_POS_MAX + 1);
		st = sb_page_token_read(token, bind, 3, &b, err);
		if (st == SB_OK &&
		    !ews_page_pos_decode((const unsigned char *)b.data, b.len,
					 &pos))
			st = sb_error_set(err, SB_ERR_INVALID_INPUT,
					  SB_PAGE_TOKEN_CODE,
					  "PageToken: not a position of this "
					  "listing");
		sb_buf_free(&b);
	}
	/* rows already returned, or unreadable ones (no ItemId), take
	 * places in FindItem's answer: a page of nothing but those while
	 * more remain asks again for more, so the listing never ends early */
	unsigned want = (unsigned)size + pos.n_seen;
	bool more = false;
	for (unsigned tries = 0; st == SB_OK; tries++) {
		if (tries) {
			page_free(&pg);
			memset(&pg, 0, sizeof(pg));
			ews_op_free(&op);
			ews_op_init(&op, state, call, 0);
			st = ews_op_mailbox(&op, err);
			if (st != SB_OK)
				break;
		}
		st = find_page(&op, folder, want, (size_t)size, &pos, &pg,
			       &more, err);
		if (st != SB_OK || pg.n || !more)
			break;
		if (want >= FIND_MAX || tries == FIND_TRIES) {
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "Email.List: FindItem answered %u "
					  "entries without a readable new "
					  "message, and more remain",
					  want);
			break;
		}
		want = want * 4 > FIND_MAX ? FIND_MAX : want * 4;
	}
	if (st == SB_OK)
		st = page_recipients(state, call, op.mailbox, &pg, err);
	for (size_t i = 0; st == SB_OK && i < pg.n; i++) {
		st = list_row(r, &pg.rows[i]);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	if (st == SB_OK && more && pg.n) {
		struct ews_page_pos next;
		const char **ids = calloc(pg.n, sizeof(*ids));
		int64_t *times = calloc(pg.n, sizeof(*times));
		if (ids && times) {
			for (size_t i = 0; i < pg.n; i++) {
				ids[i] = pg.rows[i].id;
				times[i] = pg.rows[i].received_epoch;
			}
			ews_page_pos_advance(&pos, ids, times, pg.n, &next);
		}
		bool oom = !ids || !times;
		free(ids);
		free(times);
		if (oom) {
			page_free(&pg);
			ews_op_free(&op);
			return out_of_memory(err);
		}
		unsigned char enc[SB_PAGE_TOKEN_POS_MAX];
		size_t len = ews_page_pos_encode(&next, enc, sizeof(enc));
		char *tok = len ? sb_page_token_new(bind, 3, enc, len) : NULL;
		if (!tok)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "cannot make a page token");
		else
			st = sb_result_next_page(r, tok);
		free(tok);
	}
	page_free(&pg);
	ews_op_free(&op);
	return st;
}

/* ---- Load ------------------------------------------------------------- */

/* GetItem of one message with every property Load returns. */
static enum sb_status get_full(struct ews_op *op, const char *id,
			       struct ews_mail_row *row, struct sb_error *err)
{
	const char *ids[] = {id};
	ews_w_get_items(op, ids, 1, EWS_GET_FULL);
	enum sb_status st = ews_op_run(op, err);
	xmlNode *msg = NULL;
	if (st == SB_OK)
		st = ews_op_first_status(op, &msg, err);
	if (st == SB_OK && !ews_mail_row_read(ews_items_first(msg), row))
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "GetItem answered without the item");
	return st;
}

/* The attachments' bytes over the instance's caps: 413 naming the
 * Attachment object, which loads them one at a time. */
static enum sb_status check_sizes(struct ews *e, const struct ews_mail_row *x,
				  struct sb_error *err)
{
	int64_t sum = 0;
	for (size_t i = 0; i < x->n_atts; i++)
		if (x->atts[i].size > 0)
			sum += x->atts[i].size;
	int64_t cap = ews_max_attachment(e);
	int64_t resp = ews_max_response_att(e);
	/* the answer carries them in base64, plus the envelope */
	int64_t wire = (sum + 2) / 3 * 4 + 4 * (int64_t)x->n_atts + 64 * 1024;
	const char *which = NULL;
	int64_t limit = 0;
	if (cap > 0 && sum > cap) {
		which = "max_attachment_size";
		limit = cap;
	} else if (resp > 0 && wire > resp) {
		which = "max_response_size";
		limit = resp;
	}
	if (!which)
		return SB_OK;
	return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
			    "ErrorMessageSizeExceeded",
			    "the message's %zu attachments (%lld bytes) are "
			    "over %s (%lld): load them one at a time with "
			    "Attachment.List and Attachment.Load",
			    x->n_atts, (long long)sum, which, (long long)limit);
}

/* Every attachment of x as a file of the row, with one GetAttachment. */
static enum sb_status
load_attachments(struct ews *e, const struct sb_call *call, const char *mailbox,
		 struct ews_mail_row *x, struct sb_result *r,
		 struct sb_error *err)
{
	const char **ids = calloc(x->n_atts, sizeof(*ids));
	if (!ids)
		return out_of_memory(err);
	for (size_t i = 0; i < x->n_atts; i++)
		ids[i] = x->atts[i].id;
	struct ews_op op;
	struct ews_content_sink sink = {0};
	unsigned next = 0;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	/* files decoded while the answer is parsed, one buffer each */
	op.stream_local = "Content";
	op.stream_sink = ews_content_sink_fn;
	op.stream_arg = &sink;
	ews_w_get_attachments(&op, ids, x->n_atts);
	enum sb_status st = ews_op_run(&op, err);
	if (st != SB_OK && err && !strcmp(err->code, "response_too_large"))
		st = sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
				  "ErrorMessageSizeExceeded",
				  "the message's attachments are over "
				  "max_response_size (%lld): load them one "
				  "at a time with Attachment.List and "
				  "Attachment.Load",
				  (long long)ews_max_response_att(e));
	size_t i = 0;
	for (xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL;
	     st == SB_OK && m && i < x->n_atts; m = ews_op_next(m), i++) {
		struct sb_error ignored;
		if (ews_message_status(m, &ignored) != SB_OK)
			continue; /* gone meanwhile: left out */
		xmlNode *list =
		    sb_xml_child(m, SB_NS_EWS_MESSAGES, "Attachments");
		xmlNode *a = sb_xml_first_element(list);
		if (!a)
			continue;
		unsigned char *data = NULL;
		size_t len = 0;
		if (!ews_att_content_from(a, &sink, &next, &data, &len))
			continue; /* nothing readable: left out */
		struct sb_file f = {.name = x->atts[i].name,
				    .content_type = x->atts[i].content_type,
				    .data = data,
				    .size = len};
		st = sb_result_file(r, "Attachments", &f);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
		free(data);
	}
	ews_op_free(&op);
	ews_content_sink_free(&sink);
	free(ids);
	return st;
}

static enum sb_status email_load(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	struct ews_mail_row x = {0};
	const char *id = sb_call_str(call, "Id", NULL);
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK)
		st = get_full(&op, id, &x, err);
	if (st == SB_OK)
		st = check_sizes(state, &x, err);
	if (st == SB_OK) {
		st = sb_result_row(r);
		if (st == SB_OK)
			st = sb_result_str(r, "Id", x.id);
		if (st == SB_OK)
			st = sb_result_str(r, "ChangeKey", x.change_key);
		if (st == SB_OK)
			st = sb_result_str(r, "Folder", x.folder);
		if (st == SB_OK)
			st = sb_result_str(r, "From", x.from);
		if (st == SB_OK)
			st = add_strs(r, "To", &x.to);
		if (st == SB_OK)
			st = add_strs(r, "Cc", &x.cc);
		if (st == SB_OK)
			st = add_strs(r, "Bcc", &x.bcc);
		if (st == SB_OK)
			st = add_strs(r, "ReplyTo", &x.reply_to);
		if (st == SB_OK)
			st = sb_result_str(r, "Subject", x.subject);
		if (st == SB_OK)
			st = sb_result_str(r, "Body", x.body);
		if (st == SB_OK)
			st = sb_result_str(r, "HtmlBody", x.html_body);
		if (st == SB_OK)
			st = sb_result_str(r, "Importance", x.importance);
		if (st == SB_OK)
			st = sb_result_str(r, "Sent", x.sent);
		if (st == SB_OK)
			st = sb_result_str(r, "Received", x.received);
		if (st == SB_OK && x.is_read >= 0)
			st = sb_result_bool(r, "IsRead", x.is_read == 1);
		if (st == SB_OK)
			st = sb_result_bool(r, "HasAttachments",
					    x.n_atts > 0 ||
						x.has_attachments == 1);
		if (st == SB_OK)
			st = sb_result_str(r, "MessageId", x.message_id);
		if (st == SB_OK)
			st = sb_result_empty(r, "Attachments");
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	if (st == SB_OK && x.n_atts)
		st = load_attachments(state, call, op.mailbox, &x, r, err);
	ews_mail_row_free(&x);
	ews_op_free(&op);
	return st;
}

/* ---- Reply, ReplyAll, Forward ------------------------------------------ */

static bool is_self(const char *a, const char *self)
{
	return self && strcasecmp(a, self) == 0;
}

static void accepted_add(struct sb_result *r, const char *a, const char *self,
			 bool skip_self, enum sb_status *st)
{
	if (*st == SB_OK && a && !(skip_self && is_self(a, self)))
		*st = sb_result_str(r, "Accepted", a);
}

static enum sb_status respond(void *state, const struct sb_call *call,
			      struct sb_result *r, struct sb_error *err,
			      const char *kind)
{
	struct ews *e = state;
	struct ews_op op;
	struct msg_inputs g;
	struct ews_mail_row orig = {0};
	bool forward = strcmp(kind, "ForwardItem") == 0;
	bool all = strcmp(kind, "ReplyAllToItem") == 0;
	const char *id = sb_call_str(call, "Id", NULL);

	/* the original first: a wrong Id fails before anything is sent,
	 * and its recipients make the Accepted column */
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	const char *mailbox = op.mailbox;
	if (st == SB_OK)
		st = msg_inputs_read(&op, call, forward ? IN_TO : 0, &g, err);
	else
		memset(&g, 0, sizeof(g));
	if (st == SB_OK)
		st = get_full(&op, id, &orig, err);
	ews_op_free(&op);

	bool staged = g.m.n_atts > 0;
	char did[ID_MAX] = "", dck[ID_MAX] = "";
	if (st == SB_OK) {
		/* with files: saved as a draft, files added, then sent */
		ews_op_init(&op, e, call, staged ? 0 : EWS_OP_SEND);
		op.mailbox = mailbox;
		ews_w_response_object(&op, kind,
				      staged ? "SaveOnly" : "SendAndSaveCopy",
				      orig.id, orig.change_key, &g.m);
		st = ews_op_run(&op, err);
		xmlNode *msg = NULL;
		if (st == SB_OK)
			st = ews_op_first_status(&op, &msg, err);
		if (st == SB_OK && staged) {
			const xmlNode *iid = first_item_id(msg);
			const char *v =
			    iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
			const char *c =
			    iid ? sb_xml_attr(iid, NULL, "ChangeKey") : NULL;
			if (!v || !*v)
				st = sb_error_set(err, SB_ERR_UPSTREAM,
						  "invalid_response",
						  "CreateItem answered without "
						  "the answer's ItemId");
			else {
				snprintf(did, sizeof(did), "%s", v);
				snprintf(dck, sizeof(dck), "%s", c ? c : "");
			}
		}
		ews_op_free(&op);
	}
	if (st == SB_OK && staged) {
		char nck[ID_MAX];
		st = attach_files(e, call, mailbox, did, dck, g.atts,
				  g.m.n_atts, nck, sizeof(nck), err);
		if (st == SB_OK) {
			ews_op_init(&op, e, call, EWS_OP_SEND);
			op.mailbox = mailbox;
			ews_w_send_item(&op, did, nck);
			st = ews_op_run(&op, err);
			if (st == SB_OK)
				st = ews_op_first_status(&op, NULL, err);
			ews_op_free(&op);
		}
	}
	char folder[ID_MAX];
	if (st == SB_OK)
		folder_col(e, call, mailbox, NULL, "sentitems", "sentitems",
			   folder, sizeof(folder));
	if (st == SB_OK) {
		const char *self = mailbox ? mailbox : ews_account(e);
		st = sb_result_row(r);
		if (st == SB_OK)
			st = sb_result_clean_text(r, "Folder", folder);
		if (st == SB_OK)
			st = sb_result_empty(r, "Accepted");
		if (!forward) {
			if (orig.reply_to.n)
				for (size_t i = 0; i < orig.reply_to.n; i++)
					accepted_add(r, orig.reply_to.v[i],
						     self, false, &st);
			else
				accepted_add(r, orig.from, self, false, &st);
			for (size_t i = 0; all && i < orig.to.n; i++)
				accepted_add(r, orig.to.v[i], self, true, &st);
			for (size_t i = 0; all && i < orig.cc.n; i++)
				accepted_add(r, orig.cc.v[i], self, true, &st);
		}
		if (st == SB_OK)
			st = add_addrs(r, "Accepted", &g.m.to);
		if (st == SB_OK)
			st = add_addrs(r, "Accepted", &g.m.cc);
		if (st == SB_OK)
			st = add_addrs(r, "Accepted", &g.m.bcc);
		if (st == SB_OK)
			st = sb_result_empty(r, "Rejected");
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	ews_mail_row_free(&orig);
	msg_inputs_free(&g);
	return st;
}

static enum sb_status email_reply(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return respond(state, call, r, err, "ReplyToItem");
}

static enum sb_status email_reply_all(void *state, const struct sb_call *call,
				      struct sb_result *r, struct sb_error *err)
{
	return respond(state, call, r, err, "ReplyAllToItem");
}

static enum sb_status email_forward(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	return respond(state, call, r, err, "ForwardItem");
}

/* ---- Move, Delete, MarkRead ------------------------------------------- */

/* The Id and ChangeKey of the first item of the answer, to the row; an
 * answer without an Id is refused when there is no fallback_id. */
static enum sb_status id_row(struct sb_result *r, const xmlNode *msg,
			     const char *fallback_id, const char *folder,
			     struct sb_error *err)
{
	const xmlNode *iid = first_item_id(msg);
	const char *id = iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
	const char *ck = iid ? sb_xml_attr(iid, NULL, "ChangeKey") : NULL;
	if ((!id || !*id) && !fallback_id)
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "EWS answered without the item's new Id");
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st =
		    sb_result_clean_text(r, "Id", id && *id ? id : fallback_id);
	if (st == SB_OK && ck && *ck)
		st = sb_result_clean_text(r, "ChangeKey", ck);
	if (st == SB_OK && folder)
		st = sb_result_str(r, "Folder", folder);
	if (st != SB_OK)
		sb_error_set(err, st, NULL, "building the result");
	return st;
}

static enum sb_status email_move(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	const char *folder = sb_call_str(call, "Folder", NULL);
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK) {
		ews_w_move_item_head(&op);
		st = ews_folder_ref(&op, folder, NULL, err);
	}
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		ews_w_move_item_tail(&op, id);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	/* EWS gives the moved message a new Id: the row carries it (an
	 * answer without it is refused: the old Id names nothing now),
	 * and the FolderId of where it is now */
	const xmlNode *iid = st == SB_OK ? first_item_id(msg) : NULL;
	const char *nid = iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
	char fid[ID_MAX];
	if (nid && *nid)
		folder_col(state, call, op.mailbox, nid, NULL,
			   folder && *folder ? folder : "inbox", fid,
			   sizeof(fid));
	if (st == SB_OK)
		st = id_row(r, msg, NULL, nid && *nid ? fid : folder, err);
	ews_op_free(&op);
	return st;
}

/* Like mapi-stub: without HardDelete a message is moved to Deleted Items
 * (a new Id there, returned with its ChangeKey and Folder), and removed
 * for good when it already is in Deleted Items. */
static enum sb_status email_delete(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	bool hard = false;
	sb_call_bool(call, "HardDelete", &hard);
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	char parent[ID_MAX], deleted[ID_MAX];
	if (st == SB_OK && !hard) {
		st = item_folder(e, call, op.mailbox, id, parent,
				 sizeof(parent), err);
		if (st == SB_OK)
			st = well_known_folder(e, call, op.mailbox,
					       "deleteditems", deleted,
					       sizeof(deleted), err);
		if (st == SB_OK && !strcmp(parent, deleted))
			hard = true;
	}
	xmlNode *msg = NULL;
	if (st == SB_OK && !hard) {
		ews_w_move_item_head(&op);
		st = ews_folder_ref(&op, "deleteditems", NULL, err);
		if (st == SB_OK) {
			ews_w_move_item_tail(&op, id);
			st = ews_op_run(&op, err);
		}
		if (st == SB_OK)
			st = ews_op_first_status(&op, &msg, err);
		if (st == SB_OK)
			st = id_row(r, msg, NULL, deleted, err);
		ews_op_free(&op);
		return st;
	}
	if (st == SB_OK) {
		ews_w_delete_item(&op, id, true);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, NULL, err);
	if (st == SB_OK) {
		st = sb_result_row(r);
		if (st == SB_OK)
			st = sb_result_str(r, "Id", id);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	ews_op_free(&op);
	return st;
}

static enum sb_status email_mark_read(void *state, const struct sb_call *call,
				      struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	const char *ck = sb_call_str(call, "ChangeKey", NULL);
	bool is_read = true;
	sb_call_bool(call, "IsRead", &is_read);
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK && ck && *ck)
		st = ews_check_id("ChangeKey", ck, err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		ews_w_mark_read(&op, id, ck, is_read);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	if (st == SB_OK)
		st = id_row(r, msg, id, NULL, err);
	if (st == SB_OK) {
		st = sb_result_bool(r, "IsRead", is_read);
		if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	ews_op_free(&op);
	return st;
}

/* ---- the table -------------------------------------------------------- */

#define P_ID                                                                   \
	{                                                                      \
		.name = "Id", .type = SB_TYPE_TEXT, .flags = SB_REQUIRED,      \
		.max_size = ID_MAX, .doc = "Id of the message (EWS ItemId)."   \
	}
#define P_CC                                                                   \
	{                                                                      \
		.name = "Cc", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,        \
		.max_size = MAX_RCPT, .doc = "Carbon-copy recipients."         \
	}
#define P_BCC                                                                  \
	{                                                                      \
		.name = "Bcc", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,       \
		.max_size = MAX_RCPT,                                          \
		.doc = "Blind carbon-copy recipients: delivered to, never "    \
		       "shown to "                                             \
		       "the others."                                           \
	}
#define P_BODY                                                                 \
	{                                                                      \
		.name = "Body", .type = SB_TYPE_MEMO,                          \
		.doc = "Plain-text body (UTF-8)."                              \
	}
#define P_HTML                                                                 \
	{                                                                      \
		.name = "HtmlBody", .type = SB_TYPE_MEMO,                      \
		.doc = "HTML body (UTF-8).  EWS carries one body: with both, " \
		       "HtmlBody is sent and Body is not."                     \
	}
#define P_ATTS                                                                 \
	{                                                                      \
		.name = "Attachments", .type = SB_TYPE_FILE,                   \
		.flags = SB_MULTI, .max_size = MAX_ATTACHMENTS,                \
		.doc = "Files to attach, at most 100, within "                 \
		       "max_attachment_size "                                  \
		       "in all."                                               \
	}

#define IN_MESSAGE                                                             \
	P_CC, P_BCC,                                                           \
	    {.name = "ReplyTo",                                                \
	     .type = SB_TYPE_EMAIL,                                            \
	     .flags = SB_MULTI,                                                \
	     .max_size = 20,                                                   \
	     .doc = "Addresses replies should go to."},                        \
	    {.name = "Subject",                                                \
	     .type = SB_TYPE_TEXT,                                             \
	     .max_size = SUBJECT_MAX,                                          \
	     .doc = "Subject line (UTF-8)."},                                  \
	    P_BODY, P_HTML,                                                    \
	    {.name = "Importance",                                             \
	     .type = SB_TYPE_ENUM,                                             \
	     .choices = sb_importance_choices,                                 \
	     .doc = "Low, Normal or High."},                                   \
	    P_ATTS,                                                            \
	    {.name = "From",                                                   \
	     .type = SB_TYPE_EMAIL,                                            \
	     .doc = "Sender; must be the mailbox acted on (the default)."},    \
	    SB_PARAM_MAILBOX

static const struct sb_param send_in[] = {
    {.name = "To",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI | SB_REQUIRED,
     .max_size = MAX_RCPT,
     .doc = "Primary recipients."},
    IN_MESSAGE,
    SB_PARAM_END,
};
static const struct sb_param draft_in[] = {
    {.name = "To",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI,
     .max_size = MAX_RCPT,
     .doc = "Primary recipients."},
    IN_MESSAGE,
    SB_PARAM_END,
};
static const struct sb_param reply_in[] = {
    P_ID, P_BODY, P_HTML, P_CC, P_BCC, P_ATTS, SB_PARAM_MAILBOX, SB_PARAM_END,
};
static const struct sb_param forward_in[] = {
    P_ID,
    {.name = "To",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI | SB_REQUIRED,
     .max_size = MAX_RCPT,
     .doc = "Recipients of the forwarded message."},
    P_CC,
    P_BCC,
    P_BODY,
    P_HTML,
    P_ATTS,
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param list_in[] = {
    {.name = "Folder",
     .type = SB_TYPE_TEXT,
     .max_size = FOLDER_MAX,
     .doc = "Folder to list: an EWS FolderId, a well-known id (inbox, "
	    "drafts, sentitems, deleteditems, outbox, junkemail) or a "
	    "folder's name; default Inbox."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param load_in[] = {
    P_ID,
    {.name = "Folder",
     .type = SB_TYPE_TEXT,
     .max_size = FOLDER_MAX,
     .doc = "Accepted for compatibility: an EWS Id names one item of the "
	    "whole mailbox, so the folder is not needed to find it."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param move_in[] = {
    P_ID,
    {.name = "Folder",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = FOLDER_MAX,
     .doc = "Destination folder: FolderId, well-known id or name."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param delete_in[] = {
    P_ID,
    {.name = "HardDelete",
     .type = SB_TYPE_BOOLEAN,
     .doc = "Remove the message for good instead of moving it to Deleted "
	    "Items."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param markread_in[] = {
    P_ID,
    {.name = "IsRead",
     .type = SB_TYPE_BOOLEAN,
     .doc = "true (the default) marks the message read, false unread."},
    {.name = "ChangeKey",
     .type = SB_TYPE_TEXT,
     .max_size = ID_MAX,
     .doc = "The message's ChangeKey: when given, a message changed since "
	    "(a stale ChangeKey) is not updated and the call answers 409."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};

static const char *const send_ret[] = {
    "Id", "ChangeKey", "Folder", "MessageId", "Accepted", "Rejected", NULL};
static const char *const draft_ret[] = {"Id", "ChangeKey", "Folder",
					"MessageId", NULL};
static const char *const list_ret[] = {
    "Id",     "ChangeKey",	"Folder",     "From", "To",
    "Cc",     "Subject",	"Importance", "Sent", "Received",
    "IsRead", "HasAttachments", "MessageId",  NULL};
static const char *const load_ret[] = {
    "Id",	   "ChangeKey", "Folder",   "From",
    "To",	   "Cc",	"Bcc",	    "ReplyTo",
    "Subject",	   "Body",	"HtmlBody", "Importance",
    "Sent",	   "Received",	"IsRead",   "HasAttachments",
    "Attachments", "MessageId", NULL};
static const char *const move_ret[] = {"Id", "ChangeKey", "Folder", NULL};
static const char *const markread_ret[] = {"Id", "ChangeKey", "Folder",
					   "IsRead", NULL};

const struct sb_method ews_email_methods[] = {
    {.name = "Send",
     .kind = SB_KIND_EXECUTE,
     .handler = email_send,
     .doc = "Send a message (EWS CreateItem, SendAndSaveCopy): a copy is "
	    "kept in Sent Items.  EWS answers a send with no item, so the "
	    "row has no Id; Accepted lists every recipient taken.  Never "
	    "repeated unless the server certainly did not take it.",
     .inputs = send_in,
     .returns = send_ret},
    {.name = "SaveDraft",
     .kind = SB_KIND_CREATE,
     .handler = email_save_draft,
     .doc = "Save a message in the Drafts folder without sending it.",
     .inputs = draft_in,
     .returns = draft_ret},
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = email_list,
     .doc = "List the messages of a folder, newest first (headers, To and "
	    "Cc; use Load for bodies and attachments).  A page token "
	    "survives new mail arriving: no message is listed twice.",
     .inputs = list_in,
     .returns = list_ret},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = email_load,
     .doc = "Load one message with its bodies and attachments (attached "
	    "messages as message/rfc822 files).  Attachments over "
	    "max_attachment_size or max_response_size answer 413: load "
	    "them with the Attachment object.",
     .inputs = load_in,
     .returns = load_ret},
    {.name = "Reply",
     .kind = SB_KIND_EXECUTE,
     .handler = email_reply,
     .doc = "Answer the sender (Reply-To, else From): the new text first, "
	    "then the original quoted; Subject gets \"RE: \".",
     .inputs = reply_in,
     .returns = send_ret},
    {.name = "ReplyAll",
     .kind = SB_KIND_EXECUTE,
     .handler = email_reply_all,
     .doc = "Answer the sender and every To and Cc recipient except the "
	    "mailbox itself.",
     .inputs = reply_in,
     .returns = send_ret},
    {.name = "Forward",
     .kind = SB_KIND_EXECUTE,
     .handler = email_forward,
     .doc = "Forward a message with its attachments; Subject gets "
	    "\"FW: \".",
     .inputs = forward_in,
     .returns = send_ret},
    {.name = "Move",
     .kind = SB_KIND_UPDATE,
     .handler = email_move,
     .doc = "Move a message to another folder.  EWS gives the moved "
	    "message a new Id: the row carries it.",
     .inputs = move_in,
     .returns = move_ret},
    {.name = "Delete",
     .kind = SB_KIND_DELETE,
     .handler = email_delete,
     .doc = "Move a message to Deleted Items (it gets a new Id there, "
	    "returned with its ChangeKey and Folder), or remove it for good "
	    "when HardDelete is true or it already is in Deleted Items.",
     .inputs = delete_in,
     .returns = move_ret},
    {.name = "MarkRead",
     .kind = SB_KIND_UPDATE,
     .handler = email_mark_read,
     .doc = "Mark a message read or unread; its Id does not change, its "
	    "ChangeKey does.",
     .inputs = markread_in,
     .returns = markread_ret},
    SB_METHOD_END,
};
