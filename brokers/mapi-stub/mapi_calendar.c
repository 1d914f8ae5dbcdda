/* mapi-stub: the Appointment object — Create, Load, Update, Delete, List over
 * iCalendar VEVENT files in the mailbox's Calendar/ directory.
 *
 * Recurrence: Create stores a Recurrence of the shared subset as the
 * VEVENT's RRULE; an RRULE is shown in its canonical form when it is of the
 * subset.  A List over a window expands a series with libical's recurrence
 * iterator, without its EXDATEs and with the occurrences other VEVENTs of
 * the file override (RECURRENCE-ID). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
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
	/* A meeting (ORGANIZER): changed through the Meeting methods only,
	 * which tell the attendees; cancelled: STATUS:CANCELLED. */
	bool meeting, cancelled;
	int64_t reminder; /* minutes; -1: none */
	char **categories;
	size_t n_categories;
	int64_t created;
	icalcomponent *cal;    /* the file, as read (NULL when made here) */
	icalcomponent *master; /* its VEVENT of the series, inside cal */
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
	if (a->cal)
		icalcomponent_free(a->cal);
	memset(a, 0, sizeof *a);
}

/* Add to VEVENT c a display alarm `minutes` before its start. */
static bool add_alarm(icalcomponent *c, int64_t minutes)
{
	icalcomponent *al = icalcomponent_new(ICAL_VALARM_COMPONENT);
	icalcomponent_add_component(c, al);
	icalcomponent_add_property(
	    al, icalproperty_new_action(ICAL_ACTION_DISPLAY));
	struct icaltriggertype tr = icaltriggertype_from_int(0);
	tr.duration = icaldurationtype_from_int(-(int)minutes * 60);
	icalcomponent_add_property(al, icalproperty_new_trigger(tr));
	return mapi_ical_add_text(al, ICAL_DESCRIPTION_PROPERTY, "Reminder");
}

/* Write a's VEVENT.  With a time zone libical knows (an IANA name), the
 * times are written in it with TZID and the zone's VTIMEZONE, so the local
 * zone survives for other calendar tools; any other TimeZone (a Windows
 * name) is kept in X-SVCBROKER-TIMEZONE with UTC times, as the store always
 * did.  rule: the RRULE to write (NULL: none). */
static char *appt_ics(const struct appt *a, icaltimezone *z,
		      const struct icalrecurrencetype *rule)
{
	icalcomponent *cal = mapi_ical_calendar();
	if (z && !a->all_day && !mapi_ical_add_zone(cal, z, a->tz, a->start))
		z = NULL;
	if (a->all_day)
		z = NULL;
	icalcomponent *c = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	icalcomponent_add_component(cal, c);
	const char *tzid = z ? a->tz : NULL;
	bool ok = mapi_ical_add_text(c, ICAL_UID_PROPERTY, a->id) &&
		  mapi_ical_add_time(c, ICAL_DTSTAMP_PROPERTY, time(NULL),
				     false, NULL, NULL) &&
		  mapi_ical_add_time(c, ICAL_CREATED_PROPERTY, a->created,
				     false, NULL, NULL) &&
		  mapi_ical_add_time(c, ICAL_DTSTART_PROPERTY, a->start,
				     a->all_day, z, tzid) &&
		  mapi_ical_add_time(c, ICAL_DTEND_PROPERTY, a->end, a->all_day,
				     z, tzid);
	if (ok && rule)
		icalcomponent_add_property(c, icalproperty_new_rrule(*rule));
	if (ok && a->subject)
		ok = mapi_ical_add_text(c, ICAL_SUMMARY_PROPERTY, a->subject);
	if (ok && a->body)
		ok = mapi_ical_add_text(c, ICAL_DESCRIPTION_PROPERTY, a->body);
	if (ok && a->location)
		ok = mapi_ical_add_text(c, ICAL_LOCATION_PROPERTY, a->location);
	if (ok && a->n_categories)
		ok = mapi_ical_add_list(c, ICAL_CATEGORIES_PROPERTY,
					(const char *const *)a->categories,
					a->n_categories);
	if (ok && a->tz && !tzid)
		ok = mapi_ical_add_x(c, "X-SVCBROKER-TIMEZONE", a->tz);
	if (ok && a->reminder >= 0)
		ok = add_alarm(c, a->reminder);
	char *text = ok ? mapi_ical_text(cal) : NULL;
	icalcomponent_free(cal);
	mapi_ical_release();
	return text;
}

/* The Recurrence of a VEVENT's first RRULE: canonical when it is of the
 * shared subset, else as libical writes it (cleaned when the row is
 * made), so a series is never shown as a single item.  NULL when there is
 * none. */
