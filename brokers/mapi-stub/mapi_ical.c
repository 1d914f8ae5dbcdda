/* mapi-stub: iCalendar (RFC 5545) through libical.
 *
 * libical parses and writes the .ics files; what is left here is what it
 * cannot do for us: the limits a file must meet before libical sees it
 * (size, lines, components, nesting: mapi_ical_precheck, fuzzed), the
 * conversion of its times to and from epoch seconds in the years the store
 * allows, and a serialised lookup of its built-in time zones (libical's
 * zone table is shared by every thread and grows on lookups; see
 * docs/design-notes.md). */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <svcbroker/sdk.h>

#include "mapi.h"

/* libical stays loaded once this module is: it keeps per-thread state
 * (icalerrno, its string buffers) behind pthread keys whose destructors
 * are libical's own code, run when a thread of the host ends, and its
 * table of built-in zones behind a static pointer.  Unloaded with the
 * module, the first would run unmapped code and the second would leak. */
__attribute__((constructor)) static void mapi_ical_pin(void)
{
	Dl_info info;
	if (dladdr((void *)icalcomponent_new, &info) && info.dli_fname)
		(void)dlopen(info.dli_fname,
			     RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* ---- limits, before libical ----------------------------------------- */

/* The name of the content line starting at p (its first physical line
 * ends at e, the next starts at next), read as libical reads it: unfolded
 * (a name may go on into a continuation line) and ending at its first
 * character that is no letter, digit or '-'.  Its first len - 1 characters
 * go to name, its length to *n; returns the character after it, '\0' when
 * the line ends with the name. */
static char line_name(const char *p, const char *e, const char *next,
		      const char *end, char *name, size_t len, size_t *n)
{
	*n = 0;
	for (;;) {
		while (p < e && (isalnum((unsigned char)*p) || *p == '-')) {
			if (*n + 1 < len)
				name[*n] = *p;
			(*n)++;
			p++;
		}
		if (p < e)
			return *p;
		if (next >= end || (*next != ' ' && *next != '\t'))
			return '\0';
		p = next + 1;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		e = nl ? nl : end;
		next = nl ? nl + 1 : end;
		if (e > p && e[-1] == '\r')
			e--;
	}
}

const char *mapi_ical_precheck(const char *text, size_t len)
{
	if (len > MAPI_ICS_MAX)
		return "iCalendar data too large";
	if (memchr(text, '\0', len))
		return "NUL byte in iCalendar data";
	const char *p = text, *end = text + len;
	size_t lines = 0, comps = 0;
	int depth = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		if (e > p && e[-1] == '\r')
			e--;
		/* A folded continuation, or an empty line: nothing to count. */
		if (e == p || *p == ' ' || *p == '\t') {
			p = next;
			continue;
		}
		if (++lines > MAPI_ICAL_MAX_LINES)
			return "too many iCalendar lines";
		/* "BEGIN;X=1:VEVENT" and "BEG<CRLF> IN:VEVENT" begin a
		 * component for libical too. */
		char name[8];
		size_t n;
		char after = line_name(p, e, next, end, name, sizeof name, &n);
		if (n == 0 || (after != ':' && after != ';'))
			return "malformed content line";
		if (n == 5 && strncasecmp(name, "BEGIN", 5) == 0) {
			if (++depth > MAPI_ICAL_MAX_DEPTH)
				return "components nested too deeply";
			if (++comps > MAPI_ICAL_MAX_COMPS)
				return "too many iCalendar components";
		} else if (n == 3 && strncasecmp(name, "END", 3) == 0) {
			if (--depth < 0)
				return "END without BEGIN";
		} else if (depth == 0) {
			return "property outside a component";
		}
		p = next;
	}
	if (depth != 0)
		return "unterminated component";
	return NULL;
}

/* ---- parse and write -------------------------------------------------- */

/* libical 3.0 splits a CATEGORIES value at its commas with a guess that
 * takes a separator for an escaped comma when a backslash stands one or
 * three characters before it ("a\,b,c" reads as one category).  Before
 * libical sees the text, each CATEGORIES line with several values is
 * written as one line per value, which it reads right.  NULL when there
 * is nothing to rewrite (or out of memory: *why set). */
static bool is_list_line(const char *p, const char *e)
{
	static const char name[] = "CATEGORIES";
	size_t n = sizeof name - 1;
	return (size_t)(e - p) > n && strncasecmp(p, name, n) == 0 &&
	       (p[n] == ':' || p[n] == ';');
}

char *mapi_ical_split_lists(const char *text, size_t len, const char **why)
{
	*why = NULL;
	bool any = false;
	for (const char *p = text; p && p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		if (is_list_line(p, nl ? nl : text + len))
			any = true;
		p = nl ? nl + 1 : NULL;
	}
	if (!any)
		return NULL;
	struct sb_buf out;
	sb_buf_init(&out, 4 * (size_t)MAPI_ICS_MAX);
	const char *p = text, *end = text + len;
	while (p < end) {
		/* One logical line: physical lines joined at CRLF/LF + WSP. */
		const char *q = p;
		for (;;) {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			if (!nl) {
				q = end;
				break;
			}
			q = nl + 1;
			if (q >= end || (*q != ' ' && *q != '\t'))
				break;
		}
		if (!is_list_line(p, q)) {
			sb_buf_append(&out, p, (size_t)(q - p));
			p = q;
			continue;
		}
		struct sb_buf line;
		sb_buf_init(&line, MAPI_ICS_MAX);
		for (const char *r = p; r < q; r++) {
			if (*r == '\r' && r + 1 < q && r[1] == '\n')
				continue;
			if (*r == '\n') {
				if (r + 1 < q)
					r++; /* the folding space */
				continue;
			}
			sb_buf_append(&line, r, 1);
		}
		/* Name and parameters end at the first ':' outside quotes. */
		size_t v = 0;
		bool quoted = false;
		for (; v < line.len; v++) {
			if (line.data[v] == '"')
				quoted = !quoted;
			else if (line.data[v] == ':' && !quoted)
				break;
		}
		if (line.failed || v == line.len) {
			/* Not a line we can split: left to libical. */
			sb_buf_append(&out, p, (size_t)(q - p));
		} else {
			size_t start = v + 1;
			for (size_t i = start; i <= line.len; i++) {
				/* A backslash escapes the next character; a
				 * last one stays as it is. */
				if (i + 1 < line.len && line.data[i] == '\\') {
					i++;
					continue;
				}
				if (i < line.len && line.data[i] != ',')
					continue;
				sb_buf_append(&out, line.data, v + 1);
				sb_buf_append(&out, line.data + start,
					      i - start);
				sb_buf_puts(&out, "\r\n");
				start = i + 1;
			}
		}
		sb_buf_free(&line);
		p = q;
	}
	if (out.failed) {
		sb_buf_free(&out);
		*why = "iCalendar data too large";
		return NULL;
	}
	return sb_buf_steal(&out);
}

icalcomponent *mapi_ical_parse(const char *text, size_t len, const char **why)
{
	static const char *dummy;
	if (!why)
		why = &dummy;
	if ((*why = mapi_ical_precheck(text, len)))
		return NULL;
	/* libical wants a NUL-terminated string. */
	char *copy = mapi_ical_split_lists(text, len, why);
	if (*why)
		return NULL;
	if (copy)
		text = copy;
	else if (text[len] != '\0') {
		if (!(copy = strndup(text, len))) {
			*why = "out of memory";
			return NULL;
		}
		text = copy;
	}
	icalcomponent *root = icalparser_parse_string(text);
	free(copy);
	icalcomponent *cal = NULL;
	if (root && icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT) {
		cal = root;
	} else if (root) {
		/* Several top-level components: the first VCALENDAR. */
		cal = icalcomponent_get_first_component(
		    root, ICAL_VCALENDAR_COMPONENT);
		if (cal)
			icalcomponent_remove_component(root, cal);
		icalcomponent_free(root);
	}
	if (!cal)
		*why = "no VCALENDAR";
	return cal;
}

void mapi_ical_release(void) { icalmemory_free_ring(); }

icalcomponent *mapi_ical_calendar(void)
{
	icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	icalcomponent_add_property(
	    cal, icalproperty_new_prodid("-//svcbroker//mapi-stub//EN"));
	return cal;
}

char *mapi_ical_text(icalcomponent *cal)
{
	char *s = icalcomponent_as_ical_string_r(cal);
	if (s && strlen(s) > MAPI_ICS_MAX) {
		free(s);
		s = NULL;
	}
	return s;
}

/* libical keeps \n as the line break of a TEXT value and drops \r: a CRLF
 * or a lone CR becomes \n first, as the store always wrote them. */
static char *newlines(const char *v)
{
	char *out = malloc(strlen(v) + 1);
	if (!out)
		return NULL;
	size_t j = 0;
	for (const char *p = v; *p; p++) {
		if (*p == '\r') {
			if (p[1] != '\n')
				out[j++] = '\n';
			continue;
		}
		out[j++] = *p;
	}
	out[j] = '\0';
	return out;
}

bool mapi_ical_add_text(icalcomponent *c, icalproperty_kind kind, const char *v)
{
	char *n = v ? newlines(v) : NULL;
	if (!n)
		return false;
	icalproperty *p = icalproperty_new(kind);
	icalproperty_set_value(p, icalvalue_new_text(n));
	icalcomponent_add_property(c, p);
	free(n);
	return true;
}

bool mapi_ical_add_x(icalcomponent *c, const char *name, const char *v)
{
	char *n = v ? newlines(v) : NULL;
	if (!n)
		return false;
	icalproperty *p = icalproperty_new_x(n);
	icalproperty_set_x_name(p, name);
	icalcomponent_add_property(c, p);
	free(n);
	return true;
}

bool mapi_ical_escape(struct sb_buf *b, const char *value)
{
	for (const char *p = value; *p; p++) {
		switch (*p) {
		case '\\':
			sb_buf_puts(b, "\\\\");
			break;
		case ';':
			sb_buf_puts(b, "\\;");
			break;
		case ',':
			sb_buf_puts(b, "\\,");
			break;
		case '\r':
			if (p[1] != '\n')
				sb_buf_puts(b, "\\n");
			break;
		case '\n':
			sb_buf_puts(b, "\\n");
			break;
		default:
			sb_buf_append(b, p, 1);
		}
	}
	return !b->failed;
}

bool mapi_ical_add_list(icalcomponent *c, icalproperty_kind kind,
			const char *const *v, size_t n)
{
	/* libical 3.0 writes a multi-valued TEXT property (CATEGORIES) with
	 * its commas as separators and cannot escape a comma inside one
	 * value.  The list is escaped here and handed over as a STRING value,
	 * which libical writes as it is; the VALUE=TEXT parameter (the
	 * property's default, so never written) keeps it from announcing
	 * VALUE=STRING. */
	struct sb_buf b;
	sb_buf_init(&b, MAPI_ICS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_buf_puts(&b, ",");
		mapi_ical_escape(&b, v[i]);
	}
	bool ok = !b.failed;
	if (ok) {
		icalproperty *p = icalproperty_new(kind);
		icalproperty_set_value(p, icalvalue_new_string(b.data));
		icalproperty_add_parameter(
		    p, icalparameter_new_value(ICAL_VALUE_TEXT));
		icalcomponent_add_property(c, p);
	}
	sb_buf_free(&b);
	return ok;
}

char *mapi_ical_text_of(icalcomponent *c, icalproperty_kind kind)
{
	icalproperty *p = icalcomponent_get_first_property(c, kind);
	icalvalue *v = p ? icalproperty_get_value(p) : NULL;
	if (!v)
		return NULL;
	const char *s = NULL;
	switch (icalvalue_isa(v)) {
	case ICAL_TEXT_VALUE:
		s = icalvalue_get_text(v);
		break;
	case ICAL_STRING_VALUE:
		s = icalvalue_get_string(v);
		break;
	case ICAL_X_VALUE:
		s = icalvalue_get_x(v);
		break;
	default:
		s = icalproperty_get_value_as_string(p);
	}
	return s ? strdup(s) : NULL;
}

char *mapi_ical_x_of(icalcomponent *c, const char *name)
{
	for (icalproperty *p =
		 icalcomponent_get_first_property(c, ICAL_X_PROPERTY);
	     p; p = icalcomponent_get_next_property(c, ICAL_X_PROPERTY)) {
		const char *n = icalproperty_get_x_name(p);
		if (n && strcasecmp(n, name) == 0) {
			const char *v = icalproperty_get_x(p);
			return v ? strdup(v) : NULL;
		}
	}
	return NULL;
}

int mapi_ical_list_of(icalcomponent *c, icalproperty_kind kind, char ***out,
		      size_t *nout)
{
	*out = NULL;
	*nout = 0;
	size_t n = 0, cap = 0;
	char **v = NULL;
	/* libical splits a list at its unescaped commas into one property
	 * per value, already unescaped. */
	for (icalproperty *p = icalcomponent_get_first_property(c, kind); p;
	     p = icalcomponent_get_next_property(c, kind)) {
		icalvalue *val = icalproperty_get_value(p);
		const char *s = NULL;
		if (val && icalvalue_isa(val) == ICAL_TEXT_VALUE)
			s = icalvalue_get_text(val);
		if (!s || !*s)
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			char **nv = realloc(v, nc * sizeof *nv);
			if (!nv)
				goto oom;
			v = nv;
			cap = nc;
		}
		if (!(v[n] = strdup(s)))
			goto oom;
		n++;
	}
	*out = v;
	*nout = n;
	return 0;
oom:
	mapi_names_free(v, n);
	return -1;
}

