/* Unit tests for the shared Recurrence value (core/sdk/rrule.c): valid
 * rules of every FREQ, their canonical text, and each class of refusal
 * with the message that names it. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/rrule.h>

/* Parse text, assert it is accepted, and return the rule. */
static struct sb_rrule ok_rule(const char *text)
{
	struct sb_rrule r;
	struct sb_error err = {0};
	enum sb_status st = sb_rrule_parse(text, &r, &err);
	ck_assert_msg(st == SB_OK, "\"%s\" refused: %s", text, err.message);
	ck_assert_int_eq(sb_rrule_check(text, &err), SB_OK);
	return r;
}

/* Field by field (a struct may hold padding). */
static bool rule_eq(const struct sb_rrule *a, const struct sb_rrule *b)
{
	if (a->freq != b->freq || a->interval != b->interval ||
	    a->count != b->count || a->has_until != b->has_until ||
	    a->until_is_date != b->until_is_date ||
	    (a->has_until && a->until != b->until) ||
	    a->n_byday != b->n_byday || a->n_bymonthday != b->n_bymonthday ||
	    a->n_bymonth != b->n_bymonth || a->n_bysetpos != b->n_bysetpos)
		return false;
	for (size_t i = 0; i < a->n_byday; i++)
		if (a->byday[i].ordinal != b->byday[i].ordinal ||
		    a->byday[i].day != b->byday[i].day)
			return false;
	for (size_t i = 0; i < a->n_bymonthday; i++)
		if (a->bymonthday[i] != b->bymonthday[i])
			return false;
	for (size_t i = 0; i < a->n_bymonth; i++)
		if (a->bymonth[i] != b->bymonth[i])
			return false;
	for (size_t i = 0; i < a->n_bysetpos; i++)
		if (a->bysetpos[i] != b->bysetpos[i])
			return false;
	return true;
}

/* text is accepted and its canonical form is canon; the canonical form
 * parses to the same rule and formats to itself. */
static void canon_is(const char *text, const char *canon)
{
	struct sb_rrule r = ok_rule(text), r2;
	char out[SB_RRULE_TEXT_MAX + 1], out2[SB_RRULE_TEXT_MAX + 1];
	ck_assert_msg(sb_rrule_format(&r, out, sizeof out), "format \"%s\"",
		      text);
	ck_assert_str_eq(out, canon);
	ck_assert_msg(strlen(out) <= strlen(text), "canonical text longer");
	struct sb_error err = {0};
	ck_assert_int_eq(sb_rrule_parse(out, &r2, &err), SB_OK);
	ck_assert_msg(rule_eq(&r, &r2),
		      "\"%s\" does not parse back to the same rule", out);
	ck_assert(sb_rrule_format(&r2, out2, sizeof out2));
	ck_assert_str_eq(out2, out);
}

/* text is refused as invalid input with the recurrence code and a message
 * starting "Recurrence: " that contains want. */
