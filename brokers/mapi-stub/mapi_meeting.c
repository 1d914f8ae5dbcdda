/* mapi-stub: the Meeting and MeetingAttendee objects — meetings between
 * the mailboxes of the store, kept as iCalendar VEVENTs (RFC 5545) with an
 * ORGANIZER and ATTENDEE lines, and exchanged as iTIP messages (RFC 5546):
 * a text/calendar part with METHOD REQUEST, REPLY or CANCEL in a MIME
 * message sent through the Outbox as Email.Send sends.
 *
 * Every mailbox keeps its own copy of a meeting in Calendar/<UID>.ics: the
 * organizer's is the reference; an attendee's is the organizer's latest
 * version as delivered.  An answer (Accept, AcceptTentatively, Decline)
 * changes the attendee's copy, is applied at once to the organizer's copy
 * (the store holds both) and is also sent as a REPLY message to the
 * organizer's Inbox.  A Decline removes the attendee's copy, as Exchange
 * does.  Cancel marks every attendee copy STATUS:CANCELLED and removes the
 * organizer's.  Attendees outside the store are recorded in the meeting;
 * nothing is delivered to them. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <svcbroker/call.h>
#include <svcbroker/mime.h>
#include <svcbroker/rrule.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

#define REMINDER_MAX 40320
#define RESPONSE_TIME "X-SVCBROKER-RESPONSE-TIME"

enum kind { KIND_REQUIRED, KIND_OPTIONAL, KIND_RESOURCE };
static const char *const kind_names[] = {"Required", "Optional", "Resource"};

struct att {
	char *email; /* lower case */
	enum kind kind;
	icalparameter_partstat ps;
	int64_t resp; /* INT64_MIN: no answer yet */
};

struct mtg {
	char *id, *subject, *body, *location, *tz, *organizer;
	char *rrule;	  /* the RRULE value as libical writes it; NULL: none */
	char *recurrence; /* as shown */
	char ck[MAPI_CHANGEKEY_LEN + 1];
	int64_t start, end, created;
	bool all_day, cancelled;
	int64_t reminder; /* minutes; -1: none */
	int seq;
	char **categories;
	size_t n_categories;
	struct att *att;
	size_t n_att;
	int64_t *exdates; /* of the series, as read */
	size_t n_exdates;
};

static void mtg_free(struct mtg *m)
{
	free(m->id);
	free(m->subject);
	free(m->body);
	free(m->location);
	free(m->tz);
	free(m->organizer);
	free(m->rrule);
	free(m->recurrence);
	mapi_names_free(m->categories, m->n_categories);
	for (size_t i = 0; i < m->n_att; i++)
		free(m->att[i].email);
	free(m->att);
	free(m->exdates);
	memset(m, 0, sizeof *m);
}