/* ---- time zones ------------------------------------------------------- */

/* libical's table of built-in zones is one per process: a lookup of a zone
 * that zone.tab does not name (an alias such as US/Eastern) appends to it
 * without a lock, and a zone's definition is loaded on first use.  Every
 * lookup here goes through this mutex; converting times with a zone found
 * is safe without it (libical locks its cache of zone changes). */
static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

bool mapi_ical_zone_name_ok(const char *name)
{
	/* An IANA name: components of letters, digits, '_', '-', '+'
	 * separated by single '/', no component starting with '.' -- libical
	 * makes a file path of it. */
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 64 || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch == '/') {
			if (name[i + 1] == '/')
				return false;
			continue;
		}
		if (!isalnum(ch) && ch != '_' && ch != '-' && ch != '+')
			return false;
	}
	return true;
}

icaltimezone *mapi_ical_zone(const char *name)
{
	if (!mapi_ical_zone_name_ok(name) || strcmp(name, "UTC") == 0)
		return NULL;
	pthread_mutex_lock(&zone_lock);
	icaltimezone *z = icaltimezone_get_builtin_timezone(name);
	/* Load its definition now, under the lock. */
	if (z && !icaltimezone_get_component(z))
		z = NULL;
	pthread_mutex_unlock(&zone_lock);
	return z;
}

