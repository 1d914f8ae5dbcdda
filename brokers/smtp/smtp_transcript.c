/* smtp broker — the SMTP dialogue as libcurl's debug callback reports it.
 *
 * libcurl says neither which recipients a server refused nor why (with
 * CURLOPT_MAIL_RCPT_ALLLOWFAILS it goes on quietly), but its debug
 * callback shows every command and reply line.  Those lines are kept here,
 * with credentials redacted on the way in, and parsed afterwards by a pure
 * function.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

#define LINE_MAX_KEEP 1000 /* longer lines are cut */
/* Continuation lines of one reply are kept up to this much; the last line
 * (the one with the code and a space) always is. */
#define REPLY_KEEP 2048
/* What one recipient can take in the transcript at most: its RCPT line,
 * and its reply (REPLY_KEEP, then the last line), each line with "> " or
 * "< " and LF. */
#define PER_RCPT_MAX (3 * (LINE_MAX_KEEP + 3) + REPLY_KEEP)
/* Everything else: greeting, EHLO (twice with STARTTLS), AUTH, MAIL,
 * DATA and its replies, libcurl's notes. */
#define TRANSCRIPT_BASE (512u * 1024)

void smtp_transcript_init(struct smtp_transcript *t, size_t n_rcpts)
{
	/* every recipient's reply must fit: Accepted and Rejected are read
	 * from here */
	sb_buf_init(&t->buf, TRANSCRIPT_BASE + n_rcpts * PER_RCPT_MAX);
	t->reply_kept = 0;
	sb_buf_init(&t->partial, 64 * 1024);
	t->in_auth = false;
	t->authed = false;
	t->mail_unauthed = false;
	t->mail_sent = false;
	t->mail_utf8 = false;
	t->secret = NULL;
	t->n_sent = 0;
}

void smtp_transcript_free(struct smtp_transcript *t)
{
	sb_buf_free(&t->buf);
	sb_buf_free(&t->partial);
	for (size_t i = 0; i < t->n_sent; i++)
		free(t->sent[i]);
	t->n_sent = 0;
}

/* Remember one SASL response the client sent (a base64 word; "*" cancels
 * and is not one), to redact it from what the server says. */
static void remember_sent(struct smtp_transcript *t, const char *s, size_t n)
{
	while (n && (*s == ' ')) {
		s++;
		n--;
	}
	size_t k = 0;
	while (k < n && s[k] != ' ')
		k++;
	if (k < 4 || t->n_sent == SMTP_SASL_KEEP)
		return;
	char *w = malloc(k + 1);
	if (!w)
		return;
	memcpy(w, s, k);
	w[k] = '\0';
	t->sent[t->n_sent++] = w;
}

/* The secret of this transcript that occurs at s (at most n bytes), as
 * its length; 0 if none does. */
static size_t secret_at(const struct smtp_transcript *t, const char *s,
			size_t n)
{
	size_t best = 0;
	for (size_t i = 0; i < t->n_sent; i++) {
		size_t k = strlen(t->sent[i]);
		if (k <= n && k > best && !memcmp(s, t->sent[i], k))
			best = k;
	}
	if (t->secret && *t->secret) {
		size_t k = strlen(t->secret);
		if (k <= n && k > best && !memcmp(s, t->secret, k))
			best = k;
	}
	return best;
}

/* A copy of the line s (n bytes) with every credential sent replaced by
 * "***" in *out; false (out untouched) if it holds none. */
static bool redact_line(const struct smtp_transcript *t, const char *s,
			size_t n, struct sb_buf *out)
{
	if (!t->n_sent && !(t->secret && *t->secret))
		return false;
	bool found = false;
	size_t done = 0;
	for (size_t i = 0; i < n;) {
		size_t k = secret_at(t, s + i, n - i);
		if (!k) {
			i++;
			continue;
		}
		if (!found) {
			sb_buf_init(out, 3 * n + 16);
			found = true;
		}
		sb_buf_append(out, s + done, i - done);
		sb_buf_append(out, "***", 3);
		i += k;
		done = i;
	}
	if (found)
		sb_buf_append(out, s + done, n - done);
	return found;
}

static void put_line_as_is(struct smtp_transcript *t, char dir, const char *s,
			   size_t n);

