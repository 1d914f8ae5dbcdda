/* exchange-powershell-winrm broker — inside the transport: one holder's
 * WS-Management client (wr_wsman.c), the readers of WinRS answers
 * (wr_parse.c) and what the pools (wr_pool.c) need of them.  Nothing
 * outside the transport includes this.
 */
#ifndef WR_WSMAN_H
#define WR_WSMAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include <svcbroker/broker.h>
#include <svcbroker/http.h>
#include <svcbroker/sdk.h>

#include "wr_transport.h"

/* WSManFault codes the transport acts on. */
#define WR_FAULT_TIMED_OUT 2150858793LL	      /* re-send the Receive */
#define WR_FAULT_SHELL_NOT_FOUND 2150858843LL /* the shell is gone */
#define WR_FAULT_TOO_MANY_SHELLS 2150859174LL /* the user's quota */

#define WR_ID_MAX 128		      /* ShellId, CommandId */
#define WR_CMDLINE_MAX 32767	      /* CreateProcess' command line */
#define WR_OPERATION_TIMEOUT_MS 20000 /* most a request asks the server */
#define WR_DEFAULT_ENVELOPE 153600    /* MaxEnvelopeSize */
#define WR_CLEANUP_MS 3000	      /* a Signal or a Delete in clean-up */
#define WR_CLOSE_BUDGET_MS 10000      /* every Delete at the last put */
#define WR_MIN_RUN_MS 1000	      /* a shell is waited for until then */

/* How a request failed, for the loops that decide what comes next. */
enum wr_fail {
	WR_F_NONE = 0,
	WR_F_TIMED_OUT,	 /* fault 2150858793: no output yet */
	WR_F_SHELL_GONE, /* fault 2150858843 */
	WR_F_TOO_MANY,	 /* fault 2150859174 */
	WR_F_DENIED,	 /* WS-Man access denied */
	WR_F_FAULT,	 /* another WS-Man fault */
	WR_F_HTTP,	 /* a whole answer that is an error (401, 503...) */
	WR_F_NOANSWER,	 /* no whole answer: the transfer failed */
	WR_F_LOCAL,	 /* refused here (a bad answer, out of memory) */
};

/* One holder's client: an HTTP client lent a host of its own, which
 * forwards to the instance's host except for clean-up requests (see
 * wr_cleanup_call).  host must stay the first member. */
struct wr_ws {
	struct sb_host host;
	const struct sb_host *real;
	struct sb_http *http;
	char *url;
	int64_t max_envelope;
	int64_t max_output;
	int64_t shell_idle_ms;
	int64_t request_timeout_ms; /* the HTTP client's own bound (0: none) */
};

enum sb_status wr_ws_init(struct wr_ws *ws, const struct sb_host *host,
			  const struct wr_transport_conf *conf,
			  struct sb_error *err);
void wr_ws_fini(struct wr_ws *ws);

/* A stand-in for a call that gives the next request on this thread
 * budget_ms of its own and no cancellation: the Signal and Delete of a
 * clean-up run after the call's deadline or cancellation too. */
const struct sb_call *wr_cleanup_call(int64_t budget_ms);
/* The same for a run without a call (a broker's test()): budget_ms from
 * now, no cancellation; valid on this thread until the next call. */
const struct sb_call *wr_no_call(int64_t budget_ms);
#define WR_NO_CALL_MS 30000

/* Milliseconds left to the call (through the instance's host). */
int64_t wr_ws_remaining(const struct wr_ws *ws, const struct sb_call *call);
bool wr_ws_cancelled(const struct wr_ws *ws, const struct sb_call *call);

/* The OperationTimeout a request with this budget asks (ms): at most
 * 20 s and below the budget; <= 0 when no request fits any more. */
int64_t wr_operation_timeout_ms(int64_t budget_ms);

/* ---- the operations (each one request; err in the server's words) ---- */
enum sb_status wr_ws_create(struct wr_ws *ws, const struct sb_call *call,
			    char shell_id[WR_ID_MAX], enum wr_fail *fail,
			    struct sb_error *err);
/* args: the command's arguments, each its own rsp:Arguments. */
enum sb_status wr_ws_command(struct wr_ws *ws, const struct sb_call *call,
			     const char *shell_id, const char *command,
			     const char *const *args, size_t n_args,
			     char command_id[WR_ID_MAX], enum wr_fail *fail,
			     struct sb_error *err);
enum sb_status wr_ws_send(struct wr_ws *ws, const struct sb_call *call,
			  const char *shell_id, const char *command_id,
			  const void *data, size_t len, bool end,
			  enum wr_fail *fail, struct sb_error *err);

/* What the Receives of one command gathered. */
struct wr_recv {
	struct sb_buf out; /* stdout bytes, joined */
	struct sb_buf err; /* stderr bytes, joined */
	size_t cap;	   /* out + err at most (0: no cap) */
	bool done;
	int exit_code; /* -1 until Done brings one */
};
enum sb_status wr_ws_receive(struct wr_ws *ws, const struct sb_call *call,
			     const char *shell_id, const char *command_id,
			     struct wr_recv *r, enum wr_fail *fail,
			     struct sb_error *err);
enum sb_status wr_ws_signal(struct wr_ws *ws, const struct sb_call *call,
			    const char *shell_id, const char *command_id,
			    enum wr_fail *fail, struct sb_error *err);
enum sb_status wr_ws_delete(struct wr_ws *ws, const struct sb_call *call,
			    const char *shell_id, enum wr_fail *fail,
			    struct sb_error *err);

/* ---- readers (wr_parse.c: no network, fuzzed) -------------------------- */

/* Add the rsp:Stream content of a ReceiveResponse envelope to r (the
 * streams of command_id, stdout and stderr, base64-decoded and appended
 * as bytes) and note CommandState Done with its ExitCode.  SB_OK, or
 * SB_ERR_UPSTREAM (code "invalid_response" or, past r->cap,
 * "output_too_large") naming what is wrong. */
enum sb_status wr_receive_read(const xmlDoc *doc, const char *command_id,
			       struct wr_recv *r, struct sb_error *err);

/* stderr made readable: a "#< CLIXML" stream (one or more <Objs>
 * documents) becomes the text of its S="Error" strings, _xHHHH_
 * escapes decoded, PowerShell's position and category lines ("At
 * line:", "+ ...") left out, lines joined with "\n"; anything else is
 * copied as it came.  Appends to out; false only when out failed. */
bool wr_clixml_reduce(const char *in, size_t len, struct sb_buf *out);

/* Decode the _xHHHH_ escapes of XmlConvert (UTF-16 code units; a pair
 * of surrogates is one character, a lone one U+FFFD) of s[0..len),
 * appending to out.  false only when out failed. */
bool wr_xml_name_unescape(const char *s, size_t len, struct sb_buf *out);

/* The script as PowerShell's -EncodedCommand wants it: base64 of its
 * UTF-16LE form.  NULL for invalid UTF-8 or out of memory. */
char *wr_encode_command(const char *script, size_t len);

#endif
