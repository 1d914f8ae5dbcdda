/* mapi-stub: the module descriptor — instance keys, the catalog (Email,
 * Folder, Appointment, Meeting, MeetingAttendee, Task) and dispatch. */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/rrule.h>
#include <svcbroker/schema.h>

#include "mapi.h"

/* Tables read best with one field a line. */
/* clang-format off */
const struct sb_config_key mapi_config[] = {
	{.key = "store_dir",
	 .type = SB_CONF_PATH,
	 .flags = SB_CONF_REQUIRED,
	 .doc = "Directory holding the store: one Maildir-layout directory per "
		"mailbox (created if missing; relative to the file naming it).",
	 .offset = offsetof(struct mapi_conf, store_dir)},
	{.key = "mailboxes",
	 .type = SB_CONF_LIST,
	 .flags = SB_CONF_REQUIRED,
	 .doc = "Comma-separated e-mail addresses of the mailboxes in the "
		"store; the first is the default mailbox.",
	 .offset = offsetof(struct mapi_conf, mailboxes)},
	{.key = "quota",
	 .type = SB_CONF_SIZE,
	 .def = "100MiB",
	 .min = 1024,
	 .max = (int64_t)1024 * 1024 * 1024 * 1024,
	 .doc = "Storage limit per mailbox; a full mailbox refuses new items "
		"with ErrorQuotaExceeded.",
	 .offset = offsetof(struct mapi_conf, quota)},
	{.key = "max_message_size",
	 .type = SB_CONF_SIZE,
	 .def = "25MiB",
	 .min = 1024,
	 .max = (int64_t)1024 * 1024 * 1024,
	 .doc = "Largest message (headers, bodies and encoded attachments) "
		"that Send and SaveDraft accept.",
	 .offset = offsetof(struct mapi_conf, max_message_size)},
	{.key = "default_mailbox",
	 .type = SB_CONF_STRING,
	 .doc = "Mailbox a call acts on when it gives no Mailbox input "
		"(default: the first of mailboxes).",
	 .offset = offsetof(struct mapi_conf, default_mailbox)},
	SB_CONF_END,
};

#define MAX_RCPT 500
/* Load reads at most 200 MIME parts of a message: 100 attachments and the
 * bodies always fit, so what Send stores Load returns whole. */
#define MAX_ATTACHMENTS 100
#define SUBJECT_MAX 4096

/* ---- Email ----------------------------------------------------------- */

#define IN_MESSAGE                                                          \
	{.name = "Cc", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,                \
	 .max_size = MAX_RCPT,                                                  \
	 .doc = "Carbon-copy recipients."},                                     \
	{.name = "Bcc", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,           \
	 .max_size = MAX_RCPT,                                              \
	 .doc = "Blind carbon-copy recipients: delivered to, never shown to " \
		"the others."},                                             \
	{.name = "ReplyTo", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,       \
	 .max_size = 20, .doc = "Addresses replies should go to."},         \
	{.name = "Subject", .type = SB_TYPE_TEXT, .max_size = SUBJECT_MAX,  \
	 .doc = "Subject line (UTF-8)."},                                   \
	{.name = "Body", .type = SB_TYPE_MEMO,                              \
	 .doc = "Plain-text body (UTF-8)."},                                \
	{.name = "HtmlBody", .type = SB_TYPE_MEMO,                          \
	 .doc = "HTML body (UTF-8); with Body, the message carries both."}, \
	{.name = "Importance", .type = SB_TYPE_ENUM,                        \
	 .choices = sb_importance_choices,                                  \
	 .doc = "Low, Normal or High."},                                    \
	{.name = "Attachments", .type = SB_TYPE_FILE, .flags = SB_MULTI,    \
	 .max_size = MAX_ATTACHMENTS,                                       \
	 .doc = "Files to attach, at most 100 (the whole message must fit " \
		"max_message_size)."},                                      \
	{.name = "From", .type = SB_TYPE_EMAIL,                             \
	 .doc = "Sender; must be the mailbox acted on (the default)."},     \
	SB_PARAM_MAILBOX