/* Truncated VTIMEZONEs made before, by zone and year: cloning and
 * truncating a zone's whole history costs more than the rest of a Create.
 * A small table, replaced in turn; under zone_lock. */
#define VTZ_KEPT 16
static struct {
	icaltimezone *zone;
	char tzid[65];
	int year;
	icalcomponent *vtz;
} vtz_kept[VTZ_KEPT];
static size_t vtz_next;

__attribute__((destructor)) static void vtz_kept_fini(void)
{
	for (size_t i = 0; i < VTZ_KEPT; i++)
		if (vtz_kept[i].vtz) {
			icalcomponent_free(vtz_kept[i].vtz);
			vtz_kept[i].vtz = NULL;
		}
}

bool mapi_ical_add_zone(icalcomponent *cal, icaltimezone *z, const char *tzid,
			int64_t from)
{
	/* The zone's own name as TZID (libical's carries a private prefix),
	 * and only the rules in force from the start of the year of the
	 * first time written on: the rules of today's zone stay unbounded,
	 * so every later occurrence of a series is covered. */
	struct icaltimetype start = mapi_ical_time_in(from, true, NULL);
	start.month = 1;
	start.day = 1;
	start.is_date = 0;
	if (strlen(tzid) >= sizeof vtz_kept[0].tzid)
		return false;
	icalcomponent *vtz = NULL;
	pthread_mutex_lock(&zone_lock);
	for (size_t i = 0; i < VTZ_KEPT && !vtz; i++)
		if (vtz_kept[i].vtz && vtz_kept[i].zone == z &&
		    vtz_kept[i].year == start.year &&
		    strcmp(vtz_kept[i].tzid, tzid) == 0)
			vtz = icalcomponent_new_clone(vtz_kept[i].vtz);
	if (!vtz) {
		icalcomponent *def = icaltimezone_get_component(z);
		icalcomponent *made = def ? icalcomponent_new_clone(def) : NULL;
		if (made) {
			icalproperty *p = icalcomponent_get_first_property(
			    made, ICAL_TZID_PROPERTY);
			if (p)
				icalproperty_set_tzid(p, tzid);
			else
				icalcomponent_add_property(
				    made, icalproperty_new_tzid(tzid));
			icaltimezone_truncate_vtimezone(
			    made, start, icaltime_null_time(), 1);
			vtz = icalcomponent_new_clone(made);
			size_t i = vtz_next++ % VTZ_KEPT;
			if (vtz_kept[i].vtz)
				icalcomponent_free(vtz_kept[i].vtz);
			vtz_kept[i].zone = z;
			vtz_kept[i].year = start.year;
			snprintf(vtz_kept[i].tzid, sizeof vtz_kept[i].tzid,
				 "%s", tzid);
			vtz_kept[i].vtz = made;
		}
	}
	pthread_mutex_unlock(&zone_lock);
	if (!vtz)
		return false;
	icalcomponent_add_component(cal, vtz);
	return true;
}

