/* exchange-ews broker — Appointment (Create, Load, Update, Delete, List):
 * calendar items of the mailbox's calendar folder, with CreateItem,
 * GetItem, UpdateItem, DeleteItem and FindItem (a CalendarView over a
 * window).  An appointment has no attendees: invitations are never
 * sent (SendToNone everywhere).  Create, Load, Update and List also
 * serve Meeting (ews_meeting.c), which adds its fields and
 * SendToAllAndSaveCopy through a struct ews_cal_kind.
 *
 * Times: every datetime returned is UTC ("Z"); inputs carry an offset.
 * An all-day appointment spans whole days of its time zone (the
 * TimeZone input, else the instance's timezone): Exchange keeps it from
 * midnight to midnight there, and it is returned as the dates it was
 * created with, at 00:00Z.  The offsets of a zone come from ICU's zones
 * (ews_tz.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/rrule.h>
#include <svcbroker/schema.h>

#include "ews_calendar.h"
#include "ews_int.h"
#include "ews_mail.h"

#define ID_MAX 512
#define SUBJECT_MAX 255
#define BODY_MAX (512 * 1024)
#define LOCATION_MAX 1024
#define TZ_MAX 128
#define REMINDER_MAX 40320 /* four weeks, Outlook's largest */
#define LIST_MAX 1000	   /* Exchange's EWSFindCountLimit */
/* The longest window of a List (Exchange: ErrorCalendarViewRangeTooBig
 * beyond two years) */
#define WINDOW_MAX ((int64_t)731 * 86400)
/* List's position without a window keeps Starts shifted by this, so that
 * every instant of the years 0000..9999 is a number above EWS_PAGE_END:
 * ews_page_pos_advance takes a negative time for a row without one and
 * EWS_PAGE_END for the anchor of a first page without times, while an
 * appointment before 1970 (a birthday series) has a negative Start. */
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z there */
#define POS_FIRST (EWS_PAGE_END + 2)
#define POS_SHIFT (POS_FIRST + INT64_C(62167219200))
#define POS_LAST (POS_SHIFT + INT64_C(253402300799))

/* ---- time zones --------------------------------------------------------- */

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Midnight of local date d in zone iana (its first instant when the clock
 * skips midnight), as UTC epoch seconds. */
static bool local_midnight(const char *iana, const struct ews_day *d,
			   int64_t *out)
{
	struct ews_zone *z = ews_zone_open(iana);
	bool ok = z && ews_zone_midnight(z, d->y, d->m, d->d, out);
	ews_zone_close(z);
	return ok;
}

/* ---- inputs ------------------------------------------------------------- */

struct ews_cal {
	struct ews *e;
	char zone[TZ_MAX];    /* the Windows id sent */
	char iana[TZ_MAX];    /* its IANA name, or "" when none is known */
	const char *tz_input; /* the TimeZone input, or NULL */
};

static enum sb_status oom(struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}

/* The zone of an appointment: the TimeZone input or the instance's. */
static enum sb_status cal_zone(struct ews *e, const char *tz, struct ews_cal *z,
			       struct sb_error *err)
{
	memset(z, 0, sizeof(*z));
	z->e = e;
	z->tz_input = tz;
	const char *name = tz && *tz ? tz : e->conf->timezone;
	const char *win = ews_timezone_id(name);
	if (!win && tz && *tz)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarInvalidTimeZone",
				    "TimeZone: \"%.64s\" is not a time zone "
				    "this broker knows (an IANA name such as "
				    "Europe/Berlin or a Windows id such as W. "
				    "Europe Standard Time)",
				    tz);
	snprintf(z->zone, sizeof(z->zone), "%s", win ? win : e->tz_id);
	if (!ews_tz_iana(name, z->iana, sizeof(z->iana)))
		z->iana[0] = '\0';
	return SB_OK;
}

/* The offset written in an ISO 8601 input ("Z", "+02:00"), seconds. */
static int input_offset(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n && (s[n - 1] == 'Z' || s[n - 1] == 'z'))
		return 0;
	if (n >= 6 && (s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':') {
		int h = atoi(s + n - 5), m = atoi(s + n - 2);
		int v = h * 3600 + m * 60;
		return s[n - 6] == '-' ? -v : v;
	}
	return 0;
}

/* The calendar date an input was written with (its first ten
 * characters). */
static bool input_date(const char *s, struct ews_day *d)
{
	int y, m, dd, used = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &dd, &used) != 3 ||
	    used != 10)
		return false;
	struct ews_day x = {.y = y, .m = m, .d = dd};
	ews_day_of(ews_day_epoch(&x), d);
	return true;
}

/* Start, End, IsAllDay, the zone and Recurrence of an appointment to
 * write, resolved to what EWS is sent. */
struct when {
	int64_t start, end; /* UTC */
	bool all_day;
	struct ews_day first; /* local date of the first occurrence */
	int offset;	      /* UTC offset at the start */
	bool has_recur;
	struct ews_recur recur;
};

static enum sb_status when_resolve(const struct ews_cal *z,
				   const char *start_in, const char *end_in,
				   bool all_day, const char *rrule,
				   struct when *w, struct sb_error *err)
{
	memset(w, 0, sizeof(*w));
	w->all_day = all_day;
	if (!sb_datetime_parse(start_in, &w->start))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Start: expected an ISO 8601 date-time "
				    "with offset");
	if (!sb_datetime_parse(end_in, &w->end))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "End: expected an ISO 8601 date-time "
				    "with offset");
	if (w->end < w->start)
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT,
		    "ErrorCalendarEndDateIsEarlierThanStartDate",
		    "End: before Start");
	if (all_day) {
		struct ews_day ds, de;
		if (!input_date(start_in, &ds) || !input_date(end_in, &de))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Start/End: not dates");
		if (ews_day_epoch(&de) <= ews_day_epoch(&ds))
			ews_day_of(ews_day_epoch(&ds) + 86400, &de);
		if (!z->iana[0] || !local_midnight(z->iana, &ds, &w->start) ||
		    !local_midnight(z->iana, &de, &w->end))
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT,
			    "ErrorCalendarInvalidTimeZone",
			    "TimeZone: ICU has no offsets for %s, which an "
			    "all-day appointment needs; give an IANA "
			    "TimeZone",
			    z->zone);
		w->first = ds;
		ews_tz_offset(z->iana, w->start, &w->offset);
	} else {
		int off = input_offset(start_in);
		if (z->iana[0])
			ews_tz_offset(z->iana, w->start, &off);
		w->offset = off;
		ews_day_of(w->start + off, &w->first);
	}
	if (w->start < INT64_C(-11644473600) || w->end > INT64_C(253402300799))
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarOutOfRange",
				    "Start/End: only years 1601 to 9999");
	if (rrule && *rrule) {
		/* an UNTIL date-time ends on the local date of that instant,
		 * in the zone's offset then (a series may cross a change of
		 * daylight saving time), not the Start's */
		int until_off = w->offset;
		struct sb_rrule pr;
		struct sb_error e0;
		if (z->iana[0] && sb_rrule_parse(rrule, &pr, &e0) == SB_OK &&
		    pr.has_until && !pr.until_is_date)
			ews_tz_offset(z->iana, pr.until, &until_off);
		enum sb_status st = ews_recur_from_rrule(
		    rrule, &w->first, until_off, &w->recur, err);
		if (st != SB_OK)
			return st;
		w->has_recur = true;
	}
	return SB_OK;
}