static char *recurrence_of(icalcomponent *c)
{
	icalproperty *p =
	    icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
	char *v = p ? icalproperty_get_value_as_string_r(p) : NULL;
	if (!v || !*v) {
		free(v);
		return NULL;
	}
	struct sb_rrule rule;
	char canon[SB_RRULE_TEXT_MAX + 1];
	if (sb_rrule_parse(v, &rule, NULL) == SB_OK &&
	    sb_rrule_format(&rule, canon, sizeof canon)) {
		free(v);
		return strdup(canon);
	}
	return v;
}

/* Fill a from VEVENT c of cal (a->id set by the caller). */
static enum sb_status appt_fill(icalcomponent *cal, icalcomponent *c,
				const char *id, struct appt *a,
				struct sb_error *err)
{
	bool d1 = false, d2 = false;
	const char *tzid = NULL;
	a->reminder = -1;
	a->subject = mapi_ical_text_of(c, ICAL_SUMMARY_PROPERTY);
	a->body = mapi_ical_text_of(c, ICAL_DESCRIPTION_PROPERTY);
	a->location = mapi_ical_text_of(c, ICAL_LOCATION_PROPERTY);
	a->tz = mapi_ical_x_of(c, "X-SVCBROKER-TIMEZONE");
	a->recurrence = recurrence_of(c);
	a->meeting = icalcomponent_get_first_property(
			 c, ICAL_ORGANIZER_PROPERTY) != NULL;
	a->cancelled = icalcomponent_get_status(c) == ICAL_STATUS_CANCELLED;
	if (!mapi_ical_time_of(
		cal, icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY),
		&a->start, &d1, &tzid))
		return sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				    "appointment %s has no valid DTSTART", id);
	if (!a->tz && tzid)
		a->tz = strdup(tzid);
	a->all_day = d1;
	if (!mapi_ical_time_of(
		cal, icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY),
		&a->end, &d2, NULL)) {
		icalproperty *dur =
		    icalcomponent_get_first_property(c, ICAL_DURATION_PROPERTY);
		int64_t secs = -1;
		if (dur) {
			struct icaldurationtype dt =
			    icalproperty_get_duration(dur);
			if (!icaldurationtype_is_bad_duration(dt))
				secs = icaldurationtype_as_int(dt);
		}
		if (secs >= 0 && secs <= MAPI_EPOCH_MAX - a->start)
			a->end = a->start + secs;
		else
			a->end = a->start + (d1 ? 86400 : 0);
	}
	if (a->end < a->start || a->end > MAPI_EPOCH_MAX)
		a->end = a->start;
	if (mapi_ical_list_of(c, ICAL_CATEGORIES_PROPERTY, &a->categories,
			      &a->n_categories) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	icalcomponent *al =
	    icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT);
	if (al)
		a->reminder = mapi_ical_alarm_minutes(al);
	return SB_OK;
}

static enum sb_status appt_parse(const char *text, const char *id,
				 struct appt *a, struct sb_error *err)
{
	memset(a, 0, sizeof *a);
	a->reminder = -1;
	const char *why = NULL;
	icalcomponent *cal = mapi_ical_parse(text, strlen(text), &why);
	icalcomponent *c = cal ? mapi_ical_master(cal) : NULL;
	if (!c) {
		if (cal)
			icalcomponent_free(cal);
		return sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				    "appointment %s: unreadable iCalendar "
				    "data (%s)",
				    id, why ? why : "no VEVENT");
	}
	a->id = strdup(id);
	enum sb_status st =
	    a->id ? appt_fill(cal, c, id, a, err)
		  : sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	if (st != SB_OK) {
		icalcomponent_free(cal);
		appt_free(a);
		return st;
	}
	a->cal = cal;
	a->master = c;
	return SB_OK;
}

/* A row of a, starting at start and ending at end (an occurrence of a
 * series; a's own times otherwise). */
static void appt_row_at(struct sb_result *r, const struct appt *a,
			int64_t start, int64_t end)
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
	sb_datetime_format(start, t, sizeof t);
	sb_result_str(r, "Start", t);
	sb_datetime_format(end, t, sizeof t);
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

static void appt_row(struct sb_result *r, const struct appt *a)
{
	appt_row_at(r, a, a->start, a->end);
}

/* The RRULE to store for Recurrence rec: checked against the shared
 * subset (a malformed rule is named as such), then read by libical from
 * the same text.  UNTIL takes DTSTART's value type (RFC 5545 3.3.10): the
 * end date of an all-day series; for set hours, a date means the end of
 * that day in z (the zone the times are written in; NULL: UTC), in UTC. */
