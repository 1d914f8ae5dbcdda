/* svcbroker broker SDK, network part — HTTP transport over libcurl, and the
 * libcurl parts every broker that uses libcurl shares (handle pool, the
 * call's deadline as a transfer timeout, cancellation).  Part of
 * libsvcbroker-net (pkg-config svcbroker-net).
 *
 *   struct my_conf { struct sb_http_conf http; ... };
 *   static const struct sb_config_key my_keys[] = {
 *           SB_CONF_INCLUDE("http", sb_http_keys,
 *                           offsetof(struct my_conf, http)),
 *           ...
 *           SB_CONF_END};
 *   validate(): return sb_http_conf_check(&c->http, err);
 *   open():     s->http = sb_http_new(host, &c->http, err);
 *   a handler:
 *           const char *const hdr[] = {"SOAPAction: \"...\"", NULL};
 *           struct sb_http_request rq = {.method = "POST",
 *                   .headers = hdr, .body = xml, .body_len = n,
 *                   .content_type = "text/xml; charset=utf-8"};
 *           struct sb_http_response rs;
 *           enum sb_status st = sb_http_perform(s->http, call, &rq, &rs,
 *                                               err);
 *           ... rs.status, rs.body, sb_http_header(&rs, "Content-Type")
 *           sb_http_response_free(&rs);
 *   close():    sb_http_free(s->http);
 *
 * Every function is thread-safe unless it says otherwise; one client
 * serves every concurrent call of its instance.  libcurl handles are
 * internal: a broker never sees a CURL * of the HTTP client.
 */
#ifndef SVCBROKER_HTTP_H
#define SVCBROKER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/broker.h>
#include <svcbroker/conf.h>
#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== libcurl parts shared by every broker that uses libcurl ============= */

/* ---- the call's deadline --------------------------------------------------
 * The time one transfer may take: what is left of the call's deadline
 * (host->remaining_ms) less a margin (a tenth of it, at least 50 ms and at
 * most 1 s), so that the broker's own error (which says what happened
 * upstream) reaches the caller before the host gives up on the call with
 * a bare 504.  With twice the margin or less left (100 ms at most), all
 * of what is left: too little to split, the transfer still gets its
 * chance.  Without a call (open, test) or a remaining_ms: no_call_ms.
 * <= 0: the deadline has passed, do not start. */
int64_t sb_curl_budget_ms(const struct sb_host *host,
			  const struct sb_call *call, int64_t no_call_ms);

/* ---- cancellation ----------------------------------------------------------
 * A watch stops a libcurl transfer from its progress callback (called
 * about once a second at least, and at every bit of progress) when the
 * call is abandoned (host->cancelled) or when the broker's own stop hook
 * says so; the transfer then ends with CURLE_ABORTED_BY_CALLBACK.  The
 * watch must outlive the transfer (usually on the stack of the function
 * that performs it). */
enum sb_curl_stop {
	SB_CURL_GO = 0,
	SB_CURL_CANCELLED, /* host->cancelled() said so */
	SB_CURL_HOOK,	   /* the broker's stop hook said so */
};
struct sb_curl_watch {
	const struct sb_host *host; /* may be NULL: no cancellation */
	const struct sb_call *call; /* may be NULL (open, test) */
	/* Optional, asked first at each progress report: true stops. */
	bool (*stop)(void *ctx);
	void *ctx;
	enum sb_curl_stop stopped; /* out: why the transfer was stopped */
};
/* Install w on easy (a CURL *): sets CURLOPT_NOPROGRESS 0 and the
 * XFERINFO function and data.  Returns false if libcurl refused an option.
 * Not thread-safe for one handle (no libcurl call is). */
bool sb_curl_watch_install(void *easy, struct sb_curl_watch *w);

/* ---- a pool of easy handles ------------------------------------------------
 * Each call takes a handle (a concurrent call gets its own, new one) and
 * gives it back: an easy handle keeps its own connection cache, so the
 * next transfer skips the TCP and TLS set-up (and, for connection-bound
 * authentication such as NTLM, the handshake).  No connection is shared
 * between handles.  A handle idle for longer than max_idle_s is closed
 * instead of reused; at most `keep` idle handles are kept. */
