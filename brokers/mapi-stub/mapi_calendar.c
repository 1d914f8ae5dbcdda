/* mapi-stub: the Appointment object — Create, Load, Delete, List over
 * iCalendar VEVENT files in the mailbox's Calendar/ directory.
 *
 * Recurrence: an RRULE a file carries (written by another tool) is shown,
 * in its canonical form when it is of the shared subset; series are not
 * expanded and Create refuses a Recurrence input, as this store does not
 * keep recurring appointments yet. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <svcbroker/call.h>
#include <svcbroker/rrule.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

#define REMINDER_MAX 40320 /* four weeks, as Outlook allows */

struct appt {
	char *id, *subject, *body, *location, *tz;
	char *recurrence; /* the RRULE value, as shown; NULL: none */
	char ck[MAPI_CHANGEKEY_LEN + 1];
	int64_t start, end;
	bool all_day;
	int64_t reminder; /* minutes; -1: none */
	char **categories;
	size_t n_categories;
	int64_t created;
};

static void appt_free(struct appt *a)
{
	free(a->id);
	free(a->subject);
	free(a->body);
	free(a->location);
	free(a->tz);
	free(a->recurrence);
	mapi_names_free(a->categories, a->n_categories);
	memset(a, 0, sizeof *a);
}

static char *appt_ics(const struct appt *a)
{
	struct sb_buf b;
	sb_buf_init(&b, MAPI_ICS_MAX);
	char t[32];
	sb_buf_puts(&b, "BEGIN:VCALENDAR\r\n");
	mapi_ical_line(&b, "VERSION", NULL, "2.0", false);
	mapi_ical_line(&b, "PRODID", NULL, "-//svcbroker//mapi-stub//EN",
		       false);
	sb_buf_puts(&b, "BEGIN:VEVENT\r\n");
	mapi_ical_line(&b, "UID", NULL, a->id, true);
	mapi_ical_time_format(time(NULL), false, t, sizeof t);
	mapi_ical_line(&b, "DTSTAMP", NULL, t, false);
	mapi_ical_time_format(a->created, false, t, sizeof t);
	mapi_ical_line(&b, "CREATED", NULL, t, false);
	mapi_ical_time_format(a->start, a->all_day, t, sizeof t);
	mapi_ical_line(&b, "DTSTART", a->all_day ? "VALUE=DATE" : NULL, t,
		       false);
	mapi_ical_time_format(a->end, a->all_day, t, sizeof t);
	mapi_ical_line(&b, "DTEND", a->all_day ? "VALUE=DATE" : NULL, t, false);
	if (a->subject)
		mapi_ical_line(&b, "SUMMARY", NULL, a->subject, true);
	if (a->body)
		mapi_ical_line(&b, "DESCRIPTION", NULL, a->body, true);
	if (a->location)
		mapi_ical_line(&b, "LOCATION", NULL, a->location, true);
	if (a->n_categories) {
		struct sb_buf c;
		sb_buf_init(&c, MAPI_ICS_MAX);
		for (size_t i = 0; i < a->n_categories; i++) {
			if (i)
				sb_buf_puts(&c, ",");
			mapi_ical_escape(&c, a->categories[i]);
		}
		if (!c.failed)
			mapi_ical_line(&b, "CATEGORIES", NULL, c.data, false);
		else
			b.failed = true;
		sb_buf_free(&c);
	}
	if (a->tz)
		mapi_ical_line(&b, "X-SVCBROKER-TIMEZONE", NULL, a->tz, true);
	if (a->reminder >= 0) {
		char trig[32];
		snprintf(trig, sizeof trig, "-PT%lldM", (long long)a->reminder);
		sb_buf_puts(&b, "BEGIN:VALARM\r\n");
		mapi_ical_line(&b, "ACTION", NULL, "DISPLAY", false);
		mapi_ical_line(&b, "TRIGGER", NULL, trig, false);
		mapi_ical_line(&b, "DESCRIPTION", NULL, "Reminder", true);
		sb_buf_puts(&b, "END:VALARM\r\n");
	}
	sb_buf_puts(&b, "END:VEVENT\r\nEND:VCALENDAR\r\n");
	return sb_buf_steal(&b);
}

