/* exchange-ews broker — declarations shared by the files of this module.
 *
 * The files:
 *   ews_broker.c      configuration keys, open/close/test, the object table
 *   ews_client.c      one EWS operation: envelope, authentication,
 *                     impersonation, throttling, response messages
 *   ews_errors.c      ResponseCode -> status (the table of the broker's docs)
 *   ews_autodiscover.c POX Autodiscover and its per-instance cache
 *   ews_values.c      values from and to EWS (dates, mailboxes, text)
 *   ews_folder.c      Folder (List, Load, Create) and folder references
 *   ews_contact.c     Contact.Resolve
 *   ews_oof.c         AutomaticReply (Load, Save)
 *   ews_service.c     Service (Autodiscover, Test)
 *   ews_mail.c        Email
 *   ews_attach.c      Attachment
 *   ews_rooms.c       RoomList, Room; paging over a recomputed answer
 *   ews_avail.c       Availability, MeetingTimeSuggestion
 *   ews_task.c        Task
 *
 * A handler builds the first child of soap:Body with an sb_xml_w into
 * op.body, runs it with ews_op_run and reads the response messages:
 *
 *   struct ews_op op;
 *   ews_op_init(&op, e, call, 0);
 *   st = ews_op_mailbox(&op, err);            // the Mailbox input
 *   sb_xml_w_open(&op.w, "m:GetFolder"); ... sb_xml_w_close(&op.w);
 *   st = ews_op_run(&op, err);                // SB_OK: op.messages set
 *   for (xmlNode *m = ews_op_first(&op); m; m = ews_op_next(m))
 *           st = ews_message_status(m, err); ...
 *   ews_op_free(&op);
 *
 * Prefixes in op.w: "m" (messages), "t" (types); the envelope declares
 * them.  Everything here is thread-safe: one struct ews serves every
 * concurrent call of its instance.
 */
#ifndef EWS_H
#define EWS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/http.h>
#include <svcbroker/oauth2.h>
#include <svcbroker/sdk.h>
#include <svcbroker/xml.h>

/* ---- configuration and instance (ews_broker.c) -------------------------- */

enum ews_impersonation {
	EWS_IMP_NONE = 0,    /* a call naming a Mailbox: 405 */
	EWS_IMP_IMPERSONATE, /* ExchangeImpersonation + X-AnchorMailbox */
	EWS_IMP_DELEGATE,    /* DistinguishedFolderId/Mailbox, send on behalf */
};

struct ews; /* one instance; fields private to ews_broker.c/ews_client.c */

/* What the object files need to know of their instance. */
const struct sb_host *ews_host(const struct ews *e);
enum ews_impersonation ews_impersonation(const struct ews *e);
/* max_attachment_size (bytes; 0: none of its own) and the response cap
 * (max_response_size). */
int64_t ews_max_attachment(const struct ews *e);
int64_t ews_max_response(const struct ews *e);
/* The cap of an answer carrying attachment content (GetAttachment):
 * max_response_size, raised when needed to max_attachment_size in base64
 * plus EWS_ATT_ENVELOPE_MARGIN, so that every attachment the instance
 * accepts can also be loaded. */
#define EWS_ATT_ENVELOPE_MARGIN ((int64_t)1024 * 1024)
int64_t ews_max_response_att(const struct ews *e);
/* The configured account's own SMTP address if known (username when it
 * is one, or autodiscover_email), else NULL. */
const char *ews_account(const struct ews *e);
/* The instance's timezone key as configured (an IANA name or a Windows
 * id; NULL when not set). */
const char *ews_timezone_name(const struct ews *e);

/* A zone for date arithmetic (Task dates at local midnight): what
 * ews_timezone_id accepts, as ICU's calendar of its IANA zone (a Windows
 * id: the zone CLDR gives for it), with ICU's own copy of the TZ
 * database.  NULL when the name maps to none or out of memory.  One
 * ews_zone per thread at a time (ICU calendars are not shared). */
struct ews_zone;
struct ews_zone *ews_zone_open(const char *name);
/* The zone's offset from UTC at epoch t, in seconds (daylight saving
 * included); false when ICU cannot tell. */
bool ews_zone_offset(struct ews_zone *z, int64_t t, int32_t *offset);
/* The first instant of day y-m-d in the zone (its midnight; on a day
 * whose midnight the clock skips, the first time it shows). */
bool ews_zone_midnight(struct ews_zone *z, int y, int m, int d, int64_t *epoch);
void ews_zone_close(struct ews_zone *z);

/* ---- one operation (ews_client.c) --------------------------------------- */

/* Not idempotent (CreateItem with SendAndSaveCopy, SendItem, response
 * objects): retried only when the server certainly did not take it (no
 * connection; a fault such as ErrorServerBusy that says it was refused),
 * and sent on a new connection (libcurl itself re-sends a request whose
 * kept connection closes before any answer). */
