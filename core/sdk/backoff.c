/* Waiting inside a call: a sleep that the call's deadline bounds and its
 * cancellation interrupts, and an instance's "back off until".  See
 * <svcbroker/backoff.h>. */
#include "config.h"

#include <errno.h>
#include <time.h>

#include <svcbroker/backoff.h>
#include <svcbroker/sdk.h>

/* Sleep until the monotonic time `until_ms` (sb_now_ms's clock) or for at
 * most slice_ms, whichever comes first. */
static void nap(int64_t until_ms, int64_t slice_ms)
{
	int64_t left = until_ms - sb_now_ms();
	if (left <= 0)
		return;
	if (slice_ms > 0 && left > slice_ms)
		left = slice_ms;
	struct timespec ts = {.tv_sec = (time_t)(left / 1000),
			      .tv_nsec = (long)(left % 1000) * 1000000L};
	/* An interrupted nap just ends early: the callers loop on the clock. */
	nanosleep(&ts, NULL);
}

static bool bounded(const struct sb_host *host, const struct sb_call *call)
{
	return host && call && host->remaining_ms && host->cancelled;
}

enum sb_status sb_sleep(const struct sb_host *host, const struct sb_call *call,
			int64_t ms, struct sb_error *err)
{
	bool b = bounded(host, call);
	if (b && host->cancelled(host, call))
		return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
				    "the call was abandoned before waiting");
	if (ms <= 0)
		return SB_OK;
	if (b) {
		int64_t left = host->remaining_ms(host, call);
		if (ms >= left)
			return sb_error_set(
			    err, SB_ERR_TIMEOUT, NULL,
			    "waiting %lld ms would reach the call's deadline "
			    "(%lld ms left)",
			    (long long)ms, (long long)(left > 0 ? left : 0));
	}
	int64_t until = sb_now_ms() + ms;
	/* Bounded by the clock; the count is a second guard. */
	for (int64_t n = 0; n <= ms + 2; n++) {
		if (sb_now_ms() >= until)
			return SB_OK;
		if (b && host->cancelled(host, call))
			return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
					    "the call was abandoned while "
					    "waiting");
		nap(until, b ? SB_SLEEP_SLICE_MS : 0);
	}
	return SB_OK;
}

void sb_backoff_set(struct sb_backoff *b, int64_t ms)
{
	if (!b || ms <= 0)
		return;
	if (ms > SB_BACKOFF_MAX_MS)
		ms = SB_BACKOFF_MAX_MS;
	int64_t want = sb_now_ms() + ms;
	int64_t cur = __atomic_load_n(&b->until_ms_, __ATOMIC_ACQUIRE);
	while (cur < want &&
	       !__atomic_compare_exchange_n(&b->until_ms_, &cur, want, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

void sb_backoff_clear(struct sb_backoff *b)
{
	if (b)
		__atomic_store_n(&b->until_ms_, 0, __ATOMIC_RELEASE);
}

int64_t sb_backoff_left(const struct sb_backoff *b)
{
	if (!b)
		return 0;
	int64_t until = __atomic_load_n(&b->until_ms_, __ATOMIC_ACQUIRE);
	if (until == 0)
		return 0;
	int64_t left = until - sb_now_ms();
	return left > 0 ? left : 0;
}

/* A back-off set while we waited starts the wait again; each round sleeps,
 * so the deadline ends the loop long before this count. */
#define WAIT_ROUNDS 1000

enum sb_status sb_backoff_wait(const struct sb_backoff *b,
			       const struct sb_host *host,
			       const struct sb_call *call, struct sb_error *err)
{
	for (int round = 0; round < WAIT_ROUNDS; round++) {
		int64_t left = sb_backoff_left(b);
		if (left <= 0)
			return SB_OK;
		int64_t remaining =
		    bounded(host, call) ? host->remaining_ms(host, call) : 0;
		if (left >= remaining) {
			enum sb_status st = sb_error_set(
			    err, SB_ERR_THROTTLED, NULL,
			    "the upstream asked for a pause of another %lld "
			    "ms, past this call's deadline: retry later",
			    (long long)left);
			if (err)
				err->retry_after_ms = left;
			return st;
		}
		enum sb_status st = sb_sleep(host, call, left, err);
		if (st != SB_OK)
			return st;
	}
	enum sb_status st = sb_error_set(err, SB_ERR_THROTTLED, NULL,
					 "the upstream keeps asking for "
					 "pauses: retry later");
	if (err)
		err->retry_after_ms =
		    sb_backoff_left(b) > 0 ? sb_backoff_left(b) : 1;
	return st;
}
