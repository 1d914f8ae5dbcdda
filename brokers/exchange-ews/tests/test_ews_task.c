/* Unit tests of exchange-ews Task's date arithmetic (ews_task.c,
 * included here for its static functions) on ICU's zones (ews_tz.c):
 * offsets as the C library gives them from the system's TZ database
 * (every hour of 2000..2036 agrees with localtime_r in the zone), rules
 * after 2037, a Windows id as the zone CLDR gives for it, and every day
 * of 1990..2060 going out as midnight of the zone and coming back as the
 * same date, at offsets from -12 to +14 hours. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ews_task.c"

/* What ews_task.c uses of the module besides the files linked: never
 * called by these tests. */
const char *ews_timezone_name(const struct ews *e)
{
	(void)e;
	return "UTC";
}
void ews_op_folder_mailbox(struct ews_op *op) { (void)op; }
void ews_op_init(struct ews_op *op, struct ews *e, const struct sb_call *call,
		 unsigned flags)
{
	memset(op, 0, sizeof(*op));
	op->e = e;
	op->call = call;
	op->flags = flags;
	sb_buf_init(&op->body, 0);
	sb_xml_w_init(&op->w, &op->body);
}
void ews_op_free(struct ews_op *op) { sb_buf_free(&op->body); }
enum sb_status ews_op_mailbox(struct ews_op *op, struct sb_error *err)
{
	(void)op;
	(void)err;
	return SB_OK;
}
enum sb_status ews_op_run(struct ews_op *op, struct sb_error *err)
{
	(void)op;
	return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL, "no server here");
}
xmlNode *ews_op_first(const struct ews_op *op)
{
	(void)op;
	return NULL;
}
xmlNode *ews_op_next(const xmlNode *msg)
{
	(void)msg;
	return NULL;
}
enum sb_status ews_item_delete(void *state, const struct sb_call *call,
			       const char *attr, const char *value,
			       struct sb_result *r, struct sb_error *err)
{
	(void)state;
	(void)call;
	(void)attr;
	(void)value;
	(void)r;
	return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL, "no server here");
}
enum sb_status ews_op_first_status(struct ews_op *op, xmlNode **msg,
				   struct sb_error *err)
{
	(void)op;
	(void)msg;
	return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL, "no server here");
}
enum sb_status ews_message_status(const xmlNode *msg, struct sb_error *err)
{
	(void)msg;
	(void)err;
	return SB_OK;
}

static const char *const zones[] = {"UTC",
				    "Pacific/Honolulu",
				    "Pacific/Auckland",
				    "Pacific/Kiritimati",
				    "Etc/GMT+12",
				    "America/New_York",
				    "Europe/Berlin",
				    "Australia/Sydney",
				    "America/St_Johns",
				    "Asia/Kolkata",
				    "Pacific/Apia",
				    "America/Santiago",
				    NULL};

static bool have_tzdata(void)
{
	return access("/usr/share/zoneinfo/Pacific/Auckland", R_OK) == 0;
}

/* The offset at t of zone name by the C library (TZ of this process). */
static int32_t libc_off(const char *name, int64_t t)
{
	static char cur[64];
	if (strcmp(cur, name) != 0) {
		char tz[80];
		snprintf(tz, sizeof(tz), ":%s", name);
		setenv("TZ", tz, 1);
		tzset();
		snprintf(cur, sizeof(cur), "%s", name);
	}
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	return (int32_t)tm.tm_gmtoff;
}

static bool zone_read(const char *name, struct zone *z)
{
	z->z = ews_zone_open(name);
	return z->z != NULL;
}