/* ---- writing ------------------------------------------------------------ */

static void w_utc(struct sb_xml_w *w, const char *name, int64_t t)
{
	char b[40];
	sb_datetime_format(t, b, sizeof(b));
	sb_xml_w_leaf(w, name, b);
}

static void w_zone(struct sb_xml_w *w, const char *name, const char *zone)
{
	sb_xml_w_open(w, name);
	sb_xml_w_attr(w, "Id", zone);
	sb_xml_w_close(w);
}

static void w_categories(struct sb_xml_w *w, const struct sb_call *call)
{
	sb_xml_w_open(w, "t:Categories");
	for (size_t i = 0; i < sb_call_count(call, "Categories"); i++)
		sb_xml_w_leaf(w, "t:String",
			      sb_call_str_at(call, "Categories", i));
	sb_xml_w_close(w);
}

static void w_body(struct sb_xml_w *w, const char *body)
{
	sb_xml_w_open(w, "t:Body");
	sb_xml_w_attr(w, "BodyType", "Text");
	sb_xml_w_text(w, body);
	sb_xml_w_close(w);
}

static void w_reminder(struct sb_xml_w *w, int64_t minutes, bool set)
{
	char b[24];
	sb_xml_w_leaf(w, "t:ReminderIsSet", set ? "true" : "false");
	if (set) {
		snprintf(b, sizeof(b), "%lld", (long long)minutes);
		sb_xml_w_leaf(w, "t:ReminderMinutesBeforeStart", b);
	}
}

static const char *const get_fields[] = {
    "item:Subject",
    "item:Body",
    "item:Categories",
    "item:ReminderIsSet",
    "item:ReminderMinutesBeforeStart",
    "calendar:Start",
    "calendar:End",
    "calendar:IsAllDayEvent",
    "calendar:Location",
    "calendar:CalendarItemType",
    "calendar:Recurrence",
    "calendar:StartTimeZone",
    NULL,
};

