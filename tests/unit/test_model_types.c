/* Unit tests for value types (core/types.c) and the shared schema tables
 * (core/schema.c). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/broker.h>
#include <svcbroker/schema.h>
#include <svcbroker/types.h>

static void expect(enum sb_type t, const char *const *choices,
		   const char *const *good, size_t ng, const char *const *bad,
		   size_t nb)
{
	for (size_t i = 0; i < ng; i++) {
		const char *why = "unset";
		ck_assert_msg(sb_type_check(t, good[i], choices, &why),
			      "%s refused '%s': %s", sb_type_name(t), good[i],
			      why);
	}
	for (size_t i = 0; i < nb; i++) {
		const char *why = NULL;
		ck_assert_msg(!sb_type_check(t, bad[i], choices, &why),
			      "%s accepted '%s'", sb_type_name(t), bad[i]);
		ck_assert_msg(why && *why, "no reason for '%s'", bad[i]);
	}
}
#define N(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(type_names)
{
	ck_assert_str_eq(sb_type_name(SB_TYPE_TEXT), "text");
	ck_assert_str_eq(sb_type_name(SB_TYPE_MEMO), "memo");
	ck_assert_str_eq(sb_type_name(SB_TYPE_DATETIME), "datetime");
	ck_assert_str_eq(sb_type_name(SB_TYPE_FILE), "file");
	for (int t = 0; t < SB_TYPE_COUNT_; t++)
		ck_assert_ptr_nonnull(sb_type_name((enum sb_type)t));
	ck_assert_ptr_null(sb_type_name(SB_TYPE_COUNT_));
	ck_assert_ptr_null(sb_type_name((enum sb_type) - 1));
	ck_assert_str_eq(sb_method_kind_name(SB_KIND_LIST), "list");
	ck_assert_str_eq(sb_method_kind_name(SB_KIND_EXECUTE), "execute");
	ck_assert_str_eq(sb_method_kind_name(SB_KIND_CREATE), "create");
	ck_assert_ptr_null(sb_method_kind_name((enum sb_method_kind)99));
}
END_TEST

START_TEST(text_and_memo)
{
	static const char *const tgood[] = {
	    "", "Hello, world", "caf\xc3\xa9 \xe2\x82\xac", "\xf0\x9f\x98\x80"};
	static const char *const tbad[] = {"two\nlines", "cr\r",
					   "tab\t",	 "bell\a",
					   "del\x7f",	 "c1 \xc2\x85 nel",
					   "bad \xff",	 "sep \xe2\x80\xa8"};
	expect(SB_TYPE_TEXT, NULL, tgood, N(tgood), tbad, N(tbad));
	static const char *const mgood[] = {"", "line 1\r\nline 2\n",
					    "tab\there", "caf\xc3\xa9",
					    "sep \xe2\x80\xa8"};
	static const char *const mbad[] = {"bell\a", "esc\x1b", "del\x7f",
					   "bad \xc3", "vt\v"};
	expect(SB_TYPE_MEMO, NULL, mgood, N(mgood), mbad, N(mbad));
}
END_TEST

START_TEST(decimal_and_number)
{
	static const char *const dgood[] = {"0", "-12", "12.50", "-0.001",
					    "123456789012345678901234567890"};
	static const char *const dbad[] = {"",	 "-",	"1.", ".5",    "1e5",
					   "+1", "1,5", " 1", "1.2.3", "0x10"};
	expect(SB_TYPE_DECIMAL, NULL, dgood, N(dgood), dbad, N(dbad));
	static const char *const ngood[] = {"0", "-1", "9223372036854775807",
					    "-9223372036854775808"};
	static const char *const nbad[] = {
	    "",	   "1.0", "9223372036854775808", "-9223372036854775809",
	    "12a", "+5"};
	expect(SB_TYPE_NUMBER, NULL, ngood, N(ngood), nbad, N(nbad));
	static const char *const bgood[] = {"true", "false"};
	static const char *const bbad[] = {"yes", "TRUE", "1", ""};
	expect(SB_TYPE_BOOLEAN, NULL, bgood, N(bgood), bbad, N(bbad));
}
END_TEST

START_TEST(datetime_strict)
{
	static const char *const good[] = {
	    "2026-01-31T09:00:00Z",	 "2026-01-31T09:00:00+01:00",
	    "2026-01-31T09:00:00-05:30", "2024-02-29T23:59:59Z",
	    "2026-01-31T09:00:00.123Z",	 "2000-02-29T00:00:00+14:00",
	};
	static const char *const bad[] = {
	    "2026-01-31T09:00:00",	/* no offset */
	    "2026-01-31 09:00:00Z",	/* space */
	    "2026-01-31T09:00Z",	/* no seconds */
	    "2026-1-31T09:00:00Z",	/* short month */
	    "2026-02-30T09:00:00Z",	/* no such day */
	    "2025-02-29T09:00:00Z",	/* not a leap year */
	    "1900-02-29T09:00:00Z",	/* not a leap year */
	    "2026-13-01T09:00:00Z",	/* month */
	    "2026-01-31T24:00:00Z",	/* hour */
	    "2026-01-31T09:60:00Z",	/* minute */
	    "2026-01-31T09:00:61Z",	/* second */
	    "2026-01-31T09:00:00+0100", /* offset without colon */
	    "2026-01-31T09:00:00+1:00", /* short offset */
	    "2026-01-31T09:00:00z",	/* lower-case zone */
	    "2026-01-31t09:00:00Z",	/* lower-case T */
	    "2026-01-31T09:00:00Zjunk", /* trailing text */
	    "2026-01-31T09:00:00.Z",	/* empty fraction */
	    "2026-01-31",		/* a date */
	    "",
	};
	expect(SB_TYPE_DATETIME, NULL, good, N(good), bad, N(bad));
}
END_TEST

