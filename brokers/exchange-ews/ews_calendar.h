/* exchange-ews: the parts of Appointment that need no server — the
 * shared Recurrence (an RFC 5545 RRULE) to and from EWS recurrence
 * patterns (ews_recur.c) and the UTC offsets of time zones (ews_tz.c,
 * on ICU).  Shared by ews_calendar.c, its unit test and the
 * fuzz target.
 */
#ifndef EWS_CALENDAR_H
#define EWS_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include <svcbroker/broker.h>
#include <svcbroker/rrule.h>
#include <svcbroker/sdk.h>
#include <svcbroker/status.h>
#include <svcbroker/xml.h>

/* Appointment's methods (ews_calendar.c); its properties: the SDK's
 * sb_appointment_properties. */
extern const struct sb_method ews_appointment_methods[];
/* Meeting's and MeetingAttendee's (ews_meeting.c). */
extern const struct sb_method ews_meeting_methods[];
extern const struct sb_method ews_meeting_attendee_methods[];

struct ews_op;

/* What an object built on calendar items (Meeting) adds to
 * Appointment's Create, Load and List (ews_calendar.c); NULL there
 * means Appointment itself. */
struct ews_cal_kind {
	const char *what;      /* "a meeting": the 404's wording */
	const char *list_bind; /* bound into List's page tokens */
	const char *send;      /* CreateItem's SendMeetingInvitations */
	/* more GetItem fields (NULL-terminated) */
	const char *const *fields;
	/* more input checks of Create (400s) */
	enum sb_status (*check)(const struct sb_call *call,
				struct sb_error *err);
	/* more t:CalendarItem elements of Create, after t:Location */
	void (*write)(struct sb_xml_w *w, const struct sb_call *call);
	/* more row properties of a GetItem t:CalendarItem */
	enum sb_status (*row)(struct sb_result *r, const xmlNode *it);
	/* whether Load and List show the item */
	bool (*keep)(const xmlNode *it);
	/* more input checks of Update (400s) */
	enum sb_status (*update_check)(const struct sb_call *call,
				       struct sb_error *err);
	/* more t:SetItemField/t:DeleteItemField of Update: how many inputs
	 * it wrote */
	unsigned (*update_write)(struct sb_xml_w *w,
				 const struct sb_call *call);
};

enum sb_status ews_cal_create(void *state, const struct sb_call *call,
			      const struct ews_cal_kind *kind,
			      struct sb_result *r, struct sb_error *err);
enum sb_status ews_cal_load(void *state, const struct sb_call *call,
			    const struct ews_cal_kind *kind,
			    struct sb_result *r, struct sb_error *err);
/* Update; kind->send is SendMeetingInvitationsOrCancellations there. */
enum sb_status ews_cal_update(void *state, const struct sb_call *call,
			      const struct ews_cal_kind *kind,
			      struct sb_result *r, struct sb_error *err);
enum sb_status ews_cal_list(void *state, const struct sb_call *call,
			    const struct ews_cal_kind *kind,
			    struct sb_result *r, struct sb_error *err);
/* A GetItem of ids with Appointment's fields and kind's (kind may be
 * NULL) into op. */
void ews_cal_w_get_items(struct ews_op *op, const char *const *ids, size_t n,
			 const struct ews_cal_kind *kind);
/* An UpdateItem's t:SetItemField of field uri up to its
 * t:CalendarItem (open), its end, and a t:DeleteItemField. */
void ews_cal_set_open(struct sb_xml_w *w, const char *uri);
void ews_cal_set_close(struct sb_xml_w *w);
void ews_cal_del_field(struct sb_xml_w *w, const char *uri);

/* Appointment.Delete and Task.Delete: DeleteItem of the call's Id to
 * Deleted Items with attribute attr=value (what to tell attendees, which
 * occurrences of a task); with a ChangeKey input, first a GetItem and 409
 * conflict unless the item still has it (DeleteItem takes none).  The row
 * is the Id. */
