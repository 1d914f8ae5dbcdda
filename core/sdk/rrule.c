/* The shared Recurrence value: a reader and writer of the RFC 5545 RRULE
 * subset every broker takes (see <svcbroker/rrule.h>).
 *
 * The text is outside input: bounded in length, read from a copy on the
 * stack, every number bounded in digits before it is converted, and every
 * refusal names the part and the value at fault. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <svcbroker/rrule.h>

#include "sdk_int.h"

#define PREFIX "Recurrence: "
#define SUPPORTED                                                              \
	"FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, "               \
	"COUNT, UNTIL"
#define FREQS "DAILY, WEEKLY, MONTHLY or YEARLY"
#define QUOTE_MAX 40 /* bytes of a value quoted in a message */

static const char *const freq_names[] = {NULL, "DAILY", "WEEKLY", "MONTHLY",
					 "YEARLY"};
static const char *const day_names[] = {"MO", "TU", "WE", "TH",
					"FR", "SA", "SU"};

/* Parts of RFC 5545 (and RFC 7529) that are valid iCalendar but not taken
 * here: refused by name rather than called unknown. */
static const char *const unsupported_parts[] = {
    "BYSECOND", "BYMINUTE", "BYHOUR", "BYWEEKNO", "BYYEARDAY",
    "WKST",	"RSCALE",   "SKIP",   NULL};

enum part {
	P_FREQ,
	P_INTERVAL,
	P_BYDAY,
	P_BYMONTHDAY,
	P_BYMONTH,
	P_BYSETPOS,
	P_COUNT,
	P_UNTIL,
	P_N_
};
static const char *const part_names[P_N_] = {
    "FREQ",    "INTERVAL", "BYDAY", "BYMONTHDAY",
    "BYMONTH", "BYSETPOS", "COUNT", "UNTIL"};

/* The text being read: an upper-case copy that is cut into parts, and the
 * original cut the same way, so a message quotes what the caller wrote. */
struct reader {
	char up[SB_RRULE_TEXT_MAX + 1];
	char orig[SB_RRULE_TEXT_MAX + 1];
	struct sb_error *err;
};

static enum sb_status bad(struct reader *rd, const char *fmt, ...)
    SB_PRINTF(2, 3);

static enum sb_status bad(struct reader *rd, const char *fmt, ...)
{
	char msg[SB_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return sb_error_set(rd->err, SB_ERR_INVALID_INPUT, SB_RRULE_ERROR_CODE,
			    PREFIX "%s", msg);
}

/* The caller's own spelling of the cut string at p (inside rd->up). */
static const char *orig_of(const struct reader *rd, const char *p)
{
	return rd->orig + (p - rd->up);
}

static void cut(struct reader *rd, char *p)
{
	rd->orig[p - rd->up] = '\0';
	*p = '\0';
}

/* Characters an RRULE value of this subset can hold. */
static bool char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' ||
	       c == ';' || c == ',' || c == '+' || c == '-';
}

/* A whole number of 1..9 digits with an optional sign (when signed);
 * false for anything else. */
static bool number(const char *s, bool signed_ok, int *out)
{
	int sign = 1;
	if (signed_ok && (*s == '+' || *s == '-')) {
		sign = *s == '-' ? -1 : 1;
		s++;
	}
	size_t n = 0;
	long v = 0;
	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n == 9)
			return false;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0 || s[n] != '\0')
		return false;
	*out = (int)(sign * v);
	return true;
}

