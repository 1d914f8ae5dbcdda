/* svcbroker CLI — text for people: printable values, widths, tables. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <svcbroker/sdk.h>

#include "cli.h"

/* Messages quote names and texts that come from the server (error
 * categories and codes, object and method names): they are made printable
 * as a whole, so no control character ever reaches the terminal. */
void cli_err(const char *fmt, ...)
{
	va_list ap;
	char small[1024];
	char *buf = small;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(small)) {
		buf = malloc((size_t)n + 1);
		if (buf) {
			va_start(ap, fmt);
			vsnprintf(buf, (size_t)n + 1, fmt, ap);
			va_end(ap);
		} else {
			buf = small;
		}
	} else if (n < 0) {
		small[0] = '\0';
	}
	char *shown = cli_text_fit(buf, 0);
	fflush(stdout);
	fprintf(stderr, "svcbroker: %s\n", shown);
	free(shown);
	if (buf != small)
		free(buf);
}

void *cli_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("svcbroker: out of memory\n", stderr);
		exit(CLI_EXIT_SERVER);
	}
	return p;
}

char *cli_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(cli_xmalloc(n), s, n);
}

char *cli_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fputs("svcbroker: out of memory\n", stderr);
		exit(CLI_EXIT_SERVER);
	}
	return p;
}

/* One display unit of s at *i: the bytes to print (in out, NUL-terminated)
 * and their width.  Advances *i. */
static void next_unit(const char *str, size_t len, size_t *i, char out[16],
		      size_t *width)
{
	const unsigned char *s = (const unsigned char *)str + *i;
	uint32_t cp = 0;
	size_t n = sb_utf8_decode(str + *i, len - *i, &cp);
	if (n == 0) {
		snprintf(out, 16, "\\x%02X", s[0]);
		*width = 4;
		*i += 1;
		return;
	}
	*i += n;
	if (cp == '\n' || cp == '\t' || cp == '\r') {
		snprintf(out, 16, "\\%c",
			 cp == '\n'   ? 'n'
			 : cp == '\t' ? 't'
				      : 'r');
		*width = 2;
	} else if (cp < 0x20 || cp == 0x7f) {
		snprintf(out, 16, "\\x%02X", cp);
		*width = 4;
	} else if (cp >= 0x80 && cp < 0xa0) {
		snprintf(out, 16, "\\u%04X", cp);
		*width = 6;
	} else {
		memcpy(out, s, n);
		out[n] = '\0';
		int w = cp < 0x80 ? 1 : wcwidth((wchar_t)cp);
		*width = w < 0 ? 1 : (size_t)w;
	}
}

size_t cli_text_width(const char *s)
{
	size_t len = strlen(s), i = 0, w = 0, uw;
	char u[16];
	while (i < len) {
		next_unit(s, len, &i, u, &uw);
		w += uw;
	}
	return w;
}

