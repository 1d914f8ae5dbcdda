/* Unit tests for the exchange-ews broker's time zones (ews_tz.c): every
 * zone and link of the system's tzdata (tzdata.zi, or $EWS_TZDATA) that
 * ICU maps to a Windows id gets that id, and the id maps back to a zone
 * with the same UTC offsets; aliases, Windows ids in any case, the error
 * of an unknown name, hostile names, and lookups from many threads. */
#include "config.h"

#include <check.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicode/ucal.h>

#include "../ews_int.h"

#define TZDATA_DEFAULT "/usr/share/zoneinfo/tzdata.zi"

/* ---- ICU itself, the reference ------------------------------------------ */

static void to_u(const char *s, UChar *u, size_t n)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		u[i] = (UChar)(unsigned char)s[i];
	u[i] = 0;
}

static void from_u(const UChar *u, int32_t len, char *out, size_t n)
{
	size_t i = 0;
	for (; len > 0 && i < (size_t)len && i + 1 < n; i++)
		out[i] = (char)u[i];
	out[i] = '\0';
}

/* ICU's Windows id for zone, "" when none. */
static void icu_windows(const char *zone, char *out, size_t n)
{
	UChar u[256], w[256];
	to_u(zone, u, 256);
	UErrorCode st = U_ZERO_ERROR;
	int32_t len = ucal_getWindowsTimeZoneID(u, -1, w, 256, &st);
	from_u(w, U_SUCCESS(st) ? len : 0, out, n);
}

/* ICU's zone for a Windows id (territory 001), "" when none. */
static void icu_zone(const char *windows, char *out, size_t n)
{
	UChar u[256], z[256];
	to_u(windows, u, 256);
	UErrorCode st = U_ZERO_ERROR;
	int32_t len = ucal_getTimeZoneIDForWindowsID(u, -1, NULL, z, 256, &st);
	from_u(z, U_SUCCESS(st) ? len : 0, out, n);
}

/* The UTC offsets (minutes, DST included) of zone on the 15th of each
 * month of 2023 at 12:00 UTC. */
static void offsets(const char *zone, int out[12])
{
	UChar u[256];
	to_u(zone, u, 256);
	UErrorCode st = U_ZERO_ERROR;
	UCalendar *c = ucal_open(u, -1, "en_US", UCAL_GREGORIAN, &st);
	ck_assert_msg(U_SUCCESS(st), "%s: ucal_open: %s", zone,
		      u_errorName(st));
	for (int m = 0; m < 12; m++) {
		/* 2023-01-15 12:00 UTC, then about a month apart */
		UDate t = 1673784000000.0 + (double)m * 30.44 * 86400000.0;
		ucal_setMillis(c, t, &st);
		int32_t raw = ucal_get(c, UCAL_ZONE_OFFSET, &st);
		int32_t dst = ucal_get(c, UCAL_DST_OFFSET, &st);
		ck_assert_msg(U_SUCCESS(st), "%s: %s", zone, u_errorName(st));
		out[m] = (raw + dst) / 60000;
	}
	ucal_close(c);
}

/* ---- the system's tzdata ---------------------------------------------------
 */

struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *s)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? 2 * ns->cap : 256;
		ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
		ck_assert_ptr_nonnull(ns->v);
	}
	ns->v[ns->n] = strdup(s);
	ck_assert_ptr_nonnull(ns->v[ns->n]);
	ns->n++;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

/* Every zone ("Z name ...") and link ("L target name") of tzdata.zi. */
static struct names tzdata_names(void)
{
	const char *path = getenv("EWS_TZDATA");
	if (!path || !*path)
		path = TZDATA_DEFAULT;
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL,
		      "%s: cannot read the system's tzdata (Debian package "
		      "tzdata; or set EWS_TZDATA)",
		      path);
	struct names ns = {0};
	char line[1024], name[256];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == 'Z' && line[1] == ' ' &&
		    sscanf(line, "Z %255s", name) == 1)
			names_add(&ns, name);
		else if (line[0] == 'L' && line[1] == ' ' &&
			 sscanf(line, "L %*s %255s", name) == 1)
			names_add(&ns, name);
	}
	fclose(f);
	return ns;
}