static enum sb_status rule_for(const char *rec, bool all_day, icaltimezone *z,
			       struct icalrecurrencetype *rule,
			       struct sb_error *err)
{
	struct sb_rrule sr;
	enum sb_status rs = sb_rrule_parse(rec, &sr, err);
	if (rs != SB_OK)
		return rs;
	*rule = icalrecurrencetype_from_string(rec);
	icalerror_clear_errno();
	if (rule->freq == ICAL_NO_RECURRENCE)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    SB_RRULE_ERROR_CODE,
				    "Recurrence: \"%.100s\" is not an RRULE "
				    "iCalendar can hold",
				    rec);
	if (!sr.has_until)
		return SB_OK;
	if (all_day) {
		rule->until = mapi_ical_time_in(sr.until, true, NULL);
	} else if (sr.until_is_date) {
		struct icaltimetype d = mapi_ical_time_in(sr.until, true, NULL);
		d.is_date = 0;
		d.hour = 23;
		d.minute = 59;
		d.second = 59;
		int64_t e;
		if (!mapi_ical_time_epoch(d, z, &e))
			e = sr.until + 86399;
		rule->until = mapi_ical_time_in(e, false, NULL);
	}
	return SB_OK;
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
		mapi_date_of(start, &a.start);
		mapi_date_of(end, &a.end);
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
	/* An empty Recurrence is no recurrence. */
	const char *rec = sb_call_str(call, "Recurrence", NULL);
	struct icalrecurrencetype rule;
	bool has_rule = rec && *rec;
	a.tz = (char *)sb_call_str(call, "TimeZone", NULL);
	icaltimezone *z = a.tz ? mapi_ical_zone(a.tz) : NULL;
	if (has_rule) {
		enum sb_status rs =
		    rule_for(rec, a.all_day, a.all_day ? NULL : z, &rule, err);
		if (rs != SB_OK)
			return rs;
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
	a.n_categories = sb_call_count(call, "Categories");
	char **cats = calloc(a.n_categories + 1, sizeof *cats);
	if (!cats)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	for (size_t i = 0; i < a.n_categories; i++)
		cats[i] = (char *)sb_call_str_at(call, "Categories", i);
	a.categories = cats;
	a.created = time(NULL);
	a.recurrence = NULL;
	char canon[SB_RRULE_TEXT_MAX + 1];
	char *text = appt_ics(&a, z, has_rule ? &rule : NULL);
	if (text && has_rule) {
		/* Shown as Load will show it: libical's RRULE, canonical. */
		struct appt back;
		struct sb_error e2;
		sb_error_clear(&e2);
		if (appt_parse(text, a.id, &back, &e2) == SB_OK) {
			snprintf(canon, sizeof canon, "%s",
				 back.recurrence ? back.recurrence : rec);
			appt_free(&back);
		} else {
			snprintf(canon, sizeof canon, "%s", rec);
		}
		a.recurrence = canon;
	}
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

/* Copies kept by ChangeKey (mapi_cache.c), without the parsed file. */
static char **names_copy(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof *out);
	for (size_t i = 0; out && i < n; i++)
		if (!(out[i] = strdup(v[i]))) {
			mapi_names_free(out, i);
			return NULL;
		}
	return out;
}

static char *dup_or_null(const char *s, bool *ok)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*ok = false;
	return d;
}

static void *appt_copy(const void *v)
{
	const struct appt *a = v;
	struct appt *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	bool ok = true;
	*c = *a;
	c->cal = c->master = NULL;
	c->id = dup_or_null(a->id, &ok);
	c->subject = dup_or_null(a->subject, &ok);
	c->body = dup_or_null(a->body, &ok);
	c->location = dup_or_null(a->location, &ok);
	c->tz = dup_or_null(a->tz, &ok);
	c->recurrence = dup_or_null(a->recurrence, &ok);
	c->categories = names_copy(a->categories, a->n_categories);
	if (!c->categories)
		c->n_categories = 0;
	if (!ok || !c->categories) {
		appt_free(c);
		free(c);
		return NULL;
	}
	return c;
}

static void appt_release(void *v)
{
	appt_free(v);
	free(v);
}

static struct mapi_cache appt_cache = MAPI_CACHE_INIT(appt_copy, appt_release);

__attribute__((destructor)) static void appt_cache_fini(void)
{
	mapi_cache_clear(&appt_cache);
}

/* Load appointment id.  with_file: keep the parsed file in a (a series'
 * expansion needs it); else a copy kept under the same ChangeKey may be
 * taken instead of parsing the file again. */