#define EWS_OP_SEND 0x1u

struct ews_op {
	struct ews *e;
	const struct sb_call *call; /* NULL in open()/test() */
	unsigned flags;
	/* The Mailbox input (or NULL), set by ews_op_mailbox */
	const char *mailbox;
	/* the body's first element, written by the handler */
	struct sb_buf body;
	struct sb_xml_w w;
	/* after ews_op_run: the parsed response, and its
	 * m:ResponseMessages (NULL for operations that answer otherwise,
	 * e.g. GetUserOofSettings: read op.response then) */
	xmlDoc *doc;
	xmlNode *response; /* the first child of soap:Body */
	xmlNode *messages;
	/* optional, set before ews_op_run (attachment content): the base64
	 * text of every t:<stream_local> element of the answer is decoded
	 * while it is parsed (sb_xml_stream_*) and handed to stream_sink;
	 * those elements are empty in op->doc */
	const char *stream_local;
	sb_xml_sink_fn stream_sink;
	void *stream_arg;
};

void ews_op_init(struct ews_op *op, struct ews *e, const struct sb_call *call,
		 unsigned flags);
void ews_op_free(struct ews_op *op);
/* Read the call's optional Mailbox input: SB_OK (op->mailbox set, or
 * NULL when absent); 405 method_not_allowed when the instance's
 * impersonation is none and a Mailbox is given; 400 for an address that
 * is not one. */
enum sb_status ews_op_mailbox(struct ews_op *op, struct sb_error *err);
/* Send op.body (which must be finished: every element closed) in an
 * envelope with RequestServerVersion, ExchangeImpersonation (impersonate
 * mode and a mailbox) and TimeZoneContext, with the instance's
 * authentication, within the call's deadline and max_concurrency.
 * ErrorServerBusy: waits BackOffMilliseconds and retries (at most
 * `retries` times) when that fits the deadline, else 429 with
 * retry_after_ms.  A SOAP fault or a transport error: the mapped error
 * (ews_code_status), with the EWS ResponseCode as err->code.  SB_OK: the
 * answer parsed (op->doc, op->response, op->messages).  A response over
 * max_response_size, malformed XML or any DTD: upstream_error. */
enum sb_status ews_op_run(struct ews_op *op, struct sb_error *err);
/* The response messages in order (m:*ResponseMessage elements). */
xmlNode *ews_op_first(const struct ews_op *op);
xmlNode *ews_op_next(const xmlNode *msg);
/* One response message: SB_OK for ResponseClass Success or Warning (a
 * warning is logged at debug), else the status of its ResponseCode with
 * err->code the ResponseCode and the MessageText in err->message. */
enum sb_status ews_message_status(const xmlNode *msg, struct sb_error *err);
/* The status of op's first response message (*msg, may be NULL: it); an
 * answer without one is invalid_response.  For operations of one item. */
enum sb_status ews_op_first_status(struct ews_op *op, xmlNode **msg,
				   struct sb_error *err);
/* A FindItem answer's m:RootFolder in its response message msg, and
 * whether more items follow (IncludesLastItemInRange false); a success
 * without it is a malformed answer: NULL, err invalid_response. */
xmlNode *ews_find_root(const xmlNode *msg, bool *more, struct sb_error *err);

/* Write the mailbox addressing of a DistinguishedFolderId for this op
 * (delegate mode and a mailbox: <t:Mailbox><t:EmailAddress>...), else
 * nothing.  Called right after sb_xml_w_open(&op->w,
 * "t:DistinguishedFolderId") and its Id attribute. */
void ews_op_folder_mailbox(struct ews_op *op);

/* ---- errors (ews_errors.c) ---------------------------------------------- */

/* The status for an EWS ResponseCode (the table in
 * docs/brokers/exchange-ews.md); unknown codes: SB_ERR_UPSTREAM; NULL, ""
 * and "NoError": SB_OK. */
enum sb_status ews_code_status(const char *response_code);
/* The table itself (for the docs and the tests): its size, and up to max
 * of its codes and statuses (either array may be NULL). */
size_t ews_code_table(const char **codes, enum sb_status *statuses, size_t max);

/* ---- folders (ews_folder.c) --------------------------------------------- */

extern const struct sb_method ews_folder_methods[];

/* Write a folder reference for a Folder input into op->w: an EWS folder
 * Id (<t:FolderId Id=.../>), a well-known name ("inbox", "sentitems",
 * "drafts", "deleteditems", "outbox", "junkemail", "msgfolderroot",
 * "root", ... as <t:DistinguishedFolderId>), or a display name looked up
 * by a FindFolder (deep) of the same mailbox: 404 not_found when no
 * folder has it, 409 conflict when two do.  Empty or NULL folder: the
 * well-known def ("inbox").  Runs at most one request of its own. */
