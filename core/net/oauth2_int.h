/* libsvcbroker-net, OAuth2 client credentials: the parts behind
 * <svcbroker/oauth2.h> that have tests and fuzz targets of their own.
 * Not installed; nothing here is exported. */
#ifndef SB_NET_OAUTH2_INT_H
#define SB_NET_OAUTH2_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/status.h>

/* ---- the cache (oauth2.c)
 * ---------------------------------------------------- The clock token
 * lifetimes are measured with (monotonic ms): sb_now_ms. A unit test that
 * compiles oauth2.c in moves it to cross a lifetime without sleeping through
 * it; deadlines and waits use the real clock. */
extern int64_t (*oauth2_clock_ms)(void);

/* ---- the token endpoint's answer (oauth2_json.c) -------------------------
 * A strict reader for the flat JSON object a token endpoint answers with
 * (RFC 6749 sections 5.1 and 5.2): one object, string/number/true/false/
 * null members, nested arrays and objects skipped (Entra ID adds
 * "error_codes": [...]), nothing after it but white space.  Strings are
 * decoded (escapes, \uXXXX with surrogate pairs) and must be valid UTF-8
 * without NUL; a repeated member is refused.  expires_in is accepted as
 * a number or a string of digits (older endpoints). */
struct oauth2_answer {
	char *access_token;
	char *token_type;
	char *error;
	char *error_description;
	int64_t expires_in; /* seconds; -1 when absent */
};

/* Read s[0..n).  false (and a reason in why, at most why_n bytes) when it
 * is not such an object; a partly filled a is freed by the caller either
 * way. */
bool oauth2_answer_parse(const char *s, size_t n, struct oauth2_answer *a,
			 char *why, size_t why_n);
/* Wipe (the token) and free the members; a is zeroed. */
void oauth2_answer_free(struct oauth2_answer *a);

/* ---- certificate and JWT client assertion (jwt.c) ------------------------ */
struct oauth2_cert {
	void *key;    /* EVP_PKEY *, RSA */
	char x5t[32]; /* base64url SHA-1 of the DER certificate */
};

/* Read the PEM certificate and the PEM private key (refused when group or
 * others may read it, encrypted, not RSA, or not the certificate's).
 * SB_ERR_INVALID_INPUT naming the file. */
enum sb_status oauth2_cert_load(const char *cert_file, const char *key_file,
				struct oauth2_cert *c, struct sb_error *err);
void oauth2_cert_free(struct oauth2_cert *c);

/* An RFC 7523 client assertion: header {"alg":"RS256","typ":"JWT","x5t"},
 * claims aud (the token URL), iss = sub (the client id), a random jti,
 * nbf = iat = now_s, exp = now_s + lifetime_s.  malloc'd, or NULL with
 * err filled. */
char *oauth2_jwt_assertion(const struct oauth2_cert *c, const char *aud,
			   const char *client_id, int64_t now_s,
			   int64_t lifetime_s, struct sb_error *err);

/* s as a JSON string with its quotes, appended to b. */
struct sb_buf;
void oauth2_json_string(struct sb_buf *b, const char *s);

#endif