void ews_cal_w_get_items(struct ews_op *op, const char *const *ids, size_t n,
			 const struct ews_cal_kind *kind)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:GetItem");
	sb_xml_w_open(w, "m:ItemShape");
	sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
	sb_xml_w_leaf(w, "t:BodyType", "Text");
	sb_xml_w_open(w, "t:AdditionalProperties");
	for (size_t i = 0; get_fields[i]; i++) {
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", get_fields[i]);
		sb_xml_w_close(w);
	}
	for (size_t i = 0; kind && kind->fields && kind->fields[i]; i++) {
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", kind->fields[i]);
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:ItemIds");
	for (size_t i = 0; i < n; i++) {
		sb_xml_w_open(w, "t:ItemId");
		sb_xml_w_attr(w, "Id", ids[i]);
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

/* ---- reading ------------------------------------------------------------ */

static const char *tchild_text(const xmlNode *p, const char *local, char *buf,
			       size_t n)
{
	return ews_child_text(p, local, buf, n);
}

static bool read_time(const xmlNode *it, const char *local, int64_t *t)
{
	char b[64], iso[48];
	return tchild_text(it, local, b, sizeof(b)) &&
	       ews_datetime_read(b, iso, sizeof(iso)) &&
	       sb_datetime_parse(iso, t);
}

static int read_bool(const xmlNode *it, const char *local)
{
	char b[16];
	if (!tchild_text(it, local, b, sizeof(b)))
		return -1;
	return !strcmp(b, "true") || !strcmp(b, "1");
}

/* An all-day time as the date it stands for, at 00:00Z: the local date
 * in the item's zone (rounded to the nearest midnight, so an offset
 * known only roughly still gives the right day). */
static int64_t all_day_out(const struct ews_cal *inst, const char *zone,
			   int64_t t)
{
	char iana[TZ_MAX] = "";
	int off = 0;
	if (!(zone && ews_tz_iana(zone, iana, sizeof(iana)) &&
	      ews_tz_offset(iana, t, &off)) &&
	    inst->iana[0])
		ews_tz_offset(inst->iana, t, &off);
	struct ews_day d;
	ews_day_of(t + off + 43200, &d);
	return ews_day_epoch(&d);
}

/* One row of an item (a t:CalendarItem of GetItem). */
static enum sb_status item_row(const struct ews_cal *inst, struct sb_result *r,
			       const xmlNode *it,
			       const struct ews_cal_kind *kind)
{
	xmlNode *idn = sb_xml_child(it, SB_NS_EWS_TYPES, "ItemId");
	const char *id = idn ? sb_xml_attr(idn, NULL, "Id") : NULL;
	const char *ck = idn ? sb_xml_attr(idn, NULL, "ChangeKey") : NULL;
	int64_t start = 0, end = 0;
	struct sb_error ignored;
	/* an Id no later call would take is not shown (one odd item never
	 * fails a List) */
	if (!id || ews_check_id("Id", id, &ignored) != SB_OK ||
	    !read_time(it, "Start", &start) || !read_time(it, "End", &end))
		return SB_ERR_NOT_FOUND; /* not one to show */
	xmlNode *tz = sb_xml_child(it, SB_NS_EWS_TYPES, "StartTimeZone");
	const char *zone = tz ? sb_xml_attr(tz, NULL, "Id") : NULL;
	bool all_day = read_bool(it, "IsAllDayEvent") == 1;
	if (all_day) {
		start = all_day_out(inst, zone, start);
		end = all_day_out(inst, zone, end);
		if (end <= start)
			end = start + 86400;
	}
	/* a date rounded out of the years 0000..9999 (an answer at their
	 * very end) cannot be written: not one to show either */
	if (start < INT64_C(-62167219200) || end > INT64_C(253402300799))
		return SB_ERR_NOT_FOUND;
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_str(r, "Id", id);
	if (st == SB_OK && ck)
		st = sb_result_clean_text(r, "ChangeKey", ck);
	char *s =
	    ews_text_clean(sb_xml_child(it, SB_NS_EWS_TYPES, "Subject"), false);
	if (st == SB_OK)
		st = sb_result_str(r, "Subject", s ? s : "");
	free(s);
	/* an empty Body is none (a removed one may come back as an empty
	 * element), as Task reads it and as mapi-stub shows it */
	s = ews_text_clean(sb_xml_child(it, SB_NS_EWS_TYPES, "Body"), true);
	if (st == SB_OK && s && *s)
		st = sb_result_str(r, "Body", s);
	free(s);
	s = ews_text_clean(sb_xml_child(it, SB_NS_EWS_TYPES, "Location"),
			   false);
	if (st == SB_OK && s)
		st = sb_result_str(r, "Location", s);
	free(s);
	char b[40];
	sb_datetime_format(start, b, sizeof(b));
	if (st == SB_OK)
		st = sb_result_str(r, "Start", b);
	sb_datetime_format(end, b, sizeof(b));
	if (st == SB_OK)
		st = sb_result_str(r, "End", b);
	if (st == SB_OK && zone && *zone)
		st = sb_result_clean_text(r, "TimeZone", zone);
	if (st == SB_OK)
		st = sb_result_bool(r, "IsAllDay", all_day);
	char num[24];
	if (st == SB_OK && read_bool(it, "ReminderIsSet") == 1 &&
	    tchild_text(it, "ReminderMinutesBeforeStart", num, sizeof(num))) {
		char *e = NULL;
		long long v = strtoll(num, &e, 10);
		if (e && !*e && v >= 0 && v <= INT32_MAX)
			st = sb_result_int(r, "Reminder", v);
	}
	if (st == SB_OK)
		st = sb_result_empty(r, "Categories");
	xmlNode *cats = sb_xml_child(it, SB_NS_EWS_TYPES, "Categories");
	for (xmlNode *c = sb_xml_child(cats, SB_NS_EWS_TYPES, "String");
	     c && st == SB_OK; c = sb_xml_next(c)) {
		char *v = ews_text_clean(c, false);
		if (v && *v)
			st = sb_result_str(r, "Categories", v);
		free(v);
	}
	xmlNode *rec = sb_xml_child(it, SB_NS_EWS_TYPES, "Recurrence");
	struct ews_recur rr;
	char rule[SB_RRULE_TEXT_MAX + 1];
	if (st == SB_OK && rec && ews_recur_read(rec, &rr) &&
	    ews_recur_to_rrule(&rr, rule, sizeof(rule)))
		st = sb_result_str(r, "Recurrence", rule);
	if (st == SB_OK && kind && kind->row)
		st = kind->row(r, it);
	return st;
}

/* GetItem of one appointment into a row of r. */
static enum sb_status load_row(struct ews_cal *z, const struct sb_call *call,
			       const char *mailbox, const char *id,
			       const struct ews_cal_kind *kind,
			       struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	ews_op_init(&op, z->e, call, 0);
	op.mailbox = mailbox;
	const char *ids[] = {id};
	ews_cal_w_get_items(&op, ids, 1, kind);
	enum sb_status st = ews_op_run(&op, err);
	xmlNode *msg = NULL;
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	xmlNode *it = st == SB_OK ? ews_items_first(msg) : NULL;
	if (st == SB_OK &&
	    (!it || !sb_xml_is(it, SB_NS_EWS_TYPES, "CalendarItem") ||
	     (kind && kind->keep && !kind->keep(it))))
		st = sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				  "Id: not %s",
				  kind ? kind->what : "an appointment");
	if (st == SB_OK) {
		st = item_row(z, r, it, kind);
		if (st == SB_ERR_NOT_FOUND)
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "GetItem answered an appointment "
					  "without Id, Start or End");
		else if (st != SB_OK)
			sb_error_set(err, st, NULL, "building the result");
	}
	ews_op_free(&op);
	return st;
}

/* ---- checks ------------------------------------------------------------- */

static enum sb_status check_common(const struct sb_call *call,
				   struct sb_error *err)
{
	int64_t rem;
	if (sb_call_int(call, "Reminder", &rem) &&
	    (rem < 0 || rem > REMINDER_MAX))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Reminder: 0..%d minutes", REMINDER_MAX);
	for (size_t i = 0; i < sb_call_count(call, "Categories"); i++) {
		const char *c = sb_call_str_at(call, "Categories", i);
		if (!c || !*c)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Categories: an empty name");
	}
	return SB_OK;
}

/* ---- Create ------------------------------------------------------------- */

enum sb_status ews_cal_create(void *state, const struct sb_call *call,
			      const struct ews_cal_kind *kind,
			      struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct ews_cal z;
	struct when wh;
	const char *subject = sb_call_str(call, "Subject", "");
	const char *body = sb_call_str(call, "Body", NULL);
	const char *loc = sb_call_str(call, "Location", NULL);
	const char *rrule = sb_call_str(call, "Recurrence", NULL);
	bool all_day = false;
	int64_t rem = 0;
	bool has_rem = sb_call_int(call, "Reminder", &rem);
	sb_call_bool(call, "IsAllDay", &all_day);

	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = check_common(call, err);
	if (st == SB_OK && kind && kind->check)
		st = kind->check(call, err);
	if (st == SB_OK)
		st = cal_zone(e, sb_call_str(call, "TimeZone", NULL), &z, err);
	if (st == SB_OK)
		st = when_resolve(&z, sb_call_str(call, "Start", NULL),
				  sb_call_str(call, "End", NULL), all_day,
				  rrule, &wh, err);
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	struct sb_xml_w *w = &op.w;
	sb_xml_w_open(w, "m:CreateItem");
	sb_xml_w_attr(w, "SendMeetingInvitations",
		      kind && kind->send ? kind->send : "SendToNone");
	sb_xml_w_open(w, "m:SavedItemFolderId");
	st = ews_folder_ref(&op, "calendar", "calendar", err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		sb_xml_w_close(w);
		sb_xml_w_open(w, "m:Items");
		sb_xml_w_open(w, "t:CalendarItem");
		sb_xml_w_leaf(w, "t:Subject", subject);
		if (body)
			w_body(w, body);
		if (sb_call_count(call, "Categories"))
			w_categories(w, call);
		w_reminder(w, rem, has_rem);
		w_utc(w, "t:Start", wh.start);
		w_utc(w, "t:End", wh.end);
		sb_xml_w_leaf(w, "t:IsAllDayEvent", all_day ? "true" : "false");
		if (loc)
			sb_xml_w_leaf(w, "t:Location", loc);
		if (kind && kind->write)
			kind->write(w, call);
		if (wh.has_recur)
			ews_recur_write(w, &wh.recur);
		w_zone(w, "t:StartTimeZone", z.zone);
		w_zone(w, "t:EndTimeZone", z.zone);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	char id[ID_MAX] = "";
	if (st == SB_OK) {
		xmlNode *idn = sb_xml_child(ews_items_first(msg),
					    SB_NS_EWS_TYPES, "ItemId");
		const char *v = idn ? sb_xml_attr(idn, NULL, "Id") : NULL;
		if (!v || !*v || strlen(v) >= sizeof(id))
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "CreateItem answered without the "
					  "new item's Id");
		else
			snprintf(id, sizeof(id), "%s", v);
	}
	if (st == SB_OK)
		st = load_row(&z, call, op.mailbox, id, kind, r, err);
	ews_op_free(&op);
	return st;
}