/* ---- times ------------------------------------------------------------ */

static bool fields_ok(const struct icaltimetype *t)
{
	if (t->year < MAPI_YEAR_MIN || t->year > MAPI_YEAR_MAX ||
	    t->month < 1 || t->month > 12 || t->day < 1 ||
	    t->day > icaltime_days_in_month(t->month, t->year))
		return false;
	return t->is_date ||
	       (t->hour >= 0 && t->hour <= 23 && t->minute >= 0 &&
		t->minute <= 59 && t->second >= 0 && t->second <= 60);
}

/* Epoch seconds of the fields of t, read as UTC. */
static int64_t fields_epoch(const struct icaltimetype *t)
{
	struct tm tm = {0};
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->month - 1;
	tm.tm_mday = t->day;
	if (!t->is_date) {
		tm.tm_hour = t->hour;
		tm.tm_min = t->minute;
		tm.tm_sec = t->second;
	}
	return (int64_t)timegm(&tm);
}

/* libical expands a zone's changes up to the year 2582 and would expand
 * them again on every conversion after it: later times are taken with the
 * offset of the same day in that year's last. */
#define ZONE_YEAR_MAX 2500

bool mapi_ical_time_epoch(struct icaltimetype t, icaltimezone *z,
			  int64_t *epoch)
{
	if (!fields_ok(&t))
		return false;
	if (t.is_date || !z || z == icaltimezone_get_utc_timezone()) {
		*epoch = fields_epoch(&t);
		return true;
	}
	struct icaltimetype u = t;
	if (u.year > ZONE_YEAR_MAX) {
		u.year = ZONE_YEAR_MAX;
		if (u.day > icaltime_days_in_month(u.month, u.year))
			u.day = icaltime_days_in_month(u.month, u.year);
	}
	int64_t local = fields_epoch(&u);
	icaltimezone_convert_time(&u, z, icaltimezone_get_utc_timezone());
	u.zone = NULL;
	u.is_date = 0;
	int64_t off = local - fields_epoch(&u);
	*epoch = fields_epoch(&t) - off;
	return true;
}