/* ---- dates ---------------------------------------------------------- */

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static enum sb_status parse_until(struct reader *rd, const char *v,
				  struct sb_rrule *r)
{
	const char *q = orig_of(rd, v);
	size_t n = strlen(v);
	bool is_date = n == 8 && all_digits(v, 8);
	bool is_time = (n == 15 || n == 16) && all_digits(v, 8) &&
		       v[8] == 'T' && all_digits(v + 9, 6) &&
		       (n == 15 || v[15] == 'Z');
	if (!is_date && !is_time)
		return bad(rd,
			   "UNTIL \"%.*s\" is not a date (YYYYMMDD) or a UTC "
			   "date-time (YYYYMMDDTHHMMSSZ)",
			   QUOTE_MAX, q);
	if (is_time && n == 15)
		return bad(rd,
			   "UNTIL \"%s\": a date-time must be in UTC (end in "
			   "Z)",
			   q);
	int y = digits(v, 4), m = digits(v + 4, 2), d = digits(v + 6, 2);
	if (y < 1601 || y > 9999)
		return bad(rd, "UNTIL \"%s\": the year must be 1601..9999", q);
	if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return bad(rd, "UNTIL \"%s\" is not an existing day", q);
	int h = 0, mi = 0, s = 0;
	if (is_time) {
		h = digits(v + 9, 2);
		mi = digits(v + 11, 2);
		s = digits(v + 13, 2);
		if (h > 23 || mi > 59 || s > 59)
			return bad(
			    rd, "UNTIL \"%s\" is not a valid time of day", q);
	}
	r->has_until = true;
	r->until_is_date = is_date;
	r->until =
	    sdk_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
	return SB_OK;
}

/* ---- parts ---------------------------------------------------------- */

static enum sb_status parse_freq(struct reader *rd, const char *v,
				 struct sb_rrule *r)
{
	for (int f = SB_RRULE_DAILY; f <= SB_RRULE_YEARLY; f++)
		if (strcmp(v, freq_names[f]) == 0) {
			r->freq = (enum sb_rrule_freq)f;
			return SB_OK;
		}
	if (strcmp(v, "SECONDLY") == 0 || strcmp(v, "MINUTELY") == 0 ||
	    strcmp(v, "HOURLY") == 0)
		return bad(rd, "FREQ=%s is not supported (" FREQS ")",
			   orig_of(rd, v));
	return bad(rd, "FREQ \"%.*s\" is not a frequency (" FREQS ")",
		   QUOTE_MAX, orig_of(rd, v));
}

static enum sb_status parse_bounded(struct reader *rd, const char *name,
				    const char *v, int max, int *out)
{
	int n;
	if (!number(v, false, &n) || n < 1 || n > max)
		return bad(rd, "%s \"%.*s\" is not a whole number 1..%d", name,
			   QUOTE_MAX, orig_of(rd, v), max);
	*out = n;
	return SB_OK;
}

static enum sb_status parse_byday_item(struct reader *rd, const char *v,
				       struct sb_rrule_byday *out)
{
	size_t n = strlen(v);
	int day = -1;
	if (n >= 2)
		for (int i = 0; i < 7; i++)
			if (strcmp(v + n - 2, day_names[i]) == 0)
				day = i;
	char num[16];
	int ord = 0;
	bool ok = day >= 0 && n - 2 < sizeof num;
	if (ok && n > 2) {
		memcpy(num, v, n - 2);
		num[n - 2] = '\0';
		ok = number(num, true, &ord);
		if (ok && (ord == 0 || ord > 53 || ord < -53))
			return bad(rd,
				   "BYDAY value \"%.*s\": the ordinal must be "
				   "1..53 or -53..-1",
				   QUOTE_MAX, orig_of(rd, v));
	}
	if (!ok)
		return bad(rd,
			   "BYDAY value \"%.*s\" is not a weekday (MO, TU, WE, "
			   "TH, FR, SA, SU) with an optional ordinal such as "
			   "2MO or -1FR",
			   QUOTE_MAX, orig_of(rd, v));
	out->ordinal = ord;
	out->day = (enum sb_rrule_weekday)day;
	return SB_OK;
}

/* Split a list value at ',' and read each item with one(); refuses empty
 * items, more than max items and a value given twice. */
