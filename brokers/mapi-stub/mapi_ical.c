/* mapi-stub: a small iCalendar (RFC 5545) writer and reader.
 *
 * Writer: content lines folded at 75 octets (never inside a UTF-8
 * sequence), CRLF line ends, TEXT values escaped (\\ \; \, \n).
 * Reader: unfolds, splits name / parameters / value, builds the component
 * tree (bounded depth and size). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <svcbroker/sdk.h>

#include "mapi.h"

#define ICAL_FOLD 75
#define ICAL_MAX_DEPTH 8
#define ICAL_MAX_PROPS 1000

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

/* Append line (without CRLF) folded at ICAL_FOLD octets. */
static bool fold(struct sb_buf *b, const char *line, size_t len)
{
	size_t pos = 0, limit = ICAL_FOLD;
	while (len - pos > limit) {
		/* Do not split a UTF-8 sequence. */
		size_t cut = pos + sb_utf8_cut(line + pos, len - pos, limit);
		if (cut == pos)
			cut = pos + 1;
		sb_buf_append(b, line + pos, cut - pos);
		sb_buf_puts(b, "\r\n ");
		pos = cut;
		limit = ICAL_FOLD - 1; /* the leading space counts */
	}
	sb_buf_append(b, line + pos, len - pos);
	sb_buf_puts(b, "\r\n");
	return !b->failed;
}

bool mapi_ical_line(struct sb_buf *b, const char *name, const char *params,
		    const char *value, bool text)
{
	struct sb_buf line;
	sb_buf_init(&line, MAPI_ICS_MAX);
	sb_buf_puts(&line, name);
	if (params && *params) {
		sb_buf_puts(&line, ";");
		sb_buf_puts(&line, params);
	}
	sb_buf_puts(&line, ":");
	if (text)
		mapi_ical_escape(&line, value);
	else
		sb_buf_puts(&line, value);
	bool ok = !line.failed && fold(b, line.data, line.len);
	sb_buf_free(&line);
	return ok;
}

/* ---- reader ------------------------------------------------------- */

char *mapi_ical_unescape(const char *raw)
{
	size_t n = strlen(raw);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '\\' && i + 1 < n) {
			char c = raw[++i];
			out[j++] = (c == 'n' || c == 'N') ? '\n' : c;
		} else {
			out[j++] = raw[i];
		}
	}
	out[j] = '\0';
	return out;
}

int mapi_ical_split(const char *raw, char ***out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	size_t cap = 1;
	for (const char *p = raw; *p; p++)
		if (*p == ',')
			cap++;
	char **v = calloc(cap, sizeof *v);
	if (!v)
		return -1;
	size_t n = 0;
	const char *start = raw;
	for (const char *p = raw;; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == ',' || *p == '\0') {
			char *piece = strndup(start, (size_t)(p - start));
			char *u = piece ? mapi_ical_unescape(piece) : NULL;
			free(piece);
			if (!u) {
				mapi_names_free(v, n);
				return -1;
			}
			if (*u)
				v[n++] = u;
			else
				free(u);
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	*out = v;
	*nout = n;
	return 0;
}

static void comp_clear(struct mapi_ical_comp *c)
{
	free(c->name);
	for (size_t i = 0; i < c->n_props; i++) {
		free(c->props[i].name);
		free(c->props[i].params);
		free(c->props[i].value);
	}
	free(c->props);
	for (size_t i = 0; i < c->n_subs; i++)
		comp_clear(&c->subs[i]);
	free(c->subs);
}

void mapi_ical_free(struct mapi_ical_comp *c)
{
	if (!c)
		return;
	comp_clear(c);
	free(c);
}

const struct mapi_ical_prop *mapi_ical_get(const struct mapi_ical_comp *c,
					   const char *name)
{
	for (size_t i = 0; i < c->n_props; i++)
		if (strcasecmp(c->props[i].name, name) == 0)
			return &c->props[i];
	return NULL;
}

/* Split one unfolded content line.  Returns false if malformed. */
static bool split_line(char *line, char **name, char **params, char **value)
{
	char *p = line;
	while (*p && (isalnum((unsigned char)*p) || *p == '-'))
		p++;
	if (p == line || (*p != ';' && *p != ':'))
		return false;
	*name = line;
	if (*p == ':') {
		*p = '\0';
		*params = p; /* empty string */
		*value = p + 1;
		return true;
	}
	*p++ = '\0';
	*params = p;
	bool quoted = false;
	for (; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ':' && !quoted)
			break;
	}
	if (*p != ':')
		return false;
	*p = '\0';
	*value = p + 1;
	return true;
}