static enum sb_status oom(struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* The address of a CAL-ADDRESS value ("mailto:x@y"), lower case. */
static char *cal_address(const char *v)
{
	if (!v)
		return NULL;
	if (strncasecmp(v, "mailto:", 7) == 0)
		v += 7;
	return *v ? lower_dup(v) : NULL;
}

static const char *response_of(icalparameter_partstat ps)
{
	switch (ps) {
	case ICAL_PARTSTAT_NEEDSACTION:
		return "NoResponseReceived";
	case ICAL_PARTSTAT_ACCEPTED:
		return "Accept";
	case ICAL_PARTSTAT_TENTATIVE:
		return "Tentative";
	case ICAL_PARTSTAT_DECLINED:
		return "Decline";
	default:
		return "Unknown";
	}
}

static struct att *att_find(struct mtg *m, const char *email)
{
	for (size_t i = 0; i < m->n_att; i++)
		if (strcasecmp(m->att[i].email, email) == 0)
			return &m->att[i];
	return NULL;
}

/* The acting mailbox's own answer. */
static const char *own_response(struct mtg *m, const char *me)
{
	if (m->organizer && strcasecmp(m->organizer, me) == 0)
		return "Organizer";
	struct att *a = att_find(m, me);
	return a ? response_of(a->ps) : "Unknown";
}

/* ---- writing ---------------------------------------------------------- */

static bool add_cal_address(icalcomponent *c, icalproperty_kind kind,
			    const char *email, icalproperty **out)
{
	char *v = NULL;
	if (asprintf(&v, "mailto:%s", email) < 0)
		return false;
	icalproperty *p = icalproperty_new(kind);
	icalproperty_set_value(p, icalvalue_new_caladdress(v));
	free(v);
	icalcomponent_add_property(c, p);
	if (out)
		*out = p;
	return true;
}

static void add_xparam(icalproperty *p, const char *name, const char *v)
{
	icalparameter *x = icalparameter_new_x(v);
	icalparameter_set_xname(x, name);
	icalproperty_add_parameter(p, x);
}

/* The meeting as iCalendar text: the stored form (method NULL) or an iTIP
 * message's (METHOD; a REPLY carries only the answering attendee, only).
 * Times in the IANA zone of TimeZone with its VTIMEZONE when libical knows
 * it, else in UTC (the Appointment's rules). */
static char *mtg_ics(const struct mtg *m, const char *method, const char *only)
{
	icaltimezone *z = m->tz && !m->all_day ? mapi_ical_zone(m->tz) : NULL;
	icalcomponent *cal = mapi_ical_calendar();
	if (method)
		icalcomponent_add_property(
		    cal,
		    icalproperty_new_method(icalenum_string_to_method(method)));
	if (z && !mapi_ical_add_zone(cal, z, m->tz, m->start))
		z = NULL;
	icalcomponent *c = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	icalcomponent_add_component(cal, c);
	const char *tzid = z ? m->tz : NULL;
	bool ok = mapi_ical_add_text(c, ICAL_UID_PROPERTY, m->id) &&
		  mapi_ical_add_time(c, ICAL_DTSTAMP_PROPERTY, time(NULL),
				     false, NULL, NULL) &&
		  mapi_ical_add_time(c, ICAL_CREATED_PROPERTY, m->created,
				     false, NULL, NULL) &&
		  mapi_ical_add_time(c, ICAL_DTSTART_PROPERTY, m->start,
				     m->all_day, z, tzid) &&
		  mapi_ical_add_time(c, ICAL_DTEND_PROPERTY, m->end, m->all_day,
				     z, tzid);
	icalcomponent_add_property(c, icalproperty_new_sequence(m->seq));
	icalcomponent_add_property(
	    c, icalproperty_new_status(m->cancelled ? ICAL_STATUS_CANCELLED
						    : ICAL_STATUS_CONFIRMED));
	if (ok && m->rrule) {
		struct icalrecurrencetype rule =
		    icalrecurrencetype_from_string(m->rrule);
		icalerror_clear_errno();
		if (rule.freq != ICAL_NO_RECURRENCE)
			icalcomponent_add_property(
			    c, icalproperty_new_rrule(rule));
	}
	for (size_t i = 0; ok && m->rrule && i < m->n_exdates; i++)
		ok = mapi_ical_add_time(c, ICAL_EXDATE_PROPERTY, m->exdates[i],
					m->all_day, z, tzid);
	if (ok && m->subject)
		ok = mapi_ical_add_text(c, ICAL_SUMMARY_PROPERTY, m->subject);
	if (ok && m->body)
		ok = mapi_ical_add_text(c, ICAL_DESCRIPTION_PROPERTY, m->body);
	if (ok && m->location)
		ok = mapi_ical_add_text(c, ICAL_LOCATION_PROPERTY, m->location);
	if (ok && m->n_categories)
		ok = mapi_ical_add_list(c, ICAL_CATEGORIES_PROPERTY,
					(const char *const *)m->categories,
					m->n_categories);
	if (ok && m->tz && !tzid)
		ok = mapi_ical_add_x(c, "X-SVCBROKER-TIMEZONE", m->tz);
	if (ok)
		ok = add_cal_address(c, ICAL_ORGANIZER_PROPERTY, m->organizer,
				     NULL);
	for (size_t i = 0; ok && i < m->n_att; i++) {
		const struct att *a = &m->att[i];
		if (only && strcasecmp(only, a->email) != 0)
			continue;
		/* an address another tool wrote that is none (a control
		 * character, no "@") is no attendee the file can hold */
		if (!sb_email_valid(a->email))
			continue;
		icalproperty *p;
		if (!(ok = add_cal_address(c, ICAL_ATTENDEE_PROPERTY, a->email,
					   &p)))
			break;
		icalproperty_add_parameter(
		    p, icalparameter_new_cutype(a->kind == KIND_RESOURCE
						    ? ICAL_CUTYPE_RESOURCE
						    : ICAL_CUTYPE_INDIVIDUAL));
		icalproperty_add_parameter(
		    p, icalparameter_new_role(a->kind == KIND_REQUIRED
						  ? ICAL_ROLE_REQPARTICIPANT
					      : a->kind == KIND_OPTIONAL
						  ? ICAL_ROLE_OPTPARTICIPANT
						  : ICAL_ROLE_NONPARTICIPANT));
		icalproperty_add_parameter(p,
					   icalparameter_new_partstat(a->ps));
		icalproperty_add_parameter(
		    p, icalparameter_new_rsvp(ICAL_RSVP_TRUE));
		if (a->resp != INT64_MIN) {
			struct icaltimetype t =
			    mapi_ical_time_in(a->resp, false, NULL);
			add_xparam(p, RESPONSE_TIME,
				   icaltime_as_ical_string(t));
		}
	}
	if (ok && m->reminder >= 0) {
		icalcomponent *al = icalcomponent_new(ICAL_VALARM_COMPONENT);
		icalcomponent_add_component(c, al);
		icalcomponent_add_property(
		    al, icalproperty_new_action(ICAL_ACTION_DISPLAY));
		struct icaltriggertype tr = icaltriggertype_from_int(0);
		tr.duration = icaldurationtype_from_int(-(int)m->reminder * 60);
		icalcomponent_add_property(al, icalproperty_new_trigger(tr));
		ok = mapi_ical_add_text(al, ICAL_DESCRIPTION_PROPERTY,
					"Reminder");
	}
	char *text = ok ? mapi_ical_text(cal) : NULL;
	icalcomponent_free(cal);
	mapi_ical_release();
	return text;
}

/* ---- reading ---------------------------------------------------------- */

static char *recurrence_shown(const char *v)
{
	struct sb_rrule rule;
	char canon[SB_RRULE_TEXT_MAX + 1];
	if (sb_rrule_parse(v, &rule, NULL) == SB_OK &&
	    sb_rrule_format(&rule, canon, sizeof canon))
		return strdup(canon);
	return strdup(v);
}

static bool add_att(struct mtg *m, const char *email, enum kind k,
		    icalparameter_partstat ps, int64_t resp)
{
	struct att *n = realloc(m->att, (m->n_att + 1) * sizeof *n);
	if (!n)
		return false;
	m->att = n;
	char *e = lower_dup(email);
	if (!e)
		return false;
	m->att[m->n_att++] = (struct att){e, k, ps, resp};
	return true;
}

static void read_attendee(struct mtg *m, icalproperty *p, bool *ok)
{
	char *email = cal_address(icalproperty_get_attendee(p));
	if (!email || att_find(m, email)) {
		free(email);
		return;
	}
	enum kind k = KIND_REQUIRED;
	icalparameter *q =
	    icalproperty_get_first_parameter(p, ICAL_CUTYPE_PARAMETER);
	if (q && (icalparameter_get_cutype(q) == ICAL_CUTYPE_RESOURCE ||
		  icalparameter_get_cutype(q) == ICAL_CUTYPE_ROOM))
		k = KIND_RESOURCE;
	else if ((q = icalproperty_get_first_parameter(p,
						       ICAL_ROLE_PARAMETER))) {
		icalparameter_role r = icalparameter_get_role(q);
		if (r == ICAL_ROLE_OPTPARTICIPANT)
			k = KIND_OPTIONAL;
		else if (r == ICAL_ROLE_NONPARTICIPANT)
			k = KIND_RESOURCE;
	}
	icalparameter_partstat ps = ICAL_PARTSTAT_NEEDSACTION;
	if ((q = icalproperty_get_first_parameter(p, ICAL_PARTSTAT_PARAMETER)))
		ps = icalparameter_get_partstat(q);
	int64_t resp = INT64_MIN;
	for (q = icalproperty_get_first_parameter(p, ICAL_X_PARAMETER); q;
	     q = icalproperty_get_next_parameter(p, ICAL_X_PARAMETER)) {
		const char *n = icalparameter_get_xname(q);
		const char *v = icalparameter_get_xvalue(q);
		bool d;
		int64_t t;
		if (n && v && strcasecmp(n, RESPONSE_TIME) == 0 &&
		    mapi_ical_time_parse(v, &t, &d))
			resp = t;
	}
	if (!add_att(m, email, k, ps, resp))
		*ok = false;
	free(email);
}

/* Fill m from the VEVENT c of cal.  SB_ERR_NOT_FOUND when it is no
 * meeting (no ORGANIZER): an appointment. */
static enum sb_status mtg_fill(icalcomponent *cal, icalcomponent *c,
			       const char *id, struct mtg *m,
			       struct sb_error *err)
{
	memset(m, 0, sizeof *m);
	m->reminder = -1;
	icalproperty *op =
	    icalcomponent_get_first_property(c, ICAL_ORGANIZER_PROPERTY);
	if (!(m->organizer =
		  op ? cal_address(icalproperty_get_organizer(op)) : NULL))
		return sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				    "%s is an appointment, not a meeting", id);
	bool ok = (m->id = strdup(id)) != NULL;
	m->subject = mapi_ical_text_of(c, ICAL_SUMMARY_PROPERTY);
	m->body = mapi_ical_text_of(c, ICAL_DESCRIPTION_PROPERTY);
	m->location = mapi_ical_text_of(c, ICAL_LOCATION_PROPERTY);
	m->tz = mapi_ical_x_of(c, "X-SVCBROKER-TIMEZONE");
	bool d1 = false, d2 = false;
	const char *tzid = NULL;
	if (!mapi_ical_time_of(
		cal, icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY),
		&m->start, &d1, &tzid))
		return sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				    "meeting %s has no valid DTSTART", id);
	if (!m->tz && tzid)
		m->tz = strdup(tzid);
	m->all_day = d1;
	if (!mapi_ical_time_of(
		cal, icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY),
		&m->end, &d2, NULL))
		m->end = m->start + (d1 ? 86400 : 0);
	if (m->end < m->start || m->end > MAPI_EPOCH_MAX)
		m->end = m->start;
	icalproperty *p =
	    icalcomponent_get_first_property(c, ICAL_CREATED_PROPERTY);
	bool d;
	if (!p || !mapi_ical_time_of(cal, p, &m->created, &d, NULL))
		m->created = time(NULL);
	p = icalcomponent_get_first_property(c, ICAL_SEQUENCE_PROPERTY);
	m->seq = p ? icalproperty_get_sequence(p) : 0;
	if (m->seq < 0)
		m->seq = 0;
	p = icalcomponent_get_first_property(c, ICAL_STATUS_PROPERTY);
	m->cancelled = p && icalproperty_get_status(p) == ICAL_STATUS_CANCELLED;
	p = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
	char *rv = p ? icalproperty_get_value_as_string_r(p) : NULL;
	if (rv && *rv) {
		m->rrule = rv;
		m->recurrence = recurrence_shown(rv);
		ok = ok && m->recurrence;
	} else {
		free(rv);
	}
	for (p = icalcomponent_get_first_property(c, ICAL_EXDATE_PROPERTY);
	     ok && p;
	     p = icalcomponent_get_next_property(c, ICAL_EXDATE_PROPERTY)) {
		int64_t t;
		if (!mapi_ical_time_of(cal, p, &t, &d, NULL))
			continue;
		int64_t *n =
		    realloc(m->exdates, (m->n_exdates + 1) * sizeof *n);
		if (!n)
			ok = false;
		else
			(m->exdates = n)[m->n_exdates++] = t;
	}
	if (mapi_ical_list_of(c, ICAL_CATEGORIES_PROPERTY, &m->categories,
			      &m->n_categories) < 0)
		ok = false;
	for (p = icalcomponent_get_first_property(c, ICAL_ATTENDEE_PROPERTY);
	     ok && p;
	     p = icalcomponent_get_next_property(c, ICAL_ATTENDEE_PROPERTY))
		read_attendee(m, p, &ok);
	icalcomponent *al =
	    icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT);
	if (al)
		m->reminder = mapi_ical_alarm_minutes(al);
	return ok ? SB_OK : oom(err);
}