START_TEST(datetime_parse_and_format)
{
	int64_t e = -1;
	ck_assert(sb_datetime_parse("1970-01-01T00:00:00Z", &e));
	ck_assert_int_eq(e, 0);
	ck_assert(sb_datetime_parse("2026-01-31T09:00:00+01:00", &e));
	ck_assert_int_eq(e, 1769846400);
	char buf[32];
	sb_datetime_format(e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-01-31T08:00:00Z");
	ck_assert(sb_datetime_parse("2026-01-31T08:00:00Z", &e));
	ck_assert_int_eq(e, 1769846400);
	ck_assert(sb_datetime_parse("2026-01-31T03:00:00-05:00", &e));
	ck_assert_int_eq(e, 1769846400);
	ck_assert(sb_datetime_parse("2024-02-29T12:34:56Z", &e));
	sb_datetime_format(e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2024-02-29T12:34:56Z");
	/* Before the epoch. */
	ck_assert(sb_datetime_parse("1969-12-31T23:59:59Z", &e));
	ck_assert_int_eq(e, -1);
	sb_datetime_format(-1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
	ck_assert(!sb_datetime_parse("2026-01-31T09:00:00", &e));
	ck_assert(!sb_datetime_parse(NULL, &e));
	/* Exactly 21 bytes is enough. */
	char small[21];
	sb_datetime_format(0, small, sizeof(small));
	ck_assert_str_eq(small, "1970-01-01T00:00:00Z");
}
END_TEST

START_TEST(date_and_time)
{
	static const char *const dgood[] = {"2026-01-31", "2024-02-29",
					    "0001-01-01"};
	static const char *const dbad[] = {
	    "2026-1-31",  "2026-02-29",		  "26-01-31",
	    "2026/01/31", "2026-01-31T00:00:00Z", ""};
	expect(SB_TYPE_DATE, NULL, dgood, N(dgood), dbad, N(dbad));
	static const char *const tgood[] = {"09:30", "09:30:00", "00:00",
					    "23:59:59"};
	static const char *const tbad[] = {
	    "9:30",	 "24:00",      "09:60", "09:30:60",
	    "09:30:00Z", "09:30:00.5", ""};
	expect(SB_TYPE_TIME, NULL, tgood, N(tgood), tbad, N(tbad));
}
END_TEST

START_TEST(duration_check_and_parse)
{
	static const char *const good[] = {"PT30M", "P1DT2H", "P2W",
					   "PT0S",  "P1D",    "PT1H30M15S"};
	static const char *const bad[] = {"",	    "P",    "PT",    "30M",
					  "PT1D",   "P1H",  "P1Y",   "P1M",
					  "PT1.5S", "P1DT", "-PT1H", "PT1M1H"};
	expect(SB_TYPE_DURATION, NULL, good, N(good), bad, N(bad));
	int64_t s = 0;
	ck_assert(sb_duration_parse("PT30M", &s));
	ck_assert_int_eq(s, 1800);
	ck_assert(sb_duration_parse("P1DT2H", &s));
	ck_assert_int_eq(s, 93600);
	ck_assert(sb_duration_parse("P2W", &s));
	ck_assert_int_eq(s, 1209600);
	ck_assert(sb_duration_parse("PT1H30M15S", &s));
	ck_assert_int_eq(s, 5415);
	ck_assert(!sb_duration_parse("P1Y", &s));
	ck_assert(!sb_duration_parse("P99999999999999999999D", &s));
	const char *why = NULL;
	ck_assert(!sb_type_check(SB_TYPE_DURATION, "P1M", NULL, &why));
	ck_assert_ptr_nonnull(strstr(why, "months"));
}
END_TEST

START_TEST(guid_email_enum_file)
{
	static const char *const ggood[] = {
	    "0f8fad5b-d9cb-469f-a165-70867728950e",
	    "0F8FAD5B-D9CB-469F-A165-70867728950E"};
	static const char *const gbad[] = {
	    "0f8fad5bd9cb469fa16570867728950e",
	    "{0f8fad5b-d9cb-469f-a165-70867728950e}",
	    "0f8fad5b-d9cb-469f-a165-70867728950",
	    "0f8fad5b-d9cb-469f-a165-70867728950e0",
	    "0g8fad5b-d9cb-469f-a165-70867728950e",
	    ""};
	expect(SB_TYPE_GUID, NULL, ggood, N(ggood), gbad, N(gbad));
	static const char *const egood[] = {"user@example.com"};
	static const char *const ebad[] = {"User <user@example.com>", "user",
					   ""};
	expect(SB_TYPE_EMAIL, NULL, egood, N(egood), ebad, N(ebad));
	static const char *const cgood[] = {"Low", "Normal", "High"};
	static const char *const cbad[] = {"low", "Urgent", "", "High "};
	expect(SB_TYPE_ENUM, sb_importance_choices, cgood, N(cgood), cbad,
	       N(cbad));
	/* An enum without choices accepts nothing. */
	ck_assert(!sb_type_check(SB_TYPE_ENUM, "Low", NULL, NULL));
	ck_assert(!sb_type_check(SB_TYPE_FILE, "x", NULL, NULL));
	ck_assert(!sb_type_check(SB_TYPE_TEXT, NULL, NULL, NULL));
	ck_assert(!sb_type_check(SB_TYPE_COUNT_, "x", NULL, NULL));
}
END_TEST

/* Found by tests/fuzz/fuzz_values: a date-time whose offset carries its
 * instant out of the years 0000..9999 parsed, but its UTC form did not. */
START_TEST(datetime_instant_within_years)
{
	int64_t e = 0;
	char buf[32];
	ck_assert(!sb_datetime_parse("0000-01-01T00:00:00+01:00", &e));
	ck_assert(!sb_datetime_parse("9999-12-31T23:59:59-01:00", &e));
	ck_assert(!sb_type_check(SB_TYPE_DATETIME, "0000-01-01T00:59:59+01:00",
				 NULL, NULL));
	ck_assert(sb_datetime_parse("0000-01-01T01:00:00+01:00", &e));
	sb_datetime_format(e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0000-01-01T00:00:00Z");
	ck_assert(sb_datetime_parse("9999-12-31T22:59:59-01:00", &e));
	sb_datetime_format(e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "9999-12-31T23:59:59Z");
	ck_assert(sb_datetime_parse(buf, NULL));
}
END_TEST

/* Found by tests/fuzz/fuzz_values: an e-mail address with a line
 * separator or a C1 control in a UTF-8 local part was valid. */
START_TEST(email_is_one_line)
{
	static const char *const good[] = {"j\xc3\xb6rg@example.com",
					   "\"quoted.name\"@example.com"};
	static const char *const bad[] = {"\xe2\x80\xa8@Y",
					  "a\xe2\x80\xa9"
					  "b@example.com",
					  "a\xc2\x85"
					  "@example.com",
					  "\"a\xc2\x9f"
					  "\"@example.com"};
	expect(SB_TYPE_EMAIL, NULL, good, N(good), bad, N(bad));
}
END_TEST

/* ---- schema ---------------------------------------------------------- */

static void check_table(const struct sb_property *t, const char *const *names,
			size_t n)
{
	size_t count = 0;
	for (size_t i = 0; t[i].name; i++) {
		count++;
		ck_assert_msg(t[i].doc && strlen(t[i].doc) > 10,
			      "%s has no doc", t[i].name);
		ck_assert_msg(t[i].doc[strlen(t[i].doc) - 1] == '.',
			      "%s doc is not a sentence", t[i].name);
		if (t[i].type == SB_TYPE_ENUM)
			ck_assert_ptr_nonnull(t[i].choices);
		for (size_t k = 0; k < i; k++)
			ck_assert_str_ne(t[k].name, t[i].name);
	}
	ck_assert_uint_eq(count, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(sb_property_find(t, names[i]) != NULL,
			      "missing %s", names[i]);
}

START_TEST(schema_tables)
{
	static const char *const email[] = {
	    "Id",	   "ChangeKey", "Folder",   "From",
	    "To",	   "Cc",	"Bcc",	    "ReplyTo",
	    "Subject",	   "Body",	"HtmlBody", "Importance",
	    "Sent",	   "Received",	"IsRead",   "HasAttachments",
	    "Attachments", "MessageId", "Accepted", "Rejected"};
	check_table(sb_email_properties, email, N(email));
	static const char *const appt[] = {
	    "Id",	"ChangeKey", "Subject",	   "Body",
	    "Location", "Start",     "End",	   "TimeZone",
	    "IsAllDay", "Reminder",  "Categories", "Recurrence"};
	check_table(sb_appointment_properties, appt, N(appt));
	static const char *const meeting[] = {
	    "Id",	 "ChangeKey",	      "Subject",
	    "Body",	 "Location",	      "Start",
	    "End",	 "TimeZone",	      "IsAllDay",
	    "Reminder",	 "Categories",	      "Recurrence",
	    "Organizer", "RequiredAttendees", "OptionalAttendees",
	    "Resources", "ResponseStatus"};
	check_table(sb_meeting_properties, meeting, N(meeting));
	static const char *const attendee[] = {
	    "Email", "Kind", "ResponseStatus", "LastResponseTime"};
	check_table(sb_meeting_attendee_properties, attendee, N(attendee));
	static const char *const task[] = {
	    "Id",	  "ChangeKey", "Subject", "Body",
	    "StartDate",  "DueDate",   "Status",  "PercentComplete",
	    "Importance", "Owner"};
	check_table(sb_task_properties, task, N(task));
	static const char *const folder[] = {"Id", "Name", "Parent",
					     "TotalCount", "UnreadCount"};
	check_table(sb_folder_properties, folder, N(folder));

	const struct sb_property *p =
	    sb_property_find(sb_email_properties, "To");
	ck_assert_int_eq(p->type, SB_TYPE_EMAIL);
	ck_assert(p->flags & SB_MULTI);
	p = sb_property_find(sb_email_properties, "From");
	ck_assert(!(p->flags & SB_MULTI));
	p = sb_property_find(sb_email_properties, "Attachments");
	ck_assert_int_eq(p->type, SB_TYPE_FILE);
	ck_assert(p->flags & SB_MULTI);
	p = sb_property_find(sb_email_properties, "Rejected");
	ck_assert_int_eq(p->type, SB_TYPE_TEXT);
	ck_assert(p->flags & SB_MULTI);
	p = sb_property_find(sb_email_properties, "Sent");
	ck_assert_int_eq(p->type, SB_TYPE_DATETIME);
	p = sb_property_find(sb_task_properties, "Status");
	ck_assert_ptr_eq(p->choices, sb_task_status_choices);
	p = sb_property_find(sb_task_properties, "DueDate");
	ck_assert_int_eq(p->type, SB_TYPE_DATE);
	p = sb_property_find(sb_appointment_properties, "Reminder");
	ck_assert_int_eq(p->type, SB_TYPE_NUMBER);
	p = sb_property_find(sb_appointment_properties, "Recurrence");
	ck_assert_int_eq(p->type, SB_TYPE_TEXT);
	ck_assert(!(p->flags & SB_MULTI));
	p = sb_property_find(sb_meeting_properties, "Resources");
	ck_assert_int_eq(p->type, SB_TYPE_EMAIL);
	ck_assert(p->flags & SB_MULTI);
	p = sb_property_find(sb_meeting_properties, "ResponseStatus");
	ck_assert_ptr_eq(p->choices, sb_response_status_choices);
	p = sb_property_find(sb_meeting_attendee_properties, "Kind");
	ck_assert_ptr_eq(p->choices, sb_attendee_kind_choices);
	ck_assert_str_eq(sb_attendee_kind_choices[2], "Resource");
	ck_assert_ptr_null(sb_attendee_kind_choices[3]);
	ck_assert_str_eq(sb_response_status_choices[5], "NoResponseReceived");
	ck_assert_ptr_null(sb_response_status_choices[6]);
	p = sb_property_find(sb_meeting_attendee_properties,
			     "LastResponseTime");
	ck_assert_int_eq(p->type, SB_TYPE_DATETIME);
	ck_assert_ptr_null(sb_property_find(sb_email_properties, "to"));
	ck_assert_ptr_null(sb_property_find(NULL, "To"));
	ck_assert_ptr_null(sb_property_find(sb_email_properties, NULL));
	ck_assert_str_eq(sb_task_status_choices[4], "Deferred");
	ck_assert_ptr_null(sb_task_status_choices[5]);
	ck_assert_ptr_null(sb_importance_choices[3]);
}
END_TEST

static Suite *types_suite(void)
{
	Suite *s = suite_create("types");
	TCase *tc = tcase_create("types");
	tcase_add_test(tc, type_names);
	tcase_add_test(tc, text_and_memo);
	tcase_add_test(tc, decimal_and_number);
	tcase_add_test(tc, datetime_strict);
	tcase_add_test(tc, datetime_parse_and_format);
	tcase_add_test(tc, date_and_time);
	tcase_add_test(tc, duration_check_and_parse);
	tcase_add_test(tc, guid_email_enum_file);
	tcase_add_test(tc, datetime_instant_within_years);
	tcase_add_test(tc, email_is_one_line);
	tcase_add_test(tc, schema_tables);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(types_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