static void put_line(struct smtp_transcript *t, char dir, const char *s,
		     size_t n)
{
	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	/* what the server (or libcurl) says may echo a credential: the
	 * whole line is looked at, before it is cut */
	struct sb_buf clean;
	if (dir != '>' && redact_line(t, s, n, &clean)) {
		if (clean.failed) /* out of memory: keep nothing of it */
			put_line_as_is(t, dir, "[redacted]", 10);
		else
			put_line_as_is(t, dir, clean.data ? clean.data : "",
				       clean.len);
		sb_buf_free(&clean);
		return;
	}
	put_line_as_is(t, dir, s, n);
}

static void put_line_as_is(struct smtp_transcript *t, char dir, const char *s,
			   size_t n)
{
	n = sb_utf8_cut(s, n, LINE_MAX_KEEP); /* on a character boundary */
	if (dir == '>')
		t->reply_kept = 0; /* a command: its reply starts */
	if (dir == '<') {
		/* "250-..." goes on, "250 ..." ends the reply */
		bool last = !(n >= 4 && s[3] == '-');
		if (!last && t->reply_kept + n > REPLY_KEEP)
			return; /* a long reply is cut (its last line kept) */
		t->reply_kept = last ? 0 : t->reply_kept + n;
	}
	if (dir == '>') {
		/* a new SMTP session (or the one after STARTTLS) starts
		 * unauthenticated */
		if (n >= 4 &&
		    (!strncasecmp(s, "EHLO", 4) ||
		     !strncasecmp(s, "HELO", 4)) &&
		    (n == 4 || s[4] == ' '))
			t->authed = false;
		if (n >= 10 && !strncasecmp(s, "MAIL FROM:", 10)) {
			if (!t->authed)
				t->mail_unauthed = true;
			t->mail_sent = true;
			/* parameters follow the closing '>' */
			const char *gt = memrchr(s, '>', n);
			size_t k = gt ? (size_t)(s + n - gt) : 0;
			t->mail_utf8 = false;
			for (size_t i = 0; gt && i + 9 <= k; i++)
				if (!strncasecmp(gt + i, " SMTPUTF8", 9) &&
				    (i + 9 == k || gt[i + 9] == ' '))
					t->mail_utf8 = true;
		}
		/* Nothing after AUTH is kept until the server ends the
		 * exchange: the lines carry credentials. */
		if (n >= 5 && !strncasecmp(s, "AUTH ", 5)) {
			const char *sp = memchr(s + 5, ' ', n - 5);
			size_t keep = sp ? (size_t)(sp - s) : n;
			if (sp) /* the initial response */
				remember_sent(t, sp, (size_t)(s + n - sp));
			sb_buf_puts(&t->buf, "> ");
			sb_buf_append(&t->buf, s, keep);
			sb_buf_puts(&t->buf, sp ? " [redacted]\n" : "\n");
			t->in_auth = true;
			return;
		}
		if (t->in_auth) {
			remember_sent(t, s, n);
			sb_buf_puts(&t->buf, "> [redacted]\n");
			return;
		}
	}
	if (dir == '<' && t->in_auth && n >= 4 &&
	    isdigit((unsigned char)s[0]) && s[0] != '3' && s[3] == ' ') {
		t->in_auth = false;
		if (!strncmp(s, "235", 3)) /* authentication succeeded */
			t->authed = true;
	}
	/* Replies reach API clients as text: valid UTF-8 (else bytes above
	 * 0x7F become '?'), one record per line, no control characters. */
	bool utf8 = sb_utf8_valid(s, n);
	char prefix[2] = {dir, ' '};
	sb_buf_append(&t->buf, prefix, 2);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool bad = c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8);
		sb_buf_append(&t->buf, bad ? "?" : &s[i], 1);
	}
	sb_buf_append(&t->buf, "\n", 1);
}

void smtp_transcript_add(struct smtp_transcript *t, char dir, const char *data,
			 size_t len)
{
	/* A chunk may hold several lines (and a note may lack its LF). */
	const char *p = data;
	const char *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			if (dir == '*') {
				put_line(t, dir, p, (size_t)(end - p));
			} else {
				sb_buf_append(&t->partial, p,
					      (size_t)(end - p));
			}
			return;
		}
		if (t->partial.len) {
			sb_buf_append(&t->partial, p, (size_t)(nl - p));
			put_line(t, dir, t->partial.data ? t->partial.data : "",
				 t->partial.len);
			sb_buf_free(&t->partial);
		} else {
			put_line(t, dir, p, (size_t)(nl - p));
		}
		p = nl + 1;
	}
}