/* The UTC fields of epoch (a date: its day). */
static struct icaltimetype utc_fields(int64_t epoch, bool is_date)
{
	time_t tt = (time_t)epoch;
	struct tm tm;
	gmtime_r(&tt, &tm);
	struct icaltimetype t = icaltime_null_time();
	t.year = tm.tm_year + 1900;
	t.month = tm.tm_mon + 1;
	t.day = tm.tm_mday;
	if (is_date) {
		t.is_date = 1;
		return t;
	}
	t.hour = tm.tm_hour;
	t.minute = tm.tm_min;
	t.second = tm.tm_sec;
	t.zone = icaltimezone_get_utc_timezone();
	return t;
}

struct icaltimetype mapi_ical_time_in(int64_t epoch, bool is_date,
				      icaltimezone *z)
{
	icaltimezone *utc = icaltimezone_get_utc_timezone();
	struct icaltimetype t = utc_fields(epoch, is_date);
	if (is_date || !z || z == utc)
		return t;
	if (t.year <= ZONE_YEAR_MAX) {
		icaltimezone_convert_time(&t, utc, z);
		t.zone = z;
		return t;
	}
	/* As mapi_ical_time_epoch: the offset of that day in the last year
	 * libical expands. */
	struct icaltimetype u = t;
	u.year = ZONE_YEAR_MAX;
	if (u.day > icaltime_days_in_month(u.month, u.year))
		u.day = icaltime_days_in_month(u.month, u.year);
	int64_t before = fields_epoch(&u);
	icaltimezone_convert_time(&u, utc, z);
	t = utc_fields(epoch + (fields_epoch(&u) - before), false);
	t.zone = z;
	return t;
}

bool mapi_ical_add_time(icalcomponent *c, icalproperty_kind kind, int64_t epoch,
			bool is_date, icaltimezone *z, const char *tzid)
{
	struct icaltimetype t = mapi_ical_time_in(epoch, is_date, z);
	/* The first or last hours of the store's years, in a zone where they
	 * fall in 1600 or 10000: written in UTC, which can be read again. */
	if (!is_date && z && !fields_ok(&t)) {
		t = mapi_ical_time_in(epoch, false, NULL);
		z = NULL;
	}
	/* libical 3.0 makes a value of a time after the year 3000 a null
	 * time (icaltime_is_valid_time), written 00000000T000000: the value
	 * is read from its text instead, as the parser reads a file's. */
	char text[32];
	if (is_date)
		snprintf(text, sizeof text, "%04d%02d%02d", t.year, t.month,
			 t.day);
	else
		snprintf(text, sizeof text, "%04d%02d%02dT%02d%02d%02d%s",
			 t.year, t.month, t.day, t.hour, t.minute, t.second,
			 icaltime_is_utc(t) ? "Z" : "");
	icalvalue *v = icalvalue_new_from_string(
	    is_date ? ICAL_DATE_VALUE : ICAL_DATETIME_VALUE, text);
	if (!v) {
		icalerror_clear_errno();
		return false;
	}
	icalproperty *p = icalproperty_new(kind);
	icalproperty_set_value(p, v);
	if (is_date)
		icalproperty_add_parameter(
		    p, icalparameter_new_value(ICAL_VALUE_DATE));
	else if (z && tzid)
		icalproperty_add_parameter(p, icalparameter_new_tzid(tzid));
	icalcomponent_add_property(c, p);
	return true;
}

/* A VTIMEZONE another tool wrote is used only when libical can expand it
 * in bounded time: observances repeat yearly, on one month, with a short
 * BYDAY / BYMONTHDAY list (the shapes real zones have). */
