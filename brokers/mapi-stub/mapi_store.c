/* mapi-stub: the store — opening it (lock, mailbox directories, recovery
 * of interrupted sends), mailboxes and quota accounting. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

static int mkdir_p(const char *path)
{
	char buf[MAPI_PATH_MAX];
	if (!mapi_path(buf, sizeof buf, "%s", path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* ---- mailboxes ---------------------------------------------------- */

/* The directory name of a mailbox: the lower-cased address, any byte
 * outside [a-z0-9@._+-] written as %XX, so it can never name a path. */
static char *mailbox_dirname(const char *addr)
{
	struct sb_buf b;
	sb_buf_init(&b, 1024);
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
		unsigned char c = (unsigned char)tolower(*p);
		if (isalnum(c) || c == '@' || c == '.' || c == '_' ||
		    c == '+' || c == '-')
			sb_buf_append(&b, &c, 1);
		else
			sb_buf_printf(&b, "%%%02X", c);
	}
	if (b.len && b.data[0] == '.')
		b.data[0] = '_';
	return sb_buf_steal(&b);
}

struct mapi_mailbox *mapi_mailbox_find(struct mapi_store *s,
				       const char *address)
{
	if (!address)
		return NULL;
	for (size_t i = 0; i < s->n_mb; i++)
		if (strcasecmp(s->mb[i].address, address) == 0)
			return &s->mb[i];
	return NULL;
}

enum sb_status mapi_mailbox_for_call(struct mapi_store *s,
				     const struct sb_call *call,
				     struct mapi_mailbox **out,
				     struct sb_error *err)
{
	const char *want = sb_call_str(call, "Mailbox", NULL);
	if (!want) {
		*out = s->def;
		return SB_OK;
	}
	*out = mapi_mailbox_find(s, want);
	if (!*out)
		return sb_error_set(
		    err, SB_ERR_NOT_FOUND, "ErrorNonExistentMailbox",
		    "mailbox %s: no such mailbox in this store", want);
	return SB_OK;
}

enum sb_status mapi_quota_reserve(struct mapi_store *s, struct mapi_mailbox *mb,
				  int64_t bytes, struct sb_error *err)
{
	pthread_mutex_lock(&mb->lock);
	bool full = mb->used + bytes > s->quota;
	int64_t used = mb->used;
	if (!full)
		mb->used += bytes;
	pthread_mutex_unlock(&mb->lock);
	if (full)
		return sb_error_set(
		    err, SB_ERR_QUOTA, "ErrorQuotaExceeded",
		    "mailbox full: %s uses %lld of its %lld bytes and "
		    "cannot take %lld more",
		    mb->address, (long long)used, (long long)s->quota,
		    (long long)bytes);
	return SB_OK;
}

void mapi_quota_release(struct mapi_mailbox *mb, int64_t bytes)
{
	pthread_mutex_lock(&mb->lock);
	mb->used -= bytes;
	if (mb->used < 0)
		mb->used = 0;
	pthread_mutex_unlock(&mb->lock);
}

void mapi_report_skipped(struct mapi_store *s, struct mapi_mailbox *mb,
			 const char *folder, size_t n)
{
	unsigned h = 0;
	for (const char *p = folder; *p; p++)
		h = h * 31 + (unsigned char)*p;
	size_t was = atomic_exchange(&mb->skipped_logged[h % 8], n);
	if (was != n)
		s->host->log(s->host, SB_LOG_WARN,
			     "%s: %zu file(s) in %s/%s are not items this "
			     "store can show (a name that cannot be an Id, "
			     "or unreadable iCalendar data); List skips them",
			     mb->address, n, mb->dir, folder);
}

/* Bytes stored under dir (regular files, recursively, bounded depth). */
static int64_t du(const char *dir, int depth)
{
	if (depth > 4)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			total += st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			char p[MAPI_PATH_MAX];
			if (mapi_path(p, sizeof p, "%s/%s", dir, de->d_name))
				total += du(p, depth + 1);
		}
	}
	closedir(d);
	return total;
}

/* ---- open / close ------------------------------------------------- */

static enum sb_status mailbox_prepare(struct mapi_store *s,
				      struct mapi_mailbox *mb, bool owner,
				      struct sb_error *err)
{
	if (mapi_mkdir(mb->dir) < 0)
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot create mailbox directory %s: %s",
				    mb->dir, strerror(errno));
	char p[MAPI_PATH_MAX];
	for (size_t i = 0; mapi_wellknown[i].id; i++) {
		if (!mapi_path(p, sizeof p, "%s/%s", mb->dir,
			       mapi_wellknown[i].name) ||
		    mapi_maildir_make(p) < 0)
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot create folder %s: %s", p,
					    strerror(errno));
	}
	static const char *const ics[] = {MAPI_CALENDAR, MAPI_TASKS};
	for (size_t i = 0; i < 2; i++) {
		if (!mapi_path(p, sizeof p, "%s/%s", mb->dir, ics[i]) ||
		    mapi_mkdir(p) < 0 ||
		    !mapi_path(p, sizeof p, "%s/%s/tmp", mb->dir, ics[i]) ||
		    mapi_mkdir(p) < 0)
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot create %s: %s", p,
					    strerror(errno));
	}
	mapi_fsync_dir(mb->dir);
	if (!owner)
		return SB_OK; /* the running instance may be writing */
	size_t n = mapi_tmp_clean(mb);
	if (n)
		s->host->log(s->host, SB_LOG_INFO,
			     "%s: removed %zu unfinished file(s) from tmp/",
			     mb->address, n);
	return SB_OK;
}