/* ---- parsing ------------------------------------------------------------ */

enum cmd {
	CMD_NONE = 0, /* before any command: the greeting */
	CMD_EHLO,
	CMD_STARTTLS,
	CMD_AUTH,
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
	CMD_CONTENT, /* after 354: the reply to the message itself */
	CMD_OTHER,
};

static char *dupn(const char *s, size_t n)
{
	char *r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

static bool push(char ***v, size_t *n, char *s)
{
	if (!s)
		return false;
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return false;
	}
	nv[(*n)++] = s;
	*v = nv;
	return true;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void smtp_session_free(struct smtp_session *s)
{
	if (!s)
		return;
	free(s->greeting);
	free_list(s->ext, s->n_ext);
	free_list(s->auth_mechs, s->n_auth_mechs);
	free(s->auth_text);
	free(s->mail_text);
	for (size_t i = 0; i < s->n_rcpts; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].text);
	}
	free(s->rcpts);
	free(s->data_text);
	free(s->final_text);
	free(s->last_text);
	memset(s, 0, sizeof(*s));
}

static enum cmd classify(const char *c, size_t n)
{
	if (n >= 4 &&
	    (!strncasecmp(c, "EHLO", 4) || !strncasecmp(c, "HELO", 4)))
		return CMD_EHLO;
	if (n >= 8 && !strncasecmp(c, "STARTTLS", 8))
		return CMD_STARTTLS;
	if (n >= 4 && !strncasecmp(c, "AUTH", 4))
		return CMD_AUTH;
	if (n >= 10 && !strncasecmp(c, "MAIL FROM:", 10))
		return CMD_MAIL;
	if (n >= 8 && !strncasecmp(c, "RCPT TO:", 8))
		return CMD_RCPT;
	if (n == 4 && !strncasecmp(c, "DATA", 4))
		return CMD_DATA;
	return CMD_OTHER;
}

/* The address in "RCPT TO:<addr> PARAMS". */
static char *rcpt_addr(const char *c, size_t n)
{
	const char *p = c + 8;
	const char *e = c + n;
	while (p < e && *p == ' ')
		p++;
	if (p < e && *p == '<') {
		const char *gt = memchr(p, '>', (size_t)(e - p));
		if (gt)
			return dupn(p + 1, (size_t)(gt - p - 1));
	}
	const char *sp = memchr(p, ' ', (size_t)(e - p));
	return dupn(p, (size_t)((sp ? sp : e) - p));
}

