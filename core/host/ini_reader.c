/* Feeding inih one checked line at a time.
 *
 * inih as built by Debian (r55) reads into a line buffer of `ini_max_line`
 * bytes (200 by default) and silently splits longer lines; it never tells
 * its handler the line number or about empty sections, and it takes an
 * indented "[section]" for the continuation of the previous value.  So this
 * reader reads physical lines itself, counts them, refuses lines over
 * SBC_INI_LINE_MAX bytes with a clear message, raises ini_max_line so that
 * every accepted line fits, reports section headers to the loader and hands
 * inih only lines it will parse as intended. */
#include "config.h"

#include <ini.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ini_reader.h"

/* ini_max_line and friends are process-wide in the library: parse one file
 * at a time. */
static pthread_mutex_t ini_lock = PTHREAD_MUTEX_INITIALIZER;

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* One physical line into r->buf, without its line end.  Returns the
 * length, -1 at end of file, -2 if the line was too long (consumed). */
static long read_line(struct sbc_ini_reader *r)
{
	long n = 0;
	bool any = false, too_long = false;
	int c;
	while ((c = getc(r->f)) != EOF) {
		any = true;
		if (r->bytes++ >= SBC_INI_FILE_MAX) {
			r->too_big = true;
			return -1;
		}
		if (c == '\n')
			break;
		if (too_long)
			continue;
		if (n >= SBC_INI_LINE_MAX) {
			too_long = true;
			continue;
		}
		r->buf[n++] = (char)c;
	}
	if (!any)
		return -1;
	if (too_long)
		return -2;
	if (n > 0 && r->buf[n - 1] == '\r')
		n--;
	r->buf[n] = '\0';
	return n;
}

static const char comment_line[] = ";\n";

/* Hand `s` to inih (it fits: checked by the caller). */
static char *give(char *str, int num, const char *s)
{
	snprintf(str, (size_t)num, "%s", s);
	return str;
}

static char *reader(char *str, int num, void *stream)
{
	struct sbc_ini_reader *r = stream;
	r->indented = false;
	r->header = false;
	long n = read_line(r);
	if (n == -1) {
		if (r->too_big) {
			r->ev->error(r->user, r->line + 1,
				     "the file is larger than 16 MiB");
		}
		return NULL;
	}
	r->line++;
	if (n == -2) {
		r->ev->error(r->user, r->line,
			     "line is longer than 4096 bytes (the limit for "
			     "one configuration line)");
		return give(str, num, comment_line);
	}
	char *s = r->buf;
	if (memchr(s, '\0', (size_t)n)) {
		r->ev->error(r->user, r->line, "line contains a NUL byte");
		return give(str, num, comment_line);
	}
	/* A UTF-8 byte order mark on the first line is ignored. */
	if (r->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		n -= 3;
	}
	if (n + 3 > num) {
		/* The library was built with a fixed, smaller line buffer. */
		r->ev->error(r->user, r->line,
			     "line is longer than the INI parser accepts");
		return give(str, num, comment_line);
	}
	const char *t = s;
	while (is_space(*t))
		t++;
	if (*t == '\0' || *t == ';' || *t == '#')
		return give(str, num, comment_line);
	if (*t == '[') {
		r->header = true;
		const char *end = strchr(t, ']');
		if (!end) {
			r->ev->error(r->user, r->line,
				     "section header without a closing ']'");
			r->ev->section(r->user, NULL, r->line);
			return give(str, num, "[-]\n");
		}
		const char *after = end + 1;
		while (is_space(*after))
			after++;
		if (*after != '\0' && *after != ';' && *after != '#') {
			r->ev->error(r->user, r->line,
				     "text after the section header");
			r->ev->section(r->user, NULL, r->line);
			return give(str, num, "[-]\n");
		}
		char name[SBC_INI_LINE_MAX + 1];
		const char *a = t + 1;
		while (is_space(*a))
			a++;
		size_t len = (size_t)(end - a);
		while (len > 0 && is_space(a[len - 1]))
			len--;
		memcpy(name, a, len);
		name[len] = '\0';
		r->ev->section(r->user, name, r->line);
		/* inih keeps only a short section name: give it a fixed one,
		 * the loader tracks the real section itself. */
		return give(str, num, "[-]\n");
	}
	if (t != s) {
		/* A continuation line: inih does not strip its inline
		 * comment, so do it here (" ;" starts one, as on key lines). */
		r->indented = true;
		for (char *q = s + 1; *q; q++) {
			if (*q == ';' && is_space(q[-1])) {
				*q = '\0';
				break;
			}
		}
		return give(str, num, s);
	}
	/* key = value: '=' is the only separator (inih also splits on ':',
	 * which would cut "url: ..." typos in surprising places). */
	const char *eq = strchr(s, '=');
	const char *colon = strchr(s, ':');
	if (!eq || (colon && colon < eq)) {
		r->ev->error(r->user, r->line,
			     "expected 'key = value', a [section] or a "
			     "comment");
		return give(str, num, comment_line);
	}
	if (eq == s) {
		r->ev->error(r->user, r->line,
			     "a key name is missing before '='");
		return give(str, num, comment_line);
	}
	char *o = give(str, num, s);
	size_t ol = strlen(o);
	if (ol + 1 < (size_t)num) {
		o[ol] = '\n';
		o[ol + 1] = '\0';
	}
	return o;
}

int sbc_ini_parse(FILE *f, const struct sbc_ini_events *ev, void *user,
		  int (*handler)(void *user, const char *section,
				 const char *name, const char *value),
		  struct sbc_ini_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->ev = ev;
	r->user = user;
	pthread_mutex_lock(&ini_lock);
	if (ini_max_line < SBC_INI_LINE_MAX + 3)
		ini_max_line = SBC_INI_LINE_MAX + 3;
	ini_allow_multiline = true;
	ini_allow_inline_comments = true;
	ini_stop_on_first_error = false;
	ini_allow_no_value = false;
	int rc = ini_parse_stream(reader, r, handler, user);
	pthread_mutex_unlock(&ini_lock);
	if (rc > 0) {
		ev->error(user, rc, "cannot parse this line");
		return 1;
	}
	if (rc < 0) {
		ev->error(user, r->line, "out of memory while parsing");
		return 1;
	}
	return 0;
}