struct sb_curl_pool;
/* keep 0: 1.  idle_setup (may be NULL) is applied to a handle after it is
 * reset on its way back into the pool (e.g. a bound on the goodbye a
 * protocol sends when the pool closes it).  NULL when out of memory. */
struct sb_curl_pool *sb_curl_pool_new(size_t keep, int64_t max_idle_s,
				      void (*idle_setup)(void *easy));
/* Close every idle handle (and its connections).  NULL is a no-op.  No
 * handle may be out of the pool. */
void sb_curl_pool_free(struct sb_curl_pool *p);
/* An easy handle (CURL *), reset, with its connections kept: the most
 * recently used idle one, or a new one (NULL when out of memory).  *tag
 * (may be NULL) gets the tag it was put back with (0 for a new handle):
 * a few bits of the broker's own about the connection it keeps (smtp:
 * "authenticated"). */
void *sb_curl_pool_get(struct sb_curl_pool *p, unsigned *tag);
/* Give easy back.  With reuse false (a failed transfer: its connection may
 * be half-way through an exchange), or when `keep` handles are idle
 * already, it is closed instead.  NULL easy is a no-op. */
void sb_curl_pool_put(struct sb_curl_pool *p, void *easy, bool reuse,
		      unsigned tag);
/* Idle handles now (for tests and diagnostics). */
size_t sb_curl_pool_idle(struct sb_curl_pool *p);

/* ==== HTTP client ======================================================= */

/* ---- configuration: a shared key fragment --------------------------------
 *   url              http(s) URL of the service (required)
 *   verify_tls       verify the server's certificate and host name (yes)
 *   ca_file          PEM file of trusted authorities (system's)
 *   auth             none | basic | ntlm | negotiate | bearer | header |
 *                    ntlm-negotiate
 *   username         for basic, ntlm and ntlm-negotiate (DOMAIN\user or
 *                    user@domain)
 *   password         secret: the password (basic, ntlm, ntlm-negotiate),
 *                    the token (bearer) or the whole Authorization value
 *                    (header)
 *   connect_timeout  bound on connecting, TLS included (10s)
 *   request_timeout  bound on one request (0: the call's deadline only)
 *   max_response_size  largest response body, decoded (32MiB)
 * Include it with SB_CONF_INCLUDE("http", sb_http_keys, offsetof(...));
 * check the rules spanning keys in validate() with sb_http_conf_check. */
enum sb_http_auth {
	SB_HTTP_AUTH_NONE = 0,
	SB_HTTP_AUTH_BASIC,	/* Authorization: Basic, sent at once */
	SB_HTTP_AUTH_NTLM,	/* CURLAUTH_NTLM alone, never ANY */
	SB_HTTP_AUTH_NEGOTIATE, /* SPNEGO/Kerberos, the daemon's own
				   credentials (GSS-API: KRB5CCNAME,
				   KRB5_CLIENT_KTNAME) */
	SB_HTTP_AUTH_BEARER,	/* Authorization: Bearer <password> */
	SB_HTTP_AUTH_HEADER,	/* Authorization: <password> */
	/* NTLMv2 with username and password, the NTLMSSP tokens carried in
	 * the Negotiate scheme (as WinRM wants them), run by the client
	 * itself; see "auth = ntlm-negotiate" below */
	SB_HTTP_AUTH_NTLM_NEGOTIATE,
};
struct sb_http_conf {
	char *url;
	struct sb_tls_conf tls; /* verify_tls, ca_file */
	int auth;		/* enum sb_http_auth */
	char *username;
	char *password; /* SB_CONF_SECRET */
	int64_t connect_timeout_ms;
	int64_t request_timeout_ms; /* 0: none of its own */
	int64_t max_response_size;
};
extern const struct sb_config_key sb_http_keys[];
/* The names of enum sb_http_auth, NULL-terminated ("none", "basic", ...,
 * "ntlm-negotiate"). */
extern const char *const sb_http_auth_choices[];