static enum sb_status appt_load2(struct mapi_mailbox *mb, const char *id,
				 struct appt *a, bool with_file,
				 struct sb_error *err)
{
	char *text, ck[MAPI_CHANGEKEY_LEN + 1];
	enum sb_status st =
	    mapi_ics_load(mb, MAPI_CALENDAR, id, "appointment", &text, ck, err);
	if (st != SB_OK)
		return st;
	struct appt *hit = with_file ? NULL : mapi_cache_get(&appt_cache, ck);
	if (hit) {
		*a = *hit;
		free(hit);
		free(text);
		return SB_OK;
	}
	st = appt_parse(text, id, a, err);
	mapi_ical_release();
	if (st == SB_OK) {
		memcpy(a->ck, ck, sizeof ck);
		mapi_cache_put(&appt_cache, ck, a, strlen(text) + sizeof *a);
		if (!with_file) {
			icalcomponent_free(a->cal);
			a->cal = a->master = NULL;
		}
	}
	free(text);
	return st;
}

static enum sb_status appt_load(struct mapi_mailbox *mb, const char *id,
				struct appt *a, struct sb_error *err)
{
	return appt_load2(mb, id, a, false, err);
}

/* What a List shows: a row per appointment, or, over a window, a row per
 * occurrence of a series in it. */
struct occ {
	size_t item; /* index in list_ctx.items */
	int64_t start, end;
};

