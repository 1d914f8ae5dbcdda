/* smtp broker — declarations shared by the files of this module. */
#ifndef SMTP_H
#define SMTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/conf.h>
#include <svcbroker/http.h>
#include <svcbroker/oauth2.h>
#include <svcbroker/sdk.h>

/* ---- configuration (smtp_broker.c) -------------------------------------- */

enum smtp_tls { SMTP_TLS_NONE = 0, SMTP_TLS_STARTTLS };
enum smtp_auth {
	SMTP_AUTH_NONE = 0,
	SMTP_AUTH_PLAIN,
	SMTP_AUTH_LOGIN,
	SMTP_AUTH_XOAUTH2
};

struct smtp_conf {
	char *url;
	int tls;  /* enum smtp_tls */
	int auth; /* enum smtp_auth */
	char *username;
	char *password;
	char *helo_name;
	char *from;
	bool allow_from_override;
	bool plain_text_only;
	int64_t max_attachment_size;
	int64_t max_per_minute;
	int64_t rate_window_ms;	  /* the window max_per_minute counts in */
	struct sb_tls_conf trust; /* verify_tls, ca_file (a shared fragment) */
	/* auth = xoauth2 with tokens from an OAuth2 token endpoint (client
	 * credentials) instead of a static token in password */
	char *token_url;
	char *client_id;
	char *client_secret;
	char *cert_file;
	char *key_file;
	char *scope;
	char *token_ca_file;
};

/* ---- rate limiter (smtp_ratelimit.c): a sliding window (rate_window) --- */

struct smtp_ratelimit {
	pthread_mutex_t lock;
	int64_t *slots; /* send times (ms), a ring of `limit` entries */
	size_t limit, head, used;
	int64_t window_ms;
};

/* limit 0 = unlimited.  false on out of memory. */
bool smtp_ratelimit_init(struct smtp_ratelimit *rl, size_t limit,
			 int64_t window_ms);
void smtp_ratelimit_free(struct smtp_ratelimit *rl);
/* Reserve a send at now_ms or later.  If the reserved time is no more than
 * budget_ms away: returns true and sets *wait_ms (0 = go now); the caller
 * sleeps that long and sends.  Otherwise reserves nothing, returns false
 * and sets *wait_ms to how long until a slot frees up.  Thread-safe. */
bool smtp_ratelimit_reserve(struct smtp_ratelimit *rl, int64_t now_ms,
			    int64_t budget_ms, int64_t *wait_ms);

/* Take a send slot for this call: go now, or wait for the slot if the
 * call's deadline (host->remaining_ms, less a second to send) allows, or
 * fail with SB_ERR_THROTTLED and err->retry_after_ms.  SB_ERR_TIMEOUT if
 * the call is abandoned while waiting.  Thread-safe. */
enum sb_status smtp_ratelimit_acquire(struct smtp_ratelimit *rl,
				      const struct sb_host *host,
				      const struct sb_call *call,
				      struct sb_error *err);

/* ---- handle pool: the SDK's (<svcbroker/http.h>, sb_curl_pool) --------- */

/* A kept connection idle longer than this is not reused. */
#define SMTP_MAX_IDLE_S 50
/* Longest wait for the reply to QUIT when a connection is closed. */
#define SMTP_QUIT_TIMEOUT_S 1
/* The tag a pooled handle carries: its connection authenticated (AUTH
 * answered 235). */
#define SMTP_POOL_AUTHED 0x1u

/* Applied to a handle going back into the pool: bounds the QUIT the pool
 * sends when it closes the connection. */
void smtp_pool_idle_setup(void *easy);

/* ---- transcript (smtp_transcript.c) -------------------------------------
 * libcurl's debug callback feeds every command and reply line into a
 * capped buffer ("> " commands, "< " replies, "* " notes); AUTH exchanges
 * are redacted as they arrive.  smtp_transcript_parse() reads it back.
 *
 * A server may echo what it was sent during AUTH in a reply ("535 ...
 * failed for AHVzZXIA...").  Every reply and note is kept with each SASL
 * response the client sent (base64, as sent) and the raw secret replaced
 * by "***", so no error message or log line built from the transcript
 * carries a credential. */

#define SMTP_SASL_KEEP 4 /* SASL responses remembered for redaction */

struct smtp_transcript {
	struct sb_buf buf;
	bool in_auth;
	/* the raw credential (password or bearer token), borrowed; NULL if
	 * none.  Set by the caller after init. */
	const char *secret;
	char *sent[SMTP_SASL_KEEP]; /* SASL responses sent, malloc'd */
	size_t n_sent;
	struct sb_buf partial; /* an incomplete line of a chunk */
	size_t reply_kept;     /* bytes kept of the reply being read */
	/* Kept even when buf is full.  authed: the connection in use has
	 * authenticated (AUTH answered 235); an EHLO (a new connection, or
	 * the one after STARTTLS) clears it.  Set by the caller before the
	 * exchange for a reused connection.  mail_unauthed: a MAIL FROM went
	 * out while not authed. */
	bool authed;
	bool mail_unauthed;
	/* the last MAIL FROM: sent, and with the SMTPUTF8 parameter */
	bool mail_sent;
	bool mail_utf8;
};

