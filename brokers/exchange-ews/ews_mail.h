/* exchange-ews: the parts of Email and Attachment that need no server —
 * building request bodies (ews_mail_write.c) and reading items and
 * attachments into row values (ews_mail_read.c).  Shared by ews_mail.c,
 * ews_attach.c and their unit test.
 */
#ifndef EWS_MAIL_H
#define EWS_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include <svcbroker/sdk.h>
#include <svcbroker/types.h>
#include <svcbroker/xml.h>

#include "ews.h"

/* ---- building requests (ews_mail_write.c) ------------------------------ */

/* Addresses of a message to write (each a valid SMTP address). */
struct ews_addrs {
	const char *const *v;
	size_t n;
};

/* A file to attach: bytes as given (encoded to base64 while written). */
struct ews_att_in {
	const char *name;
	const char *content_type;
	const unsigned char *data;
	size_t size;
	bool is_inline;
};

/* A message to write (Send, SaveDraft, Reply, ReplyAll, Forward).  NULL
 * strings and empty lists are left out. */
struct ews_msg_in {
	const char *subject;
	const char *body;	/* plain text */
	const char *html_body;	/* wins over body: EWS carries one body */
	const char *importance; /* Low, Normal, High */
	const char *from;	/* delegate sends on behalf of this mailbox */
	struct ews_addrs to, cc, bcc, reply_to;
	const struct ews_att_in *atts;
	size_t n_atts;
};

/* An item or attachment Id input checked before any request: EWS ids
 * are base64 (also its URL-safe alphabet).  SB_OK, or 400 with the code
 * ErrorInvalidIdMalformed naming the input. */
enum sb_status ews_check_id(const char *input, const char *id,
			    struct sb_error *err);

/* <t:DistinguishedFolderId Id="id"> with the op's mailbox addressing. */
void ews_w_distinguished(struct ews_op *op, const char *id);

/* The m:CreateItem of one t:Message: disposition "SendAndSaveCopy" (saved
 * in sentitems) or "SaveOnly" (saved in drafts).  with_atts: the
 * message's attachments go in the same request. */
void ews_w_create_message(struct ews_op *op, const char *disposition,
			  const struct ews_msg_in *m, bool with_atts);

/* The m:CreateItem of a response object: kind "ReplyToItem",
 * "ReplyAllToItem" or "ForwardItem" referring to item ref (ChangeKey
 * ref_ck may be NULL); the new text goes in NewBodyContent (HTML when
 * html_body is given), To (Forward), Cc and Bcc are added recipients.
 * disposition "SendAndSaveCopy", or "SaveOnly" (into drafts) when
 * attachments must be added before the answer is sent. */
void ews_w_response_object(struct ews_op *op, const char *kind,
			   const char *disposition, const char *ref,
			   const char *ref_ck, const struct ews_msg_in *m);

/* m:SendItem of a saved draft (SaveItemToFolder true: sentitems). */
void ews_w_send_item(struct ews_op *op, const char *id, const char *ck);

/* m:CreateAttachment of files under item parent (ChangeKey may be NULL). */
void ews_w_create_attachments(struct ews_op *op, const char *parent,
			      const char *parent_ck,
			      const struct ews_att_in *atts, size_t n);

/* Email.List's page position: the DateTimeReceived (epoch seconds) of the
 * last dated row returned and the hashes of the Ids returned that the next
 * page may meet again: those of the anchor's second, and those of rows
 * whose time was unreadable (their place in the listing is known, their
 * second is not).  A message arriving meanwhile is newer than the anchor
 * and never enters the rest of the listing; none is returned twice nor
 * skipped. */
#define EWS_PAGE_SEEN_MAX 240
struct ews_page_pos {
	bool have; /* false: the first page */
	int64_t received;
	unsigned n_seen;
	unsigned n_undated; /* seen[0..n_undated): rows without a time */
	uint64_t seen[EWS_PAGE_SEEN_MAX];
};
/* The anchor of a listing whose first page has no readable time:
 * 9999-12-31T23:59:58Z, so the next page asks for everything */
#define EWS_PAGE_END INT64_C(253402300798)
uint64_t ews_id_hash(const char *id);
bool ews_page_pos_seen(const struct ews_page_pos *p, const char *id);
/* Append a hash (false when the position is full). */
bool ews_page_pos_add(struct ews_page_pos *p, const char *id);
/* The position after a page of n rows (Ids and DateTimeReceived, -1 when
 * unreadable, in the listing's order) returned from position pos. */
void ews_page_pos_advance(const struct ews_page_pos *pos,
			  const char *const *ids, const int64_t *received,
			  size_t n, struct ews_page_pos *next);
/* Serialised form for sb_page_token_new / back from sb_page_token_read. */
size_t ews_page_pos_encode(const struct ews_page_pos *p, unsigned char *out,
			   size_t n);
bool ews_page_pos_decode(const unsigned char *in, size_t len,
			 struct ews_page_pos *p);

/* The m:FindItem of Email.List up to and including the opening of
 * m:ParentFolderIds (the caller writes the folder reference and closes
 * both): at most max rows, newest first, received before the second
 * after the position's time when it has one. */