START_TEST(test_zone_matches_libc)
{
	if (!have_tzdata())
		return;
	const char *name = zones[_i];
	struct zone z;
	ck_assert_msg(zone_read(name, &z), "%s: read", name);
	int64_t from = 946684800;	  /* 2000-01-01 */
	int64_t to = INT64_C(2114380800); /* 2037-01-01 */
	unsigned bad = 0;
	for (int64_t t = from; t < to && bad < 5; t += 3600) {
		int32_t a = zone_off(&z, t), b = libc_off(name, t);
		if (a != b) {
			fprintf(stderr, "%s at %lld: %d, libc %d\n", name,
				(long long)t, a, b);
			bad++;
		}
	}
	ck_assert_msg(!bad, "%s: offsets differ from the C library's", name);
	zone_free(&z);
}
END_TEST

START_TEST(test_after_2037)
{
	struct zone z;
	ck_assert(zone_read("Pacific/Auckland", &z));
	/* 2040-01-15 and 2040-07-15, noon UTC: NZDT, NZST */
	ck_assert_int_eq(zone_off(&z, INT64_C(2210241600)), 13 * 3600);
	ck_assert_int_eq(zone_off(&z, INT64_C(2225966400)), 12 * 3600);
	zone_free(&z);
	ck_assert(zone_read("America/New_York", &z));
	/* 2050-03-13 06:59:59Z EST, 07:00:00Z EDT (second Sunday, 2:00) */
	ck_assert_int_eq(zone_off(&z, INT64_C(2530767599)), -5 * 3600);
	ck_assert_int_eq(zone_off(&z, INT64_C(2530767600)), -4 * 3600);
	zone_free(&z);
}
END_TEST

/* A day whose midnight the clock skips (Santiago's first day of daylight
 * saving) goes out as its first instant, 01:00 local, on that day. */
START_TEST(test_skipped_midnight)
{
	struct zone z;
	ck_assert(zone_read("America/Santiago", &z));
	int64_t days;
	ck_assert(date_days("2026-09-06", &days));
	char out[32];
	date_out(&z, days, out, sizeof(out));
	ck_assert_str_eq(out, "2026-09-06T04:00:00Z"); /* 01:00 at -03:00 */
	int64_t t;
	ck_assert(sb_datetime_parse(out, &t));
	int64_t local = t + zone_off(&z, t);
	ck_assert_int_eq((local >= 0 ? local : local - DAY + 1) / DAY, days);
	/* an ordinary day: 00:00 local */
	ck_assert(date_days("2026-09-07", &days));
	date_out(&z, days, out, sizeof(out));
	ck_assert_str_eq(out, "2026-09-07T03:00:00Z");
	zone_free(&z);
}
END_TEST

/* A Windows id, any case, is the zone CLDR gives for it; UTC names are
 * UTC; names ICU does not list open nothing. */
START_TEST(test_windows_ids)
{
	struct zone w, b;
	ck_assert(zone_read("w. europe standard time", &w));
	ck_assert(zone_read("Europe/Berlin", &b));
	for (int64_t t = INT64_C(1798761600); t < INT64_C(1830297600);
	     t += 3600)
		ck_assert_int_eq(zone_off(&w, t), zone_off(&b, t));
	ck_assert_int_eq(zone_off(&w, INT64_C(1815998400)), 7200); /* July */
	zone_free(&w);
	zone_free(&b);
	ck_assert(zone_read("Tonga Standard Time", &w));
	ck_assert_int_eq(zone_off(&w, INT64_C(1800000000)), 13 * 3600);
	zone_free(&w);
	ck_assert(zone_read("Etc/UTC", &w));
	ck_assert_int_eq(zone_off(&w, INT64_C(1800000000)), 0);
	zone_free(&w);
	ck_assert(!zone_read("../etc/passwd", &w));
	ck_assert(!zone_read("/etc/localtime", &w));
	ck_assert(!zone_read("No/Such_Zone", &w));
	ck_assert(!zone_read("", &w));
	ck_assert(!zone_read("Europe/Berlin\xff", &w));
}
END_TEST

/* No instant of the zone's local time falls on day d (Kiritimati's
 * 1994-12-31, Apia's 2011-12-30). */
