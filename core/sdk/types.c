/* Value types: names, string validation, date/time and duration parsing. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <svcbroker/broker.h>
#include <svcbroker/sdk.h>
#include <svcbroker/types.h>

#include "sdk_int.h"

static const char *const type_names[SB_TYPE_COUNT_] = {
    [SB_TYPE_TEXT] = "text",	     [SB_TYPE_MEMO] = "memo",
    [SB_TYPE_NUMBER] = "number",     [SB_TYPE_DECIMAL] = "decimal",
    [SB_TYPE_BOOLEAN] = "boolean",   [SB_TYPE_DATETIME] = "datetime",
    [SB_TYPE_DATE] = "date",	     [SB_TYPE_TIME] = "time",
    [SB_TYPE_DURATION] = "duration", [SB_TYPE_GUID] = "guid",
    [SB_TYPE_EMAIL] = "email",	     [SB_TYPE_ENUM] = "enum",
    [SB_TYPE_FILE] = "file",
};

const char *sb_type_name(enum sb_type t)
{
	if ((unsigned)t >= SB_TYPE_COUNT_)
		return NULL;
	return type_names[t];
}

const char *sb_method_kind_name(enum sb_method_kind k)
{
	switch (k) {
	case SB_KIND_CREATE:
		return "create";
	case SB_KIND_READ:
		return "read";
	case SB_KIND_UPDATE:
		return "update";
	case SB_KIND_DELETE:
		return "delete";
	case SB_KIND_LIST:
		return "list";
	case SB_KIND_EXECUTE:
		return "execute";
	}
	return NULL;
}

/* ---- small parsers ---------------------------------------------------- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Exactly n digits at *p; advances. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	if (m == 2 && is_leap(y))
		return 29;
	return dim[m - 1];
}

/* YYYY-MM-DD at *p. */
static bool parse_date(const char **p, int *y, int *m, int *d)
{
	const char *s = *p;
	if (!digits(&s, 4, y) || *s++ != '-' || !digits(&s, 2, m) ||
	    *s++ != '-' || !digits(&s, 2, d))
		return false;
	if (*m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
		return false;
	*p = s;
	return true;
}

/* HH:MM[:SS] (seconds required if need_sec) with optional fraction when
 * allow_frac. */
static bool parse_time(const char **p, bool need_sec, bool allow_frac, int *h,
		       int *mi, int *sec)
{
	const char *s = *p;
	if (!digits(&s, 2, h) || *s++ != ':' || !digits(&s, 2, mi))
		return false;
	*sec = 0;
	if (*s == ':') {
		s++;
		if (!digits(&s, 2, sec))
			return false;
		if (allow_frac && *s == '.') {
			s++;
			int n = 0;
			while (is_digit(*s) && n < 9) {
				s++;
				n++;
			}
			if (n == 0 || is_digit(*s))
				return false;
		}
	} else if (need_sec) {
		return false;
	}
	if (*h > 23 || *mi > 59 || *sec > 59)
		return false;
	*p = s;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
int64_t sdk_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void sdk_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

bool sb_datetime_parse(const char *s, int64_t *epoch)
{
	if (!s)
		return false;
	int y, mo, d, h, mi, sec;
	const char *p = s;
	if (!parse_date(&p, &y, &mo, &d) || *p++ != 'T' ||
	    !parse_time(&p, true, true, &h, &mi, &sec))
		return false;
	int64_t off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh, om;
		p++;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
			return false;
		if (oh > 23 || om > 59)
			return false;
		off = sign * ((int64_t)oh * 3600 + om * 60);
	} else {
		return false;
	}
	if (*p != '\0')
		return false;
	int64_t t = sdk_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
		    mi * 60 + sec - off;
	/* The instant must be writable in UTC (sb_datetime_format): an offset
	 * may not carry it out of the years 0000..9999. */
	if (t < sdk_days_from_civil(0, 1, 1) * 86400 ||
	    t >= sdk_days_from_civil(10000, 1, 1) * 86400)
		return false;
	if (epoch)
		*epoch = t;
	return true;
}

void sb_datetime_format(int64_t epoch, char *buf, size_t len)
{
	if (!buf || len == 0)
		return;
	int64_t days = epoch / 86400, rem = epoch % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	int m, d;
	sdk_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m,
		 d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

/* Digits into *v with overflow check; returns chars read (0 if none). */
static size_t read_uint(const char *s, int64_t *v)
{
	size_t n = 0;
	int64_t x = 0;
	while (is_digit(s[n])) {
		if (x > (INT64_MAX - 9) / 10)
			return 0;
		x = x * 10 + (s[n] - '0');
		n++;
	}
	*v = x;
	return n;
}

/* ISO 8601 duration: P[nW][nD][T[nH][nM][nS]].  Years and months have no
 * fixed length and are refused. */
static bool duration_parse(const char *s, int64_t *seconds, const char **why)
{
	static const char *const msg =
	    "expected ISO 8601 duration such as PT30M or P1DT2H";
	if (!s || *s != 'P') {
		*why = msg;
		return false;
	}
	const char *p = s + 1;
	bool in_time = false, any = false;
	int64_t total = 0;
	/* Order of designators that may follow: date part W D, time H M S. */
	int last = 0;
	while (*p) {
		if (*p == 'T') {
			if (in_time || p[1] == '\0') {
				*why = msg;
				return false;
			}
			in_time = true;
			last = 2;
			p++;
			continue;
		}
		int64_t v;
		size_t n = read_uint(p, &v);
		if (n == 0) {
			*why = msg;
			return false;
		}
		p += n;
		int64_t unit;
		int rank;
		char c = *p++;
		if (!in_time && c == 'W') {
			unit = 7 * 86400;
			rank = 1;
		} else if (!in_time && c == 'D') {
			unit = 86400;
			rank = 2;
		} else if (in_time && c == 'H') {
			unit = 3600;
			rank = 3;
		} else if (in_time && c == 'M') {
			unit = 60;
			rank = 4;
		} else if (in_time && c == 'S') {
			unit = 1;
			rank = 5;
		} else if (!in_time && (c == 'Y' || c == 'M')) {
			*why = "years and months have no fixed length: use "
			       "weeks or days";
			return false;
		} else {
			*why = msg;
			return false;
		}
		if (rank <= last) {
			*why = msg;
			return false;
		}
		last = rank;
		if (v > (INT64_MAX - total) / unit) {
			*why = "duration is too long";
			return false;
		}
		total += v * unit;
		any = true;
	}
	if (!any) {
		*why = msg;
		return false;
	}
	if (seconds)
		*seconds = total;
	return true;
}

bool sb_duration_parse(const char *s, int64_t *seconds)
{
	const char *why;
	return duration_parse(s, seconds, &why);
}

/* ---- sb_type_check ---------------------------------------------------- */

static bool check_text(const char *s, bool memo, const char **why)
{
	size_t len = strlen(s);
	if (!sb_utf8_valid(s, len)) {
		*why = "not valid UTF-8";
		return false;
	}
	for (size_t i = 0, k; i < len; i += k) {
		uint32_t cp;
		k = sb_utf8_decode(s + i, len - i, &cp);
		bool ctrl =
		    cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
		if (!ctrl && !memo && (cp == 0x2028 || cp == 0x2029))
			ctrl = true; /* line/paragraph separators */
		if (ctrl && memo && (cp == '\t' || cp == '\n' || cp == '\r'))
			ctrl = false;
		if (ctrl) {
			*why = memo ? "contains a control character (only TAB, "
				      "CR and LF are allowed)"
				    : "contains a control character or line "
				      "break (one line of text expected)";
			return false;
		}
	}
	return true;
}

static bool check_decimal(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (!is_digit(*p))
		return false;
	while (is_digit(*p))
		p++;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	return *p == '\0';
}

static bool check_number(const char *s)
{
	const char *p = s;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit(*p))
		return false;
	uint64_t v = 0;
	while (is_digit(*p)) {
		unsigned dgt = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
		p++;
	}
	if (*p)
		return false;
	return neg ? v <= (uint64_t)INT64_MAX + 1 : v <= (uint64_t)INT64_MAX;
}

static bool check_guid(const char *s)
{
	static const int groups[5] = {8, 4, 4, 4, 12};
	const char *p = s;
	for (int g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, p++) {
			char c = *p;
			if (!(is_digit(c) || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F')))
				return false;
		}
		if (g < 4 && *p++ != '-')
			return false;
	}
	return *p == '\0';
}

bool sb_type_check(enum sb_type t, const char *s, const char *const *choices,
		   const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	if (!s) {
		*why = "missing value";
		return false;
	}
	switch (t) {
	case SB_TYPE_TEXT:
		return check_text(s, false, why);
	case SB_TYPE_MEMO:
		return check_text(s, true, why);
	case SB_TYPE_NUMBER:
		if (check_number(s))
			return true;
		*why = "expected a whole number (64-bit)";
		return false;
	case SB_TYPE_DECIMAL:
		if (check_decimal(s))
			return true;
		*why = "expected a decimal number such as -12.50";
		return false;
	case SB_TYPE_BOOLEAN:
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
			return true;
		*why = "expected true or false";
		return false;
	case SB_TYPE_DATETIME:
		if (sb_datetime_parse(s, NULL))
			return true;
		*why = "expected ISO 8601 date-time with offset, such as "
		       "2026-01-31T09:00:00Z or 2026-01-31T09:00:00+01:00";
		return false;
	case SB_TYPE_DATE: {
		int y, m, d;
		const char *p = s;
		if (parse_date(&p, &y, &m, &d) && *p == '\0')
			return true;
		*why = "expected ISO 8601 date such as 2026-01-31";
		return false;
	}
	case SB_TYPE_TIME: {
		int h, mi, sec;
		const char *p = s;
		if (parse_time(&p, false, false, &h, &mi, &sec) && *p == '\0')
			return true;
		*why = "expected a time such as 09:30 or 09:30:00";
		return false;
	}
	case SB_TYPE_DURATION:
		return duration_parse(s, NULL, why);
	case SB_TYPE_GUID:
		if (check_guid(s))
			return true;
		*why = "expected a GUID such as "
		       "0f8fad5b-d9cb-469f-a165-70867728950e";
		return false;
	case SB_TYPE_EMAIL:
		if (sb_email_valid(s))
			return true;
		*why = "expected an e-mail address such as user@example.com "
		       "(no display name)";
		return false;
	case SB_TYPE_ENUM:
		if (choices) {
			for (size_t i = 0; choices[i]; i++)
				if (strcmp(choices[i], s) == 0)
					return true;
		}
		*why = "not one of the declared choices";
		return false;
	case SB_TYPE_FILE:
		*why = "a file is not a string value";
		return false;
	case SB_TYPE_COUNT_:
		break;
	}
	*why = "unknown type";
	return false;
}