/* Load meeting id of mb's calendar; *calp (may be NULL) gets the parsed
 * file, to free. */
static enum sb_status mtg_load(struct mapi_mailbox *mb, const char *id,
			       struct mtg *m, icalcomponent **calp,
			       struct sb_error *err)
{
	memset(m, 0, sizeof *m);
	if (calp)
		*calp = NULL;
	char *text, ck[MAPI_CHANGEKEY_LEN + 1];
	enum sb_status st =
	    mapi_ics_load(mb, MAPI_CALENDAR, id, "meeting", &text, ck, err);
	if (st != SB_OK)
		return st;
	const char *why = NULL;
	icalcomponent *cal = mapi_ical_parse(text, strlen(text), &why);
	icalcomponent *c = cal ? mapi_ical_master(cal) : NULL;
	free(text);
	if (!c)
		st = sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				  "meeting %s: unreadable iCalendar data (%s)",
				  id, why ? why : "no VEVENT");
	else
		st = mtg_fill(cal, c, id, m, err);
	if (st == SB_OK)
		memcpy(m->ck, ck, sizeof ck);
	else
		mtg_free(m);
	if (st == SB_OK && calp)
		*calp = cal;
	else if (cal)
		icalcomponent_free(cal);
	mapi_ical_release();
	return st;
}

/* ---- rows ------------------------------------------------------------- */

static void mtg_row_at(struct sb_result *r, struct mtg *m, const char *me,
		       int64_t start, int64_t end)
{
	char t[32];
	sb_result_row(r);
	sb_result_str(r, "Id", m->id);
	if (m->ck[0])
		sb_result_str(r, "ChangeKey", m->ck);
	sb_result_clean_text(r, "Subject", m->subject);
	sb_result_clean_memo(r, "Body", m->body);
	sb_result_clean_text(r, "Location", m->location);
	sb_datetime_format(start, t, sizeof t);
	sb_result_str(r, "Start", t);
	sb_datetime_format(end, t, sizeof t);
	sb_result_str(r, "End", t);
	sb_result_clean_text(r, "TimeZone", m->tz);
	sb_result_bool(r, "IsAllDay", m->all_day);
	if (m->reminder >= 0)
		sb_result_int(r, "Reminder", m->reminder);
	sb_result_empty(r, "Categories");
	for (size_t i = 0; i < m->n_categories; i++)
		sb_result_clean_text(r, "Categories", m->categories[i]);
	sb_result_clean_text(r, "Recurrence", m->recurrence);
	/* Addresses from a file another tool may have written: only those
	 * that are valid addresses reach the row. */
	if (sb_email_valid(m->organizer))
		sb_result_str(r, "Organizer", m->organizer);
	static const char *const lists[] = {"RequiredAttendees",
					    "OptionalAttendees", "Resources"};
	for (int k = 0; k < 3; k++) {
		sb_result_empty(r, lists[k]);
		for (size_t i = 0; i < m->n_att; i++)
			if ((int)m->att[i].kind == k &&
			    sb_email_valid(m->att[i].email))
				sb_result_str(r, lists[k], m->att[i].email);
	}
	sb_result_str(r, "ResponseStatus", own_response(m, me));
}

static void mtg_row(struct sb_result *r, struct mtg *m, const char *me)
{
	mtg_row_at(r, m, me, m->start, m->end);
}

/* ---- inputs ----------------------------------------------------------- */

/* Recurrence input rec: checked against the shared subset and kept as the
 * RRULE libical writes from it, its UNTIL of DTSTART's type (as
 * Appointment.Create does).  "" clears it. */
static enum sb_status set_rule(struct mtg *m, const char *rec,
			       struct sb_error *err)
{
	free(m->rrule);
	free(m->recurrence);
	m->rrule = m->recurrence = NULL;
	if (!*rec)
		return SB_OK;
	struct sb_rrule sr;
	enum sb_status rs = sb_rrule_parse(rec, &sr, err);
	if (rs != SB_OK)
		return rs;
	struct icalrecurrencetype rule = icalrecurrencetype_from_string(rec);
	icalerror_clear_errno();
	if (rule.freq == ICAL_NO_RECURRENCE)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    SB_RRULE_ERROR_CODE,
				    "Recurrence: \"%.100s\" is not an RRULE "
				    "iCalendar can hold",
				    rec);
	if (sr.has_until) {
		icaltimezone *z =
		    m->tz && !m->all_day ? mapi_ical_zone(m->tz) : NULL;
		if (m->all_day) {
			rule.until = mapi_ical_time_in(sr.until, true, NULL);
		} else if (sr.until_is_date) {
			struct icaltimetype d =
			    mapi_ical_time_in(sr.until, true, NULL);
			d.is_date = 0;
			d.hour = 23;
			d.minute = 59;
			d.second = 59;
			int64_t e;
			if (!mapi_ical_time_epoch(d, z, &e))
				e = sr.until + 86399;
			rule.until = mapi_ical_time_in(e, false, NULL);
		}
	}
	m->rrule = icalrecurrencetype_as_string_r(&rule);
	mapi_ical_release();
	if (!m->rrule || !(m->recurrence = recurrence_shown(m->rrule)))
		return oom(err);
	return SB_OK;
}

