/* smtp broker — Connection.Test: connect on a fresh connection, read the
 * greeting and the extensions, negotiate TLS and authenticate as a send
 * would, and optionally send a test message. */
#include "config.h"

#include <string.h>

#include "smtp.h"

enum sb_status smtp_probe(struct smtp *s, const struct sb_call *call,
			  struct smtp_session *out, struct sb_error *err)
{
	struct smtp_xfer x;
	memset(&x, 0, sizeof(x));
	x.fresh = true; /* a reused connection would show no greeting */
	/* with auth configured, a connection that did not authenticate is
	 * an error (smtp_transfer says which mechanisms were offered) */
	enum sb_status st = smtp_transfer_auth(s, call, &x, err);
	if (st == SB_OK) {
		*out = x.session;
		memset(&x.session, 0, sizeof(x.session));
	}
	smtp_xfer_free(&x);
	return st;
}

enum sb_status smtp_connection_test(struct smtp *s, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	struct smtp_session ss;
	enum sb_status st = smtp_probe(s, call, &ss, err);
	if (st != SB_OK)
		return st;
	const char *to = sb_call_str(call, "To", NULL);
	if (to)
		st = smtp_send_test_message(s, call, to, r, err);
	else
		st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_str(r, "ServerGreeting",
				   ss.greeting ? ss.greeting : "");
	if (st == SB_OK)
		st = sb_result_str(r, "TlsVersion",
				   ss.tls_version[0] ? ss.tls_version : "none");
	if (st == SB_OK && !ss.n_ext)
		st = sb_result_empty(r, "Extensions");
	for (size_t i = 0; st == SB_OK && i < ss.n_ext; i++)
		st = sb_result_str(r, "Extensions", ss.ext[i]);
	if (st == SB_OK && !ss.n_auth_mechs)
		st = sb_result_empty(r, "AuthMechanisms");
	for (size_t i = 0; st == SB_OK && i < ss.n_auth_mechs; i++)
		st = sb_result_str(r, "AuthMechanisms", ss.auth_mechs[i]);
	if (st != SB_OK && err && err->status == SB_OK)
		sb_error_set(err, st, NULL, "cannot build the answer");
	smtp_session_free(&ss);
	return st;
}
