/* smtp broker — a plain-text rendition of an HTML body, for the text part
 * of multipart/alternative when a call gives HtmlBody without Body (an
 * empty text part reads as nothing in text-only clients and counts against
 * a message in spam filters).  Deliberately simple: tags dropped, block
 * ends become line breaks, list items get "- ", entities decoded, white
 * space collapsed as a browser would. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

struct out {
	struct sb_buf b;
	bool space;   /* white space seen since the last text */
	int newlines; /* line breaks at the end of the output */
};

static void put_break(struct out *o, int want)
{
	o->space = false;
	if (!o->b.len)
		return; /* nothing before: no leading blank lines */
	/* no spaces before a line break */
	while (o->b.len && o->b.data[o->b.len - 1] == ' ')
		o->b.data[--o->b.len] = '\0';
	while (o->newlines < want) {
		sb_buf_append(&o->b, "\n", 1);
		o->newlines++;
	}
}

static void put_text(struct out *o, const char *s, size_t n)
{
	if (o->space && o->b.len && !o->newlines)
		sb_buf_append(&o->b, " ", 1);
	o->space = false;
	sb_buf_append(&o->b, s, n);
	o->newlines = 0;
}

static void put_cp(struct out *o, unsigned long cp)
{
	char u[4];
	if (cp == 0 || cp > 0x10FFFF)
		cp = 0xFFFD;
	size_t n = sb_utf8_encode((uint32_t)cp, u);
	if (cp < 0x20 && cp != '\t') /* control characters: a space */
		o->space = true;
	else
		put_text(o, u, n);
}

/* An entity at s ("&...;"); returns its length, 0 if not one. */
static size_t entity(struct out *o, const char *s)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} names[] = {{"amp", '&'},	{"lt", '<'},	   {"gt", '>'},
		     {"quot", '"'},	{"apos", '\''},	   {"nbsp", 0xA0},
		     {"copy", 0xA9},	{"reg", 0xAE},	   {"euro", 0x20AC},
		     {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026}};
	const char *semi = strchr(s, ';');
	if (!semi || semi - s > 12)
		return 0;
	size_t n = (size_t)(semi - s) + 1;
	if (s[1] == '#') {
		char *end;
		bool hex = s[2] == 'x' || s[2] == 'X';
		const char *digits = hex ? s + 3 : s + 2;
		if (!isxdigit((unsigned char)*digits))
			return 0;
		unsigned long cp = strtoul(digits, &end, hex ? 16 : 10);
		if (end != semi)
			return 0;
		if (cp == 0xA0)
			o->space = true;
		else
			put_cp(o, cp);
		return n;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t l = strlen(names[i].name);
		if (l == n - 2 && !strncmp(s + 1, names[i].name, l)) {
			if (names[i].cp == 0xA0)
				o->space = true;
			else
				put_cp(o, names[i].cp);
			return n;
		}
	}
	return 0;
}

static bool tag_is(const char *name, size_t n, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == n && !strncasecmp(name, *set, n))
			return true;
	return false;
}

char *smtp_html_to_text(const char *html)
{
	static const char *const para[] = {
	    "p",       "div",	  "h1",	    "h2",     "h3",	    "h4",  "h5",
	    "h6",      "ul",	  "ol",	    "table",  "blockquote", "pre", "hr",
	    "section", "article", "header", "footer", NULL};
	static const char *const line[] = {"br", "li", "tr", "dd", "dt", NULL};
	static const char *const skip[] = {"script", "style", "head", "title",
					   NULL};
	struct out o = {.newlines = 0};
	sb_buf_init(&o.b, strlen(html) * 2 + 64);
	const char *p = html;
	while (*p) {
		if (*p == '<') {
			if (!strncmp(p, "<!--", 4)) {
				const char *e = strstr(p + 4, "-->");
				p = e ? e + 3 : p + strlen(p);
				continue;
			}
			const char *q = p + 1;
			bool closing = *q == '/';
			if (closing)
				q++;
			const char *name = q;
			while (isalnum((unsigned char)*q))
				q++;
			size_t nl = (size_t)(q - name);
			const char *gt = strchr(q, '>');
			if (!nl || !gt) { /* not a tag: text */
				put_text(&o, p, 1);
				p++;
				continue;
			}
			p = gt + 1;
			if (!closing && tag_is(name, nl, skip)) {
				/* drop everything up to the matching end tag */
				const char *e = p;
				while ((e = strstr(e, "</"))) {
					if (!strncasecmp(e + 2, name, nl) &&
					    !isalnum((unsigned char)e[2 + nl]))
						break;
					e += 2;
				}
				if (!e) {
					p += strlen(p);
				} else {
					const char *g = strchr(e, '>');
					p = g ? g + 1 : e + strlen(e);
				}
				continue;
			}
			if (tag_is(name, nl, para)) {
				put_break(&o, 2);
			} else if (tag_is(name, nl, line)) {
				if (closing)
					put_break(&o, 1);
				else if (nl == 2 &&
					 !strncasecmp(name, "li", 2)) {
					put_break(&o, 1);
					put_text(&o, "- ", 2);
				} else if (nl == 2 &&
					   !strncasecmp(name, "br", 2)) {
					/* each <br> breaks a line: two make
					 * a blank one */
					put_break(&o, o.newlines < 2
							  ? o.newlines + 1
							  : 2);
				} else {
					put_break(&o, 1);
				}
			} else if (nl == 2 && !strncasecmp(name, "td", 2) &&
				   closing) {
				o.space = true;
			}
			continue;
		}
		if (*p == '&') {
			size_t n = entity(&o, p);
			if (n) {
				p += n;
				continue;
			}
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			o.space = true;
			p++;
			continue;
		}
		/* one character (valid UTF-8 in, whole sequences out) */
		size_t n = 1;
		while (((unsigned char)p[n] & 0xC0) == 0x80)
			n++;
		put_text(&o, p, n);
		p += n;
	}
	while (o.b.len &&
	       (o.b.data[o.b.len - 1] == '\n' || o.b.data[o.b.len - 1] == ' '))
		o.b.data[--o.b.len] = '\0';
	return sb_buf_steal(&o.b);
}