static bool vtimezone_sane(icaltimezone *z)
{
	icalcomponent *vtz = icaltimezone_get_component(z);
	if (!vtz)
		return false;
	for (icalcomponent *o =
		 icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT);
	     o; o = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT))
		for (icalproperty *p = icalcomponent_get_first_property(
			 o, ICAL_RRULE_PROPERTY);
		     p; p = icalcomponent_get_next_property(
			    o, ICAL_RRULE_PROPERTY)) {
			struct icalrecurrencetype r = icalproperty_get_rrule(p);
			int nd = 0, nm = 0, nmd = 0;
			while (nd < ICAL_BY_DAY_SIZE &&
			       r.by_day[nd] != ICAL_RECURRENCE_ARRAY_MAX)
				nd++;
			while (nm < ICAL_BY_MONTH_SIZE &&
			       r.by_month[nm] != ICAL_RECURRENCE_ARRAY_MAX)
				nm++;
			while (nmd < ICAL_BY_MONTHDAY_SIZE &&
			       r.by_month_day[nmd] != ICAL_RECURRENCE_ARRAY_MAX)
				nmd++;
			if (r.freq != ICAL_YEARLY_RECURRENCE || nm > 1 ||
			    nd > 7 || nmd > 7 || r.interval != 1)
				return false;
		}
	return true;
}

icaltimezone *mapi_ical_zone_of(icalcomponent *cal, icalproperty *p,
				const char **tzid)
{
	icalparameter *tp =
	    icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
	const char *id = tp ? icalparameter_get_tzid(tp) : NULL;
	if (tzid)
		*tzid = id;
	if (!id || !*id)
		return NULL;
	/* An IANA name libical knows: its built-in zone, whose changes are
	 * expanded once per process (the store writes that zone's own
	 * VTIMEZONE; python's icalendar and most clients read such a TZID
	 * the same way).  Otherwise the file's VTIMEZONE, if usable; else
	 * the time is read as UTC, as the store always read floating
	 * times. */
	icaltimezone *z = mapi_ical_zone(id);
	if (z)
		return z;
	z = cal ? icalcomponent_get_timezone(cal, id) : NULL;
	return z && vtimezone_sane(z) ? z : NULL;
}

bool mapi_ical_time_of(icalcomponent *cal, icalproperty *p, int64_t *epoch,
		       bool *is_date, const char **tzid)
{
	if (tzid)
		*tzid = NULL;
	icalvalue *v = p ? icalproperty_get_value(p) : NULL;
	if (!v)
		return false;
	struct icaltimetype t;
	switch (icalvalue_isa(v)) {
	case ICAL_DATETIME_VALUE:
		t = icalvalue_get_datetime(v);
		break;
	case ICAL_DATE_VALUE:
		t = icalvalue_get_date(v);
		break;
	default:
		return false;
	}
	if (icaltime_is_null_time(t))
		return false;
	*is_date = t.is_date;
	icaltimezone *z = NULL;
	if (!t.is_date && !icaltime_is_utc(t))
		z = mapi_ical_zone_of(cal, p, tzid);
	return mapi_ical_time_epoch(t, z, epoch);
}

/* The old reader's time check, kept for values read outside a property
 * (an RRULE's UNTIL). */
bool mapi_ical_time_parse(const char *v, int64_t *epoch, bool *is_date)
{
	size_t n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)v[i]) && !(i == 8 && v[i] == 'T') &&
		    !(i == 15 && v[i] == 'Z'))
			return false;
	if (n != 8 && n != 15 && n != 16)
		return false;
	struct icaltimetype t = icaltime_from_string(v);
	if (icaltime_is_null_time(t) && n != 8)
		return false;
	*is_date = t.is_date;
	return mapi_ical_time_epoch(t, NULL, epoch);
}

/* ---- editing a file in place ------------------------------------------ */

void mapi_ical_remove_props(icalcomponent *c, icalproperty_kind kind,
			    const char *xname)
{
	/* Collected first: removing moves libical's property iterator. */
	icalproperty *v[64];
	for (;;) {
		size_t n = 0;
		for (icalproperty *p =
			 icalcomponent_get_first_property(c, kind);
		     p && n < sizeof v / sizeof v[0];
		     p = icalcomponent_get_next_property(c, kind)) {
			const char *xn =
			    xname ? icalproperty_get_x_name(p) : NULL;
			if (!xname || (xn && strcasecmp(xn, xname) == 0))
				v[n++] = p;
		}
		if (!n)
			return;
		for (size_t i = 0; i < n; i++) {
			icalcomponent_remove_property(c, v[i]);
			icalproperty_free(v[i]);
		}
	}
}

void mapi_ical_remove_comps(icalcomponent *c, icalcomponent_kind kind)
{
	icalcomponent *k;
	while ((k = icalcomponent_get_first_component(c, kind))) {
		icalcomponent_remove_component(c, k);
		icalcomponent_free(k);
	}
}

/* True if a property of c or of a component inside it (a VTIMEZONE's own
 * TZID property aside) carries TZID=tzid. */
