/* mapi-stub: what an answer (Reply, ReplyAll, Forward) takes from the
 * original's header fields: the threading ids and the prefixed Subject.
 * Kept apart from mapi_reply.c, with no dependency but the SDK, so its
 * fuzz target (tests/fuzz/fuzz_mapi_thread.c) drives it alone. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/mime.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

#define REFS_MAX 30 /* ids kept in References */

struct ids {
	char **v;
	size_t n, cap;
};

static void ids_free(struct ids *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static bool ids_has(const struct ids *l, const char *id, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && memcmp(l->v[i], id, n) == 0)
			return true;
	return false;
}

/* True if s[0..n) is a msg-id the MIME builder writes: "<left@right>" of
 * printable ASCII without spaces or angle brackets inside, one '@', that
 * GMime reads whole (sb_mime_msgid_valid). */
static bool msgid_ok(const char *s, size_t n)
{
	if (n < 5 || n > 250 || s[0] != '<' || s[n - 1] != '>')
		return false;
	size_t at = 0, ats = 0;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return false;
		if (c == '@') {
			at = i;
			ats++;
		}
	}
	if (ats != 1 || at <= 1 || at >= n - 2)
		return false;
	char id[256];
	memcpy(id, s, n);
	id[n] = '\0';
	return sb_mime_msgid_valid(id);
}

/* Append the msg-ids of v (a Message-ID, In-Reply-To or References value
 * as written: ids in angle brackets, maybe with spaces, commas or comments
 * between them) to l, skipping those that are not valid and those l has.
 * false only when out of memory. */
static bool ids_add(struct ids *l, const char *v)
{
	if (!v)
		return true;
	for (const char *p = strchr(v, '<'); p; p = strchr(p, '<')) {
		const char *q = strchr(p + 1, '>');
		if (!q)
			break;
		const char *lt = memchr(p + 1, '<', (size_t)(q - p - 1));
		if (lt) { /* "<junk <id@x>": start again at the inner one */
			p = lt;
			continue;
		}
		size_t n = (size_t)(q - p) + 1;
		if (msgid_ok(p, n) && !ids_has(l, p, n)) {
			if (l->n == l->cap) {
				size_t nc = l->cap ? 2 * l->cap : 8;
				char **nv = realloc(l->v, nc * sizeof *nv);
				if (!nv)
					return false;
				l->v = nv;
				l->cap = nc;
			}
			if (!(l->v[l->n] = strndup(p, n)))
				return false;
			l->n++;
		}
		p = q + 1;
	}
	return true;
}

bool mapi_reply_threading(const char *message_id, const char *references,
			  const char *in_reply_to, char **irt_out,
			  char **refs_out)
{
	struct ids ids = {0}, own = {0};
	struct sb_buf refs, irt;
	sb_buf_init(&refs, 0);
	sb_buf_init(&irt, 0);
	*irt_out = *refs_out = NULL;
	bool ok = ids_add(&own, message_id);
	if (ok && own.n) {
		/* RFC 5322 3.6.4: the parent's References, or else its
		 * In-Reply-To (when that holds a single id), then the parent's
		 * own id, which comes last and once. */
		const char *chain = references;
		if (!chain || !strchr(chain, '<'))
			chain = in_reply_to;
		ok = ids_add(&ids, chain);
		size_t k = 0;
		for (size_t i = 0; ok && i < ids.n; i++) {
			if (strcmp(ids.v[i], own.v[0]) == 0)
				free(ids.v[i]);
			else
				ids.v[k++] = ids.v[i];
		}
		if (ok)
			ids.n = k;
		/* Too many: the first (the thread's start) and the latest. */
		size_t skip_to =
		    ids.n + 1 > REFS_MAX ? ids.n + 2 - REFS_MAX : 1;
		for (size_t i = 0; ok && i < ids.n; i++) {
			if (i > 0 && i < skip_to)
				continue;
			sb_buf_puts(&refs, ids.v[i]);
			sb_buf_puts(&refs, " ");
		}
		sb_buf_puts(&refs, own.v[0]);
		sb_buf_puts(&irt, own.v[0]);
	}
	sb_buf_append(&refs, "", 0);
	sb_buf_append(&irt, "", 0);
	ids_free(&ids);
	ids_free(&own);
	if (ok && !refs.failed && !irt.failed) {
		*refs_out = sb_buf_steal(&refs);
		*irt_out = sb_buf_steal(&irt);
	}
	sb_buf_free(&refs);
	sb_buf_free(&irt);
	if (*refs_out && *irt_out)
		return true;
	free(*refs_out);
	free(*irt_out);
	*irt_out = *refs_out = NULL;
	return false;
}

/* True if s starts with one of the prefixes, any case. */
static bool has_prefix(const char *s, const char *const *prefixes)
{
	for (size_t i = 0; prefixes[i]; i++)
		if (strncasecmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

char *mapi_reply_subject(const char *subject, bool forward)
{
	static const char *const re[] = {"re:", NULL};
	static const char *const fw[] = {"fw:", "fwd:", NULL};
	char *clean = sb_clean_text(subject ? subject : "");
	if (!clean)
		return NULL;
	/* Trimmed: the builder writes a Subject with no leading or trailing
	 * space as plain words. */
	char *s = clean;
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	char *out = NULL;
	if (has_prefix(s, forward ? fw : re))
		out = strdup(s);
	else if (asprintf(&out, "%s%s%s",
			  forward ? "FW:" : "RE:", *s ? " " : "", s) < 0)
		out = NULL;
	free(clean);
	return out;
}
