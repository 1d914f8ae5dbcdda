/* exchange-powershell-winrm broker — the transport: WinRS over
 * WS-Management (wr_wsman.c) and the process-wide shell pools
 * (wr_pool.c).  The object files (wr_broker.c, wr_script.c) see only this.
 *
 * A call runs one PowerShell script:
 *
 *   struct wr_result r;
 *   st = wr_run(pool, call, script, strlen(script), &r, err);
 *   ... r.out / r.out_len: stdout, every rsp:Stream of the command
 *       decoded from base64 and joined as bytes (not yet UTF-8 checked)
 *   ... r.err_text: stderr, a "#< CLIXML" error stream reduced to the
 *       cmdlets' own text (plain stderr kept as it came)
 *   wr_result_free(&r);
 *
 * wr_run encodes the script as UTF-16LE base64 and runs
 *   powershell.exe -NoProfile -NonInteractive -InputFormat None
 *                  -EncodedCommand <b64>
 * in a shell created with WINRS_SKIP_CMD_SHELL=TRUE, WINRS_CODEPAGE=65001,
 * WINRS_NOPROFILE=TRUE and an IdleTimeOut; a script whose command line
 * would pass the limit (32 767 characters) goes on stdin instead
 * ("-Command -" and rsp:Send).  Receive is re-sent on the operation
 * timeout fault (2150858793) until Done, checking the call's deadline and
 * cancellation between Receives; Signal terminate follows every command
 * (also after an error or cancellation, within a short fixed budget).
 */
#ifndef WR_TRANSPORT_H
#define WR_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/http.h>
#include <svcbroker/sdk.h>

/* How to reach one endpoint (copied by wr_pool_get). */
struct wr_transport_conf {
	/* url, tls, auth (basic; SB_HTTP_AUTH_NTLM here means NTLMv2 inside
	 * the Negotiate scheme; negotiate = Kerberos), username, password,
	 * timeouts, max_response_size */
	const struct sb_http_conf *http;
	int max_shells;		/* at most this many shells, ever (>= 1) */
	int64_t shell_idle_ms;	/* IdleTimeOut asked of the server */
	int64_t max_envelope;	/* MaxEnvelopeSize (bytes; 0: 153600) */
	int64_t max_output;	/* cap on a command's stdout+stderr (bytes) */
	bool allow_unencrypted; /* http:// allowed (validated elsewhere) */
};

/* The shells of one endpoint and account (url + username + auth), shared
 * by every instance and reload generation that names them: a deliberate
 * process-wide registry, reference counted.  The first get makes it;
 * the last put deletes its idle shells (Delete for each, bounded in time)
 * and frees it.  Its limit is the smallest max_shells among its current
 * holders, so a reload never makes more shells than either generation
 * allows.  NULL with err filled. */
struct wr_pool;
struct wr_pool *wr_pool_get(const struct sb_host *host,
			    const struct wr_transport_conf *conf,
			    struct sb_error *err);
void wr_pool_put(struct wr_pool *p);

struct wr_result {
	char *out; /* stdout bytes, NUL-terminated (never NULL on SB_OK) */
	size_t out_len;
	char *err_text; /* stderr reduced (see above), NUL-terminated */
	size_t err_len;
	int exit_code; /* from rsp:ExitCode (-1 if none came) */
};
void wr_result_free(struct wr_result *r);

/* Run one script (UTF-8, NUL refused) on a pooled shell within the call's
 * deadline.  SB_OK when the command ran to Done, whatever its exit code.
 * Errors (err->code says which, the message has the server's words):
 *   no shell free within the deadline, or the server's too-many-shells
 *   fault (2150859174): throttled with retry_after_ms;
 *   HTTP 401: upstream_auth; WS-Man access denied: upstream_denied (403);
 *   connection refused / DNS: unavailable; deadline: timeout;
 *   a shell the server forgot (2150858843) before the command started:
 *   the shell is replaced and the command sent again, transparently;
 *   anything failing after the Command was accepted: the error message
 *   says the command "may or may not have run" and err->code is
 *   "outcome_unknown" (*started true).
 * started (may be NULL) is set true once the server accepted Command.
 * call may be NULL (a broker's test()): the run then has 30 s. */
enum sb_status wr_run(struct wr_pool *p, const struct sb_call *call,
		      const char *script, size_t len, struct wr_result *res,
		      bool *started, struct sb_error *err);

/* For tests and /metrics-like diagnostics: shells open now, and the most
 * ever open at once. */
void wr_pool_stats(struct wr_pool *p, int *open_now, int *max_seen);

/* For unit tests: replace the network of p's HTTP client (see
 * sb_http_set_transport; set before any wr_run on p). */
void wr_pool_set_transport(struct wr_pool *p, sb_http_transport_fn fn,
			   void *ctx);
/* For unit tests: every pool handle made from now on (wr_pool_get) gets
 * this transport (fn NULL: the network again).  Not thread-safe. */
void wr_set_test_transport(sb_http_transport_fn fn, void *ctx);

#endif
