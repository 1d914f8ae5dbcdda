/* Unit tests of the exchange-ews Recurrence mapping (ews_recur.c): an
 * RRULE to an EWS recurrence pattern (the t:CalendarItem it goes in
 * validated against Microsoft's EWS schema when it is beside the tree),
 * back from the XML to the canonical RRULE, refusals naming what EWS
 * cannot express, odd patterns from a server, and the calendar dates the
 * mapping counts with; the UTC offsets of zones read from TZif files
 * (ews_tzinfo.c), hostile files included. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "../ews_calendar.h"

#ifndef EWS_TOP_SRCDIR
#define EWS_TOP_SRCDIR "."
#endif

static xmlSchemaPtr schema;

static void load_schema(void)
{
	char path[4096];
	const char *over = getenv("EWS_PROTOCOL_DIR");
	const char *all = getenv("SB_PROTOCOL_DIR");
	if (over && *over)
		snprintf(path, sizeof(path), "%s/schema/messages.xsd", over);
	else if (all && *all)
		snprintf(path, sizeof(path), "%s/ews/schema/messages.xsd", all);
	else
		snprintf(path, sizeof(path),
			 "%s/../shared/protocol/ews/schema/messages.xsd",
			 EWS_TOP_SRCDIR);
	if (access(path, R_OK) != 0) {
		printf("# schema checks skipped: no EWS schema at %s\n", path);
		return;
	}
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
	if (pc) {
		schema = xmlSchemaParse(pc);
		xmlSchemaFreeParserCtxt(pc);
	}
	if (!schema) {
		fprintf(stderr, "cannot load the EWS schema %s\n", path);
		exit(EXIT_FAILURE);
	}
}

static const struct ews_day MON_2026_12_07 = {2026, 12, 7, 0};

/* r written in a CreateItem's t:CalendarItem: the schema's verdict (0:
 * valid) and the t:Recurrence parsed back into *back. */
static int write_and_read(const struct ews_recur *r, struct ews_recur *back,
			  bool *read_ok)
{
	struct sb_buf body;
	struct sb_xml_w w;
	struct sb_error err;
	sb_buf_init(&body, 0);
	sb_buf_puts(&body, "<B xmlns:m=\"" SB_NS_EWS_MESSAGES
			   "\" xmlns:t=\"" SB_NS_EWS_TYPES "\">");
	sb_xml_w_init(&w, &body);
	sb_xml_w_open(&w, "m:CreateItem");
	sb_xml_w_attr(&w, "SendMeetingInvitations", "SendToNone");
	sb_xml_w_open(&w, "m:Items");
	sb_xml_w_open(&w, "t:CalendarItem");
	sb_xml_w_leaf(&w, "t:Subject", "s");
	sb_xml_w_leaf(&w, "t:Start", "2026-12-07T08:00:00Z");
	sb_xml_w_leaf(&w, "t:End", "2026-12-07T09:00:00Z");
	ews_recur_write(&w, r);
	sb_xml_w_close(&w);
	sb_xml_w_close(&w);
	sb_xml_w_close(&w);
	ck_assert_int_eq(sb_xml_w_finish(&w, &err), SB_OK);
	sb_buf_puts(&body, "</B>");
	xmlDoc *d = sb_xml_parse(body.data, body.len, 0, &err);
	ck_assert_ptr_nonnull(d);
	xmlNode *op = sb_xml_first_element(sb_xml_root(d));
	int rc = 0;
	if (schema) {
		xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
		rc = xmlSchemaValidateOneElement(vc, op);
		if (rc)
			fprintf(stderr, "schema violation in %s\n", body.data);
		xmlSchemaFreeValidCtxt(vc);
	}
	xmlNode *items = sb_xml_child(op, SB_NS_EWS_MESSAGES, "Items");
	xmlNode *ci = sb_xml_child(items, SB_NS_EWS_TYPES, "CalendarItem");
	xmlNode *rec = sb_xml_child(ci, SB_NS_EWS_TYPES, "Recurrence");
	*read_ok = ews_recur_read(rec, back);
	sb_xml_free(d);
	sb_buf_free(&body);
	return rc;
}