static char *text_of(const struct mapi_ical_comp *c, const char *name)
{
	const struct mapi_ical_prop *p = mapi_ical_get(c, name);
	return p ? mapi_ical_unescape(p->value) : NULL;
}

static bool time_of(const struct mapi_ical_comp *c, const char *name,
		    int64_t *t, bool *is_date)
{
	const struct mapi_ical_prop *p = mapi_ical_get(c, name);
	return p && mapi_ical_time_parse(p->value, t, is_date);
}

/* Minutes of a "-PT15M" / "-PT1H30M" / "-P1D" trigger before the start. */
static int64_t trigger_minutes(const char *v)
{
	if (!v || v[0] != '-')
		return -1;
	int64_t secs;
	if (!sb_duration_parse(v + 1, &secs) || secs < 0)
		return -1;
	return secs / 60;
}

/* The Recurrence of a file's first RRULE: canonical when it is of the
 * shared subset, else as written (cleaned when the row is made), so a
 * series is never shown as a single item.  NULL when there is none. */
static char *recurrence_of(const struct mapi_ical_comp *c)
{
	const struct mapi_ical_prop *p = mapi_ical_get(c, "RRULE");
	if (!p || !p->value[0])
		return NULL;
	struct sb_rrule rule;
	char canon[SB_RRULE_TEXT_MAX + 1];
	if (sb_rrule_parse(p->value, &rule, NULL) == SB_OK &&
	    sb_rrule_format(&rule, canon, sizeof canon))
		return strdup(canon);
	return strdup(p->value);
}

static enum sb_status appt_parse(const char *text, const char *id,
				 struct appt *a, struct sb_error *err)
{
	memset(a, 0, sizeof *a);
	a->reminder = -1;
	const char *why = NULL;
	struct mapi_ical_comp *c =
	    mapi_ical_parse(text, strlen(text), "VEVENT", &why);
	if (!c)
		return sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				    "appointment %s: unreadable iCalendar "
				    "data (%s)",
				    id, why ? why : "?");
	bool d1 = false, d2 = false;
	a->id = strdup(id);
	a->subject = text_of(c, "SUMMARY");
	a->body = text_of(c, "DESCRIPTION");
	a->location = text_of(c, "LOCATION");
	a->tz = text_of(c, "X-SVCBROKER-TIMEZONE");
	a->recurrence = recurrence_of(c);
	enum sb_status st = SB_OK;
	if (!time_of(c, "DTSTART", &a->start, &d1)) {
		st = sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				  "appointment %s has no valid DTSTART", id);
		goto out;
	}
	a->all_day = d1;
	if (!time_of(c, "DTEND", &a->end, &d2)) {
		const struct mapi_ical_prop *dur = mapi_ical_get(c, "DURATION");
		int64_t secs;
		if (dur && sb_duration_parse(dur->value, &secs) && secs >= 0 &&
		    secs <= MAPI_EPOCH_MAX - a->start)
			a->end = a->start + secs;
		else
			a->end = a->start + (d1 ? 86400 : 0);
	}
	if (a->end < a->start || a->end > MAPI_EPOCH_MAX)
		a->end = a->start;
	const struct mapi_ical_prop *cat = mapi_ical_get(c, "CATEGORIES");
	if (cat &&
	    mapi_ical_split(cat->value, &a->categories, &a->n_categories) < 0)
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	for (size_t i = 0; i < c->n_subs; i++)
		if (strcmp(c->subs[i].name, "VALARM") == 0) {
			const struct mapi_ical_prop *tr =
			    mapi_ical_get(&c->subs[i], "TRIGGER");
			if (tr)
				a->reminder = trigger_minutes(tr->value);
			break;
		}
out:
	mapi_ical_free(c);
	if (st != SB_OK)
		appt_free(a);
	return st;
}

