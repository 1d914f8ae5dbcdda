/* exchange-ews broker — Availability.List and MeetingTimeSuggestion.List
 * (GetUserAvailability), paged over the recomputed answer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/schema.h>
#include <svcbroker/types.h>

#include "ews.h"

#define AVAIL_MAILBOXES_MAX 100
#define AVAIL_WINDOW_DAYS 62   /* Exchange's free/busy query window */
#define SUGGEST_WINDOW_DAYS 42 /* Exchange's suggestions window */
#define AVAIL_ROWS_MAX 100000
#define DAY 86400

static const char *const busy_types[] = {
    "Free", "Tentative", "Busy", "OOF", "WorkingElsewhere", "NoData", NULL};
static const char *const qualities[] = {"Excellent", "Good", "Fair", "Poor",
					NULL};

static int choice_of(const char *const *choices, const char *s)
{
	for (int i = 0; s && choices[i]; i++)
		if (strcmp(choices[i], s) == 0)
			return i;
	return -1;
}

/* ---- the request's common part ------------------------------------------ */

/* "2030-03-14T08:00:00": UTC, the zone the request's t:TimeZone names. */
static void utc_text(int64_t t, char *buf, size_t n)
{
	sb_datetime_format(t, buf, n);
	size_t len = strlen(buf);
	if (len && buf[len - 1] == 'Z')
		buf[len - 1] = '\0';
}

/* t:SerializableTimeZone for UTC: no bias and no daylight saving (Month 0
 * in both transitions). */
static void write_utc_zone(struct sb_xml_w *w)
{
	sb_xml_w_open(w, "t:TimeZone");
	sb_xml_w_leaf(w, "t:Bias", "0");
	const char *tr[] = {"t:StandardTime", "t:DaylightTime"};
	for (int i = 0; i < 2; i++) {
		sb_xml_w_open(w, tr[i]);
		sb_xml_w_leaf(w, "t:Bias", "0");
		sb_xml_w_leaf(w, "t:Time", "00:00:00");
		sb_xml_w_leaf(w, "t:DayOrder", "0");
		sb_xml_w_leaf(w, "t:Month", "0");
		sb_xml_w_leaf(w, "t:DayOfWeek", "Sunday");
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
}

static void write_mailboxes(struct sb_xml_w *w, const struct sb_call *call,
			    const char *input)
{
	sb_xml_w_open(w, "m:MailboxDataArray");
	size_t n = sb_call_count(call, input);
	for (size_t i = 0; i < n; i++) {
		sb_xml_w_open(w, "t:MailboxData");
		sb_xml_w_open(w, "t:Email");
		sb_xml_w_leaf(w, "t:Address", sb_call_str_at(call, input, i));
		sb_xml_w_close(w);
		sb_xml_w_leaf(w, "t:AttendeeType", "Required");
		sb_xml_w_leaf(w, "t:ExcludeConflicts", "false");
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
}

static void write_window(struct sb_xml_w *w, const char *el, int64_t a,
			 int64_t b)
{
	char s[40], e[40];
	utc_text(a, s, sizeof(s));
	utc_text(b, e, sizeof(e));
	sb_xml_w_open(w, el);
	sb_xml_w_leaf(w, "t:StartTime", s);
	sb_xml_w_leaf(w, "t:EndTime", e);
	sb_xml_w_close(w);
}

/* The mailbox-list input (1..100 addresses) and the window (both ends,
 * End after Start, at most max_days). */
static enum sb_status check_inputs(const struct sb_call *call, const char *list,
				   int64_t max_days, int64_t *start,
				   int64_t *end, struct sb_error *err)
{
	size_t n = sb_call_count(call, list);
	if (n == 0 || n > AVAIL_MAILBOXES_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: 1 to %d addresses", list,
				    AVAIL_MAILBOXES_MAX);
	for (size_t i = 0; i < n; i++)
		if (!sb_email_valid(sb_call_str_at(call, list, i)))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: item %zu is not an address",
					    list, i + 1);
	const char *a = sb_call_str(call, "WindowStart", NULL);
	const char *b = sb_call_str(call, "WindowEnd", NULL);
	if (!a || !sb_datetime_parse(a, start))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowStart: a date-time with an offset "
				    "is required");
	if (!b || !sb_datetime_parse(b, end))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowEnd: a date-time with an offset is "
				    "required");
	/* Exchange's years, 1601 to 9999 (a year 0000 is not even an
	 * xs:dateTime) */
	if (*start < INT64_C(-11644473600))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowStart: only years 1601 to 9999");
	if (*end <= *start)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowEnd: must be after WindowStart");
	if (*end - *start > max_days * DAY)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowEnd: the window is at most %lld "
				    "days",
				    (long long)max_days);
	return SB_OK;
}

