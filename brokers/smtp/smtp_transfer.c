/* smtp broker — one SMTP exchange over libcurl: transport and TLS options,
 * authentication, deadline, the debug transcript, and the mapping of
 * failures to statuses with the server's own words. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "smtp.h"

#define DEFAULT_BUDGET_MS 30000 /* test() has no call, hence no deadline */

/* With auth configured, nothing goes out on a connection that did not
 * authenticate.  libcurl skips AUTH without a word when the server offers
 * none (it fails only when the offered mechanisms exclude ours), so the
 * exchange is stopped here: at the first progress report after an
 * unauthenticated MAIL FROM (when libcurl makes one: a matter of timing),
 * and at the latest when libcurl asks for the content after DATA (no byte
 * of it is given, so the server never gets the final dot and keeps
 * nothing). */
/* Likewise a message with 8-bit header text (a non-ASCII address) goes
 * only in a transaction declared SMTPUTF8 (RFC 6531); libcurl declares it
 * only for non-ASCII envelope addresses and when the server offers it. */
enum guard_why { GUARD_GO = 0, GUARD_AUTH, GUARD_UTF8 };

struct guard {
	const struct smtp_transcript *tr;
	bool need_auth;
	bool need_utf8;
	enum guard_why stopped; /* why the exchange was stopped */
};