static void appt_row(struct sb_result *r, const struct appt *a)
{
	char t[32];
	sb_result_row(r);
	sb_result_str(r, "Id", a->id);
	if (a->ck[0])
		sb_result_str(r, "ChangeKey", a->ck);
	/* Values from a file another tool may have written: cleaned to fit
	 * their types (a SUMMARY may hold an escaped line break). */
	sb_result_clean_text(r, "Subject", a->subject);
	sb_result_clean_memo(r, "Body", a->body);
	sb_result_clean_text(r, "Location", a->location);
	sb_datetime_format(a->start, t, sizeof t);
	sb_result_str(r, "Start", t);
	sb_datetime_format(a->end, t, sizeof t);
	sb_result_str(r, "End", t);
	sb_result_clean_text(r, "TimeZone", a->tz);
	sb_result_bool(r, "IsAllDay", a->all_day);
	if (a->reminder >= 0)
		sb_result_int(r, "Reminder", a->reminder);
	sb_result_empty(r, "Categories");
	for (size_t i = 0; i < a->n_categories; i++)
		sb_result_clean_text(r, "Categories", a->categories[i]);
	sb_result_clean_text(r, "Recurrence", a->recurrence);
}

/* The date an ISO 8601 value was written with (its first 10 characters),
 * as midnight UTC: all-day items keep the caller's calendar date. */
static bool date_of(const char *iso, int64_t *out)
{
	char d[11];
	if (!iso || strlen(iso) < 10)
		return false;
	memcpy(d, iso, 10);
	d[10] = '\0';
	struct tm tm = {0};
	const char *end = strptime(d, "%Y-%m-%d", &tm);
	if (!end || *end)
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

static enum sb_status appt_create(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	struct appt a = {.reminder = -1};
	const char *start = sb_call_str(call, "Start", NULL);
	const char *end = sb_call_str(call, "End", NULL);
	if (!sb_datetime_parse(start, &a.start) ||
	    !sb_datetime_parse(end, &a.end))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Start/End: expected ISO 8601 date-times "
				    "with offset");
	sb_call_bool(call, "IsAllDay", &a.all_day);
	if (a.all_day) {
		date_of(start, &a.start);
		date_of(end, &a.end);
		if (a.end <= a.start)
			a.end = a.start + 86400;
	}
	if (a.start < MAPI_EPOCH_MIN || a.end > MAPI_EPOCH_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarOutOfRange",
				    "Start/End: only years %d to %d can be "
				    "stored",
				    MAPI_YEAR_MIN, MAPI_YEAR_MAX);
	if (a.end < a.start)
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT,
		    "ErrorCalendarEndDateIsEarlierThanStartDate",
		    "End (%s) is before Start (%s)", end, start);
	/* An empty Recurrence is no recurrence.  Any other is checked (so a
	 * malformed rule is named as such) and refused: dropping it would
	 * store a single item where a series was asked for. */
	const char *rec = sb_call_str(call, "Recurrence", NULL);
	if (rec && *rec) {
		enum sb_status rs = sb_rrule_check(rec, err);
		if (rs != SB_OK)
			return rs;
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT, "ErrorRecurrenceNotSupported",
		    "Recurrence: recurring appointments are not "
		    "stored by this broker yet; create the "
		    "occurrences as single appointments");
	}
	int64_t rem;
	if (sb_call_int(call, "Reminder", &rem)) {
		if (rem < 0 || rem > REMINDER_MAX)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Reminder: %lld is out of range "
					    "0..%d minutes",
					    (long long)rem, REMINDER_MAX);
		a.reminder = rem;
	}
	char uuid[37];
	if (!sb_uuid4(uuid))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no random bytes for an Id");
	a.id = uuid;
	a.subject = (char *)sb_call_str(call, "Subject", NULL);
	a.body = (char *)sb_call_str(call, "Body", NULL);
	a.location = (char *)sb_call_str(call, "Location", NULL);
	a.tz = (char *)sb_call_str(call, "TimeZone", NULL);
	a.n_categories = sb_call_count(call, "Categories");
	char **cats = calloc(a.n_categories + 1, sizeof *cats);
	if (!cats)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	for (size_t i = 0; i < a.n_categories; i++)
		cats[i] = (char *)sb_call_str_at(call, "Categories", i);
	a.categories = cats;
	a.created = time(NULL);
	char *text = appt_ics(&a);
	enum sb_status st;
	if (!text)
		st = sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				  "appointment too large");
	else
		st = mapi_ics_store(s, mb, MAPI_CALENDAR, uuid, text, false,
				    a.ck, err);
	if (st == SB_OK)
		appt_row(r, &a);
	free(text);
	free(cats);
	return st;
}