/* Every address of a multi input, one per line: part of a page token's
 * binding. */
static char *joined(const struct sb_call *call, const char *list)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	size_t n = sb_call_count(call, list);
	for (size_t i = 0; i < n; i++)
		if (!sb_buf_puts(&b, sb_call_str_at(call, list, i)) ||
		    !sb_buf_puts(&b, "\n")) {
			sb_buf_free(&b);
			return NULL;
		}
	if (!sb_buf_puts(&b, "")) {
		sb_buf_free(&b);
		return NULL;
	}
	return sb_buf_steal(&b);
}

/* An xs:dateTime of the answer (UTC: the request's zone) as epoch. */
static bool answer_time(const xmlNode *parent, const char *local, int64_t *t)
{
	char raw[64], norm[64];
	return ews_child_text(parent, local, raw, sizeof(raw)) &&
	       ews_datetime_read(raw, norm, sizeof(norm)) &&
	       sb_datetime_parse(norm, t);
}

/* ---- rows ------------------------------------------------------------------
 */

struct avail_row {
	size_t mailbox; /* index in the input */
	int64_t start, end;
	int kind; /* busy type or quality */
	int64_t conflicts;
	uint64_t key;
};

struct rows {
	struct avail_row *v;
	size_t n, cap;
};

static enum sb_status rows_add(struct rows *rs, const struct avail_row *row,
			       struct sb_error *err)
{
	if (rs->n == rs->cap) {
		if (rs->cap >= AVAIL_ROWS_MAX)
			return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
					    "EWS answered more than %d "
					    "periods",
					    AVAIL_ROWS_MAX);
		size_t nc = rs->cap ? rs->cap * 2 : 32;
		struct avail_row *p = realloc(rs->v, nc * sizeof(*p));
		if (!p)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		rs->v = p;
		rs->cap = nc;
	}
	rs->v[rs->n++] = *row;
	return SB_OK;
}

static int row_cmp(const void *a, const void *b)
{
	const struct avail_row *x = a, *y = b;
	if (x->mailbox != y->mailbox)
		return x->mailbox < y->mailbox ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->kind - y->kind;
}

static uint64_t row_key(const char *mailbox, const struct avail_row *row)
{
	char num[96];
	snprintf(num, sizeof(num), "%lld %lld %d %lld", (long long)row->start,
		 (long long)row->end, row->kind, (long long)row->conflicts);
	return ews_row_key(ews_row_key(0, mailbox), num);
}

/* ---- Availability.List ------------------------------------------------------
 */

/* The periods of one t:FreeBusyView: its CalendarEventArray, or, when the
 * server sent only the merged view, the runs of equal non-free digits of
 * its MergedFreeBusy (one digit per interval from the window's start, the
 * last run ending at the window's end at the latest).  An event or digit
 * that makes no sense is left out: one odd period never fails the List. */