static bool guard_stop(struct guard *g)
{
	if (g->need_auth && (!g->tr->authed || g->tr->mail_unauthed))
		g->stopped = GUARD_AUTH;
	else if (g->need_utf8 && g->tr->mail_sent && !g->tr->mail_utf8)
		g->stopped = GUARD_UTF8;
	return g->stopped != GUARD_GO;
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Called once the connection is set up (greeting, EHLO, STARTTLS, AUTH)
 * and before MAIL FROM: an unauthenticated connection with auth required
 * stops here, so the server sees no transaction at all. */
static int prereq_cb(void *ud, char *primary_ip, char *local_ip,
		     int primary_port, int local_port)
{
	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	struct guard *g = ud;
	if (g->need_auth && !g->tr->authed) {
		g->stopped = GUARD_AUTH;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}
#endif

struct upload {
	const char *data;
	size_t len, pos;
	struct guard *guard;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct upload *u = ud;
	if (guard_stop(u->guard))
		return CURL_READFUNC_ABORT;
	size_t room = size * nitems;
	size_t left = u->len - u->pos;
	size_t n = left < room ? left : room;
	memcpy(buf, u->data + u->pos, n);
	u->pos += n;
	return n;
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size,
		    void *ud)
{
	(void)h;
	struct smtp_transcript *t = ud;
	switch (type) {
	case CURLINFO_HEADER_OUT:
		smtp_transcript_add(t, '>', data, size);
		break;
	case CURLINFO_HEADER_IN:
		smtp_transcript_add(t, '<', data, size);
		break;
	case CURLINFO_TEXT:
		smtp_transcript_add(t, '*', data, size);
		break;
	default: /* message content and TLS records are not kept */
		break;
	}
	return 0;
}

/* The progress callback (the SDK's watch) asks this first: stop once the
 * guard says so after MAIL FROM went out. */
static bool guard_hook(void *ud)
{
	struct guard *g = ud;
	return g->tr->mail_sent && guard_stop(g);
}

void smtp_pool_idle_setup(void *easy)
{
	/* bounds the QUIT when the pool closes the connection */
	curl_easy_setopt(easy, CURLOPT_SERVER_RESPONSE_TIMEOUT,
			 (long)SMTP_QUIT_TIMEOUT_S);
}

enum sb_status smtp_reply_status(int code)
{
	switch (code) {
	case 530: /* authentication required */
	case 534: /* mechanism too weak */
	case 535: /* credentials invalid */
	case 454: /* temporary authentication failure */
		return code == 454 ? SB_ERR_UNAVAILABLE : SB_ERR_UPSTREAM_AUTH;
	case 552: /* message too big for the system */
		return SB_ERR_PAYLOAD_TOO_LARGE;
	default:
		break;
	}
	if (code >= 400 && code < 500)
		return SB_ERR_UNAVAILABLE;
	return SB_ERR_UPSTREAM;
}

void smtp_xfer_free(struct smtp_xfer *x) { smtp_session_free(&x->session); }

static const char *const auth_keys[] = {"none", "plain", "login", "xoauth2"};
static const char *const auth_names[] = {"none", "PLAIN", "LOGIN", "XOAUTH2"};

/* auth is configured but the server does not let us use it: a clear
 * refusal naming what it offers. */
static enum sb_status auth_missing(struct smtp *s,
				   const struct smtp_session *ss,
				   struct sb_error *err)
{
	bool clear = s->conf->tls == SMTP_TLS_NONE &&
		     strncasecmp(s->url, "smtps:", 6) != 0;
	if (!ss->n_auth_mechs)
		return sb_error_set(
		    err, SB_ERR_UPSTREAM_AUTH, "auth_not_offered",
		    "authentication is configured (auth = %s) but the SMTP "
		    "server offers no AUTH%s; nothing was sent",
		    auth_keys[s->conf->auth],
		    clear ? " (many servers offer it only after STARTTLS: "
			    "tls = starttls)"
			  : "");
	struct sb_buf offered;
	sb_buf_init(&offered, 1024);
	for (size_t i = 0; i < ss->n_auth_mechs; i++)
		sb_buf_printf(&offered, "%s%s", i ? " " : "",
			      ss->auth_mechs[i]);
	enum sb_status st = sb_error_set(
	    err, SB_ERR_UPSTREAM_AUTH, "auth_not_offered",
	    "authentication is configured but the SMTP server does not "
	    "offer AUTH %s (it offers: %s%s); nothing was sent",
	    auth_names[s->conf->auth], offered.data ? offered.data : "",
	    offered.failed ? " ..." : "");
	sb_buf_free(&offered);
	return st;
}

static bool has_8bit(const char *a)
{
	for (; a && *a; a++)
		if ((unsigned char)*a >= 0x80)
			return true;
	return false;
}

/* libcurl declares SMTPUTF8 when an envelope address is non-ASCII and the
 * server offers it: so either the server does not, or the non-ASCII
 * address is only in the headers. */
static enum sb_status utf8_refused(const struct smtp_xfer *x,
				   struct sb_error *err)
{
	bool envelope = has_8bit(x->mail_from);
	for (size_t i = 0; i < x->n_rcpts && !envelope; i++)
		envelope = has_8bit(x->rcpts[i]);
	if (envelope)
		return sb_error_set(err, SB_ERR_UPSTREAM, "smtputf8",
				    "the message has a non-ASCII address, "
				    "which needs SMTPUTF8, and the SMTP "
				    "server does not offer it; nothing was "
				    "sent");
	return sb_error_set(err, SB_ERR_INVALID_INPUT, "smtputf8",
			    "a non-ASCII address only in From or ReplyTo "
			    "cannot be sent (the transaction is declared "
			    "SMTPUTF8 only for non-ASCII recipients or "
			    "envelope sender); nothing was sent");
}

static enum sb_status map_failure(struct smtp *s, struct smtp_xfer *x,
				  struct sb_error *err)
{
	const struct smtp_session *ss = &x->session;
	const char *cw =
	    x->curl_err[0] ? x->curl_err : curl_easy_strerror(x->rc);
	char code[16] = "";
	/* the content went out but its reply never came */
	const char *unknown = ss->data_code == 354 && !ss->final_code
				  ? " (after the message was sent: it may "
				    "or may not be delivered)"
				  : "";
	switch (x->rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "the SMTP server did not answer in time%s: "
				    "%s",
				    unknown, cw);
	case CURLE_ABORTED_BY_CALLBACK:
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "call abandoned before the SMTP exchange "
				    "ended%s",
				    unknown);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot reach the SMTP server: %s", cw);
	case CURLE_PEER_FAILED_VERIFICATION:
		return sb_error_set(err, SB_ERR_UPSTREAM, "tls_verify",
				    "TLS: the SMTP server's certificate was "
				    "refused: %s",
				    cw);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return sb_error_set(err, SB_ERR_UPSTREAM, "tls",
				    "TLS with the SMTP server failed: %s", cw);
	case CURLE_USE_SSL_FAILED:
		if (ss->last_code >= 400) /* offered, then refused */
			return sb_error_set(err, SB_ERR_UPSTREAM, "starttls",
					    "the SMTP server refused STARTTLS "
					    "(tls = starttls requires it; "
					    "nothing was sent): %s",
					    ss->last_text);
		return sb_error_set(err, SB_ERR_UPSTREAM, "starttls",
				    "the SMTP server does not offer STARTTLS "
				    "(tls = starttls requires it): %s",
				    cw);
	case CURLE_LOGIN_DENIED:
		if (!ss->auth_sent && s->conf->auth != SMTP_AUTH_NONE)
			/* no usable mechanism */
			return auth_missing(s, ss, err);
		if (ss->auth_code) {
			snprintf(code, sizeof(code), "%d", ss->auth_code);
			return sb_error_set(err, SB_ERR_UPSTREAM_AUTH, code,
					    "SMTP server refused the "
					    "credentials: %s",
					    ss->auth_text);
		}
		return sb_error_set(err, SB_ERR_UPSTREAM_AUTH, NULL,
				    "SMTP authentication failed: %s", cw);
	default:
		break;
	}
	/* a refusal in the dialogue: report the server's reply */
	const char *what = NULL;
	int c = 0;
	const char *txt = NULL;
	if (ss->final_code >= 400) {
		what = "the SMTP server refused the message";
		c = ss->final_code;
		txt = ss->final_text;
	} else if (ss->data_code >= 400) {
		what = "the SMTP server refused DATA";
		c = ss->data_code;
		txt = ss->data_text;
	} else if (ss->mail_code == 552) { /* SIZE= over the server's limit */
		what = "the SMTP server refused the message as too large";
		c = ss->mail_code;
		txt = ss->mail_text;
	} else if (ss->mail_code >= 400) {
		what = "the SMTP server refused the sender";
		c = ss->mail_code;
		txt = ss->mail_text;
	} else if (ss->auth_code >= 400) {
		what = "the SMTP server refused the credentials";
		c = ss->auth_code;
		txt = ss->auth_text;
	} else if (ss->last_code >= 400) {
		what = "the SMTP server answered";
		c = ss->last_code;
		txt = ss->last_text;
	}
	if (what) {
		snprintf(code, sizeof(code), "%d", c);
		enum sb_status st = smtp_reply_status(c);
		if (c >= 500 && c < 600 && ss->mail_code >= 500 &&
		    c == ss->mail_code && st == SB_ERR_UPSTREAM)
			st = SB_ERR_UPSTREAM_DENIED;
		sb_error_set(err, st, code, "%s: %s", what, txt);
		if (st == SB_ERR_UNAVAILABLE && err)
			err->retry_after_ms = 60000;
		return st;
	}
	if (x->rc == CURLE_GOT_NOTHING || x->rc == CURLE_RECV_ERROR ||
	    x->rc == CURLE_SEND_ERROR || x->rc == CURLE_WEIRD_SERVER_REPLY)
		return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
				    "SMTP exchange failed%s: %s", unknown, cw);
	return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
			    "SMTP exchange failed: %s", cw);
}