static const struct {
	const char *rule;
	enum ews_recur_kind kind;
	const char *back; /* NULL: the rule itself */
} maps[] = {
    {"FREQ=DAILY", EWS_RECUR_DAILY, NULL},
    {"FREQ=DAILY;INTERVAL=3;COUNT=10", EWS_RECUR_DAILY, NULL},
    {"FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", EWS_RECUR_WEEKLY,
     "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"},
    {"FREQ=WEEKLY", EWS_RECUR_WEEKLY, "FREQ=WEEKLY;BYDAY=MO"},
    {"FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,TU;UNTIL=20271231", EWS_RECUR_WEEKLY,
     "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;UNTIL=20271231"},
    {"FREQ=MONTHLY", EWS_RECUR_ABS_MONTHLY, "FREQ=MONTHLY;BYMONTHDAY=7"},
    {"FREQ=MONTHLY;BYMONTHDAY=31;COUNT=12", EWS_RECUR_ABS_MONTHLY, NULL},
    {"FREQ=MONTHLY;BYMONTHDAY=-1", EWS_RECUR_REL_MONTHLY, NULL},
    {"FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU", EWS_RECUR_REL_MONTHLY, NULL},
    {"FREQ=MONTHLY;BYDAY=-1FR", EWS_RECUR_REL_MONTHLY, NULL},
    {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", EWS_RECUR_REL_MONTHLY,
     NULL},
    {"FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=1", EWS_RECUR_REL_MONTHLY, NULL},
    {"FREQ=MONTHLY;BYDAY=WE;BYSETPOS=3", EWS_RECUR_REL_MONTHLY,
     "FREQ=MONTHLY;BYDAY=3WE"},
    {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYSETPOS=2",
     EWS_RECUR_REL_MONTHLY, "FREQ=MONTHLY;BYMONTHDAY=2"},
    {"FREQ=YEARLY", EWS_RECUR_ABS_YEARLY,
     "FREQ=YEARLY;BYMONTHDAY=7;BYMONTH=12"},
    {"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3", EWS_RECUR_ABS_YEARLY,
     "FREQ=YEARLY;BYMONTHDAY=29;BYMONTH=2;COUNT=3"},
    {"FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", EWS_RECUR_REL_YEARLY,
     "FREQ=YEARLY;BYDAY=4TH;BYMONTH=11"},
    {"FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=-1", EWS_RECUR_REL_YEARLY,
     "FREQ=YEARLY;BYMONTHDAY=-1;BYMONTH=5"},
    {"freq=weekly;byday=fr;count=2", EWS_RECUR_WEEKLY,
     "FREQ=WEEKLY;BYDAY=FR;COUNT=2"},
};

START_TEST(test_rrule_to_ews_and_back)
{
	struct ews_recur r, back;
	struct sb_error err;
	char out[SB_RRULE_TEXT_MAX + 1];
	bool ok = false;
	enum sb_status st = ews_recur_from_rrule(maps[_i].rule, &MON_2026_12_07,
						 3600, &r, &err);
	ck_assert_msg(st == SB_OK, "%s: %s", maps[_i].rule, err.message);
	ck_assert_int_eq(r.kind, maps[_i].kind);
	ck_assert_int_eq(write_and_read(&r, &back, &ok), 0);
	ck_assert_msg(ok, "%s: the written pattern reads back", maps[_i].rule);
	ck_assert(ews_recur_to_rrule(&back, out, sizeof(out)));
	ck_assert_str_eq(out, maps[_i].back ? maps[_i].back : maps[_i].rule);
	/* the canonical text maps to a pattern that reads back as the
	 * same text (Day with an index may come back as a DayOfMonth:
	 * the same days) */
	struct ews_recur again, back2;
	char out2[SB_RRULE_TEXT_MAX + 1];
	ck_assert_int_eq(
	    ews_recur_from_rrule(out, &MON_2026_12_07, 3600, &again, &err),
	    SB_OK);
	ck_assert_int_eq(write_and_read(&again, &back2, &ok), 0);
	ck_assert(ok);
	ck_assert(ews_recur_to_rrule(&back2, out2, sizeof(out2)));
	ck_assert_str_eq(out2, out);
}
END_TEST