/* The item fields of a Create or Update call into m (an Update: only the
 * inputs given).  *timing: Start, End, IsAllDay or Recurrence changed. */
static enum sb_status read_fields(const struct sb_call *call, struct mtg *m,
				  bool create, bool *timing,
				  struct sb_error *err)
{
	*timing = false;
	const char *v;
#define TAKE(field, name)                                                      \
	if ((v = sb_call_str(call, name, NULL))) {                             \
		free(m->field);                                                \
		if (!(m->field = strdup(v)))                                   \
			return oom(err);                                       \
	}
	TAKE(subject, "Subject")
	TAKE(body, "Body")
	TAKE(location, "Location")
	TAKE(tz, "TimeZone")
#undef TAKE
	const char *start = sb_call_str(call, "Start", NULL);
	const char *end = sb_call_str(call, "End", NULL);
	if (start && !sb_datetime_parse(start, &m->start))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Start: expected an ISO 8601 date-time "
				    "with offset");
	if (end && !sb_datetime_parse(end, &m->end))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "End: expected an ISO 8601 date-time "
				    "with offset");
	bool was_all_day = m->all_day;
	int64_t dur = m->end - m->start;
	sb_call_bool(call, "IsAllDay", &m->all_day);
	if (m->all_day != was_all_day && (!start || !end))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "IsAllDay: changing it needs Start and "
				    "End too");
	if (m->all_day && (start || end || !was_all_day)) {
		if (start)
			mapi_date_of(start, &m->start);
		if (end)
			mapi_date_of(end, &m->end);
		m->start -= ((m->start % 86400) + 86400) % 86400;
		m->end -= ((m->end % 86400) + 86400) % 86400;
		if (m->end <= m->start)
			m->end = m->start + 86400;
	}
	/* Start alone moves the meeting and keeps its duration (as Exchange
	 * does) */
	if (start && !end && m->start <= MAPI_EPOCH_MAX - dur)
		m->end = m->start + dur;
	if (start || end || m->all_day != was_all_day)
		*timing = true;
	if (m->start < MAPI_EPOCH_MIN || m->end > MAPI_EPOCH_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarOutOfRange",
				    "Start/End: only years %d to %d can be "
				    "stored",
				    MAPI_YEAR_MIN, MAPI_YEAR_MAX);
	if (m->end < m->start)
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT,
		    "ErrorCalendarEndDateIsEarlierThanStartDate",
		    "End is before Start");
	int64_t rem;
	if (sb_call_int(call, "Reminder", &rem)) {
		if (rem < 0 || rem > REMINDER_MAX)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Reminder: %lld is out of range "
					    "0..%d minutes",
					    (long long)rem, REMINDER_MAX);
		m->reminder = rem;
	}
	size_t nc = sb_call_count(call, "Categories");
	if (nc || create) {
		mapi_names_free(m->categories, m->n_categories);
		m->categories = calloc(nc + 1, sizeof *m->categories);
		m->n_categories = 0;
		if (!m->categories)
			return oom(err);
		for (size_t i = 0; i < nc; i++) {
			if (!(m->categories[i] = strdup(
				  sb_call_str_at(call, "Categories", i))))
				return oom(err);
			m->n_categories++;
		}
	}
	const char *rec = sb_call_str(call, "Recurrence", NULL);
	if (rec) {
		enum sb_status st = set_rule(m, rec, err);
		if (st != SB_OK)
			return st;
		*timing = true;
	}
	/* A series' deleted occurrences name times of its old pattern: a
	 * new rule, Start, IsAllDay or zone drops them (as
	 * Appointment.Update does) */
	if (rec || start || m->all_day != was_all_day ||
	    sb_call_str(call, "TimeZone", NULL)) {
		free(m->exdates);
		m->exdates = NULL;
		m->n_exdates = 0;
	}
	return SB_OK;
}

/* The attendee lists of the call into m, replacing its attendees (those
 * that stay keep their answers).  Nothing when the call gives none and
 * !create. */
static enum sb_status read_attendees(const struct sb_call *call, struct mtg *m,
				     bool create, struct sb_error *err)
{
	static const char *const names[] = {"RequiredAttendees",
					    "OptionalAttendees", "Resources"};
	size_t total = 0;
	for (int k = 0; k < 3; k++)
		total += sb_call_count(call, names[k]);
	if (total == 0) {
		if (!create)
			return SB_OK;
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "RequiredAttendees: a meeting needs at "
				    "least one attendee (RequiredAttendees, "
				    "OptionalAttendees or Resources)");
	}
	struct mtg old = {.att = m->att, .n_att = m->n_att};
	m->att = NULL;
	m->n_att = 0;
	enum sb_status st = SB_OK;
	for (int k = 0; k < 3 && st == SB_OK; k++) {
		size_t n = sb_call_count(call, names[k]);
		for (size_t i = 0; i < n && st == SB_OK; i++) {
			const char *e = sb_call_str_at(call, names[k], i);
			if (strcasecmp(e, m->organizer) == 0) {
				st = sb_error_set(
				    err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: %s organizes the meeting and "
				    "cannot be invited to it",
				    names[k], e);
				break;
			}
			if (att_find(m, e))
				continue; /* listed twice: the first kind */
			struct att *o = att_find(&old, e);
			if (!add_att(m, e, (enum kind)k,
				     o ? o->ps : ICAL_PARTSTAT_NEEDSACTION,
				     o ? o->resp : INT64_MIN))
				st = oom(err);
		}
	}
	for (size_t i = 0; i < old.n_att; i++)
		free(old.att[i].email);
	free(old.att);
	return st;
}

/* ---- messages --------------------------------------------------------- */

static void to_lf(struct sb_buf *b)
{
	size_t j = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' && i + 1 < b->len &&
		    b->data[i + 1] == '\n')
			continue;
		b->data[j++] = b->data[i];
	}
	b->len = j;
	if (b->data)
		b->data[j] = '\0';
}

/* True if the message msgid was delivered to rcpt, a mailbox of the store,
 * and is still in one of its folders (read, moved or not). */
static bool already_delivered(struct mapi_store *s, const char *msgid,
			      const char *rcpt)
{
	struct mapi_mailbox *to = mapi_mailbox_find(s, rcpt);
	if (!to)
		return false;
	char uniq[40], path[MAPI_PATH_MAX];
	mapi_unique_for(msgid, to->address, "inbox", uniq);
	struct mapi_entry e = {0};
	bool found = mapi_item_find(to, NULL, uniq, path, sizeof path, NULL, 0,
				    &e, NULL) == SB_OK;
	free(e.file);
	free(e.id);
	return found;
}