static void case_variant(const char *s, char *out, size_t n, bool upper)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		out[i] = (char)(upper ? toupper((unsigned char)s[i])
				      : tolower((unsigned char)s[i]));
	out[i] = '\0';
}

/* ---- tests -----------------------------------------------------------------
 */

START_TEST(test_every_tzdata_zone)
{
	struct names ns = tzdata_names();
	size_t mapped = 0, unmapped = 0;
	for (size_t i = 0; i < ns.n; i++) {
		const char *name = ns.v[i];
		char want[256];
		icu_windows(name, want, sizeof(want));
		const char *got = ews_timezone_id(name);
		if (!*want) {
			/* no Windows equivalent (CET, Factory, a zone
			 * newer than ICU's data) */
			ck_assert_msg(got == NULL, "%s: got %s, ICU has none",
				      name, got);
			unmapped++;
			continue;
		}
		mapped++;
		ck_assert_msg(got != NULL, "%s: NULL, ICU says %s", name, want);
		ck_assert_msg(strcmp(got, want) == 0, "%s: %s, ICU says %s",
			      name, got, want);
		/* the same interned string each time */
		ck_assert_ptr_eq(ews_timezone_id(name), got);
		/* IANA names in any case */
		char v[256];
		case_variant(name, v, sizeof(v), false);
		ck_assert_msg(ews_timezone_id(v) == got, "%s", v);
		case_variant(name, v, sizeof(v), true);
		ck_assert_msg(ews_timezone_id(v) == got, "%s", v);

		/* back: the Windows id's zone, as ICU gives it, with the
		 * offsets of the name it came from */
		const char *zone = ews_timezone_zone(got);
		ck_assert_msg(zone != NULL, "%s: no zone for %s", name, got);
		char icu[256];
		icu_zone(got, icu, sizeof(icu));
		if (strcmp(got, "UTC") != 0)
			ck_assert_msg(strcmp(zone, icu) == 0, "%s: %s vs %s",
				      got, zone, icu);
		ck_assert_msg(ews_timezone_id(zone) == got, "%s -> %s -> %s",
			      name, got, zone);
		int a[12], b[12];
		offsets(name, a);
		offsets(zone, b);
		for (int m = 0; m < 12; m++)
			ck_assert_msg(a[m] == b[m],
				      "%s (%s -> %s): month %d: %d vs %d min",
				      name, got, zone, m + 1, a[m], b[m]);
	}
	printf("test_ews_tz: %zu tzdata names, %zu with a Windows id, %zu "
	       "without; ICU knows %zu with one\n",
	       ns.n, mapped, unmapped, ews_timezone_count());
	/* not vacuous: the whole of tzdata, not a handful */
	ck_assert_uint_gt(ns.n, 400);
	ck_assert_uint_gt(mapped, 300);
	ck_assert_uint_gt(ews_timezone_count(), 300);
	names_free(&ns);
}
END_TEST

/* Every Windows id reached from tzdata: as is, in lower and upper case,
 * the canonical spelling comes back. */
START_TEST(test_windows_ids)
{
	struct names ns = tzdata_names();
	struct names wins = {0};
	for (size_t i = 0; i < ns.n; i++) {
		const char *w = ews_timezone_id(ns.v[i]);
		if (!w)
			continue;
		size_t j = 0;
		while (j < wins.n && strcmp(wins.v[j], w) != 0)
			j++;
		if (j == wins.n)
			names_add(&wins, w);
	}
	ck_assert_uint_gt(wins.n, 100);
	for (size_t j = 0; j < wins.n; j++) {
		const char *w = wins.v[j];
		const char *got = ews_timezone_id(w);
		ck_assert_msg(got && strcmp(got, w) == 0, "%s: %s", w, got);
		char v[256];
		case_variant(w, v, sizeof(v), false);
		ck_assert_msg(ews_timezone_id(v) == got, "%s", v);
		case_variant(w, v, sizeof(v), true);
		ck_assert_msg(ews_timezone_id(v) == got, "%s", v);
		ck_assert_ptr_nonnull(ews_timezone_zone(v));
	}
	names_free(&wins);
	names_free(&ns);
}
END_TEST