struct list_ctx {
	struct appt *items; /* appointments, and the overridden occurrences */
	size_t n_items, cap_items;
	struct occ *occ;
	size_t n_occ, cap_occ;
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

/* Append a to items (taken over); its index, or SIZE_MAX when out of
 * memory (a is freed). */
static size_t add_item(struct list_ctx *c, struct appt *a)
{
	if (c->n_items == c->cap_items) {
		size_t nc = c->cap_items ? 2 * c->cap_items : 32;
		struct appt *n = realloc(c->items, nc * sizeof *n);
		if (!n) {
			appt_free(a);
			return SIZE_MAX;
		}
		c->items = n;
		c->cap_items = nc;
	}
	c->items[c->n_items] = *a;
	return c->n_items++;
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

/* The occurrences of series items[i] overlapping [ws, we)
 * (mapi_ical_occurrences), with the occurrences another VEVENT of the
 * file overrides (same UID, RECURRENCE-ID) shown as that VEVENT says.
 * False when out of memory. */
static bool expand(struct list_ctx *c, size_t i, int64_t ws, int64_t we)
{
	struct appt *a = &c->items[i];
	icalcomponent *cal = a->cal, *m = a->master;
	int64_t *ex = NULL, *rids = NULL;
	size_t n_ex = 0, n_rids = 0;
	bool ok = mapi_ical_exdates(cal, m, &ex, &n_ex);

	/* Overrides: shown on their own (their times may have moved into
	 * or out of the window); their RECURRENCE-IDs are left out of the
	 * series. */
	const char *uid = icalcomponent_get_uid(m);
	size_t cap_rids = 0;
	for (icalcomponent *o =
		 icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	     ok && o;
	     o = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
		icalproperty *rid = icalcomponent_get_first_property(
		    o, ICAL_RECURRENCEID_PROPERTY);
		const char *ouid = icalcomponent_get_uid(o);
		int64_t rt;
		bool d;
		if (o == m || !rid || (uid && ouid && strcmp(uid, ouid) != 0) ||
		    !mapi_ical_time_of(cal, rid, &rt, &d, NULL))
			continue;
		if (n_rids == cap_rids) {
			cap_rids = cap_rids ? 2 * cap_rids : 8;
			int64_t *nv = realloc(rids, cap_rids * sizeof *nv);
			if (!nv) {
				ok = false;
				break;
			}
			rids = nv;
		}
		rids[n_rids++] = rt;
		if (mapi_ical_in_list(ex, n_ex, rt))
			continue;
		struct appt ov = {0};
		struct sb_error e2;
		sb_error_clear(&e2);
		if (!(ov.id = strdup(a->id))) {
			ok = false;
			break;
		}
		if (appt_fill(cal, o, a->id, &ov, &e2) != SB_OK) {
			appt_free(&ov);
			continue;
		}
		if (!ov.recurrence && a->recurrence)
			ov.recurrence = strdup(a->recurrence);
		if (!mapi_overlaps(ov.start, ov.end, ws, we)) {
			appt_free(&ov);
			continue;
		}
		int64_t os = ov.start, oe = ov.end;
		size_t k = add_item(c, &ov);
		a = &c->items[i]; /* items may have moved */
		if (k == SIZE_MAX || !add_occ(c, k, os, oe))
			ok = false;
	}
	struct occ_sink sink = {c, i};
	if (ok)
		ok = mapi_ical_occurrences(cal, m, a->start, a->end - a->start,
					   ws, we, rids, n_rids, occ_sink_add,
					   &sink);
	mapi_ical_release();
	free(ex);
	free(rids);
	return ok;
}

static enum sb_status list_row(void *vctx, size_t index, struct sb_result *r,
			       struct sb_error *err)
{
	(void)err;
	struct list_ctx *c = vctx;
	const struct occ *o = &c->occ[index];
	appt_row_at(r, &c->items[o->item], o->start, o->end);
	return SB_OK;
}

static enum sb_status appt_list(struct mapi_store *s, struct mapi_mailbox *mb,
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
	struct list_ctx c = {0};
	struct mapi_sortkey *k = NULL;
	char *scope = NULL;
	enum sb_status st = SB_OK;
	size_t bad = 0;
	if (asprintf(&scope, "Appointment|%s|%lld|%lld", mb->address,
		     (long long)ws, (long long)we) < 0) {
		scope = NULL;
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && st == SB_OK; i++) {
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
		bool series = window && a.recurrence;
		if (series) {
			/* Its file, parsed, for the expansion. */
			appt_free(&a);
			if (appt_load2(mb, ids[i], &a, true, &e2) != SB_OK) {
				if (e2.status != SB_ERR_NOT_FOUND)
					bad++;
				continue;
			}
			series = a.recurrence && a.cal;
		}
		/* Overlap with [ws, we): ends after ws, starts before we. */
		if (!series && !mapi_overlaps(a.start, a.end, ws, we)) {
			appt_free(&a);
			continue;
		}
		int64_t as = a.start, ae = a.end;
		size_t idx = add_item(&c, &a);
		bool ok = idx != SIZE_MAX;
		if (ok && series)
			ok = expand(&c, idx, ws, we);
		else if (ok)
			ok = add_occ(&c, idx, as, ae);
		if (!ok)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
	}
	if (st != SB_OK)
		goto out;
	if (bad)
		mapi_report_skipped(s, mb, MAPI_CALENDAR, bad);
	k = calloc(c.n_occ + 1, sizeof *k);
	if (!k) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c.n_occ; i++) {
		k[i].key = c.occ[i].start;
		k[i].id = c.items[c.occ[i].item].id;
		k[i].index = i;
	}
	st = mapi_page_sorted(k, c.n_occ, call, r, scope, list_row, &c, err);
out:
	for (size_t i = 0; i < c.n_items; i++)
		appt_free(&c.items[i]);
	free(c.items);
	free(c.occ);
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
	const char *want_ck = sb_call_str(call, "ChangeKey", NULL);
	/* A meeting's attendees are told of its end: Meeting.Cancel (the
	 * organizer) or Meeting.Decline (an attendee); a cancelled one is
	 * removed here.  The file removed is the one checked: without a
	 * ChangeKey of the caller's, the key read here is the condition, and
	 * a change in between (an Update that adds attendees) means reading
	 * it again. */
	enum sb_status st = SB_OK;
	for (int attempt = 0; attempt < 32; attempt++) {
		struct appt a;
		struct sb_error e2;
		sb_error_clear(&e2);
		st = appt_load(mb, id, &a, &e2);
		if (st == SB_ERR_NOT_FOUND) {
			if (err)
				*err = e2;
			return st;
		}
		/* an unreadable file is no meeting anyone is told of:
		 * removed */
		bool loaded = st == SB_OK;
		bool refuse = loaded && a.meeting && !a.cancelled;
		char ck[MAPI_CHANGEKEY_LEN + 1] = "";
		if (loaded) {
			memcpy(ck, a.ck, sizeof ck);
			appt_free(&a);
		}
		if (refuse)
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "Id: %s is a meeting; Meeting.Cancel (the "
			    "organizer) or Meeting.Decline (an attendee) "
			    "removes it and tells the others",
			    id);
		bool own_ck = !(want_ck && *want_ck) && ck[0];
		sb_error_clear(&e2);
		st = mapi_ics_delete_if(mb, MAPI_CALENDAR, id, "appointment",
					own_ck ? ck : want_ck, &e2);
		if (st == SB_ERR_CONFLICT && own_ck)
			continue; /* changed since it was read here */
		if (st != SB_OK) {
			if (err)
				*err = e2;
			return st;
		}
		sb_result_row(r);
		sb_result_str(r, "Id", id);
		return SB_OK;
	}
	return sb_error_set(err, SB_ERR_CONFLICT, "ErrorIrresolvableConflict",
			    "appointment %s kept changing while it was being "
			    "deleted: try again",
			    id);
}

/* ---- Update --------------------------------------------------------- */

/* Remove a series' exceptions: its EXDATEs and RDATEs, and the VEVENTs of
 * the file that change one of its occurrences (RECURRENCE-ID). */
