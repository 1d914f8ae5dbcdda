/* svcbroker broker SDK, network part — OAuth2 client credentials
 * (RFC 6749 section 4.4), for brokers that present a bearer token to their
 * server (Microsoft Graph, EWS, Office 365 SMTP AUTH XOAUTH2).  Part of
 * libsvcbroker-net (pkg-config svcbroker-net).
 *
 * One struct sb_oauth2 per broker instance keeps the instance's token:
 *
 *   struct sb_oauth2_conf oc = {
 *           .token_url = conf->token_url, .client_id = conf->client_id,
 *           .client_secret = conf->client_secret,        (or cert_file and
 *           .scope = "https://outlook.office365.com/.default",  key_file)
 *           .verify_tls = true};
 *   sb_oauth2_new(&oc, host, &s->oauth, err);             (in open())
 *   ...
 *   char *tok;
 *   if (sb_oauth2_token(s->oauth, call, &tok, NULL, err) != SB_OK)
 *           return err->status;
 *   ... send "Authorization: Bearer <tok>" ...
 *   sb_oauth2_token_free(tok);
 *   ...
 *   sb_oauth2_free(s->oauth);                             (in close())
 *
 * The client authenticates with a client secret (client_secret_post), or
 * with a certificate: then each token request carries a JWT client
 * assertion (RFC 7523) signed RS256 with the private key, whose header
 * names the certificate by its SHA-1 thumbprint (x5t), as Microsoft Entra
 * ID expects.  The private key file is refused when its group or others
 * may read it.
 *
 * The token is kept in memory only and is renewed ahead of its expiry
 * (when less than a tenth of its lifetime, at most 5 minutes, is left):
 * one caller requests a new token while the others go on with the old one;
 * once a token has expired, one caller requests a new one and the others
 * wait for it, each within its own call's deadline (and stop waiting when
 * their call is cancelled).  A failed request is reported to every caller
 * that waited for it.  Tokens, secrets and assertions are never logged, at
 * any level, and never put in an error message.
 *
 * A token the server refuses (HTTP 401, SMTP 535) although it has not
 * expired was revoked: the caller invalidates it (sb_oauth2_invalidate)
 * and tries once more with a new token; sb_oauth2_with_token does exactly
 * that.  Retry only once, and only when the refused token came from the
 * cache (`cached` below): a token fresh from the endpoint that is refused
 * means the application lacks the permission, and asking again would not
 * change that.
 *
 * Every function is thread-safe, except new and free (open and close).
 */
#ifndef SVCBROKER_OAUTH2_H
#define SVCBROKER_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/broker.h>
#include <svcbroker/sdk.h>
#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sb_call;

/* The largest token endpoint answer read (the rest is refused). */
#define SB_OAUTH2_MAX_RESPONSE (64 * 1024)

/* One token request, as handed to the transport. */
struct sb_oauth2_post {
	const char *url;     /* the token endpoint */
	const char *body;    /* application/x-www-form-urlencoded */
	size_t body_len;     /* carries the secret or assertion */
	int64_t timeout_ms;  /* the whole exchange, > 0 */
	bool verify_tls;     /* verify the server's certificate and name */
	const char *ca_file; /* PEM trust anchors; NULL: the system's */
	size_t max_response; /* answer bodies larger than this: refused */
	const struct sb_host *host; /* for cancellation (may be NULL) */
	const struct sb_call *call; /* the call it serves; NULL: none */
};

/* A transport for the token request: POST req->body to req->url with
 * "Content-Type: application/x-www-form-urlencoded" and "Accept:
 * application/json", and give back the HTTP status in *http_status and
 * the answer's body in *body (initialised by the caller with
 * req->max_response as its cap; the transport appends).  Return SB_OK
 * when an HTTP answer arrived, whatever its status; otherwise an error
 * in err (SB_ERR_TIMEOUT for the timeout or a cancelled call,
 * SB_ERR_UNAVAILABLE when the endpoint cannot be reached, SB_ERR_UPSTREAM
 * with code "tls_verify" for a refused certificate, ...).  Never log the
 * body.  ctx is sb_oauth2_conf.post_ctx.  Called by one thread at a time
 * per struct sb_oauth2. */
typedef enum sb_status (*sb_oauth2_post_fn)(void *ctx,
					    const struct sb_oauth2_post *req,
					    long *http_status,
					    struct sb_buf *body,
					    struct sb_error *err);

/* The default transport: one libcurl POST (HTTP/1.1, no redirects, TLS
 * verified unless req->verify_tls is false, the deadline as its timeout,
 * cancellation through req->host->cancelled, the answer capped).  ctx is
 * unused.  A broker's own transport may call it. */
enum sb_status sb_oauth2_curl_post(void *ctx, const struct sb_oauth2_post *req,
				   long *http_status, struct sb_buf *body,
				   struct sb_error *err);