/* Send an iTIP message from mb to rcpt (n addresses): subject prefix and
 * the meeting's subject, a short text, and the calendar as a text/calendar
 * part with the method.  msgid: a fixed Message-ID (so the delivery of one
 * version is made once), or NULL for a fresh one.  Failures are logged:
 * the calendars are already up to date. */
static void send_itip(struct mapi_store *s, struct mapi_mailbox *mb,
		      const struct mtg *m, const char *method,
		      const char *prefix, const char *only,
		      const char *const *rcpt, size_t n, const char *msgid)
{
	/* A version sent before (a retried Create): the recipients that
	 * have it already, anywhere in their mailbox, are left out, and
	 * nothing is sent again when no mailbox of the store is left. */
	const char **left = calloc(n + 1, sizeof *left);
	size_t n_left = 0, n_bad = 0;
	for (size_t i = 0; left && i < n; i++) {
		/* an address another tool wrote into the file that is none
		 * would make the message fail for everyone: left out */
		if (!sb_email_valid(rcpt[i]))
			n_bad++;
		else if (!msgid || !already_delivered(s, msgid, rcpt[i]))
			left[n_left++] = rcpt[i];
	}
	if (n_bad)
		s->host->log(s->host, SB_LOG_WARN,
			     "meeting %s: %zu address(es) in its file not "
			     "valid, left out of the %s message's recipients",
			     m->id, n_bad, method);
	bool local = false;
	for (size_t i = 0; left && i < n_left; i++)
		local = local || mapi_mailbox_find(s, left[i]);
	if (left) {
		rcpt = left;
		n = n_left;
	}
	if (n == 0 || (msgid && left && !local)) {
		free(left);
		return;
	}
	char *ics = mtg_ics(m, method, only);
	char *subject = NULL, *body = NULL, ct[80], when[32];
	sb_datetime_format(m->start, when, sizeof when);
	snprintf(ct, sizeof ct, "text/calendar; method=%s; charset=utf-8",
		 method);
	if (!ics || asprintf(&subject, "%s: %s", prefix,
			     m->subject ? m->subject : "") < 0)
		subject = NULL;
	if (subject &&
	    asprintf(&body, "%s: %s\nWhen: %s\nOrganizer: %s\n", prefix,
		     m->subject ? m->subject : "", when, m->organizer) < 0)
		body = NULL;
	struct sb_error err;
	sb_error_clear(&err);
	struct sb_buf raw;
	sb_buf_init(&raw, (size_t)s->max_message_size);
	char id[256];
	enum sb_status st = SB_ERR_INTERNAL;
	if (subject && body) {
		/* A subject from another tool's file may hold line breaks. */
		for (char *p = subject; *p; p++)
			if (*p == '\r' || *p == '\n' || *p == '\t')
				*p = ' ';
		struct sb_file f = {.name = "invite.ics",
				    .content_type = ct,
				    .data = (const unsigned char *)ics,
				    .size = strlen(ics)};
		struct sb_mime_message msg = {
		    .from = mb->address,
		    .to = rcpt,
		    .n_to = n,
		    .subject = subject,
		    .body = body,
		    .message_id =
			msgid && sb_mime_msgid_valid(msgid) ? msgid : NULL,
		    .attachments = &f,
		    .n_attachments = 1,
		};
		st = sb_mime_build(&msg, &raw, id, &err);
	}
	if (st == SB_OK && !raw.failed) {
		to_lf(&raw);
		struct mapi_send env = {.to = rcpt, .n_to = n};
		char sent[MAPI_ID_MAX + 1];
		st = mapi_outbox_send(s, mb, raw.data, raw.len, id, &env, NULL,
				      sent, sizeof sent, &err);
	}
	if (st != SB_OK)
		s->host->log(s->host, SB_LOG_ERROR,
			     "meeting %s: the %s message from %s was not "
			     "sent: %s",
			     m->id, method, mb->address,
			     err.message[0] ? err.message : "out of memory");
	sb_buf_free(&raw);
	free(ics);
	free(subject);
	free(body);
	free(left);
}

/* "<UID.SEQUENCE.method@host>": one delivery per version and method. */
static void version_msgid(struct mapi_store *s, const struct mtg *m,
			  const char *method, char *out, size_t len)
{
	snprintf(out, len, "<%s.%d.%s@%s>", m->id, m->seq, method, s->hostname);
}

/* Write text as meeting m's copy in every local attendee's calendar: all
 * of them (REQUEST; a declined attendee's is not made again), or only
 * where a copy is (CANCEL). */
static void write_copies(struct mapi_store *s, const struct mtg *m,
			 const char *text, const struct att *att, size_t n,
			 bool existing_only)
{
	for (size_t i = 0; i < n; i++) {
		struct mapi_mailbox *to = mapi_mailbox_find(s, att[i].email);
		if (!to)
			continue;
		if (!existing_only && att[i].ps == ICAL_PARTSTAT_DECLINED)
			continue;
		struct sb_error err;
		sb_error_clear(&err);
		pthread_mutex_lock(&to->ics_lock);
		char path[MAPI_PATH_MAX];
		bool there = mapi_path(path, sizeof path, "%s/%s/%s.ics",
				       to->dir, MAPI_CALENDAR, m->id) &&
			     access(path, F_OK) == 0;
		enum sb_status st = SB_OK;
		/* a copy of a later version (an Update that overtook this
		 * one between the organizer's file and the copies) stays */
		struct mtg cur;
		struct sb_error e2;
		sb_error_clear(&e2);
		bool newer = false;
		if (there && mtg_load(to, m->id, &cur, NULL, &e2) == SB_OK) {
			newer = cur.seq > m->seq;
			mtg_free(&cur);
		}
		if ((there || !existing_only) && !newer)
			st = mapi_ics_store(s, to, MAPI_CALENDAR, m->id, text,
					    true, NULL, &err);
		pthread_mutex_unlock(&to->ics_lock);
		if (st != SB_OK)
			s->host->log(s->host, SB_LOG_ERROR,
				     "meeting %s: copy for %s not written: %s",
				     m->id, to->address, err.message);
	}
}

/* Every attendee's address, for a message's To. */
static const char **addresses(const struct att *att, size_t n)
{
	const char **v = calloc(n + 1, sizeof *v);
	for (size_t i = 0; v && i < n; i++)
		v[i] = att[i].email;
	return v;
}

/* Deliver the REQUEST of m's current version: copies, then the message. */
static void send_request(struct mapi_store *s, struct mapi_mailbox *org,
			 const struct mtg *m, const char *text,
			 const char *prefix)
{
	write_copies(s, m, text, m->att, m->n_att, false);
	const char **to = addresses(m->att, m->n_att);
	char msgid[300];
	version_msgid(s, m, "request", msgid, sizeof msgid);
	if (to)
		send_itip(s, org, m, "REQUEST", prefix, NULL, to, m->n_att,
			  msgid);
	free(to);
}