START_TEST(test_aliases)
{
	static const char *const pairs[][2] = {
	    {"UTC", "UTC"},
	    {"Etc/UTC", "UTC"},
	    {"Etc/GMT", "UTC"},
	    {"utc", "UTC"},
	    {"etc/gmt", "UTC"},
	    {"Asia/Calcutta", "India Standard Time"},
	    {"Asia/Kolkata", "India Standard Time"},
	    {"Europe/Kiev", "FLE Standard Time"},
	    {"Europe/Kyiv", "FLE Standard Time"},
	    {"Europe/Berlin", "W. Europe Standard Time"},
	    {"europe/berlin", "W. Europe Standard Time"},
	    {"Europe/Paris", "Romance Standard Time"},
	    {"Europe/London", "GMT Standard Time"},
	    {"US/Eastern", "Eastern Standard Time"},
	    {"America/New_York", "Eastern Standard Time"},
	    {"America/Buenos_Aires", "Argentina Standard Time"},
	    {"Asia/Saigon", "SE Asia Standard Time"},
	    {"Australia/Sydney", "AUS Eastern Standard Time"},
	    {"Pacific/Auckland", "New Zealand Standard Time"},
	    {"W. Europe Standard Time", "W. Europe Standard Time"},
	    {"w. europe standard time", "W. Europe Standard Time"},
	    {"INDIA STANDARD TIME", "India Standard Time"},
	    {"Central Standard Time (Mexico)",
	     "Central Standard Time (Mexico)"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const char *got = ews_timezone_id(pairs[i][0]);
		ck_assert_msg(got && strcmp(got, pairs[i][1]) == 0,
			      "%s: %s, expected %s", pairs[i][0], got,
			      pairs[i][1]);
	}
	ck_assert_str_eq(ews_timezone_zone("W. Europe Standard Time"),
			 "Europe/Berlin");
	ck_assert_str_eq(ews_timezone_zone("india standard time"),
			 "Asia/Calcutta");
	ck_assert_str_eq(ews_timezone_zone("UTC"), "Etc/UTC");
	/* zones without a Windows equivalent */
	ck_assert_ptr_null(ews_timezone_id("Factory"));
	ck_assert_ptr_null(ews_timezone_id("Europe/Atlantis"));
	ck_assert_ptr_null(ews_timezone_id("Mars/Olympus"));
	ck_assert_ptr_null(ews_timezone_zone("Europe/Berlin"));
	ck_assert_ptr_null(ews_timezone_zone("Mid-Atlantis Standard Time"));
}
END_TEST

START_TEST(test_garbage)
{
	static char huge[100000];
	memset(huge, 'A', sizeof(huge) - 1);
	ck_assert_ptr_null(ews_timezone_id(NULL));
	ck_assert_ptr_null(ews_timezone_id(""));
	ck_assert_ptr_null(ews_timezone_id(huge));
	ck_assert_ptr_null(ews_timezone_zone(huge));
	/* a known name with a long tail */
	memcpy(huge, "Europe/Berlin", 13);
	ck_assert_ptr_null(ews_timezone_id(huge));
	memcpy(huge, "UTC", 4);
	ck_assert_str_eq(ews_timezone_id(huge), "UTC");
	/* EWS_TZ_NAME_MAX bytes: taken, unknown; one more: refused */
	char edge[EWS_TZ_NAME_MAX + 2];
	memset(edge, 'x', sizeof(edge));
	edge[EWS_TZ_NAME_MAX] = '\0';
	ck_assert_ptr_null(ews_timezone_id(edge));
	edge[EWS_TZ_NAME_MAX] = 'x';
	edge[EWS_TZ_NAME_MAX + 1] = '\0';
	ck_assert_ptr_null(ews_timezone_id(edge));
	static const char *const bad[] = {
	    "Europe/Berl\xc3\xadn",
	    "Europe/Berlin\x80",
	    "\xff\xfe",
	    "W. Europe Standard Time\xa0",
	    "\xe2\x80\x8bUTC",
	    "Europe/Berlin\n",
	    "Europe/Berlin ",
	    " Europe/Berlin",
	    "Europe\tBerlin",
	    "../../../etc/passwd",
	    "Europe/",
	    "/",
	    "GMT+05:00",
	    "%s%s%s%n",
	    "Etc/UTC\x01",
	    "UTC/../UTC",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ews_timezone_id(bad[i]) == NULL, "bad %zu", i);
		ck_assert_msg(ews_timezone_zone(bad[i]) == NULL, "bad %zu", i);
	}
	/* every single byte */
	for (int c = 1; c < 256; c++) {
		char one[2] = {(char)c, '\0'};
		ck_assert_ptr_null(ews_timezone_id(one));
	}
}
END_TEST

