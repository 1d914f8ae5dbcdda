/* svcbroker — waiting inside a call: a sleep bounded by the call's
 * deadline, and an instance-wide "back off until" set when an upstream asks
 * for a pause (EWS ErrorServerBusy with BackOffMilliseconds, HTTP 429 or
 * 503 with Retry-After).  Part of libsvcbroker.
 *
 *   struct my_state { struct sb_backoff backoff; ... };   (zeroed: none)
 *
 *   st = sb_backoff_wait(&s->backoff, s->host, call, err);
 *   if (st != SB_OK)
 *           return st;             (429 with retry_after_ms, or 504)
 *   ... talk to the upstream; when it says "busy for 5000 ms":
 *   sb_backoff_set(&s->backoff, 5000);
 *   return sb_error_set(err, SB_ERR_THROTTLED, "ErrorServerBusy", ...);
 *
 * Every function is thread-safe.
 */
#ifndef SVCBROKER_BACKOFF_H
#define SVCBROKER_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#include <svcbroker/broker.h>
#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sb_call;

/* How often a sleep looks at host->cancelled: a cancelled call wakes
 * within this many milliseconds (plus scheduling). */
#define SB_SLEEP_SLICE_MS 20

/* Wait ms milliseconds inside call.  SB_OK once the time has passed (ms <=
 * 0: at once).  SB_ERR_TIMEOUT, with err saying why, without waiting when
 * the wait would reach the call's deadline (host->remaining_ms), and as
 * soon as host->cancelled says the call was abandoned: it never sleeps
 * past the deadline.  With host or call NULL (outside a call) it is a
 * plain sleep that nothing interrupts. */
enum sb_status sb_sleep(const struct sb_host *host, const struct sb_call *call,
			int64_t ms, struct sb_error *err);

/* An instance's "back off until": embed it in the instance's state, zeroed
 * (no back-off).  The field is private; it is read and written
 * atomically. */
struct sb_backoff {
	int64_t until_ms_; /* sb_now_ms() clock; 0: none */
};
/* The longest back-off kept: a longer request is cut to this. */
#define SB_BACKOFF_MAX_MS (3600 * 1000LL)

/* The upstream asked for a pause of ms milliseconds from now.  A shorter
 * request never shortens one in force; ms <= 0 does nothing. */
void sb_backoff_set(struct sb_backoff *b, int64_t ms);
/* The upstream answered normally again: forget the back-off. */
void sb_backoff_clear(struct sb_backoff *b);
/* Milliseconds left of the back-off (0: none in force). */
int64_t sb_backoff_left(const struct sb_backoff *b);

/* Before touching the upstream.  SB_OK at once when no back-off is in
 * force.  When one is and it ends before the call's deadline, wait for its
 * end (sb_sleep: SB_ERR_TIMEOUT if the call is cancelled meanwhile), then
 * SB_OK.  When it ends at or after the deadline (or there is no call:
 * host or call NULL), answer at once SB_ERR_THROTTLED (429) with
 * err->retry_after_ms set to what is left of it, and the message saying
 * so: the upstream is not touched. */
enum sb_status sb_backoff_wait(const struct sb_backoff *b,
			       const struct sb_host *host,
			       const struct sb_call *call,
			       struct sb_error *err);

#ifdef __cplusplus
}
#endif
#endif