enum sb_status ews_folder_ref(struct ews_op *op, const char *folder,
			      const char *def, struct sb_error *err);

/* ---- values (ews_values.c) ---------------------------------------------- */

/* The text of the child `local` of parent, or NULL when absent.  local
 * is "Name" or "t:Name" for the types namespace, "m:Name" for the
 * messages one.  With buf (n bytes) the text is copied there (cut at a
 * character boundary) and buf returned; without, it is borrowed from the
 * document: "" for an empty element, NULL also when the content is not
 * one text node (ask with a buffer then).  */
const char *ews_child_text(const xmlNode *parent, const char *local, char *buf,
			   size_t n);
/* An xs:dateTime from EWS ("2026-05-01T09:00:00Z", with or without
 * fraction or offset) to the catalog's datetime text (RFC 3339 with an
 * offset): false when it is not one. */
bool ews_datetime_read(const char *in, char *out, size_t n);
/* A t:Mailbox (or an element holding one: t:From, t:Sender, a
 * recipient) to an SMTP address in buf: the EmailAddress (trimmed, an
 * "SMTP:" prefix dropped) when RoutingType is SMTP or absent and it is a
 * valid address; NULL otherwise, an EX (legacyExchangeDN) address
 * included: a caller with an SMTP address of its own for it (a message's
 * SenderSMTPAddress, a contact's "SMTP:" entry) uses that instead, or
 * leaves the value out of the row. */
const char *ews_mailbox_smtp(const xmlNode *mailbox, char *buf, size_t n);
/* Update's Clear input (Appointment, Task): whether it names the input
 * name; whether name is removed (named in Clear, or given "" or []); the
 * 400 naming a property both given a value and named in Clear (an
 * unknown name is refused by Clear's choices). */
bool ews_clear_named(const struct sb_call *call, const char *name);
bool ews_cleared(const struct sb_call *call, const char *name);
enum sb_status ews_clear_check(const struct sb_call *call,
			       struct sb_error *err);

/* ---- the core's objects (ews_contact.c, ews_oof.c, ews_service.c) ------- */

extern const struct sb_property ews_contact_properties[];
extern const struct sb_method ews_contact_methods[];
extern const struct sb_property ews_oof_properties[];
extern const struct sb_method ews_oof_methods[];
extern const struct sb_property ews_service_properties[];
extern const struct sb_method ews_service_methods[];

/* ---- unit tests --------------------------------------------------------- */

/* Replace the network of every HTTP client of the instance (EWS and
 * Autodiscover) by fn (sb_http_set_transport); before any call runs. */
void ews_set_transport(struct ews *e, sb_http_transport_fn fn, void *ctx);
/* EWS requests sent so far by the instance. */
uint64_t ews_requests(struct ews *e);

/* ---- mail (ews_mail.c, ews_attach.c) ---- */

/* Email's methods (its properties: the SDK's sb_email_properties) and
 * the Attachment object's table. */
extern const struct sb_method ews_email_methods[];
extern const struct sb_property ews_attachment_properties[];
extern const struct sb_method ews_attachment_methods[];

/* ---- rooms and availability (ews_rooms.c, ews_avail.c) ---- */

extern const struct sb_property ews_roomlist_properties[];
extern const struct sb_method ews_roomlist_methods[];
extern const struct sb_property ews_room_properties[];
extern const struct sb_method ews_room_methods[];
extern const struct sb_property ews_availability_properties[];
extern const struct sb_method ews_availability_methods[];
extern const struct sb_property ews_suggestion_properties[];
extern const struct sb_method ews_suggestion_methods[];

/* Paging over an answer recomputed for every page (EWS cannot page it):
 * the token holds the place after the last row shown and a hash of that
 * row (ews_row_key); the next page starts after the row of that hash, or,
 * when it is gone meanwhile, one place earlier (the rows after it moved
 * up).  bind: the method and every input shaping the listing. */
struct ews_page {
	int64_t offset;
	uint64_t last;
};
/* FNV-1a of s (and a separator) continued from h (0: start); never 0. */
uint64_t ews_row_key(uint64_t h, const char *s);
/* The call's PageToken (none: offset 0): 400 for a refused token. */
enum sb_status ews_page_read(const struct sb_call *call,
			     const char *const *bind, size_t nbind,
			     struct ews_page *pg, struct sb_error *err);
/* The index of the first row of this page among keys[0..n). */
size_t ews_page_first(const struct ews_page *pg, const uint64_t *keys,
		      size_t n);
/* Hand the client a token for the rows from index next on. */
enum sb_status ews_page_next(struct sb_result *r, const char *const *bind,
			     size_t nbind, size_t next, uint64_t last_key,
			     struct sb_error *err);
/* ---- tasks (ews_task.c) ---- */

/* Task's methods (its properties: the SDK's sb_task_properties). */
extern const struct sb_method ews_task_methods[];

#endif