START_TEST(test_check_error)
{
	struct sb_error err;
	const char *id = "x";
	ck_assert_int_eq(
	    ews_timezone_check("TimeZone", "Asia/Calcutta", &id, &err), SB_OK);
	ck_assert_str_eq(id, "India Standard Time");
	ck_assert_int_eq(
	    ews_timezone_check("timezone", "Mars/Olympus", &id, &err),
	    SB_ERR_INVALID_INPUT);
	ck_assert_ptr_null(id);
	ck_assert_int_eq(err.status, SB_ERR_INVALID_INPUT);
	ck_assert_msg(strncmp(err.message, "timezone: \"Mars/Olympus\"", 24) ==
			  0,
		      "%s", err.message);
	ck_assert_ptr_nonnull(strstr(err.message, "IANA"));
	/* a hostile value is shown cut and as valid text */
	static char huge[5000];
	memset(huge, 'B', sizeof(huge) - 1);
	huge[10] = '\x01';
	huge[20] = '\xff';
	ck_assert_int_eq(ews_timezone_check("TimeZone", huge, NULL, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_uint_lt(strlen(err.message), 400);
	ck_assert_ptr_null(strchr(err.message, '\x01'));
	ck_assert_ptr_null(strchr(err.message, '\xff'));
	ck_assert_msg(strncmp(err.message, "TimeZone: \"", 11) == 0, "%s",
		      err.message);
	ck_assert_int_eq(ews_timezone_check("TimeZone", NULL, NULL, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_int_eq(ews_timezone_check("TimeZone", "", NULL, NULL),
			 SB_ERR_INVALID_INPUT);
}
END_TEST

/* The tables are built by whichever thread asks first (each test runs in
 * a fresh process): many threads at once get the same answers. */
static void *lookups(void *arg)
{
	static const char *const names[] = {
	    "Europe/Berlin", "Asia/Calcutta", "w. europe standard time",
	    "Europe/Kiev",   "Mars/Olympus",  "Etc/GMT",
	    "US/Pacific",    "Factory"};
	static const char *const want[] = {"W. Europe Standard Time",
					   "India Standard Time",
					   "W. Europe Standard Time",
					   "FLE Standard Time",
					   NULL,
					   "UTC",
					   "Pacific Standard Time",
					   NULL};
	long bad = 0;
	for (int r = 0; r < 2000; r++)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const char *got = ews_timezone_id(names[i]);
			if (want[i] ? !got || strcmp(got, want[i]) != 0
				    : got != NULL)
				bad++;
		}
	(void)arg;
	return (void *)bad;
}

START_TEST(test_threads)
{
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, lookups, NULL), 0);
	for (int i = 0; i < 8; i++) {
		void *bad;
		ck_assert_int_eq(pthread_join(t[i], &bad), 0);
		ck_assert_int_eq((long)bad, 0);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("exchange-ews time zones");
	TCase *tc = tcase_create("tz");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_tzdata_zone);
	tcase_add_test(tc, test_windows_ids);
	tcase_add_test(tc, test_aliases);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_check_error);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