static void drop_exceptions(icalcomponent *cal, icalcomponent *m)
{
	mapi_ical_remove_props(m, ICAL_EXDATE_PROPERTY, NULL);
	mapi_ical_remove_props(m, ICAL_RDATE_PROPERTY, NULL);
	icalcomponent *v[MAPI_ICAL_MAX_COMPS];
	size_t n = 0;
	for (icalcomponent *c =
		 icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	     c && n < MAPI_ICAL_MAX_COMPS;
	     c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT))
		if (c != m && icalcomponent_get_first_property(
				  c, ICAL_RECURRENCEID_PROPERTY))
			v[n++] = c;
	for (size_t i = 0; i < n; i++) {
		icalcomponent_remove_component(cal, v[i]);
		icalcomponent_free(v[i]);
	}
}

/* Replace c's property kind by the TEXT value v (none when v is NULL). */
static bool set_text(icalcomponent *c, icalproperty_kind kind, const char *v)
{
	mapi_ical_remove_props(c, kind, NULL);
	return !v || mapi_ical_add_text(c, kind, v);
}

/* The inputs of an Update that may be cleared, in this order. */
enum {
	U_SUBJECT,
	U_BODY,
	U_LOCATION,
	U_TZ,
	U_REMINDER,
	U_CATEGORIES,
	U_RECURRENCE,
	U_N
};
static const char *const u_names[U_N] = {"Subject",   "Body",	  "Location",
					 "TimeZone",  "Reminder", "Categories",
					 "Recurrence"};

/* The canonical text of a Recurrence of the subset, or "" */
static void canonical(const char *rec, char *out, size_t len)
{
	struct sb_rrule sr;
	out[0] = '\0';
	if (rec && sb_rrule_parse(rec, &sr, NULL) == SB_OK &&
	    !sb_rrule_format(&sr, out, len))
		out[0] = '\0';
}

/* Apply the Update's inputs to a (read with its file) and write the file
 * anew into *text.  Nothing is written here: an error leaves the item as
 * it is. */
static enum sb_status appt_apply(struct appt *a, const struct sb_call *call,
				 const enum mapi_change *ch, char **text,
				 struct sb_error *err)
{
	icalcomponent *cal = a->cal, *m = a->master;
	*text = NULL;