/* ---- Load --------------------------------------------------------------- */

enum sb_status ews_cal_load(void *state, const struct sb_call *call,
			    const struct ews_cal_kind *kind,
			    struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct ews_cal z;
	const char *id = sb_call_str(call, "Id", NULL);
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK)
		st = cal_zone(e, NULL, &z, err);
	if (st == SB_OK)
		st = load_row(&z, call, op.mailbox, id, kind, r, err);
	ews_op_free(&op);
	return st;
}

static enum sb_status appt_create(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return ews_cal_create(state, call, NULL, r, err);
}

static enum sb_status appt_load(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err)
{
	return ews_cal_load(state, call, NULL, r, err);
}

/* ---- Update ------------------------------------------------------------- */

/* What an Update starts from: the item as it is. */
struct current {
	char start[48], end[48];
	bool all_day;
	char zone[TZ_MAX];
	bool recurring;
	char rrule[SB_RRULE_TEXT_MAX + 1];
};

/* t at UTC offset off: "2026-12-07T00:30:00+01:00". */
static void local_format(int64_t t, int off, char *out, size_t n)
{
	struct ews_day d;
	int64_t l = t + off;
	ews_day_of(l, &d);
	int64_t sec = l - ews_day_epoch(&d);
	int a = off < 0 ? -off : off;
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", d.y, d.m,
		 d.d, (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60),
		 off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

static enum sb_status get_current(struct ews *e, const struct sb_call *call,
				  const char *mailbox, const char *id,
				  struct current *c, struct sb_error *err)
{
	struct ews_op op;
	memset(c, 0, sizeof(*c));
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	const char *ids[] = {id};
	ews_cal_w_get_items(&op, ids, 1, NULL);
	enum sb_status st = ews_op_run(&op, err);
	xmlNode *msg = NULL;
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	xmlNode *it = st == SB_OK ? ews_items_first(msg) : NULL;
	int64_t t0 = 0, t1 = 0;
	if (st == SB_OK &&
	    (!it || !sb_xml_is(it, SB_NS_EWS_TYPES, "CalendarItem")))
		st = sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				  "Id: not an appointment");
	if (st == SB_OK &&
	    (!read_time(it, "Start", &t0) || !read_time(it, "End", &t1)))
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "GetItem answered an appointment without "
				  "Start or End");
	if (st == SB_OK) {
		xmlNode *tz =
		    sb_xml_child(it, SB_NS_EWS_TYPES, "StartTimeZone");
		const char *zone = tz ? sb_xml_attr(tz, NULL, "Id") : NULL;
		if (zone && ews_timezone_id(zone))
			snprintf(c->zone, sizeof(c->zone), "%s", zone);
		c->all_day = read_bool(it, "IsAllDayEvent") == 1;
		if (c->all_day) {
			struct ews_cal z;
			memset(&z, 0, sizeof(z));
			t0 = all_day_out(&z, zone, t0);
			t1 = all_day_out(&z, zone, t1);
		}
		/* set hours: written at the zone's offset, so that an
		 * Update making it all-day takes its local dates */
		char iana[TZ_MAX];
		int o0 = 0, o1 = 0;
		if (!c->all_day && zone &&
		    ews_tz_iana(zone, iana, sizeof(iana)) &&
		    ews_tz_offset(iana, t0, &o0) &&
		    ews_tz_offset(iana, t1, &o1)) {
			local_format(t0, o0, c->start, sizeof(c->start));
			local_format(t1, o1, c->end, sizeof(c->end));
		} else {
			sb_datetime_format(t0, c->start, sizeof(c->start));
			sb_datetime_format(t1, c->end, sizeof(c->end));
		}
		xmlNode *rec = sb_xml_child(it, SB_NS_EWS_TYPES, "Recurrence");
		struct ews_recur rr;
		if (rec) {
			c->recurring = true;
			if (!ews_recur_read(rec, &rr) ||
			    !ews_recur_to_rrule(&rr, c->rrule,
						sizeof(c->rrule)))
				c->rrule[0] = '\0';
		}
	}
	ews_op_free(&op);
	return st;
}

void ews_cal_set_open(struct sb_xml_w *w, const char *uri)
{
	sb_xml_w_open(w, "t:SetItemField");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", uri);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "t:CalendarItem");
}