enum sb_status mapi_store_open(const struct sb_host *host,
			       const struct mapi_conf *conf,
			       struct mapi_store **out, struct sb_error *err)
{
	*out = NULL;
	if (!conf->store_dir || conf->store_dir[0] != '/')
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "store_dir must be an absolute path");
	size_t n = 0;
	while (conf->mailboxes && conf->mailboxes[n])
		n++;
	if (n == 0)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "mailboxes: at least one address is "
				    "required");
	struct mapi_store *s = calloc(1, sizeof *s);
	if (!s)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	s->host = host;
	s->quota = conf->quota;
	s->max_message_size = conf->max_message_size;
	atomic_init(&s->seq, 0);
	char hn[64] = "localhost";
	if (gethostname(hn, sizeof hn - 1) < 0)
		snprintf(hn, sizeof hn, "localhost");
	hn[sizeof hn - 1] = '\0';
	size_t j = 0;
	for (size_t i = 0; hn[i] && j < sizeof s->hostname - 1; i++)
		if (isalnum((unsigned char)hn[i]) || hn[i] == '-' ||
		    hn[i] == '.')
			s->hostname[j++] = hn[i];
	if (j == 0)
		snprintf(s->hostname, sizeof s->hostname, "localhost");
	enum sb_status st;
	s->root = strdup(conf->store_dir);
	s->mb = calloc(n, sizeof *s->mb);
	if (!s->root || !s->mb) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto fail;
	}
	/* Validate every address before touching the disk. */
	for (size_t i = 0; i < n; i++) {
		const char *a = conf->mailboxes[i];
		if (!sb_email_valid(a)) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "mailboxes: \"%s\" is not a valid "
					  "e-mail address",
					  a);
			goto fail;
		}
		if (strpbrk(a, "/\\%")) {
			/* Path-like: refused rather than silently renamed. */
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "mailboxes: \"%s\" is not allowed "
					  "in a store: an address may not "
					  "contain '/', '\\' or '%%'",
					  a);
			goto fail;
		}
		for (size_t k = 0; k < i; k++)
			if (strcasecmp(a, conf->mailboxes[k]) == 0) {
				st = sb_error_set(err, SB_ERR_INVALID_INPUT,
						  NULL,
						  "mailboxes: %s is listed "
						  "twice",
						  a);
				goto fail;
			}
	}
	if (mkdir_p(s->root) < 0) {
		st = sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				  "cannot create store_dir %s: %s", s->root,
				  strerror(errno));
		goto fail;
	}
	char *real = realpath(s->root, NULL);
	if (real) {
		free(s->root);
		s->root = real;
	}
	bool shared = false;
	st = mapi_lock_take(s->root, host->instance, &s->lock, &shared, err);
	if (st != SB_OK)
		goto fail;
	if (shared)
		host->log(host, SB_LOG_INFO,
			  "store %s: taken over from the running instance "
			  "(reload)",
			  s->root);
	for (size_t i = 0; i < n; i++) {
		struct mapi_mailbox *mb = &s->mb[i];
		pthread_mutex_init(&mb->lock, NULL);
		pthread_mutex_init(&mb->ics_lock, NULL);
		s->n_mb = i + 1;
		mb->address = strdup(conf->mailboxes[i]);
		char *dn = mailbox_dirname(conf->mailboxes[i]);
		if (!mb->address || !dn ||
		    asprintf(&mb->dir, "%s/%s", s->root, dn) < 0) {
			mb->dir = NULL;
			free(dn);
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
			goto fail;
		}
		free(dn);
		for (char *p = mb->address; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	s->def = &s->mb[0];
	if (conf->default_mailbox) {
		s->def = mapi_mailbox_find(s, conf->default_mailbox);
		if (!s->def) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "default_mailbox: %s is not one of "
					  "mailboxes",
					  conf->default_mailbox);
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		st = mailbox_prepare(s, &s->mb[i], !shared, err);
		if (st != SB_OK)
			goto fail;
	}
	mapi_fsync_dir(s->root);
	/* Finish interrupted Sends before the first call (not on a reload:
	 * the running instance finishes its own). */
	for (size_t i = 0; i < n && !shared; i++)
		mapi_outbox_recover(s, &s->mb[i]);
	for (size_t i = 0; i < n; i++)
		s->mb[i].used = du(s->mb[i].dir, 0);
	*out = s;
	return SB_OK;
fail:
	mapi_store_close(s);
	return st;
}

void mapi_store_close(struct mapi_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_mb; i++) {
		free(s->mb[i].address);
		free(s->mb[i].dir);
		pthread_mutex_destroy(&s->mb[i].lock);
		pthread_mutex_destroy(&s->mb[i].ics_lock);
	}
	free(s->mb);
	mapi_lock_release(s->lock);
	free(s->root);
	free(s);
}
