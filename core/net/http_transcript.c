/* libsvcbroker-net: the HTTP client's debug transcript — header lines as
 * they went on the wire and text bodies, capped, with credentials
 * redacted — logged through the host at SB_LOG_DEBUG. */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/http.h>
#include <svcbroker/sdk.h>

#include "http_int.h"

#define LINE_SHOWN                                                             \
	1000 /* bytes of one transcript line (the host's log                   \
		line holds 2 KiB) */

void sbn_secrets_add(struct sbn_secrets *sec, const char *s)
{
	if (!s || !*s)
		return;
	for (size_t i = 0; i < sec->n; i++)
		if (sec->s[i] == s || strcmp(sec->s[i], s) == 0)
			return; /* once is enough */
	if (sec->n < SBN_SECRETS_MAX)
		sec->s[sec->n++] = s;
}

void sbn_redact_append(struct sb_buf *b, const struct sbn_secrets *sec,
		       const char *text, size_t len)
{
	size_t i = 0, from = 0;
	while (i < len) {
		size_t hit = 0;
		for (size_t k = 0; k < sec->n && !hit; k++) {
			size_t sl = strlen(sec->s[k]);
			if (sl <= len - i && !memcmp(text + i, sec->s[k], sl))
				hit = sl;
		}
		if (hit) {
			sb_buf_append(b, text + from, i - from);
			sb_buf_puts(b, "***");
			i += hit;
			from = i;
		} else {
			i++;
		}
	}
	sb_buf_append(b, text + from, len - from);
}

static bool name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(name, want, n);
}

static bool name_has(const char *name, size_t n, const char *part)
{
	size_t pl = strlen(part);
	for (size_t i = 0; i + pl <= n; i++)
		if (!strncasecmp(name + i, part, pl))
			return true;
	return false;
}

/* How much of the header line to show before "***": 0 to show it all. */
size_t sbn_redact_at(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	if (!colon || line[0] == ' ' || line[0] == '\t')
		return 0;
	size_t n = (size_t)(colon - line);
	size_t v = n + 1;
	while (v < len && (line[v] == ' ' || line[v] == '\t'))
		v++;
	if (name_is(line, n, "Authorization") ||
	    name_is(line, n, "Proxy-Authorization") ||
	    name_is(line, n, "WWW-Authenticate") ||
	    name_is(line, n, "Proxy-Authenticate") ||
	    name_is(line, n, "Authentication-Info")) {
		/* keep the scheme ("NTLM", "Bearer"); a bare scheme (the
		 * first leg of a challenge) is shown as it is */
		size_t s = v;
		while (s < len && (isalnum((unsigned char)line[s]) ||
				   line[s] == '-' || line[s] == '_'))
			s++;
		if (s == len)
			return 0;
		return s + 1 <= len ? s + 1 : len;
	}
	if (name_is(line, n, "Cookie") || name_is(line, n, "Set-Cookie") ||
	    name_has(line, n, "token") || name_has(line, n, "secret") ||
	    name_has(line, n, "password") || name_has(line, n, "api-key") ||
	    name_has(line, n, "apikey"))
		return v;
	return 0;
}

static void log_line(const struct sb_host *host, char dir, const char *pfx,
		     const char *text)
{
	char shown[LINE_SHOWN + 8];
	sb_text_quotable(text, LINE_SHOWN, shown, sizeof(shown));
	host->log(host, SB_LOG_DEBUG, "http %c %s%s", dir, pfx, shown);
}

void sbn_log_head(const struct sb_host *host, const struct sbn_secrets *sec,
		  char dir, const char *data, size_t len)
{
	if (!host || !host->log || !sb_log_enabled(host, SB_LOG_DEBUG))
		return; /* built for no one */
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t n = end - pos;
		const char *line = data + pos;
		pos = nl ? end + 1 : len;
		while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
			n--;
		if (!n)
			continue;
		struct sb_buf b;
		sb_buf_init(&b, 4 * LINE_SHOWN);
		size_t cut = sbn_redact_at(line, n);
		if (cut) {
			sbn_redact_append(&b, sec, line, cut);
			sb_buf_puts(&b, "***");
		} else {
			sbn_redact_append(&b, sec, line, n);
		}
		log_line(host, dir, "",
			 b.data ? b.data : (b.failed ? "(line too long)" : ""));
		sb_buf_free(&b);
	}
}

bool sbn_text_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	return !strncasecmp(ct, "text/", 5) || name_has(ct, n, "xml") ||
	       name_has(ct, n, "json") ||
	       name_has(ct, n, "x-www-form-urlencoded");
}

void sbn_log_body(const struct sb_host *host, const struct sbn_secrets *sec,
		  char dir, const char *content_type, const void *body,
		  size_t len, bool secret)
{
	if (!host || !host->log || !len || !sb_log_enabled(host, SB_LOG_DEBUG))
		return;
	if (secret) {
		host->log(host, SB_LOG_DEBUG,
			  "http %c | (%zu bytes, not shown)", dir, len);
		return;
	}
	if (!sbn_text_type(content_type)) {
		char ct[80];
		sb_text_quotable(content_type ? content_type : "no type", 64,
				 ct, sizeof(ct));
		host->log(host, SB_LOG_DEBUG,
			  "http %c | (%zu bytes of %s, not shown)", dir, len,
			  ct);
		return;
	}
	size_t show = sb_utf8_cut(body, len, SB_HTTP_TRANSCRIPT_BODY_MAX);
	/* redact first (a secret may span what becomes two lines) */
	struct sb_buf r;
	sb_buf_init(&r, 4 * SB_HTTP_TRANSCRIPT_BODY_MAX);
	sbn_redact_append(&r, sec, body, show);
	struct sb_buf e;
	sb_buf_init(&e, 8 * SB_HTTP_TRANSCRIPT_BODY_MAX);
	for (size_t i = 0; i < r.len; i++) {
		char c = r.data[i];
		if (c == '\n')
			sb_buf_puts(&e, "\\n");
		else if (c == '\t')
			sb_buf_puts(&e, " ");
		else if (c != '\r')
			sb_buf_append(&e, (unsigned char)c < 0x20 ? "?" : &c,
				      1);
	}
	sb_buf_free(&r);
	for (size_t pos = 0; e.data && pos < e.len;) {
		size_t n = sb_utf8_cut(e.data + pos, e.len - pos, LINE_SHOWN);
		if (!n) /* a lone continuation byte: quotable replaces it */
			n = 1;
		char part[LINE_SHOWN + 1];
		memcpy(part, e.data + pos, n);
		part[n] = '\0';
		log_line(host, dir, "| ", part);
		pos += n;
	}
	sb_buf_free(&e);
	if (show < len)
		host->log(host, SB_LOG_DEBUG,
			  "http %c | ... (%zu bytes in all, %d shown)", dir,
			  len, (int)show);
}