static enum sb_status view_rows(struct rows *rs, const xmlNode *view, size_t mb,
				int64_t start, int64_t end, int64_t interval,
				struct sb_error *err)
{
	xmlNode *arr =
	    sb_xml_child(view, SB_NS_EWS_TYPES, "CalendarEventArray");
	if (arr) {
		for (xmlNode *ev =
			 sb_xml_child(arr, SB_NS_EWS_TYPES, "CalendarEvent");
		     ev; ev = sb_xml_next(ev)) {
			struct avail_row row = {.mailbox = mb};
			char bt[32] = "";
			ews_child_text(ev, "BusyType", bt, sizeof(bt));
			row.kind = choice_of(busy_types, bt);
			if (!answer_time(ev, "StartTime", &row.start) ||
			    !answer_time(ev, "EndTime", &row.end) ||
			    row.kind < 0 || row.end < row.start)
				continue;
			/* the window's part only; one wholly outside (or
			 * ending where the window starts) is left out */
			if (row.start >= end || row.end < start ||
			    (row.end == start && row.start < start))
				continue;
			if (row.start < start)
				row.start = start;
			if (row.end > end)
				row.end = end;
			enum sb_status st = rows_add(rs, &row, err);
			if (st != SB_OK)
				return st;
		}
		return SB_OK;
	}
	const char *merged = ews_child_text(view, "MergedFreeBusy", NULL, 0);
	if (!merged)
		return SB_OK;
	size_t len = strlen(merged);
	for (size_t i = 0; i < len;) {
		char d = merged[i];
		size_t j = i + 1;
		while (j < len && merged[j] == d)
			j++;
		int64_t rs_start = start + (int64_t)i * interval * 60;
		int64_t rs_end = start + (int64_t)j * interval * 60;
		if (rs_start >= end)
			break; /* digits past the window */
		if (rs_end > end)
			rs_end = end;
		if (d > '0' && d <= '5') {
			struct avail_row row = {.mailbox = mb,
						.start = rs_start,
						.end = rs_end,
						.kind = d - '0'};
			enum sb_status st = rows_add(rs, &row, err);
			if (st != SB_OK)
				return st;
		}
		i = j;
	}
	return SB_OK;
}

/* A mailbox the server cannot give free/busy for: one NoData period over
 * the window, rather than failing the whole call. */
static bool no_data_code(const char *code)
{
	return strcmp(code, "ErrorMailRecipientNotFound") == 0 ||
	       strcmp(code, "ErrorNoFreeBusyAccess") == 0;
}

static enum sb_status emit_rows(const struct sb_call *call, struct sb_result *r,
				struct rows *rs, const char *list,
				bool with_mailbox, const char *const *bind,
				size_t nbind, struct sb_error *err)
{
	enum sb_status st = SB_OK;
	struct ews_page pg;
	st = ews_page_read(call, bind, nbind, &pg, err);
	if (st != SB_OK)
		return st;
	uint64_t *keys = rs->n ? malloc(rs->n * sizeof(*keys)) : NULL;
	if (rs->n && !keys)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	for (size_t i = 0; i < rs->n; i++) {
		rs->v[i].key = row_key(
		    with_mailbox ? sb_call_str_at(call, list, rs->v[i].mailbox)
				 : "",
		    &rs->v[i]);
		keys[i] = rs->v[i].key;
	}
	size_t i = ews_page_first(&pg, keys, rs->n);
	int64_t size = sb_call_page_size(call), shown = 0;
	for (; st == SB_OK && i < rs->n && shown < size; i++, shown++) {
		const struct avail_row *row = &rs->v[i];
		char a[40], b[40];
		sb_datetime_format(row->start, a, sizeof(a));
		sb_datetime_format(row->end, b, sizeof(b));
		st = sb_result_row(r);
		if (st == SB_OK && with_mailbox)
			st = sb_result_str(
			    r, "Mailbox",
			    sb_call_str_at(call, list, row->mailbox));
		if (st == SB_OK)
			st = sb_result_str(r, "Start", a);
		if (st == SB_OK)
			st = sb_result_str(r, "End", b);
		if (st == SB_OK && with_mailbox)
			st =
			    sb_result_str(r, "BusyType", busy_types[row->kind]);
		if (st == SB_OK && !with_mailbox)
			st = sb_result_str(r, "Quality", qualities[row->kind]);
		if (st == SB_OK && !with_mailbox)
			st = sb_result_int(r, "ConflictCount", row->conflicts);
	}
	if (st == SB_OK && i < rs->n && shown)
		st = ews_page_next(r, bind, nbind, i, rs->v[i - 1].key, err);
	free(keys);
	return st;
}