	/* ---- the times: Start, End, IsAllDay, TimeZone -------------- */
	bool all_day = a->all_day, v;
	bool ad_changed = sb_call_bool(call, "IsAllDay", &v) && v != all_day;
	if (ad_changed)
		all_day = v;
	const char *sv = sb_call_str(call, "Start", NULL);
	const char *ev = sb_call_str(call, "End", NULL);
	if (ad_changed && (!sv || !ev))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "IsAllDay: changing it needs Start and "
				    "End too");
	int64_t start = a->start, end = a->end;
	if (sv && !sb_datetime_parse(sv, &start))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Start: expected an ISO 8601 date-time "
				    "with offset");
	if (ev && !sb_datetime_parse(ev, &end))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "End: expected an ISO 8601 date-time with "
				    "offset");
	if (all_day) {
		/* Whole days, as Create takes them: the dates written. */
		if (sv)
			mapi_date_of(sv, &start);
		if (ev)
			mapi_date_of(ev, &end);
		if (ev && end == start)
			end = start + 86400;
	}
	/* Start alone moves the item and keeps its duration (as Exchange
	 * does) */
	if (sv && !ev && start <= MAPI_EPOCH_MAX - (a->end - a->start))
		end = start + (a->end - a->start);
	if (start < MAPI_EPOCH_MIN || end > MAPI_EPOCH_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorCalendarOutOfRange",
				    "Start/End: only years %d to %d can be "
				    "stored",
				    MAPI_YEAR_MIN, MAPI_YEAR_MAX);
	if (end < start) {
		char ts[32], te[32];
		sb_datetime_format(start, ts, sizeof ts);
		sb_datetime_format(end, te, sizeof te);
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT,
		    "ErrorCalendarEndDateIsEarlierThanStartDate",
		    "End (%s) is before Start (%s)", te, ts);
	}
	/* The zone: the given TimeZone, none when cleared, else the item's
	 * own.  Times are written in it when it is an IANA name libical
	 * knows, or the file's own VTIMEZONE the item already uses; any
	 * other name is kept in X-SVCBROKER-TIMEZONE with UTC times. */
	const char *tzname = ch[U_TZ] == MAPI_SET
				 ? sb_call_str(call, "TimeZone", NULL)
			     : ch[U_TZ] == MAPI_CLEAR ? NULL
						      : a->tz;
	icalproperty *dp =
	    icalcomponent_get_first_property(m, ICAL_DTSTART_PROPERTY);
	const char *otp = NULL;
	icaltimezone *zold =
	    dp && !a->all_day ? mapi_ical_zone_of(cal, dp, &otp) : NULL;
	char old_tzid[256];
	snprintf(old_tzid, sizeof old_tzid, "%s", zold && otp ? otp : "");
	icaltimezone *z = NULL;
	const char *tzid = NULL;
	bool builtin = false;
	if (!all_day && tzname && (z = mapi_ical_zone(tzname))) {
		tzid = tzname;
		builtin = true;
	} else if (!all_day && tzname && zold &&
		   strcmp(old_tzid, tzname) == 0) {
		z = zold;
		tzid = old_tzid;
	}
	bool times = sv || ev || ad_changed || ch[U_TZ] != MAPI_KEEP;
	bool zone_changed = !all_day && ch[U_TZ] != MAPI_KEEP &&
			    strcmp(tzid ? tzid : "", old_tzid) != 0;

	/* ---- Recurrence ----------------------------------------------- */
	const char *rec = ch[U_RECURRENCE] == MAPI_SET
			      ? sb_call_str(call, "Recurrence", NULL)
			  : ch[U_RECURRENCE] == MAPI_CLEAR ? NULL
							   : a->recurrence;
	char was[SB_RRULE_TEXT_MAX + 1], now[SB_RRULE_TEXT_MAX + 1];
	canonical(a->recurrence, was, sizeof was);
	canonical(ch[U_RECURRENCE] == MAPI_SET ? rec : NULL, now, sizeof now);
	bool rec_changed = (ch[U_RECURRENCE] == MAPI_CLEAR && a->recurrence) ||
			   (ch[U_RECURRENCE] == MAPI_SET &&
			    (!a->recurrence || !*was || strcmp(was, now) != 0));
	struct icalrecurrencetype rule;
	bool write_rule = false;
	if (rec && (ch[U_RECURRENCE] == MAPI_SET || (times && *was))) {
		enum sb_status rs = rule_for(rec, all_day, z, &rule, err);
		if (rs != SB_OK)
			return rs;
		write_rule = true;
	}
	int64_t rem = -1;
	if (ch[U_REMINDER] == MAPI_SET &&
	    (!sb_call_int(call, "Reminder", &rem) || rem < 0 ||
	     rem > REMINDER_MAX))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Reminder: %lld is out of range 0..%d "
				    "minutes",
				    (long long)rem, REMINDER_MAX);

	/* ---- the checks are done: the file is changed ------------------ */
	/* A series whose pattern changes (its rule, its start, all-day or
	 * not, its zone) loses its exceptions, as Exchange's do: the dates
	 * they name are no occurrences of the new pattern. */
	if (rec_changed || (a->recurrence && ((sv && start != a->start) ||
					      ad_changed || zone_changed)))
		drop_exceptions(cal, m);
	bool ok = true;
	if (times) {
		mapi_ical_remove_props(m, ICAL_DTSTART_PROPERTY, NULL);
		mapi_ical_remove_props(m, ICAL_DTEND_PROPERTY, NULL);
		mapi_ical_remove_props(m, ICAL_DURATION_PROPERTY, NULL);
		mapi_ical_remove_props(m, ICAL_X_PROPERTY,
				       "X-SVCBROKER-TIMEZONE");
		ok = mapi_ical_add_time(m, ICAL_DTSTART_PROPERTY, start,
					all_day, z, tzid) &&
		     mapi_ical_add_time(m, ICAL_DTEND_PROPERTY, end, all_day, z,
					tzid);
		if (ok && tzname && !tzid)
			ok = mapi_ical_add_x(m, "X-SVCBROKER-TIMEZONE", tzname);
		/* A zone libical knows: its VTIMEZONE written anew from the
		 * earliest start on (a custom one is kept as it is). */
		if (ok && builtin &&
		    !mapi_ical_set_zone(cal, z, tzid,
					start < a->start ? start : a->start))
			ok = false;
	}
	if (ok && ch[U_RECURRENCE] == MAPI_CLEAR)
		mapi_ical_remove_props(m, ICAL_RRULE_PROPERTY, NULL);
	if (ok && write_rule) {
		mapi_ical_remove_props(m, ICAL_RRULE_PROPERTY, NULL);
		icalcomponent_add_property(m, icalproperty_new_rrule(rule));
	}
	static const icalproperty_kind text_kind[] = {
	    [U_SUBJECT] = ICAL_SUMMARY_PROPERTY,
	    [U_BODY] = ICAL_DESCRIPTION_PROPERTY,
	    [U_LOCATION] = ICAL_LOCATION_PROPERTY};
	for (int i = U_SUBJECT; ok && i <= U_LOCATION; i++)
		if (ch[i] != MAPI_KEEP)
			ok = set_text(m, text_kind[i],
				      ch[i] == MAPI_SET
					  ? sb_call_str(call, u_names[i], NULL)
					  : NULL);
	if (ok && ch[U_CATEGORIES] != MAPI_KEEP) {
		mapi_ical_remove_props(m, ICAL_CATEGORIES_PROPERTY, NULL);
		size_t n = ch[U_CATEGORIES] == MAPI_SET
			       ? sb_call_count(call, "Categories")
			       : 0;
		const char **cats = calloc(n + 1, sizeof *cats);
		for (size_t i = 0; cats && i < n; i++)
			cats[i] = sb_call_str_at(call, "Categories", i);
		ok = cats && (n == 0 ||
			      mapi_ical_add_list(m, ICAL_CATEGORIES_PROPERTY,
						 (const char *const *)cats, n));
		free(cats);
	}
	if (ok && ch[U_REMINDER] != MAPI_KEEP) {
		mapi_ical_remove_comps(m, ICAL_VALARM_COMPONENT);
		if (ch[U_REMINDER] == MAPI_SET)
			ok = add_alarm(m, rem);
	}
	/* When and how many times it changed (RFC 5545 3.8.7). */
	time_t t = time(NULL);
	int seq = icalcomponent_get_sequence(m);
	mapi_ical_remove_props(m, ICAL_DTSTAMP_PROPERTY, NULL);
	mapi_ical_remove_props(m, ICAL_LASTMODIFIED_PROPERTY, NULL);
	icalcomponent_set_sequence(m, seq <= 0	      ? 1
				      : seq < INT_MAX ? seq + 1
						      : INT_MAX);
	ok = ok &&
	     mapi_ical_add_time(m, ICAL_DTSTAMP_PROPERTY, t, false, NULL,
				NULL) &&
	     mapi_ical_add_time(m, ICAL_LASTMODIFIED_PROPERTY, t, false, NULL,
				NULL);
	mapi_ical_drop_unused_zones(cal);
	if (!ok)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	if (!(*text = mapi_ical_text(cal)))
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				    "appointment %s: the updated item is "
				    "larger than %d KiB",
				    a->id, MAPI_ICS_MAX / 1024);
	return SB_OK;
}