char *cli_text_fit(const char *s, size_t max)
{
	if (!s)
		s = "";
	size_t len = strlen(s);
	size_t total = cli_text_width(s);
	bool cut = max > 0 && total > max;
	size_t room = cut ? max - 1 : (size_t)-1; /* leave 1 for "…" */
	/* Each byte becomes at most 6 bytes ("\u0080" from 2 bytes, "\xHH"
	 * from 1 byte: 4). */
	char *out = cli_xmalloc(len * 6 + 4);
	size_t o = 0, i = 0, w = 0, uw;
	char u[16];
	while (i < len) {
		next_unit(s, len, &i, u, &uw);
		if (w + uw > room)
			break;
		size_t ul = strlen(u);
		memcpy(out + o, u, ul);
		o += ul;
		w += uw;
	}
	if (cut) {
		memcpy(out + o, "\xe2\x80\xa6", 3); /* … */
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* ---- tables ----------------------------------------------------------- */
struct cli_table {
	size_t ncols, nrows, cap;
	char **cells; /* (nrows + 1) * ncols, row 0 = headings, printable */
};

struct cli_table *cli_table_new(size_t ncols, const char *const *headings)
{
	struct cli_table *t = cli_xmalloc(sizeof(*t));
	t->ncols = ncols;
	t->nrows = 0;
	t->cap = 8;
	t->cells = cli_xmalloc(t->cap * ncols * sizeof(char *));
	for (size_t c = 0; c < ncols; c++)
		t->cells[c] = cli_text_fit(headings[c], 0);
	return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows + 2 > t->cap) {
		size_t cap = t->cap * 2;
		char **p = realloc(t->cells, cap * t->ncols * sizeof(char *));
		if (!p) {
			fputs("svcbroker: out of memory\n", stderr);
			exit(CLI_EXIT_SERVER);
		}
		t->cells = p;
		t->cap = cap;
	}
	t->nrows++;
	for (size_t c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] =
		    cli_text_fit(cells[c] ? cells[c] : "", 0);
}

static void natural_widths(const struct cli_table *t, size_t *w)
{
	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = 0;
		for (size_t r = 0; r <= t->nrows; r++) {
			size_t cw = cli_text_width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	}
}

size_t cli_table_natural_width(const struct cli_table *t, size_t indent)
{
	size_t *w = cli_xmalloc(t->ncols * sizeof(size_t));
	natural_widths(t, w);
	size_t sum = indent;
	for (size_t c = 0; c < t->ncols; c++)
		sum += w[c] + (c ? 2 : 0);
	free(w);
	return sum;
}

void cli_table_print(struct cli_table *t, size_t indent, size_t width,
		     size_t col_cap)
{
	size_t *w = cli_xmalloc(t->ncols * sizeof(size_t));
	natural_widths(t, w);
	if (col_cap > 0)
		for (size_t c = 0; c + 1 < t->ncols; c++)
			if (w[c] > col_cap)
				w[c] = col_cap;
	if (width > 0) {
		size_t gaps = indent + 2 * (t->ncols - 1);
		size_t avail =
		    width > gaps + t->ncols ? width - gaps : t->ncols;
		size_t sum = 0;
		for (size_t c = 0; c < t->ncols; c++)
			sum += w[c];
		/* Shrink the widest column, one column at a time, down to a
		 * floor of 8 (or its natural width); each pass lowers sum. */
		while (sum > avail) {
			size_t big = 0;
			for (size_t c = 1; c < t->ncols; c++)
				if (w[c] > w[big])
					big = c;
			if (w[big] <= 8)
				break;
			w[big]--;
			sum--;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		printf("%*s", (int)indent, "");
		for (size_t c = 0; c < t->ncols; c++) {
			char *cell =
			    cli_text_fit(t->cells[r * t->ncols + c], w[c]);
			/* Pad only when a later cell of the row has text, so
			 * that no line ends in blanks. */
			bool more = false;
			for (size_t k = c + 1; k < t->ncols; k++)
				if (t->cells[r * t->ncols + k][0])
					more = true;
			fputs(cell, stdout);
			if (more) {
				size_t pad = w[c] - cli_text_width(cell) + 2;
				printf("%*s", (int)pad, "");
			}
			free(cell);
		}
		putchar('\n');
	}
	free(w);
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* ---- values -------------------------------------------------------------- */
char *cli_value_str(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return cli_xstrdup(json_string_value(v));
	case JSON_INTEGER:
		return cli_xasprintf("%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return cli_xasprintf("%.17g", json_real_value(v));
	case JSON_TRUE:
		return cli_xstrdup("true");
	case JSON_FALSE:
		return cli_xstrdup("false");
	case JSON_NULL:
		return cli_xstrdup("");
	case JSON_ARRAY: {
		size_t i, len = 0;
		json_t *item;
		char **parts =
		    cli_xmalloc((json_array_size(v) + 1) * sizeof(char *));
		json_array_foreach(v, i, item)
		{
			parts[i] = cli_value_str(item);
			len += strlen(parts[i]) + 2;
		}
		char *out = cli_xmalloc(len + 1);
		size_t o = 0;
		for (i = 0; i < json_array_size(v); i++) {
			if (i) {
				memcpy(out + o, ", ", 2);
				o += 2;
			}
			size_t pl = strlen(parts[i]);
			memcpy(out + o, parts[i], pl);
			o += pl;
			free(parts[i]);
		}
		out[o] = '\0';
		free(parts);
		return out;
	}
	case JSON_OBJECT: {
		const json_t *content = json_object_get(v, "Content");
		if (json_is_string(content)) {
			const char *name = cli_jstr(v, "Name");
			const char *type = cli_jstr(v, "ContentType");
			size_t size = 0;
			unsigned char *bytes = sb_base64_decode(
			    json_string_value(content),
			    json_string_length(content), &size);
			char *r = cli_xasprintf(
			    "%s (%s, %zu bytes)", name ? name : "(file)",
			    type ? type : "application/octet-stream", size);
			if (!bytes) {
				free(r);
				r = cli_xasprintf(
				    "%s (%s, content not valid base64)",
				    name ? name : "(file)",
				    type ? type : "application/octet-stream");
			}
			free(bytes);
			return r;
		}
		char *d = json_dumps(v, JSON_COMPACT);
		char *r = cli_xstrdup(d ? d : "{}");
		free(d);
		return r;
	}
	}
	return cli_xstrdup("");
}