static void refused(const char *text, const char *want)
{
	struct sb_rrule r, before;
	memset(&r, 0x5a, sizeof r);
	memcpy(&before, &r, sizeof r);
	struct sb_error err = {0};
	enum sb_status st = sb_rrule_parse(text, &r, &err);
	ck_assert_msg(st == SB_ERR_INVALID_INPUT, "\"%s\" accepted (%d)",
		      text ? text : "(null)", (int)st);
	ck_assert_str_eq(err.code, SB_RRULE_ERROR_CODE);
	ck_assert_msg(strncmp(err.message, "Recurrence: ", 12) == 0,
		      "message \"%s\"", err.message);
	ck_assert_msg(strstr(err.message, want) != NULL,
		      "\"%s\": message \"%s\" lacks \"%s\"",
		      text ? text : "(null)", err.message, want);
	ck_assert_msg(memcmp(&r, &before, sizeof r) == 0,
		      "a refused rule wrote the output");
	struct sb_error err2 = {0};
	ck_assert_int_eq(sb_rrule_check(text, &err2), SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(err2.message, err.message);
}

START_TEST(test_daily)
{
	struct sb_rrule r = ok_rule("FREQ=DAILY");
	ck_assert_int_eq(r.freq, SB_RRULE_DAILY);
	ck_assert_int_eq(r.interval, 1);
	ck_assert_int_eq(r.count, 0);
	ck_assert(!r.has_until);
	ck_assert_uint_eq(
	    r.n_byday + r.n_bymonthday + r.n_bymonth + r.n_bysetpos, 0);
	r = ok_rule("FREQ=DAILY;INTERVAL=3;COUNT=10");
	ck_assert_int_eq(r.interval, 3);
	ck_assert_int_eq(r.count, 10);
	/* Every weekday: DAILY with a BYDAY filter. */
	r = ok_rule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR");
	ck_assert_uint_eq(r.n_byday, 5);
	ck_assert_int_eq(r.byday[4].day, SB_RRULE_FR);
	ck_assert_int_eq(r.byday[4].ordinal, 0);
	canon_is("FREQ=DAILY;INTERVAL=1", "FREQ=DAILY");
	canon_is("INTERVAL=2;FREQ=DAILY", "FREQ=DAILY;INTERVAL=2");
}
END_TEST

START_TEST(test_weekly)
{
	struct sb_rrule r = ok_rule(
	    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20271231T235959Z");
	ck_assert_int_eq(r.freq, SB_RRULE_WEEKLY);
	ck_assert_int_eq(r.interval, 2);
	ck_assert_uint_eq(r.n_byday, 2);
	ck_assert_int_eq(r.byday[0].day, SB_RRULE_MO);
	ck_assert_int_eq(r.byday[1].day, SB_RRULE_WE);
	ck_assert(r.has_until);
	ck_assert(!r.until_is_date);
	ck_assert_int_eq(r.until, 1830297599); /* 2027-12-31T23:59:59Z */
	r = ok_rule("FREQ=WEEKLY;UNTIL=20270101");
	ck_assert(r.until_is_date);
	ck_assert_int_eq(r.until, 1798761600); /* 2027-01-01 */
	canon_is("freq=weekly;byday=su,sa", "FREQ=WEEKLY;BYDAY=SU,SA");
	canon_is("FREQ=WEEKLY;UNTIL=20270101", "FREQ=WEEKLY;UNTIL=20270101");
}
END_TEST

START_TEST(test_monthly)
{
	/* The last Friday, the second Monday, the 15th and the last day. */
	struct sb_rrule r = ok_rule("FREQ=MONTHLY;BYDAY=-1FR;COUNT=12");
	ck_assert_int_eq(r.freq, SB_RRULE_MONTHLY);
	ck_assert_uint_eq(r.n_byday, 1);
	ck_assert_int_eq(r.byday[0].ordinal, -1);
	ck_assert_int_eq(r.byday[0].day, SB_RRULE_FR);
	ck_assert_int_eq(r.count, 12);
	r = ok_rule("FREQ=MONTHLY;BYDAY=+2MO");
	ck_assert_int_eq(r.byday[0].ordinal, 2);
	r = ok_rule("FREQ=MONTHLY;BYMONTHDAY=15,-1");
	ck_assert_uint_eq(r.n_bymonthday, 2);
	ck_assert_int_eq(r.bymonthday[0], 15);
	ck_assert_int_eq(r.bymonthday[1], -1);
	/* The last weekday of the month (Exchange's "last weekday"). */
	r = ok_rule("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
	ck_assert_uint_eq(r.n_bysetpos, 1);
	ck_assert_int_eq(r.bysetpos[0], -1);
	canon_is("FREQ=MONTHLY;BYDAY=+2MO;INTERVAL=01",
		 "FREQ=MONTHLY;BYDAY=2MO");
	canon_is("FREQ=MONTHLY;BYMONTHDAY=+5,-31;COUNT=999",
		 "FREQ=MONTHLY;BYMONTHDAY=5,-31;COUNT=999");
	r = ok_rule("FREQ=MONTHLY;BYDAY=5SU,-5SA");
	ck_assert_int_eq(r.byday[1].ordinal, -5);
	ck_assert_int_eq(r.byday[1].day, SB_RRULE_SA);
}
END_TEST

START_TEST(test_yearly)
{
	/* US daylight saving time start: the second Sunday of March. */
	struct sb_rrule r = ok_rule("FREQ=YEARLY;BYMONTH=3;BYDAY=2SU");
	ck_assert_int_eq(r.freq, SB_RRULE_YEARLY);
	ck_assert_uint_eq(r.n_bymonth, 1);
	ck_assert_int_eq(r.bymonth[0], 3);
	ck_assert_int_eq(r.byday[0].ordinal, 2);
	ck_assert_int_eq(r.byday[0].day, SB_RRULE_SU);
	/* The 20th week's Monday of the year: ordinals up to 53. */
	r = ok_rule("FREQ=YEARLY;BYDAY=20MO,-53SU");
	ck_assert_int_eq(r.byday[1].ordinal, -53);
	r = ok_rule("FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1;BYSETPOS=1,-366,366;"
		    "UNTIL=16010101");
	ck_assert_uint_eq(r.n_bysetpos, 3);
	ck_assert_int_eq(r.until, INT64_C(-11644473600));
	r = ok_rule("FREQ=YEARLY;UNTIL=99991231T235959Z;INTERVAL=999");
	ck_assert_int_eq(r.until, INT64_C(253402300799));
	ck_assert_int_eq(r.interval, 999);
	canon_is("BYSETPOS=-1;BYMONTH=12,1;BYDAY=FR;FREQ=YEARLY;"
		 "UNTIL=20280229T120000Z",
		 "FREQ=YEARLY;BYDAY=FR;BYMONTH=12,1;BYSETPOS=-1;"
		 "UNTIL=20280229T120000Z");
	/* Twelve months, each once, is the most BYMONTH can hold. */
	r = ok_rule("FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12");
	ck_assert_uint_eq(r.n_bymonth, 12);
}
END_TEST

START_TEST(test_refused_text)
{
	refused(NULL, "empty");
	refused("", "empty");
	refused("RRULE:FREQ=DAILY", "without \"RRULE:\"");
	refused("rrule:FREQ=DAILY", "without \"rrule:\"");
	refused("FREQ=DAILY;", "empty part at byte 12");
	refused(";FREQ=DAILY", "empty part at byte 1");
	refused("FREQ=DAILY;;COUNT=2", "empty part");
	refused("FREQ=DAILY; COUNT=2", "unexpected byte 0x20 at byte 12");
	refused("FREQ=DAILY\r\nCOUNT=2", "unexpected byte 0x0D");
	refused("FREQ=DAILY;COUNT=2\xc3\xa9", "unexpected byte 0xC3");
	refused("FREQ=DAILY;UNTIL=2027-01-01",
		"UNTIL \"2027-01-01\" is not a date");
	refused("FREQ=DAILY;UNTIL=20270101T00:00Z", "unexpected character ':'");
	char big[SB_RRULE_TEXT_MAX + 2];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	refused(big, "longer than 1024 bytes");
	refused("FREQ", "part \"FREQ\" is not NAME=VALUE");
	refused("FREQ=DAILY;COUNT", "part \"COUNT\" is not NAME=VALUE");
}
END_TEST

START_TEST(test_refused_parts)
{
	refused("FREQ=DAILY;BYHOUR=9",
		"the RRULE part BYHOUR is not supported (only FREQ, INTERVAL, "
		"BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, COUNT, UNTIL)");
	refused("FREQ=WEEKLY;WKST=SU", "the RRULE part WKST is not supported");
	refused("FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO is not supported");
	refused("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY is not supported");
	refused("FREQ=DAILY;bysecond=1", "BYSECOND is not supported");
	refused("FREQ=DAILY;BYMINUTE=1", "BYMINUTE is not supported");
	refused("RSCALE=GREGORIAN;FREQ=YEARLY", "RSCALE is not supported");
	refused("FREQ=DAILY;Colour=red", "Colour is not an RRULE part");
	refused("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice");
	refused("FREQ=DAILY;COUNT=1;count=2", "COUNT is given twice");
	refused("FREQ=", "FREQ has no value");
	refused("FREQ=DAILY;BYDAY=", "BYDAY has no value");
	refused("COUNT=3", "FREQ is missing");
	refused("INTERVAL=2;BYDAY=MO", "FREQ is missing");
}
END_TEST

START_TEST(test_refused_values)
{
	refused("FREQ=HOURLY", "FREQ=HOURLY is not supported (DAILY, WEEKLY, "
			       "MONTHLY or YEARLY)");
	refused("FREQ=minutely", "FREQ=minutely is not supported");
	refused("FREQ=SECONDLY", "FREQ=SECONDLY is not supported");
	refused("FREQ=FORTNIGHTLY", "FREQ \"FORTNIGHTLY\" is not a frequency");
	refused("FREQ=DAILY;INTERVAL=0", "INTERVAL \"0\" is not a whole "
					 "number 1..999");
	refused("FREQ=DAILY;INTERVAL=1000", "INTERVAL \"1000\"");
	refused("FREQ=DAILY;INTERVAL=-1", "INTERVAL \"-1\"");
	refused("FREQ=DAILY;INTERVAL=+1", "INTERVAL \"+1\"");
	refused("FREQ=DAILY;INTERVAL=1234567890123", "INTERVAL");
	refused("FREQ=DAILY;COUNT=0", "COUNT \"0\" is not a whole number "
				      "1..999");
	refused("FREQ=DAILY;COUNT=1000", "COUNT \"1000\"");
	refused("FREQ=DAILY;COUNT=X", "COUNT \"X\"");
	/* BYDAY */
	refused("FREQ=WEEKLY;BYDAY=XX", "BYDAY value \"XX\" is not a weekday");
	refused("FREQ=WEEKLY;BYDAY=MON", "BYDAY value \"MON\"");
	refused("FREQ=MONTHLY;BYDAY=+MO", "BYDAY value \"+MO\"");
	refused("FREQ=MONTHLY;BYDAY=1-MO", "BYDAY value \"1-MO\"");
	refused("FREQ=MONTHLY;BYDAY=0MO", "BYDAY value \"0MO\": the ordinal "
					  "must be 1..53 or -53..-1");
	refused("FREQ=YEARLY;BYDAY=54MO", "BYDAY value \"54MO\"");
	refused("FREQ=MONTHLY;BYDAY=6MO", "BYDAY value \"6MO\": with "
					  "FREQ=MONTHLY the ordinal must be "
					  "1..5 or -5..-1");
	refused("FREQ=MONTHLY;BYDAY=-6FR", "BYDAY value \"-6FR\"");
	refused("FREQ=WEEKLY;BYDAY=2MO", "BYDAY value \"2MO\": an ordinal "
					 "needs FREQ=MONTHLY or "
					 "FREQ=YEARLY, not FREQ=WEEKLY");
	refused("BYDAY=-1SU;FREQ=DAILY", "not FREQ=DAILY");
	refused("FREQ=WEEKLY;BYDAY=MO,,TU", "BYDAY has an empty value");
	refused("FREQ=WEEKLY;BYDAY=MO,", "BYDAY has an empty value");
	refused("FREQ=WEEKLY;BYDAY=MO,TU,mo", "BYDAY names \"mo\" twice");
	/* BYMONTHDAY */
	refused("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY value \"0\" is not "
					     "a day of the month");
	refused("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY value \"32\"");
	refused("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY value \"-32\"");
	refused("FREQ=MONTHLY;BYMONTHDAY=1,1", "BYMONTHDAY names \"1\" twice");
	refused("FREQ=WEEKLY;BYMONTHDAY=1",
		"BYMONTHDAY cannot be used with FREQ=WEEKLY");
	/* BYMONTH */
	refused("FREQ=YEARLY;BYMONTH=13", "BYMONTH value \"13\" is not a "
					  "month (1..12)");
	refused("FREQ=YEARLY;BYMONTH=0", "BYMONTH value \"0\"");
	refused("FREQ=YEARLY;BYMONTH=-1", "BYMONTH value \"-1\"");
	refused("FREQ=YEARLY;BYMONTH=3,03", "BYMONTH names \"03\" twice");
	/* BYSETPOS */
	refused("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BY part");
	refused("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS value \"0\"");
	refused("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=367", "BYSETPOS value \"367\"");
	refused("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-367", "BYSETPOS value");
	/* COUNT and UNTIL */
	refused("FREQ=DAILY;COUNT=5;UNTIL=20270101",
		"COUNT and UNTIL exclude each other");
	refused("FREQ=DAILY;UNTIL=20270101T000000",
		"UNTIL \"20270101T000000\": a date-time must be in UTC");
	refused("FREQ=DAILY;UNTIL=2027", "UNTIL \"2027\" is not a date "
					 "(YYYYMMDD) or a UTC date-time");
	refused("FREQ=DAILY;UNTIL=20270101Z", "UNTIL \"20270101Z\"");
	refused("FREQ=DAILY;UNTIL=20270230", "UNTIL \"20270230\" is not an "
					     "existing day");
	refused("FREQ=DAILY;UNTIL=20261301", "is not an existing day");
	refused("FREQ=DAILY;UNTIL=20270229", "is not an existing day");
	refused("FREQ=DAILY;UNTIL=16001231", "the year must be 1601..9999");
	refused("FREQ=DAILY;UNTIL=20270101T240000Z", "not a valid time of day");
	refused("FREQ=DAILY;UNTIL=20270101T236000Z", "not a valid time of day");
}
END_TEST

START_TEST(test_list_limits)
{
	/* 64 distinct BYDAY values fit, the 65th does not. */
	char text[SB_RRULE_TEXT_MAX + 1];
	size_t n = (size_t)snprintf(text, sizeof text, "FREQ=YEARLY;BYDAY=");
	static const char *const days[] = {"MO", "TU", "WE", "TH",
					   "FR", "SA", "SU"};
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%s%d%s",
				      i ? "," : "", i / 7 + 1, days[i % 7]);
	refused(text, "BYDAY has more than 64 values");
	*strrchr(text, ',') = '\0';
	struct sb_rrule r = ok_rule(text);
	ck_assert_uint_eq(r.n_byday, 64);
	char out[SB_RRULE_TEXT_MAX + 1];
	ck_assert(sb_rrule_format(&r, out, sizeof out));
	ck_assert_str_eq(out, text);
	/* Too small a buffer: false and "". */
	char small[16];
	ck_assert(!sb_rrule_format(&r, small, sizeof small));
	ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_format_refuses_invalid)
{
	struct sb_rrule r = ok_rule("FREQ=DAILY");
	char out[64];
	struct sb_rrule bad = r;
	bad.freq = (enum sb_rrule_freq)0;
	ck_assert(!sb_rrule_format(&bad, out, sizeof out));
	ck_assert_str_eq(out, "");
	bad = r;
	bad.interval = 0;
	ck_assert(!sb_rrule_format(&bad, out, sizeof out));
	bad = r;
	bad.count = 3;
	bad.has_until = true;
	ck_assert(!sb_rrule_format(&bad, out, sizeof out));
	bad = r;
	bad.n_byday = SB_RRULE_LIST_MAX + 1;
	ck_assert(!sb_rrule_format(&bad, out, sizeof out));
	bad = r;
	bad.n_bymonth = 1;
	bad.bymonth[0] = 13;
	ck_assert(!sb_rrule_format(&bad, out, sizeof out));
	bad = r;
	bad.has_until = true;
	bad.until_is_date = true;
	bad.until = 3600;
	ck_assert(!sb_rrule_format(&bad, out, sizeof out));
	ck_assert(!sb_rrule_format(NULL, out, sizeof out));
	ck_assert(!sb_rrule_format(&r, NULL, 0));
	ck_assert(sb_rrule_format(&r, out, sizeof out));
	ck_assert_str_eq(out, "FREQ=DAILY");
}
END_TEST

static Suite *rrule_suite(void)
{
	Suite *s = suite_create("rrule");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_daily);
	tcase_add_test(tc, test_weekly);
	tcase_add_test(tc, test_monthly);
	tcase_add_test(tc, test_yearly);
	tcase_add_test(tc, test_refused_text);
	tcase_add_test(tc, test_refused_parts);
	tcase_add_test(tc, test_refused_values);
	tcase_add_test(tc, test_list_limits);
	tcase_add_test(tc, test_format_refuses_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rrule_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
