/* libsvcbroker-net: the libcurl parts every broker that uses libcurl
 * shares — the call's deadline as a transfer budget, cancellation from the
 * progress callback, and a pool of easy handles, each keeping its own
 * connection. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include <curl/curl.h>

#include <svcbroker/http.h>
#include <svcbroker/sdk.h>

/* ---- the call's deadline ------------------------------------------------ */

int64_t sb_curl_budget_ms(const struct sb_host *host,
			  const struct sb_call *call, int64_t no_call_ms)
{
	if (!call || !host || !host->remaining_ms)
		return no_call_ms;
	int64_t left = host->remaining_ms(host, call);
	int64_t margin = left / 10;
	if (margin < 50)
		margin = 50;
	if (margin > 1000)
		margin = 1000;
	return left > 2 * margin ? left - margin : left;
}

/* ---- cancellation ------------------------------------------------------- */

static int watch_cb(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult,
		    curl_off_t uln)
{
	(void)dlt;
	(void)dln;
	(void)ult;
	(void)uln;
	struct sb_curl_watch *w = ud;
	if (w->stop && w->stop(w->ctx)) {
		w->stopped = SB_CURL_HOOK;
		return 1;
	}
	if (w->call && w->host && w->host->cancelled &&
	    w->host->cancelled(w->host, w->call)) {
		w->stopped = SB_CURL_CANCELLED;
		return 1;
	}
	return 0;
}

bool sb_curl_watch_install(void *easy, struct sb_curl_watch *w)
{
	w->stopped = SB_CURL_GO;
	return curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
	       curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, watch_cb) ==
		   CURLE_OK &&
	       curl_easy_setopt(easy, CURLOPT_XFERINFODATA, w) == CURLE_OK;
}

/* ---- handle pool -------------------------------------------------------- */

struct pooled {
	CURL *h;
	unsigned tag;
	int64_t idle_since; /* ms, monotonic */
};

struct sb_curl_pool {
	pthread_mutex_t lock;
	struct pooled *idle; /* a stack: [0] idle the longest */
	size_t n_idle, keep;
	int64_t max_idle_ms;
	void (*idle_setup)(void *easy);
};

struct sb_curl_pool *sb_curl_pool_new(size_t keep, int64_t max_idle_s,
				      void (*idle_setup)(void *easy))
{
	struct sb_curl_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->keep = keep ? keep : 1;
	p->idle = calloc(p->keep, sizeof(*p->idle));
	if (!p->idle) {
		free(p);
		return NULL;
	}
	p->max_idle_ms = max_idle_s > 0 ? max_idle_s * 1000 : INT64_MAX;
	p->idle_setup = idle_setup;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void sb_curl_pool_free(struct sb_curl_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_idle; i++)
		curl_easy_cleanup(p->idle[i].h);
	free(p->idle);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Take the handles idle for too long off the bottom of the stack (under
 * the lock); the caller closes them outside it.  Returns how many. */
static size_t take_stale(struct sb_curl_pool *p, int64_t now, CURL **out,
			 size_t max)
{
	size_t n = 0;
	while (n < p->n_idle && n < max &&
	       now - p->idle[n].idle_since > p->max_idle_ms)
		out[n] = p->idle[n].h, n++;
	if (n) {
		for (size_t i = n; i < p->n_idle; i++)
			p->idle[i - n] = p->idle[i];
		p->n_idle -= n;
	}
	return n;
}

#define STALE_BATCH 8

void *sb_curl_pool_get(struct sb_curl_pool *p, unsigned *tag)
{
	CURL *h = NULL;
	CURL *stale[STALE_BATCH];
	if (tag)
		*tag = 0;
	int64_t now = sb_now_ms();
	pthread_mutex_lock(&p->lock);
	size_t n_stale = take_stale(p, now, stale, STALE_BATCH);
	if (p->n_idle) {
		p->n_idle--;
		h = p->idle[p->n_idle].h;
		if (tag)
			*tag = p->idle[p->n_idle].tag;
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n_stale; i++)
		curl_easy_cleanup(stale[i]);
	return h ? h : curl_easy_init();
}

void sb_curl_pool_put(struct sb_curl_pool *p, void *easy, bool reuse,
		      unsigned tag)
{
	CURL *h = easy;
	if (!h)
		return;
	if (reuse) {
		/* drop every option (callbacks point into the finished
		 * call); the connection stays */
		curl_easy_reset(h);
		if (p->idle_setup)
			p->idle_setup(h);
		pthread_mutex_lock(&p->lock);
		if (p->n_idle < p->keep) {
			p->idle[p->n_idle++] =
			    (struct pooled){h, tag, sb_now_ms()};
			h = NULL;
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (h)
		curl_easy_cleanup(h);
}

size_t sb_curl_pool_idle(struct sb_curl_pool *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->n_idle;
	pthread_mutex_unlock(&p->lock);
	return n;
}