/* Deliver a CANCEL of m (already marked cancelled) to att. */
static void send_cancel(struct mapi_store *s, struct mapi_mailbox *org,
			const struct mtg *m, const struct att *att, size_t n)
{
	char *text = mtg_ics(m, NULL, NULL);
	if (text)
		write_copies(s, m, text, att, n, true);
	free(text);
	const char **to = addresses(att, n);
	char msgid[300];
	version_msgid(s, m, "cancel", msgid, sizeof msgid);
	if (to)
		send_itip(s, org, m, "CANCEL", "Canceled", NULL, to, n, msgid);
	free(to);
}

/* ---- Create ------------------------------------------------------------ */

static enum sb_status store_text(struct mapi_store *s, struct mapi_mailbox *mb,
				 struct mtg *m, char **text, bool replace,
				 struct sb_error *err)
{
	*text = mtg_ics(m, NULL, NULL);
	if (!*text)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				    "meeting too large");
	return mapi_ics_store(s, mb, MAPI_CALENDAR, m->id, *text, replace,
			      m->ck, err);
}

static enum sb_status mtg_create(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct mtg m = {.reminder = -1};
	bool timing;
	char *text = NULL;
	enum sb_status st = SB_OK;
	if (!sb_call_str(call, "Start", NULL) ||
	    !sb_call_str(call, "End", NULL))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Start and End are required");
	if (!(m.organizer = strdup(mb->address))) {
		st = oom(err);
		goto out;
	}
	m.created = time(NULL);
	if ((st = read_fields(call, &m, true, &timing, err)) != SB_OK ||
	    (st = read_attendees(call, &m, true, err)) != SB_OK)
		goto out;
	/* The Id: a digest of the request id, the organizer, Subject, Start
	 * and End when the request has an id (the client's X-Request-Id or
	 * the daemon's own, unique), so a Create retried with the same
	 * X-Request-Id finds the meeting it made; else a new one. */
	char uid[40];
	const char *rid = sb_call_request_id(call);
	char *key = NULL;
	if (rid && *rid &&
	    asprintf(&key, "%s\x1f%s\x1f%s\x1f%s", rid,
		     sb_call_str(call, "Subject", ""),
		     sb_call_str(call, "Start", ""),
		     sb_call_str(call, "End", "")) >= 0) {
		mapi_unique_for(key, mb->address, "meeting", uid);
		free(key);
	} else if (!sb_uuid4(uid)) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "no random bytes for an Id");
		goto out;
	}
	if (!(m.id = strdup(uid))) {
		st = oom(err);
		goto out;
	}
	st = store_text(s, mb, &m, &text, false, err);
	if (st == SB_ERR_CONFLICT) {
		/* Made before by this request: that meeting, delivered again
		 * (deliveries are keyed, nothing arrives twice). */
		sb_error_clear(err);
		struct mtg old;
		st = mtg_load(mb, m.id, &old, NULL, err);
		if (st != SB_OK)
			goto out;
		mtg_free(&m);
		m = old;
		free(text);
		text = mtg_ics(&m, NULL, NULL);
		if (!text) {
			st = oom(err);
			goto out;
		}
	} else if (st != SB_OK) {
		goto out;
	}
	send_request(s, mb, &m, text, "Invitation");
	mtg_row(r, &m, mb->address);
out:
	free(text);
	mtg_free(&m);
	return st;
}

/* ---- Update, Cancel ---------------------------------------------------- */

static enum sb_status check_organizer(struct mtg *m, struct mapi_mailbox *mb,
				      const char *what, struct sb_error *err)
{
	if (strcasecmp(m->organizer, mb->address) != 0)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorInvalidOperation",
				    "meeting %s is organized by %s: only the "
				    "organizer can %s it",
				    m->id, m->organizer, what);
	if (m->cancelled)
		return sb_error_set(err, SB_ERR_CONFLICT,
				    "ErrorMeetingCancelled",
				    "meeting %s has been cancelled", m->id);
	return SB_OK;
}

static enum sb_status check_ck(struct mtg *m, const struct sb_call *call,
			       struct sb_error *err)
{
	const char *want = sb_call_str(call, "ChangeKey", NULL);
	if (want && *want && strcmp(want, m->ck) != 0)
		return sb_error_set(err, SB_ERR_CONFLICT,
				    "ErrorIrresolvableConflict",
				    "meeting %s has changed since that "
				    "ChangeKey was read: Load it again",
				    m->id);
	return SB_OK;
}

static enum sb_status mtg_update(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", "");
	struct mtg m;
	char *text = NULL;
	struct att *removed = NULL;
	size_t n_removed = 0;
	pthread_mutex_lock(&mb->ics_lock);
	enum sb_status st = mtg_load(mb, id, &m, NULL, err);
	if (st != SB_OK) {
		pthread_mutex_unlock(&mb->ics_lock);
		return st;
	}
	bool timing = false;
	struct att *before = NULL;
	size_t n_before = m.n_att;
	if ((st = check_organizer(&m, mb, "update", err)) != SB_OK ||
	    (st = check_ck(&m, call, err)) != SB_OK ||
	    (st = read_fields(call, &m, false, &timing, err)) != SB_OK)
		goto unlock;
	/* The attendees before, to tell those removed. */
	before = calloc(n_before + 1, sizeof *before);
	if (!before) {
		st = oom(err);
		goto unlock;
	}
	for (size_t i = 0; i < n_before; i++) {
		before[i] = m.att[i];
		if (!(before[i].email = strdup(m.att[i].email))) {
			n_before = i;
			st = oom(err);
			goto unlock;
		}
	}
	if ((st = read_attendees(call, &m, false, err)) != SB_OK)
		goto unlock;
	/* A new time asks every attendee again. */
	for (size_t i = 0; timing && i < m.n_att; i++) {
		m.att[i].ps = ICAL_PARTSTAT_NEEDSACTION;
		m.att[i].resp = INT64_MIN;
	}
	if (m.seq < INT_MAX) /* a SEQUENCE another tool wrote */
		m.seq++;
	st = store_text(s, mb, &m, &text, true, err);
unlock:
	pthread_mutex_unlock(&mb->ics_lock);
	if (st == SB_OK) {
		removed = calloc(n_before + 1, sizeof *removed);
		for (size_t i = 0; removed && i < n_before; i++)
			if (!att_find(&m, before[i].email))
				removed[n_removed++] = before[i];
		if (n_removed) {
			bool c = m.cancelled;
			m.cancelled = true;
			send_cancel(s, mb, &m, removed, n_removed);
			m.cancelled = c;
		}
		send_request(s, mb, &m, text, "Updated");
		mtg_row(r, &m, mb->address);
	}
	for (size_t i = 0; before && i < n_before; i++)
		free(before[i].email);
	free(before);
	free(removed);
	free(text);
	mtg_free(&m);
	return st;
}