static enum sb_status parse_list(struct reader *rd, const char *name, char *v,
				 size_t max, struct sb_rrule *r,
				 enum part which)
{
	size_t n = 0;
	for (char *item = v;;) {
		char *comma = strchr(item, ',');
		if (comma)
			cut(rd, comma);
		if (*item == '\0')
			return bad(rd,
				   "%s has an empty value (a ',' too many?)",
				   name);
		if (n == max)
			return bad(rd, "%s has more than %zu values", name,
				   max);
		enum sb_status st = SB_OK;
		bool dup = false;
		int num;
		switch (which) {
		case P_BYDAY: {
			struct sb_rrule_byday b;
			st = parse_byday_item(rd, item, &b);
			if (st != SB_OK)
				return st;
			for (size_t i = 0; i < n; i++)
				dup |= r->byday[i].ordinal == b.ordinal &&
				       r->byday[i].day == b.day;
			r->byday[n] = b;
			break;
		}
		case P_BYMONTHDAY:
			if (!number(item, true, &num) || num == 0 || num > 31 ||
			    num < -31)
				return bad(rd,
					   "BYMONTHDAY value \"%.*s\" is not a "
					   "day of the month (1..31 or "
					   "-31..-1)",
					   QUOTE_MAX, orig_of(rd, item));
			for (size_t i = 0; i < n; i++)
				dup |= r->bymonthday[i] == num;
			r->bymonthday[n] = num;
			break;
		case P_BYMONTH:
			if (!number(item, false, &num) || num < 1 || num > 12)
				return bad(rd,
					   "BYMONTH value \"%.*s\" is not a "
					   "month (1..12)",
					   QUOTE_MAX, orig_of(rd, item));
			for (size_t i = 0; i < n; i++)
				dup |= r->bymonth[i] == num;
			r->bymonth[n] = num;
			break;
		default: /* P_BYSETPOS */
			if (!number(item, true, &num) || num == 0 ||
			    num > 366 || num < -366)
				return bad(rd,
					   "BYSETPOS value \"%.*s\" is not a "
					   "position (1..366 or -366..-1)",
					   QUOTE_MAX, orig_of(rd, item));
			for (size_t i = 0; i < n; i++)
				dup |= r->bysetpos[i] == num;
			r->bysetpos[n] = num;
			break;
		}
		if (dup)
			return bad(rd, "%s names \"%.*s\" twice", name,
				   QUOTE_MAX, orig_of(rd, item));
		n++;
		if (!comma)
			break;
		item = comma + 1;
	}
	switch (which) {
	case P_BYDAY:
		r->n_byday = n;
		break;
	case P_BYMONTHDAY:
		r->n_bymonthday = n;
		break;
	case P_BYMONTH:
		r->n_bymonth = n;
		break;
	default:
		r->n_bysetpos = n;
	}
	return SB_OK;
}

static enum sb_status parse_part(struct reader *rd, enum part which, char *v,
				 struct sb_rrule *r)
{
	switch (which) {
	case P_FREQ:
		return parse_freq(rd, v, r);
	case P_INTERVAL:
		return parse_bounded(rd, "INTERVAL", v, SB_RRULE_INTERVAL_MAX,
				     &r->interval);
	case P_COUNT:
		return parse_bounded(rd, "COUNT", v, SB_RRULE_COUNT_MAX,
				     &r->count);
	case P_UNTIL:
		return parse_until(rd, v, r);
	case P_BYDAY:
		return parse_list(rd, "BYDAY", v, SB_RRULE_LIST_MAX, r, which);
	case P_BYMONTHDAY:
		return parse_list(rd, "BYMONTHDAY", v, SB_RRULE_LIST_MAX, r,
				  which);
	case P_BYMONTH:
		return parse_list(rd, "BYMONTH", v, 12, r, which);
	default:
		return parse_list(rd, "BYSETPOS", v, SB_RRULE_LIST_MAX, r,
				  which);
	}
}

/* The rules between parts, once every part is read. */
static enum sb_status cross_check(struct reader *rd, const struct sb_rrule *r,
				  const bool *seen)
{
	if (!seen[P_FREQ])
		return bad(rd, "FREQ is missing (" FREQS ")");
	if (seen[P_COUNT] && seen[P_UNTIL])
		return bad(rd, "COUNT and UNTIL exclude each other: give one "
			       "of them");
	int lim = r->freq == SB_RRULE_MONTHLY  ? 5
		  : r->freq == SB_RRULE_YEARLY ? 53
					       : 0;
	for (size_t i = 0; i < r->n_byday; i++) {
		int o = r->byday[i].ordinal;
		if (o == 0 || (o <= lim && o >= -lim))
			continue;
		if (lim == 0)
			return bad(rd,
				   "BYDAY value \"%d%s\": an ordinal needs "
				   "FREQ=MONTHLY or FREQ=YEARLY, not FREQ=%s",
				   o, day_names[r->byday[i].day],
				   freq_names[r->freq]);
		return bad(rd,
			   "BYDAY value \"%d%s\": with FREQ=%s the ordinal "
			   "must be 1..%d or -%d..-1",
			   o, day_names[r->byday[i].day], freq_names[r->freq],
			   lim, lim);
	}
	if (r->n_bymonthday && r->freq == SB_RRULE_WEEKLY)
		return bad(rd, "BYMONTHDAY cannot be used with FREQ=WEEKLY");
	if (r->n_bysetpos && !r->n_byday && !r->n_bymonthday && !r->n_bymonth)
		return bad(rd, "BYSETPOS needs another BY part (BYDAY, "
			       "BYMONTHDAY or BYMONTH) to pick from");
	return SB_OK;
}