static const struct sb_param email_send_in[] = {
	{.name = "To",
	 .type = SB_TYPE_EMAIL,
	 .flags = SB_MULTI | SB_REQUIRED,
	 .max_size = MAX_RCPT,
	 .doc = "Primary recipients."},
	IN_MESSAGE,
	SB_PARAM_END,
};
static const struct sb_param email_draft_in[] = {
	{.name = "To",
	 .type = SB_TYPE_EMAIL,
	 .flags = SB_MULTI,
	 .max_size = MAX_RCPT,
	 .doc = "Primary recipients."},
	IN_MESSAGE,
	SB_PARAM_END,
};
static const struct sb_param email_list_in[] = {
	{.name = "Folder",
	 .type = SB_TYPE_TEXT,
	 .max_size = MAPI_FOLDER_MAX,
	 .doc = "Folder to list, by name or well-known id (inbox, drafts, "
		"sentitems, deleteditems, outbox); default Inbox."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param email_load_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the message."},
	{.name = "Folder",
	 .type = SB_TYPE_TEXT,
	 .max_size = MAPI_FOLDER_MAX,
	 .doc = "Look only in this folder (default: every folder)."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param email_move_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the message."},
	{.name = "Folder",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_FOLDER_MAX,
	 .doc = "Destination folder, by name or well-known id."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param email_delete_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the message."},
	{.name = "HardDelete",
	 .type = SB_TYPE_BOOLEAN,
	 .doc = "Remove the message for good instead of moving it to Deleted "
		"Items (a message already in Deleted Items is always removed)."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param email_markread_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the message."},
	{.name = "IsRead",
	 .type = SB_TYPE_BOOLEAN,
	 .doc = "true (the default) marks the message read, false unread."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};

/* Reply, ReplyAll and Forward: the same inputs as exchange-ews takes. */
#define IN_ANSWER                                                           \
	{.name = "Cc", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,            \
	 .max_size = MAX_RCPT,                                              \
	 .doc = "Carbon-copy recipients, added to those of the answer."},   \
	{.name = "Bcc", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,           \
	 .max_size = MAX_RCPT,                                              \
	 .doc = "Blind carbon-copy recipients: delivered to, never shown to " \
		"the others."},                                             \
	{.name = "Body", .type = SB_TYPE_MEMO,                              \
	 .doc = "New plain text (UTF-8), written above the original, which " \
		"follows quoted with \"> \"."},                              \
	{.name = "HtmlBody", .type = SB_TYPE_MEMO,                          \
	 .doc = "New HTML (UTF-8), written above the original in a "        \
		"blockquote; the answer carries HTML when this is given or "  \
		"the original has HTML."},                                  \
	{.name = "Attachments", .type = SB_TYPE_FILE, .flags = SB_MULTI,    \
	 .max_size = MAX_ATTACHMENTS,                                       \
	 .doc = "Files to attach (with a forwarded message's own, at most " \
		"100; the whole message must fit max_message_size)."},      \
	SB_PARAM_MAILBOX

static const struct sb_param email_reply_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the message to answer (any folder of the mailbox)."},
	IN_ANSWER,
	SB_PARAM_END,
};
static const struct sb_param email_forward_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the message to forward (any folder of the mailbox)."},
	{.name = "To",
	 .type = SB_TYPE_EMAIL,
	 .flags = SB_MULTI | SB_REQUIRED,
	 .max_size = MAX_RCPT,
	 .doc = "Recipients of the forward."},
	IN_ANSWER,
	SB_PARAM_END,
};

static const char *const email_send_ret[] = {
	"Id", "ChangeKey", "Folder", "MessageId", "Accepted", "Rejected", NULL};
static const char *const email_draft_ret[] = {"Id", "ChangeKey", "Folder",
					      "MessageId", NULL};
static const char *const email_list_ret[] = {
	"Id",	  "ChangeKey",	"Folder",   "From",	"To",
	"Cc",	  "Subject",	"Importance", "Sent",	"Received",
	"IsRead", "HasAttachments", "MessageId", NULL};
static const char *const email_load_ret[] = {
	"Id",	    "ChangeKey",  "Folder",	    "From",
	"To",	    "Cc",	  "Bcc",	    "ReplyTo",
	"Subject",  "Body",	  "HtmlBody",	    "Importance",
	"Sent",	    "Received",	  "IsRead",	    "HasAttachments",
	"Attachments", "MessageId", NULL};
static const char *const email_move_ret[] = {"Id", "ChangeKey", "Folder",
					     NULL};
static const char *const email_markread_ret[] = {"Id", "ChangeKey", "Folder",
						 "IsRead", NULL};

static const struct sb_method email_methods[] = {
	{.name = "Send",
	 .kind = SB_KIND_EXECUTE,
	 .handler = mapi_email_send,
	 .doc = "Send a message: it is kept in the sender's Outbox until it "
		"has been delivered to the Inbox of every recipient in this "
		"store, then moved to Sent Items.  Recipients outside the "
		"store are returned in Rejected; the delivered ones in "
		"Accepted.",
	 .inputs = email_send_in,
	 .returns = email_send_ret},
	{.name = "SaveDraft",
	 .kind = SB_KIND_CREATE,
	 .handler = mapi_email_save_draft,
	 .doc = "Save a message in the Drafts folder without sending it.",
	 .inputs = email_draft_in,
	 .returns = email_draft_ret},
	{.name = "List",
	 .kind = SB_KIND_LIST,
	 .handler = mapi_email_list,
	 .doc = "List the messages of a folder, newest first (headers only; "
		"use Load for bodies and attachments).",
	 .inputs = email_list_in,
	 .returns = email_list_ret},
	{.name = "Load",
	 .kind = SB_KIND_READ,
	 .handler = mapi_email_load,
	 .doc = "Load one message with its bodies and attachments.",
	 .inputs = email_load_in,
	 .returns = email_load_ret},
	{.name = "Move",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_email_move,
	 .doc = "Move a message to another folder of the same mailbox; its Id "
		"does not change.",
	 .inputs = email_move_in,
	 .returns = email_move_ret},
	{.name = "Delete",
	 .kind = SB_KIND_DELETE,
	 .handler = mapi_email_delete,
	 .doc = "Move a message to Deleted Items, or remove it for good when "
		"HardDelete is true or it already is in Deleted Items.",
	 .inputs = email_delete_in,
	 .returns = email_move_ret},
	{.name = "MarkRead",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_email_mark_read,
	 .doc = "Mark a message read or unread (the Maildir S flag); its Id "
		"does not change.",
	 .inputs = email_markread_in,
	 .returns = email_markread_ret},
	{.name = "Reply",
	 .kind = SB_KIND_EXECUTE,
	 .handler = mapi_email_reply,
	 .doc = "Answer a message of the mailbox: to its Reply-To, or else "
		"its From, with Subject \"RE: ...\" (unless it has the "
		"prefix already), In-Reply-To and References of the "
		"original, the new text above the original quoted.  Sent "
		"exactly as Send sends.",
	 .inputs = email_reply_in,
	 .returns = email_send_ret},
	{.name = "ReplyAll",
	 .kind = SB_KIND_EXECUTE,
	 .handler = mapi_email_reply_all,
	 .doc = "As Reply, also to every To (in To) and Cc (in Cc) of the "
		"original, without this mailbox and without duplicates.",
	 .inputs = email_reply_in,
	 .returns = email_send_ret},
	{.name = "Forward",
	 .kind = SB_KIND_EXECUTE,
	 .handler = mapi_email_forward,
	 .doc = "Forward a message of the mailbox to To, with Subject "
		"\"FW: ...\" (unless it has the prefix already), the new "
		"text above the original quoted, and the original's "
		"attachments.  Sent exactly as Send sends.",
	 .inputs = email_forward_in,
	 .returns = email_send_ret},
	SB_METHOD_END,
};

/* ---- Folder ---------------------------------------------------------- */

static const struct sb_param folder_list_in[] = {SB_PARAM_MAILBOX,
						 SB_PARAM_END};
static const struct sb_param folder_create_in[] = {
	{.name = "Name",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_FOLDER_MAX,
	 .doc = "Name of the new folder (no '/', not starting with '.')."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const char *const folder_ret[] = {"Id", "Name", "Parent", "TotalCount",
					 "UnreadCount", NULL};
static const struct sb_method folder_methods[] = {
	{.name = "List",
	 .kind = SB_KIND_LIST,
	 .handler = mapi_folder_list,
	 .doc = "List the mail folders of the mailbox with their item and "
		"unread counts: the well-known ones first, then the others by "
		"name.",
	 .inputs = folder_list_in,
	 .returns = folder_ret},
	{.name = "Create",
	 .kind = SB_KIND_CREATE,
	 .handler = mapi_folder_create,
	 .doc = "Create a mail folder at the top of the mailbox.",
	 .inputs = folder_create_in,
	 .returns = folder_ret},
	SB_METHOD_END,
};

/* ---- Appointment ----------------------------------------------------- */

static const struct sb_param appt_create_in[] = {
	{.name = "Subject",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = SUBJECT_MAX,
	 .doc = "Title of the appointment."},
	{.name = "Start",
	 .type = SB_TYPE_DATETIME,
	 .flags = SB_REQUIRED,
	 .doc = "Start, ISO 8601 with offset."},
	{.name = "End",
	 .type = SB_TYPE_DATETIME,
	 .flags = SB_REQUIRED,
	 .doc = "End, ISO 8601 with offset; not before Start."},
	{.name = "Body", .type = SB_TYPE_MEMO, .max_size = 1024 * 512,
	 .doc = "Description."},
	{.name = "Location", .type = SB_TYPE_TEXT, .max_size = 1024,
	 .doc = "Where it takes place."},
	{.name = "TimeZone", .type = SB_TYPE_TEXT, .max_size = 128,
	 .doc = "Time zone name it was planned in (kept as given); with an "
		"IANA name (Europe/Berlin) the times are stored in that zone, "
		"so a series keeps its local time across daylight-saving "
		"changes."},
	{.name = "IsAllDay", .type = SB_TYPE_BOOLEAN,
	 .doc = "Whole days: Start and End are taken as dates."},
	{.name = "Reminder", .type = SB_TYPE_NUMBER,
	 .doc = "Minutes before Start to remind (0..40320)."},
	{.name = "Categories", .type = SB_TYPE_TEXT, .flags = SB_MULTI,
	 .max_size = 50, .doc = "Category names."},
	{.name = "Recurrence", .type = SB_TYPE_TEXT,
	 .max_size = SB_RRULE_TEXT_MAX,
	 .doc = "How it repeats: one RRULE of the shared subset (e.g. "
		"FREQ=WEEKLY;BYDAY=MO;COUNT=10), kept in the item's "
		"iCalendar file; a List with a window shows each occurrence. "
		"Empty means a single appointment."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param item_id_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the item."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param appt_delete_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the appointment."},
	{.name = "ChangeKey",
	 .type = SB_TYPE_TEXT,
	 .max_size = 64,
	 .doc = "The ChangeKey the appointment was read with: if it has "
		"changed since, 409 conflict and nothing is deleted (empty: "
		"no check)."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param appt_list_in[] = {
	{.name = "WindowStart",
	 .type = SB_TYPE_DATETIME,
	 .doc = "Only appointments ending after this time."},
	{.name = "WindowEnd",
	 .type = SB_TYPE_DATETIME,
	 .doc = "Only appointments starting before this time."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
/* Update: the item's Id, the ChangeKey it was read with, then what changes
 * (Subject and the inputs of Create, none required). */
static const char *const appt_clear_choices[] = {
	"Body", "Location", "TimeZone", "Reminder", "Categories", "Recurrence",
	NULL};
static const struct sb_param appt_update_in[] = {
	{.name = "Id", .type = SB_TYPE_TEXT, .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX, .doc = "Id of the appointment."},
	{.name = "ChangeKey", .type = SB_TYPE_TEXT, .max_size = 64,
	 .doc = "The ChangeKey the appointment was read with: if it has "
		"changed since, 409 conflict and the item is left as it is "
		"(not given or empty: no check)."},
	{.name = "Subject", .type = SB_TYPE_TEXT, .max_size = SUBJECT_MAX,
	 .doc = "New title (empty: none)."},
	{.name = "Start", .type = SB_TYPE_DATETIME,
	 .doc = "New start, ISO 8601 with offset; the End kept or given must "
		"not be before it."},
	{.name = "End", .type = SB_TYPE_DATETIME,
	 .doc = "New end, ISO 8601 with offset; not before Start."},
	{.name = "Body", .type = SB_TYPE_MEMO, .max_size = 1024 * 512,
	 .doc = "New description (empty: none)."},
	{.name = "Location", .type = SB_TYPE_TEXT, .max_size = 1024,
	 .doc = "New place (empty: none)."},
	{.name = "TimeZone", .type = SB_TYPE_TEXT, .max_size = 128,
	 .doc = "New time zone name, the times kept as instants (empty: "
		"none, UTC).  Not given: the item keeps its zone and its "
		"VTIMEZONE."},
	{.name = "IsAllDay", .type = SB_TYPE_BOOLEAN,
	 .doc = "Whole days or not; a change needs Start and End too."},
	{.name = "Reminder", .type = SB_TYPE_NUMBER,
	 .doc = "Minutes before Start to remind (0..40320); name it in Clear "
		"to remove the reminder."},
	{.name = "Categories", .type = SB_TYPE_TEXT, .flags = SB_MULTI,
	 .max_size = 50, .doc = "The new category names ([]: none)."},
	{.name = "Recurrence", .type = SB_TYPE_TEXT,
	 .max_size = SB_RRULE_TEXT_MAX,
	 .doc = "New RRULE of the shared subset (empty: a single "
		"appointment).  A series whose rule, Start, IsAllDay or zone "
		"changes loses its excluded and changed occurrences."},
	{.name = "Clear", .type = SB_TYPE_ENUM, .flags = SB_MULTI,
	 .choices = appt_clear_choices,
	 .doc = "Properties to remove, as an empty value does: Body, "
		"Location, TimeZone, Reminder, Categories, Recurrence."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const char *const appt_ret[] = {
	"Id",	    "ChangeKey", "Subject",  "Body",	   "Location",
	"Start",    "End",	 "TimeZone", "IsAllDay", "Reminder",
	"Categories", "Recurrence", NULL};
static const char *const id_ret[] = {"Id", NULL};
static const struct sb_method appt_methods[] = {
	{.name = "Create",
	 .kind = SB_KIND_CREATE,
	 .handler = mapi_appointment_create,
	 .doc = "Create an appointment in the mailbox's calendar (an "
		"iCalendar VEVENT).",
	 .inputs = appt_create_in,
	 .returns = appt_ret},
	{.name = "Load",
	 .kind = SB_KIND_READ,
	 .handler = mapi_appointment_load,
	 .doc = "Load one appointment.",
	 .inputs = item_id_in,
	 .returns = appt_ret},
	{.name = "Update",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_appointment_update,
	 .doc = "Change the given properties of an appointment, the others "
		"(and the rest of its iCalendar file) kept; with a ChangeKey, "
		"only if the item has not changed since.  Returns its row as "
		"Load does, with the new ChangeKey.",
	 .inputs = appt_update_in,
	 .returns = appt_ret},
	{.name = "Delete",
	 .kind = SB_KIND_DELETE,
	 .handler = mapi_appointment_delete,
	 .doc = "Delete an appointment; with a ChangeKey, only if it has not "
		"changed since.",
	 .inputs = appt_delete_in,
	 .returns = id_ret},
	{.name = "List",
	 .kind = SB_KIND_LIST,
	 .handler = mapi_appointment_list,
	 .doc = "List appointments by start time, optionally only those "
		"overlapping a window; over a window a recurring series "
		"gives a row per occurrence (its Start and End), without "
		"its excluded dates and with its changed occurrences as "
		"changed.",
	 .inputs = appt_list_in,
	 .returns = appt_ret},
	SB_METHOD_END,
};

/* ---- Meeting, MeetingAttendee (mapi_meeting.c) ------------------------ */

#define MAX_ATTENDEES 500
#define IN_MEETING                                                          \
	{.name = "Body", .type = SB_TYPE_MEMO, .max_size = 1024 * 512,      \
	 .doc = "Description."},                                            \
	{.name = "Location", .type = SB_TYPE_TEXT, .max_size = 1024,        \
	 .doc = "Where it takes place."},                                   \
	{.name = "TimeZone", .type = SB_TYPE_TEXT, .max_size = 128,         \
	 .doc = "Time zone name it is planned in; with an IANA name the "   \
		"times are stored in that zone (as Appointment)."},         \
	{.name = "IsAllDay", .type = SB_TYPE_BOOLEAN,                       \
	 .doc = "Whole days: Start and End are taken as dates."},           \
	{.name = "Reminder", .type = SB_TYPE_NUMBER,                        \
	 .doc = "Minutes before Start to remind (0..40320)."},              \
	{.name = "Categories", .type = SB_TYPE_TEXT, .flags = SB_MULTI,     \
	 .max_size = 50, .doc = "Category names."},                         \
	{.name = "Recurrence", .type = SB_TYPE_TEXT,                        \
	 .max_size = SB_RRULE_TEXT_MAX,                                     \
	 .doc = "How it repeats: one RRULE of the shared subset; a List "   \
		"with a window shows each occurrence."},                    \
	{.name = "RequiredAttendees", .type = SB_TYPE_EMAIL,                \
	 .flags = SB_MULTI, .max_size = MAX_ATTENDEES,                      \
	 .doc = "Attendees whose presence is required (ROLE "               \
		"REQ-PARTICIPANT)."},                                       \
	{.name = "OptionalAttendees", .type = SB_TYPE_EMAIL,                \
	 .flags = SB_MULTI, .max_size = MAX_ATTENDEES,                      \
	 .doc = "Attendees whose presence is optional (ROLE "               \
		"OPT-PARTICIPANT)."},                                       \
	{.name = "Resources", .type = SB_TYPE_EMAIL, .flags = SB_MULTI,     \
	 .max_size = MAX_ATTENDEES,                                         \
	 .doc = "Rooms and equipment (CUTYPE RESOURCE)."},                  \
	SB_PARAM_MAILBOX

static const struct sb_param mtg_create_in[] = {
	{.name = "Subject",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = SUBJECT_MAX,
	 .doc = "Title of the meeting."},
	{.name = "Start",
	 .type = SB_TYPE_DATETIME,
	 .flags = SB_REQUIRED,
	 .doc = "Start, ISO 8601 with offset."},
	{.name = "End",
	 .type = SB_TYPE_DATETIME,
	 .flags = SB_REQUIRED,
	 .doc = "End, ISO 8601 with offset; not before Start."},
	IN_MEETING,
	SB_PARAM_END,
};
static const struct sb_param mtg_update_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the meeting in the organizer's calendar."},
	{.name = "ChangeKey",
	 .type = SB_TYPE_TEXT,
	 .max_size = 64,
	 .doc = "The ChangeKey the meeting was read with: if it has changed "
		"since, 409 conflict and nothing is changed (empty: no "
		"check)."},
	{.name = "Subject", .type = SB_TYPE_TEXT, .max_size = SUBJECT_MAX,
	 .doc = "New title."},
	{.name = "Start", .type = SB_TYPE_DATETIME,
	 .doc = "New start, ISO 8601 with offset."},
	{.name = "End", .type = SB_TYPE_DATETIME,
	 .doc = "New end, ISO 8601 with offset."},
	IN_MEETING,
	SB_PARAM_END,
};
static const struct sb_param mtg_cancel_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the meeting in the organizer's calendar."},
	{.name = "ChangeKey",
	 .type = SB_TYPE_TEXT,
	 .max_size = 64,
	 .doc = "The ChangeKey the meeting was read with: if it has changed "
		"since, 409 conflict (empty: no check)."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param mtg_id_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the meeting in the mailbox's calendar."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const char *const mtg_ret[] = {
	"Id",	    "ChangeKey", "Subject",  "Body",	   "Location",
	"Start",    "End",	 "TimeZone", "IsAllDay", "Reminder",
	"Categories", "Recurrence", "Organizer", "RequiredAttendees",
	"OptionalAttendees", "Resources", "ResponseStatus", NULL};
static const struct sb_method mtg_methods[] = {
	{.name = "Create",
	 .kind = SB_KIND_CREATE,
	 .handler = mapi_meeting_create,
	 .doc = "Create a meeting organized by the mailbox: stored in its "
		"calendar, and an iCalendar REQUEST delivered to the Inbox "
		"and the calendar of every attendee in this store (others "
		"are recorded, not reached).  Retried with the same "
		"X-Request-Id, it returns the meeting it made.",
	 .inputs = mtg_create_in,
	 .returns = mtg_ret},
	{.name = "Update",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_meeting_update,
	 .doc = "Change a meeting (organizer only; the inputs given): its "
		"SEQUENCE goes up and a REQUEST reaches every attendee "
		"again; removed attendees get a CANCEL.  A new time asks "
		"every attendee again.",
	 .inputs = mtg_update_in,
	 .returns = mtg_ret},
	{.name = "Cancel",
	 .kind = SB_KIND_DELETE,
	 .handler = mapi_meeting_cancel,
	 .doc = "Cancel a meeting (organizer only): a CANCEL to every "
		"attendee, whose copies are marked cancelled, and the "
		"meeting removed from the organizer's calendar.",
	 .inputs = mtg_cancel_in,
	 .returns = id_ret},
	{.name = "Accept",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_meeting_accept,
	 .doc = "Accept an invitation in the mailbox's calendar: a REPLY to "
		"the organizer, whose copy records the answer.  A cancelled "
		"meeting answers 409.",
	 .inputs = mtg_id_in,
	 .returns = mtg_ret},
	{.name = "AcceptTentatively",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_meeting_tentative,
	 .doc = "Accept an invitation tentatively (as Accept).",
	 .inputs = mtg_id_in,
	 .returns = mtg_ret},
	{.name = "Decline",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_meeting_decline,
	 .doc = "Decline an invitation: a REPLY to the organizer, and the "
		"meeting removed from the mailbox's calendar (as Exchange "
		"does); the row shows it as declined.",
	 .inputs = mtg_id_in,
	 .returns = mtg_ret},
	{.name = "Load",
	 .kind = SB_KIND_READ,
	 .handler = mapi_meeting_load,
	 .doc = "Load one meeting, ResponseStatus from the mailbox's view.",
	 .inputs = mtg_id_in,
	 .returns = mtg_ret},
	{.name = "List",
	 .kind = SB_KIND_LIST,
	 .handler = mapi_meeting_list,
	 .doc = "List the meetings of the mailbox's calendar by start time "
		"(appointments left out), optionally only those overlapping "
		"a window; over a window a series gives a row per "
		"occurrence.",
	 .inputs = appt_list_in,
	 .returns = mtg_ret},
	SB_METHOD_END,
};
static const char *const mtg_att_ret[] = {"Email", "Kind", "ResponseStatus",
					  "LastResponseTime", NULL};
static const struct sb_method mtg_att_methods[] = {
	{.name = "List",
	 .kind = SB_KIND_LIST,
	 .handler = mapi_meeting_attendee_list,
	 .doc = "The attendees of a meeting with their answers and when "
		"they gave them, as the mailbox's copy records them (the "
		"organizer's follows each answer).",
	 .inputs = mtg_id_in,
	 .returns = mtg_att_ret},
	SB_METHOD_END,
};

/* ---- Task ------------------------------------------------------------ */

static const struct sb_param task_create_in[] = {
	{.name = "Subject",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = SUBJECT_MAX,
	 .doc = "Title of the task."},
	{.name = "Body", .type = SB_TYPE_MEMO, .max_size = 1024 * 512,
	 .doc = "Description."},
	{.name = "StartDate", .type = SB_TYPE_DATE,
	 .doc = "The day work on the task starts."},
	{.name = "DueDate", .type = SB_TYPE_DATE,
	 .doc = "Due date; not before StartDate."},
	{.name = "Status", .type = SB_TYPE_ENUM,
	 .choices = sb_task_status_choices,
	 .doc = "Progress state (default NotStarted)."},
	{.name = "PercentComplete", .type = SB_TYPE_NUMBER,
	 .doc = "0..100 (default 0; 100 when Status is Completed)."},
	{.name = "Importance", .type = SB_TYPE_ENUM,
	 .choices = sb_importance_choices,
	 .doc = "Low, Normal or High (default Normal)."},
	{.name = "Owner", .type = SB_TYPE_TEXT, .max_size = 256,
	 .doc = "Name of the person responsible."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param task_list_in[] = {
	{.name = "Status",
	 .type = SB_TYPE_ENUM,
	 .choices = sb_task_status_choices,
	 .doc = "Only tasks in this state."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const struct sb_param task_complete_in[] = {
	{.name = "Id",
	 .type = SB_TYPE_TEXT,
	 .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX,
	 .doc = "Id of the task."},
	{.name = "ChangeKey",
	 .type = SB_TYPE_TEXT,
	 .max_size = 64,
	 .doc = "The ChangeKey the task was read with: if it has changed "
		"since, 409 conflict and the task is left as it is (empty: "
		"no check)."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const char *const task_clear_choices[] = {"Body", "StartDate",
						 "DueDate", "Owner", NULL};
static const struct sb_param task_update_in[] = {
	{.name = "Id", .type = SB_TYPE_TEXT, .flags = SB_REQUIRED,
	 .max_size = MAPI_ID_MAX, .doc = "Id of the task."},
	{.name = "ChangeKey", .type = SB_TYPE_TEXT, .max_size = 64,
	 .doc = "The ChangeKey the task was read with: if it has changed "
		"since, 409 conflict and the task is left as it is (not given "
		"or empty: no check)."},
	{.name = "Subject", .type = SB_TYPE_TEXT, .max_size = SUBJECT_MAX,
	 .doc = "New title (empty: none)."},
	{.name = "Body", .type = SB_TYPE_MEMO, .max_size = 1024 * 512,
	 .doc = "New description (empty: none)."},
	{.name = "StartDate", .type = SB_TYPE_DATE,
	 .doc = "New start day; name it in Clear to remove it."},
	{.name = "DueDate", .type = SB_TYPE_DATE,
	 .doc = "New due date, not before StartDate; name it in Clear to "
		"remove it."},
	{.name = "Status", .type = SB_TYPE_ENUM,
	 .choices = sb_task_status_choices,
	 .doc = "New state: Completed sets PercentComplete 100; another "
		"takes a task at 100 back to 0."},
	{.name = "PercentComplete", .type = SB_TYPE_NUMBER,
	 .doc = "0..100: 100 completes the task; less takes a completed one "
		"back to InProgress (NotStarted at 0), more than 0 a "
		"NotStarted one to InProgress.  With Status, they must "
		"agree."},
	{.name = "Importance", .type = SB_TYPE_ENUM,
	 .choices = sb_importance_choices, .doc = "Low, Normal or High."},
	{.name = "Owner", .type = SB_TYPE_TEXT, .max_size = 256,
	 .doc = "New person responsible (empty: none)."},
	{.name = "Clear", .type = SB_TYPE_ENUM, .flags = SB_MULTI,
	 .choices = task_clear_choices,
	 .doc = "Properties to remove, as an empty value does: Body, "
		"StartDate, DueDate, Owner."},
	SB_PARAM_MAILBOX,
	SB_PARAM_END,
};
static const char *const task_ret[] = {"Id", "ChangeKey", "Subject", "Body",
				       "StartDate", "DueDate",	    "Status",
				       "PercentComplete", "Importance", "Owner",
				       NULL};
static const struct sb_method task_methods[] = {
	{.name = "Create",
	 .kind = SB_KIND_CREATE,
	 .handler = mapi_task_create,
	 .doc = "Create a task (an iCalendar VTODO).",
	 .inputs = task_create_in,
	 .returns = task_ret},
	{.name = "Load",
	 .kind = SB_KIND_READ,
	 .handler = mapi_task_load,
	 .doc = "Load one task.",
	 .inputs = item_id_in,
	 .returns = task_ret},
	{.name = "Update",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_task_update,
	 .doc = "Change the given properties of a task, the others kept, "
		"Status and PercentComplete coherent (Completed with 100 and "
		"only with it); with a ChangeKey, only if the task has not "
		"changed since.  Returns its row as Load does, with the new "
		"ChangeKey.",
	 .inputs = task_update_in,
	 .returns = task_ret},
	{.name = "Complete",
	 .kind = SB_KIND_UPDATE,
	 .handler = mapi_task_complete,
	 .doc = "Mark a task completed (Status Completed, PercentComplete "
		"100).",
	 .inputs = task_complete_in,
	 .returns = task_ret},
	{.name = "Delete",
	 .kind = SB_KIND_DELETE,
	 .handler = mapi_task_delete,
	 .doc = "Delete a task; with a ChangeKey, only if it has not changed "
		"since.",
	 .inputs = task_complete_in,
	 .returns = id_ret},
	{.name = "List",
	 .kind = SB_KIND_LIST,
	 .handler = mapi_task_list,
	 .doc = "List tasks by due date (tasks without one last).",
	 .inputs = task_list_in,
	 .returns = task_ret},
	SB_METHOD_END,
};

static const struct sb_object mapi_objects[] = {
	{.name = SB_OBJ_EMAIL,
	 .doc = "A message in a mailbox of the local store (RFC 5322 files "
		"in Maildir folders).",
	 .properties = sb_email_properties,
	 .methods = email_methods},
	{.name = SB_OBJ_FOLDER,
	 .doc = "A mail folder of a mailbox (a Maildir).",
	 .properties = sb_folder_properties,
	 .methods = folder_methods},
	{.name = SB_OBJ_APPOINTMENT,
	 .doc = "A calendar item of a mailbox (an iCalendar file).",
	 .properties = sb_appointment_properties,
	 .methods = appt_methods},
	{.name = SB_OBJ_MEETING,
	 .doc = "A meeting between mailboxes of the store (an iCalendar "
		"file in each one's calendar, iTIP messages between them).",
	 .properties = sb_meeting_properties,
	 .methods = mtg_methods},
	{.name = SB_OBJ_MEETING_ATTENDEE,
	 .doc = "An attendee of a meeting and their answer.",
	 .properties = sb_meeting_attendee_properties,
	 .methods = mtg_att_methods},
	{.name = SB_OBJ_TASK,
	 .doc = "A task of a mailbox (an iCalendar file).",
	 .properties = sb_task_properties,
	 .methods = task_methods},
	SB_OBJECT_END,
};

/* clang-format on */

/* ---- lifecycle ------------------------------------------------------- */

static enum sb_status mapi_open(const struct sb_host *host, const void *config,
				void **state, struct sb_error *err)
{
	struct mapi_store *s = NULL;
	enum sb_status st = mapi_store_open(host, config, &s, err);
	if (st != SB_OK)
		return st;
	host->log(host, SB_LOG_INFO, "store %s open with %zu mailbox(es)",
		  s->root, s->n_mb);
	*state = s;
	return SB_OK;
}

static enum sb_status mapi_test(void *state, struct sb_error *err)
{
	struct mapi_store *s = state;
	for (size_t i = 0; i < s->n_mb; i++)
		if (mapi_fsync_dir(s->mb[i].dir) < 0)
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "mailbox directory %s is not "
					    "usable",
					    s->mb[i].dir);
	return SB_OK;
}

static void mapi_close(void *state) { mapi_store_close(state); }

SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "mapi-stub",
    .version = PACKAGE_VERSION,
    .summary = "Local message store on disk (Maildir mail, iCalendar "
	       "appointments and tasks): the embedded default.",
    .config = mapi_config,
    .config_size = sizeof(struct mapi_conf),
    .objects = mapi_objects,
    .open = mapi_open,
    .test = mapi_test,
    .close = mapi_close,
};