static enum sb_status mtg_cancel(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", "");
	struct mtg m;
	char *text = NULL;
	pthread_mutex_lock(&mb->ics_lock);
	enum sb_status st = mtg_load(mb, id, &m, NULL, err);
	if (st != SB_OK) {
		pthread_mutex_unlock(&mb->ics_lock);
		return st;
	}
	if ((st = check_organizer(&m, mb, "cancel", err)) == SB_OK &&
	    (st = check_ck(&m, call, err)) == SB_OK) {
		/* Written cancelled first: should the rest not happen, the
		 * organizer's calendar says so. */
		m.cancelled = true;
		if (m.seq < INT_MAX)
			m.seq++;
		st = store_text(s, mb, &m, &text, true, err);
	}
	pthread_mutex_unlock(&mb->ics_lock);
	if (st == SB_OK) {
		send_cancel(s, mb, &m, m.att, m.n_att);
		struct sb_error e2;
		sb_error_clear(&e2);
		if (mapi_ics_delete(mb, MAPI_CALENDAR, m.id, "meeting", &e2) !=
		    SB_OK)
			s->host->log(s->host, SB_LOG_ERROR,
				     "meeting %s: cancelled, not removed: %s",
				     m.id, e2.message);
		sb_result_row(r);
		sb_result_str(r, "Id", m.id);
	}
	free(text);
	mtg_free(&m);
	return st;
}

/* ---- answers ------------------------------------------------------------ */

/* Do a and b take place at the same times (start, end, series and its
 * excluded dates)?  An answer is to those: a later version that kept
 * them (a new subject, another attendee) still takes it. */
static bool same_time(const struct mtg *a, const struct mtg *b)
{
	if (a->start != b->start || a->end != b->end ||
	    a->all_day != b->all_day || !a->rrule != !b->rrule ||
	    (a->rrule && strcmp(a->rrule, b->rrule) != 0) ||
	    a->n_exdates != b->n_exdates)
		return false;
	for (size_t i = 0; i < a->n_exdates; i++)
		if (a->exdates[i] != b->exdates[i])
			return false;
	return true;
}

static enum sb_status mtg_respond(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r,
				  icalparameter_partstat ps, const char *prefix,
				  struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", "");
	struct mtg m;
	char *text = NULL;
	int64_t now = time(NULL);
	pthread_mutex_lock(&mb->ics_lock);
	enum sb_status st = mtg_load(mb, id, &m, NULL, err);
	if (st != SB_OK) {
		pthread_mutex_unlock(&mb->ics_lock);
		return st;
	}
	struct att *me = att_find(&m, mb->address);
	if (strcasecmp(m.organizer, mb->address) == 0)
		st = sb_error_set(err, SB_ERR_INVALID_INPUT,
				  "ErrorInvalidOperation",
				  "meeting %s: %s organizes it and has no "
				  "invitation to answer",
				  id, mb->address);
	else if (!me)
		st = sb_error_set(err, SB_ERR_INVALID_INPUT,
				  "ErrorInvalidOperation",
				  "meeting %s: %s is not one of its attendees",
				  id, mb->address);
	else if (m.cancelled)
		st = sb_error_set(err, SB_ERR_CONFLICT, "ErrorMeetingCancelled",
				  "meeting %s has been cancelled by %s", id,
				  m.organizer);
	if (st == SB_OK) {
		me->ps = ps;
		me->resp = now;
		if (ps != ICAL_PARTSTAT_DECLINED)
			st = store_text(s, mb, &m, &text, true, err);
	}
	pthread_mutex_unlock(&mb->ics_lock);
	if (st != SB_OK) {
		mtg_free(&m);
		return st;
	}
	/* The organizer's copy, when the organizer is in this store. */
	struct mapi_mailbox *org = mapi_mailbox_find(s, m.organizer);
	if (org) {
		struct mtg o;
		struct sb_error e2;
		sb_error_clear(&e2);
		char *otext = NULL;
		pthread_mutex_lock(&org->ics_lock);
		if (mtg_load(org, m.id, &o, NULL, &e2) == SB_OK) {
			struct att *a = att_find(&o, mb->address);
			/* an answer to an older version (an Update overtook
			 * it) is not taken for the new one when that moved
			 * the meeting (RFC 5546 3.2.3: a new time asks every
			 * attendee again) */
			if (a && o.seq > m.seq && !same_time(&o, &m))
				s->host->log(s->host, SB_LOG_INFO,
					     "meeting %s: answer of %s to "
					     "version %d ignored (now %d, at "
					     "another time)",
					     m.id, mb->address, m.seq, o.seq);
			else if (a && !o.cancelled &&
				 strcasecmp(o.organizer, org->address) == 0) {
				a->ps = ps;
				a->resp = now;
				if (store_text(s, org, &o, &otext, true, &e2) !=
				    SB_OK)
					s->host->log(s->host, SB_LOG_ERROR,
						     "meeting %s: answer of %s "
						     "not recorded: %s",
						     m.id, mb->address,
						     e2.message);
			}
			mtg_free(&o);
		}
		pthread_mutex_unlock(&org->ics_lock);
		free(otext);
	}
	const char *to[1] = {m.organizer};
	send_itip(s, mb, &m, "REPLY", prefix, mb->address, to, 1, NULL);
	if (ps == ICAL_PARTSTAT_DECLINED) {
		/* Declined: out of the attendee's calendar, as Exchange.  Only
		 * the version answered: a newer one an Update wrote since the
		 * lock was let go (CONFLICT) stays. */
		struct sb_error e2;
		sb_error_clear(&e2);
		if (mapi_ics_delete_if(mb, MAPI_CALENDAR, m.id, "meeting", m.ck,
				       &e2) != SB_OK &&
		    e2.status != SB_ERR_NOT_FOUND &&
		    e2.status != SB_ERR_CONFLICT)
			s->host->log(s->host, SB_LOG_ERROR,
				     "meeting %s: declined, not removed: %s",
				     m.id, e2.message);
		m.ck[0] = '\0';
	}
	mtg_row(r, &m, mb->address);
	free(text);
	mtg_free(&m);
	return SB_OK;
}

static enum sb_status mtg_accept(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	return mtg_respond(s, mb, call, r, ICAL_PARTSTAT_ACCEPTED, "Accepted",
			   err);
}

static enum sb_status mtg_tentative(struct mapi_store *s,
				    struct mapi_mailbox *mb,
				    const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	return mtg_respond(s, mb, call, r, ICAL_PARTSTAT_TENTATIVE, "Tentative",
			   err);
}

static enum sb_status mtg_decline(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return mtg_respond(s, mb, call, r, ICAL_PARTSTAT_DECLINED, "Declined",
			   err);
}

/* ---- Load, List ---------------------------------------------------------- */

static enum sb_status mtg_load_one(struct mapi_store *s,
				   struct mapi_mailbox *mb,
				   const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err)
{
	(void)s;
	struct mtg m;
	enum sb_status st =
	    mtg_load(mb, sb_call_str(call, "Id", ""), &m, NULL, err);
	if (st == SB_OK) {
		mtg_row(r, &m, mb->address);
		mtg_free(&m);
	}
	return st;
}

struct occ {
	size_t item;
	int64_t start, end;
};

struct list_ctx {
	struct mtg *items;
	size_t n_items;
	struct occ *occ;
	size_t n_occ, cap_occ;
	const char *me;
};

static bool add_occ(struct list_ctx *c, size_t item, int64_t start, int64_t end)
{
	if (c->n_occ == c->cap_occ) {
		size_t nc = c->cap_occ ? 2 * c->cap_occ : 64;
		struct occ *n = realloc(c->occ, nc * sizeof *n);
		if (!n)
			return false;
		c->occ = n;
		c->cap_occ = nc;
	}
	c->occ[c->n_occ++] = (struct occ){item, start, end};
	return true;
}