static enum sb_status availability_list(void *state, const struct sb_call *call,
					struct sb_result *r,
					struct sb_error *err)
{
	struct ews *e = state;
	int64_t start = 0, end = 0, interval = 30;
	enum sb_status st = check_inputs(call, "Mailboxes", AVAIL_WINDOW_DAYS,
					 &start, &end, err);
	if (st != SB_OK)
		return st;
	if (!sb_call_int(call, "Interval", &interval))
		interval = 30;
	if (interval < 5 || interval > 1440)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Interval: 5 to 1440 minutes");
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	st = ews_op_mailbox(&op, err);
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	char sa[40], sb[40], si[24];
	sb_datetime_format(start, sa, sizeof(sa));
	sb_datetime_format(end, sb, sizeof(sb));
	snprintf(si, sizeof(si), "%lld", (long long)interval);
	char *all = joined(call, "Mailboxes");
	if (!all) {
		ews_op_free(&op);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	const char *bind[] = {"Availability.List", op.mailbox, all, sa, sb, si};

	sb_xml_w_open(&op.w, "m:GetUserAvailabilityRequest");
	write_utc_zone(&op.w);
	write_mailboxes(&op.w, call, "Mailboxes");
	sb_xml_w_open(&op.w, "t:FreeBusyViewOptions");
	write_window(&op.w, "t:TimeWindow", start, end);
	sb_xml_w_leaf(&op.w, "t:MergedFreeBusyIntervalInMinutes", si);
	sb_xml_w_leaf(&op.w, "t:RequestedView", "FreeBusyMerged");
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	st = ews_op_run(&op, err);

	struct rows rs = {0};
	xmlNode *arr = st == SB_OK
			   ? sb_xml_child(op.response, SB_NS_EWS_MESSAGES,
					  "FreeBusyResponseArray")
			   : NULL;
	if (st == SB_OK && !arr)
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "EWS answered GetUserAvailability without "
				  "FreeBusyResponseArray");
	size_t n = sb_call_count(call, "Mailboxes"), k = 0;
	for (xmlNode *fb =
		 arr ? sb_xml_child(arr, SB_NS_EWS_MESSAGES, "FreeBusyResponse")
		     : NULL;
	     st == SB_OK && fb; fb = sb_xml_next(fb), k++) {
		if (k >= n)
			break;
		xmlNode *msg =
		    sb_xml_child(fb, SB_NS_EWS_MESSAGES, "ResponseMessage");
		char code[64] = "";
		ews_child_text(msg, "m:ResponseCode", code, sizeof(code));
		if (msg && no_data_code(code)) {
			struct avail_row row = {.mailbox = k,
						.start = start,
						.end = end,
						.kind = 5};
			st = rows_add(&rs, &row, err);
			continue;
		}
		xmlNode *view =
		    sb_xml_child(fb, SB_NS_EWS_MESSAGES, "FreeBusyView");
		if (msg)
			st = ews_message_status(msg, err);
		/* without its message or view, a mailbox is not free: a
		 * malformed answer */
		if (st == SB_OK && (!msg || !view))
			st = sb_error_set(
			    err, SB_ERR_UPSTREAM, "invalid_response",
			    "EWS answered the free/busy of %s without %s",
			    sb_call_str_at(call, "Mailboxes", k),
			    msg ? "FreeBusyView" : "ResponseMessage");
		if (st == SB_OK)
			st = view_rows(&rs, view, k, start, end, interval, err);
	}
	if (st == SB_OK && k != n)
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "EWS answered %zu free/busy views for %zu "
				  "mailboxes",
				  k, n);
	if (st == SB_OK) {
		qsort(rs.v, rs.n, sizeof(*rs.v), row_cmp);
		st = emit_rows(call, r, &rs, "Mailboxes", true, bind, 6, err);
	}
	free(rs.v);
	free(all);
	ews_op_free(&op);
	return st;
}

/* ---- MeetingTimeSuggestion.List ---------------------------------------------
 */

/* "HH:MM" -> minutes of the day (24:00 allowed as an end). */
static bool hhmm(const char *s, int64_t *min)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	int h = (s[0] - '0') * 10 + s[1] - '0';
	int m = (s[3] - '0') * 10 + s[4] - '0';
	if (m > 59 || h > 24 || (h == 24 && m))
		return false;
	*min = h * 60 + m;
	return true;
}

/* The attendees in conflict at one suggestion: individual attendees
 * Tentative, Busy or OOF, and a group's members with a conflict. */