void ews_cal_set_close(struct sb_xml_w *w)
{
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

void ews_cal_del_field(struct sb_xml_w *w, const char *uri)
{
	sb_xml_w_open(w, "t:DeleteItemField");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", uri);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

static bool given(const struct sb_call *call, const char *name)
{
	return sb_call_input(call, name) != NULL;
}

enum sb_status ews_cal_update(void *state, const struct sb_call *call,
			      const struct ews_cal_kind *kind,
			      struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct ews_cal z;
	struct current cur;
	struct when wh;
	const char *id = sb_call_str(call, "Id", NULL);
	const char *ck = sb_call_str(call, "ChangeKey", NULL);
	/* A removed TimeZone (Clear, or ""): EWS keeps a zone on every
	 * calendar item, so the item is written in UTC, the instants kept,
	 * as mapi-stub writes an item without a zone.  Meeting (no Clear)
	 * keeps its zone on an empty TimeZone. */
	bool tz_cleared = !kind && ews_cleared(call, "TimeZone");
	bool rec_given =
	    given(call, "Recurrence") || ews_clear_named(call, "Recurrence");
	bool timing = given(call, "Start") || given(call, "End") ||
		      given(call, "IsAllDay") || tz_cleared ||
		      given(call, "TimeZone") || rec_given;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK && ck && *ck)
		st = ews_check_id("ChangeKey", ck, err);
	if (st == SB_OK)
		st = check_common(call, err);
	if (st == SB_OK)
		st = ews_clear_check(call, err);
	if (st == SB_OK && kind && kind->update_check)
		st = kind->update_check(call, err);
	const char *tz =
	    tz_cleared ? "UTC" : sb_call_str(call, "TimeZone", NULL);
	if (st == SB_OK && tz && *tz && !ews_timezone_id(tz))
		st = cal_zone(e, tz, &z, err); /* the 400 naming it */
	/* Start, End, IsAllDay, TimeZone and Recurrence are written
	 * together from the item as it is and the inputs */
	if (st == SB_OK && timing)
		st = get_current(e, call, op.mailbox, id, &cur, err);
	if (st == SB_OK && timing) {
		bool all_day = cur.all_day;
		sb_call_bool(call, "IsAllDay", &all_day);
		const char *rr = ews_cleared(call, "Recurrence") ? ""
				 : rec_given
				     ? sb_call_str(call, "Recurrence", "")
				     : cur.rrule;
		if (!rec_given && cur.recurring && !*rr)
			st = sb_error_set(
			    err, SB_ERR_INVALID_INPUT, SB_RRULE_ERROR_CODE,
			    "Recurrence: the series' pattern cannot be read "
			    "back; give Recurrence with the new times");
		if (st == SB_OK)
			st = cal_zone(e, tz && *tz ? tz : cur.zone, &z, err);
		/* a new Start alone keeps the duration */
		const char *start_in = sb_call_str(call, "Start", cur.start);
		const char *end_in = sb_call_str(call, "End", cur.end);
		char moved[48];
		int64_t s0, e0, s1;
		if (given(call, "Start") && !given(call, "End") &&
		    sb_datetime_parse(cur.start, &s0) &&
		    sb_datetime_parse(cur.end, &e0) &&
		    sb_datetime_parse(start_in, &s1) && e0 >= s0) {
			local_format(s1 + (e0 - s0), input_offset(start_in),
				     moved, sizeof(moved));
			end_in = moved;
		}
		if (st == SB_OK)
			st = when_resolve(&z, start_in, end_in, all_day, rr,
					  &wh, err);
	}
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	struct sb_xml_w *w = &op.w;
	sb_xml_w_open(w, "m:UpdateItem");
	sb_xml_w_attr(w, "ConflictResolution",
		      ck && *ck ? "NeverOverwrite" : "AlwaysOverwrite");
	sb_xml_w_attr(w, "SendMeetingInvitationsOrCancellations",
		      kind && kind->send ? kind->send : "SendToNone");
	sb_xml_w_open(w, "m:ItemChanges");
	sb_xml_w_open(w, "t:ItemChange");
	sb_xml_w_open(w, "t:ItemId");
	sb_xml_w_attr(w, "Id", id);
	if (ck && *ck)
		sb_xml_w_attr(w, "ChangeKey", ck);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "t:Updates");
	unsigned n = 0;
	if (given(call, "Subject")) {
		ews_cal_set_open(w, "item:Subject");
		sb_xml_w_leaf(w, "t:Subject", sb_call_str(call, "Subject", ""));
		ews_cal_set_close(w);
		n++;
	}
	if (ews_cleared(call, "Body")) {
		ews_cal_del_field(w, "item:Body");
		n++;
	} else if (given(call, "Body")) {
		ews_cal_set_open(w, "item:Body");
		w_body(w, sb_call_str(call, "Body", ""));
		ews_cal_set_close(w);
		n++;
	}
	if (ews_cleared(call, "Categories")) {
		ews_cal_del_field(w, "item:Categories");
		n++;
	} else if (given(call, "Categories")) {
		ews_cal_set_open(w, "item:Categories");
		w_categories(w, call);
		ews_cal_set_close(w);
		n++;
	}
	int64_t rem;
	if (ews_clear_named(call, "Reminder")) {
		/* EWS removes a reminder by ReminderIsSet false (the
		 * property itself is not deleted; Outlook does the same) */
		ews_cal_set_open(w, "item:ReminderIsSet");
		sb_xml_w_leaf(w, "t:ReminderIsSet", "false");
		ews_cal_set_close(w);
		n++;
	} else if (sb_call_int(call, "Reminder", &rem)) {
		ews_cal_set_open(w, "item:ReminderIsSet");
		sb_xml_w_leaf(w, "t:ReminderIsSet", "true");
		ews_cal_set_close(w);
		ews_cal_set_open(w, "item:ReminderMinutesBeforeStart");
		char b[24];
		snprintf(b, sizeof(b), "%lld", (long long)rem);
		sb_xml_w_leaf(w, "t:ReminderMinutesBeforeStart", b);
		ews_cal_set_close(w);
		n++;
	}
	if (timing) {
		ews_cal_set_open(w, "calendar:Start");
		w_utc(w, "t:Start", wh.start);
		ews_cal_set_close(w);
		ews_cal_set_open(w, "calendar:End");
		w_utc(w, "t:End", wh.end);
		ews_cal_set_close(w);
		ews_cal_set_open(w, "calendar:IsAllDayEvent");
		sb_xml_w_leaf(w, "t:IsAllDayEvent",
			      wh.all_day ? "true" : "false");
		ews_cal_set_close(w);
	}
	if (ews_cleared(call, "Location")) {
		ews_cal_del_field(w, "calendar:Location");
		n++;
	} else if (given(call, "Location")) {
		ews_cal_set_open(w, "calendar:Location");
		sb_xml_w_leaf(w, "t:Location",
			      sb_call_str(call, "Location", ""));
		ews_cal_set_close(w);
		n++;
	}
	if (timing) {
		if (wh.has_recur) {
			ews_cal_set_open(w, "calendar:Recurrence");
			ews_recur_write(w, &wh.recur);
			ews_cal_set_close(w);
		} else if (cur.recurring) {
			ews_cal_del_field(w, "calendar:Recurrence");
		}
		ews_cal_set_open(w, "calendar:StartTimeZone");
		w_zone(w, "t:StartTimeZone", z.zone);
		ews_cal_set_close(w);
		ews_cal_set_open(w, "calendar:EndTimeZone");
		w_zone(w, "t:EndTimeZone", z.zone);
		ews_cal_set_close(w);
		n++;
	}
	if (kind && kind->update_write)
		n += kind->update_write(w, call);
	sb_xml_w_close(w); /* t:Updates */
	sb_xml_w_close(w); /* t:ItemChange */
	sb_xml_w_close(w); /* m:ItemChanges */
	sb_xml_w_close(w); /* m:UpdateItem */
	if (!n) {
		ews_op_free(&op);
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Update: give at least one of Subject, "
				    "Body, Location, Start, End, TimeZone, "
				    "IsAllDay, Reminder, Categories, "
				    "Recurrence%s",
				    kind && kind->update_write
					? ", RequiredAttendees, "
					  "OptionalAttendees, Resources"
					: ", Clear");
	}
	st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = ews_op_first_status(&op, NULL, err);
	if (st == SB_OK) {
		if (!timing)
			cal_zone(e, NULL, &z, err);
		st = load_row(&z, call, op.mailbox, id, kind, r, err);
	}
	ews_op_free(&op);
	return st;
}

