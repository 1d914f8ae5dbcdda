/* smtp broker — messages per minute (Exchange and most relays limit the
 * rate per sender).  A sliding window: a ring of the last `limit` send
 * times, each reserved before the send.  A caller over the limit is given
 * the first free time; it waits for it if its deadline allows, or is told
 * to come back later.  No message is ever dropped. */
#include "config.h"

#include <stdlib.h>

#include "smtp.h"

#define RATE_LIMIT_MAX 1000000

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