static enum sb_status appt_update(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", "");
	enum mapi_change ch[U_N];
	enum sb_status st = SB_OK;
	for (int i = 0; i < U_N && st == SB_OK; i++)
		st = mapi_change_of(call, u_names[i], &ch[i], err);
	if (st != SB_OK)
		return st;
	/* A malformed rule is refused before the item is read. */
	if (ch[U_RECURRENCE] == MAPI_SET &&
	    (st = sb_rrule_check(sb_call_str(call, "Recurrence", ""), err)) !=
		SB_OK)
		return st;
	/* Read, compare, change and write under the mailbox's .ics lock, so
	 * that of two Updates given the same ChangeKey exactly one is
	 * written and the other finds the key stale. */
	struct appt a;
	char *text = NULL, ck[MAPI_CHANGEKEY_LEN + 1] = "";
	pthread_mutex_lock(&mb->ics_lock);
	st = appt_load2(mb, id, &a, true, err);
	if (st == SB_OK) {
		st = mapi_change_key_check(sb_call_str(call, "ChangeKey", NULL),
					   a.ck, "appointment", id, err);
		if (st == SB_OK && a.meeting)
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "Id: %s is a meeting; Meeting.Update "
					  "changes it and sends the update to "
					  "its attendees",
					  id);
		if (st == SB_OK)
			st = appt_apply(&a, call, ch, &text, err);
		if (st == SB_OK)
			st = mapi_ics_store(s, mb, MAPI_CALENDAR, id, text,
					    true, ck, err);
		appt_free(&a);
	}
	pthread_mutex_unlock(&mb->ics_lock);
	mapi_ical_release();
	if (st == SB_OK) {
		/* The row Load gives for what was written. */
		struct appt back;
		struct sb_error e2;
		sb_error_clear(&e2);
		if (appt_parse(text, id, &back, &e2) == SB_OK) {
			memcpy(back.ck, ck, sizeof ck);
			appt_row(r, &back);
			appt_free(&back);
		} else {
			sb_result_row(r);
			sb_result_str(r, "Id", id);
			if (ck[0])
				sb_result_str(r, "ChangeKey", ck);
		}
		mapi_ical_release();
	}
	free(text);
	return st;
}

MAPI_MAILBOX_HANDLER(mapi_appointment_create, appt_create)
MAPI_MAILBOX_HANDLER(mapi_appointment_list, appt_list)
MAPI_MAILBOX_HANDLER(mapi_appointment_load, appt_load_one)
MAPI_MAILBOX_HANDLER(mapi_appointment_delete, appt_delete)
MAPI_MAILBOX_HANDLER(mapi_appointment_update, appt_update)