void ews_w_find_items_head(struct ews_op *op, unsigned max,
			   const struct ews_page_pos *pos);

/* m:GetItem of ids[0..n), asking for: */
enum ews_get {
	EWS_GET_RECIPIENTS, /* To and Cc (Email.List adds them to FindItem's) */
	EWS_GET_FULL,	    /* everything Email.Load returns */
	EWS_GET_ATTACHMENTS, /* the attachments' descriptions */
	EWS_GET_PARENT	     /* its folder (ParentFolderId) only */
};
void ews_w_get_items(struct ews_op *op, const char *const *ids, size_t n,
		     enum ews_get what);

/* m:GetAttachment of ids[0..n) (attached items with their MIME content). */
void ews_w_get_attachments(struct ews_op *op, const char *const *ids, size_t n);
/* m:DeleteAttachment of one attachment. */
void ews_w_delete_attachment(struct ews_op *op, const char *id);
/* m:MoveItem of one item (returning its new Id), up to and including the
 * opening of m:ToFolderId: the caller writes the folder reference then
 * calls ews_w_move_item_tail. */
void ews_w_move_item_head(struct ews_op *op);
void ews_w_move_item_tail(struct ews_op *op, const char *id);
/* m:DeleteItem of one item: HardDelete or MoveToDeletedItems. */
void ews_w_delete_item(struct ews_op *op, const char *id, bool hard);
/* m:UpdateItem setting message:IsRead (ChangeKey given: a stale one is a
 * conflict; else the change always applies). */
void ews_w_mark_read(struct ews_op *op, const char *id, const char *ck,
		     bool is_read);

/* ---- reading answers (ews_mail_read.c) --------------------------------- */

struct ews_strs {
	char **v;
	size_t n, cap;
};

/* One attachment as an item's t:Attachments describes it. */
struct ews_att_desc {
	char *id;
	char *name;	    /* cleaned file name ("attachment" when none) */
	char *content_type; /* cleaned */
	int64_t size;	    /* -1: unknown */
	bool is_inline;
	bool is_item; /* an attached message (ItemAttachment) */
};

/* An item read into the values a row may carry: every string cleaned for
 * its type, addresses valid SMTP (EX ones resolved or left out), dates
 * valid RFC 3339 or NULL. */
struct ews_mail_row {
	char *id, *change_key, *folder;
	char *from;
	struct ews_strs to, cc, bcc, reply_to;
	char *subject, *body, *html_body;
	const char *importance; /* static: Low, Normal, High, or NULL */
	char *sent, *received;
	int64_t received_epoch; /* -1 when no valid DateTimeReceived */
	int is_read;		/* -1 unknown */
	int has_attachments;	/* -1 unknown */
	char *message_id;
	struct ews_att_desc *atts;
	size_t n_atts;
};

/* Read a t:Message (or any t:*Item) into row.  false (row empty) when it
 * has no usable ItemId or memory ran out; odd values are left out, never
 * fail the item. */
bool ews_mail_row_read(const xmlNode *item, struct ews_mail_row *row);
/* Add the To/Cc (and Bcc/ReplyTo when absent) of another answer's copy
 * of the same item. */
void ews_mail_row_recipients(struct ews_mail_row *row, const xmlNode *item);
void ews_mail_row_free(struct ews_mail_row *row);

/* One t:FileAttachment or t:ItemAttachment described (no content). */
bool ews_att_desc_read(const xmlNode *a, struct ews_att_desc *d);
void ews_att_desc_free(struct ews_att_desc *d);
/* Its content decoded: a file's t:Content, an attached message's
 * t:MimeContent; false (nothing allocated) when it has none or it is not
 * base64. */
bool ews_att_content(const xmlNode *a, unsigned char **data, size_t *n);

/* Attachment content decoded while the answer is parsed: an
 * sb_xml_sink_fn for sb_xml_stream_* on t:Content, keeping each
 * element's bytes (index 0, 1, ... in document order) in its own buffer
 * of at most max_each bytes (0: 64 MiB), so no base64 text is ever held
 * whole and no copy of the bytes is made while parsing. */
struct ews_content_sink {
	struct sb_buf *bufs;
	unsigned n, cap;
	size_t max_each;
	bool failed; /* out of memory or over max_each */
};
bool ews_content_sink_fn(void *arg, unsigned index, const void *data,
			 size_t len);
void ews_content_sink_free(struct ews_content_sink *s);
/* The content of attachment element a: from the sink when the file's
 * t:Content was streamed (its index: the count of streamed t:Content
 * elements before it in the document, kept by the caller in *next), else
 * from the tree as ews_att_content.  The bytes are taken from the sink
 * (no copy): free *data. */
bool ews_att_content_from(const xmlNode *a, struct ews_content_sink *s,
			  unsigned *next, unsigned char **data, size_t *n);

/* The item element (t:Message, t:Item, ...) of a GetItem/FindItem/
 * CreateItem response message's m:Items, the first one or the next. */
xmlNode *ews_items_first(const xmlNode *msg);

/* Text helpers. */
char *ews_text_clean(const xmlNode *n, bool memo); /* NULL when absent */

#endif