static int64_t conflicts_of(const xmlNode *sug)
{
	xmlNode *arr =
	    sb_xml_child(sug, SB_NS_EWS_TYPES, "AttendeeConflictDataArray");
	int64_t n = 0;
	for (xmlNode *c = arr ? sb_xml_first_element(arr) : NULL; c;
	     c = sb_xml_next_element(c)) {
		const char *name = (const char *)c->name;
		char bt[32] = "";
		if (strcmp(name, "IndividualAttendeeConflictData") == 0) {
			ews_child_text(c, "BusyType", bt, sizeof(bt));
			int k = choice_of(busy_types, bt);
			if (k >= 1 && k <= 3)
				n++;
		} else if (strcmp(name, "GroupAttendeeConflictData") == 0) {
			int64_t v = 0;
			xmlNode *x = sb_xml_child(
			    c, SB_NS_EWS_TYPES, "NumberOfMembersWithConflict");
			/* xs:int: a larger count is not one (and many
			 * of them would overflow the sum) */
			if (x && sb_xml_int64(x, &v) && v > 0 && v <= INT32_MAX)
				n += v;
		}
	}
	return n;
}

/* By UTC day, then quality (best first), then start. */
static int day_quality_cmp(const void *a, const void *b)
{
	const struct avail_row *x = a, *y = b;
	int64_t dx = x->start / DAY, dy = y->start / DAY;
	if (dx != dy)
		return dx < dy ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Keep the best per_day suggestions of each UTC day (earlier first among
 * equals). */
static void cap_per_day(struct rows *rs, int64_t per_day)
{
	qsort(rs->v, rs->n, sizeof(*rs->v), day_quality_cmp);
	size_t out = 0;
	int64_t day = 0, kept = 0;
	for (size_t i = 0; i < rs->n; i++) {
		int64_t d = rs->v[i].start / DAY;
		if (i == 0 || d != day) {
			day = d;
			kept = 0;
		}
		if (kept++ < per_day)
			rs->v[out++] = rs->v[i];
	}
	rs->n = out;
}

static enum sb_status suggestion_list(void *state, const struct sb_call *call,
				      struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	int64_t start = 0, end = 0, duration = 0, good = 25, per_day = 10;
	int64_t ws = -1, we = -1;
	enum sb_status st = check_inputs(call, "Attendees", SUGGEST_WINDOW_DAYS,
					 &start, &end, err);
	if (st != SB_OK)
		return st;
	if (!sb_call_int(call, "Duration", &duration) || duration < 30 ||
	    duration > 1440)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Duration: 30 to 1440 minutes");
	if (duration * 60 > end - start)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Duration: longer than the window");
	if (!sb_call_int(call, "GoodThreshold", &good))
		good = 25;
	if (good < 1 || good > 49)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "GoodThreshold: 1 to 49 (per cent)");
	if (!sb_call_int(call, "MaxPerDay", &per_day))
		per_day = 10;
	if (per_day < 1 || per_day > 48)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "MaxPerDay: 1 to 48");
	const char *wsin = sb_call_str(call, "WorkdayStart", NULL);
	const char *wein = sb_call_str(call, "WorkdayEnd", NULL);
	if (wsin && !hhmm(wsin, &ws))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WorkdayStart: HH:MM (UTC)");
	if (wein && !hhmm(wein, &we))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WorkdayEnd: HH:MM (UTC)");
	if ((ws < 0) != (we < 0))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: WorkdayStart and WorkdayEnd go "
				    "together",
				    ws < 0 ? "WorkdayStart" : "WorkdayEnd");
	if (ws >= 0 && we <= ws)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WorkdayEnd: must be after WorkdayStart");
	if (ws >= 0 && we - ws < duration)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Duration: longer than the workday");

	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	st = ews_op_mailbox(&op, err);
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	char sa[40], sb[40], sd[24], sg[24], sm[24];
	sb_datetime_format(start, sa, sizeof(sa));
	sb_datetime_format(end, sb, sizeof(sb));
	snprintf(sd, sizeof(sd), "%lld", (long long)duration);
	snprintf(sg, sizeof(sg), "%lld", (long long)good);
	snprintf(sm, sizeof(sm), "%lld", (long long)per_day);
	char *all = joined(call, "Attendees");
	if (!all) {
		ews_op_free(&op);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	const char *bind[] = {"MeetingTimeSuggestion.List",
			      op.mailbox,
			      all,
			      sa,
			      sb,
			      sd,
			      sg,
			      sm,
			      wsin,
			      wein};

	sb_xml_w_open(&op.w, "m:GetUserAvailabilityRequest");
	write_utc_zone(&op.w);
	write_mailboxes(&op.w, call, "Attendees");
	sb_xml_w_open(&op.w, "t:FreeBusyViewOptions");
	write_window(&op.w, "t:TimeWindow", start, end);
	sb_xml_w_leaf(&op.w, "t:MergedFreeBusyIntervalInMinutes", "30");
	sb_xml_w_leaf(&op.w, "t:RequestedView", "FreeBusy");
	sb_xml_w_close(&op.w);
	sb_xml_w_open(&op.w, "t:SuggestionsViewOptions");
	sb_xml_w_leaf(&op.w, "t:GoodThreshold", sg);
	/* with a workday of the caller's, the server's working hours do not
	 * limit the slots: every slot it rates comes back (48 a day at
	 * most), is filtered here, and MaxPerDay applied after */
	sb_xml_w_leaf(&op.w, "t:MaximumResultsByDay", ws >= 0 ? "48" : sm);
	sb_xml_w_leaf(&op.w, "t:MaximumNonWorkHourResultsByDay",
		      ws >= 0 ? "48" : "0");
	sb_xml_w_leaf(&op.w, "t:MeetingDurationInMinutes", sd);
	sb_xml_w_leaf(&op.w, "t:MinimumSuggestionQuality", "Poor");
	write_window(&op.w, "t:DetailedSuggestionsWindow", start, end);
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	st = ews_op_run(&op, err);

	struct rows rs = {0};
	xmlNode *sr = st == SB_OK
			  ? sb_xml_child(op.response, SB_NS_EWS_MESSAGES,
					 "SuggestionsResponse")
			  : NULL;
	if (st == SB_OK && !sr)
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "EWS answered GetUserAvailability without "
				  "SuggestionsResponse");
	if (st == SB_OK)
		st = ews_message_status(
		    sb_xml_child(sr, SB_NS_EWS_MESSAGES, "ResponseMessage"),
		    err);
	xmlNode *days = st == SB_OK ? sb_xml_child(sr, SB_NS_EWS_MESSAGES,
						   "SuggestionDayResultArray")
				    : NULL;
	for (xmlNode *day = days ? sb_xml_child(days, SB_NS_EWS_TYPES,
						"SuggestionDayResult")
				 : NULL;
	     st == SB_OK && day; day = sb_xml_next(day)) {
		xmlNode *sugs =
		    sb_xml_child(day, SB_NS_EWS_TYPES, "SuggestionArray");
		for (xmlNode *s = sugs ? sb_xml_child(sugs, SB_NS_EWS_TYPES,
						      "Suggestion")
				       : NULL;
		     st == SB_OK && s; s = sb_xml_next(s)) {
			struct avail_row row = {0};
			char q[32] = "";
			ews_child_text(s, "SuggestionQuality", q, sizeof(q));
			row.kind = choice_of(qualities, q);
			/* one odd suggestion never fails the List */
			if (!answer_time(s, "MeetingTime", &row.start) ||
			    row.kind < 0)
				continue;
			row.end = row.start + duration * 60;
			row.conflicts = conflicts_of(s);
			if (row.start < start || row.end > end)
				continue;
			if (ws >= 0) {
				int64_t day0 = row.start - (row.start % DAY);
				if (row.start < day0 + ws * 60 ||
				    row.end > day0 + we * 60)
					continue;
			}
			st = rows_add(&rs, &row, err);
		}
	}
	if (st == SB_OK && ws >= 0)
		cap_per_day(&rs, per_day);
	if (st == SB_OK) {
		qsort(rs.v, rs.n, sizeof(*rs.v), row_cmp);
		st = emit_rows(call, r, &rs, "Attendees", false, bind, 10, err);
	}
	free(rs.v);
	free(all);
	ews_op_free(&op);
	return st;
}