static bool uses_tzid(icalcomponent *c, const char *tzid)
{
	for (icalproperty *p =
		 icalcomponent_get_first_property(c, ICAL_ANY_PROPERTY);
	     p; p = icalcomponent_get_next_property(c, ICAL_ANY_PROPERTY)) {
		icalparameter *tp =
		    icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
		const char *id = tp ? icalparameter_get_tzid(tp) : NULL;
		if (id && strcmp(id, tzid) == 0)
			return true;
	}
	for (icalcomponent *k =
		 icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT);
	     k; k = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
		if (icalcomponent_isa(k) != ICAL_VTIMEZONE_COMPONENT &&
		    uses_tzid(k, tzid))
			return true;
	return false;
}

static const char *vtz_tzid(icalcomponent *vtz)
{
	icalproperty *p =
	    icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
	return p ? icalproperty_get_tzid(p) : NULL;
}

void mapi_ical_drop_unused_zones(icalcomponent *cal)
{
	/* Collected first: uses_tzid walks cal's components with the one
	 * component iterator cal has. */
	icalcomponent *zones[MAPI_ICAL_MAX_COMPS];
	size_t n = 0;
	for (icalcomponent *z = icalcomponent_get_first_component(
		 cal, ICAL_VTIMEZONE_COMPONENT);
	     z && n < MAPI_ICAL_MAX_COMPS; z = icalcomponent_get_next_component(
					       cal, ICAL_VTIMEZONE_COMPONENT))
		zones[n++] = z;
	for (size_t i = 0; i < n; i++) {
		const char *id = vtz_tzid(zones[i]);
		if (!id || !uses_tzid(cal, id)) {
			icalcomponent_remove_component(cal, zones[i]);
			icalcomponent_free(zones[i]);
		}
	}
}

bool mapi_ical_set_zone(icalcomponent *cal, icaltimezone *z, const char *tzid,
			int64_t from)
{
	icalcomponent *old = NULL;
	for (icalcomponent *v = icalcomponent_get_first_component(
		 cal, ICAL_VTIMEZONE_COMPONENT);
	     v && !old; v = icalcomponent_get_next_component(
			    cal, ICAL_VTIMEZONE_COMPONENT)) {
		const char *id = vtz_tzid(v);
		if (id && strcmp(id, tzid) == 0)
			old = v;
	}
	if (!mapi_ical_add_zone(cal, z, tzid, from))
		return false;
	if (old) {
		icalcomponent_remove_component(cal, old);
		icalcomponent_free(old);
	}
	/* The zones first, as RFC 5545 shows them and other tools write:
	 * every other component moved after them, in its order. */
	icalcomponent *rest[MAPI_ICAL_MAX_COMPS];
	size_t n = 0;
	for (icalcomponent *k =
		 icalcomponent_get_first_component(cal, ICAL_ANY_COMPONENT);
	     k && n < MAPI_ICAL_MAX_COMPS;
	     k = icalcomponent_get_next_component(cal, ICAL_ANY_COMPONENT))
		if (icalcomponent_isa(k) != ICAL_VTIMEZONE_COMPONENT)
			rest[n++] = k;
	for (size_t i = 0; i < n; i++)
		icalcomponent_remove_component(cal, rest[i]);
	for (size_t i = 0; i < n; i++)
		icalcomponent_add_component(cal, rest[i]);
	return true;
}

/* ---- series expansion ------------------------------------------------- */

bool mapi_ical_exdates(icalcomponent *cal, icalcomponent *m, int64_t **out,
		       size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	/* libical gives one property per value */
	for (icalproperty *p =
		 icalcomponent_get_first_property(m, ICAL_EXDATE_PROPERTY);
	     p; p = icalcomponent_get_next_property(m, ICAL_EXDATE_PROPERTY)) {
		int64_t t;
		bool d;
		if (!mapi_ical_time_of(cal, p, &t, &d, NULL))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			int64_t *nv = realloc(*out, cap * sizeof *nv);
			if (!nv)
				return false;
			*out = nv;
		}
		(*out)[(*n)++] = t;
	}
	return true;
}

bool mapi_ical_in_list(const int64_t *v, size_t n, int64_t t)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == t)
			return true;
	return false;
}

bool mapi_ical_rule_walkable(const struct icalrecurrencetype *r)
{
	if (r->freq != ICAL_SECONDLY_RECURRENCE &&
	    r->freq != ICAL_MINUTELY_RECURRENCE &&
	    r->freq != ICAL_HOURLY_RECURRENCE)
		return true;
	if (r->by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX ||
	    r->by_year_day[0] != ICAL_RECURRENCE_ARRAY_MAX ||
	    r->by_week_no[0] != ICAL_RECURRENCE_ARRAY_MAX ||
	    r->by_month[0] != ICAL_RECURRENCE_ARRAY_MAX ||
	    r->by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX)
		return false;
	for (int i = 0;
	     i < ICAL_BY_DAY_SIZE && r->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX;
	     i++)
		if (icalrecurrencetype_day_position(r->by_day[i]) != 0)
			return false;
	return true;
}

