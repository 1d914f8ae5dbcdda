/* A list of human-readable problems (configuration errors and the like). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* Never grow without bound, whatever the input: enough for any real
 * file; a binary file is not one. */
#define ERRLIST_MAX 100

void sbc_errlist_add(struct sbc_errlist *l, const char *fmt, ...)
{
	if (!l)
		return;
	l->total++;
	if (l->n >= ERRLIST_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		msg = NULL;
	char **p = realloc(l->msgs, (l->n + 2) * sizeof(*p));
	if (!p) {
		free(msg);
		return;
	}
	l->msgs = p;
	if (!msg)
		msg = strdup("(out of memory formatting a message)");
	if (!msg)
		return;
	if (l->n == ERRLIST_MAX - 1) {
		free(msg);
		msg = strdup("too many problems; stopped listing them");
		if (!msg)
			return;
	}
	l->msgs[l->n++] = msg;
	l->msgs[l->n] = NULL;
}

void sbc_errlist_free(struct sbc_errlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i]);
	free(l->msgs);
	l->msgs = NULL;
	l->n = 0;
	l->total = 0;
}