bool smtp_transcript_parse(const char *t, size_t len, struct smtp_session *s)
{
	memset(s, 0, sizeof(*s));
	enum cmd last = CMD_NONE;
	struct sb_buf reply; /* the text of a (multi-line) reply so far */
	sb_buf_init(&reply, 64 * 1024);
	size_t reply_lines = 0;
	char **ehlo = NULL; /* keywords of the EHLO reply being read */
	size_t n_ehlo = 0;
	bool ok = true;
	const char *p = t;
	const char *end = t + len;
	while (p < end && ok) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		if (le - p < 2 || p[1] != ' ') {
			p = next;
			continue;
		}
		char dir = p[0];
		const char *l = p + 2;
		size_t n = (size_t)(le - l);
		p = next;
		if (dir == '*') {
			static const char tag[] = "SSL connection using ";
			const char *m = memmem(l, n, tag, sizeof(tag) - 1);
			if (m) {
				m += sizeof(tag) - 1;
				size_t k = 0;
				while (m + k < le && m[k] != ' ' &&
				       m[k] != '/' &&
				       k + 1 < sizeof(s->tls_version))
					k++;
				memcpy(s->tls_version, m, k);
				s->tls_version[k] = '\0';
			}
			continue;
		}
		if (dir == '>') {
			if (n == 10 && !memcmp(l, "[redacted]", 10))
				continue; /* a line of the AUTH exchange */
			last = classify(l, n);
			reply.len = 0;
			reply_lines = 0;
			if (last == CMD_EHLO) {
				free_list(ehlo, n_ehlo);
				ehlo = NULL;
				n_ehlo = 0;
			} else if (last == CMD_AUTH) {
				s->auth_sent = true;
			} else if (last == CMD_RCPT) {
				struct smtp_rcpt_reply *nv = realloc(
				    s->rcpts, (s->n_rcpts + 1) * sizeof(*nv));
				if (!nv) {
					ok = false;
					break;
				}
				s->rcpts = nv;
				struct smtp_rcpt_reply *rr =
				    &s->rcpts[s->n_rcpts];
				rr->addr = rcpt_addr(l, n);
				rr->code = 0;
				rr->text = NULL;
				if (!rr->addr) {
					ok = false;
					break;
				}
				s->n_rcpts++;
			}
			continue;
		}
		if (dir != '<')
			continue;
		/* a reply line: "250-text" (more follow) or "250 text" */
		if (n < 3 || !isdigit((unsigned char)l[0]) ||
		    !isdigit((unsigned char)l[1]) ||
		    !isdigit((unsigned char)l[2]))
			continue;
		int code =
		    (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		bool more = n > 3 && l[3] == '-';
		const char *txt = n > 3 ? l + 4 : l + 3;
		size_t tn = n > 3 ? n - 4 : 0;
		if (last == CMD_EHLO && code == 250 && reply_lines++ > 0) {
			/* lines after the first are extensions */
			if (!push(&ehlo, &n_ehlo, dupn(txt, tn)))
				ok = false;
		}
		if (reply.len)
			sb_buf_append(&reply, " ", 1);
		sb_buf_append(&reply, txt, tn);
		if (more)
			continue;
		/* a complete reply: "<code> <text>" */
		struct sb_buf full;
		sb_buf_init(&full, 0);
		sb_buf_printf(&full, "%d %s", code,
			      reply.data ? reply.data : "");
		char *text = sb_buf_steal(&full);
		char *body =
		    reply.len ? dupn(reply.data, reply.len) : dupn("", 0);
		reply.len = 0;
		reply_lines = 0;
		if (!text || !body) {
			free(text);
			free(body);
			ok = false;
			break;
		}
		free(s->last_text);
		s->last_text = strdup(text);
		s->last_code = code;
		switch (last) {
		case CMD_NONE:
			if (!s->greeting) {
				s->greeting = body;
				body = NULL;
			}
			break;
		case CMD_EHLO:
			if (code == 250) {
				/* the latest EHLO (after STARTTLS) wins */
				free_list(s->ext, s->n_ext);
				s->ext = ehlo;
				s->n_ext = n_ehlo;
				ehlo = NULL;
				n_ehlo = 0;
			}
			break;
		case CMD_AUTH:
			if (code == 334) /* a challenge: the exchange goes on */
				break;
			s->auth_code = code;
			free(s->auth_text);
			s->auth_text = text;
			text = NULL;
			break;
		case CMD_MAIL:
			s->mail_code = code;
			free(s->mail_text);
			s->mail_text = text;
			text = NULL;
			break;
		case CMD_RCPT:
			if (s->n_rcpts && !s->rcpts[s->n_rcpts - 1].code) {
				s->rcpts[s->n_rcpts - 1].code = code;
				s->rcpts[s->n_rcpts - 1].text = text;
				text = NULL;
			}
			break;
		case CMD_DATA:
			s->data_code = code;
			free(s->data_text);
			s->data_text = text;
			text = NULL;
			if (code == 354)
				last = CMD_CONTENT;
			break;
		case CMD_CONTENT:
			s->final_code = code;
			free(s->final_text);
			s->final_text = text;
			text = NULL;
			last = CMD_OTHER;
			break;
		default:
			break;
		}
		free(text);
		free(body);
		if (!s->last_text)
			ok = false;
	}
	free_list(ehlo, n_ehlo);
	sb_buf_free(&reply);
	/* AUTH mechanisms from the extensions */
	for (size_t i = 0; ok && i < s->n_ext; i++) {
		const char *e = s->ext[i];
		if (strncasecmp(e, "AUTH", 4) || (e[4] != ' ' && e[4] != '='))
			continue;
		const char *q = e + 5;
		while (*q && ok) {
			while (*q == ' ')
				q++;
			size_t k = strcspn(q, " ");
			if (!k)
				break;
			bool dup = false;
			for (size_t j = 0; j < s->n_auth_mechs; j++)
				if (strlen(s->auth_mechs[j]) == k &&
				    !strncasecmp(s->auth_mechs[j], q, k))
					dup = true;
			if (!dup &&
			    !push(&s->auth_mechs, &s->n_auth_mechs, dupn(q, k)))
				ok = false;
			q += k;
		}
	}
	if (!ok)
		smtp_session_free(s);
	return ok;
}