static enum sb_status appt_load(struct mapi_mailbox *mb, const char *id,
				struct appt *a, struct sb_error *err)
{
	char *text, ck[MAPI_CHANGEKEY_LEN + 1];
	enum sb_status st =
	    mapi_ics_load(mb, MAPI_CALENDAR, id, "appointment", &text, ck, err);
	if (st != SB_OK)
		return st;
	st = appt_parse(text, id, a, err);
	if (st == SB_OK)
		memcpy(a->ck, ck, sizeof ck);
	free(text);
	return st;
}

struct list_ctx {
	struct appt *items;
};

static enum sb_status list_row(void *vctx, size_t index, struct sb_result *r,
			       struct sb_error *err)
{
	(void)err;
	struct list_ctx *c = vctx;
	appt_row(r, &c->items[index]);
	return SB_OK;
}

static enum sb_status appt_list(struct mapi_store *s, struct mapi_mailbox *mb,
				const struct sb_call *call, struct sb_result *r,
				struct sb_error *err)
{
	int64_t ws = INT64_MIN, we = INT64_MAX;
	const char *v;
	if ((v = sb_call_str(call, "WindowStart", NULL)) &&
	    !sb_datetime_parse(v, &ws))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowStart: not a date-time");
	if ((v = sb_call_str(call, "WindowEnd", NULL)) &&
	    !sb_datetime_parse(v, &we))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowEnd: not a date-time");
	char **ids;
	size_t n;
	if (mapi_ics_ids(mb, MAPI_CALENDAR, &ids, &n) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot list the calendar of %s: %s",
				    mb->address, strerror(errno));
	struct list_ctx c = {.items = calloc(n + 1, sizeof *c.items)};
	struct mapi_sortkey *k = calloc(n + 1, sizeof *k);
	char *scope = NULL;
	enum sb_status st = SB_OK;
	size_t m = 0, bad = 0;
	if (!c.items || !k ||
	    asprintf(&scope, "Appointment|%s|%lld|%lld", mb->address,
		     (long long)ws, (long long)we) < 0) {
		scope = NULL;
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct sb_error e2;
		struct appt a;
		sb_error_clear(&e2);
		if (appt_load(mb, ids[i], &a, &e2) != SB_OK) {
			/* Deleted meanwhile, or unreadable: skipped (and
			 * reported), never the whole List failed. */
			if (e2.status != SB_ERR_NOT_FOUND)
				bad++;
			continue;
		}
		/* Overlap with [ws, we): ends after ws, starts before we. */
		if ((ws != INT64_MIN && a.end <= ws) ||
		    (we != INT64_MAX && a.start >= we)) {
			appt_free(&a);
			continue;
		}
		c.items[m] = a;
		k[m].key = a.start;
		k[m].id = c.items[m].id;
		k[m].index = m;
		m++;
	}
	if (bad)
		mapi_report_skipped(s, mb, MAPI_CALENDAR, bad);
	mapi_sort(k, m);
	size_t start;
	st =
	    mapi_page_start(k, m, scope, sb_call_page_token(call), &start, err);
	if (st == SB_OK)
		st = mapi_page_emit(k, m, start, call, r, scope, list_row, &c,
				    err);
out:
	for (size_t i = 0; i < m; i++)
		appt_free(&c.items[i]);
	free(c.items);
	free(k);
	free(scope);
	mapi_names_free(ids, n);
	return st;
}

static enum sb_status appt_load_one(struct mapi_store *s,
				    struct mapi_mailbox *mb,
				    const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	(void)s;
	struct appt a;
	enum sb_status st = appt_load(mb, sb_call_str(call, "Id", ""), &a, err);
	if (st == SB_OK) {
		appt_row(r, &a);
		appt_free(&a);
	}
	return st;
}

static enum sb_status appt_delete(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	(void)s;
	const char *id = sb_call_str(call, "Id", "");
	enum sb_status st =
	    mapi_ics_delete(mb, MAPI_CALENDAR, id, "appointment", err);
	if (st == SB_OK) {
		sb_result_row(r);
		sb_result_str(r, "Id", id);
	}
	return st;
}

MAPI_MAILBOX_HANDLER(mapi_appointment_create, appt_create)
MAPI_MAILBOX_HANDLER(mapi_appointment_list, appt_list)
MAPI_MAILBOX_HANDLER(mapi_appointment_load, appt_load_one)
MAPI_MAILBOX_HANDLER(mapi_appointment_delete, appt_delete)