/* ---- tables
 * ------------------------------------------------------------------ */

const struct sb_property ews_availability_properties[] = {
    {.name = "Mailbox",
     .type = SB_TYPE_EMAIL,
     .doc = "Whose calendar the period is of (as given in Mailboxes)."},
    {.name = "Start", .type = SB_TYPE_DATETIME, .doc = "Start (UTC)."},
    {.name = "End", .type = SB_TYPE_DATETIME, .doc = "End (UTC)."},
    {.name = "BusyType",
     .type = SB_TYPE_ENUM,
     .choices = busy_types,
     .doc = "How the mailbox shows the period: Free, Tentative, Busy, OOF, "
	    "WorkingElsewhere, or NoData (the server has no free/busy for "
	    "the mailbox)."},
    SB_PROPERTY_END,
};

const struct sb_property ews_suggestion_properties[] = {
    {.name = "Start", .type = SB_TYPE_DATETIME, .doc = "Start (UTC)."},
    {.name = "End",
     .type = SB_TYPE_DATETIME,
     .doc = "End (UTC): Start plus Duration."},
    {.name = "Quality",
     .type = SB_TYPE_ENUM,
     .choices = qualities,
     .doc = "The server's rating: Excellent (no attendee in conflict), "
	    "Good (at most GoodThreshold per cent), Fair (under half), "
	    "Poor."},
    {.name = "ConflictCount",
     .type = SB_TYPE_NUMBER,
     .doc = "Attendees Tentative, Busy or out of office at that time."},
    SB_PROPERTY_END,
};