/* One log line: the transcript's records joined by " | ", without the
 * TLS handshake chatter. */
static void log_transcript(struct smtp *s, CURLcode rc,
			   const struct smtp_transcript *tr)
{
	if (!tr->buf.data)
		return;
	struct sb_buf b;
	sb_buf_init(&b, 64 * 1024);
	const char *p = tr->buf.data;
	while (*p) {
		size_t n = strcspn(p, "\n");
		if (!(n > 6 && !strncmp(p, "* TLSv", 6))) {
			if (b.len)
				sb_buf_puts(&b, " | ");
			sb_buf_append(&b, p, n);
		}
		p += n;
		if (*p)
			p++;
	}
	s->host->log(s->host, SB_LOG_DEBUG,
		     "SMTP exchange failed (%s); transcript: %s%s",
		     curl_easy_strerror(rc), b.data ? b.data : "",
		     b.failed ? " ..." : "");
	sb_buf_free(&b);
}

/* Did this exchange fail on a reused connection before the server took
 * anything (no reply to MAIL FROM)?  Then the server had dropped it. */
static bool stale_reuse(CURL *h, const struct smtp_xfer *x)
{
	long new_conns = -1;
	if (x->rc != CURLE_SEND_ERROR && x->rc != CURLE_RECV_ERROR &&
	    x->rc != CURLE_GOT_NOTHING && x->rc != CURLE_WEIRD_SERVER_REPLY)
		return false;
	if (!x->data || x->fresh || x->session.mail_code)
		return false;
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &new_conns) != CURLE_OK)
		return false;
	return new_conns == 0;
}

#define SETOPT(h, o, v)                                                        \
	do {                                                                   \
		if (curl_easy_setopt((h), (o), (v)) != CURLE_OK)               \
			goto setopt_failed;                                    \
	} while (0)