/* The rules spanning the fragment's keys: basic, ntlm and ntlm-negotiate
 * need username and password (ntlm-negotiate: a username NTLM can send,
 * DOMAIN\user, user@domain or user), bearer and header a password; negotiate
 * takes neither (it uses the daemon's own Kerberos credentials); the url has a
 * host and no credentials in it.  SB_OK, or SB_ERR_INVALID_INPUT with a message
 * naming the key.  (sb_http_new warns about basic, bearer or header auth
 * over plain http.) */
enum sb_status sb_http_conf_check(const struct sb_http_conf *conf,
				  struct sb_error *err);

/* ---- auth = ntlm-negotiate -------------------------------------------------
 * NTLMv2 with the instance's own username and password, the NTLMSSP
 * tokens carried raw in the Negotiate scheme, as WinRM (which offers only
 * Negotiate and Kerberos) accepts them from non-Windows clients.  libcurl
 * cannot (CURLAUTH_NTLM names the NTLM scheme; its GSS-API path takes
 * only the process's credentials), so the client runs the handshake
 * itself, on ONE connection (NTLM authenticates a connection):
 *   > the request + Authorization: Negotiate <NEGOTIATE message>
 *   < 401 + WWW-Authenticate: Negotiate <CHALLENGE message>
 *   > the request + Authorization: Negotiate <AUTHENTICATE message>
 *   < the answer
 * The request goes whole (its body too) with each leg.  The NTLMv2
 * response takes the challenge's MsvAvTimestamp when it has one, and then
 * the AUTHENTICATE message carries a MIC (MS-NLMP); there is no signing
 * or sealing, nor channel binding (use https).  A kept connection that
 * finished the handshake serves later requests with no Authorization at
 * all; a new connection (SB_HTTP_FRESH_CONNECT, or the server closed the
 * kept one) handshakes again, and so does, once, a 401 on a kept
 * connection (the server forgot it).  A 401 to the AUTHENTICATE message
 * is upstream_auth ("the server refused the credentials of auth =
 * ntlm-negotiate; it offers Negotiate"); a CHALLENGE that cannot be
 * answered (not NTLMSSP, fields outside the message, OEM only) is
 * upstream_error, code "ntlm_challenge", naming what is wrong.
 * sb_http_new computes the NTOWFv2 key once (MD4 from OpenSSL's legacy
 * provider, in a private library context: it fails with a clear error
 * when that provider is missing) and wipes it with the password when the
 * client is freed; the transcript shows "Authorization: Negotiate ***"
 * and "WWW-Authenticate: Negotiate ***".  The debug transport stand-in
 * (sb_http_set_transport) gets the request without Authorization and
 * auth SB_HTTP_AUTH_NTLM_NEGOTIATE: there is no handshake to stand in
 * for. */

/* ---- the client -------------------------------------------------------- */
struct sb_http;

/* A client for one instance: made in open(), freed in close().  conf is
 * copied (the password is wiped when the client is freed); host is
 * borrowed and must outlive the client.  Logs nothing but warnings about
 * the configuration (verify_tls = no).  NULL with err filled. */
struct sb_http *sb_http_new(const struct sb_host *host,
			    const struct sb_http_conf *conf,
			    struct sb_error *err);
/* Close every kept connection and free the client.  NULL is a no-op.  No
 * request may be running. */
void sb_http_free(struct sb_http *c);

/* One request.  Everything is borrowed for the duration of the call. */
#define SB_HTTP_SECRET_BODY 0x1u   /* never log the bodies (token requests) */
#define SB_HTTP_FRESH_CONNECT 0x2u /* on a new connection */
struct sb_http_request {
	const char *method; /* "GET" (NULL), "POST", "PUT", "PATCH", ... */
	/* Where: url (absolute http(s) URL, e.g. a next-page link) if set,
	 * else the configured url with path appended if set.  path starts
	 * with '/' or '?' and holds no '@', '\\' or control characters (it
	 * can never name another server).  A url on another server than
	 * the configured one (scheme, host or port) is refused with
	 * upstream_error, code "foreign_url", unless the request brings its
	 * own bearer or authorization or auth is none: the instance's
	 * credentials go to its configured server only. */
	const char *url;
	const char *path;
	/* Extra headers, "Name: value", NULL-terminated; may be NULL.  A
	 * header of the same name as one the client sets (Content-Type,
	 * Accept, User-Agent) replaces it. */
	const char *const *headers;
	/* The body, kept in memory by the caller (libcurl re-sends it when
	 * an authentication handshake asks for it). */
	const void *body;
	size_t body_len;
	const char *content_type; /* of the body; may be NULL */
	/* Per-request credentials, over the configured auth: a bearer
	 * token (e.g. from an OAuth2 token cache) or a whole Authorization
	 * value.  At most one; each replaces any configured auth. */
	const char *bearer;
	const char *authorization;
	int64_t max_response; /* 0: the client's max_response_size */
	unsigned flags;	      /* SB_HTTP_* */
};