struct occ_sink {
	struct list_ctx *c;
	size_t item;
};

static bool occ_sink_add(void *v, int64_t start, int64_t end)
{
	struct occ_sink *k = v;
	return add_occ(k->c, k->item, start, end);
}

/* The occurrences of series items[i] in [ws, we) (mapi_ical_occurrences;
 * overrides of single occurrences are not made for meetings). */
static bool expand(struct list_ctx *c, size_t i, icalcomponent *cal, int64_t ws,
		   int64_t we)
{
	struct mtg *m = &c->items[i];
	struct occ_sink sink = {c, i};
	bool ok = mapi_ical_occurrences(cal, mapi_ical_master(cal), m->start,
					m->end - m->start, ws, we, NULL, 0,
					occ_sink_add, &sink);
	mapi_ical_release();
	return ok;
}

static enum sb_status list_row(void *vctx, size_t index, struct sb_result *r,
			       struct sb_error *err)
{
	(void)err;
	struct list_ctx *c = vctx;
	const struct occ *o = &c->occ[index];
	mtg_row_at(r, &c->items[o->item], c->me, o->start, o->end);
	return SB_OK;
}

static enum sb_status mtg_list(struct mapi_store *s, struct mapi_mailbox *mb,
			       const struct sb_call *call, struct sb_result *r,
			       struct sb_error *err)
{
	int64_t ws, we;
	enum sb_status wst = mapi_window_read(call, &ws, &we, err);
	if (wst != SB_OK)
		return wst;
	bool window = ws != INT64_MIN || we != INT64_MAX;
	char **ids;
	size_t n;
	if (mapi_ics_ids(mb, MAPI_CALENDAR, &ids, &n) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot list the calendar of %s: %s",
				    mb->address, strerror(errno));
	struct list_ctx c = {.me = mb->address};
	struct mapi_sortkey *k = NULL;
	char *scope = NULL;
	enum sb_status st = SB_OK;
	size_t bad = 0;
	c.items = calloc(n + 1, sizeof *c.items);
	if (!c.items || asprintf(&scope, "Meeting|%s|%lld|%lld", mb->address,
				 (long long)ws, (long long)we) < 0) {
		scope = NULL;
		st = oom(err);
		goto out;
	}
	for (size_t i = 0; i < n && st == SB_OK; i++) {
		struct sb_error e2;
		sb_error_clear(&e2);
		icalcomponent *cal = NULL;
		struct mtg *m = &c.items[c.n_items];
		if (mtg_load(mb, ids[i], m, window ? &cal : NULL, &e2) !=
		    SB_OK) {
			/* An appointment, removed meanwhile, or unreadable
			 * (reported): skipped. */
			if (e2.status != SB_ERR_NOT_FOUND)
				bad++;
			continue;
		}
		size_t idx = c.n_items++;
		bool ok;
		if (window && m->rrule)
			ok = expand(&c, idx, cal, ws, we);
		else
			ok = !mapi_overlaps(m->start, m->end, ws, we) ||
			     add_occ(&c, idx, m->start, m->end);
		if (cal)
			icalcomponent_free(cal);
		if (!ok)
			st = oom(err);
	}
	if (st != SB_OK)
		goto out;
	if (bad)
		mapi_report_skipped(s, mb, MAPI_CALENDAR, bad);
	k = calloc(c.n_occ + 1, sizeof *k);
	if (!k) {
		st = oom(err);
		goto out;
	}
	for (size_t i = 0; i < c.n_occ; i++) {
		k[i].key = c.occ[i].start;
		k[i].id = c.items[c.occ[i].item].id;
		k[i].index = i;
	}
	st = mapi_page_sorted(k, c.n_occ, call, r, scope, list_row, &c, err);
out:
	for (size_t i = 0; c.items && i < c.n_items; i++)
		mtg_free(&c.items[i]);
	free(c.items);
	free(c.occ);
	free(k);
	free(scope);
	mapi_names_free(ids, n);
	return st;
}

/* ---- MeetingAttendee.List ------------------------------------------------ */

struct att_ctx {
	struct mtg *m;
};

static enum sb_status att_row(void *vctx, size_t index, struct sb_result *r,
			      struct sb_error *err)
{
	(void)err;
	struct att_ctx *c = vctx;
	const struct att *a = &c->m->att[index];
	sb_result_row(r);
	sb_result_str(r, "Email", a->email);
	sb_result_str(r, "Kind", kind_names[a->kind]);
	sb_result_str(r, "ResponseStatus", response_of(a->ps));
	if (a->resp != INT64_MIN) {
		char t[32];
		sb_datetime_format(a->resp, t, sizeof t);
		sb_result_str(r, "LastResponseTime", t);
	}
	return SB_OK;
}

static enum sb_status att_list(struct mapi_store *s, struct mapi_mailbox *mb,
			       const struct sb_call *call, struct sb_result *r,
			       struct sb_error *err)
{
	(void)s;
	struct mtg m;
	const char *id = sb_call_str(call, "Id", "");
	enum sb_status st = mtg_load(mb, id, &m, NULL, err);
	if (st != SB_OK)
		return st;
	/* Only addresses that are valid reach a row (another tool's file). */
	struct mapi_sortkey *k = calloc(m.n_att + 1, sizeof *k);
	size_t n = 0;
	char *scope = NULL;
	if (!k ||
	    asprintf(&scope, "MeetingAttendee|%s|%s", mb->address, id) < 0) {
		scope = NULL;
		st = oom(err);
	}
	for (size_t i = 0; st == SB_OK && i < m.n_att; i++)
		if (sb_email_valid(m.att[i].email))
			k[n++] = (struct mapi_sortkey){.key = (int64_t)i,
						       .id = m.att[i].email,
						       .index = i};
	size_t start;
	struct att_ctx c = {&m};
	if (st == SB_OK)
		st = mapi_page_start(k, n, scope, sb_call_page_token(call),
				     &start, err);
	if (st == SB_OK)
		st = mapi_page_emit(k, n, start, call, r, scope, att_row, &c,
				    err);
	free(k);
	free(scope);
	mtg_free(&m);
	return st;
}

MAPI_MAILBOX_HANDLER(mapi_meeting_create, mtg_create)
MAPI_MAILBOX_HANDLER(mapi_meeting_update, mtg_update)
MAPI_MAILBOX_HANDLER(mapi_meeting_cancel, mtg_cancel)
MAPI_MAILBOX_HANDLER(mapi_meeting_accept, mtg_accept)
MAPI_MAILBOX_HANDLER(mapi_meeting_tentative, mtg_tentative)
MAPI_MAILBOX_HANDLER(mapi_meeting_decline, mtg_decline)
MAPI_MAILBOX_HANDLER(mapi_meeting_load, mtg_load_one)
MAPI_MAILBOX_HANDLER(mapi_meeting_list, mtg_list)
MAPI_MAILBOX_HANDLER(mapi_meeting_attendee_list, att_list)