struct sb_oauth2_conf {
	/* The token endpoint: https://, or http:// to a loopback address
	 * only (127.0.0.0/8, ::1, localhost), e.g.
	 * https://login.microsoftonline.com/TENANT/oauth2/v2.0/token */
	const char *token_url;
	const char *client_id; /* the application (client) id */
	/* Either the client secret ... */
	const char *client_secret;
	/* ... or a certificate (PEM) and its private key (PEM, RSA, not
	 * readable by group or others; an encrypted key is refused). */
	const char *cert_file;
	const char *key_file;
	/* Space-separated scopes, e.g. "https://graph.microsoft.com/.default";
	 * NULL or "": no scope parameter. */
	const char *scope;
	bool verify_tls;     /* set it to true unless told otherwise */
	const char *ca_file; /* PEM trust anchors for the token endpoint */
	/* The token request's transport; NULL: sb_oauth2_curl_post. */
	sb_oauth2_post_fn post;
	void *post_ctx;
};

struct sb_oauth2;

/* The rule sb_oauth2_new applies to a token endpoint, for validate():
 * an https:// URL with a host and no credentials or white space in it;
 * http:// only to a loopback host (127.x.y.z, [::1], localhost: the
 * whole host, not a prefix), since the client credentials would cross the
 * network in clear text.  SB_OK, or SB_ERR_INVALID_INPUT with a message
 * naming token_url.  Since libsvcbroker-net 1.1. */
enum sb_status sb_oauth2_url_check(const char *token_url, struct sb_error *err);

/* Check conf and make an empty token cache (no request is made: the first
 * sb_oauth2_token does).  Every string is copied; the certificate and key
 * are read now, so a missing or unreadable file, a key readable by group
 * or others ("key_file /etc/x.key: mode 0644 lets group or others read
 * the private key; chmod 600 it"), an encrypted or non-RSA key or one
 * that does not match the certificate is refused here, as
 * SB_ERR_INVALID_INPUT with a message naming the file or field (token_url,
 * client_id, client_secret, cert_file, key_file).  host (borrowed, may be
 * NULL in tests) gives the deadline and the log.  Sets *out on SB_OK. */
enum sb_status sb_oauth2_new(const struct sb_oauth2_conf *conf,
			     const struct sb_host *host, struct sb_oauth2 **out,
			     struct sb_error *err);
/* Free the cache, wiping the token, secret and key.  NULL is a no-op.
 * No other function may be running on it. */
void sb_oauth2_free(struct sb_oauth2 *o);

/* A valid token for call (NULL: no call, e.g. test(); 30 s budget): the
 * cached one, or a new one from the endpoint.  *token is a malloc'd copy:
 * release it with sb_oauth2_token_free.  cached (may be NULL) says
 * whether the token came from the cache (true) or from a request made for
 * this call (false).  Errors: the endpoint's refusal with its own error
 * code in err->code and its description in the message
 * ("invalid_client" -> SB_ERR_UPSTREAM_AUTH, "invalid_scope" ->
 * SB_ERR_UPSTREAM, "temporarily_unavailable" -> SB_ERR_UNAVAILABLE, HTTP
 * 429 -> SB_ERR_THROTTLED), SB_ERR_TIMEOUT when the call's deadline
 * passed or it was cancelled while it waited or requested. */
enum sb_status sb_oauth2_token(struct sb_oauth2 *o, const struct sb_call *call,
			       char **token, bool *cached,
			       struct sb_error *err);
/* Wipe and free a token from sb_oauth2_token.  NULL is a no-op. */
void sb_oauth2_token_free(char *token);

/* The server refused token (a copy from sb_oauth2_token): forget it, so
 * that the next sb_oauth2_token requests a new one.  If the cache holds
 * another token already (another caller renewed it), nothing happens: a
 * burst of refusals of one token gives one renewal. */
void sb_oauth2_invalidate(struct sb_oauth2 *o, const char *token);

/* Use a token the refusal-and-retry way: get a token, run fn with it; if
 * fn returns SB_ERR_UPSTREAM_AUTH (the server refused the token) and the
 * token came from the cache, invalidate it, get a new one and run fn once
 * more.  fn must return SB_ERR_UPSTREAM_AUTH only when the server refused
 * the token and nothing was done (no message sent): it may be run twice.
 * Returns what the last fn (or sb_oauth2_token) returned. */
typedef enum sb_status (*sb_oauth2_use_fn)(void *ctx, const char *token,
					   struct sb_error *err);
enum sb_status sb_oauth2_with_token(struct sb_oauth2 *o,
				    const struct sb_call *call,
				    sb_oauth2_use_fn fn, void *ctx,
				    struct sb_error *err);

/* How many token requests this cache has made (answered or not): for a
 * broker's test() and for tests. */
uint64_t sb_oauth2_requests(struct sb_oauth2 *o);

#ifdef __cplusplus
}
#endif

#endif