enum sb_status sb_rrule_parse(const char *text, struct sb_rrule *out,
			      struct sb_error *err)
{
	struct reader rd;
	struct sb_rrule r;
	memset(&r, 0, sizeof r);
	r.interval = 1;
	rd.err = err;
	size_t n = text ? strlen(text) : 0;
	if (n == 0)
		return bad(&rd, "empty: give at least FREQ (" FREQS ")");
	if (n > SB_RRULE_TEXT_MAX)
		return bad(&rd, "longer than %d bytes", SB_RRULE_TEXT_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		rd.orig[i] = c;
		rd.up[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	rd.orig[n] = rd.up[n] = '\0';
	if (strncmp(rd.up, "RRULE:", 6) == 0)
		return bad(&rd, "give the RRULE value only, without \"%.6s\"",
			   rd.orig);
	for (size_t i = 0; i < n; i++)
		if (!char_ok((unsigned char)rd.up[i])) {
			unsigned char c = (unsigned char)text[i];
			if (c > 0x20 && c < 0x7f)
				return bad(&rd,
					   "unexpected character '%c' at byte "
					   "%zu",
					   c, i + 1);
			return bad(&rd,
				   "unexpected byte 0x%02X at byte %zu "
				   "(only letters, digits and = ; , + - are "
				   "used)",
				   c, i + 1);
		}

	bool seen[P_N_] = {false};
	for (char *part = rd.up;;) {
		char *semi = strchr(part, ';');
		if (semi)
			cut(&rd, semi);
		if (*part == '\0')
			return bad(&rd,
				   "empty part at byte %zu (a ';' too "
				   "many?)",
				   (size_t)(part - rd.up) + 1);
		char *eq = strchr(part, '=');
		if (!eq)
			return bad(&rd, "part \"%.*s\" is not NAME=VALUE",
				   QUOTE_MAX, orig_of(&rd, part));
		cut(&rd, eq);
		char *v = eq + 1;
		int which = -1;
		for (int i = 0; i < P_N_; i++)
			if (strcmp(part, part_names[i]) == 0)
				which = i;
		if (which < 0) {
			for (size_t i = 0; unsupported_parts[i]; i++)
				if (strcmp(part, unsupported_parts[i]) == 0)
					return bad(&rd,
						   "the RRULE part %s is not "
						   "supported (only " SUPPORTED
						   ")",
						   part);
			return bad(&rd,
				   "%.*s is not an RRULE part (only " SUPPORTED
				   ")",
				   QUOTE_MAX, orig_of(&rd, part));
		}
		if (seen[which])
			return bad(&rd, "%s is given twice", part_names[which]);
		seen[which] = true;
		if (*v == '\0')
			return bad(&rd, "%s has no value", part_names[which]);
		enum sb_status st = parse_part(&rd, (enum part)which, v, &r);
		if (st != SB_OK)
			return st;
		if (!semi)
			break;
		part = semi + 1;
	}
	enum sb_status st = cross_check(&rd, &r, seen);
	if (st == SB_OK && out)
		*out = r;
	return st;
}

enum sb_status sb_rrule_check(const char *text, struct sb_error *err)
{
	return sb_rrule_parse(text, NULL, err);
}

/* ---- writer --------------------------------------------------------- */

static bool rule_ok(const struct sb_rrule *r)
{
	if (r->freq < SB_RRULE_DAILY || r->freq > SB_RRULE_YEARLY ||
	    r->interval < 1 || r->interval > SB_RRULE_INTERVAL_MAX ||
	    r->count < 0 || r->count > SB_RRULE_COUNT_MAX ||
	    (r->count && r->has_until) || r->n_byday > SB_RRULE_LIST_MAX ||
	    r->n_bymonthday > SB_RRULE_LIST_MAX || r->n_bymonth > 12 ||
	    r->n_bysetpos > SB_RRULE_LIST_MAX)
		return false;
	for (size_t i = 0; i < r->n_byday; i++)
		if ((unsigned)r->byday[i].day > SB_RRULE_SU ||
		    r->byday[i].ordinal > 53 || r->byday[i].ordinal < -53)
			return false;
	for (size_t i = 0; i < r->n_bymonthday; i++)
		if (r->bymonthday[i] == 0 || r->bymonthday[i] > 31 ||
		    r->bymonthday[i] < -31)
			return false;
	for (size_t i = 0; i < r->n_bymonth; i++)
		if (r->bymonth[i] < 1 || r->bymonth[i] > 12)
			return false;
	for (size_t i = 0; i < r->n_bysetpos; i++)
		if (r->bysetpos[i] == 0 || r->bysetpos[i] > 366 ||
		    r->bysetpos[i] < -366)
			return false;
	/* 1601-01-01 .. 9999-12-31T23:59:59Z */
	if (r->has_until && (r->until < INT64_C(-11644473600) ||
			     r->until > INT64_C(253402300799) ||
			     (r->until_is_date && r->until % 86400 != 0)))
		return false;
	return true;
}

/* Append to out at *pos; false once it does not fit. */
static bool put(char *out, size_t len, size_t *pos, const char *fmt, ...)
    SB_PRINTF(4, 5);

static bool put(char *out, size_t len, size_t *pos, const char *fmt, ...)
{
	if (*pos >= len)
		return false;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos)
		return false;
	*pos += (size_t)n;
	return true;
}

static bool put_ints(char *out, size_t len, size_t *pos, const char *name,
		     const int *v, size_t n)
{
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++)
		ok = put(out, len, pos, "%s%d", i ? "," : name, v[i]);
	return ok;
}