enum sb_status smtp_transfer(struct smtp *s, const struct sb_call *call,
			     struct smtp_xfer *x, struct sb_error *err)
{
	const struct smtp_conf *c = s->conf;
	memset(&x->session, 0, sizeof(x->session));
	x->curl_err[0] = '\0';
	x->rc = CURLE_OK;
	/* what is left of the call's deadline less a margin, so that the
	 * broker's own answer (which says, for one, when a message may or
	 * may not have been delivered) comes before the host's */
	int64_t budget = sb_curl_budget_ms(s->host, call, DEFAULT_BUDGET_MS);
	if (budget <= 0)
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "deadline passed before the SMTP exchange");

	unsigned tag = 0;
	CURL *h = sb_curl_pool_get(s->pool, &tag);
	bool authed = tag & SMTP_POOL_AUTHED;
	if (!h)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot create a libcurl handle");
	struct smtp_transcript tr;
	smtp_transcript_init(&tr, x->n_rcpts);
	if (c->auth != SMTP_AUTH_NONE) /* never kept if a server echoes it */
		tr.secret = x->bearer ? x->bearer : c->password;
	/* a reused connection shows no AUTH: it authenticated before */
	tr.authed = authed && !x->fresh;
	struct guard guard = {&tr, c->auth != SMTP_AUTH_NONE,
			      x->data && x->utf8, GUARD_GO};
	struct curl_slist *rcpts = NULL;
	struct upload up = {x->data, x->len, 0, &guard};
	struct sb_curl_watch watch = {s->host, call, guard_hook, &guard,
				      SB_CURL_GO};
	enum sb_status st = SB_OK;

	SETOPT(h, CURLOPT_URL, s->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	/* servers drop idle sessions (often after 60 s to 10 min): reuse a
	 * kept connection only while it is fresh */
	SETOPT(h, CURLOPT_MAXAGE_CONN, (long)SMTP_MAX_IDLE_S);
	SETOPT(h, CURLOPT_ERRORBUFFER, x->curl_err);
	SETOPT(h, CURLOPT_VERBOSE, 1L);
	SETOPT(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	SETOPT(h, CURLOPT_DEBUGDATA, &tr);
#if LIBCURL_VERSION_NUM >= 0x075000
	SETOPT(h, CURLOPT_PREREQFUNCTION, prereq_cb);
	SETOPT(h, CURLOPT_PREREQDATA, &guard);
#endif
	if (!sb_curl_watch_install(h, &watch))
		goto setopt_failed;
	SETOPT(h, CURLOPT_TIMEOUT_MS, (long)budget);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long)budget);
	/* bounds each reply wait, and the QUIT when a connection is closed
	 * (libcurl then ignores the transfer timeout) */
	SETOPT(h, CURLOPT_SERVER_RESPONSE_TIMEOUT,
	       (long)(budget < 2000 ? 1 : budget / 1000));
	if (x->fresh)
		SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);

	/* TLS: starttls is required, never tried-and-dropped */
	if (!strncasecmp(s->url, "smtp://", 7))
		SETOPT(h, CURLOPT_USE_SSL,
		       c->tls == SMTP_TLS_STARTTLS ? (long)CURLUSESSL_ALL
						   : (long)CURLUSESSL_NONE);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, c->trust.verify_tls ? 1L : 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, c->trust.verify_tls ? 2L : 0L);
	if (c->trust.ca_file)
		SETOPT(h, CURLOPT_CAINFO, c->trust.ca_file);

	switch (c->auth) {
	case SMTP_AUTH_PLAIN:
		SETOPT(h, CURLOPT_USERNAME, c->username);
		SETOPT(h, CURLOPT_PASSWORD, c->password);
		SETOPT(h, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
		break;
	case SMTP_AUTH_LOGIN:
		SETOPT(h, CURLOPT_USERNAME, c->username);
		SETOPT(h, CURLOPT_PASSWORD, c->password);
		SETOPT(h, CURLOPT_LOGIN_OPTIONS, "AUTH=LOGIN");
		break;
	case SMTP_AUTH_XOAUTH2:
		SETOPT(h, CURLOPT_USERNAME, c->username);
		SETOPT(h, CURLOPT_XOAUTH2_BEARER,
		       x->bearer ? x->bearer : c->password);
		SETOPT(h, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
		break;
	default:
		break;
	}

	if (x->data) {
		struct sb_buf from;
		sb_buf_init(&from, 1024);
		sb_buf_printf(&from, "<%s>", x->mail_from);
		CURLcode fr =
		    from.failed
			? CURLE_OUT_OF_MEMORY
			: curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.data);
		sb_buf_free(&from);
		if (fr != CURLE_OK)
			goto setopt_failed;
		for (size_t i = 0; i < x->n_rcpts; i++) {
			struct sb_buf r;
			sb_buf_init(&r, 1024);
			sb_buf_printf(&r, "<%s>", x->rcpts[i]);
			struct curl_slist *nl =
			    r.failed ? NULL : curl_slist_append(rcpts, r.data);
			sb_buf_free(&r);
			if (!nl)
				goto setopt_failed;
			rcpts = nl;
		}
		SETOPT(h, CURLOPT_MAIL_RCPT, rcpts);
		/* go on past refused recipients; the transcript says who */
#if LIBCURL_VERSION_NUM >= 0x080200
		SETOPT(h, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#else
		SETOPT(h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
		SETOPT(h, CURLOPT_UPLOAD, 1L);
		SETOPT(h, CURLOPT_READFUNCTION, read_cb);
		SETOPT(h, CURLOPT_READDATA, &up);
		SETOPT(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->len);
	} else {
		/* greeting, EHLO, STARTTLS and AUTH, then stop */
		SETOPT(h, CURLOPT_CONNECT_ONLY, 1L);
	}

	x->rc = curl_easy_perform(h);
	/* the transcript ends with what the server said last */
	if (!smtp_transcript_parse(tr.buf.data ? tr.buf.data : "", tr.buf.len,
				   &x->session)) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if (stale_reuse(h, x)) {
		/* A kept connection the server had closed: nothing was
		 * accepted on it, so try once more on a new one. */
		s->host->log(s->host, SB_LOG_DEBUG,
			     "kept SMTP connection was closed by the server "
			     "(%s); connecting again",
			     curl_easy_strerror(x->rc));
		smtp_session_free(&x->session);
		smtp_transcript_free(&tr);
		/* a new connection: not authenticated yet */
		smtp_transcript_init(&tr, x->n_rcpts);
		if (c->auth != SMTP_AUTH_NONE)
			tr.secret = x->bearer ? x->bearer : c->password;
		guard.stopped = GUARD_GO;
		up.pos = 0;
		x->curl_err[0] = '\0';
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		x->rc = curl_easy_perform(h);
		if (!smtp_transcript_parse(tr.buf.data ? tr.buf.data : "",
					   tr.buf.len, &x->session)) {
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
			goto out;
		}
	}
	/* Judge by the transcript too: whether the progress callback stopped
	 * the exchange before a recipient's refusal or the content did is a
	 * matter of timing; the reason must not be. */
	if (guard.stopped == GUARD_GO && (tr.mail_sent || x->rc == CURLE_OK))
		guard_stop(&guard);
	if (guard.stopped == GUARD_UTF8) {
		st = utf8_refused(x, err);
		log_transcript(s, x->rc, &tr);
	} else if (guard.stopped == GUARD_AUTH) {
		/* auth configured, the connection never authenticated (the
		 * connect-only probe ends OK without it) */
		st = auth_missing(s, &x->session, err);
		s->host->log(s->host, SB_LOG_WARN, "%s",
			     err && err->message[0] ? err->message
						    : "the SMTP server offers "
						      "no usable AUTH");
		log_transcript(s, x->rc, &tr);
	} else if (x->rc != CURLE_OK) {
		st = map_failure(s, x, err);
		/* the dialogue, credentials already redacted, for the admin */
		log_transcript(s, x->rc, &tr);
	}
	goto out;

setopt_failed:
	st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
			  "libcurl refused an option (out of memory or a "
			  "libcurl without SMTP/TLS support)");
out:
	/* a handle that failed may hold a half-done connection: drop it;
	 * connect-only handles hold a connection nobody will use again */
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
	if (st != SB_OK) {
		/* A failed session may be anywhere (in the content, say): a
		 * QUIT would only wait on a hung server after the call's time
		 * is up.  End the connection without it. */
		curl_socket_t sock = CURL_SOCKET_BAD;
		if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock) ==
			CURLE_OK &&
		    sock != CURL_SOCKET_BAD)
			shutdown(sock, SHUT_RDWR);
		curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT,
				 (long)SMTP_QUIT_TIMEOUT_S);
	}
	sb_curl_pool_put(s->pool, h, st == SB_OK && x->data != NULL,
			 tr.authed ? SMTP_POOL_AUTHED : 0);
	curl_slist_free_all(rcpts);
	smtp_transcript_free(&tr);
	return st;
}
