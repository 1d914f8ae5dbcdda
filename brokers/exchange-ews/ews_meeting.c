/* exchange-ews broker — Meeting and MeetingAttendee: calendar items with
 * attendees.  Create, Load and List are Appointment's (ews_calendar.c,
 * through struct ews_cal_kind) with the attendees added: CreateItem
 * sends the invitations (SendToAllAndSaveCopy), rows carry Organizer,
 * the three attendee lists and the mailbox's own answer (MyResponseType),
 * and List and Load show only meetings (IsMeeting).  Accept,
 * AcceptTentatively and Decline are CreateItem of the EWS response
 * objects on the attendee's calendar item; Cancel is CreateItem of
 * CancelCalendarItem on the organizer's.  MeetingAttendee.List reads the
 * attendees of one item with their ResponseType and LastResponseTime.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/schema.h>

#include "ews_calendar.h"
#include "ews_int.h"
#include "ews_mail.h"

#define ID_MAX 512
#define ATTENDEES_MAX 500

static const char *const kinds[] = {"RequiredAttendees", "OptionalAttendees",
				    "Resources", NULL};
static const char *const kind_names[] = {"Required", "Optional", "Resource",
					 NULL};

static const char *const mtg_fields[] = {
    "calendar:IsMeeting",	  "calendar:IsCancelled",
    "calendar:MyResponseType",	  "calendar:Organizer",
    "calendar:RequiredAttendees", "calendar:OptionalAttendees",
    "calendar:Resources",	  NULL,
};

/* ---- inputs ------------------------------------------------------------- */

static enum sb_status mtg_check(const struct sb_call *call,
				struct sb_error *err)
{
	size_t total = 0;
	for (size_t k = 0; kinds[k]; k++) {
		size_t n = sb_call_count(call, kinds[k]);
		for (size_t i = 0; i < n; i++) {
			const char *a = sb_call_str_at(call, kinds[k], i);
			if (!a || !*a)
				return sb_error_set(
				    err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: an empty address", kinds[k]);
		}
		total += n;
	}
	if (!total)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "RequiredAttendees: a meeting needs at "
				    "least one attendee (RequiredAttendees, "
				    "OptionalAttendees or Resources)");
	if (total > ATTENDEES_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "RequiredAttendees: at most %d attendees "
				    "in all",
				    ATTENDEES_MAX);
	return SB_OK;
}