/* ---- a ChangeKey before a delete ----------------------------------------
 */

static enum sb_status item_ck_check(struct ews *e, const struct sb_call *call,
				    const char *id, const char *want,
				    struct sb_error *err)
{
	if (!want || !*want)
		return SB_OK;
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK) {
		struct sb_xml_w *w = &op.w;
		sb_xml_w_open(w, "m:GetItem");
		sb_xml_w_open(w, "m:ItemShape");
		sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
		sb_xml_w_close(w);
		sb_xml_w_open(w, "m:ItemIds");
		sb_xml_w_open(w, "t:ItemId");
		sb_xml_w_attr(w, "Id", id);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		st = ews_op_run(&op, err);
	}
	xmlNode *msg = NULL;
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	if (st == SB_OK) {
		xmlNode *it = ews_items_first(msg);
		xmlNode *idn =
		    it ? sb_xml_child(it, SB_NS_EWS_TYPES, "ItemId") : NULL;
		const char *ck =
		    idn ? sb_xml_attr(idn, NULL, "ChangeKey") : NULL;
		if (!ck || strcmp(ck, want) != 0)
			st = sb_error_set(err, SB_ERR_CONFLICT,
					  "ErrorIrresolvableConflict",
					  "ChangeKey: the item has changed "
					  "since it was read; nothing deleted");
	}
	ews_op_free(&op);
	return st;
}

/* ---- Delete ------------------------------------------------------------- */