START_TEST(test_until_datetime_local_date)
{
	struct ews_recur r;
	struct sb_error err;
	/* 23:30 UTC is the next day at UTC+1 */
	ck_assert_int_eq(
	    ews_recur_from_rrule("FREQ=DAILY;UNTIL=20261209T233000Z",
				 &MON_2026_12_07, 3600, &r, &err),
	    SB_OK);
	ck_assert_int_eq(r.range, EWS_RANGE_END_DATE);
	ck_assert_int_eq(r.end.d, 10);
	ck_assert_int_eq(
	    ews_recur_from_rrule("FREQ=DAILY;UNTIL=20261209T233000Z",
				 &MON_2026_12_07, -36000, &r, &err),
	    SB_OK);
	ck_assert_int_eq(r.end.d, 9);
	ck_assert_int_eq(ews_recur_from_rrule("FREQ=DAILY;UNTIL=20261201",
					      &MON_2026_12_07, 0, &r, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "UNTIL"));
}
END_TEST

static const struct {
	const char *rule;
	const char *names;
} refusals[] = {
    {"FREQ=HOURLY", "FREQ"},
    {"FREQ=DAILY;BYHOUR=9", "BYHOUR"},
    {"FREQ=YEARLY;INTERVAL=2", "INTERVAL"},
    {"FREQ=MONTHLY;BYDAY=5MO", "ordinal"},
    {"FREQ=MONTHLY;BYDAY=MO", "BYDAY without an ordinal"},
    {"FREQ=MONTHLY;BYDAY=1MO,3MO", "more than one day"},
    {"FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY"},
    {"FREQ=MONTHLY;BYMONTHDAY=-2", "from the end"},
    {"FREQ=MONTHLY;BYMONTH=3", "BYMONTH"},
    {"FREQ=MONTHLY;BYDAY=MO,WE;BYSETPOS=2", "BYSETPOS"},
    {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,2", "BYSETPOS"},
    {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=5", "BYSETPOS"},
    {"FREQ=YEARLY;BYMONTH=1,7", "BYMONTH"},
    {"FREQ=YEARLY;BYDAY=1MO", "needs BYMONTH"},
    {"FREQ=WEEKLY;BYMONTH=1", "BYMONTH"},
    {"FREQ=DAILY;INTERVAL=2;BYDAY=MO", "INTERVAL"},
    {"FREQ=DAILY;BYMONTHDAY=3", "BYMONTHDAY"},
    {"FREQ=MONTHLY;BYMONTHDAY=3;BYDAY=1MO", "BYMONTHDAY with BYDAY"},
    {"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never has that day"},
    {"FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31", "never has that day"},
};

START_TEST(test_refusals_name_the_part)
{
	struct ews_recur r;
	struct sb_error err;
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(ews_recur_from_rrule(refusals[_i].rule,
					      &MON_2026_12_07, 0, &r, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(err.code, SB_RRULE_ERROR_CODE);
	ck_assert_msg(strncmp(err.message, "Recurrence: ", 12) == 0, "%s",
		      err.message);
	ck_assert_msg(strstr(err.message, refusals[_i].names), "%s: %s",
		      refusals[_i].rule, err.message);
}
END_TEST

/* A t:Recurrence from a server, read to an RRULE (NULL: not read). */
static const struct {
	const char *xml;
	const char *rule;
} reads[] = {
    {"<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Weekday"
     "</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>"
     "2026-12-07</t:StartDate></t:NoEndRecurrence>",
     "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"},
    {"<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek> Sunday  "
     "Saturday </t:DaysOfWeek><t:FirstDayOfWeek>Sunday</t:FirstDayOfWeek>"
     "</t:WeeklyRecurrence><t:NumberedRecurrence><t:StartDate>2026-12-07Z"
     "</t:StartDate><t:NumberOfOccurrences>4</t:NumberOfOccurrences>"
     "</t:NumberedRecurrence>",
     "FREQ=WEEKLY;BYDAY=SA,SU;COUNT=4"},
    {"<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>"
     "WeekendDay</t:DaysOfWeek><t:DayOfWeekIndex>Last</t:DayOfWeekIndex>"
     "</t:RelativeMonthlyRecurrence><t:EndDateRecurrence><t:StartDate>"
     "2026-12-07+01:00</t:StartDate><t:EndDate>2027-06-30</t:EndDate>"
     "</t:EndDateRecurrence>",
     "FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=-1;UNTIL=20270630"},
    {"<t:RelativeYearlyRecurrence><t:DaysOfWeek>Day</t:DaysOfWeek>"
     "<t:DayOfWeekIndex>First</t:DayOfWeekIndex><t:Month>March</t:Month>"
     "</t:RelativeYearlyRecurrence><t:NoEndRecurrence><t:StartDate>"
     "2026-12-07</t:StartDate></t:NoEndRecurrence>",
     "FREQ=YEARLY;BYMONTHDAY=1;BYMONTH=3"},
    /* February 31, a month not named, no range, two patterns, an
     * Interval of 0 or 1000, a bad index, a count over 999 */
    {"<t:AbsoluteYearlyRecurrence><t:DayOfMonth>31</t:DayOfMonth><t:Month>"
     "February</t:Month></t:AbsoluteYearlyRecurrence><t:EndDateRecurrence>"
     "<t:StartDate>2026-12-07</t:StartDate><t:EndDate>2027-02-31"
     "</t:EndDate></t:EndDateRecurrence>",
     NULL},
    {"<t:AbsoluteYearlyRecurrence><t:DayOfMonth>3</t:DayOfMonth><t:Month>"
     "Brumaire</t:Month></t:AbsoluteYearlyRecurrence><t:NoEndRecurrence>"
     "<t:StartDate>2026-12-07</t:StartDate></t:NoEndRecurrence>",
     NULL},
    {"<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>", NULL},
    {"<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>"
     "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>"
     "<t:NoEndRecurrence><t:StartDate>2026-12-07</t:StartDate>"
     "</t:NoEndRecurrence>",
     NULL},
    {"<t:DailyRecurrence><t:Interval>0</t:Interval></t:DailyRecurrence>"
     "<t:NoEndRecurrence><t:StartDate>2026-12-07</t:StartDate>"
     "</t:NoEndRecurrence>",
     NULL},
    {"<t:DailyRecurrence><t:Interval>1000</t:Interval></t:DailyRecurrence>"
     "<t:NoEndRecurrence><t:StartDate>2026-12-07</t:StartDate>"
     "</t:NoEndRecurrence>",
     NULL},
    {"<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>"
     "Monday</t:DaysOfWeek><t:DayOfWeekIndex>Fifth</t:DayOfWeekIndex>"
     "</t:RelativeMonthlyRecurrence><t:NoEndRecurrence><t:StartDate>"
     "2026-12-07</t:StartDate></t:NoEndRecurrence>",
     NULL},
    {"<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>"
     "<t:NumberedRecurrence><t:StartDate>2026-12-07</t:StartDate>"
     "<t:NumberOfOccurrences>1000</t:NumberOfOccurrences>"
     "</t:NumberedRecurrence>",
     NULL},
    {"<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>"
     "<t:NoEndRecurrence><t:StartDate>1600-12-31</t:StartDate>"
     "</t:NoEndRecurrence>",
     NULL},
};

START_TEST(test_read_from_server)
{
	char doc[4096];
	struct sb_error err;
	snprintf(doc, sizeof(doc),
		 "<t:Recurrence xmlns:t=\"" SB_NS_EWS_TYPES "\">%s"
		 "</t:Recurrence>",
		 reads[_i].xml);
	xmlDoc *d = sb_xml_parse(doc, strlen(doc), 0, &err);
	ck_assert_ptr_nonnull(d);
	struct ews_recur r;
	char out[SB_RRULE_TEXT_MAX + 1];
	bool ok = ews_recur_read(sb_xml_root(d), &r) &&
		  ews_recur_to_rrule(&r, out, sizeof(out));
	sb_xml_free(d);
	if (!reads[_i].rule) {
		ck_assert_msg(!ok, "read %s", reads[_i].xml);
		return;
	}
	ck_assert_msg(ok, "not read: %s", reads[_i].xml);
	ck_assert_str_eq(out, reads[_i].rule);
	ck_assert_int_eq(sb_rrule_check(out, &err), SB_OK);
}
END_TEST

START_TEST(test_days)
{
	struct ews_day d;
	/* 1601-01-01 (a Monday) to 9999-12-31, every 97th day */
	for (int64_t t = INT64_C(-11644473600); t < INT64_C(253402300800);
	     t += 97 * 86400) {
		ews_day_of(t, &d);
		ck_assert_int_eq(ews_day_epoch(&d), t);
	}
	ews_day_of(INT64_C(-11644473600), &d);
	ck_assert_int_eq(d.y, 1601);
	ck_assert_int_eq(d.wday, 0);
	ews_day_of(1796601600, &d); /* 2026-12-07 */
	ck_assert_int_eq(d.y, 2026);
	ck_assert_int_eq(d.m, 12);
	ck_assert_int_eq(d.d, 7);
	ck_assert_int_eq(d.wday, 0);
	ews_day_of(-1, &d); /* 1969-12-31, a Wednesday */
	ck_assert_int_eq(d.d, 31);
	ck_assert_int_eq(d.wday, 2);
}
END_TEST

START_TEST(test_tz_offsets)
{
	int off = 0;
	ck_assert(ews_tz_offset("Europe/Berlin", 1796601600, &off));
	ck_assert_int_eq(off, 3600); /* December */
	ck_assert(ews_tz_offset("Europe/Berlin", 1781049600, &off));
	ck_assert_int_eq(off, 7200); /* June */
	ck_assert(ews_tz_offset("Pacific/Honolulu", 1781049600, &off));
	ck_assert_int_eq(off, -36000);
	ck_assert(ews_tz_offset("Pacific/Auckland", 1796601600, &off));
	ck_assert_int_eq(off, 46800); /* NZ summer time */
	ck_assert(ews_tz_offset("Pacific/Auckland", 1781049600, &off));
	ck_assert_int_eq(off, 43200);
	ck_assert(ews_tz_offset("UTC", 0, &off));
	ck_assert_int_eq(off, 0);
	/* long before any rule: local mean time, never a failure */
	ck_assert(ews_tz_offset("Europe/Berlin", INT64_C(-11644473600), &off));
	ck_assert(off > -86400 && off < 86400);
	ck_assert(!ews_tz_offset("Nowhere/Atlantis", 0, &off));
	ck_assert(!ews_tz_offset("../../etc/passwd", 0, &off));
	ck_assert(!ews_tz_offset("/etc/passwd", 0, &off));
	ck_assert(!ews_tz_offset("", 0, &off));
	ck_assert(!ews_tz_offset(NULL, 0, &off));
	char iana[64];
	ck_assert(ews_tz_iana("Europe/Berlin", iana, sizeof(iana)));
	ck_assert_str_eq(iana, "Europe/Berlin");
	/* a Windows id: the zone CLDR gives for it */
	ck_assert(ews_tz_iana("W. Europe Standard Time", iana, sizeof(iana)));
	ck_assert_str_eq(iana, "Europe/Berlin");
	ck_assert(ews_tz_iana("hawaiian standard time", iana, sizeof(iana)));
	ck_assert_str_eq(iana, "Pacific/Honolulu");
	ck_assert(ews_tz_offset("Tonga Standard Time", 1781049600, &off));
	ck_assert_int_eq(off, 13 * 3600);
	ck_assert(!ews_tz_iana("Europe/Berlin", iana, 4)); /* no room */
	ck_assert(ews_tz_iana("UTC", iana, sizeof(iana)));
	ck_assert_str_eq(iana, "UTC");
	ck_assert(!ews_tz_iana("Mars Standard Time", iana, sizeof(iana)));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ews_recur");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_rrule_to_ews_and_back, 0,
			    (int)(sizeof(maps) / sizeof(maps[0])));
	tcase_add_test(tc, test_until_datetime_local_date);
	tcase_add_loop_test(tc, test_refusals_name_the_part, 0,
			    (int)(sizeof(refusals) / sizeof(refusals[0])));
	tcase_add_loop_test(tc, test_read_from_server, 0,
			    (int)(sizeof(reads) / sizeof(reads[0])));
	tcase_add_test(tc, test_days);
	tcase_add_test(tc, test_tz_offsets);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	load_schema();
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	xmlSchemaFree(schema);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
