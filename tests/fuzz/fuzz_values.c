/* Fuzz target: the value types' string parsers (core/types.c, and
 * sb_email_valid / sb_utf8_valid of core/sdk.c): datetime, date, time,
 * duration, decimal, number, guid, e-mail, text and memo.
 *
 * Invariants: sb_type_check agrees with the typed parsers; a datetime that
 * parses formats to a canonical datetime that parses to the same instant; a
 * duration that parses re-parses to the same seconds from its canonical
 * forms; a date or time is valid exactly when the datetime built from it
 * is; every number is a decimal and round-trips through int64; a GUID is 36
 * characters and case-insensitive; an e-mail address and a text value are
 * valid UTF-8 without line breaks; every text is a memo. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>

#include <svcbroker/sdk.h>
#include <svcbroker/types.h>

#include "fuzz.h"

static bool valid(enum sb_type t, const char *s)
{
	const char *why = NULL;
	bool ok = sb_type_check(t, s, NULL, &why);
	FUZZ_CHECK(ok || why, "type %s refused '%s' without a reason",
		   sb_type_name(t), s);
	return ok;
}

static void check_datetime(const char *s)
{
	int64_t epoch = 0;
	bool ok = sb_datetime_parse(s, &epoch);
	FUZZ_CHECK(ok == valid(SB_TYPE_DATETIME, s),
		   "sb_datetime_parse and sb_type_check disagree on '%s'", s);
	if (!ok)
		return;
	char buf[64], buf2[64];
	sb_datetime_format(epoch, buf, sizeof(buf));
	int64_t again = 0;
	FUZZ_CHECK(sb_datetime_parse(buf, &again),
		   "'%s' parses to %" PRId64 ", formatted as '%s' which does "
		   "not parse",
		   s, epoch, buf);
	FUZZ_CHECK(again == epoch, "'%s' -> %" PRId64 " -> '%s' -> %" PRId64, s,
		   epoch, buf, again);
	sb_datetime_format(again, buf2, sizeof(buf2));
	FUZZ_CHECK(strcmp(buf, buf2) == 0, "format not canonical: '%s' '%s'",
		   buf, buf2);
	/* The date and time parts are valid dates and times. */
	char part[16];
	memcpy(part, s, 10);
	part[10] = '\0';
	FUZZ_CHECK(valid(SB_TYPE_DATE, part), "date part '%s' of '%s'", part,
		   s);
	memcpy(part, s + 11, 8);
	part[8] = '\0';
	FUZZ_CHECK(valid(SB_TYPE_TIME, part), "time part '%s' of '%s'", part,
		   s);
}

static void check_date_time(const char *s)
{
	size_t len = strlen(s);
	char dt[64];
	if (len < 40) {
		snprintf(dt, sizeof(dt), "%sT12:00:00Z", s);
		FUZZ_CHECK(valid(SB_TYPE_DATE, s) ==
			       valid(SB_TYPE_DATETIME, dt),
			   "date '%s' vs datetime '%s'", s, dt);
		snprintf(dt, sizeof(dt), "2000-02-29T%s%sZ", s,
			 len == 5 ? ":00" : "");
		FUZZ_CHECK(!valid(SB_TYPE_TIME, s) ||
			       valid(SB_TYPE_DATETIME, dt),
			   "time '%s' valid but datetime '%s' not", s, dt);
	}
}

static void check_duration(const char *s)
{
	int64_t secs = -1;
	bool ok = sb_duration_parse(s, &secs);
	FUZZ_CHECK(ok == valid(SB_TYPE_DURATION, s),
		   "sb_duration_parse and sb_type_check disagree on '%s'", s);
	if (!ok)
		return;
	FUZZ_CHECK(secs >= 0, "'%s' -> negative %" PRId64, s, secs);
	char buf[96];
	int64_t again = -1;
	snprintf(buf, sizeof(buf), "PT%" PRId64 "S", secs);
	FUZZ_CHECK(sb_duration_parse(buf, &again) && again == secs,
		   "'%s' -> %" PRId64 " -> '%s' -> %" PRId64, s, secs, buf,
		   again);
	snprintf(buf, sizeof(buf),
		 "P%" PRId64 "DT%" PRId64 "H%" PRId64 "M%" PRId64 "S",
		 secs / 86400, secs % 86400 / 3600, secs % 3600 / 60,
		 secs % 60);
	again = -1;
	FUZZ_CHECK(sb_duration_parse(buf, &again) && again == secs,
		   "'%s' -> %" PRId64 " -> '%s' -> %" PRId64, s, secs, buf,
		   again);
}

static void check_numbers(const char *s)
{
	bool num = valid(SB_TYPE_NUMBER, s);
	bool dec = valid(SB_TYPE_DECIMAL, s);
	FUZZ_CHECK(!num || dec, "number '%s' is not a decimal", s);
	if (dec)
		FUZZ_CHECK(strspn(s, "-0123456789.") == strlen(s),
			   "decimal '%s' holds other characters", s);
	/* The number syntax is strtoll's, without '+' or white space. */
	errno = 0;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	const char *d = s + (*s == '-');
	bool strict =
	    *d >= '0' && *d <= '9' && errno == 0 && end && *end == '\0';
	FUZZ_CHECK(num == strict, "number '%s': check %d, strtoll %d", s, num,
		   strict);
	if (num) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", v);
		FUZZ_CHECK(valid(SB_TYPE_NUMBER, buf), "'%s' -> '%s'", s, buf);
	}
}

static void check_guid(const char *s)
{
	if (!valid(SB_TYPE_GUID, s))
		return;
	FUZZ_CHECK(strlen(s) == 36, "guid '%s' is not 36 characters", s);
	char up[37];
	for (size_t i = 0; i < 37; i++)
		up[i] = (char)(s[i] >= 'a' && s[i] <= 'f' ? s[i] - 32 : s[i]);
	FUZZ_CHECK(valid(SB_TYPE_GUID, up), "guid '%s' but not '%s'", s, up);
}

static void check_text(const char *s)
{
	bool text = valid(SB_TYPE_TEXT, s), memo = valid(SB_TYPE_MEMO, s);
	FUZZ_CHECK(!text || memo, "text '%s' is not a memo", s);
	FUZZ_CHECK(!memo || sb_utf8_valid(s, strlen(s)),
		   "memo is not valid UTF-8");
	if (memo && !strpbrk(s, "\t\r\n") && !strstr(s, "\xe2\x80\xa8") &&
	    !strstr(s, "\xe2\x80\xa9"))
		FUZZ_CHECK(text, "memo without line breaks is not a text: '%s'",
			   s);
	if (valid(SB_TYPE_EMAIL, s))
		FUZZ_CHECK(text && strchr(s, '@'),
			   "e-mail address '%s' is not a one-line text", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = fuzz_cstr(data, size);
	check_datetime(s);
	check_date_time(s);
	check_duration(s);
	check_numbers(s);
	check_guid(s);
	check_text(s);
	const char *const choices[] = {"Low", "Normal", "High", NULL};
	bool e = sb_type_check(SB_TYPE_ENUM, s, choices, NULL);
	FUZZ_CHECK(e == (strcmp(s, "Low") == 0 || strcmp(s, "Normal") == 0 ||
			 strcmp(s, "High") == 0),
		   "enum '%s'", s);
	free(s);
	return 0;
}
