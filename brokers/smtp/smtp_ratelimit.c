/* smtp broker — messages per minute (Exchange and most relays limit the
 * rate per sender).  A sliding window: a ring of the last `limit` send
 * times, each reserved before the send.  A caller over the limit is given
 * the first free time; it waits for it if its deadline allows, or is told
 * to come back later.  No message is ever dropped. */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "smtp.h"

#define RATE_LIMIT_MAX 1000000
#define RATE_SEND_RESERVE_MS 1000 /* keep this much of the deadline to send */
#define RATE_DEFAULT_BUDGET_MS 30000 /* no call: no deadline of its own */

bool smtp_ratelimit_init(struct smtp_ratelimit *rl, size_t limit,
			 int64_t window_ms)
{
	rl->slots = NULL;
	rl->limit = limit > RATE_LIMIT_MAX ? RATE_LIMIT_MAX : limit;
	rl->head = rl->used = 0;
	rl->window_ms = window_ms > 0 ? window_ms : 60000;
	if (rl->limit) {
		rl->slots = calloc(rl->limit, sizeof(*rl->slots));
		if (!rl->slots)
			return false;
	}
	pthread_mutex_init(&rl->lock, NULL);
	return true;
}

void smtp_ratelimit_free(struct smtp_ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	rl->slots = NULL;
}

bool smtp_ratelimit_reserve(struct smtp_ratelimit *rl, int64_t now_ms,
			    int64_t budget_ms, int64_t *wait_ms)
{
	*wait_ms = 0;
	if (!rl->limit)
		return true;
	pthread_mutex_lock(&rl->lock);
	int64_t at = now_ms;
	if (rl->used == rl->limit) {
		/* the oldest reservation (at head) leaves the window at: */
		int64_t free_at = rl->slots[rl->head] + rl->window_ms;
		if (free_at > at)
			at = free_at;
	}
	/* keep the ring ordered: never reserve before the newest entry */
	if (rl->used) {
		size_t newest = (rl->head + rl->used - 1) % rl->limit;
		if (rl->slots[newest] > at)
			at = rl->slots[newest];
	}
	int64_t wait = at - now_ms;
	if (wait > budget_ms) {
		pthread_mutex_unlock(&rl->lock);
		*wait_ms = wait;
		return false;
	}
	if (rl->used == rl->limit) {
		rl->slots[rl->head] = at;
		rl->head = (rl->head + 1) % rl->limit;
	} else {
		rl->slots[(rl->head + rl->used) % rl->limit] = at;
		rl->used++;
	}
	pthread_mutex_unlock(&rl->lock);
	*wait_ms = wait;
	return true;
}

enum sb_status smtp_ratelimit_acquire(struct smtp_ratelimit *rl,
				      const struct sb_host *host,
				      const struct sb_call *call,
				      struct sb_error *err)
{
	if (!rl->limit)
		return SB_OK;
	int64_t left = call && host->remaining_ms
			   ? host->remaining_ms(host, call)
			   : RATE_DEFAULT_BUDGET_MS;
	int64_t budget = left - RATE_SEND_RESERVE_MS;
	if (budget < 0)
		budget = 0;
	int64_t wait = 0;
	if (!smtp_ratelimit_reserve(rl, sb_now_ms(), budget, &wait)) {
		sb_error_set(err, SB_ERR_THROTTLED, NULL,
			     "max_per_minute (%zu) reached: try again in %lld "
			     "ms",
			     rl->limit, (long long)wait);
		if (err)
			err->retry_after_ms = wait > 0 ? wait : 1;
		return SB_ERR_THROTTLED;
	}
	/* the slot is ours: sleep until it comes, in steps that notice a
	 * call abandoned meanwhile */
	int64_t until = sb_now_ms() + wait;
	for (;;) {
		int64_t now = sb_now_ms();
		if (now >= until)
			break;
		if (call && host->cancelled && host->cancelled(host, call))
			return sb_error_set(err, SB_ERR_TIMEOUT, NULL,
					    "call abandoned while waiting for "
					    "max_per_minute");
		int64_t step = until - now < 50 ? until - now : 50;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = step * 1000000L};
		nanosleep(&ts, NULL);
	}
	return SB_OK;
}