/* Room for the exchange with n_rcpts recipients (every reply fits). */
void smtp_transcript_init(struct smtp_transcript *t, size_t n_rcpts);
void smtp_transcript_free(struct smtp_transcript *t);
/* Record one chunk: dir '>' (sent), '<' (received) or '*' (note). */
void smtp_transcript_add(struct smtp_transcript *t, char dir, const char *data,
			 size_t len);

struct smtp_rcpt_reply {
	char *addr;
	int code;
	char *text; /* "550 5.1.1 <x>: Recipient address rejected" */
};

struct smtp_session {
	char *greeting; /* text of the 220 line(s), code removed */
	char **ext;	/* EHLO keywords with their parameters */
	size_t n_ext;
	char **auth_mechs;
	size_t n_auth_mechs;
	char tls_version[32]; /* "TLSv1.3", or "" */
	bool auth_sent;	      /* an AUTH command was sent */
	int auth_code;
	char *auth_text;
	int mail_code;
	char *mail_text;
	struct smtp_rcpt_reply *rcpts;
	size_t n_rcpts;
	int data_code; /* reply to DATA (354 when accepted) */
	char *data_text;
	int final_code; /* reply after the message content */
	char *final_text;
	int last_code; /* the last reply of any kind */
	char *last_text;
};

/* Parse a transcript (pure function).  false on out of memory. */
bool smtp_transcript_parse(const char *t, size_t len, struct smtp_session *s);
void smtp_session_free(struct smtp_session *s);

/* ---- instance (smtp_broker.c) ------------------------------------------- */

struct smtp {
	const struct sb_host *host;
	const struct smtp_conf *conf;
	char *url; /* conf->url with helo_name as its path */
	struct sb_curl_pool *pool;
	struct smtp_ratelimit rate;
	struct sb_oauth2 *oauth; /* token_url given: the token cache */
};

/* ---- one SMTP exchange (smtp_transfer.c) -------------------------------- */

struct smtp_xfer {
	/* in */
	const char *mail_from;	  /* envelope sender */
	const char *const *rcpts; /* envelope recipients */
	size_t n_rcpts;
	const char *data; /* message, CRLF; NULL: connect only */
	size_t len;
	bool utf8;  /* 8-bit header text (RFC 6532): needs SMTPUTF8 */
	bool fresh; /* a new connection, not a reused one */
	/* the XOAUTH2 token from OAuth2; NULL: the password */
	const char *bearer;
	/* out */
	struct smtp_session session;
	CURLcode rc;
	char curl_err[CURL_ERROR_SIZE];
};

/* Run one exchange within the call's deadline.  Fills x->session from the
 * transcript.  Returns SB_OK when curl reported success; otherwise maps
 * the failure into err (server's words when there are some). */
enum sb_status smtp_transfer(struct smtp *s, const struct sb_call *call,
			     struct smtp_xfer *x, struct sb_error *err);
/* smtp_transfer with the credential in place: with OAuth2, a token from
 * the instance's cache, and when the server refuses a cached token in
 * AUTH (revoked), one new token and one more try (smtp_broker.c). */
enum sb_status smtp_transfer_auth(struct smtp *s, const struct sb_call *call,
				  struct smtp_xfer *x, struct sb_error *err);
void smtp_xfer_free(struct smtp_xfer *x);

/* Map an SMTP reply to a status (535 -> upstream_auth, 4xx -> unavailable,
 * 5xx -> upstream_error, ...). */
enum sb_status smtp_reply_status(int code);

/* ---- HTML to text (smtp_html.c) ---------------------------------------- */

/* A plain-text rendition of html (valid UTF-8 in, valid UTF-8 out):
 * malloc'd, or NULL when out of memory.  Pure function. */
char *smtp_html_to_text(const char *html);

/* ---- methods ------------------------------------------------------------ */

enum sb_status smtp_email_send(struct smtp *s, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err);
enum sb_status smtp_connection_test(struct smtp *s, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err);
/* Send a short test message from the instance's `from` to `to`; adds a
 * row with MessageId, Accepted and Rejected. */
enum sb_status smtp_send_test_message(struct smtp *s,
				      const struct sb_call *call,
				      const char *to, struct sb_result *r,
				      struct sb_error *err);
/* The checks behind Connection.Test without a call (the broker's test()). */
enum sb_status smtp_probe(struct smtp *s, const struct sb_call *call,
			  struct smtp_session *out, struct sb_error *err);

#endif
