/* exchange-ews broker — the shared Recurrence (one RFC 5545 RRULE, see
 * <svcbroker/rrule.h>) to and from EWS recurrence patterns
 * (types.xsd: RecurrenceType).
 *
 *   FREQ=DAILY                       DailyRecurrence (Interval)
 *   FREQ=DAILY;BYDAY=MO,TU (no INTERVAL)      WeeklyRecurrence
 *   FREQ=WEEKLY;BYDAY=...            WeeklyRecurrence (DaysOfWeek,
 *                                    FirstDayOfWeek Monday)
 *   FREQ=MONTHLY;BYMONTHDAY=n        AbsoluteMonthlyRecurrence (1..31)
 *   FREQ=MONTHLY;BYMONTHDAY=-1       RelativeMonthlyRecurrence Day, Last
 *   FREQ=MONTHLY;BYDAY=2TU           RelativeMonthlyRecurrence
 *   FREQ=MONTHLY;BYDAY=MO,..,FR;BYSETPOS=-1   ... Weekday, Last
 *   FREQ=YEARLY;BYMONTH=m;...        Absolute/RelativeYearlyRecurrence
 *   COUNT / UNTIL / neither          Numbered / EndDate / NoEnd range
 *
 * Anything else is refused by name: EWS keeps nothing else.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ews_calendar.h"

/* ---- dates -------------------------------------------------------------- */

/* Howard Hinnant's days_from_civil and civil_from_days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void ews_day_of(int64_t epoch, struct ews_day *out)
{
	int64_t z = epoch >= 0 ? epoch / 86400 : (epoch - 86399) / 86400;
	int64_t days = z;
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	out->y = (int)(y + (m <= 2));
	out->m = m;
	out->d = d;
	/* 1970-01-01 was a Thursday (3 with Monday = 0) */
	int64_t w = (days + 3) % 7;
	out->wday = (int)(w < 0 ? w + 7 : w);
}

int64_t ews_day_epoch(const struct ews_day *d)
{
	return days_from_civil(d->y, d->m, d->d) * 86400;
}

/* ---- names -------------------------------------------------------------- */

static const char *const day_names[] = {
    "Monday",	"Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday", "Sunday",  "Day",	"Weekday",  "WeekendDay"};