struct ews;
struct sb_call;
struct sb_result;
enum sb_status ews_item_delete(void *state, const struct sb_call *call,
			       const char *attr, const char *value,
			       struct sb_result *r, struct sb_error *err);

/* A calendar date; wday 0 = Monday .. 6 = Sunday (RFC 5545's order). */
struct ews_day {
	int y, m, d;
	int wday;
};
/* The date of epoch seconds (UTC) and back (midnight UTC). */
void ews_day_of(int64_t epoch, struct ews_day *d);
int64_t ews_day_epoch(const struct ews_day *d);

/* The EWS patterns (types.xsd RecurrencePatternTypes). */
enum ews_recur_kind {
	EWS_RECUR_DAILY = 1,
	EWS_RECUR_WEEKLY,
	EWS_RECUR_ABS_MONTHLY,
	EWS_RECUR_REL_MONTHLY,
	EWS_RECUR_ABS_YEARLY,
	EWS_RECUR_REL_YEARLY,
};
/* DaysOfWeek of a relative pattern: one weekday (0..6, Monday first) or
 * one of these. */
enum { EWS_DOW_DAY = 7, EWS_DOW_WEEKDAY = 8, EWS_DOW_WEEKENDDAY = 9 };
enum ews_recur_range {
	EWS_RANGE_NO_END = 1,
	EWS_RANGE_END_DATE,
	EWS_RANGE_NUMBERED,
};

struct ews_recur {
	enum ews_recur_kind kind;
	int interval;	  /* Daily, Weekly, monthly: 1..999 */
	unsigned days;	  /* Weekly: bit i = weekday i (Monday = bit 0) */
	int first_day;	  /* Weekly: FirstDayOfWeek 0..6, or -1 */
	int rel_day;	  /* relative: 0..6 or EWS_DOW_* */
	int index;	  /* relative: 1..4 (First..Fourth) or -1 (Last) */
	int day_of_month; /* absolute: 1..31 */
	int month;	  /* yearly: 1..12 */
	enum ews_recur_range range;
	struct ews_day start; /* the range's StartDate */
	struct ews_day end;   /* EndDate */
	int count;	      /* NumberOfOccurrences */
};

/* A Recurrence input (checked by sb_rrule_parse here) as an EWS
 * pattern, for a series whose first occurrence is on the local date
 * `start`; utc_offset (seconds east of UTC, the series' zone's offset
 * at the UNTIL instant: ews_calendar.c takes it from the zone) turns an
 * UNTIL date-time into the local date the range ends on.  SB_OK, or 400 (code
 * SB_RRULE_ERROR_CODE) with a message starting "Recurrence: " naming
 * what EWS cannot express. */
enum sb_status ews_recur_from_rrule(const char *rrule,
				    const struct ews_day *start, int utc_offset,
				    struct ews_recur *out,
				    struct sb_error *err);
/* The t:Recurrence element of r. */
void ews_recur_write(struct sb_xml_w *w, const struct ews_recur *r);
/* A t:Recurrence element as read from EWS: false when it is not one
 * this broker can read (left out of the row then). */
bool ews_recur_read(const xmlNode *rec, struct ews_recur *out);
/* r as the canonical RRULE text (sb_rrule_format): false when it does
 * not fit or r is out of range. */
bool ews_recur_to_rrule(const struct ews_recur *r, char *out, size_t n);

/* Seconds east of UTC of zone `iana` at epoch t, daylight saving
 * included, from ICU's zones (ews_zone_open, ews_tz.c: any name
 * ews_timezone_id accepts); false when the zone is unknown. */
bool ews_tz_offset(const char *iana, int64_t t, int *offset);
/* The IANA name ICU lists for a TimeZone value (an IANA name or alias as
 * ICU spells it; a Windows id: the zone CLDR gives for it; a UTC name:
 * "UTC") into buf; false when none. */
bool ews_tz_iana(const char *name, char *buf, size_t n);

#endif