bool sb_rrule_format(const struct sb_rrule *r, char *out, size_t len)
{
	if (!out || len == 0)
		return false;
	out[0] = '\0';
	if (!r || !rule_ok(r))
		return false;
	size_t pos = 0;
	bool ok = put(out, len, &pos, "FREQ=%s", freq_names[r->freq]);
	if (ok && r->interval > 1)
		ok = put(out, len, &pos, ";INTERVAL=%d", r->interval);
	for (size_t i = 0; ok && i < r->n_byday; i++) {
		const char *sep = i ? "," : ";BYDAY=";
		if (r->byday[i].ordinal)
			ok = put(out, len, &pos, "%s%d%s", sep,
				 r->byday[i].ordinal,
				 day_names[r->byday[i].day]);
		else
			ok = put(out, len, &pos, "%s%s", sep,
				 day_names[r->byday[i].day]);
	}
	ok = ok && put_ints(out, len, &pos, ";BYMONTHDAY=", r->bymonthday,
			    r->n_bymonthday);
	ok = ok &&
	     put_ints(out, len, &pos, ";BYMONTH=", r->bymonth, r->n_bymonth);
	ok = ok &&
	     put_ints(out, len, &pos, ";BYSETPOS=", r->bysetpos, r->n_bysetpos);
	if (ok && r->count)
		ok = put(out, len, &pos, ";COUNT=%d", r->count);
	if (ok && r->has_until) {
		int64_t days = r->until / 86400, secs = r->until % 86400;
		if (secs < 0) {
			secs += 86400;
			days--;
		}
		int64_t y64;
		int m, d;
		sdk_civil_from_days(days, &y64, &m, &d);
		int y = (int)y64;
		if (r->until_is_date)
			ok =
			    put(out, len, &pos, ";UNTIL=%04d%02d%02d", y, m, d);
		else
			ok = put(out, len, &pos,
				 ";UNTIL=%04d%02d%02dT%02d%02d%02dZ", y, m, d,
				 (int)(secs / 3600), (int)(secs / 60 % 60),
				 (int)(secs % 60));
	}
	if (!ok)
		out[0] = '\0';
	return ok;
}