/* A header of a response: both NUL-terminated, value without the
 * surrounding white space. */
struct sb_http_header {
	char *name;
	char *value;
};

/* A response.  Everything is owned by it (sb_http_response_free). */
struct sb_http_response {
	int status;   /* 200, 500, ...; 0: no response came */
	char *reason; /* the reason phrase ("Internal Server Error"), or "" */
	struct sb_http_header *headers; /* of the final response, in order */
	size_t n_headers;
	char *body; /* decoded body, NUL-terminated (never NULL after a
		       response) */
	size_t body_len;
	/* from Retry-After (429, 503), else 0 */
	int64_t retry_after_ms;
	/* new connections the transfer opened (0: a kept one was reused) */
	long new_connections;
};
void sb_http_response_free(struct sb_http_response *r);
/* The value of the first header named name (any case), or NULL. */
const char *sb_http_header(const struct sb_http_response *r, const char *name);

/* Run one request within the call's deadline (sb_curl_budget_ms, bounded
 * by request_timeout; connect_timeout bounds the connection), stopping
 * early if the call is abandoned.  call may be NULL (open, test: 30 s).
 *
 * Returns SB_OK for a 2xx answer.  Anything else is an error status with
 * err filled in the server's words, and resp filled as far as it came
 * (resp->status != 0: a whole response arrived, headers and body, e.g. a
 * SOAP fault with 500, for the broker to read and map its own way):
 *   no connection (DNS, refused) or connect_timeout: unavailable;
 *   deadline or cancellation: timeout;
 *   TLS refused: upstream_error, code "tls_verify" (the certificate) or
 *   "tls" (the handshake), the message naming the problem;
 *   a body over the cap: upstream_error, code "response_too_large";
 *   the connection closed early: upstream_error, "connection_closed";
 *   401: upstream_auth (naming the schemes offered and, with auth =
 *   negotiate, GSS-API's reason when no Kerberos ticket could be had, e.g.
 *   "Ticket expired"); 403: upstream_denied;
 *   404, 410: not_found; 408: timeout; 409, 412: conflict; 413:
 *   payload_too_large; 429: throttled and 503: unavailable, both with
 *   retry_after_ms (Retry-After, else 5 s); 507: quota_exceeded; 3xx
 *   (redirects are not followed) and other 4xx/5xx: upstream_error; the
 *   code is "http_NNN" and the message has the status, the reason
 *   phrase and the start of a text body.
 * resp is always initialised (free it whatever the status).  Logs a
 * transcript at SB_LOG_DEBUG (see below). */
enum sb_status sb_http_perform(struct sb_http *c, const struct sb_call *call,
			       const struct sb_http_request *req,
			       struct sb_http_response *resp,
			       struct sb_error *err);

/* The status and error sb_http_perform gives for a whole response
 * (SB_OK for 2xx; retry_after_ms from its Retry-After), for a broker
 * that looked at the response first (a SOAP fault) and falls back to the
 * generic error.  c (may be NULL) names the configured auth in a 401's
 * message and keeps its credentials out of the quoted body. */
enum sb_status sb_http_status_error(const struct sb_http *c,
				    const struct sb_http_response *resp,
				    struct sb_error *err);

