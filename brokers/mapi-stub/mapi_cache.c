/* mapi-stub: what was read from .ics files, kept by ChangeKey.
 *
 * libical parses a file several times slower than the store's former
 * reader did; a List reads every file of the folder each time.  The
 * ChangeKey a List computes anyway is a digest of the file's facts and
 * whole content, so an item read before under the same key is the same
 * item: its fields are taken from here instead of parsed again. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mapi.h"

/* Slots looked at from an item's place on. */
#define PROBES 8

static size_t slot_of(const char *ck)
{
	size_t h = 0;
	for (const char *p = ck; *p; p++)
		h = h * 31 + (unsigned char)*p;
	return h % MAPI_CACHE_SLOTS;
}

void *mapi_cache_get(struct mapi_cache *c, const char *ck)
{
	if (!ck || strlen(ck) != MAPI_CHANGEKEY_LEN)
		return NULL;
	size_t h = slot_of(ck);
	void *v = NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t k = 0; k < PROBES; k++) {
		size_t i = (h + k) % MAPI_CACHE_SLOTS;
		if (c->slot[i].v && strcmp(c->slot[i].ck, ck) == 0) {
			v = c->copy(c->slot[i].v);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return v;
}

void mapi_cache_put(struct mapi_cache *c, const char *ck, const void *v,
		    size_t bytes)
{
	if (!ck || strlen(ck) != MAPI_CHANGEKEY_LEN ||
	    bytes > MAPI_CACHE_BYTES / 64)
		return;
	void *copy = c->copy(v);
	if (!copy)
		return;
	size_t h = slot_of(ck), i = h;
	void *old = NULL;
	pthread_mutex_lock(&c->lock);
	/* Its own slot if it is there, else a free one near its place, else
	 * the one at its place. */
	bool have_free = false;
	for (size_t k = 0; k < PROBES; k++) {
		size_t j = (h + k) % MAPI_CACHE_SLOTS;
		if (c->slot[j].v && strcmp(c->slot[j].ck, ck) == 0) {
			i = j;
			break;
		}
		if (!c->slot[j].v && !have_free) {
			i = j;
			have_free = true;
		}
	}
	if (c->slot[i].v) {
		old = c->slot[i].v;
		c->bytes -= c->slot[i].bytes;
		c->slot[i].v = NULL;
	}
	if (c->bytes + bytes <= MAPI_CACHE_BYTES) {
		memcpy(c->slot[i].ck, ck, MAPI_CHANGEKEY_LEN + 1);
		c->slot[i].v = copy;
		c->slot[i].bytes = bytes;
		c->bytes += bytes;
		copy = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (old)
		c->free(old);
	if (copy)
		c->free(copy);
}

void mapi_cache_clear(struct mapi_cache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < MAPI_CACHE_SLOTS; i++)
		if (c->slot[i].v) {
			c->free(c->slot[i].v);
			c->slot[i].v = NULL;
		}
	c->bytes = 0;
	pthread_mutex_unlock(&c->lock);
}