static bool skipped(const struct zone *z, int64_t d)
{
	for (int64_t t = (d - 2) * DAY; t < (d + 2) * DAY; t += 1800) {
		int64_t l = t + zone_off(z, t);
		if ((l >= 0 ? l : l - DAY + 1) / DAY == d)
			return false;
	}
	return true;
}

START_TEST(test_dates_round_trip)
{
	if (!have_tzdata())
		return;
	const char *name = zones[_i];
	struct zone z;
	ck_assert(zone_read(name, &z));
	int64_t first, last;
	ck_assert(date_days("1990-01-01", &first));
	ck_assert(date_days("2060-12-31", &last));
	for (int64_t d = first; d <= last; d++) {
		if (skipped(&z, d))
			continue; /* a day the zone jumped over */
		char out[32], back[16], want[16];
		int y, m, dd;
		civil_from_days(d, &y, &m, &dd);
		snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, dd);
		date_out(&z, d, out, sizeof(out));
		/* midnight there: the offset at that instant brings it to
		 * 00:00 local (a day starting in a gap: its first instant) */
		int64_t t;
		ck_assert(sb_datetime_parse(out, &t));
		int64_t local = t + zone_off(&z, t);
		ck_assert_msg(((local % DAY) + DAY) % DAY == 0 ||
				  ((local % DAY) + DAY) % DAY >= DAY - 3600 ||
				  ((local % DAY) + DAY) % DAY <= 3600,
			      "%s %s: %s is not near midnight", name, want,
			      out);
		date_in(&z, out, back, sizeof(back));
		ck_assert_msg(strcmp(back, want) == 0, "%s: %s -> %s -> %s",
			      name, want, out, back);
		/* the same instant written with the zone's offset */
		int32_t off = zone_off(&z, t);
		char rfc[40];
		int64_t lt = t + off;
		int yy, mm, d2;
		civil_from_days((lt >= 0 ? lt : lt - DAY + 1) / DAY, &yy, &mm,
				&d2);
		int64_t sod = ((lt % DAY) + DAY) % DAY;
		snprintf(rfc, sizeof(rfc),
			 "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", yy, mm, d2,
			 (int)(sod / 3600), (int)(sod / 60 % 60),
			 (int)(sod % 60), off < 0 ? '-' : '+', abs(off) / 3600,
			 abs(off) / 60 % 60);
		date_in(&z, rfc, back, sizeof(back));
		ck_assert_msg(strcmp(back, want) == 0, "%s: %s -> %s -> %s",
			      name, want, rfc, back);
	}
	zone_free(&z);
}
END_TEST

START_TEST(test_dates_in)
{
	int64_t d;
	ck_assert(date_days("2024-02-29", &d));
	ck_assert(!date_days("2023-02-29", &d));
	ck_assert(!date_days("2027-13-01", &d));
	ck_assert(!date_days("1600-12-31", &d));
	ck_assert(!date_days("2027-01-01x", &d));
	struct zone z;
	ck_assert(zone_read("UTC", &z));
	char back[16];
	date_in(&z, "not a date", back, sizeof(back));
	ck_assert_str_eq(back, "");
	date_in(&z, "2027-01-15T13:00:00Z", back, sizeof(back));
	ck_assert_str_eq(back, "2027-01-16"); /* the nearest midnight */
	zone_free(&z);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ews_task");
	TCase *tc = tcase_create("zones");
	tcase_set_timeout(tc, 120);
	size_t nz = sizeof(zones) / sizeof(zones[0]) - 1;
	tcase_add_loop_test(tc, test_zone_matches_libc, 0, (int)nz);
	tcase_add_test(tc, test_after_2037);
	tcase_add_test(tc, test_windows_ids);
	tcase_add_test(tc, test_skipped_midnight);
	tcase_add_loop_test(tc, test_dates_round_trip, 0, (int)nz);
	tcase_add_test(tc, test_dates_in);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