static const char *const index_names[] = {"First", "Second", "Third", "Fourth"};
static const char *const month_names[] = {
    "January", "February", "March",	"April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* ---- RRULE -> EWS ------------------------------------------------------- */

static enum sb_status refuse(struct sb_error *err, const char *what)
{
	return sb_error_set(err, SB_ERR_INVALID_INPUT, SB_RRULE_ERROR_CODE,
			    "Recurrence: %s", what);
}

/* A set of weekdays (bit i = weekday i) as one DaysOfWeek value of a
 * relative pattern, or -1. */
static int rel_day_of(unsigned days)
{
	switch (days) {
	case 0x7f:
		return EWS_DOW_DAY;
	case 0x1f:
		return EWS_DOW_WEEKDAY;
	case 0x60:
		return EWS_DOW_WEEKENDDAY;
	default:
		for (int i = 0; i < 7; i++)
			if (days == (1u << i))
				return i;
		return -1;
	}
}

/* The most days month m (1..12) has (29 in February). */
static int month_days(int m)
{
	return m == 2 ? 29 : m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

static bool index_ok(int i) { return (i >= 1 && i <= 4) || i == -1; }

/* BYMONTHDAY / BYDAY / BYSETPOS of a MONTHLY or YEARLY rule: absolute
 * (day_of_month) or relative (rel_day, index). */
static enum sb_status month_part(const struct sb_rrule *p,
				 const struct ews_day *start, bool *relative,
				 struct ews_recur *o, struct sb_error *err)
{
	*relative = false;
	if (p->n_bymonthday) {
		if (p->n_bymonthday > 1)
			return refuse(err, "BYMONTHDAY with more than one day: "
					   "EWS repeats on one day of the "
					   "month");
		if (p->n_byday || p->n_bysetpos)
			return refuse(err, "BYMONTHDAY with BYDAY or BYSETPOS: "
					   "EWS cannot express it");
		int v = p->bymonthday[0];
		if (v == -1) {
			*relative = true;
			o->rel_day = EWS_DOW_DAY;
			o->index = -1;
			return SB_OK;
		}
		if (v < 1)
			return refuse(err, "BYMONTHDAY counted from the end "
					   "(other than -1, the last day): "
					   "EWS cannot express it");
		o->day_of_month = v;
		return SB_OK;
	}
	if (p->n_byday) {
		*relative = true;
		if (p->n_bysetpos) {
			unsigned days = 0;
			if (p->n_bysetpos > 1)
				return refuse(err, "BYSETPOS with more than "
						   "one position: EWS "
						   "cannot express it");
			for (size_t i = 0; i < p->n_byday; i++) {
				if (p->byday[i].ordinal)
					return refuse(
					    err, "BYDAY with an ordinal and "
						 "BYSETPOS: EWS cannot "
						 "express it");
				days |= 1u << p->byday[i].day;
			}
			o->rel_day = rel_day_of(days);
			if (o->rel_day < 0)
				return refuse(
				    err, "BYSETPOS over these BYDAY days: EWS "
					 "takes one weekday, all days, "
					 "MO..FR or SA,SU");
			o->index = p->bysetpos[0];
			if (!index_ok(o->index))
				return refuse(err, "BYSETPOS: EWS takes 1..4 "
						   "or -1 (the last)");
			return SB_OK;
		}
		if (p->n_byday > 1)
			return refuse(err, "BYDAY with more than one day "
					   "(without BYSETPOS): EWS repeats "
					   "on one weekday of the month");
		if (!p->byday[0].ordinal)
			return refuse(err, "BYDAY without an ordinal (every "
					   "such weekday of the month): EWS "
					   "cannot express it; use "
					   "FREQ=WEEKLY");
		if (!index_ok(p->byday[0].ordinal))
			return refuse(err, "BYDAY ordinal: EWS takes 1..4 or "
					   "-1 (the last)");
		o->rel_day = (int)p->byday[0].day;
		o->index = p->byday[0].ordinal;
		return SB_OK;
	}
	if (p->n_bysetpos)
		return refuse(err, "BYSETPOS without BYDAY: EWS cannot "
				   "express it");
	o->day_of_month = start->d;
	return SB_OK;
}

enum sb_status ews_recur_from_rrule(const char *rrule,
				    const struct ews_day *start, int utc_offset,
				    struct ews_recur *o, struct sb_error *err)
{
	struct sb_rrule p;
	enum sb_status st = sb_rrule_parse(rrule, &p, err);
	if (st != SB_OK)
		return st;
	memset(o, 0, sizeof(*o));
	o->interval = p.interval;
	o->first_day = -1;
	o->start = *start;
	bool rel = false;
	switch (p.freq) {
	case SB_RRULE_DAILY:
		if (p.n_bymonthday || p.n_bymonth || p.n_bysetpos)
			return refuse(err, "FREQ=DAILY with BYMONTHDAY, "
					   "BYMONTH or BYSETPOS: EWS cannot "
					   "express it");
		if (p.n_byday) {
			if (p.interval != 1)
				return refuse(err, "FREQ=DAILY with BYDAY and "
						   "INTERVAL: EWS cannot "
						   "express it");
			o->kind = EWS_RECUR_WEEKLY;
			o->first_day = SB_RRULE_MO;
			for (size_t i = 0; i < p.n_byday; i++)
				o->days |= 1u << p.byday[i].day;
		} else {
			o->kind = EWS_RECUR_DAILY;
		}
		break;
	case SB_RRULE_WEEKLY:
		if (p.n_bymonth || p.n_bysetpos)
			return refuse(err, "FREQ=WEEKLY with BYMONTH or "
					   "BYSETPOS: EWS cannot express it");
		o->kind = EWS_RECUR_WEEKLY;
		o->first_day = SB_RRULE_MO;
		for (size_t i = 0; i < p.n_byday; i++)
			o->days |= 1u << p.byday[i].day;
		if (!o->days)
			o->days = 1u << start->wday;
		break;
	case SB_RRULE_MONTHLY:
		if (p.n_bymonth)
			return refuse(err, "FREQ=MONTHLY with BYMONTH: EWS "
					   "cannot express it");
		st = month_part(&p, start, &rel, o, err);
		if (st != SB_OK)
			return st;
		o->kind = rel ? EWS_RECUR_REL_MONTHLY : EWS_RECUR_ABS_MONTHLY;
		break;
	case SB_RRULE_YEARLY:
		if (p.interval != 1)
			return refuse(err, "INTERVAL with FREQ=YEARLY: EWS "
					   "repeats a yearly series every "
					   "year");
		if (p.n_bymonth > 1)
			return refuse(err, "BYMONTH with more than one month: "
					   "EWS repeats in one month of the "
					   "year");
		if (!p.n_bymonth && p.n_byday)
			return refuse(err, "FREQ=YEARLY with BYDAY needs "
					   "BYMONTH (EWS counts weekdays "
					   "within a month)");
		o->month = p.n_bymonth ? p.bymonth[0] : start->m;
		st = month_part(&p, start, &rel, o, err);
		if (st != SB_OK)
			return st;
		o->kind = rel ? EWS_RECUR_REL_YEARLY : EWS_RECUR_ABS_YEARLY;
		o->interval = 1;
		/* a day the month never has (30 February, 31 April): no
		 * occurrence at all, which EWS refuses */
		if (!rel && o->day_of_month > month_days(o->month))
			return refuse(err, "BYMONTHDAY: that month never has "
					   "that day, the series would have no "
					   "occurrence");
		break;
	default:
		return refuse(err, "FREQ: not one EWS takes");
	}
	if (p.count) {
		o->range = EWS_RANGE_NUMBERED;
		o->count = p.count;
	} else if (p.has_until) {
		o->range = EWS_RANGE_END_DATE;
		ews_day_of(p.until_is_date ? p.until : p.until + utc_offset,
			   &o->end);
		if (ews_day_epoch(&o->end) < ews_day_epoch(start))
			return refuse(err, "UNTIL is before the first "
					   "occurrence");
	} else {
		o->range = EWS_RANGE_NO_END;
	}
	return SB_OK;
}

/* ---- writing ------------------------------------------------------------ */

static void w_int(struct sb_xml_w *w, const char *name, int v)
{
	char b[16];
	snprintf(b, sizeof(b), "%d", v);
	sb_xml_w_leaf(w, name, b);
}

static void w_date(struct sb_xml_w *w, const char *name,
		   const struct ews_day *d)
{
	char b[16];
	snprintf(b, sizeof(b), "%04d-%02d-%02d", d->y, d->m, d->d);
	sb_xml_w_leaf(w, name, b);
}

static void w_relative(struct sb_xml_w *w, const struct ews_recur *r)
{
	sb_xml_w_leaf(w, "t:DaysOfWeek", day_names[r->rel_day]);
	sb_xml_w_leaf(w, "t:DayOfWeekIndex",
		      r->index < 0 ? "Last" : index_names[r->index - 1]);
}

void ews_recur_write(struct sb_xml_w *w, const struct ews_recur *r)
{
	sb_xml_w_open(w, "t:Recurrence");
	switch (r->kind) {
	case EWS_RECUR_DAILY:
		sb_xml_w_open(w, "t:DailyRecurrence");
		w_int(w, "t:Interval", r->interval);
		break;
	case EWS_RECUR_WEEKLY: {
		char days[96] = "";
		for (int i = 0; i < 7; i++)
			if (r->days & (1u << i)) {
				if (days[0])
					strcat(days, " ");
				strcat(days, day_names[i]);
			}
		sb_xml_w_open(w, "t:WeeklyRecurrence");
		w_int(w, "t:Interval", r->interval);
		sb_xml_w_leaf(w, "t:DaysOfWeek", days);
		if (r->first_day >= 0 && r->first_day < 7)
			sb_xml_w_leaf(w, "t:FirstDayOfWeek",
				      day_names[r->first_day]);
		break;
	}
	case EWS_RECUR_ABS_MONTHLY:
		sb_xml_w_open(w, "t:AbsoluteMonthlyRecurrence");
		w_int(w, "t:Interval", r->interval);
		w_int(w, "t:DayOfMonth", r->day_of_month);
		break;
	case EWS_RECUR_REL_MONTHLY:
		sb_xml_w_open(w, "t:RelativeMonthlyRecurrence");
		w_int(w, "t:Interval", r->interval);
		w_relative(w, r);
		break;
	case EWS_RECUR_ABS_YEARLY:
		sb_xml_w_open(w, "t:AbsoluteYearlyRecurrence");
		w_int(w, "t:DayOfMonth", r->day_of_month);
		sb_xml_w_leaf(w, "t:Month", month_names[r->month - 1]);
		break;
	case EWS_RECUR_REL_YEARLY:
		sb_xml_w_open(w, "t:RelativeYearlyRecurrence");
		w_relative(w, r);
		sb_xml_w_leaf(w, "t:Month", month_names[r->month - 1]);
		break;
	}
	sb_xml_w_close(w);
	switch (r->range) {
	case EWS_RANGE_NUMBERED:
		sb_xml_w_open(w, "t:NumberedRecurrence");
		w_date(w, "t:StartDate", &r->start);
		w_int(w, "t:NumberOfOccurrences", r->count);
		break;
	case EWS_RANGE_END_DATE:
		sb_xml_w_open(w, "t:EndDateRecurrence");
		w_date(w, "t:StartDate", &r->start);
		w_date(w, "t:EndDate", &r->end);
		break;
	default:
		sb_xml_w_open(w, "t:NoEndRecurrence");
		w_date(w, "t:StartDate", &r->start);
		break;
	}
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

/* ---- reading ------------------------------------------------------------ */

/* The trimmed text of child `local` (types namespace) into buf. */
static const char *ctext(const xmlNode *p, const char *local, char *buf,
			 size_t n)
{
	xmlNode *c = sb_xml_child(p, SB_NS_EWS_TYPES, local);
	if (!c)
		return NULL;
	xmlChar *t = xmlNodeGetContent(c);
	if (!t)
		return NULL;
	const char *s = (const char *)t;
	s += strspn(s, " \t\r\n");
	size_t len = strlen(s);
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	if (len >= n) {
		xmlFree(t);
		return NULL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	xmlFree(t);
	return buf;
}

static bool cint(const xmlNode *p, const char *local, int lo, int hi, int *v)
{
	char b[16], *end;
	if (!ctext(p, local, b, sizeof(b)) || !b[0])
		return false;
	long x = strtol(b, &end, 10);
	if (*end || x < lo || x > hi)
		return false;
	*v = (int)x;
	return true;
}

static bool cdate(const xmlNode *p, const char *local, struct ews_day *d)
{
	char b[40];
	int y, m, dd, used = 0;
	if (!ctext(p, local, b, sizeof(b)) ||
	    sscanf(b, "%4d-%2d-%2d%n", &y, &m, &dd, &used) != 3 || used != 10)
		return false;
	/* xs:date may carry a zone ("2026-05-01Z", "+02:00"): the date is
	 * what counts */
	if (b[10] && strcmp(b + 10, "Z") != 0 &&
	    !((b[10] == '+' || b[10] == '-') && strlen(b + 10) == 6))
		return false;
	if (y < 1601 || y > 9999 || m < 1 || m > 12 || dd < 1 || dd > 31)
		return false;
	struct ews_day x = {.y = y, .m = m, .d = dd};
	ews_day_of(ews_day_epoch(&x), d);
	return d->y == y && d->m == m && d->d == dd; /* 31 February */
}

static bool cname(const xmlNode *p, const char *local, const char *const *names,
		  size_t n, int *v)
{
	char b[32];
	*v = name_index(names, n, ctext(p, local, b, sizeof(b)));
	return *v >= 0;
}

static bool read_relative(const xmlNode *x, struct ews_recur *o)
{
	int idx;
	char b[16];
	if (!cname(x, "DaysOfWeek", day_names, 10, &o->rel_day))
		return false;
	const char *s = ctext(x, "DayOfWeekIndex", b, sizeof(b));
	if (s && strcmp(s, "Last") == 0) {
		o->index = -1;
		return true;
	}
	idx = name_index(index_names, 4, s);
	o->index = idx + 1;
	return idx >= 0;
}

bool ews_recur_read(const xmlNode *rec, struct ews_recur *o)
{
	memset(o, 0, sizeof(*o));
	o->first_day = -1;
	o->interval = 1;
	xmlNode *pat = NULL, *range = NULL;
	for (xmlNode *c = sb_xml_first_element(rec); c;
	     c = sb_xml_next_element(c)) {
		if (!c->ns ||
		    strcmp((const char *)c->ns->href, SB_NS_EWS_TYPES) != 0)
			return false;
		const char *n = (const char *)c->name;
		if (strstr(n, "Recurrence") &&
		    strcmp(n + strlen(n) - 10, "Recurrence") == 0) {
			if (!strcmp(n, "NoEndRecurrence") ||
			    !strcmp(n, "EndDateRecurrence") ||
			    !strcmp(n, "NumberedRecurrence")) {
				if (range)
					return false;
				range = c;
			} else {
				if (pat)
					return false;
				pat = c;
			}
		}
	}
	if (!pat || !range)
		return false;
	const char *pn = (const char *)pat->name;
	bool has_interval = true;
	if (!strcmp(pn, "DailyRecurrence")) {
		o->kind = EWS_RECUR_DAILY;
	} else if (!strcmp(pn, "WeeklyRecurrence")) {
		char b[128];
		o->kind = EWS_RECUR_WEEKLY;
		if (!ctext(pat, "DaysOfWeek", b, sizeof(b)))
			return false;
		char *save = NULL;
		for (char *t = strtok_r(b, " \t\r\n", &save); t;
		     t = strtok_r(NULL, " \t\r\n", &save)) {
			int d = name_index(day_names, 10, t);
			if (d < 0)
				return false;
			o->days |= d == EWS_DOW_DAY	     ? 0x7fu
				   : d == EWS_DOW_WEEKDAY    ? 0x1fu
				   : d == EWS_DOW_WEEKENDDAY ? 0x60u
							     : 1u << d;
		}
		if (!o->days)
			return false;
		int fd;
		if (cname(pat, "FirstDayOfWeek", day_names, 7, &fd))
			o->first_day = fd;
	} else if (!strcmp(pn, "AbsoluteMonthlyRecurrence")) {
		o->kind = EWS_RECUR_ABS_MONTHLY;
		if (!cint(pat, "DayOfMonth", 1, 31, &o->day_of_month))
			return false;
	} else if (!strcmp(pn, "RelativeMonthlyRecurrence")) {
		o->kind = EWS_RECUR_REL_MONTHLY;
		if (!read_relative(pat, o))
			return false;
	} else if (!strcmp(pn, "AbsoluteYearlyRecurrence")) {
		o->kind = EWS_RECUR_ABS_YEARLY;
		has_interval = false;
		int m;
		if (!cint(pat, "DayOfMonth", 1, 31, &o->day_of_month) ||
		    !cname(pat, "Month", month_names, 12, &m))
			return false;
		o->month = m + 1;
	} else if (!strcmp(pn, "RelativeYearlyRecurrence")) {
		o->kind = EWS_RECUR_REL_YEARLY;
		has_interval = false;
		int m;
		if (!read_relative(pat, o) ||
		    !cname(pat, "Month", month_names, 12, &m))
			return false;
		o->month = m + 1;
	} else {
		return false;
	}
	if (has_interval &&
	    !cint(pat, "Interval", 1, SB_RRULE_INTERVAL_MAX, &o->interval))
		return false;
	if (!cdate(range, "StartDate", &o->start))
		return false;
	const char *rn = (const char *)range->name;
	if (!strcmp(rn, "NumberedRecurrence")) {
		o->range = EWS_RANGE_NUMBERED;
		if (!cint(range, "NumberOfOccurrences", 1, SB_RRULE_COUNT_MAX,
			  &o->count))
			return false;
	} else if (!strcmp(rn, "EndDateRecurrence")) {
		o->range = EWS_RANGE_END_DATE;
		if (!cdate(range, "EndDate", &o->end))
			return false;
	} else {
		o->range = EWS_RANGE_NO_END;
	}
	return true;
}

/* The BYDAY list (no ordinals) of a set of weekdays. */
static void byday_set(struct sb_rrule *p, unsigned days)
{
	for (int i = 0; i < 7; i++)
		if (days & (1u << i)) {
			p->byday[p->n_byday].ordinal = 0;
			p->byday[p->n_byday++].day = (enum sb_rrule_weekday)i;
		}
}

static bool relative_to(const struct ews_recur *r, struct sb_rrule *p)
{
	if (r->index != -1 && (r->index < 1 || r->index > 4))
		return false;
	if (r->rel_day >= 0 && r->rel_day < 7) {
		p->byday[0].ordinal = r->index;
		p->byday[0].day = (enum sb_rrule_weekday)r->rel_day;
		p->n_byday = 1;
		return true;
	}
	if (r->rel_day == EWS_DOW_DAY && r->index == -1) {
		p->bymonthday[0] = -1; /* the last day of the month */
		p->n_bymonthday = 1;
		return true;
	}
	if (r->rel_day == EWS_DOW_DAY) {
		p->bymonthday[0] = r->index; /* the n-th day */
		p->n_bymonthday = 1;
		return true;
	}
	if (r->rel_day != EWS_DOW_WEEKDAY && r->rel_day != EWS_DOW_WEEKENDDAY)
		return false;
	byday_set(p, r->rel_day == EWS_DOW_WEEKDAY ? 0x1fu : 0x60u);
	p->bysetpos[0] = r->index;
	p->n_bysetpos = 1;
	return true;
}

bool ews_recur_to_rrule(const struct ews_recur *r, char *out, size_t n)
{
	struct sb_rrule p;
	memset(&p, 0, sizeof(p));
	if (n)
		out[0] = '\0';
	p.interval = r->interval;
	if (r->interval < 1 || r->interval > SB_RRULE_INTERVAL_MAX)
		return false;
	switch (r->kind) {
	case EWS_RECUR_DAILY:
		p.freq = SB_RRULE_DAILY;
		break;
	case EWS_RECUR_WEEKLY:
		p.freq = SB_RRULE_WEEKLY;
		if (!r->days || r->days > 0x7f)
			return false;
		byday_set(&p, r->days);
		break;
	case EWS_RECUR_ABS_MONTHLY:
	case EWS_RECUR_ABS_YEARLY:
		p.freq = r->kind == EWS_RECUR_ABS_MONTHLY ? SB_RRULE_MONTHLY
							  : SB_RRULE_YEARLY;
		if (r->day_of_month < 1 || r->day_of_month > 31)
			return false;
		p.bymonthday[0] = r->day_of_month;
		p.n_bymonthday = 1;
		break;
	case EWS_RECUR_REL_MONTHLY:
	case EWS_RECUR_REL_YEARLY:
		p.freq = r->kind == EWS_RECUR_REL_MONTHLY ? SB_RRULE_MONTHLY
							  : SB_RRULE_YEARLY;
		if (!relative_to(r, &p))
			return false;
		break;
	default:
		return false;
	}
	if (p.freq == SB_RRULE_YEARLY) {
		if (r->month < 1 || r->month > 12)
			return false;
		p.interval = 1;
		p.bymonth[0] = r->month;
		p.n_bymonth = 1;
	}
	if (r->range == EWS_RANGE_NUMBERED) {
		if (r->count < 1 || r->count > SB_RRULE_COUNT_MAX)
			return false;
		p.count = r->count;
	} else if (r->range == EWS_RANGE_END_DATE) {
		p.has_until = true;
		p.until_is_date = true;
		p.until = ews_day_epoch(&r->end);
	}
	return sb_rrule_format(&p, out, n);
}