/* ---- the debug transcript ------------------------------------------------
 * Each request logs, at SB_LOG_DEBUG through host->log, one line per
 * header line as it went on the wire ("http > POST /EWS HTTP/1.1",
 * "http > Authorization: NTLM ***", "http < HTTP/1.1 200 OK", ...) and
 * the bodies of text types, at most 4 KiB each ("http > | ..." and
 * "http < | ..."), not at all with SB_HTTP_SECRET_BODY.  Redacted:
 * Authorization, Proxy-Authorization, WWW- and Proxy-Authenticate
 * (scheme kept, e.g. "NTLM ***"), Cookie and Set-Cookie, headers whose
 * name has "token", "secret", "password" or "api-key"; and anywhere, any
 * occurrence of the password, a request's bearer token or Authorization
 * value, or the Basic credentials, as "***". */
#define SB_HTTP_TRANSCRIPT_BODY_MAX 4096

/* ---- a replaceable transport (unit tests) -------------------------------
 * The request as the client built it, for a transport function that
 * stands in for the network: a broker's unit test answers it from fixture
 * files and so runs whole method handlers without a socket. */
struct sb_http_wire {
	const char *method;
	const char *url; /* absolute */
	/* "Name: value": the request's headers and those the client adds
	 * (Content-Type, "Expect:", Authorization for basic, bearer and
	 * header auth), NULL-terminated; libcurl would add Host,
	 * User-Agent, Accept and Accept-Encoding */
	const char *const *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
	enum sb_http_auth auth; /* how it authenticates (ntlm and negotiate
				   are handshakes libcurl would run,
				   ntlm-negotiate one the client runs) */
	int64_t timeout_ms;	/* the budget libcurl would be given */
	int64_t connect_timeout_ms;
	int64_t max_response;
};
/* Fill resp (status, headers, body: with sb_http_response_parse or the
 * setters below) and return SB_OK; or return an error status with err
 * filled to stand for a failed transfer (a timeout, a refused
 * connection).  The client then treats resp as a response from the wire:
 * cap, Retry-After, status mapping, transcript.  Called on the calling
 * thread, concurrently for concurrent calls. */
typedef enum sb_status (*sb_http_transport_fn)(void *ctx,
					       const struct sb_http_wire *req,
					       struct sb_http_response *resp,
					       struct sb_error *err);
/* Replace the client's transport (fn NULL: libcurl again).  Not
 * thread-safe: set it before any request runs. */
void sb_http_set_transport(struct sb_http *c, sb_http_transport_fn fn,
			   void *ctx);
/* Which CURLAUTH_* bits the client gives libcurl (CURLOPT_HTTPAUTH) for
 * its configured auth: CURLAUTH_NTLM for ntlm, CURLAUTH_NEGOTIATE for
 * negotiate, 0 when it sends its own Authorization header (ntlm-negotiate
 * too) or none. */
unsigned long sb_http_curl_auth(const struct sb_http *c);

/* Fill resp from a whole HTTP/1.x response as text (a fixture file):
 * status line, header lines (obsolete folding joined), a blank line (CRLF
 * or LF), then the body as it is (no chunked or gzip decoding).  resp must
 * be zeroed or freed first.  SB_ERR_INVALID_INPUT naming what is wrong, or
 * SB_ERR_INTERNAL when out of memory. */
enum sb_status sb_http_response_parse(struct sb_http_response *resp,
				      const char *text, size_t len,
				      struct sb_error *err);
/* Setters for a transport: status and reason (copied); one header
 * (copied, appended); the body (copied, replacing any).  false when out
 * of memory. */
bool sb_http_response_set_status(struct sb_http_response *resp, int status,
				 const char *reason);
bool sb_http_response_add_header(struct sb_http_response *resp,
				 const char *name, const char *value);
bool sb_http_response_set_body(struct sb_http_response *resp, const void *data,
			       size_t len);

/* ---- small parsers ---------------------------------------------------------
 * A Retry-After value: delta-seconds ("120") or an HTTP-date ("Wed, 21
 * Oct 2015 07:28:00 GMT", and the obsolete RFC 850 and asctime forms),
 * against now_s (Unix seconds).  true and *ms (0 for a date in the past;
 * at most a day) or false when it is neither. */
bool sb_http_parse_retry_after(const char *value, int64_t now_s, int64_t *ms);

#ifdef __cplusplus
}
#endif
#endif
