/* smtp broker — a per-instance pool of libcurl easy handles.  Each call
 * takes one (a concurrent call gets its own) and gives it back; an easy
 * handle keeps its connection, so the next send skips the TCP, TLS, EHLO
 * and AUTH round trips. */
#include "config.h"

#include <stdlib.h>

#include "smtp.h"

bool smtp_pool_init(struct smtp_pool *p, size_t keep)
{
	p->n_idle = 0;
	p->cap = keep ? keep : 1;
	p->idle = calloc(p->cap, sizeof(*p->idle));
	if (!p->idle)
		return false;
	pthread_mutex_init(&p->lock, NULL);
	return true;
}

void smtp_pool_free(struct smtp_pool *p)
{
	for (size_t i = 0; i < p->n_idle; i++)
		curl_easy_cleanup(p->idle[i].h);
	free(p->idle);
	p->idle = NULL;
	p->n_idle = 0;
	pthread_mutex_destroy(&p->lock);
}

CURL *smtp_pool_get(struct smtp_pool *p, bool *authed)
{
	CURL *h = NULL;
	*authed = false;
	pthread_mutex_lock(&p->lock);
	if (p->n_idle) {
		p->n_idle--;
		h = p->idle[p->n_idle].h;
		*authed = p->idle[p->n_idle].authed;
	}
	pthread_mutex_unlock(&p->lock);
	return h ? h : curl_easy_init();
}

void smtp_pool_put(struct smtp_pool *p, CURL *h, bool ok, bool authed)
{
	if (!h)
		return;
	if (ok) {
		/* drop every option (callbacks point into the finished call);
		 * the connection stays */
		curl_easy_reset(h);
		/* bounds the QUIT when the pool closes the connection */
		curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT,
				 (long)SMTP_QUIT_TIMEOUT_S);
		pthread_mutex_lock(&p->lock);
		if (p->n_idle < p->cap) {
			p->idle[p->n_idle].h = h;
			p->idle[p->n_idle].authed = authed;
			p->n_idle++;
			h = NULL;
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (h)
		curl_easy_cleanup(h);
}