/* The t:RequiredAttendees (...) element of input kinds[k]. */
static void write_list(struct sb_xml_w *w, const struct sb_call *call, size_t k)
{
	size_t n = sb_call_count(call, kinds[k]);
	char el[40];
	snprintf(el, sizeof(el), "t:%s", kinds[k]);
	sb_xml_w_open(w, el);
	for (size_t i = 0; i < n; i++) {
		sb_xml_w_open(w, "t:Attendee");
		sb_xml_w_open(w, "t:Mailbox");
		sb_xml_w_leaf(w, "t:EmailAddress",
			      sb_call_str_at(call, kinds[k], i));
		sb_xml_w_close(w);
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
}

static void mtg_write(struct sb_xml_w *w, const struct sb_call *call)
{
	for (size_t k = 0; kinds[k]; k++)
		if (sb_call_count(call, kinds[k]))
			write_list(w, call, k);
}

/* Update: the lists given are written whole (an empty one removes
 * them); the addresses checked as Create's. */
static enum sb_status mtg_update_check(const struct sb_call *call,
				       struct sb_error *err)
{
	size_t total = 0;
	for (size_t k = 0; kinds[k]; k++) {
		size_t n = sb_call_count(call, kinds[k]);
		for (size_t i = 0; i < n; i++) {
			const char *a = sb_call_str_at(call, kinds[k], i);
			if (!a || !*a)
				return sb_error_set(
				    err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: an empty address", kinds[k]);
		}
		total += n;
	}
	if (total > ATTENDEES_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "RequiredAttendees: at most %d attendees "
				    "in all",
				    ATTENDEES_MAX);
	return SB_OK;
}

static unsigned mtg_update_write(struct sb_xml_w *w, const struct sb_call *call)
{
	unsigned n = 0;
	for (size_t k = 0; kinds[k]; k++) {
		if (!sb_call_input(call, kinds[k]))
			continue;
		char uri[48];
		snprintf(uri, sizeof(uri), "calendar:%s", kinds[k]);
		if (sb_call_count(call, kinds[k])) {
			ews_cal_set_open(w, uri);
			write_list(w, call, k);
			ews_cal_set_close(w);
		} else {
			ews_cal_del_field(w, uri);
		}
		n++;
	}
	return n;
}

/* ---- rows --------------------------------------------------------------- */

/* The SMTP address of a t:Attendee or t:Organizer, or NULL: a
 * legacyExchangeDN (routing type EX) or text that is no address never
 * reaches an address cell (the row would fail). */
static const char *attendee_email(const xmlNode *att, char *buf, size_t n)
{
	return ews_mailbox_smtp(att, buf, n);
}

/* A ResponseType as one of the shared choices (Unknown otherwise). */
static const char *response_choice(const char *v)
{
	for (size_t i = 0; v && sb_response_status_choices[i]; i++)
		if (!strcmp(v, sb_response_status_choices[i]))
			return sb_response_status_choices[i];
	return "Unknown";
}

static enum sb_status row_people(struct sb_result *r, const xmlNode *it,
				 const char *answer)
{
	char buf[320];
	enum sb_status st = SB_OK;
	xmlNode *org = sb_xml_child(it, SB_NS_EWS_TYPES, "Organizer");
	const char *o = org ? attendee_email(org, buf, sizeof(buf)) : NULL;
	if (o)
		st = sb_result_clean_text(r, "Organizer", o);
	for (size_t k = 0; kinds[k] && st == SB_OK; k++) {
		st = sb_result_empty(r, kinds[k]);
		xmlNode *l = sb_xml_child(it, SB_NS_EWS_TYPES, kinds[k]);
		for (xmlNode *a = sb_xml_child(l, SB_NS_EWS_TYPES, "Attendee");
		     a && st == SB_OK; a = sb_xml_next(a)) {
			const char *v = attendee_email(a, buf, sizeof(buf));
			if (v)
				st = sb_result_clean_text(r, kinds[k], v);
		}
	}
	if (st == SB_OK && !answer)
		answer = response_choice(
		    ews_child_text(it, "MyResponseType", buf, sizeof(buf)));
	if (st == SB_OK)
		st = sb_result_str(r, "ResponseStatus", answer);
	return st;
}

static enum sb_status mtg_row(struct sb_result *r, const xmlNode *it)
{
	return row_people(r, it, NULL);
}

/* The row of a meeting just declined: gone from the calendar, read
 * before. */
static enum sb_status declined_row(struct sb_result *r, const xmlNode *it)
{
	return row_people(r, it, "Decline");
}

static bool is_meeting(const xmlNode *it)
{
	char b[16];
	const char *v = ews_child_text(it, "IsMeeting", b, sizeof(b));
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static const struct ews_cal_kind mtg_kind = {
    .what = "a meeting",
    .list_bind = "Meeting.List",
    .send = "SendToAllAndSaveCopy",
    .fields = mtg_fields,
    .check = mtg_check,
    .write = mtg_write,
    .row = mtg_row,
    .keep = is_meeting,
    .update_check = mtg_update_check,
    .update_write = mtg_update_write,
};

static const struct ews_cal_kind declined_kind = {
    .what = "a meeting",
    .fields = mtg_fields,
    .row = declined_row,
    .keep = is_meeting,
};

static enum sb_status mtg_create(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	return ews_cal_create(state, call, &mtg_kind, r, err);
}

static enum sb_status mtg_load(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	return ews_cal_load(state, call, &mtg_kind, r, err);
}

static enum sb_status mtg_update(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	return ews_cal_update(state, call, &mtg_kind, r, err);
}

static enum sb_status mtg_list(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	return ews_cal_list(state, call, &mtg_kind, r, err);
}

/* ---- answers and Cancel ------------------------------------------------- */

/* CreateItem of one response object (AcceptItem, ...) referring to id
 * (ChangeKey ck when given). */
static enum sb_status respond(struct ews_op *op, const char *element,
			      const char *id, const char *ck,
			      struct sb_error *err)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:CreateItem");
	sb_xml_w_attr(w, "MessageDisposition", "SendAndSaveCopy");
	sb_xml_w_open(w, "m:Items");
	sb_xml_w_open(w, element);
	sb_xml_w_open(w, "t:ReferenceItemId");
	sb_xml_w_attr(w, "Id", id);
	if (ck && *ck)
		sb_xml_w_attr(w, "ChangeKey", ck);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	enum sb_status st = ews_op_run(op, err);
	if (st == SB_OK)
		st = ews_op_first_status(op, NULL, err);
	return st;
}

static enum sb_status answer(void *state, const struct sb_call *call,
			     const char *element, struct sb_result *r,
			     struct sb_error *err)
{
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	bool decline = !strcmp(element, "t:DeclineItem");
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	/* a declined meeting leaves the calendar: its row is read first */
	if (st == SB_OK && decline)
		st = ews_cal_load(state, call, &declined_kind, r, err);
	if (st == SB_OK)
		st = respond(&op, element, id, NULL, err);
	ews_op_free(&op);
	if (st == SB_OK && !decline)
		st = ews_cal_load(state, call, &mtg_kind, r, err);
	return st;
}

static enum sb_status mtg_accept(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	return answer(state, call, "t:AcceptItem", r, err);
}

static enum sb_status mtg_tentative(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	return answer(state, call, "t:TentativelyAcceptItem", r, err);
}

static enum sb_status mtg_decline(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return answer(state, call, "t:DeclineItem", r, err);
}

static enum sb_status mtg_cancel(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	const char *ck = sb_call_str(call, "ChangeKey", NULL);
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK && ck && *ck)
		st = ews_check_id("ChangeKey", ck, err);
	if (st == SB_OK)
		st = respond(&op, "t:CancelCalendarItem", id, ck, err);
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

/* ---- MeetingAttendee.List ----------------------------------------------- */

static enum sb_status att_list(void *state, const struct sb_call *call,
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
		const char *ids[] = {id};
		ews_cal_w_get_items(&op, ids, 1, &mtg_kind);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	xmlNode *it = st == SB_OK ? ews_items_first(msg) : NULL;
	if (st == SB_OK &&
	    (!it || !sb_xml_is(it, SB_NS_EWS_TYPES, "CalendarItem") ||
	     !is_meeting(it)))
		st = sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				  "Id: not a meeting");
	for (size_t k = 0; kinds[k] && st == SB_OK; k++) {
		xmlNode *l = sb_xml_child(it, SB_NS_EWS_TYPES, kinds[k]);
		for (xmlNode *a = sb_xml_child(l, SB_NS_EWS_TYPES, "Attendee");
		     a && st == SB_OK; a = sb_xml_next(a)) {
			char buf[320], rt[40], t[64], iso[48];
			const char *v = attendee_email(a, buf, sizeof(buf));
			if (!v)
				continue;
			st = sb_result_row(r);
			if (st == SB_OK)
				st = sb_result_clean_text(r, "Email", v);
			if (st == SB_OK)
				st = sb_result_str(r, "Kind", kind_names[k]);
			if (st == SB_OK)
				st = sb_result_str(
				    r, "ResponseStatus",
				    response_choice(ews_child_text(
					a, "ResponseType", rt, sizeof(rt))));
			if (st == SB_OK &&
			    ews_child_text(a, "LastResponseTime", t,
					   sizeof(t)) &&
			    ews_datetime_read(t, iso, sizeof(iso)))
				st = sb_result_str(r, "LastResponseTime", iso);
			if (st != SB_OK)
				sb_error_set(err, st, NULL,
					     "building the result");
		}
	}
	ews_op_free(&op);
	return st;
}

/* ---- the tables --------------------------------------------------------- */

#define P_ID(what)                                                             \
	{                                                                      \
		.name = "Id", .type = SB_TYPE_TEXT, .flags = SB_REQUIRED,      \
		.max_size = ID_MAX, .doc = what                                \
	}
#define P_ATTENDEES                                                            \
	{.name = "RequiredAttendees",                                          \
	 .type = SB_TYPE_EMAIL,                                                \
	 .flags = SB_MULTI,                                                    \
	 .max_size = ATTENDEES_MAX,                                            \
	 .doc = "Attendees whose presence is required (EWS "                   \
		"RequiredAttendees)."},                                        \
	    {.name = "OptionalAttendees",                                      \
	     .type = SB_TYPE_EMAIL,                                            \
	     .flags = SB_MULTI,                                                \
	     .max_size = ATTENDEES_MAX,                                        \
	     .doc = "Attendees whose presence is optional (EWS "               \
		    "OptionalAttendees)."},                                    \
	{                                                                      \
		.name = "Resources", .type = SB_TYPE_EMAIL, .flags = SB_MULTI, \
		.max_size = ATTENDEES_MAX,                                     \
		.doc = "Rooms and equipment (EWS Resources); a room "          \
		       "mailbox answers by itself as its booking policy "      \
		       "says."                                                 \
	}

#define P_REST                                                                 \
	{.name = "Body",                                                       \
	 .type = SB_TYPE_MEMO,                                                 \
	 .max_size = 512 * 1024,                                               \
	 .doc = "Description (plain text)."},                                  \
	    {.name = "Location",                                               \
	     .type = SB_TYPE_TEXT,                                             \
	     .max_size = 1024,                                                 \
	     .doc = "Where it takes place."},                                  \
	    {.name = "TimeZone",                                               \
	     .type = SB_TYPE_TEXT,                                             \
	     .max_size = 128,                                                  \
	     .doc =                                                            \
		 "Time zone it is planned in: an IANA name or a Windows id "   \
		 "(as Appointment; default: the instance's timezone)."},       \
	    {.name = "IsAllDay",                                               \
	     .type = SB_TYPE_BOOLEAN,                                          \
	     .doc = "Whole days: Start and End are taken as dates."},          \
	    {.name = "Reminder",                                               \
	     .type = SB_TYPE_NUMBER,                                           \
	     .doc = "Minutes before Start to remind (0..40320)."},             \
	    {.name = "Categories",                                             \
	     .type = SB_TYPE_TEXT,                                             \
	     .flags = SB_MULTI,                                                \
	     .max_size = 50,                                                   \
	     .doc = "Category names."},                                        \
	    {.name = "Recurrence",                                             \
	     .type = SB_TYPE_TEXT,                                             \
	     .max_size = SB_RRULE_TEXT_MAX,                                    \
	     .doc = "How it repeats: one RRULE of the shared subset EWS can "  \
		    "keep (as Appointment)."},                                 \
	    P_ATTENDEES

static const struct sb_param create_in[] = {
    {.name = "Subject",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = 255,
     .doc = "Title of the meeting."},
    {.name = "Start",
     .type = SB_TYPE_DATETIME,
     .flags = SB_REQUIRED,
     .doc = "Start, ISO 8601 with offset."},
    {.name = "End",
     .type = SB_TYPE_DATETIME,
     .flags = SB_REQUIRED,
     .doc = "End, ISO 8601 with offset; not before Start."},
    P_REST,
    SB_PARAM_MAILBOX,
    SB_PARAM_END};
static const struct sb_param update_in[] = {
    P_ID("Id of the meeting in the organizer's calendar."),
    {.name = "ChangeKey",
     .type = SB_TYPE_TEXT,
     .max_size = ID_MAX,
     .doc = "The ChangeKey the meeting was read with: if it has changed "
	    "since, 409 conflict and nothing is changed (empty: no check)."},
    {.name = "Subject",
     .type = SB_TYPE_TEXT,
     .max_size = 255,
     .doc = "New title."},
    {.name = "Start",
     .type = SB_TYPE_DATETIME,
     .doc = "New start, ISO 8601 with offset."},
    {.name = "End",
     .type = SB_TYPE_DATETIME,
     .doc = "New end, ISO 8601 with offset."},
    P_REST,
    SB_PARAM_MAILBOX,
    SB_PARAM_END};
static const struct sb_param id_in[] = {
    P_ID("Id of the meeting in the mailbox's calendar (EWS ItemId)."),
    SB_PARAM_MAILBOX, SB_PARAM_END};
static const struct sb_param cancel_in[] = {
    P_ID("Id of the meeting in the organizer's calendar."),
    {.name = "ChangeKey",
     .type = SB_TYPE_TEXT,
     .max_size = ID_MAX,
     .doc = "The ChangeKey the meeting was read with: if it has changed "
	    "since, 409 conflict (empty: no check)."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END};
static const struct sb_param list_in[] = {
    {.name = "WindowStart",
     .type = SB_TYPE_DATETIME,
     .doc = "Only meetings ending after this time (a window lists "
	    "occurrences)."},
    {.name = "WindowEnd",
     .type = SB_TYPE_DATETIME,
     .doc = "Only meetings starting before this time; a window spans at "
	    "most two years."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END};
static const char *const mtg_ret[] = {
    "Id",	 "ChangeKey",	      "Subject",
    "Body",	 "Location",	      "Start",
    "End",	 "TimeZone",	      "IsAllDay",
    "Reminder",	 "Categories",	      "Recurrence",
    "Organizer", "RequiredAttendees", "OptionalAttendees",
    "Resources", "ResponseStatus",    NULL};
static const char *const id_ret[] = {"Id", NULL};
static const char *const att_ret[] = {"Email", "Kind", "ResponseStatus",
				      "LastResponseTime", NULL};

const struct sb_method ews_meeting_methods[] = {
    {.name = "Create",
     .kind = SB_KIND_CREATE,
     .handler = mtg_create,
     .doc = "Create a meeting organized by the mailbox in its calendar and "
	    "send the invitations (SendToAllAndSaveCopy).",
     .inputs = create_in,
     .returns = mtg_ret},
    {.name = "Update",
     .kind = SB_KIND_UPDATE,
     .handler = mtg_update,
     .doc = "Change a meeting (organizer; the inputs given, as "
	    "Appointment.Update; an attendee list given replaces that "
	    "list) and send the update to every attendee "
	    "(SendToAllAndSaveCopy): removed ones get a cancellation.",
     .inputs = update_in,
     .returns = mtg_ret},
    {.name = "Cancel",
     .kind = SB_KIND_DELETE,
     .handler = mtg_cancel,
     .doc = "Cancel a meeting (organizer only, CancelCalendarItem): every "
	    "attendee gets a cancellation and their copies are marked "
	    "cancelled; the meeting leaves the organizer's calendar.",
     .inputs = cancel_in,
     .returns = id_ret},
    {.name = "Accept",
     .kind = SB_KIND_UPDATE,
     .handler = mtg_accept,
     .doc = "Accept an invitation in the mailbox's calendar (AcceptItem, "
	    "sent to the organizer).  A cancelled meeting answers 409.",
     .inputs = id_in,
     .returns = mtg_ret},
    {.name = "AcceptTentatively",
     .kind = SB_KIND_UPDATE,
     .handler = mtg_tentative,
     .doc = "Accept an invitation tentatively (as Accept).",
     .inputs = id_in,
     .returns = mtg_ret},
    {.name = "Decline",
     .kind = SB_KIND_UPDATE,
     .handler = mtg_decline,
     .doc = "Decline an invitation: the answer goes to the organizer and "
	    "Exchange removes the meeting from the mailbox's calendar; the "
	    "row is the meeting as it was, shown declined.",
     .inputs = id_in,
     .returns = mtg_ret},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = mtg_load,
     .doc = "Load one meeting; ResponseStatus is the mailbox's own answer "
	    "(Organizer for the organizer).",
     .inputs = id_in,
     .returns = mtg_ret},
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = mtg_list,
     .doc = "List the meetings of the mailbox's calendar (appointments "
	    "without attendees left out): as Appointment.List, without a "
	    "window by Start, with one every occurrence in it.",
     .inputs = list_in,
     .returns = mtg_ret},
    SB_METHOD_END,
};

const struct sb_method ews_meeting_attendee_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = att_list,
     .doc = "The attendees of a meeting with their answers and when they "
	    "gave them, as the mailbox's copy records them (the "
	    "organizer's follows each answer).",
     .inputs = id_in,
     .returns = att_ret},
    SB_METHOD_END,
};