bool mapi_ical_occurrences(icalcomponent *cal, icalcomponent *m, int64_t first,
			   int64_t dur, int64_t ws, int64_t we,
			   const int64_t *skip, size_t n_skip,
			   bool (*fn)(void *ctx, int64_t start, int64_t end),
			   void *ctx)
{
	icalproperty *rp =
	    m ? icalcomponent_get_first_property(m, ICAL_RRULE_PROPERTY) : NULL;
	icalproperty *dp =
	    m ? icalcomponent_get_first_property(m, ICAL_DTSTART_PROPERTY)
	      : NULL;
	struct icalrecurrencetype rule;
	if (rp)
		rule = icalproperty_get_rrule(rp);
	if (!rp || !dp || rule.freq == ICAL_NO_RECURRENCE ||
	    !mapi_ical_rule_walkable(&rule))
		return !mapi_overlaps(first, first + dur, ws, we) ||
		       fn(ctx, first, first + dur);
	struct icaltimetype t0 = icalproperty_get_dtstart(dp);
	icaltimezone *z = NULL;
	if (!t0.is_date && !icaltime_is_utc(t0))
		z = mapi_ical_zone_of(cal, dp, NULL);
	/* The iterator compares occurrences with a UTC UNTIL through their
	 * zone: without one, local times would be taken for UTC. */
	if (z)
		t0.zone = z;
	int64_t *ex = NULL;
	size_t n_ex = 0;
	if (!mapi_ical_exdates(cal, m, &ex, &n_ex)) {
		free(ex);
		return false;
	}
	bool ok = true;
	icalrecur_iterator *it = icalrecur_iterator_new(rule, t0);
	if (!it) {
		icalerror_clear_errno();
		if (mapi_overlaps(first, first + dur, ws, we))
			ok = fn(ctx, first, first + dur);
	}
	size_t shown = 0;
	for (size_t step = 0;
	     it && ok && step < MAPI_STEPS_MAX && shown < MAPI_OCC_MAX;
	     step++) {
		struct icaltimetype t = icalrecur_iterator_next(it);
		int64_t e;
		if (icaltime_is_null_time(t) || !mapi_ical_time_epoch(t, z, &e))
			break;
		if (we != INT64_MAX && e >= we)
			break;
		if (e > MAPI_EPOCH_MAX - dur ||
		    mapi_ical_in_list(ex, n_ex, e) ||
		    mapi_ical_in_list(skip, n_skip, e) ||
		    !mapi_overlaps(e, e + dur, ws, we))
			continue;
		ok = fn(ctx, e, e + dur);
		shown++;
	}
	if (it)
		icalrecur_iterator_free(it);
	free(ex);
	return ok;
}

/* ---- shared by Appointment and Meeting ------------------------------ */

/* Minutes before the start of a VALARM's TRIGGER (a duration, before the
 * start); -1 for any other. */
int64_t mapi_ical_alarm_minutes(icalcomponent *alarm)
{
	icalproperty *p =
	    icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY);
	if (!p)
		return -1;
	icalparameter *rel =
	    icalproperty_get_first_parameter(p, ICAL_RELATED_PARAMETER);
	if (rel && icalparameter_get_related(rel) == ICAL_RELATED_END)
		return -1;
	struct icaltriggertype tr = icalproperty_get_trigger(p);
	if (!icaltime_is_null_time(tr.time) ||
	    icaldurationtype_is_bad_duration(tr.duration))
		return -1;
	/* as_int is INT_MIN for -PT2147483648S: negated in 64 bits */
	int64_t secs = icaldurationtype_as_int(tr.duration);
	return secs > 0 ? -1 : -secs / 60;
}

/* The date an ISO 8601 value was written with (its first 10 characters),
 * as midnight UTC: all-day items keep the caller's calendar date. */
bool mapi_date_of(const char *iso, int64_t *out)
{
	char d[11];
	if (!iso || strlen(iso) < 10)
		return false;
	memcpy(d, iso, 10);
	d[10] = '\0';
	struct tm tm = {0};
	const char *end = strptime(d, "%Y-%m-%d", &tm);
	if (!end || *end)
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

/* The series' own VEVENT: the first without RECURRENCE-ID. */
icalcomponent *mapi_ical_master(icalcomponent *cal)
{
	icalcomponent *first = NULL;
	for (icalcomponent *c =
		 icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	     c;
	     c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
		if (!first)
			first = c;
		if (!icalcomponent_get_first_property(
			c, ICAL_RECURRENCEID_PROPERTY))
			return c;
	}
	return first;
}