struct mapi_ical_comp *mapi_ical_parse(const char *text, size_t len,
				       const char *want, const char **why)
{
	static const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	if (len > MAPI_ICS_MAX) {
		*why = "iCalendar data too large";
		return NULL;
	}
	/* Unfold into lines. */
	char *buf = malloc(len + 1);
	if (!buf) {
		*why = "out of memory";
		return NULL;
	}
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\r' && i + 1 < len && text[i + 1] == '\n')
			continue;
		if (c == '\n' && i + 1 < len &&
		    (text[i + 1] == ' ' || text[i + 1] == '\t')) {
			i++; /* folded: drop the line break and one space */
			continue;
		}
		if (c == '\0') {
			free(buf);
			*why = "NUL byte in iCalendar data";
			return NULL;
		}
		buf[j++] = c;
	}
	buf[j] = '\0';

	struct mapi_ical_comp root = {0};
	struct mapi_ical_comp *stack[ICAL_MAX_DEPTH + 1];
	int depth = 0;
	stack[0] = &root;
	size_t nprops = 0;
	bool ok = true;
	char *save = NULL;
	for (char *line = buf; line && ok; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (*line == '\0')
			continue;
		char *name, *params, *value;
		if (!split_line(line, &name, &params, &value)) {
			*why = "malformed content line";
			ok = false;
			break;
		}
		if (++nprops > ICAL_MAX_PROPS) {
			*why = "too many iCalendar lines";
			ok = false;
			break;
		}
		struct mapi_ical_comp *cur = stack[depth];
		if (strcasecmp(name, "BEGIN") == 0) {
			if (depth == ICAL_MAX_DEPTH) {
				*why = "components nested too deeply";
				ok = false;
				break;
			}
			struct mapi_ical_comp *ns = realloc(
			    cur->subs, (cur->n_subs + 1) * sizeof *cur->subs);
			if (!ns) {
				ok = false;
				break;
			}
			cur->subs = ns;
			struct mapi_ical_comp *c = &cur->subs[cur->n_subs++];
			memset(c, 0, sizeof *c);
			c->name = strdup(value);
			if (!c->name) {
				ok = false;
				break;
			}
			for (char *q = c->name; *q; q++)
				*q = (char)toupper((unsigned char)*q);
			stack[++depth] = c;
			/* Pointers into cur->subs stay valid: only the top of
			 * the stack grows its own array. */
		} else if (strcasecmp(name, "END") == 0) {
			if (depth == 0 || strcasecmp(value, cur->name) != 0) {
				*why = "END does not match BEGIN";
				ok = false;
				break;
			}
			depth--;
		} else {
			if (depth == 0) {
				*why = "property outside a component";
				ok = false;
				break;
			}
			struct mapi_ical_prop *np = realloc(
			    cur->props, (cur->n_props + 1) * sizeof *np);
			if (!np) {
				ok = false;
				break;
			}
			cur->props = np;
			struct mapi_ical_prop *pr = &cur->props[cur->n_props++];
			pr->name = strdup(name);
			pr->params = strdup(params);
			pr->value = strdup(value);
			if (!pr->name || !pr->params || !pr->value) {
				ok = false;
				break;
			}
			for (char *q = pr->name; *q; q++)
				*q = (char)toupper((unsigned char)*q);
		}
	}
	free(buf);
	if (ok && depth != 0) {
		*why = "unterminated component";
		ok = false;
	}
	struct mapi_ical_comp *found = NULL;
	if (ok) {
		struct mapi_ical_comp *cal = NULL;
		for (size_t i = 0; i < root.n_subs && !cal; i++)
			if (strcmp(root.subs[i].name, "VCALENDAR") == 0)
				cal = &root.subs[i];
		for (size_t i = 0; cal && i < cal->n_subs && !found; i++)
			if (strcmp(cal->subs[i].name, want) == 0) {
				found = malloc(sizeof *found);
				if (found) {
					*found = cal->subs[i];
					/* Take it out of the tree. */
					memset(&cal->subs[i], 0,
					       sizeof cal->subs[i]);
				}
			}
		if (!cal)
			*why = "no VCALENDAR";
		else if (!found)
			*why = "no such component";
	} else if (!*why) {
		*why = "out of memory";
	}
	comp_clear(&root);
	return found;
}

/* ---- times -------------------------------------------------------- */

bool mapi_ical_time_parse(const char *v, int64_t *epoch, bool *is_date)
{
	struct tm tm = {0};
	size_t n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)v[i]) && !(i == 8 && v[i] == 'T') &&
		    !(i == 15 && v[i] == 'Z'))
			return false;
	int y, mo, d, h = 0, mi = 0, s = 0;
	if (n == 8) {
		if (sscanf(v, "%4d%2d%2d", &y, &mo, &d) != 3)
			return false;
		*is_date = true;
	} else if (n == 15 || n == 16) {
		/* Floating (no Z) times are read as UTC. */
		if (v[8] != 'T' || sscanf(v, "%4d%2d%2dT%2d%2d%2d", &y, &mo, &d,
					  &h, &mi, &s) != 6)
			return false;
		*is_date = false;
	} else {
		return false;
	}
	/* Years Exchange can hold (from 1601, the FILETIME epoch); a day
	 * that does not exist (30 February) is refused, not moved on. */
	if (y < MAPI_YEAR_MIN || y > MAPI_YEAR_MAX || mo < 1 || mo > 12 ||
	    d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*epoch = (int64_t)timegm(&tm);
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return false;
	return true;
}

void mapi_ical_time_format(int64_t epoch, bool is_date, char *out, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, is_date ? "%Y%m%d" : "%Y%m%dT%H%M%SZ", &tm);
}