enum sb_status ews_item_delete(void *state, const struct sb_call *call,
			       const char *attr, const char *value,
			       struct sb_result *r, struct sb_error *err)
{
	struct ews_op op;
	const char *id = sb_call_str(call, "Id", NULL);
	ews_op_init(&op, state, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	/* EWS's DeleteItem takes no ChangeKey: compared just before */
	if (st == SB_OK)
		st = item_ck_check(state, call, id,
				   sb_call_str(call, "ChangeKey", NULL), err);
	if (st == SB_OK) {
		struct sb_xml_w *w = &op.w;
		sb_xml_w_open(w, "m:DeleteItem");
		sb_xml_w_attr(w, "DeleteType", "MoveToDeletedItems");
		sb_xml_w_attr(w, attr, value);
		sb_xml_w_open(w, "m:ItemIds");
		sb_xml_w_open(w, "t:ItemId");
		sb_xml_w_attr(w, "Id", id);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
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

static enum sb_status appt_delete(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return ews_item_delete(state, call, "SendMeetingCancellations",
			       "SendToNone", r, err);
}

/* ---- List --------------------------------------------------------------- */

enum sb_status ews_cal_list(void *state, const struct sb_call *call,
			    const struct ews_cal_kind *kind,
			    struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct ews_cal z;
	const char *ws = sb_call_str(call, "WindowStart", NULL);
	const char *we = sb_call_str(call, "WindowEnd", NULL);
	int64_t t0 = 0, t1 = 0;
	int64_t size = sb_call_page_size(call);
	if (size < 1 || size > LIST_MAX)
		size = size < 1 ? 1 : LIST_MAX;
	if (ws && !sb_datetime_parse(ws, &t0))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowStart: expected an ISO 8601 "
				    "date-time with offset");
	if (we && !sb_datetime_parse(we, &t1))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowEnd: expected an ISO 8601 "
				    "date-time with offset");
	/* Exchange's years, 1601 to 9999 (a year 0000 is not even an
	 * xs:dateTime) */
	if (ws && t0 < INT64_C(-11644473600))
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarOutOfRange",
				    "WindowStart: only years 1601 to 9999");
	if (we && t1 < INT64_C(-11644473600))
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarOutOfRange",
				    "WindowEnd: only years 1601 to 9999");
	bool window = ws || we;
	/* the end one alone implies stays within those years */
	if (ws && !we)
		t1 = t0 < INT64_C(253402300799) - WINDOW_MAX
			 ? t0 + WINDOW_MAX
			 : INT64_C(253402300799);
	if (we && !ws)
		t0 = t1 > INT64_C(-11644473600) + WINDOW_MAX
			 ? t1 - WINDOW_MAX
			 : INT64_C(-11644473600);
	if (window && t1 < t0)
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT,
		    "ErrorCalendarEndDateIsEarlierThanStartDate",
		    "WindowEnd: before WindowStart");
	if (window && t1 - t0 > WINDOW_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarViewRangeTooBig",
				    "WindowEnd: a window spans at most two "
				    "years (731 days)");
	char a[40] = "", b[40] = "";
	if (window) {
		sb_datetime_format(t0, a, sizeof(a));
		sb_datetime_format(t1, b, sizeof(b));
	}
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = cal_zone(e, NULL, &z, err);
	const char *bind[] = {kind ? kind->list_bind : "Appointment.List",
			      op.mailbox, window ? a : NULL, window ? b : NULL};
	/* the position: with a window, an offset into the recomputed view
	 * (a CalendarView cannot page); without one, an anchor as
	 * Email.List's (the Start of the last row shown and the Ids shown
	 * at that Start), so items created or deleted before it between
	 * pages neither repeat nor skip a row */
	uint32_t off = 0;
	struct ews_page_pos pos;
	memset(&pos, 0, sizeof(pos));
	const char *token = sb_call_page_token(call);
	if (st == SB_OK && token) {
		struct sb_buf pb;
		sb_buf_init(&pb, SB_PAGE_TOKEN_POS_MAX + 1);
		st = sb_page_token_read(token, bind, 4, &pb, err);
		bool ok = false;
		if (st == SB_OK && window && pb.len == 4) {
			off = get32((const unsigned char *)pb.data);
			ok = true;
		} else if (st == SB_OK && !window) {
			ok = ews_page_pos_decode((const unsigned char *)pb.data,
						 pb.len, &pos) &&
			     (pos.received == EWS_PAGE_END ||
			      (pos.received >= POS_FIRST &&
			       pos.received <= POS_LAST));
		}
		if (st == SB_OK && !ok)
			st = sb_error_set(err, SB_ERR_INVALID_INPUT,
					  SB_PAGE_TOKEN_CODE,
					  "PageToken: not a position of this "
					  "listing");
		sb_buf_free(&pb);
	}
	if (st == SB_OK && window && off + (uint64_t)size > LIST_MAX)
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "PageToken: a window lists at most %d "
				  "occurrences; narrow the window",
				  LIST_MAX);
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	char num[24];
	struct sb_xml_w *w = &op.w;
	sb_xml_w_open(w, "m:FindItem");
	sb_xml_w_attr(w, "Traversal", "Shallow");
	sb_xml_w_open(w, "m:ItemShape");
	sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
	sb_xml_w_open(w, "t:AdditionalProperties");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", "calendar:Start");
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	if (window) {
		sb_xml_w_open(w, "m:CalendarView");
		snprintf(num, sizeof(num), "%u", off + (unsigned)size);
		sb_xml_w_attr(w, "MaxEntriesReturned", num);
		sb_xml_w_attr(w, "StartDate", a);
		sb_xml_w_attr(w, "EndDate", b);
		sb_xml_w_close(w);
	} else {
		/* the rows shown at the anchor's Start come again: asked
		 * for on top of the page */
		sb_xml_w_open(w, "m:IndexedPageItemView");
		snprintf(num, sizeof(num), "%u",
			 (unsigned)size + (pos.have ? pos.n_seen : 0));
		sb_xml_w_attr(w, "MaxEntriesReturned", num);
		sb_xml_w_attr(w, "Offset", "0");
		sb_xml_w_attr(w, "BasePoint", "Beginning");
		sb_xml_w_close(w);
		if (pos.have && pos.received != EWS_PAGE_END) {
			char at[40];
			sb_datetime_format(pos.received - POS_SHIFT, at,
					   sizeof(at));
			sb_xml_w_open(w, "m:Restriction");
			sb_xml_w_open(w, "t:IsGreaterThanOrEqualTo");
			sb_xml_w_open(w, "t:FieldURI");
			sb_xml_w_attr(w, "FieldURI", "calendar:Start");
			sb_xml_w_close(w);
			sb_xml_w_open(w, "t:FieldURIOrConstant");
			sb_xml_w_open(w, "t:Constant");
			sb_xml_w_attr(w, "Value", at);
			sb_xml_w_close(w);
			sb_xml_w_close(w);
			sb_xml_w_close(w);
			sb_xml_w_close(w);
		}
		sb_xml_w_open(w, "m:SortOrder");
		sb_xml_w_open(w, "t:FieldOrder");
		sb_xml_w_attr(w, "Order", "Ascending");
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", "calendar:Start");
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
	}
	sb_xml_w_open(w, "m:ParentFolderIds");
	st = ews_folder_ref(&op, "calendar", "calendar", err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	bool more = false;
	xmlNode *root = ews_find_root(msg, &more, err);
	if (!root) {
		ews_op_free(&op);
		return err->status;
	}
	xmlNode *items = sb_xml_child(root, SB_NS_EWS_TYPES, "Items");
	const char **ids = calloc((size_t)size, sizeof(*ids));
	int64_t *starts = calloc((size_t)size, sizeof(*starts));
	size_t n = 0, entries = 0;
	if (!ids || !starts) {
		free(ids);
		free(starts);
		ews_op_free(&op);
		return oom(err);
	}
	/* entries: those of the answer this page consumed (skipped ones of
	 * earlier pages and unreadable ones included) */
	for (xmlNode *it = sb_xml_first_element(items); it;
	     it = sb_xml_next_element(it)) {
		if (window && entries < off) {
			entries++;
			continue;
		}
		xmlNode *idn = sb_xml_child(it, SB_NS_EWS_TYPES, "ItemId");
		const char *v = idn ? sb_xml_attr(idn, NULL, "Id") : NULL;
		if (!window && v && ews_page_pos_seen(&pos, v))
			continue; /* shown at the anchor's Start */
		if (n == (size_t)size) {
			more = true;
			break;
		}
		entries++;
		if (v && *v && strlen(v) < ID_MAX) {
			if (read_time(it, "Start", &starts[n]))
				starts[n] += POS_SHIFT;
			else
				starts[n] = -1; /* kept as undated */
			ids[n++] = v;
		}
	}
	uint32_t next = window ? (uint32_t)entries : 0;
	struct ews_page_pos next_pos;
	if (!window)
		ews_page_pos_advance(&pos, ids, starts, n, &next_pos);
	free(starts);
	/* one GetItem for every row's properties (FindItem gives no
	 * Body nor Recurrence) */
	struct ews_op g;
	ews_op_init(&g, e, call, 0);
	g.mailbox = op.mailbox;
	if (n) {
		ews_cal_w_get_items(&g, ids, n, kind);
		st = ews_op_run(&g, err);
	}
	for (xmlNode *m = n && st == SB_OK ? ews_op_first(&g) : NULL;
	     m && st == SB_OK; m = ews_op_next(m)) {
		struct sb_error ignored;
		/* an item gone since FindItem: left out */
		if (ews_message_status(m, &ignored) != SB_OK)
			continue;
		xmlNode *it = ews_items_first(m);
		if (!it || !sb_xml_is(it, SB_NS_EWS_TYPES, "CalendarItem") ||
		    (kind && kind->keep && !kind->keep(it)))
			continue;
		enum sb_status rs = item_row(&z, r, it, kind);
		if (rs != SB_OK && rs != SB_ERR_NOT_FOUND)
			st = sb_error_set(err, rs, NULL, "building the result");
	}
	ews_op_free(&g);
	free(ids);
	unsigned char pb[SB_PAGE_TOKEN_POS_MAX];
	size_t pn = 0;
	if (window && next > off) {
		pb[0] = (unsigned char)(next >> 24);
		pb[1] = (unsigned char)(next >> 16);
		pb[2] = (unsigned char)(next >> 8);
		pb[3] = (unsigned char)next;
		pn = 4;
	} else if (!window && n) {
		pn = ews_page_pos_encode(&next_pos, pb, sizeof(pb));
	}
	if (st == SB_OK && more && pn) {
		char *tok = sb_page_token_new(bind, 4, pb, pn);
		if (!tok)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "cannot make a page token");
		else
			st = sb_result_next_page(r, tok);
		free(tok);
	}
	ews_op_free(&op);
	return st;
}

static enum sb_status appt_update(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return ews_cal_update(state, call, NULL, r, err);
}

static enum sb_status appt_list(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err)
{
	return ews_cal_list(state, call, NULL, r, err);
}

/* ---- the table ---------------------------------------------------------- */

