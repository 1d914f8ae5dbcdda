/* svcbroker front — the API's security, built from the configuration at
 * start and at every reload (security.c): the clients with their
 * credentials, grants and call rates, the TLS context of the listener,
 * the CORS origins and the request ids.  Private to the front.
 *
 * A policy is immutable once built (but for the clients' call counters)
 * and reference counted: a request keeps the one it started with. */
#ifndef SVCBROKER_SECURITY_H
#define SVCBROKER_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "reqhdr.h"

struct sbc_security;
struct sbc_client;

/* The policy of cfg, with one reference; NULL with every problem in errs
 * (an unreadable certificate or key, a key that does not match its
 * certificate, a client CA without TLS...). */
struct sbc_security *sbc_security_build(const struct sbc_config *cfg,
					struct sbc_errlist *errs);
struct sbc_security *sbc_security_ref(struct sbc_security *s);
void sbc_security_unref(struct sbc_security *s);

/* True if any [client] is configured: every request must authenticate. */
bool sbc_security_closed(const struct sbc_security *s);
/* The listener's TLS context (an SSL_CTX *), or NULL for plain HTTP. */
void *sbc_security_tls(const struct sbc_security *s);
bool sbc_security_access_log(const struct sbc_security *s);
/* [server] audit_log: audit lines whatever log_level says. */
bool sbc_security_audit_log(const struct sbc_security *s);
/* Is origin (an Origin header) one of cors_origins? */
bool sbc_security_origin_ok(const struct sbc_security *s, const char *origin);

/* The client whose token (the bearer token as sent) this is, or NULL.
 * The token's SHA-256 is compared with every client's in constant time. */
const struct sbc_client *sbc_security_by_token(const struct sbc_security *s,
					       const char *token);
/* The client whose cert_subject is subject, or NULL. */
const struct sbc_client *sbc_security_by_subject(const struct sbc_security *s,
						 const char *subject);

const char *sbc_client_name(const struct sbc_client *c);
/* May c call instance/object.method?  NULL c (no clients): yes. */
bool sbc_client_may_call(const struct sbc_client *c, const char *instance,
			 const char *object, const char *method);
/* May c act for mailbox (NULL: the instance's default mailbox, a call
 * that names none)?  NULL c: yes. */
bool sbc_client_may_mailbox(const struct sbc_client *c, const char *mailbox);
/* Count a call against c's max_calls_per_minute: true if it may run,
 * false (and *retry_ms) if it is over. */
bool sbc_client_rate(const struct sbc_client *c, int64_t now_ms,
		     int64_t *retry_ms);
/* A reload: each client of to that has a call rate starts from the
 * bucket of the client of the same name in from (its calls left, capped
 * at the new rate), not from a full one, so a reload gives no client
 * calls it had spent.  Before to is in use. */
void sbc_security_carry_rates(struct sbc_security *to,
			      const struct sbc_security *from);
/* The per-client cache of a document that depends on the catalog (the
 * catalog and OpenAPI documents as this client may see them; which: 0
 * catalog, 1 OpenAPI), opaque here.  get: the document cached for
 * generation with a reference taken by ref, or NULL.  put: keep doc (a
 * reference, dropped with unref when replaced or freed). */
void *sbc_client_doc_get(const struct sbc_client *c, int which,
			 int64_t generation, void *(*ref)(void *));
void sbc_client_doc_put(const struct sbc_client *c, int which,
			int64_t generation, void *doc, void (*unref)(void *));

/* ---- request ids ---------------------------------------------------------
 * A new id (an incoming one is checked by sbc_request_id_ok, reqhdr.h): a
 * random per-process prefix and a counter, 24 hex digits. */
void sbc_request_id_new(char out[SBC_REQUEST_ID_MAX + 1]);

/* SHA-256 of s, in lower-case hex (65 bytes with the NUL). */
void sbc_sha256_hex(const char *s, size_t len, char out[65]);

#endif