static const struct sb_param availability_in[] = {
    {.name = "Mailboxes",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI | SB_REQUIRED,
     .doc = "The mailboxes (people, rooms) to ask: 1 to 100."},
    {.name = "WindowStart",
     .type = SB_TYPE_DATETIME,
     .flags = SB_REQUIRED,
     .doc = "The window's start (with an offset)."},
    {.name = "WindowEnd",
     .type = SB_TYPE_DATETIME,
     .flags = SB_REQUIRED,
     .doc = "The window's end, after WindowStart, at most 62 days later."},
    {.name = "Interval",
     .type = SB_TYPE_NUMBER,
     .min = 5,
     .max = 1440,
     .doc = "Minutes per slot of the server's merged view (default 30), "
	    "used when it sends only that view."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const char *const availability_ret[] = {"Mailbox", "Start", "End",
					       "BusyType", NULL};

static const struct sb_param suggestion_in[] = {
    {.name = "Attendees",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI | SB_REQUIRED,
     .doc = "Who should attend (people, rooms): 1 to 100."},
    {.name = "Duration",
     .type = SB_TYPE_NUMBER,
     .flags = SB_REQUIRED,
     .min = 30,
     .max = 1440,
     .doc = "The meeting's length in minutes (30 to 1440)."},
    {.name = "WindowStart",
     .type = SB_TYPE_DATETIME,
     .flags = SB_REQUIRED,
     .doc = "The earliest start (with an offset)."},
    {.name = "WindowEnd",
     .type = SB_TYPE_DATETIME,
     .flags = SB_REQUIRED,
     .doc = "The latest end, after WindowStart, at most 42 days later."},
    {.name = "GoodThreshold",
     .type = SB_TYPE_NUMBER,
     .min = 1,
     .max = 49,
     .doc = "Per cent of attendees that may be in conflict in a Good slot "
	    "(default 25)."},
    {.name = "MaxPerDay",
     .type = SB_TYPE_NUMBER,
     .min = 1,
     .max = 48,
     .doc = "At most this many suggestions per day (default 10)."},
    {.name = "WorkdayStart",
     .type = SB_TYPE_TEXT,
     .doc = "HH:MM (UTC), with WorkdayEnd: only slots within these hours "
	    "of their day; without, the server's working hours."},
    {.name = "WorkdayEnd",
     .type = SB_TYPE_TEXT,
     .doc = "HH:MM (UTC, 24:00 for midnight), after WorkdayStart."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const char *const suggestion_ret[] = {"Start", "End", "Quality",
					     "ConflictCount", NULL};

const struct sb_method ews_availability_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = availability_list,
     .doc = "The busy periods of each mailbox in a window "
	    "(GetUserAvailability, free/busy): one row per period, by "
	    "mailbox in the order given, then by start.",
     .inputs = availability_in,
     .returns = availability_ret},
    SB_METHOD_END,
};

const struct sb_method ews_suggestion_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = suggestion_list,
     .doc = "Times for a meeting of the attendees in a window, rated by "
	    "the server (GetUserAvailability, suggestions), by start.",
     .inputs = suggestion_in,
     .returns = suggestion_ret},
    SB_METHOD_END,
};