#define P_ID                                                                   \
	{                                                                      \
		.name = "Id", .type = SB_TYPE_TEXT, .flags = SB_REQUIRED,      \
		.max_size = ID_MAX,                                            \
		.doc = "Id of the appointment (EWS ItemId)."                   \
	}
#define P_APPT(req)                                                            \
	{.name = "Subject",                                                    \
	 .type = SB_TYPE_TEXT,                                                 \
	 .flags = (req),                                                       \
	 .max_size = SUBJECT_MAX,                                              \
	 .doc = "Title of the appointment."},                                  \
	    {.name = "Start",                                                  \
	     .type = SB_TYPE_DATETIME,                                         \
	     .flags = (req),                                                   \
	     .doc = "Start, ISO 8601 with offset."},                           \
	    {.name = "End",                                                    \
	     .type = SB_TYPE_DATETIME,                                         \
	     .flags = (req),                                                   \
	     .doc = "End, ISO 8601 with offset; not before Start."},           \
	    {.name = "Body",                                                   \
	     .type = SB_TYPE_MEMO,                                             \
	     .max_size = BODY_MAX,                                             \
	     .doc = "Description (plain text)."},                              \
	    {.name = "Location",                                               \
	     .type = SB_TYPE_TEXT,                                             \
	     .max_size = LOCATION_MAX,                                         \
	     .doc = "Where it takes place."},                                  \
	    {.name = "TimeZone",                                               \
	     .type = SB_TYPE_TEXT,                                             \
	     .max_size = TZ_MAX,                                               \
	     .doc = "Time zone it is planned in: an IANA name "                \
		    "(Europe/Berlin) or a Windows id, sent as the item's "     \
		    "StartTimeZone and EndTimeZone (default: the "             \
		    "instance's timezone); a series keeps its local time "     \
		    "across daylight-saving changes, an all-day "              \
		    "appointment spans whole days there.  Load returns the "   \
		    "Windows id."},                                            \
	    {.name = "IsAllDay",                                               \
	     .type = SB_TYPE_BOOLEAN,                                          \
	     .doc = "Whole days: Start and End are taken as the dates they "   \
		    "are written with."},                                      \
	    {.name = "Reminder",                                               \
	     .type = SB_TYPE_NUMBER,                                           \
	     .doc = "Minutes before Start to remind (0..40320)."},             \
	    {.name = "Categories",                                             \
	     .type = SB_TYPE_TEXT,                                             \
	     .flags = SB_MULTI,                                                \
	     .max_size = 50,                                                   \
	     .doc = "Category names."},                                        \
	{                                                                      \
		.name = "Recurrence", .type = SB_TYPE_TEXT,                    \
		.max_size = SB_RRULE_TEXT_MAX,                                 \
		.doc = "How it repeats: one RRULE of the shared subset that "  \
		       "EWS can keep (e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10), "   \
		       "mapped to an EWS recurrence pattern; what EWS "        \
		       "cannot express answers 400 naming it.  Empty means "   \
		       "a single appointment."                                 \
	}

static const struct sb_param create_in[] = {P_APPT(SB_REQUIRED),
					    SB_PARAM_MAILBOX, SB_PARAM_END};
static const char *const appt_clear_choices[] = {
    "Body",	  "Location",	"TimeZone", "Reminder",
    "Categories", "Recurrence", NULL};
static const struct sb_param update_in[] = {
    P_ID,
    {.name = "ChangeKey",
     .type = SB_TYPE_TEXT,
     .max_size = ID_MAX,
     .doc = "The ChangeKey the appointment was read with: if it has "
	    "changed since, 409 conflict and the appointment is left as it "
	    "is (empty: no check)."},
    P_APPT(0),
    {.name = "Clear",
     .type = SB_TYPE_ENUM,
     .flags = SB_MULTI,
     .choices = appt_clear_choices,
     .doc = "Properties to remove, as an empty value does: Body, "
	    "Location, TimeZone (the item is then kept in UTC, the instants "
	    "kept), Reminder (ReminderIsSet false), Categories, Recurrence.  "
	    "A property both given a value and named here is refused."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END};
static const struct sb_param id_in[] = {P_ID, SB_PARAM_MAILBOX, SB_PARAM_END};
static const struct sb_param delete_in[] = {
    P_ID,
    {.name = "ChangeKey",
     .type = SB_TYPE_TEXT,
     .max_size = ID_MAX,
     .doc = "The ChangeKey the appointment was read with: if it has "
	    "changed since, 409 conflict and nothing is deleted (empty: no "
	    "check)."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END};
static const struct sb_param list_in[] = {
    {.name = "WindowStart",
     .type = SB_TYPE_DATETIME,
     .doc = "Only appointments ending after this time (a window lists "
	    "occurrences)."},
    {.name = "WindowEnd",
     .type = SB_TYPE_DATETIME,
     .doc = "Only appointments starting before this time; a window spans "
	    "at most two years."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END};
static const char *const appt_ret[] = {
    "Id",	  "ChangeKey",	"Subject",  "Body",	"Location",
    "Start",	  "End",	"TimeZone", "IsAllDay", "Reminder",
    "Categories", "Recurrence", NULL};
static const char *const id_ret[] = {"Id", NULL};

const struct sb_method ews_appointment_methods[] = {
    {.name = "Create",
     .kind = SB_KIND_CREATE,
     .handler = appt_create,
     .doc = "Create an appointment in the mailbox's calendar (no "
	    "invitations are sent).",
     .inputs = create_in,
     .returns = appt_ret},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = appt_load,
     .doc = "Load one appointment (or one occurrence of a series, by the "
	    "Id List gave it).",
     .inputs = id_in,
     .returns = appt_ret},
    {.name = "Update",
     .kind = SB_KIND_UPDATE,
     .handler = appt_update,
     .doc = "Change an appointment: what the call leaves out stays as it "
	    "is (an empty Body, Location, Categories or Recurrence removes "
	    "it).  Returns the appointment as saved.",
     .inputs = update_in,
     .returns = appt_ret},
    {.name = "Delete",
     .kind = SB_KIND_DELETE,
     .handler = appt_delete,
     .doc = "Delete an appointment (to Deleted Items) or, by an "
	    "occurrence's Id, that occurrence of its series; with a "
	    "ChangeKey, only if it has not changed since.",
     .inputs = delete_in,
     .returns = id_ret},
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = appt_list,
     .doc = "List appointments: without a window single appointments and "
	    "series (by Start); with WindowStart and/or WindowEnd every "
	    "occurrence overlapping the window (a CalendarView, at most "
	    "two years).",
     .inputs = list_in,
     .returns = appt_ret},
    SB_METHOD_END,
};
